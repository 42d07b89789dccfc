//! The test-row probabilities a sweep keeps for its paired comparisons: the test labels
//! (`test.labels`, written beside the baseline's evaluations), and each point's probabilities at
//! the checkpoints its summary shows (`predictions/<config hash>.evals`), so the report can put
//! the best point against the next on the same rows (`sweep::duel`). The evaluations' file format
//! is the one of `baseline.evals`.
//!
//! Owns: these formats. Must never: hand out probabilities of another base configuration or of
//! other test rows (every file carries a tag and the labels' hash, checked on reading).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::util::WriteError;

/// The test rows' labels, once per sweep directory.
pub const LABELS: &str = "test.labels";
/// The points' probabilities, one file per configuration hash.
pub const DIR: &str = "predictions";
const EVALS_MAGIC: &[u8; 8] = b"MRSWEVL1";
const LABELS_MAGIC: &[u8; 8] = b"MRSWLBL1";

/// A point's file: `predictions/<config hash>.evals`.
pub fn point_path(dir: &Path, config_hash: &str) -> PathBuf {
    dir.join(DIR).join(format!("{config_hash}.evals"))
}

/// Write `labels` to `dir/test.labels`.
pub fn save_labels(dir: &Path, labels: &[f32]) -> Result<(), WriteError> {
    let mut bytes = Vec::with_capacity(16 + labels.len() * 4);
    bytes.extend_from_slice(LABELS_MAGIC);
    bytes.extend_from_slice(&(labels.len() as u64).to_le_bytes());
    labels
        .iter()
        .for_each(|l| bytes.extend_from_slice(&l.to_le_bytes()));
    crate::util::write_atomic(&dir.join(LABELS), &bytes, true)
}

/// The labels of `dir/test.labels`; `None` when missing or damaged (a sweep from before they were
/// kept has no paired comparison between points).
pub fn load_labels(dir: &Path) -> Option<Vec<f32>> {
    let bytes = std::fs::read(dir.join(LABELS)).ok()?;
    let n = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?) as usize;
    if &bytes[..8] != LABELS_MAGIC || bytes.len() != 16 + 4 * n {
        return None;
    }
    Some(floats(&bytes[16..]))
}

/// A point's probabilities at the samples in `keep` (those it was evaluated at), tagged with the
/// base configuration's hash and its own.
pub fn save_point(
    dir: &Path,
    (base_hash, config_hash): (&str, &str),
    labels: &[f32],
    evals: &BTreeMap<u64, Vec<f32>>,
    keep: &[u64],
) -> Result<(), WriteError> {
    let kept: Vec<(u64, Vec<f32>)> = keep
        .iter()
        .filter_map(|s| evals.get(s).map(|p| (*s, p.clone())))
        .collect();
    let tag = format!("{base_hash}/{config_hash}");
    write_evals(&point_path(dir, config_hash), &tag, labels, &kept)
}

/// What `save_point` kept of the point, by samples; empty when the file is missing, damaged, or
/// of another base configuration or other test rows.
pub fn load_point(
    dir: &Path,
    (base_hash, config_hash): (&str, &str),
    labels: &[f32],
) -> BTreeMap<u64, Vec<f32>> {
    let tag = format!("{base_hash}/{config_hash}");
    read_evals(&point_path(dir, config_hash), &tag, labels).unwrap_or_default()
}

/// Write `(samples, probs)` evaluations tagged with `tag` and the labels' hash (probabilities of
/// another length than the labels are left out).
pub fn write_evals(
    path: &Path,
    tag: &str,
    labels: &[f32],
    evals: &[(u64, Vec<f32>)],
) -> Result<(), WriteError> {
    let n = labels.len();
    let kept: Vec<&(u64, Vec<f32>)> = evals.iter().filter(|(_, p)| p.len() == n).collect();
    let mut bytes = Vec::with_capacity(32 + tag.len() + kept.len() * (8 + n * 4));
    bytes.extend_from_slice(EVALS_MAGIC);
    bytes.extend_from_slice(tag.as_bytes());
    bytes.extend_from_slice(&labels_hash(labels).to_le_bytes());
    bytes.extend_from_slice(&(n as u64).to_le_bytes());
    bytes.extend_from_slice(&(kept.len() as u64).to_le_bytes());
    for (samples, probs) in kept {
        bytes.extend_from_slice(&samples.to_le_bytes());
        probs
            .iter()
            .for_each(|p| bytes.extend_from_slice(&p.to_le_bytes()));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| WriteError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    crate::util::write_atomic(path, &bytes, true)
}

/// The evaluations `write_evals` wrote with `tag` for these `labels`; `None` otherwise.
pub fn read_evals(path: &Path, tag: &str, labels: &[f32]) -> Option<BTreeMap<u64, Vec<f32>>> {
    let bytes = std::fs::read(path).ok()?;
    let tag = tag.as_bytes();
    let head = EVALS_MAGIC.len() + tag.len() + 24;
    if bytes.len() < head || &bytes[..8] != EVALS_MAGIC || &bytes[8..8 + tag.len()] != tag {
        return None;
    }
    let word = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
    };
    let at = 8 + tag.len();
    let n = word(at + 8)? as usize;
    let m = word(at + 16)? as usize;
    if word(at)? != labels_hash(labels)
        || n != labels.len()
        || bytes.len() != head + m * (8 + 4 * n)
    {
        return None;
    }
    let mut out = BTreeMap::new();
    for block in bytes[head..].chunks_exact(8 + 4 * n) {
        let samples = u64::from_le_bytes(block[..8].try_into().ok()?);
        out.insert(samples, floats(&block[8..]));
    }
    Some(out)
}

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The labels' hash every probabilities file carries.
pub fn labels_hash(labels: &[f32]) -> u64 {
    let bytes: Vec<u8> = labels.iter().flat_map(|l| l.to_le_bytes()).collect();
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_keeps_its_checkpoints_and_refuses_other_rows_or_bases() {
        let d = tempfile::tempdir().unwrap();
        let labels = [0.0, 1.0, 1.0, 0.0];
        let evals: BTreeMap<u64, Vec<f32>> = [
            (100, vec![0.1, 0.9, 0.8, 0.2]),
            (200, vec![0.2, 0.7, 0.9, 0.1]),
            (300, vec![0.3, 0.6, 0.7, 0.4]),
            (400, vec![0.5; 3]),
        ]
        .into();
        save_point(
            d.path(),
            ("base", "cfg"),
            &labels,
            &evals,
            &[200, 300, 400, 500],
        )
        .unwrap();
        let back = load_point(d.path(), ("base", "cfg"), &labels);
        // 100 was not asked for, 400 has the wrong length, 500 was never evaluated.
        assert_eq!(back.keys().copied().collect::<Vec<_>>(), [200, 300]);
        assert_eq!(back[&300], evals[&300]);
        assert!(load_point(d.path(), ("other", "cfg"), &labels).is_empty());
        assert!(load_point(d.path(), ("base", "cfg"), &[1.0, 1.0, 0.0, 0.0]).is_empty());
        assert!(load_point(d.path(), ("base", "none"), &labels).is_empty());

        assert_eq!(load_labels(d.path()), None);
        save_labels(d.path(), &labels).unwrap();
        assert_eq!(load_labels(d.path()).as_deref(), Some(&labels[..]));
        let mut bytes = std::fs::read(d.path().join(LABELS)).unwrap();
        bytes.pop();
        std::fs::write(d.path().join(LABELS), bytes).unwrap();
        assert_eq!(load_labels(d.path()), None);
    }
}
