//! Owned report types that cross from the engine to its front ends (TUI, `--headless --json`,
//! `bench`). Plain data, serde-serialisable, no behaviour: the contract between the two sides.
//! Must never: hold references into engine state, or ratatui types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::embedding::TableInfo;

/// Lives with the representations that compute it (front ends import it from there).
use crate::embedding::collisions::FeatureCollisions;

/// Which side of the comparison a run is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RunKind {
    /// The reference the others are measured against (`baseline.kind`).
    Baseline,
    /// A run of the compressed representation (`memrec.method`, whichever method it is).
    Compressed,
}

/// Identifies a run within a session: its side and its slot (1 for the run the explorer
/// drives, 2, 3, ... for headless extras). Written as `baseline`, `memrec`, `memrec-2`, ...:
/// the names the JSON output has always used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId {
    pub kind: RunKind,
    pub slot: u32,
}

impl RunId {
    pub const BASELINE: RunId = RunId {
        kind: RunKind::Baseline,
        slot: 1,
    };
    /// The compressed run the explorer drives (and restarts).
    pub const COMPRESSED: RunId = RunId {
        kind: RunKind::Compressed,
        slot: 1,
    };

    /// The compressed run in `slot` (1 = `memrec`, 2 = `memrec-2`, ...).
    pub fn compressed(slot: u32) -> RunId {
        RunId {
            kind: RunKind::Compressed,
            slot,
        }
    }

    pub fn is_baseline(self) -> bool {
        self.kind == RunKind::Baseline
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stem = match self.kind {
            RunKind::Baseline => "baseline",
            // The JSON value users parse; the run may hold any compressed method.
            RunKind::Compressed => "memrec",
        };
        // `pad` keeps width and alignment (`{:<10}` in the headless table).
        if self.slot == 1 {
            f.pad(stem)
        } else {
            f.pad(&format!("{stem}-{}", self.slot))
        }
    }
}

/// A name that is no run of a session (e.g. `data`, or `memrec-0`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` names no run: expected baseline, memrec or memrec-N (N >= 2)")]
pub struct BadRunId(pub String);

impl FromStr for RunId {
    type Err = BadRunId;
    fn from_str(s: &str) -> Result<RunId, BadRunId> {
        let bad = || BadRunId(s.to_string());
        let (stem, slot) = match s.split_once('-') {
            None => (s, 1),
            Some((stem, n)) => (stem, n.parse::<u32>().map_err(|_| bad())?),
        };
        let kind = match stem {
            "baseline" => RunKind::Baseline,
            "memrec" => RunKind::Compressed,
            _ => return Err(bad()),
        };
        let id = RunId { kind, slot };
        // Only the canonical spelling names a run (`memrec-1`, `memrec-02` do not).
        if slot >= 1 && id.to_string() == s {
            Ok(id)
        } else {
            Err(bad())
        }
    }
}

impl Serialize for RunId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RunId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RunId, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How a run ended. Written as `ok`, `cancelled`, or the reason it failed (the strings the
/// JSON output and sweep files have always held).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RunStatus {
    /// It reached its budget.
    #[default]
    Ok,
    /// Stopped on request (a restart, a signal, shutdown) before its budget.
    Cancelled,
    /// Stopped by an error (divergence, NaN, data error); the reason.
    Failed(String),
}

impl RunStatus {
    pub fn is_ok(&self) -> bool {
        *self == RunStatus::Ok
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            RunStatus::Ok => "ok",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Failed(why) => why,
        })
    }
}

/// Reads what `Display` writes: anything but `ok` and `cancelled` is a failure's reason.
impl From<&str> for RunStatus {
    fn from(s: &str) -> RunStatus {
        match s {
            "ok" => RunStatus::Ok,
            "cancelled" => RunStatus::Cancelled,
            why => RunStatus::Failed(why.to_string()),
        }
    }
}

impl Serialize for RunStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RunStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RunStatus, D::Error> {
        Ok(RunStatus::from(String::deserialize(d)?.as_str()))
    }
}

/// One evaluation of one run on the session's test rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalPoint {
    pub run: RunId,
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

/// Lookup latency of the compressed run's fused kernel (whichever method) against the
/// uncompressed gather at full size. The JSON keeps the `memrec_` names users already parse.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyReport {
    #[serde(rename = "memrec_ns_per_token")]
    pub compressed_ns_per_token: f64,
    #[serde(rename = "memrec_p99_ns")]
    pub compressed_p99_ns: f64,
    pub full_ns_per_token: f64,
    pub full_p99_ns: f64,
    pub speedup: f64,
    #[serde(rename = "memrec_bytes")]
    pub compressed_bytes: u64,
    pub full_bytes: u64,
    /// False when the full tables could not be allocated and the gather ran on a smaller table.
    pub full_measured_at_full_size: bool,
    pub threads: usize,
    pub batch: usize,
    pub batches: usize,
    /// Cache level each side fits in, read from the machine (`L1`, `L2`, `L3`, `DRAM`).
    #[serde(rename = "memrec_fits")]
    pub compressed_fits: String,
    pub full_fits: String,
    /// The sweep's probe (`latency::measure_rounds`) alternates rounds of the kernel's batches
    /// and the gather's: the lowest and highest ratio of the kernel's median to the gather's
    /// median within one round. `None` for a one-round measurement (`bench`, the explorer).
    pub ratio_range: Option<[f64; 2]>,
}

/// Final line of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub run: RunId,
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
    pub status: RunStatus,
}

/// Commands from a front end to the training engine (`train::engine`).
#[derive(Debug, Clone)]
pub enum EngineCommand {
    /// Cancel the MEM-REC run and start a new generation from sample 0 with this configuration
    /// (its `memrec`, `model` and `train` sections); the baseline keeps training.
    RestartCompressed(Box<crate::config::Config>),
    /// Restart every run from sample 0.
    RestartAll,
    /// Pause (true) or resume (false) training; a paused engine uses no CPU.
    Pause(bool),
    /// Measure lookup latency for this configuration (training pauses while it runs).
    MeasureLatency(Box<crate::config::Config>),
    /// Look up one value of one feature in every run's representation, as it is now (the token
    /// inspector); answered by `EngineEvent::Inspected`.
    Inspect { feature: usize, pick: ValuePick },
    /// Stop every worker and end the event stream.
    Shutdown,
}

/// Which value of a feature the token inspector asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValuePick {
    /// The feature's n-th most trained-on value (0 = the most frequent).
    Frequent(usize),
    /// A value typed by the user (`None`: the feature's missing value).
    Value(Option<u32>),
    /// The feature's value in test row n (0-based).
    TestRow(usize),
}

/// One run's answer to an inspection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InspectedRun {
    pub run: RunId,
    pub generation: u64,
    /// Training samples the run has seen when inspected.
    pub samples: u64,
    pub representation: String,
    /// The rows the value reads and the vector it gets (`None` if the method cannot say).
    pub lookup: Option<crate::embedding::explain::TokenLookup>,
    /// Who else among the loaded values reads those rows.
    pub sharing: crate::embedding::explain::Sharing,
}

/// The token inspector's answer: one value, looked up in every run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inspection {
    pub feature: usize,
    pub pick: ValuePick,
    /// The value (`None`: missing) and its token key, the key every representation hashes.
    pub value: Option<u32>,
    pub key: u64,
    /// Training rows holding this value, among those trained on so far.
    pub trained: u32,
    /// The feature's most trained-on values with their training counts (for picking).
    pub frequent: Vec<(Option<u32>, u32)>,
    /// Distinct values loaded (test rows and training rows so far) that sharing is counted over,
    /// and whether some were left out at the cap.
    pub loaded_values: u64,
    pub loaded_capped: bool,
    pub runs: Vec<InspectedRun>,
    /// Why no value could be picked (e.g. a test row out of range); `runs` is then empty.
    pub error: Option<String>,
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
        run: RunId,
        generation: u64,
        representation: String,
        tables: Vec<TableInfo>,
        compression_full: f64,
    },
    /// Training progress, at most a few times per second per run.
    Progress {
        run: RunId,
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
        run: RunId,
        generation: u64,
        features: Vec<FeatureCollisions>,
    },
    Latency(LatencyReport),
    LatencyFailed {
        message: String,
    },
    /// The engine could not start any run (e.g. the test rows cannot be read); the stream ends.
    EngineFailed {
        message: String,
    },
    /// A run stopped with an error (divergence, NaN, data error); the others continue.
    RunFailed {
        run: RunId,
        generation: u64,
        message: String,
    },
    /// A run reached its step budget (headless) or was cancelled.
    Finished(RunSummary),
    /// Bad lines skipped so far, when the count changes.
    DataIssues(crate::data::BadLines),
    /// The answer to `EngineCommand::Inspect`.
    Inspected(Box<Inspection>),
    /// What a run's parameters have been trained on, at each of its evaluations.
    Exposure(Exposure),
}

/// What a run's parameters have been trained on so far: the counts behind an early lead.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exposure {
    pub run: RunId,
    pub generation: u64,
    pub samples: u64,
    /// Row updates the sparse optimizer has applied (each batch: one per distinct row it used).
    pub row_updates: u64,
    /// Parameter rows of the run's tables now (a weight or a ROBE-Z element counts as a row).
    pub rows: u64,
    /// Share of the test rows holding at least one value no training row so far held (the
    /// baseline meets it at an untrained row); `None` when values were left out at the cap.
    pub test_rows_with_untrained_value: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_written_and_read_as_the_names_json_always_held() {
        let ids = [
            (RunId::BASELINE, "baseline"),
            (RunId::COMPRESSED, "memrec"),
            (RunId::compressed(2), "memrec-2"),
            (RunId::compressed(12), "memrec-12"),
        ];
        for (id, name) in ids {
            assert_eq!(id.to_string(), name);
            assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{name}\""));
            assert_eq!(name.parse::<RunId>(), Ok(id));
            let back: RunId = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(back, id);
        }
        // Width and alignment reach the name (the headless table pads it).
        assert_eq!(format!("[{:<8}]", RunId::COMPRESSED), "[memrec  ]");
        for bad in [
            "data",
            "memrec-1",
            "memrec-0",
            "memrec-02",
            "memrec-",
            "Memrec",
            "",
        ] {
            assert!(bad.parse::<RunId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn statuses_are_written_as_ok_cancelled_or_the_reason() {
        let cases = [
            (RunStatus::Ok, "ok"),
            (RunStatus::Cancelled, "cancelled"),
            (
                RunStatus::Failed("the run diverged".into()),
                "the run diverged",
            ),
        ];
        for (status, text) in cases {
            assert_eq!(status.to_string(), text);
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{text}\"")
            );
            let back: RunStatus = serde_json::from_str(&format!("\"{text}\"")).unwrap();
            assert_eq!(back, status);
        }
    }
}
