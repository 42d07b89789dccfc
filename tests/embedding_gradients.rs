//! Gradients of every representation against finite differences, and the optimizer steps.
//!
//! The loss is `L = sum(out * R)` for a fixed random `R`, so `grad_out = R`. One SGD step with
//! lr = 1 moves each parameter by minus its gradient, which is compared with central
//! differences of `forward_eval`. Each output is linear in any single parameter, so the
//! differences are exact up to f32 rounding.

use memrec_tui::config::Layout;
use memrec_tui::data::{NUM_CAT, token_key};
use memrec_tui::embedding::{
    HashingTrick, MemRec, Qr, Representation, RobeZ, SparseOptimizer, Uncompressed,
};
use memrec_tui::util::rng::SplitMix64;

const CARDS: [u64; NUM_CAT] = [
    5, 3, 40, 7, 2, 9, 11, 4, 3, 6, 8, 30, 5, 5, 7, 20, 3, 6, 4, 2, 25, 3, 3, 9, 4, 6,
];

/// Keys of `samples` rows with small vocabularies, so values repeat within the batch (rows
/// are shared by several sources) and some are missing.
fn keys(samples: usize, seed: u64) -> Vec<u64> {
    let mut rng = SplitMix64(seed);
    let mut k = Vec::new();
    for _ in 0..samples {
        for (j, &c) in CARDS.iter().enumerate() {
            let v = rng.next_u64() % (c + 1);
            k.push(token_key(j, (v < c).then_some(v as u32)));
        }
    }
    k
}

fn loss(rep: &dyn Representation, keys: &[u64], r: &[f32]) -> f64 {
    let mut out = vec![0f32; r.len()];
    rep.forward_eval(keys, &mut out);
    out.iter().zip(r).map(|(o, w)| *o as f64 * *w as f64).sum()
}

/// Check the gradient of every parameter reachable through `params`.
fn check<R: Representation + Clone>(
    rep: &mut R,
    keys: &[u64],
    params: fn(&mut R) -> Vec<&mut [f32]>,
    label: &str,
) {
    let outs = keys.len() / NUM_CAT * rep.outputs_per_sample() * rep.dim();
    let mut rng = SplitMix64(99);
    let r: Vec<f32> = (0..outs).map(|_| rng.uniform(1.0)).collect();
    let mut out = vec![0f32; outs];
    rep.forward_train(keys, &mut out);
    let before: Vec<Vec<f32>> = params(rep).into_iter().map(|p| p.to_vec()).collect();
    let mut stepped = rep.clone();
    stepped.backward_update(keys, &r, SparseOptimizer::Sgd { lr: 1.0 });
    let after: Vec<Vec<f32>> = params(&mut stepped)
        .into_iter()
        .map(|p| p.to_vec())
        .collect();
    let eps = 1e-2f32;
    let mut checked = 0;
    let mut nonzero = 0;
    for t in 0..before.len() {
        for i in 0..before[t].len() {
            let analytic = (before[t][i] - after[t][i]) as f64;
            params(rep)[t][i] = before[t][i] + eps;
            let lp = loss(rep, keys, &r);
            params(rep)[t][i] = before[t][i] - eps;
            let lm = loss(rep, keys, &r);
            params(rep)[t][i] = before[t][i];
            let numeric = (lp - lm) / (2.0 * eps as f64);
            let tol = 2e-3 * (1.0 + numeric.abs());
            assert!(
                (analytic - numeric).abs() <= tol,
                "{label}: table {t} param {i}: analytic {analytic} vs finite difference {numeric}"
            );
            if numeric == 0.0 {
                // Untouched parameters must not move at all.
                assert_eq!(
                    before[t][i], after[t][i],
                    "{label}: untouched param {i} moved"
                );
            } else {
                nonzero += 1;
            }
            checked += 1;
        }
    }
    assert!(
        nonzero > 0 && nonzero < checked,
        "{label}: {nonzero} of {checked} gradients non-zero"
    );
}

fn memrec_params(m: &mut MemRec) -> Vec<&mut [f32]> {
    m.tables_mut().into()
}

#[test]
fn memrec_gradients_match_finite_differences() {
    let k = keys(6, 1);
    for layout in [Layout::Bundled, Layout::PerFeature] {
        for (kk, kw) in [(1, 1), (2, 1), (3, 2), (2, 0)] {
            // Token rows few enough that rows collide within the batch; weights perturbed away
            // from their constant init so every term matters.
            let mut m = MemRec::new(layout, 5, kk, 257, kw, 7, 42);
            let mut rng = SplitMix64(5);
            for w in m.weight_table_mut() {
                *w += rng.uniform(0.5);
            }
            check(
                &mut m,
                &k,
                memrec_params,
                &format!("{layout:?} K={kk} kw={kw}"),
            );
        }
    }
}

#[test]
fn uncompressed_gradients_match_finite_differences() {
    let k = keys(8, 2);
    let mut u = Uncompressed::new(4, &CARDS, 3);
    check(&mut u, &k, |u| vec![u.table_mut()], "uncompressed");
}

#[test]
fn hashing_gradients_match_finite_differences() {
    let k = keys(8, 3);
    let mut h = HashingTrick::new(4, &CARDS, 4, 3);
    check(&mut h, &k, |h| vec![h.table_mut()], "hashing");
}

#[test]
fn qr_gradients_match_finite_differences() {
    // c = 4: features with at most 4 values keep a full table, the others get a quotient and a
    // remainder table, and several indices share each quotient row within the batch.
    let k = keys(8, 4);
    let mut q = Qr::new(4, &CARDS, 4, 3);
    let mut rng = SplitMix64(8);
    for w in q.table_mut() {
        *w += rng.uniform(0.3);
    }
    check(&mut q, &k, |q| vec![q.table_mut()], "qr");
}

#[test]
fn robe_z_gradients_match_finite_differences() {
    // A 211-float array (not a multiple of Z) read 312 times: blocks overlap each other, some
    // wrap around its end, and some floats stay untouched.
    let k = keys(3, 5);
    for z in [1, 2, 4] {
        let mut r = RobeZ::new(4, z, 211, 3);
        check(&mut r, &k, |r| vec![r.array_mut()], &format!("robe Z={z}"));
    }
}

#[test]
fn rowwise_adagrad_step_is_lr_g_over_sqrt_mean_square() {
    let k = keys(4, 7);
    let mut m = MemRec::new(Layout::PerFeature, 4, 2, 31, 1, 5, 9);
    let outs = 4 * NUM_CAT * 4;
    let r: Vec<f32> = (0..outs).map(|i| ((i % 5) as f32 - 2.0) * 0.1).collect();
    let mut out = vec![0f32; outs];
    m.forward_train(&k, &mut out);
    let start = m.token_table().to_vec();
    let mut sgd = m.clone();
    // A huge SGD step reads the gradient without cancellation against the parameter.
    let big = 1e4f32;
    sgd.backward_update(&k, &r, SparseOptimizer::Sgd { lr: big });
    let (lr, eps) = (0.1f32, 1e-8f32);
    m.backward_update(&k, &r, SparseOptimizer::RowwiseAdagrad { lr, eps });
    let (acc, wacc) = m.optimizer_state();
    assert_eq!((acc.len(), wacc.len()), (31, 5));
    for row in 0..31 {
        let g: Vec<f32> = (0..4)
            .map(|c| (start[row * 4 + c] - sgd.token_table()[row * 4 + c]) / big)
            .collect();
        let mean_sq = g.iter().map(|x| x * x).sum::<f32>() / 4.0;
        assert!((acc[row] - mean_sq).abs() <= 1e-5 * (1.0 + mean_sq));
        for c in 0..4 {
            let want = start[row * 4 + c] - lr * g[c] / (mean_sq.sqrt() + eps);
            let got = m.token_table()[row * 4 + c];
            assert!(
                (want - got).abs() <= 1e-4,
                "row {row} col {c}: {got} vs {want}"
            );
        }
    }
}
