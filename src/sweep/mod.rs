//! `sweep`: trains a grid of MEM-REC configurations headless on the same data, seed and batches,
//! compares each with one shared baseline, and writes a report (CSV, JSON, Markdown, an SVG of
//! ΔAUC against bytes with the Pareto front). Resumable: every finished point is appended to
//! `points.jsonl` at once, and a re-run skips the points already there.
//!
//! How runs are laid out: the engine always schedules a baseline and a MEM-REC run; the sweep
//! gives it a representation builder that declines the side it does not want, so the baseline is
//! trained once per sweep (its own engine, all threads) and each point trains only its MEM-REC
//! run. ΔAUC and its DeLong interval are computed here from the point's and the baseline's
//! test-row probabilities at every evaluation (`EngineOptions::predictions_every_eval`; the
//! `--checkpoints` are extra evaluation points, `EngineOptions::eval_at`), always at equal samples
//! on the same rows; the baseline's are kept in `baseline.evals` (and its final ones in
//! `baseline.predictions`) for points run by a later, resumed sweep. Each point keeps its whole
//! curve in `points.jsonl`. Before the points train, the lookup latency of each distinct
//! representation is measured with `bench`'s probe at the sweep's thread count. The review
//! (`review`: the front at each checkpoint, convergence, budgets) and the report (`report`,
//! `plots`, `output`: provenance and `best.ron`) cover every point of the folder.
//!
//! Owns: the grid, scheduling of points over `--jobs` engines, the sweep directory and the report.
//! Must never: train by itself (it drives `train::engine::Engine`), mix results of two base
//! configurations, or print anything but results on stdout (progress goes to stderr).
//!
//! On a cluster (`plan`, `task`, `slurm`, `estimate`): the same points as one job array, each task
//! writing its own file under `points/`, merged into the same report afterwards.
//!
//! Cancellation (SIGINT or SIGTERM through `crate::signals`): the points in progress stop at their
//! next step and, like the points not started, are not stored (a re-run trains them); the report
//! is written for the points finished, the others listed as `cancelled`.

pub mod duel;
pub mod estimate;
pub mod grid;
mod input;
mod output;
pub mod pareto;
pub mod plan;
mod plots;
pub mod predictions;
pub mod report;
pub mod review;
mod run;
pub mod slurm;
pub mod store;
pub mod task;

use std::path::PathBuf;

use std::sync::Arc;

use crate::config::Config;
use crate::train::engine::EngineError;
use crate::train::latency::Stop;
use crate::train::protocol::LatencyReport;
use crate::util::provenance::Provenance;

/// Measures the lookup latency of a configuration's representation (the CLI passes
/// `train::latency::measure_until`, `bench`'s kernel and set-up; tests pass a double). It asks
/// its `Stop` between timed batches and gives up (an error) once it says so.
pub type LatencyProbe = Arc<dyn Fn(&Config, &Stop) -> Result<LatencyReport, String> + Send + Sync>;

/// Rounds of the sweep's latency probe: the kernel's batches then the gather's, alternating, so
/// each round gives a ratio measured at the same moments (the summary shows their range).
pub const PROBE_ROUNDS: usize = 3;

/// The probe of `bench` (its kernel and set-up), in `PROBE_ROUNDS` rounds.
pub fn bench_latency() -> LatencyProbe {
    Arc::new(|cfg: &Config, stop: &Stop| {
        crate::train::latency::measure_rounds(cfg, PROBE_ROUNDS, stop).map_err(|e| e.to_string())
    })
}

pub use grid::{Grid, GridError, Point};
pub use run::{run_sweep, run_sweep_cancellable};
pub use store::{PointRecord, Store, StoreError};

/// What the declined side of an engine reports (and the sweep ignores).
const NOT_IN_SWEEP: &str = "not part of this sweep engine";

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Grid(#[from] GridError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Usage(String),
    #[error("data: {0}")]
    Data(String),
    #[error("the baseline run failed: {0}")]
    Baseline(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A Slurm command failed (`sweep --slurm`, `sweep status`).
    #[error("slurm: {0}")]
    Slurm(String),
    /// A signal stopped the sweep before anything could be reported (during the baseline).
    #[error("interrupted by {}", crate::signals::name(*.0))]
    Interrupted(i32),
}

impl SweepError {
    /// Errors of the command line or configuration (exit 2) rather than of the run (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            SweepError::Grid(_)
                | SweepError::Usage(_)
                | SweepError::Store(StoreError::OtherBase { .. })
                | SweepError::Store(StoreError::BadManifest { .. })
                | SweepError::Store(StoreError::NotADirectory { .. })
                | SweepError::Store(StoreError::NotASweep { .. })
        )
    }
}

/// The training budget of every run of a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Steps(u64),
    Epochs(u64),
}

impl Budget {
    /// Part of the base hash: two budgets never share points.
    pub fn label(&self) -> String {
        match self {
            Budget::Steps(n) => format!("steps={n}"),
            Budget::Epochs(n) => format!("epochs={n}"),
        }
    }
    pub fn describe(&self) -> String {
        match self {
            Budget::Steps(n) => format!("{n} steps"),
            Budget::Epochs(n) => format!("{n} epochs"),
        }
    }
}

/// A sweep to run.
pub struct SweepSpec {
    pub base: Config,
    pub grid: Grid,
    pub points: Vec<Point>,
    pub budget: Budget,
    pub out: PathBuf,
    /// Engines at once; each gets `base.effective_threads() / jobs` threads (at least 1).
    pub jobs: usize,
    /// Preset or configuration file name, for titles and the default directory.
    pub title: String,
    /// Samples at which every run also evaluates and the report compares the points
    /// (`--checkpoints`); `None`: every evaluation the baseline reaches.
    pub checkpoints: Option<Vec<u64>>,
    /// Budgets of the review (`--max-bytes` on table parameter bytes, `--max-ns` on ns per
    /// looked-up token): the summary names the best point within both.
    pub max_bytes: Option<u64>,
    pub max_ns: Option<f64>,
    /// Latency of each point's representation, measured before the points train, at the
    /// sweep's thread count; `None`: not measured (the report says so).
    pub latency: Option<LatencyProbe>,
    /// Command line and program of the summary's provenance (the data, machine and budget are
    /// filled in by the run); default: this process's.
    pub provenance: Provenance,
}

impl SweepSpec {
    /// The review of a sweep, local or planned: the checkpoints (`None`: every evaluation of
    /// the baseline), the budgets (table bytes, ns per token) and whether to measure latency
    /// (with `bench`'s probe).
    pub fn set_review(
        &mut self,
        checkpoints: Option<Vec<u64>>,
        (max_bytes, max_ns): (Option<u64>, Option<f64>),
        latency: bool,
    ) {
        self.checkpoints = checkpoints;
        self.max_bytes = max_bytes;
        self.max_ns = max_ns;
        self.latency = latency.then(bench_latency);
    }

    pub fn new(
        base: Config,
        grid_spec: &str,
        budget: Budget,
        out: PathBuf,
        jobs: usize,
        title: &str,
    ) -> Result<SweepSpec, SweepError> {
        match budget {
            Budget::Steps(0) => return Err(SweepError::Usage("--steps 0: at least 1 step".into())),
            Budget::Epochs(0) => {
                return Err(SweepError::Usage("--epochs 0: at least 1 epoch".into()));
            }
            Budget::Epochs(_) if base.data.train.is_none() => {
                return Err(SweepError::Usage(
                    "--epochs needs a training file (--data FILE): the synthetic stream has no end; use --steps N".into(),
                ));
            }
            _ => {}
        }
        if jobs == 0 {
            return Err(SweepError::Usage(
                "--jobs 0: at least 1 engine at a time".into(),
            ));
        }
        let grid = Grid::parse(grid_spec, &base)?;
        let points = grid.points(&base)?;
        Ok(SweepSpec {
            base,
            grid,
            points,
            budget,
            out,
            jobs,
            title: title.to_string(),
            checkpoints: None,
            max_bytes: None,
            max_ns: None,
            latency: None,
            provenance: Provenance {
                program: crate::util::provenance::program(),
                command: crate::util::provenance::command_line(),
                ..Provenance::default()
            },
        })
    }

    /// `sweep-<title>-<hash of base configuration, budget and grid>`.
    pub fn default_dir(base: &Config, budget: Budget, grid: &Grid, title: &str) -> PathBuf {
        let mut text = store::base_hash(base, &budget.label());
        for (i, block) in grid.blocks.iter().enumerate() {
            if i > 0 {
                text.push('|');
            }
            for a in block {
                text.push_str(&format!(";{}={}", a.path, a.values.join(",")));
            }
        }
        let h = xxhash_rust::xxh3::xxh3_64(text.as_bytes());
        let safe: String = title
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        PathBuf::from(format!("sweep-{safe}-{:08x}", h as u32))
    }
}

/// The outcome of a sweep.
#[derive(Debug)]
pub struct SweepResult {
    pub baseline: PointRecord,
    /// Every point of the grid, in grid order, then the folder's other points (from earlier
    /// runs of another grid) in file order.
    pub points: Vec<PointRecord>,
    /// Points trained by this invocation, and points read back from `points.jsonl`.
    pub ran: usize,
    pub reused: usize,
    /// Points whose run could not start (not stored: tried again next time), with the reason.
    pub not_started: Vec<(String, String)>,
    /// The report files written.
    pub files: Vec<PathBuf>,
    /// The signal that cancelled points of this invocation (listed as `cancelled`, not stored).
    pub interrupted: Option<i32>,
}
