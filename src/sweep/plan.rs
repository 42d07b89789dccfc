//! A sweep planned for a cluster (`sweep ... --slurm`, `sweep run-point`, `sweep status`, `sweep
//! report`): `plan.json` fixes the base configuration, the budget and every point (its index, key
//! and whole configuration), with a hash over all of it; each task writes one file per point
//! under `points/` (temporary file + rename), so tasks on many nodes never share a file.
//!
//! Layout of a plan directory:
//! - `plan.json`: the plan (`Plan`), written once; another base configuration or grid in the same
//!   directory is refused, naming the fields that differ.
//! - `points/baseline.json`, `points/NNNN.json`: one finished record each (`PointFile`), tagged
//!   with the plan's hash; `baseline.predictions` beside `plan.json` (the format of `store`).
//! - `points/NNNN.started`, `points/NNNN.failed`: what a task leaves while it runs, or when it
//!   could not produce a record (so `status` can tell failed from missing without accounting).
//!
//! Owns: these formats, their checks and the scan of a plan directory. Must never: train, submit
//! jobs, or count a point file that is torn or belongs to another plan as done.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::store::{self, PointRecord, StoreError};
use super::{Budget, SweepError, SweepSpec};
use crate::config::Config;

pub const PLAN: &str = "plan.json";
pub const POINTS_DIR: &str = "points";
const FORMAT: &str = "memrec-sweep-plan/1";

/// One point of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanPoint {
    pub index: usize,
    pub key: String,
    pub axes: Vec<(String, String)>,
    /// `store::config_hash` of `config`: checked again by the task that trains it.
    pub config_hash: String,
    /// The point's whole configuration (threads 0: the task sets its own).
    pub config: serde_json::Value,
}

/// `plan.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format: String,
    /// Hash of everything below (`Plan::compute_hash`).
    pub plan_hash: String,
    /// `store::base_hash` of the base configuration and budget (stamped on every record).
    pub base_hash: String,
    /// `steps=N` or `epochs=E`.
    pub budget: String,
    /// Preset or configuration name (report titles).
    pub title: String,
    /// The `--grid` text.
    pub grid: String,
    pub base_config: serde_json::Value,
    pub points: Vec<PlanPoint>,
}

fn json_of(cfg: &Config) -> serde_json::Value {
    let mut c = cfg.clone();
    c.threads = 0;
    serde_json::to_value(&c).unwrap_or(serde_json::Value::Null)
}

impl Plan {
    /// The plan of `spec`.
    pub fn of(spec: &SweepSpec, grid_text: &str) -> Plan {
        let budget = spec.budget.label();
        let points = spec
            .points
            .iter()
            .enumerate()
            .map(|(index, p)| PlanPoint {
                index,
                key: p.key(),
                axes: p.assignments.clone(),
                config_hash: store::config_hash(&p.cfg),
                config: json_of(&p.cfg),
            })
            .collect();
        let mut plan = Plan {
            format: FORMAT.into(),
            plan_hash: String::new(),
            base_hash: store::base_hash(&spec.base, &budget),
            budget,
            title: spec.title.clone(),
            grid: grid_text.to_string(),
            base_config: json_of(&spec.base),
            points,
        };
        plan.plan_hash = plan.compute_hash();
        plan
    }

    /// xxh3 of the plan's JSON with an empty `plan_hash`.
    pub fn compute_hash(&self) -> String {
        let mut c = self.clone();
        c.plan_hash = String::new();
        let text = serde_json::to_string(&c).unwrap_or_default();
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
    }

    pub fn base(&self) -> Result<Config, SweepError> {
        config_from(&self.base_config, "base_config")
    }

    pub fn budget(&self) -> Result<Budget, SweepError> {
        let bad = || SweepError::Usage(format!("{PLAN}: unknown budget `{}`", self.budget));
        let (kind, n) = self.budget.split_once('=').ok_or_else(bad)?;
        let n: u64 = n.parse().map_err(|_| bad())?;
        match kind {
            "steps" => Ok(Budget::Steps(n)),
            "epochs" => Ok(Budget::Epochs(n)),
            _ => Err(bad()),
        }
    }

    /// The point at `index` and its configuration, checked against its hash (a binary that
    /// builds configurations differently must not train under this plan's name).
    pub fn point_config(&self, index: usize) -> Result<(&PlanPoint, Config), SweepError> {
        let p = self.points.get(index).ok_or_else(|| {
            SweepError::Usage(format!(
                "point index {index} is not in the plan: it has {} point(s), indices 0-{}",
                self.points.len(),
                self.points.len().saturating_sub(1)
            ))
        })?;
        let cfg = config_from(&p.config, &format!("points[{index}].config"))?;
        let h = store::config_hash(&cfg);
        if h != p.config_hash {
            return Err(SweepError::Usage(format!(
                "{PLAN}: point {index} ({}) reads back with configuration hash {h}, not the plan's {}: the plan was written by another version of memrec-tui; plan the sweep again in a new directory",
                p.key, p.config_hash
            )));
        }
        Ok((p, cfg))
    }

    /// The spec the report of this plan is written with (points rebuilt from the grid and checked
    /// against the plan's).
    pub fn spec(&self, dir: &Path) -> Result<SweepSpec, SweepError> {
        let spec = SweepSpec::new(
            self.base()?,
            &self.grid,
            self.budget()?,
            dir.to_path_buf(),
            1,
            &self.title,
        )?;
        let same = spec.points.len() == self.points.len()
            && spec
                .points
                .iter()
                .zip(&self.points)
                .all(|(a, b)| a.key() == b.key && store::config_hash(&a.cfg) == b.config_hash);
        if !same {
            return Err(SweepError::Usage(format!(
                "{}: its grid `{}` gives other points with this version of memrec-tui; plan the sweep again in a new directory",
                dir.join(PLAN).display(),
                self.grid
            )));
        }
        Ok(spec)
    }
}

fn config_from(v: &serde_json::Value, what: &str) -> Result<Config, SweepError> {
    serde_json::from_value(v.clone())
        .map_err(|e| SweepError::Usage(format!("{PLAN}: {what} is not a configuration: {e}")))
}

/// Read `dir/plan.json` (checked against its own hash).
pub fn load(dir: &Path) -> Result<Plan, SweepError> {
    let path = dir.join(PLAN);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SweepError::Usage(format!(
                "{}: no {PLAN}: not a planned sweep (plan one with `memrec-tui sweep ... --out {} --slurm`, or `--slurm --dry-run` to only write it)",
                dir.display(),
                dir.display()
            )));
        }
        Err(e) => {
            return Err(SweepError::Store(StoreError::Io { path, source: e }));
        }
    };
    let plan: Plan = serde_json::from_str(&text)
        .map_err(|e| SweepError::Usage(format!("{}: not a sweep plan ({e})", path.display())))?;
    if plan.format != FORMAT || plan.compute_hash() != plan.plan_hash {
        return Err(SweepError::Usage(format!(
            "{}: format `{}` or hash {} does not check (edited by hand?); plan the sweep again in a new directory",
            path.display(),
            plan.format,
            plan.plan_hash
        )));
    }
    Ok(plan)
}

/// Write `plan` into `dir`, or check that the plan already there is the same one. Another base
/// configuration, budget or grid is refused, naming the fields that differ. Returns whether the
/// plan was already there.
pub fn create_or_check(dir: &Path, plan: &Plan) -> Result<bool, SweepError> {
    let path = dir.join(PLAN);
    if path.exists() {
        let theirs = load(dir)?;
        if theirs.plan_hash == plan.plan_hash {
            return Ok(true);
        }
        let mut diff = Vec::new();
        if theirs.budget != plan.budget {
            diff.push(format!("budget {} vs {}", theirs.budget, plan.budget));
        }
        store::json_diff(&theirs.base_config, &plan.base_config, "", &mut diff);
        if theirs.grid != plan.grid {
            diff.push(format!("grid `{}` vs `{}`", theirs.grid, plan.grid));
        }
        if diff.is_empty() {
            diff.push(format!(
                "plan hash {} vs {}",
                theirs.plan_hash, plan.plan_hash
            ));
        }
        let n = diff.len();
        diff.truncate(6);
        if n > diff.len() {
            diff.push(format!("and {} more", n - diff.len()));
        }
        return Err(SweepError::Usage(format!(
            "{} holds the plan of another sweep (differing: {}); results of two plans are never mixed: choose another --out, or delete {}",
            dir.display(),
            diff.join(", "),
            dir.display()
        )));
    }
    // A local sweep's directory (sweep.json, points.jsonl) is not a plan's.
    store::check_dir(dir)?;
    if dir.join(store::MANIFEST).exists() {
        return Err(SweepError::Usage(format!(
            "{} holds a local sweep (sweep.json without {PLAN}); a cluster sweep needs its own directory: choose another --out",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir.join(POINTS_DIR)).map_err(|e| StoreError::Io {
        path: dir.join(POINTS_DIR),
        source: e,
    })?;
    let text = serde_json::to_string_pretty(plan).unwrap_or_default() + "\n";
    crate::util::write_atomic(&path, text.as_bytes(), true).map_err(StoreError::from)?;
    Ok(false)
}

/// Which point a file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Slot {
    Baseline,
    Point(usize),
}

impl Slot {
    pub fn stem(self) -> String {
        match self {
            Slot::Baseline => store::BASELINE_KEY.to_string(),
            Slot::Point(i) => format!("{i:04}"),
        }
    }
    pub fn result_path(self, dir: &Path) -> PathBuf {
        dir.join(POINTS_DIR).join(format!("{}.json", self.stem()))
    }
    pub fn started_path(self, dir: &Path) -> PathBuf {
        dir.join(POINTS_DIR)
            .join(format!("{}.started", self.stem()))
    }
    pub fn failed_path(self, dir: &Path) -> PathBuf {
        dir.join(POINTS_DIR).join(format!("{}.failed", self.stem()))
    }
    pub fn describe(self) -> String {
        match self {
            Slot::Baseline => "the baseline".into(),
            Slot::Point(i) => format!("point {i}"),
        }
    }
}

/// `points/NNNN.json`: one finished record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointFile {
    pub plan_hash: String,
    /// `None` for the baseline.
    pub index: Option<usize>,
    pub key: String,
    pub config_hash: String,
    pub record: PointRecord,
}

/// What a point's result file holds.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultFile {
    Missing,
    Done(Box<PointRecord>),
    /// Present but not a record of this plan's point: why (torn, another plan, another point).
    Bad(String),
}

/// Read and check the result file of `slot`.
pub fn read_result(dir: &Path, plan: &Plan, slot: Slot) -> ResultFile {
    let path = slot.result_path(dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return ResultFile::Missing,
        Err(e) => return ResultFile::Bad(format!("unreadable: {e}")),
    };
    // A file without its final newline is a write cut short, even if it happens to parse.
    let f: PointFile = match serde_json::from_str(&text) {
        Ok(f) if text.ends_with('\n') => f,
        Ok(_) | Err(_) => {
            return ResultFile::Bad(format!(
                "torn or not a point file ({} bytes, starts `{}`)",
                text.len(),
                text.chars().take(40).collect::<String>()
            ));
        }
    };
    let (key, hash, index) = match slot {
        Slot::Baseline => (store::BASELINE_KEY.to_string(), None, None),
        Slot::Point(i) => match plan.points.get(i) {
            Some(p) => (p.key.clone(), Some(p.config_hash.clone()), Some(i)),
            None => return ResultFile::Bad(format!("index {i} is not in the plan")),
        },
    };
    if f.plan_hash != plan.plan_hash || f.record.base_hash != plan.base_hash {
        return ResultFile::Bad(format!(
            "belongs to another plan (plan hash {}, this one {})",
            f.plan_hash, plan.plan_hash
        ));
    }
    if f.index != index || f.key != key || hash.is_some_and(|h| h != f.config_hash) {
        return ResultFile::Bad(format!("holds another point ({})", f.key));
    }
    ResultFile::Done(Box::new(f.record))
}

/// Write the result of `slot` atomically (temporary file + rename) and clear its markers.
pub fn write_result(
    dir: &Path,
    plan: &Plan,
    slot: Slot,
    record: &PointRecord,
) -> Result<PointRecord, SweepError> {
    let (index, config_hash) = match slot {
        Slot::Baseline => (None, record.config_hash.clone()),
        Slot::Point(i) => (Some(i), plan.points[i].config_hash.clone()),
    };
    let f = PointFile {
        plan_hash: plan.plan_hash.clone(),
        index,
        key: record.key.clone(),
        config_hash,
        record: record.clone(),
    };
    let text = serde_json::to_string(&f).unwrap_or_default() + "\n";
    let path = slot.result_path(dir);
    crate::util::write_atomic(&path, text.as_bytes(), true).map_err(StoreError::from)?;
    let _ = std::fs::remove_file(slot.failed_path(dir));
    let _ = std::fs::remove_file(slot.started_path(dir));
    // As a reader will see it (floats through their JSON text), as `Store::append` returns it.
    match read_result(dir, plan, slot) {
        ResultFile::Done(r) => Ok(*r),
        _ => Err(SweepError::Usage(format!(
            "{}: written but does not read back",
            path.display()
        ))),
    }
}

/// A marker file (`.started`, `.failed`): one line of JSON, written atomically.
pub fn write_marker(path: &Path, value: &serde_json::Value) -> Result<(), SweepError> {
    let text = value.to_string() + "\n";
    crate::util::write_atomic(path, text.as_bytes(), true).map_err(StoreError::from)?;
    Ok(())
}

/// A marker's text, if present (its `reason` field for a `.failed` marker, else the whole line).
pub fn read_marker(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_default();
    Some(
        v.get("reason")
            .and_then(|r| r.as_str())
            .map_or_else(|| text.trim().to_string(), str::to_string),
    )
}

/// What the files say about one slot.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotFiles {
    pub slot: Slot,
    pub result: ResultFile,
    pub started: bool,
    pub failed: Option<String>,
}

/// The files of every slot of `plan` (baseline first).
pub fn scan(dir: &Path, plan: &Plan) -> Vec<SlotFiles> {
    std::iter::once(Slot::Baseline)
        .chain((0..plan.points.len()).map(Slot::Point))
        .map(|slot| SlotFiles {
            slot,
            result: read_result(dir, plan, slot),
            started: slot.started_path(dir).exists(),
            failed: read_marker(&slot.failed_path(dir)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(grid: &str, seed: u64) -> SweepSpec {
        let mut cfg = Config::from_preset("tiny").unwrap();
        cfg.seed = seed;
        SweepSpec::new(cfg, grid, Budget::Steps(5), PathBuf::from("x"), 1, "tiny").unwrap()
    }

    #[test]
    fn plan_round_trips_and_refuses_another_base_naming_fields() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("p");
        let plan = Plan::of(&spec("memrec.k=1,2", 1), "memrec.k=1,2");
        assert!(!create_or_check(&d, &plan).unwrap());
        assert!(create_or_check(&d, &plan).unwrap());
        let back = load(&d).unwrap();
        assert_eq!(back, plan);
        let (p, cfg) = back.point_config(1).unwrap();
        assert_eq!((p.key.as_str(), cfg.memrec.k), ("memrec.k=2", 2));
        assert!(back.point_config(2).is_err());
        assert_eq!(back.spec(&d).unwrap().points.len(), 2);

        let other = Plan::of(&spec("memrec.k=1,2", 2), "memrec.k=1,2");
        let e = create_or_check(&d, &other).unwrap_err().to_string();
        assert!(
            e.contains("another sweep") && e.contains("seed 1 vs 2"),
            "{e}"
        );
        let other = Plan::of(&spec("memrec.k=1,4", 1), "memrec.k=1,4");
        let e = create_or_check(&d, &other).unwrap_err().to_string();
        assert!(e.contains("grid `memrec.k=1,2` vs `memrec.k=1,4`"), "{e}");

        // A plan edited by hand no longer checks.
        let text = std::fs::read_to_string(d.join(PLAN)).unwrap();
        std::fs::write(d.join(PLAN), text.replace("\"tiny\"", "\"tinz\"")).unwrap();
        assert!(load(&d).unwrap_err().to_string().contains("does not check"));
    }

    #[test]
    fn torn_foreign_and_misplaced_point_files_are_not_done() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let plan = Plan::of(&spec("memrec.k=1,2", 1), "memrec.k=1,2");
        create_or_check(d, &plan).unwrap();
        let rec = PointRecord {
            key: "memrec.k=1".into(),
            base_hash: plan.base_hash.clone(),
            auc: Some(0.1 + 0.2),
            ..PointRecord::default()
        };
        assert_eq!(read_result(d, &plan, Slot::Point(0)), ResultFile::Missing);
        write_marker(
            &Slot::Point(0).failed_path(d),
            &serde_json::json!({"reason": "boom"}),
        )
        .unwrap();
        let got = write_result(d, &plan, Slot::Point(0), &rec).unwrap();
        assert_eq!(got, rec);
        assert!(!Slot::Point(0).failed_path(d).exists());
        assert_eq!(
            read_result(d, &plan, Slot::Point(0)),
            ResultFile::Done(Box::new(rec.clone()))
        );

        let path = Slot::Point(0).result_path(d);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert!(
            matches!(read_result(d, &plan, Slot::Point(0)), ResultFile::Bad(w) if w.contains("torn"))
        );
        // Whole JSON but no final newline: cut short all the same.
        std::fs::write(&path, text.trim_end()).unwrap();
        assert!(
            matches!(read_result(d, &plan, Slot::Point(0)), ResultFile::Bad(w) if w.contains("torn"))
        );
        // The same record under another plan.
        let other = Plan::of(&spec("memrec.k=1,2", 2), "memrec.k=1,2");
        std::fs::write(&path, text.replace(&plan.plan_hash, &other.plan_hash)).unwrap();
        assert!(
            matches!(read_result(d, &plan, Slot::Point(0)), ResultFile::Bad(w) if w.contains("another plan"))
        );
        // Point 0's file copied to point 1's name.
        std::fs::write(Slot::Point(1).result_path(d), &text).unwrap();
        assert!(
            matches!(read_result(d, &plan, Slot::Point(1)), ResultFile::Bad(w) if w.contains("another point"))
        );
    }
}
