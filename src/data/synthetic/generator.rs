//! The synthetic row generator: the planted model, its column laws and the bias calibration.
//! Rows are pure functions of (seed, global row index).
//!
//! Must never: store anything proportional to the vocabulary, or depend on the thread count.

use rayon::prelude::*;

use super::params::scaled_cardinalities;
use super::rng::{STRATA_BITS, hash2, latent4, normalish, perm32, strata_key, stratified_unit};
use super::zipf::Zipf;
use crate::data::{Batch, NUM_CAT, NUM_DENSE, token_key};
use crate::util::rng::{SplitMix64, fmix64};

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
    pub fn new(opts: &crate::data::DataOptions) -> Generator {
        let p = &opts.synthetic;
        let seed_key = fmix64(opts.seed ^ 0x5EED_C217_E0DA_7A00);
        let vocab = scaled_cardinalities(&opts.cardinalities, p.cardinality_scale);
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

#[cfg(test)]
mod tests {
    use super::*;
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
}
