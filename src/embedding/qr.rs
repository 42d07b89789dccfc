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
//! without a runtime divide (Lemire's fastdiv: a 64-bit reciprocal and one multiply), the
//! forward, and a backward that takes both factors' gradients from the values forward read, so
//! updating one factor never feeds into the other's gradient. Must never: divide by a runtime
//! value in the hot path, or touch rows the batch did not use.

use rayon::prelude::*;

use super::collisions::FeatureCollisions;
use super::hash::{SplitMix64, derive_seed, flip_of, reduce, xxh3_64_key};
use super::rows::check_shapes;
use super::table::{AlignedBuf, RowGroups, RowState, apply_sparse_with};
use super::{OutputShape, Representation, SparseOptimizer, TableInfo};
use crate::config::{Config, qr_rows};
use crate::data::{NUM_CAT, key_feature};

/// Samples per rayon task in the forward pass.
const CHUNK: usize = 64;
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

    fn lookup(&self, j: usize, key: u64, o: &mut [f32]) {
        let dim = self.dim;
        let t = self.table.as_slice();
        let (q, r) = self.rows_of(j, key);
        let wq = &t[q as usize * dim..][..dim];
        if r == NONE {
            o.copy_from_slice(wq);
        } else {
            let wr = &t[r as usize * dim..][..dim];
            for ((o, a), b) in o.iter_mut().zip(wq).zip(wr) {
                *o = a * b;
            }
        }
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
        let dim = self.dim;
        let n = keys.len();
        let (mut occ_q, mut occ_r) = (
            std::mem::take(&mut self.occ_q),
            std::mem::take(&mut self.occ_r),
        );
        let (mut val_q, mut val_r) = (
            std::mem::take(&mut self.val_q),
            std::mem::take(&mut self.val_r),
        );
        occ_q.resize(n, 0);
        occ_r.resize(n, 0);
        val_q.resize(n * dim, 0.0);
        val_r.resize(n * dim, 0.0);
        let this = &*self;
        let t = this.table.as_slice();
        let per = CHUNK * NUM_CAT;
        keys.par_chunks(per)
            .zip(out.par_chunks_mut(per * dim))
            .zip(occ_q.par_chunks_mut(per).zip(occ_r.par_chunks_mut(per)))
            .zip(
                val_q
                    .par_chunks_mut(per * dim)
                    .zip(val_r.par_chunks_mut(per * dim)),
            )
            .for_each(|(((kc, oc), (qc, rc)), (vqc, vrc))| {
                for (i, &key) in kc.iter().enumerate() {
                    let (q, r) = this.rows_of(i % NUM_CAT, key);
                    qc[i] = q;
                    rc[i] = r;
                    let wq = &t[q as usize * dim..][..dim];
                    let vq = &mut vqc[i * dim..][..dim];
                    let vr = &mut vrc[i * dim..][..dim];
                    let o = &mut oc[i * dim..][..dim];
                    vq.copy_from_slice(wq);
                    if r == NONE {
                        vr.fill(1.0);
                        o.copy_from_slice(wq);
                    } else {
                        vr.copy_from_slice(&t[r as usize * dim..][..dim]);
                        for ((o, a), b) in o.iter_mut().zip(wq).zip(vr.iter()) {
                            *o = a * b;
                        }
                    }
                }
            });
        self.occ_q = occ_q;
        self.occ_r = occ_r;
        self.val_q = val_q;
        self.val_r = val_r;
    }

    fn forward_eval(&self, keys: &[u64], out: &mut [f32]) {
        check_shapes("qr", keys, out.len(), self.dim);
        let dim = self.dim;
        keys.par_chunks(CHUNK * NUM_CAT)
            .zip(out.par_chunks_mut(CHUNK * NUM_CAT * dim))
            .for_each(|(kc, oc)| {
                for (i, (&key, o)) in kc.iter().zip(oc.chunks_exact_mut(dim)).enumerate() {
                    self.lookup(i % NUM_CAT, key, o);
                }
            });
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
