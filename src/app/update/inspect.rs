//! The teaching keys: the token inspector (`t`, Enter on a Collisions row, `x` to type a value,
//! arrows and `+`/`-` to move through values and features), the per-panel explanation (`i`) and
//! the zoom (`z`).
//!
//! Owns: opening, closing and driving the inspector and asking the engine for its answers. Must
//! never: read the clock or look a value up itself (the engine answers `Inspect`).

use super::super::inspector::{Inspector, parse_pick};
use super::super::keymap::Action;
use super::super::msg::Effect;
use super::super::state::{AppState, AucView, Focus, Overlay, StatusKind};
use crate::train::protocol::{EngineEvent, RunKind};

/// Open the inspector on `feature` (focused), or close it.
pub(super) fn toggle_inspector(state: &mut AppState, feature: Option<usize>, fx: &mut Vec<Effect>) {
    if state.inspector.is_some() && feature.is_none() {
        close_inspector(state);
        return;
    }
    let mut ins = Inspector::new(feature.unwrap_or(0));
    fx.push(Effect::Engine(ins.request()));
    state.inspector = Some(ins);
    state.focus = Focus::Inspector;
    state.set_status(
        StatusKind::Info,
        "inspector: ↑↓ value · +/- feature · x type a value · i explain · t close",
    );
}

fn close_inspector(state: &mut AppState) {
    state.inspector = None;
    if state.focus == Focus::Inspector {
        state.focus = Focus::Knobs;
    }
    state.set_status(StatusKind::Info, "inspector closed");
}

/// Ask again about the current pick (one request at a time).
fn ask(state: &mut AppState, fx: &mut Vec<Effect>) {
    if let Some(ins) = &mut state.inspector
        && !ins.in_flight
    {
        fx.push(Effect::Engine(ins.request()));
    }
}

/// An action while the inspector is focused; returns whether it was consumed.
pub(super) fn inspector_action(state: &mut AppState, action: Action, fx: &mut Vec<Effect>) -> bool {
    if state.focus != Focus::Inspector {
        return false;
    }
    let Some(ins) = &mut state.inspector else {
        return false;
    };
    match action {
        Action::Up => ins.step_value(-1),
        Action::Down => ins.step_value(1),
        Action::Increase | Action::IncreaseCoarse => ins.step_feature(1),
        Action::Decrease | Action::DecreaseCoarse => ins.step_feature(-1),
        Action::TypeValue => {
            ins.typing = Some(String::new());
            return true;
        }
        _ => return false,
    }
    // The answer to the new pick is asked for now, even if an older one is still on its way.
    let cmd = ins.request();
    fx.push(Effect::Engine(cmd));
    true
}

/// A key while the value prompt is open: hex text, Enter asks, Esc cancels.
pub(super) fn typing_key(
    state: &mut AppState,
    ev: &ratatui::crossterm::event::KeyEvent,
    fx: &mut Vec<Effect>,
) {
    use ratatui::crossterm::event::KeyCode;
    if super::super::keymap::dispatch(ev) == Some(Action::Quit) && ev.code != KeyCode::Char('q') {
        // Ctrl-C still quits (as `keys::quit`); a plain `q` is just not a hex digit.
        state.quitting = true;
        fx.push(Effect::Quit);
        return;
    }
    let Some(ins) = &mut state.inspector else {
        return;
    };
    match ev.code {
        KeyCode::Esc => ins.typing = None,
        KeyCode::Backspace => {
            if let Some(t) = &mut ins.typing {
                t.pop();
            }
        }
        KeyCode::Enter => {
            let text = ins.typing.take().unwrap_or_default();
            match parse_pick(&text) {
                Ok(pick) => {
                    ins.pick = pick;
                    let cmd = ins.request();
                    fx.push(Effect::Engine(cmd));
                }
                Err(e) => state.set_status(StatusKind::Error, e),
            }
        }
        KeyCode::Char(c) => ins.type_char(c),
        _ => {}
    }
}

/// Enter on the Collisions panel: inspect the feature of its first visible row.
pub(super) fn inspect_collisions_row(state: &mut AppState, fx: &mut Vec<Effect>) {
    let feature = state.compressed.as_ref().and_then(|m| {
        let skip = (state.collisions_scroll as usize).min(m.collisions.len().saturating_sub(1));
        m.collisions.get(skip).map(|f| f.feature)
    });
    match feature {
        Some(f) => toggle_inspector(state, Some(f), fx),
        None => state.set_status(StatusKind::Error, "no collision statistics yet"),
    }
}

/// Keep the inspector live: its answer, and a new question after each progress report.
pub(super) fn on_engine_event(state: &mut AppState, ev: &EngineEvent, fx: &mut Vec<Effect>) {
    if state.inspector.is_none() {
        return;
    }
    match ev {
        EngineEvent::Inspected(answer) => {
            if let Some(ins) = &mut state.inspector {
                ins.on_answer(answer.as_ref().clone());
            }
        }
        EngineEvent::Progress { run, .. } if run.kind == RunKind::Compressed => ask(state, fx),
        EngineEvent::RunStarted { .. } | EngineEvent::Eval(_) => ask(state, fx),
        _ => {}
    }
}

/// `i`: explain the focused panel.
pub(super) fn show_info(state: &mut AppState) {
    let panel = match (state.focus, state.auc_view) {
        (Focus::Auc, AucView::Pareto) => Focus::Pareto,
        (f, _) => f,
    };
    state.overlay = Overlay::Info { panel, scroll: 0 };
}

/// `z`: the focused panel fills the screen, or the layout comes back.
pub(super) fn toggle_zoom(state: &mut AppState) {
    state.zoom = !state.zoom;
    if state.zoom {
        state.set_status(
            StatusKind::Info,
            format!(
                "{} zoomed: z or Esc restores the layout",
                state.focus.name()
            ),
        );
    } else {
        state.set_status(StatusKind::Info, "layout restored");
    }
}

/// Esc without an overlay: leave the zoom, then the inspector; `false` if neither was open.
pub(super) fn back(state: &mut AppState) -> bool {
    if state.zoom {
        toggle_zoom(state);
        true
    } else if state.inspector.is_some() {
        close_inspector(state);
        true
    } else {
        false
    }
}
