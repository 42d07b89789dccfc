//! The one Zipf sampler: a bounded Zipf law over ranks 1..=v, with an optional fitted head,
//! sampled by inverse CDF in closed form (O(1) memory), with its pmf and expected distinct counts.
//!
//! Must never: store anything proportional to the vocabulary.

use super::rng::STRATA_BITS;
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

#[cfg(test)]
mod tests {
    use super::super::rng::{strata_key, stratified_unit};
    use super::*;
    use crate::data::synthetic::MAX_ZIPF_EXPONENT;
    use crate::util::rng::SplitMix64;
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
}
