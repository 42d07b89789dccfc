//! Real Criteo days: several `--data` files and globs streamed in order (globs in natural order),
//! the last file as the test rows, `--rows N`, `data.mod_categories`, and the exit-2 errors for a
//! missing file or a glob that matches nothing, named before anything runs. Days are cut from the
//! real sample into a temp dir (some gzipped), never committed.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use memrec_tui::config::Config;
use memrec_tui::data::criteo::{DataFiles, ParsedRow, TestRows, parse_line};
use memrec_tui::data::{Batch, DataSource, NUM_CAT, open_source};
use predicates::prelude::*;

fn bin() -> Command {
    Command::cargo_bin("memrec-tui").expect("binary built")
}

/// The sample's lines.
fn sample_lines() -> Option<Vec<Vec<u8>>> {
    let p = common::criteo_sample()?;
    let text = std::fs::read(p).unwrap();
    Some(
        text.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect(),
    )
}

/// Write `lines` to `dir/name`, gzipped when the name ends in `.gz`.
fn write_day(dir: &Path, name: &str, lines: &[Vec<u8>]) -> PathBuf {
    let mut text = Vec::new();
    for l in lines {
        text.extend_from_slice(l);
        text.push(b'\n');
    }
    let path = dir.join(name);
    if name.ends_with(".gz") {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&text).unwrap();
        std::fs::write(&path, z.finish().unwrap()).unwrap();
    } else {
        std::fs::write(&path, text).unwrap();
    }
    path
}

/// The sample cut into 4 days of 2,000 rows: day_0.gz, day_1.tsv, day_2.gz, day_3.tsv.
fn four_days(dir: &Path, lines: &[Vec<u8>]) -> Vec<PathBuf> {
    ["day_0.gz", "day_1.tsv", "day_2.gz", "day_3.tsv"]
        .iter()
        .enumerate()
        .map(|(i, name)| write_day(dir, name, &lines[i * 2000..(i + 1) * 2000]))
        .collect()
}

fn config(files: &[PathBuf], test: Option<&Path>) -> Config {
    let mut cfg = Config::from_preset("kaggle").unwrap();
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    cfg.data.train = Some(names[0].clone());
    cfg.data.more_train = names[1..].to_vec();
    cfg.data.test = test.map(|t| t.display().to_string());
    cfg.eval.test_rows = 0;
    cfg
}

/// All rows of one training pass.
fn drain(src: &dyn DataSource) -> Batch {
    let mut stream = src.open_train().unwrap();
    let (mut all, mut b) = (Batch::default(), Batch::default());
    while stream.next_batch(333, &mut b).unwrap() > 0 {
        all.extend_from(&b, 0..b.len());
    }
    all
}

/// The rows of `lines` as a batch, parsed directly.
fn parsed<'a>(lines: impl IntoIterator<Item = &'a Vec<u8>>) -> Batch {
    let mut b = Batch::default();
    for l in lines {
        parse_line(l).unwrap().push_to(&mut b);
    }
    b
}

#[test]
fn several_files_stream_in_the_order_given_and_the_last_is_the_test_set() {
    let Some(lines) = sample_lines() else { return };
    let dir = tempfile::tempdir().unwrap();
    let days = four_days(dir.path(), &lines);

    let src = open_source(&config(&days, None).data_options()).unwrap();
    let train = drain(src.as_ref());
    assert_eq!(train.len(), 6000, "days 0..2 train");
    assert_eq!(train, parsed(&lines[..6000]));
    assert_eq!(
        src.test_set().unwrap(),
        parsed(&lines[6000..]),
        "day 3 tests"
    );
    let label = src.label();
    assert!(
        label.contains("day_0.gz .. day_2.gz (3 files)")
            && label.contains("day_3.tsv (the last file"),
        "{label}"
    );
    let startup = config(&days, None).data_label();
    assert!(
        startup.contains("test day_3.tsv (the last file, as MLPerf"),
        "{startup}"
    );

    // Another order, another stream: the files are never re-sorted.
    let order = [&days[2], &days[0], &days[1], &days[3]].map(|p| p.to_path_buf());
    let src = open_source(&config(&order, None).data_options()).unwrap();
    let want: Vec<&Vec<u8>> = lines[4000..6000].iter().chain(&lines[..4000]).collect();
    assert_eq!(drain(src.as_ref()), parsed(want));

    // With --test, every --data file trains.
    let extra = write_day(dir.path(), "test.tsv", &lines[..100]);
    let src = open_source(&config(&days, Some(&extra)).data_options()).unwrap();
    assert_eq!(drain(src.as_ref()), parsed(&lines[..]));
    assert_eq!(src.test_set().unwrap().len(), 100);
}

#[test]
fn globs_expand_in_natural_order() {
    let Some(lines) = sample_lines() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Written out of order; day_10 sorts after day_2 naturally (before it as plain text).
    write_day(dir.path(), "day_10.gz", &lines[4000..6000]);
    write_day(dir.path(), "day_2.tsv", &lines[2000..4000]);
    write_day(dir.path(), "day_1.gz", &lines[..2000]);
    write_day(dir.path(), "other.tsv", &lines[..10]);
    let pattern = dir.path().join("day_*").display().to_string();
    let files = DataFiles::resolve(std::slice::from_ref(&pattern), None).unwrap();
    let names: Vec<String> = files
        .train
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["day_1.gz", "day_2.tsv"]);
    assert_eq!(
        files.test,
        TestRows::LastFile(dir.path().join("day_10.gz")),
        "the last match holds the test rows"
    );

    let mut cfg = Config::from_preset("kaggle").unwrap();
    cfg.data.train = Some(pattern);
    cfg.eval.test_rows = 0;
    let src = open_source(&cfg.data_options()).unwrap();
    assert_eq!(drain(src.as_ref()), parsed(&lines[..4000]));
    assert_eq!(src.test_set().unwrap(), parsed(&lines[4000..6000]));
}

#[test]
fn rows_takes_the_first_rows_of_the_training_stream() {
    let Some(lines) = sample_lines() else { return };
    let dir = tempfile::tempdir().unwrap();
    let days = four_days(dir.path(), &lines);
    // Across a file boundary (2,000 rows a day).
    let mut cfg = config(&days, None);
    cfg.data.max_rows = 2500;
    let src = open_source(&cfg.data_options()).unwrap();
    assert_eq!(drain(src.as_ref()), parsed(&lines[..2500]));
    assert_eq!(drain(src.as_ref()).len(), 2500, "every epoch");
    assert_eq!(
        src.test_set().unwrap().len(),
        2000,
        "the test rows are not capped"
    );
    assert!(
        src.label().contains("first 2,500 rows of"),
        "{}",
        src.label()
    );

    // One file: the cap applies to the training part; the held-out tail stays the same.
    let sample = common::criteo_sample().unwrap();
    let mut cfg = config(std::slice::from_ref(&sample), None);
    cfg.data.max_rows = 1000;
    let src = open_source(&cfg.data_options()).unwrap();
    assert_eq!(drain(src.as_ref()), parsed(&lines[..1000]));
    assert_eq!(src.test_set().unwrap(), parsed(&lines[6400..]));
}

#[test]
fn mod_categories_applies_to_categorical_values_after_parsing() {
    let Some(lines) = sample_lines() else { return };
    let sample = common::criteo_sample().unwrap();
    let mut cfg = config(&[sample], None);
    cfg.data.mod_categories = 1000;
    let src = open_source(&cfg.data_options()).unwrap();
    let mut want = Batch::default();
    for l in &lines[..6400] {
        let mut row: ParsedRow = parse_line(l).unwrap();
        row.cats.iter_mut().for_each(|c| *c %= 1000);
        row.push_to(&mut want);
    }
    let got = drain(src.as_ref());
    assert_eq!(got, want);
    assert!(got.keys.iter().all(|&k| (k & 0xffff_ffff) < 1000));
    assert_ne!(
        got,
        parsed(&lines[..6400]),
        "the sample has values over 1000"
    );
    assert_eq!(got.keys.len(), 6400 * NUM_CAT);
    // The terabyte preset applies MLPerf's modulus; the others leave values alone.
    assert_eq!(
        Config::from_preset("terabyte").unwrap().data.mod_categories,
        40_000_000
    );
    assert_eq!(
        Config::from_preset("kaggle").unwrap().data.mod_categories,
        0
    );
}

#[test]
fn a_missing_file_or_an_empty_glob_exits_2_naming_it_before_anything_runs() {
    let Some(lines) = sample_lines() else { return };
    let dir = tempfile::tempdir().unwrap();
    let days = four_days(dir.path(), &lines);
    let missing = dir.path().join("day_7.gz");
    let empty_glob = dir.path().join("day_*.nothing");
    let out = dir.path().join("pred.tsv");
    for bad in [&missing, &empty_glob] {
        let name = bad.file_name().unwrap().to_string_lossy().into_owned();
        bin()
            .args([
                "--preset",
                "tiny",
                "--headless",
                "--steps",
                "2",
                "--predictions",
            ])
            .arg(&out)
            .arg("--data")
            .args([&days[0], bad, &days[1]])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(name.as_str()));
        assert!(!out.exists(), "nothing written");
        bin()
            .arg("stats")
            .args([&days[0], bad])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(name.as_str()));
        let sweep_dir = dir.path().join("sweep");
        bin()
            .args(["--preset", "tiny", "sweep", "--grid", "memrec.k=1,2"])
            .args(["--steps", "2", "--out"])
            .arg(&sweep_dir)
            .arg("--data")
            .args([&days[0], bad])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(name.as_str()));
        assert!(!sweep_dir.exists(), "no sweep directory made");
    }
    bin()
        .arg("stats")
        .arg(&empty_glob)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no file matches this glob"));
}

#[test]
fn headless_says_the_last_file_is_the_test_set_and_trains_on_rows() {
    let Some(lines) = sample_lines() else { return };
    let dir = tempfile::tempdir().unwrap();
    four_days(dir.path(), &lines);
    let glob = dir.path().join("day_*").display().to_string();
    bin()
        .args(["--preset", "tiny", "--headless", "--steps", "2", "--rows", "3000"])
        .args(["--data", &glob])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "test day_3.tsv (the last file, as MLPerf tests on the last day; first 3,000 training rows)",
        ))
        .stderr(predicate::str::contains("\u{1b}").not());
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let Some(sample) = common::criteo_sample() else {
        return;
    };
    // Stderr is a pipe here: whatever the pass takes, nothing but results is written.
    bin()
        .arg("stats")
        .arg(&sample)
        .assert()
        .success()
        .stderr("");
    bin()
        .args(["--preset", "tiny", "--headless", "--steps", "2", "--data"])
        .arg(&sample)
        .assert()
        .success()
        .stderr("");
}
