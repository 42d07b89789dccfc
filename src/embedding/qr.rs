//! The quotient-remainder trick (Shi et al. 2020, "Compositional Embeddings Using Complementary
//! Partitions"), one of the baselines beside MEM-REC.
//!
//! Feature j's value is first mapped to an index `x` in `0..V_j` (a seeded hash reduced by
//! multiply-shift, as Criteo pipelines map raw ids into a fixed vocabulary; `V_j` is the preset's
//! cardinality). With `c` remainder rows, `x` has the unique pair `(x div c, x mod c)`, and its
//! vector is `Wq_j[x div c] * Wr_j[x mod c]`, element-wise (the paper's default "mult"
//! operation): `ceil(V_j / c) + c` rows instead of `V_j`, and no two indices share both rows.
//! Features with `V_j <= c` keep a full table of `V_j` rows (two QR tables would not be smaller).
//!
//! Owns: the stacked per-feature tables (one 64-byte-aligned buffer), the exact division by `c`
//! without a runtime divide (Lemire's fastdiv: a 64-bit reciprocal and one multiply), the fused
//! forward kernel (built as MEM-REC's: the keys of 8 samples hashed, reduced and divided at once,
//! 8 per AVX-512 vector, then each token's two rows multiplied out; rayon over chunks of samples;
//! nothing allocated), and a backward that takes both factors' gradients from the values forward read, so
//! updating one factor never feeds into the other's gradient. Must never: divide by a runtime
//! value in the hot path, or touch rows the batch did not use.

use rayon::prelude::*;

use super::collisions::FeatureCollisions;
use super::explain::{RowKind, RowRef, RowUse, TokenLookup};
use super::floor::{Combine, ReadPlan};
use super::hash::{BLOCK_KEYS, derive_seed, flip_of, reduce, xxh3_64_key};
use super::rows::{check_shapes, dim_const};
use super::table::{RowGroups, RowState, apply_sparse_with, copy_row, prefetch_lines};
use super::{OutputShape, Representation, SparseOptimizer, TableInfo};
use crate::config::{Config, qr_rows};
use crate::data::{NUM_CAT, key_feature};
use crate::util::aligned::AlignedBuf;
use crate::util::rng::SplitMix64;

/// Samples per rayon task in the forward pass: as MEM-REC's kernel (4 blocks of 8 samples).
const CHUNK: usize = 32;
/// Marks "no remainder row" (a feature with a full table).
const NONE: u32 = u32::MAX;

/// Exact `x div c` and `x mod c` for 32-bit `x` and a fixed `2 <= c < 2^32`, by multiplication
/// (Lemire, Kaser, Kurz 2019: with `m = floor((2^64 - 1) / c) + 1`, `(m * x) >> 64 = x div c`
/// for every 32-bit `x`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FastDiv {
    c: u32,
    m: u64,
}

impl FastDiv {
    pub fn new(c: u32) -> FastDiv {
        let c = c.max(2);
        FastDiv {
            c,
            m: u64::MAX / c as u64 + 1,
        }
    }
    #[inline(always)]
    pub fn div_rem(self, x: u32) -> (u32, u32) {
        let q = ((self.m as u128 * x as u128) >> 64) as u32;
        (q, x - q * self.c)
    }
}

/// Quotient-remainder embeddings, one pair of tables per feature (or one full table).
#[derive(Debug, Clone)]
pub struct Qr {
    dim: usize,
    /// `flip_of` the index hash's seed, computed once.
    flip: u64,
    div: FastDiv,
    /// `V_j`, the index range of feature j (at most 2^32).
    card: [u64; NUM_CAT],
    /// First row of feature j's quotient table (or full table) in the stacked buffer.
    base_q: [u32; NUM_CAT],
    /// First row of feature j's remainder table, or `NONE`.
    base_r: [u32; NUM_CAT],
    /// `[quotient rows, remainder rows]` per feature (`[V_j, 0]` for a full table).
    rows: [[u64; 2]; NUM_CAT],
    /// `card`, `base_q` and `base_r` by position in a block of keys (key `l` is of feature
    /// `l % 26`), so the kernel loads 8 keys' parameters as one vector.
    lanes: Box<[[u64; BLOCK_KEYS]; 3]>,
    table: AlignedBuf,
    state: RowState,
    // What the last `forward_train` read, for the backward pass.
    occ_q: Vec<u32>,
    occ_r: Vec<u32>,
    val_q: Vec<f32>,
    val_r: Vec<f32>,
    r_src: Vec<u32>,
    r_occ: Vec<u32>,
    groups: RowGroups,
}

impl Qr {
    pub fn from_config(cfg: &Config) -> Qr {
        Qr::new(
            cfg.model.dim,
            &cfg.data.cardinalities,
            cfg.memrec.qr_collisions as u64,
            cfg.seed,
        )
    }

    /// `cardinalities`: `V_j` per feature; `collisions`: `c`, remainder rows per feature.
    /// Quotient (and full) rows start uniform in +-sqrt(1/V_j) (DLRM's init for a table of `V_j`
    /// rows); remainder rows start at 1, so an untrained model reads `Wq[x div c]` and the
    /// remainder factors learn to tell the `c` indices sharing a quotient row apart.
    pub fn new(dim: usize, cardinalities: &[u64], collisions: u64, seed: u64) -> Qr {
        let dim = dim.max(1);
        let c = collisions.clamp(2, u32::MAX as u64);
        let mut card = [1u64; NUM_CAT];
        let mut rows = [[1u64, 0]; NUM_CAT];
        let mut base_q = [0u32; NUM_CAT];
        let mut base_r = [NONE; NUM_CAT];
        let mut total = 0u64;
        for j in 0..NUM_CAT {
            card[j] = cardinalities.get(j).copied().unwrap_or(1).clamp(1, 1 << 32);
            rows[j] = qr_rows(card[j], c);
            base_q[j] = total as u32;
            total += rows[j][0];
            if rows[j][1] > 0 {
                base_r[j] = total as u32;
                total += rows[j][1];
            }
        }
        let mut table = AlignedBuf::zeros(total as usize * dim);
        let mut rng = SplitMix64(derive_seed(seed, "qr.init", 0));
        let t = table.as_mut_slice();
        for j in 0..NUM_CAT {
            let bound = (1.0 / card[j] as f64).sqrt() as f32;
            let q0 = base_q[j] as usize * dim;
            for x in &mut t[q0..q0 + rows[j][0] as usize * dim] {
                *x = rng.uniform(bound);
            }
            if base_r[j] != NONE {
                let r0 = base_r[j] as usize * dim;
                t[r0..r0 + rows[j][1] as usize * dim].fill(1.0);
            }
        }
        Qr {
            dim,
            flip: flip_of(derive_seed(seed, "qr", 0)),
            div: FastDiv::new(c as u32),
            card,
            base_q,
            base_r,
            rows,
            lanes: Box::new([
                std::array::from_fn(|l| card[l % NUM_CAT]),
                std::array::from_fn(|l| base_q[l % NUM_CAT] as u64),
                std::array::from_fn(|l| base_r[l % NUM_CAT] as u64),
            ]),
            table,
            state: RowState::default(),
            occ_q: Vec::new(),
            occ_r: Vec::new(),
            val_q: Vec::new(),
            val_r: Vec::new(),
            r_src: Vec::new(),
            r_occ: Vec::new(),
            groups: RowGroups::default(),
        }
    }

    /// Feature j's index of a key, in `0..V_j`.
    #[inline]
    fn index(&self, j: usize, key: u64) -> u32 {
        reduce((xxh3_64_key(key, self.flip) >> 32) as u32, self.card[j])
    }

    /// Rows (quotient or full, remainder or `NONE`) of a key of feature j, in the stacked buffer.
    #[inline]
    pub fn rows_of(&self, j: usize, key: u64) -> (u32, u32) {
        let x = self.index(j, key);
        if self.base_r[j] == NONE {
            (self.base_q[j] + x, NONE)
        } else {
            let (q, r) = self.div.div_rem(x);
            (self.base_q[j] + q, self.base_r[j] + r)
        }
    }

    pub fn table(&self) -> &[f32] {
        self.table.as_slice()
    }
    pub fn table_mut(&mut self) -> &mut [f32] {
        self.table.as_mut_slice()
    }
    /// The (quotient or full, remainder or none) stacked rows of every token of the last
    /// `forward_train`, as its kernel recorded them; "none" is `u32::MAX`.
    pub fn last_rows(&self) -> (&[u32], &[u32]) {
        (&self.occ_q, &self.occ_r)
    }
}

impl Representation for Qr {
    fn kind(&self) -> &'static str {
        "qr"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn output_shape(&self) -> OutputShape {
        OutputShape::PerFeature
    }

    fn forward_train(&mut self, keys: &[u64], out: &mut [f32]) {
        check_shapes("qr", keys, out.len(), self.dim);
        let (n, dim) = (keys.len(), self.dim);
        let mut rec = Record {
            occ_q: std::mem::take(&mut self.occ_q),
            occ_r: std::mem::take(&mut self.occ_r),
            val_q: std::mem::take(&mut self.val_q),
            val_r: std::mem::take(&mut self.val_r),
        };
        rec.occ_q.resize(n, 0);
        rec.occ_r.resize(n, 0);
        rec.val_q.resize(n * dim, 0.0);
        rec.val_r.resize(n * dim, 0.0);
        self.run::<true>(keys, out, &mut rec);
        self.occ_q = rec.occ_q;
        self.occ_r = rec.occ_r;
        self.val_q = rec.val_q;
        self.val_r = rec.val_r;
    }

    fn forward_eval(&self, keys: &[u64], out: &mut [f32]) {
        check_shapes("qr", keys, out.len(), self.dim);
        self.run::<false>(keys, out, &mut Record::default());
    }

    fn read_plan(&self, keys: &[u64]) -> Option<ReadPlan<'_>> {
        let d = self.dim as u32;
        let mut offsets = Vec::with_capacity(2 * keys.len());
        for (t, &key) in keys.iter().enumerate() {
            let (q, r) = self.rows_of(t % NUM_CAT, key);
            // A full table's one row is read twice (see `floor`).
            offsets.extend([q * d, if r == NONE { q } else { r } * d]);
        }
        let t = self.table.as_slice();
        ReadPlan::new(t, self.dim, 2, Combine::Sum, offsets, &[], 0, vec![]).ok()
    }

    fn backward_update(&mut self, keys: &[u64], grad_out: &[f32], opt: SparseOptimizer) {
        check_shapes("qr", keys, grad_out.len(), self.dim);
        assert_eq!(
            keys.len(),
            self.occ_q.len(),
            "qr: backward_update without a forward_train of the same batch"
        );
        let dim = self.dim;
        let n_rows = self.table.len() / dim;
        // d/dWq = g * Wr and d/dWr = g * Wq, both with the values forward read (kept in
        // val_r / val_q), so the order of the two updates does not matter.
        self.groups.build(&self.occ_q, 1, n_rows);
        let val_r = &self.val_r;
        apply_sparse_with(
            self.table.as_mut_slice(),
            dim,
            &mut self.state,
            &self.groups,
            |s, grad| {
                let g = &grad_out[s * dim..][..dim];
                for ((x, g), v) in grad.iter_mut().zip(g).zip(&val_r[s * dim..][..dim]) {
                    *x += g * v;
                }
            },
            opt,
        );
        self.r_src.clear();
        self.r_occ.clear();
        for (s, &r) in self.occ_r.iter().enumerate() {
            if r != NONE {
                self.r_src.push(s as u32);
                self.r_occ.push(r);
            }
        }
        self.groups.build(&self.r_occ, 1, n_rows);
        let (val_q, r_src) = (&self.val_q, &self.r_src);
        apply_sparse_with(
            self.table.as_mut_slice(),
            dim,
            &mut self.state,
            &self.groups,
            |i, grad| {
                let s = r_src[i] as usize;
                let g = &grad_out[s * dim..][..dim];
                for ((x, g), v) in grad.iter_mut().zip(g).zip(&val_q[s * dim..][..dim]) {
                    *x += g * v;
                }
            },
            opt,
        );
    }

    fn tables(&self) -> Vec<TableInfo> {
        let adagrad = !self.state.acc.is_empty();
        let info = |name: String, rows: u64| TableInfo {
            name,
            rows,
            cols: self.dim,
            param_bytes: 4 * self.dim as u64 * rows,
            optimizer_bytes: if adagrad { 4 * rows } else { 0 },
        };
        let mut out = Vec::new();
        for j in 0..NUM_CAT {
            let [q, r] = self.rows[j];
            if r == 0 {
                out.push(info(format!("C{}", j + 1), q));
            } else {
                out.push(info(format!("C{} quotient", j + 1), q));
                out.push(info(format!("C{} remainder", j + 1), r));
            }
        }
        out
    }

    fn row_updates(&self) -> u64 {
        self.groups.updated
    }

    fn lookup_rows(&self, key: u64, out: &mut Vec<RowRef>) {
        let j = key_feature(key).min(NUM_CAT - 1);
        let (q, r) = self.rows_of(j, key);
        let f = Some(j as u8);
        if r == NONE {
            out.push(RowRef {
                kind: RowKind::Row,
                feature: f,
                row: (q - self.base_q[j]) as u64,
            });
        } else {
            out.push(RowRef {
                kind: RowKind::Quotient,
                feature: f,
                row: (q - self.base_q[j]) as u64,
            });
            out.push(RowRef {
                kind: RowKind::Remainder,
                feature: f,
                row: (r - self.base_r[j]) as u64,
            });
        }
    }

    fn explain(&self, key: u64) -> Option<TokenLookup> {
        let j = key_feature(key).min(NUM_CAT - 1);
        let (q, r) = self.rows_of(j, key);
        let d = self.dim;
        let t = self.table.as_slice();
        let mut at = Vec::new();
        self.lookup_rows(key, &mut at);
        let wq = t[q as usize * d..][..d].to_vec();
        let (vector, formula) = if r == NONE {
            (
                wq.clone(),
                format!("E_C{}[x]: a full table (V <= c)", j + 1),
            )
        } else {
            let wr = &t[r as usize * d..][..d];
            (
                wq.iter().zip(wr).map(|(a, b)| a * b).collect(),
                format!(
                    "Wq[x div c] ⊙ Wr[x mod c],  x = {} of 0..{}",
                    self.index(j, key),
                    self.card[j]
                ),
            )
        };
        let rows = at
            .into_iter()
            .map(|a| RowUse {
                at: a,
                values: match a.kind {
                    RowKind::Remainder => t[r as usize * d..][..d].to_vec(),
                    _ => wq.clone(),
                },
            })
            .collect();
        Some(TokenLookup {
            rows,
            vector,
            scale: None,
            formula,
        })
    }

    /// Two tokens of a feature share a vector exactly when they hash to the same index `x` in
    /// `0..V_j` (distinct indices have distinct (quotient, remainder) pairs), so the statistics
    /// are those of a per-feature table of `V_j` virtual rows.
    fn collisions(&self, distinct_keys: &[u64]) -> Vec<FeatureCollisions> {
        let mut first = [0u64; NUM_CAT];
        let mut total = 0u64;
        for (f, c) in first.iter_mut().zip(&self.card) {
            *f = total;
            total += c;
        }
        let spec = super::collisions::Spec {
            k: 1,
            kw: 0,
            shared: false,
            token_rows: self.card,
            weight_rows: 1,
        };
        super::collisions::compute(distinct_keys, &spec, |key, slots| {
            let j = key_feature(key).min(NUM_CAT - 1);
            // Virtual rows numbered across features; wraps only past 2^32 indices in total.
            slots[0] = (first[j] + self.index(j, key) as u64) as u32;
        })
    }
}

/// What `forward_train` keeps for the backward: per token its two rows (`NONE` for no
/// remainder row) and the values it read from them (a remainder of ones for a full table).
#[derive(Default)]
struct Record {
    occ_q: Vec<u32>,
    occ_r: Vec<u32>,
    val_q: Vec<f32>,
    val_r: Vec<f32>,
}

/// One task's part of a [`Record`].
struct RecordPart<'a> {
    occ_q: &'a mut [u32],
    occ_r: &'a mut [u32],
    val_q: &'a mut [f32],
    val_r: &'a mut [f32],
}

impl Qr {
    /// The plain computation the kernel must reproduce bit for bit: one key at a time, its two
    /// rows multiplied element by element (or its full-table row copied). For tests and as the
    /// definition of the output.
    pub fn reference_forward(&self, keys: &[u64], out: &mut [f32]) {
        let d = self.dim;
        let t = self.table.as_slice();
        for (i, (&key, o)) in keys.iter().zip(out.chunks_exact_mut(d)).enumerate() {
            let (q, r) = self.rows_of(i % NUM_CAT, key);
            let wq = &t[q as usize * d..][..d];
            if r == NONE {
                o.copy_from_slice(wq);
            } else {
                let wr = &t[r as usize * d..][..d];
                for ((o, a), b) in o.iter_mut().zip(wq).zip(wr) {
                    *o = a * b;
                }
            }
        }
    }

    /// The fused forward over whole samples; in training, what the backward needs into `rec`.
    fn run<const TRAIN: bool>(&self, keys: &[u64], out: &mut [f32], rec: &mut Record) {
        dim_const!(self.dim, DM => self.drive::<DM, TRAIN>(keys, out, rec))
    }

    /// Split the batch into `CHUNK`-sample tasks and run the fused kernel on each.
    fn drive<const DM: usize, const TRAIN: bool>(
        &self,
        keys: &[u64],
        out: &mut [f32],
        rec: &mut Record,
    ) {
        let per = CHUNK * NUM_CAT;
        let d = self.dim;
        if TRAIN {
            (
                keys.par_chunks(per),
                out.par_chunks_mut(per * d),
                rec.occ_q.par_chunks_mut(per),
                rec.occ_r.par_chunks_mut(per),
                rec.val_q.par_chunks_mut(per * d),
                rec.val_r.par_chunks_mut(per * d),
            )
                .into_par_iter()
                .for_each(|(kc, oc, occ_q, occ_r, val_q, val_r)| {
                    let part = RecordPart {
                        occ_q,
                        occ_r,
                        val_q,
                        val_r,
                    };
                    self.kernel_best::<DM, true>(kc, oc, part)
                });
        } else {
            keys.par_chunks(per)
                .zip(out.par_chunks_mut(per * d))
                .for_each(|(kc, oc)| {
                    let part = RecordPart {
                        occ_q: &mut [],
                        occ_r: &mut [],
                        val_q: &mut [],
                        val_r: &mut [],
                    };
                    self.kernel_best::<DM, false>(kc, oc, part)
                });
        }
    }

    /// The rows (quotient or full, remainder or `NONE`) of a block of keys, one key at a time.
    #[inline(always)]
    fn block_rows(&self, keys: &[u64], rows: &mut [[u32; BLOCK_KEYS]; 2]) {
        for (l, &key) in keys.iter().enumerate().take(BLOCK_KEYS) {
            (rows[0][l], rows[1][l]) = self.rows_of(l % NUM_CAT, key);
        }
    }

    /// [`Qr::block_rows`] with AVX-512, 8 keys per vector: the same xxh3, the reduction to
    /// `0..V_j` as a 64-bit product (`V_j` may be 2^32), Lemire's division as two 32x32->64
    /// products (`x < 2^32`, so `(m x) >> 64 = (m_hi x + (m_lo x >> 32)) >> 32` exactly), and a
    /// blend for the features with a full table.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq")]
    #[inline]
    fn block_rows_avx512(&self, keys: &[u64], rows: &mut [[u32; BLOCK_KEYS]; 2]) {
        use std::arch::x86_64::*;
        let n = keys.len().min(BLOCK_KEYS);
        let [card, base_q, base_r] = &*self.lanes;
        let m_lo = _mm512_set1_epi64((self.div.m & 0xFFFF_FFFF) as i64);
        let m_hi = _mm512_set1_epi64((self.div.m >> 32) as i64);
        let c = _mm512_set1_epi64(self.div.c as i64);
        let none = _mm512_set1_epi64(NONE as i64);
        for g in 0..n.div_ceil(8) {
            let lanes = (n - 8 * g).min(8);
            let mask: __mmask8 = if lanes == 8 { 0xFF } else { (1u8 << lanes) - 1 };
            // SAFETY: lanes 8g..8g+lanes are inside `keys`; masked-off lanes are not read. The
            // lane tables and `rows` hold BLOCK_KEYS (a multiple of 8) entries.
            let (kv, card, bq, br) = unsafe {
                (
                    _mm512_maskz_loadu_epi64(mask, keys.as_ptr().add(8 * g).cast()),
                    _mm512_loadu_si512(card.as_ptr().add(8 * g).cast()),
                    _mm512_loadu_si512(base_q.as_ptr().add(8 * g).cast()),
                    _mm512_loadu_si512(base_r.as_ptr().add(8 * g).cast()),
                )
            };
            let h = super::hash::xxh3_64_key_x8(kv, self.flip);
            let x = _mm512_srli_epi64::<32>(_mm512_mullo_epi64(_mm512_srli_epi64::<32>(h), card));
            let q = _mm512_srli_epi64::<32>(_mm512_add_epi64(
                _mm512_mul_epu32(x, m_hi),
                _mm512_srli_epi64::<32>(_mm512_mul_epu32(x, m_lo)),
            ));
            let r = _mm512_sub_epi64(x, _mm512_mul_epu32(q, c));
            let full = _mm512_cmpeq_epi64_mask(br, none);
            let row_q = _mm512_add_epi64(bq, _mm512_mask_blend_epi64(full, q, x));
            let row_r = _mm512_mask_blend_epi64(full, _mm512_add_epi64(br, r), none);
            // SAFETY: as above.
            unsafe {
                _mm256_storeu_si256(
                    rows[0].as_mut_ptr().add(8 * g).cast(),
                    _mm512_cvtepi64_epi32(row_q),
                );
                _mm256_storeu_si256(
                    rows[1].as_mut_ptr().add(8 * g).cast(),
                    _mm512_cvtepi64_epi32(row_r),
                );
            }
        }
    }

    /// The kernel compiled for the widest vector unit the CPU has (as `MemRec::kernel_best`).
    #[inline(always)]
    fn kernel_best<const DM: usize, const TRAIN: bool>(
        &self,
        keys: &[u64],
        out: &mut [f32],
        rec: RecordPart,
    ) {
        let me = self;
        crate::util::simd::dispatch!(fn<const DM: usize, const TRAIN: bool>(
            me: &Qr,
            keys: &[u64],
            out: &mut [f32],
            rec: RecordPart,
        ) {
            ["avx512f", "avx512dq"] => me.kernel::<DM, TRAIN, true>(keys, out, rec),
            ["avx2"] => me.kernel::<DM, TRAIN, false>(keys, out, rec),
            _ => me.kernel::<DM, TRAIN, false>(keys, out, rec),
        })
    }

    /// The fused kernel over one chunk of samples. Blocks of 8 samples: the next block's keys
    /// are prefetched, the block's 208 keys hashed and divided (8 at a time with `SIMD`, only
    /// instantiated from `kernel_avx512`), then each token's rows multiplied out (in training,
    /// the rows and the values read are kept).
    #[inline(always)]
    fn kernel<const DM: usize, const TRAIN: bool, const SIMD: bool>(
        &self,
        keys: &[u64],
        out: &mut [f32],
        rec: RecordPart,
    ) {
        let d = if DM > 0 { DM } else { self.dim };
        let t = self.table.as_slice();
        let mut rows = [[0u32; BLOCK_KEYS]; 2];
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
            let t0 = b * BLOCK_KEYS;
            let n = block.len();
            for (l, (&q, &r)) in rows[0][..n].iter().zip(&rows[1][..n]).enumerate() {
                let i = t0 + l;
                let wq = &t[q as usize * d..][..d];
                let o = &mut out[i * d..][..d];
                if r == NONE {
                    copy_row::<DM>(o, wq);
                } else {
                    mul_rows::<DM>(o, wq, &t[r as usize * d..][..d]);
                }
                if TRAIN {
                    rec.occ_q[i] = q;
                    rec.occ_r[i] = r;
                    copy_row::<DM>(&mut rec.val_q[i * d..][..d], wq);
                    let vr = &mut rec.val_r[i * d..][..d];
                    if r == NONE {
                        vr.fill(1.0);
                    } else {
                        copy_row::<DM>(vr, &t[r as usize * d..][..d]);
                    }
                }
            }
        }
    }
}

/// `o = a * b`, element by element; with a compile-time length `DM` (> 0) fully unrolled.
#[inline(always)]
fn mul_rows<const DM: usize>(o: &mut [f32], a: &[f32], b: &[f32]) {
    if DM > 0 {
        if let (Ok(o), Ok(a), Ok(b)) = (
            <&mut [f32; DM]>::try_from(o),
            <&[f32; DM]>::try_from(a),
            <&[f32; DM]>::try_from(b),
        ) {
            for c in 0..DM {
                o[c] = a[c] * b[c];
            }
        }
    } else {
        for ((o, a), b) in o.iter_mut().zip(a).zip(b) {
            *o = a * b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fastdiv_is_exact() {
        let mut rng = SplitMix64(3);
        for c in [2u32, 3, 7, 1000, 4096, 65_537, 1 << 31, u32::MAX] {
            let d = FastDiv::new(c);
            for x in [0u32, 1, c - 1, c, c.wrapping_add(1), u32::MAX, u32::MAX - 1] {
                assert_eq!(d.div_rem(x), (x / c, x % c), "{x} / {c}");
            }
            for _ in 0..10_000 {
                let x = rng.next_u64() as u32;
                assert_eq!(d.div_rem(x), (x / c, x % c), "{x} / {c}");
            }
        }
    }

    #[test]
    fn rows_are_in_their_feature_tables_and_pairs_unique() {
        let cards: Vec<u64> = (0..NUM_CAT as u64).map(|j| 3 + 37 * j).collect();
        let q = Qr::new(4, &cards, 16, 5);
        for j in 0..NUM_CAT {
            let mut pairs = std::collections::BTreeMap::new();
            for v in 0..2000u32 {
                let key = crate::data::token_key(j, Some(v));
                let (a, b) = q.rows_of(j, key);
                assert!(a >= q.base_q[j] && (a as u64) < q.base_q[j] as u64 + q.rows[j][0]);
                if q.base_r[j] == NONE {
                    assert_eq!(b, NONE);
                } else {
                    assert!(b >= q.base_r[j] && (b as u64) < q.base_r[j] as u64 + q.rows[j][1]);
                }
                // Same pair <=> same index.
                let x = q.index(j, key);
                assert_eq!(*pairs.entry((a, b)).or_insert(x), x);
            }
        }
        let bytes: u64 = q.tables().iter().map(|t| t.param_bytes).sum();
        assert_eq!(bytes, 4 * q.table().len() as u64);
    }
}
