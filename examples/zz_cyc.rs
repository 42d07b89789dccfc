use memrec_tui::config::Config;
use memrec_tui::data::{NUM_CAT, token_key};
use memrec_tui::embedding::hash::SplitMix64;
use memrec_tui::embedding::{MemRec, Representation};
fn main() {
    let iters: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(2000);
    let mut cfg = Config::from_preset("kaggle").unwrap();
    if let Ok(d) = std::env::var("D") {
        cfg.memrec.token_rows = d.parse().unwrap();
    }
    let batch = 2048;
    let mut rng = SplitMix64(1);
    let nb: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(16);
    let batches: Vec<Vec<u64>> = (0..nb)
        .map(|_| {
            let mut k = Vec::new();
            for _ in 0..batch {
                for (j, &c) in cfg.data.cardinalities.iter().enumerate() {
                    let r = ((rng.next_unit_f64() * ((c + 1) as f64).ln()).exp() as u64)
                        .saturating_sub(1);
                    k.push(token_key(j, Some((r.min(c - 1)) as u32)));
                }
            }
            k
        })
        .collect();
    let m = MemRec::from_config(&cfg);
    let mut out = vec![0f32; batch * m.outputs_per_sample() * m.dim()];
    let t = std::time::Instant::now();
    for i in 0..iters {
        m.forward_eval(&batches[i % nb], &mut out);
    }
    let ns = t.elapsed().as_nanos() as f64 / (iters * batch * NUM_CAT) as f64;
    eprintln!("wall ns/token {ns:.3}  tokens {}", iters * batch * NUM_CAT);
}
