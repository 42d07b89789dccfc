//! `memrec-tui stats`: dataset statistics of Criteo files (rows, bad lines, click rate, and per
//! column distinct values, missing rate, Zipf skew, dense ranges).
//!
//! Owns: the statistics (the `stats` command renders them). Must never:
//! hold memory proportional to the file (distinct counting is exact up to `EXACT_CAP` values per
//! column, then a HyperLogLog estimate, marked `~`), let hash-map order reach the output, or know
//! about models or the UI.
//!
//! Zipf skew: the value counts of a column are sorted (rank 1 = most frequent) and
//! `ln f = a - s ln r` is fitted by ordinary least squares over log-spaced ranks (1, 2, 3, ...,
//! then about 20% apart) whose count is at least `ZIPF_MIN_COUNT`. Log spacing gives each decade
//! of ranks equal weight, as on a log-log plot; the low-count tail is left out because its counts
//! are dominated by sampling noise. Past `EXACT_CAP` distinct values only the values seen before
//! the cap keep being counted, so the fit is then marked approximate.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::PathBuf;

use serde::Serialize;

use super::criteo::{ParsedRow, RowReader, dense_value, merge_bad_lines};
use super::progress::Progress;
use super::{BadLines, DataError, NUM_CAT, NUM_DENSE};

/// Distinct values counted exactly per column before switching to an estimate (about 10 MB of
/// counts per column at the cap, so at most ~260 MB for 26 columns).
pub const EXACT_CAP: usize = 1 << 20;
/// Ranks whose count is below this are not used in the Zipf fit.
pub const ZIPF_MIN_COUNT: u64 = 5;
/// HyperLogLog precision: 2^14 registers, standard error about 0.8%.
const HLL_BITS: u32 = 14;

/// Statistics of one or more Criteo files, taken together.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetStats {
    pub files: Vec<String>,
    /// Good rows counted.
    pub rows: u64,
    /// Lines read, good and bad.
    pub lines: u64,
    pub bad_lines: BadLines,
    /// True when `--max-rows` stopped the count before the end.
    pub stopped_at_max_rows: bool,
    pub clicks: u64,
    pub click_rate: f64,
    pub categorical: Vec<CatStats>,
    pub dense: Vec<DenseStats>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatStats {
    pub name: String,
    /// Distinct non-empty values.
    pub distinct: u64,
    /// False when `distinct` is a HyperLogLog estimate (more than `EXACT_CAP` values).
    pub distinct_exact: bool,
    pub missing: u64,
    pub missing_rate: f64,
    /// `None` when fewer than 3 ranks have enough counts.
    pub zipf: Option<ZipfFit>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ZipfFit {
    /// The fitted `s` of `f(r) ~ r^-s`.
    pub exponent: f64,
    /// Coefficient of determination of the log-log fit.
    pub r2: f64,
    /// Ranks (points) used in the fit.
    pub ranks_used: usize,
    /// The largest rank used.
    pub max_rank: u64,
    /// False when the counts are those of the first `EXACT_CAP` values only.
    pub exact_counts: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DenseStats {
    pub name: String,
    pub missing: u64,
    pub missing_rate: f64,
    /// Smallest and largest value as written (`None` when the column is always missing).
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// Mean of `ln(1 + max(x, 0))` over the present values (the model's dense input).
    pub mean_log1p: Option<f64>,
}

/// Why `compute` stopped: bad input (exit 2) or a read failure part-way (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// Missing or unreadable file, a bad line in strict mode, or a file without good rows.
    #[error(transparent)]
    Input(DataError),
    /// An I/O failure after the file was opened (including a truncated or corrupt gzip stream).
    #[error(transparent)]
    Read(DataError),
}

impl StatsError {
    fn from_reading(e: DataError) -> StatsError {
        match e {
            DataError::Io { .. } => StatsError::Read(e),
            other => StatsError::Input(other),
        }
    }

    pub fn data_error(&self) -> &DataError {
        match self {
            StatsError::Input(e) | StatsError::Read(e) => e,
        }
    }
}

/// Statistics of `files` read in order; at most `max_rows` good rows in all (0 = all).
pub fn compute(files: &[PathBuf], strict: bool, max_rows: u64) -> Result<DatasetStats, StatsError> {
    compute_with_cap(files, strict, max_rows, EXACT_CAP)
}

/// `compute` with a chosen exact-count cap (tests exercise the estimate with a small one).
pub fn compute_with_cap(
    files: &[PathBuf],
    strict: bool,
    max_rows: u64,
    exact_cap: usize,
) -> Result<DatasetStats, StatsError> {
    // Open every file first: a typo in the last name should not cost a pass over the first.
    let mut readers = Vec::with_capacity(files.len());
    for f in files {
        readers.push(RowReader::open(f, strict).map_err(StatsError::Input)?);
    }
    let mut acc = Accumulator::new(exact_cap);
    let mut bad = BadLines::default();
    let mut lines = 0;
    let mut stopped = false;
    let mut row = ParsedRow::default();
    let mut progress = Progress::new(
        format!("statistics of {}", super::criteo::files_label(files)),
        super::criteo::total_size(files),
    );
    let mut bytes_done = 0;
    for mut r in readers {
        let before = acc.rows;
        while !(max_rows > 0 && acc.rows >= max_rows) {
            if !r.next_row(&mut row).map_err(StatsError::from_reading)? {
                break;
            }
            acc.add(&row);
            progress.update(acc.rows, bytes_done + r.bytes_read());
        }
        bytes_done += r.bytes_read();
        lines += r.lines_read();
        merge_bad_lines(&mut bad, r.bad_lines());
        if max_rows > 0 && acc.rows >= max_rows {
            stopped = true;
            break;
        }
        if acc.rows == before {
            return Err(StatsError::Input(r.no_rows_error()));
        }
    }
    progress.finish();
    Ok(acc.finish(
        files.iter().map(|f| f.display().to_string()).collect(),
        lines,
        bad,
        stopped,
    ))
}

/// Running sums over good rows.
struct Accumulator {
    rows: u64,
    clicks: u64,
    cats: Vec<ValueCounter>,
    cat_missing: [u64; NUM_CAT],
    dense_missing: [u64; NUM_DENSE],
    dense_min: [i64; NUM_DENSE],
    dense_max: [i64; NUM_DENSE],
    dense_sum: [f64; NUM_DENSE],
}

impl Accumulator {
    fn new(exact_cap: usize) -> Accumulator {
        Accumulator {
            rows: 0,
            clicks: 0,
            cats: (0..NUM_CAT).map(|_| ValueCounter::new(exact_cap)).collect(),
            cat_missing: [0; NUM_CAT],
            dense_missing: [0; NUM_DENSE],
            dense_min: [i64::MAX; NUM_DENSE],
            dense_max: [i64::MIN; NUM_DENSE],
            dense_sum: [0.0; NUM_DENSE],
        }
    }

    fn add(&mut self, row: &ParsedRow) {
        self.rows += 1;
        self.clicks += row.label as u64;
        for (j, counter) in self.cats.iter_mut().enumerate() {
            match row.cat(j) {
                Some(v) => counter.add(v),
                None => self.cat_missing[j] += 1,
            }
        }
        for i in 0..NUM_DENSE {
            match row.int(i) {
                Some(v) => {
                    self.dense_min[i] = self.dense_min[i].min(v);
                    self.dense_max[i] = self.dense_max[i].max(v);
                    self.dense_sum[i] += dense_value(Some(v)) as f64;
                }
                None => self.dense_missing[i] += 1,
            }
        }
    }

    fn finish(
        self,
        files: Vec<String>,
        lines: u64,
        bad_lines: BadLines,
        stopped: bool,
    ) -> DatasetStats {
        let n = self.rows.max(1) as f64;
        let categorical = self
            .cats
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let (distinct, distinct_exact) = c.distinct();
                CatStats {
                    name: format!("C{}", j + 1),
                    distinct,
                    distinct_exact,
                    missing: self.cat_missing[j],
                    missing_rate: self.cat_missing[j] as f64 / n,
                    zipf: c.zipf_fit(),
                }
            })
            .collect();
        let dense = (0..NUM_DENSE)
            .map(|i| {
                let present = self.rows - self.dense_missing[i];
                DenseStats {
                    name: format!("I{}", i + 1),
                    missing: self.dense_missing[i],
                    missing_rate: self.dense_missing[i] as f64 / n,
                    min: (present > 0).then_some(self.dense_min[i]),
                    max: (present > 0).then_some(self.dense_max[i]),
                    mean_log1p: (present > 0).then(|| self.dense_sum[i] / present as f64),
                }
            })
            .collect();
        DatasetStats {
            files,
            rows: self.rows,
            lines,
            bad_lines,
            stopped_at_max_rows: stopped,
            clicks: self.clicks,
            click_rate: self.clicks as f64 / n,
            categorical,
            dense,
        }
    }
}

/// A cheap hasher for u32 keys: Criteo values are already hashes, and a multiply-xorshift spreads
/// sequential (synthetic) values well enough; SipHash would dominate the stats pass.
#[derive(Default, Clone, Copy)]
struct U32Hasher(u64);

impl Hasher for U32Hasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

type CountMap = HashMap<u32, u64, BuildHasherDefault<U32Hasher>>;

/// Per-column value counts: exact up to a cap of distinct values, then HyperLogLog for the
/// distinct count (values already in the map keep being counted for the Zipf fit).
struct ValueCounter {
    counts: CountMap,
    cap: usize,
    hll: Option<Hll>,
}

impl ValueCounter {
    fn new(cap: usize) -> ValueCounter {
        ValueCounter {
            counts: CountMap::default(),
            cap,
            hll: None,
        }
    }

    #[inline]
    fn add(&mut self, v: u32) {
        match &mut self.hll {
            None if self.counts.len() < self.cap => *self.counts.entry(v).or_insert(0) += 1,
            None => {
                if let Some(c) = self.counts.get_mut(&v) {
                    *c += 1;
                    return;
                }
                // The cap is reached: every value seen so far seeds the estimate.
                let mut h = Hll::new();
                for &k in self.counts.keys() {
                    h.add(k);
                }
                h.add(v);
                self.hll = Some(h);
            }
            Some(h) => match self.counts.get_mut(&v) {
                Some(c) => *c += 1,
                None => h.add(v),
            },
        }
    }

    fn distinct(&self) -> (u64, bool) {
        match &self.hll {
            None => (self.counts.len() as u64, true),
            // The estimate can undershoot the exact part; it cannot really be below it.
            Some(h) => (h.estimate().max(self.counts.len() as u64), false),
        }
    }

    fn zipf_fit(&self) -> Option<ZipfFit> {
        let mut freq: Vec<u64> = self.counts.values().copied().collect();
        freq.sort_unstable_by(|a, b| b.cmp(a));
        let mut fit = fit_zipf(&freq)?;
        fit.exact_counts = self.hll.is_none();
        Some(fit)
    }
}

/// Least-squares fit of `ln f = a - s ln r` over log-spaced ranks with count >= `ZIPF_MIN_COUNT`.
/// `freq` is sorted in decreasing order (rank 1 first).
pub fn fit_zipf(freq: &[u64]) -> Option<ZipfFit> {
    let usable = freq.partition_point(|&f| f >= ZIPF_MIN_COUNT);
    let mut pts: Vec<(f64, f64)> = Vec::new();
    let mut r: u64 = 1;
    while r as usize <= usable {
        pts.push(((r as f64).ln(), (freq[r as usize - 1] as f64).ln()));
        // Next rank about 20% further, at least one further.
        r = (r + 1).max((r as f64 * 1.2).ceil() as u64);
    }
    if pts.len() < 3 {
        return None;
    }
    let k = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / k;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / k;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    let slope = sxy / sxx;
    let r2 = if syy > 0.0 {
        (sxy * sxy) / (sxx * syy)
    } else {
        1.0
    };
    let max_rank = pts.last().map_or(0, |p| p.0.exp().round() as u64);
    Some(ZipfFit {
        exponent: -slope,
        r2,
        ranks_used: pts.len(),
        max_rank,
        exact_counts: true,
    })
}

/// A plain HyperLogLog (Flajolet et al. 2007) with 64-bit xxh3 hashes and the small-range
/// (linear counting) correction; no large-range correction is needed with 64-bit hashes.
struct Hll {
    registers: Vec<u8>,
}

impl Hll {
    fn new() -> Hll {
        Hll {
            registers: vec![0; 1 << HLL_BITS],
        }
    }

    #[inline]
    fn add(&mut self, v: u32) {
        let h = xxhash_rust::xxh3::xxh3_64(&v.to_le_bytes());
        let idx = (h >> (64 - HLL_BITS)) as usize;
        // The remaining bits, with a stop bit so the count of zeros is bounded.
        let w = (h << HLL_BITS) | (1 << (HLL_BITS - 1));
        let rho = w.leading_zeros() as u8 + 1;
        if rho > self.registers[idx] {
            self.registers[idx] = rho;
        }
    }

    fn estimate(&self) -> u64 {
        let m = self.registers.len() as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let sum: f64 = self.registers.iter().map(|&r| (-(r as f64)).exp2()).sum();
        let raw = alpha * m * m / sum;
        let zeros = self.registers.iter().filter(|&&r| r == 0).count();
        let e = if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        e.round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_fit_recovers_a_planted_exponent() {
        for s in [0.7, 1.0, 1.5] {
            let freq: Vec<u64> = (1..=2000u64)
                .map(|r| (1e6 * (r as f64).powf(-s)).round() as u64)
                .collect();
            let fit = fit_zipf(&freq).unwrap();
            assert!((fit.exponent - s).abs() < 0.01, "{s}: {fit:?}");
            assert!(fit.r2 > 0.999);
        }
        assert!(fit_zipf(&[100, 50]).is_none());
        assert!(fit_zipf(&[4, 4, 4, 4]).is_none());
    }

    #[test]
    fn hll_is_within_a_few_percent() {
        for n in [1_000u32, 50_000, 400_000] {
            let mut h = Hll::new();
            for v in 0..n {
                h.add(v.wrapping_mul(2_654_435_761));
                h.add(v.wrapping_mul(2_654_435_761)); // duplicates change nothing
            }
            let e = h.estimate() as f64;
            assert!((e / n as f64 - 1.0).abs() < 0.03, "{n}: {e}");
        }
    }

    #[test]
    fn counter_switches_to_the_estimate_past_the_cap() {
        let mut c = ValueCounter::new(1000);
        for v in 0..20_000u32 {
            c.add(v);
        }
        for v in 0..100u32 {
            c.add(v);
        }
        let (d, exact) = c.distinct();
        assert!(!exact);
        assert!((d as f64 / 20_000.0 - 1.0).abs() < 0.03, "{d}");
        assert_eq!(c.counts.len(), 1000);
        assert_eq!(c.counts[&5], 2);
        let mut small = ValueCounter::new(1000);
        for v in [7u32, 7, 9] {
            small.add(v);
        }
        assert_eq!(small.distinct(), (2, true));
    }
}
