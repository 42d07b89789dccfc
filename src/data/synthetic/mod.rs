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

use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Batch, BatchStream, DataError, DataSource, NUM_CAT, NUM_DENSE, token_key};
use crate::util::rng::{GOLDEN, SplitMix64, fmix64};

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

// ---------------------------------------------------------------------------------------------
// Hashing. splitmix64 for per-row randomness (one 64-bit state advanced per draw: ~1 ns, passes
// BigCrush), its finaliser for keyed hashes of (seed, column, rank).

#[inline(always)]
fn hash2(a: u64, b: u64) -> u64 {
    fmix64(a ^ fmix64(b.wrapping_add(GOLDEN)))
}

/// A bijection of 32-bit integers keyed by `key` (xor, odd multiplies, xor-shifts are all
/// invertible): distinct ranks get distinct Criteo-looking 32-bit values, with no table.
#[inline(always)]
fn perm32(x: u32, key: u64) -> u32 {
    let mut x = x ^ key as u32;
    x ^= x >> 16;
    x = x.wrapping_mul(0x7FEB_352D);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846C_A68B);
    x ^= x >> 16;
    x.wrapping_add((key >> 32) as u32)
}

/// Rows per stratification block: log2 of the block length (8,192 rows).
pub const STRATA_BITS: u32 = 13;
const STRATA_MASK: u64 = (1 << STRATA_BITS) - 1;

/// A bijection of 0..2^13 keyed by `key` (xor, odd multiplies modulo 2^13 and xor-shifts are all
/// invertible there): the order in which a block's rows visit the strata of one column.
#[inline(always)]
fn perm_strata(x: u64, key: u64) -> u64 {
    let mut x = x & STRATA_MASK;
    for r in 0..3 {
        let k = key >> (r * 20);
        x = ((x ^ k) & STRATA_MASK).wrapping_mul((k >> STRATA_BITS) | 1) & STRATA_MASK;
        x ^= x >> 7;
    }
    x
}

/// The uniform that picks row `index`'s category in a column, stratified per block of 8,192
/// rows: the block's rows visit the column's 8,192 strata [s/8192, (s+1)/8192) once each, in a
/// keyed pseudo-random order, at a uniform point inside the stratum (`jitter`). Each u is still
/// uniform on [0, 1), but a block holds every category of probability p about 8,192 p times
/// instead of a Poisson number of times. Why: a small column's rare values (C22's tail has 0.3%
/// of its rows) then appear in any few thousand rows as often as the fitted law says, rather than
/// by luck, so the stream's distinct counts and missing rates are stable at the sizes a design
/// review looks at.
/// `block_key` is [`strata_key`] of the column and of the row's block.
#[inline(always)]
fn stratified_unit(index: u64, block_key: u64, jitter: f64) -> f64 {
    let stratum = perm_strata(index, block_key);
    (stratum as f64 + jitter) * (1.0 / (1u64 << STRATA_BITS) as f64)
}

/// The key of a column's strata order in block `block`.
#[inline(always)]
fn strata_key(column_key: u64, block: u64) -> u64 {
    hash2(column_key ^ 0x57EA_7A00, block)
}

/// The strata keys of every column for the block of the last row asked: computed once per block
/// (8,192 rows), not per row and column.
struct StrataKeys {
    block: u64,
    keys: [u64; NUM_CAT],
}

impl StrataKeys {
    fn new() -> StrataKeys {
        StrataKeys {
            block: u64::MAX,
            keys: [0; NUM_CAT],
        }
    }

    #[inline(always)]
    fn for_row(&mut self, cats: &[CatColumn], index: u64) -> &[u64; NUM_CAT] {
        let block = index >> STRATA_BITS;
        if block != self.block {
            for (k, col) in self.keys.iter_mut().zip(cats) {
                *k = strata_key(col.key, block);
            }
            self.block = block;
        }
        &self.keys
    }
}

/// A standard-normal-like value from a 64-bit hash: the sum of four 16-bit uniforms (Irwin-Hall,
/// n = 4), centred and scaled to unit variance. Bounded by ±3.46, smooth enough for effects.
#[inline(always)]
fn normalish(h: u64) -> f64 {
    let s = (h & 0xFFFF) + ((h >> 16) & 0xFFFF) + ((h >> 32) & 0xFFFF) + (h >> 48);
    // Each 16-bit uniform has mean 32767.5 and variance (65536^2 - 1) / 12.
    // The sum's variance is 4 (65536^2 - 1) / 12 ≈ 65536^2 / 3.
    (s as f64 - 4.0 * 32767.5) * (3.0f64.sqrt() / 65536.0)
}

/// Four centred uniforms of unit variance from a 64-bit hash (the latent token vector).
#[inline(always)]
fn latent4(h: u64) -> [f64; 4] {
    let c = |x: u64| ((x & 0xFFFF) as f64 - 32767.5) * (12.0f64.sqrt() / 65536.0);
    [c(h), c(h >> 16), c(h >> 32), c(h >> 48)]
}

// ---------------------------------------------------------------------------------------------
// Bounded Zipf by inverse CDF in closed form, with an optional fitted head.

/// Ranks of the power law just after the fitted head have their exact probabilities in a small
/// per-column table; the rest of the tail uses the midpoint integral approximation
/// sum_{r=a}^{b} r^-s ≈ ∫_{a-1/2}^{b+1/2} x^-s dx, whose relative error per rank is about
/// s(s+1)/(24 r²) (< 3e-4 from rank 17 for s = 1).
pub const ZIPF_HEAD: usize = 16;

/// Most ranks whose probabilities a column may give outright (`SyntheticParams::head_share`).
pub const MAX_FITTED_HEAD: usize = 16;

/// A bounded law over ranks 1..=v: the first m ranks have given probabilities (the fitted head,
/// m = 0 for a pure Zipf law), the remaining mass follows P(rank r) ∝ r^-s over ranks m+1..=v.
/// Sampled by inverse CDF with O(1) memory.
///
/// Why a head: a single power law cannot hold both the head and the tail of Criteo's small
/// columns. C22 has two values at 52% and 38% of its rows, then three near 3%, then a thin tail:
/// a Zipf law fitted to its distinct-count curve puts 89% on the first value and leaves the tail
/// to luck (5 distinct values instead of 7 in 8,000 rows). Frequent values are measured well on
/// any sample (a value seen 20 times has a relative standard error near 22%), so the head is
/// taken as measured and the power law is fitted only where the sample is sparse.
#[derive(Debug, Clone)]
pub struct Zipf {
    v: u64,
    s: f64,
    /// Cumulative probabilities of ranks 1..=h: the m fitted ranks, then exact power-law ranks.
    head: [f64; MAX_FITTED_HEAD + ZIPF_HEAD],
    h: usize,
    /// Whether any probability is left beyond rank h (false when the head holds all the mass).
    tail: bool,
    /// Normalising constant of the power law divided by the mass it carries, so a tail rank's
    /// probability is (G(r + 1/2) - G(r - 1/2)) / z.
    z: f64,
    /// G(h + 1/2), where G is the antiderivative of x^-s used for the tail.
    g_lo: f64,
}

impl Zipf {
    /// A pure bounded Zipf law over ranks 1..=v with exponent s.
    pub fn new(v: u64, s: f64) -> Zipf {
        Zipf::with_head(v, s, &[])
    }

    /// Ranks 1..=m have the probabilities `head` (m = min(len, v, MAX_FITTED_HEAD); negative or
    /// non-finite entries count as 0; if they sum to 1 or more they are scaled to sum to 1 and
    /// no rank beyond m is ever drawn); the rest of the mass follows r^-s over ranks m+1..=v.
    pub fn with_head(v: u64, s: f64, head: &[f64]) -> Zipf {
        let v = v.max(1);
        let s = if s.is_finite() { s.max(0.0) } else { 0.0 };
        let m = head.len().min(MAX_FITTED_HEAD).min(v as usize);
        let given: Vec<f64> = head[..m]
            .iter()
            .map(|&p| if p.is_finite() { p.max(0.0) } else { 0.0 })
            .collect();
        let given_sum: f64 = given.iter().sum();
        // Mass left for the power law; none if the head holds everything (or the vocabulary ends
        // with it), and then the head is renormalised to 1.
        let rest = if (m as u64) < v { 1.0 - given_sum } else { 0.0 };
        let tail_mass = if rest > 1e-12 { rest } else { 0.0 };
        let head_scale = if tail_mass > 0.0 || given_sum <= 0.0 {
            1.0
        } else {
            1.0 / given_sum
        };

        let mut cum = [0.0; MAX_FITTED_HEAD + ZIPF_HEAD];
        let mut acc = 0.0;
        for (slot, p) in cum.iter_mut().zip(&given) {
            acc += p * head_scale;
            *slot = acc;
        }
        if tail_mass == 0.0 {
            // Only reached with a head (m = 0 leaves rest = 1); its last rank closes the CDF.
            let h = m.max(1);
            cum[h - 1] = 1.0;
            return Zipf {
                v,
                s,
                head: cum,
                h,
                tail: false,
                z: 1.0,
                g_lo: 0.0,
            };
        }
        // Exact power-law ranks m+1..=h, then the integral tail over h+1..=v.
        let h = (v.min((m + ZIPF_HEAD) as u64)) as usize;
        let weights: Vec<f64> = (m + 1..=h).map(|r| (r as f64).powf(-s)).collect();
        let g_lo = g(h as f64 + 0.5, s);
        let integral = if v as usize > h {
            g(v as f64 + 0.5, s) - g_lo
        } else {
            0.0
        };
        let z_law = weights.iter().sum::<f64>() + integral;
        let z = z_law / tail_mass;
        let mut raw = 0.0;
        for (slot, w) in cum[m..h].iter_mut().zip(&weights) {
            raw += w;
            *slot = acc + raw / z;
        }
        Zipf {
            v,
            s,
            head: cum,
            h,
            tail: v as usize > h,
            z,
            g_lo,
        }
    }

    pub fn vocab(&self) -> u64 {
        self.v
    }

    /// The rank (1..=v) whose cumulative interval holds `u` in [0, 1).
    #[inline(always)]
    pub fn sample(&self, u: f64) -> u64 {
        let last = self.head[self.h - 1];
        if u < last || !self.tail {
            for (i, &c) in self.head[..self.h].iter().enumerate() {
                if u < c {
                    return i as u64 + 1;
                }
            }
            // u at or past the last cumulative value only by rounding.
            return self.h as u64;
        }
        let t = (u - last) * self.z;
        let x = g_inv(self.g_lo + t, self.s);
        let r = (x + 0.5).floor();
        // The float can land a hair outside the tail at either end.
        if r.is_nan() || r <= self.h as f64 {
            self.h as u64 + 1
        } else if r >= self.v as f64 {
            self.v
        } else {
            r as u64
        }
    }

    /// The probability of rank `r` under the sampler (given head, exact ranks, integral tail).
    pub fn pmf(&self, r: u64) -> f64 {
        if r == 0 || r > self.v {
            0.0
        } else if (r as usize) <= self.h {
            let i = r as usize - 1;
            self.head[i] - if i == 0 { 0.0 } else { self.head[i - 1] }
        } else if !self.tail {
            0.0
        } else {
            let rf = r as f64;
            (g(rf + 0.5, self.s) - g(rf - 0.5, self.s)) / self.z
        }
    }

    /// Expected number of distinct ranks among `n` independent draws, for each `n` of `ns`:
    /// sum_r 1 - (1 - p_r)^n. Ranks up to 1024 are summed one by one; beyond, ranks are grouped in
    /// geometric buckets (ratio 1.002) over which p_r changes by less than 0.2 s %, so the cost is
    /// O(log V) and the relative error far below the sampling noise of a distinct count.
    pub fn expected_distinct(&self, ns: &[f64]) -> Vec<f64> {
        const EXACT: u64 = 1024;
        let mut d = vec![0.0; ns.len()];
        let add = |d: &mut [f64], p: f64, count: f64| {
            for (di, n) in d.iter_mut().zip(ns) {
                // 1 - (1 - p)^n, accurate for tiny p
                *di += count * -(n * (-p).ln_1p()).exp_m1();
            }
        };
        for r in 1..=self.v.min(EXACT) {
            add(&mut d, self.pmf(r), 1.0);
        }
        if !self.tail {
            return d;
        }
        let mut a = EXACT + 1;
        while a <= self.v {
            let b = ((a as f64 * 1.002) as u64).max(a).min(self.v);
            let count = (b - a + 1) as f64;
            let mid = 0.5 * (a as f64 + b as f64);
            let p = (g(mid + 0.5, self.s) - g(mid - 0.5, self.s)) / self.z;
            add(&mut d, p, count);
            a = b + 1;
        }
        d
    }
}

impl Zipf {
    /// Expected number of distinct ranks in the first `rows` rows of a stratification block of the
    /// generator (each `rows` at most 2^STRATA_BITS; larger values are capped), for a column whose
    /// value is missing with probability `missing`: what the stream really shows, where
    /// [`Zipf::expected_distinct`] is the count for independent draws.
    ///
    /// A rank owns the interval [a, b) of the row's uniform (after the missing share); the block's
    /// first `rows` rows visit a random subset of q = rows / N of the N strata, each at a uniform
    /// point, so the rank goes unseen with probability prod_t (1 - q w_t) over the strata t it
    /// overlaps by the fraction w_t (visits taken as independent, exact to O(q² w_t w_u)). Ranks
    /// past 65,536 overlap less than a stratum each; a rank inside one stratum is seen with
    /// probability exactly q w = rows × p, so they add rows × (their mass) in one term.
    pub fn expected_distinct_stratified(&self, rows: &[f64], missing: f64) -> Vec<f64> {
        const EXACT: u64 = 1 << 16;
        let n_strata = (1u64 << STRATA_BITS) as f64;
        let missing = missing.clamp(0.0, 1.0);
        let present = 1.0 - missing;
        let q: Vec<f64> = rows
            .iter()
            .map(|r| (r / n_strata).clamp(0.0, 1.0))
            .collect();
        let mut d = vec![0.0; rows.len()];
        let mut cdf = 0.0;
        for r in 1..=self.v.min(EXACT) {
            let p = self.pmf(r);
            let a = (missing + present * cdf) * n_strata;
            cdf += p;
            let b = ((missing + present * cdf) * n_strata).min(n_strata);
            if b <= a {
                continue;
            }
            // First partial stratum, full strata, last partial stratum (in units of strata).
            let (ta, tb) = (a.floor(), b.floor());
            let (first, full, last) = if ta == tb {
                (b - a, 0.0, 0.0)
            } else {
                (ta + 1.0 - a, (tb - ta - 1.0).max(0.0), b - tb)
            };
            for (di, &qi) in d.iter_mut().zip(&q) {
                let unseen = (1.0 - qi * first) * (1.0 - qi).powf(full) * (1.0 - qi * last);
                *di += 1.0 - unseen;
            }
        }
        let rest = (1.0 - cdf).max(0.0) * present;
        if self.v > EXACT && rest > 0.0 {
            for (di, r) in d.iter_mut().zip(rows) {
                *di += rest * r.min(n_strata);
            }
        }
        d
    }
}

/// Below this |1 - s| the antiderivative is taken as ln x (relative difference |1 - s| ln x / 2,
/// under 1e-5 for any V < 2^32); `g` and `g_inv` switch together, so the sampler and its pmf agree.
const LOG_MODE: f64 = 1e-6;

/// Antiderivative of x^-s, continuous in s through s = 1: (x^(1-s) - 1) / (1 - s), or ln x.
#[inline(always)]
fn g(x: f64, s: f64) -> f64 {
    let a = 1.0 - s;
    let l = x.ln();
    if a.abs() < LOG_MODE {
        l
    } else {
        (a * l).exp_m1() / a
    }
}

/// Inverse of `g` in x.
#[inline(always)]
fn g_inv(y: f64, s: f64) -> f64 {
    let a = 1.0 - s;
    if a.abs() < LOG_MODE {
        y.exp()
    } else {
        // ln(1 + a y) with ln rather than ln_1p (several times cheaper here): |a| >= 1e-6 and
        // y >= g(1.5), so the rounding of 1 + a y (1e-16) moves ln x by at most ~2.5e-10, x by
        // a relative 2.5e-10: less than half a rank for any V < 2^32.
        ((a * y + 1.0).ln() / a).exp()
    }
}

// ---------------------------------------------------------------------------------------------
// The generator.

/// Dimension of the hashed latent token vectors of the planted interaction.
const LATENT: usize = 4;
/// Rows generated (from their own stream) to calibrate the bias to `click_rate`.
pub const CALIBRATION_ROWS: u64 = 1 << 15;
/// Rows per rayon task; fixed so the work split never depends on the pool, though each row is a
/// pure function of its index anyway.
const CHUNK_ROWS: usize = 1024;

/// Global row indices: the training stream is [0, 2^62), the test stream starts at 2^62 and the
/// calibration rows at 2^63, so the three never share a row.
pub const TRAIN_BASE: u64 = 0;
pub const TEST_BASE: u64 = 1 << 62;
pub const CALIBRATION_BASE: u64 = 1 << 63;

struct CatColumn {
    zipf: Zipf,
    missing: f64,
    inv_present: f64,
    /// Key of hashes (effects) and of the value permutation for this column.
    key: u64,
    /// Scale of the main effect.
    effect: f64,
    /// Scale of the latent vector.
    latent: f64,
}

struct DenseColumn {
    missing: f64,
    inv_present: f64,
    /// Share of present values that are 0, and 1 / (1 - that share).
    zero: f64,
    inv_positive: f64,
    q: Vec<f64>,
    /// Coefficient on the value and the centring offset, folded: effect = coef * y - offset.
    coef: f64,
}

/// The synthetic row generator: O(columns) memory, rows are pure functions of their index.
pub struct Generator {
    seed_key: u64,
    cats: Vec<CatColumn>,
    dense: Vec<DenseColumn>,
    /// Constant part of the logit: calibrated bias minus the dense centring.
    bias: f64,
    dense_offset: f64,
}

impl Generator {
    /// Build from the configuration; the bias is calibrated to `click_rate` on `CALIBRATION_ROWS`
    /// rows (bisection, deterministic). Never panics: out-of-range parameters are clamped (the
    /// configuration has been validated before in every normal path).
    pub fn new(cfg: &crate::config::Config) -> Generator {
        let p = &cfg.data.synthetic;
        let seed_key = fmix64(cfg.seed ^ 0x5EED_C217_E0DA_7A00);
        let vocab = scaled_cardinalities(&cfg.data.cardinalities, p.cardinality_scale);
        let at = |v: &[f64], i: usize| v.get(i).copied().unwrap_or(0.0);

        // Per-column importance weights, from hashes of the seed: some columns matter more than
        // others, as in Criteo, without hand-picking which.
        let weight = |tag: u64, j: usize| 0.25 + unit_of(hash2(seed_key ^ tag, j as u64));
        let w_eff: Vec<f64> = (0..NUM_CAT).map(|j| weight(0xE1, j)).collect();
        let w_lat: Vec<f64> = (0..NUM_CAT).map(|j| weight(0x1A, j)).collect();
        let norm_eff = w_eff.iter().map(|w| w * w).sum::<f64>().sqrt();
        // Var(sum_{j<l} g_j g_l <v_j, v_l>) = LATENT * sum_{j<l} g_j^2 g_l^2 for unit-variance
        // latents; g_j = lambda * w_j with lambda chosen to hit interaction_signal.
        let sq: Vec<f64> = w_lat.iter().map(|w| w * w).collect();
        let total: f64 = sq.iter().sum();
        let pair_sum = (total * total - sq.iter().map(|x| x * x).sum::<f64>()) / 2.0;
        let lambda = (p.interaction_signal.powi(2) / (LATENT as f64 * pair_sum)).powf(0.25);

        let cats = (0..NUM_CAT)
            .map(|j| {
                let missing = at(&p.cat_missing, j).clamp(0.0, 0.999);
                CatColumn {
                    zipf: p.column_law(j, vocab.get(j).copied().unwrap_or(1)),
                    missing,
                    inv_present: 1.0 / (1.0 - missing),
                    key: hash2(seed_key, 0xC000 + j as u64),
                    effect: p.token_signal * w_eff[j] / norm_eff,
                    latent: lambda * w_lat[j],
                }
            })
            .collect();

        let mut dense: Vec<DenseColumn> = (0..NUM_DENSE)
            .map(|k| {
                let missing = at(&p.dense_missing, k).clamp(0.0, 0.999);
                let zero = at(&p.dense_zero, k).clamp(0.0, 0.999);
                let q = match p.dense_quantiles.get(k) {
                    Some(q) if q.len() >= 2 => q.iter().map(|x| x.clamp(0.0, 30.0)).collect(),
                    _ => vec![0.0, 0.0],
                };
                DenseColumn {
                    missing,
                    inv_present: 1.0 / (1.0 - missing),
                    zero,
                    inv_positive: 1.0 / (1.0 - zero),
                    q,
                    coef: 0.0,
                }
            })
            .collect();
        // Standardise each dense column's planted effect with its own moments, computed on a fixed
        // grid of the same transform the rows use (missing included).
        let w_dense: Vec<f64> = (0..NUM_DENSE)
            .map(|k| normalish(hash2(seed_key ^ 0xDE, k as u64)))
            .collect();
        let norm_dense = w_dense.iter().map(|w| w * w).sum::<f64>().sqrt().max(1e-12);
        let mut dense_offset = 0.0;
        for (col, w) in dense.iter_mut().zip(&w_dense) {
            let (mean, sd) = col.moments();
            if sd > 1e-9 {
                col.coef = p.dense_signal * w / norm_dense / sd;
                dense_offset += col.coef * mean;
            }
        }

        let mut generator = Generator {
            seed_key,
            cats,
            dense,
            bias: 0.0,
            dense_offset,
        };
        generator.bias = generator.calibrate(p.click_rate.clamp(0.001, 0.999));
        generator
    }

    /// The bias that makes the mean true probability of the calibration rows `rate`.
    fn calibrate(&self, rate: f64) -> f64 {
        let mut logits = vec![0.0f64; CALIBRATION_ROWS as usize];
        logits
            .par_chunks_mut(CHUNK_ROWS)
            .enumerate()
            .for_each(|(c, chunk)| {
                let mut dense = [0.0f32; NUM_DENSE];
                let mut keys = [0u64; NUM_CAT];
                let mut strata = StrataKeys::new();
                for (i, l) in chunk.iter_mut().enumerate() {
                    let row = CALIBRATION_BASE + (c * CHUNK_ROWS + i) as u64;
                    *l = self.row(row, &mut strata, &mut dense, &mut keys).0;
                }
            });
        // The mean of sigmoid(l + b) increases with b: bisection, a fixed number of steps.
        let (mut lo, mut hi) = (-30.0f64, 30.0f64);
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            let mean = logits.iter().map(|l| sigmoid(l + mid)).sum::<f64>() / logits.len() as f64;
            if mean < rate {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }

    /// The calibrated bias (logits).
    pub fn bias(&self) -> f64 {
        self.bias
    }

    /// Vocabulary of each categorical column.
    pub fn vocab(&self) -> Vec<u64> {
        self.cats.iter().map(|c| c.zipf.vocab()).collect()
    }

    /// Generate row `index` (global): writes its dense values and keys, returns (logit without
    /// the bias, label uniform).
    #[inline]
    fn row(
        &self,
        index: u64,
        strata: &mut StrataKeys,
        dense: &mut [f32],
        keys: &mut [u64],
    ) -> (f64, f64) {
        let block_keys = strata.for_row(&self.cats, index);
        let mut rng = SplitMix64(hash2(self.seed_key, index));
        let mut logit = -self.dense_offset;
        let mut lat_sum = [0.0f64; LATENT];
        let mut lat_sq = 0.0f64;
        for (j, ((col, key), &block_key)) in self
            .cats
            .iter()
            .zip(keys.iter_mut())
            .zip(block_keys)
            .enumerate()
        {
            let u = stratified_unit(index, block_key, rng.next_unit_f64());
            // rank 0 stands for "missing": its own token, with its own effect.
            let rank = if u < col.missing {
                *key = token_key(j, None);
                0
            } else {
                let r = col.zipf.sample((u - col.missing) * col.inv_present);
                *key = token_key(j, Some(perm32(r as u32, col.key)));
                r
            };
            let h = hash2(col.key, rank);
            logit += col.effect * normalish(h);
            let v = latent4(fmix64(h ^ 0x1A7E_2417));
            let mut norm2 = 0.0;
            for (acc, x) in lat_sum.iter_mut().zip(v) {
                let gx = col.latent * x;
                *acc += gx;
                norm2 += gx * gx;
            }
            lat_sq += norm2;
        }
        // sum_{j<l} <g_j v_j, g_l v_l> = (|sum g v|^2 - sum |g v|^2) / 2
        let full: f64 = lat_sum.iter().map(|x| x * x).sum();
        logit += 0.5 * (full - lat_sq);
        for (col, out) in self.dense.iter().zip(dense.iter_mut()) {
            let u = rng.next_unit_f64();
            let y = col.draw(u);
            logit += col.coef * y;
            *out = y as f32;
        }
        (logit, rng.next_unit_f64())
    }

    /// Fill `out` with rows `first..first + rows` (global indices), labels and true probabilities.
    pub fn fill(&self, first: u64, rows: usize, out: &mut Batch) {
        // Every slot is overwritten below: only the length matters (no clear, so no memset of
        // a batch that keeps its size).
        out.dense.resize(rows * NUM_DENSE, 0.0);
        out.keys.resize(rows * NUM_CAT, 0);
        out.labels.resize(rows, 0.0);
        let mut probs = out.true_prob.take().unwrap_or_default();
        probs.resize(rows, 0.0);
        let work =
            |c: usize, dense: &mut [f32], keys: &mut [u64], labels: &mut [f32], p: &mut [f32]| {
                let base = first + (c * CHUNK_ROWS) as u64;
                let mut strata = StrataKeys::new();
                for (i, (((d, k), l), p)) in dense
                    .chunks_exact_mut(NUM_DENSE)
                    .zip(keys.chunks_exact_mut(NUM_CAT))
                    .zip(labels.iter_mut())
                    .zip(p.iter_mut())
                    .enumerate()
                {
                    let (logit, u) = self.row(base + i as u64, &mut strata, d, k);
                    let prob = sigmoid(logit + self.bias);
                    *p = prob as f32;
                    *l = if u < prob { 1.0 } else { 0.0 };
                }
            };
        if rows <= CHUNK_ROWS {
            work(
                0,
                &mut out.dense,
                &mut out.keys,
                &mut out.labels,
                &mut probs,
            );
        } else {
            out.dense
                .par_chunks_mut(CHUNK_ROWS * NUM_DENSE)
                .zip(out.keys.par_chunks_mut(CHUNK_ROWS * NUM_CAT))
                .zip(out.labels.par_chunks_mut(CHUNK_ROWS))
                .zip(probs.par_chunks_mut(CHUNK_ROWS))
                .enumerate()
                .for_each(|(c, (((d, k), l), p))| work(c, d, k, l, p));
        }
        out.true_prob = Some(probs);
    }
}

impl DenseColumn {
    /// The emitted value for the uniform `u`: missing (0), then a present 0, then the quantiles.
    #[inline(always)]
    fn draw(&self, u: f64) -> f64 {
        if u < self.missing {
            return 0.0;
        }
        let u = (u - self.missing) * self.inv_present;
        if u < self.zero {
            return 0.0;
        }
        self.value((u - self.zero) * self.inv_positive)
    }

    /// log(1 + x) for the quantile level `u` in [0, 1): linear between the fitted quantiles, then
    /// rounded to an integer x (Criteo's columns are integers; this recreates their point masses).
    #[inline(always)]
    fn value(&self, u: f64) -> f64 {
        let n = self.q.len() - 1;
        let pos = u * n as f64;
        let i = (pos as usize).min(n - 1);
        let t = pos - i as f64;
        let y = self.q[i] + t * (self.q[i + 1] - self.q[i]);
        round_log1p(y)
    }

    /// Mean and standard deviation of the emitted value (missing = 0), on a fixed grid of u.
    fn moments(&self) -> (f64, f64) {
        const GRID: usize = 4096;
        let (mut s1, mut s2) = (0.0, 0.0);
        for i in 0..GRID {
            let y = self.draw((i as f64 + 0.5) / GRID as f64);
            s1 += y;
            s2 += y * y;
        }
        let mean = s1 / GRID as f64;
        let var = (s2 / GRID as f64 - mean * mean).max(0.0);
        (mean, var.sqrt())
    }
}

/// Integers below this are rounded through the boundary table (no exp/ln in the hot loop); above
/// it the rounding moves x by less than 1/(2*ROUND_TABLE) relative and is skipped.
const ROUND_TABLE: usize = 64;

struct RoundTable {
    /// ln(k + 1.5): y below it rounds to x <= k.
    upper: [f64; ROUND_TABLE],
    /// ln(1 + k).
    log1p: [f64; ROUND_TABLE],
}

static ROUND: std::sync::LazyLock<RoundTable> = std::sync::LazyLock::new(|| RoundTable {
    upper: std::array::from_fn(|k| (k as f64 + 1.5).ln()),
    log1p: std::array::from_fn(|k| (k as f64).ln_1p()),
});

/// log(1 + round(exp(y) - 1)) for y >= 0: y moved onto the log of the nearest integer x.
#[inline(always)]
fn round_log1p(y: f64) -> f64 {
    let table = &*ROUND;
    if y >= table.upper[ROUND_TABLE - 1] {
        return y;
    }
    let k = table.upper.partition_point(|&b| b <= y);
    table.log1p[k]
}

#[inline(always)]
fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn unit_of(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

// ---------------------------------------------------------------------------------------------
// The data source.

/// The synthetic data source: an infinite training stream and a disjoint test set.
pub struct SyntheticSource {
    generator: Arc<Generator>,
    test_rows: usize,
    label: String,
}

impl SyntheticSource {
    pub fn new(cfg: &crate::config::Config) -> SyntheticSource {
        let scale = cfg.data.synthetic.cardinality_scale;
        let mut label = cfg.data_label();
        if scale < 1.0 {
            label.push_str(&format!(", vocabularies scaled x{scale}"));
        }
        SyntheticSource {
            generator: Arc::new(Generator::new(cfg)),
            test_rows: cfg.eval.test_rows,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn exact_pmf(v: u64, s: f64) -> Vec<f64> {
        let w: Vec<f64> = (1..=v).map(|r| (r as f64).powf(-s)).collect();
        let z: f64 = w.iter().sum();
        w.into_iter().map(|x| x / z).collect()
    }

    #[test]
    fn zipf_pmf_is_close_to_the_exact_law() {
        for &v in &[1u64, 3, 16, 17, 1000, 50_000] {
            for &s in &[0.0, 0.5, 0.999_999_9, 1.0, 1.000_002, 1.3, 3.0, 9.0] {
                let z = Zipf::new(v, s);
                let exact = exact_pmf(v, s);
                let tv: f64 = exact
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (p - z.pmf(i as u64 + 1)).abs())
                    .sum::<f64>()
                    / 2.0;
                assert!(tv < 2e-4, "v={v} s={s}: total variation {tv}");
                let total: f64 = (1..=v).map(|r| z.pmf(r)).sum();
                assert!((total - 1.0).abs() < 1e-9, "v={v} s={s}: mass {total}");
            }
        }
    }

    #[test]
    fn zipf_inverse_cdf_matches_its_pmf() {
        // The sampler maps u to rank r exactly on [cdf(r-1), cdf(r)): check it on a fine grid.
        for &(v, s) in &[
            (1000u64, 1.0),
            (200, 0.6),
            (10_000_000, 1.1),
            (10_000_000, 1.000_002),
            (4, 12.0),
        ] {
            let z = Zipf::new(v, s);
            let mut cdf = 0.0;
            for r in 1..=v.min(3000) {
                let next = cdf + z.pmf(r);
                let mid = 0.5 * (cdf + next);
                if next - cdf > 1e-12 {
                    assert_eq!(z.sample(mid), r, "v={v} s={s} u={mid}");
                }
                cdf = next;
            }
            assert!(z.sample(0.0) == 1 && z.sample(1.0 - 1e-16) <= v);
        }
    }

    #[test]
    fn expected_distinct_matches_sampling() {
        let z = Zipf::new(100_000, 1.05);
        let mut rng = SplitMix64(7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..8000 {
            seen.insert(z.sample(rng.next_unit_f64()));
        }
        let e = z.expected_distinct(&[8000.0])[0];
        assert!(
            (seen.len() as f64 - e).abs() < 0.03 * e,
            "{} vs {e}",
            seen.len()
        );
    }

    /// The laws of Criteo-like small and large columns with a fitted head.
    fn headed_laws() -> Vec<Zipf> {
        vec![
            Zipf::with_head(18, 6.9, &[0.5239, 0.3817, 0.0376, 0.0328, 0.0212]),
            Zipf::with_head(24, 16.0, &[0.5262, 0.2254, 0.1430, 0.0482, 0.0404, 0.0164]),
            Zipf::with_head(3, 0.1, &[0.8869, 0.1126]),
            // The head holds everything (sums a hair above 1 after rounding): rank 5 never drawn.
            Zipf::with_head(5, 1.0, &[0.5, 0.3, 0.2004]),
            Zipf::with_head(10_000_000, 1.05, &[0.05, 0.035, 0.0288, 0.0189, 0.0159]),
            Zipf::with_head(40, 2.0, &[0.2; 16][..4]),
        ]
    }

    #[test]
    fn headed_law_gives_the_head_and_shares_the_rest_by_the_power_law() {
        for z in headed_laws() {
            let total: f64 = (1..=z.vocab().min(100_000)).map(|r| z.pmf(r)).sum::<f64>()
                + if z.vocab() > 100_000 {
                    1.0 - (1..=100_000).map(|r| z.pmf(r)).sum::<f64>()
                } else {
                    0.0
                };
            assert!((total - 1.0).abs() < 1e-9, "{z:?}: mass {total}");
        }
        let z = Zipf::with_head(18, 6.9, &[0.5239, 0.3817, 0.0376, 0.0328, 0.0212]);
        assert!((z.pmf(1) - 0.5239).abs() < 1e-12 && (z.pmf(5) - 0.0212).abs() < 1e-12);
        let rest = 1.0 - (0.5239 + 0.3817 + 0.0376 + 0.0328 + 0.0212);
        let w: f64 = (6..=18).map(|r| (r as f64).powf(-6.9)).sum();
        for r in 6..=18u64 {
            let want = rest * (r as f64).powf(-6.9) / w;
            assert!(
                (z.pmf(r) - want).abs() < 1e-12,
                "rank {r}: {} vs {want}",
                z.pmf(r)
            );
        }
        let full = Zipf::with_head(5, 1.0, &[0.5, 0.3, 0.2004]);
        assert_eq!(full.pmf(4), 0.0);
        assert!((full.pmf(3) - 0.2004 / 1.0004).abs() < 1e-12);
        // No head is the pure law, bit for bit.
        let (a, b) = (Zipf::new(1000, 1.2), Zipf::with_head(1000, 1.2, &[]));
        for i in 0..1000 {
            let u = i as f64 / 1000.0;
            assert_eq!(a.sample(u), b.sample(u));
        }
    }

    #[test]
    fn headed_inverse_cdf_matches_its_pmf() {
        for z in headed_laws() {
            let mut cdf = 0.0;
            for r in 1..=z.vocab().min(3000) {
                let next = cdf + z.pmf(r);
                if next - cdf > 1e-12 {
                    assert_eq!(z.sample(0.5 * (cdf + next)), r, "{z:?} rank {r}");
                }
                cdf = next;
            }
            for u in [0.0, 0.5, 1.0 - 1e-16] {
                let r = z.sample(u);
                assert!(
                    (1..=z.vocab()).contains(&r) && z.pmf(r) > 0.0,
                    "{z:?} u={u} -> {r}"
                );
            }
        }
    }

    #[test]
    fn headed_expected_distinct_matches_sampling() {
        // Mean distinct count over many small samples, where the tail decides it.
        for z in headed_laws() {
            let (reps, n) = (400, 1500);
            let mut rng = SplitMix64(11);
            let mut total = 0usize;
            for _ in 0..reps {
                let mut seen = std::collections::BTreeSet::new();
                for _ in 0..n {
                    seen.insert(z.sample(rng.next_unit_f64()));
                }
                total += seen.len();
            }
            let mean = total as f64 / reps as f64;
            let e = z.expected_distinct(&[n as f64])[0];
            assert!((mean - e).abs() < 0.02 * e + 0.1, "{z:?}: {mean} vs {e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn zipf_sample_is_a_rank_in_range(v in 1u64..=(1u64 << 32), s in 0.0f64..=MAX_ZIPF_EXPONENT, u in 0.0f64..1.0) {
            let r = Zipf::new(v, s).sample(u);
            proptest::prop_assert!((1..=v).contains(&r), "v={} s={} u={} -> {}", v, s, u, r);
        }

        #[test]
        fn zipf_sample_is_monotone_in_u(v in 1u64..100_000_000, s in 0.0f64..4.0, a in 0.0f64..1.0, b in 0.0f64..1.0) {
            let z = Zipf::new(v, s);
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            proptest::prop_assert!(z.sample(lo) <= z.sample(hi));
        }
    }

    #[test]
    fn stratified_expected_distinct_matches_the_generator_draws() {
        // Average over blocks of the distinct ranks in each block's first rows, drawn as the
        // generator draws them, against the formula.
        let laws = [
            (
                Zipf::with_head(18, 6.9, &[0.5239, 0.3817, 0.0376, 0.0328, 0.0212]),
                0.8173,
            ),
            (Zipf::with_head(1460, 1.97, &[0.5, 0.17, 0.085, 0.05]), 0.0),
            (Zipf::new(100_000, 1.05), 0.3),
        ];
        for (z, missing) in laws {
            for rows in [500u64, 8000] {
                let blocks = 300u64;
                let mut total = 0usize;
                for block in 0..blocks {
                    let mut rng = SplitMix64(block ^ 0xABC);
                    let mut seen = std::collections::BTreeSet::new();
                    for i in 0..rows {
                        let key = strata_key(99, block);
                        let u =
                            stratified_unit((block << STRATA_BITS) + i, key, rng.next_unit_f64());
                        if u >= missing {
                            seen.insert(z.sample((u - missing) / (1.0 - missing)));
                        }
                    }
                    total += seen.len();
                }
                let mean = total as f64 / blocks as f64;
                let e = z.expected_distinct_stratified(&[rows as f64], missing)[0];
                assert!(
                    (mean - e).abs() < 0.01 * e + 0.05,
                    "{z:?} missing {missing} rows {rows}: sampled {mean} vs formula {e}"
                );
            }
        }
    }

    #[test]
    fn perm_strata_is_a_bijection_of_each_block() {
        for key in [0u64, 1, 0xDEAD_BEEF_1234_5678, u64::MAX] {
            let mut v: Vec<u64> = (0..1u64 << STRATA_BITS)
                .map(|x| perm_strata(x, key))
                .collect();
            v.sort_unstable();
            v.dedup();
            assert_eq!(v.len(), 1 << STRATA_BITS, "key {key:#x}");
        }
    }

    #[test]
    fn stratified_units_fill_every_stratum_once_per_block_and_look_uniform() {
        let n = 1u64 << STRATA_BITS;
        for block in [0u64, 5, TEST_BASE >> STRATA_BITS] {
            let mut rng = SplitMix64(block);
            let us: Vec<f64> = (0..n)
                .map(|i| {
                    stratified_unit(
                        (block << STRATA_BITS) + i,
                        strata_key(42, block),
                        rng.next_unit_f64(),
                    )
                })
                .collect();
            let mut strata: Vec<u64> = us.iter().map(|u| (u * n as f64) as u64).collect();
            strata.sort_unstable();
            assert_eq!(strata, (0..n).collect::<Vec<_>>(), "block {block}");
            // Consecutive rows are not ordered: their u are about as correlated as independent ones.
            let mean = us.iter().sum::<f64>() / n as f64;
            let var = us.iter().map(|u| (u - mean).powi(2)).sum::<f64>() / n as f64;
            let lag1 = us
                .windows(2)
                .map(|w| (w[0] - mean) * (w[1] - mean))
                .sum::<f64>()
                / ((n - 1) as f64 * var);
            assert!(lag1.abs() < 0.05, "block {block}: lag-1 correlation {lag1}");
        }
    }

    #[test]
    fn perm32_is_a_bijection_on_a_range() {
        let mut v: Vec<u32> = (0..100_000u32)
            .map(|r| perm32(r, 0xABCD_1234_5678))
            .collect();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), 100_000);
    }

    #[test]
    fn normalish_has_unit_variance() {
        let n = 200_000u64;
        let (mut s1, mut s2) = (0.0, 0.0);
        for i in 0..n {
            let x = normalish(fmix64(i));
            s1 += x;
            s2 += x * x;
        }
        let mean = s1 / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
    }

    #[test]
    fn round_log1p_matches_the_direct_formula() {
        for i in 0..20_000 {
            let y = i as f64 * 0.0007;
            let direct = y.exp_m1().round().ln_1p();
            let fast = round_log1p(y);
            let tol = if y < (ROUND_TABLE as f64 + 0.5).ln() {
                1e-12
            } else {
                0.01
            };
            assert!((direct - fast).abs() <= tol, "y={y}: {direct} vs {fast}");
        }
    }

    #[test]
    fn scaled_cardinalities_keep_small_columns() {
        assert_eq!(
            scaled_cardinalities(&[3, 100, 10_000_000, 1], 0.001),
            vec![3, 64, 10_000, 1]
        );
        assert_eq!(scaled_cardinalities(&[5, 1 << 40], 1.0), vec![5, 1 << 32]);
    }
}
