//! `sweep` in-process on the real representations (the test doubles where a run must diverge or
//! fail to start): a finished sweep re-run trains nothing and writes the same report, a grid
//! grown by one point trains only that point, points give the same numbers whatever the jobs and
//! threads, ΔAUC intervals agree with DeLong's computed here from the predictions, a different
//! base configuration in the same directory is refused, and diverged points are stored as failed
//! and left off the front.
#[path = "train_support.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;

use memrec_tui::config::Config;
use memrec_tui::data::DataSource;
use memrec_tui::sweep::{Budget, SweepError, SweepResult, SweepSpec, run_sweep};
use memrec_tui::train::engine::{EngineOptions, RepBuilder, default_reps};
use memrec_tui::train::protocol::RunId;
use support::{PlantedSource, delong_delta, run_with_predictions, small_cfg, test_reps};

fn planted() -> PlantedSource {
    PlantedSource {
        seed: 11,
        train_rows: None,
        test_rows: 600,
    }
}

fn source() -> Arc<PlantedSource> {
    Arc::new(planted())
}

fn sweep_with(
    cfg: &Config,
    grid: &str,
    dir: &Path,
    jobs: usize,
    reps: RepBuilder,
) -> Result<SweepResult, SweepError> {
    let spec = SweepSpec::new(
        cfg.clone(),
        grid,
        Budget::Steps(30),
        dir.to_path_buf(),
        jobs,
        "test",
    )?;
    let mut log = Vec::new();
    let r = run_sweep(&spec, source(), reps, &mut log, false);
    eprintln!("{}", String::from_utf8_lossy(&log));
    r
}

/// A sweep of two jobs on the real representations.
fn sweep(cfg: &Config, grid: &str, dir: &Path) -> Result<SweepResult, SweepError> {
    sweep_with(cfg, grid, dir, 2, default_reps())
}

/// A sweep of two jobs on the test doubles, MEM-REC's diverging after `nan_after` steps.
fn sweep_doubles(
    cfg: &Config,
    grid: &str,
    dir: &Path,
    nan_after: Option<u64>,
) -> Result<SweepResult, SweepError> {
    sweep_with(cfg, grid, dir, 2, test_reps(nan_after))
}

fn report(dir: &Path) -> Vec<String> {
    ["points.csv", "points.json", "summary.md", "pareto.svg"]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).unwrap())
        .collect()
}

#[test]
fn resumed_sweep_reruns_nothing_and_grows_by_one_point() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_cfg(2);
    let first = sweep(&cfg, "memrec.token_rows=4,16", dir.path()).unwrap();
    assert_eq!((first.ran, first.reused), (2, 0));
    assert!(first.baseline.ok(), "{:?}", first.baseline);
    assert_eq!(first.baseline.representation, "uncompressed");
    let labels = source().test_set().unwrap().labels;
    for p in &first.points {
        assert!(p.ok(), "{p:?}");
        assert_eq!(p.steps, 30);
        assert_eq!(p.representation, "memrec-bundled");
        let (d, lo, hi) = (
            p.delta_auc.unwrap(),
            p.delta_lo.unwrap(),
            p.delta_hi.unwrap(),
        );
        // ΔAUC is the point's AUC minus the baseline's, on the same rows.
        let expect = p.auc.unwrap() - first.baseline.auc.unwrap();
        assert!((d - expect).abs() < 1e-9, "{d} vs {expect}");
        // Its interval is DeLong's, computed here from the predictions of the same two runs
        // trained by one engine outside the sweep.
        let mut point_cfg = cfg.clone();
        point_cfg.apply_set(&p.key).unwrap();
        let opts = EngineOptions {
            max_steps: Some(30),
            reps: default_reps(),
            ..EngineOptions::default()
        };
        let (_, preds) = run_with_predictions(point_cfg, planted(), opts);
        let probs = |run: RunId| preds.iter().find(|x| x.run == run).unwrap().probs.clone();
        let (delta, half) =
            delong_delta(&labels, &probs(RunId::COMPRESSED), &probs(RunId::BASELINE));
        let (want, got) = ((delta, delta - half, delta + half), (d, lo, hi));
        assert!(
            (want.0 - got.0).abs() < 1e-9
                && (want.1 - got.1).abs() < 1e-9
                && (want.2 - got.2).abs() < 1e-9,
            "{}: {got:?} vs {want:?}",
            p.key
        );
    }
    let lines = |d: &Path| {
        std::fs::read_to_string(d.join("points.jsonl"))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(lines(dir.path()), 3, "baseline + 2 points");
    let before = report(dir.path());

    // Same command again: nothing trains, the report is identical.
    let again = sweep(&cfg, "memrec.token_rows=4,16", dir.path()).unwrap();
    assert_eq!((again.ran, again.reused), (0, 2));
    assert_eq!(lines(dir.path()), 3);
    assert_eq!(report(dir.path()), before);

    // One more value (and the axis values in another order): only the new point trains, and the
    // old points keep their numbers.
    let grown = sweep(&cfg, "memrec.token_rows=16,4,64", dir.path()).unwrap();
    assert_eq!((grown.ran, grown.reused), (1, 2));
    assert_eq!(lines(dir.path()), 4);
    assert_eq!(grown.points[1], first.points[0]);
    assert_eq!(grown.points[0], first.points[1]);
    assert_eq!(grown.points[2].key, "memrec.token_rows=64");

    // An axis added at its base value (small_cfg has k = 2) names the same trainings: nothing runs.
    let k_axis = sweep(&cfg, "memrec.k=2;memrec.token_rows=4,16", dir.path()).unwrap();
    assert_eq!((k_axis.ran, k_axis.reused), (0, 2));
    assert_eq!(k_axis.points[0].key, "memrec.k=2;memrec.token_rows=4");
    assert_eq!(k_axis.points[0].auc, first.points[0].auc);

    // The same points run from scratch in a fresh directory, one job of one thread, give the
    // same numbers (determinism across jobs and thread counts; only the wall-clock fields
    // differ), in both MEM-REC layouts.
    let fresh = tempfile::tempdir().unwrap();
    let mut one_thread = cfg.clone();
    one_thread.threads = 1;
    let r = sweep_with(
        &one_thread,
        "memrec.token_rows=4,16,64",
        fresh.path(),
        1,
        default_reps(),
    )
    .unwrap();
    assert_eq!(r.baseline.auc, first.baseline.auc);
    for (a, b) in r
        .points
        .iter()
        .zip(&[&grown.points[1], &grown.points[0], &grown.points[2]])
    {
        assert_eq!(
            (a.auc, a.delta_auc, a.delta_lo, a.table_bytes),
            (b.auc, b.delta_auc, b.delta_lo, b.table_bytes)
        );
    }
    let per_feature = "memrec.token_rows=4,16;memrec.layout=per_feature";
    let two = tempfile::tempdir().unwrap();
    let a = sweep_with(&cfg, per_feature, two.path(), 2, default_reps()).unwrap();
    let one = tempfile::tempdir().unwrap();
    let b = sweep_with(&one_thread, per_feature, one.path(), 1, default_reps()).unwrap();
    assert_eq!(a.baseline.auc, b.baseline.auc);
    for (a, b) in a.points.iter().zip(&b.points) {
        assert_eq!(a.representation, "memrec-per-feature");
        assert!(a.ok(), "{a:?}");
        assert_eq!(
            (a.auc, a.delta_auc, a.delta_lo, a.logloss),
            (b.auc, b.delta_auc, b.delta_lo, b.logloss)
        );
    }

    // Another base configuration in the same directory is refused, naming the difference.
    let mut other = cfg.clone();
    other.seed += 1;
    let e = sweep(&other, "memrec.token_rows=4,16", dir.path()).unwrap_err();
    assert!(e.is_usage(), "{e}");
    assert!(e.to_string().contains("seed"), "{e}");
}

#[test]
fn diverged_points_are_stored_failed_and_off_the_front() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_cfg(2);
    // The MEM-REC stand-in outputs NaN after 5 steps: every point diverges, the baseline does not.
    let r = sweep_doubles(&cfg, "memrec.token_rows=4,16", dir.path(), Some(5)).unwrap();
    assert!(r.baseline.ok());
    for p in &r.points {
        assert!(
            !p.ok() && p.status.to_string().contains("diverged"),
            "{p:?}"
        );
        assert_eq!(p.delta_auc, None);
    }
    let csv = std::fs::read_to_string(dir.path().join("points.csv")).unwrap();
    assert_eq!(csv.lines().filter(|l| l.ends_with(",true")).count(), 0);
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(md.contains("2 point(s) failed"), "{md}");
    // Divergence is a result: a re-run does not train the points again.
    let again = sweep_doubles(&cfg, "memrec.token_rows=4,16", dir.path(), Some(5)).unwrap();
    assert_eq!((again.ran, again.reused), (0, 2));
}

#[test]
fn points_that_cannot_start_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_cfg(1);
    let spec = SweepSpec::new(
        cfg.clone(),
        "memrec.token_rows=4,16",
        Budget::Steps(10),
        dir.path().to_path_buf(),
        1,
        "test",
    )
    .unwrap();
    let inner = test_reps(None);
    // A builder that cannot build MEM-REC tables of 16 rows.
    let picky: memrec_tui::train::engine::RepBuilder = Arc::new(move |c, k| {
        if k == memrec_tui::train::engine::RunKind::Compressed && c.memrec.token_rows == 16 {
            Err("16 rows are not supported here".into())
        } else {
            inner(c, k)
        }
    });
    let r = run_sweep(&spec, source(), picky, &mut Vec::new(), false).unwrap();
    assert_eq!(r.not_started.len(), 1);
    assert!(
        r.points[1]
            .status
            .to_string()
            .contains("16 rows are not supported")
    );
    let r = run_sweep(&spec, source(), test_reps(None), &mut Vec::new(), false).unwrap();
    assert_eq!((r.ran, r.reused), (1, 1));
    assert!(r.points.iter().all(|p| p.ok()));
}
