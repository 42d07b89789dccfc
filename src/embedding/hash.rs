//! Hashing of token keys into table rows: seeded xxh3 (64 or 128 bits) over the 8 little-endian
//! bytes of a `data::token_key`, cut into 32-bit slots, each reduced by multiply-shift.
//!
//! Owns: seed derivation, the slot layout (which 32-bit half feeds which index) and the reduction.
//! Must never: divide by a runtime value (the reduction is `(h * n) >> 32`), or depend on anything
//! but the key, the seed and the table sizes, so an index is the same on every thread and machine.

/// Most slots one key needs: `k + kw` with both at most 8 (config validation).
pub const MAX_SLOTS: usize = 16;

use xxhash_rust::xxh3::xxh3_128_with_seed;

/// Reduce a 32-bit hash to `0..n` without division (Lemire's multiply-shift). Requires
/// `n <= 2^32`; the result is `< n` for every `h`.
#[inline(always)]
pub fn reduce(h: u32, n: u64) -> u32 {
    ((h as u64 * n) >> 32) as u32
}

/// 64-bit xxh3 of a key with a seed (`xxh3_64_with_seed` of its 8 little-endian bytes).
#[inline(always)]
pub fn hash_key(key: u64, seed: u64) -> u64 {
    xxh3_64_key(key, flip_of(seed))
}

/// A seed for table `purpose`, derived from the session seed: different tables and different
/// session seeds get unrelated hash functions.
pub fn derive_seed(session_seed: u64, purpose: &str, index: u64) -> u64 {
    let mut bytes = Vec::with_capacity(purpose.len() + 16);
    bytes.extend_from_slice(purpose.as_bytes());
    bytes.extend_from_slice(&index.to_le_bytes());
    bytes.extend_from_slice(&session_seed.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64_with_seed(&bytes, 0x6d65_6d72_6563_0001)
}

/// Seeded xxh3-64 of an 8-byte key, specialised: for inputs of 4 to 8 bytes xxh3 is one keyed
/// xor and its "rrmxmx" avalanche (two multiplies), and the library call's length dispatch costs
/// more than that. `flip` is `flip_of(seed)`. Bit-identical to
/// `xxh3_64_with_seed(&key.to_le_bytes(), seed)` (tested on random keys and seeds).
#[inline(always)]
pub fn xxh3_64_key(key: u64, flip: u64) -> u64 {
    // input1 = low 32 bits, input2 = high 32 bits; xxh3 hashes input2 + (input1 << 32).
    let mut v = key.rotate_left(32) ^ flip;
    v ^= v.rotate_left(49) ^ v.rotate_left(24);
    v = v.wrapping_mul(0x9FB2_1C65_1E98_DF25);
    v ^= (v >> 35).wrapping_add(8);
    v = v.wrapping_mul(0x9FB2_1C65_1E98_DF25);
    v ^ (v >> 28)
}

/// The keyed constant of `xxh3_64_key` for `seed`: xxh3's default secret bytes 8..24, folded,
/// minus the seed with its low half byte-swapped into the high half.
pub fn flip_of(seed: u64) -> u64 {
    const SECRET_8: u64 = 0x1CAD_21F7_2C81_017C;
    const SECRET_16: u64 = 0xDB97_9083_E96D_D4DE;
    let seed = seed ^ (((seed as u32).swap_bytes() as u64) << 32);
    (SECRET_8 ^ SECRET_16).wrapping_sub(seed)
}

/// The hash functions of a MEM-REC representation: `k` token indices into `token_rows` and `kw`
/// weight indices into `weight_rows` per key.
///
/// Slot layout: the authors' reference code cuts one 64-bit hash into two 32-bit slots (high half
/// -> token row, low half -> weight row) and takes more seeded hashes when `k + kw > 2`. We cut
/// one seeded 128-bit xxh3 into four 32-bit slots, most significant first, and take another
/// seeded hash per further four slots: for an 8-byte key xxh3-128 costs little more than
/// xxh3-64, so the kaggle preset (`k = 2, kw = 1`) hashes each key once instead of twice, and
/// the hash is most of the fused kernel's work. Slots `0..k` index the token table and slots
/// `k..k+kw` the weight table.
#[derive(Debug, Clone, PartialEq)]
pub struct MemrecHasher {
    pub k: usize,
    pub kw: usize,
    pub token_rows: u64,
    pub weight_rows: u64,
    seeds: [u64; MAX_SLOTS / 4],
    hashes: usize,
}

impl MemrecHasher {
    /// `k` in 1..=8, `kw` in 0..=8, table sizes in 1..=2^32 (checked by `Config::validate`;
    /// out-of-range values are clamped here so nothing can index out of bounds).
    pub fn new(session_seed: u64, k: usize, kw: usize, token_rows: u64, weight_rows: u64) -> Self {
        let k = k.clamp(1, MAX_SLOTS / 2);
        let kw = kw.min(MAX_SLOTS / 2);
        let mut seeds = [0u64; MAX_SLOTS / 4];
        for (i, s) in seeds.iter_mut().enumerate() {
            *s = derive_seed(session_seed, "memrec", i as u64);
        }
        MemrecHasher {
            k,
            kw,
            token_rows: token_rows.clamp(1, 1 << 32),
            weight_rows: weight_rows.clamp(1, 1 << 32),
            seeds,
            hashes: (k + kw).div_ceil(4),
        }
    }

    /// The seed of the `i`-th 128-bit hash (slots `4i..4i + 4`).
    pub fn seed(&self, i: usize) -> u64 {
        self.seeds[i]
    }

    /// The `k + kw` raw 32-bit slots of a key (before reduction).
    #[inline(always)]
    pub fn slots(&self, key: u64, out: &mut [u32; MAX_SLOTS]) {
        for c in 0..self.hashes {
            let h = xxh3_128_with_seed(&key.to_le_bytes(), self.seeds[c]);
            out[4 * c] = (h >> 96) as u32;
            out[4 * c + 1] = (h >> 64) as u32;
            out[4 * c + 2] = (h >> 32) as u32;
            out[4 * c + 3] = h as u32;
        }
    }

    /// Token rows (`k` of them) then weight rows (`kw`) of a key.
    #[inline(always)]
    pub fn indices(&self, key: u64, out: &mut [u32; MAX_SLOTS]) {
        self.slots(key, out);
        for s in out.iter_mut().take(self.k) {
            *s = reduce(*s, self.token_rows);
        }
        for s in out.iter_mut().skip(self.k).take(self.kw) {
            *s = reduce(*s, self.weight_rows);
        }
    }
}

/// SplitMix64: a tiny deterministic generator for initialising tables from a seed.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 bits of precision (exact in f32).
    #[inline]
    pub fn next_unit_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// Uniform in [0, 1) with 53 bits.
    #[inline]
    pub fn next_unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [-bound, bound).
    #[inline]
    pub fn uniform(&mut self, bound: f32) -> f32 {
        (2.0 * self.next_unit_f32() - 1.0) * bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xxhash_rust::xxh3::xxh3_64_with_seed;

    #[test]
    fn reduce_stays_in_range_at_the_extremes() {
        for n in [1u64, 2, 3, 1000, 1 << 31, 1 << 32] {
            assert!((reduce(u32::MAX, n) as u64) < n);
            assert_eq!(reduce(0, n), 0);
        }
    }

    #[test]
    fn slot_layout_cuts_one_hash_most_significant_first() {
        let h = MemrecHasher::new(7, 2, 3, 1 << 32, 1 << 32);
        let mut s = [0u32; MAX_SLOTS];
        h.slots(42, &mut s);
        let first = xxh3_128_with_seed(&42u64.to_le_bytes(), h.seeds[0]);
        let second = xxh3_128_with_seed(&42u64.to_le_bytes(), h.seeds[1]);
        assert_eq!(s[0], (first >> 96) as u32);
        assert_eq!(s[3], first as u32);
        assert_eq!(s[4], (second >> 96) as u32);
        // With n = 2^32 the reduction is the identity.
        let mut idx = [0u32; MAX_SLOTS];
        h.indices(42, &mut idx);
        assert_eq!(idx[..5], s[..5]);
    }

    #[test]
    fn specialised_xxh3_equals_the_crate() {
        let mut rng = SplitMix64(11);
        for i in 0..200_000u64 {
            let key = if i < 64 { 1u64 << i } else { rng.next_u64() };
            let seed = match i % 4 {
                0 => 0,
                1 => u64::MAX,
                _ => rng.next_u64(),
            };
            assert_eq!(
                xxh3_64_key(key, flip_of(seed)),
                xxh3_64_with_seed(&key.to_le_bytes(), seed),
                "key {key:#x} seed {seed:#x}"
            );
        }
    }
}
