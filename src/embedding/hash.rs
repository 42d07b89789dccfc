//! Hashing of token keys into table rows: seeded xxh3 (64 or 128 bits) over the 8 little-endian
//! bytes of a `data::token_key`, cut into 32-bit slots, each reduced by multiply-shift.
//!
//! Owns: seed derivation, the slot layout (which 32-bit half feeds which index) and the reduction.
//! Must never: divide by a runtime value (the reduction is `(h * n) >> 32`), or depend on anything
//! but the key, the seed and the table sizes, so an index is the same on every thread and machine.

/// Most slots one key needs: `k + kw` with both at most 8 (config validation).
pub const MAX_SLOTS: usize = 16;

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

/// Hasher for sets and maps keyed by token keys: xxh3 of the key (deterministic and fast). Only
/// for containers whose iteration order never reaches a result (e.g. a set whose size is read).
#[derive(Clone, Copy, Default)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = hash_key(x, self.0);
    }
}

/// Builds [`KeyHasher`]s, all with seed 0.
#[derive(Clone, Copy, Default)]
pub struct BuildKeyHasher;

impl std::hash::BuildHasher for BuildKeyHasher {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
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

/// [`xxh3_64_key`] of the 8 keys in the lanes of `key`, with AVX-512 (64-bit multiplies from
/// AVX-512DQ, rotates from AVX-512F). `flip` is `flip_of(seed)`. The same operations lane by
/// lane, so bit-identical to the scalar function (tested).
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512DQ (callers with those features enabled may call it
/// safely).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
#[inline]
pub fn xxh3_64_key_x8(key: std::arch::x86_64::__m512i, flip: u64) -> std::arch::x86_64::__m512i {
    use std::arch::x86_64::*;
    let mx = _mm512_set1_epi64(0x9FB2_1C65_1E98_DF25_u64 as i64);
    let mut v = _mm512_xor_si512(_mm512_rol_epi64::<32>(key), _mm512_set1_epi64(flip as i64));
    v = _mm512_xor_si512(
        v,
        _mm512_xor_si512(_mm512_rol_epi64::<49>(v), _mm512_rol_epi64::<24>(v)),
    );
    v = _mm512_mullo_epi64(v, mx);
    v = _mm512_xor_si512(
        v,
        _mm512_add_epi64(_mm512_srli_epi64::<35>(v), _mm512_set1_epi64(8)),
    );
    v = _mm512_mullo_epi64(v, mx);
    _mm512_xor_si512(v, _mm512_srli_epi64::<28>(v))
}

/// xxh3's default secret, bytes 16..24 and 24..32 (little-endian), and the multipliers of its
/// 4-to-8-byte 128-bit path.
const SECRET_16: u64 = 0xDB97_9083_E96D_D4DE;
const SECRET_24: u64 = 0x1F67_B3B7_A4A4_4072;
/// PRIME64_1 + (len << 2) for len = 8.
const PRIME64_1_LEN8: u64 = 0x9E37_79B1_85EB_CA87 + 32;
const PRIME_MX1: u64 = 0x1656_6791_9E37_79F9;
const PRIME_MX2: u64 = 0x9FB2_1C65_1E98_DF25;

/// The keyed constant of `xxh3_128_key` for `seed`: xxh3's default secret bytes 16..32, folded,
/// plus the seed with its low half byte-swapped into the high half.
pub fn flip128_of(seed: u64) -> u64 {
    let seed = seed ^ (((seed as u32).swap_bytes() as u64) << 32);
    (SECRET_16 ^ SECRET_24).wrapping_add(seed)
}

/// Seeded xxh3-128 of an 8-byte key, specialised as `xxh3_64_key` is: one keyed xor, one
/// 64x64->128 multiply and two short avalanches. `flip` is `flip128_of(seed)`. Returns (high,
/// low) 64-bit halves, bit-identical to `xxh3_128_with_seed(&key.to_le_bytes(), seed)` (tested).
#[inline(always)]
pub fn xxh3_128_key(key: u64, flip: u64) -> (u64, u64) {
    let m = (key ^ flip) as u128 * PRIME64_1_LEN8 as u128;
    let (mut hi, mut lo) = ((m >> 64) as u64, m as u64);
    hi = hi.wrapping_add(lo << 1);
    lo ^= hi >> 3;
    lo ^= lo >> 35;
    lo = lo.wrapping_mul(PRIME_MX2);
    lo ^= lo >> 28;
    hi ^= hi >> 37;
    hi = hi.wrapping_mul(PRIME_MX1);
    hi ^= hi >> 32;
    (hi, lo)
}

/// Samples hashed together by the fused kernel: 8 samples of 26 keys are 208 keys, exactly 26
/// vectors of 8, so no vector lane is wasted (one sample alone would fill 4 vectors for 26 keys).
pub const BLOCK_SAMPLES: usize = 8;
/// Keys of a block: the row length of [`BlockIndices`].
pub const BLOCK_KEYS: usize = BLOCK_SAMPLES * crate::data::NUM_CAT;

/// The reduced indices of a block's keys, slot-major: `[s][j]` is slot `s` of key `j`, so one
/// vector store writes a slot of 8 keys.
pub type BlockIndices = [[u32; BLOCK_KEYS]; MAX_SLOTS];

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
    /// `flip128_of` of each seed.
    flips: [u64; MAX_SLOTS / 4],
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
            flips: seeds.map(flip128_of),
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
            let (hi, lo) = xxh3_128_key(key, self.flips[c]);
            out[4 * c] = (hi >> 32) as u32;
            out[4 * c + 1] = hi as u32;
            out[4 * c + 2] = (lo >> 32) as u32;
            out[4 * c + 3] = lo as u32;
        }
    }

    /// The rows (table size) slot `s` indexes: token rows for `s < k`, weight rows after.
    #[inline(always)]
    fn rows_of_slot(&self, s: usize) -> u64 {
        if s < self.k {
            self.token_rows
        } else {
            self.weight_rows
        }
    }

    /// [`MemrecHasher::indices`] of up to `BLOCK_KEYS` keys, slot-major into `out`; slots past
    /// `k + kw` and keys past `keys.len()` are left as they were.
    #[inline(always)]
    pub fn indices_block(&self, keys: &[u64], out: &mut BlockIndices) {
        let mut slots = [0u32; MAX_SLOTS];
        for (j, &key) in keys.iter().enumerate().take(BLOCK_KEYS) {
            self.slots(key, &mut slots);
            for (s, &h) in slots.iter().enumerate().take(self.k + self.kw) {
                out[s][j] = reduce(h, self.rows_of_slot(s));
            }
        }
    }

    /// [`MemrecHasher::indices_block`] with AVX-512, 8 keys per vector: the 64x64->128 multiply
    /// of xxh3 from four 32x32->64 ones (xxh3's own portable formula), the 64-bit multiplies with
    /// AVX-512DQ, the reduction with a 32x32->64 multiply. Bit-identical to the scalar path
    /// (tested); about 4x fewer instructions per key.
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512DQ.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq")]
    #[inline]
    pub unsafe fn indices_block_avx512(&self, keys: &[u64], out: &mut BlockIndices) {
        use std::arch::x86_64::*;
        let n = keys.len().min(BLOCK_KEYS);
        let slots = self.k + self.kw;
        let low32 = _mm512_set1_epi64(0xFFFF_FFFF);
        let p_lo = _mm512_set1_epi64((PRIME64_1_LEN8 & 0xFFFF_FFFF) as i64);
        let p_hi = _mm512_set1_epi64((PRIME64_1_LEN8 >> 32) as i64);
        let mx1 = _mm512_set1_epi64(PRIME_MX1 as i64);
        let mx2 = _mm512_set1_epi64(PRIME_MX2 as i64);
        for g in 0..n.div_ceil(8) {
            let lanes = (n - 8 * g).min(8);
            let mask: __mmask8 = if lanes == 8 { 0xFF } else { (1u8 << lanes) - 1 };
            // SAFETY: lanes 8g..8g+lanes are inside `keys`; masked-off lanes are not read.
            let kv = unsafe { _mm512_maskz_loadu_epi64(mask, keys.as_ptr().add(8 * g).cast()) };
            for c in 0..self.hashes {
                let a = _mm512_xor_si512(kv, _mm512_set1_epi64(self.flips[c] as i64));
                // 64x64 -> 128: a = (ah, al), p = (ph, pl) in 32-bit halves.
                let ah = _mm512_srli_epi64::<32>(a);
                let ll = _mm512_mul_epu32(a, p_lo);
                let hl = _mm512_mul_epu32(ah, p_lo);
                let lh = _mm512_mul_epu32(a, p_hi);
                let hh = _mm512_mul_epu32(ah, p_hi);
                let cross = _mm512_add_epi64(
                    _mm512_add_epi64(_mm512_srli_epi64::<32>(ll), _mm512_and_si512(hl, low32)),
                    lh,
                );
                let m_hi = _mm512_add_epi64(
                    _mm512_add_epi64(_mm512_srli_epi64::<32>(hl), _mm512_srli_epi64::<32>(cross)),
                    hh,
                );
                let m_lo =
                    _mm512_or_si512(_mm512_slli_epi64::<32>(cross), _mm512_and_si512(ll, low32));
                let mut hi = _mm512_add_epi64(m_hi, _mm512_slli_epi64::<1>(m_lo));
                let mut lo = _mm512_xor_si512(m_lo, _mm512_srli_epi64::<3>(hi));
                lo = _mm512_xor_si512(lo, _mm512_srli_epi64::<35>(lo));
                lo = _mm512_mullo_epi64(lo, mx2);
                lo = _mm512_xor_si512(lo, _mm512_srli_epi64::<28>(lo));
                hi = _mm512_xor_si512(hi, _mm512_srli_epi64::<37>(hi));
                hi = _mm512_mullo_epi64(hi, mx1);
                hi = _mm512_xor_si512(hi, _mm512_srli_epi64::<32>(hi));
                let parts = [
                    _mm512_srli_epi64::<32>(hi),
                    hi,
                    _mm512_srli_epi64::<32>(lo),
                    lo,
                ];
                for (p, &part) in parts.iter().enumerate() {
                    let s = 4 * c + p;
                    if s >= slots {
                        break;
                    }
                    let rows = self.rows_of_slot(s);
                    // (h * rows) >> 32 on the low 32 bits of each lane; rows = 2^32 is the
                    // identity (and does not fit the 32-bit multiplier).
                    let r = if rows == 1 << 32 {
                        part
                    } else {
                        _mm512_srli_epi64::<32>(_mm512_mul_epu32(
                            part,
                            _mm512_set1_epi64(rows as i64),
                        ))
                    };
                    // SAFETY: out[s] has BLOCK_KEYS lanes, a multiple of 8, and 8g < n <= it.
                    unsafe {
                        _mm256_storeu_si256(
                            out[s].as_mut_ptr().add(8 * g).cast(),
                            _mm512_cvtepi64_epi32(r),
                        )
                    };
                }
            }
        }
    }

    /// Whether this CPU runs [`MemrecHasher::indices_block_avx512`].
    pub fn simd_available() -> bool {
        crate::util::simd::avx512f() && crate::util::simd::avx512dq()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::SplitMix64;
    use xxhash_rust::xxh3::{xxh3_64_with_seed, xxh3_128_with_seed};

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

    /// (key, seed) cases: every single-bit key, then random keys; seeds 0, all ones and random.
    fn key_seed_cases(rng_seed: u64) -> impl Iterator<Item = (u64, u64)> {
        let mut rng = SplitMix64(rng_seed);
        (0..200_000u64).map(move |i| {
            let key = if i < 64 { 1u64 << i } else { rng.next_u64() };
            let seed = match i % 4 {
                0 => 0,
                1 => u64::MAX,
                _ => rng.next_u64(),
            };
            (key, seed)
        })
    }

    #[test]
    fn specialised_xxh3_128_equals_the_crate() {
        for (key, seed) in key_seed_cases(13) {
            let (hi, lo) = xxh3_128_key(key, flip128_of(seed));
            let want = xxh3_128_with_seed(&key.to_le_bytes(), seed);
            assert_eq!(
                ((hi as u128) << 64) | lo as u128,
                want,
                "key {key:#x} seed {seed:#x}"
            );
        }
    }

    /// Block lengths from 0 to a full block, every slot count, table sizes including 1 and 2^32.
    #[test]
    fn block_indices_scalar_and_simd_agree_with_indices() {
        let mut rng = SplitMix64(17);
        let keys: Vec<u64> = (0..BLOCK_KEYS).map(|_| rng.next_u64()).collect();
        for (k, kw) in [(1, 0), (2, 1), (1, 1), (3, 1), (2, 3), (8, 8), (5, 0)] {
            for (tr, wr) in [
                (16_384u64, 1_024u64),
                (1, 1 << 32),
                (1 << 32, 3),
                (999_983, 7),
            ] {
                let h = MemrecHasher::new(rng.next_u64(), k, kw, tr, wr);
                for n in (0..=20).chain([26, 103, 200, 207, BLOCK_KEYS]) {
                    let mut want: BlockIndices = [[u32::MAX; BLOCK_KEYS]; MAX_SLOTS];
                    let mut slots = [0u32; MAX_SLOTS];
                    for (j, &key) in keys[..n].iter().enumerate() {
                        h.indices(key, &mut slots);
                        for s in 0..k + kw {
                            want[s][j] = slots[s];
                        }
                    }
                    let mut scalar = [[u32::MAX; BLOCK_KEYS]; MAX_SLOTS];
                    h.indices_block(&keys[..n], &mut scalar);
                    for s in 0..k + kw {
                        assert_eq!(
                            scalar[s][..n],
                            want[s][..n],
                            "scalar k={k} kw={kw} n={n} s={s}"
                        );
                    }
                    #[cfg(target_arch = "x86_64")]
                    if MemrecHasher::simd_available() {
                        let mut simd = [[u32::MAX; BLOCK_KEYS]; MAX_SLOTS];
                        // SAFETY: AVX-512F and DQ are present (checked above).
                        unsafe { h.indices_block_avx512(&keys[..n], &mut simd) };
                        for s in 0..k + kw {
                            assert_eq!(
                                simd[s][..n],
                                want[s][..n],
                                "simd k={k} kw={kw} n={n} s={s}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn xxh3_64_of_8_lanes_equals_the_scalar_function() {
        #[cfg(target_arch = "x86_64")]
        if MemrecHasher::simd_available() {
            use std::arch::x86_64::*;
            let cases: Vec<(u64, u64)> = key_seed_cases(19).take(80_000).collect();
            for group in cases.chunks_exact(8) {
                let seed = group[0].1;
                let keys: [u64; 8] = std::array::from_fn(|i| group[i].0);
                let mut got = [0u64; 8];
                // SAFETY: AVX-512F and DQ are present (checked above); both arrays hold 8 u64.
                unsafe {
                    let kv = _mm512_loadu_si512(keys.as_ptr().cast());
                    let h = xxh3_64_key_x8(kv, flip_of(seed));
                    _mm512_storeu_si512(got.as_mut_ptr().cast(), h);
                }
                for (k, g) in keys.iter().zip(got) {
                    assert_eq!(
                        g,
                        xxh3_64_key(*k, flip_of(seed)),
                        "key {k:#x} seed {seed:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn specialised_xxh3_equals_the_crate() {
        for (key, seed) in key_seed_cases(11) {
            assert_eq!(
                xxh3_64_key(key, flip_of(seed)),
                xxh3_64_with_seed(&key.to_le_bytes(), seed),
                "key {key:#x} seed {seed:#x}"
            );
        }
    }
}
