//! `sweep`: trains a grid of MEM-REC configurations headless on the same data, seed and batches,
//! compares each with one shared baseline, and writes a report (CSV, JSON, Markdown, an SVG of
//! ΔAUC against bytes with the Pareto front). Resumable: every finished point is appended to
//! `points.jsonl` at once, and a re-run skips the points already there.
//!
//! How runs are laid out: the engine always schedules a baseline and a MEM-REC run; the sweep
//! gives it a representation builder that declines the side it does not want, so the baseline is
//! trained once per sweep (its own engine, all threads) and each point trains only its MEM-REC
//! run. ΔAUC and its DeLong interval are computed here from the point's and the baseline's final
//! test-row probabilities (`EngineOptions::predictions`), on the same rows; the baseline's are kept
//! in `baseline.predictions` for points run by a later, resumed sweep.
//!
//! Owns: the grid, scheduling of points over `--jobs` engines, the sweep directory and the report.
//! Must never: train by itself (it drives `train::engine::Engine`), mix results of two base
//! configurations, or print anything but results on stdout (progress goes to stderr).
//!
//! Cancellation (SIGINT or SIGTERM through `crate::signals`): the points in progress stop at their
//! next step and, like the points not started, are not stored (a re-run trains them); the report
//! is written for the points finished, the others listed as `cancelled`.

pub mod grid;
pub mod pareto;
pub mod report;
mod run;
pub mod store;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::anyhow;

use crate::cli::{CliError, ConfigArgs, SweepArgs};
use crate::config::Config;
use crate::data::DataError;
use crate::train::engine::EngineError;

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
}

impl SweepSpec {
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
    /// Every point of the grid, in grid order.
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

fn data_error(e: DataError) -> CliError {
    CliError::data(e)
}

/// Name of the sweep's starting point, for titles and the default directory.
fn title_of(config: &ConfigArgs) -> String {
    match (&config.config, &config.preset) {
        (Some(path), _) => Path::new(path)
            .file_stem()
            .map_or("config".into(), |s| s.to_string_lossy().into_owned()),
        (None, Some(p)) => Path::new(p)
            .file_stem()
            .map_or(p.clone(), |s| s.to_string_lossy().into_owned()),
        (None, None) => "kaggle".into(),
    }
}

/// `memrec-tui sweep`.
pub fn run_cli(config: &ConfigArgs, args: &SweepArgs, json: bool) -> Result<(), CliError> {
    let cfg = config.resolve()?;
    let budget = match (args.steps, args.epochs) {
        (Some(s), None) => Budget::Steps(s),
        (None, Some(e)) => Budget::Epochs(e),
        (None, None) => {
            return Err(CliError::usage(anyhow!(
                "sweep needs a budget per point: --steps N (optimizer steps, i.e. batches) or --epochs E (passes over --data)"
            )));
        }
        (Some(_), Some(_)) => {
            return Err(CliError::usage(anyhow!(
                "--steps and --epochs cannot be combined"
            )));
        }
    };
    let title = title_of(config);
    let jobs = args.jobs.unwrap_or_else(|| cfg.effective_threads());
    let usage_or_runtime = |e: SweepError| {
        if let SweepError::Interrupted(signal) = e {
            CliError::Interrupted(signal)
        } else if e.is_usage() {
            CliError::usage(e)
        } else {
            CliError::runtime(e)
        }
    };
    let mut spec = SweepSpec::new(cfg, &args.grid, budget, PathBuf::new(), jobs, &title)
        .map_err(usage_or_runtime)?;
    spec.out = match &args.out {
        Some(d) => d.clone(),
        None => SweepSpec::default_dir(&spec.base, budget, &spec.grid, &title),
    };
    // Before the data is read or anything trained.
    store::check_dir(&spec.out).map_err(CliError::usage)?;
    let source = crate::data::open_for_training(&spec.base).map_err(data_error)?;
    let stderr = std::io::stderr();
    let tty = stderr.is_terminal();
    let signals =
        crate::signals::Listener::start(&[crate::signals::SIGINT, crate::signals::SIGTERM], true)
            .map_err(|e| CliError::runtime(anyhow!("cannot listen for signals: {e}")))?;
    let result = run_sweep_cancellable(
        &spec,
        source,
        crate::train::engine::default_reps(),
        &mut stderr.lock(),
        tty,
        &signals.cancel(),
    )
    .map_err(usage_or_runtime)?;
    let io = |e: std::io::Error| CliError::runtime(anyhow!("cannot write results: {e}"));
    let mut out = std::io::stdout().lock();
    if json {
        let tagged = |kind: &str, r: &PointRecord| {
            let mut v = serde_json::to_value(r).unwrap_or(serde_json::Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("type".into(), kind.into());
            }
            v
        };
        writeln!(out, "{}", tagged("baseline", &result.baseline)).map_err(io)?;
        for p in &result.points {
            writeln!(out, "{}", tagged("point", p)).map_err(io)?;
        }
    } else {
        let md = std::fs::read_to_string(spec.out.join("summary.md")).map_err(io)?;
        write!(out, "{md}").map_err(io)?;
    }
    out.flush().map_err(io)?;
    eprintln!(
        "sweep {}: {} point(s) run now, {} reused; wrote {}",
        spec.out.display(),
        result.ran,
        result.reused,
        result
            .files
            .iter()
            .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(signal) = result.interrupted {
        let cancelled = result
            .points
            .iter()
            .filter(|p| p.status == report::CANCELLED)
            .count();
        eprintln!(
            "sweep {}: {} point(s) cancelled by {}, not stored: re-run the same command to train them",
            spec.out.display(),
            cancelled,
            crate::signals::name(signal)
        );
        return Err(CliError::Interrupted(signal));
    }
    if let Some((key, why)) = result.not_started.first() {
        return Err(CliError::runtime(anyhow!(
            "{} point(s) could not start (not stored; a re-run tries them again), e.g. {key}: {why}",
            result.not_started.len()
        )));
    }
    Ok(())
}
