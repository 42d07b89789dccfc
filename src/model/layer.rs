//! One MLP layer: its place in the parameter buffer, its forward product (bias and ReLU fused)
//! and its input gradient (the ReLU mask below it fused), the per-chunk workspace that keeps
//! every layer's output and output gradient between the passes, and the loss.
//!
//! Owns: the layout of a layer's parameters (weights panel-major, then biases) and of a chunk's
//! activations. Must never: sum anything itself (the products are `gemm`'s, in its fixed order).

use super::gemm::{BLayout, Seg, gemm_nn, gemm_nn_masked};
use crate::data::NUM_DENSE;
use crate::util::aligned::AlignedBuf;

#[derive(Debug, Clone, Copy)]
pub(super) struct Layer {
    pub(super) fan_in: usize,
    pub(super) fan_out: usize,
    /// Offset of the weights, `fan_in x fan_out` (the transpose of torch's layout), panel-major:
    /// weight `(k, j)` at `w + panel_index(fan_in, fan_out, k, j)`.
    pub(super) w: usize,
    /// Offset of the biases.
    pub(super) b: usize,
    pub(super) relu: bool,
}

/// Scratch space of one chunk of a batch, reused across steps.
#[derive(Debug, Default, Clone)]
pub(super) struct Workspace {
    /// Rows of this chunk in the current step.
    pub(super) rows: usize,
    /// Output of every bottom layer, `rows x fan_out`.
    pub(super) bottom: Vec<AlignedBuf>,
    /// Interaction output (top MLP input).
    pub(super) inter: AlignedBuf,
    /// Output of every top layer; the last is the logits.
    pub(super) top: Vec<AlignedBuf>,
    /// dLoss/d(output of each bottom layer), through its ReLU: kept for the weight gradients.
    pub(super) dbottom: Vec<AlignedBuf>,
    /// dLoss/d(interaction output).
    pub(super) dinter: AlignedBuf,
    /// dLoss/d(output of each top layer), through its ReLU.
    pub(super) dtop: Vec<AlignedBuf>,
    /// Sum of this chunk's per-sample losses.
    pub(super) loss: f64,
}

impl Workspace {
    /// Buffers for the forward pass of `rows` rows through layers `bottom` and `top` around an
    /// interaction of `ow` outputs, and for the backward pass when `train`.
    pub(super) fn new(
        bottom: &[Layer],
        top: &[Layer],
        ow: usize,
        rows: usize,
        train: bool,
    ) -> Self {
        let outs = |ls: &[Layer]| -> Vec<AlignedBuf> {
            ls.iter()
                .map(|l| AlignedBuf::zeros(rows * l.fan_out))
                .collect()
        };
        Workspace {
            rows: 0,
            bottom: outs(bottom),
            inter: AlignedBuf::zeros(rows * ow),
            top: outs(top),
            dbottom: if train { outs(bottom) } else { Vec::new() },
            dinter: if train {
                AlignedBuf::zeros(rows * ow)
            } else {
                AlignedBuf::default()
            },
            dtop: if train { outs(top) } else { Vec::new() },
            loss: 0.0,
        }
    }
}

/// Input and output gradient of layer `li` (bottom layers, then top) in chunk `c`.
pub(super) fn layer_io<'a>(
    nb: usize,
    li: usize,
    c: usize,
    cr: usize,
    dense: &'a [f32],
    used: &'a [Workspace],
) -> (&'a [f32], &'a [f32]) {
    let w = &used[c];
    if li < nb {
        let x = if li == 0 {
            &dense[c * cr * NUM_DENSE..(c * cr + w.rows) * NUM_DENSE]
        } else {
            &w.bottom[li - 1][..]
        };
        (x, &w.dbottom[li])
    } else {
        let t = li - nb;
        let x = if t == 0 {
            &w.inter[..]
        } else {
            &w.top[t - 1][..]
        };
        (x, &w.dtop[t])
    }
}

#[inline]
pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// BCE with logits for one sample, computed stably: max(z, 0) - z y + ln(1 + e^-|z|).
#[inline]
pub fn bce(z: f32, y: f32) -> f64 {
    let z = z as f64;
    z.max(0.0) - z * y as f64 + (-z.abs()).exp().ln_1p()
}

/// `out = relu?(input W + b)` for `rows` rows, bias and ReLU fused into the product.
#[inline(always)]
pub(super) fn layer_forward(p: &[f32], l: &Layer, input: &[f32], rows: usize, out: &mut [f32]) {
    let seg = Seg {
        a: input,
        ars: l.fan_in,
        acs: 1,
        b: &p[l.w..l.b],
        bl: BLayout::Panels,
        len: l.fan_in,
    };
    gemm_nn(
        rows,
        l.fan_out,
        &[seg],
        Some(&p[l.b..l.b + l.fan_out]),
        l.relu,
        out,
        l.fan_out,
    );
}

/// The input gradient `dY W^T` of one layer (`wt` holds `W^T`, `fan_out x fan_in` panel-major,
/// at the layer's weight offset), zeroed where `mask` (the input's ReLU output) was not positive,
/// in the product's epilogue.
#[inline(always)]
pub(super) fn layer_backward_input(
    wt: &[f32],
    l: &Layer,
    rows: usize,
    dy: &[f32],
    dx: &mut [f32],
    mask: Option<&[f32]>,
) {
    let seg = Seg {
        a: dy,
        ars: l.fan_out,
        acs: 1,
        b: &wt[l.w..l.b],
        bl: BLayout::Panels,
        len: l.fan_out,
    };
    match mask {
        Some(act) => gemm_nn_masked(rows, l.fan_in, &[seg], act, dx, l.fan_in),
        None => gemm_nn(rows, l.fan_in, &[seg], None, false, dx, l.fan_in),
    }
}
