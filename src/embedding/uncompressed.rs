//! DLRM's uncompressed tables over the observed vocabulary: the baseline every compressed
//! method is measured against.
//!
//! Owns: the vocabulary ((feature, key) -> row, an open-addressing table probed with prefetches),
//! the insertion pass that hands out rows in order of first appearance, each new row's
//! initialisation from its key, and the pipelined training gather. The row buffer, its backward
//! and its updates are the shared one-row-per-token core (`rows`). Must never: let a map's
//! iteration order reach a result (the vocabulary is only probed), grow a vocabulary outside the
//! sequential insertion pass (`insert_missing`, from `forward_train` or `admit`), or divide to
//! reduce a hash.

use rayon::prelude::*;

use super::collisions::FeatureCollisions;
use super::explain::{RowKind, RowRef, TokenLookup};
use super::hash::{derive_seed, hash_key};
use super::rows::{CHUNK, RowTable, check_shapes};
use super::table::{copy_row, prefetch_lines};
use super::{OutputShape, Representation, SparseOptimizer, TableInfo};
use crate::config::Config;
use crate::data::NUM_CAT;
use crate::util::aligned::AlignedBuf;
use crate::util::rng::SplitMix64;

/// Every feature's vocabulary in one open-addressing table: (feature, key) -> row.
///
/// One probe touches one 16-byte slot (key, row, feature), and the slot of a token is known from
/// its key alone, so the training pre-pass can prefetch the slots of tokens ahead of the one it
/// resolves (the std map neither exposes its slots nor groups the 26 features). Linear probing,
/// at most three quarters full (16-byte slots: 21-43 bytes a value, next to its 64-byte row at
/// dim 16); the slot comes from the top bits of a multiplicative hash (no division). Contents
/// never depend on insertion timing beyond the rows handed out, and nothing iterates it.
#[derive(Debug, Clone)]
struct Vocab {
    slots: Vec<Slot>,
    /// `64 - log2(slots.len())`.
    shift: u32,
    len: usize,
    per_feature: [u64; NUM_CAT],
}

#[derive(Debug, Clone, Copy)]
#[repr(C, align(16))]
struct Slot {
    key: u64,
    /// `EMPTY_ROW` when the slot is free.
    row: u32,
    feature: u32,
}

const EMPTY_ROW: u32 = u32::MAX;
const FREE: Slot = Slot {
    key: 0,
    row: EMPTY_ROW,
    feature: 0,
};

impl Vocab {
    fn new() -> Vocab {
        Vocab::with_slots(1 << 10)
    }

    fn with_slots(n: usize) -> Vocab {
        Vocab {
            slots: vec![FREE; n],
            shift: 64 - n.trailing_zeros(),
            len: 0,
            per_feature: [0; NUM_CAT],
        }
    }

    #[inline(always)]
    fn slot_of(&self, feature: usize, key: u64) -> usize {
        let h = (key ^ (feature as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> self.shift) as usize
    }

    /// Hint the CPU to fetch the slot where a probe for (feature, key) starts.
    #[inline(always)]
    fn prefetch(&self, feature: usize, key: u64) {
        let i = self.slot_of(feature, key);
        super::table::prefetch_read(self.slots[i..].as_ptr().cast());
    }

    fn get(&self, feature: usize, key: u64) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut i = self.slot_of(feature, key);
        loop {
            let s = self.slots[i];
            if s.row == EMPTY_ROW {
                return None;
            }
            if s.key == key && s.feature == feature as u32 {
                return Some(s.row);
            }
            i = (i + 1) & mask;
        }
    }

    /// The row of (feature, key), inserting `next` if absent; `true` when it was inserted.
    #[inline(always)]
    fn get_or_insert(&mut self, feature: usize, key: u64, next: u32) -> (u32, bool) {
        let mask = self.slots.len() - 1;
        let mut i = self.slot_of(feature, key);
        loop {
            let s = self.slots[i];
            if s.row == EMPTY_ROW {
                break;
            }
            if s.key == key && s.feature == feature as u32 {
                return (s.row, false);
            }
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot {
            key,
            row: next,
            feature: feature as u32,
        };
        self.len += 1;
        self.per_feature[feature] += 1;
        if 4 * self.len > 3 * self.slots.len() {
            self.grow();
        }
        (next, true)
    }

    fn grow(&mut self) {
        let mut bigger = Vocab::with_slots(2 * self.slots.len());
        let mask = bigger.slots.len() - 1;
        for s in self.slots.iter().filter(|s| s.row != EMPTY_ROW) {
            let mut i = bigger.slot_of(s.feature as usize, s.key);
            while bigger.slots[i].row != EMPTY_ROW {
                i = (i + 1) & mask;
            }
            bigger.slots[i] = *s;
        }
        bigger.len = self.len;
        bigger.per_feature = self.per_feature;
        *self = bigger;
    }
}

/// Marks a token whose value is not in the vocabulary yet (in `Uncompressed::rows`).
const MISSING: u32 = EMPTY_ROW;
/// New rows initialised per rayon task.
const INIT_ROWS: usize = 64;

/// The parallel first pass of `Uncompressed::forward_train`: row of every token already in the
/// vocabulary into `rows` and its values into `out`, `MISSING` for the others (whose outputs
/// are left for the caller); returns how many are missing.
///
/// Both memory reads of a token usually miss the cache (the vocabulary and the rows do not stay
/// in L2 next to the dense model), and the second depends on the first. So tokens go in blocks
/// of `LAG`, in a pipeline: the probes of block `b + 1` are prefetched while block `b` is probed
/// (each probe then prefetches its row), and block `b - 1`'s rows, prefetched a block ago, are
/// copied out.
fn lookup_gather_dm<const DM: usize>(
    vocab: &Vocab,
    table: &[f32],
    dim: usize,
    keys: &[u64],
    rows: &mut [u32],
    out: &mut [f32],
) -> usize {
    const LAG: usize = 16;
    let d = if DM > 0 { DM } else { dim };
    let copy = |rc: &[u32], oc: &mut [f32], span: std::ops::Range<usize>| {
        for t in span {
            let r = rc[t];
            if r != MISSING {
                copy_row::<DM>(&mut oc[t * d..][..d], &table[r as usize * d..][..d]);
            }
        }
    };
    rows.par_chunks_mut(CHUNK * NUM_CAT)
        .zip(keys.par_chunks(CHUNK * NUM_CAT))
        .zip(out.par_chunks_mut(CHUNK * NUM_CAT * d))
        .map(|((rc, kc), oc)| {
            let n = kc.len();
            let mut missing = 0usize;
            for (t, &key) in kc.iter().enumerate().take(LAG) {
                vocab.prefetch(t % NUM_CAT, key);
            }
            for b0 in (0..n).step_by(LAG) {
                let b1 = (b0 + LAG).min(n);
                for t in b0..b1 {
                    if let Some(&ahead) = kc.get(t + LAG) {
                        vocab.prefetch((t + LAG) % NUM_CAT, ahead);
                    }
                    rc[t] = match vocab.get(t % NUM_CAT, kc[t]) {
                        Some(row) => {
                            prefetch_lines(&table[row as usize * d..][..d]);
                            row
                        }
                        None => {
                            missing += 1;
                            MISSING
                        }
                    };
                }
                if b0 > 0 {
                    copy(rc, oc, b0 - LAG..b0);
                }
            }
            // The last block (chunks are whole samples, so never empty).
            copy(rc, oc, n.saturating_sub(1) / LAG * LAG..n);
            missing
        })
        .sum()
}

/// DLRM's uncompressed tables over the vocabulary seen in training, plus one out-of-vocabulary
/// row per feature for values first seen at evaluation.
///
/// Rows `0..26` are the out-of-vocabulary rows (zero: an unseen value contributes nothing and is
/// never trained, since training adds every value it sees). A new value gets the next row,
/// initialised uniform in +-sqrt(1/n_j) (DLRM's init) with `n_j` the feature's cardinality in the
/// full dataset (the preset's), from a hash of (seed, key), so a row's initial value does not
/// depend on when it was first seen.
#[derive(Debug, Clone)]
pub struct Uncompressed {
    dim: usize,
    seed: u64,
    bounds: [f32; NUM_CAT],
    vocab: Vocab,
    /// Out-of-vocabulary rows first, then one row per value in order of first appearance.
    core: RowTable,
}

impl Uncompressed {
    pub fn from_config(cfg: &Config) -> Uncompressed {
        Uncompressed::new(cfg.model.dim, &cfg.data.cardinalities, cfg.seed)
    }

    /// `cardinalities`: full-dataset distinct values per feature (for the init range).
    pub fn new(dim: usize, cardinalities: &[u64], seed: u64) -> Uncompressed {
        let dim = dim.max(1);
        let mut bounds = [1.0f32; NUM_CAT];
        for (b, &c) in bounds.iter_mut().zip(cardinalities) {
            *b = (1.0 / c.max(1) as f64).sqrt() as f32;
        }
        Uncompressed {
            dim,
            seed: derive_seed(seed, "uncompressed.init", 0),
            bounds,
            vocab: Vocab::new(),
            core: RowTable::new(dim, AlignedBuf::zeros(NUM_CAT * dim)),
        }
    }

    /// The row buffer: out-of-vocabulary rows first, then one row per value in order of first
    /// appearance.
    pub fn table(&self) -> &[f32] {
        self.core.table.as_slice()
    }
    pub fn table_mut(&mut self) -> &mut [f32] {
        self.core.table.as_mut_slice()
    }
    /// Row of a key, if in the vocabulary (`feature` is the key's column).
    pub fn row_of(&self, feature: usize, key: u64) -> Option<u32> {
        (feature < NUM_CAT).then(|| self.vocab.get(feature, key))?
    }
    pub fn optimizer_state(&self) -> &[f32] {
        &self.core.state.acc
    }

    fn vocab_rows(&self) -> u64 {
        self.vocab.len as u64
    }

    /// In batch order, every token of `keys` marked `MISSING` in `rows` gets its row (a new value
    /// the next row, at its first occurrence, as one sequential pass would give it) and is
    /// pushed to `marked`; then the new rows are initialised, in parallel, since a row's initial
    /// values depend only on its key.
    fn insert_missing(&mut self, keys: &[u64], marked: &mut Vec<usize>) {
        let dim = self.dim;
        let first_new = self.core.table.len() / dim;
        let mut fresh: Vec<(u64, usize)> = Vec::new();
        for (t, &key) in keys.iter().enumerate() {
            if self.core.rows[t] != MISSING {
                continue;
            }
            let j = t % NUM_CAT;
            let next = (first_new + fresh.len()) as u32;
            let (row, new) = self.vocab.get_or_insert(j, key, next);
            if new {
                fresh.push((key, j));
            }
            self.core.rows[t] = row;
            marked.push(t);
        }
        self.core.table.resize((first_new + fresh.len()) * dim);
        let (seed, bounds) = (self.seed, self.bounds);
        self.core.table.as_mut_slice()[first_new * dim..]
            .par_chunks_mut(INIT_ROWS * dim)
            .zip(fresh.par_chunks(INIT_ROWS))
            .for_each(|(rows, new)| {
                for (row, &(key, j)) in rows.chunks_exact_mut(dim).zip(new) {
                    let mut rng = SplitMix64(hash_key(key, seed));
                    for x in row {
                        *x = rng.uniform(bounds[j]);
                    }
                }
            });
    }
}

impl Representation for Uncompressed {
    fn kind(&self) -> &'static str {
        "uncompressed"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn output_shape(&self) -> OutputShape {
        OutputShape::PerFeature
    }

    fn forward_train(&mut self, keys: &[u64], out: &mut [f32]) {
        check_shapes("uncompressed", keys, out.len(), self.dim);
        self.core.forget_grouping();
        // Two passes. First, in parallel and read-only, every value already in the vocabulary
        // gets its row, copied straight to the output; the others are marked. Then, in batch
        // order, the marked ones are added: a new value gets the next row at its first
        // occurrence, as one sequential pass would give it. The new rows are initialised after
        // that pass, in parallel (a row's initial values depend only on its key), and copied to
        // the marked outputs. Rows that existed before the step are not changed by it, so
        // copying them before the insertions gives the same output.
        let dim = self.dim;
        self.core.rows.resize(keys.len(), 0);
        let missing = crate::dispatch_dim!(
            dim,
            lookup_gather_dm(
                &self.vocab,
                self.core.table.as_slice(),
                dim,
                keys,
                &mut self.core.rows,
                out
            )
        );
        if missing == 0 {
            return;
        }
        let mut marked = Vec::with_capacity(missing);
        self.insert_missing(keys, &mut marked);
        let table = self.core.table.as_slice();
        for t in marked {
            let r = self.core.rows[t] as usize;
            out[t * dim..][..dim].copy_from_slice(&table[r * dim..][..dim]);
        }
    }

    fn admit(&mut self, keys: &[u64]) {
        assert!(
            keys.len().is_multiple_of(NUM_CAT),
            "uncompressed: {} keys is not a whole number of {NUM_CAT}-key samples",
            keys.len()
        );
        // In blocks of samples, so the marks take little memory however many rows are known;
        // every value goes through the same insertion pass as in `forward_train`.
        const BLOCK: usize = 4096 * NUM_CAT;
        let mut marked = Vec::new();
        self.core.forget_grouping();
        for block in keys.chunks(BLOCK) {
            self.core.rows.clear();
            self.core.rows.resize(block.len(), MISSING);
            marked.clear();
            self.insert_missing(block, &mut marked);
        }
        self.core.rows.clear();
    }

    fn forward_eval(&self, keys: &[u64], out: &mut [f32]) {
        check_shapes("uncompressed", keys, out.len(), self.dim);
        self.core.gather_by(keys, out, |j, key| {
            self.vocab.get(j, key).unwrap_or(j as u32)
        });
    }

    fn prepare_backward(&mut self) {
        self.core.prepare_backward();
    }

    fn backward_update(&mut self, keys: &[u64], grad_out: &[f32], opt: SparseOptimizer) {
        self.core
            .backward_update("uncompressed", keys, grad_out, opt);
    }

    fn tables(&self) -> Vec<TableInfo> {
        // One buffer, reported per feature: its vocabulary plus its out-of-vocabulary row.
        self.vocab
            .per_feature
            .iter()
            .enumerate()
            .map(|(j, &n)| self.core.info(format!("C{}", j + 1), n + 1))
            .collect()
    }

    fn collisions(&self, distinct_keys: &[u64]) -> Vec<FeatureCollisions> {
        super::collisions::none(distinct_keys)
    }

    fn row_updates(&self) -> u64 {
        self.core.row_updates()
    }

    /// The value's own row, or its feature's out-of-vocabulary row (the one `forward_eval`
    /// reads for a value not in the vocabulary).
    fn lookup_rows(&self, key: u64, out: &mut Vec<RowRef>) {
        let j = crate::data::key_feature(key).min(NUM_CAT - 1);
        out.push(match self.vocab.get(j, key) {
            Some(r) => RowRef {
                kind: RowKind::Row,
                feature: Some(j as u8),
                row: r as u64,
            },
            None => RowRef {
                kind: RowKind::OutOfVocabulary,
                feature: Some(j as u8),
                row: j as u64,
            },
        });
    }

    fn explain(&self, key: u64) -> Option<TokenLookup> {
        let mut at = Vec::new();
        self.lookup_rows(key, &mut at);
        let formula = match at[0].kind {
            RowKind::OutOfVocabulary => "E[out of vocabulary] (never trained: zeros)".to_string(),
            _ => "E[row of x]: its own row".to_string(),
        };
        Some(TokenLookup::one_row(
            at[0],
            self.core.table.as_slice(),
            at[0].row as usize,
            self.dim,
            formula,
        ))
    }

    fn distinct_tokens(&self) -> Option<u64> {
        Some(self.vocab_rows())
    }
}
