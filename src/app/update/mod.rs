//! `update(state, msg) -> effects`: the only place the explorer's state changes.
//!
//! Owns: what every key and engine event means. Must never: block, do I/O, read the clock (time
//! comes inside `Msg::Key` and `Msg::Tick`), or touch the terminal; side effects are returned as
//! `Effect`s for the runtime to execute.

#[cfg(test)]
mod compare_tests;
mod engine;
mod files;
mod inspect;
mod keys;
mod knobs;
mod lesson;
mod sweep;
#[cfg(test)]
mod teach_tests;
#[cfg(test)]
mod tests;

use super::keymap;
use super::msg::{Effect, Msg};
use super::state::{AppState, LatencyKey, LatencyView, Overlay, StatusKind};
use crate::train::protocol::{EngineCommand, EngineEvent};
use engine::on_engine;
use files::on_written;
use keys::{on_action, prompt_key, quit};
use knobs::fire_restart;
use sweep::{open_sweep, sweep_loaded};

pub use files::{default_export_path, default_report_dir, next_free_name};
pub use lesson::{leave_lesson, next_step, prev_step, start_lesson};

/// Apply one message; returns what the runtime must do.
pub fn update(state: &mut AppState, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    match msg {
        Msg::Key(ev, _) if matches!(state.overlay, Overlay::Prompt { .. }) => {
            state.dirty = true;
            prompt_key(state, &ev, &mut fx);
        }
        Msg::Key(ev, _) if matches!(state.overlay, Overlay::KnobValue { .. }) => {
            state.dirty = true;
            knobs::knob_value_key(state, &ev, &mut fx);
        }
        Msg::Key(ev, _)
            if state.overlay == Overlay::None
                && state.inspector.as_ref().is_some_and(|i| i.typing.is_some()) =>
        {
            state.dirty = true;
            inspect::typing_key(state, &ev, &mut fx);
        }
        Msg::Key(ev, at) => {
            if let Some(action) = keymap::dispatch(&ev) {
                state.dirty = true;
                on_action(state, action, at, &mut fx);
            }
        }
        Msg::Signal(signal) => {
            state.interrupted.get_or_insert(signal);
            quit(state, &mut fx);
        }
        Msg::Started => {
            // The first measurement waits for the first evaluation: it pauses training (and
            // allocates the full-size tables), which must not delay the first AUC points.
            state.dirty = true;
            state.first_latency_due = true;
        }
        Msg::Resize(..) => state.dirty = true,
        Msg::Engine(ev) => {
            state.dirty = true;
            let evaluated = matches!(ev, EngineEvent::Eval(_));
            inspect::on_engine_event(state, &ev, &mut fx);
            on_engine(state, ev);
            lesson::after_event(state, &mut fx);
            if evaluated && state.first_latency_due {
                state.first_latency_due = false;
                if state.latency == LatencyView::Waiting && state.latency_requests.is_empty() {
                    state
                        .latency_requests
                        .push_back(LatencyKey::of(&state.running));
                    fx.push(Effect::Engine(EngineCommand::MeasureLatency(Box::new(
                        state.running.clone(),
                    ))));
                }
            }
        }
        Msg::EngineStopped => {
            // Keep the engine's own reason (e.g. a data error) if it gave one.
            if !state.quitting && state.engine_error.is_none() {
                state.dirty = true;
                let text = "the training engine stopped; the screen shows its last state (q quits)";
                state.engine_error = Some(text.into());
                state.set_status(StatusKind::Error, text);
            }
        }
        Msg::Tick(now) => {
            if state.restart_deadline.is_some_and(|d| now >= d) {
                state.dirty = true;
                fire_restart(state, &mut fx);
            }
        }
        Msg::Written(outcome) => {
            state.dirty = true;
            on_written(state, outcome);
        }
        Msg::OpenSweep(path) => {
            state.dirty = true;
            open_sweep(state, path, &mut fx);
        }
        Msg::SweepLoaded(result) => {
            state.dirty = true;
            match result {
                Ok(sweep) => sweep_loaded(state, *sweep),
                // The sweep shown before (if any) stays: a typo must not lose it.
                Err(msg) => state.set_status(StatusKind::Error, msg),
            }
        }
    }
    fx
}

/// Lines of the help overlay, for scroll bounds (the panel renders the same list, then the
/// glossary).
pub fn help_len() -> usize {
    keymap::help_lines().len() + crate::ui::info::glossary_lines()
}
