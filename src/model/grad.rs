//! Phase 2 of a training step: the weight gradients as whole-batch products `X^T dY`, block by
//! block (whole weight panels of one layer, and their biases), each block's optimizer step as
//! soon as its gradient is done, and its part of the transposed weights the next backward pass
//! reads.
//!
//! Owns: the blocks' split between threads and the order of every gradient sum (the batch's
//! rows in order). Must never: let a block touch another block's part of a buffer, or let the
//! thread count change which numbers a block adds.

use rayon::prelude::*;

use super::DenseOpt;
use super::gemm::{self, BLayout, MAX_SEGS, PANEL, Seg, gemm_nn, gemm_nn_acc, gemm_nn_sgd};
use super::layer::{Layer, Workspace, layer_io};
use super::phase::Phase;
use crate::config::Optimizer;

/// Batch rows per pass of a weight-gradient block: the block's inputs for these rows (at most
/// 512 KiB) stay in L2 while every panel of the block uses them.
const SLAB_ROWS: usize = 256;
/// One block of the weight-gradient phase: columns `j0..j0 + w` (whole panels) of layer
/// `layer`'s weights, a contiguous strip of `fan_in x w` floats at `w + j0 * fan_in` (panel after
/// panel), and the same columns of its biases.
#[derive(Debug, Clone, Copy)]
pub(super) struct GradBlock {
    /// Index into bottom layers followed by top layers.
    pub(super) layer: usize,
    pub(super) j0: usize,
    pub(super) w: usize,
}

impl GradBlock {
    pub(super) fn layer<'a>(&self, bottom: &'a [Layer], top: &'a [Layer]) -> &'a Layer {
        match bottom.get(self.layer) {
            Some(l) => l,
            None => &top[self.layer - bottom.len()],
        }
    }
}

/// A raw pointer into one of the model's parameter-sized buffers.
#[derive(Clone, Copy)]
pub(super) struct Shared(pub(super) *mut f32);

impl Shared {
    /// The weight strip of block `b` (`fan_in x w`, row-major at width `w`).
    ///
    /// # Safety
    /// The buffer is parameter-sized and no one else accesses this strip meanwhile.
    pub(super) unsafe fn weights<'a>(self, l: &Layer, b: &GradBlock) -> &'a mut [f32] {
        // SAFETY: the strip lies inside the layer's weights (see `GradBlock`); exclusivity is the
        // caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(l.w + b.j0 * l.fan_in), l.fan_in * b.w) }
    }
    /// The biases of block `b`.
    ///
    /// # Safety
    /// As `weights`.
    pub(super) unsafe fn biases<'a>(self, l: &Layer, b: &GradBlock) -> &'a mut [f32] {
        // SAFETY: as in `weights`.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(l.b + b.j0), b.w) }
    }
}

/// The buffers the blocks of a step write, shared by tasks that each touch only their own block:
/// the weight strip and biases of its panel in `grad`, `params` and `state` (blocks tile the
/// parameter buffer), and rows `j0..j0 + w` of every panel of the layer's transpose in `wt`.
/// `state` is null unless Adagrad's state exists.
#[derive(Clone, Copy)]
pub(super) struct Bufs {
    pub(super) grad: Shared,
    pub(super) params: Shared,
    pub(super) state: Shared,
    pub(super) wt: Shared,
}
// SAFETY: the pointers are only dereferenced through block-disjoint strips (see above), while the
// model they come from is exclusively borrowed by the step.
unsafe impl Send for Bufs {}
unsafe impl Sync for Bufs {}

/// Gradient of block `b` of layer `l` over the whole batch: `X^T dY` for its columns (summed over
/// the batch's rows in order) into `gw`, the column sums of `dY` into `gb`. Slab by slab of rows,
/// every panel of the block in turn, so the slab's inputs are read from L3 once per block. With
/// `sgd = (lr, pw)`, the last slab applies the weight gradient to the block's weights `pw`
/// instead of storing it (`gw` then only holds the earlier slabs' partial sums).
#[allow(clippy::too_many_arguments)]
pub(super) fn weight_grad(
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
pub(super) fn for_each_block(
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
pub(super) fn block_runs(
    blocks: &[GradBlock],
    bottom: &[Layer],
    top: &[Layer],
    threads: usize,
) -> Vec<usize> {
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
pub(super) fn apply(opt: DenseOpt, p: &mut [f32], g: &[f32], s: Option<&mut [f32]>) {
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
pub(super) unsafe fn apply_block(
    l: &Layer,
    b: &GradBlock,
    opt: DenseOpt,
    bufs: &Bufs,
    weights: bool,
) {
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
pub(super) unsafe fn write_wt(l: &Layer, b: &GradBlock, pw: &[f32], bufs: &Bufs) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::NUM_CAT;
    use crate::model::{Dlrm, Interaction};

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
}
