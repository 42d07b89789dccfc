//! Fit the synthetic stream's shape on real Criteo rows and print the numbers for the presets.
//!
//! Re-run (from the repository root; the sample is never committed):
//!
//! ```text
//! cargo run --release --example fit_synthetic -- [../shared/datasets/criteo/kaggle-sample-train.txt]
//! ```
//!
//! What it fits, per column, on the file's rows (its own small TSV parsing, so it does not depend
//! on the Criteo reader):
//! - categorical: missing rate; the head, i.e. the shares of the values seen at least
//!   `HEAD_MIN_COUNT` times (at most 16 per column), which any sample measures well; and the Zipf
//!   exponent s of the rest, whose expected distinct-count curve (head + power law over the
//!   preset's full Kaggle vocabulary V) best matches the file's curve, i.e. the distinct count of
//!   the first n rows for n = 500, 1000, 2000, 4000, 8000, in least squares on log counts. The
//!   whole curve is fitted, not the last point only, so the exponent describes the shape of the
//!   frequencies and not one number;
//! - dense: missing rate, share of present values <= 0 (the point mass at 0) and 17 quantiles
//!   (levels 0, 1/16, ..., 1) of log(1 + x) over the present values x >= 1;
//! - the click rate (printed; the presets choose theirs, see the comments there).
//!
//! It prints the `synthetic: (...)` fields to paste into presets/*.ron (the signal strengths are
//! not fitted here: they are chosen for an oracle AUC near Criteo's, see the presets), then the
//! fidelity of 8,000 generated rows of each preset against the file and the oracle AUC of the
//! presets' test sets.

use std::collections::HashSet;
use std::path::PathBuf;

use memrec_tui::config::Config;
use memrec_tui::data::synthetic::{MAX_FITTED_HEAD, MAX_ZIPF_EXPONENT, SyntheticSource, Zipf};
use memrec_tui::data::{Batch, DataSource, NUM_CAT, NUM_DENSE};

const CURVE: [usize; 5] = [500, 1000, 2000, 4000, 8000];
const QUANTILES: usize = 17;
/// A value enters a column's head when seen at least this often: its share then has a relative
/// standard error of at most about 1/sqrt(20) = 22%, while rarer values are left to the power law.
const HEAD_MIN_COUNT: usize = 20;

struct Sample {
    rows: usize,
    clicks: usize,
    /// Per column, per row: value or None.
    cats: Vec<Vec<Option<u32>>>,
    dense: Vec<Vec<Option<i64>>>,
}

fn read_sample(path: &PathBuf) -> Result<Sample, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut s = Sample {
        rows: 0,
        clicks: 0,
        cats: vec![Vec::new(); NUM_CAT],
        dense: vec![Vec::new(); NUM_DENSE],
    };
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 1 + NUM_DENSE + NUM_CAT {
            eprintln!("{}:{}: {} fields, skipped", path.display(), n + 1, f.len());
            continue;
        }
        let label = match f[0] {
            "0" => 0,
            "1" => 1,
            other => {
                eprintln!("{}:{}: label {other:?}, skipped", path.display(), n + 1);
                continue;
            }
        };
        let dense: Result<Vec<Option<i64>>, _> = f[1..=NUM_DENSE]
            .iter()
            .map(|x| (!x.is_empty()).then(|| x.parse::<i64>()).transpose())
            .collect();
        let cats: Result<Vec<Option<u32>>, _> = f[1 + NUM_DENSE..]
            .iter()
            .map(|x| {
                (!x.is_empty())
                    .then(|| u32::from_str_radix(x, 16))
                    .transpose()
            })
            .collect();
        let (Ok(dense), Ok(cats)) = (dense, cats) else {
            eprintln!("{}:{}: bad number, skipped", path.display(), n + 1);
            continue;
        };
        s.rows += 1;
        s.clicks += label;
        for (k, v) in dense.into_iter().enumerate() {
            s.dense[k].push(v);
        }
        for (j, v) in cats.into_iter().enumerate() {
            s.cats[j].push(v);
        }
    }
    if s.rows == 0 {
        return Err(format!("{}: no usable rows", path.display()));
    }
    Ok(s)
}

/// (rows, distinct values) in the first n rows, for each n of the curve.
fn distinct_curve(col: &[Option<u32>]) -> Vec<(f64, f64)> {
    CURVE
        .iter()
        .filter(|&&n| n <= col.len())
        .map(|&n| {
            let distinct: HashSet<u32> = col[..n].iter().flatten().copied().collect();
            (n as f64, distinct.len() as f64)
        })
        .collect()
}

/// The shares (of present values) of the column's most frequent values, those seen at least
/// `HEAD_MIN_COUNT` times, at most `MAX_FITTED_HEAD` of them, most frequent first.
fn head_shares(col: &[Option<u32>]) -> Vec<f64> {
    let mut counts = std::collections::HashMap::new();
    for v in col.iter().flatten() {
        *counts.entry(*v).or_insert(0usize) += 1;
    }
    let present = counts.values().sum::<usize>().max(1) as f64;
    let mut c: Vec<usize> = counts.into_values().collect();
    c.sort_unstable_by(|a, b| b.cmp(a));
    c.iter()
        .take_while(|&&n| n >= HEAD_MIN_COUNT)
        .take(MAX_FITTED_HEAD)
        .map(|&n| n as f64 / present)
        .collect()
}

/// The exponent whose expected distinct-count curve best matches the file's: least squares on log
/// counts, each point weighted by (draws)^2 so the full-sample count dominates while the earlier
/// points keep the shape honest (an end-point-only fit degenerates on saturated columns: C9 shows
/// all its 3 values, which a uniform law would also explain, though 2 of them dominate).
///
/// The expected curve is the generator's own: draws stratified per block of rows
/// ([`Zipf::expected_distinct_stratified`]), which see rare values more evenly than independent
/// draws would.
fn fit_exponent(v: u64, head: &[f64], missing: f64, curve: &[(f64, f64)]) -> f64 {
    let ns: Vec<f64> = curve.iter().map(|c| c.0).collect();
    let loss = |s: f64| -> f64 {
        let e = Zipf::with_head(v, s, head).expected_distinct_stratified(&ns, missing);
        e.iter()
            .zip(curve)
            .map(|(e, (n, real))| n * n * (e.max(1e-9).ln() - real.max(1.0).ln()).powi(2))
            .sum()
    };
    // Coarse grid, then golden section around the best grid point.
    let step = 0.1;
    let mut best = (0.0, f64::INFINITY);
    let mut s = 0.0;
    while s <= MAX_ZIPF_EXPONENT + 1e-9 {
        let l = loss(s);
        if l < best.1 {
            best = (s, l);
        }
        s += step;
    }
    let (mut a, mut b) = (
        (best.0 - step).max(0.0),
        (best.0 + step).min(MAX_ZIPF_EXPONENT),
    );
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..40 {
        let c = b - phi * (b - a);
        let d = a + phi * (b - a);
        if loss(c) < loss(d) {
            b = d;
        } else {
            a = c;
        }
    }
    0.5 * (a + b)
}

fn quantiles(mut xs: Vec<f64>) -> Vec<f64> {
    if xs.is_empty() {
        return vec![0.0; QUANTILES];
    }
    xs.sort_by(f64::total_cmp);
    (0..QUANTILES)
        .map(|i| {
            let pos = i as f64 / (QUANTILES - 1) as f64 * (xs.len() - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = pos.ceil() as usize;
            xs[lo] + (pos - lo as f64) * (xs[hi] - xs[lo])
        })
        .collect()
}

fn list(v: &[f64], digits: usize) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:.digits$}")).collect();
    format!("[{}]", items.join(", "))
}

/// Exact AUC (ties counted half), from the library's metrics.
fn auc(scores: &[f32], labels: &[f32]) -> f64 {
    memrec_tui::metrics::auc(labels, scores).expect("both classes present")
}

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/datasets/criteo/kaggle-sample-train.txt")
        });
    let s = read_sample(&path).map_err(anyhow::Error::msg)?;
    let kaggle = Config::from_preset("kaggle")?;
    println!("fitted on {} ({} rows)", path.display(), s.rows);
    println!("click rate: {:.4}", s.clicks as f64 / s.rows as f64);

    let cat_missing: Vec<f64> = s
        .cats
        .iter()
        .map(|c| c.iter().filter(|v| v.is_none()).count() as f64 / s.rows as f64)
        .collect();
    let dense_missing: Vec<f64> = s
        .dense
        .iter()
        .map(|c| c.iter().filter(|v| v.is_none()).count() as f64 / s.rows as f64)
        .collect();
    let dense_zero: Vec<f64> = s
        .dense
        .iter()
        .map(|c| {
            let present = c.iter().flatten().count().max(1);
            c.iter().flatten().filter(|&&x| x <= 0).count() as f64 / present as f64
        })
        .collect();
    let dense_q: Vec<Vec<f64>> = s
        .dense
        .iter()
        .map(|c| {
            quantiles(
                c.iter()
                    .flatten()
                    .filter(|&&x| x > 0)
                    .map(|&x| (x as f64).ln_1p())
                    .collect(),
            )
        })
        .collect();
    let heads: Vec<Vec<f64>> = s.cats.iter().map(|c| head_shares(c)).collect();
    let exps: Vec<f64> = (0..NUM_CAT)
        .map(|j| {
            let curve = distinct_curve(&s.cats[j]);
            let v = kaggle.data.cardinalities[j];
            let e = fit_exponent(v, &heads[j], cat_missing[j], &curve);
            let fit = Zipf::with_head(v, e, &heads[j]).expected_distinct_stratified(
                &curve.iter().map(|c| c.0).collect::<Vec<_>>(),
                cat_missing[j],
            );
            eprintln!(
                "C{:<2} V={:>9} s={e:.3}  real curve {:?}  expected {:?}",
                j + 1,
                kaggle.data.cardinalities[j],
                curve.iter().map(|c| c.1 as u64).collect::<Vec<_>>(),
                fit.iter().map(|x| x.round() as u64).collect::<Vec<_>>()
            );
            e
        })
        .collect();

    println!("\n// ---- paste into the `synthetic: (...)` blocks ----");
    println!("cat_missing: {},", list(&cat_missing, 4));
    println!("zipf_exponent: {},", list(&exps, 3));
    println!("head_share: [");
    for h in &heads {
        println!("    {},", list(h, 4));
    }
    println!("],");
    println!("dense_missing: {},", list(&dense_missing, 4));
    println!("dense_zero: {},", list(&dense_zero, 4));
    println!("dense_quantiles: [");
    for q in &dense_q {
        println!("    {},", list(q, 4));
    }
    println!("],");

    // Fidelity and oracle AUC of the presets as they are in the tree now.
    for preset in ["kaggle", "terabyte", "tiny"] {
        let cfg = Config::from_preset(preset)?;
        let src = SyntheticSource::new(&cfg.data_options());
        let mut b = Batch::default();
        src.open_train()?.next_batch(s.rows, &mut b)?;
        let rate = b.labels.iter().sum::<f32>() as f64 / b.len() as f64;
        let test = src.test_set()?;
        let probs = test.true_prob.clone().unwrap_or_default();
        println!(
            "\n{preset}: bias {:.3}, click rate {:.4} on {} rows (real {:.4}), oracle AUC {:.4} on {} test rows",
            src.generator().bias(),
            rate,
            b.len(),
            s.clicks as f64 / s.rows as f64,
            auc(&probs, &test.labels),
            test.len()
        );
        if preset == "terabyte" {
            continue;
        }
        println!(
            "| column | V | s | real distinct | synth distinct | real missing % | synth missing % |"
        );
        println!("|---|---|---|---|---|---|---|");
        let vocab = src.generator().vocab();
        for j in 0..NUM_CAT {
            let real: HashSet<u32> = s.cats[j].iter().flatten().copied().collect();
            let keys: Vec<u64> = b.keys.iter().skip(j).step_by(NUM_CAT).copied().collect();
            let synth_missing = keys.iter().filter(|k| (*k >> 32) & 1 == 0).count();
            let synth: HashSet<u64> = keys
                .iter()
                .filter(|k| (*k >> 32) & 1 == 1)
                .copied()
                .collect();
            println!(
                "| C{} | {} | {:.3} | {} | {} | {:.1} | {:.1} |",
                j + 1,
                vocab[j],
                cfg.data.synthetic.zipf_exponent[j],
                real.len(),
                synth.len(),
                100.0 * cat_missing[j],
                100.0 * synth_missing as f64 / b.len() as f64
            );
        }
        println!(
            "| column | real zero-or-missing % | synth | real mean log1p | synth | real p90 | synth |"
        );
        println!("|---|---|---|---|---|---|---|");
        for (k, col) in s.dense.iter().enumerate() {
            let synth: Vec<f64> = b
                .dense
                .iter()
                .skip(k)
                .step_by(NUM_DENSE)
                .map(|&y| y as f64)
                .collect();
            let real: Vec<f64> = col
                .iter()
                .map(|v| v.map_or(0.0, |x| (x.max(0) as f64).ln_1p()))
                .collect();
            let zero =
                |v: &[f64]| 100.0 * v.iter().filter(|&&y| y == 0.0).count() as f64 / v.len() as f64;
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            let p90 = |v: &[f64]| {
                let mut v = v.to_vec();
                v.sort_by(f64::total_cmp);
                v[(v.len() * 9) / 10]
            };
            println!(
                "| I{} | {:.1} | {:.1} | {:.3} | {:.3} | {:.3} | {:.3} |",
                k + 1,
                zero(&real),
                zero(&synth),
                mean(&real),
                mean(&synth),
                p90(&real),
                p90(&synth)
            );
        }
    }
    // A quick throughput figure (the criterion bench `cargo bench --bench synthetic` is the
    // careful one). On a shared machine the wall clock says little, so the process CPU time is
    // printed too: rows per CPU-second is what one free core would do.
    let cfg = Config::from_preset("kaggle")?;
    let src = SyntheticSource::new(&cfg.data_options());
    let mut stream = src.open_train()?;
    let mut b = Batch::default();
    stream.next_batch(65_536, &mut b)?;
    let (start, cpu0) = (std::time::Instant::now(), process_cpu_seconds());
    let mut rows = 0;
    while rows < 4_000_000 {
        rows += stream.next_batch(65_536, &mut b)?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "\nthroughput (kaggle, batches of 65,536, {} rayon threads): {:.2} M rows/s wall",
        rayon::current_num_threads(),
        rows as f64 / secs / 1e6
    );
    if let (Some(a), Some(b)) = (cpu0, process_cpu_seconds()) {
        println!(
            "  {:.0} ns of CPU per row = {:.2} M rows/s per free core",
            (b - a) / rows as f64 * 1e9,
            rows as f64 / (b - a) / 1e6
        );
    }
    Ok(())
}

/// User + system CPU time of this process (all threads), from /proc (Linux); None elsewhere.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // The kernel's USER_HZ is 100 on every mainstream Linux.
    Some(ticks / 100.0)
}
