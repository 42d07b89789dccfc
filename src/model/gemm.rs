//! The dense kernels of the DLRM: matrix products for the MLP layers' forward, input-gradient and
//! weight-gradient passes, with bias and ReLU fused in (and SGD: a weight gradient can be applied
//! to the parameters from the registers instead of stored), and the work around them that would
//! otherwise run at SSE width: the transpose of the updated weights, the SGD and Adagrad steps,
//! column sums, and the dot interaction's pairwise products at 16 dimensions.
//!
//! Owns: an AVX-512 path (picked at run time) and a portable path with the same contract. Must
//! never: split a sum differently depending on how the caller partitions rows or columns. Every
//! output element is one accumulator whose terms are added in ascending contraction order, so
//! callers may cut the work into any blocks, for any thread count, and get the same bits. The
//! contraction is cut into blocks of `KC` only to keep the packed operand in L1: the partial sum
//! goes through the output and comes back exactly, so that cut changes no bits either.
//!
//! The second operand comes in one of two layouts. Row-major (activations) is copied, `KC` rows
//! by 32 columns at a time, into a contiguous per-thread buffer before use: DLRM's widths are
//! powers of two, and reading a panel straight from a row-major matrix with a 1-2 KiB row stride
//! maps it onto a handful of L1 sets. Panel-major (the model's weights, see `panel_index`) is
//! read in place: each 32-column panel is one contiguous run of memory, which the hardware
//! prefetcher streams from L3 (the weights of a step do not fit in L2), where the strided copy of
//! a row-major panel waited on one cache miss per row; the tiles also prefetch the next block
//! into L2 while they compute. The dot interaction (`gram16`) and the elementwise kernels have
//! their own fixed order of operations; the AVX-512 interaction rounds differently from the
//! portable one (a fused chain rather than a 16-lane tree), so bits are the same for any thread
//! count on one machine, not across instruction sets.

use crate::util::simd;

/// Columns of one `gemm_nn` tile (two AVX-512 vectors).
const NR: usize = 32;
/// Rows of one `gemm_nn` tile: 8 x 2 accumulators cover the FMA latency of two ports.
const MR: usize = 8;
/// Contraction indices per packed block: 256 x 32 floats = 32 KiB, inside L1.
const KC: usize = 256;
/// Most segments one product may have (a batch has at most this many chunks).
pub const MAX_SEGS: usize = 16;

/// How the second operand `B` (`len x n`) of a segment is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BLayout {
    /// Row `p` at `p * ldb`, contiguous along the output's columns.
    Rows { ldb: usize },
    /// Panel-major, exactly `len x n` floats: element `(p, j)` at `panel_index(len, n, p, j)`.
    /// The product must then cover all `n` columns of `B` (no column offsets).
    Panels,
}

/// Index of element `(p, j)` of a `k x n` matrix stored panel-major: panels of `NR` columns
/// (the last one narrower when `n` is not a multiple), one after the other, each row-major at
/// its own width. A matrix of at most `NR` columns is stored exactly as row-major.
#[inline]
pub fn panel_index(k: usize, n: usize, p: usize, j: usize) -> usize {
    let j0 = j / NR * NR;
    j0 * k + p * (n - j0).min(NR) + (j - j0)
}

/// Width of the panels `panel_index` uses.
pub const PANEL: usize = NR;

/// One contiguous block of the contraction for `gemm_nn`: `a` holds element `(i, p)` at
/// `i * ars + p * acs`, `b` holds row `p` of `B` as `bl` says, for `p` in `0..len`. A product
/// over several segments adds them in order, as one long sum.
#[derive(Debug, Clone, Copy)]
pub struct Seg<'a> {
    pub a: &'a [f32],
    pub ars: usize,
    pub acs: usize,
    pub b: &'a [f32],
    pub bl: BLayout,
    pub len: usize,
}

impl Seg<'_> {
    /// A segment of no rows (fills fixed-size segment arrays).
    pub const EMPTY: Seg<'static> = Seg {
        a: &[],
        ars: 0,
        acs: 0,
        b: &[],
        bl: BLayout::Rows { ldb: 0 },
        len: 0,
    };

    /// Start of columns `j0..` of row `p` of `B` and the distance between its rows, for an
    /// `n`-column product (`j0` a multiple of `NR` for panel-major operands).
    #[inline(always)]
    fn b_at(&self, n: usize, p: usize, j0: usize) -> (usize, usize) {
        match self.bl {
            BLayout::Rows { ldb } => (p * ldb + j0, ldb),
            BLayout::Panels => {
                let w = (n - j0).min(NR);
                (j0 * self.len + p * w, w)
            }
        }
    }
}

/// Whether the AVX-512 path is used on this machine (also reported by benchmarks).
pub fn uses_avx512() -> bool {
    simd::avx512f()
}

fn seg_fits(s: &Seg<'_>, m: usize, n: usize) -> bool {
    if s.len == 0 || m == 0 {
        return true;
    }
    let a_last = (m - 1) * s.ars + (s.len - 1) * s.acs;
    let b_end = match s.bl {
        BLayout::Rows { ldb } => (s.len - 1) * ldb + n,
        BLayout::Panels => s.len * n,
    };
    a_last < s.a.len() && b_end <= s.b.len()
}

/// How the output's sums start.
#[derive(Debug, Clone, Copy)]
enum Start<'a> {
    Zero,
    Bias(&'a [f32]),
    /// From the values already in C: a product cut along the contraction into several calls
    /// gives the bits of one call, since each partial sum is stored and reloaded exactly.
    Acc,
    /// From the values of another buffer laid out as C (a gradient's earlier pieces, when C
    /// holds the parameters `gemm_nn_sgd` updates).
    Partial(&'a [f32]),
}

/// What a product does with each finished sum (after its last contraction block).
#[derive(Debug, Clone, Copy)]
enum End<'a> {
    Store,
    /// Through a ReLU (NaN passes through, so a diverging run stays visible).
    Relu,
    /// Zeroed where `act` (laid out as C) is not positive: the gradient through the ReLU whose
    /// output is `act`, as `relu_mask` computes it (a NaN in `act` keeps the gradient).
    Mask(&'a [f32]),
    /// Applied as a gradient to the parameters in C: `C -= lr * sum`.
    Sgd(f32),
}

/// `C[i, j] = bias[j] (or 0) + sum over segments and p of A[i, p] B[p, j]`, for `i < m`, `j < n`,
/// written at `c[i * ldc + j]`, through a ReLU when `relu` (NaN passes through, so a diverging run
/// stays visible).
///
/// Panics if a slice is too short for the shapes given: callers derive every shape from the
/// model's own layers, so that would be a bug here, not bad input.
pub fn gemm_nn(
    m: usize,
    n: usize,
    segs: &[Seg<'_>],
    bias: Option<&[f32]>,
    relu: bool,
    c: &mut [f32],
    ldc: usize,
) {
    let start = match bias {
        Some(b) => Start::Bias(b),
        None => Start::Zero,
    };
    gemm(
        m,
        n,
        segs,
        start,
        if relu { End::Relu } else { End::Store },
        c,
        ldc,
    );
}

/// `C[i, j] = sum over segments and p of A[i, p] B[p, j]`, or 0 where `act[i * ldc + j]` (the
/// output of a ReLU, laid out as C) is not positive: an input gradient through that ReLU, with
/// the bits of `gemm_nn` followed by the mask.
pub fn gemm_nn_masked(
    m: usize,
    n: usize,
    segs: &[Seg<'_>],
    act: &[f32],
    c: &mut [f32],
    ldc: usize,
) {
    assert!(
        m == 0 || (m - 1) * ldc + n <= act.len(),
        "gemm_nn_masked activations too short"
    );
    gemm(m, n, segs, Start::Zero, End::Mask(act), c, ldc);
}

/// `C[i, j] += sum over segments and p of A[i, p] B[p, j]`: the continuation of a `gemm_nn`
/// (bias `None`, no ReLU) whose contraction was cut in pieces; same bits as one call.
pub fn gemm_nn_acc(m: usize, n: usize, segs: &[Seg<'_>], c: &mut [f32], ldc: usize) {
    gemm(m, n, segs, Start::Acc, End::Store, c, ldc);
}

/// A weight gradient's last piece, applied instead of stored: `G[i, j] = partial[i * ldc + j]
/// (or 0) + sum over segments and p of A[i, p] B[p, j]`, then `p[i * ldc + j] -= lr * G[i, j]`,
/// the bits of storing `G` and calling `sgd`. The contraction is at most `KC` long (one block,
/// so no partial sum is ever stored in `p`).
#[allow(clippy::too_many_arguments)]
pub fn gemm_nn_sgd(
    m: usize,
    n: usize,
    segs: &[Seg<'_>],
    partial: Option<&[f32]>,
    lr: f32,
    p: &mut [f32],
    ldc: usize,
) {
    let total: usize = segs.iter().map(|s| s.len).sum();
    assert!(
        total <= KC,
        "gemm_nn_sgd: contraction longer than one block"
    );
    let start = match partial {
        Some(g) => {
            assert!(
                m == 0 || (m - 1) * ldc + n <= g.len(),
                "gemm_nn_sgd partial too short"
            );
            Start::Partial(g)
        }
        None => Start::Zero,
    };
    gemm(m, n, segs, start, End::Sgd(lr), p, ldc);
}

fn gemm(
    m: usize,
    n: usize,
    segs: &[Seg<'_>],
    start: Start<'_>,
    end: End<'_>,
    c: &mut [f32],
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        segs.len() <= MAX_SEGS,
        "gemm_nn: more than {MAX_SEGS} segments"
    );
    assert!(
        segs.iter().all(|s| seg_fits(s, m, n)),
        "gemm_nn operand too short"
    );
    assert!((m - 1) * ldc + n <= c.len(), "gemm_nn output too short");
    if let Start::Bias(b) = start {
        assert!(b.len() >= n, "gemm_nn bias too short");
    }
    #[cfg(target_arch = "x86_64")]
    if uses_avx512() {
        // SAFETY: AVX-512F is present (checked above) and every index the kernel touches was
        // bounds-checked by the asserts above.
        unsafe { avx512::gemm_nn(m, n, segs, start, end, c, ldc) };
        return;
    }
    portable_nn(m, n, segs, start, end, c, ldc);
}

/// Sum of 16 lanes in a fixed tree, shared by both paths' dot products.
#[inline(always)]
pub fn tree16(l: &[f32; 16]) -> f32 {
    let a = [
        l[0] + l[8],
        l[1] + l[9],
        l[2] + l[10],
        l[3] + l[11],
        l[4] + l[12],
        l[5] + l[13],
        l[6] + l[14],
        l[7] + l[15],
    ];
    let b = [a[0] + a[4], a[1] + a[5], a[2] + a[6], a[3] + a[7]];
    (b[0] + b[2]) + (b[1] + b[3])
}

/// Dot product of two equally long slices in 16 interleaved lanes (vectorises without
/// reassociation, and its bits do not depend on where the slices come from).
#[inline(always)]
pub fn dot16(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let mut ca = a.chunks_exact(16);
    let mut cb = b.chunks_exact(16);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..16 {
            acc[l] += x[l] * y[l];
        }
    }
    for (l, (x, y)) in ca.remainder().iter().zip(cb.remainder()).enumerate() {
        acc[l] += x * y;
    }
    tree16(&acc)
}

/// Transpose `src` (`rows x cols`, row-major) into `dst` (`cols x rows`, row-major). The model
/// rewrites its weights' transpose after every update, a few hundred thousand floats per step.
pub fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    assert!(src.len() >= rows * cols && dst.len() >= rows * cols);
    #[cfg(target_arch = "x86_64")]
    if rows <= NR && uses_avx512() {
        // SAFETY: AVX-512F is present; the asserts above bound every index the gathers touch.
        unsafe { avx512::transpose(src, rows, cols, dst) };
        return;
    }
    for (r, row) in src.chunks_exact(cols).take(rows).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            dst[c * rows + r] = v;
        }
    }
}

/// Zero the gradient where the ReLU's output `act` was not positive (a NaN output keeps it): the
/// rule `gemm_nn_masked` applies in its epilogue, and its portable path through this function.
#[inline(always)]
pub fn relu_mask(grad: &mut [f32], act: &[f32]) {
    for (g, &a) in grad.iter_mut().zip(act) {
        // A select, not a branch: vectorises.
        *g = if a <= 0.0 { 0.0 } else { *g };
    }
}

/// `p -= lr * g`, elementwise: the rounding every SGD path (`sgd`, `gemm_nn_sgd`) shares.
#[inline(always)]
fn sgd_body(p: &mut [f32], g: &[f32], lr: f32) {
    for (p, &g) in p.iter_mut().zip(g) {
        *p -= lr * g;
    }
}

/// SGD on a strip: `p -= lr * g`.
pub fn sgd(p: &mut [f32], g: &[f32], lr: f32) {
    simd::dispatch!(fn(p: &mut [f32], g: &[f32], lr: f32) {
        ["avx512f"] => sgd_body(p, g, lr),
        _ => sgd_body(p, g, lr),
    })
}

/// Adagrad on a strip: `s += g^2; p -= lr * g / (sqrt(s) + eps)`.
pub fn adagrad(p: &mut [f32], g: &[f32], s: &mut [f32], lr: f32, eps: f32) {
    #[inline(always)]
    fn body(p: &mut [f32], g: &[f32], s: &mut [f32], lr: f32, eps: f32) {
        for ((p, &g), s) in p.iter_mut().zip(g).zip(s.iter_mut()) {
            *s += g * g;
            *p -= lr * g / (s.sqrt() + eps);
        }
    }
    simd::dispatch!(fn(p: &mut [f32], g: &[f32], s: &mut [f32], lr: f32, eps: f32) {
        ["avx512f"] => body(p, g, s, lr, eps),
        _ => body(p, g, s, lr, eps),
    })
}

/// Column sums: `acc[j] += x[r * ld + j]` for every row `r` of `x`, in row order.
pub fn add_rows(acc: &mut [f32], x: &[f32], ld: usize) {
    #[inline(always)]
    fn body(acc: &mut [f32], x: &[f32], ld: usize) {
        let n = acc.len();
        for row in x.chunks(ld).filter(|r| r.len() >= n) {
            for (a, &v) in acc.iter_mut().zip(&row[..n]) {
                *a += v;
            }
        }
    }
    simd::dispatch!(fn(acc: &mut [f32], x: &[f32], ld: usize) {
        ["avx512f"] => body(acc, x, ld),
        _ => body(acc, x, ld),
    })
}

/// Most vectors `gram16` takes per sample; its buffers are this many rows of 16 floats.
pub const GRAM_ROWS: usize = 32;

/// DLRM's pairwise dots of one sample's `nv` 16-float vectors (rows of `t`): for `j < i < nv`,
/// `z[i (i - 1) / 2 + j] = t_i . t_j` (torch's `tril_indices(offset=-1)` order). Each dot is
/// one fused multiply-add chain over the 16 dimensions in order. Returns false, touching
/// nothing, when the AVX-512 path is not available (the caller has a portable version).
pub fn gram16(t: &[f32; GRAM_ROWS * 16], nv: usize, z: &mut [f32]) -> bool {
    assert!(nv <= GRAM_ROWS && z.len() >= nv * nv.saturating_sub(1) / 2);
    #[cfg(target_arch = "x86_64")]
    if uses_avx512() {
        // SAFETY: AVX-512F is present; the assert bounds every index.
        unsafe { avx512::gram16(t, nv, z) };
        return true;
    }
    false
}

/// The backward of `gram16`: `dt_i = sum over j != i of g(i, j) t_j` with `g(i, j)` the
/// gradient of the dot of `t_i` and `t_j` in `gz` (same order as `gram16`'s output), summed in
/// ascending `j`. Only rows `..nv` of `dt` are meaningful. Returns false when AVX-512 is not
/// available.
pub fn gram16_backward(
    t: &[f32; GRAM_ROWS * 16],
    nv: usize,
    gz: &[f32],
    dt: &mut [f32; GRAM_ROWS * 16],
) -> bool {
    assert!(nv <= GRAM_ROWS && gz.len() >= nv * nv.saturating_sub(1) / 2);
    #[cfg(target_arch = "x86_64")]
    if uses_avx512() {
        // SAFETY: AVX-512F is present; the assert bounds every index.
        unsafe { avx512::gram16_backward(t, nv, gz, dt) };
        return true;
    }
    false
}

fn portable_nn(
    m: usize,
    n: usize,
    segs: &[Seg<'_>],
    start: Start<'_>,
    end: End<'_>,
    c: &mut [f32],
    ldc: usize,
) {
    let sgd = matches!(end, End::Sgd(_));
    let mut sums = vec![0.0f32; if sgd { n } else { 0 }];
    for i in 0..m {
        let out = &mut c[i * ldc..i * ldc + n];
        let row: &mut [f32] = if sgd { &mut sums } else { out };
        match start {
            Start::Bias(b) => row.copy_from_slice(&b[..n]),
            Start::Zero => row.iter_mut().for_each(|v| *v = 0.0),
            Start::Acc => {}
            Start::Partial(g) => row.copy_from_slice(&g[i * ldc..i * ldc + n]),
        }
        for s in segs {
            for p in 0..s.len {
                let x = s.a[i * s.ars + p * s.acs];
                for j0 in (0..n).step_by(NR) {
                    let (at, _) = s.b_at(n, p, j0);
                    let w = (n - j0).min(NR);
                    for (y, b) in row[j0..j0 + w].iter_mut().zip(&s.b[at..at + w]) {
                        *y += x * b;
                    }
                }
            }
        }
        match end {
            End::Store => {}
            End::Relu => {
                for v in row.iter_mut() {
                    if *v < 0.0 {
                        *v = 0.0;
                    }
                }
            }
            End::Mask(act) => relu_mask(row, &act[i * ldc..i * ldc + n]),
            End::Sgd(lr) => sgd_body(&mut c[i * ldc..i * ldc + n], &sums, lr),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{End, GRAM_ROWS, KC, MAX_SEGS, MR, NR, Seg, Start};
    use crate::util::aligned::AlignedBuf;
    use std::arch::x86_64::*;
    use std::cell::RefCell;

    thread_local! {
        /// The packed operand block of this thread, `KC x NR`.
        static PACK: RefCell<AlignedBuf> = RefCell::new(AlignedBuf::default());
    }

    #[inline(always)]
    fn mask(rem: usize) -> __mmask16 {
        if rem >= 16 {
            0xffff
        } else {
            ((1u32 << rem) - 1) as __mmask16
        }
    }

    /// The part of one segment that falls in the current contraction block.
    #[derive(Clone, Copy)]
    struct Piece {
        seg: usize,
        /// First index inside the segment.
        p0: usize,
        len: usize,
        /// Its first row of `B`, `NR` floats apart: in the packed block, or in place for a full
        /// panel of a panel-major operand.
        bp: *const f32,
    }

    impl Piece {
        const EMPTY: Piece = Piece {
            seg: 0,
            p0: 0,
            len: 0,
            bp: std::ptr::null(),
        };
    }

    /// How a tile's accumulators start.
    #[derive(Clone, Copy, PartialEq)]
    enum Init {
        Zero,
        Bias,
        /// The partial sum an earlier contraction block stored in C.
        Load,
    }

    /// # Safety
    /// AVX-512F must be available; the slices must hold every index the shapes imply.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn gemm_nn(
        m: usize,
        n: usize,
        segs: &[Seg<'_>],
        start: Start<'_>,
        end: End<'_>,
        c: &mut [f32],
        ldc: usize,
    ) {
        let bias = match start {
            Start::Bias(b) => Some(b),
            _ => None,
        };
        // Where a tile's earlier sums are loaded from: C itself, or the partial gradient.
        let partial = match start {
            Start::Partial(g) => g.as_ptr(),
            _ => std::ptr::null(),
        };
        PACK.with(|pack| {
            let mut pack = pack.borrow_mut();
            if pack.len() < KC * NR {
                pack.resize(KC * NR);
            }
            // One pointer for every write and read of the block, so no later borrow of the
            // buffer invalidates the pointers the pieces keep.
            let pk = pack.as_mut_ptr();
            let total: usize = segs.iter().map(|s| s.len).sum();
            let cp = c.as_mut_ptr();
            let mut j0 = 0;
            while j0 < n {
                let w = (n - j0).min(NR);
                let (m0, m1) = (mask(w), mask(w.saturating_sub(16)));
                let mut q0 = 0;
                let (mut si, mut sp) = (0, 0);
                loop {
                    let q1 = (q0 + KC).min(total);
                    // Rows q0..q1 of columns j0..j0+w: full panels of a panel-major operand
                    // are read in place; anything else is packed, zero-padded to NR columns.
                    let mut pieces = [Piece::EMPTY; MAX_SEGS];
                    let mut np = 0;
                    let mut off = 0;
                    // The operand memory that follows this block, when the block is read in
                    // place: the next block of the same panel, or the next panel.
                    let mut next: (*const f32, usize) = (std::ptr::null(), 0);
                    while off < q1 - q0 {
                        let s = &segs[si];
                        let len = (s.len - sp).min(q1 - q0 - off);
                        if len > 0 {
                            let (at, ld) = s.b_at(n, sp, j0);
                            // SAFETY: rows sp..sp+len, columns j0..j0+w (masked) of this
                            // segment's operand were checked by the caller; the block holds
                            // KC rows of NR floats and off + len <= KC.
                            let bp = unsafe {
                                let src0 = s.b.as_ptr().add(at);
                                if ld == NR && w == NR {
                                    let end = src0.add(len * NR);
                                    let left = s.b.as_ptr().add(s.b.len()).offset_from(end);
                                    next = (end, (left.max(0) as usize).min(KC * NR));
                                    src0
                                } else {
                                    next = (std::ptr::null(), 0);
                                    let mut src = src0;
                                    let mut dst = pk.add(off * NR);
                                    for _ in 0..len {
                                        _mm512_storeu_ps(dst, _mm512_maskz_loadu_ps(m0, src));
                                        _mm512_storeu_ps(
                                            dst.add(16),
                                            _mm512_maskz_loadu_ps(m1, src.add(16)),
                                        );
                                        src = src.add(ld);
                                        dst = dst.add(NR);
                                    }
                                    pk.add(off * NR) as *const f32
                                }
                            };
                            pieces[np] = Piece {
                                seg: si,
                                p0: sp,
                                len,
                                bp,
                            };
                            np += 1;
                        }
                        off += len;
                        sp += len;
                        if sp == segs[si].len {
                            si += 1;
                            sp = 0;
                        }
                    }
                    let init = if q0 > 0 || matches!(start, Start::Acc | Start::Partial(_)) {
                        Init::Load
                    } else if bias.is_some() {
                        Init::Bias
                    } else {
                        Init::Zero
                    };
                    let t = Tile {
                        segs,
                        pieces: &pieces[..np],
                        bias: bias.map_or(std::ptr::null(), |b| b[j0..].as_ptr()),
                        init,
                        end: match end {
                            _ if q1 < total => Fin::Store,
                            End::Store => Fin::Store,
                            End::Relu => Fin::Relu,
                            End::Mask(act) => Fin::Mask(act[j0..].as_ptr()),
                            End::Sgd(lr) => Fin::Sgd(lr),
                        },
                        m0,
                        m1,
                    };
                    // Weights come from L3 (a step's do not fit in L2): the tiles of this block
                    // share out the prefetch of the next one into L2, so its misses overlap
                    // with arithmetic instead of stalling the first tile that reads it.
                    let lines = next.1.div_ceil(16);
                    let per_tile = lines.div_ceil(m.div_ceil(MR)).max(1);
                    let mut i0 = 0;
                    let mut pf_done = 0;
                    while i0 < m {
                        let mr = (m - i0).min(MR);
                        let pf_lines = per_tile.min(lines - pf_done);
                        // SAFETY: the tile reads rows i0..i0+mr of the segments (checked by
                        // the caller), the packed block, and writes rows i0..i0+mr, columns
                        // j0..j0+w of C (masked); it prefetches (never faults) inside the
                        // operand.
                        unsafe {
                            let cij = cp.add(i0 * ldc + j0);
                            // The partial gradient is only read in a single-block product.
                            let src = if partial.is_null() {
                                cij as *const f32
                            } else {
                                partial.add(i0 * ldc + j0)
                            };
                            let pf = (next.0.wrapping_add(pf_done * 16), pf_lines);
                            let io = (cij, src);
                            if w > 16 {
                                nn_dispatch::<2>(mr, &t, i0, io, ldc, pf)
                            } else {
                                nn_dispatch::<1>(mr, &t, i0, io, ldc, pf)
                            }
                        }
                        pf_done += pf_lines;
                        i0 += mr;
                    }
                    q0 = q1;
                    if q0 >= total {
                        break;
                    }
                }
                j0 += NR;
            }
        })
    }

    /// # Safety
    /// AVX-512F must be available; `rows <= NR` and both slices hold `rows * cols` floats.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
        if rows.is_multiple_of(16) && cols.is_multiple_of(16) {
            for r0 in (0..rows).step_by(16) {
                for c0 in (0..cols).step_by(16) {
                    // SAFETY: the 16 x 16 tile at (r0, c0) lies inside both matrices.
                    unsafe {
                        transpose16(
                            src.as_ptr().add(r0 * cols + c0),
                            cols,
                            dst.as_mut_ptr().add(c0 * rows + r0),
                            rows,
                        )
                    };
                }
            }
            return;
        }
        // Row j of dst is column j of src: two masked gathers of stride `cols`.
        let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let stride = _mm512_set1_epi32(cols as i32);
        let idx0 = _mm512_mullo_epi32(lane, stride);
        let idx1 = _mm512_add_epi32(idx0, _mm512_slli_epi32::<4>(stride));
        let (m0, m1) = (mask(rows), mask(rows.saturating_sub(16)));
        let zero = _mm512_setzero_ps();
        for j in 0..cols {
            // SAFETY: lane r reads src[r * cols + j] for r < rows (masked), writes dst[j * rows
            // + r]: both inside rows * cols.
            unsafe {
                let base = src.as_ptr().add(j);
                let d = dst.as_mut_ptr().add(j * rows);
                let v0 = _mm512_mask_i32gather_ps::<4>(zero, m0, idx0, base);
                _mm512_mask_storeu_ps(d, m0, v0);
                if rows > 16 {
                    let v1 = _mm512_mask_i32gather_ps::<4>(zero, m1, idx1, base);
                    _mm512_mask_storeu_ps(d.add(16), m1, v1);
                }
            }
        }
    }

    /// Transpose the 16 x 16 tile at `src` (rows `ls` apart) into `dst` (rows `ld` apart) in
    /// registers: pairs of rows interleaved by 32, then 64 bits, then 128-bit lanes twice.
    ///
    /// # Safety
    /// AVX-512F must be available; both tiles must be inside their slices.
    #[target_feature(enable = "avx512f")]
    unsafe fn transpose16(src: *const f32, ls: usize, dst: *mut f32, ld: usize) {
        // SAFETY: the caller's promise covers the 16 rows of 16 floats read and written.
        unsafe {
            let mut r = [_mm512_setzero_ps(); 16];
            for (i, v) in r.iter_mut().enumerate() {
                *v = _mm512_loadu_ps(src.add(i * ls));
            }
            let mut t = [_mm512_setzero_ps(); 16];
            for k in 0..8 {
                t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
                t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
            }
            let pd = _mm512_castps_pd;
            let ps = _mm512_castpd_ps;
            // u[4g + m]: in 128-bit lane L, column 4L + m of rows 4g..4g+4.
            let mut u = [_mm512_setzero_ps(); 16];
            for g in 0..4 {
                let (a, b, c, d) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
                u[4 * g] = ps(_mm512_unpacklo_pd(pd(a), pd(c)));
                u[4 * g + 1] = ps(_mm512_unpackhi_pd(pd(a), pd(c)));
                u[4 * g + 2] = ps(_mm512_unpacklo_pd(pd(b), pd(d)));
                u[4 * g + 3] = ps(_mm512_unpackhi_pd(pd(b), pd(d)));
            }
            for m in 0..4 {
                let a = _mm512_shuffle_f32x4::<0x88>(u[m], u[4 + m]);
                let b = _mm512_shuffle_f32x4::<0x88>(u[8 + m], u[12 + m]);
                let c = _mm512_shuffle_f32x4::<0xdd>(u[m], u[4 + m]);
                let d = _mm512_shuffle_f32x4::<0xdd>(u[8 + m], u[12 + m]);
                _mm512_storeu_ps(dst.add(m * ld), _mm512_shuffle_f32x4::<0x88>(a, b));
                _mm512_storeu_ps(dst.add((8 + m) * ld), _mm512_shuffle_f32x4::<0xdd>(a, b));
                _mm512_storeu_ps(dst.add((4 + m) * ld), _mm512_shuffle_f32x4::<0x88>(c, d));
                _mm512_storeu_ps(dst.add((12 + m) * ld), _mm512_shuffle_f32x4::<0xdd>(c, d));
            }
        }
    }

    /// `t`'s transpose, `16 x GRAM_ROWS`: row `d` holds dimension `d` of every vector, so a row
    /// of dots is 16 broadcast FMAs. Two in-register 16 x 16 transposes.
    ///
    /// # Safety
    /// AVX-512F must be available.
    #[target_feature(enable = "avx512f")]
    unsafe fn columns(t: &[f32; GRAM_ROWS * 16]) -> [[__m512; 2]; 16] {
        let mut tt = [0.0f32; GRAM_ROWS * 16];
        // SAFETY: the two 16 x 16 tiles (rows 0..16 and 16..32 of t) land in columns 0..16 and
        // 16..32 of tt (rows GRAM_ROWS apart): both inside the arrays.
        unsafe {
            transpose16(t.as_ptr(), 16, tt.as_mut_ptr(), GRAM_ROWS);
            transpose16(t.as_ptr().add(256), 16, tt.as_mut_ptr().add(16), GRAM_ROWS);
            std::array::from_fn(|d| {
                let row = tt.as_ptr().add(d * GRAM_ROWS);
                [_mm512_loadu_ps(row), _mm512_loadu_ps(row.add(16))]
            })
        }
    }

    /// # Safety
    /// AVX-512F must be available; `nv <= GRAM_ROWS`, `z` holds `nv (nv - 1) / 2` floats.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn gram16(t: &[f32; GRAM_ROWS * 16], nv: usize, z: &mut [f32]) {
        // SAFETY: AVX-512F is present (the caller's promise).
        let tt = unsafe { columns(t) };
        let zero = _mm512_setzero_ps();
        // Eight rows at a time: eight (or sixteen) independent FMA chains hide the FMA latency.
        // Rows up to 16 only have dots with vectors 0..16: their second half is not computed.
        let mut i0 = 1;
        while i0 < nv {
            let mut a0 = [zero; 8];
            let mut a1 = [zero; 8];
            let wide = i0 + 7 > 16;
            for (d, c) in tt.iter().enumerate() {
                for r in 0..8 {
                    // Rows past nv read padding (t has GRAM_ROWS rows) and are not stored.
                    let b = _mm512_set1_ps(t[((i0 + r) % GRAM_ROWS) * 16 + d]);
                    a0[r] = _mm512_fmadd_ps(b, c[0], a0[r]);
                    if wide {
                        a1[r] = _mm512_fmadd_ps(b, c[1], a1[r]);
                    }
                }
            }
            for r in 0..8 {
                let i = i0 + r;
                if i >= nv {
                    break;
                }
                // SAFETY: row i of the output is z[i (i-1)/2 ..][..i], inside z (i < nv).
                unsafe {
                    let base = z.as_mut_ptr().add(i * (i - 1) / 2);
                    _mm512_mask_storeu_ps(base, mask(i), a0[r]);
                    if i > 16 {
                        _mm512_mask_storeu_ps(base.add(16), mask(i - 16), a1[r]);
                    }
                }
            }
            i0 += 8;
        }
    }

    /// # Safety
    /// AVX-512F must be available; `nv <= GRAM_ROWS`, `gz` holds `nv (nv - 1) / 2` floats.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn gram16_backward(
        t: &[f32; GRAM_ROWS * 16],
        nv: usize,
        gz: &[f32],
        dt: &mut [f32; GRAM_ROWS * 16],
    ) {
        const N: usize = GRAM_ROWS;
        // g as a dense symmetric matrix, zero on the diagonal and past nv: the lower triangle
        // (row i of gz is g(i, 0..i)), plus its transpose for the upper one. Each element is
        // one g and one exact zero, so the sum is g itself.
        let mut lo = [0.0f32; N * N];
        for i in 1..nv {
            let row = i * (i - 1) / 2;
            // SAFETY: g(i, 0..i) is gz[row..row + i], inside gz (i < nv); the stores are
            // masked to the first i floats of row i of lo.
            unsafe {
                let src = gz.as_ptr().add(row);
                let dst = lo.as_mut_ptr().add(i * N);
                _mm512_storeu_ps(dst, _mm512_maskz_loadu_ps(mask(i), src));
                if i > 16 {
                    let m = mask(i - 16);
                    _mm512_storeu_ps(dst.add(16), _mm512_maskz_loadu_ps(m, src.add(16)));
                }
            }
        }
        let mut g = [0.0f32; N * N];
        // SAFETY: four 16 x 16 tiles of the 32 x 32 matrices, each inside both.
        unsafe {
            for (bi, bj) in [(0, 0), (0, 16), (16, 0), (16, 16)] {
                transpose16(
                    lo.as_ptr().add(bi * N + bj),
                    N,
                    g.as_mut_ptr().add(bj * N + bi),
                    N,
                );
            }
            for (gv, l) in g.chunks_exact_mut(16).zip(lo.chunks_exact(16)) {
                let v = _mm512_add_ps(_mm512_loadu_ps(gv.as_ptr()), _mm512_loadu_ps(l.as_ptr()));
                _mm512_storeu_ps(gv.as_mut_ptr(), v);
            }
        }
        // Eight rows at a time: eight independent FMA chains hide the FMA latency.
        for i0 in (0..nv).step_by(8) {
            let mut acc = [_mm512_setzero_ps(); 8];
            for j in 0..nv {
                // SAFETY: row j < nv <= GRAM_ROWS of t.
                let tj = unsafe { _mm512_loadu_ps(t.as_ptr().add(j * 16)) };
                for (r, a) in acc.iter_mut().enumerate() {
                    // Rows past nv are zero in g; i0 + r < N as i0 is a multiple of 8 below nv.
                    *a = _mm512_fmadd_ps(_mm512_set1_ps(g[(i0 + r) * N + j]), tj, *a);
                }
            }
            for (r, a) in acc.iter().enumerate() {
                // SAFETY: row i0 + r < GRAM_ROWS of dt.
                unsafe { _mm512_storeu_ps(dt.as_mut_ptr().add((i0 + r) * 16), *a) };
            }
        }
    }

    /// A tile's `End`: the activations of a mask start at the tile block's first column (rows
    /// `ldc` apart, as C), and a block before the contraction's last only stores.
    #[derive(Clone, Copy)]
    enum Fin {
        Store,
        Relu,
        Mask(*const f32),
        Sgd(f32),
    }

    struct Tile<'s, 'a> {
        segs: &'s [Seg<'a>],
        pieces: &'s [Piece],
        bias: *const f32,
        init: Init,
        end: Fin,
        m0: __mmask16,
        m1: __mmask16,
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn nn_dispatch<const NV: usize>(
        mr: usize,
        t: &Tile<'_, '_>,
        i0: usize,
        c: (*mut f32, *const f32),
        ldc: usize,
        pf: (*const f32, usize),
    ) {
        // SAFETY: forwarded from `gemm_nn`.
        unsafe {
            match mr {
                8 => nn_tile::<8, NV>(t, i0, c, ldc, pf),
                7 => nn_tile::<7, NV>(t, i0, c, ldc, pf),
                6 => nn_tile::<6, NV>(t, i0, c, ldc, pf),
                5 => nn_tile::<5, NV>(t, i0, c, ldc, pf),
                4 => nn_tile::<4, NV>(t, i0, c, ldc, pf),
                3 => nn_tile::<3, NV>(t, i0, c, ldc, pf),
                2 => nn_tile::<2, NV>(t, i0, c, ldc, pf),
                _ => nn_tile::<1, NV>(t, i0, c, ldc, pf),
            }
        }
    }

    /// Contraction indices per trip of a tile's inner loop.
    const UNROLL: usize = 4;

    /// One contraction index of a tile: `acc[r] += A[r, p] * B[p, ..]`, with `A[r, p]` at
    /// `ap + rows[r]` and `bp` at row `p` of the panel.
    ///
    /// # Safety
    /// Only inlined into `nn_tile` (AVX-512F), with pointers inside a checked piece.
    #[inline(always)]
    unsafe fn index<const R: usize, const NV: usize>(
        acc0: &mut [__m512; R],
        acc1: &mut [__m512; R],
        ap: *const f32,
        rows: &[usize; R],
        bp: *const f32,
    ) {
        // SAFETY: the caller's pointers are inside the ranges `gemm_nn` checked.
        unsafe {
            let w0 = _mm512_loadu_ps(bp);
            let w1 = if NV == 2 {
                _mm512_loadu_ps(bp.add(16))
            } else {
                w0
            };
            for r in 0..R {
                let x = _mm512_set1_ps(*ap.add(rows[r]));
                acc0[r] = _mm512_fmadd_ps(x, w0, acc0[r]);
                if NV == 2 {
                    acc1[r] = _mm512_fmadd_ps(x, w1, acc1[r]);
                }
            }
        }
    }

    /// `len` contraction indices of a tile, with `A[r, p + u]` at `ap + rows[r] + ks[u]` for
    /// `u < UNROLL`, and `ap` moving by `ks[1]` per index. Four indices per trip: one pointer
    /// update and one prefetch test per four, every load addressed from `ap` plus a register
    /// and a constant. (Stepping through the rows one addition at a time, as the compiler
    /// otherwise does, chains eight dependent additions per index, as slow as the 16 FMAs.)
    /// The caller hides the strides that are not 1 behind `black_box`, so the compiler keeps
    /// them in registers.
    ///
    /// # Safety
    /// Only inlined into `nn_tile` (AVX-512F), with the pointers of a checked piece.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn piece<const R: usize, const NV: usize>(
        acc0: &mut [__m512; R],
        acc1: &mut [__m512; R],
        mut ap: *const f32,
        rows: &[usize; R],
        ks: &[usize; UNROLL],
        mut bp: *const f32,
        len: usize,
        pf: (&mut *const i8, &mut usize),
    ) {
        let kstep = ks[1];
        let mut k = 0;
        // SAFETY: every address is `A[r, p]` or row `p` of the panel for an index the caller's
        // piece covers, checked by `gemm_nn`; prefetches never fault.
        unsafe {
            while k + UNROLL <= len {
                if *pf.1 > 0 {
                    _mm_prefetch::<_MM_HINT_T1>(*pf.0);
                    *pf.0 = pf.0.wrapping_add(64);
                    *pf.1 -= 1;
                }
                for (u, &ku) in ks.iter().enumerate() {
                    index::<R, NV>(acc0, acc1, ap.add(ku), rows, bp.add(u * NR));
                }
                ap = ap.add(UNROLL * kstep);
                bp = bp.add(UNROLL * NR);
                k += UNROLL;
            }
            while k < len {
                index::<R, NV>(acc0, acc1, ap, rows, bp);
                ap = ap.add(kstep);
                bp = bp.add(NR);
                k += 1;
            }
        }
    }

    /// `R` rows by `NV` vectors of 16 columns. Each accumulator lane is one output element: bias
    /// (or 0, or its stored partial sum, read at `c.1`), then one FMA per contraction index in
    /// order; stored at `c.0`, or applied there as a gradient. Prefetches `pf.1` cache lines
    /// from `pf.0` into L2 along the way, one every four indices.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn nn_tile<const R: usize, const NV: usize>(
        t: &Tile<'_, '_>,
        i0: usize,
        (c, src): (*mut f32, *const f32),
        ldc: usize,
        pf: (*const f32, usize),
    ) {
        let (mut pfp, mut pf_left) = (pf.0 as *const i8, pf.1);
        // SAFETY: every pointer below stays within the ranges `gemm_nn` checked; masked lanes
        // are not accessed.
        unsafe {
            let mut acc0 = [_mm512_setzero_ps(); R];
            let mut acc1 = [_mm512_setzero_ps(); R];
            match t.init {
                Init::Zero => {}
                Init::Bias => {
                    acc0 = [_mm512_maskz_loadu_ps(t.m0, t.bias); R];
                    if NV == 2 {
                        acc1 = [_mm512_maskz_loadu_ps(t.m1, t.bias.add(16)); R];
                    }
                }
                Init::Load => {
                    for r in 0..R {
                        acc0[r] = _mm512_maskz_loadu_ps(t.m0, src.add(r * ldc));
                        if NV == 2 {
                            acc1[r] = _mm512_maskz_loadu_ps(t.m1, src.add(r * ldc + 16));
                        }
                    }
                }
            }
            for pc in t.pieces {
                let s = &t.segs[pc.seg];
                let (ars, acs) = (s.ars, s.acs);
                let ap = s.a.as_ptr().add(i0 * ars + pc.p0 * acs);
                let bp = pc.bp;
                let pf = (&mut pfp, &mut pf_left);
                if acs == 1 {
                    // Row-major A: rows `ars` apart, each row's offset its own register.
                    let rows = std::hint::black_box(std::array::from_fn(|r| r * ars));
                    let ks = std::array::from_fn(|u| u);
                    piece::<R, NV>(&mut acc0, &mut acc1, ap, &rows, &ks, bp, pc.len, pf);
                } else if ars == 1 {
                    // Transposed A: the tile's rows are adjacent, indices `acs` apart.
                    let rows = std::array::from_fn(|r| r);
                    let ks = std::hint::black_box(std::array::from_fn(|u| u * acs));
                    piece::<R, NV>(&mut acc0, &mut acc1, ap, &rows, &ks, bp, pc.len, pf);
                } else {
                    let rows = std::hint::black_box(std::array::from_fn(|r| r * ars));
                    let ks = std::hint::black_box(std::array::from_fn(|u| u * acs));
                    piece::<R, NV>(&mut acc0, &mut acc1, ap, &rows, &ks, bp, pc.len, pf);
                }
            }
            let zero = _mm512_setzero_ps();
            for r in 0..R {
                let (mut v0, mut v1) = (acc0[r], acc1[r]);
                let cr = c.add(r * ldc);
                match t.end {
                    Fin::Store => {}
                    Fin::Relu => {
                        // max(0, v) returns v when v is NaN (the second operand), keeping NaN.
                        v0 = _mm512_max_ps(zero, v0);
                        v1 = _mm512_max_ps(zero, v1);
                    }
                    Fin::Mask(act) => {
                        // Kept where the activation is not <= 0: positive, or NaN.
                        let ar = act.add((i0 + r) * ldc);
                        let keep = |a| _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(a, zero);
                        v0 = _mm512_maskz_mov_ps(keep(_mm512_maskz_loadu_ps(t.m0, ar)), v0);
                        if NV == 2 {
                            let a1 = _mm512_maskz_loadu_ps(t.m1, ar.add(16));
                            v1 = _mm512_maskz_mov_ps(keep(a1), v1);
                        }
                    }
                    Fin::Sgd(lr) => {
                        // p - lr * g, rounded as `sgd` rounds it (a product, then a difference).
                        let lr = _mm512_set1_ps(lr);
                        let p0 = _mm512_maskz_loadu_ps(t.m0, cr);
                        v0 = _mm512_sub_ps(p0, _mm512_mul_ps(lr, v0));
                        if NV == 2 {
                            let p1 = _mm512_maskz_loadu_ps(t.m1, cr.add(16));
                            v1 = _mm512_sub_ps(p1, _mm512_mul_ps(lr, v1));
                        }
                    }
                }
                _mm512_mask_storeu_ps(cr, t.m0, v0);
                if NV == 2 {
                    _mm512_mask_storeu_ps(cr.add(16), t.m1, v1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    /// The product in f64, as the reference both paths must approach.
    fn reference_nn(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], bias: &[f32]) -> Vec<f64> {
        let mut c = vec![0.0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = bias[j] as f64;
                for p in 0..k {
                    s += a[i * k + p] as f64 * b[p * n + j] as f64;
                }
                c[i * n + j] = s.max(0.0);
            }
        }
        c
    }

    #[test]
    fn nn_matches_the_f64_product_on_every_tile_shape() {
        for &(m, n, k) in &[
            (1, 1, 1),
            (9, 17, 5),
            (13, 33, 40),
            (8, 32, 16),
            (3, 48, 7),
            (10, 40, 600),
        ] {
            let a = fill(m * k, 1);
            let b = fill(k * n, 2);
            let bias = fill(n, 3);
            let want = reference_nn(m, n, k, &a, &b, &bias);
            // Two segments over the contraction must equal one.
            let half = k / 2;
            let segs = [
                Seg {
                    a: &a,
                    ars: k,
                    acs: 1,
                    b: &b,
                    bl: BLayout::Rows { ldb: n },
                    len: half,
                },
                Seg {
                    a: &a[half..],
                    ars: k,
                    acs: 1,
                    b: &b[half * n..],
                    bl: BLayout::Rows { ldb: n },
                    len: k - half,
                },
            ];
            let mut c = vec![f32::NAN; m * n];
            gemm_nn(m, n, &segs, Some(&bias), true, &mut c, n);
            let mut whole = vec![0.0; m * n];
            gemm_nn(
                m,
                n,
                &segs[..1]
                    .iter()
                    .map(|s| Seg { len: k, ..*s })
                    .collect::<Vec<_>>(),
                Some(&bias),
                true,
                &mut whole,
                n,
            );
            assert_eq!(c, whole, "{m}x{n}x{k}: segments change the bits");
            let mut p = vec![0.0; m * n];
            portable_nn(m, n, &segs, Start::Bias(&bias), End::Relu, &mut p, n);
            for ((&x, &y), &w) in c.iter().zip(&p).zip(&want) {
                assert!((x as f64 - w).abs() < 1e-3, "{m}x{n}x{k}: {x} vs {w}");
                assert!(
                    (y as f64 - w).abs() < 1e-3,
                    "{m}x{n}x{k}: portable {y} vs {w}"
                );
            }
        }
    }

    #[test]
    fn a_strides_give_the_same_bits() {
        // The tile reads A in three ways: row-major (`acs == 1`), transposed (`ars == 1`) and
        // any other stride; all must add the same products in the same order. Contractions of
        // every remainder modulo the unroll, rows of every remainder modulo the tile.
        for &(m, n, k) in &[
            (1, 16, 1),
            (9, 17, 5),
            (13, 33, 6),
            (8, 32, 7),
            (16, 40, 259),
        ] {
            let a = fill(m * k, 4);
            let b = fill(k * n, 5);
            let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
            // A inside a wider array: element (i, p) at 3 * (i * (k + 1) + p).
            let mut wide = vec![f32::NAN; 3 * m * (k + 1)];
            for i in 0..m {
                for p in 0..k {
                    wide[3 * (i * (k + 1) + p)] = a[i * k + p];
                }
            }
            let run = |a: &[f32], ars: usize, acs: usize| {
                let seg = Seg {
                    a,
                    ars,
                    acs,
                    b: &b,
                    bl: BLayout::Rows { ldb: n },
                    len: k,
                };
                let mut c = vec![0.0; m * n];
                gemm_nn(m, n, &[seg], None, false, &mut c, n);
                c
            };
            let rows = run(&a, k, 1);
            assert_eq!(rows, run(&at, 1, m), "{m}x{n}x{k}: transposed A");
            assert_eq!(rows, run(&wide, 3 * (k + 1), 3), "{m}x{n}x{k}: strided A");
        }
    }

    #[test]
    fn nn_bits_do_not_depend_on_how_rows_and_columns_are_cut() {
        let (m, n, k) = (21, 70, 33);
        let a = fill(m * k, 4);
        let b = fill(k * n, 5);
        let seg = |r0: usize| Seg {
            a: &a[r0 * k..],
            ars: k,
            acs: 1,
            b: &b,
            bl: BLayout::Rows { ldb: n },
            len: k,
        };
        let mut whole = vec![0.0; m * n];
        gemm_nn(m, n, &[seg(0)], None, false, &mut whole, n);
        let mut parts = vec![0.0; m * n];
        for (r0, r1) in [(0, 5), (5, 6), (6, 21)] {
            for (c0, c1) in [(0, 16), (16, 19), (19, 70)] {
                let s = Seg {
                    b: &b[c0..],
                    ..seg(r0)
                };
                gemm_nn(
                    r1 - r0,
                    c1 - c0,
                    &[s],
                    None,
                    false,
                    &mut parts[r0 * n + c0..],
                    n,
                );
            }
        }
        assert_eq!(whole, parts);
    }

    /// `b` (`k x n`, row-major) copied into the panel-major layout.
    fn to_panels(k: usize, n: usize, b: &[f32]) -> Vec<f32> {
        let mut out = vec![f32::NAN; k * n];
        for p in 0..k {
            for j in 0..n {
                out[panel_index(k, n, p, j)] = b[p * n + j];
            }
        }
        out
    }

    #[test]
    fn panel_index_tiles_the_matrix() {
        for &(k, n) in &[(1, 1), (3, 32), (5, 33), (7, 367), (2, 64)] {
            let mut seen = vec![false; k * n];
            for p in 0..k {
                for j in 0..n {
                    let i = panel_index(k, n, p, j);
                    assert!(!seen[i], "{k}x{n}: ({p}, {j}) lands on a used index");
                    seen[i] = true;
                }
            }
            if n <= PANEL {
                assert_eq!(panel_index(k, n, k - 1, n - 1), k * n - 1);
            }
        }
    }

    #[test]
    fn panel_major_operands_give_the_bits_of_row_major_ones() {
        for &(m, n, k) in &[
            (9, 17, 5),
            (13, 33, 40),
            (8, 64, 300),
            (10, 70, 600),
            (3, 1, 9),
        ] {
            let a = fill(m * k, 6);
            let b = fill(k * n, 7);
            let bias = fill(n, 8);
            let bp = to_panels(k, n, &b);
            fn seg<'a>(a: &'a [f32], k: usize, b: &'a [f32], bl: BLayout) -> Seg<'a> {
                Seg {
                    a,
                    ars: k,
                    acs: 1,
                    b,
                    bl,
                    len: k,
                }
            }
            let mut rows = vec![0.0; m * n];
            gemm_nn(
                m,
                n,
                &[seg(&a, k, &b, BLayout::Rows { ldb: n })],
                Some(&bias),
                false,
                &mut rows,
                n,
            );
            let mut panels = vec![0.0; m * n];
            gemm_nn(
                m,
                n,
                &[seg(&a, k, &bp, BLayout::Panels)],
                Some(&bias),
                false,
                &mut panels,
                n,
            );
            assert_eq!(rows, panels, "{m}x{n}x{k}");
            let mut portable = vec![0.0; m * n];
            portable_nn(
                m,
                n,
                &[seg(&a, k, &bp, BLayout::Panels)],
                Start::Bias(&bias),
                End::Store,
                &mut portable,
                n,
            );
            let want = reference_nn(m, n, k, &a, &b, &bias);
            for (&y, &w) in portable.iter().zip(&want) {
                // reference_nn applies a ReLU; compare only where it did not cut.
                if w > 0.0 {
                    assert!((y as f64 - w).abs() < 1e-3, "{m}x{n}x{k}: {y} vs {w}");
                }
            }
        }
    }

    /// Indices `p0..p0 + len` of the contraction of row-major `a` (`m x k`) and `b` (`k x n`).
    fn contraction_piece<'a>(
        a: &'a [f32],
        b: &'a [f32],
        (k, n): (usize, usize),
        p0: usize,
        len: usize,
    ) -> Seg<'a> {
        Seg {
            a: &a[p0..],
            ars: k,
            acs: 1,
            b: &b[p0 * n..],
            bl: BLayout::Rows { ldb: n },
            len,
        }
    }

    #[test]
    fn accumulating_calls_give_the_bits_of_one_call() {
        let (m, n, k) = (19, 45, 700);
        let a = fill(m * k, 9);
        let b = fill(k * n, 10);
        let seg = |p0: usize, len: usize| contraction_piece(&a, &b, (k, n), p0, len);
        let mut whole = vec![0.0; m * n];
        gemm_nn(m, n, &[seg(0, k)], None, false, &mut whole, n);
        let mut parts = vec![f32::NAN; m * n];
        gemm_nn(m, n, &[seg(0, 300)], None, false, &mut parts, n);
        gemm_nn_acc(m, n, &[seg(300, 1), seg(301, 99)], &mut parts, n);
        gemm_nn_acc(m, n, &[seg(400, 300)], &mut parts, n);
        assert_eq!(whole, parts);
        let mut portable = vec![0.0; m * n];
        let acc =
            |start, c: &mut [f32], s: &[Seg<'_>]| portable_nn(m, n, s, start, End::Store, c, n);
        acc(Start::Zero, &mut portable, &[seg(0, 400)]);
        acc(Start::Acc, &mut portable, &[seg(400, 300)]);
        let mut one = vec![0.0; m * n];
        acc(Start::Zero, &mut one, &[seg(0, k)]);
        assert_eq!(one, portable);
    }

    /// The masked product (`gemm_nn_masked`) has the bits of the product followed by zeroing
    /// where the activation is not positive; a NaN activation keeps the gradient (as
    /// `relu_mask`), and a contraction longer than one block masks only the finished sums.
    #[test]
    fn masked_product_has_the_bits_of_product_then_mask() {
        let (m, n, k) = (19, 45, 300);
        let a = fill(m * k, 14);
        let b = fill(k * n, 15);
        let mut act = fill(m * n, 16);
        act[3] = f32::NAN;
        act[7] = 0.0;
        act[8] = -0.0;
        let seg = |p0: usize, len: usize| contraction_piece(&a, &b, (k, n), p0, len);
        let mask = |c: &mut [f32]| {
            for (v, &x) in c.iter_mut().zip(&act) {
                if x <= 0.0 {
                    *v = 0.0;
                }
            }
        };
        let mut want = vec![0.0; m * n];
        gemm_nn(m, n, &[seg(0, k)], None, false, &mut want, n);
        mask(&mut want);
        let mut got = vec![f32::NAN; m * n];
        gemm_nn_masked(m, n, &[seg(0, k)], &act, &mut got, n);
        assert_eq!(got, want);
        assert!(
            got.iter().filter(|&&v| v == 0.0).count() > m * n / 4,
            "the mask cut"
        );
        assert!(got[3] != 0.0, "a NaN activation keeps the gradient");
        let mut pwant = vec![0.0; m * n];
        portable_nn(m, n, &[seg(0, k)], Start::Zero, End::Store, &mut pwant, n);
        mask(&mut pwant);
        let mut pgot = vec![f32::NAN; m * n];
        portable_nn(
            m,
            n,
            &[seg(0, k)],
            Start::Zero,
            End::Mask(&act),
            &mut pgot,
            n,
        );
        assert_eq!(pgot, pwant);
    }

    /// A weight gradient applied from the product (`gemm_nn_sgd`), whole or as the last piece
    /// after a stored partial sum, gives the bits of storing the gradient and calling `sgd`, on
    /// both paths; rows and columns that are not multiples of the tile are covered.
    #[test]
    fn sgd_from_the_product_has_the_bits_of_store_then_sgd() {
        let (m, n, k, lr) = (19, 45, 200, 0.07);
        let a = fill(m * k, 11);
        let b = fill(k * n, 12);
        let p0 = fill(m * n, 13);
        let seg = |p0: usize, len: usize| contraction_piece(&a, &b, (k, n), p0, len);
        let mut g = vec![0.0; m * n];
        gemm_nn(m, n, &[seg(0, k)], None, false, &mut g, n);
        let mut want = p0.clone();
        sgd(&mut want, &g, lr);
        // Whole, then as a last piece after a partial sum over the first 120 indices.
        let mut whole = p0.clone();
        gemm_nn_sgd(m, n, &[seg(0, k)], None, lr, &mut whole, n);
        assert_eq!(whole, want);
        let mut partial = vec![0.0; m * n];
        gemm_nn(m, n, &[seg(0, 120)], None, false, &mut partial, n);
        let mut pieces = p0.clone();
        gemm_nn_sgd(m, n, &[seg(120, 80)], Some(&partial), lr, &mut pieces, n);
        assert_eq!(pieces, want);
        assert!(pieces != p0, "the update changed the parameters");
        // The portable path, against its own product and `sgd`.
        let mut pg = vec![0.0; m * n];
        portable_nn(m, n, &[seg(0, k)], Start::Zero, End::Store, &mut pg, n);
        let mut pwant = p0.clone();
        sgd(&mut pwant, &pg, lr);
        let mut pp = p0.clone();
        portable_nn(
            m,
            n,
            &[seg(120, 80)],
            Start::Partial(&partial),
            End::Sgd(lr),
            &mut pp,
            n,
        );
        let mut pfull = p0.clone();
        portable_nn(m, n, &[seg(0, k)], Start::Zero, End::Sgd(lr), &mut pfull, n);
        assert_eq!(pfull, pwant);
        for (&x, &y) in pp.iter().zip(&pwant) {
            // The partial sum came from the AVX-512 path when present: equal up to rounding.
            assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn transpose_and_elementwise_kernels_match_plain_loops() {
        for &(r, c) in &[
            (1, 1),
            (13, 32),
            (32, 32),
            (15, 1),
            (32, 40),
            (17, 3),
            (40, 7),
        ] {
            let src = fill(r * c, 11);
            let mut dst = vec![f32::NAN; r * c];
            transpose(&src, r, c, &mut dst);
            for i in 0..r {
                for j in 0..c {
                    assert_eq!(dst[j * r + i], src[i * c + j], "{r}x{c} ({i}, {j})");
                }
            }
        }
        let g = fill(37, 12);
        let p0 = fill(37, 13);
        let mut p = p0.clone();
        sgd(&mut p, &g, 0.25);
        for k in 0..37 {
            assert_eq!(p[k], p0[k] - 0.25 * g[k]);
        }
        let mut s: Vec<f32> = fill(37, 14).iter().map(|x| x.abs()).collect();
        let s0 = s.clone();
        let mut p = p0.clone();
        adagrad(&mut p, &g, &mut s, 0.1, 1e-8);
        for k in 0..37 {
            let sk = s0[k] + g[k] * g[k];
            assert_eq!(s[k], sk);
            assert_eq!(p[k], p0[k] - 0.1 * g[k] / (sk.sqrt() + 1e-8));
        }
        let x = fill(5 * 40, 15);
        let mut acc = vec![1.0f32; 33];
        add_rows(&mut acc, &x[3..], 40);
        for j in 0..33 {
            let mut want = 1.0f32;
            for r in 0..5 {
                want += x[3 + r * 40 + j];
            }
            assert_eq!(acc[j], want);
        }
    }

    #[test]
    fn relu_keeps_nan() {
        let a = [f32::NAN, -1.0];
        let b = [1.0];
        let mut c = [0.0; 2];
        gemm_nn(
            2,
            1,
            &[Seg {
                a: &a,
                ars: 1,
                acs: 1,
                b: &b,
                bl: BLayout::Rows { ldb: 1 },
                len: 1,
            }],
            None,
            true,
            &mut c,
            1,
        );
        assert!(c[0].is_nan());
        assert_eq!(c[1], 0.0);
    }
}
