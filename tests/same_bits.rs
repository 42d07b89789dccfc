//! Same bits across refactors: the JSON lines of `--preset tiny --headless --steps 300 --json`
//! for every compression method, saved before the restructure of issue 18 (with the one field
//! that measures time, `samples_per_s`, removed), must come out byte for byte.
//!
//! A change that alters a trained number on purpose regenerates the fixtures and says why in its
//! commit:
//! `memrec-tui --preset tiny --set memrec.method=M --headless --steps 300 --json | sed -E 's/"samples_per_s":[^,}]*,?//'`

use assert_cmd::Command;

/// The line with its `"samples_per_s":NUMBER` member removed (the only figure that is a time).
fn without_speed(line: &str) -> String {
    const KEY: &str = "\"samples_per_s\":";
    let Some(at) = line.find(KEY) else {
        return line.to_string();
    };
    let rest = &line[at + KEY.len()..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    let after = &rest[end..];
    let after = after.strip_prefix(',').unwrap_or(after);
    format!("{}{}", &line[..at], after)
}

#[test]
fn removing_the_speed_field_keeps_the_rest() {
    assert_eq!(
        without_speed(r#"{"a":1,"samples_per_s":12.5,"b":2}"#),
        r#"{"a":1,"b":2}"#
    );
}

#[test]
fn every_method_trains_to_the_saved_bits() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for method in ["memrec", "hashing", "qr", "robe_z"] {
        let want =
            std::fs::read_to_string(root.join(format!("tests/fixtures/same_bits/{method}.jsonl")))
                .expect("fixture");
        let out = Command::cargo_bin("memrec-tui")
            .unwrap()
            .args(["--preset", "tiny", "--set"])
            .arg(format!("memrec.method={method}"))
            .args(["--headless", "--steps", "300", "--json"])
            .env_remove("MEMREC_PRESET")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{method}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: String = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| without_speed(l) + "\n")
            .collect();
        let want_lines: Vec<&str> = want.lines().collect();
        let got_lines: Vec<&str> = got.lines().collect();
        assert_eq!(
            got_lines.len(),
            want_lines.len(),
            "{method}: line count\n{got}"
        );
        for (i, (g, w)) in got_lines.iter().zip(&want_lines).enumerate() {
            assert_eq!(g, w, "{method}: line {} differs", i + 1);
        }
    }
}
