//! Helpers of the planned-sweep tests (`sweep_plan.rs`, `slurm_sweep.rs`): the binary, a local
//! sweep, and the comparison of two sweeps' results field by field (wall-clock fields aside).
#![allow(dead_code)]

use std::path::Path;

use assert_cmd::Command;

pub fn bin() -> Command {
    let mut c = Command::cargo_bin("memrec-tui").unwrap();
    c.env_remove("MEMREC_PRESET");
    for v in [
        "SLURM_ARRAY_TASK_ID",
        "JOB_COMPLETION_INDEX",
        "SLURM_CPUS_PER_TASK",
    ] {
        c.env_remove(v);
    }
    c
}

/// The fields a point's training decides (bit for bit), as JSON: never its wall-clock time.
pub const COMPARED: &[&str] = &[
    "key",
    "base_hash",
    "config_hash",
    "representation",
    "status",
    "samples",
    "steps",
    "table_bytes",
    "optimizer_bytes",
    "compression_full",
    "auc",
    "auc_lo",
    "auc_hi",
    "delta_auc",
    "delta_lo",
    "delta_hi",
    "logloss",
    "pareto",
    "curve",
    "oracle_auc",
    "checkpoints",
];

/// Measured, so never compared bit for bit, but present in both sweeps: each point's latency.
pub const MEASURED: &[&str] = &["ns_per_token", "uncompressed_ns_per_token", "latency_batch"];

fn project(v: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    COMPARED
        .iter()
        .map(|k| (k.to_string(), v.get(*k).cloned().unwrap_or_default()))
        .collect()
}

/// `points.json` of a sweep directory, each point reduced to `COMPARED`.
pub fn points(dir: &Path) -> Vec<Vec<(String, serde_json::Value)>> {
    let text = std::fs::read_to_string(dir.join("points.json")).unwrap();
    let v: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    v.iter().map(project).collect()
}

/// The baseline's line of `points.jsonl`, reduced to `COMPARED`.
pub fn baseline(dir: &Path) -> Vec<(String, serde_json::Value)> {
    let text = std::fs::read_to_string(dir.join("points.jsonl")).unwrap();
    let v = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["key"] == "baseline")
        .expect("a baseline line");
    project(&v)
}

/// Assert two sweeps' points and baselines agree on every `COMPARED` field.
pub fn assert_same_results(local: &Path, other: &Path) {
    let (a, b) = (points(local), points(other));
    assert_eq!(a.len(), b.len(), "point counts differ");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            x,
            y,
            "a point differs between {} and {}",
            local.display(),
            other.display()
        );
        // Something was compared: the points trained and have a ΔAUC and a whole curve with
        // ΔAUC at equal samples.
        assert!(
            x.iter().any(|(k, v)| k == "delta_auc" && v.is_f64()),
            "{x:?}"
        );
        assert!(
            x.iter().any(|(k, v)| k == "curve"
                && v.as_array()
                    .is_some_and(|c| !c.is_empty() && c.iter().all(|e| e["delta_auc"].is_f64()))),
            "{x:?}"
        );
    }
    for dir in [local, other] {
        let text = std::fs::read_to_string(dir.join("points.json")).unwrap();
        let v: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        for p in &v {
            for k in MEASURED {
                assert!(p[*k].is_number(), "{k} missing in {}: {p}", dir.display());
            }
            // The probe's rounds: the lowest and highest ratio of kernel to gather in one round.
            let r = &p["ratio_to_gather_range"];
            let (lo, hi) = (r[0].as_f64().unwrap_or(-1.0), r[1].as_f64().unwrap_or(-1.0));
            assert!(
                0.0 < lo && lo <= hi,
                "ratio range in {}: {p}",
                dir.display()
            );
        }
    }
    assert_eq!(baseline(local), baseline(other));
    // The test-row probabilities kept for the paired comparison, byte for byte, and the summary's
    // paired section that reads them.
    let kept = |dir: &Path| -> Vec<(std::ffi::OsString, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(dir.join("predictions"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name(), std::fs::read(e.path()).unwrap())
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        kept(local).len(),
        a.len(),
        "one probabilities file per point"
    );
    assert!(kept(local) == kept(other), "kept probabilities differ");
    let paired = |dir: &Path| -> String {
        let s = std::fs::read_to_string(dir.join("summary.md")).unwrap();
        let from = s.find("## The best point against the next, paired");
        let from = from.unwrap_or_else(|| panic!("no paired section in {}", dir.display()));
        let rest = &s[from..];
        rest[..rest.find("\n## Every point").unwrap()].to_string()
    };
    assert!(!paired(local).contains("not measured"), "{}", paired(local));
    assert_eq!(paired(local), paired(other));
}

/// Run a local sweep of the tiny preset into `out`.
pub fn local_sweep(out: &Path, steps: &str, grid: &str) {
    bin()
        .args(["sweep", "--preset", "tiny", "--threads", "2", "--jobs", "2"])
        .args(["--steps", steps, "--grid", grid])
        .arg("--out")
        .arg(out)
        .assert()
        .success();
}
