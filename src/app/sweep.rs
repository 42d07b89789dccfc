//! A sweep directory (the output of `memrec-tui sweep`) loaded into the explorer, and the rule for
//! turning one of its points into the session's knobs.
//!
//! Owns: what a loaded sweep holds for the Pareto view, the user-facing messages of a bad sweep
//! directory, and the check that a point's configuration differs from the session's only in the
//! knobs. Must never: write to, lock or repair the directory (a sweep may be running in it:
//! `store::load_dir` reads only), or let a point of another base configuration into the session.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::config::knobs::adopt_knobs;
use crate::sweep::store::{self, BASELINE_KEY, PointRecord, StoreError};

/// A sweep read from disk.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSweep {
    pub dir: PathBuf,
    /// The base configuration every point applies its assignments to.
    pub base: Config,
    /// `steps=N` or `epochs=E`.
    pub budget: String,
    pub baseline: Option<PointRecord>,
    /// The finished points (the baseline excluded), in file order.
    pub points: Vec<PointRecord>,
    /// Lines skipped: unreadable (a torn write) and of another base configuration.
    pub unreadable: usize,
    pub other_base: usize,
}

impl LoadedSweep {
    /// One line for the status bar: what was loaded and what was skipped.
    pub fn describe(&self) -> String {
        let ok = self.points.iter().filter(|p| p.ok()).count();
        let mut s = format!(
            "loaded sweep {} ({}): {} point(s), {} ok{}",
            self.dir.display(),
            self.budget,
            self.points.len(),
            ok,
            if self.baseline.is_some() {
                ", with its baseline"
            } else {
                ", no baseline line"
            }
        );
        if self.unreadable > 0 {
            s.push_str(&format!(
                "; {} unreadable line(s) skipped (an interrupted write?)",
                self.unreadable
            ));
        }
        if self.other_base > 0 {
            s.push_str(&format!(
                "; {} line(s) of another base configuration skipped",
                self.other_base
            ));
        }
        s
    }
}

/// Read the sweep in `dir`. Every failure is a message naming the path and what is wrong;
/// nothing here panics or writes.
pub fn load(dir: &Path) -> Result<LoadedSweep, String> {
    let shown = dir.display();
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("{shown} is a file, not a sweep directory")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("{shown}: no such directory"));
        }
        Err(e) => return Err(format!("{shown}: {e}")),
    }
    let loaded = match store::load_dir(dir) {
        Ok(l) => l,
        Err(StoreError::Io { path, source }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "{shown} is not a sweep directory: no {} (write one with `memrec-tui sweep --out {shown}`)",
                path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned()
                )
            ));
        }
        Err(StoreError::BadManifest { path, msg }) => {
            return Err(format!(
                "{shown} is not a sweep directory: {} cannot be read ({msg})",
                path.display()
            ));
        }
        Err(e) => return Err(e.to_string()),
    };
    let base: Config = serde_json::from_value(loaded.manifest.base_config.clone()).map_err(|e| {
        format!(
            "{}: the base configuration cannot be read ({e}); was it written by another version?",
            dir.join(store::MANIFEST).display()
        )
    })?;
    let (baselines, points): (Vec<PointRecord>, Vec<PointRecord>) = loaded
        .records
        .into_iter()
        .partition(|r| r.key == BASELINE_KEY);
    if points.is_empty() {
        return Err(format!(
            "{shown}: the sweep holds no finished point yet{}",
            if loaded.unreadable > 0 {
                format!(
                    " ({} unreadable line(s) in {})",
                    loaded.unreadable,
                    store::POINTS
                )
            } else {
                String::new()
            }
        ));
    }
    Ok(LoadedSweep {
        dir: dir.to_path_buf(),
        base,
        budget: loaded.manifest.budget,
        // A resumed sweep may have written its baseline twice: the last one is the current one.
        baseline: baselines.into_iter().next_back(),
        points,
        unreadable: loaded.unreadable,
        other_base: loaded.other_base,
    })
}

/// `cfg` with every knob (`config::knobs`, with the bottom MLP's last width that follows the dim)
/// set to `from`'s, and with what never changes results (threads, names) cleared: two
/// configurations that normalise equal differ only in knobs.
fn outside_knobs(cfg: &Config, from: &Config) -> Config {
    let mut c = cfg.clone();
    adopt_knobs(from, &mut c);
    c.threads = 0;
    c.name.clear();
    c.description.clear();
    c
}

/// Fields (with both values) where `a` and `b` differ outside the knobs.
pub fn differences_outside_knobs(a: &Config, b: &Config) -> Vec<String> {
    let na = serde_json::to_value(outside_knobs(a, b)).unwrap_or_default();
    let nb = serde_json::to_value(outside_knobs(b, b)).unwrap_or_default();
    let mut diff = Vec::new();
    store::json_diff(&na, &nb, "", &mut diff);
    diff
}

/// The configuration `record` was trained with (the sweep's base with its grid values applied),
/// ready to become the session's knobs; refused when it differs from `session` in anything the
/// knobs do not cover (the data, the seed, the evaluation, the MLPs...), so results of two
/// setups are never mixed on one screen.
pub fn point_config(
    sweep: &LoadedSweep,
    record: &PointRecord,
    session: &Config,
) -> Result<Config, String> {
    let mut cfg = crate::sweep::grid::with_assignments(&sweep.base, &record.axes)
        .map_err(|e| format!("sweep point {}: {e}", record.key))?;
    let diff = differences_outside_knobs(&cfg, session);
    if !diff.is_empty() {
        let n = diff.len();
        let mut shown: Vec<String> = diff.into_iter().take(3).collect();
        if n > shown.len() {
            shown.push(format!("and {} more", n - shown.len()));
        }
        return Err(format!(
            "not loaded: sweep point {} differs from this session outside the knobs ({}; sweep vs session); start the explorer with the sweep's configuration to use it",
            record.key,
            shown.join(", ")
        ));
    }
    // What the session runs on stays the session's (threads, preset name for the knob marks).
    cfg.threads = session.threads;
    cfg.name = session.name.clone();
    cfg.description = session.description.clone();
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Config {
        Config::from_preset("tiny").unwrap()
    }

    #[test]
    fn knob_differences_are_allowed_others_are_named() {
        let a = tiny();
        let mut b = a.clone();
        b.memrec.k = 7;
        b.train.lr = 0.5;
        b.threads = 3;
        assert!(differences_outside_knobs(&a, &b).is_empty());
        b.seed += 1;
        b.model.top_mlp = vec![7, 1];
        let d = differences_outside_knobs(&a, &b);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d.iter().any(|x| x.starts_with("seed")), "{d:?}");
        assert!(d.iter().any(|x| x.starts_with("model.top_mlp")), "{d:?}");
    }
}
