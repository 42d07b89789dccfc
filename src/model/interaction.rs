//! How the representation's vectors meet the bottom MLP's output: DLRM's pairwise dots (the
//! AVX-512 `gemm::gram16` at 16 dimensions, portable dots otherwise) or bundled MEM-REC's
//! concatenation, forward and backward.
//!
//! Owns: the order of the pairs (torch's `tril_indices(offset=-1)`) and the interaction's
//! gradient. Must never: depend on anything but one sample's vectors for that sample's outputs.

use super::gemm::{self, GRAM_ROWS, dot16};
use crate::data::NUM_CAT;
use crate::embedding::OutputShape;

/// How the representation's vectors meet the bottom MLP output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interaction {
    /// DLRM: pairwise dots of the `features + 1` vectors (strictly lower triangle, row-major as
    /// `torch.tril_indices(offset=-1)`), concatenated after the bottom output.
    Dot { features: usize },
    /// Bundled MEM-REC: `[bottom output, z]`.
    Concat,
}

impl Interaction {
    pub fn from_shape(shape: OutputShape) -> Interaction {
        match shape {
            OutputShape::PerFeature => Interaction::Dot { features: NUM_CAT },
            OutputShape::Bundled => Interaction::Concat,
        }
    }
    /// Vectors per sample the representation provides.
    pub fn vectors(self) -> usize {
        match self {
            Interaction::Dot { features } => features,
            Interaction::Concat => 1,
        }
    }
    /// Width of the top MLP's input.
    pub fn out_width(self, dim: usize) -> usize {
        match self {
            Interaction::Dot { features } => dim + (features + 1) * features / 2,
            Interaction::Concat => 2 * dim,
        }
    }
}

/// Lower-triangle pairs `(i, j)`, `i > j`, of the dot interaction of `features + 1` vectors, in
/// the order of its outputs.
pub(super) fn dot_pairs(features: usize) -> Vec<(u16, u16)> {
    (1..=features)
        .flat_map(|i| (0..i).map(move |j| (i as u16, j as u16)))
        .collect()
}

#[inline(always)]
pub(super) fn interact(
    kind: Interaction,
    pairs: &[(u16, u16)],
    d: usize,
    x: &[f32],
    emb: &[f32],
    out: &mut [f32],
) {
    let ow = kind.out_width(d);
    let ew = kind.vectors() * d;
    for ((o, xr), er) in out
        .chunks_exact_mut(ow)
        .zip(x.chunks_exact(d))
        .zip(emb.chunks_exact(ew))
    {
        o[..d].copy_from_slice(xr);
        match kind {
            Interaction::Concat => o[d..].copy_from_slice(er),
            Interaction::Dot { features } => {
                if let Some(t) = gram_rows(d, features, xr, er)
                    && gemm::gram16(&t, features + 1, &mut o[d..])
                {
                    continue;
                }
                let vec = |i: u16| -> &[f32] {
                    if i == 0 {
                        xr
                    } else {
                        &er[(i as usize - 1) * d..i as usize * d]
                    }
                };
                for (z, &(i, j)) in o[d..].iter_mut().zip(pairs) {
                    *z = dot(vec(i), vec(j));
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn interact_backward(
    kind: Interaction,
    pairs: &[(u16, u16)],
    d: usize,
    x: &[f32],
    emb: &[f32],
    dout: &[f32],
    dx: &mut [f32],
    demb: &mut [f32],
) {
    let ow = kind.out_width(d);
    let ew = kind.vectors() * d;
    for ((((go, xr), er), gx), ge) in dout
        .chunks_exact(ow)
        .zip(x.chunks_exact(d))
        .zip(emb.chunks_exact(ew))
        .zip(dx.chunks_exact_mut(d))
        .zip(demb.chunks_exact_mut(ew))
    {
        gx.copy_from_slice(&go[..d]);
        match kind {
            Interaction::Concat => ge.copy_from_slice(&go[d..]),
            Interaction::Dot { features } => {
                if let Some(t) = gram_rows(d, features, xr, er) {
                    let mut dt = [0.0f32; GRAM_ROWS * 16];
                    if gemm::gram16_backward(&t, features + 1, &go[d..], &mut dt) {
                        for ((g, &o), &v) in gx.iter_mut().zip(&go[..d]).zip(&dt[..d]) {
                            *g = o + v;
                        }
                        ge.copy_from_slice(&dt[d..(features + 1) * d]);
                        continue;
                    }
                }
                ge.iter_mut().for_each(|v| *v = 0.0);
                for (&g, &(i, j)) in go[d..].iter().zip(pairs) {
                    if g == 0.0 {
                        continue;
                    }
                    let (i, j) = (i as usize, j as usize);
                    // d(T_i . T_j) = g T_j for T_i and g T_i for T_j; T_0 is the bottom output.
                    // i > j >= 0, so T_i is always an embedding.
                    let ti = &er[(i - 1) * d..i * d];
                    if j == 0 {
                        axpy(g, xr, &mut ge[(i - 1) * d..i * d]);
                        axpy(g, ti, gx);
                    } else {
                        let tj = &er[(j - 1) * d..j * d];
                        let (lo, hi) = ge.split_at_mut((i - 1) * d);
                        axpy(g, tj, &mut hi[..d]);
                        axpy(g, ti, &mut lo[(j - 1) * d..j * d]);
                    }
                }
            }
        }
    }
}

/// One sample's vectors for the dot interaction, `x` then the representation's, as rows of the
/// buffer `gemm::gram16` takes, when they fit it (16 dimensions, at most `GRAM_ROWS` vectors).
#[inline(always)]
fn gram_rows(d: usize, features: usize, x: &[f32], emb: &[f32]) -> Option<[f32; GRAM_ROWS * 16]> {
    if d != 16 || features >= GRAM_ROWS || !gemm::uses_avx512() {
        return None;
    }
    let mut t = [0.0f32; GRAM_ROWS * 16];
    t[..16].copy_from_slice(x);
    t[16..(features + 1) * 16].copy_from_slice(&emb[..features * 16]);
    Some(t)
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    dot16(a, b)
}

#[inline(always)]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::SplitMix64;

    /// The dot interaction at 16 dimensions (the fast path when the machine has AVX-512) against
    /// f64 sums: forward dots, the bottom output's gradient and every vector's gradient.
    #[test]
    #[allow(clippy::needless_range_loop)] // k, i index several arrays at once
    fn dot_interaction_at_16_dimensions_matches_f64() {
        let (rows, f, d) = (5, NUM_CAT, 16);
        let kind = Interaction::Dot { features: f };
        let pairs: Vec<(u16, u16)> = (1..=f)
            .flat_map(|i| (0..i).map(move |j| (i as u16, j as u16)))
            .collect();
        let mut r = SplitMix64::salted(3);
        let x: Vec<f32> = (0..rows * d).map(|_| r.normal(1.0)).collect();
        let emb: Vec<f32> = (0..rows * f * d).map(|_| r.normal(1.0)).collect();
        let ow = kind.out_width(d);
        let mut out = vec![f32::NAN; rows * ow];
        interact(kind, &pairs, d, &x, &emb, &mut out);
        let dout: Vec<f32> = (0..rows * ow).map(|_| r.normal(1.0)).collect();
        let mut dx = vec![f32::NAN; rows * d];
        let mut demb = vec![f32::NAN; rows * f * d];
        interact_backward(kind, &pairs, d, &x, &emb, &dout, &mut dx, &mut demb);
        for s in 0..rows {
            let v = |i: usize, k: usize| -> f64 {
                if i == 0 {
                    x[s * d + k] as f64
                } else {
                    emb[(s * f + i - 1) * d + k] as f64
                }
            };
            let close = |a: f32, b: f64| (a as f64 - b).abs() <= 1e-4 * (1.0 + b.abs());
            let mut grad = vec![vec![0.0f64; d]; f + 1];
            for k in 0..d {
                grad[0][k] = dout[s * ow + k] as f64;
            }
            for (p, &(i, j)) in pairs.iter().enumerate() {
                let (i, j) = (i as usize, j as usize);
                let want: f64 = (0..d).map(|k| v(i, k) * v(j, k)).sum();
                assert!(close(out[s * ow + d + p], want), "dot ({i}, {j})");
                let g = dout[s * ow + d + p] as f64;
                for k in 0..d {
                    grad[i][k] += g * v(j, k);
                    grad[j][k] += g * v(i, k);
                }
            }
            for k in 0..d {
                assert_eq!(out[s * ow + k], x[s * d + k]);
                assert!(close(dx[s * d + k], grad[0][k]), "dx {k}");
                for i in 1..=f {
                    assert!(
                        close(demb[(s * f + i - 1) * d + k], grad[i][k]),
                        "demb {i} {k}"
                    );
                }
            }
        }
    }
}
