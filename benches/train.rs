//! Training throughput of the DLRM dense part (bottom MLP, interaction, top MLP, loss, backward,
//! dense SGD) at the Kaggle architecture, in samples/s and GFLOP/s.
//!
//! `cargo bench --bench train -- [BATCH ...]` (default 128 1024); threads from MEMREC_THREADS
//! (default 2), steps per measurement from MEMREC_STEPS. Besides wall-clock rates it prints the
//! rate per CPU-second of this process (all threads, from getrusage), which a shared machine
//! disturbs less: other processes take wall time from us but not CPU time.
use std::time::Instant;

use memrec_tui::config::{Config, Optimizer};
use memrec_tui::data::NUM_DENSE;
use memrec_tui::model::{DenseOpt, Dlrm, Interaction};
use memrec_tui::util::rng::SplitMix64;

fn main() {
    let threads: usize = std::env::var("MEMREC_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let batches: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let batches = if batches.is_empty() {
        vec![128, 1024]
    } else {
        batches
    };
    let cfg = Config::from_preset("kaggle").expect("kaggle preset");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    for inter in [Interaction::Dot { features: 26 }, Interaction::Concat] {
        for &batch in &batches {
            let mut m = Dlrm::new(&cfg.model, inter, Optimizer::Sgd, 1).expect("model");
            let mut r = SplitMix64::salted(2);
            let dense: Vec<f32> = (0..batch * NUM_DENSE)
                .map(|_| r.unit_open_f64() as f32 * 3.0)
                .collect();
            let emb: Vec<f32> = (0..batch * m.emb_width()).map(|_| r.normal(0.1)).collect();
            let labels: Vec<f32> = (0..batch).map(|i| (i % 4 == 0) as u8 as f32).collect();
            let mut gemb = vec![0.0; emb.len()];
            let opt = DenseOpt {
                kind: Optimizer::Sgd,
                lr: 0.01,
                eps: 1e-8,
            };
            let steps: usize = std::env::var("MEMREC_STEPS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or((400_000 / batch).max(20));
            pool.install(|| {
                for _ in 0..5 {
                    m.forward_backward_update(&dense, &emb, &labels, &mut gemb, opt)
                        .expect("step");
                }
                let t = Instant::now();
                let cpu0 = cpu_seconds();
                for _ in 0..steps {
                    m.forward_backward_update(&dense, &emb, &labels, &mut gemb, opt)
                        .expect("step");
                }
                let secs = t.elapsed().as_secs_f64();
                let cpu = cpu_seconds() - cpu0;
                let sps = (steps * batch) as f64 / secs;
                // Forward 2 flops per MAC, backward about twice the forward.
                let flops = 6.0 * m.forward_macs() as f64;
                let gflops = sps * flops / 1e9;
                let per_cpu = (steps * batch) as f64 / cpu;
                println!(
                    "dense part {:?} batch {batch} threads {threads}: {sps:.0} samples/s, {gflops:.1} GFLOP/s; per CPU-second {per_cpu:.0} samples, {:.1} GFLOP (avx512: {})",
                    inter,
                    per_cpu * flops / 1e9,
                    memrec_tui::model::gemm::uses_avx512()
                );
            });
        }
    }
}

/// User + system CPU seconds of this process, all threads.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct we pass and nothing else.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(u.ru_utime) + tv(u.ru_stime)
}
