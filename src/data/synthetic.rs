//! The embedded default data: a synthetic, Criteo-shaped stream generated on the fly.
//!
//! Owns: the generator and its fitted parameters. Must never: present itself as Criteo data,
//! store anything proportional to the vocabulary, or depend on the thread count for its output.

use serde::{Deserialize, Serialize};

use super::{NUM_CAT, NUM_DENSE};

/// Parameters of the synthetic stream, recorded in each preset with the source they were fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticParams {
    /// Where the fitted numbers below come from.
    pub fitted_on: String,
    /// Multiplies `data.cardinalities` for the generator's vocabularies (at least 1 value each).
    pub cardinality_scale: f64,
    /// Target click rate of the planted model.
    pub click_rate: f64,
    /// Per categorical column: probability that the value is missing.
    pub cat_missing: Vec<f64>,
    /// Per categorical column: Zipf exponent of value frequencies.
    pub zipf_exponent: Vec<f64>,
    /// Per dense column: probability that the value is missing.
    pub dense_missing: Vec<f64>,
}

impl SyntheticParams {
    /// Check the parameters; on error returns (field, value, what is allowed).
    pub fn validate(&self) -> Result<(), (String, String, String)> {
        let rate = |name: &str, v: &[f64], n: usize| -> Result<(), (String, String, String)> {
            if v.len() != n {
                return Err((
                    name.into(),
                    format!("{} values", v.len()),
                    format!("exactly {n} values"),
                ));
            }
            if let Some(i) = v.iter().position(|p| !(0.0..1.0).contains(p)) {
                return Err((
                    format!("{name}[{i}]"),
                    v[i].to_string(),
                    "a probability in [0, 1)".into(),
                ));
            }
            Ok(())
        };
        rate("cat_missing", &self.cat_missing, NUM_CAT)?;
        rate("dense_missing", &self.dense_missing, NUM_DENSE)?;
        if self.zipf_exponent.len() != NUM_CAT {
            return Err((
                "zipf_exponent".into(),
                format!("{} values", self.zipf_exponent.len()),
                format!("exactly {NUM_CAT} values"),
            ));
        }
        if let Some(i) = self
            .zipf_exponent
            .iter()
            .position(|s| !(s.is_finite() && *s >= 0.0 && *s <= 5.0))
        {
            return Err((
                format!("zipf_exponent[{i}]"),
                self.zipf_exponent[i].to_string(),
                "an exponent in [0, 5]".into(),
            ));
        }
        if !(self.cardinality_scale > 0.0 && self.cardinality_scale <= 1.0) {
            return Err((
                "cardinality_scale".into(),
                self.cardinality_scale.to_string(),
                "a scale in (0, 1]".into(),
            ));
        }
        if !(self.click_rate > 0.0 && self.click_rate < 1.0) {
            return Err((
                "click_rate".into(),
                self.click_rate.to_string(),
                "a rate in (0, 1)".into(),
            ));
        }
        Ok(())
    }
}

/// The synthetic data source (to be implemented).
pub struct SyntheticSource;
impl SyntheticSource {
    pub fn new(_cfg: &crate::config::Config) -> SyntheticSource {
        SyntheticSource
    }
}
impl super::DataSource for SyntheticSource {
    fn label(&self) -> String {
        "synthetic".into()
    }
    fn is_synthetic(&self) -> bool {
        true
    }
    fn open_train(&self) -> Result<Box<dyn super::BatchStream>, super::DataError> {
        Err(super::DataError::Unusable {
            path: "synthetic".into(),
            reason: "not built yet".into(),
        })
    }
    fn test_set(&self) -> Result<super::Batch, super::DataError> {
        Err(super::DataError::Unusable {
            path: "synthetic".into(),
            reason: "not built yet".into(),
        })
    }
}
