//! The synthetic stream's parameters (as recorded in the presets) and their validation, and
//! the scaling of the vocabularies.
//!
//! Must never: generate rows; it only says what the generator draws from.

use serde::{Deserialize, Serialize};

use super::zipf::{MAX_FITTED_HEAD, Zipf};
use crate::data::{NUM_CAT, NUM_DENSE};
/// Largest Zipf exponent accepted. Criteo's tiny columns (C20: 4 values, one of them almost never
/// seen) need exponents far above the usual 1-2 for a bounded Zipf to reproduce them.
pub const MAX_ZIPF_EXPONENT: f64 = 16.0;
/// Quantile levels per dense column: from 2 (min, max) to this many, evenly spaced in [0, 1].
pub const MAX_DENSE_QUANTILES: usize = 65;
/// Largest logit standard deviation a signal component may ask for (beyond it every row is 0 or 1).
pub const MAX_SIGNAL: f64 = 8.0;

/// Parameters of the synthetic stream, recorded in each preset with the source they were fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticParams {
    /// Where the fitted numbers below come from.
    pub fitted_on: String,
    /// Multiplies `data.cardinalities` for the generator's vocabularies (see
    /// [`scaled_cardinalities`]: at least 1 value each, and small columns are kept whole).
    pub cardinality_scale: f64,
    /// Target click rate of the planted model (mean true probability; the bias is calibrated to it).
    pub click_rate: f64,
    /// Per categorical column: probability that the value is missing.
    pub cat_missing: Vec<f64>,
    /// Per categorical column: exponent s of the bounded Zipf law P(rank r) ∝ r^-s over the
    /// ranks after the column's head (all ranks 1..=V when it has none).
    pub zipf_exponent: Vec<f64>,
    /// Per categorical column: the probabilities of its most frequent present values, as measured
    /// (values seen often enough to be measured well, at most 16): ranks 1..=m take them and the
    /// power law shares the rest (see [`Zipf::with_head`]). Empty (the default, and what files
    /// written before this field mean) gives a pure Zipf law per column.
    #[serde(default)]
    pub head_share: Vec<Vec<f64>>,
    /// Per dense column: probability that the value is missing.
    pub dense_missing: Vec<f64>,
    /// Per dense column: share of the present values that are <= 0 (they all come out as 0): the
    /// point mass of the mixture, kept apart so the quantile interpolation cannot smear it.
    pub dense_zero: Vec<f64>,
    /// Per dense column: quantiles of log(1 + x) over the present values x >= 1, at evenly spaced
    /// levels 0, 1/(n-1), ..., 1 (n = 2..=65, non-decreasing). Drawn values are rounded back to
    /// integers x, as Criteo's integer columns are.
    pub dense_quantiles: Vec<Vec<f64>>,
    /// Standard deviation (in logits) of the planted per-token effects, summed over the 26 columns.
    pub token_signal: f64,
    /// Standard deviation (in logits) of the planted pairwise interactions (a rank-4 dot product
    /// of hashed token vectors over every pair of columns, as DLRM's interaction can model).
    pub interaction_signal: f64,
    /// Standard deviation (in logits) of the planted linear effect of the 13 dense columns.
    pub dense_signal: f64,
}

impl SyntheticParams {
    /// The rank law of categorical column `j` over a vocabulary of `v` values: its head (if any)
    /// and its power-law tail. The generator and the lookup benchmark both draw from it.
    pub fn column_law(&self, j: usize, v: u64) -> Zipf {
        let s = self
            .zipf_exponent
            .get(j)
            .copied()
            .unwrap_or(0.0)
            .clamp(0.0, MAX_ZIPF_EXPONENT);
        let head = self.head_share.get(j).map_or(&[][..], Vec::as_slice);
        Zipf::with_head(v, s, head)
    }

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
        if self.dense_zero.len() != NUM_DENSE {
            return Err((
                "dense_zero".into(),
                format!("{} values", self.dense_zero.len()),
                format!("exactly {NUM_DENSE} values"),
            ));
        }
        if let Some(i) = self
            .dense_zero
            .iter()
            .position(|p| !(0.0..=1.0).contains(p))
        {
            return Err((
                format!("dense_zero[{i}]"),
                self.dense_zero[i].to_string(),
                "a share in [0, 1]".into(),
            ));
        }
        self.validate_categorical()?;
        self.validate_dense_and_signals()
    }

    /// The Zipf exponents and fitted heads of the categorical columns.
    fn validate_categorical(&self) -> Result<(), (String, String, String)> {
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
            .position(|s| !(s.is_finite() && *s >= 0.0 && *s <= MAX_ZIPF_EXPONENT))
        {
            return Err((
                format!("zipf_exponent[{i}]"),
                self.zipf_exponent[i].to_string(),
                format!("an exponent in [0, {MAX_ZIPF_EXPONENT}]"),
            ));
        }
        if !self.head_share.is_empty() && self.head_share.len() != NUM_CAT {
            return Err((
                "head_share".into(),
                format!("{} lists", self.head_share.len()),
                format!("no list (pure Zipf) or exactly {NUM_CAT} lists, one per column"),
            ));
        }
        for (j, head) in self.head_share.iter().enumerate() {
            if head.len() > MAX_FITTED_HEAD {
                return Err((
                    format!("head_share[{j}]"),
                    format!("{} values", head.len()),
                    format!("at most {MAX_FITTED_HEAD} values"),
                ));
            }
            if let Some(i) = head
                .iter()
                .position(|p| !(p.is_finite() && (0.0..=1.0).contains(p)))
            {
                return Err((
                    format!("head_share[{j}][{i}]"),
                    head[i].to_string(),
                    "a probability in [0, 1]".into(),
                ));
            }
            let sum: f64 = head.iter().sum();
            // Shares printed to 4 decimals may sum a hair above 1 (16 × 0.00005 at most).
            if sum > 1.001 {
                return Err((
                    format!("head_share[{j}]"),
                    format!("values summing to {sum}"),
                    "probabilities summing to at most 1 (0.001 of rounding allowed)".into(),
                ));
            }
        }
        Ok(())
    }

    /// The dense quantile tables, the vocabulary scale, the click rate and the signal sizes.
    fn validate_dense_and_signals(&self) -> Result<(), (String, String, String)> {
        if self.dense_quantiles.len() != NUM_DENSE {
            return Err((
                "dense_quantiles".into(),
                format!("{} tables", self.dense_quantiles.len()),
                format!("exactly {NUM_DENSE} quantile tables, one per dense column"),
            ));
        }
        for (k, q) in self.dense_quantiles.iter().enumerate() {
            if !(2..=MAX_DENSE_QUANTILES).contains(&q.len()) {
                return Err((
                    format!("dense_quantiles[{k}]"),
                    format!("{} values", q.len()),
                    format!("2 to {MAX_DENSE_QUANTILES} quantiles"),
                ));
            }
            if let Some(i) = q
                .iter()
                .position(|x| !(x.is_finite() && (0.0..=30.0).contains(x)))
            {
                return Err((
                    format!("dense_quantiles[{k}][{i}]"),
                    q[i].to_string(),
                    "a value of log(1 + x) in [0, 30]".into(),
                ));
            }
            if let Some(i) = q.windows(2).position(|w| w[1] < w[0]) {
                return Err((
                    format!("dense_quantiles[{k}][{}]", i + 1),
                    q[i + 1].to_string(),
                    format!("quantiles in non-decreasing order (previous is {})", q[i]),
                ));
            }
        }
        if !(self.cardinality_scale > 0.0 && self.cardinality_scale <= 1.0) {
            return Err((
                "cardinality_scale".into(),
                self.cardinality_scale.to_string(),
                "a scale in (0, 1]".into(),
            ));
        }
        if !(self.click_rate > 0.001 && self.click_rate < 0.999) {
            return Err((
                "click_rate".into(),
                self.click_rate.to_string(),
                "a rate in (0.001, 0.999)".into(),
            ));
        }
        for (name, v) in [
            ("token_signal", self.token_signal),
            ("interaction_signal", self.interaction_signal),
            ("dense_signal", self.dense_signal),
        ] {
            if !(v.is_finite() && (0.0..=MAX_SIGNAL).contains(&v)) {
                return Err((
                    name.into(),
                    v.to_string(),
                    format!("a logit standard deviation in [0, {MAX_SIGNAL}]"),
                ));
            }
        }
        Ok(())
    }
}

/// Columns with at most this many values are never scaled down: they cost nothing in memory and
/// collapsing C9 (3 values) or C20 (4) into a constant would remove real structure.
pub const KEEP_WHOLE_BELOW: u64 = 64;

/// The generator's vocabulary of each column: `round(card * scale)`, but never below
/// `min(card, 64)` (small columns are kept whole) nor 1, and at most 2^32 (Criteo values are 32-bit).
pub fn scaled_cardinalities(cards: &[u64], scale: f64) -> Vec<u64> {
    cards
        .iter()
        .map(|&c| {
            let c = c.clamp(1, 1 << 32);
            let scaled = (c as f64 * scale).round() as u64;
            scaled.max(c.min(KEEP_WHOLE_BELOW)).clamp(1, c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn scaled_cardinalities_keep_small_columns() {
        assert_eq!(
            scaled_cardinalities(&[3, 100, 10_000_000, 1], 0.001),
            vec![3, 64, 10_000, 1]
        );
        assert_eq!(scaled_cardinalities(&[5, 1 << 40], 1.0), vec![5, 1 << 32]);
    }
}
