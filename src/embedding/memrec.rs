//! MEM-REC (token table + weight table) and its fused kernel, in both layouts; Bloom embeddings
//! are the `kw = 0` case.
//!
//! Owns: the two shared tables, their initialisation, the fused forward (hash, gather `K` token
//! rows and `kw` weights, scale, sum, write: one pass per batch, rayon over chunks of samples), the
//! sparse backward and the row-wise updates. Must never: allocate in `forward_eval`, divide to
//! reduce a hash, or let the thread count change a number (every output is computed by one task
//! from its own sample; every row gradient is summed in batch order, see `table::RowGroups`).
//!
//! Layouts (docs/method.md):
//! - bundled (the authors' variant): per sample `v = sum_j sum_k M[h_k(x_j)]`,
//!   `a = sum_j sum_i w[g_i(x_j)]`, output `z = a v` (one `dim` vector per sample);
//! - per feature: `z_j = a_j sum_k M[h_k(x_j)]` with `a_j = sum_i w[g_i(x_j)]` (one vector per
//!   feature, so DLRM's dot interaction applies); the tables are shared and the feature is inside
//!   the hashed key (`data::token_key`), which salts every hash by feature.
//!
//! With `kw = 0` there is no weight table and `a = 1`: a Bloom embedding.

use rayon::prelude::*;

use super::collisions::FeatureCollisions;
use super::floor::{Combine, ReadPlan};
use super::hash::{BLOCK_KEYS, BLOCK_SAMPLES, BlockIndices, MAX_SLOTS, MemrecHasher, derive_seed};
use super::table::{RowGroups, RowState, apply_sparse_with, prefetch_lines};
use super::{OutputShape, Representation, SparseOptimizer, TableInfo};
use crate::config::{Config, Layout};
use crate::data::NUM_CAT;
use crate::util::aligned::AlignedBuf;
use crate::util::rng::SplitMix64;

/// Samples per rayon task: large enough to amortise scheduling (26 * 32 = 832 lookups), small
/// enough that 2048-sample batches split evenly over a few threads.
const CHUNK: usize = 32;

/// MEM-REC with shared token and weight tables.
#[derive(Debug, Clone)]
pub struct MemRec {
    layout: Layout,
    dim: usize,
    hasher: MemrecHasher,
    token: AlignedBuf,
    weight: AlignedBuf,
    token_state: RowState,
    weight_state: RowState,
    // What `forward_train` leaves for `backward_update`: indices (cheaper to keep than to
    // re-hash), the scale `a` and the unscaled sum `v` of every source. The indices of a source
    // are contiguous: per feature, a token's `k` (`kw`) slots; bundled, a sample's `26 k`
    // (`26 kw`) indices slot by slot (all of slot 0, then slot 1...). The order inside a source
    // changes no number: the backward adds each occurrence's contribution source by source
    // (`RowGroups` keeps sources in batch order), and occurrences of one row in one source all
    // add the same contribution.
    tok_idx: Vec<u32>,
    w_idx: Vec<u32>,
    scale: Vec<f32>,
    vsum: Vec<f32>,
    last_tokens: usize,
    groups: RowGroups,
    wgroups: RowGroups,
    /// Whether `groups` and `wgroups` hold the last `forward_train`'s rows (`prepare_backward`).
    grouped: bool,
}

impl MemRec {
    /// Tables of `cfg.memrec` at `cfg.model.dim`, initialised from `cfg.seed`.
    pub fn from_config(cfg: &Config) -> MemRec {
        let m = &cfg.memrec;
        MemRec::new(
            m.layout,
            cfg.model.dim,
            m.k,
            m.token_rows,
            m.kw,
            m.weight_rows,
            cfg.seed,
        )
    }

    /// Token table uniform in +-1/sqrt(D), as the authors' code.
    ///
    /// The weight table is *not* initialised like the reference (+-1/sqrt(D)): that makes the
    /// scale `a` about 1e-2 and `z = a v` about 1e-4, so both tables start with vanishing
    /// gradients (each is multiplied by the other). Instead every weight starts at the constant
    /// that makes `a = 1` (1/kw per feature, 1/(26 kw) bundled): training starts from the Bloom
    /// embedding (`z = v`) and the weights learn how much each token deviates from it.
    pub fn new(
        layout: Layout,
        dim: usize,
        k: usize,
        token_rows: usize,
        kw: usize,
        weight_rows: usize,
        seed: u64,
    ) -> MemRec {
        let dim = dim.max(1);
        let hasher = MemrecHasher::new(seed, k, kw, token_rows as u64, weight_rows as u64);
        let d_rows = hasher.token_rows as usize;
        let mut token = AlignedBuf::zeros(d_rows * dim);
        let bound = 1.0 / (d_rows as f32).sqrt();
        let mut rng = SplitMix64(derive_seed(seed, "memrec.token.init", 0));
        for x in token.as_mut_slice() {
            *x = rng.uniform(bound);
        }
        let kw = hasher.kw;
        let weight = if kw == 0 {
            AlignedBuf::default()
        } else {
            let mut w = AlignedBuf::zeros(hasher.weight_rows as usize);
            let per = match layout {
                Layout::Bundled => NUM_CAT * kw,
                Layout::PerFeature => kw,
            };
            w.as_mut_slice().fill(1.0 / per as f32);
            w
        };
        MemRec {
            layout,
            dim,
            hasher,
            token,
            weight,
            token_state: RowState::default(),
            weight_state: RowState::default(),
            tok_idx: Vec::new(),
            w_idx: Vec::new(),
            scale: Vec::new(),
            vsum: Vec::new(),
            last_tokens: 0,
            groups: RowGroups::default(),
            wgroups: RowGroups::default(),
            grouped: false,
        }
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }
    pub fn hasher(&self) -> &MemrecHasher {
        &self.hasher
    }
    /// The token table, `token_rows x dim`, row-major.
    pub fn token_table(&self) -> &[f32] {
        self.token.as_slice()
    }
    /// The weight table (`weight_rows` floats; empty when `kw = 0`).
    pub fn weight_table(&self) -> &[f32] {
        self.weight.as_slice()
    }
    pub fn weight_table_mut(&mut self) -> &mut [f32] {
        self.weight.as_mut_slice()
    }
    /// Both tables at once (token, weight), e.g. to perturb parameters in gradient checks.
    pub fn tables_mut(&mut self) -> [&mut [f32]; 2] {
        [self.token.as_mut_slice(), self.weight.as_mut_slice()]
    }
    /// The token and weight rows the last `forward_train`'s kernel recorded (see `tok_idx`).
    pub fn last_rows(&self) -> (&[u32], &[u32]) {
        (&self.tok_idx, &self.w_idx)
    }
    /// Row-wise Adagrad accumulators (token table, weight table); empty before the first step.
    pub fn optimizer_state(&self) -> (&[f32], &[f32]) {
        (&self.token_state.acc, &self.weight_state.acc)
    }

    /// Group the token and weight rows the last `forward_train` used, by row, sources in batch
    /// order.
    fn group(&mut self) {
        let per_src_tokens = match self.layout {
            Layout::Bundled => NUM_CAT,
            Layout::PerFeature => 1,
        };
        let (k, kw) = (self.hasher.k, self.hasher.kw);
        let token_rows = self.hasher.token_rows as usize;
        self.groups
            .build(&self.tok_idx, per_src_tokens * k, token_rows);
        if kw > 0 {
            let weight_rows = self.hasher.weight_rows as usize;
            self.wgroups
                .build(&self.w_idx, per_src_tokens * kw, weight_rows);
        }
    }

    fn sources(&self, samples: usize) -> usize {
        match self.layout {
            Layout::Bundled => samples,
            Layout::PerFeature => samples * NUM_CAT,
        }
    }

    /// The plain, unfused computation the kernel must reproduce: one key at a time, same
    /// summation order. For tests and as the definition of the output.
    pub fn reference_forward(&self, keys: &[u64], out: &mut [f32]) {
        let d = self.dim;
        let h = &self.hasher;
        let tok = self.token.as_slice();
        let w = self.weight.as_slice();
        let mut slots = [0u32; MAX_SLOTS];
        for (s, sample_keys) in keys.chunks_exact(NUM_CAT).enumerate() {
            // Bundled: feature j adds into partial sum j % ACC (see `ACC`).
            let mut v_parts = vec![vec![0f32; d]; ACC];
            let mut a_parts = [0f32; ACC];
            for (j, &key) in sample_keys.iter().enumerate() {
                h.indices(key, &mut slots);
                let mut v = vec![0f32; d];
                let mut a = 0f32;
                for &r in &slots[..h.k] {
                    for c in 0..d {
                        match self.layout {
                            Layout::Bundled => v_parts[j % ACC][c] += tok[r as usize * d + c],
                            Layout::PerFeature => v[c] += tok[r as usize * d + c],
                        }
                    }
                }
                for &q in &slots[h.k..h.k + h.kw] {
                    match self.layout {
                        Layout::Bundled => a_parts[j % ACC] += w[q as usize],
                        Layout::PerFeature => a += w[q as usize],
                    }
                }
                if self.layout == Layout::PerFeature {
                    let o = &mut out[(s * NUM_CAT + j) * d..][..d];
                    for c in 0..d {
                        o[c] = if h.kw == 0 { v[c] } else { a * v[c] };
                    }
                }
            }
            if self.layout == Layout::Bundled {
                let v_all: Vec<f32> = (0..d)
                    .map(|c| (v_parts[0][c] + v_parts[1][c]) + (v_parts[2][c] + v_parts[3][c]))
                    .collect();
                let a_all = (a_parts[0] + a_parts[1]) + (a_parts[2] + a_parts[3]);
                let o = &mut out[s * d..][..d];
                for c in 0..d {
                    o[c] = if h.kw == 0 {
                        v_all[c]
                    } else {
                        a_all * v_all[c]
                    };
                }
            }
        }
    }

    fn check_shapes(&self, keys: &[u64], out_len: usize) -> usize {
        assert!(
            keys.len().is_multiple_of(NUM_CAT),
            "memrec: {} keys is not a whole number of {NUM_CAT}-key samples",
            keys.len()
        );
        let samples = keys.len() / NUM_CAT;
        assert_eq!(
            out_len,
            self.sources(samples) * self.dim,
            "memrec: output buffer length for {samples} samples"
        );
        samples
    }

    fn run_forward<const TRAIN: bool>(
        &self,
        keys: &[u64],
        out: &mut [f32],
        tok_idx: &mut [u32],
        w_idx: &mut [u32],
        scale: &mut [f32],
        vsum: &mut [f32],
    ) {
        macro_rules! go {
            ($dm:expr) => {
                match self.layout {
                    Layout::Bundled => {
                        self.drive::<$dm, false, TRAIN>(keys, out, tok_idx, w_idx, scale, vsum)
                    }
                    Layout::PerFeature => {
                        self.drive::<$dm, true, TRAIN>(keys, out, tok_idx, w_idx, scale, vsum)
                    }
                }
            };
        }
        // Common dimensions get a compile-time row length, so the row loops fully unroll and
        // vectorise; any other dim takes the same code with a runtime length.
        match self.dim {
            4 => go!(4),
            8 => go!(8),
            16 => go!(16),
            32 => go!(32),
            64 => go!(64),
            128 => go!(128),
            _ => go!(0),
        }
    }

    /// Split the batch into `CHUNK`-sample tasks and run the fused kernel on each.
    fn drive<const DM: usize, const PF: bool, const TRAIN: bool>(
        &self,
        keys: &[u64],
        out: &mut [f32],
        tok_idx: &mut [u32],
        w_idx: &mut [u32],
        scale: &mut [f32],
        vsum: &mut [f32],
    ) {
        let d = self.dim;
        let (k, kw) = (self.hasher.k, self.hasher.kw);
        let per_src = if PF { NUM_CAT } else { 1 };
        let key_chunk = CHUNK * NUM_CAT;
        let out_chunk = CHUNK * per_src * d;
        if TRAIN {
            (
                keys.par_chunks(key_chunk),
                out.par_chunks_mut(out_chunk),
                tok_idx.par_chunks_mut(key_chunk * k),
                // With kw = 0 the weight-index buffer holds one unused slot per token, so the
                // zip still yields one item per chunk.
                w_idx.par_chunks_mut(key_chunk * kw.max(1)),
                scale.par_chunks_mut(CHUNK * per_src),
                vsum.par_chunks_mut(out_chunk),
            )
                .into_par_iter()
                .for_each(|(kc, oc, ti, wi, sc, vs)| {
                    self.kernel_best::<DM, PF, true>(kc, oc, ti, wi, sc, vs)
                });
        } else {
            keys.par_chunks(key_chunk)
                .zip(out.par_chunks_mut(out_chunk))
                .for_each(|(kc, oc)| {
                    self.kernel_best::<DM, PF, false>(kc, oc, &mut [], &mut [], &mut [], &mut [])
                });
        }
    }

    /// The kernel compiled for the widest vector unit the CPU has (checked at run time; the
    /// result is cached by std): a 16-float row is one AVX-512 register, two AVX2 ones, four
    /// SSE2 ones. Only the instruction set changes: adds and multiplies are the same IEEE
    /// operations in the same order, so every path gives bit-identical outputs.
    #[inline(always)]
    fn kernel_best<const DM: usize, const PF: bool, const TRAIN: bool>(
        &self,
        keys: &[u64],
        out: &mut [f32],
        tok_idx: &mut [u32],
        w_idx: &mut [u32],
        scale: &mut [f32],
        vsum: &mut [f32],
    ) {
        let me = self;
        crate::util::simd::dispatch!(fn<const DM: usize, const PF: bool, const TRAIN: bool>(
            me: &MemRec,
            keys: &[u64],
            out: &mut [f32],
            tok_idx: &mut [u32],
            w_idx: &mut [u32],
            scale: &mut [f32],
            vsum: &mut [f32],
        ) {
            ["avx512f", "avx512dq"] => {
                me.kernel::<DM, PF, TRAIN, true>(keys, out, tok_idx, w_idx, scale, vsum)
            },
            ["avx2"] => me.kernel::<DM, PF, TRAIN, false>(keys, out, tok_idx, w_idx, scale, vsum),
            _ => me.kernel::<DM, PF, TRAIN, false>(keys, out, tok_idx, w_idx, scale, vsum),
        })
    }

    /// The fused kernel over one chunk of samples: hash each key once, gather its `k` token
    /// rows into the running sum and its `kw` weights into the running scale, write the scaled
    /// sum. In training it also records the indices, `a` and the unscaled `v` of each source.
    ///
    /// The keys of a block of 8 samples are hashed first and gathered after, so the row loads
    /// are independent of the hashing and the core can overlap them. The running sums live in
    /// locals (registers) rather than in the output. With `SIMD` (only instantiated in
    /// `kernel_best`'s AVX-512 arm, taken after checking the CPU) the keys are hashed 8 at a time with AVX-512,
    /// otherwise one at a time.
    #[inline(always)]
    fn kernel<const DM: usize, const PF: bool, const TRAIN: bool, const SIMD: bool>(
        &self,
        keys: &[u64],
        out: &mut [f32],
        tok_idx: &mut [u32],
        w_idx: &mut [u32],
        scale: &mut [f32],
        vsum: &mut [f32],
    ) {
        let d = if DM > 0 { DM } else { self.dim };
        let h = &self.hasher;
        let (k, kw) = (h.k, h.kw);
        let tok = self.token.as_slice();
        let w = self.weight.as_slice();
        let mut idx: BlockIndices = [[0u32; BLOCK_KEYS]; MAX_SLOTS];
        // Accumulator: fixed-size for the specialised dims; the generic path uses a stack
        // buffer (dim <= 1024 by config validation) that the specialised ones never touch.
        let mut fixed = [0f32; DM];
        let mut dynamic = [0f32; MAX_DIM];
        let acc: &mut [f32] = if DM > 0 {
            &mut fixed
        } else {
            &mut dynamic[..d.min(MAX_DIM)]
        };
        // The bundled layout's partial sums (see `ACC`): registers for the specialised dims, a
        // stack buffer for the generic one (never touched by the specialised ones).
        let mut parts_fixed = [[0f32; DM]; ACC];
        let mut parts_dynamic = [[0f32; MAX_DIM]; ACC];
        // Blocks of 8 samples: hash their 208 keys (26 full vectors), then gather sample by
        // sample. The block's indices (slot-major, 208 per slot) stay in L1.
        for (b, block_keys) in keys.chunks(BLOCK_KEYS).enumerate() {
            // The keys are a stream read once; ask for the next block's now, so they arrive
            // while this block is hashed and gathered rather than stalling its first loads.
            if let Some(next) = keys.get((b + 1) * BLOCK_KEYS..) {
                prefetch_lines(&next[..next.len().min(BLOCK_KEYS)]);
            }
            #[cfg(target_arch = "x86_64")]
            if SIMD {
                // SAFETY: SIMD is only true in `kernel_best`'s AVX-512 arm, taken after checking
                // that the CPU has AVX-512F and DQ.
                unsafe { h.indices_block_avx512(block_keys, &mut idx) };
            } else {
                h.indices_block(block_keys, &mut idx);
            }
            #[cfg(not(target_arch = "x86_64"))]
            h.indices_block(block_keys, &mut idx);
            for bs in 0..block_keys.len() / NUM_CAT {
                let s = b * BLOCK_SAMPLES + bs;
                // Column of key j of this sample in `idx`.
                let col0 = bs * NUM_CAT;
                if TRAIN {
                    record_sample::<PF>(&idx, col0, s, (k, kw), tok_idx, w_idx);
                }
                if PF {
                    for j in 0..NUM_CAT {
                        let t = s * NUM_CAT + j;
                        acc.fill(0.0);
                        for slot in &idx[..k] {
                            add_row::<DM>(acc, &tok[slot[col0 + j] as usize * d..][..d]);
                        }
                        let mut a = 0f32;
                        for slot in &idx[k..k + kw] {
                            a += w[slot[col0 + j] as usize];
                        }
                        if TRAIN {
                            vsum[t * d..][..d].copy_from_slice(acc);
                            scale[t] = if kw == 0 { 1.0 } else { a };
                        }
                        write_scaled::<DM>(&mut out[t * d..][..d], acc, a, kw > 0);
                    }
                } else {
                    // The common hash counts get compile-time loops (fully unrolled).
                    let at = SampleAt {
                        tok,
                        w,
                        idx: &idx,
                        col0,
                        k,
                        kw,
                    };
                    macro_rules! bundled {
                        ($kc:expr, $kwc:expr) => {
                            if SIMD && DM == 16 {
                                #[cfg(target_arch = "x86_64")]
                                // SAFETY: SIMD is only true in `kernel_best`'s AVX-512 arm,
                                // taken after checking that the CPU has AVX-512F; indices as
                                // in `bundled_sample`.
                                unsafe {
                                    bundled_sample_16_avx512::<$kc, $kwc>(at, acc)
                                }
                                #[cfg(not(target_arch = "x86_64"))]
                                unreachable!("SIMD kernels are x86-64 only")
                            } else if DM > 0 {
                                bundled_sample::<DM, DM, $kc, $kwc>(&mut parts_fixed, d, at, acc)
                            } else {
                                bundled_sample::<0, MAX_DIM, $kc, $kwc>(
                                    &mut parts_dynamic,
                                    d,
                                    at,
                                    acc,
                                )
                            }
                        };
                    }
                    let a_all = match (k, kw) {
                        (2, 1) => bundled!(2, 1),
                        (1, 1) => bundled!(1, 1),
                        (2, 0) => bundled!(2, 0),
                        _ => bundled!(0, 0),
                    };
                    if TRAIN {
                        vsum[s * d..][..d].copy_from_slice(acc);
                        scale[s] = if kw == 0 { 1.0 } else { a_all };
                    }
                    write_scaled::<DM>(&mut out[s * d..][..d], acc, a_all, kw > 0);
                }
            }
        }
    }
}

/// Keep sample `s`'s indices (its keys start at column `col0` of the block's `idx`) for the
/// backward: per feature (`PF`), a token's `k` (`kw`) slots in order; bundled, a sample's
/// occurrences form one source, whose order inside it changes nothing (see `MemRec::tok_idx`),
/// so they are kept slot by slot: one copy of 26 indices per slot instead of one store per index.
#[inline(always)]
fn record_sample<const PF: bool>(
    idx: &BlockIndices,
    col0: usize,
    s: usize,
    (k, kw): (usize, usize),
    tok_idx: &mut [u32],
    w_idx: &mut [u32],
) {
    if PF {
        for j in 0..NUM_CAT {
            let t = s * NUM_CAT + j;
            for (i, slot) in idx[..k].iter().enumerate() {
                tok_idx[t * k + i] = slot[col0 + j];
            }
            for (i, slot) in idx[k..k + kw].iter().enumerate() {
                w_idx[t * kw + i] = slot[col0 + j];
            }
        }
    } else {
        let tk = &mut tok_idx[s * NUM_CAT * k..][..NUM_CAT * k];
        for (dst, slot) in tk.chunks_exact_mut(NUM_CAT).zip(&idx[..k]) {
            dst.copy_from_slice(&slot[col0..col0 + NUM_CAT]);
        }
        let tw = &mut w_idx[s * NUM_CAT * kw..][..NUM_CAT * kw];
        for (dst, slot) in tw.chunks_exact_mut(NUM_CAT).zip(&idx[k..k + kw]) {
            dst.copy_from_slice(&slot[col0..col0 + NUM_CAT]);
        }
    }
}

/// Partial sums per bundled sample: feature j adds its rows into sum `j % ACC`, and the sample's
/// vector is `(p0 + p1) + (p2 + p3)` (its weight likewise). One running sum would chain all 26 K
/// row adds one after the other (4 cycles each); four chains run side by side. The reference
/// loop (`MemRec::reference_forward`) adds in this same order, so the two stay bit-identical.
pub const ACC: usize = 4;

/// Where one bundled sample's rows are: the tables, its block's indices (its keys start at
/// column `col0`), and the run-time hash counts.
#[derive(Clone, Copy)]
struct SampleAt<'a> {
    tok: &'a [f32],
    w: &'a [f32],
    idx: &'a BlockIndices,
    col0: usize,
    k: usize,
    kw: usize,
}

impl SampleAt<'_> {
    /// `(k, kw)`: `KC` and `KWC` when fixed at compile time (`KC > 0`), else the run-time ones.
    #[inline(always)]
    fn counts<const KC: usize, const KWC: usize>(&self) -> (usize, usize) {
        if KC > 0 { (KC, KWC) } else { (self.k, self.kw) }
    }
}

/// One bundled sample: `v` (the unscaled sum) into `v`, returns the summed weight `a`. `KC` and
/// `KWC` are `k` and `kw` fixed at compile time, or 0 to take the run-time ones.
///
/// Indexing is unchecked: every index comes from `MemrecHasher::indices_block`, whose reduction
/// yields a value below `token_rows` (`weight_rows`), and `MemRec::new` sizes the tables from
/// that same hasher (`token_rows * dim`, `weight_rows`); `col0 + j < BLOCK_KEYS` because a block
/// holds `BLOCK_SAMPLES` samples of `NUM_CAT` keys. Both are asserted in debug builds.
#[inline(always)]
fn bundled_sample<const DM: usize, const W: usize, const KC: usize, const KWC: usize>(
    parts: &mut [[f32; W]; ACC],
    d: usize,
    at: SampleAt,
    v: &mut [f32],
) -> f32 {
    let SampleAt {
        tok, w, idx, col0, ..
    } = at;
    let d = d.min(W);
    let (k, kw) = at.counts::<KC, KWC>();
    debug_assert!(col0 + NUM_CAT <= BLOCK_KEYS && k + kw <= MAX_SLOTS);
    for p in parts.iter_mut() {
        p[..d].fill(0.0);
    }
    let mut a = [0f32; ACC];
    for j0 in (0..NUM_CAT).step_by(ACC) {
        for p in 0..ACC {
            let j = j0 + p;
            if j >= NUM_CAT {
                break;
            }
            for slot in &idx[..k] {
                // SAFETY: see the function comment (index in range of the block and the table).
                let r = unsafe { *slot.get_unchecked(col0 + j) } as usize;
                debug_assert!((r + 1) * d <= tok.len());
                // SAFETY: as above.
                let row = unsafe { tok.get_unchecked(r * d..r * d + d) };
                add_row::<DM>(&mut parts[p][..d], row);
            }
            for slot in &idx[k..k + kw] {
                // SAFETY: as above.
                let q = unsafe { *slot.get_unchecked(col0 + j) } as usize;
                debug_assert!(q < w.len());
                // SAFETY: as above.
                a[p] += unsafe { *w.get_unchecked(q) };
            }
        }
    }
    for (c, x) in v.iter_mut().enumerate().take(d) {
        *x = (parts[0][c] + parts[1][c]) + (parts[2][c] + parts[3][c]);
    }
    (a[0] + a[1]) + (a[2] + a[3])
}

/// `bundled_sample` at dim 16 with AVX-512: one row is one register, and the four partial sums
/// are four registers (the portable loop kept them on the stack, each add waiting on a store).
/// The same adds in the same order (feature j into sum `j % 4`, slots in order, then
/// `(p0 + p1) + (p2 + p3)`), lane by lane, so the bits are those of `bundled_sample`.
///
/// # Safety
/// The CPU must support AVX-512F; `v.len() >= 16`; the indices obey `bundled_sample`'s contract.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn bundled_sample_16_avx512<const KC: usize, const KWC: usize>(
    at: SampleAt,
    v: &mut [f32],
) -> f32 {
    use std::arch::x86_64::*;
    let (tok, w, idx, col0) = (at.tok, at.w, at.idx, at.col0);
    let (k, kw) = at.counts::<KC, KWC>();
    debug_assert!(col0 + NUM_CAT <= BLOCK_KEYS && k + kw <= MAX_SLOTS && v.len() >= 16);
    macro_rules! feature {
        ($j:expr, $acc:ident, $a:ident) => {{
            let j = $j;
            for slot in &idx[..k] {
                // SAFETY: see `bundled_sample` (index in range of the block and the table).
                let r = unsafe { *slot.get_unchecked(col0 + j) } as usize;
                debug_assert!((r + 1) * 16 <= tok.len());
                // SAFETY: as above: row r is 16 floats inside `tok`.
                $acc = _mm512_add_ps($acc, unsafe { _mm512_loadu_ps(tok.as_ptr().add(r * 16)) });
            }
            for slot in &idx[k..k + kw] {
                // SAFETY: as above.
                let q = unsafe { *slot.get_unchecked(col0 + j) } as usize;
                debug_assert!(q < w.len());
                // SAFETY: as above.
                $a += unsafe { *w.get_unchecked(q) };
            }
        }};
    }
    let (mut p0, mut p1, mut p2, mut p3) = (
        _mm512_setzero_ps(),
        _mm512_setzero_ps(),
        _mm512_setzero_ps(),
        _mm512_setzero_ps(),
    );
    let (mut a0, mut a1, mut a2, mut a3) = (0f32, 0f32, 0f32, 0f32);
    const _: () = assert!(ACC == 4 && NUM_CAT % ACC < 3);
    let whole = NUM_CAT / ACC * ACC;
    for j in (0..whole).step_by(ACC) {
        feature!(j, p0, a0);
        feature!(j + 1, p1, a1);
        feature!(j + 2, p2, a2);
        feature!(j + 3, p3, a3);
    }
    for j in whole..NUM_CAT {
        if j % ACC == 0 {
            feature!(j, p0, a0);
        } else {
            feature!(j, p1, a1);
        }
    }
    let sum = _mm512_add_ps(_mm512_add_ps(p0, p1), _mm512_add_ps(p2, p3));
    // SAFETY: `v` holds at least 16 floats (the caller's contract).
    unsafe { _mm512_storeu_ps(v.as_mut_ptr(), sum) };
    (a0 + a1) + (a2 + a3)
}

/// Largest `model.dim` (config validation).
const MAX_DIM: usize = 1024;

#[inline(always)]
fn add_row<const DM: usize>(acc: &mut [f32], row: &[f32]) {
    if DM > 0 {
        if let (Ok(acc), Ok(row)) = (<&mut [f32; DM]>::try_from(acc), <&[f32; DM]>::try_from(row)) {
            for c in 0..DM {
                acc[c] += row[c];
            }
        }
    } else {
        for (x, y) in acc.iter_mut().zip(row) {
            *x += *y;
        }
    }
}

/// `o = a * v` (or `o = v` without weights).
#[inline(always)]
fn write_scaled<const DM: usize>(o: &mut [f32], v: &[f32], a: f32, weighted: bool) {
    if DM > 0 {
        if let (Ok(o), Ok(v)) = (<&mut [f32; DM]>::try_from(o), <&[f32; DM]>::try_from(v)) {
            if weighted {
                for c in 0..DM {
                    o[c] = a * v[c];
                }
            } else {
                *o = *v;
            }
        }
    } else if weighted {
        for (x, y) in o.iter_mut().zip(v) {
            *x = a * *y;
        }
    } else {
        o.copy_from_slice(v);
    }
}

impl Representation for MemRec {
    fn kind(&self) -> &'static str {
        match (self.layout, self.hasher.kw) {
            (Layout::Bundled, 0) => "bloom-bundled",
            (Layout::PerFeature, 0) => "bloom-per-feature",
            (Layout::Bundled, _) => "memrec-bundled",
            (Layout::PerFeature, _) => "memrec-per-feature",
        }
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn output_shape(&self) -> OutputShape {
        match self.layout {
            Layout::Bundled => OutputShape::Bundled,
            Layout::PerFeature => OutputShape::PerFeature,
        }
    }

    fn forward_train(&mut self, keys: &[u64], out: &mut [f32]) {
        let samples = self.check_shapes(keys, out.len());
        let tokens = samples * NUM_CAT;
        let srcs = self.sources(samples);
        let mut tok_idx = std::mem::take(&mut self.tok_idx);
        let mut w_idx = std::mem::take(&mut self.w_idx);
        let mut scale = std::mem::take(&mut self.scale);
        let mut vsum = std::mem::take(&mut self.vsum);
        tok_idx.resize(tokens * self.hasher.k, 0);
        w_idx.resize(tokens * self.hasher.kw.max(1), 0);
        scale.resize(srcs, 0.0);
        vsum.resize(srcs * self.dim, 0.0);
        self.run_forward::<true>(keys, out, &mut tok_idx, &mut w_idx, &mut scale, &mut vsum);
        self.tok_idx = tok_idx;
        self.w_idx = w_idx;
        self.scale = scale;
        self.vsum = vsum;
        self.last_tokens = tokens;
        self.grouped = false;
    }

    fn forward_eval(&self, keys: &[u64], out: &mut [f32]) {
        self.check_shapes(keys, out.len());
        self.run_forward::<false>(keys, out, &mut [], &mut [], &mut [], &mut []);
    }

    fn prepare_backward(&mut self) {
        self.group();
        self.grouped = true;
    }

    fn backward_update(&mut self, keys: &[u64], grad_out: &[f32], opt: SparseOptimizer) {
        let samples = self.check_shapes(keys, grad_out.len());
        assert_eq!(
            samples * NUM_CAT,
            self.last_tokens,
            "memrec: backward_update without a forward_train of the same batch"
        );
        if !std::mem::take(&mut self.grouped) {
            self.group();
        }
        let d = self.dim;
        let kw = self.hasher.kw;
        // dL/dM[r] = sum over uses of r of a_src * g_src; dL/dw[q] = sum over uses of
        // g_src . v_src. Both are computed where they are summed, from what forward kept.
        let scale = &self.scale;
        let vsum = &self.vsum;
        // `acc.len()` is `d`, a constant where `apply_sparse_with` specialises the row length.
        let add_token = |s: usize, acc: &mut [f32]| {
            let a = scale[s];
            let n = acc.len();
            for (x, g) in acc.iter_mut().zip(&grad_out[s * n..][..n]) {
                *x += a * *g;
            }
        };
        apply_sparse_with(
            self.token.as_mut_slice(),
            d,
            &mut self.token_state,
            &self.groups,
            add_token,
            opt,
        );
        if kw > 0 {
            let add_weight = |s: usize, acc: &mut [f32]| {
                let g = &grad_out[s * d..][..d];
                let v = &vsum[s * d..][..d];
                acc[0] += g.iter().zip(v).map(|(g, v)| g * v).sum::<f32>();
            };
            apply_sparse_with(
                self.weight.as_mut_slice(),
                1,
                &mut self.weight_state,
                &self.wgroups,
                add_weight,
                opt,
            );
        }
    }

    fn tables(&self) -> Vec<TableInfo> {
        let mut t = vec![TableInfo {
            name: "memrec.token".into(),
            rows: self.hasher.token_rows,
            cols: self.dim,
            param_bytes: 4 * self.token.len() as u64,
            optimizer_bytes: self.token_state.bytes(),
        }];
        if self.hasher.kw > 0 {
            t.push(TableInfo {
                name: "memrec.weight".into(),
                rows: self.hasher.weight_rows,
                cols: 1,
                param_bytes: 4 * self.weight.len() as u64,
                optimizer_bytes: self.weight_state.bytes(),
            });
        }
        t
    }

    fn read_plan(&self, keys: &[u64]) -> Option<ReadPlan<'_>> {
        // Per source (a token per feature, a sample bundled): its K token rows and kw weights.
        let h = &self.hasher;
        let d = self.dim as u32;
        let (mut rows, mut weights) = (Vec::new(), Vec::new());
        let mut slots = [0u32; MAX_SLOTS];
        for &key in keys {
            h.indices(key, &mut slots);
            rows.extend(slots[..h.k].iter().map(|&r| r * d));
            weights.extend_from_slice(&slots[h.k..h.k + h.kw]);
        }
        let per = match self.layout {
            Layout::Bundled => NUM_CAT,
            Layout::PerFeature => 1,
        };
        let (tok, w) = (self.token.as_slice(), self.weight.as_slice());
        let (spans, scalars) = (per * h.k, per * h.kw);
        ReadPlan::new(
            tok,
            self.dim,
            spans,
            Combine::Sum,
            rows,
            w,
            scalars,
            weights,
        )
        .ok()
    }

    fn row_updates(&self) -> u64 {
        self.groups.updated + self.wgroups.updated
    }
    fn lookup_rows(&self, key: u64, out: &mut Vec<super::explain::RowRef>) {
        super::explain::memrec_rows(&self.hasher, key, out);
    }
    fn explain(&self, key: u64) -> Option<super::explain::TokenLookup> {
        let (hasher, layout, dim) = (&self.hasher, self.layout, self.dim);
        let (token, weight) = (self.token.as_slice(), self.weight.as_slice());
        let t = super::explain::MemrecTables {
            hasher,
            layout,
            dim,
            token,
            weight,
        };
        Some(super::explain::memrec_explain(&t, key))
    }

    fn collisions(&self, distinct_keys: &[u64]) -> Vec<FeatureCollisions> {
        let h = &self.hasher;
        let spec = super::collisions::Spec {
            k: h.k,
            kw: h.kw,
            shared: true,
            token_rows: [h.token_rows; NUM_CAT],
            weight_rows: h.weight_rows,
        };
        super::collisions::compute(distinct_keys, &spec, |key, slots| h.indices(key, slots))
    }
}
