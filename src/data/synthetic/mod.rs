//! The embedded default data: a synthetic, Criteo-shaped stream generated on the fly.
//!
//! Owns: the generator (bounded-Zipf categorical columns, quantile-fitted dense columns, labels
//! from a planted model whose true click probability is exposed) and its fitted parameters, as
//! recorded in the presets. Row `i` of a stream is a pure function of (seed, global row index), so
//! any chunking and any thread count give the same rows. Must never: present itself as Criteo
//! data, store anything proportional to the vocabulary (no table of V entries: frequencies, values
//! and effects are all computed from hashes and closed-form inverse CDFs), or depend on the thread
//! count for its output.
//!
//! The planted model:
//!
//! ```text
//! logit = bias + sum_j a_j z(j, r_j) + sum_{j<l} <g_j v(j, r_j), g_l v(l, r_l)> + sum_k e_k y_k
//! ```
//!
//! where r_j is the rank drawn in column j (0 = missing, its own token), z a unit
//! normal-like value and v a 4-dim unit-variance vector, both hashed from (seed, j, r_j), and y_k
//! the emitted log(1 + x) of dense column k. The column weights come from hashes of the seed and
//! are scaled so the three parts have the standard deviations `token_signal`,
//! `interaction_signal` and `dense_signal`; the bias is calibrated to `click_rate`. Everything the
//! planted model uses is visible to a learner (token identities and the dense values), so the
//! oracle AUC is reachable in principle; the tokens too rare to be seen often are what limits it.
//!
//! The numbers in the presets come from `examples/fit_synthetic.rs` run on the real sample
//! (`cargo run --release --example fit_synthetic`), see that file.

mod generator;
mod params;
mod rng;
mod zipf;

use std::sync::Arc;

use super::{Batch, BatchStream, DataError, DataSource};

pub use generator::{CALIBRATION_BASE, CALIBRATION_ROWS, Generator, TEST_BASE, TRAIN_BASE};
pub use params::{
    KEEP_WHOLE_BELOW, MAX_DENSE_QUANTILES, MAX_SIGNAL, MAX_ZIPF_EXPONENT, SyntheticParams,
    scaled_cardinalities,
};
pub use rng::STRATA_BITS;
pub use zipf::{MAX_FITTED_HEAD, ZIPF_HEAD, Zipf};

// ---------------------------------------------------------------------------------------------
// The data source.

/// The synthetic data source: an infinite training stream and a disjoint test set.
pub struct SyntheticSource {
    generator: Arc<Generator>,
    test_rows: usize,
    label: String,
}

impl SyntheticSource {
    pub fn new(opts: &crate::data::DataOptions) -> SyntheticSource {
        let scale = opts.synthetic.cardinality_scale;
        let mut label = opts.label();
        if scale < 1.0 {
            label.push_str(&format!(", vocabularies scaled x{scale}"));
        }
        SyntheticSource {
            generator: Arc::new(Generator::new(opts)),
            test_rows: opts.test_rows,
            label,
        }
    }

    /// The generator behind the streams (vocabularies, calibrated bias).
    pub fn generator(&self) -> &Generator {
        &self.generator
    }
}

impl DataSource for SyntheticSource {
    fn label(&self) -> String {
        self.label.clone()
    }
    fn is_synthetic(&self) -> bool {
        true
    }
    fn open_train(&self) -> Result<Box<dyn BatchStream>, DataError> {
        Ok(Box::new(SyntheticStream {
            generator: Arc::clone(&self.generator),
            next: TRAIN_BASE,
        }))
    }
    fn test_set(&self) -> Result<Batch, DataError> {
        let mut out = Batch::with_capacity(self.test_rows);
        self.generator.fill(TEST_BASE, self.test_rows, &mut out);
        Ok(out)
    }
}

/// The training stream: rows 0, 1, 2, ... of the generator, without end.
pub struct SyntheticStream {
    generator: Arc<Generator>,
    next: u64,
}

impl BatchStream for SyntheticStream {
    fn next_batch(&mut self, rows: usize, out: &mut Batch) -> Result<usize, DataError> {
        self.generator.fill(self.next, rows, out);
        self.next += rows as u64;
        Ok(rows)
    }
}
