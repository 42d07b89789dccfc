//! One task of a planned sweep (`sweep run-point DIR --index I` or `--baseline`), and the merge of
//! every task's file into the report a local sweep writes (`sweep report DIR`).
//!
//! A task trains exactly what a local sweep trains for that point (the same `run_single`, the
//! same record, ΔAUC against the baseline's stored test-row predictions), so a merged report
//! equals the local one bit for bit (wall-clock fields aside). It is idempotent: a point whose
//! file is done is skipped; a torn file or one of another plan is reported and trained again.
//!
//! Owns: the task's steps and the merge. Must never: read the environment or the command line
//! (the caller passes the slot and threads), append to a shared file, or merge a file that does
//! not check against the plan.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::output::write_report;
use super::plan::{self, Plan, ResultFile, Slot};
use super::run::{
    RecordOf, baseline_outcome, not_started_record, point_line, point_outcome, run_single,
    save_predictions,
};
use super::store::{self, PointRecord, StoreError};
use super::{SweepError, SweepResult};
use crate::data::DataSource;
use crate::signals::Cancel;
use crate::train::engine::{RepBuilder, RunKind};
use crate::train::protocol::RunStatus;

/// What a task did.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    /// The slot's file was already done: nothing trained.
    Skipped(PointRecord),
    Ran(PointRecord),
}

/// Everything a task needs besides its slot.
pub struct Task<'a> {
    pub dir: &'a Path,
    pub plan: &'a Plan,
    pub source: Arc<dyn DataSource>,
    pub reps: RepBuilder,
    /// Worker threads of the run.
    pub threads: usize,
    pub cancel: &'a Cancel,
    /// Who runs it (job id, host, pid), written to the slot's `.started` marker.
    pub who: serde_json::Value,
}

/// Run `slot` unless its file is done. On failure a `.failed` marker says why (for `sweep status`
/// where there is no accounting) and nothing is stored.
pub fn run_task(t: &Task, slot: Slot, log: &mut dyn Write) -> Result<TaskOutcome, SweepError> {
    match plan::read_result(t.dir, t.plan, slot) {
        ResultFile::Done(r) => {
            let _ = writeln!(
                log,
                "{}: {} is done already ({}); nothing to run",
                t.dir.display(),
                slot.describe(),
                slot.result_path(t.dir).display()
            );
            return Ok(TaskOutcome::Skipped(*r));
        }
        ResultFile::Bad(why) => {
            let _ = writeln!(
                log,
                "{}: {why}; not merged, training {} again",
                slot.result_path(t.dir).display(),
                slot.describe()
            );
        }
        ResultFile::Missing => {}
    }
    plan::write_marker(&slot.started_path(t.dir), &t.who)?;
    let result = match slot {
        Slot::Baseline => run_baseline(t),
        Slot::Point(i) => run_point(t, i, log),
    };
    match result {
        Ok(rec) => {
            let _ = writeln!(log, "{}", point_line(&rec));
            Ok(TaskOutcome::Ran(rec))
        }
        Err(e) => {
            let mut why = serde_json::json!({"reason": e.to_string()});
            if let (Some(o), Some(w)) = (why.as_object_mut(), t.who.as_object()) {
                o.extend(w.clone());
            }
            let _ = plan::write_marker(&slot.failed_path(t.dir), &why);
            let _ = std::fs::remove_file(slot.started_path(t.dir));
            Err(e)
        }
    }
}

fn labels(source: &Arc<dyn DataSource>) -> Result<Vec<f32>, SweepError> {
    Ok(source
        .test_set()
        .map_err(|e| SweepError::Data(e.to_string()))?
        .labels)
}

/// A signal stopped the run: reported as such, nothing stored.
fn interrupted(cancel: &Cancel, s: &crate::train::protocol::RunSummary) -> Option<SweepError> {
    cancel
        .signal()
        .filter(|_| s.status == RunStatus::Cancelled)
        .map(SweepError::Interrupted)
}

fn run_baseline(t: &Task) -> Result<PointRecord, SweepError> {
    let base = t.plan.base()?;
    let budget = t.plan.budget()?;
    let labels = labels(&t.source)?;
    let mut cfg = base.clone();
    cfg.threads = t.threads.max(1);
    let out = run_single(
        cfg,
        RunKind::Baseline,
        Arc::clone(&t.source),
        &t.reps,
        (budget, t.plan.review.checkpoints.as_deref().unwrap_or(&[])),
        |_| {},
        t.cancel,
    )?;
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
    if let Some(e) = interrupted(t.cancel, &s) {
        return Err(e);
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
    // The predictions first: a baseline whose file is done always has them.
    store::save_baseline_probs(t.dir, &t.plan.base_hash, &labels, &probs)?;
    let who = RecordOf {
        key: store::BASELINE_KEY,
        config_hash: store::config_hash(&base),
        axes: &[],
        base_hash: &t.plan.base_hash,
    };
    let (rec, evals) = baseline_outcome(who, &s, &out, &labels);
    let list: Vec<(u64, Vec<f32>)> = evals.into_iter().collect();
    store::save_baseline_evals(t.dir, &t.plan.base_hash, &labels, &list)?;
    plan::write_result(t.dir, t.plan, Slot::Baseline, &rec)
}

fn run_point(t: &Task, index: usize, log: &mut dyn Write) -> Result<PointRecord, SweepError> {
    let (p, cfg) = t.plan.point_config(index)?;
    let budget = t.plan.budget()?;
    let labels = labels(&t.source)?;
    let base_evals = match plan::read_result(t.dir, t.plan, Slot::Baseline) {
        ResultFile::Done(b) => {
            let probs = store::load_baseline_probs(t.dir, &t.plan.base_hash, &labels)
                .ok_or_else(|| {
                    SweepError::Baseline(format!(
                        "{}: missing or not for these test rows; run `memrec-tui sweep run-point {} --baseline` again",
                        t.dir.join(store::BASELINE_PREDICTIONS).display(),
                        t.dir.display()
                    ))
                })?;
            let mut evals = store::load_baseline_evals(t.dir, &t.plan.base_hash, &labels);
            // A baseline stored before its evaluations were kept: its end only (as locally).
            evals.entry(b.samples).or_insert(probs);
            evals
        }
        _ => {
            return Err(SweepError::Baseline(format!(
                "it has no result in {} yet; run `memrec-tui sweep run-point {} --baseline` first (its Slurm job is the points' dependency)",
                Slot::Baseline.result_path(t.dir).display(),
                t.dir.display()
            )));
        }
    };
    let mut cfg = cfg;
    cfg.threads = t.threads.max(1);
    // As a local sweep: the representation's latency, before the point trains.
    let latency = if t.plan.review.latency {
        let stop = || t.cancel.is_cancelled();
        match crate::train::latency::measure_rounds(&cfg, super::PROBE_ROUNDS, &stop) {
            Ok(l) => Some(l),
            Err(_) if t.cancel.is_cancelled() => None,
            Err(e) => {
                let _ = writeln!(log, "latency {}: not measured: {e}", p.key);
                None
            }
        }
    } else {
        None
    };
    // Cancelled during the probe: gone at once (Slurm kills after its KillWait).
    if let Some(signal) = t.cancel.signal() {
        return Err(SweepError::Interrupted(signal));
    }
    let out = run_single(
        cfg,
        RunKind::Compressed,
        Arc::clone(&t.source),
        &t.reps,
        (budget, t.plan.review.checkpoints.as_deref().unwrap_or(&[])),
        |_| {},
        t.cancel,
    )?;
    if let Some(m) = &out.data_error {
        return Err(SweepError::Data(m.clone()));
    }
    if let Some(m) = &out.not_started {
        return Err(SweepError::Usage(format!(
            "{}: could not start: {m}",
            p.key
        )));
    }
    let s = out.summary.clone().ok_or_else(|| {
        SweepError::Usage(format!("{}: the engine ended without a summary", p.key))
    })?;
    if let Some(e) = interrupted(t.cancel, &s) {
        return Err(e);
    }
    let who = RecordOf {
        key: &p.key,
        config_hash: p.config_hash.clone(),
        axes: &p.axes,
        base_hash: &t.plan.base_hash,
    };
    let rec = point_outcome(who, &s, &out, &base_evals, &labels, latency.as_ref());
    let asked = t.plan.review.checkpoints.as_deref();
    save_predictions(t.dir, &rec, &labels, (&out, &base_evals), asked)?;
    plan::write_result(t.dir, t.plan, Slot::Point(index), &rec)
}

/// The merge of a plan directory.
#[derive(Debug)]
pub struct Merged {
    pub result: SweepResult,
    /// Points without a good file (index, why), in index order; not in the report's data.
    pub missing: Vec<(usize, String)>,
    /// Files that are present but were not merged (path, why).
    pub rejected: Vec<(PathBuf, String)>,
}

/// Merge every done point of the plan in `dir` into the report (`points.csv`, `points.json`,
/// `summary.md`, `pareto.svg`), and into `sweep.json` + `points.jsonl` so the explorer's
/// `--sweep DIR` opens it. Points without a good file are listed as not run.
pub fn merge(dir: &Path) -> Result<Merged, SweepError> {
    let plan = plan::load(dir)?;
    let spec = plan.spec(dir)?;
    let mut rejected = Vec::new();
    let mut take = |slot: Slot| match plan::read_result(dir, &plan, slot) {
        ResultFile::Done(r) => Ok(*r),
        ResultFile::Missing => Err("no result file".to_string()),
        ResultFile::Bad(why) => {
            rejected.push((slot.result_path(dir), why.clone()));
            Err(why)
        }
    };
    let baseline = take(Slot::Baseline).map_err(|why| {
        SweepError::Baseline(format!(
            "{}: {why}; nothing to merge until it has run (`memrec-tui sweep status {}`)",
            Slot::Baseline.result_path(dir).display(),
            dir.display()
        ))
    })?;
    let mut missing = Vec::new();
    let mut points = Vec::with_capacity(spec.points.len());
    for (i, p) in spec.points.iter().enumerate() {
        match take(Slot::Point(i)) {
            Ok(r) => points.push(r),
            Err(why) => {
                points.push(not_started_record(
                    p,
                    &plan.base_hash,
                    &format!("not run ({why})"),
                ));
                missing.push((i, why));
            }
        }
    }
    let mut files = write_report(&spec, &baseline, &points, points.len())?;
    let manifest = store::manifest_of(&spec.base, &plan.budget);
    let mtext = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    // Only the records that ran: a point not run is tried again, never read back as a result.
    let mut lines = String::new();
    let not_run: std::collections::BTreeSet<usize> = missing.iter().map(|(i, _)| *i).collect();
    let ran_records = points
        .iter()
        .enumerate()
        .filter(|(i, _)| !not_run.contains(i))
        .map(|(_, r)| r);
    for r in std::iter::once(&baseline).chain(ran_records) {
        lines.push_str(&serde_json::to_string(r).unwrap_or_default());
        lines.push('\n');
    }
    for (name, text) in [(store::MANIFEST, mtext), (store::POINTS, lines)] {
        let path = dir.join(name);
        crate::util::write_atomic(&path, text.as_bytes(), true).map_err(StoreError::from)?;
        files.push(path);
    }
    let ran = points.len() - missing.len();
    Ok(Merged {
        result: SweepResult {
            baseline,
            points,
            ran,
            reused: 0,
            not_started: missing
                .iter()
                .map(|(i, why)| (plan.points[*i].key.clone(), why.clone()))
                .collect(),
            files,
            interrupted: None,
        },
        missing,
        rejected,
    })
}
