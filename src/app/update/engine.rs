//! What each engine event means for the explorer: runs by generation, their curves, latency
//! measurements, failures.
//!
//! Owns: the runs' views and the Runs table's rows. Must never: send commands back (the
//! first-latency request is `update`'s).

use super::super::state::{
    AppState, DataInfo, LatencyKey, LatencyView, ProgressView, RunView, StatusKind, TriedRun,
    TriedStatus,
};
use crate::config::Config;
use crate::config::knobs::same_compressed_run;
use crate::embedding::TableInfo;
use crate::train::protocol::{EngineEvent, EvalPoint, RunId, RunKind, RunSummary};

fn start_run(
    state: &mut AppState,
    run: RunId,
    generation: u64,
    representation: String,
    tables: Vec<TableInfo>,
) {
    let view = RunView::new(run, generation, representation, tables);
    state.curves.reset(run.kind, generation);
    if run.is_baseline() {
        state.baseline = Some(view);
        return;
    }
    for r in state
        .runs
        .iter_mut()
        .filter(|r| r.status == TriedStatus::Running)
    {
        r.status = TriedStatus::Stopped;
    }
    let cfg = state
        .requested
        .pop_front()
        .unwrap_or_else(|| state.running.clone());
    state.running = cfg.clone();
    let tried = TriedRun {
        generation,
        cfg,
        param_bytes: view.param_bytes(),
        optimizer_bytes: view.optimizer_bytes(),
        samples: 0,
        auc: None,
        delta: None,
        eval: None,
        status: TriedStatus::Running,
    };
    forget_same_configuration(state, generation, &tried.cfg);
    match state.runs.iter_mut().find(|r| r.generation == generation) {
        Some(r) => *r = tried,
        None => state.runs.push(tried),
    }
    state.collisions_scroll = 0;
    state.compressed = Some(view);
}

/// Two runs of the same configuration are one configuration: the run of `cfg` starting at
/// `generation` replaces an earlier run of it (its row, its curve; its pin moves to the new
/// run), so the Runs panel and the AUC chart never compare a configuration with itself.
fn forget_same_configuration(state: &mut AppState, generation: u64, cfg: &Config) {
    let Some(at) = state
        .runs
        .iter()
        .position(|r| r.generation != generation && same_compressed_run(&r.cfg, cfg))
    else {
        return;
    };
    let old = state.runs.remove(at).generation;
    state.curves.reset(RunKind::Compressed, old);
    for p in state.pinned.iter_mut().filter(|p| p.0 == old) {
        p.0 = generation;
    }
    if let Some(sel) = state.selected_run.as_mut().filter(|s| **s >= at) {
        *sel = sel.saturating_sub(1);
    }
}

/// The view of `run`'s side (the explorer shows one run per side).
fn view_of(state: &AppState, run: RunId) -> Option<&RunView> {
    match run.kind {
        RunKind::Baseline => state.baseline.as_ref(),
        RunKind::Compressed => state.compressed.as_ref(),
    }
}

/// The view of `run` at `generation`: `None` for a stale generation; an event of a newer
/// generation than known starts that generation.
fn view_mut(state: &mut AppState, run: RunId, generation: u64) -> Option<&mut RunView> {
    match view_of(state, run) {
        Some(v) if v.generation > generation => return None,
        Some(v) if v.generation == generation => {}
        _ => start_run(state, run, generation, String::new(), Vec::new()),
    }
    match run.kind {
        RunKind::Baseline => state.baseline.as_mut(),
        RunKind::Compressed => state.compressed.as_mut(),
    }
}

fn tried_mut(state: &mut AppState, run: RunId, generation: u64) -> Option<&mut TriedRun> {
    if run.is_baseline() {
        return None;
    }
    state.runs.iter_mut().find(|r| r.generation == generation)
}

pub(super) fn on_engine(state: &mut AppState, ev: EngineEvent) {
    match ev {
        EngineEvent::DataReady {
            label,
            synthetic,
            test_rows,
            bad_lines,
        } => {
            state.data = Some(DataInfo {
                label,
                synthetic,
                test_rows,
                bad_lines,
            })
        }
        EngineEvent::DataIssues(bad) => {
            if let Some(d) = &mut state.data {
                d.bad_lines = bad;
            }
        }
        EngineEvent::RunStarted {
            run,
            generation,
            representation,
            tables,
            compression_full: _,
        } => {
            let stale = view_of(state, run).is_some_and(|v| v.generation > generation);
            if !stale {
                start_run(state, run, generation, representation, tables);
            }
        }
        EngineEvent::Progress {
            run,
            generation,
            samples,
            steps,
            samples_per_s,
            train_loss,
            distinct_tokens,
            loaded_uncompressed_bytes,
        } => {
            if let Some(v) = view_mut(state, run, generation) {
                v.progress = Some(ProgressView {
                    samples,
                    steps,
                    samples_per_s,
                    train_loss,
                    distinct_tokens,
                    loaded_uncompressed_bytes,
                });
                if let Some(t) = tried_mut(state, run, generation) {
                    t.samples = samples;
                }
            }
        }
        EngineEvent::Eval(p) => on_eval(state, p),
        EngineEvent::Collisions {
            run,
            generation,
            features,
        } => {
            if let Some(v) = view_mut(state, run, generation) {
                v.collisions = features;
            }
        }
        EngineEvent::Latency(report) => {
            let key = state
                .latency_requests
                .pop_front()
                .unwrap_or_else(|| LatencyKey::of(&state.running));
            match state.latency_by_key.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = report.clone(),
                None => state.latency_by_key.push((key, report.clone())),
            }
            state.latency = LatencyView::Ready(report);
        }
        EngineEvent::LatencyFailed { message } => {
            state.latency_requests.pop_front();
            state.set_status(
                StatusKind::Error,
                format!("latency measurement failed: {message}"),
            );
            state.latency = LatencyView::Failed(message);
        }
        EngineEvent::EngineFailed { message } => {
            // The engine itself stopped (e.g. the data could not be read); the wording names
            // the data, as the screen always did.
            let text = format!("the engine stopped (data): {message}");
            state.set_status(StatusKind::Error, text.clone());
            state.engine_error = Some(text);
        }
        EngineEvent::RunFailed {
            run,
            generation,
            message,
        } => on_run_failed(state, run, generation, message),
        EngineEvent::Finished(summary) => on_finished(state, summary),
        // The inspector's answer (`update::inspect` keeps it).
        EngineEvent::Inspected(_) => {}
        EngineEvent::Exposure(e) => {
            if let Some(v) = view_mut(state, e.run, e.generation) {
                v.exposure = Some(e);
            }
        }
    }
}

/// One evaluation: the curve store, the run's view and its Runs row.
fn on_eval(state: &mut AppState, p: EvalPoint) {
    let (run, generation) = (p.run, p.generation);
    let (auc, delta, samples) = (p.auc, p.delta_auc, p.samples);
    let Some(v) = view_mut(state, run, generation) else {
        return;
    };
    v.last_eval = Some(p.clone());
    let at = crate::app::store::EvalAt {
        auc,
        auc_lo: p.auc_lo,
        auc_hi: p.auc_hi,
        delta,
    };
    state.curves.push_eval(run.kind, generation, samples, at);
    if let Some(t) = tried_mut(state, run, generation) {
        t.auc = Some(auc);
        // An evaluation the baseline had no twin for keeps the last ΔAUC at equal samples.
        if delta.is_some() {
            t.delta = delta;
        }
        t.samples = t.samples.max(samples);
        t.eval = Some(p);
    }
}

fn on_run_failed(state: &mut AppState, run: RunId, generation: u64, message: String) {
    let label = match run.kind {
        RunKind::Baseline => "baseline",
        RunKind::Compressed => "MEM-REC",
    };
    if let Some(v) = view_mut(state, run, generation) {
        v.failed = Some(message.clone());
        if let Some(t) = tried_mut(state, run, generation) {
            t.status = TriedStatus::Failed;
        }
        state.set_status(
            StatusKind::Error,
            format!("{label} run stopped: {message} (change a knob or press r)"),
        );
    }
}

fn on_finished(state: &mut AppState, summary: RunSummary) {
    let (run, status) = (summary.run, summary.status.clone());
    let Some(g) = view_of(state, run).map(|v| v.generation) else {
        return;
    };
    if let Some(v) = view_mut(state, run, g) {
        v.finished = Some(summary);
    }
    if let Some(t) = tried_mut(state, run, g) {
        t.status = TriedStatus::Ended(status);
    }
}
