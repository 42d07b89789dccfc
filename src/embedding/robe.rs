//! ROBE-Z (Desai et al. 2022, "Random Offset Block Embedding"), one of the baselines beside
//! MEM-REC.
//!
//! All features share one flat array `A` of `S` floats. A token's `d`-vector is cut into `d / Z`
//! blocks of `Z` dimensions; block `b` is read from `Z` consecutive floats of `A` starting at a
//! hashed offset `o_b` in `0..S`, wrapping around the end (A is circular). `Z = 1` is
//! per-dimension hashing (HashedNets style); `Z = d` reads one whole vector at a hashed offset.
//! Memory is `4 S` bytes whatever the vocabulary.
//!
//! Owns: the array (64-byte aligned), the offsets (one seeded xxh3-64 gives two 32-bit slots,
//! each reduced by multiply-shift), the fused forward kernel (built as MEM-REC's: the keys of 8
//! samples hashed at once, 8 per AVX-512 vector, then each block copied out as `Z` contiguous
//! floats, one vector load at `Z = 16`; rayon over chunks of samples; nothing allocated), and the
//! sparse backward: every output float is one element of `A`, so each element's gradient is the
//! sum, in batch order, of the output gradients that read it. Must never: divide by a runtime
//! value (the wrap is one compare and subtract, valid since `Z <= S`), or let the thread count
//! change a sum.
//!
//! The authors' kernel (github.com/apd10/robez, `hashed_embedding_bag_kernel.cu`) runs one GPU
//! thread per output float, recomputes a universal hash `(a x + b i + c) mod P` with 64-bit
//! modulos for every float of a block, keeps offsets in `0..S - Z + 1` (no wrap) and stores one
//! 64-bit index per output float for the backward. Here a block is hashed once, offsets wrap
//! around `A` (so every element is equally likely to be read), and the backward's positions are
//! 32-bit.

use rayon::prelude::*;

use super::collisions::FeatureCollisions;
use super::explain::{RowKind, RowRef, RowUse, TokenLookup};
use super::floor::{Combine, ReadPlan};
use super::hash::{BLOCK_KEYS, MAX_SLOTS, derive_seed, flip_of, reduce, xxh3_64_key};
use super::rows::{check_shapes, dim_const};
use super::table::{RowGroups, RowState, apply_sparse, copy_row, prefetch_lines};
use super::{OutputShape, Representation, SparseOptimizer, TableInfo};
use crate::config::Config;
use crate::data::NUM_CAT;
use crate::util::aligned::AlignedBuf;
use crate::util::rng::SplitMix64;

/// Samples per rayon task: as MEM-REC's kernel (4 blocks of 8 samples).
const CHUNK: usize = 32;
/// Most blocks per vector: `d / Z` with `d <= 1024` (config) and `Z >= 1`.
const MAX_BLOCKS: usize = 1024;

/// ROBE-Z embeddings over one shared circular array.
#[derive(Debug, Clone)]
pub struct RobeZ {
    dim: usize,
    z: usize,
    blocks: usize,
    size: u64,
    /// `flip_of` the seed of each 64-bit hash (two block offsets per hash).
    flips: Vec<u64>,
    array: AlignedBuf,
    state: RowState,
    /// Element of `A` behind every output float of the last `forward_train`.
    pos: Vec<u32>,
    groups: RowGroups,
}

impl RobeZ {
    pub fn from_config(cfg: &Config) -> RobeZ {
        RobeZ::new(
            cfg.model.dim,
            cfg.memrec.robe_z,
            cfg.memrec.robe_size as u64,
            cfg.seed,
        )
    }

    /// `z` must divide `dim` and `size >= z` (checked by `Config::validate`; clamped here so
    /// nothing can index out of bounds). Elements start uniform in +-sqrt(d / S), DLRM's
    /// +-sqrt(1/rows) for the `S / d` rows the array holds.
    pub fn new(dim: usize, z: usize, size: u64, seed: u64) -> RobeZ {
        let dim = dim.clamp(1, MAX_BLOCKS);
        let mut z = z.clamp(1, dim);
        while !dim.is_multiple_of(z) {
            z -= 1;
        }
        let size = size.clamp(z as u64, 1 << 31);
        let blocks = dim / z;
        let bound = (dim as f64 / size as f64).sqrt().min(1.0) as f32;
        let init = derive_seed(seed, "robe.init", 0);
        let array = AlignedBuf::try_filled(size as usize, |i| {
            SplitMix64(init ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).uniform(bound)
        })
        .unwrap_or_else(|| AlignedBuf::zeros(size as usize));
        RobeZ {
            dim,
            z,
            blocks,
            size,
            flips: (0..blocks.div_ceil(2))
                .map(|i| flip_of(derive_seed(seed, "robe", i as u64)))
                .collect(),
            array,
            state: RowState::default(),
            pos: Vec::new(),
            groups: RowGroups::default(),
        }
    }

    /// The block offsets of a key (`blocks` of them) into `out`.
    #[inline]
    pub fn offsets(&self, key: u64, out: &mut [u32]) {
        for (c, chunk) in out[..self.blocks].chunks_mut(2).enumerate() {
            let h = xxh3_64_key(key, self.flips[c]);
            for (i, o) in chunk.iter_mut().enumerate() {
                *o = reduce((h >> (32 - 32 * i)) as u32, self.size);
            }
        }
    }

    /// Write the array positions of a key's `dim` floats.
    #[inline]
    fn positions(&self, key: u64, offs: &mut [u32], pos: &mut [u32]) {
        self.offsets(key, offs);
        let size = self.size as u32;
        for (b, p) in pos.chunks_exact_mut(self.z).enumerate() {
            for (i, p) in p.iter_mut().enumerate() {
                let at = offs[b] + i as u32;
                *p = if at >= size { at - size } else { at };
            }
        }
    }

    pub fn array(&self) -> &[f32] {
        self.array.as_slice()
    }
    pub fn array_mut(&mut self) -> &mut [f32] {
        self.array.as_mut_slice()
    }
    /// The array position behind every output float of the last `forward_train`, as its kernel
    /// recorded them.
    pub fn last_positions(&self) -> &[u32] {
        &self.pos
    }
}

impl Representation for RobeZ {
    fn kind(&self) -> &'static str {
        "robe-z"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn output_shape(&self) -> OutputShape {
        OutputShape::PerFeature
    }

    fn forward_train(&mut self, keys: &[u64], out: &mut [f32]) {
        check_shapes("robe-z", keys, out.len(), self.dim);
        let mut pos = std::mem::take(&mut self.pos);
        pos.resize(keys.len() * self.dim, 0);
        self.run::<true>(keys, out, &mut pos);
        self.pos = pos;
    }

    fn forward_eval(&self, keys: &[u64], out: &mut [f32]) {
        check_shapes("robe-z", keys, out.len(), self.dim);
        self.run::<false>(keys, out, &mut []);
    }

    fn read_plan(&self, keys: &[u64]) -> Option<ReadPlan<'_>> {
        let mut offsets = Vec::with_capacity(keys.len() * self.blocks);
        let mut offs = [0u32; MAX_BLOCKS];
        let last = (self.size - self.z as u64) as u32;
        for &key in keys {
            self.offsets(key, &mut offs);
            offsets.extend(offs[..self.blocks].iter().map(|&o| o.min(last)));
        }
        let a = self.array.as_slice();
        ReadPlan::new(
            a,
            self.z,
            self.blocks,
            Combine::Concat,
            offsets,
            &[],
            0,
            vec![],
        )
        .ok()
    }

    fn backward_update(&mut self, keys: &[u64], grad_out: &[f32], opt: SparseOptimizer) {
        check_shapes("robe-z", keys, grad_out.len(), self.dim);
        assert_eq!(
            grad_out.len(),
            self.pos.len(),
            "robe-z: backward_update without a forward_train of the same batch"
        );
        // Each output float is a source reading one element ("row" of width 1): the element's
        // gradient is the sum of its sources' output gradients, in batch order. Row-wise Adagrad
        // over width-1 rows is plain element-wise Adagrad.
        self.groups.build(&self.pos, 1, self.size as usize);
        apply_sparse(
            self.array.as_mut_slice(),
            1,
            &mut self.state,
            &self.groups,
            grad_out,
            opt,
        );
    }

    fn tables(&self) -> Vec<TableInfo> {
        vec![TableInfo {
            name: format!("array (Z = {})", self.z),
            rows: self.size,
            cols: 1,
            param_bytes: 4 * self.size,
            optimizer_bytes: self.state.bytes(),
        }]
    }

    fn row_updates(&self) -> u64 {
        self.groups.updated
    }

    /// Each block's start offset in the shared array (a block reads the `Z` floats from there,
    /// wrapping around the end).
    fn lookup_rows(&self, key: u64, out: &mut Vec<RowRef>) {
        let mut offs = [0u32; MAX_BLOCKS];
        self.offsets(key, &mut offs);
        out.extend(offs[..self.blocks].iter().map(|&o| RowRef {
            kind: RowKind::Block,
            feature: None,
            row: o as u64,
        }));
    }

    fn explain(&self, key: u64) -> Option<TokenLookup> {
        let mut offs = [0u32; MAX_BLOCKS];
        let mut pos = vec![0u32; self.dim];
        self.positions(key, &mut offs, &mut pos);
        let a = self.array.as_slice();
        let vector: Vec<f32> = pos.iter().map(|&p| a[p as usize]).collect();
        let mut at = Vec::new();
        self.lookup_rows(key, &mut at);
        let rows = at
            .into_iter()
            .zip(vector.chunks_exact(self.z))
            .map(|(at, v)| RowUse {
                at,
                values: v.to_vec(),
            })
            .collect();
        Some(TokenLookup {
            rows,
            vector,
            scale: None,
            formula: format!(
                "{} blocks of Z = {} floats, block b = A[o_b .. o_b + {}] (wrapping)",
                self.blocks, self.z, self.z
            ),
        })
    }

    /// Over the block offsets of each token (at most the first 8 blocks, as a multiset): "token
    /// rows" are offsets into the shared array, `tokens_per_row` counts tokens whose blocks start
    /// at the same offset, and a shared signature means the same set of offsets. Partly
    /// overlapping blocks also share floats; these statistics do not count that.
    fn collisions(&self, distinct_keys: &[u64]) -> Vec<FeatureCollisions> {
        let k = self.blocks.min(MAX_SLOTS / 2);
        let spec = super::collisions::Spec {
            k,
            kw: 0,
            shared: true,
            token_rows: [self.size; NUM_CAT],
            weight_rows: 1,
        };
        super::collisions::compute(distinct_keys, &spec, |key, slots| {
            let mut o = [0u32; MAX_BLOCKS];
            self.offsets(key, &mut o);
            slots[..k].copy_from_slice(&o[..k]);
        })
    }
}

impl RobeZ {
    /// The plain computation the kernel must reproduce bit for bit: one key at a time, the
    /// position of each output float, then the float. For tests and as the definition of the
    /// output.
    pub fn reference_forward(&self, keys: &[u64], out: &mut [f32]) {
        let a = self.array.as_slice();
        let mut offs = [0u32; MAX_BLOCKS];
        let mut pos = vec![0u32; self.dim];
        for (&key, o) in keys.iter().zip(out.chunks_exact_mut(self.dim)) {
            self.positions(key, &mut offs, &mut pos);
            for (o, &p) in o.iter_mut().zip(&pos) {
                *o = a[p as usize];
            }
        }
    }

    /// The fused forward over whole samples; in training, every output float's position in
    /// `A` into `pos`.
    fn run<const TRAIN: bool>(&self, keys: &[u64], out: &mut [f32], pos: &mut [u32]) {
        dim_const!(self.z, ZC => self.drive::<ZC, TRAIN>(keys, out, pos))
    }

    /// Split the batch into `CHUNK`-sample tasks and run the fused kernel on each.
    fn drive<const ZC: usize, const TRAIN: bool>(
        &self,
        keys: &[u64],
        out: &mut [f32],
        pos: &mut [u32],
    ) {
        let per = CHUNK * NUM_CAT;
        let d = self.dim;
        if TRAIN {
            keys.par_chunks(per)
                .zip(out.par_chunks_mut(per * d))
                .zip(pos.par_chunks_mut(per * d))
                .for_each(|((kc, oc), pc)| self.kernel_best::<ZC, true>(kc, oc, pc));
        } else {
            keys.par_chunks(per)
                .zip(out.par_chunks_mut(per * d))
                .for_each(|(kc, oc)| self.kernel_best::<ZC, false>(kc, oc, &mut []));
        }
    }

    /// Offsets of blocks `2c` and `2c + 1` (hash `c`) of a block of keys into `offs[0]` and
    /// `offs[1]`, one key at a time.
    #[inline(always)]
    fn block_offsets(&self, keys: &[u64], c: usize, offs: &mut [[u32; BLOCK_KEYS]; 2]) {
        let flip = self.flips[c];
        for (l, &key) in keys.iter().enumerate().take(BLOCK_KEYS) {
            let h = xxh3_64_key(key, flip);
            offs[0][l] = reduce((h >> 32) as u32, self.size);
            offs[1][l] = reduce(h as u32, self.size);
        }
    }

    /// [`RobeZ::block_offsets`] with AVX-512, 8 keys per vector (`S <= 2^31`, so the 32x32
    /// multiply of the reduction holds it).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq")]
    #[inline]
    fn block_offsets_avx512(&self, keys: &[u64], c: usize, offs: &mut [[u32; BLOCK_KEYS]; 2]) {
        use std::arch::x86_64::*;
        let n = keys.len().min(BLOCK_KEYS);
        let size = _mm512_set1_epi64(self.size as i64);
        for g in 0..n.div_ceil(8) {
            let lanes = (n - 8 * g).min(8);
            let mask: __mmask8 = if lanes == 8 { 0xFF } else { (1u8 << lanes) - 1 };
            // SAFETY: lanes 8g..8g+lanes are inside `keys`; masked-off lanes are not read.
            let kv = unsafe { _mm512_maskz_loadu_epi64(mask, keys.as_ptr().add(8 * g).cast()) };
            let h = super::hash::xxh3_64_key_x8(kv, self.flips[c]);
            let hi = _mm512_srli_epi64::<32>(_mm512_mul_epu32(_mm512_srli_epi64::<32>(h), size));
            let lo = _mm512_srli_epi64::<32>(_mm512_mul_epu32(h, size));
            // SAFETY: each row of `offs` holds BLOCK_KEYS (a multiple of 8) entries.
            unsafe {
                _mm256_storeu_si256(
                    offs[0].as_mut_ptr().add(8 * g).cast(),
                    _mm512_cvtepi64_epi32(hi),
                );
                _mm256_storeu_si256(
                    offs[1].as_mut_ptr().add(8 * g).cast(),
                    _mm512_cvtepi64_epi32(lo),
                );
            }
        }
    }

    /// The kernel compiled for the widest vector unit the CPU has (as `MemRec::kernel_best`).
    #[inline(always)]
    fn kernel_best<const ZC: usize, const TRAIN: bool>(
        &self,
        keys: &[u64],
        out: &mut [f32],
        pos: &mut [u32],
    ) {
        let me = self;
        crate::util::simd::dispatch!(fn<const ZC: usize, const TRAIN: bool>(
            me: &RobeZ,
            keys: &[u64],
            out: &mut [f32],
            pos: &mut [u32],
        ) {
            ["avx512f", "avx512dq"] => me.kernel::<ZC, TRAIN, true>(keys, out, pos),
            ["avx2"] => me.kernel::<ZC, TRAIN, false>(keys, out, pos),
            _ => me.kernel::<ZC, TRAIN, false>(keys, out, pos),
        })
    }

    /// The fused kernel over one chunk of samples. Blocks of 8 samples: the next block's keys
    /// are prefetched; per hash (two ROBE blocks each), the block's 208 keys are hashed (8 at a
    /// time with `SIMD`, only instantiated from `kernel_avx512`), then every key's ROBE block
    /// is copied out as `Z` contiguous floats (`ZC`: `Z` at compile time, 0 for the run-time
    /// one), in two pieces when it wraps around the end of `A`.
    #[inline(always)]
    fn kernel<const ZC: usize, const TRAIN: bool, const SIMD: bool>(
        &self,
        keys: &[u64],
        out: &mut [f32],
        pos: &mut [u32],
    ) {
        let z = if ZC > 0 { ZC } else { self.z };
        let d = self.dim;
        let size = self.size as usize;
        let a = self.array.as_slice();
        let mut offs = [[0u32; BLOCK_KEYS]; 2];
        for (b, block) in keys.chunks(BLOCK_KEYS).enumerate() {
            if let Some(next) = keys.get((b + 1) * BLOCK_KEYS..) {
                prefetch_lines(&next[..next.len().min(BLOCK_KEYS)]);
            }
            let t0 = b * BLOCK_KEYS;
            for c in 0..self.flips.len() {
                #[cfg(target_arch = "x86_64")]
                if SIMD {
                    // SAFETY: SIMD is only true in `kernel_avx512`, reached after checking that
                    // the CPU has AVX-512F and DQ.
                    unsafe { self.block_offsets_avx512(block, c, &mut offs) };
                } else {
                    self.block_offsets(block, c, &mut offs);
                }
                #[cfg(not(target_arch = "x86_64"))]
                self.block_offsets(block, c, &mut offs);
                let pair = (self.blocks - 2 * c).min(2);
                for t in 0..block.len() {
                    for (i, o) in offs[..pair].iter().enumerate() {
                        let col = (t0 + t) * d + (2 * c + i) * z;
                        let o = o[t] as usize;
                        copy_block::<ZC>(a, size, o, &mut out[col..col + z]);
                        if TRAIN {
                            block_positions::<ZC>(size, o, &mut pos[col..col + z]);
                        }
                    }
                }
            }
        }
    }
}

/// `dst` = the `dst.len()` floats of the circular array `a` (of `size` floats) from `o < size`.
#[inline(always)]
fn copy_block<const ZC: usize>(a: &[f32], size: usize, o: usize, dst: &mut [f32]) {
    let z = dst.len();
    if o + z <= size {
        copy_row::<ZC>(dst, &a[o..o + z]);
    } else {
        let first = size - o;
        dst[..first].copy_from_slice(&a[o..size]);
        dst[first..].copy_from_slice(&a[..z - first]);
    }
}

/// The positions `copy_block` reads, into `pos`.
#[inline(always)]
fn block_positions<const ZC: usize>(size: usize, o: usize, pos: &mut [u32]) {
    let z = if ZC > 0 { ZC } else { pos.len() };
    let (size, o) = (size as u32, o as u32);
    for (i, p) in pos[..z].iter_mut().enumerate() {
        let at = o + i as u32;
        *p = if at >= size { at - size } else { at };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_wrap_and_stay_in_range() {
        let r = RobeZ::new(16, 4, 37, 1);
        let mut offs = [0u32; MAX_BLOCKS];
        let mut pos = [0u32; 16];
        for key in 0..5000u64 {
            r.positions(key, &mut offs, &mut pos);
            for b in 0..4 {
                for i in 0..4 {
                    assert_eq!(pos[b * 4 + i] as u64, (offs[b] as u64 + i as u64) % 37);
                }
            }
        }
        assert_eq!(r.tables()[0].param_bytes, 4 * 37);
        assert_eq!(r.array().len(), 37);
    }
}
