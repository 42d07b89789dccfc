//! A planned sweep on Slurm: the two batch scripts (the baseline; one job array for the points,
//! after the baseline), their submission with `sbatch --parsable`, the record of what was
//! submitted (`slurm/jobs.json`), and each point's state from its files plus `squeue` and, where
//! accounting exists, `sacct`.
//!
//! Owns: the scripts' text, the Slurm commands and the parsing of their output. Must never: train
//! (a task runs `memrec-tui sweep run-point`), or call a point done unless its file checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::SweepError;
use super::plan::{self, Plan, ResultFile, Slot};
use super::store::StoreError;

pub const SLURM_DIR: &str = "slurm";
pub const BASELINE_SCRIPT: &str = "baseline.sbatch";
pub const POINTS_SCRIPT: &str = "points.sbatch";
pub const JOBS: &str = "jobs.json";

/// What each job asks the scheduler for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    pub account: Option<String>,
    /// `--time` of the baseline's job and of each point's task (Slurm's formats).
    pub time_baseline: String,
    pub time_points: String,
    pub cpus_per_task: usize,
    /// `--mem` in MiB.
    pub mem_baseline_mib: u64,
    pub mem_points_mib: u64,
    /// Array tasks running at once (`%P`).
    pub max_running: usize,
}

/// `D-HH:MM:SS` (or `H:MM:SS` under a day) of `seconds`, rounded up to the minute.
pub fn slurm_time(seconds: f64) -> String {
    let m = (seconds.max(60.0) / 60.0).ceil() as u64;
    let (d, h, m) = (m / 1440, (m / 60) % 24, m % 60);
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:00")
    } else {
        format!("{h}:{m:02}:00")
    }
}

/// Slurm's array spec of `indices` (sorted, ranges joined): `0-3`, `1,4-6`; then `%P`.
pub fn array_spec(indices: &[usize], max_running: usize) -> String {
    let mut v = indices.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", v[i], v[j])
        } else {
            v[i].to_string()
        });
        i = j + 1;
    }
    format!("{}%{}", parts.join(","), max_running.max(1))
}

/// A shell word: single-quoted unless plainly safe.
fn sh(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The two scripts, as (path, text).
pub struct Scripts {
    pub baseline: PathBuf,
    pub points: PathBuf,
}

/// Write `slurm/baseline.sbatch` and `slurm/points.sbatch` for `plan` in `dir` (absolute): each
/// runs `bin sweep run-point DIR` from `workdir` (where relative data paths resolve).
pub fn write_scripts(
    dir: &Path,
    plan: &Plan,
    opts: &SlurmOptions,
    bin: &Path,
    workdir: &Path,
) -> Result<Scripts, SweepError> {
    let sdir = dir.join(SLURM_DIR);
    let logs = sdir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| StoreError::Io {
        path: logs.clone(),
        source: e,
    })?;
    let name: String = plan
        .title
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let d = dir.display().to_string();
    let common = |time: &str, mem: u64| {
        let mut s = format!(
            "#SBATCH --cpus-per-task={}\n#SBATCH --mem={mem}M\n#SBATCH --time={time}\n#SBATCH --chdir={}\n",
            opts.cpus_per_task,
            sh(&workdir.display().to_string())
        );
        if let Some(p) = &opts.partition {
            s.push_str(&format!("#SBATCH --partition={}\n", sh(p)));
        }
        if let Some(a) = &opts.account {
            s.push_str(&format!("#SBATCH --account={}\n", sh(a)));
        }
        s
    };
    let head = format!(
        "#!/bin/bash\n# Written by `memrec-tui sweep --slurm` for the plan {} ({} point(s), {}) in\n# {d}. Submit with `memrec-tui sweep ... --slurm` (it also records the job ids), or by hand:\n",
        plan.plan_hash,
        plan.points.len(),
        plan.budget
    );
    let bin = sh(&bin.display().to_string());
    let baseline = format!(
        "{head}#   sbatch --parsable {BASELINE_SCRIPT}\n#SBATCH --job-name=memrec-{name}-baseline\n#SBATCH --output={}\n{}set -eu\nexec {bin} sweep run-point {} --baseline\n",
        sh(&logs.join("baseline-%j.out").display().to_string()),
        common(&opts.time_baseline, opts.mem_baseline_mib),
        sh(&d)
    );
    let all: Vec<usize> = (0..plan.points.len()).collect();
    let points = format!(
        "{head}#   sbatch --parsable --dependency=afterok:<baseline job> {POINTS_SCRIPT}\n# Each task trains the point SLURM_ARRAY_TASK_ID (`run-point --index I` runs one by hand).\n#SBATCH --job-name=memrec-{name}-points\n#SBATCH --array={}\n#SBATCH --output={}\n{}set -eu\nexec {bin} sweep run-point {}\n",
        array_spec(&all, opts.max_running),
        sh(&logs.join("point-%A_%a.out").display().to_string()),
        common(&opts.time_points, opts.mem_points_mib),
        sh(&d)
    );
    let paths = Scripts {
        baseline: sdir.join(BASELINE_SCRIPT),
        points: sdir.join(POINTS_SCRIPT),
    };
    for (path, text) in [(&paths.baseline, baseline), (&paths.points, points)] {
        crate::util::write_atomic(path, text.as_bytes(), true).map_err(StoreError::from)?;
    }
    Ok(paths)
}

/// `sbatch` on the PATH, if any.
pub fn find_sbatch() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("sbatch"))
        .find(|p| p.is_file())
}

/// Submit `script` with `args` (before the script) and return the job id.
pub fn sbatch(args: &[String], script: &Path) -> Result<String, SweepError> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .arg(script)
        .output()
        .map_err(|e| SweepError::Usage(format!("cannot run sbatch: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    // `--parsable`: `jobid` or `jobid;cluster`.
    let id = stdout.trim().split(';').next().unwrap_or("").to_string();
    if !out.status.success() || id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(SweepError::Slurm(format!(
            "sbatch {} {} failed ({}): {}",
            args.join(" "),
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(id)
}

/// One submission of a plan (`slurm/jobs.json` holds them all, oldest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub baseline: Option<String>,
    pub points: Option<String>,
    /// The point indices of the `points` array.
    pub indices: Vec<usize>,
}

pub fn load_jobs(dir: &Path) -> Vec<Submission> {
    std::fs::read_to_string(dir.join(SLURM_DIR).join(JOBS))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

pub fn save_jobs(dir: &Path, jobs: &[Submission]) -> Result<(), SweepError> {
    let text = serde_json::to_string_pretty(jobs).unwrap_or_default() + "\n";
    crate::util::write_atomic(&dir.join(SLURM_DIR).join(JOBS), text.as_bytes(), true)
        .map_err(StoreError::from)?;
    Ok(())
}

/// A job or an array task, as Slurm names it: `12` or `12_3`.
pub fn job_name(job: &str, task: Option<usize>) -> String {
    match task {
        Some(t) => format!("{job}_{t}"),
        None => job.to_string(),
    }
}

/// States of the active jobs and tasks among `jobs`, keyed by `job` or `job_task` (`squeue -r`).
/// `None` when squeue is not there or fails.
pub fn squeue(jobs: &[String]) -> Option<BTreeMap<String, String>> {
    if jobs.is_empty() {
        return Some(BTreeMap::new());
    }
    let run = |ids: &str| {
        Command::new("squeue")
            .args(["-h", "-r", "-o", "%F|%K|%T", "-j", ids])
            .output()
            .ok()
    };
    let mut outputs = Vec::new();
    match run(&jobs.join(",")) {
        Some(o) if o.status.success() => outputs.push(o),
        Some(_) => {
            // One unknown id (long gone from the controller) fails the whole query: ask one by one.
            outputs.extend(
                jobs.iter()
                    .filter_map(|j| run(j))
                    .filter(|o| o.status.success()),
            );
        }
        None => return None,
    }
    let mut states = BTreeMap::new();
    for o in outputs {
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            let f: Vec<&str> = line.trim().split('|').collect();
            if let [job, task, state] = f[..] {
                let task = task.parse::<usize>().ok();
                states.insert(job_name(job, task), state.to_string());
            }
        }
    }
    Some(states)
}

/// Final states of `jobs` and their tasks from `sacct` (`None` without accounting).
pub fn sacct(jobs: &[String]) -> Option<BTreeMap<String, String>> {
    if jobs.is_empty() {
        return Some(BTreeMap::new());
    }
    let o = Command::new("sacct")
        .args(["-n", "-P", "-X", "-o", "JobID,State", "-j", &jobs.join(",")])
        .output()
        .ok()?;
    if !o.status.success() {
        return None;
    }
    let mut states = BTreeMap::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        if let Some((id, state)) = line.trim().split_once('|') {
            // `CANCELLED by 0` -> `CANCELLED`.
            let s = state.split_whitespace().next().unwrap_or("").to_string();
            states.insert(id.to_string(), s);
        }
    }
    Some(states)
}

/// Where a slot is.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Done(Box<crate::sweep::PointRecord>),
    /// Waiting in the queue (job name).
    Queued(String),
    Running(String),
    /// Ran and left no good result: why.
    Failed(String),
    /// Never submitted, or gone from the queue without a trace.
    Missing,
}

impl State {
    pub fn word(&self) -> &'static str {
        match self {
            State::Done(_) => "done",
            State::Queued(_) => "queued",
            State::Running(_) => "running",
            State::Failed(_) => "failed",
            State::Missing => "missing",
        }
    }
    /// Needs a new submission (`--resume`).
    pub fn needs_run(&self) -> bool {
        matches!(self, State::Failed(_) | State::Missing)
    }
}

/// The latest job (name) that ran or runs `slot`, among `jobs`.
fn job_of(jobs: &[Submission], slot: Slot) -> Option<String> {
    jobs.iter().rev().find_map(|s| match slot {
        Slot::Baseline => s.baseline.clone(),
        Slot::Point(i) => s
            .points
            .as_ref()
            .filter(|_| s.indices.contains(&i))
            .map(|j| job_name(j, Some(i))),
    })
}

/// Every slot's state (baseline first), from the files, `squeue` and `sacct` when present.
/// Also says whether squeue answered.
pub fn status(dir: &Path, plan: &Plan) -> (Vec<(Slot, State)>, bool) {
    let jobs = load_jobs(dir);
    let mut ids: Vec<String> = jobs
        .iter()
        .flat_map(|s| s.baseline.iter().chain(s.points.iter()).cloned())
        .collect();
    ids.dedup();
    let queue = squeue(&ids);
    let acct = sacct(&ids).unwrap_or_default();
    let files = plan::scan(dir, plan);
    let states = files
        .into_iter()
        .map(|f| {
            let job = job_of(&jobs, f.slot);
            // A pending array not yet split shows as the array job itself.
            let queued = job.as_ref().and_then(|j| {
                let q = queue.as_ref()?;
                q.get(j)
                    .or_else(|| q.get(j.split('_').next().unwrap_or(j)))
                    .map(|s| (j.clone(), s.clone()))
            });
            let state = match (f.result, queued) {
                (ResultFile::Done(r), _) => State::Done(r),
                (_, Some((j, s))) if s == "PENDING" => State::Queued(j),
                (_, Some((j, _))) => State::Running(j),
                (ResultFile::Bad(why), None) => {
                    State::Failed(format!("its file is not merged: {why}"))
                }
                (ResultFile::Missing, None) => {
                    let final_state = job.as_ref().and_then(|j| acct.get(j));
                    match (f.failed, final_state, f.started) {
                        (Some(why), _, _) => State::Failed(why),
                        (None, Some(s), _) if s != "COMPLETED" => {
                            State::Failed(format!("job {} ended {s}", job.unwrap_or_default()))
                        }
                        (None, _, true) => State::Failed(format!(
                            "started ({}) but ended without a result (cancelled or killed?)",
                            plan::read_marker(&f.slot.started_path(dir)).unwrap_or_default()
                        )),
                        _ => State::Missing,
                    }
                }
            };
            (f.slot, state)
        })
        .collect();
    (states, queue.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_specs_join_ranges_and_cap_running_tasks() {
        assert_eq!(array_spec(&[0, 1, 2, 3], 2), "0-3%2");
        assert_eq!(array_spec(&[5, 1, 4, 6, 9], 8), "1,4-6,9%8");
        assert_eq!(array_spec(&[2], 0), "2%1");
    }

    #[test]
    fn times_round_up_to_minutes() {
        assert_eq!(slurm_time(1.0), "0:01:00");
        assert_eq!(slurm_time(61.0), "0:02:00");
        assert_eq!(slurm_time(3600.0 * 25.0 + 1.0), "1-01:01:00");
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(sh("/a/b-c_1.x"), "/a/b-c_1.x");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("it's"), "'it'\\''s'");
    }
}
