//! The fused training step (`forward_backward_update`: each weight-gradient block updated while
//! hot, with SGD straight from the product's registers) gives the bits of `forward_backward`
//! followed by `update`, with SGD and Adagrad, for batches cut into many chunks and several row
//! slabs, with layers whose gradient is split into several blocks and whose widths are not
//! multiples of the kernel's panels.
use memrec_tui::config::{ModelConfig, Optimizer};
use memrec_tui::data::NUM_DENSE;
use memrec_tui::model::{DenseOpt, Dlrm, Interaction};
use memrec_tui::util::rng::SplitMix64;

fn model(inter: Interaction, opt: Optimizer) -> Dlrm {
    let cfg = ModelConfig {
        dim: 8,
        // 512 -> 256 is cut into two gradient blocks; 40, 70 and 359 (the dot interaction's
        // width) leave partial panels.
        bottom_mlp: vec![512, 256, 40, 8],
        top_mlp: vec![70, 1],
    };
    Dlrm::new(&cfg, inter, opt, 4).unwrap()
}

type Bits = (Vec<u64>, Vec<u32>, Vec<u32>, Vec<u32>);

fn run(inter: Interaction, kind: Optimizer, fused: bool, threads: usize, rows: usize) -> Bits {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut m = model(inter, kind);
    let mut r = SplitMix64::salted(21);
    let dense: Vec<f32> = (0..rows * NUM_DENSE)
        .map(|_| r.unit_open_f64() as f32 * 3.0)
        .collect();
    let emb: Vec<f32> = (0..rows * m.emb_width()).map(|_| r.normal(0.3)).collect();
    let labels: Vec<f32> = (0..rows).map(|i| (i % 4 == 1) as u8 as f32).collect();
    let mut gemb = vec![0.0; emb.len()];
    let opt = DenseOpt {
        kind,
        lr: 0.05,
        eps: 1e-8,
    };
    let mut losses = Vec::new();
    pool.install(|| {
        for _ in 0..3 {
            let l = if fused {
                m.forward_backward_update(&dense, &emb, &labels, &mut gemb, opt)
                    .unwrap()
            } else {
                let l = m
                    .forward_backward(&dense, &emb, &labels, &mut gemb)
                    .unwrap();
                m.update(opt);
                // Marks the parameters as edited: the next step transposes them afresh instead
                // of using the transpose the update wrote, so a stale transpose shows.
                m.params_mut();
                l
            };
            losses.push(l.to_bits());
        }
    });
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    // A fused SGD step never stores the weights' gradient (`Dlrm::grad` says so): compare it
    // where it is kept.
    let grad = if fused && kind == Optimizer::Sgd {
        Vec::new()
    } else {
        bits(m.grad())
    };
    (losses, bits(m.params()), grad, bits(&gemb))
}

#[test]
fn fused_step_has_the_bits_of_backward_then_update() {
    for inter in [Interaction::Dot { features: 26 }, Interaction::Concat] {
        for kind in [Optimizer::Sgd, Optimizer::Adagrad] {
            // 600 rows: ten chunks of 60, three slabs whose edges fall inside chunks.
            let mut split = run(inter, kind, false, 2, 600);
            let fused = run(inter, kind, true, 2, 600);
            if kind == Optimizer::Sgd {
                assert!(!split.2.is_empty());
                split.2.clear();
            }
            assert_eq!(split, fused, "{inter:?} {kind:?}");
            assert_eq!(fused, run(inter, kind, true, 1, 600), "{inter:?} {kind:?}");
            assert_eq!(fused, run(inter, kind, true, 3, 600), "{inter:?} {kind:?}");
        }
    }
}

/// `forward_backward_update_with` calls its side job exactly once, with the finished
/// representation gradient, and changes nothing else: on 1 or 2 threads, for a batch of one
/// chunk, of many chunks, and an empty batch.
#[test]
fn the_side_job_runs_once_on_the_finished_representation_gradient() {
    let inter = Interaction::Dot { features: 26 };
    let opt = DenseOpt {
        kind: Optimizer::Sgd,
        lr: 0.05,
        eps: 1e-8,
    };
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for rows in [0, 64, 600] {
            let mut plain = model(inter, Optimizer::Sgd);
            let mut with = model(inter, Optimizer::Sgd);
            let mut r = SplitMix64::salted(5);
            let dense: Vec<f32> = (0..rows * NUM_DENSE)
                .map(|_| r.unit_open_f64() as f32)
                .collect();
            let emb: Vec<f32> = (0..rows * plain.emb_width())
                .map(|_| r.normal(0.3))
                .collect();
            let labels: Vec<f32> = (0..rows).map(|i| (i % 3 == 0) as u8 as f32).collect();
            let (mut g_plain, mut g_with) = (vec![0.0; emb.len()], vec![f32::NAN; emb.len()]);
            let seen = std::sync::Mutex::new(Vec::new());
            pool.install(|| {
                let a = plain
                    .forward_backward_update(&dense, &emb, &labels, &mut g_plain, opt)
                    .unwrap();
                let b = with
                    .forward_backward_update_with(&dense, &emb, &labels, &mut g_with, opt, |g| {
                        seen.lock().unwrap().push(g.to_vec())
                    })
                    .unwrap();
                assert_eq!(a.to_bits(), b.to_bits());
            });
            let seen = seen.into_inner().unwrap();
            assert_eq!(seen.len(), 1, "{threads} threads, {rows} rows");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&seen[0]),
                bits(&g_plain),
                "{threads} threads, {rows} rows"
            );
            assert_eq!(bits(&g_with), bits(&g_plain));
            assert_eq!(bits(with.params()), bits(plain.params()));
        }
    }
}
