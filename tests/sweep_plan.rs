//! A planned sweep without a scheduler: `sweep --slurm --dry-run` writes plan.json and the batch
//! scripts; `sweep run-point` runs each point by hand (as `xargs -P` or a Kubernetes Indexed Job
//! would), idempotently; `sweep report` merges them into the same results as a local sweep, bit
//! for bit; `sweep status` counts them. Bad input: no sbatch, another base configuration, a torn
//! point file or one of another plan. `--plan` prints memory, time and core-hours.
#[path = "common/sweep.rs"]
mod support;

use std::path::Path;

use predicates::prelude::*;
use support::bin;

const GRID: &str = "memrec.k=1,2";

fn plan_cmd(out: &Path, extra: &[&str]) -> assert_cmd::Command {
    let mut c = bin();
    c.args(["sweep", "--preset", "tiny", "--steps", "20", "--grid", GRID])
        .arg("--out")
        .arg(out)
        .args(extra);
    c
}

fn run_point(dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    bin()
        .args(["sweep", "run-point"])
        .arg(dir)
        .args(["--threads", "1"])
        .args(args)
        .assert()
}

#[test]
fn tasks_run_by_hand_merge_into_the_local_sweeps_results() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("planned");
    let out = plan_cmd(&p, &["--slurm", "--dry-run", "--time", "5", "--jobs", "1"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let cmds = String::from_utf8(out).unwrap();
    assert!(cmds.contains("BASELINE_JOB=$(sbatch --parsable"), "{cmds}");
    assert!(
        cmds.contains("--dependency=afterok:$BASELINE_JOB --array=0-1%1"),
        "{cmds}"
    );
    let script = std::fs::read_to_string(p.join("slurm/points.sbatch")).unwrap();
    for needle in [
        "#SBATCH --array=0-1%1",
        "#SBATCH --time=5",
        "#SBATCH --mem=",
        "sweep run-point",
    ] {
        assert!(script.contains(needle), "{needle} not in\n{script}");
    }
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("plan.json")).unwrap()).unwrap();
    assert_eq!(plan["points"].as_array().unwrap().len(), 2);
    assert_eq!(plan["points"][1]["key"], "memrec.k=2");

    // A point before its baseline: refused, and status says it failed.
    run_point(&p, &["--index", "0"])
        .code(1)
        .stderr(predicate::str::contains("--baseline"));
    bin()
        .args(["sweep", "status"])
        .arg(&p)
        .assert()
        .success()
        .stdout(predicate::str::contains("point 0    failed"));
    run_point(&p, &["--baseline"]).success();
    run_point(&p, &["--index", "0"]).success();
    // The index from the scheduler's variables.
    bin()
        .args(["sweep", "run-point"])
        .arg(&p)
        .env("JOB_COMPLETION_INDEX", "1")
        .assert()
        .success();
    // Idempotent: a done point is skipped, its file untouched.
    let f = p.join("points/0001.json");
    let before = std::fs::read(&f).unwrap();
    bin()
        .args(["sweep", "run-point"])
        .arg(&p)
        .env("SLURM_ARRAY_TASK_ID", "1")
        .assert()
        .success()
        .stderr(predicate::str::contains("done already"));
    assert_eq!(std::fs::read(&f).unwrap(), before);
    bin()
        .args(["sweep", "status"])
        .arg(&p)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "2 done, 0 queued, 0 running, 0 failed, 0 missing",
        ));
    bin().args(["sweep", "report"]).arg(&p).assert().success();
    for f in [
        "points.csv",
        "points.json",
        "summary.md",
        "pareto.svg",
        "sweep.json",
        "points.jsonl",
    ] {
        assert!(p.join(f).is_file(), "{f}");
    }

    let local = tmp.path().join("local");
    support::local_sweep(&local, "20", GRID);
    support::assert_same_results(&local, &p);

    // Redone from scratch (its file deleted): the same bits.
    std::fs::remove_file(&f).unwrap();
    run_point(&p, &["--index", "1"]).success();
    bin().args(["sweep", "report"]).arg(&p).assert().success();
    support::assert_same_results(&local, &p);

    // The explorer's loader reads the merged directory as a sweep.
    let loaded = memrec_tui::sweep::store::load_dir(&p).unwrap();
    assert_eq!(loaded.records.len(), 3);
}

#[test]
fn bad_input_is_refused_or_reported_and_never_merged() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("planned");
    // No sbatch on the PATH: exit 2 before anything is written.
    let empty = tmp.path().join("empty-path");
    std::fs::create_dir(&empty).unwrap();
    plan_cmd(&p, &["--slurm", "--time", "5"])
        .env("PATH", &empty)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("needs Slurm").and(predicate::str::contains("--dry-run")));
    assert!(!p.exists());

    plan_cmd(&p, &["--slurm", "--dry-run", "--time", "5"])
        .assert()
        .success();
    // Another base configuration in the same directory: refused, naming the field.
    plan_cmd(&p, &["--slurm", "--dry-run", "--time", "5", "--seed", "9"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("another sweep").and(predicate::str::contains("seed")));
    // A local sweep into a planned sweep's directory: refused.
    bin()
        .args(["sweep", "--preset", "tiny", "--steps", "20", "--grid", GRID])
        .arg("--out")
        .arg(&p)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("planned (Slurm) sweep"));
    // run-point without an index, or out of range.
    bin()
        .args(["sweep", "run-point"])
        .arg(&p)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("SLURM_ARRAY_TASK_ID"));
    run_point(&p, &["--index", "7"])
        .code(2)
        .stderr(predicate::str::contains("indices 0-1"));

    run_point(&p, &["--baseline"]).success();
    run_point(&p, &["--index", "0"]).success();
    run_point(&p, &["--index", "1"]).success();
    let good = std::fs::read_to_string(p.join("points/0001.json")).unwrap();

    // A torn point file: reported, the point listed as not run, exit 1.
    std::fs::write(p.join("points/0001.json"), &good[..good.len() / 2]).unwrap();
    bin()
        .args(["sweep", "report"])
        .arg(&p)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("torn").and(predicate::str::contains("not merged")));
    let merged = support::points(&p);
    assert!(
        merged[1]
            .iter()
            .any(|(k, v)| k == "status" && v.as_str().unwrap().contains("not run")),
        "{merged:?}"
    );
    bin()
        .args(["sweep", "status"])
        .arg(&p)
        .assert()
        .stdout(predicate::str::contains("point 1    failed"));

    // A point file of another plan (same name, another seed's plan).
    let other = tmp.path().join("other");
    plan_cmd(
        &other,
        &["--slurm", "--dry-run", "--time", "5", "--seed", "9"],
    )
    .assert()
    .success();
    run_point(&other, &["--baseline"]).success();
    run_point(&other, &["--index", "1"]).success();
    std::fs::copy(other.join("points/0001.json"), p.join("points/0001.json")).unwrap();
    bin()
        .args(["sweep", "report"])
        .arg(&p)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("another plan"));
    // The task reports it and trains the point again; the merge is then whole.
    run_point(&p, &["--index", "1"])
        .success()
        .stderr(predicate::str::contains("another plan"));
    assert_eq!(
        std::fs::read_to_string(p.join("points/0001.json")).unwrap(),
        {
            // Same bits as the first time, but for the wall-clock fields.
            let a: serde_json::Value = serde_json::from_str(&good).unwrap();
            let b: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p.join("points/0001.json")).unwrap())
                    .unwrap();
            for k in support::COMPARED.iter().filter(|k| **k != "pareto") {
                assert_eq!(a["record"][k], b["record"][k], "{k}");
            }
            std::fs::read_to_string(p.join("points/0001.json")).unwrap()
        }
    );
    bin().args(["sweep", "report"]).arg(&p).assert().success();
}

#[test]
fn plan_prints_memory_time_and_core_hours_without_training_the_grid() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("never");
    let o = bin()
        .args([
            "sweep", "--preset", "tiny", "--steps", "1000", "--grid", GRID,
        ])
        .args([
            "--plan",
            "--plan-seconds",
            "0.3",
            "--cpus-per-task",
            "1",
            "--json",
        ])
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(!out.exists(), "--plan alone writes no sweep directory");
    let lines: Vec<serde_json::Value> = String::from_utf8(o)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}"); // baseline, 2 points, total
    for l in &lines[..3] {
        let measured = l["measured_table_and_optimizer_bytes"].as_u64().unwrap();
        let computed =
            l["memory"]["tables"].as_u64().unwrap() + l["memory"]["optimizer"].as_u64().unwrap();
        // The computed bound covers what the run allocated (the baseline's vocabulary grows).
        assert!(computed >= measured && measured > 0, "{l}");
        assert!(
            l["memory_request_bytes"].as_u64().unwrap() > computed,
            "{l}"
        );
        assert!(
            l["seconds_per_million_samples"].as_f64().unwrap() > 0.0,
            "{l}"
        );
        assert!(l["core_hours"].as_f64().unwrap() > 0.0, "{l}");
    }
    // MEM-REC's computed tables are exact: K does not change them.
    assert_eq!(lines[1]["memory"]["tables"], lines[2]["memory"]["tables"]);
    let total: f64 = lines[..3]
        .iter()
        .map(|l| l["core_hours"].as_f64().unwrap())
        .sum();
    let t = lines[3]["core_hours"].as_f64().unwrap();
    assert!(
        (t - total).abs() <= 1e-12 * total.max(1.0),
        "{t} vs {total}"
    );

    // The readable table names every run.
    bin()
        .args([
            "sweep", "--preset", "tiny", "--steps", "1000", "--grid", GRID,
        ])
        .args(["--plan", "--plan-seconds", "0.2"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("| memrec.k=2 |")
                .and(predicate::str::contains("| baseline |"))
                .and(predicate::str::contains("core-hours at the budget")),
        );
}
