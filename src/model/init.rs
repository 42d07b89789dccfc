//! Building a DLRM: the layers' shapes and places in the parameter buffer, the initial
//! parameters (as `dlrm_ref.py`: weights N(0, sqrt(2/(fan_in+fan_out))), biases
//! N(0, sqrt(1/fan_out))), and the cut of the parameters into phase 2's blocks.
//!
//! Owns: the order of the initial draws (row-major, layer by layer, weights then biases: the
//! same model as a row-major one for a seed). Must never: draw from anything but the seed.

use super::ModelError;
use super::dlrm::Dlrm;
use super::gemm::{PANEL, panel_index};
use super::grad::GradBlock;
use super::interaction::{Interaction, dot_pairs};
use super::layer::Layer;
use crate::config::{ModelConfig, Optimizer};
use crate::data::NUM_DENSE;
use crate::util::aligned::AlignedBuf;
use crate::util::rng::SplitMix64;

/// Target multiply-adds per sample of one weight-gradient block (whole panels): about twenty
/// blocks per step, so the threads' runs of blocks can be cut evenly (the largest block is a small
/// share of phase 2). A run's blocks of one layer then go through phase 2 together
/// (`for_each_block`), reading each slab of the layer's inputs once for all their panels.
const GRAD_BLOCK_MACS: usize = 32768;

fn layers(inputs: usize, widths: &[usize], relu_last: bool, offset: &mut usize) -> Vec<Layer> {
    let mut out = Vec::with_capacity(widths.len());
    let mut fan_in = inputs;
    for (i, &fan_out) in widths.iter().enumerate() {
        let w = *offset;
        let b = w + fan_in * fan_out;
        *offset = b + fan_out;
        out.push(Layer {
            fan_in,
            fan_out,
            w,
            b,
            relu: relu_last || i + 1 < widths.len(),
        });
        fan_in = fan_out;
    }
    out
}

impl Dlrm {
    /// A DLRM for `model` whose representation produces `shape` vectors of `model.dim` floats,
    /// initialised as DLRM does: weights N(0, sqrt(2/(fan_in+fan_out))), biases N(0, sqrt(1/fan_out)).
    pub fn new(
        model: &ModelConfig,
        interaction: Interaction,
        optimizer: Optimizer,
        seed: u64,
    ) -> Result<Dlrm, ModelError> {
        let dim = model.dim;
        if model.bottom_mlp.last() != Some(&dim) {
            return Err(ModelError::BottomDim {
                got: model.bottom_mlp.last().copied().unwrap_or(0),
                dim,
            });
        }
        if model.top_mlp.last() != Some(&1) {
            return Err(ModelError::TopLast(model.top_mlp.clone()));
        }
        let mut n = 0;
        // The bottom MLP ends in a ReLU, as in DLRM; the top MLP's last layer is the logit.
        let bottom = layers(NUM_DENSE, &model.bottom_mlp, true, &mut n);
        let top = layers(interaction.out_width(dim), &model.top_mlp, false, &mut n);
        let params = init_params(&bottom, &top, n, seed);
        let pairs = match interaction {
            Interaction::Dot { features } => dot_pairs(features),
            Interaction::Concat => Vec::new(),
        };
        let blocks = grad_blocks(&bottom, &top);
        Ok(Dlrm {
            dim,
            interaction,
            bottom,
            top,
            blocks,
            wt: AlignedBuf::zeros(n),
            wt_fresh: false,
            grad: AlignedBuf::zeros(n),
            adagrad: match optimizer {
                Optimizer::Sgd => AlignedBuf::default(),
                Optimizer::Adagrad => AlignedBuf::zeros(n),
            },
            params,
            ws: Vec::new(),
            pairs,
        })
    }
}

/// The `n` parameters of layers `bottom` then `top`, drawn from `seed`: each layer's weights in
/// row-major order (stored panel-major: the same model as a row-major one), then its biases.
fn init_params(bottom: &[Layer], top: &[Layer], n: usize, seed: u64) -> AlignedBuf {
    let mut params = AlignedBuf::zeros(n);
    let mut rng = SplitMix64::salted(seed);
    for l in bottom.iter().chain(top) {
        let ws = (2.0 / (l.fan_in + l.fan_out) as f64).sqrt();
        for k in 0..l.fan_in {
            for j in 0..l.fan_out {
                params[l.w + panel_index(l.fan_in, l.fan_out, k, j)] = rng.normal(ws);
            }
        }
        let bs = (1.0 / l.fan_out as f64).sqrt();
        for p in &mut params[l.b..l.b + l.fan_out] {
            *p = rng.normal(bs);
        }
    }
    params
}

/// Phase 2's blocks of layers `bottom` then `top`, in parameter order: each layer's weight panels
/// in runs of about `GRAD_BLOCK_MACS` multiply-adds per sample, of equal panel counts (the last
/// may be narrower).
fn grad_blocks(bottom: &[Layer], top: &[Layer]) -> Vec<GradBlock> {
    let mut blocks = Vec::new();
    for (li, l) in bottom.iter().chain(top).enumerate() {
        let panels = l.fan_out.div_ceil(PANEL);
        if panels == 0 {
            continue;
        }
        let per = (GRAD_BLOCK_MACS / (l.fan_in * PANEL).max(1)).clamp(1, panels);
        // Blocks of equal panel counts (the last may be narrower).
        let per = panels.div_ceil(panels.div_ceil(per));
        for j0 in (0..l.fan_out).step_by(per * PANEL) {
            blocks.push(GradBlock {
                layer: li,
                j0,
                w: (l.fan_out - j0).min(per * PANEL),
            });
        }
    }
    blocks
}
