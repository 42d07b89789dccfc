//! What each key means: the keymap's actions, the path prompt, knob edits and the debounced
//! restart they lead to.
//!
//! Owns: focus, overlays and knob edits. Must never: read the clock (time comes in the message).

use std::path::PathBuf;

use super::super::keymap::{self, Action};
use super::super::msg::Effect;
use super::super::pareto;
use super::super::state::{
    AppState, AucView, Focus, MAX_PINS, Metric, Overlay, PIN_MARKERS, ParetoSource, StatusKind,
};
use super::files::{export, next_free_name, report, write_effect};
use super::inspect::{
    back, inspect_collisions_row, inspector_action, show_info, toggle_inspector, toggle_zoom,
};
use super::knobs::{edit_knob, fire_restart, open_knob_value};
use super::sweep::{load_selected_point, open_sweep};
use crate::train::protocol::EngineCommand;

/// A key while the path prompt is open: text edits the path; Enter opens it; Esc cancels.
pub(super) fn prompt_key(
    state: &mut AppState,
    ev: &ratatui::crossterm::event::KeyEvent,
    fx: &mut Vec<Effect>,
) {
    use ratatui::crossterm::event::{KeyCode, KeyModifiers};
    if keymap::dispatch(ev) == Some(Action::Quit) && ev.code != KeyCode::Char('q') {
        // Ctrl-C still quits; a plain `q` is part of a path.
        quit(state, fx);
        return;
    }
    let Overlay::Prompt { input } = &mut state.overlay else {
        return;
    };
    let plain = !ev
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    match ev.code {
        KeyCode::Esc => {
            state.overlay = Overlay::None;
            state.set_status(StatusKind::Info, "open sweep cancelled");
        }
        KeyCode::Enter => {
            let path = input.trim().to_string();
            state.overlay = Overlay::None;
            if path.is_empty() {
                state.set_status(StatusKind::Error, "no sweep directory given");
            } else {
                open_sweep(state, PathBuf::from(path), fx);
            }
        }
        KeyCode::Backspace => {
            input.pop();
        }
        // Paths are short; a runaway paste is cut rather than grown without bound.
        KeyCode::Char(c) if plain && input.chars().count() < 4096 => input.push(c),
        _ => {}
    }
}

pub(super) fn on_action(
    state: &mut AppState,
    action: Action,
    at: std::time::Instant,
    fx: &mut Vec<Effect>,
) {
    if action == Action::Quit {
        quit(state, fx);
        return;
    }
    if on_overlay_action(state, action, fx) || inspector_action(state, action, fx) {
        return;
    }
    // Esc closes the zoom, then the inspector, before it leaves a lesson or quits.
    if action == Action::Back && back(state) {
        return;
    }
    if state.lesson.is_some() {
        match action {
            Action::No | Action::Forward => return super::lesson::next_step(state, fx),
            Action::StepBack | Action::Backward => return super::lesson::prev_step(state, fx),
            Action::Back => return super::lesson::leave_lesson(state),
            Action::Restart => return super::lesson::restart_lesson(state, fx),
            _ => {}
        }
    }
    match action {
        Action::Quit | Action::Back => quit(state, fx),
        Action::Forward | Action::FocusNext => focus_step(state, true),
        Action::Backward | Action::FocusPrev => focus_step(state, false),
        Action::StepBack => state.set_status(
            StatusKind::Info,
            "b goes back a step in a lesson: L picks one",
        ),
        Action::Lessons => state.overlay = Overlay::Lessons { selected: 0 },
        Action::Info => show_info(state),
        Action::Zoom => toggle_zoom(state),
        Action::Inspect => toggle_inspector(state, None, fx),
        Action::TypeValue => state.set_status(
            StatusKind::Info,
            "x types a value in the token inspector: press t to open it",
        ),
        Action::Help => state.overlay = Overlay::Help { scroll: 0 },
        Action::Up => move_in_focus(state, -1),
        Action::Down => move_in_focus(state, 1),
        Action::Increase => edit_knob(state, 1, at),
        Action::Decrease => edit_knob(state, -1, at),
        Action::IncreaseCoarse => edit_knob(state, 2, at),
        Action::DecreaseCoarse => edit_knob(state, -2, at),
        Action::Pause => toggle_pause(state, fx),
        Action::Restart => {
            if state.restart_deadline.is_some() {
                fire_restart(state, fx);
            }
            fx.push(Effect::Engine(EngineCommand::RestartAll));
            state.set_status(StatusKind::Info, "restarting every run from sample 0");
        }
        Action::Export => export(state, fx),
        Action::ScreenDump => fx.push(Effect::WriteScreenDump),
        Action::Pin => pin(state),
        Action::Report => report(state, fx),
        Action::ToggleView => toggle_view(state),
        Action::ToggleMetric => toggle_metric(state),
        Action::ToggleSource => toggle_source(state),
        Action::EarlierCheckpoint => move_checkpoint(state, -1),
        Action::LaterCheckpoint => move_checkpoint(state, 1),
        Action::OpenSweep => {
            let input = state
                .sweep
                .as_ref()
                .map_or_else(String::new, |s| s.dir.display().to_string());
            state.overlay = Overlay::Prompt { input };
        }
        Action::Select => {
            if state.focus == Focus::Pareto && state.auc_view == AucView::Pareto {
                load_selected_point(state, fx);
            } else if state.focus == Focus::Collisions {
                inspect_collisions_row(state, fx);
            } else if state.focus == Focus::Knobs {
                open_knob_value(state);
            }
        }
        Action::Yes | Action::No => {}
    }
}

/// The next (`forward`) or previous panel; the inspector is in the order while it is open.
fn focus_step(state: &mut AppState, forward: bool) {
    let pareto = state.auc_view == AucView::Pareto;
    let open = state.inspector.is_some();
    state.focus = if forward {
        state.focus.next(pareto, open)
    } else {
        state.focus.prev(pareto, open)
    };
}

/// Keys while an overlay is open: the overlay takes them all (true), or
/// none is open (false).
fn on_overlay_action(state: &mut AppState, action: Action, fx: &mut Vec<Effect>) -> bool {
    match state.overlay.clone() {
        Overlay::Help { scroll } => {
            let last = super::help_len().saturating_sub(1) as u16;
            match action {
                Action::Up => {
                    state.overlay = Overlay::Help {
                        scroll: scroll.saturating_sub(1),
                    }
                }
                Action::Down => {
                    state.overlay = Overlay::Help {
                        scroll: (scroll + 1).min(last),
                    }
                }
                Action::Help | Action::Back => state.overlay = Overlay::None,
                _ => {}
            }
            true
        }
        Overlay::ConfirmOverwrite { path, write } => {
            match action {
                Action::Yes => {
                    state.overlay = Overlay::None;
                    fx.push(write_effect(path, write, true));
                }
                Action::No => {
                    state.overlay = Overlay::None;
                    fx.push(write_effect(next_free_name(&path), write, false));
                }
                Action::Back => {
                    state.overlay = Overlay::None;
                    state.set_status(StatusKind::Info, "export cancelled");
                }
                _ => {}
            }
            true
        }
        Overlay::Info { panel, scroll } => {
            let last = crate::ui::info::panel_lines(panel).saturating_sub(1) as u16;
            match action {
                Action::Up => {
                    state.overlay = Overlay::Info {
                        panel,
                        scroll: scroll.saturating_sub(1),
                    }
                }
                Action::Down => {
                    state.overlay = Overlay::Info {
                        panel,
                        scroll: (scroll + 1).min(last),
                    }
                }
                Action::Info | Action::Back => state.overlay = Overlay::None,
                _ => {}
            }
            true
        }
        // Keys reach the prompts before the keymap (see `update`).
        Overlay::Prompt { .. } | Overlay::KnobValue { .. } => true,
        Overlay::Lessons { selected } => {
            super::lesson::picker_key(state, action, selected, fx);
            true
        }
        Overlay::None => false,
    }
}

fn toggle_pause(state: &mut AppState, fx: &mut Vec<Effect>) {
    state.paused = !state.paused;
    fx.push(Effect::Engine(EngineCommand::Pause(state.paused)));
    let text = if state.paused {
        "paused (Space resumes)"
    } else {
        "training resumed"
    };
    state.set_status(StatusKind::Info, text);
}

/// Whether the Pareto view is shown; if not, says that `what` needs it (`v` shows it).
fn in_pareto_view(state: &mut AppState, what: &str) -> bool {
    let shown = state.auc_view == AucView::Pareto;
    if !shown {
        state.set_status(StatusKind::Info, format!("{what}: press v first"));
    }
    shown
}

/// `w`: the Pareto view shows this session's runs or the loaded sweep's points, never both on
/// one front (they were trained to other budgets, on other engines).
fn toggle_source(state: &mut AppState) {
    if !in_pareto_view(state, "w switches the Pareto view's points") {
        return;
    }
    if state.sweep.is_none() {
        state.set_status(
            StatusKind::Info,
            "no sweep loaded: the Pareto view shows this session's runs (o opens a sweep)",
        );
        return;
    }
    state.pareto_source = match state.pareto_source {
        ParetoSource::Session => ParetoSource::Sweep,
        ParetoSource::Sweep => ParetoSource::Session,
    };
    state.pareto_at = None;
    state.pareto_selected = None;
    let what = match state.pareto_source {
        ParetoSource::Session => "this session's runs",
        ParetoSource::Sweep => "the loaded sweep's points",
    };
    state.set_status(StatusKind::Info, format!("Pareto view: {what}"));
}

/// `,` / `.`: the Pareto view compares at the previous / next checkpoint.
fn move_checkpoint(state: &mut AppState, step: i32) {
    if !in_pareto_view(state, ", and . move the Pareto view's checkpoint") {
        return;
    }
    let at = pareto::checkpoints(state);
    let Some(now) = pareto::checkpoint(state) else {
        state.set_status(
            StatusKind::Info,
            "no checkpoint yet: no run has an evaluation the baseline has too",
        );
        return;
    };
    let i = at.iter().position(|&c| c == now).unwrap_or(0) as i64 + step as i64;
    match usize::try_from(i).ok().and_then(|i| at.get(i)) {
        Some(&c) => {
            state.pareto_at = Some(c);
            state.set_status(
                StatusKind::Info,
                format!(
                    "Pareto view: every point at {} samples seen",
                    crate::util::units::fmt_count(c)
                ),
            );
        }
        None => state.set_status(
            StatusKind::Info,
            if step < 0 {
                "this is the earliest checkpoint"
            } else {
                "this is the latest checkpoint"
            },
        ),
    }
}

/// `a`: the Pareto view's vertical axis, AUC or ΔAUC.
fn toggle_metric(state: &mut AppState) {
    if !in_pareto_view(state, "a switches the Pareto view's axis") {
        return;
    }
    state.pareto_metric = match state.pareto_metric {
        Metric::Auc => Metric::DeltaAuc,
        Metric::DeltaAuc => Metric::Auc,
    };
    state.set_status(
        StatusKind::Info,
        format!(
            "Pareto view: {} against table bytes",
            state.pareto_metric.label()
        ),
    );
}

fn toggle_view(state: &mut AppState) {
    match state.auc_view {
        AucView::Curves => {
            state.auc_view = AucView::Pareto;
            state.focus = Focus::Pareto;
            state.inspector = None;
            state.set_status(
                StatusKind::Info,
                "Pareto view: ↑↓ select a point, Enter loads it, a AUC/ΔAUC, o opens a sweep, v back to curves",
            );
        }
        AucView::Pareto => {
            state.auc_view = AucView::Curves;
            if state.focus == Focus::Pareto {
                state.focus = Focus::Knobs;
            }
            state.set_status(StatusKind::Info, "AUC curves");
        }
    }
}

pub(super) fn quit(state: &mut AppState, fx: &mut Vec<Effect>) {
    state.quitting = true;
    fx.push(Effect::Quit);
}

fn move_in_focus(state: &mut AppState, delta: i64) {
    match state.focus {
        Focus::Knobs => {
            let n = crate::config::knobs::visible(&state.cfg).len() as i64;
            state.knob = (state.knob as i64 + delta).rem_euclid(n) as usize;
        }
        Focus::Runs => {
            if let Some(cur) = state.selected_run_index() {
                let last = state.runs.len() - 1;
                let next = (cur as i64 + delta).clamp(0, last as i64) as usize;
                // Back on the newest row: follow new runs again.
                state.selected_run = if next == last { None } else { Some(next) };
            }
        }
        Focus::Pareto => {
            let points = pareto::points(state);
            if let Some(cur) = pareto::selected_index(state, &points) {
                let next = (cur as i64 + delta).clamp(0, points.len() as i64 - 1) as usize;
                state.pareto_selected = Some(points[next].id);
            }
        }
        Focus::Auc | Focus::Memory | Focus::Latency | Focus::Inspector => {}
        Focus::Collisions => {
            let rows = state
                .compressed
                .as_ref()
                .map_or(0, |m| m.collisions.len().saturating_sub(1)) as i64;
            state.collisions_scroll =
                (state.collisions_scroll as i64 + delta).clamp(0, rows.max(0)) as u16;
        }
    }
}

fn pin(state: &mut AppState) {
    let Some(i) = state.selected_run_index() else {
        state.set_status(StatusKind::Error, "no run to pin yet");
        return;
    };
    let g = state.runs[i].generation;
    if let Some(at) = state.pinned.iter().position(|p| p.0 == g) {
        state.pinned.remove(at);
        state.set_status(StatusKind::Info, format!("run #{g} unpinned"));
        return;
    }
    let free = PIN_MARKERS
        .into_iter()
        .find(|m| state.pinned.iter().all(|p| p.1 != *m));
    let Some(marker) = free else {
        state.set_status(
            StatusKind::Error,
            format!("{MAX_PINS} runs pinned already, as many as the chart keeps readable: p on a pinned row unpins it"),
        );
        return;
    };
    state.pinned.push((g, marker));
    state.set_status(
        StatusKind::Info,
        format!("run #{g} pinned ({marker}): its curve stays on the AUC chart"),
    );
}
