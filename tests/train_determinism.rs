//! Same configuration and seed give identical metrics with 1 or 2 threads, with the real
//! representations (uncompressed baseline, MEM-REC bundled and per feature) on the real Criteo sample.
mod common;

use std::sync::Arc;

use memrec_tui::config::{Config, Layout};
use memrec_tui::train::engine::{Engine, EngineOptions};
use memrec_tui::train::protocol::EngineEvent;

fn cfg(threads: usize, layout: Layout, data: &str) -> Config {
    let mut c = Config::from_preset("kaggle").unwrap();
    c.threads = threads;
    c.data.train = Some(data.to_string());
    c.model.dim = 8;
    c.model.bottom_mlp = vec![32, 8];
    c.model.top_mlp = vec![32, 1];
    c.memrec.layout = layout;
    c.train.batch = 128;
    c.eval.every_samples = 1280;
    c.validate().unwrap();
    c
}

fn numbers(c: Config) -> Vec<(String, u64, u64, u64, Option<u64>)> {
    let source = memrec_tui::data::open_source(&c.data_options()).unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    let opts = EngineOptions {
        max_steps: Some(25),
        exit_when_done: true,
        ..EngineOptions::default()
    };
    let h = Engine::spawn_with(c, Arc::clone(&source), tx, opts).unwrap();
    let out: Vec<_> = rx
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Eval(p) => Some((
                p.run.to_string(),
                p.samples,
                p.auc.to_bits(),
                p.logloss.to_bits(),
                p.delta_auc.map(|d| d.delta.to_bits()),
            )),
            EngineEvent::RunFailed { run, message, .. } => panic!("{run}: {message}"),
            _ => None,
        })
        .collect();
    assert!(h.shutdown());
    out
}

#[test]
fn one_and_two_threads_agree_on_the_criteo_sample() {
    let Some(path) = common::criteo_sample() else {
        return;
    };
    let path = path.display().to_string();
    for layout in [Layout::Bundled, Layout::PerFeature] {
        let a = numbers(cfg(1, layout, &path));
        let b = numbers(cfg(2, layout, &path));
        // 25 steps of 128: warm-up evaluations at 160, 320 and 640 samples, then 1280, 2560 and
        // the final 3200, for both runs.
        assert_eq!(a.len(), 12, "{a:?}");
        assert_eq!(a, b, "{layout:?}");
        assert!(a.iter().any(|r| r.4.is_some()), "ΔAUC reported for MEM-REC");
    }
}

/// The dense part alone at the Kaggle architecture (the full-size kernels, several tiles and
/// contraction blocks per product): parameters after three SGD steps are bit-identical with
/// 1, 2 and 3 threads, for a batch that is not a multiple of any block size.
#[test]
fn kaggle_dense_steps_are_bit_identical_across_thread_counts() {
    use memrec_tui::config::Optimizer;
    use memrec_tui::data::NUM_DENSE;
    use memrec_tui::model::{DenseOpt, Dlrm, Interaction};
    use memrec_tui::util::rng::SplitMix64;

    let cfg = Config::from_preset("kaggle").unwrap();
    for inter in [Interaction::Dot { features: 26 }, Interaction::Concat] {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut m = Dlrm::new(&cfg.model, inter, Optimizer::Adagrad, 3).unwrap();
            let rows = 300;
            let mut r = SplitMix64::salted(9);
            let dense: Vec<f32> = (0..rows * NUM_DENSE)
                .map(|_| r.unit_open_f64() as f32 * 3.0)
                .collect();
            let emb: Vec<f32> = (0..rows * m.emb_width()).map(|_| r.normal(0.2)).collect();
            let labels: Vec<f32> = (0..rows).map(|i| (i % 3 == 0) as u8 as f32).collect();
            let mut gemb = vec![0.0; emb.len()];
            let opt = DenseOpt {
                kind: Optimizer::Adagrad,
                lr: 0.05,
                eps: 1e-8,
            };
            let mut losses = Vec::new();
            pool.install(|| {
                for _ in 0..3 {
                    let l = m
                        .forward_backward(&dense, &emb, &labels, &mut gemb)
                        .unwrap();
                    losses.push(l.to_bits());
                    m.update(opt);
                }
            });
            let bits: Vec<u32> = m.params().iter().map(|p| p.to_bits()).collect();
            let g: Vec<u32> = gemb.iter().map(|p| p.to_bits()).collect();
            (losses, bits, g)
        };
        let one = run(1);
        assert_eq!(one, run(2), "{inter:?}: 1 vs 2 threads");
        assert_eq!(one, run(3), "{inter:?}: 1 vs 3 threads");
    }
}
