//! The planted model is learnable, and compression visibly hurts it: a per-token logistic
//! regression trained on the tiny preset's stream gets a good part of the oracle AUC with one
//! weight per token, and clearly less when the tokens are hashed into a few hundred shared
//! weights (what an aggressive MEM-REC setting does to the embedding rows). A stand-in for the
//! DLRM trainer, which lives elsewhere; it checks the data, not the model.

use std::collections::HashMap;

use memrec_tui::config::Config;
use memrec_tui::data::synthetic::SyntheticSource;
use memrec_tui::data::{Batch, DataSource, NUM_CAT};

/// Exact AUC (ties counted half), from the library's metrics.
fn auc(scores: &[f32], labels: &[f32]) -> f64 {
    memrec_tui::metrics::auc(labels, scores).expect("both classes present")
}

/// Train on `samples` rows with one weight per slot (`slot(key)`), return the test AUC.
fn logistic_auc(src: &SyntheticSource, samples: usize, slot: &dyn Fn(u64) -> u64) -> f64 {
    let mut w: HashMap<u64, f32> = HashMap::new();
    let mut bias = 0.0f32;
    let lr = 0.05f32;
    let mut stream = src.open_train().expect("stream");
    let mut b = Batch::default();
    let mut seen = 0;
    while seen < samples {
        seen += stream.next_batch(4096, &mut b).expect("rows");
        for (row, &y) in b.keys.chunks_exact(NUM_CAT).zip(&b.labels) {
            let z = bias
                + row
                    .iter()
                    .map(|&k| w.get(&slot(k)).copied().unwrap_or(0.0))
                    .sum::<f32>();
            let g = 1.0 / (1.0 + (-z).exp()) - y;
            bias -= lr * g;
            for &k in row {
                *w.entry(slot(k)).or_insert(0.0) -= lr * g;
            }
        }
    }
    let test = src.test_set().expect("test rows");
    let scores: Vec<f32> = test
        .keys
        .chunks_exact(NUM_CAT)
        .map(|row| {
            row.iter()
                .map(|&k| w.get(&slot(k)).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    auc(&scores, &test.labels)
}

#[test]
fn tiny_preset_is_learnable_and_compression_hurts() {
    let cfg = Config::from_preset("tiny").expect("embedded preset");
    let src = SyntheticSource::new(&cfg.data_options());
    let test = src.test_set().expect("test rows");
    let oracle = auc(test.true_prob.as_ref().expect("p"), &test.labels);
    let full = logistic_auc(&src, 300_000, &|k| k);
    // 256 shared rows, as the tiny preset's MEM-REC token table.
    let hashed = logistic_auc(&src, 300_000, &|k| {
        k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - 8)
    });
    eprintln!(
        "tiny: oracle AUC {oracle:.4}, per-token LR {full:.4}, 256 hashed weights {hashed:.4}"
    );
    assert!(
        full > 0.5 + 0.6 * (oracle - 0.5),
        "learnable: {full} vs oracle {oracle}"
    );
    assert!(
        full - hashed > 0.02,
        "compression must show: {full} vs {hashed}"
    );
}
