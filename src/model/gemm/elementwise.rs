//! The strips' kernels around the products: SGD and Adagrad steps, column sums, the ReLU mask
//! of an input gradient, and the transpose of the updated weights. Plain loops that the compiler
//! vectorises, compiled for AVX-512 through `util::simd::dispatch!` when the CPU has it (the
//! transpose has intrinsics of its own in `avx512.rs`).
//!
//! Owns: each kernel's order of operations, elementwise (a wider path changes no bit). Must
//! never: reduce across elements in an order that depends on the vector width.

use crate::util::simd;

/// Transpose `src` (`rows x cols`, row-major) into `dst` (`cols x rows`, row-major). The model
/// rewrites its weights' transpose after every update, a few hundred thousand floats per step.
pub fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    assert!(src.len() >= rows * cols && dst.len() >= rows * cols);
    #[cfg(target_arch = "x86_64")]
    if rows <= super::NR && simd::avx512f() {
        // SAFETY: AVX-512F is present; the asserts above bound every index the gathers touch.
        unsafe { super::avx512::transpose(src, rows, cols, dst) };
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
pub(super) fn sgd_body(p: &mut [f32], g: &[f32], lr: f32) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gemm::tests::fill;

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
}
