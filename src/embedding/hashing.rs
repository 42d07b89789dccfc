//! The hashing trick: each feature's values hashed into its own table of at most `hash_rows`
//! rows; the baseline of `baseline.kind = hashing` and one of the compressed methods.
//!
//! Owns: the per-feature table sizes and offsets in the stacked buffer, the row of a key (seeded
//! xxh3-64, reduced by multiply-shift), the initialisation, and the fused forward kernel (built as
//! MEM-REC's: the keys of 8 samples hashed at once, 8 per AVX-512 vector, then their rows copied
//! out; rayon over chunks of samples; nothing allocated). The buffer, its backward and its
//! updates are the shared one-row-per-token core (`rows`). Must never: divide to reduce a hash,
//! or depend on anything but the key and the seed for a row (the kernel and
//! `reference_forward` give the same bits).

use rayon::prelude::*;

use super::collisions::FeatureCollisions;
use super::explain::{RowKind, RowRef, TokenLookup};
use super::floor::{Combine, ReadPlan};
use super::hash::{BLOCK_KEYS, derive_seed, flip_of, reduce, xxh3_64_key};
use super::rows::{RowTable, check_shapes, dim_const};
use super::table::{copy_row, prefetch_lines};
use super::{OutputShape, Representation, SparseOptimizer, TableInfo};
use crate::config::Config;
use crate::data::NUM_CAT;
use crate::util::aligned::AlignedBuf;
use crate::util::rng::SplitMix64;

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
    /// `sizes` and `offsets` by position in a block of keys (key `l` is of feature `l % 26`),
    /// so the kernel loads 8 keys' parameters as one vector.
    lanes: Box<Lanes>,
    core: RowTable,
}

/// Per-lane parameters of a block: `[sizes, offsets]`.
type Lanes = [[u64; BLOCK_KEYS]; 2];

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
            lanes: Box::new([
                std::array::from_fn(|l| sizes[l % NUM_CAT]),
                std::array::from_fn(|l| offsets[l % NUM_CAT]),
            ]),
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
    /// The row of every token of the last `forward_train`, as its kernel recorded them.
    pub fn last_rows(&self) -> &[u32] {
        &self.core.rows
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
        self.run::<true>(keys, out, &mut rows);
        self.core.rows = rows;
    }

    fn forward_eval(&self, keys: &[u64], out: &mut [f32]) {
        check_shapes("hashing", keys, out.len(), self.dim);
        self.run::<false>(keys, out, &mut []);
    }

    fn read_plan(&self, keys: &[u64]) -> Option<ReadPlan<'_>> {
        let offsets = keys
            .iter()
            .enumerate()
            .map(|(t, &key)| self.row(t % NUM_CAT, key) * self.dim as u32)
            .collect();
        let table = self.core.table.as_slice();
        ReadPlan::new(table, self.dim, 1, Combine::Sum, offsets, &[], 0, vec![]).ok()
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

    fn row_updates(&self) -> u64 {
        self.core.row_updates()
    }

    fn lookup_rows(&self, key: u64, out: &mut Vec<RowRef>) {
        let j = crate::data::key_feature(key).min(NUM_CAT - 1);
        out.push(RowRef {
            kind: RowKind::Row,
            feature: Some(j as u8),
            row: self.row(j, key) as u64 - self.offsets[j],
        });
    }

    fn explain(&self, key: u64) -> Option<TokenLookup> {
        let j = crate::data::key_feature(key).min(NUM_CAT - 1);
        let mut at = Vec::new();
        self.lookup_rows(key, &mut at);
        Some(TokenLookup::one_row(
            at[0],
            self.core.table.as_slice(),
            (at[0].row + self.offsets[j]) as usize,
            self.dim,
            format!("E_C{}[h(x) mod {}]", j + 1, self.sizes[j]),
        ))
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

/// Samples per rayon task: as MEM-REC's kernel (4 blocks of 8 samples).
const CHUNK: usize = 32;

impl HashingTrick {
    /// The plain computation the kernel must reproduce bit for bit: one key at a time, its row
    /// copied out. For tests and as the definition of the output.
    pub fn reference_forward(&self, keys: &[u64], out: &mut [f32]) {
        let d = self.dim;
        let table = self.core.table.as_slice();
        for (t, (&key, o)) in keys.iter().zip(out.chunks_exact_mut(d)).enumerate() {
            let r = self.row(t % NUM_CAT, key) as usize;
            o.copy_from_slice(&table[r * d..][..d]);
        }
    }

    /// The fused forward over whole samples; in training, every token's row into `rows`.
    fn run<const TRAIN: bool>(&self, keys: &[u64], out: &mut [f32], rows: &mut [u32]) {
        dim_const!(self.dim, DM => drive::<DM, TRAIN>(self, keys, out, rows))
    }

    /// The rows of a block of keys (whole samples, at most `BLOCK_KEYS`) into `rows`, one key at
    /// a time.
    #[inline(always)]
    fn block_rows(&self, keys: &[u64], rows: &mut [u32; BLOCK_KEYS]) {
        for (l, (&key, r)) in keys.iter().zip(rows.iter_mut()).enumerate() {
            *r = self.row(l % NUM_CAT, key);
        }
    }

    /// [`HashingTrick::block_rows`] with AVX-512: 8 keys per vector, the same xxh3 and the same
    /// multiply-shift (`size <= 2^31`, so the 32x32 multiply holds it), the offset added in
    /// 64 bits and truncated as `row` truncates.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq")]
    #[inline]
    fn block_rows_avx512(&self, keys: &[u64], rows: &mut [u32; BLOCK_KEYS]) {
        use std::arch::x86_64::*;
        let n = keys.len().min(BLOCK_KEYS);
        let [sizes, offsets] = &*self.lanes;
        for g in 0..n.div_ceil(8) {
            let lanes = (n - 8 * g).min(8);
            let mask: __mmask8 = if lanes == 8 { 0xFF } else { (1u8 << lanes) - 1 };
            // SAFETY: lanes 8g..8g+lanes are inside `keys`; masked-off lanes are not read.
            let kv = unsafe { _mm512_maskz_loadu_epi64(mask, keys.as_ptr().add(8 * g).cast()) };
            let h = super::hash::xxh3_64_key_x8(kv, self.flip);
            // SAFETY: `sizes`, `offsets` and `rows` hold BLOCK_KEYS (a multiple of 8) entries.
            unsafe {
                let size = _mm512_loadu_si512(sizes.as_ptr().add(8 * g).cast());
                let base = _mm512_loadu_si512(offsets.as_ptr().add(8 * g).cast());
                let r = _mm512_srli_epi64::<32>(_mm512_mul_epu32(_mm512_srli_epi64::<32>(h), size));
                let r = _mm512_cvtepi64_epi32(_mm512_add_epi64(r, base));
                _mm256_storeu_si256(rows.as_mut_ptr().add(8 * g).cast(), r);
            }
        }
    }

    /// The kernel compiled for the widest vector unit the CPU has (as `MemRec::kernel_best`).
    #[inline(always)]
    fn kernel_best<const DM: usize, const TRAIN: bool>(
        &self,
        keys: &[u64],
        out: &mut [f32],
        rows: &mut [u32],
    ) {
        let me = self;
        crate::util::simd::dispatch!(fn<const DM: usize, const TRAIN: bool>(
            me: &HashingTrick,
            keys: &[u64],
            out: &mut [f32],
            rows: &mut [u32],
        ) {
            ["avx512f", "avx512dq"] => me.kernel::<DM, TRAIN, true>(keys, out, rows),
            ["avx2"] => me.kernel::<DM, TRAIN, false>(keys, out, rows),
            _ => me.kernel::<DM, TRAIN, false>(keys, out, rows),
        })
    }

    /// The fused kernel over one chunk of samples. Blocks of 8 samples: the next block's keys
    /// are prefetched, the block's 208 keys hashed (8 at a time with `SIMD`, only instantiated
    /// from `kernel_avx512`), then its rows copied out; the copies are independent loads the
    /// core overlaps with each other and with the next block's hashing.
    #[inline(always)]
    fn kernel<const DM: usize, const TRAIN: bool, const SIMD: bool>(
        &self,
        keys: &[u64],
        out: &mut [f32],
        rec: &mut [u32],
    ) {
        let d = if DM > 0 { DM } else { self.dim };
        let table = self.core.table.as_slice();
        let mut rows = [0u32; BLOCK_KEYS];
        for (b, block) in keys.chunks(BLOCK_KEYS).enumerate() {
            if let Some(next) = keys.get((b + 1) * BLOCK_KEYS..) {
                prefetch_lines(&next[..next.len().min(BLOCK_KEYS)]);
            }
            #[cfg(target_arch = "x86_64")]
            if SIMD {
                // SAFETY: SIMD is only true in `kernel_avx512`, reached after checking that the
                // CPU has AVX-512F and DQ.
                unsafe { self.block_rows_avx512(block, &mut rows) };
            } else {
                self.block_rows(block, &mut rows);
            }
            #[cfg(not(target_arch = "x86_64"))]
            self.block_rows(block, &mut rows);
            let n = block.len();
            let t0 = b * BLOCK_KEYS;
            if TRAIN {
                rec[t0..t0 + n].copy_from_slice(&rows[..n]);
            }
            for (&r, o) in rows[..n]
                .iter()
                .zip(out[t0 * d..(t0 + n) * d].chunks_exact_mut(d))
            {
                copy_row::<DM>(o, &table[r as usize * d..][..d]);
            }
        }
    }
}

/// Split the batch into `CHUNK`-sample tasks and run the fused kernel on each.
fn drive<const DM: usize, const TRAIN: bool>(
    h: &HashingTrick,
    keys: &[u64],
    out: &mut [f32],
    rows: &mut [u32],
) {
    let d = if DM > 0 { DM } else { h.dim };
    let per = CHUNK * NUM_CAT;
    if TRAIN {
        keys.par_chunks(per)
            .zip(out.par_chunks_mut(per * d))
            .zip(rows.par_chunks_mut(per))
            .for_each(|((kc, oc), rc)| h.kernel_best::<DM, true>(kc, oc, rc));
    } else {
        keys.par_chunks(per)
            .zip(out.par_chunks_mut(per * d))
            .for_each(|(kc, oc)| h.kernel_best::<DM, false>(kc, oc, &mut []));
    }
}
