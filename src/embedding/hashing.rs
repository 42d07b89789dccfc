//! The hashing trick: each feature's values hashed into its own table of at most `hash_rows`
//! rows; the baseline of `baseline.kind = hashing` and one of the compressed methods.
//!
//! Owns: the per-feature table sizes and offsets in the stacked buffer, the row of a key (seeded
//! xxh3-64, reduced by multiply-shift) and the initialisation. The buffer, its backward and its
//! updates are the shared one-row-per-token core (`rows`). Must never: divide to reduce a hash,
//! or depend on anything but the key and the seed for a row.

use rayon::prelude::*;

use super::collisions::FeatureCollisions;
use super::hash::{SplitMix64, derive_seed, flip_of, reduce, xxh3_64_key};
use super::rows::{CHUNK, RowTable, check_shapes};
use super::table::{AlignedBuf, copy_row};
use super::{OutputShape, Representation, SparseOptimizer, TableInfo};
use crate::config::Config;
use crate::data::NUM_CAT;

/// The hashing trick: feature j's value goes to row `h(key) mod m_j` of its own table of
/// `m_j = min(hash_rows, cardinality_j)` rows (multiply-shift, not mod), tables stacked in one
/// buffer. Init uniform in +-sqrt(1/m_j), as DLRM does for its (hashed) tables.
#[derive(Debug, Clone)]
pub struct HashingTrick {
    dim: usize,
    /// `flip_of` the hashing seed, computed once (the per-key hash is then one xor and mixing).
    flip: u64,
    sizes: [u64; NUM_CAT],
    offsets: [u64; NUM_CAT],
    core: RowTable,
}

impl HashingTrick {
    pub fn from_config(cfg: &Config) -> HashingTrick {
        HashingTrick::new(
            cfg.model.dim,
            &cfg.data.cardinalities,
            cfg.baseline.hash_rows as u64,
            cfg.seed,
        )
    }

    pub fn new(dim: usize, cardinalities: &[u64], hash_rows: u64, seed: u64) -> HashingTrick {
        let dim = dim.max(1);
        let mut sizes = [1u64; NUM_CAT];
        let mut offsets = [0u64; NUM_CAT];
        let mut total = 0u64;
        for j in 0..NUM_CAT {
            let card = cardinalities.get(j).copied().unwrap_or(hash_rows);
            sizes[j] = hash_rows.min(card).clamp(1, 1 << 31);
            offsets[j] = total;
            total += sizes[j];
        }
        let mut table = AlignedBuf::zeros(total as usize * dim);
        let mut rng = SplitMix64(derive_seed(seed, "hashing.init", 0));
        for j in 0..NUM_CAT {
            let bound = (1.0 / sizes[j] as f64).sqrt() as f32;
            let lo = offsets[j] as usize * dim;
            let hi = lo + sizes[j] as usize * dim;
            for x in &mut table.as_mut_slice()[lo..hi] {
                *x = rng.uniform(bound);
            }
        }
        HashingTrick {
            dim,
            flip: flip_of(derive_seed(seed, "hashing", 0)),
            sizes,
            offsets,
            core: RowTable::new(dim, table),
        }
    }

    /// Row (in the stacked buffer) of a key of feature `j`.
    #[inline]
    pub fn row(&self, j: usize, key: u64) -> u32 {
        let h = (xxh3_64_key(key, self.flip) >> 32) as u32;
        (self.offsets[j] + reduce(h, self.sizes[j]) as u64) as u32
    }

    /// Rows of each feature's table.
    pub fn sizes(&self) -> &[u64; NUM_CAT] {
        &self.sizes
    }
    pub fn table(&self) -> &[f32] {
        self.core.table.as_slice()
    }
    pub fn table_mut(&mut self) -> &mut [f32] {
        self.core.table.as_mut_slice()
    }
}

impl Representation for HashingTrick {
    fn kind(&self) -> &'static str {
        "hashing"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn output_shape(&self) -> OutputShape {
        OutputShape::PerFeature
    }

    fn forward_train(&mut self, keys: &[u64], out: &mut [f32]) {
        check_shapes("hashing", keys, out.len(), self.dim);
        self.core.forget_grouping();
        let mut rows = std::mem::take(&mut self.core.rows);
        rows.resize(keys.len(), 0);
        let this = &*self;
        rows.par_chunks_mut(CHUNK * NUM_CAT)
            .zip(keys.par_chunks(CHUNK * NUM_CAT))
            .for_each(|(rc, kc)| {
                for (rs, ks) in rc.chunks_exact_mut(NUM_CAT).zip(kc.chunks_exact(NUM_CAT)) {
                    for (j, (r, &key)) in rs.iter_mut().zip(ks).enumerate() {
                        *r = this.row(j, key);
                    }
                }
            });
        gather(self.core.table.as_slice(), self.dim, &rows, out);
        self.core.rows = rows;
    }

    fn forward_eval(&self, keys: &[u64], out: &mut [f32]) {
        check_shapes("hashing", keys, out.len(), self.dim);
        self.core.gather_by(keys, out, |j, key| self.row(j, key));
    }

    fn prepare_backward(&mut self) {
        self.core.prepare_backward();
    }

    fn backward_update(&mut self, keys: &[u64], grad_out: &[f32], opt: SparseOptimizer) {
        self.core.backward_update("hashing", keys, grad_out, opt);
    }

    fn tables(&self) -> Vec<TableInfo> {
        (0..NUM_CAT)
            .map(|j| self.core.info(format!("C{}", j + 1), self.sizes[j]))
            .collect()
    }

    fn collisions(&self, distinct_keys: &[u64]) -> Vec<FeatureCollisions> {
        let spec = super::collisions::Spec {
            k: 1,
            kw: 0,
            shared: false,
            token_rows: self.sizes,
            weight_rows: 1,
        };
        super::collisions::compute(distinct_keys, &spec, |key, slots| {
            let j = crate::data::key_feature(key).min(NUM_CAT - 1);
            slots[0] = self.row(j, key);
        })
    }
}

/// Parallel gather: `out[t]` = row `rows[t]` for every token `t`.
fn gather(table: &[f32], dim: usize, rows: &[u32], out: &mut [f32]) {
    crate::dispatch_dim!(dim, gather_dm(table, dim, rows, out))
}

fn gather_dm<const DM: usize>(table: &[f32], dim: usize, rows: &[u32], out: &mut [f32]) {
    let d = if DM > 0 { DM } else { dim };
    rows.par_chunks(CHUNK * NUM_CAT)
        .zip(out.par_chunks_mut(CHUNK * NUM_CAT * d))
        .for_each(|(rc, oc)| {
            for (&r, o) in rc.iter().zip(oc.chunks_exact_mut(d)) {
                copy_row::<DM>(o, &table[r as usize * d..][..d]);
            }
        });
}
