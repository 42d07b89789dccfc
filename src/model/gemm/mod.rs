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
//!
//! Files: this one holds the public API, the operand layouts and the choice of path;
//! `portable.rs` the reference implementation of the product (and the portable dot products),
//! `avx512.rs` its AVX-512 intrinsics (and the interaction's and transpose's), `elementwise.rs`
//! the strips' kernels (SGD, Adagrad, column sums, ReLU mask, transpose), as FBGEMM keeps a
//! reference implementation beside each instruction set's file.

#[cfg(target_arch = "x86_64")]
mod avx512;
mod elementwise;
mod portable;

pub use elementwise::{adagrad, add_rows, relu_mask, sgd, transpose};
pub use portable::{dot16, tree16};

use crate::util::simd;
use portable::portable_nn;

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

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn fill(n: usize, seed: u32) -> Vec<f32> {
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
