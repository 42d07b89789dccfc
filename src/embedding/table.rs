//! Storage of embedding tables and their sparse, deterministic updates (the rows themselves live
//! in `util::aligned::AlignedBuf`).
//!
//! Owns: row-wise Adagrad state, and the aggregation of row gradients from occurrences. Must
//! never: let the thread count change a sum (each row's gradient is summed in occurrence order,
//! whatever runs in parallel), or touch rows the batch did not touch.

use rayon::prelude::*;

use super::SparseOptimizer;

/// Copy one row; with a compile-time length `DM` (> 0) the copy is inlined as a few vector
/// moves instead of a `memmove` call per row (which costs more than the copy at dim 16).
#[inline(always)]
pub fn copy_row<const DM: usize>(dst: &mut [f32], src: &[f32]) {
    if DM > 0 {
        if let (Ok(d), Ok(s)) = (<&mut [f32; DM]>::try_from(dst), <&[f32; DM]>::try_from(src)) {
            *d = *s;
        }
    } else {
        dst.copy_from_slice(src);
    }
}

/// Call `$f::<DM>` with `DM` = `$dim` for the common dims (16 = one cache line), else `DM = 0`
/// (runtime length).
#[macro_export]
#[doc(hidden)]
macro_rules! dispatch_dim {
    ($dim:expr, $f:ident ( $($arg:expr),* )) => {
        match $dim {
            4 => $f::<4>($($arg),*),
            8 => $f::<8>($($arg),*),
            16 => $f::<16>($($arg),*),
            32 => $f::<32>($($arg),*),
            64 => $f::<64>($($arg),*),
            128 => $f::<128>($($arg),*),
            _ => $f::<0>($($arg),*),
        }
    };
}

/// Hint the CPU to bring the cache line at `p` into L1 (a no-op elsewhere than x86-64).
#[inline(always)]
pub fn prefetch_read(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and has no effect on memory, whatever the address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Prefetch every cache line `v` touches (one hint per 64 bytes, plus its last line).
#[inline(always)]
pub fn prefetch_lines<T>(v: &[T]) {
    prefetch_bytes(v.as_ptr().cast(), std::mem::size_of_val(v));
}

/// Prefetch every cache line of the `bytes` bytes at `start` (one hint per 64 bytes, plus the
/// last line). Takes an address, not a slice, so it can point into memory other threads write.
#[inline(always)]
pub fn prefetch_bytes(start: *const u8, bytes: usize) {
    if bytes == 0 {
        return;
    }
    for off in (0..bytes).step_by(64) {
        // `wrapping_add`: only an address is formed; a prefetch never dereferences it.
        prefetch_read(start.wrapping_add(off));
    }
    prefetch_read(start.wrapping_add(bytes - 1));
}

/// Raw pointer that may cross threads: used only to write rows that are distinct by construction.
#[derive(Clone, Copy)]
struct RowPtr(*mut f32);
// SAFETY: every use writes disjoint rows (the unique rows of a `RowGroups`).
unsafe impl Send for RowPtr {}
unsafe impl Sync for RowPtr {}

impl RowPtr {
    // A method, not `.0`: closures then capture the whole (Sync) wrapper, not the raw field.
    fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// Occurrences of table rows in a batch, grouped by row in a deterministic order.
///
/// An occurrence is one use of a row by a *source* (a sample, or a (sample, feature) pair); each
/// source has `per_src` consecutive occurrences. After `build`, `rows[g]` is the g-th distinct row
/// and `srcs[starts[g]..starts[g+1]]` its sources in batch order. The order of the groups depends
/// only on the occurrences (ascending row, or first use for a batch small against the table);
/// no result depends on it, since every row is updated from its own group alone.
#[derive(Debug, Default, Clone)]
pub struct RowGroups {
    pub rows: Vec<u32>,
    pub starts: Vec<u32>,
    pub srcs: Vec<u32>,
    /// Group of each table row during `build`, `NO_GROUP` otherwise (kept between calls, so a
    /// batch costs its occurrences, not a pass over the table).
    group_of: Vec<u32>,
    counts: Vec<u32>,
    pairs: Vec<u64>,
    /// Distinct rows grouped by every `build` so far: the row updates the sparse optimizer has
    /// applied (one per distinct row per batch), counted for the explorer's "updates per row".
    pub updated: u64,
}

const NO_GROUP: u32 = u32::MAX;

impl RowGroups {
    /// Group `occ_rows` (row of each occurrence, `per_src` per source) of a table of `table_rows`.
    pub fn build(&mut self, occ_rows: &[u32], per_src: usize, table_rows: usize) {
        self.rows.clear();
        self.starts.clear();
        self.srcs.clear();
        let n = occ_rows.len();
        if n == 0 || per_src == 0 {
            self.starts.push(0);
            return;
        }
        if table_rows <= 2 * n {
            // Counting sort by row: stable, so sources stay in batch order; O(n + rows), and
            // the groups come in ascending row order, which the update then walks in order.
            self.counts.clear();
            self.counts.resize(table_rows + 1, 0);
            for &r in occ_rows {
                self.counts[r as usize + 1] += 1;
            }
            let mut total = 0u32;
            for r in 0..table_rows {
                let c = self.counts[r + 1];
                if c > 0 {
                    self.rows.push(r as u32);
                    self.starts.push(total);
                }
                self.counts[r + 1] = total;
                total += c;
            }
            self.starts.push(total);
            self.srcs.resize(n, 0);
            for (s, chunk) in occ_rows.chunks_exact(per_src).enumerate() {
                for &r in chunk {
                    let slot = &mut self.counts[r as usize + 1];
                    self.srcs[*slot as usize] = s as u32;
                    *slot += 1;
                }
            }
        } else if table_rows <= 16 * n {
            // A batch small against the table (a pass over the table would cost more than the
            // batch): groups in order of first use: one pass to number them and count their
            // occurrences (in `starts`), a prefix sum, one pass to place the sources (stable,
            // so each group's sources stay in batch order), then the touched entries of
            // `group_of` are reset. O(n), whatever the table's size.
            if self.group_of.len() < table_rows {
                self.group_of.resize(table_rows, NO_GROUP);
            }
            for &r in occ_rows {
                let g = &mut self.group_of[r as usize];
                if *g == NO_GROUP {
                    *g = self.rows.len() as u32;
                    self.rows.push(r);
                    self.starts.push(0);
                }
                self.starts[*g as usize] += 1;
            }
            let mut total = 0u32;
            for c in self.starts.iter_mut() {
                let count = *c;
                *c = total;
                total += count;
            }
            self.starts.push(total);
            self.srcs.resize(n, 0);
            // `starts[g]` serves as group g's cursor; the loop after restores the starts.
            for (s, chunk) in occ_rows.chunks_exact(per_src).enumerate() {
                for &r in chunk {
                    let g = self.group_of[r as usize] as usize;
                    self.srcs[self.starts[g] as usize] = s as u32;
                    self.starts[g] += 1;
                }
            }
            // Each cursor now sits at the next group's start: shift back by one group.
            for g in (1..self.rows.len()).rev() {
                self.starts[g] = self.starts[g - 1];
            }
            self.starts[0] = 0;
            for &r in &self.rows {
                self.group_of[r as usize] = NO_GROUP;
            }
        } else {
            // Few occurrences in a big table: sort (row, source) pairs; the pairs are unique up
            // to repeats of the same row within a source, which are equal, so order is total.
            self.pairs.clear();
            for (s, chunk) in occ_rows.chunks_exact(per_src).enumerate() {
                for &r in chunk {
                    self.pairs.push(((r as u64) << 32) | s as u64);
                }
            }
            self.pairs.sort_unstable();
            let mut last = u64::MAX;
            for (i, &p) in self.pairs.iter().enumerate() {
                let r = p >> 32;
                if r != last {
                    self.rows.push(r as u32);
                    self.starts.push(i as u32);
                    last = r;
                }
                self.srcs.push(p as u32);
            }
            self.starts.push(self.pairs.len() as u32);
        }
        self.updated += self.rows.len() as u64;
    }
}

/// `apply_sparse_with` where the contribution of source `s` is `contrib[s * dim..][..dim]`.
pub fn apply_sparse(
    table: &mut [f32],
    dim: usize,
    state: &mut RowState,
    groups: &RowGroups,
    contrib: &[f32],
    opt: SparseOptimizer,
) {
    // `grad.len()` is `dim`, a constant where `apply_sparse_with` specialises the row length.
    let add = |s: usize, grad: &mut [f32]| {
        let n = grad.len();
        for (x, y) in grad.iter_mut().zip(&contrib[s * n..][..n]) {
            *x += *y;
        }
    };
    apply_sparse_with(table, dim, state, groups, add, opt)
}

/// Row-wise Adagrad accumulators, one per row, allocated at the first Adagrad step.
#[derive(Debug, Default, Clone)]
pub struct RowState {
    pub acc: Vec<f32>,
}

impl RowState {
    pub fn bytes(&self) -> u64 {
        4 * self.acc.len() as u64
    }
}

/// Apply the summed gradients of the grouped rows: row `r` gets the sum over its sources `s` (in
/// source order) of what `add_contrib(s, grad)` adds into its `dim`-vector, then one optimizer
/// step. Rows not in `groups` are untouched. The contribution is computed where it is summed
/// (no per-source buffer to write and read back).
pub fn apply_sparse_with(
    table: &mut [f32],
    dim: usize,
    state: &mut RowState,
    groups: &RowGroups,
    add_contrib: impl Fn(usize, &mut [f32]) + Sync,
    opt: SparseOptimizer,
) {
    crate::dispatch_dim!(
        dim,
        apply_groups(table, dim, state, groups, &add_contrib, opt)
    )
}

/// `apply_sparse_with` for a compile-time row length `DM` (0: the run-time `dim`), so the
/// per-row loops unroll; the slice handed to `add_contrib` has that constant length too.
fn apply_groups<const DM: usize>(
    table: &mut [f32],
    dim: usize,
    state: &mut RowState,
    groups: &RowGroups,
    add_contrib: &(impl Fn(usize, &mut [f32]) + Sync),
    opt: SparseOptimizer,
) {
    let dim = if DM > 0 { DM } else { dim };
    let n_rows = table.len() / dim.max(1);
    if matches!(opt, SparseOptimizer::RowwiseAdagrad { .. }) && state.acc.len() != n_rows {
        state.acc.resize(n_rows, 0.0);
    }
    let tptr = RowPtr(table.as_mut_ptr());
    let aptr = RowPtr(state.acc.as_mut_ptr());
    let g_count = groups.rows.len();
    const GROUPS_PER_JOB: usize = 256;
    /// Groups between a row's prefetch and its update.
    const ROW_AHEAD: usize = 8;
    (0..g_count.div_ceil(GROUPS_PER_JOB))
        .into_par_iter()
        .for_each_init(
            || vec![0f32; dim],
            |grad, job| {
                let lo = job * GROUPS_PER_JOB;
                let hi = (lo + GROUPS_PER_JOB).min(g_count);
                let grad = &mut grad[..dim];
                for g in lo..hi {
                    // The rows are scattered over the table: ask for one a few groups ahead, so
                    // its cache misses overlap with this group's work.
                    if let Some(&ahead) = groups.rows[..hi].get(g + ROW_AHEAD) {
                        // `wrapping_add`: only an address; `ahead < n_rows`, as for `row` below.
                        let at = tptr.at(ahead as usize * dim);
                        prefetch_bytes(at.cast_const().cast(), 4 * dim);
                    }
                    let row = groups.rows[g] as usize;
                    grad.iter_mut().for_each(|x| *x = 0.0);
                    let (a, b) = (groups.starts[g] as usize, groups.starts[g + 1] as usize);
                    for &s in &groups.srcs[a..b] {
                        add_contrib(s as usize, grad);
                    }
                    // SAFETY: `row < n_rows` (rows come from indices into this table) and each
                    // row appears in exactly one group, so no two jobs write the same floats.
                    let w = unsafe { std::slice::from_raw_parts_mut(tptr.at(row * dim), dim) };
                    match opt {
                        SparseOptimizer::Sgd { lr } => {
                            for (p, x) in w.iter_mut().zip(grad.iter()) {
                                *p -= lr * *x;
                            }
                        }
                        SparseOptimizer::RowwiseAdagrad { lr, eps } => {
                            let mean_sq =
                                grad.iter().map(|x| x * x).sum::<f32>() / dim.max(1) as f32;
                            // SAFETY: `acc` has `n_rows` entries (resized above); rows distinct.
                            let acc = unsafe { &mut *aptr.at(row) };
                            *acc += mean_sq;
                            let step = lr / (acc.sqrt() + eps);
                            for (p, x) in w.iter_mut().zip(grad.iter()) {
                                *p -= step * *x;
                            }
                        }
                    }
                }
            },
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups_of(occ: &[u32], per_src: usize, rows: usize) -> Vec<(u32, Vec<u32>)> {
        let mut g = RowGroups::default();
        g.build(occ, per_src, rows);
        (0..g.rows.len())
            .map(|i| {
                (
                    g.rows[i],
                    g.srcs[g.starts[i] as usize..g.starts[i + 1] as usize].to_vec(),
                )
            })
            .collect::<Vec<_>>()
    }

    /// Groups sorted by row (their order is unspecified).
    fn sorted_groups(occ: &[u32], per_src: usize, rows: usize) -> Vec<(u32, Vec<u32>)> {
        let mut g = groups_of(occ, per_src, rows);
        g.sort();
        g
    }

    #[test]
    fn counting_and_sorting_paths_agree() {
        let occ = [5u32, 1, 5, 5, 0, 9, 1, 1];
        // Counting sort (10 rows), first use (100 rows), sorted pairs (10,000 rows).
        let small = sorted_groups(&occ, 2, 10);
        assert_eq!(
            groups_of(&occ, 2, 10),
            small,
            "the counting sort is ascending"
        );
        assert_eq!(sorted_groups(&occ, 2, 100), small);
        let big = sorted_groups(&occ, 2, 10_000);
        assert_eq!(small, big);
        assert_eq!(
            small,
            vec![
                (0, vec![2]),
                (1, vec![0, 3, 3]),
                (5, vec![0, 1, 1]),
                (9, vec![2])
            ]
        );
    }

    #[test]
    fn reused_groups_match_fresh_ones() {
        // `build` keeps its row->group map between calls: every call must leave it clean.
        let batches: [&[u32]; 4] = [
            &[3, 3, 7, 0, 7, 7],
            &[7, 1, 1, 3],
            &[0, 0, 0, 0],
            &[9, 2, 2, 9],
        ];
        let mut reused = RowGroups::default();
        for occ in batches {
            reused.build(occ, 2, 50);
            let mut fresh = RowGroups::default();
            fresh.build(occ, 2, 50);
            assert_eq!(
                (&reused.rows, &reused.starts, &reused.srcs),
                (&fresh.rows, &fresh.starts, &fresh.srcs)
            );
            assert_eq!(*reused.starts.last().unwrap() as usize, occ.len());
        }
        assert_eq!(
            groups_of(&[7, 1, 1, 3], 2, 50),
            vec![(7, vec![0]), (1, vec![0, 1]), (3, vec![1])]
        );
    }
}
