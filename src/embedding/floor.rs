//! The latency floor of a lookup: the same memory reads a representation's forward makes, at the
//! same addresses, with every hash and index computed beforehand (untimed), and no other work
//! than summing (or placing) what was read and writing the output. `bench` times it on the same
//! batches as the kernel, so "ns per token against the floor" says what the hashing and the
//! kernel's own overheads cost above the memory traffic the method cannot avoid.
//!
//! Owns: the read plan (which spans of which table each output source reads) and the one gather
//! that executes any plan, specialised like the kernels (compile-time span lengths, AVX-512 where
//! the CPU has it, rayon over sources). Must never: compute a hash, allocate in the timed gather,
//! or read outside the tables (every offset is checked when the plan is built).
//!
//! A plan is a floor, not a second implementation: QR's two rows are summed rather than
//! multiplied (the same reads, one fewer rounding) and a feature with a full table reads its one
//! row twice (the second read hits L1); a ROBE block that would wrap around the array's end is
//! read from the last `Z` floats instead (one token in `S / Z`).

use rayon::prelude::*;

/// How a source's spans make its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// Every span is a whole output vector (`span == out_dim`); the output is their sum.
    Sum,
    /// Span `p` is output columns `p * span..(p + 1) * span` (`spans * span == out_dim`).
    Concat,
}

/// What one batch's lookups read: per source (a token, or a bundled sample), `spans` spans of
/// `span` floats of `rows`, combined as `combine` says, and `scalars` floats of `weights`
/// summed into a factor that scales the output (MEM-REC's weights; none elsewhere).
#[derive(Debug, Clone)]
pub struct ReadPlan<'a> {
    rows: &'a [f32],
    span: usize,
    spans: usize,
    combine: Combine,
    offsets: Vec<u32>,
    weights: &'a [f32],
    scalars: usize,
    scalar_offsets: Vec<u32>,
}

/// A plan whose offsets would read outside its tables, or whose shape is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("read plan: {0}")]
pub struct PlanError(String);

impl<'a> ReadPlan<'a> {
    /// Check the shape and every offset (so the gather may index without checks).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        rows: &'a [f32],
        span: usize,
        spans: usize,
        combine: Combine,
        offsets: Vec<u32>,
        weights: &'a [f32],
        scalars: usize,
        scalar_offsets: Vec<u32>,
    ) -> Result<ReadPlan<'a>, PlanError> {
        let too_wide = match combine {
            Combine::Sum => span > MAX_OUT,
            Combine::Concat => spans * span > MAX_OUT,
        };
        if span == 0 || spans == 0 || too_wide {
            return Err(PlanError(format!("{spans} spans of {span} floats")));
        }
        if !offsets.len().is_multiple_of(spans) {
            return Err(PlanError(format!(
                "{} offsets is not whole sources of {spans}",
                offsets.len()
            )));
        }
        let sources = offsets.len() / spans;
        if scalar_offsets.len() != sources * scalars {
            return Err(PlanError(format!(
                "{} scalar offsets for {sources} sources of {scalars}",
                scalar_offsets.len()
            )));
        }
        if let Some(&o) = offsets.iter().find(|&&o| o as usize + span > rows.len()) {
            return Err(PlanError(format!(
                "span at {o} past the table's {} floats",
                rows.len()
            )));
        }
        if let Some(&o) = scalar_offsets
            .iter()
            .find(|&&o| o as usize >= weights.len())
        {
            return Err(PlanError(format!(
                "weight at {o} past the table's {} floats",
                weights.len()
            )));
        }
        Ok(ReadPlan {
            rows,
            span,
            spans,
            combine,
            offsets,
            weights,
            scalars,
            scalar_offsets,
        })
    }

    pub fn sources(&self) -> usize {
        self.offsets.len() / self.spans
    }

    /// Floats written per source.
    pub fn out_dim(&self) -> usize {
        match self.combine {
            Combine::Sum => self.span,
            Combine::Concat => self.span * self.spans,
        }
    }

    /// Bytes of table read per source (spans and weights).
    pub fn bytes_per_source(&self) -> usize {
        4 * (self.span * self.spans + self.scalars)
    }
}

/// Widest output the gather supports (`model.dim` is at most 1024).
const MAX_OUT: usize = 1024;
/// Rayon tasks per batch: the fused kernels split a 2048-sample batch into 64 tasks too.
const TASKS: usize = 64;

/// Execute `plan`, writing `out_dim` floats per source into `out`.
///
/// # Panics
/// If `out` does not hold `sources * out_dim` floats.
pub fn gather(plan: &ReadPlan, out: &mut [f32]) {
    let per = plan.out_dim();
    assert_eq!(out.len(), plan.sources() * per, "floor: output length");
    let sources = plan.sources();
    if sources == 0 {
        return;
    }
    let chunk = sources.div_ceil(TASKS);
    crate::dispatch_dim!(plan.span, drive(plan, chunk, out))
}

fn drive<const L: usize>(plan: &ReadPlan, chunk: usize, out: &mut [f32]) {
    let per = plan.out_dim();
    out.par_chunks_mut(chunk * per)
        .enumerate()
        .for_each(|(c, oc)| run_best::<L>(plan, c * chunk, oc));
}

#[inline(always)]
fn run_best<const L: usize>(plan: &ReadPlan, first: usize, out: &mut [f32]) {
    crate::util::simd::dispatch!(fn<const L: usize>(plan: &ReadPlan, first: usize, out: &mut [f32]) {
        ["avx512f"] => run::<L>(plan, first, out),
        _ => run::<L>(plan, first, out),
    })
}

/// Sources `first..` into `out` (whole sources). `L` is the span length when fixed at compile
/// time (0: the plan's).
#[inline(always)]
fn run<const L: usize>(plan: &ReadPlan, first: usize, out: &mut [f32]) {
    let span = if L > 0 { L } else { plan.span };
    let per = plan.out_dim();
    let (rows, weights) = (plan.rows, plan.weights);
    let mut acc_fixed = [0f32; L];
    let mut acc_dynamic = [0f32; MAX_OUT];
    for (i, o) in out.chunks_exact_mut(per).enumerate() {
        let s = first + i;
        let offs = &plan.offsets[s * plan.spans..][..plan.spans];
        let mut a = 0f32;
        for &q in &plan.scalar_offsets[s * plan.scalars..][..plan.scalars] {
            // SAFETY: every scalar offset was checked in `ReadPlan::new`.
            a += unsafe { *weights.get_unchecked(q as usize) };
        }
        match plan.combine {
            Combine::Concat => {
                for (o, &off) in o.chunks_exact_mut(span).zip(offs) {
                    // SAFETY: `off + span <= rows.len()`, checked in `ReadPlan::new`.
                    let src = unsafe { rows.get_unchecked(off as usize..off as usize + span) };
                    super::table::copy_row::<L>(o, src);
                }
            }
            Combine::Sum => {
                let acc: &mut [f32] = if L > 0 {
                    &mut acc_fixed
                } else {
                    &mut acc_dynamic[..span]
                };
                // The first span is copied (one row: straight to the output), the others added.
                let at = |off: u32| {
                    // SAFETY: `off + span <= rows.len()`, checked in `ReadPlan::new`.
                    unsafe { rows.get_unchecked(off as usize..off as usize + span) }
                };
                if let [only] = offs {
                    super::table::copy_row::<L>(o, at(*only));
                } else {
                    super::table::copy_row::<L>(acc, at(offs[0]));
                    for &off in &offs[1..] {
                        for (x, y) in acc.iter_mut().zip(at(off)) {
                            *x += *y;
                        }
                    }
                    super::table::copy_row::<L>(o, acc);
                }
            }
        }
        if plan.scalars > 0 {
            for x in o.iter_mut() {
                *x *= a;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_sum_or_place_their_spans() {
        let rows: Vec<f32> = (0..64).map(|i| i as f32).collect();
        let w = [2.0f32, 3.0];
        // Two sources, each the sum of two 4-float spans, scaled by one weight.
        let p = ReadPlan::new(
            &rows,
            4,
            2,
            Combine::Sum,
            vec![0, 8, 4, 4],
            &w,
            1,
            vec![1, 0],
        )
        .unwrap();
        let mut out = vec![0f32; 8];
        gather(&p, &mut out);
        assert_eq!(out, [24.0, 30.0, 36.0, 42.0, 16.0, 20.0, 24.0, 28.0]);
        // One source of three 2-float spans side by side, no weights.
        let p = ReadPlan::new(
            &rows,
            2,
            3,
            Combine::Concat,
            vec![10, 0, 62],
            &[],
            0,
            vec![],
        )
        .unwrap();
        let mut out = vec![0f32; 6];
        gather(&p, &mut out);
        assert_eq!(out, [10.0, 11.0, 0.0, 1.0, 62.0, 63.0]);
    }

    #[test]
    fn plans_reading_outside_their_tables_are_refused() {
        let rows = [0f32; 16];
        assert!(ReadPlan::new(&rows, 4, 1, Combine::Sum, vec![13], &[], 0, vec![]).is_err());
        assert!(ReadPlan::new(&rows, 4, 1, Combine::Sum, vec![12], &[1.0], 1, vec![1]).is_err());
        assert!(ReadPlan::new(&rows, 4, 2, Combine::Sum, vec![0], &[], 0, vec![]).is_err());
        assert!(ReadPlan::new(&rows, 4, 1, Combine::Sum, vec![12], &[], 0, vec![]).is_ok());
    }
}
