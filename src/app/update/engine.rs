//! What each engine event means for the explorer: runs by generation, their curves, latency
//! measurements, failures.
//!
//! Owns: the runs' views and the Runs table's rows. Must never: send commands back (the
//! first-latency request is `update`'s).

use super::super::state::{
    AppState, DataInfo, LatencyKey, LatencyView, ProgressView, RunView, StatusKind, TriedRun,
};
use crate::embedding::TableInfo;
use crate::report::EngineEvent;

/// The baseline is named `baseline...`.
pub fn is_baseline(run: &str) -> bool {
    run.starts_with("baseline")
}

/// MEM-REC runs are named `memrec...`; other names (the engine's `data`) are no run of ours.
pub fn is_run(run: &str) -> bool {
    is_baseline(run) || run.starts_with("memrec")
}

fn start_run(
    state: &mut AppState,
    run: &str,
    generation: u64,
    representation: String,
    tables: Vec<TableInfo>,
) {
    let view = RunView {
        name: run.to_string(),
        generation,
        representation,
        tables,
        ..RunView::default()
    };
    if is_baseline(run) {
        state.baseline = Some(view);
        return;
    }
    for r in state.runs.iter_mut().filter(|r| r.status == "running") {
        r.status = "stopped".into();
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
        curve: Vec::new(),
        eval: None,
        status: "running".into(),
    };
    match state.runs.iter_mut().find(|r| r.generation == generation) {
        Some(r) => *r = tried,
        None => state.runs.push(tried),
    }
    state.collisions_scroll = 0;
    state.memrec = Some(view);
}

/// The view of `run` at `generation`: `None` for a stale generation; an event of a newer
/// generation than known starts that generation.
fn view_mut<'a>(state: &'a mut AppState, run: &str, generation: u64) -> Option<&'a mut RunView> {
    if !is_run(run) {
        return None;
    }
    let known = if is_baseline(run) {
        &state.baseline
    } else {
        &state.memrec
    };
    match known {
        Some(v) if v.generation > generation => return None,
        Some(v) if v.generation == generation => {}
        _ => start_run(state, run, generation, String::new(), Vec::new()),
    }
    if is_baseline(run) {
        state.baseline.as_mut()
    } else {
        state.memrec.as_mut()
    }
}

fn tried_mut<'a>(state: &'a mut AppState, run: &str, generation: u64) -> Option<&'a mut TriedRun> {
    if is_baseline(run) {
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
            let stale = if is_baseline(&run) {
                &state.baseline
            } else {
                &state.memrec
            }
            .as_ref()
            .is_some_and(|v| v.generation > generation);
            if !stale && is_run(&run) {
                start_run(state, &run, generation, representation, tables);
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
            if let Some(v) = view_mut(state, &run, generation) {
                v.progress = Some(ProgressView {
                    samples,
                    steps,
                    samples_per_s,
                    train_loss,
                    distinct_tokens,
                    loaded_uncompressed_bytes,
                });
                if let Some(t) = tried_mut(state, &run, generation) {
                    t.samples = samples;
                }
            }
        }
        EngineEvent::Eval(p) => {
            let (run, generation) = (p.run.clone(), p.generation);
            let point = (p.samples as f64, p.auc);
            let (auc, delta, samples) = (p.auc, p.delta_auc, p.samples);
            if let Some(v) = view_mut(state, &run, generation) {
                v.curve.push(point);
                v.last_eval = Some(p.clone());
                if let Some(t) = tried_mut(state, &run, generation) {
                    t.curve.push(point);
                    t.auc = Some(auc);
                    t.delta = delta;
                    t.samples = t.samples.max(samples);
                    t.eval = Some(p);
                }
            }
        }
        EngineEvent::Collisions {
            run,
            generation,
            features,
        } => {
            if let Some(v) = view_mut(state, &run, generation) {
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
        EngineEvent::RunFailed {
            run,
            generation,
            message,
        } => {
            if !is_run(&run) {
                // Not a run: the engine itself stopped (e.g. the data could not be read).
                let text = format!("the engine stopped ({run}): {message}");
                state.set_status(StatusKind::Error, text.clone());
                state.engine_error = Some(text);
                return;
            }
            let label = if is_baseline(&run) {
                "baseline"
            } else {
                "MEM-REC"
            };
            if let Some(v) = view_mut(state, &run, generation) {
                v.failed = Some(message.clone());
                if let Some(t) = tried_mut(state, &run, generation) {
                    t.status = "failed".into();
                }
                state.set_status(
                    StatusKind::Error,
                    format!("{label} run stopped: {message} (change a knob or press r)"),
                );
            }
        }
        EngineEvent::Finished(summary) => {
            let (run, status) = (summary.run.clone(), summary.status.clone());
            let generation = if is_baseline(&run) {
                state.baseline.as_ref().map(|v| v.generation)
            } else {
                state.memrec.as_ref().map(|v| v.generation)
            };
            if let Some(g) = generation {
                if let Some(v) = view_mut(state, &run, g) {
                    v.finished = Some(summary);
                }
                if let Some(t) = tried_mut(state, &run, g) {
                    t.status = if status == "ok" {
                        "finished".into()
                    } else {
                        status
                    };
                }
            }
        }
    }
}
