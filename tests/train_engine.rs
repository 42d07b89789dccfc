//! The engine: determinism across thread counts on the real representations, intervals that agree
//! with DeLong's computed here from the predictions, same batches for every run, restarts that
//! leave the baseline alone, divergence stopping one run only, budgets and pause.
#[path = "train_support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use memrec_tui::config::{Config, Layout};
use memrec_tui::data::DataSource;
use memrec_tui::train::engine::{Engine, EngineHandle, EngineOptions, default_reps};
use memrec_tui::train::protocol::{
    EngineCommand, EngineEvent, EvalPoint, RunId, RunStatus, RunSummary,
};
use support::{
    PlantedSource, delong_auc, delong_delta, run_with_predictions, small_cfg, test_reps,
};

fn run_to_end(cfg: Config, source: PlantedSource, opts: EngineOptions) -> Vec<EngineEvent> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let h = Engine::spawn_with(cfg, Arc::new(source), tx, opts).unwrap();
    let events: Vec<EngineEvent> = rx.iter().collect();
    assert!(h.shutdown());
    events
}

fn budget(steps: u64) -> EngineOptions {
    EngineOptions {
        max_steps: Some(steps),
        exit_when_done: true,
        reps: test_reps(None),
        ..EngineOptions::default()
    }
}

fn evals(events: &[EngineEvent], run: RunId) -> Vec<EvalPoint> {
    events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Eval(p) if p.run == run => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn summary(events: &[EngineEvent], run: RunId) -> RunSummary {
    events
        .iter()
        .find_map(|e| match e {
            EngineEvent::Finished(s) if s.run == run => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no summary for {run}"))
}

fn source() -> PlantedSource {
    PlantedSource {
        seed: 3,
        train_rows: None,
        test_rows: 1000,
    }
}

/// Numbers only (throughput is a measurement, not a result).
fn numbers(e: &[EvalPoint]) -> Vec<(u64, u64, u64, u64)> {
    e.iter()
        .map(|p| {
            (
                p.samples,
                p.auc.to_bits(),
                p.logloss.to_bits(),
                p.mean_prediction.to_bits(),
            )
        })
        .collect()
}

#[test]
fn one_or_two_threads_give_identical_metrics() {
    // The real representations: the uncompressed baseline and MEM-REC in both layouts.
    for (layout, kind) in [
        (Layout::Bundled, "memrec-bundled"),
        (Layout::PerFeature, "memrec-per-feature"),
    ] {
        let cfg = |threads| {
            let mut c = small_cfg(threads);
            c.memrec.layout = layout;
            c
        };
        let real = EngineOptions {
            reps: default_reps(),
            ..budget(60)
        };
        let a = run_to_end(cfg(1), source(), real.clone());
        let b = run_to_end(cfg(2), source(), real);
        assert_eq!(summary(&a, RunId::BASELINE).representation, "uncompressed");
        assert_eq!(summary(&a, RunId::COMPRESSED).representation, kind);
        for run in [RunId::BASELINE, RunId::COMPRESSED] {
            let (ea, eb) = (evals(&a, run), evals(&b, run));
            assert_eq!(
                ea.len(),
                6,
                "{kind} {run}: evaluations at 250, 500, 1000 (warm-up), 2000, 4000 and 6000 samples"
            );
            assert_eq!(numbers(&ea), numbers(&eb), "{kind} {run}");
        }
        let d1 = evals(&a, RunId::COMPRESSED)
            .last()
            .unwrap()
            .delta_auc
            .unwrap();
        let d2 = evals(&b, RunId::COMPRESSED)
            .last()
            .unwrap()
            .delta_auc
            .unwrap();
        assert_eq!(d1.delta.to_bits(), d2.delta.to_bits(), "{kind}");
    }
}

#[test]
fn the_delong_of_this_test_by_hand() {
    // Positives 0.9, 0.4; negatives 0.5, 0.1. Placements: positives 1 and 1/2, negatives 1/2
    // and 1: AUC 3/4, variance 0.125/2 + 0.125/2.
    let y = [1.0, 1.0, 0.0, 0.0];
    let (auc, half) = delong_auc(&y, &[0.9, 0.4, 0.5, 0.1]);
    assert!((auc - 0.75).abs() < 1e-15);
    assert!((half - support::Z95 * 0.125f64.sqrt()).abs() < 1e-15);
    // Against itself the difference is 0 with no spread.
    let (d, h) = delong_delta(&y, &[0.9, 0.4, 0.5, 0.1], &[0.9, 0.4, 0.5, 0.1]);
    assert_eq!((d, h), (0.0, 0.0));
}

#[test]
fn the_model_learns_the_planted_clicks() {
    let (ev, preds) = run_with_predictions(small_cfg(2), source(), budget(150));
    let s = summary(&ev, RunId::BASELINE);
    assert_eq!(
        (s.status.clone(), s.steps, s.samples),
        (RunStatus::Ok, 150, 15_000)
    );
    let oracle = s.oracle_auc.unwrap();
    assert!(
        s.auc > 0.7 && s.auc <= oracle + 0.02,
        "auc {} oracle {oracle}",
        s.auc
    );
    let m = summary(&ev, RunId::COMPRESSED);
    let d = m.delta_auc.expect("paired ΔAUC at the same samples");
    assert!((d.delta - (m.auc - s.auc)).abs() < 1e-12);
    // The intervals, against DeLong's computed here from the final test predictions.
    let labels = source().test_set().unwrap().labels;
    let probs = |run: RunId| {
        let p = preds.iter().find(|p| p.run == run).unwrap();
        assert_eq!((p.samples, p.probs.len()), (15_000, labels.len()), "{run}");
        p.probs.clone()
    };
    let (pb, pm) = (probs(RunId::BASELINE), probs(RunId::COMPRESSED));
    for (sum, p) in [(&s, &pb), (&m, &pm)] {
        let (auc, half) = delong_auc(&labels, p);
        let want = (auc, auc - half, auc + half);
        let got = (sum.auc, sum.auc_lo, sum.auc_hi);
        assert!(
            (got.0 - want.0).abs() < 1e-9
                && (got.1 - want.1).abs() < 1e-9
                && (got.2 - want.2).abs() < 1e-9,
            "{}: {got:?} vs {want:?}",
            sum.run
        );
    }
    let (delta, half) = delong_delta(&labels, &pm, &pb);
    let want = (delta, delta - half, delta + half);
    let got = (d.delta, d.lo, d.hi);
    assert!(
        (got.0 - want.0).abs() < 1e-9
            && (got.1 - want.1).abs() < 1e-9
            && (got.2 - want.2).abs() < 1e-9,
        "ΔAUC {got:?} vs {want:?}"
    );
    // 8 bundled rows per feature against 64: the compressed stand-in is smaller.
    assert!(m.compression_full > s.compression_full);
    assert!(matches!(
        ev[0],
        EngineEvent::DataReady {
            synthetic: true,
            test_rows: 1000,
            ..
        }
    ));
    let started = ev
        .iter()
        .filter(|e| matches!(e, EngineEvent::RunStarted { .. }))
        .count();
    assert_eq!(started, 2);
}

#[test]
fn a_diverging_run_stops_alone_with_a_message() {
    let opts = EngineOptions {
        reps: test_reps(Some(5)),
        ..budget(40)
    };
    let ev = run_to_end(small_cfg(2), source(), opts);
    let failed: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            EngineEvent::RunFailed { run, message, .. } => Some((*run, message.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, RunId::COMPRESSED);
    assert!(
        failed[0].1.contains("diverged") && failed[0].1.contains("train.lr"),
        "{}",
        failed[0].1
    );
    assert_eq!(summary(&ev, RunId::BASELINE).status, RunStatus::Ok);
    assert_eq!(summary(&ev, RunId::BASELINE).steps, 40);
    assert!(
        summary(&ev, RunId::COMPRESSED)
            .status
            .to_string()
            .contains("diverged")
    );
}

#[test]
fn epochs_budget_counts_passes_over_a_finite_source() {
    let opts = EngineOptions {
        max_epochs: Some(2),
        exit_when_done: true,
        reps: test_reps(None),
        ..EngineOptions::default()
    };
    let src = PlantedSource {
        seed: 3,
        train_rows: Some(1050),
        test_rows: 500,
    };
    let ev = run_to_end(small_cfg(2), src, opts);
    let s = summary(&ev, RunId::BASELINE);
    // 1050 rows at batch 100: 11 steps per pass (the last one short).
    assert_eq!(
        (s.steps, s.samples, s.status.clone()),
        (22, 2100, RunStatus::Ok)
    );
}

#[test]
fn restarting_memrec_replays_the_same_batches_and_leaves_the_baseline_alone() {
    let reference = run_to_end(small_cfg(2), source(), budget(80));
    let (tx, rx) = crossbeam_channel::unbounded();
    let h = Engine::spawn_with(small_cfg(2), Arc::new(source()), tx, budget(80)).unwrap();
    let mut events = Vec::new();
    let mut restarted = false;
    for e in rx.iter() {
        if !restarted
            && matches!(&e, EngineEvent::Eval(p) if p.run == RunId::COMPRESSED && p.samples == 2000)
        {
            h.send(EngineCommand::RestartCompressed(Box::new(small_cfg(2))));
            restarted = true;
        }
        events.push(e);
    }
    assert!(h.shutdown());
    assert_eq!(
        numbers(&evals(&events, RunId::BASELINE)),
        numbers(&evals(&reference, RunId::BASELINE))
    );
    let gen2: Vec<EvalPoint> = evals(&events, RunId::COMPRESSED)
        .into_iter()
        .filter(|p| p.generation == 2)
        .collect();
    assert!(!gen2.is_empty());
    let first = evals(&reference, RunId::COMPRESSED);
    // Same config from sample 0: the same batches in the same order give the same numbers.
    assert_eq!(numbers(&gen2), numbers(&first[..gen2.len()]));
    assert!(events.iter().any(
        |e| matches!(e, EngineEvent::Finished(s) if s.run == RunId::COMPRESSED && s.status == RunStatus::Cancelled)
    ));
    assert!(events.iter().any(
        |e| matches!(e, EngineEvent::RunStarted { run, generation: 2, .. } if *run == RunId::COMPRESSED)
    ));
}

/// A one-thread engine on the planted data, told to pause, and its events.
fn paused_engine() -> (EngineHandle, crossbeam_channel::Receiver<EngineEvent>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let opts = EngineOptions {
        reps: test_reps(None),
        ..EngineOptions::default()
    };
    let h = Engine::spawn_with(small_cfg(1), Arc::new(source()), tx, opts).unwrap();
    h.send(EngineCommand::Pause(true));
    (h, rx)
}

#[test]
fn pause_stops_steps_and_resume_continues() {
    let (h, rx) = paused_engine();
    // Drain whatever was produced before the pause took effect.
    std::thread::sleep(Duration::from_millis(300));
    let before: Vec<_> = rx.try_iter().collect();
    std::thread::sleep(Duration::from_millis(400));
    let during: Vec<_> = rx.try_iter().collect();
    assert!(
        during
            .iter()
            .all(|e| !matches!(e, EngineEvent::Progress { .. } | EngineEvent::Eval(_))),
        "training continued while paused: {during:?}"
    );
    h.send(EngineCommand::Pause(false));
    let resumed = rx
        .iter()
        .find(|e| matches!(e, EngineEvent::Progress { .. } | EngineEvent::Eval(_)));
    assert!(
        resumed.is_some(),
        "no progress after resume ({} events before)",
        before.len()
    );
    assert!(h.shutdown());
    // Shutdown ends the event stream with the runs cancelled.
    let rest: Vec<_> = rx.iter().collect();
    assert!(
        rest.iter()
            .any(|e| matches!(e, EngineEvent::Finished(s) if s.status == RunStatus::Cancelled))
    );
}

#[test]
fn single_class_test_rows_stop_the_engine_before_any_training() {
    // One test row is one class: no AUC can ever be computed.
    let one_row = PlantedSource {
        test_rows: 1,
        ..source()
    };
    let events = run_to_end(small_cfg(1), one_row, budget(5));
    assert!(
        !events.iter().any(|e| matches!(
            e,
            EngineEvent::RunStarted { .. } | EngineEvent::Progress { .. }
        )),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, EngineEvent::EngineFailed { message }
            if message.contains("single class"))),
        "{events:?}"
    );
}

/// The collision statistics follow the values training loads (they used to be computed once, on
/// the test rows and the first batches, and froze), and the token inspector is answered from the
/// live representations of both runs.
#[test]
fn collision_statistics_grow_with_the_loaded_values_and_inspect_is_answered() {
    use memrec_tui::train::protocol::ValuePick;
    let (tx, rx) = crossbeam_channel::unbounded();
    let opts = EngineOptions {
        max_steps: Some(200),
        exit_when_done: true,
        reps: default_reps(),
        ..EngineOptions::default()
    };
    // The synthetic stream: its vocabularies keep growing over these 20,000 samples.
    let cfg = small_cfg(1);
    let data = memrec_tui::data::open_source(&cfg.data_options()).unwrap();
    let h = Engine::spawn_with(cfg, data, tx, opts).unwrap();
    let mut events = Vec::new();
    let mut asked = false;
    for e in rx.iter() {
        if !asked && matches!(&e, EngineEvent::Eval(p) if p.run == RunId::COMPRESSED) {
            h.send(EngineCommand::Inspect {
                feature: 2,
                pick: ValuePick::Frequent(0),
            });
            asked = true;
        }
        events.push(e);
    }
    assert!(h.shutdown());
    let totals: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Collisions { run, features, .. } if *run == RunId::COMPRESSED => {
                Some(features.iter().map(|f| f.distinct).sum())
            }
            _ => None,
        })
        .collect();
    assert!(totals.len() >= 2, "{totals:?}");
    assert!(totals.windows(2).all(|w| w[1] > w[0]), "{totals:?}");
    let ins = events
        .iter()
        .find_map(|e| match e {
            EngineEvent::Inspected(i) => Some(i.as_ref().clone()),
            _ => None,
        })
        .expect("an answer to Inspect");
    assert_eq!(ins.error, None);
    assert!(ins.trained > 0 && !ins.frequent.is_empty());
    assert_eq!(ins.runs.len(), 2);
    // Each evaluation also reports what the parameters were trained on.
    for run in [RunId::BASELINE, RunId::COMPRESSED] {
        let last = events
            .iter()
            .rev()
            .find_map(|e| match e {
                EngineEvent::Exposure(x) if x.run == run => Some(x.clone()),
                _ => None,
            })
            .expect("exposure counts");
        assert!(last.row_updates > 0 && last.rows > 0, "{last:?}");
        let share = last.test_rows_with_untrained_value.expect("not capped");
        assert!((0.0..=1.0).contains(&share));
    }
    for r in &ins.runs {
        let l = r.lookup.as_ref().expect("both representations explain");
        assert_eq!(l.vector.len(), 4);
        assert_eq!(r.sharing.looked_at + 1, ins.loaded_values);
    }
}

/// A latency probe in flight when the front end quits is stopped, not waited for: no latency
/// figure (nor a failure) arrives after `shutdown`. The probe here is the kaggle preset's, whose
/// uncompressed tables (2 GiB) take seconds to fill before anything is timed.
#[test]
fn shutdown_stops_a_latency_probe_in_flight() {
    let (h, rx) = paused_engine();
    let mut probe = Config::from_preset("kaggle").unwrap();
    probe.threads = 1;
    h.send(EngineCommand::MeasureLatency(Box::new(probe)));
    assert!(h.shutdown());
    let events: Vec<_> = rx.iter().collect();
    assert!(
        !events.iter().any(|e| matches!(
            e,
            EngineEvent::Latency(_) | EngineEvent::LatencyFailed { .. }
        )),
        "the probe ran to its end after shutdown"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, EngineEvent::Finished(s) if s.status == RunStatus::Cancelled))
    );
}
