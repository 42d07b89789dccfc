//! The dense part of a DLRM as one object: its parameters and optimizer state, the per-chunk
//! workspaces, and the training step's frame: phase 1 (each row chunk's forward pass and
//! activation gradients, in parallel) and the hand-over to phase 2 (`grad`).
//!
//! Owns: the step's order of work and the buffers' lifetimes. Must never: allocate anything
//! batch-sized in a step once the workspaces exist, or let a chunk's numbers depend on another's.

use rayon::prelude::*;

use super::grad::{Bufs, GradBlock, Shared, apply_block, for_each_block, weight_grad, write_wt};
use super::interaction::{Interaction, interact, interact_backward};
use super::layer::{Layer, Workspace, bce, layer_backward_input, layer_forward, sigmoid};
use super::phase::Phase;
use super::{DenseOpt, ModelError, gemm};
use crate::config::Optimizer;
use crate::data::NUM_DENSE;
use crate::util::aligned::AlignedBuf;

/// A batch is cut into at most this many chunks (one workspace each): 64-row chunks up to a
/// batch of 1024, so a chunk's activations stay in L2 between its forward and backward passes.
pub const MAX_CHUNKS: usize = 16;
/// Target rows per chunk: big enough for efficient GEMMs, small enough to use every core at
/// DLRM's batch of 128.
pub const CHUNK_ROWS: usize = 64;

/// The dense part of a DLRM.
#[derive(Debug, Clone)]
pub struct Dlrm {
    pub(super) dim: usize,
    pub(super) interaction: Interaction,
    pub(super) bottom: Vec<Layer>,
    pub(super) top: Vec<Layer>,
    pub(super) params: AlignedBuf,
    pub(super) grad: AlignedBuf,
    /// Adagrad's accumulated squared gradients (empty for SGD).
    pub(super) adagrad: AlignedBuf,
    pub(super) ws: Vec<Workspace>,
    /// The weight-gradient blocks, in parameter order; they tile the parameter buffer.
    pub(super) blocks: Vec<GradBlock>,
    /// Every layer's weights transposed (`fan_out x fan_in`, at the layer's weight offset), for
    /// the input-gradient products; written by `update`, rebuilt when `params` changed otherwise.
    pub(super) wt: AlignedBuf,
    pub(super) wt_fresh: bool,
    /// Lower-triangle pairs `(i, j)`, `i > j`, of the dot interaction.
    pub(super) pairs: Vec<(u16, u16)>,
}

/// Rows per chunk for a batch of `rows`: depends on the batch size only, never on threads.
pub fn chunk_rows(rows: usize) -> usize {
    let chunks = rows.div_ceil(CHUNK_ROWS).clamp(1, MAX_CHUNKS);
    rows.div_ceil(chunks).max(1)
}

impl Dlrm {
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
        let ow = self.interaction.out_width(self.dim);
        Workspace::new(&self.bottom, &self.top, ow, rows, train)
    }

    /// Pointers to the buffers phase 2's blocks write (see `Bufs`); Adagrad's state only when
    /// it exists.
    fn bufs(&mut self) -> Bufs {
        Bufs {
            grad: Shared(self.grad.as_mut_ptr()),
            params: Shared(self.params.as_mut_ptr()),
            state: Shared(if self.adagrad.len() == self.params.len() {
                self.adagrad.as_mut_ptr()
            } else {
                std::ptr::null_mut()
            }),
            wt: Shared(self.wt.as_mut_ptr()),
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
        let bufs = self.bufs();
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
        let bufs = self.bufs();
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
        let bufs = self.bufs();
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
