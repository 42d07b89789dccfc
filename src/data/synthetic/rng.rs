//! Keyed hashes and stratified uniforms of the synthetic stream: every draw is a pure function of
//! (seed, column, row index), with no table.
//!
//! Must never: keep state beyond a row, or depend on the thread count.

use crate::util::rng::{GOLDEN, fmix64};
// ---------------------------------------------------------------------------------------------
// Hashing. splitmix64 for per-row randomness (one 64-bit state advanced per draw: ~1 ns, passes
// BigCrush), its finaliser for keyed hashes of (seed, column, rank).

#[inline(always)]
pub(super) fn hash2(a: u64, b: u64) -> u64 {
    fmix64(a ^ fmix64(b.wrapping_add(GOLDEN)))
}

/// A bijection of 32-bit integers keyed by `key` (xor, odd multiplies, xor-shifts are all
/// invertible): distinct ranks get distinct Criteo-looking 32-bit values, with no table.
#[inline(always)]
pub(super) fn perm32(x: u32, key: u64) -> u32 {
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
pub(super) fn perm_strata(x: u64, key: u64) -> u64 {
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
pub(super) fn stratified_unit(index: u64, block_key: u64, jitter: f64) -> f64 {
    let stratum = perm_strata(index, block_key);
    (stratum as f64 + jitter) * (1.0 / (1u64 << STRATA_BITS) as f64)
}

/// The key of a column's strata order in block `block`.
#[inline(always)]
pub(super) fn strata_key(column_key: u64, block: u64) -> u64 {
    hash2(column_key ^ 0x57EA_7A00, block)
}

/// A standard-normal-like value from a 64-bit hash: the sum of four 16-bit uniforms (Irwin-Hall,
/// n = 4), centred and scaled to unit variance. Bounded by ±3.46, smooth enough for effects.
#[inline(always)]
pub(super) fn normalish(h: u64) -> f64 {
    let s = (h & 0xFFFF) + ((h >> 16) & 0xFFFF) + ((h >> 32) & 0xFFFF) + (h >> 48);
    // Each 16-bit uniform has mean 32767.5 and variance (65536^2 - 1) / 12.
    // The sum's variance is 4 (65536^2 - 1) / 12 ≈ 65536^2 / 3.
    (s as f64 - 4.0 * 32767.5) * (3.0f64.sqrt() / 65536.0)
}

/// Four centred uniforms of unit variance from a 64-bit hash (the latent token vector).
#[inline(always)]
pub(super) fn latent4(h: u64) -> [f64; 4] {
    let c = |x: u64| ((x & 0xFFFF) as f64 - 32767.5) * (12.0f64.sqrt() / 65536.0);
    [c(h), c(h >> 16), c(h >> 32), c(h >> 48)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::SplitMix64;

    use super::super::generator::TEST_BASE;

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
}
