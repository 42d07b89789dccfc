//! Test doubles for the trainer and engine: a plain per-feature hashed representation (for what
//! the real ones cannot do on demand, such as diverging after N steps) and a small deterministic
//! data source with a planted click model; and DeLong's interval computed from its definition, to
//! check the engine's. Included by the train_*, sweep_* and headless_* tests with `#[path]`; as a
//! test target of its own it holds no tests.
#![allow(dead_code)]

use std::sync::Arc;

use memrec_tui::config::Config;
use memrec_tui::data::{Batch, BatchStream, DataError, DataSource, NUM_CAT, NUM_DENSE, token_key};
use memrec_tui::embedding::{OutputShape, Representation, SparseOptimizer, TableInfo};
use memrec_tui::train::engine::{Engine, EngineOptions, RepBuilder, RunKind, RunPredictions};
use memrec_tui::train::protocol::EngineEvent;

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(z: u64) -> f64 {
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Per-feature tables of `rows` rows (hashed keys), one vector per feature, or their sum
/// (bundled shape). Rows are updated in key order, sequentially: deterministic.
pub struct HashedRep {
    pub dim: usize,
    pub rows: usize,
    pub shape: OutputShape,
    pub table: Vec<f32>,
    pub acc: Vec<f32>,
    /// Output NaN from this many training steps on (divergence tests).
    pub nan_after: Option<u64>,
    pub steps: u64,
}

impl HashedRep {
    pub fn new(dim: usize, rows: usize, shape: OutputShape, seed: u64) -> HashedRep {
        let n = NUM_CAT * rows * dim;
        let a = (1.0 / rows as f64).sqrt();
        let table = (0..n)
            .map(|i| ((unit(mix(seed ^ i as u64)) * 2.0 - 1.0) * a) as f32)
            .collect();
        HashedRep {
            dim,
            rows,
            shape,
            table,
            acc: vec![0.0; NUM_CAT * rows],
            nan_after: None,
            steps: 0,
        }
    }
    fn row(&self, f: usize, key: u64) -> usize {
        f * self.rows + (mix(key) % self.rows as u64) as usize
    }
}

impl Representation for HashedRep {
    fn kind(&self) -> &'static str {
        "test-hashed"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn output_shape(&self) -> OutputShape {
        self.shape
    }
    fn forward_train(&mut self, keys: &[u64], out: &mut [f32]) {
        self.forward_eval(keys, out);
        self.steps += 1;
        if self.nan_after.is_some_and(|n| self.steps > n) {
            out.iter_mut().for_each(|v| *v = f32::NAN);
        }
    }
    fn forward_eval(&self, keys: &[u64], out: &mut [f32]) {
        let d = self.dim;
        let per = self.outputs_per_sample() * d;
        for (k, o) in keys.chunks_exact(NUM_CAT).zip(out.chunks_exact_mut(per)) {
            o.iter_mut().for_each(|v| *v = 0.0);
            for (f, &key) in k.iter().enumerate() {
                let r = self.row(f, key);
                let src = &self.table[r * d..(r + 1) * d];
                let dst = match self.shape {
                    OutputShape::PerFeature => &mut o[f * d..(f + 1) * d],
                    OutputShape::Bundled => &mut o[..d],
                };
                dst.iter_mut().zip(src).for_each(|(a, b)| *a += b);
            }
        }
    }
    fn backward_update(&mut self, keys: &[u64], grad_out: &[f32], opt: SparseOptimizer) {
        let d = self.dim;
        let per = self.outputs_per_sample() * d;
        // Sum gradients per row first, then update each touched row once (sparse SGD semantics).
        let mut touched: std::collections::BTreeMap<usize, Vec<f32>> = Default::default();
        for (k, g) in keys.chunks_exact(NUM_CAT).zip(grad_out.chunks_exact(per)) {
            for (f, &key) in k.iter().enumerate() {
                let src = match self.shape {
                    OutputShape::PerFeature => &g[f * d..(f + 1) * d],
                    OutputShape::Bundled => &g[..d],
                };
                let e = touched
                    .entry(self.row(f, key))
                    .or_insert_with(|| vec![0.0; d]);
                e.iter_mut().zip(src).for_each(|(a, b)| *a += b);
            }
        }
        for (r, g) in touched {
            let step = match opt {
                SparseOptimizer::Sgd { lr } => lr,
                SparseOptimizer::RowwiseAdagrad { lr, eps } => {
                    self.acc[r] += g.iter().map(|x| x * x).sum::<f32>() / d as f32;
                    lr / (self.acc[r].sqrt() + eps)
                }
            };
            for (w, x) in self.table[r * d..(r + 1) * d].iter_mut().zip(&g) {
                *w -= step * x;
            }
        }
    }
    fn tables(&self) -> Vec<TableInfo> {
        vec![TableInfo {
            name: "hashed".into(),
            rows: (NUM_CAT * self.rows) as u64,
            cols: self.dim,
            param_bytes: (self.table.len() * 4) as u64,
            optimizer_bytes: 0,
        }]
    }
}

/// Baseline: 64 rows per feature, per-feature vectors; MEM-REC stand-in: 8 rows, bundled.
pub fn test_reps(nan_memrec_after: Option<u64>) -> RepBuilder {
    Arc::new(move |cfg: &Config, kind: RunKind| {
        let mut r = match kind {
            RunKind::Baseline => {
                HashedRep::new(cfg.model.dim, 64, OutputShape::PerFeature, cfg.seed)
            }
            RunKind::Compressed => HashedRep::new(
                cfg.model.dim,
                cfg.memrec.token_rows,
                OutputShape::Bundled,
                cfg.seed,
            ),
        };
        if kind == RunKind::Compressed {
            r.nan_after = nan_memrec_after;
        }
        Ok(Box::new(r) as Box<dyn Representation>)
    })
}

/// Rows `i` of a planted click model: 26 features with 40 values each, token effects, one dense
/// effect. `train_rows = None` streams forever.
pub struct PlantedSource {
    pub seed: u64,
    pub train_rows: Option<u64>,
    pub test_rows: usize,
}

fn planted_row(seed: u64, i: u64, out: &mut Batch) {
    let mut logit = -1.2;
    for j in 0..NUM_DENSE {
        let x = (unit(mix(seed ^ (i << 8) ^ j as u64)) * 4.0) as f32;
        if j == 0 {
            logit += 0.6 * (x as f64 - 2.0);
        }
        out.dense.push(x);
    }
    for f in 0..NUM_CAT {
        let v = (mix(seed.wrapping_mul(31) ^ (i << 6) ^ f as u64) % 40) as u32;
        if f < 6 {
            logit += unit(mix(((f as u64) << 32) | v as u64)) * 2.4 - 1.2;
        }
        out.keys.push(token_key(f, Some(v)));
    }
    let p = 1.0 / (1.0 + (-logit).exp());
    let y = unit(mix(seed ^ 0xabc ^ (i << 20))) < p;
    out.labels.push(y as u8 as f32);
    if let Some(tp) = &mut out.true_prob {
        tp.push(p as f32);
    }
}

struct PlantedStream {
    seed: u64,
    next: u64,
    end: Option<u64>,
}

impl BatchStream for PlantedStream {
    fn next_batch(&mut self, rows: usize, out: &mut Batch) -> Result<usize, DataError> {
        out.clear();
        out.true_prob = None;
        let mut n = 0;
        while n < rows && self.end.is_none_or(|e| self.next < e) {
            planted_row(self.seed, self.next, out);
            self.next += 1;
            n += 1;
        }
        Ok(n)
    }
}

impl DataSource for PlantedSource {
    fn label(&self) -> String {
        "planted test rows".into()
    }
    fn is_synthetic(&self) -> bool {
        true
    }
    fn open_train(&self) -> Result<Box<dyn BatchStream>, DataError> {
        Ok(Box::new(PlantedStream {
            seed: self.seed,
            next: 0,
            end: self.train_rows,
        }))
    }
    fn test_set(&self) -> Result<Batch, DataError> {
        let mut b = Batch::with_capacity(self.test_rows);
        b.true_prob = Some(Vec::new());
        for i in 0..self.test_rows as u64 {
            planted_row(self.seed ^ 0x7e57, i, &mut b);
        }
        Ok(b)
    }
}

/// A small configuration for engine tests.
pub fn small_cfg(threads: usize) -> Config {
    let mut cfg = Config::from_preset("tiny").unwrap();
    cfg.threads = threads;
    cfg.model.dim = 4;
    cfg.model.bottom_mlp = vec![16, 4];
    cfg.model.top_mlp = vec![16, 1];
    cfg.memrec.token_rows = 8;
    cfg.train.batch = 100;
    cfg.train.lr = 0.05;
    cfg.eval.every_samples = 2000;
    cfg.eval.test_rows = 1000;
    cfg
}

/// The engine's events and each run's final test predictions, run to the end of `opts`' budget.
pub fn run_with_predictions(
    cfg: Config,
    source: PlantedSource,
    opts: EngineOptions,
) -> (Vec<EngineEvent>, Vec<RunPredictions>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let (ptx, prx) = crossbeam_channel::unbounded();
    let opts = EngineOptions {
        predictions: Some(ptx),
        exit_when_done: true,
        ..opts
    };
    let h = Engine::spawn_with(cfg, Arc::new(source), tx, opts).unwrap();
    let events: Vec<EngineEvent> = rx.iter().collect();
    assert!(h.shutdown());
    (events, prx.try_iter().collect())
}

/// The two-sided 95% normal quantile.
pub const Z95: f64 = 1.959_963_984_540_054;

/// DeLong's placements from their definition, pair by pair (not the midrank shortcut the crate
/// uses): for each positive the share of negatives it outscores, for each negative the share of
/// positives that outscore it; a tie counts one half.
fn placements(labels: &[f32], scores: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let pos: Vec<f32> = (0..labels.len())
        .filter(|&i| labels[i] == 1.0)
        .map(|i| scores[i])
        .collect();
    let neg: Vec<f32> = (0..labels.len())
        .filter(|&i| labels[i] == 0.0)
        .map(|i| scores[i])
        .collect();
    assert_eq!(pos.len() + neg.len(), labels.len(), "labels are 0 or 1");
    let psi = |x: f32, y: f32| {
        if x > y {
            1.0
        } else if x == y {
            0.5
        } else {
            0.0
        }
    };
    let v10 = pos
        .iter()
        .map(|&x| neg.iter().map(|&y| psi(x, y)).sum::<f64>() / neg.len() as f64)
        .collect();
    let v01 = neg
        .iter()
        .map(|&y| pos.iter().map(|&x| psi(x, y)).sum::<f64>() / pos.len() as f64)
        .collect();
    (v10, v01)
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample variance (n - 1 in the denominator).
fn sample_var(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64
}

/// AUC of `scores` and the half-width of its DeLong 95% interval.
pub fn delong_auc(labels: &[f32], scores: &[f32]) -> (f64, f64) {
    let (v10, v01) = placements(labels, scores);
    let var = sample_var(&v10) / v10.len() as f64 + sample_var(&v01) / v01.len() as f64;
    (mean(&v10), Z95 * var.sqrt())
}

/// `AUC(a) - AUC(b)` on the same rows and the half-width of its paired DeLong 95% interval:
/// the variance of the difference of the placements.
pub fn delong_delta(labels: &[f32], a: &[f32], b: &[f32]) -> (f64, f64) {
    let (a10, a01) = placements(labels, a);
    let (b10, b01) = placements(labels, b);
    let d10: Vec<f64> = a10.iter().zip(&b10).map(|(x, y)| x - y).collect();
    let d01: Vec<f64> = a01.iter().zip(&b01).map(|(x, y)| x - y).collect();
    let var = sample_var(&d10) / d10.len() as f64 + sample_var(&d01) / d01.len() as f64;
    (mean(&d10), Z95 * var.sqrt())
}
