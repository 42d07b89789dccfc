//! The design review of a sweep, in-process on the planted data: ΔAUC at each checkpoint is the
//! DeLong difference computed here from the stored baseline predictions at that checkpoint and
//! the point's own predictions at the same samples; latency is measured once per distinct
//! representation; a folder re-run with a smaller grid still reports every point in it; the
//! summary and `best.ron` carry their provenance, and `best.ron` loads.
#[path = "train_support.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use memrec_tui::config::Config;
use memrec_tui::data::DataSource;
use memrec_tui::sweep::predictions;
use memrec_tui::sweep::store::{Store, manifest_of};
use memrec_tui::sweep::{Budget, LatencyProbe, SweepResult, SweepSpec, run_sweep};
use memrec_tui::train::engine::{EngineOptions, default_reps};
use memrec_tui::train::latency::Stop;
use memrec_tui::train::protocol::{LatencyReport, RunId};
use support::{PlantedSource, delong_delta, run_with_predictions, small_cfg};

fn planted() -> PlantedSource {
    PlantedSource {
        seed: 11,
        train_rows: None,
        test_rows: 600,
    }
}

fn spec(cfg: &Config, grid: &str, dir: &Path) -> SweepSpec {
    SweepSpec::new(
        cfg.clone(),
        grid,
        Budget::Steps(30),
        dir.to_path_buf(),
        2,
        "test",
    )
    .unwrap()
}

fn run(spec: &SweepSpec) -> SweepResult {
    let mut log = Vec::new();
    let r = run_sweep(spec, Arc::new(planted()), default_reps(), &mut log, false);
    eprintln!("{}", String::from_utf8_lossy(&log));
    r.unwrap()
}

/// A latency double: ns per token = token rows / 1000, counting its calls.
fn probe(calls: Arc<AtomicUsize>) -> LatencyProbe {
    Arc::new(move |cfg: &Config, _: &Stop| {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(LatencyReport {
            compressed_ns_per_token: cfg.memrec.token_rows as f64 / 1000.0,
            compressed_p99_ns: 1.0,
            full_ns_per_token: 5.0,
            full_p99_ns: 6.0,
            speedup: 1.0,
            compressed_bytes: 0,
            full_bytes: 0,
            full_measured_at_full_size: true,
            threads: cfg.effective_threads(),
            batch: cfg.bench.batch,
            batches: cfg.bench.batches,
            compressed_fits: "L1".into(),
            full_fits: "DRAM".into(),
            ratio_range: None,
        })
    })
}

#[test]
fn delta_at_each_checkpoint_is_delong_from_stored_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_cfg(2);
    let mut s = spec(&cfg, "memrec.token_rows=4,16", dir.path());
    // Batches of 100: 1k and 2.5k are whole steps (10 and 25); the schedule evaluates at 300,
    // 500, 1000, 2000 and the end (3000).
    s.checkpoints = Some(vec![1000, 2500]);
    let r = run(&s);
    let labels = planted().test_set().unwrap().labels;
    let (store, _) = Store::open(dir.path(), &manifest_of(&cfg, "steps=30")).unwrap();
    let stored = store.load_baseline_evals(&labels);
    drop(store);
    assert!(
        stored.contains_key(&1000) && stored.contains_key(&2500),
        "{:?}",
        stored.keys()
    );
    let curve: Vec<u64> = r.baseline.curve.iter().map(|c| c.samples).collect();
    assert_eq!(curve, [300, 500, 1000, 2000, 2500, 3000]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("points.json")).unwrap())
            .unwrap();
    let csv = std::fs::read_to_string(dir.path().join("points.csv")).unwrap();
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = head.iter().position(|h| *h == "delta_auc@2.5k").unwrap();
    let mut at_2500 = Vec::new();
    for (i, p) in r.points.iter().enumerate() {
        // The point's predictions at 2,500 samples: the same training stopped there.
        let mut point_cfg = cfg.clone();
        point_cfg.apply_set(&p.key).unwrap();
        let opts = EngineOptions {
            max_steps: Some(25),
            reps: default_reps(),
            ..EngineOptions::default()
        };
        let (_, preds) = run_with_predictions(point_cfg, planted(), opts);
        let probs = |run: RunId| preds.iter().find(|x| x.run == run).unwrap().probs.clone();
        // The baseline stored by the sweep is the baseline at 2,500 samples.
        assert_eq!(stored[&2500], probs(RunId::BASELINE));
        // The point's own probabilities are kept at the two checkpoints, and only there.
        let kept = predictions::load_point(dir.path(), (&p.base_hash, &p.config_hash), &labels);
        assert_eq!(kept.keys().copied().collect::<Vec<_>>(), [1000, 2500]);
        assert_eq!(kept[&2500], probs(RunId::COMPRESSED));
        at_2500.push(probs(RunId::COMPRESSED));
        let (d, half) = delong_delta(&labels, &probs(RunId::COMPRESSED), &stored[&2500]);
        let at = &json[i]["checkpoints"][1];
        assert_eq!(
            (at["checkpoint"].as_str(), at["samples"].as_u64()),
            (Some("2.5k"), Some(2500))
        );
        for (got, want) in [
            (at["delta_auc"].as_f64().unwrap(), d),
            (at["delta_lo"].as_f64().unwrap(), d - half),
            (at["delta_hi"].as_f64().unwrap(), d + half),
        ] {
            assert!((got - want).abs() < 1e-9, "{}: {got} vs {want}", p.key);
        }
        let row: Vec<&str> = csv.lines().nth(i + 1).unwrap().split(',').collect();
        assert!((row[col].parse::<f64>().unwrap() - d).abs() < 1e-9);
        // The whole curve is kept, a ΔAUC at every evaluation the baseline has.
        let samples: Vec<u64> = p.curve.iter().map(|c| c.samples).collect();
        assert_eq!(samples, curve);
        assert!(p.curve.iter().all(|c| c.delta_auc.is_some()));
    }
    // The best point at 2.5k against the next: the paired DeLong of their kept probabilities.
    let best = (0..2)
        .find(|&i| json[i]["checkpoints"][1]["best_vs_next"].is_object())
        .expect("a best point at 2.5k");
    let duel = &json[best]["checkpoints"][1]["best_vs_next"];
    assert_eq!(duel["next"].as_str(), Some(r.points[1 - best].key.as_str()));
    let (gap, half) = delong_delta(&labels, &at_2500[best], &at_2500[1 - best]);
    for (got, want) in [
        (duel["auc_gap"].as_f64().unwrap(), gap),
        (duel["gap_lo"].as_f64().unwrap(), gap - half),
        (duel["gap_hi"].as_f64().unwrap(), gap + half),
    ] {
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }
    assert!(
        gap >= 0.0,
        "the best has the higher ΔAUC against the same baseline: {gap}"
    );
    assert_eq!(
        duel["told_apart"].as_bool(),
        Some(gap - half > 0.0 || gap + half < 0.0)
    );
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(
        md.contains("| point | table bytes | ΔAUC at 1k | ΔAUC at 2.5k |"),
        "{md}"
    );
    assert!(md.contains("over its last doubling of samples"), "{md}");
}

#[test]
fn latency_is_measured_once_per_representation_and_ranked() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_cfg(2);
    let calls = Arc::new(AtomicUsize::new(0));
    let mut s = spec(&cfg, "memrec.token_rows=4,16;train.lr=0.05,0.1", dir.path());
    s.latency = Some(probe(Arc::clone(&calls)));
    s.max_ns = Some(0.01);
    let r = run(&s);
    // Two representations, four points: two measurements.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    for p in &r.points {
        let rows = p.axes[0].1.parse::<f64>().unwrap();
        assert_eq!(p.ns_per_token, Some(rows / 1000.0), "{p:?}");
        assert_eq!(p.uncompressed_ns_per_token, Some(5.0));
    }
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(md.contains("≤ 0.01 ns per looked-up token"), "{md}");
    // Only the 4-row points (0.004 ns) fit.
    assert!(md.contains("(2 of 4 points fit)"), "{md}");
    let csv = std::fs::read_to_string(dir.path().join("points.csv")).unwrap();
    assert!(
        csv.lines().next().unwrap().contains(",ns_per_token,"),
        "{csv}"
    );
}

#[test]
fn a_smaller_grid_still_reports_every_point_of_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_cfg(2);
    run(&spec(&cfg, "memrec.token_rows=4,16", dir.path()));
    let r = run(&spec(&cfg, "memrec.token_rows=4", dir.path()));
    assert_eq!((r.ran, r.reused), (0, 1));
    let keys: Vec<&str> = r.points.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["memrec.token_rows=4", "memrec.token_rows=16"]);
    let csv = std::fs::read_to_string(dir.path().join("points.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = head.iter().position(|h| *h == "source").unwrap();
    let sources: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(col).unwrap())
        .collect();
    assert_eq!(sources, ["grid", "folder"]);
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(
        md.contains("1 point(s) of this folder are not in this grid")
            && md.contains("memrec.token_rows=16"),
        "{md}"
    );
}

/// A folder from before the probabilities were kept (no `test.labels`, no `predictions/`): a new
/// point writes the labels again, and the comparison with an old point says what is missing.
#[test]
fn a_folder_without_kept_probabilities_says_so_and_new_points_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_cfg(2);
    run(&spec(&cfg, "memrec.token_rows=4,16", dir.path()));
    std::fs::remove_file(dir.path().join(predictions::LABELS)).unwrap();
    std::fs::remove_dir_all(dir.path().join(predictions::DIR)).unwrap();
    run(&spec(&cfg, "memrec.token_rows=4,16,64", dir.path()));
    let labels = planted().test_set().unwrap().labels;
    assert_eq!(predictions::load_labels(dir.path()), Some(labels));
    let kept: Vec<_> = std::fs::read_dir(dir.path().join(predictions::DIR))
        .unwrap()
        .collect();
    assert_eq!(kept.len(), 1, "only the new point's");
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    let section = &md[md
        .find("## The best point against the next, paired")
        .expect(&md)..];
    let section = &section[..section.find("\n## Every point").unwrap()];
    let rows: Vec<&str> = section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| checkpoint"))
        .collect();
    // The new point (64 token rows) is the best at every checkpoint; the next is an old point
    // whose file is gone: no figure, the file named.
    assert_eq!(rows.len(), 3, "{section}");
    for r in rows {
        assert!(r.contains("| memrec-bundled token_rows=64 |"), "{r}");
        assert!(
            r.contains("| - | not measured: the test probabilities of"),
            "{r}"
        );
        assert!(
            r.contains(".evals is missing or from an earlier run)"),
            "{r}"
        );
    }
    assert!(section.contains("were not compared directly"), "{section}");
}

#[test]
fn summary_and_best_ron_say_what_made_them_and_the_ron_loads() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_cfg(2);
    let mut s = spec(&cfg, "memrec.token_rows=4,16", dir.path());
    s.max_bytes = Some(1 << 30);
    let r = run(&s);
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    for needle in [
        "## Provenance",
        "- program: memrec-tui ",
        "(commit ",
        "- command: ",
        "- data: ",
        "seed ",
        "- machine: ",
        "thread(s) used",
        "- budget: 30 steps per run (baseline: 3,000 samples); --max-bytes 1.00 GiB",
    ] {
        assert!(md.contains(needle), "{needle}: {md}");
    }
    let text = std::fs::read_to_string(dir.path().join("best.ron")).unwrap();
    assert!(
        text.starts_with("// provenance.program: memrec-tui "),
        "{text}"
    );
    assert!(
        text.contains("// provenance.result: sweep point memrec.token_rows="),
        "{text}"
    );
    assert!(text.contains("ΔAUC "), "{text}");
    let loaded = Config::load(&dir.path().join("best.ron")).unwrap();
    let best = r
        .points
        .iter()
        .max_by(|a, b| a.delta_auc.unwrap().total_cmp(&b.delta_auc.unwrap()))
        .unwrap();
    let mut want = cfg.clone();
    want.apply_set(&best.key).unwrap();
    assert_eq!(loaded.memrec.token_rows, want.memrec.token_rows);
}
