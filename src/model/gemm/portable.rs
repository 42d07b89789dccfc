//! The reference path of the products: `portable_nn`, the same contract as the AVX-512 tiles
//! (each output element one accumulator, terms in ascending contraction order) in plain loops,
//! used when the CPU has no AVX-512 and by the tests as the reference; and the portable dot
//! products of the interaction.
//!
//! Owns: nothing but arithmetic. Must never: reorder a sum (its bits are the contract the other
//! paths are tested against).

use super::elementwise::{relu_mask, sgd_body};
use super::{End, NR, Seg, Start};

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

pub(super) fn portable_nn(
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
