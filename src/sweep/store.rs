//! What a sweep keeps on disk so it can be resumed: `sweep.json` (the base configuration and its
//! hash: one sweep directory holds one base configuration), `points.jsonl` (one JSON line per
//! finished point, appended as soon as the point ends) and `baseline.predictions` (the baseline's
//! test-row probabilities, so points run later get their paired ΔAUC interval).
//!
//! Owns: these formats and their checks. Must never: run anything, or silently mix results of two
//! base configurations (a different base hash in the same directory is an error).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::predictions;
use crate::config::Config;
use crate::train::protocol::RunStatus;

pub const MANIFEST: &str = "sweep.json";
pub const POINTS: &str = "points.jsonl";
pub const BASELINE_PREDICTIONS: &str = "baseline.predictions";
/// The baseline's test-row probabilities at every evaluation (checkpoints included), so a point
/// run later gets its ΔAUC at equal samples all along its curve.
pub const BASELINE_EVALS: &str = "baseline.evals";
/// Held (an advisory lock, released by the OS when the process ends, even on a kill) while a sweep
/// writes to the directory, so two sweeps never append to one `points.jsonl`.
pub const LOCK: &str = "sweep.lock";
/// Key of the baseline's line in `points.jsonl`.
pub const BASELINE_KEY: &str = "baseline";
const PRED_MAGIC: &[u8; 8] = b"MRSWPRD1";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{dir} holds a sweep of another base configuration (hash {theirs}, this one {ours}; differing: {diff}); results of two configurations are never mixed: choose another --out or delete {dir}"
    )]
    OtherBase {
        dir: PathBuf,
        theirs: String,
        ours: String,
        diff: String,
    },
    #[error(
        "{dir} is in use by another running `memrec-tui sweep` (it holds {dir}/sweep.lock); wait for it to finish, or choose another --out"
    )]
    Locked { dir: PathBuf },
    #[error("{path}: not a sweep manifest ({msg}); choose another --out")]
    BadManifest { path: PathBuf, msg: String },
    #[error("{0}")]
    Write(#[from] crate::util::WriteError),
    #[error(
        "--out {dir}: is a file, not a directory; a sweep writes several files into a directory: choose a directory path"
    )]
    NotADirectory { dir: PathBuf },
    #[error(
        "--out {dir}: the directory is not empty and holds no sweep ({MANIFEST} is missing; it holds {entries}); a sweep would overwrite its files: choose a new or empty directory"
    )]
    NotASweep { dir: PathBuf, entries: String },
}

/// Check that `dir` may hold a sweep before anything runs: it does not exist yet, or is a
/// directory that is empty or holds this program's sweep (`sweep.json`). Only the lock and the
/// manifest's temporary file (left by a sweep killed before it wrote its manifest) count as empty.
pub fn check_dir(dir: &Path) -> Result<(), StoreError> {
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(dir)(e)),
    };
    if !meta.is_dir() {
        return Err(StoreError::NotADirectory {
            dir: dir.to_path_buf(),
        });
    }
    if dir.join(MANIFEST).is_file() {
        return Ok(());
    }
    let tmp = format!(".{MANIFEST}.tmp-");
    let mut foreign: Vec<String> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != LOCK && !n.starts_with(&tmp))
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    foreign.sort();
    let n = foreign.len();
    foreign.truncate(3);
    let mut entries = foreign.join(", ");
    if n > 3 {
        entries.push_str(&format!(" and {} more", n - 3));
    }
    Err(StoreError::NotASweep {
        dir: dir.to_path_buf(),
        entries,
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One finished point (or the baseline) as stored in `points.jsonl`. Metrics a failed run never
/// produced are `None` (JSON `null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PointRecord {
    /// Canonical `path=value;...` (or `baseline`).
    pub key: String,
    pub base_hash: String,
    /// Hash of the point's whole configuration (threads left out), so the same training under
    /// another key (an axis added at its base value, say) is recognised and not run again.
    #[serde(default)]
    pub config_hash: String,
    /// The grid values of this point, in the axis order of the run that produced it.
    pub axes: Vec<(String, String)>,
    pub representation: String,
    /// `ok`, or why the run stopped (divergence, NaN, a representation that cannot be built).
    pub status: RunStatus,
    pub samples: u64,
    pub steps: u64,
    pub table_bytes: u64,
    pub optimizer_bytes: u64,
    pub compression_full: Option<f64>,
    pub auc: Option<f64>,
    pub auc_lo: Option<f64>,
    pub auc_hi: Option<f64>,
    /// AUC minus the baseline's on the same test rows, with the DeLong 95% interval of the paired
    /// difference.
    pub delta_auc: Option<f64>,
    pub delta_lo: Option<f64>,
    pub delta_hi: Option<f64>,
    pub logloss: Option<f64>,
    pub samples_per_s: Option<f64>,
    /// Wall-clock seconds of the run (informative only, never compared).
    pub seconds: f64,
    /// Every evaluation of the run, in order: AUC, and (points) ΔAUC against the baseline's
    /// predictions at the same samples. Empty in records written before curves were kept.
    #[serde(default)]
    pub curve: Vec<CurvePoint>,
    /// AUC of the true click probabilities on the test rows (synthetic data only).
    #[serde(default)]
    pub oracle_auc: Option<f64>,
    /// Measured lookup latency of this point's representation (`train::latency::measure`, the
    /// set-up of `bench`): median ns per looked-up token, and its p99.
    #[serde(default)]
    pub ns_per_token: Option<f64>,
    #[serde(default)]
    pub p99_ns_per_token: Option<f64>,
    /// The uncompressed gather at full size in the same measurement, ns per token.
    #[serde(default)]
    pub uncompressed_ns_per_token: Option<f64>,
    /// False when the full tables did not fit in memory and the gather ran on a scaled table.
    #[serde(default)]
    pub uncompressed_at_full_size: Option<bool>,
    /// Threads and batch (samples) of the latency measurement.
    #[serde(default)]
    pub latency_threads: Option<usize>,
    #[serde(default)]
    pub latency_batch: Option<usize>,
    /// Lowest and highest ratio of the kernel's median to the gather's within one round of the
    /// probe (`sweep::PROBE_ROUNDS` rounds); `None` for records from before the rounds.
    #[serde(default)]
    pub ratio_to_gather_range: Option<[f64; 2]>,
}

/// One evaluation of a run on the test rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CurvePoint {
    /// Training samples seen.
    pub samples: u64,
    pub auc: f64,
    pub auc_lo: f64,
    pub auc_hi: f64,
    pub logloss: f64,
    /// AUC minus the baseline's at the same samples on the same rows, with the DeLong 95%
    /// interval; `None` for the baseline, or where the baseline has no evaluation at these samples.
    pub delta_auc: Option<f64>,
    pub delta_lo: Option<f64>,
    pub delta_hi: Option<f64>,
}

impl PointRecord {
    pub fn ok(&self) -> bool {
        self.status.is_ok()
    }
}

/// `sweep.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub base_hash: String,
    /// `steps=N` or `epochs=E`.
    pub budget: String,
    pub base_config: serde_json::Value,
}

/// Hash of everything that makes two points comparable: the base configuration (threads left
/// out: results do not depend on them) and the budget.
pub fn base_hash(base: &Config, budget: &str) -> String {
    let mut c = base.clone();
    c.threads = 0;
    c.slurm = Default::default();
    let text = serde_json::to_string(&c).unwrap_or_default();
    format!(
        "{:016x}",
        xxhash_rust::xxh3::xxh3_64(format!("{text}\n{budget}").as_bytes())
    )
}

/// Hash of one point's configuration (threads left out).
pub fn config_hash(cfg: &Config) -> String {
    base_hash(cfg, "point")
}

/// The manifest a base configuration gets.
pub fn manifest_of(base: &Config, budget: &str) -> Manifest {
    let mut c = base.clone();
    c.threads = 0;
    c.slurm = Default::default();
    Manifest {
        base_hash: base_hash(base, budget),
        budget: budget.to_string(),
        base_config: serde_json::to_value(&c).unwrap_or(serde_json::Value::Null),
    }
}

/// An open sweep directory.
pub struct Store {
    pub dir: PathBuf,
    base_hash: String,
    /// The locked `sweep.lock`; dropping the store releases it.
    _lock: std::fs::File,
}

impl Store {
    /// Create or reopen `dir` for `manifest`; returns the finished points of this base
    /// configuration (a torn last line, from a kill mid-write, is dropped and repaired).
    pub fn open(dir: &Path, manifest: &Manifest) -> Result<(Store, Vec<PointRecord>), StoreError> {
        check_dir(dir)?;
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lpath = dir.join(LOCK);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lpath)
            .map_err(io(&lpath))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    dir: dir.to_path_buf(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&lpath)(e)),
        }
        let mpath = dir.join(MANIFEST);
        match std::fs::read_to_string(&mpath) {
            Ok(text) => {
                let theirs = parse_manifest(&mpath, &text)?;
                if theirs.base_hash != manifest.base_hash {
                    let mut diff = Vec::new();
                    if theirs.budget != manifest.budget {
                        diff.push(format!("budget {} vs {}", theirs.budget, manifest.budget));
                    }
                    json_diff(&theirs.base_config, &manifest.base_config, "", &mut diff);
                    let n = diff.len();
                    diff.truncate(6);
                    if n > diff.len() {
                        diff.push(format!("and {} more", n - diff.len()));
                    }
                    return Err(StoreError::OtherBase {
                        dir: dir.to_path_buf(),
                        theirs: theirs.base_hash,
                        ours: manifest.base_hash.clone(),
                        diff: diff.join(", "),
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = serde_json::to_string_pretty(manifest).unwrap_or_default();
                crate::util::write_atomic(&mpath, text.as_bytes(), true)?;
            }
            Err(e) => return Err(io(&mpath)(e)),
        }
        let ppath = dir.join(POINTS);
        let mut records = Vec::new();
        match std::fs::read_to_string(&ppath) {
            Ok(text) => {
                let parsed = parse_points(&text, &manifest.base_hash);
                for line in &parsed.unreadable {
                    eprintln!(
                        "{}: dropping an unreadable line (an interrupted write?): {line}",
                        ppath.display(),
                    );
                }
                if !parsed.unreadable.is_empty() {
                    crate::util::write_atomic(&ppath, parsed.good.as_bytes(), true)?;
                }
                records = parsed.records;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&ppath)(e)),
        }
        Ok((
            Store {
                dir: dir.to_path_buf(),
                base_hash: manifest.base_hash.clone(),
                _lock: lock,
            },
            records,
        ))
    }

    pub fn base_hash(&self) -> &str {
        &self.base_hash
    }

    /// Append one record as a single line and flush it to disk before returning, so a point
    /// reported finished is on disk even if the process is killed right after. Returns the record
    /// as a later run will read it back (floats through their JSON text), so a report written now
    /// and one rewritten from `points.jsonl` are identical.
    pub fn append(&self, r: &PointRecord) -> Result<PointRecord, StoreError> {
        let path = self.dir.join(POINTS);
        let mut line = serde_json::to_string(r).unwrap_or_default();
        line.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        f.write_all(line.as_bytes()).map_err(io(&path))?;
        f.sync_data().map_err(io(&path))?;
        Ok(serde_json::from_str(line.trim_end()).unwrap_or_else(|_| r.clone()))
    }

    /// Store the baseline's test probabilities, tagged with the test labels they belong to.
    pub fn save_baseline_probs(&self, labels: &[f32], probs: &[f32]) -> Result<(), StoreError> {
        save_baseline_probs(&self.dir, &self.base_hash, labels, probs)
    }

    /// The stored baseline probabilities, if they belong to this base configuration and these
    /// test labels; `None` otherwise (the baseline is then trained again).
    pub fn load_baseline_probs(&self, labels: &[f32]) -> Option<Vec<f32>> {
        load_baseline_probs(&self.dir, &self.base_hash, labels)
    }
}

/// `Store::save_baseline_probs` without the directory's lock: for a cluster sweep, whose tasks
/// write their own files (`sweep::task`), `base_hash` being the plan's.
pub fn save_baseline_probs(
    dir: &Path,
    base_hash: &str,
    labels: &[f32],
    probs: &[f32],
) -> Result<(), StoreError> {
    let mut bytes = Vec::with_capacity(32 + probs.len() * 4);
    bytes.extend_from_slice(PRED_MAGIC);
    bytes.extend_from_slice(base_hash.as_bytes());
    bytes.extend_from_slice(&predictions::labels_hash(labels).to_le_bytes());
    bytes.extend_from_slice(&(probs.len() as u64).to_le_bytes());
    for p in probs {
        bytes.extend_from_slice(&p.to_le_bytes());
    }
    crate::util::write_atomic(&dir.join(BASELINE_PREDICTIONS), &bytes, true)?;
    Ok(())
}

/// `Store::load_baseline_probs` without the directory's lock (see `save_baseline_probs`).
pub fn load_baseline_probs(dir: &Path, base_hash: &str, labels: &[f32]) -> Option<Vec<f32>> {
    let bytes = std::fs::read(dir.join(BASELINE_PREDICTIONS)).ok()?;
    let h = base_hash.as_bytes();
    let head = PRED_MAGIC.len() + h.len() + 16;
    if bytes.len() < head || &bytes[..8] != PRED_MAGIC || &bytes[8..8 + h.len()] != h {
        return None;
    }
    let rest = &bytes[8 + h.len()..];
    let lh = u64::from_le_bytes(rest[..8].try_into().ok()?);
    let n = u64::from_le_bytes(rest[8..16].try_into().ok()?) as usize;
    let data = &rest[16..];
    if lh != predictions::labels_hash(labels) || n != labels.len() || data.len() != n * 4 {
        return None;
    }
    Some(
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

impl Store {
    /// Store the baseline's probabilities at each evaluation, `(samples, probs)` by samples.
    pub fn save_baseline_evals(
        &self,
        labels: &[f32],
        evals: &[(u64, Vec<f32>)],
    ) -> Result<(), StoreError> {
        save_baseline_evals(&self.dir, &self.base_hash, labels, evals)
    }

    /// The stored per-evaluation baseline probabilities, by samples, if they belong to this base
    /// configuration and these test labels (empty otherwise: a sweep from before they were kept).
    pub fn load_baseline_evals(&self, labels: &[f32]) -> BTreeMap<u64, Vec<f32>> {
        load_baseline_evals(&self.dir, &self.base_hash, labels)
    }
}

/// `Store::save_baseline_evals` without the directory's lock (see `save_baseline_probs`); also
/// writes the test labels (`predictions::LABELS`) for the paired comparisons between points.
pub fn save_baseline_evals(
    dir: &Path,
    base_hash: &str,
    labels: &[f32],
    evals: &[(u64, Vec<f32>)],
) -> Result<(), StoreError> {
    predictions::save_labels(dir, labels)?;
    predictions::write_evals(&dir.join(BASELINE_EVALS), base_hash, labels, evals)?;
    Ok(())
}

/// `Store::load_baseline_evals` without the directory's lock.
pub fn load_baseline_evals(dir: &Path, base_hash: &str, labels: &[f32]) -> BTreeMap<u64, Vec<f32>> {
    predictions::read_evals(&dir.join(BASELINE_EVALS), base_hash, labels).unwrap_or_default()
}

/// Paths where two JSON values differ (for the "another base configuration" message).
pub fn json_diff(a: &serde_json::Value, b: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    match (a, b) {
        (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => json_diff(p, q, &path, out),
                    _ => out.push(path),
                }
            }
        }
        _ if a != b => {
            let short = |v: &serde_json::Value| {
                let s = v.to_string();
                if s.chars().count() > 40 {
                    format!("{}...", s.chars().take(40).collect::<String>())
                } else {
                    s
                }
            };
            out.push(format!("{at} {} vs {}", short(a), short(b)));
        }
        _ => {}
    }
}

fn parse_manifest(path: &Path, text: &str) -> Result<Manifest, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::BadManifest {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })
}

/// `points.jsonl` as read: the records of one base configuration, the text of every complete,
/// readable line (of any base), and the start of each line that could not be read.
struct ParsedPoints {
    records: Vec<PointRecord>,
    good: String,
    unreadable: Vec<String>,
    other_base: usize,
}

fn parse_points(text: &str, base_hash: &str) -> ParsedPoints {
    let mut out = ParsedPoints {
        records: Vec::new(),
        good: String::with_capacity(text.len()),
        unreadable: Vec::new(),
        other_base: 0,
    };
    for line in text.split_inclusive('\n') {
        // A line without its newline is a write cut short, even if it happens to parse.
        let complete = line.ends_with('\n');
        match serde_json::from_str::<PointRecord>(line.trim_end()) {
            Ok(r) if complete => {
                out.good.push_str(line);
                if r.base_hash == base_hash {
                    out.records.push(r);
                } else {
                    out.other_base += 1;
                }
            }
            _ if line.trim().is_empty() => {}
            _ => out
                .unreadable
                .push(line.trim_end().chars().take(80).collect()),
        }
    }
    out
}

/// A sweep directory as a viewer reads it (`load_dir`).
#[derive(Debug, Clone)]
pub struct LoadedDir {
    pub manifest: Manifest,
    /// The finished points of the manifest's base configuration (the baseline's line included),
    /// in file order.
    pub records: Vec<PointRecord>,
    /// Lines that could not be read (a sweep killed mid-write leaves a torn last line).
    pub unreadable: usize,
    /// Readable lines of another base configuration (never shown with this one's).
    pub other_base: usize,
}

/// Read `dir`'s manifest and points without taking any lock or writing anything (a sweep may be
/// running in it): unreadable lines are counted and skipped, not repaired.
pub fn load_dir(dir: &Path) -> Result<LoadedDir, StoreError> {
    let mpath = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&mpath).map_err(io(&mpath))?;
    let manifest = parse_manifest(&mpath, &text)?;
    let ppath = dir.join(POINTS);
    let parsed = match std::fs::read_to_string(&ppath) {
        Ok(text) => parse_points(&text, &manifest.base_hash),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => parse_points("", ""),
        Err(e) => return Err(io(&ppath)(e)),
    };
    Ok(LoadedDir {
        manifest,
        records: parsed.records,
        unreadable: parsed.unreadable.len(),
        other_base: parsed.other_base,
    })
}

/// An empty record (no metrics, status empty): a base for records built field by field.
#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &str, hash: &str) -> PointRecord {
        PointRecord {
            key: key.into(),
            base_hash: hash.into(),
            config_hash: String::new(),
            axes: vec![("memrec.k".into(), "2".into())],
            representation: "memrec".into(),
            status: RunStatus::Ok,
            samples: 10,
            steps: 1,
            table_bytes: 100,
            optimizer_bytes: 4,
            compression_full: Some(2.0),
            auc: Some(0.7),
            auc_lo: Some(0.6),
            auc_hi: Some(0.8),
            delta_auc: None,
            delta_lo: None,
            delta_hi: None,
            logloss: Some(0.5),
            samples_per_s: Some(1e3),
            seconds: 0.1,
            ..PointRecord::default()
        }
    }

    #[test]
    fn torn_lines_are_dropped_and_other_bases_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::from_preset("tiny").unwrap();
        let m = manifest_of(&cfg, "steps=5");
        let (s, got) = Store::open(dir.path(), &m).unwrap();
        assert!(got.is_empty());
        s.append(&rec("memrec.k=2", &m.base_hash)).unwrap();
        // A kill in the middle of a write leaves half a line.
        let p = dir.path().join(POINTS);
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"key\":\"memrec.k=4\",\"ba").unwrap();
        drop(f);
        // While a sweep has the directory open, a second one is refused, naming the lock.
        let e = Store::open(dir.path(), &m).err().unwrap().to_string();
        assert!(
            e.contains("in use by another running") && e.contains("sweep.lock"),
            "{e}"
        );
        drop(s);
        let (s, got) = Store::open(dir.path(), &m).unwrap();
        assert_eq!(got, vec![rec("memrec.k=2", &m.base_hash)]);
        s.append(&rec("memrec.k=4", &m.base_hash)).unwrap();
        drop(s);
        let (_, got) = Store::open(dir.path(), &m).unwrap();
        assert_eq!(got.len(), 2);

        let mut other = cfg.clone();
        other.seed += 1;
        let e = Store::open(dir.path(), &manifest_of(&other, "steps=5"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("another base configuration") && e.contains("seed"),
            "{e}"
        );
        // Threads do not change results: same base.
        other.seed -= 1;
        other.threads = 3;
        assert!(Store::open(dir.path(), &manifest_of(&other, "steps=5")).is_ok());
    }

    #[test]
    fn only_new_empty_or_sweep_directories_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("s");
        assert!(check_dir(&d).is_ok());
        std::fs::create_dir(&d).unwrap();
        assert!(check_dir(&d).is_ok());
        // A sweep killed before its manifest leaves its lock: still ours.
        std::fs::write(d.join(LOCK), "").unwrap();
        assert!(check_dir(&d).is_ok());
        std::fs::write(d.join("summary.md"), "notes").unwrap();
        let e = check_dir(&d).unwrap_err().to_string();
        assert!(e.contains("summary.md") && e.contains(MANIFEST), "{e}");
        assert!(
            Store::open(
                &d,
                &manifest_of(&Config::from_preset("tiny").unwrap(), "steps=5")
            )
            .is_err()
        );
        std::fs::write(d.join(MANIFEST), "{}").unwrap();
        assert!(check_dir(&d).is_ok());
        let f = dir.path().join("file");
        std::fs::write(&f, "x").unwrap();
        assert!(check_dir(&f).unwrap_err().to_string().contains("is a file"));
    }

    #[test]
    fn baseline_probs_round_trip_and_check_labels() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::from_preset("tiny").unwrap();
        let (s, _) = Store::open(dir.path(), &manifest_of(&cfg, "steps=5")).unwrap();
        let labels = [0.0, 1.0, 1.0];
        let probs = [0.25, 0.5, 0.125];
        s.save_baseline_probs(&labels, &probs).unwrap();
        assert_eq!(s.load_baseline_probs(&labels), Some(probs.to_vec()));
        assert_eq!(s.load_baseline_probs(&[1.0, 1.0, 1.0]), None);
        assert_eq!(s.load_baseline_probs(&[0.0, 1.0]), None);
        let evals = vec![(100, vec![0.5, 0.25, 0.75]), (200, probs.to_vec())];
        s.save_baseline_evals(&labels, &evals).unwrap();
        let got = s.load_baseline_evals(&labels);
        assert_eq!(got.into_iter().collect::<Vec<_>>(), evals);
        assert!(s.load_baseline_evals(&[1.0, 1.0, 1.0]).is_empty());
    }
}
