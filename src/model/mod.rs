//! DLRM's dense part: the bottom MLP on the 13 dense features, the interaction with the
//! representation's vectors (DLRM's pairwise dots, or concatenation for bundled MEM-REC), the top
//! MLP and BCE-with-logits, with their exact backward and the dense optimizers (SGD, Adagrad).
//!
//! Owns: the MLP parameters (one flat f32 buffer; each layer's weights panel-major, see
//! `gemm::panel_index`), their initialisation (as `dlrm_ref.py`), the per-chunk workspaces and
//! the dense update. Must never: touch embedding tables (the trainer
//! passes the representation's output in and takes its gradient out), depend on the thread count
//! for any number, or allocate anything batch-sized in a training step once the workspaces exist.
//!
//! A training step has two parallel phases. (1) The batch is cut into row chunks (by its size
//! alone); each chunk runs the forward pass and the backward pass of the activation gradients,
//! keeping every layer's input and output gradient. (2) The weight gradients are whole-batch
//! products `X^T dY`, cut into blocks of whole weight panels (groups of 32 output columns, all
//! input rows, and their biases): each block owns a disjoint slice of the gradient and sums over all the
//! batch's rows in row order, so there is no per-chunk gradient buffer and no reduction, and no
//! sum depends on how the work is cut (see `gemm`). A training step applies the optimizer to each
//! block as soon as its gradient is done, while it is still in cache, and writes the block's part
//! of the transposed weights the next backward pass reads.

pub mod gemm;
mod phase;

use rayon::prelude::*;

use phase::Phase;

use gemm::{
    BLayout, GRAM_ROWS, MAX_SEGS, PANEL, Seg, dot16, gemm_nn, gemm_nn_acc, gemm_nn_masked,
    gemm_nn_sgd, panel_index,
};

use crate::config::{ModelConfig, Optimizer};
use crate::data::{NUM_CAT, NUM_DENSE};
use crate::embedding::OutputShape;
use crate::util::aligned::AlignedBuf;
use crate::util::rng::SplitMix64;

/// A batch is cut into at most this many chunks (one workspace each): 64-row chunks up to a
/// batch of 1024, so a chunk's activations stay in L2 between its forward and backward passes.
pub const MAX_CHUNKS: usize = 16;
/// Target rows per chunk: big enough for efficient GEMMs, small enough to use every core at
/// DLRM's batch of 128.
pub const CHUNK_ROWS: usize = 64;
/// Batch rows per pass of a weight-gradient block: the block's inputs for these rows (at most
/// 512 KiB) stay in L2 while every panel of the block uses them.
const SLAB_ROWS: usize = 256;
/// Target multiply-adds per sample of one weight-gradient block (whole panels): about twenty
/// blocks per step, so the threads' runs of blocks can be cut evenly (the largest block is a small
/// share of phase 2). A run's blocks of one layer then go through phase 2 together
/// (`for_each_block`), reading each slab of the layer's inputs once for all their panels.
const GRAD_BLOCK_MACS: usize = 32768;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error(
        "model.bottom_mlp ends in {got} but the representation produces {dim}-dimensional vectors: the last bottom layer must equal model.dim"
    )]
    BottomDim { got: usize, dim: usize },
    #[error("model.top_mlp must end in 1 (the logit), got {0:?}")]
    TopLast(Vec<usize>),
    #[error("{what} has {got} values, expected {want}")]
    Shape {
        what: &'static str,
        got: usize,
        want: usize,
    },
}

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

/// Dense optimizer settings for one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DenseOpt {
    pub kind: Optimizer,
    pub lr: f32,
    pub eps: f32,
}

#[derive(Debug, Clone, Copy)]
struct Layer {
    fan_in: usize,
    fan_out: usize,
    /// Offset of the weights, `fan_in x fan_out` (the transpose of torch's layout), panel-major:
    /// weight `(k, j)` at `w + panel_index(fan_in, fan_out, k, j)`.
    w: usize,
    /// Offset of the biases.
    b: usize,
    relu: bool,
}

/// Scratch space of one chunk of a batch, reused across steps.
#[derive(Debug, Default, Clone)]
struct Workspace {
    /// Rows of this chunk in the current step.
    rows: usize,
    /// Output of every bottom layer, `rows x fan_out`.
    bottom: Vec<AlignedBuf>,
    /// Interaction output (top MLP input).
    inter: AlignedBuf,
    /// Output of every top layer; the last is the logits.
    top: Vec<AlignedBuf>,
    /// dLoss/d(output of each bottom layer), through its ReLU: kept for the weight gradients.
    dbottom: Vec<AlignedBuf>,
    /// dLoss/d(interaction output).
    dinter: AlignedBuf,
    /// dLoss/d(output of each top layer), through its ReLU.
    dtop: Vec<AlignedBuf>,
    /// Sum of this chunk's per-sample losses.
    loss: f64,
}

/// One block of the weight-gradient phase: columns `j0..j0 + w` (whole panels) of layer
/// `layer`'s weights, a contiguous strip of `fan_in x w` floats at `w + j0 * fan_in` (panel after
/// panel), and the same columns of its biases.
#[derive(Debug, Clone, Copy)]
struct GradBlock {
    /// Index into bottom layers followed by top layers.
    layer: usize,
    j0: usize,
    w: usize,
}

impl GradBlock {
    fn layer<'a>(&self, bottom: &'a [Layer], top: &'a [Layer]) -> &'a Layer {
        match bottom.get(self.layer) {
            Some(l) => l,
            None => &top[self.layer - bottom.len()],
        }
    }
}

/// The dense part of a DLRM.
#[derive(Debug, Clone)]
pub struct Dlrm {
    dim: usize,
    interaction: Interaction,
    bottom: Vec<Layer>,
    top: Vec<Layer>,
    params: AlignedBuf,
    grad: AlignedBuf,
    /// Adagrad's accumulated squared gradients (empty for SGD).
    adagrad: AlignedBuf,
    ws: Vec<Workspace>,
    /// The weight-gradient blocks, in parameter order; they tile the parameter buffer.
    blocks: Vec<GradBlock>,
    /// Every layer's weights transposed (`fan_out x fan_in`, at the layer's weight offset), for
    /// the input-gradient products; written by `update`, rebuilt when `params` changed otherwise.
    wt: AlignedBuf,
    wt_fresh: bool,
    /// Lower-triangle pairs `(i, j)`, `i > j`, of the dot interaction.
    pairs: Vec<(u16, u16)>,
}

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

/// Rows per chunk for a batch of `rows`: depends on the batch size only, never on threads.
pub fn chunk_rows(rows: usize) -> usize {
    let chunks = rows.div_ceil(CHUNK_ROWS).clamp(1, MAX_CHUNKS);
    rows.div_ceil(chunks).max(1)
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
        let mut params = AlignedBuf::zeros(n);
        let mut rng = SplitMix64::salted(seed);
        for l in bottom.iter().chain(&top) {
            let ws = (2.0 / (l.fan_in + l.fan_out) as f64).sqrt();
            // Drawn in row-major order, stored panel-major: the same model as a row-major one.
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
        let pairs = match interaction {
            Interaction::Dot { features } => (1..=features)
                .flat_map(|i| (0..i).map(move |j| (i as u16, j as u16)))
                .collect(),
            Interaction::Concat => Vec::new(),
        };
        let mut blocks = Vec::new();
        for (li, l) in bottom.iter().chain(&top).enumerate() {
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

    pub fn dim(&self) -> usize {
        self.dim
    }
    pub fn interaction(&self) -> Interaction {
        self.interaction
    }
    /// Floats of representation output per sample.
    pub fn emb_width(&self) -> usize {
        self.interaction.vectors() * self.dim
    }
    pub fn num_params(&self) -> usize {
        self.params.len()
    }
    /// All parameters: per layer (bottom MLP, then top), its weights (`fan_in x fan_out`,
    /// panel-major, see `gemm::panel_index`), then its biases.
    pub fn params(&self) -> &[f32] {
        &self.params
    }
    pub fn params_mut(&mut self) -> &mut [f32] {
        self.wt_fresh = false;
        &mut self.params
    }
    /// Gradient of the last `forward_backward` (mean over the batch). A training step with SGD
    /// (`forward_backward_update`) applies the weights' gradient as it computes it and does not
    /// store it here.
    pub fn grad(&self) -> &[f32] {
        &self.grad
    }
    /// Bytes of MLP parameters and optimizer state.
    pub fn param_bytes(&self) -> u64 {
        4 * (self.params.len() + self.adagrad.len()) as u64
    }
    /// Multiply-adds of one sample's forward pass through both MLPs and the interaction.
    pub fn forward_macs(&self) -> u64 {
        let mlp: usize = self
            .bottom
            .iter()
            .chain(&self.top)
            .map(|l| l.fan_in * l.fan_out)
            .sum();
        (mlp + self.pairs.len() * self.dim) as u64
    }

    fn check(&self, dense: &[f32], emb: &[f32], rows: usize) -> Result<(), ModelError> {
        if dense.len() != rows * NUM_DENSE {
            return Err(ModelError::Shape {
                what: "dense features",
                got: dense.len(),
                want: rows * NUM_DENSE,
            });
        }
        if emb.len() != rows * self.emb_width() {
            return Err(ModelError::Shape {
                what: "representation output",
                got: emb.len(),
                want: rows * self.emb_width(),
            });
        }
        Ok(())
    }

    /// Buffers for the forward pass of `rows` rows, and for the backward pass when `train`.
    fn new_workspace(&self, rows: usize, train: bool) -> Workspace {
        let outs = |ls: &[Layer]| -> Vec<AlignedBuf> {
            ls.iter()
                .map(|l| AlignedBuf::zeros(rows * l.fan_out))
                .collect()
        };
        let ow = self.interaction.out_width(self.dim);
        Workspace {
            rows: 0,
            bottom: outs(&self.bottom),
            inter: AlignedBuf::zeros(rows * ow),
            top: outs(&self.top),
            dbottom: if train {
                outs(&self.bottom)
            } else {
                Vec::new()
            },
            dinter: if train {
                AlignedBuf::zeros(rows * ow)
            } else {
                AlignedBuf::default()
            },
            dtop: if train { outs(&self.top) } else { Vec::new() },
            loss: 0.0,
        }
    }

    /// Forward and backward of a batch: fills `grad()` with the gradient of the mean BCE-with-logits
    /// loss, writes the loss gradient of the representation output to `grad_emb`, returns the mean
    /// loss. `emb` is the representation output, `emb_width()` floats per row.
    pub fn forward_backward(
        &mut self,
        dense: &[f32],
        emb: &[f32],
        labels: &[f32],
        grad_emb: &mut [f32],
    ) -> Result<f64, ModelError> {
        self.step(dense, emb, labels, grad_emb, None, |_| {})
    }

    /// `forward_backward` then `update(opt)`, with the same parameters bit for bit, but each
    /// block of parameters updated right after its gradient is computed, while it is still in
    /// cache; with SGD, each weight straight from the product's registers (see `grad`).
    pub fn forward_backward_update(
        &mut self,
        dense: &[f32],
        emb: &[f32],
        labels: &[f32],
        grad_emb: &mut [f32],
        opt: DenseOpt,
    ) -> Result<f64, ModelError> {
        self.step(dense, emb, labels, grad_emb, Some(opt), |_| {})
    }

    /// `forward_backward_update`, and `side` called once on the finished representation
    /// gradient, during the weight updates: by the first thread done with its share of them, so
    /// the representation's own update (which touches none of the model's buffers) fills the
    /// time that thread would wait for the others. Not called when the inputs are refused.
    pub fn forward_backward_update_with(
        &mut self,
        dense: &[f32],
        emb: &[f32],
        labels: &[f32],
        grad_emb: &mut [f32],
        opt: DenseOpt,
        side: impl FnOnce(&[f32]) + Send,
    ) -> Result<f64, ModelError> {
        self.step(dense, emb, labels, grad_emb, Some(opt), side)
    }

    fn step(
        &mut self,
        dense: &[f32],
        emb: &[f32],
        labels: &[f32],
        grad_emb: &mut [f32],
        opt: Option<DenseOpt>,
        side: impl FnOnce(&[f32]) + Send,
    ) -> Result<f64, ModelError> {
        let rows = labels.len();
        self.check(dense, emb, rows)?;
        if grad_emb.len() != emb.len() {
            return Err(ModelError::Shape {
                what: "representation gradient",
                got: grad_emb.len(),
                want: emb.len(),
            });
        }
        if rows == 0 {
            self.grad.iter_mut().for_each(|g| *g = 0.0);
            if let Some(o) = opt {
                self.update(o);
            }
            side(grad_emb);
            return Ok(0.0);
        }
        let cr = chunk_rows(rows);
        let chunks = rows.div_ceil(cr);
        self.ensure_workspaces(rows);
        if !self.wt_fresh {
            self.transpose_weights();
            self.wt_fresh = true;
        }
        let ew = self.emb_width();
        let scale = 1.0 / rows as f32;
        let mut ws = std::mem::take(&mut self.ws);
        let me = &*self;
        // Phase 1: forward and activation gradients, row chunks in parallel; a chunk done first
        // waits for the others awake, so phase 2 starts on both threads at once (see `phase`).
        let phase = Phase::new(chunks);
        ws[..chunks]
            .par_iter_mut()
            .zip(grad_emb.par_chunks_mut(cr * ew))
            .enumerate()
            .for_each(|(c, (w, ge))| {
                let _task = phase.task();
                let r0 = c * cr;
                let r = (rows - r0).min(cr);
                w.rows = r;
                let d = &dense[r0 * NUM_DENSE..(r0 + r) * NUM_DENSE];
                let e = &emb[r0 * ew..(r0 + r) * ew];
                chunk_pass(me, d, e, &labels[r0..r0 + r], scale, w, ge);
            });
        // Phase 2: weight gradients over the whole batch, disjoint blocks of the gradient, each
        // block then updated if this is a training step.
        let used = &ws[..chunks];
        if let Some(o) = opt {
            self.ensure_state(o);
        }
        let bufs = Bufs::of(self);
        let nb = self.bottom.len();
        // SGD takes each weight gradient straight from the product's registers (see
        // `gemm_nn_sgd`); Adagrad's state update reads it back from `grad`.
        let sgd = opt.filter(|o| o.kind == Optimizer::Sgd).map(|o| o.lr);
        let grad_emb = &*grad_emb;
        // Taken by the first task done with its blocks (the lock is not held while it runs).
        let side = std::sync::Mutex::new(Some(side));
        let run_side = || {
            let job = side.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(job) = job {
                job(grad_emb);
            }
        };
        let blocks = |l: &Layer, b: &GradBlock| {
            // SAFETY: blocks own disjoint strips of the gradient, the parameters, the optimizer
            // state and the transpose (see `Bufs`).
            unsafe {
                let (gw, gb) = (bufs.grad.weights(l, b), bufs.grad.biases(l, b));
                let apply = sgd.map(|lr| (lr, bufs.params.weights(l, b)));
                weight_grad(l, b, nb, cr, dense, used, (gw, gb), apply);
                if let Some(o) = opt {
                    apply_block(l, b, o, &bufs, sgd.is_none());
                }
            }
        };
        for_each_block(&self.blocks, &self.bottom, &self.top, blocks, run_side);
        // No task ran (a model without blocks).
        run_side();
        let loss = used.iter().map(|w| w.loss).sum::<f64>() / rows as f64;
        self.ws = ws;
        Ok(loss)
    }

    /// Refresh `wt` from `params` (pure copies: no arithmetic), block by block.
    fn transpose_weights(&mut self) {
        let bufs = Bufs::of(self);
        let block = |l: &Layer, b: &GradBlock| {
            // SAFETY: blocks own disjoint strips of the parameters and of the transpose (see
            // `Bufs`); nothing writes the parameters here.
            unsafe { write_wt(l, b, bufs.params.weights(l, b), &bufs) };
        };
        for_each_block(&self.blocks, &self.bottom, &self.top, block, || {});
    }

    /// Workspaces for training steps on batches of `rows`, kept when they are big enough.
    fn ensure_workspaces(&mut self, rows: usize) {
        let cr = chunk_rows(rows);
        let chunks = rows.div_ceil(cr);
        if self.ws.len() < chunks
            || self
                .ws
                .first()
                .is_some_and(|w| w.inter.len() < cr * self.interaction.out_width(self.dim))
        {
            self.ws = (0..chunks.max(self.ws.len()))
                .map(|_| self.new_workspace(cr, true))
                .collect();
        }
    }

    /// Get ready for training steps on batches of `rows` (and `opt`'s state) before anyone
    /// times them: allocate the workspaces, build the transposed weights, and touch every page
    /// of the step's buffers, so the first steps do not pay the kernel's first-touch page faults
    /// (several megabytes at batch 1024). Changes no number.
    pub fn prepare(&mut self, rows: usize, opt: DenseOpt) {
        self.ensure_workspaces(rows);
        self.ensure_state(opt);
        if !self.wt_fresh {
            self.transpose_weights();
            self.wt_fresh = true;
        }
        let touch = touch_pages;
        touch(&mut self.grad);
        touch(&mut self.adagrad);
        for w in &mut self.ws {
            for v in w.bottom.iter_mut().chain(&mut w.top) {
                touch(v);
            }
            for v in w.dbottom.iter_mut().chain(&mut w.dtop) {
                touch(v);
            }
            touch(&mut w.inter);
            touch(&mut w.dinter);
        }
    }

    /// Adagrad's state, allocated on first use (a model built for SGD may be stepped with Adagrad).
    fn ensure_state(&mut self, opt: DenseOpt) {
        if opt.kind == Optimizer::Adagrad && self.adagrad.len() != self.params.len() {
            self.adagrad = AlignedBuf::zeros(self.params.len());
        }
    }

    /// Apply the dense optimizer with the gradient of the last `forward_backward`, and write the
    /// updated weights' transpose in the same pass (one read of the parameters instead of two).
    /// Each parameter's update is elementwise, so the blocking changes no bits.
    pub fn update(&mut self, opt: DenseOpt) {
        self.ensure_state(opt);
        let bufs = Bufs::of(self);
        let block = |l: &Layer, b: &GradBlock| {
            // SAFETY: blocks own disjoint strips of every buffer (see `Bufs`).
            unsafe { apply_block(l, b, opt, &bufs, true) };
        };
        for_each_block(&self.blocks, &self.bottom, &self.top, block, || {});
        self.wt_fresh = true;
    }

    /// Logits of `rows` samples (inference; no state changes). Parallel over fixed chunks.
    pub fn logits(&self, dense: &[f32], emb: &[f32], out: &mut [f32]) -> Result<(), ModelError> {
        let rows = out.len();
        self.check(dense, emb, rows)?;
        let cr = chunk_rows(rows.min(MAX_CHUNKS * CHUNK_ROWS));
        let ew = self.emb_width();
        out.par_chunks_mut(cr).enumerate().for_each_init(
            || self.new_workspace(cr, false),
            |w, (c, o)| {
                let r0 = c * cr;
                let r = o.len();
                self.forward_chunk(
                    &dense[r0 * NUM_DENSE..(r0 + r) * NUM_DENSE],
                    &emb[r0 * ew..(r0 + r) * ew],
                    r,
                    w,
                );
                o.copy_from_slice(&w.top[self.top.len() - 1][..r]);
            },
        );
        Ok(())
    }

    /// Mean loss of a batch without touching any state (finite-difference checks).
    pub fn loss(&self, dense: &[f32], emb: &[f32], labels: &[f32]) -> Result<f64, ModelError> {
        let mut z = vec![0.0; labels.len()];
        self.logits(dense, emb, &mut z)?;
        let s: f64 = z.iter().zip(labels).map(|(&z, &y)| bce(z, y)).sum();
        Ok(s / labels.len().max(1) as f64)
    }

    // Inlined into `chunk_pass`, so its elementwise loops get the AVX-512 build there.
    #[inline(always)]
    fn forward_chunk(&self, dense: &[f32], emb: &[f32], rows: usize, w: &mut Workspace) {
        let p = &self.params;
        let mut input: &[f32] = dense;
        for (l, out) in self.bottom.iter().zip(w.bottom.iter_mut()) {
            layer_forward(p, l, input, rows, out);
            input = &out[..rows * l.fan_out];
        }
        let x = &w.bottom[self.bottom.len() - 1][..rows * self.dim];
        let ow = self.interaction.out_width(self.dim);
        interact(
            self.interaction,
            &self.pairs,
            self.dim,
            x,
            emb,
            &mut w.inter[..rows * ow],
        );
        let mut input: &[f32] = &w.inter[..rows * ow];
        for (l, out) in self.top.iter().zip(w.top.iter_mut()) {
            layer_forward(p, l, input, rows, out);
            input = &out[..rows * l.fan_out];
        }
    }

    /// Activation gradients of one chunk: fills `dtop`, `dinter`, `dbottom` and `grad_emb`.
    #[inline(always)]
    fn backward_chunk(
        &self,
        emb: &[f32],
        labels: &[f32],
        scale: f32,
        rows: usize,
        w: &mut Workspace,
        grad_emb: &mut [f32],
    ) {
        let nt = self.top.len();
        // dLoss/dlogit of the mean BCE-with-logits: (sigmoid(z) - y) / batch.
        let mut loss = 0.0f64;
        {
            let z = &w.top[nt - 1][..rows];
            for ((dz, &z), &y) in w.dtop[nt - 1][..rows].iter_mut().zip(z).zip(labels) {
                loss += bce(z, y);
                *dz = (sigmoid(z) - y) * scale;
            }
        }
        w.loss = loss;
        let ow = self.interaction.out_width(self.dim);
        // Top MLP, last layer first: dX = dY W^T, through the ReLU of the layer below (the
        // interaction output has none).
        for li in (0..nt).rev() {
            let l = &self.top[li];
            let (below, this) = w.dtop.split_at_mut(li);
            let dy = &this[0][..rows * l.fan_out];
            let (dx, mask) = if li == 0 {
                (&mut w.dinter[..rows * ow], None)
            } else {
                let relu = self.top[li - 1].relu;
                (
                    &mut below[li - 1][..rows * l.fan_in],
                    relu.then_some(&w.top[li - 1][..rows * l.fan_in]),
                )
            };
            layer_backward_input(&self.wt, l, rows, dy, dx, mask);
        }
        let nb = self.bottom.len();
        let d = self.dim;
        interact_backward(
            self.interaction,
            &self.pairs,
            d,
            &w.bottom[nb - 1][..rows * d],
            emb,
            &w.dinter[..rows * ow],
            &mut w.dbottom[nb - 1][..rows * d],
            grad_emb,
        );
        if self.bottom[nb - 1].relu {
            gemm::relu_mask(
                &mut w.dbottom[nb - 1][..rows * d],
                &w.bottom[nb - 1][..rows * d],
            );
        }
        // The first bottom layer's input is the dense features: no gradient needed.
        for li in (1..nb).rev() {
            let l = &self.bottom[li];
            let (below, this) = w.dbottom.split_at_mut(li);
            let mask = self.bottom[li - 1]
                .relu
                .then_some(&w.bottom[li - 1][..rows * l.fan_in]);
            layer_backward_input(
                &self.wt,
                l,
                rows,
                &this[0][..rows * l.fan_out],
                &mut below[li - 1][..rows * l.fan_in],
                mask,
            );
        }
    }
}

/// Touch every 4 KiB page of `v` (keeping its values), so the kernel maps them now rather than
/// at their first use. One volatile write per page: a plain store of the value already there
/// could be optimised away on memory the allocator returned zeroed.
pub fn touch_pages(v: &mut [f32]) {
    for x in v.iter_mut().step_by(1024) {
        // SAFETY: `x` is a valid, exclusive reference.
        unsafe { std::ptr::write_volatile(x, *x) };
    }
}

/// Phase 1 for one chunk: forward pass, then the activation gradients. The elementwise work
/// around the products (interaction, ReLU masks, loss) is compiled for AVX-512 when the machine
/// has it: the same operations in the same order, so the same bits, just wider.
fn chunk_pass(
    me: &Dlrm,
    dense: &[f32],
    emb: &[f32],
    labels: &[f32],
    scale: f32,
    w: &mut Workspace,
    grad_emb: &mut [f32],
) {
    #[inline(always)]
    fn body(
        me: &Dlrm,
        dense: &[f32],
        emb: &[f32],
        labels: &[f32],
        scale: f32,
        w: &mut Workspace,
        grad_emb: &mut [f32],
    ) {
        let r = labels.len();
        me.forward_chunk(dense, emb, r, w);
        me.backward_chunk(emb, labels, scale, r, w, grad_emb);
    }
    crate::util::simd::dispatch!(fn(
        me: &Dlrm,
        dense: &[f32],
        emb: &[f32],
        labels: &[f32],
        scale: f32,
        w: &mut Workspace,
        grad_emb: &mut [f32],
    ) {
        ["avx512f"] => body(me, dense, emb, labels, scale, w, grad_emb),
        _ => body(me, dense, emb, labels, scale, w, grad_emb),
    })
}

/// A raw pointer into one of the model's parameter-sized buffers.
#[derive(Clone, Copy)]
struct Shared(*mut f32);

impl Shared {
    /// The weight strip of block `b` (`fan_in x w`, row-major at width `w`).
    ///
    /// # Safety
    /// The buffer is parameter-sized and no one else accesses this strip meanwhile.
    unsafe fn weights<'a>(self, l: &Layer, b: &GradBlock) -> &'a mut [f32] {
        // SAFETY: the strip lies inside the layer's weights (see `GradBlock`); exclusivity is the
        // caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(l.w + b.j0 * l.fan_in), l.fan_in * b.w) }
    }
    /// The biases of block `b`.
    ///
    /// # Safety
    /// As `weights`.
    unsafe fn biases<'a>(self, l: &Layer, b: &GradBlock) -> &'a mut [f32] {
        // SAFETY: as in `weights`.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(l.b + b.j0), b.w) }
    }
}

/// The buffers the blocks of a step write, shared by tasks that each touch only their own block:
/// the weight strip and biases of its panel in `grad`, `params` and `state` (blocks tile the
/// parameter buffer), and rows `j0..j0 + w` of every panel of the layer's transpose in `wt`.
/// `state` is null unless Adagrad's state exists.
#[derive(Clone, Copy)]
struct Bufs {
    grad: Shared,
    params: Shared,
    state: Shared,
    wt: Shared,
}
// SAFETY: the pointers are only dereferenced through block-disjoint strips (see above), while the
// model they come from is exclusively borrowed by the step.
unsafe impl Send for Bufs {}
unsafe impl Sync for Bufs {}

impl Bufs {
    fn of(m: &mut Dlrm) -> Bufs {
        Bufs {
            grad: Shared(m.grad.as_mut_ptr()),
            params: Shared(m.params.as_mut_ptr()),
            state: Shared(if m.adagrad.len() == m.params.len() {
                m.adagrad.as_mut_ptr()
            } else {
                std::ptr::null_mut()
            }),
            wt: Shared(m.wt.as_mut_ptr()),
        }
    }
}

/// Gradient of block `b` of layer `l` over the whole batch: `X^T dY` for its columns (summed over
/// the batch's rows in order) into `gw`, the column sums of `dY` into `gb`. Slab by slab of rows,
/// every panel of the block in turn, so the slab's inputs are read from L3 once per block. With
/// `sgd = (lr, pw)`, the last slab applies the weight gradient to the block's weights `pw`
/// instead of storing it (`gw` then only holds the earlier slabs' partial sums).
#[allow(clippy::too_many_arguments)]
fn weight_grad(
    l: &Layer,
    b: &GradBlock,
    nb: usize,
    cr: usize,
    dense: &[f32],
    used: &[Workspace],
    (gw, gb): (&mut [f32], &mut [f32]),
    mut sgd: Option<(f32, &mut [f32])>,
) {
    let io = |c: usize| layer_io(nb, b.layer, c, cr, dense, used);
    let rows: usize = used.iter().map(|w| w.rows).sum();
    let mut q0 = 0;
    while q0 < rows {
        let q1 = (q0 + SLAB_ROWS).min(rows);
        // (chunk, first row in it, rows) of the slab; chunk c holds rows c * cr.. of the batch.
        let mut parts = [(0, 0, 0); MAX_SEGS];
        let mut np = 0;
        let mut r = q0;
        while r < q1 {
            let c = r / cr;
            let r0 = r - c * cr;
            let len = (used[c].rows - r0).min(q1 - r);
            parts[np] = (c, r0, len);
            np += 1;
            r += len;
        }
        for jp in (b.j0..b.j0 + b.w).step_by(PANEL) {
            let wp = (b.j0 + b.w - jp).min(PANEL);
            let mut segs = [Seg::EMPTY; MAX_SEGS];
            for (s, &(c, r0, len)) in segs.iter_mut().zip(&parts[..np]) {
                let (x, dy) = io(c);
                *s = Seg {
                    a: &x[r0 * l.fan_in..],
                    ars: 1,
                    acs: l.fan_in,
                    b: &dy[r0 * l.fan_out + jp..],
                    bl: BLayout::Rows { ldb: l.fan_out },
                    len,
                };
            }
            let off = (jp - b.j0) * l.fan_in;
            let c = &mut gw[off..off + l.fan_in * wp];
            match &mut sgd {
                Some((lr, pw)) if q1 == rows => {
                    let p = &mut pw[off..off + l.fan_in * wp];
                    let partial = (q0 > 0).then_some(&*c);
                    gemm_nn_sgd(l.fan_in, wp, &segs[..np], partial, *lr, p, wp);
                }
                _ if q0 == 0 => gemm_nn(l.fan_in, wp, &segs[..np], None, false, c, wp),
                _ => gemm_nn_acc(l.fan_in, wp, &segs[..np], c, wp),
            }
        }
        q0 = q1;
    }
    // The bias gradient: column sums of dY in row order.
    gb.iter_mut().for_each(|v| *v = 0.0);
    for (c, w) in used.iter().enumerate() {
        let dy = io(c).1;
        gemm::add_rows(gb, &dy[b.j0..w.rows * l.fan_out], l.fan_out);
    }
}

/// Run `f` over every block (with its layer), one task per thread of the current pool, each task a
/// fixed run of blocks (`block_runs`), so every pass over the parameters (phase 2, `update`,
/// the transpose) gives a block to the same thread. Consecutive blocks of one layer in a run go
/// to `f` as one block (their columns are adjacent): at large batches each slab of a layer's
/// inputs is then read once per thread for all its panels of the layer, not once per block.
/// Every number is the same: a panel's gradient and update do not depend on the block around it.
/// Each task calls `after` once its blocks are done, then waits for the others awake (see
/// `phase`).
fn for_each_block(
    blocks: &[GradBlock],
    bottom: &[Layer],
    top: &[Layer],
    f: impl Fn(&Layer, &GradBlock) + Sync,
    after: impl Fn() + Sync,
) {
    let cuts = block_runs(blocks, bottom, top, rayon::current_num_threads());
    let phase = Phase::new(cuts.len() - 1);
    cuts.par_windows(2).for_each(|run| {
        let _task = phase.task();
        for group in blocks[run[0]..run[1]].chunk_by(|a, b| a.layer == b.layer) {
            let (first, last) = (&group[0], &group[group.len() - 1]);
            let merged = GradBlock {
                layer: first.layer,
                j0: first.j0,
                w: last.j0 + last.w - first.j0,
            };
            debug_assert_eq!(merged.w, group.iter().map(|b| b.w).sum::<usize>());
            f(merged.layer(bottom, top), &merged);
        }
        after();
    });
}

/// The split of the blocks between `threads` tasks: boundaries `0 = c0 < c1 < ... = len`,
/// task `i` taking blocks `c[i]..c[i + 1]`, cut where the running count of parameters (a block's
/// work, gradient and update alike, is proportional to it) crosses each `i / threads` of the
/// total. A fixed split beats work stealing here: the last blocks no longer leave one thread
/// idle, and a block is updated by the same thread step after step, so the lines it writes are
/// more often already in that core's cache. Which thread runs a task never changes a number:
/// each block's arithmetic is the same wherever it runs.
fn block_runs(blocks: &[GradBlock], bottom: &[Layer], top: &[Layer], threads: usize) -> Vec<usize> {
    let cost = |b: &GradBlock| b.layer(bottom, top).fan_in * b.w;
    let total: usize = blocks.iter().map(cost).sum();
    let threads = threads.max(1);
    let mut cuts = vec![0];
    let mut done = 0;
    for (i, b) in blocks.iter().enumerate() {
        done += cost(b);
        if cuts.len() < threads && done * threads >= total * cuts.len() {
            cuts.push(i + 1);
        }
    }
    if cuts.last() != Some(&blocks.len()) {
        cuts.push(blocks.len());
    }
    cuts
}

/// One optimizer step on a strip of parameters.
fn apply(opt: DenseOpt, p: &mut [f32], g: &[f32], s: Option<&mut [f32]>) {
    match s {
        Some(s) => gemm::adagrad(p, g, s, opt.lr, opt.eps),
        None => gemm::sgd(p, g, opt.lr),
    }
}

/// Update block `b` of layer `l` with its gradient in `bufs.grad` (its biases only, unless
/// `weights`: the weights were updated already), then write its transpose.
///
/// # Safety
/// No other task touches block `b`'s part of the buffers meanwhile (see `Bufs`).
unsafe fn apply_block(l: &Layer, b: &GradBlock, opt: DenseOpt, bufs: &Bufs, weights: bool) {
    let adagrad = opt.kind == Optimizer::Adagrad && !bufs.state.0.is_null();
    // SAFETY: the caller's promise; every strip lies inside its parameter-sized buffer.
    unsafe {
        let pw = bufs.params.weights(l, b);
        if weights {
            apply(
                opt,
                pw,
                bufs.grad.weights(l, b),
                adagrad.then(|| bufs.state.weights(l, b)),
            );
        }
        apply(
            opt,
            bufs.params.biases(l, b),
            bufs.grad.biases(l, b),
            adagrad.then(|| bufs.state.biases(l, b)),
        );
        write_wt(l, b, pw, bufs);
    }
}

/// Write rows `j0..j0 + w` of the layer's transpose (`fan_out x fan_in`, panel-major, at the
/// layer's weight offset in `wt`) from block `b`'s weight strip `pw`.
///
/// # Safety
/// No other task touches these rows of `wt` meanwhile.
unsafe fn write_wt(l: &Layer, b: &GradBlock, pw: &[f32], bufs: &Bufs) {
    for jp in (b.j0..b.j0 + b.w).step_by(PANEL) {
        let wp = (b.j0 + b.w - jp).min(PANEL);
        // This panel of W: `fan_in x wp`, row-major.
        let pp = &pw[(jp - b.j0) * l.fan_in..][..l.fan_in * wp];
        for k0 in (0..l.fan_in).step_by(PANEL) {
            let wk = (l.fan_in - k0).min(PANEL);
            // SAFETY: rows jp..jp+wp of this panel of the transpose, inside the layer's weights.
            let dst = unsafe {
                std::slice::from_raw_parts_mut(
                    bufs.wt.0.add(l.w + k0 * l.fan_out + jp * wk),
                    wp * wk,
                )
            };
            gemm::transpose(&pp[k0 * wp..(k0 + wk) * wp], wk, wp, dst);
        }
    }
}

/// Input and output gradient of layer `li` (bottom layers, then top) in chunk `c`.
fn layer_io<'a>(
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
fn layer_forward(p: &[f32], l: &Layer, input: &[f32], rows: usize, out: &mut [f32]) {
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
fn layer_backward_input(
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

#[inline(always)]
fn interact(
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
fn interact_backward(
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

    /// Phase 2's split: contiguous runs that cover every block once, at most one per thread, and
    /// each run's parameter count within one block of an equal share.
    #[test]
    fn block_runs_split_the_blocks_evenly() {
        let cfg = crate::config::Config::from_preset("kaggle").expect("kaggle preset");
        for inter in [Interaction::Dot { features: NUM_CAT }, Interaction::Concat] {
            let m = Dlrm::new(&cfg.model, inter, Optimizer::Sgd, 1).expect("model");
            let cost = |b: &GradBlock| b.layer(&m.bottom, &m.top).fan_in * b.w;
            let total: usize = m.blocks.iter().map(cost).sum();
            let largest = m.blocks.iter().map(cost).max().unwrap_or(0);
            for threads in [1, 2, 3, 4, 7, 64] {
                let cuts = block_runs(&m.blocks, &m.bottom, &m.top, threads);
                assert_eq!(cuts.first(), Some(&0));
                assert_eq!(cuts.last(), Some(&m.blocks.len()));
                assert!(cuts.windows(2).all(|w| w[0] < w[1]), "{cuts:?}");
                assert!(cuts.len() - 1 <= threads, "{threads} threads: {cuts:?}");
                if threads <= m.blocks.len() {
                    assert_eq!(cuts.len() - 1, threads, "{cuts:?}");
                }
                for w in cuts.windows(2) {
                    let run: usize = m.blocks[w[0]..w[1]].iter().map(cost).sum();
                    assert!(
                        run <= total / threads + largest,
                        "{threads} threads: a run of {run} of {total} ({cuts:?})"
                    );
                }
            }
        }
        let none = block_runs(&[], &[], &[], 2);
        assert_eq!(none, vec![0]);
    }

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
