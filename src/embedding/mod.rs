//! Embedding representations: uncompressed tables, the hashing trick, MEM-REC (bundled and per
//! feature, with Bloom as kw = 0) with its fused kernel, quotient-remainder and ROBE-Z.
//!
//! Owns: every table of categorical parameters, its forward, sparse backward and sparse optimizer,
//! its exact byte count, and its collision statistics. Must never: know about the MLPs, the
//! trainer's schedule or the UI; allocate per call in a hot loop; divide by a runtime value to
//! reduce a hash (multiply-shift instead).
//!
//! One file per method: `uncompressed`, `hashing` (both on the one-row-per-token core in
//! `rows`), `memrec`, `qr`, `robe`; `hash`, `table` and `collisions` are what they share.

pub mod collisions;
pub mod explain;
pub mod floor;
pub mod hash;
pub mod hashing;
pub mod memrec;
pub mod qr;
pub mod robe;
mod rows;
pub mod table;
pub mod uncompressed;

use serde::Serialize;

use crate::config::{BaselineKind, Config, Method};
use collisions::FeatureCollisions;

pub use hashing::HashingTrick;
pub use memrec::MemRec;
pub use qr::Qr;
pub use robe::RobeZ;
pub use uncompressed::Uncompressed;

/// One table of parameters, as allocated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableInfo {
    pub name: String,
    pub rows: u64,
    pub cols: usize,
    /// Bytes of parameters (f32).
    pub param_bytes: u64,
    /// Bytes of optimizer state for this table (0 for SGD).
    pub optimizer_bytes: u64,
}

/// Sparse optimizer applied to the rows a batch touched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SparseOptimizer {
    Sgd {
        lr: f32,
    },
    /// One accumulator per row (mean of the squared row gradient), as FBGEMM's row-wise Adagrad.
    RowwiseAdagrad {
        lr: f32,
        eps: f32,
    },
}

/// What a representation produces per sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputShape {
    /// One `dim` vector per categorical feature: DLRM's pairwise dot interaction applies.
    PerFeature,
    /// One `dim` vector per sample (bundled MEM-REC): concatenated with the bottom MLP output.
    Bundled,
}

/// A categorical representation. The trainer and the UI never special-case an implementation.
///
/// Keys are `data::token_key`s, `NUM_CAT` per sample, row-major. Outputs are written to `out`,
/// `outputs_per_sample() * dim()` floats per sample.
pub trait Representation: Send + Sync {
    /// Short name for labels, e.g. `uncompressed`, `hashing`, `memrec-bundled`.
    fn kind(&self) -> &'static str;
    fn dim(&self) -> usize;
    fn output_shape(&self) -> OutputShape;
    fn outputs_per_sample(&self) -> usize {
        match self.output_shape() {
            OutputShape::PerFeature => crate::data::NUM_CAT,
            OutputShape::Bundled => 1,
        }
    }
    /// Training forward: may grow a vocabulary and remembers what `backward_update` needs.
    fn forward_train(&mut self, keys: &[u64], out: &mut [f32]);
    /// Before training on rows known in advance (`keys`, whole samples, in the order training
    /// will see them): give every value now what `forward_train` would give it at its first
    /// occurrence, so that no training step pays for it. For the uncompressed tables that is
    /// the vocabulary, each new value its row numbered in order of first appearance and
    /// initialised from its key alone, as `dlrm_ref.py` builds its vocabulary before its timed
    /// loop. Changes no number once training has seen every row: the same values get the same
    /// rows with the same initial values. Before that, an evaluation finds a value of a row not
    /// trained yet at its initial row, not at the out-of-vocabulary one, as in the reference.
    /// The default does nothing (nothing grows).
    fn admit(&mut self, keys: &[u64]) {
        let _ = keys;
    }
    /// Inference forward: changes nothing (unseen values use out-of-vocabulary rows).
    fn forward_eval(&self, keys: &[u64], out: &mut [f32]);
    /// The part of the next `backward_update` that needs only the last `forward_train`
    /// (grouping the rows it touched), so the trainer can run it while the dense part computes
    /// the gradients. `backward_update` does it itself when this was not called. Changes no
    /// number. The default does nothing.
    fn prepare_backward(&mut self) {}
    /// Backward of the last `forward_train` (same keys) and a sparse update of the touched rows.
    fn backward_update(&mut self, keys: &[u64], grad_out: &[f32], opt: SparseOptimizer);
    /// Every table as allocated, with parameter and optimizer bytes.
    fn tables(&self) -> Vec<TableInfo>;
    fn param_bytes(&self) -> u64 {
        self.tables().iter().map(|t| t.param_bytes).sum()
    }
    fn optimizer_bytes(&self) -> u64 {
        self.tables().iter().map(|t| t.optimizer_bytes).sum()
    }
    /// Collision statistics per feature present in `distinct_keys` (duplicates are ignored),
    /// observed and by formula (see `collisions`). One-row-per-token representations report
    /// one token per row and nothing shared.
    fn collisions(&self, distinct_keys: &[u64]) -> Vec<FeatureCollisions> {
        collisions::none(distinct_keys)
    }
    /// Distinct tokens the representation has stored (the uncompressed vocabulary); `None` for
    /// representations whose size does not depend on the data.
    fn distinct_tokens(&self) -> Option<u64> {
        None
    }
    /// The memory reads a forward of `keys` makes, every index computed now: what
    /// `floor::gather` times as the lookup's latency floor (`bench`). `None` when the
    /// representation has no floor plan.
    fn read_plan(&self, keys: &[u64]) -> Option<floor::ReadPlan<'_>> {
        let _ = keys;
        None
    }
    /// The parameter rows a lookup of `key` reads, in the kernel's order, appended to `out`;
    /// computed by the functions the fused kernel itself calls (the token inspector and its
    /// "who else reads this row" count). Appends nothing when the representation cannot say.
    fn lookup_rows(&self, key: u64, out: &mut Vec<explain::RowRef>) {
        let _ = (key, out);
    }
    /// Row updates the sparse optimizer has applied so far (each batch updates each distinct
    /// row it used once; a weight or a ROBE-Z array element counts as a row). 0 when the
    /// representation does not count them.
    fn row_updates(&self) -> u64 {
        0
    }
    /// `lookup_rows` with the values those rows hold now and the vector the token gets.
    fn explain(&self, key: u64) -> Option<explain::TokenLookup> {
        let _ = key;
        None
    }
}

/// The baseline of `cfg.baseline`: uncompressed tables over the observed vocabulary, or the
/// hashing trick with `hash_rows` rows per feature (capped at the feature's cardinality).
pub fn build_baseline(cfg: &Config) -> Box<dyn Representation> {
    match cfg.baseline.kind {
        BaselineKind::Uncompressed => Box::new(Uncompressed::from_config(cfg)),
        BaselineKind::Hashing => Box::new(HashingTrick::from_config(cfg)),
    }
}

/// The compressed run's representation, as `cfg.memrec.method` says: MEM-REC (layout, K, D, kw,
/// dw; kw = 0 is a Bloom embedding), the hashing trick (`hash_rows`), QR (`qr_collisions`) or
/// ROBE-Z (`robe_size`, `robe_z`), at `cfg.model.dim`, initialised deterministically from
/// `cfg.seed`.
pub fn build_compressed(cfg: &Config) -> Box<dyn Representation> {
    match cfg.memrec.method {
        Method::Memrec => Box::new(MemRec::from_config(cfg)),
        Method::Hashing => Box::new(HashingTrick::new(
            cfg.model.dim,
            &cfg.data.cardinalities,
            cfg.memrec.hash_rows as u64,
            cfg.seed,
        )),
        Method::Qr => Box::new(Qr::from_config(cfg)),
        Method::RobeZ => Box::new(RobeZ::from_config(cfg)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Layout;

    #[test]
    fn the_configurations_kind_is_the_built_representations() {
        for m in Method::ALL {
            for layout in [Layout::Bundled, Layout::PerFeature] {
                for kw in [0, 1] {
                    let mut cfg = Config::from_preset("tiny").unwrap();
                    cfg.memrec.method = m;
                    cfg.memrec.layout = layout;
                    cfg.memrec.kw = kw;
                    cfg.memrec.robe_z = cfg.memrec.robe_z.min(cfg.model.dim);
                    assert_eq!(
                        cfg.compressed_kind(),
                        build_compressed(&cfg).kind(),
                        "{m:?} {layout:?} kw={kw}"
                    );
                    let bloom = m == Method::Memrec && kw == 0;
                    assert_eq!(cfg.compressed_kind().starts_with("bloom"), bloom);
                    assert_eq!(cfg.compressed_label() == "Bloom", bloom);
                    assert_eq!(
                        cfg.compressed_knobs().contains("kw"),
                        m == Method::Memrec && !bloom
                    );
                }
            }
        }
    }
}
