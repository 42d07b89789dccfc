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
//! each reduced by multiply-shift), forward, and the sparse backward: every output float is one
//! element of `A`, so each element's gradient is the sum, in batch order, of the output
//! gradients that read it. Must never: divide by a runtime value (the wrap is one compare and
//! subtract, valid since `Z <= S`), or let the thread count change a sum.

use rayon::prelude::*;

use super::collisions::FeatureCollisions;
use super::hash::{MAX_SLOTS, SplitMix64, derive_seed, flip_of, reduce, xxh3_64_key};
use super::rows::check_shapes;
use super::table::{AlignedBuf, RowGroups, RowState, apply_sparse};
use super::{OutputShape, Representation, SparseOptimizer, TableInfo};
use crate::config::Config;
use crate::data::NUM_CAT;

/// Samples per rayon task.
const CHUNK: usize = 64;
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
        let dim = self.dim;
        let mut pos = std::mem::take(&mut self.pos);
        pos.resize(keys.len() * dim, 0);
        let this = &*self;
        let a = this.array.as_slice();
        let per = CHUNK * NUM_CAT;
        keys.par_chunks(per)
            .zip(out.par_chunks_mut(per * dim))
            .zip(pos.par_chunks_mut(per * dim))
            .for_each(|((kc, oc), pc)| {
                let mut offs = [0u32; MAX_BLOCKS];
                for ((&key, o), p) in kc
                    .iter()
                    .zip(oc.chunks_exact_mut(dim))
                    .zip(pc.chunks_exact_mut(dim))
                {
                    this.positions(key, &mut offs, p);
                    for (o, &p) in o.iter_mut().zip(p.iter()) {
                        *o = a[p as usize];
                    }
                }
            });
        self.pos = pos;
    }

    fn forward_eval(&self, keys: &[u64], out: &mut [f32]) {
        check_shapes("robe-z", keys, out.len(), self.dim);
        let dim = self.dim;
        let a = self.array.as_slice();
        keys.par_chunks(CHUNK * NUM_CAT)
            .zip(out.par_chunks_mut(CHUNK * NUM_CAT * dim))
            .for_each(|(kc, oc)| {
                let mut offs = [0u32; MAX_BLOCKS];
                let mut pos = [0u32; MAX_BLOCKS];
                let pos = &mut pos[..dim];
                for (&key, o) in kc.iter().zip(oc.chunks_exact_mut(dim)) {
                    self.positions(key, &mut offs, pos);
                    for (o, &p) in o.iter_mut().zip(pos.iter()) {
                        *o = a[p as usize];
                    }
                }
            });
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
