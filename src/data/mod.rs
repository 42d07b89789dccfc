//! Data: Criteo TSV reading, the synthetic Criteo-shaped stream, dataset statistics, and the
//! `Batch` every other module consumes.
//!
//! Owns: turning bytes (or a seed) into rows of (label, 13 dense, 26 token keys). Must never:
//! load a whole Criteo file into memory, panic on any input bytes, or know about models or the UI.

pub mod criteo;
pub mod stats;
pub mod synthetic;

/// Dense (integer) columns I1..I13.
pub const NUM_DENSE: usize = 13;
/// Categorical columns C1..C26.
pub const NUM_CAT: usize = 26;

/// The well-defined key of a (feature, value) token that every representation hashes or looks up:
/// the feature index in bits 33.., a presence bit at 32, the 32-bit Criteo value in bits 0..32.
/// A missing value is its own token per feature (presence bit clear), as in DLRM's preprocessing.
#[inline]
pub fn token_key(feature: usize, value: Option<u32>) -> u64 {
    let f = (feature as u64) << 33;
    match value {
        Some(v) => f | (1 << 32) | v as u64,
        None => f,
    }
}

/// Feature index of a token key.
#[inline]
pub fn key_feature(key: u64) -> usize {
    (key >> 33) as usize
}

/// A block of rows, column-major by row: row `i` owns `dense[i*13..][..13]` and `keys[i*26..][..26]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// `log(1 + max(x, 0))` of I1..I13; a missing value is 0.
    pub dense: Vec<f32>,
    /// Token keys of C1..C26 (`token_key`).
    pub keys: Vec<u64>,
    /// Click labels, 0.0 or 1.0.
    pub labels: Vec<f32>,
    /// The true click probability of each row, known only for synthetic data (oracle AUC).
    pub true_prob: Option<Vec<f32>>,
}

impl Batch {
    pub fn with_capacity(rows: usize) -> Batch {
        Batch {
            dense: Vec::with_capacity(rows * NUM_DENSE),
            keys: Vec::with_capacity(rows * NUM_CAT),
            labels: Vec::with_capacity(rows),
            true_prob: None,
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn clear(&mut self) {
        self.dense.clear();
        self.keys.clear();
        self.labels.clear();
        if let Some(p) = &mut self.true_prob {
            p.clear();
        }
    }

    /// Append the rows `range` of `other` (used to cut test sets and mini-batches).
    pub fn extend_from(&mut self, other: &Batch, range: std::ops::Range<usize>) {
        self.dense
            .extend_from_slice(&other.dense[range.start * NUM_DENSE..range.end * NUM_DENSE]);
        self.keys
            .extend_from_slice(&other.keys[range.start * NUM_CAT..range.end * NUM_CAT]);
        self.labels.extend_from_slice(&other.labels[range.clone()]);
        match (&mut self.true_prob, &other.true_prob) {
            (Some(dst), Some(src)) => dst.extend_from_slice(&src[range]),
            (None, Some(src)) if self.labels.len() == range.len() => {
                self.true_prob = Some(src[range].to_vec())
            }
            _ => self.true_prob = None,
        }
    }
}
