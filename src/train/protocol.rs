//! Owned report types that cross from the engine to its front ends (TUI, `--headless --json`,
//! `bench`). Plain data, serde-serialisable, no behaviour: the contract between the two sides.
//! Must never: hold references into engine state, or ratatui types.

use serde::Serialize;

use crate::embedding::TableInfo;

/// Lives with the representations that compute it (front ends import it from there).
use crate::embedding::collisions::FeatureCollisions;

/// Identifies a run within a session: `baseline`, `memrec`, `memrec-2`, ...
pub type RunName = String;

/// One evaluation of one run on the session's test rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalPoint {
    pub run: RunName,
    /// Generation of the run (bumped each time the run restarts with new knobs).
    pub generation: u64,
    /// Training samples seen when evaluated.
    pub samples: u64,
    pub auc: f64,
    pub auc_lo: f64,
    pub auc_hi: f64,
    pub logloss: f64,
    /// Mean predicted probability on the test rows (calibration against `click_rate`).
    pub mean_prediction: f64,
    /// Observed click rate of the test rows.
    pub click_rate: f64,
    /// Training throughput since the previous evaluation.
    pub samples_per_s: f64,
    /// AUC of the true probabilities (synthetic data only).
    pub oracle_auc: Option<f64>,
    /// AUC minus the baseline's at the same number of samples, on the same rows, with a DeLong 95% interval.
    pub delta_auc: Option<DeltaAuc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DeltaAuc {
    pub delta: f64,
    pub lo: f64,
    pub hi: f64,
}

/// Lookup latency of the fused MEM-REC kernel against the uncompressed gather at full size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyReport {
    pub memrec_ns_per_token: f64,
    pub memrec_p99_ns: f64,
    pub full_ns_per_token: f64,
    pub full_p99_ns: f64,
    pub speedup: f64,
    pub memrec_bytes: u64,
    pub full_bytes: u64,
    /// False when the full tables could not be allocated and the gather ran on a smaller table.
    pub full_measured_at_full_size: bool,
    pub threads: usize,
    pub batch: usize,
    pub batches: usize,
    /// Cache level each side fits in, read from the machine (`L1`, `L2`, `L3`, `DRAM`).
    pub memrec_fits: String,
    pub full_fits: String,
}

/// Final line of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub run: RunName,
    pub representation: String,
    pub samples: u64,
    pub steps: u64,
    pub auc: f64,
    pub auc_lo: f64,
    pub auc_hi: f64,
    pub logloss: f64,
    pub oracle_auc: Option<f64>,
    pub delta_auc: Option<DeltaAuc>,
    pub table_bytes: u64,
    pub optimizer_bytes: u64,
    pub tables: Vec<TableInfo>,
    /// Uncompressed tables at the full dataset's cardinalities divided by this run's tables.
    pub compression_full: f64,
    /// Uncompressed tables over the vocabulary actually seen divided by this run's tables.
    pub compression_loaded: f64,
    pub samples_per_s: f64,
    /// `ok`, `cancelled`, or the reason the run stopped (e.g. divergence).
    pub status: String,
}

/// Commands from a front end to the training engine (`train::engine`).
#[derive(Debug, Clone)]
pub enum EngineCommand {
    /// Cancel the MEM-REC run and start a new generation from sample 0 with this configuration
    /// (its `memrec`, `model` and `train` sections); the baseline keeps training.
    RestartMemrec(Box<crate::config::Config>),
    /// Restart every run from sample 0.
    RestartAll,
    /// Pause (true) or resume (false) training; a paused engine uses no CPU.
    Pause(bool),
    /// Measure lookup latency for this configuration (training pauses while it runs).
    MeasureLatency(Box<crate::config::Config>),
    /// Stop every worker and end the event stream.
    Shutdown,
}

/// Events from the training engine, as owned snapshots.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    /// The data source is ready.
    DataReady {
        label: String,
        synthetic: bool,
        test_rows: u64,
        bad_lines: crate::data::BadLines,
    },
    /// A run (re)started; its tables as allocated.
    RunStarted {
        run: RunName,
        generation: u64,
        representation: String,
        tables: Vec<TableInfo>,
        compression_full: f64,
    },
    /// Training progress, at most a few times per second per run.
    Progress {
        run: RunName,
        generation: u64,
        samples: u64,
        steps: u64,
        samples_per_s: f64,
        train_loss: f64,
        /// Distinct tokens seen so far (all features): the loaded vocabulary.
        distinct_tokens: u64,
        /// Bytes of uncompressed tables over the loaded vocabulary (`4 d distinct`).
        loaded_uncompressed_bytes: u64,
    },
    Eval(EvalPoint),
    Collisions {
        run: RunName,
        generation: u64,
        features: Vec<FeatureCollisions>,
    },
    Latency(LatencyReport),
    LatencyFailed {
        message: String,
    },
    /// A run stopped with an error (divergence, NaN, data error); the others continue.
    RunFailed {
        run: RunName,
        generation: u64,
        message: String,
    },
    /// A run reached its step budget (headless) or was cancelled.
    Finished(RunSummary),
    /// Bad lines skipped so far, when the count changes.
    DataIssues(crate::data::BadLines),
}
