//! `sweep` in-process on the engine's test doubles: a finished sweep re-run trains nothing and
//! writes the same report, a grid grown by one point trains only that point, a different base
//! configuration in the same directory is refused, and diverged points are stored as failed and
//! left off the front.
#[path = "train_support.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;

use memrec_tui::config::Config;
use memrec_tui::sweep::{Budget, SweepError, SweepResult, SweepSpec, run_sweep};
use support::{PlantedSource, small_cfg, test_reps};

fn source() -> Arc<PlantedSource> {
    Arc::new(PlantedSource {
        seed: 11,
        train_rows: None,
        test_rows: 600,
    })
}

fn sweep(
    cfg: &Config,
    grid: &str,
    dir: &Path,
    nan_after: Option<u64>,
) -> Result<SweepResult, SweepError> {
    let spec = SweepSpec::new(
        cfg.clone(),
        grid,
        Budget::Steps(30),
        dir.to_path_buf(),
        2,
        "test",
    )?;
    let mut log = Vec::new();
    let r = run_sweep(&spec, source(), test_reps(nan_after), &mut log, false);
    eprintln!("{}", String::from_utf8_lossy(&log));
    r
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
    let first = sweep(&cfg, "memrec.token_rows=4,16", dir.path(), None).unwrap();
    assert_eq!((first.ran, first.reused), (2, 0));
    assert!(first.baseline.ok(), "{:?}", first.baseline);
    for p in &first.points {
        assert!(p.ok(), "{p:?}");
        assert_eq!(p.steps, 30);
        let (d, lo, hi) = (
            p.delta_auc.unwrap(),
            p.delta_lo.unwrap(),
            p.delta_hi.unwrap(),
        );
        assert!(lo <= d && d <= hi, "{p:?}");
        // ΔAUC is the point's AUC minus the baseline's, on the same rows.
        let expect = p.auc.unwrap() - first.baseline.auc.unwrap();
        assert!((d - expect).abs() < 1e-9, "{d} vs {expect}");
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
    let again = sweep(&cfg, "memrec.token_rows=4,16", dir.path(), None).unwrap();
    assert_eq!((again.ran, again.reused), (0, 2));
    assert_eq!(lines(dir.path()), 3);
    assert_eq!(report(dir.path()), before);

    // One more value (and the axis values in another order): only the new point trains, and the
    // old points keep their numbers.
    let grown = sweep(&cfg, "memrec.token_rows=16,4,64", dir.path(), None).unwrap();
    assert_eq!((grown.ran, grown.reused), (1, 2));
    assert_eq!(lines(dir.path()), 4);
    assert_eq!(grown.points[1], first.points[0]);
    assert_eq!(grown.points[0], first.points[1]);
    assert_eq!(grown.points[2].key, "memrec.token_rows=64");

    // An axis added at its base value (small_cfg has k = 2) names the same trainings: nothing runs.
    let k_axis = sweep(&cfg, "memrec.k=2;memrec.token_rows=4,16", dir.path(), None).unwrap();
    assert_eq!((k_axis.ran, k_axis.reused), (0, 2));
    assert_eq!(k_axis.points[0].key, "memrec.k=2;memrec.token_rows=4");
    assert_eq!(k_axis.points[0].auc, first.points[0].auc);

    // The same points run from scratch in a fresh directory give the same numbers (determinism
    // across jobs and thread counts; only the wall-clock fields differ).
    let fresh = tempfile::tempdir().unwrap();
    let mut one_thread = cfg.clone();
    one_thread.threads = 1;
    let spec = SweepSpec::new(
        one_thread,
        "memrec.token_rows=4,16,64",
        Budget::Steps(30),
        fresh.path().to_path_buf(),
        1,
        "test",
    )
    .unwrap();
    let r = run_sweep(&spec, source(), test_reps(None), &mut Vec::new(), false).unwrap();
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

    // Another base configuration in the same directory is refused, naming the difference.
    let mut other = cfg.clone();
    other.seed += 1;
    let e = sweep(&other, "memrec.token_rows=4,16", dir.path(), None).unwrap_err();
    assert!(e.is_usage(), "{e}");
    assert!(e.to_string().contains("seed"), "{e}");
}

#[test]
fn diverged_points_are_stored_failed_and_off_the_front() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_cfg(2);
    // The MEM-REC stand-in outputs NaN after 5 steps: every point diverges, the baseline does not.
    let r = sweep(&cfg, "memrec.token_rows=4,16", dir.path(), Some(5)).unwrap();
    assert!(r.baseline.ok());
    for p in &r.points {
        assert!(!p.ok() && p.status.contains("diverged"), "{p:?}");
        assert_eq!(p.delta_auc, None);
    }
    let csv = std::fs::read_to_string(dir.path().join("points.csv")).unwrap();
    assert_eq!(csv.lines().filter(|l| l.ends_with(",true")).count(), 0);
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(md.contains("2 point(s) failed"), "{md}");
    // Divergence is a result: a re-run does not train the points again.
    let again = sweep(&cfg, "memrec.token_rows=4,16", dir.path(), Some(5)).unwrap();
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
        if k == memrec_tui::train::engine::RunKind::Memrec && c.memrec.token_rows == 16 {
            Err("16 rows are not supported here".into())
        } else {
            inner(c, k)
        }
    });
    let r = run_sweep(&spec, source(), picky, &mut Vec::new(), false).unwrap();
    assert_eq!(r.not_started.len(), 1);
    assert!(r.points[1].status.contains("16 rows are not supported"));
    let r = run_sweep(&spec, source(), test_reps(None), &mut Vec::new(), false).unwrap();
    assert_eq!((r.ran, r.reused), (1, 1));
    assert!(r.points.iter().all(|p| p.ok()));
}
