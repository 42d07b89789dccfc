//! Headless output: JSON lines, the readable table, --predictions agreeing with the printed AUC,
//! and usage errors for missing or impossible budgets and bad --screen values.
#[path = "train_support.rs"]
mod support;

use std::sync::Arc;

use memrec_tui::cli::{CliError, RunArgs};
use memrec_tui::metrics;
use memrec_tui::train::engine::EngineOptions;
use memrec_tui::train::headless::{options, parse_screen, run_with};
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
        reps: test_reps(None),
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
        let auc = metrics::auc(&y, &p).unwrap();
        assert!((auc - s["auc"].as_f64().unwrap()).abs() < 1e-6, "{run}");
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
