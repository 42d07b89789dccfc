//! A sweep through a real Slurm (`.ci/slurm/up.sh` starts a one-node cluster; `.ci/run` does it
//! before `cargo test` and sets MEMREC_SLURM_TESTS=1): a 4-point sweep submitted with `--slurm`
//! merges into the same results as the same sweep run locally, bit for bit; a task cancelled
//! with `scancel JOB_I` is resubmitted by `--slurm --resume`, alone, and nothing is lost or
//! duplicated.
//!
//! Without a cluster (no SLURM_CONF or no sbatch) the tests say so and return, unless
//! MEMREC_SLURM_TESTS=1 (CI), where a missing cluster fails them.
#[path = "common/sweep.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::bin;

/// Seconds to wait for a sweep's jobs (the machine may be shared and slow).
const WAIT: Duration = Duration::from_secs(900);

/// Whether a cluster is there; `false` (after printing why) means skip.
fn cluster() -> bool {
    let required = std::env::var("MEMREC_SLURM_TESTS").is_ok_and(|v| v == "1");
    let why = if std::env::var_os("SLURM_CONF").is_none() {
        Some("SLURM_CONF is not set".to_string())
    } else {
        match Command::new("sinfo").args(["-h", "-o", "%T"]).output() {
            Err(e) => Some(format!(
                "sinfo cannot run ({e}): Slurm's commands are not installed"
            )),
            Ok(o) if !o.status.success() => Some(format!(
                "sinfo failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Ok(_) => None,
        }
    };
    match why {
        None => true,
        Some(why) if required => panic!(
            "MEMREC_SLURM_TESTS=1 but no Slurm cluster: {why}; start one with `slurm_env=$(.ci/slurm/up.sh) && eval \"$slurm_env\"`"
        ),
        Some(why) => {
            eprintln!(
                "SKIPPED: {why}; start a cluster with `slurm_env=$(.ci/slurm/up.sh) && eval \"$slurm_env\"` (.ci/run does) to run this test"
            );
            false
        }
    }
}

fn submit(out: &Path, steps: &str, grid: &str, extra: &[&str]) -> String {
    let o = bin()
        .args([
            "sweep", "--preset", "tiny", "--steps", steps, "--grid", grid,
        ])
        .arg("--out")
        .arg(out)
        .args(["--slurm", "--time", "20", "--cpus-per-task", "1"])
        .args(extra)
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8(o.stdout).unwrap();
    eprintln!("{text}{}", String::from_utf8_lossy(&o.stderr));
    text
}

/// The job id after `label` in `submit`'s output (`baseline job 12`, `points job 13 (...)`).
fn job_id(text: &str, label: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(|r| r.split_whitespace().next())
        .filter(|j| j.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_string)
}

/// `sweep status DIR --json`: (key, state) of every slot, baseline first.
fn states(dir: &Path) -> Vec<(String, String, String)> {
    let o = bin()
        .args(["sweep", "status", "--json"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["key"].as_str().unwrap().to_string(),
                v["state"].as_str().unwrap().to_string(),
                v["detail"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Every job's log in `dir/slurm/logs`, each after its path, for a failure's message.
fn job_logs(dir: &Path) -> String {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("slurm/logs"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .map(|p| {
            format!(
                "--- {}\n{}",
                p.display(),
                std::fs::read_to_string(p).unwrap_or_default()
            )
        })
        .collect()
}

/// Poll until `done(states)` holds; panics with the states and the jobs' logs on timeout.
fn wait_until(dir: &Path, what: &str, done: impl Fn(&[(String, String, String)]) -> bool) {
    let t0 = Instant::now();
    loop {
        let s = states(dir);
        if done(&s) {
            return;
        }
        if t0.elapsed() > WAIT {
            let logs = job_logs(dir);
            let q = Command::new("squeue")
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default();
            panic!(
                "timed out waiting for {what}: {s:?}\nsqueue:\n{}\n{logs}",
                String::from_utf8_lossy(&q)
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn all_finished(s: &[(String, String, String)]) -> bool {
    s.iter()
        .all(|(_, st, _)| st == "done" || st == "failed" || st == "missing")
}

#[test]
fn slurm_sweep_equals_the_local_sweep_bit_for_bit() {
    if !cluster() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let grid = "memrec.k=1,2;memrec.token_rows=4096,16384";
    let dir = tmp.path().join("cluster");
    let text = submit(&dir, "30", grid, &["--jobs", "2"]);
    let base = job_id(&text, "baseline job ").expect("a baseline job id");
    let points = job_id(&text, "points job ").expect("a points job id");
    assert_ne!(base, points);
    let script = std::fs::read_to_string(dir.join("slurm/points.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-3%2"), "{script}");

    wait_until(&dir, "the 4 points", all_finished);
    let s = states(&dir);
    assert!(s.iter().all(|(_, st, _)| st == "done"), "{s:?}");
    bin().args(["sweep", "report"]).arg(&dir).assert().success();

    let local = tmp.path().join("local");
    support::local_sweep(&local, "30", grid);
    support::assert_same_results(&local, &dir);
}

#[test]
fn a_cancelled_task_is_resubmitted_alone_and_nothing_is_lost_or_duplicated() {
    if !cluster() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    // Long enough that task 0 is still running when it is cancelled; one task at a time.
    let grid = "memrec.k=1,2,3,4";
    let text = submit(&dir, "4000", grid, &["--jobs", "1"]);
    let points = job_id(&text, "points job ").expect("a points job id");

    // Running, and inside the task (its `.started` marker): a task cancelled before its program
    // starts leaves no trace and shows as missing, which --resume runs again all the same.
    let started = dir.join("points/0000.started");
    wait_until(&dir, "point 0 to run", |s| {
        s[1].1 == "done" || (s[1].1 == "running" && started.exists())
    });
    assert_eq!(
        states(&dir)[1].1,
        "running",
        "point 0 finished before it could be cancelled"
    );
    let st = Command::new("scancel")
        .arg(format!("{points}_0"))
        .status()
        .unwrap();
    assert!(st.success());
    wait_until(&dir, "the other points", all_finished);
    let s = states(&dir);
    assert_eq!(s[1].1, "failed", "{s:?}\n{}", job_logs(&dir));
    assert!(s[1].2.contains("SIGTERM"), "{s:?}\n{}", job_logs(&dir));
    assert!(s[2..].iter().all(|(_, st, _)| st == "done"), "{s:?}");
    // A merge now: point 0 not run, exit 1.
    bin().args(["sweep", "report"]).arg(&dir).assert().code(1);

    let text = submit(&dir, "4000", grid, &["--jobs", "1", "--resume"]);
    assert!(text.contains("baseline job - (done)"), "{text}");
    assert!(text.contains("(array 0%1)"), "{text}");
    wait_until(&dir, "point 0 again", all_finished);
    let s = states(&dir);
    assert!(s.iter().all(|(_, st, _)| st == "done"), "{s:?}");
    // Nothing left to resubmit.
    let again = submit(&dir, "4000", grid, &["--jobs", "1", "--resume"]);
    assert!(again.is_empty(), "{again}");

    bin().args(["sweep", "report"]).arg(&dir).assert().success();
    let merged = support::points(&dir);
    let keys: Vec<String> = merged
        .iter()
        .map(|p| p[0].1.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        keys,
        ["memrec.k=1", "memrec.k=2", "memrec.k=3", "memrec.k=4"]
    );
    let lines = std::fs::read_to_string(dir.join("points.jsonl")).unwrap();
    assert_eq!(
        lines.lines().count(),
        5,
        "baseline + 4 points, once each:\n{lines}"
    );
    let jobs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("slurm/jobs.json")).unwrap())
            .unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 2, "{jobs}");
    assert_eq!(jobs[1]["indices"], serde_json::json!([0]));
    assert!(jobs[1]["baseline"].is_null());
}

/// A failed baseline cancels the points job (its dependency can never be satisfied) instead of
/// leaving it pending forever: the points script's `--kill-on-invalid-dep=yes`, on a real Slurm.
/// The baseline here is a job that fails at once; the points script is the one `--dry-run` wrote.
#[test]
fn a_failed_baseline_cancels_the_points_instead_of_leaving_them_pending() {
    if !cluster() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("doomed");
    bin()
        .args(["sweep", "--preset", "tiny", "--steps", "5"])
        .args(["--grid", "memrec.k=1,2", "--out"])
        .arg(&dir)
        .args([
            "--slurm",
            "--dry-run",
            "--time",
            "5",
            "--cpus-per-task",
            "1",
        ])
        .assert()
        .success();
    let sbatch = |args: &[&str]| -> String {
        let o = Command::new("sbatch")
            .arg("--parsable")
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    let out = tmp.path().join("fail-%j.out");
    let base = sbatch(&[
        "--output",
        out.to_str().unwrap(),
        "--wrap",
        "sleep 1; exit 3",
    ]);
    let points_script = dir.join("slurm/points.sbatch");
    let points = sbatch(&[
        &format!("--dependency=afterok:{base}"),
        points_script.to_str().unwrap(),
    ]);
    let t0 = Instant::now();
    loop {
        let q = Command::new("squeue")
            .args(["-h", "-j", &points, "-o", "%T %r"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&q.stdout).trim().to_string();
        if text.is_empty() {
            break; // gone from the queue: cancelled
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the points job {points} is still queued 120 s after its baseline {base} failed: {text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Nothing of the points ran.
    assert!(
        std::fs::read_dir(dir.join("points"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0
    );
}
