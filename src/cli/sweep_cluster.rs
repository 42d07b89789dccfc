//! The cluster side of `memrec-tui sweep`: `--plan` (each point's memory, time per million
//! samples measured here, core-hours at the budget), `--slurm [--dry-run] [--resume]` (plan.json,
//! the batch scripts, their submission), and the subcommands `run-point`, `status` and `report`.
//!
//! Owns: these arguments, the environment a task reads (`SLURM_ARRAY_TASK_ID`,
//! `JOB_COMPLETION_INDEX`, `SLURM_CPUS_PER_TASK`, `SLURM_JOB_ID`) and the printing. Must never:
//! train, write a sweep's files or run Slurm commands itself (`sweep::{task, plan, slurm}` do).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::{CliError, ConfigArgs, SweepArgs};
use crate::config::Config;
use crate::data::DataSource;
use crate::sweep::estimate::{self, Memory, Speed};
use crate::sweep::plan::{self, Plan, Slot};
use crate::sweep::slurm::{self, SlurmOptions, State, Submission};
use crate::sweep::task::{self, Task, TaskOutcome};
use crate::sweep::{Budget, PointRecord, SweepSpec};
use crate::train::engine::RunKind;

/// Flags of `sweep` for planning and Slurm.
#[derive(Debug, Clone, Args, Default)]
pub struct ClusterArgs {
    /// Print each point's memory, its time per million samples measured on this machine (a few
    /// seconds of calibration training each) and the core-hours at the budget; trains no grid.
    #[arg(long)]
    pub plan: bool,
    /// Seconds of calibration training per point for --plan and for the Slurm --time.
    #[arg(long, value_name = "S", default_value_t = 2.0)]
    pub plan_seconds: f64,
    /// Run the sweep on Slurm: write DIR/plan.json and two batch scripts (the baseline; a job
    /// array of the points after it), submit them with sbatch and print the job ids.
    #[arg(long)]
    pub slurm: bool,
    /// With --slurm: write the plan and scripts and print the sbatch commands; submit nothing.
    #[arg(long, requires = "slurm")]
    pub dry_run: bool,
    /// With --slurm: submit again only the points that failed or are missing (see `sweep status`).
    #[arg(long, requires = "slurm")]
    pub resume: bool,
    /// Slurm partition (sbatch --partition).
    #[arg(long, value_name = "NAME", requires = "slurm")]
    pub partition: Option<String>,
    /// Slurm account (sbatch --account).
    #[arg(long, value_name = "NAME", requires = "slurm")]
    pub account: Option<String>,
    /// Time limit of every job, in Slurm's format (e.g. 90, 4:00:00, 1-12:00:00); default: the
    /// calibrated estimate x 1.5 + 5 minutes.
    #[arg(long, value_name = "TIME", requires = "slurm")]
    pub time: Option<String>,
    /// CPUs (training threads) of every job and of the --plan calibration (default: --threads,
    /// else 1).
    #[arg(long, value_name = "C")]
    pub cpus_per_task: Option<usize>,
    /// Memory of every job (e.g. 2048M, 4G); default: computed from the configuration (tables,
    /// optimizer state, model, data held in memory) + 25% + 256 MiB.
    #[arg(long, value_name = "SIZE", requires = "slurm")]
    pub mem: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum SweepAction {
    /// Train one point of a planned sweep (what each Slurm array task runs): --index I, else
    /// SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX; or --baseline. Skips a point already done.
    RunPoint(RunPointArgs),
    /// Show each point of a planned sweep: done, queued, running, failed or missing (from its
    /// files, plus squeue and sacct when present).
    Status(DirArgs),
    /// Merge the points of a planned sweep into the report a local sweep writes (points.csv,
    /// points.json, summary.md, pareto.svg); points without a good file are listed as not run.
    Report(DirArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RunPointArgs {
    /// The sweep directory (holding plan.json).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Point index (0-based, the order of plan.json).
    #[arg(long, value_name = "I", conflicts_with = "baseline")]
    pub index: Option<usize>,
    /// Train the baseline (the points' ΔAUC reads its stored predictions).
    #[arg(long)]
    pub baseline: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DirArgs {
    /// The sweep directory (holding plan.json).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// The cluster's part of `sweep`, if the arguments ask for it.
/// `title` names the sweep (its preset or configuration file).
pub fn dispatch(
    config: &ConfigArgs,
    args: &SweepArgs,
    json: bool,
    title: &str,
) -> Option<Result<(), CliError>> {
    match &args.action {
        Some(SweepAction::RunPoint(a)) => Some(run_point(config, a, json)),
        Some(SweepAction::Status(a)) => Some(status(&a.dir, json)),
        Some(SweepAction::Report(a)) => Some(report(&a.dir, json)),
        None if args.cluster.slurm || args.cluster.plan => {
            Some(plan_or_submit(config, args, json, title))
        }
        None if args.cluster.cpus_per_task.is_some() => Some(Err(CliError::usage(anyhow!(
            "--cpus-per-task is for --plan or --slurm; a local sweep uses --threads and --jobs"
        )))),
        None => None,
    }
}

/// Refuse a planned sweep's directory for a local sweep (its points.jsonl is the merge's).
pub fn refuse_plan_dir(dir: &Path) -> Result<(), CliError> {
    if dir.join(plan::PLAN).exists() {
        return Err(CliError::usage(anyhow!(
            "{} holds a planned (Slurm) sweep: use `memrec-tui sweep status {}`, `sweep report {}` or `sweep ... --slurm --resume`, or choose another --out for a local sweep",
            dir.display(),
            dir.display(),
            dir.display()
        )));
    }
    Ok(())
}

fn budget_of(args: &SweepArgs) -> Result<Budget, CliError> {
    match (args.steps, args.epochs) {
        (Some(s), None) => Ok(Budget::Steps(s)),
        (None, Some(e)) => Ok(Budget::Epochs(e)),
        (None, None) => Err(CliError::usage(anyhow!(
            "sweep needs a budget per point: --steps N (optimizer steps, i.e. batches) or --epochs E (passes over --data)"
        ))),
        (Some(_), Some(_)) => Err(CliError::usage(anyhow!(
            "--steps and --epochs cannot be combined"
        ))),
    }
}

/// `--mem`: a number with an optional K, M, G or T suffix (MiB without one), in MiB.
fn parse_mem(s: &str) -> Result<u64, CliError> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num.parse().map_err(|_| {
        CliError::usage(anyhow!(
            "--mem {s}: expected a size such as 2048M or 4G (K, M, G, T; MiB without a unit)"
        ))
    })?;
    let mib = match unit.to_ascii_uppercase().as_str() {
        "" | "M" | "MB" => n,
        "K" | "KB" => n.div_ceil(1024),
        "G" | "GB" => n * 1024,
        "T" | "TB" => n * 1024 * 1024,
        _ => {
            return Err(CliError::usage(anyhow!(
                "--mem {s}: unknown unit `{unit}` (K, M, G or T)"
            )));
        }
    };
    Ok(mib.max(1))
}

fn check_time(s: &str) -> Result<String, CliError> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || c == ':' || c == '-')
        && s.chars().next().is_some_and(|c| c.is_ascii_digit());
    if ok {
        Ok(s.to_string())
    } else {
        Err(CliError::usage(anyhow!(
            "--time {s}: expected Slurm's format: minutes, H:MM:SS or D-HH:MM:SS"
        )))
    }
}

/// One row of the plan: a slot, its memory and (when calibrated) its speed.
struct Row {
    slot: Slot,
    key: String,
    cfg: Config,
    memory: Memory,
    speed: Option<Speed>,
}

fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// `sweep ... --plan` and `sweep ... --slurm`.
fn plan_or_submit(
    config: &ConfigArgs,
    args: &SweepArgs,
    json: bool,
    title: &str,
) -> Result<(), CliError> {
    let c = &args.cluster;
    // Before anything is written or measured.
    if c.slurm && !c.dry_run && slurm::find_sbatch().is_none() {
        return Err(CliError::usage(anyhow!(
            "--slurm: `sbatch` is not on the PATH: submitting a sweep needs Slurm (its commands sbatch and squeue, as on a cluster's login node); --slurm --dry-run writes the plan and the batch scripts anyway"
        )));
    }
    if !(c.plan_seconds > 0.0 && c.plan_seconds <= 600.0) {
        return Err(CliError::usage(anyhow!(
            "--plan-seconds {}: between 0 and 600 seconds",
            c.plan_seconds
        )));
    }
    let time = c.time.as_deref().map(check_time).transpose()?;
    let mem = c.mem.as_deref().map(parse_mem).transpose()?;
    let cfg = config.resolve()?;
    let budget = budget_of(args)?;
    let grid = args
        .grid
        .clone()
        .ok_or_else(|| CliError::usage(anyhow!("sweep needs --grid SPEC (see --help)")))?;
    let cpus = c
        .cpus_per_task
        .unwrap_or(if cfg.threads > 0 { cfg.threads } else { 1 });
    if cpus == 0 {
        return Err(CliError::usage(anyhow!("--cpus-per-task 0: at least 1")));
    }
    let mut spec = SweepSpec::new(cfg, &grid, budget, PathBuf::new(), 1, title)?;
    spec.out = match &args.out {
        Some(d) => d.clone(),
        None => SweepSpec::default_dir(&spec.base, budget, &spec.grid, title),
    };
    let plan = Plan::of(&spec, &grid);
    let mut existed = false;
    if c.slurm {
        existed = prepare_dir(&spec.out, &plan, c)?;
        // Absolute from here on: the scripts run elsewhere.
        spec.out = std::fs::canonicalize(&spec.out)
            .map_err(|e| CliError::runtime(anyhow!("{}: {e}", spec.out.display())))?;
    }
    let source =
        crate::data::open_for_training(&spec.base.data_options()).map_err(CliError::data)?;
    let test_rows = source.test_set().map_err(CliError::data)?.labels.len() as u64;
    let mut rows: Vec<Row> = std::iter::once(Row {
        slot: Slot::Baseline,
        key: crate::sweep::store::BASELINE_KEY.into(),
        cfg: spec.base.clone(),
        memory: estimate::memory_of(&spec.base, RunKind::Baseline, test_rows),
        speed: None,
    })
    .chain(spec.points.iter().enumerate().map(|(i, p)| Row {
        slot: Slot::Point(i),
        key: p.key(),
        cfg: p.cfg.clone(),
        memory: estimate::memory_of(&p.cfg, RunKind::Compressed, test_rows),
        speed: None,
    }))
    .collect();
    if c.plan || (c.slurm && time.is_none()) {
        calibrate(&mut rows, &source, cpus, c.plan_seconds)?;
    }
    let samples = estimate::budget_samples(&spec.base, budget, source.as_ref());
    if c.plan {
        print_plan(&rows, &spec, samples, cpus, json)?;
    }
    if !c.slurm {
        return Ok(());
    }
    let max_running = args.jobs.unwrap_or(spec.points.len()).max(1);
    let opts = slurm_options(c, &rows, samples, cpus, (time, mem), max_running)?;
    submit(&spec.out, &plan, &opts, c, existed, json)
}

/// Write the plan (or check the one there) and refuse a second submission without --resume.
/// Returns whether the plan was there.
fn prepare_dir(dir: &Path, plan: &Plan, c: &ClusterArgs) -> Result<bool, CliError> {
    if c.resume && !dir.join(plan::PLAN).exists() {
        return Err(CliError::usage(anyhow!(
            "--resume: {} holds no plan; submit the sweep first (the same command without --resume)",
            dir.display()
        )));
    }
    let existed = plan::create_or_check(dir, plan)?;
    if existed && !c.resume && !c.dry_run && !slurm::load_jobs(dir).is_empty() {
        return Err(CliError::usage(anyhow!(
            "{} was submitted already (jobs in {}/slurm/jobs.json); `memrec-tui sweep status {}` shows its points, and --resume submits those that failed or are missing",
            dir.display(),
            dir.display(),
            dir.display()
        )));
    }
    Ok(existed)
}

fn calibrate(
    rows: &mut [Row],
    source: &Arc<dyn DataSource>,
    cpus: usize,
    seconds: f64,
) -> Result<(), CliError> {
    let reps = crate::train::engine::default_reps();
    let n = rows.len();
    for (i, r) in rows.iter_mut().enumerate() {
        eprintln!(
            "plan: calibrating {} ({}/{n}, {seconds} s, {cpus} thread(s))",
            r.key,
            i + 1
        );
        let kind = match r.slot {
            Slot::Baseline => RunKind::Baseline,
            Slot::Point(_) => RunKind::Compressed,
        };
        r.speed = Some(estimate::calibrate(
            &r.cfg, kind, source, &reps, cpus, seconds,
        )?);
    }
    Ok(())
}

fn run_seconds(r: &Row, samples: Option<u64>) -> Option<f64> {
    Some(r.speed.as_ref()?.run_seconds(&r.cfg, samples?))
}

fn print_plan(
    rows: &[Row],
    spec: &SweepSpec,
    samples: Option<u64>,
    cpus: usize,
    json: bool,
) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::runtime(anyhow!("cannot write the plan: {e}"));
    let mut out = std::io::stdout().lock();
    let fmt = crate::util::units::fmt_bytes;
    let mut total_s = Some(0.0);
    if !json {
        writeln!(
            out,
            "plan: {} point(s) + baseline, {} each ({} samples), {cpus} thread(s) per run, on this machine\n",
            spec.points.len(),
            spec.budget.describe(),
            samples.map_or("unknown".into(), |s| s.to_string())
        )
        .map_err(io)?;
        writeln!(out, "| run | memory (request) | tables + optimizer (computed / measured) | s per 1M samples | run time | core-hours |\n|---|---|---|---|---|---|").map_err(io)?;
    }
    for r in rows {
        let secs = run_seconds(r, samples);
        total_s = total_s.zip(secs).map(|(a, b)| a + b);
        let measured = r.speed.as_ref().map(|s| s.table_bytes + s.optimizer_bytes);
        let per_m = r.speed.as_ref().map(|s| s.seconds_per_million(&r.cfg));
        if json {
            let v = serde_json::json!({
                "type": "plan",
                "run": r.key,
                "memory": r.memory,
                "memory_request_bytes": r.memory.request(),
                "measured_table_and_optimizer_bytes": measured,
                "speed": r.speed,
                "seconds_per_million_samples": per_m,
                "run_seconds": secs,
                "core_hours": secs.map(|s| s * cpus as f64 / 3600.0),
            });
            writeln!(out, "{v}").map_err(io)?;
        } else {
            writeln!(
                out,
                "| {} | {} ({}) | {} / {} | {} | {} | {} |",
                r.key,
                fmt(r.memory.total()),
                fmt(r.memory.request()),
                fmt(r.memory.tables + r.memory.optimizer),
                measured.map_or("-".into(), fmt),
                per_m.map_or("-".into(), |s| format!("{s:.1}")),
                secs.map_or("-".into(), |s| format!("{s:.1} s")),
                secs.map_or("-".into(), |s| format!("{:.4}", s * cpus as f64 / 3600.0)),
            )
            .map_err(io)?;
        }
    }
    let total = total_s.map(|s| s * cpus as f64 / 3600.0);
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"type": "plan_total", "core_hours": total})
        )
        .map_err(io)?;
    } else {
        writeln!(
            out,
            "\ntotal: {} core-hours at the budget (run time x threads, every point and the baseline)",
            total.map_or("unknown (epochs over a streamed file: give --steps)".into(), |h| format!("{h:.4}"))
        )
        .map_err(io)?;
    }
    out.flush().map_err(io)
}

fn slurm_options(
    c: &ClusterArgs,
    rows: &[Row],
    samples: Option<u64>,
    cpus: usize,
    (time, mem): (Option<String>, Option<u64>),
    max_running: usize,
) -> Result<SlurmOptions, CliError> {
    let limit = |secs: Option<f64>| -> Result<String, CliError> {
        match (&time, secs) {
            (Some(t), _) => Ok(t.clone()),
            (None, Some(s)) => Ok(slurm::slurm_time(s * 1.5 + 300.0)),
            (None, None) => Err(CliError::usage(anyhow!(
                "--slurm: no time estimate for --epochs over a streamed file; give --time"
            ))),
        }
    };
    let base = &rows[0];
    let points = &rows[1..];
    let max_secs = points
        .iter()
        .map(|r| run_seconds(r, samples))
        .try_fold(0.0f64, |m, s| s.map(|s| m.max(s)));
    Ok(SlurmOptions {
        partition: c.partition.clone(),
        account: c.account.clone(),
        time_baseline: limit(run_seconds(base, samples))?,
        time_points: limit(max_secs)?,
        cpus_per_task: cpus,
        mem_baseline_mib: mem.unwrap_or(mib(base.memory.request())),
        mem_points_mib: mem.unwrap_or(
            points
                .iter()
                .map(|r| mib(r.memory.request()))
                .max()
                .unwrap_or(1),
        ),
        max_running,
    })
}

/// Write the scripts and submit (or, with --dry-run, print the commands).
fn submit(
    dir: &Path,
    plan: &Plan,
    opts: &SlurmOptions,
    c: &ClusterArgs,
    existed: bool,
    json: bool,
) -> Result<(), CliError> {
    let bin = std::env::current_exe()
        .map_err(|e| CliError::runtime(anyhow!("cannot find this program's path: {e}")))?;
    let workdir = std::env::current_dir()
        .map_err(|e| CliError::runtime(anyhow!("cannot read the current directory: {e}")))?;
    let scripts = slurm::write_scripts(dir, plan, opts, &bin, &workdir)?;
    let (run_baseline, after, indices) = what_to_submit(dir, plan, c.resume && existed);
    if !run_baseline && indices.is_empty() {
        eprintln!(
            "sweep {}: nothing to resubmit (every point is done, queued or running; `memrec-tui sweep status {}`)",
            dir.display(),
            dir.display()
        );
        return Ok(());
    }
    let array = slurm::array_spec(&indices, opts.max_running);
    let dep = |b: &str| format!("--dependency=afterok:{b}");
    if c.dry_run {
        let dry = DryRun {
            run_baseline,
            after: after.as_deref(),
            indices: &indices,
            array: &array,
        };
        return print_dry_run(dir, &scripts, &dry);
    }
    for slot in std::iter::once(Slot::Baseline)
        .filter(|_| run_baseline)
        .chain(indices.iter().map(|&i| Slot::Point(i)))
    {
        let _ = std::fs::remove_file(slot.failed_path(dir));
        let _ = std::fs::remove_file(slot.started_path(dir));
    }
    let baseline = if run_baseline {
        Some(slurm::sbatch(&[], &scripts.baseline)?)
    } else {
        None
    };
    let wait_for = baseline.clone().or(after);
    let points = if indices.is_empty() {
        None
    } else {
        let mut a = vec![format!("--array={array}")];
        a.extend(wait_for.as_deref().map(dep));
        Some(slurm::sbatch(&a, &scripts.points)?)
    };
    let mut jobs = slurm::load_jobs(dir);
    jobs.push(Submission {
        baseline: baseline.clone(),
        points: points.clone(),
        indices: indices.clone(),
    });
    slurm::save_jobs(dir, &jobs)?;
    let mut out = std::io::stdout().lock();
    let line = if json {
        serde_json::json!({"type": "slurm", "dir": dir, "baseline_job": baseline, "points_job": points, "array": array, "after": wait_for}).to_string()
    } else {
        format!(
            "baseline job {}\npoints job {} (array {array}{})",
            baseline.as_deref().unwrap_or("- (done)"),
            points.as_deref().unwrap_or("-"),
            wait_for.map_or(String::new(), |b| format!(", after {b}"))
        )
    };
    writeln!(out, "{line}").map_err(|e| CliError::runtime(anyhow!("{e}")))?;
    eprintln!(
        "sweep {}: submitted; `memrec-tui sweep status {}` shows the points, `memrec-tui sweep report {}` merges them",
        dir.display(),
        dir.display(),
        dir.display()
    );
    Ok(())
}

/// What to submit: the baseline or not, the job the points wait for if it is queued or running,
/// and the point indices: everything, or (`resume`) what failed or is missing.
fn what_to_submit(dir: &Path, plan: &Plan, resume: bool) -> (bool, Option<String>, Vec<usize>) {
    if !resume {
        return (true, None, (0..plan.points.len()).collect());
    }
    let (states, _) = slurm::status(dir, plan);
    let base = &states[0].1;
    let after = match base {
        State::Queued(j) | State::Running(j) => Some(j.clone()),
        _ => None,
    };
    let idx: Vec<usize> = states[1..]
        .iter()
        .filter(|(_, s)| s.needs_run())
        .filter_map(|(slot, _)| match slot {
            Slot::Point(i) => Some(*i),
            Slot::Baseline => None,
        })
        .collect();
    (base.needs_run(), after, idx)
}

/// What `--dry-run` would have submitted.
struct DryRun<'a> {
    run_baseline: bool,
    after: Option<&'a str>,
    indices: &'a [usize],
    array: &'a str,
}

/// The sbatch commands a submission would run, on stdout (the files are written already).
fn print_dry_run(dir: &Path, scripts: &slurm::Scripts, d: &DryRun) -> Result<(), CliError> {
    eprintln!(
        "sweep {}: wrote {}, {} and {} (dry run: nothing submitted); to submit:",
        dir.display(),
        dir.join(plan::PLAN).display(),
        scripts.baseline.display(),
        scripts.points.display()
    );
    let mut lines = Vec::new();
    if d.run_baseline {
        lines.push(format!(
            "BASELINE_JOB=$(sbatch --parsable {})",
            scripts.baseline.display()
        ));
    }
    if !d.indices.is_empty() {
        let dep = match (d.run_baseline, d.after) {
            (true, _) => "--dependency=afterok:$BASELINE_JOB ".to_string(),
            (false, Some(b)) => format!("--dependency=afterok:{b} "),
            (false, None) => String::new(),
        };
        lines.push(format!(
            "sbatch --parsable {dep}--array={} {}",
            d.array,
            scripts.points.display()
        ));
    }
    let mut out = std::io::stdout().lock();
    for l in lines {
        writeln!(out, "{l}").map_err(|e| CliError::runtime(anyhow!("{e}")))?;
    }
    Ok(())
}

/// The slot a task runs: --baseline, --index, else the scheduler's index variables.
fn slot_of(a: &RunPointArgs) -> Result<Slot, CliError> {
    if a.baseline {
        return Ok(Slot::Baseline);
    }
    if let Some(i) = a.index {
        return Ok(Slot::Point(i));
    }
    for var in ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"] {
        if let Ok(v) = std::env::var(var) {
            return v.trim().parse().map(Slot::Point).map_err(|_| {
                CliError::usage(anyhow!("{var}={v}: not a point index (0, 1, 2, ...)"))
            });
        }
    }
    Err(CliError::usage(anyhow!(
        "run-point: which point? give --index I or --baseline (or run it as a Slurm array task, SLURM_ARRAY_TASK_ID, or a Kubernetes Indexed Job, JOB_COMPLETION_INDEX)"
    )))
}

fn who() -> serde_json::Value {
    let env = |k: &str| std::env::var(k).ok();
    let job = match (env("SLURM_ARRAY_JOB_ID"), env("SLURM_ARRAY_TASK_ID")) {
        (Some(j), Some(t)) => Some(format!("{j}_{t}")),
        _ => env("SLURM_JOB_ID"),
    };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .or_else(|| env("HOSTNAME"));
    serde_json::json!({"job": job, "host": host, "pid": std::process::id()})
}

/// `sweep run-point DIR`.
fn run_point(config: &ConfigArgs, a: &RunPointArgs, json: bool) -> Result<(), CliError> {
    let slot = slot_of(a)?;
    let plan = plan::load(&a.dir)?;
    if let Slot::Point(i) = slot {
        plan.point_config(i)?;
    }
    let threads = config
        .threads
        .filter(|&t| t > 0)
        .or_else(|| {
            std::env::var("SLURM_CPUS_PER_TASK")
                .ok()
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let base = plan.base()?;
    let source = crate::data::open_for_training(&base.data_options()).map_err(CliError::data)?;
    let signals =
        crate::signals::Listener::start(&[crate::signals::SIGINT, crate::signals::SIGTERM], true)
            .map_err(|e| CliError::runtime(anyhow!("cannot listen for signals: {e}")))?;
    let cancel = signals.cancel();
    let t = Task {
        dir: &a.dir,
        plan: &plan,
        source,
        reps: crate::train::engine::default_reps(),
        threads,
        cancel: &cancel,
        who: who(),
    };
    eprintln!(
        "sweep {}: {} ({} thread(s))",
        a.dir.display(),
        slot.describe(),
        threads
    );
    let outcome = task::run_task(&t, slot, &mut std::io::stderr())?;
    if json {
        let (kind, r) = match &outcome {
            TaskOutcome::Skipped(r) => ("skipped", r),
            TaskOutcome::Ran(r) => ("ran", r),
        };
        let mut v = serde_json::to_value(r).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("type".into(), kind.into());
        }
        println!("{v}");
    }
    Ok(())
}

fn state_detail(s: &State) -> String {
    match s {
        State::Done(r) => {
            let delta = r
                .delta_auc
                .map_or(String::new(), |d| format!(", ΔAUC {d:+.4}"));
            let status = if r.ok() {
                String::new()
            } else {
                format!(" ({})", r.status)
            };
            format!(
                "AUC {}{delta}{status}",
                r.auc.map_or("-".into(), |a| format!("{a:.4}"))
            )
        }
        State::Queued(j) | State::Running(j) => format!("job {j}"),
        State::Failed(why) => why.clone(),
        State::Missing => "no result, not queued".into(),
    }
}

/// `sweep status DIR`.
fn status(dir: &Path, json: bool) -> Result<(), CliError> {
    let plan = plan::load(dir)?;
    let (states, queue) = slurm::status(dir, &plan);
    let mut counts = std::collections::BTreeMap::new();
    for (_, s) in &states[1..] {
        *counts.entry(s.word()).or_insert(0usize) += 1;
    }
    let io = |e: std::io::Error| CliError::runtime(anyhow!("{e}"));
    let mut out = std::io::stdout().lock();
    for (slot, s) in &states {
        let key = match slot {
            Slot::Baseline => "baseline".to_string(),
            Slot::Point(i) => plan.points[*i].key.clone(),
        };
        if json {
            let v = serde_json::json!({
                "type": "status",
                "index": match slot { Slot::Point(i) => Some(*i), Slot::Baseline => None },
                "key": key,
                "state": s.word(),
                "detail": state_detail(s),
            });
            writeln!(out, "{v}").map_err(io)?;
        } else {
            let name = match slot {
                Slot::Baseline => "baseline".to_string(),
                Slot::Point(i) => format!("point {i}"),
            };
            writeln!(out, "{name:<10} {:<8} {key}: {}", s.word(), state_detail(s)).map_err(io)?;
        }
    }
    let line = ["done", "queued", "running", "failed", "missing"]
        .iter()
        .map(|w| format!("{} {w}", counts.get(w).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!(
        "sweep {}: {} point(s): {line}; baseline {}{}",
        dir.display(),
        plan.points.len(),
        states[0].1.word(),
        if queue {
            ""
        } else {
            " (squeue not available: queued and running jobs are not shown)"
        }
    );
    Ok(())
}

/// `sweep report DIR`.
fn report(dir: &Path, json: bool) -> Result<(), CliError> {
    let merged = task::merge(dir)?;
    for (path, why) in &merged.rejected {
        eprintln!(
            "{}: {why}; not merged (`memrec-tui sweep ... --slurm --resume` runs it again)",
            path.display()
        );
    }
    let io = |e: std::io::Error| CliError::runtime(anyhow!("cannot write results: {e}"));
    let mut out = std::io::stdout().lock();
    let r = &merged.result;
    if json {
        let tagged = |kind: &str, r: &PointRecord| {
            let mut v = serde_json::to_value(r).unwrap_or(serde_json::Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("type".into(), kind.into());
            }
            v
        };
        writeln!(out, "{}", tagged("baseline", &r.baseline)).map_err(io)?;
        for p in &r.points {
            writeln!(out, "{}", tagged("point", p)).map_err(io)?;
        }
    } else {
        let md = std::fs::read_to_string(dir.join("summary.md")).map_err(io)?;
        write!(out, "{md}").map_err(io)?;
    }
    out.flush().map_err(io)?;
    eprintln!(
        "sweep {}: merged {} of {} point(s); wrote {}",
        dir.display(),
        r.ran,
        r.points.len(),
        r.files
            .iter()
            .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some((i, why)) = merged.missing.first() {
        return Err(CliError::runtime(anyhow!(
            "{} point(s) have no result (e.g. point {i}: {why}); the report lists them as not run: `memrec-tui sweep status {}`, then `sweep ... --slurm --resume`",
            merged.missing.len(),
            dir.display()
        )));
    }
    Ok(())
}
