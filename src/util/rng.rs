//! The one random generator of the crate: SplitMix64 (Steele, Lea and Flood 2014; one 64-bit
//! state advanced by the golden-ratio step, then `fmix64`), and that finaliser on its own for
//! keyed hashes.
//!
//! Owns: every draw the engine makes from a seed: table and model initialisation, the synthetic
//! data's per-row randomness, benchmark inputs. Must never: change a bit of any stream. Trained
//! numbers depend on them (`tests/same_bits.rs`), so each way a caller turns the state into a
//! number keeps its own named method with its exact arithmetic, even where two look alike (e.g.
//! `unit_f64`, in [0, 1), against `unit_open_f64`, in (0, 1), for logarithms).

/// The golden-ratio increment of SplitMix64 (2^64 / phi, odd).
pub const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// Mixed into the seed by [`SplitMix64::salted`]: the first 64 bits of the fractional part of
/// sqrt(2) (SHA-512's first initial word), so a stream salted from seed `s` is unrelated to the
/// plain stream from `s`.
const SALT: u64 = 0x6a09_e667_f3bc_c908;

/// SplitMix64's output function (MurmurHash3's 64-bit finaliser with Stafford's variant 13
/// constants): a bijection of `u64` that mixes every input bit into every output bit.
#[inline(always)]
pub fn fmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64: a tiny deterministic generator (passes BigCrush; one add and `fmix64` per draw).
/// `SplitMix64(seed)` starts the plain stream of `seed`.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The stream of `seed` xor a fixed salt: the model's initialisation, whose seed is also
    /// the session seed other streams start from.
    pub fn salted(seed: u64) -> SplitMix64 {
        SplitMix64(seed ^ SALT)
    }

    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        fmix64(self.0)
    }

    /// Uniform in [0, 1) with 24 bits of precision (exact in f32).
    #[inline]
    pub fn next_unit_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// Uniform in [0, 1) with 53 bits.
    #[inline(always)]
    pub fn next_unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1) with 53 bits: the midpoints of the 2^53 cells of [0, 1), so never 0
    /// (safe under a logarithm) and never 1.
    #[inline]
    pub fn unit_open_f64(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Uniform in [-bound, bound).
    #[inline]
    pub fn uniform(&mut self, bound: f32) -> f32 {
        (2.0 * self.next_unit_f32() - 1.0) * bound
    }

    /// Normal with mean 0 and standard deviation `std`, by Box-Muller from two `unit_open_f64`
    /// draws (the cosine branch only), computed in f64 and rounded once to f32.
    pub fn normal(&mut self, std: f64) -> f32 {
        let (u1, u2) = (self.unit_open_f64(), self.unit_open_f64());
        (std * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference outputs of SplitMix64 from seed 0 (Vigna's `splitmix64.c`).
    #[test]
    fn the_stream_is_splitmix64() {
        let mut r = SplitMix64(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    }

    /// Each way of turning the stream into numbers, pinned to the bits the three generators it
    /// replaced gave (the model's `InitRng`, the tables' and the synthetic data's SplitMix64):
    /// trained numbers depend on every one of them.
    #[test]
    fn every_draw_keeps_its_bits() {
        let mut r = SplitMix64::salted(7);
        let normal: Vec<u32> = (0..3).map(|_| r.normal(1.0).to_bits()).collect();
        assert_eq!(normal, [0xbe4f86df, 0xbf62cb4e, 0x3f877f65]);
        let open: Vec<u64> = (0..2).map(|_| r.unit_open_f64().to_bits()).collect();
        assert_eq!(open, [0x3fe2ac93a29d7dc8, 0x3fba28f6200307cc]);
        let mut p = SplitMix64(7);
        let f64s: Vec<u64> = (0..2).map(|_| p.next_unit_f64().to_bits()).collect();
        assert_eq!(f64s, [0x3fd8f2f879164c82, 0x3f9130f35fd0f180]);
        let f32s: Vec<u32> = (0..2).map(|_| p.next_unit_f32().to_bits()).collect();
        assert_eq!(f32s, [0x3f669840, 0x3f153aeb]);
        let uniform: Vec<u32> = (0..2).map(|_| p.uniform(0.5).to_bits()).collect();
        assert_eq!(uniform, [0xbd42cc50, 0xbe804a84]);
    }
}
