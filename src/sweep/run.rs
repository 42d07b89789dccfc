//! Running a sweep: the baseline once, then the grid's points over `--jobs` engines, each
//! finished point appended to the store at once, then the report written (see the parent module
//! for the layout of runs and for cancellation).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::output::write_report;
use super::store::CurvePoint;
use super::{Budget, NOT_IN_SWEEP, Point, PointRecord, SweepError, SweepResult, SweepSpec};
use super::{Store, StoreError, predictions, store};
use crate::config::Config;
use crate::data::DataSource;
use crate::metrics;
use crate::signals::Cancel;
use crate::train::engine::{Engine, EngineError, EngineOptions, RepBuilder, RunKind};
use crate::train::protocol::{
    EngineCommand, EngineEvent, EvalPoint, LatencyReport, RunId, RunStatus, RunSummary,
};

/// Result of one engine run of one side.
pub(super) struct RunOutcome {
    pub(super) summary: Option<RunSummary>,
    /// Final test-row probabilities (those of the last evaluation).
    pub(super) probs: Option<Vec<f32>>,
    /// Every evaluation, and its test-row probabilities by samples.
    pub(super) evals: Vec<EvalPoint>,
    pub(super) eval_probs: BTreeMap<u64, Vec<f32>>,
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
    (budget, eval_at): (Budget, &[u64]),
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
        predictions_every_eval: true,
        eval_at: eval_at.to_vec(),
        reps: only,
        ..EngineOptions::default()
    };
    let t0 = Instant::now();
    let handle = Engine::spawn_with(cfg, source, tx, opts)?;
    let mut out = RunOutcome {
        summary: None,
        probs: None,
        evals: Vec::new(),
        eval_probs: BTreeMap::new(),
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
            EngineEvent::Eval(e) if e.run == name => out.evals.push(e),
            EngineEvent::Finished(s) if s.run == name => out.summary = Some(s),
            _ => {}
        }
    }
    drop(handle);
    out.eval_probs = prx
        .try_iter()
        .filter(|p| p.run == name)
        .map(|p| (p.samples, p.probs))
        .collect();
    out.probs = out
        .evals
        .last()
        .and_then(|e| out.eval_probs.get(&e.samples).cloned());
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
        ..PointRecord::default()
    }
}

/// The curve of a run: each evaluation, with ΔAUC against the baseline's probabilities at the
/// same samples (`base`) where both have them.
pub(super) fn curve_of(
    evals: &[EvalPoint],
    probs: &BTreeMap<u64, Vec<f32>>,
    base: Option<&BTreeMap<u64, Vec<f32>>>,
    labels: &[f32],
) -> Vec<CurvePoint> {
    evals
        .iter()
        .map(|e| {
            let d = base
                .and_then(|b| b.get(&e.samples))
                .zip(probs.get(&e.samples))
                .filter(|(b, p)| b.len() == labels.len() && p.len() == labels.len())
                .and_then(|(b, p)| metrics::delta_auc_delong(labels, p, b));
            CurvePoint {
                samples: e.samples,
                auc: e.auc,
                auc_lo: e.auc_lo,
                auc_hi: e.auc_hi,
                logloss: e.logloss,
                delta_auc: d.and_then(|d| finite(d.delta)),
                delta_lo: d.and_then(|d| finite(d.lo)),
                delta_hi: d.and_then(|d| finite(d.hi)),
            }
        })
        .collect()
}

/// Who a record is about: its key, configuration hash, grid axes and the sweep's base hash.
pub(super) struct RecordOf<'a> {
    pub(super) key: &'a str,
    pub(super) config_hash: String,
    pub(super) axes: &'a [(String, String)],
    pub(super) base_hash: &'a str,
}

/// The baseline's record with its whole curve, and its test-row probabilities at each
/// evaluation (those of the test rows' length): what a local sweep and a cluster task store.
pub(super) fn baseline_outcome(
    who: RecordOf,
    s: &RunSummary,
    out: &RunOutcome,
    labels: &[f32],
) -> (PointRecord, BTreeMap<u64, Vec<f32>>) {
    let mut evals = out.eval_probs.clone();
    evals.retain(|_, p| p.len() == labels.len());
    let mut rec = record_of(
        who.key,
        who.config_hash,
        who.axes,
        who.base_hash,
        s,
        None,
        out.seconds,
    );
    rec.curve = curve_of(&out.evals, &evals, None, labels);
    rec.oracle_auc = s.oracle_auc.and_then(finite);
    (rec, evals)
}

/// A point's record: ΔAUC at the end of its budget against the baseline's probabilities at the
/// same samples (or, a grid over the batch size giving other samples for the same steps, at
/// the end of the baseline's budget), its whole curve at equal samples, and its latency.
pub(super) fn point_outcome(
    who: RecordOf,
    s: &RunSummary,
    out: &RunOutcome,
    base_evals: &BTreeMap<u64, Vec<f32>>,
    labels: &[f32],
    latency: Option<&LatencyReport>,
) -> PointRecord {
    let base_end = base_evals
        .get(&s.samples)
        .or_else(|| base_evals.values().next_back());
    let delta = match (&out.probs, base_end) {
        (Some(probs), Some(b)) if s.status.is_ok() && probs.len() == labels.len() => {
            metrics::delta_auc_delong(labels, probs, b)
        }
        _ => None,
    };
    let mut rec = record_of(
        who.key,
        who.config_hash,
        who.axes,
        who.base_hash,
        s,
        delta,
        out.seconds,
    );
    rec.curve = curve_of(&out.evals, &out.eval_probs, Some(base_evals), labels);
    with_latency(rec, latency)
}

/// Keep a finished point's test-row probabilities at the checkpoints its summary shows (the
/// baseline's evaluations and `asked`), for the paired comparison of the best point with the next.
pub(super) fn save_predictions(
    dir: &Path,
    rec: &PointRecord,
    labels: &[f32],
    (out, base_evals): (&RunOutcome, &BTreeMap<u64, Vec<f32>>),
    asked: Option<&[u64]>,
) -> Result<(), SweepError> {
    if rec.ok() {
        // A baseline stored before the labels were kept (or for other rows) gets them now.
        if predictions::load_labels(dir).as_deref() != Some(labels) {
            predictions::save_labels(dir, labels).map_err(StoreError::from)?;
        }
        let samples: Vec<u64> = base_evals.keys().copied().collect();
        let keep = super::review::shown_samples(asked, &samples);
        let who = (rec.base_hash.as_str(), rec.config_hash.as_str());
        predictions::save_point(dir, who, labels, &out.eval_probs, &keep)
            .map_err(StoreError::from)?;
    }
    Ok(())
}

/// Copy a latency measurement into a record.
pub(super) fn with_latency(mut r: PointRecord, l: Option<&LatencyReport>) -> PointRecord {
    if let Some(l) = l {
        r.ns_per_token = finite(l.compressed_ns_per_token);
        r.p99_ns_per_token = finite(l.compressed_p99_ns);
        r.uncompressed_ns_per_token = finite(l.full_ns_per_token);
        r.uncompressed_at_full_size = Some(l.full_measured_at_full_size);
        r.latency_threads = Some(l.threads);
        r.latency_batch = Some(l.batch);
        r.ratio_to_gather_range = l.ratio_range.filter(|r| r.iter().all(|x| x.is_finite()));
    }
    r
}

/// What decides a representation's lookup latency: everything but the training section, at the
/// measuring thread count (a grid over `train.lr` measures once).
fn latency_key(cfg: &Config, base: &Config, threads: usize) -> String {
    let mut c = cfg.clone();
    c.train = base.train.clone();
    c.eval = base.eval.clone();
    format!("{}@{threads}", store::config_hash(&c))
}

/// Measure the latency of every pending point's representation (once per latency key), at the
/// sweep's thread count, before any point trains (so no training shares the cores). Failures are
/// reported and leave the point without a latency figure.
fn measure_latencies(
    ctx: &Ctx,
    prog: &mut Progress,
    pending: &[&Point],
) -> HashMap<String, LatencyReport> {
    let mut out = HashMap::new();
    let Some(probe) = &ctx.spec.latency else {
        return out;
    };
    let threads = ctx.spec.base.effective_threads().max(1);
    let mut by_key: HashMap<String, Option<LatencyReport>> = HashMap::new();
    for p in pending {
        if ctx.cancel.is_cancelled() {
            break;
        }
        let k = latency_key(&p.cfg, &ctx.spec.base, threads);
        let l = by_key.entry(k).or_insert_with(|| {
            let mut cfg = p.cfg.clone();
            cfg.threads = threads;
            match probe(&cfg, &|| ctx.cancel.is_cancelled()) {
                Err(_) if ctx.cancel.is_cancelled() => None,
                Ok(l) => {
                    prog.line(&format!(
                        "latency {}: {:.2} ns/token (uncompressed gather {:.2}{}; {} thread(s), batch {})",
                        p.key(),
                        l.compressed_ns_per_token,
                        l.full_ns_per_token,
                        l.ratio_range.map_or(String::new(), |[lo, hi]| format!(
                            ", ratio {lo:.2}–{hi:.2} over the rounds"
                        )),
                        l.threads,
                        l.batch
                    ));
                    Some(l)
                }
                Err(e) => {
                    prog.line(&format!("latency {}: not measured: {e}", p.key()));
                    None
                }
            }
        });
        if let Some(l) = l {
            out.insert(p.key(), l.clone());
        }
    }
    out
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
    let (baseline, base_evals) = match cached_baseline {
        Some((rec, probs)) => {
            let mut evals = store.load_baseline_evals(&labels);
            // A baseline stored before its evaluations were kept: its end only.
            evals.entry(rec.samples).or_insert(probs);
            (rec, evals)
        }
        None => train_baseline(&ctx, &mut prog)?,
    };

    let pending: Vec<&Point> = spec
        .points
        .iter()
        .filter(|p| lookup(&cache, p).is_none())
        .collect();
    let latency = measure_latencies(&ctx, &mut prog, &pending);
    let base = BaseRuns {
        evals: &base_evals,
        latency: &latency,
    };
    let not_started = run_points(&ctx, &mut prog, &pending, &base, &mut cache)?;
    let unfinished = pending
        .iter()
        .filter(|p| lookup(&cache, p).is_none() && !not_started.contains_key(&p.key()))
        .count();
    let ran = pending.len() - not_started.len() - unfinished;
    let interrupted = cancel.signal().filter(|_| unfinished > 0);
    let mut points: Vec<PointRecord> = spec
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
    let in_grid = points.len();
    points.extend(outside_grid(&cache, &points));
    let files = write_report(spec, &baseline, &points, in_grid)?;
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

/// The folder's finished points that are not in this grid (from runs of another grid into the
/// same folder), in key order: the report covers every point of the folder.
fn outside_grid(cache: &BTreeMap<String, PointRecord>, grid: &[PointRecord]) -> Vec<PointRecord> {
    let keys: HashSet<&str> = grid.iter().map(|p| p.key.as_str()).collect();
    let hashes: HashSet<&str> = grid
        .iter()
        .filter(|p| !p.config_hash.is_empty())
        .map(|p| p.config_hash.as_str())
        .collect();
    cache
        .values()
        .filter(|r| r.key != store::BASELINE_KEY && !keys.contains(r.key.as_str()))
        .filter(|r| r.config_hash.is_empty() || !hashes.contains(r.config_hash.as_str()))
        .cloned()
        .collect()
}

/// What each point is compared with: the baseline's probabilities at each evaluation, and the
/// latency measured for each pending point (by key).
struct BaseRuns<'a> {
    evals: &'a BTreeMap<u64, Vec<f32>>,
    latency: &'a HashMap<String, LatencyReport>,
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
fn train_baseline(
    ctx: &Ctx,
    prog: &mut Progress,
) -> Result<(PointRecord, BTreeMap<u64, Vec<f32>>), SweepError> {
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
        (budget, spec.checkpoints.as_deref().unwrap_or(&[])),
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
    if let Some(m) = out.data_error.clone() {
        return Err(SweepError::Data(m));
    }
    if let Some(m) = out.not_started.clone() {
        return Err(SweepError::Baseline(m));
    }
    let s = out
        .summary
        .clone()
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
        .clone()
        .filter(|p| p.len() == labels.len())
        .ok_or_else(|| {
            SweepError::Baseline(format!(
                "no test predictions for the {} test rows",
                labels.len()
            ))
        })?;
    ctx.store.save_baseline_probs(labels, &probs)?;
    let who = RecordOf {
        key: store::BASELINE_KEY,
        config_hash: store::config_hash(&spec.base),
        axes: &[],
        base_hash: ctx.hash,
    };
    let (rec, evals) = baseline_outcome(who, &s, &out, labels);
    let list: Vec<(u64, Vec<f32>)> = evals.iter().map(|(k, v)| (*k, v.clone())).collect();
    ctx.store.save_baseline_evals(labels, &list)?;
    let rec = ctx.store.append(&rec)?;
    prog.line(&format!(
        "baseline ({}): AUC {}, tables {}, {:.1} s",
        rec.representation,
        rec.auc.map_or("-".into(), |a| format!("{a:.4}")),
        crate::util::units::fmt_bytes(rec.table_bytes),
        rec.seconds
    ));
    Ok((rec, evals))
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
    base: &BaseRuns,
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
    let eval_at: &[u64] = spec.checkpoints.as_deref().unwrap_or(&[]);
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
                        (budget, eval_at),
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
                        base,
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
    base: &'a BaseRuns<'a>,
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
    if let Some(m) = out.data_error.clone() {
        return Err(SweepError::Data(m));
    }
    let n = format!("[{}/{}]", prog.done, prog.total);
    if let Some(m) = out.not_started.clone() {
        prog.line(&format!("{n} {}: could not start: {m}", p.key()));
        d.not_started.insert(p.key(), m);
        return Ok(());
    }
    let Some(s) = out.summary.clone() else {
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
    let key = p.key();
    let who = RecordOf {
        key: &key,
        config_hash: store::config_hash(&p.cfg),
        axes: &p.assignments,
        base_hash: ctx.hash,
    };
    let latency = d.base.latency.get(&key);
    let rec = point_outcome(who, &s, &out, d.base.evals, ctx.labels, latency);
    // Its probabilities first (a record without them just has no paired comparison).
    let asked = ctx.spec.checkpoints.as_deref();
    save_predictions(&ctx.spec.out, &rec, ctx.labels, (&out, d.base.evals), asked)?;
    let rec = ctx.store.append(&rec)?;
    prog.line(&format!("{n} {}", point_line(&rec)));
    d.cache.insert(rec.key.clone(), rec);
    Ok(())
}
