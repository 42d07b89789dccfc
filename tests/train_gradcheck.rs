//! Every layer's gradient (bottom MLP, dot / concat interaction, top MLP, BCE with logits) against
//! central finite differences of the loss, on a small DLRM in f32.
use memrec_tui::config::{ModelConfig, Optimizer};
use memrec_tui::data::NUM_DENSE;
use memrec_tui::model::{DenseOpt, Dlrm, Interaction, chunk_rows};
use memrec_tui::util::rng::SplitMix64;

fn small(interaction: Interaction) -> Dlrm {
    let cfg = ModelConfig {
        dim: 4,
        bottom_mlp: vec![6, 4],
        top_mlp: vec![5, 3, 1],
    };
    Dlrm::new(&cfg, interaction, Optimizer::Sgd, 12).unwrap()
}

fn inputs(m: &Dlrm, rows: usize, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut r = SplitMix64::salted(seed);
    let dense = (0..rows * NUM_DENSE)
        .map(|_| r.unit_open_f64() as f32 * 2.0)
        .collect();
    let emb = (0..rows * m.emb_width()).map(|_| r.normal(0.5)).collect();
    let labels = (0..rows).map(|i| (i % 3 == 0) as u8 as f32).collect();
    (dense, emb, labels)
}

/// |fd - analytic| within 2e-3 + 3% of the larger magnitude.
fn agree(fd: f64, an: f64) -> bool {
    (fd - an).abs() <= 2e-3 + 0.03 * fd.abs().max(an.abs())
}

fn check(interaction: Interaction) {
    let mut m = small(interaction);
    // 150 rows: three chunks, the last one short, so the chunk reduction is checked too.
    let rows = 150;
    assert!(rows > 2 * chunk_rows(rows));
    let (dense, emb, labels) = inputs(&m, rows, 5);
    let mut gemb = vec![0.0; emb.len()];
    let loss = m
        .forward_backward(&dense, &emb, &labels, &mut gemb)
        .unwrap();
    let direct = m.loss(&dense, &emb, &labels).unwrap();
    assert!((loss - direct).abs() < 1e-6, "{loss} vs {direct}");
    let grad = m.grad().to_vec();
    let h = 1e-3f32;
    let mut bad = Vec::new();
    let mut kinks = 0;
    let mut nonzero = 0;
    let fd_at = |m: &mut Dlrm, k: usize, h: f32| {
        let p0 = m.params()[k];
        m.params_mut()[k] = p0 + h;
        let up = m.loss(&dense, &emb, &labels).unwrap();
        m.params_mut()[k] = p0 - h;
        let dn = m.loss(&dense, &emb, &labels).unwrap();
        m.params_mut()[k] = p0;
        (up - dn) / (2.0 * h as f64)
    };
    #[allow(clippy::needless_range_loop)] // k indexes params, grad and the model at once
    for k in 0..m.num_params() {
        if grad[k] != 0.0 {
            nonzero += 1;
        }
        let fd = fd_at(&mut m, k, h);
        if !agree(fd, grad[k] as f64) {
            // A ReLU kink within h of some sample makes the difference quotient depend on h; a
            // wrong gradient does not. Only a step-independent disagreement is an error.
            let fd4 = fd_at(&mut m, k, h / 4.0);
            if agree(fd, fd4) {
                bad.push((k, fd, grad[k]));
            } else {
                kinks += 1;
            }
        }
    }
    assert!(bad.is_empty(), "parameters off: {bad:?}");
    assert!(
        kinks * 50 < m.num_params(),
        "{kinks} kinks: too many to trust the check"
    );
    assert!(
        nonzero > m.num_params() / 2,
        "too few live gradients: {nonzero}"
    );
    let mut e = emb.clone();
    for k in (0..emb.len()).step_by(7) {
        e[k] = emb[k] + h;
        let up = m.loss(&dense, &e, &labels).unwrap();
        e[k] = emb[k] - h;
        let dn = m.loss(&dense, &e, &labels).unwrap();
        e[k] = emb[k];
        let fd = (up - dn) / (2.0 * h as f64);
        assert!(
            agree(fd, gemb[k] as f64),
            "emb[{k}]: fd {fd} vs {}",
            gemb[k]
        );
    }
}

#[test]
fn dot_interaction_gradients_match_finite_differences() {
    check(Interaction::Dot { features: 26 });
}

#[test]
fn concat_interaction_gradients_match_finite_differences() {
    check(Interaction::Concat);
}

#[test]
fn sgd_and_adagrad_steps_follow_their_formulas() {
    let mut m = small(Interaction::Concat);
    let (dense, emb, labels) = inputs(&m, 20, 9);
    let mut gemb = vec![0.0; emb.len()];
    m.forward_backward(&dense, &emb, &labels, &mut gemb)
        .unwrap();
    let (p0, g) = (m.params().to_vec(), m.grad().to_vec());
    m.update(DenseOpt {
        kind: Optimizer::Sgd,
        lr: 0.5,
        eps: 1e-8,
    });
    for k in 0..p0.len() {
        assert_eq!(m.params()[k], p0[k] - 0.5 * g[k]);
    }
    let mut a = small(Interaction::Concat);
    a.forward_backward(&dense, &emb, &labels, &mut gemb)
        .unwrap();
    let (p0, g) = (a.params().to_vec(), a.grad().to_vec());
    let opt = DenseOpt {
        kind: Optimizer::Adagrad,
        lr: 0.1,
        eps: 1e-8,
    };
    a.update(opt);
    a.update(opt);
    for k in 0..p0.len() {
        let s1 = g[k] * g[k];
        let p1 = p0[k] - 0.1 * g[k] / (s1.sqrt() + 1e-8);
        let p2 = p1 - 0.1 * g[k] / ((s1 + s1).sqrt() + 1e-8);
        assert!((a.params()[k] - p2).abs() <= 1e-6 * (1.0 + p2.abs()), "{k}");
    }
}

#[test]
fn initialisation_is_deterministic_and_scaled_like_dlrm() {
    let cfg = ModelConfig {
        dim: 16,
        bottom_mlp: vec![512, 256, 64, 16],
        top_mlp: vec![512, 256, 1],
    };
    let a = Dlrm::new(&cfg, Interaction::Dot { features: 26 }, Optimizer::Sgd, 1).unwrap();
    let b = Dlrm::new(&cfg, Interaction::Dot { features: 26 }, Optimizer::Sgd, 1).unwrap();
    let c = Dlrm::new(&cfg, Interaction::Dot { features: 26 }, Optimizer::Sgd, 2).unwrap();
    assert_eq!(a.params(), b.params());
    assert_ne!(a.params(), c.params());
    // Layer 2 of the bottom MLP: 512 x 256 weights with std sqrt(2 / 768) = 0.051.
    let off = 13 * 512 + 512;
    let w = &a.params()[off..off + 512 * 256];
    let var = w.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / w.len() as f64;
    assert!(
        (var.sqrt() - (2.0f64 / 768.0).sqrt()).abs() < 0.002,
        "{}",
        var.sqrt()
    );
    // 13-512-256-64-16 and 367-512-256-1, weights and biases.
    let want = 13 * 512
        + 512
        + 512 * 256
        + 256
        + 256 * 64
        + 64
        + 64 * 16
        + 16
        + 367 * 512
        + 512
        + 512 * 256
        + 256
        + 256
        + 1;
    assert_eq!(a.num_params(), want);
}

#[test]
fn shapes_are_checked_not_panicked() {
    let mut m = small(Interaction::Concat);
    let mut g = vec![0.0; 8];
    let err = m
        .forward_backward(&[0.0; 13], &[0.0; 3], &[1.0], &mut g)
        .unwrap_err();
    assert!(err.to_string().contains("representation output"), "{err}");
}
