//! The step's condition on the explorer's state: which compressed run counts, its samples, the
//! progress line, and whether the step may go on.
//!
//! Owns: the meaning of a condition. Must never: change the state.

use super::{LessonSession, StepProgress};
use crate::app::state::{AppState, RunView};
use crate::config::lesson::GoOn;

impl LessonSession {
    /// The compressed run that counts for this step, once it has started.
    pub fn counting_run<'a>(&self, state: &'a AppState) -> Option<&'a RunView> {
        state
            .compressed
            .as_ref()
            .filter(|v| self.from_generation.is_none_or(|g| v.generation >= g))
    }

    /// Samples the counting run has seen (0 before it starts).
    pub fn samples(&self, state: &AppState) -> u64 {
        self.counting_run(state).map_or(0, run_samples)
    }

    /// The step's condition on `state`, with the line the lesson box shows.
    pub fn progress(&self, state: &AppState) -> StepProgress {
        let run = self.counting_run(state);
        let samples = run.map_or(0, run_samples);
        let budget = self.budget();
        let of_budget = format!("{} of its {} samples", count(samples), count(budget));
        let (met, text) = match self.current().go_on {
            GoOn::Key => (true, format!("n or → goes on ({of_budget})")),
            GoOn::Samples(n) => {
                let n = self.scaled(n);
                if samples >= n {
                    (true, format!("done: {} samples; n goes on", count(samples)))
                } else {
                    (
                        false,
                        format!("waiting: {} of {} samples", count(samples), count(n)),
                    )
                }
            }
            GoOn::DeltaExcludesZero(n) => delta_progress(run, self.scaled(n)),
            GoOn::ConfusedBelow(n) => confused_progress(run, n),
        };
        StepProgress {
            met,
            samples,
            budget,
            text,
        }
    }

    /// Remember that the step's condition held (it may stop holding later: ΔAUC moves).
    pub fn observe(&mut self, state: &AppState) {
        if self.progress(state).met
            && let Some(r) = self.reached.get_mut(self.step)
        {
            *r = true;
        }
    }

    /// Whether the teacher may go on now: always at a `key` step; at a condition step once it
    /// has held, or once the budget is spent without it (the class must not be stuck).
    pub fn may_go_on(&self, state: &AppState) -> Result<(), String> {
        let p = self.progress(state);
        if p.met || self.reached.get(self.step).copied().unwrap_or(false) {
            return Ok(());
        }
        if p.samples >= p.budget {
            return Ok(());
        }
        Err(format!(
            "this step goes on {}: {}",
            self.current().go_on.scaled(self.scale),
            p.text
        ))
    }

    /// Whether a headless run may end the step: the condition has held and the budget is
    /// trained (the figures are taken at the budget); or the budget is spent without it.
    pub fn headless_done(&self, state: &AppState) -> bool {
        let p = self.progress(state);
        let reached = p.met || self.reached.get(self.step).copied().unwrap_or(false);
        let evaluated = self
            .counting_run(state)
            .and_then(|r| r.last_eval.as_ref())
            .is_some_and(|e| e.samples >= p.budget);
        evaluated && (reached || p.samples >= p.budget)
    }
}
/// Samples a run has seen, from its latest progress or evaluation.
pub fn run_samples(run: &RunView) -> u64 {
    let p = run.progress.as_ref().map_or(0, |p| p.samples);
    p.max(run.last_eval.as_ref().map_or(0, |e| e.samples))
}

/// Values of the loaded data sharing their whole signature (every row) with another value,
/// over all features; `None` before the run's collisions are counted.
pub fn confused_values(run: &RunView) -> Option<u64> {
    if run.collisions.is_empty() {
        return None;
    }
    Some(
        run.collisions
            .iter()
            .map(|c| (c.shared_full_signature * c.distinct as f64).round() as u64)
            .sum(),
    )
}

fn delta_progress(run: Option<&RunView>, min_samples: u64) -> (bool, String) {
    let Some(e) = run.and_then(|r| r.last_eval.as_ref()) else {
        return (false, "waiting: no evaluation of this run yet".into());
    };
    let Some(d) = e.delta_auc else {
        return (
            false,
            format!(
                "waiting: no ΔAUC at {} samples (the baseline has no evaluation there)",
                count(e.samples)
            ),
        );
    };
    let interval = format!(
        "ΔAUC {:+.4} [{:+.4}, {:+.4}] at {} samples",
        d.delta,
        d.lo,
        d.hi,
        count(e.samples)
    );
    if e.samples < min_samples {
        return (
            false,
            format!("waiting: {interval}; judged from {}", count(min_samples)),
        );
    }
    if d.lo > 0.0 || d.hi < 0.0 {
        (true, format!("done: {interval} excludes 0; n goes on"))
    } else {
        (false, format!("waiting: {interval} includes 0"))
    }
}

fn confused_progress(run: Option<&RunView>, below: u64) -> (bool, String) {
    match run.and_then(confused_values) {
        None => (
            false,
            "waiting: the collisions of this run are not counted yet".into(),
        ),
        Some(n) if n < below => (
            true,
            format!("done: {n} values share their whole signature (below {below}); n goes on"),
        ),
        Some(n) => (
            false,
            format!("waiting: {n} values share their whole signature (goal: below {below})"),
        ),
    }
}

/// `950`, `12.3k`, `1.20M` (the screen's count format, `ui::fmt_count`, which draws from this
/// module's state and so cannot be imported here).
fn count(n: u64) -> String {
    let x = n as f64;
    if x >= 1e9 {
        format!("{:.2}G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{n}")
    }
}
