//! Knob edits and the debounced restart of the compressed run they lead to.
//!
//! Owns: when the compressed run restarts and with what. Must never: read the clock (time
//! comes in the message).

use super::super::msg::Effect;
use super::super::state::{AppState, DEBOUNCE, LatencyKey, LatencyView, Overlay, StatusKind};
use crate::config::Method;
use crate::config::knobs::{same_compressed_run, visible};
use crate::train::protocol::EngineCommand;

pub(super) fn edit_knob(state: &mut AppState, steps: i32, at: std::time::Instant) {
    let knobs = visible(&state.cfg);
    let knob = knobs[state.knob.min(knobs.len() - 1)];
    match (knob.step)(&state.cfg, steps) {
        Ok(next) => {
            let before = (knob.get)(&state.cfg);
            state.cfg = next;
            if knob.affects_latency {
                state.latency_stale = true;
            }
            state.restart_deadline = Some(at + DEBOUNCE);
            state.set_status(
                StatusKind::Info,
                format!(
                    "{} {} → {}: {} restarts when you stop typing",
                    knob.path,
                    before,
                    (knob.get)(&state.cfg),
                    state.cfg.compressed_label()
                ),
            );
        }
        Err(e) => state.set_status(StatusKind::Error, e.to_string()),
    }
}

/// `Enter` on the Knobs panel: type a value for the focused knob (it starts as the current one).
pub(super) fn open_knob_value(state: &mut AppState) {
    let knobs = visible(&state.cfg);
    let knob = knobs[state.knob.min(knobs.len() - 1)];
    state.overlay = Overlay::KnobValue {
        path: knob.path,
        input: (knob.get)(&state.cfg).to_string(),
    };
}

/// A key while a knob value is being typed: Enter applies it (as `--set PATH=VALUE` would, then
/// one validation) and restarts the compressed run at once; a refused value keeps the prompt open
/// with the reason; Esc cancels.
pub(super) fn knob_value_key(
    state: &mut AppState,
    ev: &ratatui::crossterm::event::KeyEvent,
    fx: &mut Vec<Effect>,
) {
    use ratatui::crossterm::event::{KeyCode, KeyModifiers};
    let Overlay::KnobValue { path, input } = &mut state.overlay else {
        return;
    };
    let path = *path;
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    match ev.code {
        KeyCode::Char('c') if ctrl => {
            state.overlay = Overlay::None;
            state.quitting = true;
            fx.push(Effect::Quit);
        }
        KeyCode::Esc => {
            state.overlay = Overlay::None;
            state.set_status(StatusKind::Info, format!("{path}: unchanged"));
        }
        KeyCode::Backspace => {
            input.pop();
        }
        KeyCode::Char(c) if !ctrl && input.chars().count() < 64 => input.push(c),
        KeyCode::Enter => {
            let arg = format!("{path}={}", input.trim());
            let mut cfg = state.cfg.clone();
            match cfg.apply_sets(&[arg.as_str()]) {
                Ok(()) => {
                    let knob = crate::config::knobs::knob_at(path);
                    if knob.is_some_and(|k| k.affects_latency) {
                        state.latency_stale = true;
                    }
                    state.overlay = Overlay::None;
                    state.cfg = cfg;
                    // A deliberate value needs no debounce.
                    fire_restart(state, fx);
                }
                Err(e) => state.set_status(StatusKind::Error, format!("not applied: {e}")),
            }
        }
        _ => {}
    }
}

/// The debounce deadline passed: restart MEM-REC with the knobs in force (and re-measure
/// latency if a kernel knob changed), unless the edits came back to what is already training.
pub(super) fn fire_restart(state: &mut AppState, fx: &mut Vec<Effect>) {
    state.restart_deadline = None;
    let latest = state.requested.back().unwrap_or(&state.running);
    if same_compressed_run(latest, &state.cfg) {
        state.latency_stale = false;
        state.set_status(
            StatusKind::Info,
            "knobs are back to the configuration already training: no restart",
        );
        return;
    }
    let cfg = state.cfg.clone();
    fx.push(Effect::Engine(EngineCommand::RestartCompressed(Box::new(
        cfg.clone(),
    ))));
    state.requested.push_back(cfg.clone());
    if state.latency_stale {
        state.latency_stale = false;
        let key = LatencyKey::of(&cfg);
        match state.latency_by_key.iter().find(|(k, _)| *k == key) {
            // Measured earlier this session: show it again rather than measure twice.
            Some((_, report)) => state.latency = LatencyView::Ready(report.clone()),
            None => {
                state.latency_requests.push_back(key);
                fx.push(Effect::Engine(EngineCommand::MeasureLatency(Box::new(cfg))));
            }
        }
    }
    state.set_status(
        StatusKind::Info,
        format!(
            "{} restarting: {}, dim {}, {}{} lr {}, batch {}",
            state.cfg.compressed_label(),
            state.cfg.compressed_knobs(),
            state.cfg.model.dim,
            if state.cfg.memrec.method == Method::Memrec {
                format!("{}, ", state.cfg.memrec.layout.as_str())
            } else {
                String::new()
            },
            state.cfg.train.optimizer.as_str(),
            state.cfg.train.lr,
            state.cfg.train.batch
        ),
    );
}
