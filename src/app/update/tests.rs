//! Behaviour of `update` through its messages.

use std::path::{Path, PathBuf};

use super::*;
use crate::app::msg::WriteOutcome;
use crate::app::pareto::{self, PointId};
use crate::app::state::{AucView, Focus, Metric, PendingWrite, TriedStatus};
use crate::config::knobs::{KnobId, visible};
use crate::config::{Config, Method};
use crate::embedding::TableInfo;
use crate::train::protocol::{RunId, RunStatus};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::time::{Duration, Instant};

pub(super) fn key(c: char, at: Instant) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE), at)
}

pub(super) fn state() -> AppState {
    AppState::new(Config::from_preset("tiny").unwrap())
}

pub(super) fn restarts(fx: &[Effect]) -> usize {
    fx.iter()
        .filter(|e| matches!(e, Effect::Engine(EngineCommand::RestartCompressed(_))))
        .count()
}

#[test]
fn knob_edits_are_debounced_into_one_restart() {
    let mut s = state();
    let t0 = Instant::now();
    let mut fx = Vec::new();
    // Three quick edits of K (2 -> 3 -> 4 -> 5), each within the debounce window.
    for i in 0..3 {
        fx.extend(update(
            &mut s,
            key('+', t0 + Duration::from_millis(100 * i)),
        ));
    }
    assert_eq!(s.cfg.memrec.k, 5);
    assert!(s.knob_pending(KnobId::K));
    fx.extend(update(&mut s, Msg::Tick(t0 + Duration::from_millis(250))));
    assert_eq!(restarts(&fx), 0, "fired before the debounce deadline");
    fx.extend(update(&mut s, Msg::Tick(t0 + Duration::from_millis(600))));
    assert_eq!(restarts(&fx), 1);
    let Some(Effect::Engine(EngineCommand::RestartCompressed(cfg))) = fx
        .iter()
        .find(|e| matches!(e, Effect::Engine(EngineCommand::RestartCompressed(_))))
    else {
        unreachable!()
    };
    assert_eq!(cfg.memrec.k, 5);
    // K affects the kernel: latency is re-measured once.
    assert_eq!(
        fx.iter()
            .filter(|e| matches!(e, Effect::Engine(EngineCommand::MeasureLatency(_))))
            .count(),
        1
    );
    assert_eq!(s.next_deadline(), None);
    // Later ticks do nothing.
    assert!(update(&mut s, Msg::Tick(t0 + Duration::from_secs(5))).is_empty());
}

#[test]
fn edits_that_return_to_the_running_config_do_not_restart() {
    let mut s = state();
    let t0 = Instant::now();
    update(&mut s, key('+', t0));
    update(&mut s, key('-', t0));
    let fx = update(&mut s, Msg::Tick(t0 + Duration::from_secs(1)));
    assert_eq!(restarts(&fx), 0);
    assert!(!s.knob_pending(KnobId::K));
}

#[test]
fn the_method_knob_switches_the_compressed_run_and_its_knobs() {
    let mut s = state();
    let t0 = Instant::now();
    // The method is the last knob: one step up from the first wraps to it.
    update(&mut s, key('k', t0));
    assert_eq!(visible(&s.cfg)[s.knob].id, KnobId::Method);
    update(&mut s, key('+', t0));
    assert_eq!(s.cfg.memrec.method, Method::Hashing);
    assert_eq!(
        visible(&s.cfg).iter().map(|k| k.id).collect::<Vec<_>>(),
        [
            KnobId::HashRows,
            KnobId::Dim,
            KnobId::Optimizer,
            KnobId::Lr,
            KnobId::Batch,
            KnobId::Method
        ]
    );
    update(&mut s, key('+', t0));
    assert_eq!(s.cfg.memrec.method, Method::Qr);
    let fx = update(&mut s, Msg::Tick(t0 + Duration::from_secs(1)));
    assert_eq!(restarts(&fx), 1);
    // A new kernel: its latency is measured.
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Engine(EngineCommand::MeasureLatency(_))))
    );
    let status = s.status.as_ref().map_or("", |st| st.text.as_str());
    assert!(status.contains("QR restarting: c=1024"), "{status}");
    assert_eq!(
        default_export_path(&s.cfg),
        PathBuf::from("memrec-tiny-qr-1024.ron")
    );
}

#[test]
fn lr_edit_restarts_without_measuring_latency() {
    let mut s = state();
    let t0 = Instant::now();
    for _ in 0..7 {
        update(&mut s, key('j', t0));
    }
    assert_eq!(visible(&s.cfg)[s.knob].id, KnobId::Lr);
    update(&mut s, key(']', t0));
    let fx = update(&mut s, Msg::Tick(t0 + Duration::from_secs(1)));
    assert_eq!(restarts(&fx), 1);
    assert!(
        !fx.iter()
            .any(|e| matches!(e, Effect::Engine(EngineCommand::MeasureLatency(_))))
    );
}

#[test]
fn refused_edit_shows_the_validation_error() {
    let mut s = state();
    let t0 = Instant::now();
    for _ in 0..10 {
        update(&mut s, key('+', t0));
    }
    assert_eq!(s.cfg.memrec.k, 8);
    let st = s.status.clone().unwrap();
    assert_eq!(st.kind, StatusKind::Error);
    assert!(st.text.contains("1 to 8"), "{}", st.text);
}

#[test]
fn pause_toggles_and_tells_the_engine() {
    let mut s = state();
    let fx = update(&mut s, key(' ', Instant::now()));
    assert!(s.paused);
    assert!(matches!(
        fx.as_slice(),
        [Effect::Engine(EngineCommand::Pause(true))]
    ));
    let fx = update(&mut s, key(' ', Instant::now()));
    assert!(!s.paused);
    assert!(matches!(
        fx.as_slice(),
        [Effect::Engine(EngineCommand::Pause(false))]
    ));
}

#[test]
fn quit_keys_and_esc_closing_the_help_first() {
    let t = Instant::now();
    let mut s = state();
    update(&mut s, key('?', t));
    assert_eq!(s.overlay, Overlay::Help { scroll: 0 });
    let fx = update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), t),
    );
    assert!(fx.is_empty());
    assert_eq!(s.overlay, Overlay::None);
    let fx = update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), t),
    );
    assert!(matches!(fx.as_slice(), [Effect::Quit]));

    let mut s = state();
    update(&mut s, key('?', t));
    let fx = update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL), t),
    );
    assert!(matches!(fx.as_slice(), [Effect::Quit]));
    let mut s = state();
    assert!(matches!(
        update(&mut s, key('q', t)).as_slice(),
        [Effect::Quit]
    ));
    assert!(s.quitting);
    assert_eq!(s.interrupted, None);
}

#[test]
fn a_signal_quits_as_q_does_and_is_remembered() {
    let mut s = state();
    update(&mut s, key('?', Instant::now()));
    assert!(matches!(
        update(&mut s, Msg::Signal(crate::signals::SIGTERM)).as_slice(),
        [Effect::Quit]
    ));
    assert!(s.quitting);
    assert_eq!(s.interrupted, Some(crate::signals::SIGTERM));
}

#[test]
fn help_overlay_scrolls_within_bounds_and_is_modal() {
    let t = Instant::now();
    let mut s = state();
    update(&mut s, key('?', t));
    update(&mut s, key('k', t));
    assert_eq!(s.overlay, Overlay::Help { scroll: 0 });
    for _ in 0..200 {
        update(&mut s, key('j', t));
    }
    assert_eq!(
        s.overlay,
        Overlay::Help {
            scroll: super::help_len() as u16 - 1
        }
    );
    // Knob keys do nothing while the help is open.
    assert!(update(&mut s, key('+', t)).is_empty());
    assert_eq!(s.cfg.memrec.k, 2);
}

#[test]
fn export_writes_without_overwrite_then_asks() {
    let t = Instant::now();
    let mut s = state();
    let fx = update(&mut s, key('e', t));
    let [
        Effect::WriteExport {
            path,
            text,
            overwrite: false,
        },
    ] = fx.as_slice()
    else {
        panic!("{fx:?}")
    };
    assert_eq!(path, &PathBuf::from("memrec-tiny-k2-256.ron"));
    assert_eq!(Config::from_ron(text, "export").unwrap(), s.cfg);
    update(
        &mut s,
        Msg::Written(WriteOutcome::Exists {
            path: path.clone(),
            write: PendingWrite::Ron(text.clone()),
        }),
    );
    assert!(matches!(s.overlay, Overlay::ConfirmOverwrite { .. }));
    let fx = update(&mut s, key('n', t));
    assert!(matches!(
        fx.as_slice(),
        [Effect::WriteExport { path, overwrite: false, .. }] if path == &PathBuf::from("memrec-tiny-k2-256-n2.ron")
    ));
    update(
        &mut s,
        Msg::Written(WriteOutcome::Exists {
            path: path.clone(),
            write: PendingWrite::Ron(text.clone()),
        }),
    );
    let fx = update(&mut s, key('y', t));
    assert!(matches!(
        fx.as_slice(),
        [Effect::WriteExport {
            overwrite: true,
            ..
        }]
    ));
    update(
        &mut s,
        Msg::Written(WriteOutcome::Exported(PathBuf::from("/x/y.ron"))),
    );
    assert!(s.status.unwrap().text.contains("/x/y.ron"));
}

#[test]
fn next_free_name_counts_up() {
    assert_eq!(
        next_free_name(Path::new("a/memrec-k2-256.ron")),
        PathBuf::from("a/memrec-k2-256-n2.ron")
    );
    assert_eq!(
        next_free_name(Path::new("memrec-k2-256-n2.ron")),
        PathBuf::from("memrec-k2-256-n3.ron")
    );
}

#[test]
fn runs_track_generations_and_ignore_stale_events() {
    let mut s = state();
    let started = |g| {
        Msg::Engine(EngineEvent::RunStarted {
            run: RunId::COMPRESSED,
            generation: g,
            representation: "memrec-bundled".into(),
            tables: vec![],
            compression_full: 1.0,
        })
    };
    update(&mut s, started(0));
    let t0 = Instant::now();
    update(&mut s, key('+', t0));
    update(&mut s, Msg::Tick(t0 + Duration::from_secs(1)));
    assert_eq!(
        s.running.memrec.k, 2,
        "running changes only when the run starts"
    );
    update(&mut s, started(1));
    assert_eq!(s.running.memrec.k, 3);
    assert!(!s.knob_pending(KnobId::K));
    assert_eq!(s.runs.len(), 2);
    assert_eq!(s.runs[0].status, TriedStatus::Stopped);
    assert_eq!(s.runs[1].cfg.memrec.k, 3);
    // A late progress event of generation 0 does not touch generation 1.
    update(
        &mut s,
        Msg::Engine(EngineEvent::Progress {
            run: RunId::COMPRESSED,
            generation: 0,
            samples: 99,
            steps: 1,
            samples_per_s: 1.0,
            train_loss: 0.5,
            distinct_tokens: 1,
            loaded_uncompressed_bytes: 1,
        }),
    );
    assert_eq!(s.compressed.as_ref().unwrap().generation, 1);
    assert!(s.compressed.as_ref().unwrap().progress.is_none());
    // Pin the first run from the Runs panel (after the AUC curves in focus order).
    update(&mut s, key('l', t0));
    update(&mut s, key('l', t0));
    update(&mut s, key('k', t0));
    update(&mut s, key('p', t0));
    assert_eq!(s.pinned, [(0, '+')]);
}

#[test]
fn a_data_failure_is_an_engine_error_not_a_run() {
    let mut s = state();
    update(
        &mut s,
        Msg::Engine(EngineEvent::EngineFailed {
            message: "x.tsv: no such file".into(),
        }),
    );
    assert!(s.compressed.is_none() && s.runs.is_empty());
    assert!(s.engine_error.as_deref().unwrap().contains("no such file"));
}

#[test]
fn engine_stop_is_shown_not_fatal() {
    let mut s = state();
    let fx = update(&mut s, Msg::EngineStopped);
    assert!(fx.is_empty());
    assert!(s.engine_error.is_some());
}

pub(super) fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE), Instant::now())
}

/// An evaluation of `run` at `samples`: AUC ± 0.01, and ΔAUC ± 0.01 when given.
pub(super) fn eval_msg(run: RunId, g: u64, samples: u64, auc: f64, delta: Option<f64>) -> Msg {
    Msg::Engine(EngineEvent::Eval(crate::train::protocol::EvalPoint {
        run,
        generation: g,
        samples,
        auc,
        auc_lo: auc - 0.01,
        auc_hi: auc + 0.01,
        logloss: 0.5,
        mean_prediction: 0.25,
        click_rate: 0.25,
        samples_per_s: 1.0,
        oracle_auc: None,
        delta_auc: delta.map(|d| crate::train::protocol::DeltaAuc {
            delta: d,
            lo: d - 0.01,
            hi: d + 0.01,
        }),
    }))
}

/// A session with a baseline and two evaluated MEM-REC runs (K 2, then K 3).
pub(super) fn two_runs() -> AppState {
    let mut s = state();
    let t0 = Instant::now();
    let started = |run: RunId, g| {
        Msg::Engine(EngineEvent::RunStarted {
            run,
            generation: g,
            representation: "r".into(),
            tables: vec![TableInfo {
                name: "t".into(),
                rows: 100 * (g + 1),
                cols: 4,
                param_bytes: 1600 * (g + 1),
                optimizer_bytes: 0,
            }],
            compression_full: 1.0,
        })
    };
    let eval = |run: RunId, g, auc: f64, delta: Option<f64>| eval_msg(run, g, 1000, auc, delta);
    update(&mut s, started(RunId::BASELINE, 0));
    update(&mut s, started(RunId::COMPRESSED, 0));
    update(&mut s, eval(RunId::BASELINE, 0, 0.75, None));
    update(&mut s, eval(RunId::COMPRESSED, 0, 0.74, Some(-0.01)));
    update(&mut s, key('+', t0));
    update(&mut s, Msg::Tick(t0 + Duration::from_secs(1)));
    update(&mut s, started(RunId::COMPRESSED, 1));
    update(&mut s, eval(RunId::COMPRESSED, 1, 0.745, Some(-0.005)));
    s
}

#[test]
fn v_toggles_the_pareto_view_and_tab_visits_it_only_while_shown() {
    let t = Instant::now();
    let mut s = state();
    for _ in 0..6 {
        update(&mut s, key('l', t));
    }
    assert_eq!(
        s.focus,
        Focus::Knobs,
        "six panels: knobs, AUC curves, runs, collisions, memory, latency"
    );
    update(&mut s, key('a', t));
    assert_eq!(
        s.pareto_metric,
        Metric::DeltaAuc,
        "a does nothing on the curves"
    );
    update(&mut s, key('v', t));
    assert_eq!((s.auc_view, s.focus), (AucView::Pareto, Focus::Pareto));
    update(&mut s, key('l', t));
    assert_eq!(s.focus, Focus::Runs);
    update(&mut s, key('h', t));
    update(&mut s, key('h', t));
    assert_eq!(s.focus, Focus::Knobs);
    update(&mut s, key('l', t));
    assert_eq!(s.focus, Focus::Pareto);
    update(&mut s, key('a', t));
    assert_eq!(s.pareto_metric, Metric::Auc);
    update(&mut s, key('v', t));
    assert_eq!((s.auc_view, s.focus), (AucView::Curves, Focus::Knobs));
}

#[test]
fn pareto_points_are_ordered_by_bytes_with_the_front_marked() {
    let s = two_runs();
    let pts = pareto::points(&s);
    let ids: Vec<PointId> = pts.iter().map(|p| p.id).collect();
    // Both runs evaluated at 1000 samples, as the baseline: bytes 1600 (run #0), 3200 (run #1).
    // The baseline is the reference line, not a point.
    assert_eq!(pareto::checkpoints(&s), vec![1000]);
    assert_eq!(ids, vec![PointId::Run(0), PointId::Run(1)]);
    // ΔAUC: run #0 -0.01 with fewer bytes, run #1 -0.005 with more: both on the front.
    let front: Vec<bool> = pts.iter().map(|p| p.front).collect();
    assert_eq!(front, vec![true, true]);
    assert_eq!(pts[1].value, -0.005);
    let (name, value) = pareto::reference(&s).unwrap();
    assert!(name.starts_with("baseline"), "{name}");
    assert_eq!(value, 0.0);
}

#[test]
fn a_failed_run_stays_off_the_front_after_its_summary_arrives() {
    let mut s = two_runs();
    let message = "training loss is NaN: the run diverged".to_string();
    update(
        &mut s,
        Msg::Engine(EngineEvent::RunFailed {
            run: RunId::COMPRESSED,
            generation: 1,
            message: message.clone(),
        }),
    );
    // The engine follows every failure with the run's summary, its status the reason.
    update(
        &mut s,
        Msg::Engine(EngineEvent::Finished(crate::train::protocol::RunSummary {
            run: RunId::COMPRESSED,
            representation: "r".into(),
            samples: 1000,
            steps: 10,
            auc: 0.745,
            auc_lo: 0.735,
            auc_hi: 0.755,
            logloss: 0.5,
            oracle_auc: None,
            delta_auc: None,
            table_bytes: 3200,
            optimizer_bytes: 0,
            tables: vec![],
            compression_full: 1.0,
            compression_loaded: 1.0,
            samples_per_s: 1.0,
            status: RunStatus::Failed(message.clone()),
        })),
    );
    assert_eq!(
        s.runs[1].status,
        TriedStatus::Ended(RunStatus::Failed(message))
    );
    assert!(s.runs[1].status.is_failed());
    let pts = pareto::points(&s);
    let run1 = pts.iter().find(|p| p.id == PointId::Run(1)).unwrap();
    assert!(!run1.ok, "a failed run is shown, never on the front");
}

#[test]
fn arrows_select_and_enter_loads_a_run_into_the_knobs() {
    let t = Instant::now();
    let mut s = two_runs();
    assert_eq!(s.running.memrec.k, 3);
    update(&mut s, key('v', t));
    // Default selection: the running run (#1); up reaches run #0 (the baseline is no point).
    update(&mut s, key('k', t));
    assert_eq!(s.pareto_selected, Some(PointId::Run(0)));
    update(&mut s, key('k', t));
    assert_eq!(s.pareto_selected, Some(PointId::Run(0)));
    let fx = update(&mut s, code(KeyCode::Enter));
    let Some(Effect::Engine(EngineCommand::RestartCompressed(cfg))) = fx.first() else {
        panic!("{fx:?}")
    };
    assert_eq!(cfg.memrec.k, 2);
    assert_eq!(s.cfg.memrec.k, 2);
    assert!(s.status.unwrap().text.contains("loaded run #0"));
    assert_eq!(s.restart_deadline, None, "applied at once, not debounced");
}

#[test]
fn e_in_the_pareto_view_exports_the_selected_point() {
    let t = Instant::now();
    let mut s = two_runs();
    update(&mut s, key('v', t));
    update(&mut s, key('k', t));
    let fx = update(&mut s, key('e', t));
    let [Effect::WriteExport { text, .. }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(Config::from_ron(text, "export").unwrap().memrec.k, 2);
}

#[test]
fn enter_outside_the_pareto_focus_does_nothing() {
    let mut s = two_runs();
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    update(&mut s, key('v', Instant::now()));
    update(&mut s, key('l', Instant::now()));
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
}

#[test]
fn path_prompt_takes_text_and_opens_on_enter() {
    let t = Instant::now();
    let mut s = state();
    update(&mut s, key('o', t));
    assert_eq!(
        s.overlay,
        Overlay::Prompt {
            input: String::new()
        }
    );
    // Letters bound to actions (q, v, j) are text here.
    for c in "qvjx".chars() {
        assert!(update(&mut s, key(c, t)).is_empty());
    }
    update(&mut s, code(KeyCode::Backspace));
    assert!(!s.quitting);
    let fx = update(&mut s, code(KeyCode::Enter));
    assert!(
        matches!(fx.as_slice(), [Effect::LoadSweep(p)] if p == &PathBuf::from("qvj")),
        "{fx:?}"
    );
    assert_eq!(s.overlay, Overlay::None);
    // Esc cancels; an empty path is refused; Ctrl-C quits from the prompt.
    update(&mut s, key('o', t));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.overlay, Overlay::None);
    assert!(!s.quitting);
    update(&mut s, key('o', t));
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    assert_eq!(s.status.clone().unwrap().kind, StatusKind::Error);
    update(&mut s, key('o', t));
    let fx = update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL), t),
    );
    assert!(matches!(fx.as_slice(), [Effect::Quit]));
}

#[test]
fn a_failed_sweep_load_keeps_the_session_and_the_sweep_shown() {
    let mut s = two_runs();
    let runs = s.runs.clone();
    let fx = update(&mut s, Msg::OpenSweep(PathBuf::from("nowhere")));
    assert!(matches!(fx.as_slice(), [Effect::LoadSweep(_)]));
    update(
        &mut s,
        Msg::SweepLoaded(Err("nowhere: no such directory".into())),
    );
    let st = s.status.clone().unwrap();
    assert_eq!(st.kind, StatusKind::Error);
    assert!(st.text.contains("nowhere: no such directory"));
    assert_eq!(s.runs, runs);
    assert!(s.sweep.is_none());
}

#[test]
fn report_writes_a_directory_and_asks_before_overwriting() {
    let t = Instant::now();
    let mut s = two_runs();
    let fx = update(&mut s, key('R', t));
    let [
        Effect::WriteReport {
            dir,
            files,
            overwrite: false,
        },
    ] = fx.as_slice()
    else {
        panic!("{fx:?}")
    };
    assert_eq!(dir, &PathBuf::from("memrec-report-tiny"));
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["report.md", "auc.svg", "pareto.svg"]);
    update(
        &mut s,
        Msg::Written(WriteOutcome::Exists {
            path: dir.clone(),
            write: PendingWrite::Report(files.clone()),
        }),
    );
    assert!(matches!(
        &s.overlay,
        Overlay::ConfirmOverwrite {
            write: PendingWrite::Report(_),
            ..
        }
    ));
    let fx = update(&mut s, key('n', t));
    assert!(
        matches!(fx.as_slice(), [Effect::WriteReport { dir, overwrite: false, .. }] if dir == &PathBuf::from("memrec-report-tiny-n2")),
        "{fx:?}"
    );
}

/// Every knob of the table, reached through the Knobs panel and a key press, is seen by every
/// consumer: the panel lists it (for some method) and marks it changed and pending, the restart
/// rule restarts iff it `restarts_compressed`, latency is re-measured iff it `affects_latency`,
/// the engine's adoption takes it, and the sweep's "outside the knobs" check ignores it.
#[test]
fn every_knob_in_the_table_reaches_every_consumer() {
    use crate::app::state::LatencyKey;
    use crate::app::sweep::differences_outside_knobs;
    use crate::config::knobs::{KNOBS, adopt_knobs, same_compressed_run};
    let t0 = Instant::now();
    let mut seen = Vec::new();
    for m in Method::ALL {
        let mut base = Config::from_preset("tiny").unwrap();
        base.memrec.method = m;
        base.memrec.robe_z = base.memrec.robe_z.min(base.model.dim);
        base.validate().unwrap();
        for (i, k) in visible(&base).into_iter().enumerate() {
            // Up, or down where up cannot move it (ROBE-Z's block at the dim).
            let moved = ['+', '-'].into_iter().find_map(|c| {
                let mut s = AppState::new(base.clone());
                s.focus = Focus::Knobs;
                s.knob = i;
                update(&mut s, key(c, t0));
                ((k.get)(&s.cfg) != (k.get)(&base)).then_some(s)
            });
            let Some(mut s) = moved else {
                panic!("{}: no key moves it", k.path)
            };
            seen.push(k.id);
            assert!(s.knob_pending(k.id), "{}", k.path);
            // (The method may have wrapped round to the preset's.)
            let off_preset = (k.get)(&s.cfg) != (k.get)(&s.preset);
            assert_eq!(s.knob_changed(k.id), off_preset, "{}", k.path);
            let fx = update(&mut s, Msg::Tick(t0 + Duration::from_secs(1)));
            let next = s.cfg.clone();
            assert_eq!(
                !same_compressed_run(&base, &next),
                k.restarts_compressed,
                "{}",
                k.path
            );
            assert_eq!(restarts(&fx) == 1, k.restarts_compressed, "{}", k.path);
            let measured = fx
                .iter()
                .any(|e| matches!(e, Effect::Engine(EngineCommand::MeasureLatency(_))));
            assert_eq!(measured, k.affects_latency, "{}", k.path);
            assert_eq!(
                LatencyKey::of(&base) != LatencyKey::of(&next),
                k.affects_latency,
                "{}",
                k.path
            );
            // The engine's run configuration (which may differ outside the knobs) adopts it.
            let mut run = base.clone();
            run.threads = 3;
            adopt_knobs(&next, &mut run);
            assert_eq!((k.get)(&run), (k.get)(&next), "{}", k.path);
            assert!(same_compressed_run(&run, &next), "{}", k.path);
            // A sweep point that differs from the session in this knob is loadable.
            assert_eq!(
                differences_outside_knobs(&next, &base),
                Vec::<String>::new(),
                "{}",
                k.path
            );
        }
    }
    for k in KNOBS {
        assert!(seen.contains(&k.id), "{}: on no method's panel", k.path);
    }
}
