//! Criterion benchmarks of the embedding kernels at the kaggle preset's shapes (dim 16,
//! K = 2, D = 16384, kw = 1, dw = 1024, batch 2048): the fused MEM-REC forward in both layouts,
//! forward + backward + sparse update (SGD and row-wise Adagrad); and the inference forward of
//! every compressed method at about 4 MiB of table (issue 20's design review: MEM-REC K4
//! D65536, hashing 4096 rows per feature, QR c = 2048, ROBE-Z 1M floats).
//! Throughput is in tokens: one (sample, feature) lookup.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memrec_tui::config::{Config, Layout};
use memrec_tui::data::{NUM_CAT, token_key};
use memrec_tui::embedding::{MemRec, Representation, SparseOptimizer, build_compressed};
use memrec_tui::util::rng::SplitMix64;

fn keys(batch: usize, seed: u64, cards: &[u64]) -> Vec<u64> {
    let mut rng = SplitMix64(seed);
    let mut k = Vec::with_capacity(batch * NUM_CAT);
    for _ in 0..batch {
        for (j, &c) in cards.iter().enumerate() {
            // Log-uniform ranks: a Zipf(1)-like skew.
            let r = ((rng.next_unit_f64() * ((c + 1) as f64).ln()).exp() as u64).saturating_sub(1);
            k.push(token_key(j, Some((r.min(c - 1)) as u32)));
        }
    }
    k
}

fn bench(c: &mut Criterion) {
    let cfg = Config::from_preset("kaggle").expect("kaggle preset");
    let batch = cfg.bench.batch;
    let batches: Vec<Vec<u64>> = (0..16)
        .map(|i| keys(batch, i, &cfg.data.cardinalities))
        .collect();
    let mut g = c.benchmark_group("memrec");
    g.throughput(Throughput::Elements((batch * NUM_CAT) as u64));
    for layout in [Layout::Bundled, Layout::PerFeature] {
        let mut cfg = cfg.clone();
        cfg.memrec.layout = layout;
        let mut m = MemRec::from_config(&cfg);
        let mut out = vec![0f32; batch * m.outputs_per_sample() * m.dim()];
        let grad: Vec<f32> = (0..out.len()).map(|i| (i % 7) as f32 * 1e-3).collect();
        let mut i = 0;
        g.bench_function(format!("forward/{}", layout.as_str()), |b| {
            b.iter(|| {
                i = (i + 1) % batches.len();
                m.forward_eval(&batches[i], &mut out);
            })
        });
        g.bench_function(format!("forward_backward_sgd/{}", layout.as_str()), |b| {
            b.iter(|| {
                i = (i + 1) % batches.len();
                m.forward_train(&batches[i], &mut out);
                m.backward_update(&batches[i], &grad, SparseOptimizer::Sgd { lr: 0.01 });
            })
        });
        g.bench_function(
            format!("forward_backward_adagrad/{}", layout.as_str()),
            |b| {
                b.iter(|| {
                    i = (i + 1) % batches.len();
                    m.forward_train(&batches[i], &mut out);
                    m.backward_update(
                        &batches[i],
                        &grad,
                        SparseOptimizer::RowwiseAdagrad {
                            lr: 0.01,
                            eps: 1e-8,
                        },
                    );
                })
            },
        );
    }
    g.finish();
}

/// The `--set` lines of each method at about 4 MiB of table.
pub const AT_4MIB: [(&str, &[&str]); 4] = [
    (
        "memrec",
        &[
            "memrec.method=memrec",
            "memrec.k=4",
            "memrec.token_rows=65536",
        ],
    ),
    (
        "hashing",
        &["memrec.method=hashing", "memrec.hash_rows=4096"],
    ),
    ("qr", &["memrec.method=qr", "memrec.qr_collisions=2048"]),
    (
        "robe_z",
        &["memrec.method=robe_z", "memrec.robe_size=1048576"],
    ),
];

fn bench_methods(c: &mut Criterion) {
    let base = Config::from_preset("kaggle").expect("kaggle preset");
    let batch = base.bench.batch;
    let batches: Vec<Vec<u64>> = (0..16)
        .map(|i| keys(batch, i, &base.data.cardinalities))
        .collect();
    let mut g = c.benchmark_group("forward_4mib");
    g.throughput(Throughput::Elements((batch * NUM_CAT) as u64));
    for (name, sets) in AT_4MIB {
        let mut cfg = base.clone();
        for s in sets {
            cfg.apply_set(s).expect("a valid --set");
        }
        let rep = build_compressed(&cfg);
        let mut out = vec![0f32; batch * rep.outputs_per_sample() * rep.dim()];
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % batches.len();
                rep.forward_eval(&batches[i], &mut out);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench, bench_methods);
criterion_main!(benches);
