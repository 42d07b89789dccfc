//! Running a sweep: the baseline once, then the grid's points over `--jobs` engines, each
//! finished point appended to the store at once, then the report written (see the parent module
//! for the layout of runs and for cancellation).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{
    Budget, NOT_IN_SWEEP, Point, PointRecord, StoreError, SweepError, SweepResult, SweepSpec,
};
use super::{Store, report, store};
use crate::config::Config;
use crate::data::DataSource;
use crate::metrics;
use crate::signals::Cancel;
use crate::train::engine::{Engine, EngineError, EngineOptions, RepBuilder, RunKind};
use crate::train::protocol::{EngineCommand, EngineEvent, RunId, RunStatus, RunSummary};

/// Result of one engine run of one side.
pub(super) struct RunOutcome {
    pub(super) summary: Option<RunSummary>,
    pub(super) probs: Option<Vec<f32>>,
    pub(super) not_started: Option<String>,
    pub(super) data_error: Option<String>,
    pub(super) seconds: f64,
}

/// Train one side (`kind`) of `cfg` to the budget and collect its summary and final test-row
/// probabilities; `on_steps` hears the step count as the run progresses; `cancel` stops the run
/// at its next step (its summary then says `cancelled`).
pub(super) fn run_single(
    cfg: Config,
    kind: RunKind,
    source: Arc<dyn DataSource>,
    reps: &RepBuilder,
    budget: Budget,
    mut on_steps: impl FnMut(u64),
    cancel: &Cancel,
) -> Result<RunOutcome, EngineError> {
    let inner = Arc::clone(reps);
    let only: RepBuilder = Arc::new(move |c: &Config, k: RunKind| {
        if k == kind {
            inner(c, k)
        } else {
            Err(NOT_IN_SWEEP.to_string())
        }
    });
    let name = match kind {
        RunKind::Baseline => RunId::BASELINE,
        RunKind::Compressed => RunId::COMPRESSED,
    };
    let (ptx, prx) = crossbeam_channel::unbounded();
    let (tx, rx) = crossbeam_channel::unbounded();
    let (max_steps, max_epochs) = match budget {
        Budget::Steps(n) => (Some(n), None),
        Budget::Epochs(n) => (None, Some(n)),
    };
    let opts = EngineOptions {
        max_steps,
        max_epochs,
        exit_when_done: true,
        predictions: Some(ptx),
        reps: only,
        ..EngineOptions::default()
    };
    let t0 = Instant::now();
    let handle = Engine::spawn_with(cfg, source, tx, opts)?;
    let mut out = RunOutcome {
        summary: None,
        probs: None,
        not_started: None,
        data_error: None,
        seconds: 0.0,
    };
    let mut started = false;
    // The engine closes the channel when its one run has finished or failed.
    let mut stopping = false;
    while let Some(e) = cancel.recv(&rx, &mut stopping, || handle.send(EngineCommand::Shutdown)) {
        match e {
            EngineEvent::RunStarted { run, .. } if run == name => started = true,
            EngineEvent::Progress { run, steps, .. } if run == name => on_steps(steps),
            EngineEvent::EngineFailed { message } => out.data_error = Some(message),
            EngineEvent::RunFailed { run, message, .. } if run == name && !started => {
                out.not_started = Some(message);
            }
            EngineEvent::Finished(s) if s.run == name => out.summary = Some(s),
            _ => {}
        }
    }
    drop(handle);
    out.probs = prx.try_iter().find(|p| p.run == name).map(|p| p.probs);
    out.seconds = t0.elapsed().as_secs_f64();
    if let Some(RunSummary {
        status: RunStatus::Failed(why),
        ..
    }) = &out.summary
        && is_data_failure(why)
    {
        out.data_error = Some(why.clone());
    }
    Ok(out)
}

/// Failures of the data rather than of a configuration: they stop the sweep and are not stored.
/// (The engine says so only in the reason's words.)
fn is_data_failure(why: &str) -> bool {
    why.starts_with("data error") || why.ends_with("no training rows")
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

pub(super) fn record_of(
    key: &str,
    config_hash: String,
    axes: &[(String, String)],
    base_hash: &str,
    s: &RunSummary,
    delta: Option<metrics::DeltaInterval>,
    seconds: f64,
) -> PointRecord {
    PointRecord {
        key: key.to_string(),
        base_hash: base_hash.to_string(),
        config_hash,
        axes: axes.to_vec(),
        representation: s.representation.clone(),
        status: s.status.clone(),
        samples: s.samples,
        steps: s.steps,
        table_bytes: s.table_bytes,
        optimizer_bytes: s.optimizer_bytes,
        compression_full: finite(s.compression_full),
        auc: finite(s.auc),
        auc_lo: finite(s.auc_lo),
        auc_hi: finite(s.auc_hi),
        delta_auc: delta.and_then(|d| finite(d.delta)),
        delta_lo: delta.and_then(|d| finite(d.lo)),
        delta_hi: delta.and_then(|d| finite(d.hi)),
        logloss: finite(s.logloss),
        samples_per_s: finite(s.samples_per_s),
        seconds,
    }
}

pub(super) fn not_started_record(p: &Point, base_hash: &str, why: &str) -> PointRecord {
    PointRecord {
        key: p.key(),
        base_hash: base_hash.to_string(),
        config_hash: store::config_hash(&p.cfg),
        axes: p.assignments.clone(),
        status: RunStatus::Failed(format!("not started: {why}")),
        ..PointRecord::default()
    }
}

/// Progress on stderr: a bar redrawn in place on a terminal, plain lines otherwise.
struct Progress<'a> {
    out: &'a mut dyn Write,
    tty: bool,
    phase: &'static str,
    total: usize,
    done: usize,
    running: BTreeMap<usize, u64>,
    max_steps: Option<u64>,
    t0: Instant,
    last: Option<Instant>,
    drawn: bool,
}

impl Progress<'_> {
    fn clear(&mut self) {
        if self.tty && self.drawn {
            let _ = write!(self.out, "\r\x1b[2K");
            self.drawn = false;
        }
    }

    fn line(&mut self, text: &str) {
        self.clear();
        let _ = writeln!(self.out, "{text}");
        self.draw(true);
    }

    fn draw(&mut self, force: bool) {
        if !self.tty || self.total == 0 {
            return;
        }
        if !force
            && self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_millis(150))
        {
            return;
        }
        self.last = Some(Instant::now());
        let frac = match self.max_steps {
            Some(m) if m > 0 => {
                let run: u64 = self.running.values().map(|&s| s.min(m)).sum();
                (self.done as f64 * m as f64 + run as f64) / (self.total as f64 * m as f64)
            }
            _ => self.done as f64 / self.total as f64,
        };
        let width = 30;
        let filled = ((frac.clamp(0.0, 1.0)) * width as f64).round() as usize;
        let _ = write!(
            self.out,
            "\r\x1b[2K{} [{}{}] {}/{} done, {} running, {:.0}%, {:.0} s",
            self.phase,
            "#".repeat(filled),
            ".".repeat(width - filled),
            self.done,
            self.total,
            self.running.len(),
            frac * 100.0,
            self.t0.elapsed().as_secs_f64()
        );
        let _ = self.out.flush();
        self.drawn = true;
    }
}

pub(super) fn point_line(r: &PointRecord) -> String {
    if !r.ok() {
        return format!("{}: {}", r.key, r.status);
    }
    let delta = match (r.delta_auc, r.delta_lo, r.delta_hi) {
        (Some(d), Some(lo), Some(hi)) => format!("ΔAUC {d:+.4} [{lo:+.4}, {hi:+.4}]"),
        _ => "ΔAUC -".into(),
    };
    format!(
        "{}: AUC {}, {delta}, tables {}, {:.1} s",
        r.key,
        r.auc.map_or("-".into(), |a| format!("{a:.4}")),
        crate::util::units::fmt_bytes(r.table_bytes),
        r.seconds
    )
}

/// The finished record of `p`: by its key, or else by its configuration (the same training
/// stored under another key), then shown under this grid's key and axes.
fn lookup(cache: &BTreeMap<String, PointRecord>, p: &Point) -> Option<PointRecord> {
    if let Some(r) = cache.get(&p.key()) {
        return Some(r.clone());
    }
    let h = store::config_hash(&p.cfg);
    cache
        .values()
        .find(|r| r.key != store::BASELINE_KEY && r.config_hash == h)
        .map(|r| PointRecord {
            key: p.key(),
            axes: p.assignments.clone(),
            ..r.clone()
        })
}

/// Run `spec` on `source` with the representations of `reps`, writing progress to `progress`
/// (`tty`: redraw a bar in place), then write the report into `spec.out`.
pub fn run_sweep(
    spec: &SweepSpec,
    source: Arc<dyn DataSource>,
    reps: RepBuilder,
    progress: &mut dyn Write,
    tty: bool,
) -> Result<SweepResult, SweepError> {
    run_sweep_cancellable(spec, source, reps, progress, tty, &Cancel::never())
}

/// `run_sweep` that `cancel` can stop: see the module documentation.
pub fn run_sweep_cancellable(
    spec: &SweepSpec,
    source: Arc<dyn DataSource>,
    reps: RepBuilder,
    progress: &mut dyn Write,
    tty: bool,
    cancel: &Cancel,
) -> Result<SweepResult, SweepError> {
    let budget = spec.budget;
    let manifest = store::manifest_of(&spec.base, &budget.label());
    let (store, cached) = Store::open(&spec.out, &manifest)?;
    let hash = store.base_hash().to_string();
    // Later lines win (a point is appended once, but a repaired file may repeat one).
    let mut cache: BTreeMap<String, PointRecord> =
        cached.into_iter().map(|r| (r.key.clone(), r)).collect();
    let labels = source
        .test_set()
        .map_err(|e| SweepError::Data(e.to_string()))?
        .labels;
    let ctx = Ctx {
        spec,
        source: &source,
        reps: &reps,
        cancel,
        store: &store,
        hash: &hash,
        labels: &labels,
    };
    let mut prog = Progress {
        out: progress,
        tty,
        phase: "baseline",
        total: 1,
        done: 0,
        running: BTreeMap::new(),
        max_steps: match budget {
            Budget::Steps(n) => Some(n),
            Budget::Epochs(_) => None,
        },
        t0: Instant::now(),
        last: None,
        drawn: false,
    };

    let cached_baseline = cache
        .get(store::BASELINE_KEY)
        .filter(|r| r.ok())
        .cloned()
        .zip(store.load_baseline_probs(&labels));
    let (baseline, base_probs) = match cached_baseline {
        Some(x) => x,
        None => train_baseline(&ctx, &mut prog)?,
    };

    let pending: Vec<&Point> = spec
        .points
        .iter()
        .filter(|p| lookup(&cache, p).is_none())
        .collect();
    let not_started = run_points(&ctx, &mut prog, &pending, &base_probs, &mut cache)?;
    let unfinished = pending
        .iter()
        .filter(|p| lookup(&cache, p).is_none() && !not_started.contains_key(&p.key()))
        .count();
    let ran = pending.len() - not_started.len() - unfinished;
    let interrupted = cancel.signal().filter(|_| unfinished > 0);
    let points: Vec<PointRecord> = spec
        .points
        .iter()
        .map(|p| {
            let k = p.key();
            match (lookup(&cache, p), not_started.get(&k)) {
                (Some(r), _) => r,
                (None, Some(why)) => not_started_record(p, &hash, why),
                (None, None) if interrupted.is_some() => PointRecord {
                    status: RunStatus::Cancelled,
                    ..not_started_record(p, &hash, "")
                },
                (None, None) => not_started_record(p, &hash, "not run"),
            }
        })
        .collect();
    let files = write_report(spec, &baseline, &points)?;
    Ok(SweepResult {
        baseline,
        points,
        ran,
        reused: spec.points.len() - pending.len(),
        not_started: not_started.into_iter().collect(),
        files,
        interrupted,
    })
}

/// What every step of a sweep reads: the spec, the data, the store and the baseline's test rows.
struct Ctx<'a> {
    spec: &'a SweepSpec,
    source: &'a Arc<dyn DataSource>,
    reps: &'a RepBuilder,
    cancel: &'a Cancel,
    store: &'a Store,
    /// The store's base hash, stamped on every record.
    hash: &'a str,
    /// Labels of the test rows, in the order of every run's predictions.
    labels: &'a [f32],
}

/// Train the baseline once (all threads), store its record and test-row predictions, and return
/// them; a cancelled, failed or prediction-less baseline stops the sweep.
fn train_baseline(ctx: &Ctx, prog: &mut Progress) -> Result<(PointRecord, Vec<f32>), SweepError> {
    let (spec, budget, cancel, labels) = (ctx.spec, ctx.spec.budget, ctx.cancel, ctx.labels);
    let total_threads = spec.base.effective_threads().max(1);
    prog.line(&format!(
        "sweep {}: training the baseline once ({}, {} threads)",
        spec.out.display(),
        budget.describe(),
        total_threads
    ));
    prog.running.insert(0, 0);
    let mut cfg = spec.base.clone();
    cfg.threads = total_threads;
    let out = run_single(
        cfg,
        RunKind::Baseline,
        Arc::clone(ctx.source),
        ctx.reps,
        budget,
        |steps| {
            prog.running.insert(0, steps);
            prog.draw(false);
        },
        cancel,
    )?;
    prog.running.clear();
    // No bar until the points start (total 0 draws nothing).
    prog.total = 0;
    prog.clear();
    if let Some(m) = out.data_error {
        return Err(SweepError::Data(m));
    }
    if let Some(m) = out.not_started {
        return Err(SweepError::Baseline(m));
    }
    let s = out
        .summary
        .ok_or_else(|| SweepError::Baseline("it ended without a summary".into()))?;
    if let Some(signal) = cancel.signal().filter(|_| s.status == RunStatus::Cancelled) {
        prog.line(&format!(
            "sweep {}: the baseline was cancelled after {} steps; nothing stored (re-run the same command to start again)",
            spec.out.display(),
            s.steps
        ));
        return Err(SweepError::Interrupted(signal));
    }
    if !s.status.is_ok() {
        return Err(SweepError::Baseline(s.status.to_string()));
    }
    let probs = out
        .probs
        .filter(|p| p.len() == labels.len())
        .ok_or_else(|| {
            SweepError::Baseline(format!(
                "no test predictions for the {} test rows",
                labels.len()
            ))
        })?;
    ctx.store.save_baseline_probs(labels, &probs)?;
    let rec = record_of(
        store::BASELINE_KEY,
        store::config_hash(&spec.base),
        &[],
        ctx.hash,
        &s,
        None,
        out.seconds,
    );
    let rec = ctx.store.append(&rec)?;
    prog.line(&format!(
        "baseline ({}): AUC {}, tables {}, {:.1} s",
        rec.representation,
        rec.auc.map_or("-".into(), |a| format!("{a:.4}")),
        crate::util::units::fmt_bytes(rec.table_bytes),
        rec.seconds
    ));
    Ok((rec, probs))
}

/// What a worker tells the thread that owns the progress and the store.
enum Msg {
    Started(usize),
    Steps(usize, u64),
    Done(usize, Box<Result<RunOutcome, EngineError>>),
}

/// Train the `pending` points over `--jobs` engines sharing the threads, storing each finished
/// point in `cache` (and the store) as it ends; returns the points that could not start, with the
/// reason. The first engine, data or store error stops the workers and is returned.
fn run_points(
    ctx: &Ctx,
    prog: &mut Progress,
    pending: &[&Point],
    base_probs: &[f32],
    cache: &mut BTreeMap<String, PointRecord>,
) -> Result<BTreeMap<String, String>, SweepError> {
    let (spec, budget, cancel) = (ctx.spec, ctx.spec.budget, ctx.cancel);
    let total_threads = spec.base.effective_threads().max(1);
    let jobs = spec.jobs.min(pending.len()).max(1);
    let threads = (total_threads / jobs).max(1);
    prog.phase = "points";
    prog.total = pending.len();
    prog.t0 = Instant::now();
    prog.line(&format!(
        "sweep {}: {} point(s), {} already done, {} to run ({} engine(s) x {} thread(s))",
        spec.out.display(),
        spec.points.len(),
        spec.points.len() - pending.len(),
        pending.len(),
        jobs,
        threads
    ));

    let (job_tx, job_rx) = crossbeam_channel::unbounded::<usize>();
    for i in 0..pending.len() {
        let _ = job_tx.send(i);
    }
    drop(job_tx);
    let (msg_tx, msg_rx) = crossbeam_channel::unbounded::<Msg>();
    let stop = AtomicBool::new(false);
    let mut not_started: BTreeMap<String, String> = BTreeMap::new();
    let mut fatal: Option<SweepError> = None;
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let job_rx = job_rx.clone();
            let msg_tx = msg_tx.clone();
            let (source, reps, stop) = (ctx.source, ctx.reps, &stop);
            scope.spawn(move || {
                for j in job_rx.iter() {
                    if stop.load(Ordering::Relaxed) || cancel.is_cancelled() {
                        break;
                    }
                    let mut cfg = pending[j].cfg.clone();
                    cfg.threads = threads;
                    let _ = msg_tx.send(Msg::Started(j));
                    let r = run_single(
                        cfg,
                        RunKind::Compressed,
                        Arc::clone(source),
                        reps,
                        budget,
                        |s| {
                            let _ = msg_tx.send(Msg::Steps(j, s));
                        },
                        cancel,
                    );
                    let _ = msg_tx.send(Msg::Done(j, Box::new(r)));
                }
            });
        }
        drop(msg_tx);
        for m in msg_rx.iter() {
            match m {
                Msg::Started(j) => {
                    prog.running.insert(j, 0);
                    prog.draw(true);
                }
                Msg::Steps(j, s) => {
                    prog.running.insert(j, s);
                    prog.draw(false);
                }
                Msg::Done(j, r) => {
                    prog.running.remove(&j);
                    prog.done += 1;
                    let finished = PointDone {
                        p: pending[j],
                        base_probs,
                        cache: &mut *cache,
                        not_started: &mut not_started,
                    };
                    if let Err(e) = point_done(ctx, prog, finished, *r) {
                        stop.store(true, Ordering::Relaxed);
                        fatal.get_or_insert(e);
                    }
                }
            }
        }
    });
    prog.clear();
    match fatal {
        Some(e) => Err(e),
        None => Ok(not_started),
    }
}

/// A point whose engine has ended, and where its outcome goes.
struct PointDone<'a> {
    p: &'a Point,
    base_probs: &'a [f32],
    cache: &'a mut BTreeMap<String, PointRecord>,
    not_started: &'a mut BTreeMap<String, String>,
}

/// Store the outcome `r` of `d.p`'s run: its record (with ΔAUC against the baseline) in the store
/// and the cache, or its reason in `not_started`; a cancelled run is left unstored. An error
/// returned stops the sweep.
fn point_done(
    ctx: &Ctx,
    prog: &mut Progress,
    d: PointDone,
    r: Result<RunOutcome, EngineError>,
) -> Result<(), SweepError> {
    let p = d.p;
    let out = r?;
    if let Some(m) = out.data_error {
        return Err(SweepError::Data(m));
    }
    let n = format!("[{}/{}]", prog.done, prog.total);
    if let Some(m) = out.not_started {
        prog.line(&format!("{n} {}: could not start: {m}", p.key()));
        d.not_started.insert(p.key(), m);
        return Ok(());
    }
    let Some(s) = out.summary else {
        d.not_started
            .insert(p.key(), "the engine ended without a summary".into());
        return Ok(());
    };
    if s.status == RunStatus::Cancelled && ctx.cancel.is_cancelled() {
        // Not stored: the next run of the same command trains it again.
        prog.line(&format!(
            "{n} {}: cancelled after {} steps (not stored)",
            p.key(),
            s.steps
        ));
        return Ok(());
    }
    let delta = match &out.probs {
        Some(probs) if s.status.is_ok() && probs.len() == ctx.labels.len() => {
            metrics::delta_auc_delong(ctx.labels, probs, d.base_probs)
        }
        _ => None,
    };
    let rec = record_of(
        &p.key(),
        store::config_hash(&p.cfg),
        &p.assignments,
        ctx.hash,
        &s,
        delta,
        out.seconds,
    );
    let rec = ctx.store.append(&rec)?;
    prog.line(&format!("{n} {}", point_line(&rec)));
    d.cache.insert(rec.key.clone(), rec);
    Ok(())
}

/// Render the report of `points` and write its files into the sweep directory (atomically).
pub(super) fn write_report(
    spec: &SweepSpec,
    baseline: &PointRecord,
    points: &[PointRecord],
) -> Result<Vec<PathBuf>, SweepError> {
    let axes: Vec<String> = spec.grid.axes.iter().map(|a| a.path.clone()).collect();
    let budget_text = spec.budget.describe();
    let data_label = spec.base.data_label();
    let files = report::render(&report::ReportInput {
        title: &spec.title,
        budget: &budget_text,
        data_label: &data_label,
        axes: &axes,
        baseline,
        points,
    });
    let mut written = Vec::new();
    for (name, text) in files {
        let path = spec.out.join(name);
        crate::util::write_atomic(&path, text.as_bytes(), true).map_err(StoreError::from)?;
        written.push(path);
    }
    Ok(written)
}
