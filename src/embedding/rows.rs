//! The shared core of the one-row-per-token representations (the uncompressed tables and the
//! hashing trick): a token reads exactly one `dim` row of one stacked, 64-byte-aligned buffer.
//!
//! Owns: that buffer, its row-wise optimizer state, the rows the last training forward read
//! (one per token) and their grouping, the sparse backward over them, the per-feature table
//! report, and the shape checks every per-feature representation shares. Must never: decide
//! which row a token reads (each method does, in its own file), or let the thread count change a
//! number (the backward sums each row's gradient in batch order, see `table::RowGroups`).

use rayon::prelude::*;

use super::table::{RowGroups, RowState, apply_sparse};
use super::{SparseOptimizer, TableInfo};
use crate::data::NUM_CAT;
use crate::util::aligned::AlignedBuf;

/// Evaluate `$body` with `$name` a compile-time constant equal to `$dim` for the common dims (16
/// = one cache line), else 0 (the run-time length): `dispatch_dim!` for kernels with more
/// generic parameters than the row length.
macro_rules! dim_const {
    ($dim:expr, $name:ident => $body:expr) => {
        match $dim {
            4 => {
                const $name: usize = 4;
                $body
            }
            8 => {
                const $name: usize = 8;
                $body
            }
            16 => {
                const $name: usize = 16;
                $body
            }
            32 => {
                const $name: usize = 32;
                $body
            }
            64 => {
                const $name: usize = 64;
                $body
            }
            128 => {
                const $name: usize = 128;
                $body
            }
            _ => {
                const $name: usize = 0;
                $body
            }
        }
    };
}
pub(super) use dim_const;

/// Samples per rayon task in the gathers.
pub(super) const CHUNK: usize = 64;

/// Panic with the representation's name unless `keys` is whole samples and `out_len` holds one
/// `dim` vector per key (a caller bug, never user input).
pub(super) fn check_shapes(kind: &str, keys: &[u64], out_len: usize, dim: usize) {
    assert!(
        keys.len().is_multiple_of(NUM_CAT),
        "{kind}: {} keys is not a whole number of {NUM_CAT}-key samples",
        keys.len()
    );
    assert_eq!(
        out_len,
        keys.len() * dim,
        "{kind}: output buffer length for {} samples",
        keys.len() / NUM_CAT
    );
}

/// A stacked row buffer with what its sparse backward needs.
#[derive(Debug, Clone)]
pub(super) struct RowTable {
    pub dim: usize,
    pub table: AlignedBuf,
    pub state: RowState,
    /// Row of every token of the last `forward_train`, in batch order.
    pub rows: Vec<u32>,
    groups: RowGroups,
    /// Whether `groups` holds the grouping of `rows` (see `prepare_backward`).
    grouped: bool,
}

impl RowTable {
    pub fn new(dim: usize, table: AlignedBuf) -> RowTable {
        RowTable {
            dim,
            table,
            state: RowState::default(),
            rows: Vec::new(),
            groups: RowGroups::default(),
            grouped: false,
        }
    }

    /// Row updates applied so far (`Representation::row_updates`).
    pub fn row_updates(&self) -> u64 {
        self.groups.updated
    }

    /// Rows in the buffer.
    pub fn n_rows(&self) -> usize {
        self.table.len() / self.dim
    }

    /// A training forward is about to replace `rows`: a grouping made earlier no longer holds.
    pub fn forget_grouping(&mut self) {
        self.grouped = false;
    }

    /// Group the rows of the last training forward now (`Representation::prepare_backward`).
    pub fn prepare_backward(&mut self) {
        let n_rows = self.n_rows();
        self.groups.build(&self.rows, 1, n_rows);
        self.grouped = true;
    }

    /// Backward of the last training forward (same keys): group its rows unless prepared, and
    /// apply the sparse update to them.
    pub fn backward_update(
        &mut self,
        name: &str,
        keys: &[u64],
        grad_out: &[f32],
        opt: SparseOptimizer,
    ) {
        check_shapes(name, keys, grad_out.len(), self.dim);
        assert_eq!(
            keys.len(),
            self.rows.len(),
            "{name}: backward_update without a forward_train of the same batch"
        );
        if !std::mem::take(&mut self.grouped) {
            let n_rows = self.n_rows();
            self.groups.build(&self.rows, 1, n_rows);
        }
        apply_sparse(
            self.table.as_mut_slice(),
            self.dim,
            &mut self.state,
            &self.groups,
            grad_out,
            opt,
        );
    }

    /// One feature's table of `rows` rows, as `Representation::tables` reports it.
    pub fn info(&self, name: String, rows: u64) -> TableInfo {
        let adagrad = !self.state.acc.is_empty();
        TableInfo {
            name,
            rows,
            cols: self.dim,
            param_bytes: 4 * self.dim as u64 * rows,
            optimizer_bytes: if adagrad { 4 * rows } else { 0 },
        }
    }

    /// `out[t]` = row `row_of(j, key)` for every token `t` (feature `j`, key `key`), rayon over
    /// chunks of samples. Changes nothing.
    pub fn gather_by(
        &self,
        keys: &[u64],
        out: &mut [f32],
        row_of: impl Fn(usize, u64) -> u32 + Sync,
    ) {
        let dim = self.dim;
        let table = self.table.as_slice();
        keys.par_chunks(CHUNK * NUM_CAT)
            .zip(out.par_chunks_mut(CHUNK * NUM_CAT * dim))
            .for_each(|(kc, oc)| {
                for (sample, os) in kc
                    .chunks_exact(NUM_CAT)
                    .zip(oc.chunks_exact_mut(NUM_CAT * dim))
                {
                    for (j, (&key, o)) in sample.iter().zip(os.chunks_exact_mut(dim)).enumerate() {
                        let row = row_of(j, key) as usize;
                        o.copy_from_slice(&table[row * dim..][..dim]);
                    }
                }
            });
    }
}
