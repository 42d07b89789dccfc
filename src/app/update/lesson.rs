//! What lesson keys and events do: start a lesson, go on (`n`, `→`), go back (`b`, `←`), leave
//! (`Esc`), and after each engine event note whether the step's condition holds and ask for the
//! latency a step needs. A step's knobs are applied as the knob keys apply theirs: the knob
//! table's values in `state.cfg`, then the compressed run restarts (at once, no debounce).
//!
//! Owns: moving between steps. Must never: change a field outside the knob table (the lesson's
//! own base is chosen before the session starts), or leave a state the keys cannot undo: `r`
//! restarts, the knob keys move every knob a step touched, `Esc` keeps the configuration.

use std::sync::Arc;

use super::super::lesson::LessonSession;
use super::super::msg::Effect;
use super::super::state::{AppState, LatencyKey, StatusKind};
use super::knobs::fire_restart;
use crate::config::knobs::{adopt_knobs, same_compressed_run};
use crate::config::lesson::{Figure, LoadedLesson};
use crate::train::protocol::EngineCommand;

/// Start `lesson` at its first step on the running session (its knobs are applied).
pub fn start_lesson(
    state: &mut AppState,
    lesson: Arc<LoadedLesson>,
    scale: f64,
    fx: &mut Vec<Effect>,
) {
    let name = lesson.name().to_string();
    state.lesson = Some(LessonSession::new(lesson, scale));
    enter_step(state, fx);
    state.set_status(
        StatusKind::Info,
        format!("lesson {name}: n next · b back · Esc leaves (knobs kept)"),
    );
}

/// `n` / `→`: the next step, if the current one may go on; after the last, the lesson ends.
pub fn next_step(state: &mut AppState, fx: &mut Vec<Effect>) {
    let Some(lesson) = &state.lesson else {
        return;
    };
    if let Err(why) = lesson.may_go_on(state) {
        state.set_status(StatusKind::Info, why);
        return;
    }
    if lesson.is_last() {
        let name = lesson.lesson.name().to_string();
        state.lesson = None;
        state.set_status(
            StatusKind::Info,
            format!("lesson {name} done; the knobs stay as its last step left them (r restarts)"),
        );
        return;
    }
    if let Some(l) = &mut state.lesson {
        l.step += 1;
    }
    enter_step(state, fx);
}

/// `b` / `←`: the previous step (its knobs again).
pub fn prev_step(state: &mut AppState, fx: &mut Vec<Effect>) {
    let Some(l) = &mut state.lesson else {
        return;
    };
    if l.step == 0 {
        state.set_status(StatusKind::Info, "this is the lesson's first step");
        return;
    }
    l.step -= 1;
    enter_step(state, fx);
}

/// `Esc`: leave the lesson, keeping the configuration it set.
pub fn leave_lesson(state: &mut AppState) {
    if let Some(l) = state.lesson.take() {
        state.set_status(
            StatusKind::Info,
            format!(
                "left lesson {} at step {}; the knobs stay (r restarts, L picks a lesson)",
                l.lesson.name(),
                l.step + 1
            ),
        );
    }
}

/// `r` in a lesson: back to its first step's knobs, every run from sample 0.
pub fn restart_lesson(state: &mut AppState, fx: &mut Vec<Effect>) {
    let Some(l) = &mut state.lesson else {
        return;
    };
    l.step = 0;
    enter_step(state, fx);
    fx.push(Effect::Engine(EngineCommand::RestartAll));
    state.set_status(
        StatusKind::Info,
        "lesson restarted: its first step's knobs, every run from sample 0",
    );
}

/// After an engine event: note whether the condition holds; ask for a latency the step shows.
pub(super) fn after_event(state: &mut AppState, fx: &mut Vec<Effect>) {
    let Some(mut l) = state.lesson.take() else {
        return;
    };
    l.observe(state);
    state.lesson = Some(l);
    request_latency(state, fx);
}

/// Apply the step's knobs and restart the compressed run if they differ from what trains.
fn enter_step(state: &mut AppState, fx: &mut Vec<Effect>) {
    let Some(l) = &state.lesson else {
        return;
    };
    let target = l.config().clone();
    let step = l.step;
    let mut next = state.cfg.clone();
    adopt_knobs(&target, &mut next);
    if LatencyKey::of(&next) != LatencyKey::of(&state.running) {
        state.latency_stale = true;
    }
    state.cfg = next;
    let latest = state.requested.back().unwrap_or(&state.running).clone();
    let from = if same_compressed_run(&latest, &state.cfg) && state.restart_deadline.is_none() {
        // What trains already is the step's configuration: that run counts.
        None
    } else {
        let known = state
            .runs
            .iter()
            .map(|r| r.generation)
            .chain(state.compressed.as_ref().map(|c| c.generation))
            .max()
            .unwrap_or(0);
        fire_restart(state, fx);
        Some(known + state.requested.len() as u64)
    };
    if let Some(l) = &mut state.lesson {
        l.from_generation = from;
        if let Some(r) = l.reached.get_mut(step) {
            *r = false;
        }
    }
    request_latency(state, fx);
}

/// A step that shows latency gets a measurement of its configuration (once per session).
fn request_latency(state: &mut AppState, fx: &mut Vec<Effect>) {
    let Some(l) = &state.lesson else {
        return;
    };
    if !l.current().figures.contains(&Figure::Latency) {
        return;
    }
    let key = LatencyKey::of(&state.cfg);
    let known = state.latency_by_key.iter().any(|(k, _)| *k == key);
    if known || state.latency_requests.contains(&key) {
        return;
    }
    // The session's first measurement waits for the first evaluation (update's rule).
    if state.first_latency_due {
        return;
    }
    state.latency_requests.push_back(key);
    fx.push(Effect::Engine(EngineCommand::MeasureLatency(Box::new(
        state.cfg.clone(),
    ))));
}

/// A key while the lesson picker is open: ↑↓ move, Enter starts the selected lesson, Esc closes.
pub(super) fn picker_key(
    state: &mut AppState,
    action: super::super::keymap::Action,
    selected: usize,
    fx: &mut Vec<Effect>,
) {
    use super::super::keymap::Action;
    use super::super::state::Overlay;
    let n = crate::config::lesson::LESSONS.len();
    match action {
        Action::Up => {
            state.overlay = Overlay::Lessons {
                selected: selected.saturating_sub(1),
            }
        }
        Action::Down => {
            state.overlay = Overlay::Lessons {
                selected: (selected + 1).min(n.saturating_sub(1)),
            }
        }
        Action::Back | Action::Lessons => state.overlay = Overlay::None,
        Action::Select => {
            state.overlay = Overlay::None;
            let Some((name, _)) = crate::config::lesson::LESSONS.get(selected) else {
                return;
            };
            match crate::config::lesson::load_lesson(name) {
                Ok(lesson) => open_lesson(state, Arc::new(lesson), fx),
                Err(e) => state.set_status(StatusKind::Error, e.to_string()),
            }
        }
        _ => {}
    }
}

/// Open `lesson` from the explorer: on the running session when it differs from the lesson's
/// base only in knobs; otherwise the session starts again on the lesson's configuration (its
/// data or model differ, which no knob can change).
pub fn open_lesson(state: &mut AppState, lesson: Arc<LoadedLesson>, fx: &mut Vec<Effect>) {
    if fits_session(&state.cfg, &lesson.base) {
        start_lesson(state, lesson, 1.0, fx);
    } else {
        state.set_status(
            StatusKind::Info,
            format!(
                "lesson {} runs on its own configuration (preset {}): starting a new session",
                lesson.name(),
                lesson.lesson.preset
            ),
        );
        fx.push(Effect::OpenLesson(lesson));
    }
}

/// Whether `session` is `base` but for the knobs (and the names, which do not train).
pub fn fits_session(session: &crate::config::Config, base: &crate::config::Config) -> bool {
    let mut probe = base.clone();
    adopt_knobs(session, &mut probe);
    probe.name = session.name.clone();
    probe.description = session.description.clone();
    probe == *session
}
