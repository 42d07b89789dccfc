//! The hand-made malformed corpus (tests/data/malformed): every bad line gets the right reason and
//! line number, non-strict reading skips and counts, strict reading (and `stats --strict`) stops at
//! the first with exit code 2.

use std::io::Write;
use std::path::PathBuf;

use assert_cmd::Command;
use memrec_tui::data::criteo::{BadReason, MAX_LINE_BYTES, ParsedRow, RowReader, parse_line};
use memrec_tui::data::{BAD_LINES_SHOWN, BadLines, DataError};
use predicates::prelude::*;

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/malformed")
        .join(name)
}

/// Read a whole file: (good rows, lines read, bad lines), or the error that stopped it.
fn read_all(path: &std::path::Path, strict: bool) -> Result<(u64, u64, BadLines), DataError> {
    let mut r = RowReader::open(path, strict)?;
    let mut row = ParsedRow::default();
    while r.next_row(&mut row)? {}
    Ok((r.rows_read(), r.lines_read(), r.bad_lines().clone()))
}

/// (file, good rows, lines, expected `line: reason` of each bad line)
const CASES: &[(&str, u64, u64, &[&str])] = &[
    ("good.tsv", 3, 3, &[]),
    (
        "wrong_field_count.tsv",
        2,
        4,
        &[
            "2: expected 40 tab-separated fields, found 39",
            "4: expected 40 tab-separated fields, found 41",
        ],
    ),
    (
        "non_hex.tsv",
        2,
        3,
        &["2: C3: not hexadecimal (expected 8 hex digits): \"zz5a0102\""],
    ),
    (
        "hex_9_digits.tsv",
        2,
        3,
        &["3: C26: expected 8 hex digits, found 9 characters: \"a5a503190\""],
    ),
    (
        "int_overflow.tsv",
        1,
        2,
        &["2: I5: integer out of the 64-bit range: \"9999999999999999...\""],
    ),
    (
        "non_numeric_int.tsv",
        1,
        2,
        &["1: I2: not an integer: \"12x\""],
    ),
    (
        "bad_label.tsv",
        2,
        3,
        &["2: label: expected 0 or 1, found \"2\""],
    ),
    (
        "crlf_mix.tsv",
        2,
        3,
        &[
            "2: carriage return at column 239: lines must end with LF only (a CRLF file can be converted with dos2unix)",
        ],
    ),
    ("valid_gzip_no_extension", 5, 5, &[]),
];

#[test]
fn each_bad_line_has_its_reason_and_line_number() {
    for &(name, rows, lines, expected) in CASES {
        let path = corpus(name);
        let (got_rows, got_lines, bad) = read_all(&path, false).unwrap();
        assert_eq!((got_rows, got_lines), (rows, lines), "{name}");
        assert_eq!(bad.count, expected.len() as u64, "{name}: {bad:?}");
        let want: Vec<String> = expected
            .iter()
            .map(|w| format!("{}:{w}", path.display()))
            .collect();
        assert_eq!(bad.first, want, "{name}");
    }
}

#[test]
fn strict_reading_stops_at_the_first_bad_line() {
    for &(name, _, _, expected) in CASES {
        let path = corpus(name);
        match (read_all(&path, true), expected.first()) {
            (Ok(_), None) => {}
            (
                Err(DataError::BadLine {
                    path: p,
                    line,
                    reason,
                }),
                Some(want),
            ) => {
                assert_eq!(p, path.display().to_string());
                assert_eq!(format!("{line}: {reason}"), *want, "{name}");
            }
            (got, want) => panic!("{name}: {got:?}, expected {want:?}"),
        }
    }
}

#[test]
fn files_without_good_rows_are_unusable() {
    let expect_unusable = |name: &str, want: &str| {
        let mut r = RowReader::open(&corpus(name), false).unwrap();
        let mut row = ParsedRow::default();
        while r.next_row(&mut row).unwrap() {}
        assert_eq!(r.rows_read(), 0, "{name}");
        let e = r.no_rows_error().to_string();
        assert!(e.contains(want), "{name}: {e}");
        r
    };
    expect_unusable("empty.tsv", "no rows: the file is empty");
    let crlf = expect_unusable("crlf.tsv", "no rows: all 3 lines are malformed");
    assert!(crlf.bad_lines().first[0].contains(":1: carriage return at column"));
    let junk = expect_unusable("binary_junk.bin", "no rows: all 2 lines are malformed");
    let b = &junk.bad_lines().first;
    // 0x00..0x09 (the tab is 0x09), then 0x0b.. (0x0d, a CR, is the third byte).
    assert!(
        b[0].ends_with(
            ":1: binary or non-ASCII byte 0x00 at column 1: Criteo lines are ASCII text"
        )
    );
    assert!(b[1].contains(":2: carriage return at column 3"), "{b:?}");
}

#[test]
fn truncated_gzip_is_an_io_error_naming_the_file_and_line() {
    let path = corpus("truncated.tsv.gz");
    let mut r = RowReader::open(&path, false).unwrap();
    let mut row = ParsedRow::default();
    let err = loop {
        match r.next_row(&mut row) {
            Ok(true) => {}
            Ok(false) => panic!("a truncated gzip must not end cleanly"),
            Err(e) => break e,
        }
    };
    // The rows before the cut were read, and none was bad.
    assert!(
        r.rows_read() > 50 && r.rows_read() < 300,
        "{} {err}",
        r.rows_read()
    );
    assert_eq!(r.bad_lines().count, 0);
    match err {
        DataError::Io { path: p, .. } => {
            assert_eq!(p, format!("{}:{}", path.display(), r.rows_read() + 1))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn long_lines_empty_lines_and_a_missing_final_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.tsv");
    let good = std::fs::read_to_string(corpus("good.tsv")).unwrap();
    let first = good.lines().next().unwrap();
    let mut f = std::fs::File::create(&path).unwrap();
    // Line 1: 1 MiB of junk without a newline in sight; line 2: empty; line 3: good, no "\n".
    f.write_all(&vec![b'7'; 1 << 20]).unwrap();
    f.write_all(b"\n\n").unwrap();
    f.write_all(first.as_bytes()).unwrap();
    drop(f);
    let (rows, lines, bad) = read_all(&path, false).unwrap();
    assert_eq!((rows, lines, bad.count), (1, 3, 2));
    assert!(bad.first[0].ends_with(&format!(
        ":1: line too long: 1048576 bytes (at most {MAX_LINE_BYTES}; Criteo lines are ~250)"
    )));
    assert!(bad.first[1].ends_with(":2: empty line"));
}

#[test]
fn only_the_first_few_bad_lines_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.tsv");
    let mut text = String::new();
    for i in 0..20 {
        text.push_str(&format!("junk {i}\n"));
    }
    text.push_str(
        std::fs::read_to_string(corpus("good.tsv"))
            .unwrap()
            .as_str(),
    );
    std::fs::write(&path, text).unwrap();
    let (rows, _, bad) = read_all(&path, false).unwrap();
    assert_eq!(rows, 3);
    assert_eq!(bad.count, 20);
    assert_eq!(bad.first.len(), BAD_LINES_SHOWN);
    assert!(bad.first[4].ends_with(":5: expected 40 tab-separated fields, found 1"));
}

#[test]
fn reasons_name_the_field() {
    let good = std::fs::read_to_string(corpus("good.tsv")).unwrap();
    let line = good.lines().next().unwrap();
    let mut fields: Vec<&str> = line.split('\t').collect();
    fields[14] = "A5A5FFFF"; // upper case is fine
    assert!(parse_line(fields.join("\t").as_bytes()).is_ok());
    fields[20] = "a5a5";
    assert!(matches!(
        parse_line(fields.join("\t").as_bytes()),
        Err(BadReason::HexLength { cat: 6, len: 4, .. })
    ));
}

fn stats_cmd() -> Command {
    let mut c = Command::cargo_bin("memrec-tui").unwrap();
    c.env_remove("MEMREC_PRESET").arg("stats");
    c
}

#[test]
fn stats_strict_exits_2_at_the_first_bad_line() {
    for &(name, _, _, expected) in CASES {
        let Some(first) = expected.first() else {
            continue;
        };
        let path = corpus(name);
        stats_cmd()
            .arg("--strict")
            .arg(&path)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "{}:{first}",
                path.display()
            )));
    }
}

#[test]
fn stats_exit_codes_for_unusable_and_unreadable_input() {
    for name in [
        "empty.tsv",
        "crlf.tsv",
        "binary_junk.bin",
        "does-not-exist.tsv",
    ] {
        stats_cmd()
            .arg(corpus(name))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(name));
    }
    // A read failure part-way through is a runtime failure.
    stats_cmd()
        .arg(corpus("truncated.tsv.gz"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("truncated.tsv.gz:"));
}

#[test]
fn stats_non_strict_counts_and_shows_bad_lines() {
    let path = corpus("wrong_field_count.tsv");
    stats_cmd()
        .arg(&path)
        .assert()
        .success()
        .stdout(predicate::str::contains("rows        2\n"))
        .stdout(predicate::str::contains("bad lines   2\n"))
        .stdout(predicate::str::contains(format!(
            "{}:2: expected 40 tab-separated fields, found 39",
            path.display()
        )));
    let out = stats_cmd()
        .arg("--json")
        .arg(&path)
        .arg(corpus("valid_gzip_no_extension"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rows"], 7);
    assert_eq!(v["lines"], 9);
    assert_eq!(v["bad_lines"]["count"], 2);
    assert_eq!(v["categorical"].as_array().unwrap().len(), 26);
    assert_eq!(v["dense"].as_array().unwrap().len(), 13);
}
