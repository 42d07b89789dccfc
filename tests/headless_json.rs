//! Headless output on the real representations (uncompressed baseline, MEM-REC bundled and per
//! feature): JSON lines, the readable table, --predictions agreeing with the printed AUC (computed
//! here by a rank formula of the test's own), the same output with 1 or 2 threads, and usage
//! errors for missing or impossible budgets and bad --screen values.
#[path = "train_support.rs"]
mod support;

use std::sync::Arc;

use memrec_tui::cli::headless::{options, parse_screen, run_with};
use memrec_tui::cli::{CliError, RunArgs};
use memrec_tui::config::{Config, Layout};
use memrec_tui::train::engine::{EngineOptions, default_reps};
use support::{PlantedSource, small_cfg, test_reps};

fn args(json: bool) -> RunArgs {
    RunArgs {
        headless: true,
        steps: Some(50),
        json,
        ..RunArgs::default()
    }
}

fn opts() -> EngineOptions {
    EngineOptions {
        max_steps: Some(50),
        exit_when_done: true,
        reps: default_reps(),
        ..EngineOptions::default()
    }
}

fn source() -> Arc<PlantedSource> {
    Arc::new(PlantedSource {
        seed: 5,
        train_rows: None,
        test_rows: 800,
    })
}

/// Mann-Whitney AUC: the positives' rank sum (tied scores share the average of their ranks),
/// less its minimum, over the number of (positive, negative) pairs.
fn rank_auc(labels: &[f32], scores: &[f32]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].partial_cmp(&scores[b]).expect("finite scores"));
    let mut rank = vec![0.0f64; scores.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        // Ranks start+1 ..= end, averaged over the tie.
        let avg = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            rank[i] = avg;
        }
        start = end;
    }
    let pos = labels.iter().filter(|&&y| y == 1.0).count() as f64;
    let neg = labels.len() as f64 - pos;
    let r_pos: f64 = (0..labels.len())
        .filter(|&i| labels[i] == 1.0)
        .map(|i| rank[i])
        .sum();
    (r_pos - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

#[test]
fn the_rank_formula_of_this_test_is_right() {
    // 2 positives, 3 negatives, one tie across classes: 0.9 beats all 3 negatives, 0.5 beats
    // 0.1 and 0.2 and ties 0.5: 5.5 of 6 pairs.
    let y = [1.0, 0.0, 1.0, 0.0, 0.0];
    let p = [0.9, 0.5, 0.5, 0.1, 0.2];
    assert!((rank_auc(&y, &p) - 5.5 / 6.0).abs() < 1e-12);
    // A tie within a class changes nothing: 0.2 and 0.1 -> 0.1 and 0.1.
    assert!((rank_auc(&y, &[0.9, 0.5, 0.5, 0.1, 0.1]) - 5.5 / 6.0).abs() < 1e-12);
}

#[test]
fn json_lines_and_predictions_agree() {
    let dir = tempfile::tempdir().unwrap();
    let pred = dir.path().join("pred.tsv");
    let mut a = args(true);
    a.predictions = Some(pred.clone());
    let mut out = Vec::new();
    run_with(&small_cfg(2), &a, source(), opts(), None, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let evals: Vec<_> = lines.iter().filter(|v| v["type"] == "eval").collect();
    let sums: Vec<_> = lines.iter().filter(|v| v["type"] == "summary").collect();
    // Warm-up evaluations at 250, 500 and 1000 samples, then every 2000 up to 5000, then the
    // final one: 250, 500, 1000, 2000, 4000, 5000 per run.
    assert_eq!(evals.len(), 12, "{text}");
    for key in [
        "run",
        "samples",
        "auc",
        "auc_lo",
        "auc_hi",
        "logloss",
        "samples_per_s",
    ] {
        assert!(evals.iter().all(|v| !v[key].is_null()), "{key} missing");
    }
    assert_eq!(sums.len(), 2);
    let memrec = sums.iter().find(|v| v["run"] == "memrec").unwrap();
    for key in ["table_bytes", "compression_full", "delta_auc"] {
        assert!(!memrec[key].is_null(), "{key} missing in {memrec}");
    }
    // The AUC of the rows in --predictions, computed independently, equals the printed one.
    let rows = std::fs::read_to_string(&pred).unwrap();
    for s in &sums {
        let run = s["run"].as_str().unwrap();
        let (mut y, mut p) = (Vec::new(), Vec::new());
        for l in rows.lines() {
            let f: Vec<&str> = l.split('\t').collect();
            if f[0] == run {
                y.push(f[1].parse::<f32>().unwrap());
                p.push(f[2].parse::<f32>().unwrap());
            }
        }
        assert_eq!(y.len(), 800);
        let auc = rank_auc(&y, &p);
        assert!(
            (auc - s["auc"].as_f64().unwrap()).abs() < 1e-6,
            "{run}: {auc} vs {}",
            s["auc"]
        );
    }
    let reps: Vec<&str> = sums
        .iter()
        .map(|s| s["representation"].as_str().unwrap())
        .collect();
    assert_eq!(reps, ["uncompressed", "memrec-bundled"]);
}

/// The JSON lines without their one wall-clock figure (`samples_per_s`), and the predictions.
fn output(cfg: &Config) -> (Vec<serde_json::Value>, String) {
    let dir = tempfile::tempdir().unwrap();
    let pred = dir.path().join("pred.tsv");
    let mut a = args(true);
    a.predictions = Some(pred.clone());
    let mut out = Vec::new();
    run_with(cfg, &a, source(), opts(), None, &mut out).unwrap();
    let lines = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if let Some(o) = v.as_object_mut() {
                o.remove("samples_per_s");
            }
            v
        })
        .collect();
    (lines, std::fs::read_to_string(&pred).unwrap())
}

#[test]
fn one_or_two_threads_print_the_same_numbers_on_the_real_representations() {
    for (layout, kind) in [
        (Layout::Bundled, "memrec-bundled"),
        (Layout::PerFeature, "memrec-per-feature"),
    ] {
        let cfg = |threads| {
            let mut c = small_cfg(threads);
            c.memrec.layout = layout;
            c
        };
        let (a, pa) = output(&cfg(1));
        let (b, pb) = output(&cfg(2));
        assert_eq!(a, b, "{kind}");
        assert_eq!(pa, pb, "{kind}: predictions");
        let kinds: Vec<&str> = a
            .iter()
            .filter(|v| v["type"] == "summary")
            .map(|v| v["representation"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["uncompressed", kind]);
    }
}

#[test]
fn readable_table_without_json() {
    let mut out = Vec::new();
    run_with(
        &small_cfg(1),
        &args(false),
        source(),
        opts(),
        None,
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("samples/s") && text.contains("baseline") && text.contains("memrec"));
    assert!(
        text.contains("smaller than the full uncompressed tables"),
        "{text}"
    );
    assert!(!text.contains("{\""), "no JSON in the table: {text}");
}

#[test]
fn a_failed_run_is_a_runtime_error_after_the_results() {
    let mut out = Vec::new();
    let o = EngineOptions {
        reps: test_reps(Some(3)),
        ..opts()
    };
    let err = run_with(&small_cfg(1), &args(true), source(), o, None, &mut out).unwrap_err();
    assert_eq!(err.exit_code(), 1);
    assert!(err.to_string().contains("memrec"), "{err}");
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\"run\":\"baseline\"") && text.contains("\"type\":\"summary\""));
}

fn usage(e: Result<impl std::fmt::Debug, CliError>) -> String {
    let e = e.unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    e.to_string()
}

#[test]
fn budgets_and_screen_are_checked() {
    let cfg = small_cfg(1);
    let none = RunArgs {
        headless: true,
        ..RunArgs::default()
    };
    assert!(usage(options(&cfg, &none)).contains("--steps"));
    let epochs = RunArgs {
        headless: true,
        epochs: Some(1),
        ..RunArgs::default()
    };
    assert!(usage(options(&cfg, &epochs)).contains("synthetic"));
    let zero = RunArgs {
        headless: true,
        steps: Some(0),
        ..RunArgs::default()
    };
    assert!(usage(options(&cfg, &zero)).contains("--steps 0"));
    assert_eq!(parse_screen("120x40").unwrap(), (120, 40));
    for bad in ["120", "x40", "0x10", "120x", "axb", "99999x2"] {
        assert!(usage(parse_screen(bad)).contains(bad));
    }
}
