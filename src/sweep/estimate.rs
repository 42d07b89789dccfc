//! What a point will cost before it runs (`sweep ... --plan`, and the `--mem`/`--time` of the
//! Slurm scripts): its memory computed from the configuration (tables, optimizer state, the
//! model, the data held in memory), and its time from a few seconds of calibration training on
//! this machine (training throughput, start-up and evaluation time, all measured).
//!
//! Owns: the memory formulas and the calibration. Must never: store anything, or present a
//! figure it did not compute or measure.

use std::sync::Arc;
use std::time::Duration;

use super::run::run_single;
use super::{Budget, SweepError};
use crate::config::{BaselineKind, Config, Method, Optimizer};
use crate::data::{DataSource, NUM_CAT};
use crate::model::{Dlrm, Interaction};
use crate::signals::Cancel;
use crate::train::engine::{RepBuilder, RunKind, first_eval_samples, next_eval_samples};
use crate::train::protocol::RunStatus;

/// Bytes one parsed row takes in memory (`data::Batch`: 13 dense f32, 26 u64 keys, the label),
/// plus the true click probability synthetic rows carry.
const ROW_BYTES: u64 = 13 * 4 + NUM_CAT as u64 * 8 + 4 + 4;
/// What a process needs beyond its data structures (binary, thread stacks, allocator slack).
pub const PROCESS_BYTES: u64 = 256 << 20;

/// Memory of one run (one side of one point), by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Memory {
    /// Embedding tables (an uncompressed baseline: its largest vocabulary, with the growth slack
    /// of its row buffer and its index).
    pub tables: u64,
    /// Row-wise Adagrad accumulators of the tables (0 with SGD).
    pub optimizer: u64,
    /// MLP parameters, their gradient, transposed copy and optimizer state, and a batch's
    /// activations.
    pub model: u64,
    /// Test rows, their predictions, and the parsed training rows a small file keeps.
    pub data: u64,
}

impl Memory {
    pub fn total(&self) -> u64 {
        self.tables + self.optimizer + self.model + self.data
    }
    /// What to ask the scheduler for: the total plus a quarter, plus `PROCESS_BYTES`.
    pub fn request(&self) -> u64 {
        self.total() + self.total() / 4 + PROCESS_BYTES
    }
}

/// Distinct values each feature can show: the synthetic stream's scaled vocabularies, or the
/// full dataset's cardinalities for files.
fn vocabularies(cfg: &Config) -> Vec<u64> {
    if cfg.data.train.is_none() {
        crate::data::synthetic::scaled_cardinalities(
            &cfg.data.cardinalities,
            cfg.data.synthetic.cardinality_scale,
        )
    } else {
        cfg.data.cardinalities.clone()
    }
}

/// (table bytes, accumulator rows) of `kind`'s representation for `cfg`.
fn tables_of(cfg: &Config, kind: RunKind) -> (u64, u64) {
    let dim = cfg.model.dim.max(1) as u64;
    let per_feature = |rows: u64| -> u64 {
        cfg.data
            .cardinalities
            .iter()
            .map(|&v| v.min(rows).max(1))
            .sum()
    };
    match kind {
        RunKind::Baseline => match cfg.baseline.kind {
            BaselineKind::Uncompressed => {
                // One row per value seen and an out-of-vocabulary row per feature, in a buffer
                // that doubles as it grows; the index keeps a 16-byte slot per value at a load
                // of at most 3/4, doubling too.
                let rows = vocabularies(cfg).iter().sum::<u64>() + NUM_CAT as u64;
                let index = 16 * (4 * rows / 3).next_power_of_two();
                (2 * 4 * dim * rows + 2 * index, 2 * rows)
            }
            BaselineKind::Hashing => {
                let rows = per_feature(cfg.baseline.hash_rows as u64);
                (4 * dim * rows, rows)
            }
        },
        RunKind::Compressed => {
            let bytes = cfg.compressed_param_bytes();
            let r = &cfg.memrec;
            let rows = match r.method {
                Method::Memrec => r.token_rows as u64 + r.weight_rows as u64,
                Method::Hashing | Method::Qr => bytes / (4 * dim),
                Method::RobeZ => r.robe_size as u64 / dim,
            };
            (bytes, rows)
        }
    }
}

/// The memory of `kind`'s run of `cfg`, holding `test_rows` test rows (as the data source holds
/// them). An upper bound of what the run allocates: tables at their full size (an uncompressed
/// baseline at its whole vocabulary), the model with the widest interaction.
pub fn memory_of(cfg: &Config, kind: RunKind, test_rows: u64) -> Memory {
    let (tables, acc_rows) = tables_of(cfg, kind);
    let optimizer = match cfg.train.optimizer {
        Optimizer::Adagrad => 4 * acc_rows,
        Optimizer::Sgd => 0,
    };
    let inter = Interaction::Dot { features: NUM_CAT };
    let model = Dlrm::new(&cfg.model, inter, cfg.train.optimizer, cfg.seed).map_or(0, |m| {
        // Parameters (and Adagrad's state), then the gradient and the transposed weights.
        m.param_bytes() + 8 * m.num_params() as u64
    });
    let widths: u64 = cfg
        .model
        .bottom_mlp
        .iter()
        .chain(&cfg.model.top_mlp)
        .map(|&w| w as u64)
        .sum::<u64>()
        + inter.out_width(cfg.model.dim) as u64
        + NUM_CAT as u64 * cfg.model.dim as u64;
    // Forward and backward activations of a batch, and the batch's rows.
    let batch = cfg.train.batch as u64 * (2 * 4 * widths + ROW_BYTES);
    // Test rows, and three copies of their predictions (the run's last, the one sent out, the
    // baseline's read back); a file small enough is kept parsed in memory.
    let mut data = test_rows * (ROW_BYTES + 12);
    if cfg.data.train.is_some() {
        data += crate::data::criteo::TRAIN_CACHE_BYTES as u64;
    }
    Memory {
        tables,
        optimizer,
        model: model + batch,
        data,
    }
}

/// What calibration measured of one run on this machine.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Speed {
    /// Training samples per second (the engine's own count: steps only).
    pub samples_per_s: f64,
    /// Seconds from the start of a run to its first step (building the tables, the model).
    pub startup_s: f64,
    /// Seconds of one evaluation on the test rows.
    pub eval_s: f64,
    /// Table and optimizer bytes the run reported (its tables as allocated).
    pub table_bytes: u64,
    pub optimizer_bytes: u64,
    pub threads: usize,
    /// Calibration samples trained.
    pub samples: u64,
}

/// Evaluations a run of `samples` makes: the engine's schedule, then the final one.
pub fn evaluations(cfg: &Config, samples: u64) -> u64 {
    let every = cfg.eval.every_samples.max(1);
    let mut at = first_eval_samples(every);
    let mut n = 0;
    while at <= samples {
        n += 1;
        at = next_eval_samples(at, every);
    }
    // The final evaluation, unless one fell on the last sample.
    n + u64::from(!evaluated_at(every, samples))
}

fn evaluated_at(every: u64, samples: u64) -> bool {
    let mut at = first_eval_samples(every);
    while at < samples {
        at = next_eval_samples(at, every);
    }
    at == samples
}

impl Speed {
    /// Seconds per million training samples, evaluations included at the run's schedule (past
    /// its warm-up: one every `eval.every_samples`).
    pub fn seconds_per_million(&self, cfg: &Config) -> f64 {
        let every = cfg.eval.every_samples.max(1) as f64;
        1e6 / self.samples_per_s + 1e6 / every * self.eval_s
    }
    /// Seconds of a whole run of `samples` samples.
    pub fn run_seconds(&self, cfg: &Config, samples: u64) -> f64 {
        self.startup_s
            + samples as f64 / self.samples_per_s
            + evaluations(cfg, samples) as f64 * self.eval_s
    }
}

/// Samples a run of `budget` trains, if known: steps times the batch, or epochs times the rows
/// of a training file kept in memory (a streamed file's rows are not counted here).
pub fn budget_samples(cfg: &Config, budget: Budget, source: &dyn DataSource) -> Option<u64> {
    match budget {
        Budget::Steps(n) => Some(n * cfg.train.batch as u64),
        Budget::Epochs(e) => source.train_keys().map(|k| e * (k.len() / NUM_CAT) as u64),
    }
}

/// Train `kind`'s run of `cfg` (with `threads`) for about `seconds`, then one step: the first
/// gives the throughput, the two together the start-up and evaluation times.
pub fn calibrate(
    cfg: &Config,
    kind: RunKind,
    source: &Arc<dyn DataSource>,
    reps: &RepBuilder,
    threads: usize,
    seconds: f64,
) -> Result<Speed, SweepError> {
    let mut cfg = cfg.clone();
    cfg.threads = threads.max(1);
    let (canceller, cancel) = Cancel::pair();
    let timer = {
        let wait = Duration::from_secs_f64(seconds.max(0.05));
        std::thread::spawn(move || {
            std::thread::sleep(wait);
            canceller.cancel(crate::signals::SIGTERM);
        })
    };
    let long = run_single(
        cfg.clone(),
        kind,
        Arc::clone(source),
        reps,
        Budget::Steps(u64::MAX / 2),
        |_| {},
        &cancel,
    )?;
    let _ = timer.join();
    let s = checked(long.summary, long.data_error, long.not_started, &cfg)?;
    if s.samples == 0 || s.samples_per_s.is_nan() || s.samples_per_s <= 0.0 {
        return Err(SweepError::Usage(format!(
            "calibration of {} trained no samples in {seconds} s; give --plan-seconds more time",
            cfg.compressed_knobs()
        )));
    }
    let short = run_single(
        cfg.clone(),
        kind,
        Arc::clone(source),
        reps,
        Budget::Steps(1),
        |_| {},
        &Cancel::never(),
    )?;
    let one = checked(short.summary, short.data_error, short.not_started, &cfg)?;
    let sps = s.samples_per_s;
    // Overhead beyond training: start-up plus n evaluations, in each run (the long one was
    // cancelled: no final evaluation).
    let over_long = (long.seconds - s.samples as f64 / sps).max(0.0);
    let over_short = (short.seconds - one.samples as f64 / sps).max(0.0);
    let n_long = evaluations(&cfg, s.samples).saturating_sub(1) as f64;
    let n_short = evaluations(&cfg, one.samples) as f64;
    let (startup_s, eval_s) = if n_long > n_short {
        let e = ((over_long - over_short) / (n_long - n_short)).max(0.0);
        ((over_short - n_short * e).max(0.0), e)
    } else {
        // Both runs evaluated as often: the short run's overhead is start-up and its evaluation,
        // split by the long run's (start-up and n_long evaluations).
        let e = if n_short > n_long {
            ((over_short - over_long) / (n_short - n_long)).max(0.0)
        } else {
            0.0
        };
        ((over_short - n_short * e).max(0.0), e)
    };
    Ok(Speed {
        samples_per_s: sps,
        startup_s,
        eval_s,
        table_bytes: s.table_bytes,
        optimizer_bytes: s.optimizer_bytes,
        threads: cfg.threads,
        samples: s.samples,
    })
}

fn checked(
    summary: Option<crate::train::protocol::RunSummary>,
    data_error: Option<String>,
    not_started: Option<String>,
    cfg: &Config,
) -> Result<crate::train::protocol::RunSummary, SweepError> {
    if let Some(m) = data_error {
        return Err(SweepError::Data(m));
    }
    if let Some(m) = not_started {
        return Err(SweepError::Usage(format!(
            "{}: cannot start: {m}",
            cfg.compressed_knobs()
        )));
    }
    let s =
        summary.ok_or_else(|| SweepError::Usage("calibration ended without a summary".into()))?;
    match &s.status {
        RunStatus::Ok | RunStatus::Cancelled => Ok(s),
        other => Err(SweepError::Usage(format!(
            "calibration of {} failed: {other}",
            cfg.compressed_knobs()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluations_follow_the_engine_schedule_and_add_the_final_one() {
        let mut cfg = Config::from_preset("tiny").unwrap();
        cfg.eval.every_samples = 800; // first at 100, then 200, 400, 800, 1600, 2400, ...
        assert_eq!(evaluations(&cfg, 50), 1);
        assert_eq!(evaluations(&cfg, 100), 1);
        assert_eq!(evaluations(&cfg, 150), 2);
        assert_eq!(evaluations(&cfg, 2400), 6);
        assert_eq!(evaluations(&cfg, 2500), 7);
    }

    #[test]
    fn memory_covers_what_the_tables_report_and_grows_with_them() {
        let mut cfg = Config::from_preset("tiny").unwrap();
        cfg.train.optimizer = Optimizer::Adagrad;
        let small = memory_of(&cfg, RunKind::Compressed, 5000);
        assert_eq!(small.tables, cfg.compressed_param_bytes());
        assert_eq!(
            small.optimizer,
            4 * (cfg.memrec.token_rows + cfg.memrec.weight_rows) as u64
        );
        assert_eq!(small.data, 5000 * (ROW_BYTES + 12));
        cfg.memrec.token_rows *= 4;
        let big = memory_of(&cfg, RunKind::Compressed, 5000);
        assert!(big.tables > small.tables && big.request() > small.request());
        // The uncompressed baseline on synthetic data: the scaled vocabularies, not the full.
        let b = memory_of(&cfg, RunKind::Baseline, 5000);
        let v: u64 = crate::data::synthetic::scaled_cardinalities(
            &cfg.data.cardinalities,
            cfg.data.synthetic.cardinality_scale,
        )
        .iter()
        .sum();
        assert!(b.tables >= 4 * cfg.model.dim as u64 * v);
        assert!(b.tables < 4 * cfg.model.dim as u64 * cfg.data.cardinalities.iter().sum::<u64>());
    }
}
