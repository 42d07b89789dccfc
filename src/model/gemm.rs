//! The dense kernels of the DLRM: matrix products for the MLP layers' forward, input-gradient and
//! weight-gradient passes, with bias and ReLU fused in.
//!
//! Owns: an AVX-512 path (picked at run time) and a portable path with the same contracts. Must
//! never: split a sum differently depending on how the caller partitions rows or columns. Every
//! output element is one accumulator whose terms are added in ascending contraction order (the
//! input-gradient product adds 16 interleaved partial sums, then combines them in a fixed tree), so
//! callers may cut the work into any blocks, for any thread count, and get the same bits. There is
//! no blocking along the contraction: DLRM's layers are at most a few thousand long, and the
//! operand panels stay in L2.

/// Columns of one `gemm_nn` tile (two AVX-512 vectors).
const NR: usize = 32;
/// Rows of one `gemm_nn` tile: 8 x 2 accumulators cover the FMA latency of two ports.
const MR: usize = 8;
/// Rows x rows of one `gemm_nt` tile: 16 accumulators, 8 loads per 16 FMAs.
const TR: usize = 4;

/// One contiguous block of the contraction for `gemm_nn`: `a` holds element `(i, p)` at
/// `i * ars + p * acs`, `b` holds row `p` at `p * ldb` (contiguous along the output's columns),
/// for `p` in `0..len`. A product over several segments adds them in order, as one long sum.
#[derive(Debug, Clone, Copy)]
pub struct Seg<'a> {
    pub a: &'a [f32],
    pub ars: usize,
    pub acs: usize,
    pub b: &'a [f32],
    pub ldb: usize,
    pub len: usize,
}

impl Seg<'_> {
    /// A segment of no rows (fills fixed-size segment arrays).
    pub const EMPTY: Seg<'static> = Seg {
        a: &[],
        ars: 0,
        acs: 0,
        b: &[],
        ldb: 0,
        len: 0,
    };
}

/// Whether the AVX-512 path is used on this machine (read once; also reported by benchmarks).
pub fn uses_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn seg_fits(s: &Seg<'_>, m: usize, n: usize) -> bool {
    if s.len == 0 || m == 0 {
        return true;
    }
    let a_last = (m - 1) * s.ars + (s.len - 1) * s.acs;
    let b_last = (s.len - 1) * s.ldb + n - 1;
    a_last < s.a.len() && b_last < s.b.len()
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
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        segs.iter().all(|s| seg_fits(s, m, n)),
        "gemm_nn operand too short"
    );
    assert!((m - 1) * ldc + n <= c.len(), "gemm_nn output too short");
    assert!(bias.is_none_or(|b| b.len() >= n), "gemm_nn bias too short");
    #[cfg(target_arch = "x86_64")]
    if uses_avx512() {
        // SAFETY: AVX-512F is present (checked above) and every index the kernel touches was
        // bounds-checked by the asserts above.
        unsafe { avx512::gemm_nn(m, n, segs, bias, relu, c, ldc) };
        return;
    }
    portable_nn(m, n, segs, bias, relu, c, ldc);
}

/// `C[i, j] = sum_p A[i, p] B[j, p]` for `p < k` (both operands row-major along `p`), written at
/// `c[i * ldc + j]`; where `mask` is given, `C[i, j]` is set to 0 wherever
/// `mask.0[i * mask.1 + j] <= 0` (the ReLU of the layer below).
#[allow(clippy::too_many_arguments)]
pub fn gemm_nt(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    mask: Option<(&[f32], usize)>,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        k == 0 || ((m - 1) * lda + k <= a.len() && (n - 1) * ldb + k <= b.len()),
        "gemm_nt operand too short"
    );
    assert!((m - 1) * ldc + n <= c.len(), "gemm_nt output too short");
    assert!(
        mask.is_none_or(|(v, ld)| (m - 1) * ld + n <= v.len()),
        "gemm_nt mask too short"
    );
    #[cfg(target_arch = "x86_64")]
    if uses_avx512() {
        // SAFETY: as in `gemm_nn`.
        unsafe { avx512::gemm_nt(m, n, k, a, lda, b, ldb, c, ldc) };
    } else {
        portable_nt(m, n, k, a, lda, b, ldb, c, ldc);
    }
    #[cfg(not(target_arch = "x86_64"))]
    portable_nt(m, n, k, a, lda, b, ldb, c, ldc);
    if let Some((act, ld)) = mask {
        for i in 0..m {
            let row = &mut c[i * ldc..i * ldc + n];
            for (g, &a) in row.iter_mut().zip(&act[i * ld..i * ld + n]) {
                if a <= 0.0 {
                    *g = 0.0;
                }
            }
        }
    }
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
#[inline]
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

fn portable_nn(
    m: usize,
    n: usize,
    segs: &[Seg<'_>],
    bias: Option<&[f32]>,
    relu: bool,
    c: &mut [f32],
    ldc: usize,
) {
    for i in 0..m {
        let row = &mut c[i * ldc..i * ldc + n];
        match bias {
            Some(b) => row.copy_from_slice(&b[..n]),
            None => row.iter_mut().for_each(|v| *v = 0.0),
        }
        for s in segs {
            for p in 0..s.len {
                let x = s.a[i * s.ars + p * s.acs];
                for (y, w) in row.iter_mut().zip(&s.b[p * s.ldb..p * s.ldb + n]) {
                    *y += x * w;
                }
            }
        }
        if relu {
            for v in row.iter_mut() {
                if *v < 0.0 {
                    *v = 0.0;
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn portable_nt(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
) {
    for i in 0..m {
        let ar = &a[i * lda..i * lda + k];
        for j in 0..n {
            c[i * ldc + j] = dot16(ar, &b[j * ldb..j * ldb + k]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{MR, NR, Seg, TR, tree16};
    use std::arch::x86_64::*;

    #[inline(always)]
    fn mask(rem: usize) -> __mmask16 {
        if rem >= 16 {
            0xffff
        } else {
            ((1u32 << rem) - 1) as __mmask16
        }
    }

    /// # Safety
    /// AVX-512F must be available; the slices must hold every index the shapes imply.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn gemm_nn(
        m: usize,
        n: usize,
        segs: &[Seg<'_>],
        bias: Option<&[f32]>,
        relu: bool,
        c: &mut [f32],
        ldc: usize,
    ) {
        let cp = c.as_mut_ptr();
        let bp = bias.map_or(std::ptr::null(), |b| b.as_ptr());
        let mut j0 = 0;
        while j0 < n {
            let rem = n - j0;
            let (m0, m1) = (mask(rem), mask(rem.saturating_sub(16)));
            let mut i0 = 0;
            while i0 < m {
                let mr = (m - i0).min(MR);
                // SAFETY: the tile reads rows i0..i0+mr and columns j0..j0+rem (masked), which
                // the caller checked.
                unsafe {
                    let t = Tile {
                        segs,
                        i0,
                        j0,
                        bias: if bp.is_null() { bp } else { bp.add(j0) },
                        relu,
                        c: cp.add(i0 * ldc + j0),
                        ldc,
                        m0,
                        m1,
                    };
                    if rem > 16 {
                        nn_dispatch::<2>(mr, &t)
                    } else {
                        nn_dispatch::<1>(mr, &t)
                    }
                }
                i0 += mr;
            }
            j0 += NR;
        }
    }

    struct Tile<'s, 'a> {
        segs: &'s [Seg<'a>],
        i0: usize,
        j0: usize,
        bias: *const f32,
        relu: bool,
        c: *mut f32,
        ldc: usize,
        m0: __mmask16,
        m1: __mmask16,
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn nn_dispatch<const NV: usize>(mr: usize, t: &Tile<'_, '_>) {
        // SAFETY: forwarded from `gemm_nn`.
        unsafe {
            match mr {
                8 => nn_tile::<8, NV>(t),
                7 => nn_tile::<7, NV>(t),
                6 => nn_tile::<6, NV>(t),
                5 => nn_tile::<5, NV>(t),
                4 => nn_tile::<4, NV>(t),
                3 => nn_tile::<3, NV>(t),
                2 => nn_tile::<2, NV>(t),
                _ => nn_tile::<1, NV>(t),
            }
        }
    }

    /// `R` rows by `NV` vectors of 16 columns. Each accumulator lane is one output element: bias
    /// (or 0), then one FMA per contraction index in order.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn nn_tile<const R: usize, const NV: usize>(t: &Tile<'_, '_>) {
        // SAFETY: every pointer below stays within the ranges `gemm_nn` checked; masked lanes
        // are not accessed.
        unsafe {
            let mut acc0 = [_mm512_setzero_ps(); R];
            let mut acc1 = [_mm512_setzero_ps(); R];
            if !t.bias.is_null() {
                let b0 = _mm512_maskz_loadu_ps(t.m0, t.bias);
                acc0 = [b0; R];
                if NV == 2 {
                    acc1 = [_mm512_maskz_loadu_ps(t.m1, t.bias.add(16)); R];
                }
            }
            for s in t.segs {
                let ap = s.a.as_ptr().add(t.i0 * s.ars);
                let mut bp = s.b.as_ptr().add(t.j0);
                for p in 0..s.len {
                    let w0 = _mm512_maskz_loadu_ps(t.m0, bp);
                    let w1 = if NV == 2 {
                        _mm512_maskz_loadu_ps(t.m1, bp.add(16))
                    } else {
                        w0
                    };
                    let ar = ap.add(p * s.acs);
                    for r in 0..R {
                        let x = _mm512_set1_ps(*ar.add(r * s.ars));
                        acc0[r] = _mm512_fmadd_ps(x, w0, acc0[r]);
                        if NV == 2 {
                            acc1[r] = _mm512_fmadd_ps(x, w1, acc1[r]);
                        }
                    }
                    bp = bp.add(s.ldb);
                }
            }
            let zero = _mm512_setzero_ps();
            for r in 0..R {
                let (mut v0, mut v1) = (acc0[r], acc1[r]);
                if t.relu {
                    // max(0, v) returns v when v is NaN (the second operand), keeping NaN.
                    v0 = _mm512_max_ps(zero, v0);
                    v1 = _mm512_max_ps(zero, v1);
                }
                let cr = t.c.add(r * t.ldc);
                _mm512_mask_storeu_ps(cr, t.m0, v0);
                if NV == 2 {
                    _mm512_mask_storeu_ps(cr.add(16), t.m1, v1);
                }
            }
        }
    }

    /// # Safety
    /// As `gemm_nn`.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn gemm_nt(
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        b: &[f32],
        ldb: usize,
        c: &mut [f32],
        ldc: usize,
    ) {
        let t = NtArgs {
            k,
            a: a.as_ptr(),
            lda,
            b: b.as_ptr(),
            ldb,
            c: c.as_mut_ptr(),
            ldc,
        };
        let mut i0 = 0;
        while i0 < m {
            let mr = (m - i0).min(TR);
            let mut j0 = 0;
            while j0 < n {
                let nr = (n - j0).min(TR);
                // SAFETY: rows i0..i0+mr of A and C, rows j0..j0+nr of B, checked by the caller.
                unsafe {
                    match (mr, nr) {
                        (4, 4) => nt_tile::<4, 4>(&t, i0, j0),
                        (4, 3) => nt_tile::<4, 3>(&t, i0, j0),
                        (4, 2) => nt_tile::<4, 2>(&t, i0, j0),
                        (4, _) => nt_tile::<4, 1>(&t, i0, j0),
                        (3, 4) => nt_tile::<3, 4>(&t, i0, j0),
                        (3, 3) => nt_tile::<3, 3>(&t, i0, j0),
                        (3, 2) => nt_tile::<3, 2>(&t, i0, j0),
                        (3, _) => nt_tile::<3, 1>(&t, i0, j0),
                        (2, 4) => nt_tile::<2, 4>(&t, i0, j0),
                        (2, 3) => nt_tile::<2, 3>(&t, i0, j0),
                        (2, 2) => nt_tile::<2, 2>(&t, i0, j0),
                        (2, _) => nt_tile::<2, 1>(&t, i0, j0),
                        (_, 4) => nt_tile::<1, 4>(&t, i0, j0),
                        (_, 3) => nt_tile::<1, 3>(&t, i0, j0),
                        (_, 2) => nt_tile::<1, 2>(&t, i0, j0),
                        _ => nt_tile::<1, 1>(&t, i0, j0),
                    }
                }
                j0 += nr;
            }
            i0 += mr;
        }
    }

    struct NtArgs {
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
    }

    /// `R x S` dot products, each in 16 lanes (lane `l` takes the indices `p = l mod 16`, in
    /// order, one FMA each), combined by `tree16` as the portable `dot16` combines its lanes.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn nt_tile<const R: usize, const S: usize>(t: &NtArgs, i0: usize, j0: usize) {
        // SAFETY: see `gemm_nt`; the tail is loaded with a mask.
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); S]; R];
            let mut p = 0;
            while p < t.k {
                let mk = mask(t.k - p);
                let mut bv = [_mm512_setzero_ps(); S];
                for (s, v) in bv.iter_mut().enumerate() {
                    *v = _mm512_maskz_loadu_ps(mk, t.b.add((j0 + s) * t.ldb + p));
                }
                for (r, row) in acc.iter_mut().enumerate() {
                    let av = _mm512_maskz_loadu_ps(mk, t.a.add((i0 + r) * t.lda + p));
                    for s in 0..S {
                        row[s] = _mm512_fmadd_ps(av, bv[s], row[s]);
                    }
                }
                p += 16;
            }
            let mut lanes = [0.0f32; 16];
            for (r, row) in acc.iter().enumerate() {
                for (s, v) in row.iter().enumerate() {
                    _mm512_storeu_ps(lanes.as_mut_ptr(), *v);
                    *t.c.add((i0 + r) * t.ldc + j0 + s) = tree16(&lanes);
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
        for &(m, n, k) in &[(1, 1, 1), (9, 17, 5), (13, 33, 40), (8, 32, 16), (3, 48, 7)] {
            let a = fill(m * k, 1);
            let b = fill(k * n, 2);
            let bias = fill(n, 3);
            let want = reference_nn(m, n, k, &a, &b, &bias);
            // Two segments over the contraction must equal one.
            let half = k / 2;
            let segs = [
                Seg { a: &a, ars: k, acs: 1, b: &b, ldb: n, len: half },
                Seg {
                    a: &a[half..],
                    ars: k,
                    acs: 1,
                    b: &b[half * n..],
                    ldb: n,
                    len: k - half,
                },
            ];
            let mut c = vec![f32::NAN; m * n];
            gemm_nn(m, n, &segs, Some(&bias), true, &mut c, n);
            let mut whole = vec![0.0; m * n];
            gemm_nn(m, n, &segs[..1].iter().map(|s| Seg { len: k, ..*s }).collect::<Vec<_>>(), Some(&bias), true, &mut whole, n);
            assert_eq!(c, whole, "{m}x{n}x{k}: segments change the bits");
            let mut p = vec![0.0; m * n];
            portable_nn(m, n, &segs, Some(&bias), true, &mut p, n);
            for ((&x, &y), &w) in c.iter().zip(&p).zip(&want) {
                assert!((x as f64 - w).abs() < 1e-4, "{m}x{n}x{k}: {x} vs {w}");
                assert!((y as f64 - w).abs() < 1e-4, "{m}x{n}x{k}: portable {y} vs {w}");
            }
        }
    }

    #[test]
    fn nn_bits_do_not_depend_on_how_rows_and_columns_are_cut() {
        let (m, n, k) = (21, 70, 33);
        let a = fill(m * k, 4);
        let b = fill(k * n, 5);
        let seg = |r0: usize| Seg { a: &a[r0 * k..], ars: k, acs: 1, b: &b, ldb: n, len: k };
        let mut whole = vec![0.0; m * n];
        gemm_nn(m, n, &[seg(0)], None, false, &mut whole, n);
        let mut parts = vec![0.0; m * n];
        for (r0, r1) in [(0, 5), (5, 6), (6, 21)] {
            for (c0, c1) in [(0, 16), (16, 19), (19, 70)] {
                let s = Seg { b: &b[c0..], ..seg(r0) };
                gemm_nn(r1 - r0, c1 - c0, &[s], None, false, &mut parts[r0 * n + c0..], n);
            }
        }
        assert_eq!(whole, parts);
    }

    #[test]
    fn nt_matches_dot16_and_masks() {
        for &(m, n, k) in &[(1, 1, 1), (5, 7, 17), (9, 4, 64), (4, 9, 3), (6, 6, 40)] {
            let a = fill(m * k, 6);
            let b = fill(n * k, 7);
            let act = fill(m * n, 8);
            let mut c = vec![f32::NAN; m * n];
            gemm_nt(m, n, k, &a, k, &b, k, &mut c, n, Some((&act, n)));
            for i in 0..m {
                for j in 0..n {
                    let d = dot16(&a[i * k..(i + 1) * k], &b[j * k..(j + 1) * k]);
                    let exact: f64 = (0..k).map(|p| a[i * k + p] as f64 * b[j * k + p] as f64).sum();
                    assert!((d as f64 - exact).abs() < 1e-4);
                    let got = c[i * n + j];
                    if act[i * n + j] <= 0.0 {
                        assert_eq!(got.to_bits(), 0f32.to_bits(), "{m}x{n}x{k} at {i},{j}");
                    } else {
                        assert!((got as f64 - exact).abs() < 1e-4, "{m}x{n}x{k} at {i},{j}");
                    }
                }
            }
        }
    }

    #[test]
    fn relu_keeps_nan() {
        let a = [f32::NAN, -1.0];
        let b = [1.0];
        let mut c = [0.0; 2];
        gemm_nn(2, 1, &[Seg { a: &a, ars: 1, acs: 1, b: &b, ldb: 1, len: 1 }], None, true, &mut c, 1);
        assert!(c[0].is_nan());
        assert_eq!(c[1], 0.0);
    }
}
