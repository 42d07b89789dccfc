//! SIGINT and SIGTERM sent to the real binary in headless mode and during a sweep: the runs stop at
//! their next step, the summaries say `cancelled`, `--predictions` holds each run's last evaluated
//! model (stderr says at which samples), the sweep keeps its finished points and a re-run resumes
//! the others; the exit code is 128 + the signal.
//!
//! The signal is sent once training is under way (an evaluation or a finished point has been
//! printed). Timeouts are only upper bounds so a broken build fails instead of hanging.

#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_memrec-tui"))
        .args(args)
        .env_remove("MEMREC_PRESET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start memrec-tui")
}

/// The lines of a pipe, read on a thread (so a wait has an upper bound).
fn lines_of(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Read lines into `seen` until one satisfies `want` (at most 5 minutes).
fn read_until(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, want: impl Fn(&str) -> bool) {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(300))
            .unwrap_or_else(|e| panic!("{e:?} before the awaited line; read so far:\n{seen:#?}"));
        let hit = want(&line);
        seen.push(line);
        if hit {
            return;
        }
    }
}

/// Every remaining line, until the pipe closes.
fn read_rest(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>) {
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(300)) {
        seen.push(line);
    }
}

fn kill(child: &Child, signal: i32) {
    // SAFETY: kill with a valid signal on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
}

fn pipes(child: &mut Child) -> (mpsc::Receiver<String>, mpsc::Receiver<String>) {
    let out: ChildStdout = child.stdout.take().unwrap();
    let err: ChildStderr = child.stderr.take().unwrap();
    (lines_of(out), lines_of(err))
}

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[test]
fn sigint_in_headless_mode_prints_cancelled_summaries_and_the_last_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let pred = dir.path().join("pred.tsv");
    let mut child = spawn(&[
        "--preset",
        "tiny",
        "--threads",
        "1",
        "--headless",
        "--steps",
        "100000000",
        "--json",
        "--predictions",
        pred.to_str().unwrap(),
    ]);
    let (out, err) = pipes(&mut child);
    let mut lines = Vec::new();
    // Both runs have been evaluated at least once.
    read_until(&out, &mut lines, |l| {
        l.contains("\"type\":\"eval\"") && l.contains("\"run\":\"memrec\"")
    });
    kill(&child, libc::SIGINT);
    read_rest(&out, &mut lines);
    let mut errors = Vec::new();
    read_rest(&err, &mut errors);
    let status = child.wait().unwrap();
    let stderr = errors.join("\n");
    assert_eq!(status.code(), Some(130), "{status:?}\n{stderr}");

    let mut last_eval: BTreeMap<String, Value> = BTreeMap::new();
    let mut summaries: BTreeMap<String, Value> = BTreeMap::new();
    for l in &lines {
        let v = json(l);
        let run = v["run"].as_str().unwrap().to_string();
        match v["type"].as_str().unwrap() {
            "eval" => {
                last_eval.insert(run, v);
            }
            "summary" => {
                summaries.insert(run, v);
            }
            t => panic!("unexpected line type {t}: {l}"),
        }
    }
    assert_eq!(
        summaries.keys().collect::<Vec<_>>(),
        ["baseline", "memrec"],
        "{lines:#?}"
    );
    for (run, s) in &summaries {
        assert_eq!(s["status"], "cancelled", "{s}");
        assert!(s["steps"].as_u64().unwrap() < 100_000_000);
        // The summary reports the last evaluation, the one the predictions come from.
        let e = &last_eval[run];
        assert_eq!(s["auc"], e["auc"], "{run}");
        let at = format!("{run} at {} samples", e["samples"]);
        assert!(stderr.contains(&at), "stderr lacks `{at}`:\n{stderr}");
    }
    assert!(stderr.contains("SIGINT: stopping every run"), "{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    assert!(!stderr.contains("error:"), "{stderr}");

    // `run<TAB>label<TAB>probability` for every test row of both runs.
    let text = std::fs::read_to_string(&pred).expect("predictions written");
    let mut rows: BTreeMap<&str, usize> = BTreeMap::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(f.len(), 3, "{l}");
        assert!(f[1] == "0" || f[1] == "1", "{l}");
        let p: f32 = f[2].parse().unwrap();
        assert!(p > 0.0 && p < 1.0, "{l}");
        *rows.entry(f[0]).or_default() += 1;
    }
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        ["baseline", "memrec"]
    );
    assert_eq!(rows["baseline"], rows["memrec"]);
    assert!(rows["baseline"] > 0);
}

#[test]
fn sigterm_in_headless_mode_prints_the_table_summaries_and_exits_143() {
    let mut child = spawn(&[
        "--preset",
        "tiny",
        "--threads",
        "1",
        "--headless",
        "--steps",
        "100000000",
    ]);
    let (out, err) = pipes(&mut child);
    let mut lines = Vec::new();
    read_until(&out, &mut lines, |l| l.starts_with("memrec "));
    kill(&child, libc::SIGTERM);
    read_rest(&out, &mut lines);
    let mut errors = Vec::new();
    read_rest(&err, &mut errors);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status:?}\n{errors:#?}");
    let text = lines.join("\n");
    for run in ["baseline", "memrec"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(run) && l.contains(": cancelled after ")),
            "no cancelled summary for {run}:\n{text}"
        );
    }
}

fn sweep_args(out: &str) -> Vec<String> {
    [
        "sweep",
        "--preset",
        "tiny",
        "--threads",
        "1",
        "--jobs",
        "1",
        "--steps",
        "3000",
        "--grid",
        "memrec.k=1,2,4",
        "--json",
        "--out",
        out,
    ]
    .map(String::from)
    .to_vec()
}

fn stored_keys(dir: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(dir.join("points.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v = json(l);
            (
                v["key"].as_str().unwrap().to_string(),
                v["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn sigint_during_a_sweep_keeps_finished_points_and_a_rerun_resumes() {
    let dir = tempfile::tempdir().unwrap();

    // During the baseline: nothing stored, exit 130.
    let early = dir.path().join("early");
    let args = sweep_args(early.to_str().unwrap());
    let mut child = spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (out, err) = pipes(&mut child);
    let mut errors = Vec::new();
    read_until(&err, &mut errors, |l| {
        l.contains("training the baseline once")
    });
    kill(&child, libc::SIGINT);
    read_rest(&err, &mut errors);
    let mut lines = Vec::new();
    read_rest(&out, &mut lines);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}\n{errors:#?}");
    assert!(
        errors
            .iter()
            .any(|l| l.contains("the baseline was cancelled")),
        "{errors:#?}"
    );
    assert!(stored_keys(&early).is_empty());

    // After the first point: it is kept, the others are cancelled and not stored.
    let sweep = dir.path().join("sweep");
    let args = sweep_args(sweep.to_str().unwrap());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = spawn(&args);
    let (out, err) = pipes(&mut child);
    let mut errors = Vec::new();
    read_until(&err, &mut errors, |l| l.starts_with("[1/3]"));
    kill(&child, libc::SIGINT);
    read_rest(&err, &mut errors);
    let mut lines = Vec::new();
    read_rest(&out, &mut lines);
    let status = child.wait().unwrap();
    let stderr = errors.join("\n");
    assert_eq!(status.code(), Some(130), "{status:?}\n{stderr}");
    assert!(stderr.contains("re-run the same command"), "{stderr}");
    assert!(!stderr.contains("error:"), "{stderr}");

    let records: Vec<Value> = lines.iter().map(|l| json(l)).collect();
    assert_eq!(records[0]["type"], "baseline");
    assert_eq!(records[0]["status"], "ok");
    let points: Vec<(String, String)> = records[1..]
        .iter()
        .map(|v| {
            assert_eq!(v["type"], "point");
            (
                v["key"].as_str().unwrap().to_string(),
                v["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(points.len(), 3, "{lines:#?}");
    assert_eq!(points[0], ("memrec.k=1".to_string(), "ok".to_string()));
    assert!(
        points.iter().all(|(_, s)| s == "ok" || s == "cancelled"),
        "{points:?}"
    );
    let ok: Vec<&(String, String)> = points.iter().filter(|(_, s)| s == "ok").collect();
    assert!(ok.len() < 3, "nothing was cancelled: {points:?}");
    // Stored: the baseline and the finished points only.
    let mut want = vec![("baseline".to_string(), "ok".to_string())];
    want.extend(ok.iter().map(|&p| p.clone()));
    assert_eq!(stored_keys(&sweep), want);
    let md = std::fs::read_to_string(sweep.join("summary.md")).expect("summary.md written");
    assert!(md.contains("cancelled before they finished"), "{md}");
    assert!(sweep.join("points.csv").is_file() && sweep.join("pareto.svg").is_file());

    // The same command again trains only the cancelled points.
    let again = Command::new(env!("CARGO_BIN_EXE_memrec-tui"))
        .args(&args)
        .env_remove("MEMREC_PRESET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{stderr}");
    let resumed = format!(
        "3 point(s), {} already done, {} to run",
        ok.len(),
        3 - ok.len()
    );
    assert!(stderr.contains(&resumed), "{stderr}");
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert_eq!(
        stdout.lines().filter(|l| json(l)["status"] == "ok").count(),
        4,
        "{stdout}"
    );
    assert_eq!(stored_keys(&sweep).len(), 4);
}
