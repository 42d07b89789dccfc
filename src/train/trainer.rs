//! One model in training: a representation and the DLRM dense part, stepped on batches.
//!
//! Owns: the glue between `embedding::Representation` (forward, sparse backward and update) and
//! `model::Dlrm` (MLPs, interaction, loss, dense update), and batched inference on test rows.
//! Must never: schedule runs, talk to front ends, or depend on the thread count for a number.

use crate::config::{Config, Optimizer};
use crate::data::{Batch, NUM_CAT, NUM_DENSE};
use crate::embedding::{Representation, SparseOptimizer};
use crate::model::{DenseOpt, Dlrm, Interaction, ModelError, sigmoid, touch_pages};
use crate::util::aligned::AlignedBuf;

/// Test rows are scored this many at a time, bounding the representation output buffer.
const EVAL_BLOCK: usize = 4096;

pub struct Trainer {
    pub model: Dlrm,
    pub rep: Box<dyn Representation>,
    dense_opt: DenseOpt,
    sparse_opt: SparseOptimizer,
    /// The representation's output and its gradient, 64-byte aligned like the model's buffers.
    emb: AlignedBuf,
    grad_emb: AlignedBuf,
}

impl Trainer {
    /// A DLRM over `rep` with the `model` and `train` sections of `cfg`, initialised from `cfg.seed`.
    pub fn new(cfg: &Config, rep: Box<dyn Representation>) -> Result<Trainer, ModelError> {
        if rep.dim() != cfg.model.dim {
            return Err(ModelError::BottomDim {
                got: cfg.model.dim,
                dim: rep.dim(),
            });
        }
        let interaction = Interaction::from_shape(rep.output_shape());
        let mut model = Dlrm::new(&cfg.model, interaction, cfg.train.optimizer, cfg.seed)?;
        let t = &cfg.train;
        let sparse_opt = match t.optimizer {
            Optimizer::Sgd => SparseOptimizer::Sgd { lr: t.lr },
            Optimizer::Adagrad => SparseOptimizer::RowwiseAdagrad {
                lr: t.lr,
                eps: t.adagrad_eps,
            },
        };
        let dense_opt = DenseOpt {
            kind: t.optimizer,
            lr: t.lr,
            eps: t.adagrad_eps,
        };
        // Buffers of a step are allocated and touched here, outside the timed steps.
        model.prepare(t.batch, dense_opt);
        let ew = model.emb_width();
        let (mut emb, mut grad_emb) = (
            AlignedBuf::zeros(t.batch * ew),
            AlignedBuf::zeros(t.batch * ew),
        );
        touch_pages(&mut emb);
        touch_pages(&mut grad_emb);
        Ok(Trainer {
            model,
            rep,
            dense_opt,
            sparse_opt,
            emb,
            grad_emb,
        })
    }

    /// One optimizer step on `batch`; returns the mean training loss before the update.
    pub fn step(&mut self, batch: &Batch) -> Result<f64, ModelError> {
        let rows = batch.len();
        let ew = self.model.emb_width();
        self.emb.resize(rows * ew);
        self.grad_emb.resize(rows * ew);
        self.rep
            .forward_train(&batch.keys[..rows * NUM_CAT], &mut self.emb);
        // The representation groups the rows its update will touch while the dense part runs
        // (another thread picks that up as phase 1 starts), and updates them during the dense
        // weight updates, on the thread done with its share first. The lock only keeps the two
        // apart: grouping normally ends long before. Grouping never waits for the lock, so a
        // thread that runs it while waiting inside the update (rayon lends waiting threads other
        // jobs) skips it instead of locking itself out; an update that finds no grouping groups
        // the rows itself, and a grouping done after the update is cleared by the next forward.
        let rep = std::sync::Mutex::new(&mut self.rep);
        let lock = || rep.lock().unwrap_or_else(|e| e.into_inner());
        let (sparse_opt, keys) = (self.sparse_opt, &batch.keys[..rows * NUM_CAT]);
        let model = &mut self.model;
        let (loss, ()) = rayon::join(
            || {
                model.forward_backward_update_with(
                    &batch.dense[..rows * NUM_DENSE],
                    &self.emb,
                    &batch.labels,
                    &mut self.grad_emb,
                    self.dense_opt,
                    |g| lock().backward_update(keys, g, sparse_opt),
                )
            },
            || {
                if let Ok(mut r) = rep.try_lock() {
                    r.prepare_backward();
                }
            },
        );
        loss
    }

    /// Click probabilities of every row of `test` (inference only).
    pub fn predict(&self, test: &Batch) -> Result<Vec<f32>, ModelError> {
        let rows = test.len();
        let ew = self.model.emb_width();
        let mut probs = vec![0.0f32; rows];
        let mut emb = AlignedBuf::zeros(EVAL_BLOCK.min(rows) * ew);
        for start in (0..rows).step_by(EVAL_BLOCK) {
            let r = (rows - start).min(EVAL_BLOCK);
            let e = &mut emb[..r * ew];
            self.rep
                .forward_eval(&test.keys[start * NUM_CAT..(start + r) * NUM_CAT], e);
            let out = &mut probs[start..start + r];
            self.model.logits(
                &test.dense[start * NUM_DENSE..(start + r) * NUM_DENSE],
                e,
                out,
            )?;
            for p in out.iter_mut() {
                *p = sigmoid(*p);
            }
        }
        Ok(probs)
    }

    /// Embedding table bytes (parameters only, as the compression ratio counts them).
    pub fn table_bytes(&self) -> u64 {
        self.rep.param_bytes()
    }
}
