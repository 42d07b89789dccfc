//! A lesson in progress: which step is on, which compressed run counts for it, whether its
//! condition has held, and the progress line the lesson box shows ("waiting: 312k of 500k
//! samples"). Pure: `update` (app/update/lesson.rs) moves it, the explorer and the headless
//! handout read it.
//!
//! Owns: the meaning of a step's condition on the explorer's state. Must never: change the
//! configuration or talk to the engine (update does, through the knob table and its effects), or
//! read the clock.

use std::sync::Arc;

use crate::config::Config;
use crate::config::lesson::{LoadedLesson, Step};

mod progress;

pub use progress::{confused_values, run_samples};

/// A lesson being taught (or run headless).
#[derive(Debug, Clone, PartialEq)]
pub struct LessonSession {
    pub lesson: Arc<LoadedLesson>,
    /// The step on screen.
    pub step: usize,
    /// The generation of the compressed run from which on it counts for this step (set when
    /// the step asked for a restart); `None`: the run in force counts.
    pub from_generation: Option<u64>,
    /// Whether each step's condition has held since the step was last entered.
    pub reached: Vec<bool>,
    /// Multiplier of every budget and sample count: 1 in class; smaller for a quick check
    /// (`--budget-scale`), which the handout states.
    pub scale: f64,
}

/// Where the step on screen stands (`LessonSession::progress`, in `progress.rs`: what reads the
/// explorer's state lives there, so the state can hold a lesson).
#[derive(Debug, Clone, PartialEq)]
pub struct StepProgress {
    /// The condition holds now.
    pub met: bool,
    /// Samples the counting compressed run has seen.
    pub samples: u64,
    /// The step's budget in samples (scaled).
    pub budget: u64,
    /// One line for the lesson box: "waiting: 312k of 500k samples", "ready: n goes on".
    pub text: String,
}

impl LessonSession {
    pub fn new(lesson: Arc<LoadedLesson>, scale: f64) -> LessonSession {
        let n = lesson.steps().len();
        LessonSession {
            lesson,
            step: 0,
            from_generation: None,
            reached: vec![false; n],
            scale,
        }
    }

    pub fn current(&self) -> &Step {
        &self.lesson.steps()[self.step.min(self.lesson.steps().len() - 1)]
    }

    /// The configuration the step asks for (the lesson's base with every step's knobs so far).
    pub fn config(&self) -> &Config {
        &self.lesson.configs[self.step.min(self.lesson.configs.len() - 1)]
    }

    pub fn is_last(&self) -> bool {
        self.step + 1 >= self.lesson.steps().len()
    }

    /// A count of the lesson file, scaled (at least 1).
    pub fn scaled(&self, n: u64) -> u64 {
        ((n as f64 * self.scale).ceil() as u64).max(1)
    }

    /// The step's budget in samples, scaled.
    pub fn budget(&self) -> u64 {
        self.scaled(self.current().budget)
    }
}
