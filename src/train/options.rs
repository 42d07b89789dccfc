//! How the engine runs beyond the configuration (`EngineOptions`: budgets, extra runs,
//! predictions, checkpoints, the representation builder) and what it sends besides events
//! (`RunPredictions`).
//!
//! Owns: these options and their defaults. Must never: run anything.

use std::sync::Arc;

use crossbeam_channel::Sender;

use crate::config::Config;
use crate::embedding::Representation;
use crate::train::protocol::{RunId, RunKind};

/// Builds the representation of a run from its configuration.
pub type RepBuilder =
    Arc<dyn Fn(&Config, RunKind) -> Result<Box<dyn Representation>, String> + Send + Sync>;

/// The representations of `crate::embedding` for each side.
pub fn default_reps() -> RepBuilder {
    Arc::new(|cfg: &Config, kind: RunKind| {
        Ok(match kind {
            RunKind::Baseline => crate::embedding::build_baseline(cfg),
            RunKind::Compressed => crate::embedding::build_compressed(cfg),
        })
    })
}

/// Test-row probabilities of a run at its final evaluation (headless `--predictions`).
#[derive(Debug, Clone)]
pub struct RunPredictions {
    pub run: RunId,
    pub generation: u64,
    pub samples: u64,
    pub probs: Vec<f32>,
}

/// How the engine runs beyond the configuration.
#[derive(Clone)]
pub struct EngineOptions {
    /// Optimizer steps (batches) per run, then the run finishes; `None` = no limit.
    pub max_steps: Option<u64>,
    /// Passes over the training data per run; `None` = no limit (files restart at the top).
    pub max_epochs: Option<u64>,
    /// End the engine (and the event stream) when every run has finished or failed.
    pub exit_when_done: bool,
    /// Extra MEM-REC configurations, run as `memrec-2`, `memrec-3`, ...
    pub extra_compressed: Vec<Config>,
    /// Where final test-row probabilities go, if anyone wants them.
    pub predictions: Option<Sender<RunPredictions>>,
    /// Send the probabilities of every evaluation to `predictions`, not only the final ones.
    pub predictions_every_eval: bool,
    /// Samples at which every run also evaluates (sweep checkpoints), besides the schedule.
    pub eval_at: Vec<u64>,
    pub reps: RepBuilder,
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("max_steps", &self.max_steps)
            .field("max_epochs", &self.max_epochs)
            .field("exit_when_done", &self.exit_when_done)
            .field("extra_compressed", &self.extra_compressed.len())
            .field("predictions", &self.predictions.is_some())
            .field("eval_at", &self.eval_at)
            .finish_non_exhaustive()
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_steps: None,
            max_epochs: None,
            exit_when_done: false,
            extra_compressed: Vec::new(),
            predictions: None,
            predictions_every_eval: false,
            eval_at: Vec::new(),
            reps: default_reps(),
        }
    }
}
