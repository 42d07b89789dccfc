//! The AVX-512 path of the products (`gemm_nn`: packing, tiles, epilogues), the transpose and
//! the dot interaction (`gram16`, `gram16_backward`), in intrinsics. Picked at run time by
//! `mod.rs` when the CPU has AVX-512F; every function here requires it.
//!
//! Owns: the tiles' register blocking, the packing of row-major operands into the per-thread
//! block, and the prefetch of the next block. Must never: add a product in another order than
//! `portable.rs` (ascending contraction index, one accumulator per output element).

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

/// Where one contraction block of one column panel reads `B`: a piece per segment it touches,
/// and the operand memory that follows the block when the block is read in place (the next
/// block of the same panel, or the next panel; null otherwise), which its tiles prefetch.
struct Block {
    pieces: [Piece; MAX_SEGS],
    np: usize,
    next: (*const f32, usize),
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
            // The segment, and the index inside it, where the next block starts.
            let mut at = (0, 0);
            loop {
                let q1 = (q0 + KC).min(total);
                // SAFETY: the caller checked every segment's operand for the whole product; the
                // block holds KC rows of NR floats and this one has q1 - q0 <= KC.
                let block = unsafe { block_pieces(segs, n, j0, q1 - q0, &mut at, pk) };
                let init = if q0 > 0 || matches!(start, Start::Acc | Start::Partial(_)) {
                    Init::Load
                } else if bias.is_some() {
                    Init::Bias
                } else {
                    Init::Zero
                };
                let t = Tile {
                    segs,
                    pieces: &block.pieces[..block.np],
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
                // SAFETY: C (and the partial gradient) hold rows 0..m, columns j0..j0+w at rows
                // `ldc` apart (checked by the caller); `next` lies inside the operand.
                unsafe { block_tiles(m, &t, (cp, partial), (j0, w), ldc, block.next) };
                q0 = q1;
                if q0 >= total {
                    break;
                }
            }
            j0 += NR;
        }
    })
}

/// The pieces of the contraction block that starts at segment `at.0`, index `at.1`, and is
/// `len` long, for columns `j0..` (at most `NR`) of an `n`-column product; moves `at` past it.
/// Full panels of a panel-major operand are read in place; anything else is copied into the
/// packed block `pk`, zero-padded to `NR` columns.
///
/// # Safety
/// Only inlined into `gemm_nn` (AVX-512F). The segments' operands hold every row and column
/// the product reads; `pk` holds `KC x NR` floats and `len <= KC`.
#[inline(always)]
unsafe fn block_pieces(
    segs: &[Seg<'_>],
    n: usize,
    j0: usize,
    len: usize,
    at: &mut (usize, usize),
    pk: *mut f32,
) -> Block {
    let w = (n - j0).min(NR);
    let (m0, m1) = (mask(w), mask(w.saturating_sub(16)));
    let (si, sp) = at;
    let mut block = Block {
        pieces: [Piece::EMPTY; MAX_SEGS],
        np: 0,
        next: (std::ptr::null(), 0),
    };
    let mut off = 0;
    while off < len {
        let s = &segs[*si];
        let take = (s.len - *sp).min(len - off);
        if take > 0 {
            let (first, ld) = s.b_at(n, *sp, j0);
            // SAFETY: rows sp..sp+take, columns j0..j0+w (masked) of this segment's operand
            // were checked by the caller; the block holds KC rows of NR floats and
            // off + take <= KC.
            let bp = unsafe {
                let src0 = s.b.as_ptr().add(first);
                if ld == NR && w == NR {
                    let end = src0.add(take * NR);
                    let left = s.b.as_ptr().add(s.b.len()).offset_from(end);
                    block.next = (end, (left.max(0) as usize).min(KC * NR));
                    src0
                } else {
                    block.next = (std::ptr::null(), 0);
                    let mut src = src0;
                    let mut dst = pk.add(off * NR);
                    for _ in 0..take {
                        _mm512_storeu_ps(dst, _mm512_maskz_loadu_ps(m0, src));
                        _mm512_storeu_ps(dst.add(16), _mm512_maskz_loadu_ps(m1, src.add(16)));
                        src = src.add(ld);
                        dst = dst.add(NR);
                    }
                    pk.add(off * NR) as *const f32
                }
            };
            block.pieces[block.np] = Piece {
                seg: *si,
                p0: *sp,
                len: take,
                bp,
            };
            block.np += 1;
        }
        off += take;
        *sp += take;
        if *sp == segs[*si].len {
            *si += 1;
            *sp = 0;
        }
    }
    block
}

/// Every tile of one contraction block of columns `j0..j0 + w`, `MR` rows at a time, writing C
/// at `out.0` (and reading earlier sums at `out.1` when it is not null). The weights come from
/// L3 (a step's do not fit in L2): the tiles share out the prefetch of `next` into L2, so its
/// misses overlap with arithmetic instead of stalling the first tile of the next block.
///
/// # Safety
/// Only inlined into `gemm_nn` (AVX-512F). C (and the partial sums) hold rows `0..m`, columns
/// `j0..j0 + w`, rows `ldc` apart; the tile's pieces were checked by `gemm_nn`'s caller.
#[inline(always)]
unsafe fn block_tiles(
    m: usize,
    t: &Tile<'_, '_>,
    (cp, partial): (*mut f32, *const f32),
    (j0, w): (usize, usize),
    ldc: usize,
    next: (*const f32, usize),
) {
    let lines = next.1.div_ceil(16);
    let per_tile = lines.div_ceil(m.div_ceil(MR)).max(1);
    let mut i0 = 0;
    let mut pf_done = 0;
    while i0 < m {
        let mr = (m - i0).min(MR);
        let pf_lines = per_tile.min(lines - pf_done);
        // SAFETY: the tile reads rows i0..i0+mr of the segments (checked by the caller), the
        // packed block, and writes rows i0..i0+mr, columns j0..j0+w of C (masked); it
        // prefetches (never faults) inside the operand.
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
                nn_dispatch::<2>(mr, t, i0, io, ldc, pf)
            } else {
                nn_dispatch::<1>(mr, t, i0, io, ldc, pf)
            }
        }
        pf_done += pf_lines;
        i0 += mr;
    }
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
