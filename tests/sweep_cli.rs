//! `memrec-tui sweep` through the binary: bad grids and budgets exit 2 before anything runs; a
//! small sweep on the tiny preset writes every report file, the CSV with its columns.

use assert_cmd::Command;
use predicates::prelude::*;

fn bin() -> Command {
    let mut c = Command::cargo_bin("memrec-tui").unwrap();
    c.env_remove("MEMREC_PRESET");
    c
}

#[test]
fn bad_grids_exit_2_naming_the_axis() {
    let dir = tempfile::tempdir().unwrap();
    for (grid, needle) in [
        ("memrec.k=1,9", "memrec.k"),
        ("memrec.token_rows=1000..4096", "powers of two"),
        ("memrec.nope=1", "unknown field `nope`"),
        ("seed=1,2", "only fields of memrec.*"),
        ("", "--grid is empty"),
    ] {
        bin()
            .args(["sweep", "--preset", "tiny", "--steps", "5", "--grid", grid])
            .arg("--out")
            .arg(dir.path().join("s"))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
    }
    // Nothing ran, nothing was written.
    assert!(!dir.path().join("s").exists());
    bin()
        .args(["sweep", "--preset", "tiny", "--grid", "memrec.k=1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--steps N"));
    bin()
        .args([
            "sweep",
            "--preset",
            "tiny",
            "--grid",
            "memrec.k=1",
            "--epochs",
            "1",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--epochs needs a training file"));
}

#[test]
fn small_sweep_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let run = || {
        bin()
            .args([
                "sweep",
                "--preset",
                "tiny",
                "--set",
                "eval.test_rows=2000",
                "--grid",
                "memrec.k=1,2;memrec.token_rows=64..256:x4",
                "--steps",
                "20",
                "--jobs",
                "2",
                "--json",
            ])
            .arg("--out")
            .arg(&out)
            .assert()
    };
    let a = run().success();
    let stdout = String::from_utf8(a.get_output().stdout.clone()).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert_eq!(lines[0]["type"], "baseline");
    assert!(lines[1..].iter().all(|l| l["type"] == "point"));
    for f in [
        "points.jsonl",
        "sweep.json",
        "baseline.predictions",
        "points.csv",
        "points.json",
        "summary.md",
        "pareto.svg",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let csv = std::fs::read_to_string(out.join("points.csv")).unwrap();
    let mut rows = csv.lines();
    assert_eq!(
        rows.next().unwrap(),
        format!(
            "memrec.k,memrec.token_rows,{}",
            memrec_tui::sweep::report::CSV_COLUMNS.join(",")
        )
    );
    let rows: Vec<Vec<&str>> = rows.map(|r| r.split(',').collect()).collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows.iter().map(|r| (r[0], r[1])).collect::<Vec<_>>(),
        [("1", "64"), ("1", "256"), ("2", "64"), ("2", "256")]
    );
    // The front, checked by brute force on the points as written: a successful point is on it
    // unless another successful point has no more bytes and no lower ΔAUC, and is better on one
    // of them or the same pair listed earlier. The CSV marks the same points.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("points.json")).unwrap()).unwrap();
    let points = json.as_array().unwrap();
    assert_eq!(points.len(), 4);
    let pairs: Vec<Option<(u64, f64)>> = points
        .iter()
        .map(|p| {
            (p["status"] == "ok").then(|| {
                (
                    p["table_bytes"].as_u64().unwrap(),
                    p["delta_auc"].as_f64().unwrap(),
                )
            })
        })
        .collect();
    assert!(pairs.iter().all(Option::is_some), "{json}");
    let dominated = |i: usize| {
        let Some((b, d)) = pairs[i] else { return true };
        pairs.iter().enumerate().any(|(j, q)| {
            q.is_some_and(|(bj, dj)| j != i && bj <= b && dj >= d && (bj < b || dj > d || j < i))
        })
    };
    let want: Vec<bool> = (0..points.len()).map(|i| !dominated(i)).collect();
    let got: Vec<bool> = points
        .iter()
        .map(|p| p["pareto"].as_bool().unwrap())
        .collect();
    assert_eq!(got, want, "{pairs:?}");
    for (p, r) in points.iter().zip(&rows) {
        assert_eq!(
            (
                p["axes"]["memrec.k"].as_str(),
                p["axes"]["memrec.token_rows"].as_str()
            ),
            (Some(r[0]), Some(r[1]))
        );
    }
    let pareto_col = 2 + memrec_tui::sweep::report::CSV_COLUMNS
        .iter()
        .position(|c| *c == "pareto")
        .expect("points.csv has a pareto column");
    let csv_front: Vec<bool> = rows.iter().map(|r| r[pareto_col] == "true").collect();
    assert_eq!(csv_front, want);
    // Re-running resumes: nothing trains.
    run()
        .success()
        .stderr(predicate::str::contains("0 point(s) run now, 4 reused"));
}

#[test]
fn a_grid_over_the_dim_runs_with_the_bottom_mlp_following() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d");
    bin()
        .args([
            "sweep",
            "--preset",
            "tiny",
            "--set",
            "eval.test_rows=2000",
            "--grid",
            "model.dim=8,16",
            "--steps",
            "5",
        ])
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("points.json")).unwrap()).unwrap();
    let dims: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["axes"]["model.dim"].as_str().unwrap())
        .collect();
    assert_eq!(dims, ["8", "16"]);
    // A point that sets the bottom MLP against its dim is refused, naming both fields.
    bin()
        .args([
            "sweep",
            "--preset",
            "tiny",
            "--steps",
            "5",
            "--grid",
            "model.dim=8,16;model.bottom_mlp=[64,8]",
        ])
        .arg("--out")
        .arg(dir.path().join("e"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("model.dim=16")
                .and(predicate::str::contains("model.bottom_mlp"))
                .and(predicate::str::contains("model.dim")),
        );
    assert!(!dir.path().join("e").exists());
}

#[test]
fn sub_grids_put_the_compression_methods_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    bin()
        .args([
            "sweep",
            "--preset",
            "tiny",
            "--set",
            "eval.test_rows=2000",
            "--grid",
            "memrec.token_rows=64,256 | memrec.method=qr;memrec.qr_collisions=1024 | memrec.method=robe_z;memrec.robe_size=1024 | memrec.method=hashing;memrec.hash_rows=16",
            "--steps",
            "20",
            "--jobs",
            "2",
        ])
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("points.json")).unwrap()).unwrap();
    let kinds: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["representation"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "memrec-bundled",
            "memrec-bundled",
            "qr",
            "robe-z",
            "hashing"
        ]
    );
    // ROBE-Z's bytes are its array: 1024 floats.
    assert_eq!(json[3]["table_bytes"], 4096);
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        md.contains("## Best ΔAUC per representation") && md.contains("| robe-z |"),
        "{md}"
    );
}
