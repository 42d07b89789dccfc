//! Lookup latency: the fused MEM-REC kernel against the uncompressed gather at the preset's full
//! cardinalities, with Zipf-skewed keys. `measure` feeds the explorer's latency panel (the engine
//! calls it); `measure_full` is what `memrec-tui bench` prints, which also times the
//! compressed forward's floor (`embedding::floor`: the same batches' reads with every index
//! computed untimed), in its own loop after the kernel's.
//!
//! Owns: the timing protocol (a dedicated thread pool of `cfg.effective_threads()`, `warmup`
//! untimed batches, then `batches` timed ones; median and p99), the full-size table (allocated
//! and written so its pages are real, or the largest that fits in ~60% of memory, labelled so),
//! and reading the machine's cache sizes. Must never: time anything but the kernel calls
//! (keys are generated before), or claim a full-size figure that was measured on a smaller table.
//!
//! A *token* is one (sample, feature) lookup: a batch of `B` samples is `26 B` tokens, whatever
//! the representation does per token (MEM-REC: K token rows and kw weights; uncompressed: 1 row).

use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::config::Config;
use crate::data::{NUM_CAT, token_key};
use crate::embedding::hash::derive_seed;
use crate::embedding::table::copy_row;
use crate::embedding::{SparseOptimizer, build_compressed};
use crate::train::protocol::LatencyReport;
use crate::util::aligned::{AlignedBuf, FillError};
use crate::util::rng::SplitMix64;

mod machine;
use machine::{MEM_SHARE, memory_budget};
pub use machine::{cache_sizes, fits};

/// Bytes of pre-generated keys kept at most; longer runs cycle through them.
const POOL_BYTES: usize = 256 << 20;
/// Timed forward+backward steps in `measure_full` (each also updates the tables).
const TRAIN_STEPS: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot start a pool of {threads} threads (config field `threads`): {reason}")]
    ThreadPool { threads: usize, reason: String },
    #[error(
        "cannot allocate the uncompressed table ({bytes} bytes); \
         memory budget {budget} bytes ({share:.0}% of physical memory, /proc/meminfo)"
    )]
    Alloc { bytes: u64, budget: u64, share: f64 },
    #[error("the measurement was stopped before it finished")]
    Stopped,
}

/// Asked between two timed batches (never inside one): `true` ends the measurement with
/// `BenchError::Stopped`, e.g. when a signal cancels the run that wanted it.
pub type Stop<'a> = dyn Fn() -> bool + Sync + 'a;

/// Everything `memrec-tui bench` prints: the latency report and what it was measured on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchOutput {
    #[serde(flatten)]
    pub latency: LatencyReport,
    pub preset: String,
    /// `memrec-bundled`, `memrec-per-feature`, `bloom-...`.
    pub representation: String,
    pub dim: usize,
    pub k: usize,
    pub token_rows: usize,
    pub kw: usize,
    pub weight_rows: usize,
    /// Rows of the uncompressed table actually gathered from, and its bytes.
    pub full_rows_measured: u64,
    pub full_bytes_measured: u64,
    pub full_measured_fits: String,
    /// Fastest timed batch of each side, ns per token: on a shared machine the median carries
    /// other processes' load, the minimum is closest to what the kernel can do.
    pub memrec_min_ns_per_token: f64,
    pub full_min_ns_per_token: f64,
    /// The floor of the compressed forward (`embedding::floor`: its reads alone, indices computed
    /// beforehand), median and fastest batch, ns per token; `null` when not measured (the
    /// explorer's probe) or the representation has no floor plan.
    pub floor_ns_per_token: Option<f64>,
    pub floor_min_ns_per_token: Option<f64>,
    /// Table bytes the floor reads per token.
    pub floor_bytes_per_token: Option<f64>,
    /// Forward + backward + sparse SGD update of MEM-REC, tokens per second (median step).
    pub memrec_fwd_bwd_tokens_per_s: f64,
    /// Median forward+backward+update time over median forward time.
    pub fwd_bwd_over_fwd: f64,
    /// Cache sizes read from the machine (bytes): L1 data, L2, L3; 0 when unknown.
    pub cache_bytes: [u64; 3],
    /// Zipf exponents of the keys (`data.synthetic.zipf_exponent`), min and max.
    pub zipf_exponent_range: [f64; 2],
}

/// Measure the fused MEM-REC forward (`cfg.memrec`) against the uncompressed gather.
pub fn measure(cfg: &Config) -> Result<LatencyReport, BenchError> {
    measure_until(cfg, &|| false)
}

/// `measure` that `stop` can end early (it is asked between timed batches): a sweep's task
/// cancelled by Slurm must be gone before Slurm's KillWait, and the probe takes seconds.
pub fn measure_until(cfg: &Config, stop: &Stop) -> Result<LatencyReport, BenchError> {
    Ok(run(cfg, false, stop)?.latency)
}

/// `measure`, plus what `memrec-tui bench` also reports: the compressed forward's floor, the
/// forward+backward+update throughput, and what the figures were measured on.
pub fn measure_full(cfg: &Config) -> Result<BenchOutput, BenchError> {
    run(cfg, true, &|| false)
}

struct Pool {
    /// Token keys per batch, for MEM-REC.
    keys: Vec<Vec<u64>>,
    /// Per batch, per token: the value's row within its feature's (possibly scaled) table.
    values: Vec<Vec<u32>>,
}

/// Median, p99 and fastest time of the uncompressed gather, ns per batch.
type GatherTimes = (f64, f64, f64);

/// Last uncompressed-gather measurement, keyed by table shape and timing plan.
static FULL_GATHER_CACHE: std::sync::Mutex<Option<(String, GatherTimes)>> =
    std::sync::Mutex::new(None);

fn run(cfg: &Config, with_training: bool, stop: &Stop) -> Result<BenchOutput, BenchError> {
    in_bench_pool(cfg, |threads| {
        run_in_pool(cfg, threads, with_training, stop)
    })
}

/// Run `f(threads)` on a pool of the configuration's threads, as every measurement does.
fn in_bench_pool<T: Send>(
    cfg: &Config,
    f: impl FnOnce(usize) -> Result<T, BenchError> + Send,
) -> Result<T, BenchError> {
    let threads = cfg.effective_threads();
    let pool =
        crate::util::compute_pool(threads, "memrec-bench").map_err(|e| BenchError::ThreadPool {
            threads,
            reason: e.to_string(),
        })?;
    pool.install(|| f(threads))
}

fn run_in_pool(
    cfg: &Config,
    threads: usize,
    with_training: bool,
    stop: &Stop,
) -> Result<BenchOutput, BenchError> {
    let b = &cfg.bench;
    let dim = cfg.model.dim;
    let full_rows: u64 = cfg.data.cardinalities.iter().sum();
    // The gather is timed on the dataset's own sizes (scaled vocabularies or not).
    let full_bytes = cfg.dataset_uncompressed_bytes();
    let cache = cache_sizes();
    let shape = full_shape(cfg, full_rows, full_bytes);
    let pool = make_pool(cfg, &shape.sizes, stop)?;
    let tokens = b.batch * NUM_CAT;
    let c = time_compressed(cfg, &pool, with_training, stop)?;
    let (full_med, full_p99, full_min) = time_full(cfg, &shape, &pool, threads, stop)?;

    let per_token = |t: f64| t / tokens as f64;
    let zipf = &cfg.data.synthetic.zipf_exponent;
    let memrec_bytes = c.bytes;
    let has_floor = !c.floor_times.is_empty();
    let latency = latency_report(
        cfg,
        (threads, &shape),
        (c.med, c.p99),
        (full_med, full_p99),
        memrec_bytes,
    );
    Ok(BenchOutput {
        latency,
        preset: cfg.name.clone(),
        representation: build_compressed(cfg).kind().to_string(),
        dim,
        k: cfg.memrec.k,
        token_rows: cfg.memrec.token_rows,
        kw: cfg.memrec.kw,
        weight_rows: cfg.memrec.weight_rows,
        full_rows_measured: shape.rows,
        full_bytes_measured: shape.bytes,
        full_measured_fits: fits(shape.bytes, &cache),
        memrec_min_ns_per_token: per_token(c.min),
        floor_ns_per_token: has_floor.then(|| per_token(c.floor_med)),
        floor_min_ns_per_token: has_floor.then(|| per_token(c.floor_min)),
        floor_bytes_per_token: has_floor.then_some(c.floor_bytes),
        full_min_ns_per_token: per_token(full_min),
        memrec_fwd_bwd_tokens_per_s: c.fwd_bwd_tokens_per_s,
        fwd_bwd_over_fwd: c.fwd_bwd_ratio,
        cache_bytes: cache.map(|c| c.unwrap_or(0)),
        zipf_exponent_range: [
            zipf.iter().copied().fold(f64::INFINITY, f64::min),
            zipf.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ],
    })
}

/// The report of a measurement: medians and p99 of the kernel and the gather (ns per batch), at
/// `threads` on the gathered table `shape`.
fn latency_report(
    cfg: &Config,
    (threads, shape): (usize, &FullShape),
    (med, p99): (f64, f64),
    (full_med, full_p99): (f64, f64),
    compressed_bytes: u64,
) -> LatencyReport {
    let b = &cfg.bench;
    let per_token = |t: f64| t / (b.batch * NUM_CAT) as f64;
    let full_bytes = cfg.dataset_uncompressed_bytes();
    let cache = cache_sizes();
    LatencyReport {
        compressed_ns_per_token: per_token(med),
        compressed_p99_ns: per_token(p99),
        full_ns_per_token: per_token(full_med),
        full_p99_ns: per_token(full_p99),
        speedup: full_med / med,
        compressed_bytes,
        full_bytes,
        full_measured_at_full_size: shape.rows == cfg.data.cardinalities.iter().sum::<u64>(),
        threads,
        batch: b.batch,
        batches: b.batches,
        compressed_fits: fits(compressed_bytes, &cache),
        full_fits: fits(full_bytes, &cache),
        ratio_range: None,
    }
}

/// The sweep's probe: `rounds` alternating rounds of the kernel's batches then the gather's,
/// on one table allocated for the probe (not the explorer's once-per-process gather), so each
/// round's ratio of kernel to gather is measured at the same moments. The report pools every
/// round's batches and says the lowest and highest round ratio (`ratio_range`); `stop` as in
/// `measure_until`.
pub fn measure_rounds(
    cfg: &Config,
    rounds: usize,
    stop: &Stop,
) -> Result<LatencyReport, BenchError> {
    in_bench_pool(cfg, |threads| {
        rounds_in_pool(cfg, threads, rounds.max(1), stop)
    })
}

fn rounds_in_pool(
    cfg: &Config,
    threads: usize,
    rounds: usize,
    stop: &Stop,
) -> Result<LatencyReport, BenchError> {
    let b = &cfg.bench;
    let dim = cfg.model.dim;
    let full_rows: u64 = cfg.data.cardinalities.iter().sum();
    let shape = full_shape(cfg, full_rows, cfg.dataset_uncompressed_bytes());
    let pool = make_pool(cfg, &shape.sizes, stop)?;
    let table = full_table(&shape, dim, stop)?;
    let rep = build_compressed(cfg);
    let mut out_k = AlignedBuf::zeros(b.batch * rep.outputs_per_sample() * dim);
    let mut out_g = AlignedBuf::zeros(b.batch * NUM_CAT * dim);
    let (mut kernel, mut gather, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let mut k = time_batches(b, pool.keys.len(), stop, |i| {
            rep.forward_eval(&pool.keys[i], &mut out_k);
            std::hint::black_box(&out_k);
        })?;
        let mut g = time_batches(b, pool.values.len(), stop, |i| {
            let values = &pool.values[i];
            full_gather(table.as_slice(), dim, &shape.offsets, values, &mut out_g);
            std::hint::black_box(&out_g);
        })?;
        ratios.push(median_p99(&mut k).0 / median_p99(&mut g).0);
        kernel.extend(k);
        gather.extend(g);
    }
    let (k, g) = (median_p99(&mut kernel), median_p99(&mut gather));
    let mut l = latency_report(cfg, (threads, &shape), k, g, rep.param_bytes());
    let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    l.ratio_range = Some([lo, hi]);
    Ok(l)
}

/// Time `run(i)` on batches `0..warmup + batches` (i cycling through a pool of `n_pool`),
/// asking `stop` before each: the timed batches past the warm-up, ns each.
fn time_batches(
    b: &crate::config::BenchConfig,
    n_pool: usize,
    stop: &Stop,
    mut run: impl FnMut(usize),
) -> Result<Vec<f64>, BenchError> {
    let mut times = Vec::with_capacity(b.batches);
    for i in 0..b.warmup + b.batches {
        stopped(stop)?;
        let t0 = Instant::now();
        run(i % n_pool);
        let dt = t0.elapsed().as_nanos() as f64;
        if i >= b.warmup {
            times.push(dt);
        }
    }
    Ok(times)
}

/// The uncompressed table of `shape`, every page written (see `time_full`).
fn full_table(shape: &FullShape, dim: usize, stop: &Stop) -> Result<AlignedBuf, BenchError> {
    AlignedBuf::try_filled_until(
        (shape.rows * dim as u64) as usize,
        |i| (i % 1021) as f32 * 1e-4,
        stop,
    )
    .map_err(|e| match e {
        FillError::Stopped => BenchError::Stopped,
        FillError::Alloc => BenchError::Alloc {
            bytes: shape.bytes,
            budget: shape.budget,
            share: MEM_SHARE * 100.0,
        },
    })
}

/// The uncompressed table the gather runs on: per-feature rows and offsets into one flat table.
struct FullShape {
    sizes: [u64; NUM_CAT],
    offsets: [u32; NUM_CAT],
    /// Rows and bytes of the table measured (the full tables' when they fit).
    rows: u64,
    bytes: u64,
    /// The memory budget it had to fit in, for the error when it cannot be allocated.
    budget: u64,
}

/// The uncompressed table: full size if it fits in the memory budget, else the largest that
/// does, each feature scaled by the same factor.
fn full_shape(cfg: &Config, full_rows: u64, full_bytes: u64) -> FullShape {
    let dim = cfg.model.dim;
    let cards = &cfg.data.cardinalities;
    let budget = memory_budget();
    let measured_rows = if full_bytes <= budget {
        full_rows
    } else {
        (budget / (4 * dim as u64)).max(NUM_CAT as u64)
    };
    let scale = measured_rows as f64 / full_rows as f64;
    let mut sizes = [1u64; NUM_CAT];
    let mut offsets = [0u32; NUM_CAT];
    let mut total = 0u64;
    for j in 0..NUM_CAT {
        sizes[j] = if measured_rows == full_rows {
            cards[j]
        } else {
            ((cards[j] as f64 * scale) as u64).max(1)
        };
        offsets[j] = total as u32;
        total += sizes[j];
    }
    FullShape {
        sizes,
        offsets,
        rows: total,
        bytes: 4 * dim as u64 * total,
        budget,
    }
}

/// What was timed of the compressed representation, ns per batch.
struct CompressedTimes {
    med: f64,
    p99: f64,
    min: f64,
    /// The floor's timed batches (empty when not measured) and its median, fastest, bytes/token.
    floor_times: Vec<f64>,
    floor_med: f64,
    floor_min: f64,
    floor_bytes: f64,
    /// Forward+backward+update, tokens per second, and its median over the forward's (0 when
    /// not measured).
    fwd_bwd_tokens_per_s: f64,
    fwd_bwd_ratio: f64,
    /// Parameter bytes of the representation.
    bytes: u64,
}

/// Time the compressed forward on the pool's batches; for the command (`with_training`) also
/// its floor and forward+backward+update (the explorer does not need them).
fn time_compressed(
    cfg: &Config,
    pool: &Pool,
    with_training: bool,
    stop: &Stop,
) -> Result<CompressedTimes, BenchError> {
    let b = &cfg.bench;
    let n_pool = pool.keys.len();
    let tokens = b.batch * NUM_CAT;
    let mut memrec = build_compressed(cfg);
    let mut out = AlignedBuf::zeros(b.batch * memrec.outputs_per_sample() * cfg.model.dim);
    let mut times = time_batches(b, n_pool, stop, |i| {
        memrec.forward_eval(&pool.keys[i], &mut out);
        std::hint::black_box(&out);
    })?;
    // Its floor, for the command: the same batches' reads, indices computed untimed.
    let (mut floor_times, floor_bytes) = if with_training {
        time_floor(
            memrec.as_ref(),
            &pool.keys,
            b.warmup + b.batches,
            b.warmup,
            &mut out,
            stop,
        )?
    } else {
        (Vec::new(), 0.0)
    };
    let (med, p99) = median_p99(&mut times);
    let min = times.first().copied().unwrap_or(f64::NAN);
    let (floor_med, _) = median_p99(&mut floor_times);
    let floor_min = floor_times.first().copied().unwrap_or(f64::NAN);

    // Forward + backward + update (only for the command: the explorer does not need it).
    let (fwd_bwd_tokens_per_s, fwd_bwd_ratio) = if with_training {
        let grad: Vec<f32> = (0..out.len())
            .map(|i| ((i % 7) as f32 - 3.0) * 1e-3)
            .collect();
        let opt = SparseOptimizer::Sgd { lr: 0.01 };
        let mut ts = Vec::with_capacity(TRAIN_STEPS);
        for i in 0..TRAIN_STEPS + 5 {
            stopped(stop)?;
            let keys = &pool.keys[i % n_pool];
            let t0 = Instant::now();
            memrec.forward_train(keys, &mut out);
            memrec.backward_update(keys, &grad, opt);
            let dt = t0.elapsed().as_nanos() as f64;
            if i >= 5 {
                ts.push(dt);
            }
        }
        let (step_med, _) = median_p99(&mut ts);
        (tokens as f64 / (step_med * 1e-9), step_med / med)
    } else {
        (0.0, 0.0)
    };
    Ok(CompressedTimes {
        med,
        p99,
        min,
        floor_times,
        floor_med,
        floor_min,
        floor_bytes,
        fwd_bwd_tokens_per_s,
        fwd_bwd_ratio,
        bytes: memrec.param_bytes(),
    })
}

/// `Err(Stopped)` once `stop` says so.
fn stopped(stop: &Stop) -> Result<(), BenchError> {
    if stop() {
        Err(BenchError::Stopped)
    } else {
        Ok(())
    }
}

/// Time the uncompressed gather: one row per (sample, feature), written to a batch x 26 x dim
/// output like PyTorch's EmbeddingBag with one index per bag. Values chosen so every page is
/// written (calloc'd zero pages would all map to one physical page and stay in cache).
/// The uncompressed side depends only on the table shape, the skew and the timing plan, not on
/// the MEM-REC knobs: measure it once per process and shape, so the explorer's re-measurements
/// after a knob edit do not re-allocate and re-write gigabytes each time.
fn time_full(
    cfg: &Config,
    shape: &FullShape,
    pool: &Pool,
    threads: usize,
    stop: &Stop,
) -> Result<GatherTimes, BenchError> {
    let b = &cfg.bench;
    let dim = cfg.model.dim;
    let sizes = &shape.sizes;
    let full_key = format!(
        "{dim}|{sizes:?}|{:?}|{}|{}|{}|{threads}|{}",
        cfg.data.synthetic.zipf_exponent, b.batch, b.batches, b.warmup, cfg.seed
    );
    let cached = FULL_GATHER_CACHE
        .lock()
        .ok()
        .and_then(|c| c.as_ref().filter(|(k, _)| *k == full_key).map(|(_, v)| *v));
    if let Some(v) = cached {
        return Ok(v);
    }
    let table = full_table(shape, dim, stop)?;
    let mut out = AlignedBuf::zeros(b.batch * NUM_CAT * dim);
    let mut times = time_batches(b, pool.values.len(), stop, |i| {
        full_gather(
            table.as_slice(),
            dim,
            &shape.offsets,
            &pool.values[i],
            &mut out,
        );
        std::hint::black_box(&out);
    })?;
    drop(table);
    let (full_med, full_p99) = median_p99(&mut times);
    let full_min = times.first().copied().unwrap_or(f64::NAN);
    let v = (full_med, full_p99, full_min);
    if let Ok(mut c) = FULL_GATHER_CACHE.lock() {
        *c = Some((full_key, v));
    }
    Ok(v)
}

/// Batches (plus warm-up) timed in the floor's loop between two rounds of plan building.
const FLOOR_GROUP: usize = 16;

/// Time `embedding::floor::gather` on the plans of batches `0..total` (cycling through `keys`),
/// as the kernel was timed: consecutive batches. Plans are built untimed, `FLOOR_GROUP` at a
/// time; building them evicts part of the caches, so the first batch of each group is run once
/// untimed before the group is timed. Returns the timed batches past `warmup` (empty when the
/// representation has no plan) and the table bytes read per token.
fn time_floor(
    rep: &dyn crate::embedding::Representation,
    keys: &[Vec<u64>],
    total: usize,
    warmup: usize,
    out: &mut [f32],
    stop: &Stop,
) -> Result<(Vec<f64>, f64), BenchError> {
    let mut times = Vec::with_capacity(total.saturating_sub(warmup));
    let mut bytes = 0.0;
    for g in (0..total).step_by(FLOOR_GROUP) {
        let group: Vec<usize> = (g..total.min(g + FLOOR_GROUP)).collect();
        let plans: Option<Vec<_>> = group
            .iter()
            .map(|&i| rep.read_plan(&keys[i % keys.len()]))
            .collect();
        let Some(plans) = plans else {
            return Ok((Vec::new(), 0.0));
        };
        stopped(stop)?;
        crate::embedding::floor::gather(&plans[0], out);
        for (&i, plan) in group.iter().zip(&plans) {
            bytes = (plan.bytes_per_source() * plan.sources()) as f64
                / keys[i % keys.len()].len() as f64;
            let t0 = Instant::now();
            crate::embedding::floor::gather(plan, out);
            let dt = t0.elapsed().as_nanos() as f64;
            std::hint::black_box(&*out);
            if i >= warmup {
                times.push(dt);
            }
        }
    }
    Ok((times, bytes))
}

/// The uncompressed gather being timed: row `offsets[j] + value` of one flat table for every
/// (sample, feature), rayon over chunks of samples. Specialised on dim like the MEM-REC kernel,
/// so neither side pays a library call per row.
fn full_gather(
    table: &[f32],
    dim: usize,
    offsets: &[u32; NUM_CAT],
    values: &[u32],
    out: &mut [f32],
) {
    crate::dispatch_dim!(dim, full_gather_dm(table, dim, offsets, values, out))
}

fn full_gather_dm<const DM: usize>(
    table: &[f32],
    dim: usize,
    offsets: &[u32; NUM_CAT],
    values: &[u32],
    out: &mut [f32],
) {
    const CHUNK: usize = 32;
    let d = if DM > 0 { DM } else { dim };
    values
        .par_chunks(CHUNK * NUM_CAT)
        .zip(out.par_chunks_mut(CHUNK * NUM_CAT * d))
        .for_each(|(vc, oc)| {
            for (vs, os) in vc
                .chunks_exact(NUM_CAT)
                .zip(oc.chunks_exact_mut(NUM_CAT * d))
            {
                gather_sample_best::<DM>(table, d, offsets, vs, os);
            }
        });
}

/// One sample's 26 rows, with the same run-time choice of vector unit as the MEM-REC kernel, so
/// the comparison is between algorithms, not instruction sets.
#[inline(always)]
fn gather_sample_best<const DM: usize>(
    table: &[f32],
    d: usize,
    offsets: &[u32; NUM_CAT],
    vs: &[u32],
    os: &mut [f32],
) {
    crate::util::simd::dispatch!(fn<const DM: usize>(
        table: &[f32],
        d: usize,
        offsets: &[u32; NUM_CAT],
        vs: &[u32],
        os: &mut [f32],
    ) {
        ["avx512f"] => gather_sample::<DM>(table, d, offsets, vs, os),
        ["avx2"] => gather_sample::<DM>(table, d, offsets, vs, os),
        _ => gather_sample::<DM>(table, d, offsets, vs, os),
    })
}

#[inline(always)]
fn gather_sample<const DM: usize>(
    table: &[f32],
    d: usize,
    offsets: &[u32; NUM_CAT],
    vs: &[u32],
    os: &mut [f32],
) {
    for ((&v, o), &off) in vs.iter().zip(os.chunks_exact_mut(d)).zip(offsets) {
        let row = (off + v) as usize;
        copy_row::<DM>(o, &table[row * d..][..d]);
    }
}

/// Pre-generate batches of Zipf-skewed keys (`data.synthetic`: exponents and missing rates; the
/// ranks scattered over each vocabulary by an affine permutation, as the peer benchmark does).
fn make_pool(cfg: &Config, sizes: &[u64; NUM_CAT], stop: &Stop) -> Result<Pool, BenchError> {
    let b = &cfg.bench;
    let per_batch = b.batch * NUM_CAT * 12;
    let n = (b.warmup + b.batches).min((POOL_BYTES / per_batch).max(1));
    let syn = &cfg.data.synthetic;
    let cards = &cfg.data.cardinalities;
    let samplers: Vec<Zipf> = (0..NUM_CAT)
        .map(|j| Zipf::new(syn.column_law(j, cards[j])))
        .collect();
    let seed = derive_seed(cfg.seed, "bench.keys", 0);
    let batches: Vec<(Vec<u64>, Vec<u32>)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut keys = Vec::new();
            let mut values = Vec::new();
            if stop() {
                return (keys, values);
            }
            let mut rng = SplitMix64(derive_seed(seed, "batch", i as u64));
            keys.reserve_exact(b.batch * NUM_CAT);
            values.reserve_exact(b.batch * NUM_CAT);
            for _ in 0..b.batch {
                for j in 0..NUM_CAT {
                    let missing = rng.next_unit_f64() < syn.cat_missing[j];
                    let v = if missing {
                        0
                    } else {
                        samplers[j].sample(&mut rng)
                    };
                    keys.push(token_key(j, (!missing).then_some(v as u32)));
                    // Row in the gathered table; scaled down when the table is.
                    let row = if sizes[j] == cards[j] {
                        v
                    } else {
                        ((v as u128 * sizes[j] as u128) / cards[j] as u128) as u64
                    };
                    values.push(row as u32);
                }
            }
            (keys, values)
        })
        .collect();
    stopped(stop)?;
    let (keys, values) = batches.into_iter().unzip();
    Ok(Pool { keys, values })
}

/// Keys over `0..n`: a rank from the synthetic stream's law of the column (data's one Zipf
/// sampler, with its fitted head), then an affine permutation so popular values are spread over
/// the table.
struct Zipf {
    law: crate::data::synthetic::Zipf,
    n: u64,
    mul: u64,
    add: u64,
}

impl Zipf {
    fn new(law: crate::data::synthetic::Zipf) -> Zipf {
        let n = law.vocab();
        let mut mul = 2_654_435_761 % n;
        if mul == 0 {
            mul = 1;
        }
        while gcd(mul, n) != 1 {
            mul += 1;
        }
        Zipf {
            law,
            n,
            mul,
            add: 12345 % n,
        }
    }

    fn sample(&self, rng: &mut SplitMix64) -> u64 {
        let rank = self.law.sample(rng.next_unit_f64()) - 1;
        ((rank as u128 * self.mul as u128 + self.add as u128) % self.n as u128) as u64
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn median_p99(times: &mut [f64]) -> (f64, f64) {
    if times.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    times.sort_by(f64::total_cmp);
    let n = times.len();
    let med = if n % 2 == 1 {
        times[n / 2]
    } else {
        0.5 * (times[n / 2 - 1] + times[n / 2])
    };
    let p99 = times[((0.99 * n as f64).ceil() as usize).clamp(1, n) - 1];
    (med, p99)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_ends_the_measurement_between_batches() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let mut cfg = Config::from_preset("tiny").unwrap();
        cfg.threads = 1;
        cfg.bench.batches = 4;
        cfg.bench.warmup = 1;
        assert!(matches!(
            measure_until(&cfg, &|| true),
            Err(BenchError::Stopped)
        ));
        // Asked once per pool batch (5), once after the pool, then before each kernel batch:
        // the 7th question is the kernel's second batch, where it stops.
        let asked = AtomicUsize::new(0);
        let r = measure_until(&cfg, &|| asked.fetch_add(1, SeqCst) >= 6);
        assert!(matches!(r, Err(BenchError::Stopped)), "{r:?}");
        assert_eq!(asked.load(SeqCst), 7);
        asked.store(0, SeqCst);
        let r = measure_until(&cfg, &|| {
            asked.fetch_add(1, SeqCst);
            false
        });
        assert!(r.is_ok_and(|l| l.compressed_ns_per_token > 0.0));
        assert!(asked.load(SeqCst) >= 11);
    }

    #[test]
    fn rounds_alternate_kernel_and_gather_and_give_a_ratio_range() {
        let mut cfg = Config::from_preset("tiny").unwrap();
        cfg.threads = 1;
        cfg.bench.batches = 6;
        cfg.bench.warmup = 1;
        // Small tables: the gather's table is 26,000 rows whatever the machine's memory.
        cfg.data.cardinalities = vec![1000; 26];
        let fill_chunks = (26_000 * cfg.model.dim).div_ceil(16).div_ceil(4096);
        let asked = std::sync::atomic::AtomicUsize::new(0);
        let count = || {
            asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            false
        };
        let l = measure_rounds(&cfg, 3, &count).unwrap();
        let [lo, hi] = l.ratio_range.unwrap();
        assert!(lo > 0.0 && lo <= hi && hi.is_finite(), "{lo} {hi}");
        // The pooled medians' ratio lies within the rounds' range only loosely (medians of
        // pooled batches are not medians of ratios), but both sides were timed 3 x 6 batches.
        assert!(l.compressed_ns_per_token > 0.0 && l.full_ns_per_token > 0.0);
        assert_eq!(l.batches, 6);
        // Questions: 7 pool batches (warm-up + batches), 1 after the pool, one per chunk of the
        // table's fill, then 7 per loop: 3 rounds x (kernel + gather).
        assert_eq!(
            asked.load(std::sync::atomic::Ordering::SeqCst),
            7 + 1 + fill_chunks + 3 * 2 * 7
        );
        assert!(matches!(
            measure_rounds(&cfg, 3, &|| true),
            Err(BenchError::Stopped)
        ));
        // One round: a range of one ratio.
        let [a, b] = measure_rounds(&cfg, 1, &|| false)
            .unwrap()
            .ratio_range
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn quantiles() {
        let mut t: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(median_p99(&mut t), (50.5, 99.0));
    }

    #[test]
    fn zipf_stays_in_range_and_is_skewed() {
        let z = Zipf::new(crate::data::synthetic::Zipf::new(1000, 1.0));
        let mut rng = SplitMix64(1);
        let mut hits = vec![0u32; 1000];
        for _ in 0..20000 {
            hits[z.sample(&mut rng) as usize] += 1;
        }
        let top = hits[z.add as usize];
        assert!(top > 20000 / 20, "rank 0 drew {top}");
    }
}
