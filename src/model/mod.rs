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
//!
//! Files: `dlrm.rs` the model and its training step (phase 1 and the step's frame), `init.rs` its
//! construction and initialisation, `layer.rs` one MLP layer's products and the per-chunk
//! workspace, `interaction.rs` the dot and concatenation interactions, `grad.rs` phase 2 (weight
//! gradients and the dense update, block by block), `phase.rs` the phases' ends, `gemm/` the
//! kernels.

mod dlrm;
pub mod gemm;
mod grad;
mod init;
mod interaction;
mod layer;
mod phase;

pub use dlrm::{CHUNK_ROWS, Dlrm, MAX_CHUNKS, chunk_rows, touch_pages};
pub use interaction::Interaction;
pub use layer::{bce, sigmoid};

use crate::config::Optimizer;

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

/// Dense optimizer settings for one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DenseOpt {
    pub kind: Optimizer,
    pub lr: f32,
    pub eps: f32,
}
