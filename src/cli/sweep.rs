//! `memrec-tui sweep`: the budget and directory from the command line, the signal listener, the
//! run (`sweep::run_sweep_cancellable`), then the results on stdout (the summary table, or one
//! JSON line per point with `--json`) and what was written on stderr.
//!
//! Owns: the command's arguments and printing. Must never: train or write the sweep's files
//! itself (`sweep` does).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::anyhow;

use super::{CliError, ConfigArgs, SweepArgs};
use crate::sweep::{Budget, PointRecord, SweepSpec, run_sweep_cancellable, store};
use crate::train::protocol::RunStatus;

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
    if let Some(r) = super::sweep_cluster::dispatch(config, args, json, &title_of(config)) {
        return r;
    }
    let grid = args
        .grid
        .as_deref()
        .ok_or_else(|| CliError::usage(anyhow!("sweep needs --grid SPEC (see --help)")))?;
    let cfg = config.resolve()?;
    super::check_data(&cfg)?;
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
    let mut spec = SweepSpec::new(cfg, grid, budget, PathBuf::new(), jobs, &title)?;
    spec.out = match &args.out {
        Some(d) => d.clone(),
        None => SweepSpec::default_dir(&spec.base, budget, &spec.grid, &title),
    };
    // Before the data is read or anything trained.
    super::sweep_cluster::refuse_plan_dir(&spec.out)?;
    store::check_dir(&spec.out).map_err(CliError::usage)?;
    let source =
        crate::data::open_for_training(&spec.base.data_options()).map_err(CliError::data)?;
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
    )?;
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
            .filter(|p| p.status == RunStatus::Cancelled)
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
