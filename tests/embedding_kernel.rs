//! The fused MEM-REC kernel against the plain reference loop, determinism across thread counts,
//! byte counts against the allocations, the builders, and properties of the hashing.

use memrec_tui::config::{BaselineKind, Config, Layout};
use memrec_tui::data::{NUM_CAT, token_key};
use memrec_tui::embedding::hash::{MAX_SLOTS, MemrecHasher, reduce};
use memrec_tui::embedding::{
    HashingTrick, MemRec, Representation, SparseOptimizer, Uncompressed, build_baseline,
    build_compressed,
};
use memrec_tui::util::rng::SplitMix64;
use proptest::prelude::*;

fn random_keys(samples: usize, seed: u64, vocab: u64) -> Vec<u64> {
    let mut rng = SplitMix64(seed);
    (0..samples * NUM_CAT)
        .map(|t| {
            let v = rng.next_u64() % (vocab + 1);
            token_key(t % NUM_CAT, (v < vocab).then_some(v as u32))
        })
        .collect()
}

fn out_len(rep: &dyn Representation, keys: &[u64]) -> usize {
    keys.len() / NUM_CAT * rep.outputs_per_sample() * rep.dim()
}

#[test]
fn fused_forward_equals_reference_loop_bit_for_bit() {
    // 70 samples: not a multiple of the kernel's chunk; dims with and without a specialised path.
    let keys = random_keys(70, 1, 5000);
    for layout in [Layout::Bundled, Layout::PerFeature] {
        for dim in [16, 5, 32, 8] {
            for (k, kw) in [(1, 1), (2, 1), (3, 0), (2, 3), (8, 8)] {
                let mut m = MemRec::new(layout, dim, k, 1000, kw, 77, 3);
                // Non-constant weights so the scale matters.
                let mut rng = SplitMix64(2);
                for w in m.weight_table_mut() {
                    *w = rng.uniform(1.0);
                }
                let n = out_len(&m, &keys);
                let (mut fused, mut reference, mut train) =
                    (vec![0.0; n], vec![1.0; n], vec![2.0; n]);
                m.forward_eval(&keys, &mut fused);
                m.reference_forward(&keys, &mut reference);
                let label = format!("{layout:?} dim {dim} K {k} kw {kw}");
                assert_eq!(
                    fused.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    reference.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    "{label}"
                );
                m.forward_train(&keys, &mut train);
                assert_eq!(fused, train, "{label}: train and eval forward differ");
            }
        }
    }
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// Three training steps with Adagrad then an eval forward; returns the outputs. With `prepare`,
/// each step groups its rows (`prepare_backward`) before the update, as the trainer does.
fn train_and_eval(
    mut rep: Box<dyn Representation>,
    batches: &[Vec<u64>],
    prepare: bool,
) -> Vec<f32> {
    for keys in batches {
        let n = out_len(rep.as_ref(), keys);
        let mut out = vec![0f32; n];
        rep.forward_train(keys, &mut out);
        if prepare {
            rep.prepare_backward();
        }
        let grad: Vec<f32> = out.iter().map(|o| o - 0.01).collect();
        rep.backward_update(
            keys,
            &grad,
            SparseOptimizer::RowwiseAdagrad { lr: 0.1, eps: 1e-8 },
        );
    }
    let keys = &batches[0];
    let mut out = vec![0f32; out_len(rep.as_ref(), keys)];
    rep.forward_eval(keys, &mut out);
    out
}

type Make = Box<dyn Fn() -> Box<dyn Representation> + Sync>;

/// Every representation, built from the tiny preset.
fn every_representation() -> Vec<Make> {
    let mut cfg = Config::from_preset("tiny").unwrap();
    let mut cases: Vec<Make> = Vec::new();
    for layout in [Layout::Bundled, Layout::PerFeature] {
        cfg.memrec.layout = layout;
        let c = cfg.clone();
        cases.push(Box::new(move || build_compressed(&c)));
    }
    cfg.memrec.layout = Layout::Bundled;
    for method in ["qr", "robe_z", "hashing"] {
        let mut c = cfg.clone();
        c.apply_set(&format!("memrec.method={method}")).unwrap();
        c.apply_set("memrec.qr_collisions=16").unwrap();
        c.apply_set("memrec.robe_size=1000").unwrap();
        c.apply_set("memrec.robe_z=2").unwrap();
        cases.push(Box::new(move || build_compressed(&c)));
    }
    for kind in [BaselineKind::Uncompressed, BaselineKind::Hashing] {
        cfg.baseline.kind = kind;
        cfg.baseline.hash_rows = 50;
        let c = cfg.clone();
        cases.push(Box::new(move || build_baseline(&c)));
    }
    cases
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let batches: Vec<Vec<u64>> = (0..3).map(|i| random_keys(300, 10 + i, 400)).collect();
    for make in &every_representation() {
        let one = in_pool(1, || train_and_eval(make(), &batches, false));
        let three = in_pool(3, || train_and_eval(make(), &batches, false));
        assert_eq!(one, three, "{}", make().kind());
        let again = in_pool(2, || train_and_eval(make(), &batches, false));
        assert_eq!(one, again, "{}", make().kind());
        // Grouping the rows ahead of the update (`prepare_backward`) changes no number.
        let prepared = in_pool(2, || train_and_eval(make(), &batches, true));
        assert_eq!(one, prepared, "{}: prepared", make().kind());
    }
}

#[test]
fn a_grouping_prepared_for_an_earlier_forward_is_not_used() {
    // Forward one batch and prepare its backward, then forward another and update with it: the
    // update must group the second batch's rows, as if nothing had been prepared.
    let (b0, b1) = (random_keys(200, 31, 400), random_keys(200, 32, 400));
    for make in &every_representation() {
        let run = |prepare_first: bool| {
            let mut rep = make();
            let mut out = vec![0f32; out_len(rep.as_ref(), &b0)];
            rep.forward_train(&b0, &mut out);
            if prepare_first {
                rep.prepare_backward();
            }
            rep.forward_train(&b1, &mut out);
            let grad: Vec<f32> = out.iter().map(|o| o + 0.5).collect();
            rep.backward_update(&b1, &grad, SparseOptimizer::Sgd { lr: 0.2 });
            rep.forward_eval(&b0, &mut out);
            out
        };
        assert_eq!(run(true), run(false), "{}", make().kind());
    }
}

#[test]
fn byte_counts_match_allocations_and_formulas() {
    for (layout, kw) in [
        (Layout::Bundled, 1),
        (Layout::PerFeature, 2),
        (Layout::Bundled, 0),
    ] {
        let mut m = MemRec::new(layout, 16, 2, 16384, kw, 1024, 1);
        let dw = if kw == 0 { 0 } else { 1024 };
        assert_eq!(m.token_table().len(), 16384 * 16);
        assert_eq!(m.weight_table().len(), dw);
        assert_eq!(m.param_bytes(), 4 * (16384 * 16 + dw as u64));
        assert_eq!(m.optimizer_bytes(), 0);
        let keys = random_keys(4, 3, 100);
        let mut out = vec![0f32; out_len(&m, &keys)];
        m.forward_train(&keys, &mut out);
        m.backward_update(
            &keys,
            &out.clone(),
            SparseOptimizer::RowwiseAdagrad { lr: 0.1, eps: 1e-8 },
        );
        let (a, b) = m.optimizer_state();
        assert_eq!(m.optimizer_bytes(), 4 * (a.len() + b.len()) as u64);
        assert_eq!(m.optimizer_bytes(), 4 * (16384 + dw as u64));
    }

    let cards: Vec<u64> = (0..NUM_CAT as u64).map(|j| 3 + j * 10).collect();
    let mut u = Uncompressed::new(8, &cards, 1);
    assert_eq!(
        u.param_bytes(),
        4 * 8 * NUM_CAT as u64,
        "26 out-of-vocabulary rows"
    );
    let keys = random_keys(50, 4, 30);
    let mut out = vec![0f32; out_len(&u, &keys)];
    u.forward_train(&keys, &mut out);
    let mut distinct = keys.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(u.distinct_tokens(), Some(distinct.len() as u64));
    assert_eq!(u.param_bytes(), 4 * u.table().len() as u64);
    assert_eq!(u.param_bytes(), 4 * 8 * (distinct.len() + NUM_CAT) as u64);
    u.backward_update(
        &keys,
        &out.clone(),
        SparseOptimizer::RowwiseAdagrad { lr: 0.1, eps: 1e-8 },
    );
    assert_eq!(u.optimizer_bytes(), 4 * u.optimizer_state().len() as u64);

    let h = HashingTrick::new(8, &cards, 20, 1);
    let rows: u64 = cards.iter().map(|&c| c.min(20)).sum();
    assert_eq!(h.param_bytes(), 4 * h.table().len() as u64);
    assert_eq!(h.param_bytes(), 4 * 8 * rows);
}

#[test]
fn uncompressed_eval_uses_the_out_of_vocabulary_row_for_unseen_values() {
    let cards = [100u64; NUM_CAT];
    let mut u = Uncompressed::new(4, &cards, 1);
    let seen = random_keys(2, 5, 50);
    let mut out = vec![0f32; out_len(&u, &seen)];
    u.forward_train(&seen, &mut out);
    let mut eval = vec![1f32; out.len()];
    u.forward_eval(&seen, &mut eval);
    assert_eq!(out, eval);
    let unseen: Vec<u64> = (0..NUM_CAT)
        .map(|j| token_key(j, Some(1_000_000)))
        .collect();
    let before = u.param_bytes();
    let mut o = vec![1f32; NUM_CAT * 4];
    u.forward_eval(&unseen, &mut o);
    assert!(o.iter().all(|&x| x == 0.0), "OOV rows are zero");
    assert_eq!(u.param_bytes(), before, "eval must not grow the vocabulary");
}

#[test]
fn uncompressed_rows_follow_first_occurrence_in_batch_order() {
    // Batches with values repeated inside a batch, across batches, and across features with the
    // same raw value: rows must be handed out exactly as one sequential pass would.
    let cards = [1000u64; NUM_CAT];
    let mut u = Uncompressed::new(4, &cards, 3);
    let mut reference: Vec<std::collections::HashMap<u64, u32>> = vec![Default::default(); NUM_CAT];
    let mut next = NUM_CAT as u32;
    for batch in 0..4u64 {
        let keys: Vec<u64> = (0..40u64 * NUM_CAT as u64)
            .map(|t| {
                let j = (t % NUM_CAT as u64) as usize;
                token_key(j, Some(((t * 7 + batch * 13) % 23) as u32))
            })
            .collect();
        let mut out = vec![0f32; out_len(&u, &keys)];
        u.forward_train(&keys, &mut out);
        for (t, &key) in keys.iter().enumerate() {
            let j = t % NUM_CAT;
            let want = *reference[j].entry(key).or_insert_with(|| {
                next += 1;
                next - 1
            });
            assert_eq!(u.row_of(j, key), Some(want), "batch {batch} token {t}");
            assert_eq!(
                &out[t * 4..][..4],
                &u.table()[want as usize * 4..][..4],
                "the output is the row"
            );
        }
    }
    assert_eq!(u.distinct_tokens(), Some((next - NUM_CAT as u32) as u64));
}

#[test]
fn uncompressed_initial_rows_depend_only_on_the_value() {
    // Two tables with the same seed see the same values in opposite sample orders, so the values
    // get different rows; each value's initial row must still be the same, in batches with
    // hundreds of new values (initialised in parallel) and with repeats.
    let cards = [1000u64; NUM_CAT];
    for dim in [16, 5] {
        let (mut a, mut b) = (
            Uncompressed::new(dim, &cards, 9),
            Uncompressed::new(dim, &cards, 9),
        );
        for batch in 0..3 {
            let keys = random_keys(300, 40 + batch, 400);
            let reversed: Vec<u64> = keys
                .chunks_exact(NUM_CAT)
                .rev()
                .flatten()
                .copied()
                .collect();
            let mut out = vec![0f32; out_len(&a, &keys)];
            a.forward_train(&keys, &mut out);
            b.forward_train(&reversed, &mut out);
        }
        let mut new_rows = 0;
        for (t, &key) in random_keys(300, 40, 400).iter().enumerate() {
            let j = t % NUM_CAT;
            let (ra, rb) = (a.row_of(j, key), b.row_of(j, key));
            let (Some(ra), Some(rb)) = (ra, rb) else {
                panic!("token {t} not in both vocabularies: {ra:?} {rb:?}");
            };
            new_rows += (ra != rb) as usize;
            assert_eq!(
                &a.table()[ra as usize * dim..][..dim],
                &b.table()[rb as usize * dim..][..dim],
                "dim {dim}, token {t}: rows {ra} and {rb}"
            );
        }
        assert!(new_rows > 1000, "the orders differ: {new_rows} rows moved");
    }
}

#[test]
fn admitted_rows_train_exactly_as_rows_found_in_training() {
    // One table admits all three batches up front, the other meets their values while training;
    // with the same gradients, every output and, at the end, every row and its number match.
    let cards = [1000u64; NUM_CAT];
    let batches: Vec<Vec<u64>> = (0..3).map(|b| random_keys(300, 60 + b, 400)).collect();
    for dim in [16, 5] {
        let (mut ahead, mut online) = (
            Uncompressed::new(dim, &cards, 9),
            Uncompressed::new(dim, &cards, 9),
        );
        let all: Vec<u64> = batches.concat();
        ahead.admit(&all);
        let distinct = ahead.distinct_tokens();
        assert!(
            distinct > Some(1000),
            "the values are admitted: {distinct:?}"
        );
        for (b, keys) in batches.iter().enumerate() {
            let n = out_len(&online, keys);
            let (mut oa, mut oo) = (vec![0f32; n], vec![0f32; n]);
            ahead.forward_train(keys, &mut oa);
            online.forward_train(keys, &mut oo);
            assert_eq!(oa, oo, "dim {dim}, batch {b}: outputs");
            let grad: Vec<f32> = (0..n).map(|i| ((i * 7 + b) % 13) as f32 - 6.0).collect();
            let opt = SparseOptimizer::RowwiseAdagrad {
                lr: 0.05,
                eps: 1e-8,
            };
            ahead.backward_update(keys, &grad, opt);
            online.backward_update(keys, &grad, opt);
        }
        assert_eq!(ahead.distinct_tokens(), distinct, "training added nothing");
        assert_eq!(ahead.distinct_tokens(), online.distinct_tokens());
        assert_eq!(ahead.table(), online.table(), "dim {dim}: rows");
        assert_eq!(ahead.optimizer_state(), online.optimizer_state());
    }
}

#[test]
fn builders_follow_the_config() {
    let mut cfg = Config::from_preset("kaggle").unwrap();
    let m = build_compressed(&cfg);
    assert_eq!(m.kind(), "memrec-bundled");
    assert_eq!(m.outputs_per_sample(), 1);
    assert_eq!(m.param_bytes(), 4 * (16384 * 16 + 1024));
    cfg.apply_set("memrec.layout=per_feature").unwrap();
    cfg.apply_set("memrec.kw=0").unwrap();
    let m = build_compressed(&cfg);
    assert_eq!(m.kind(), "bloom-per-feature");
    assert_eq!(m.outputs_per_sample(), NUM_CAT);
    assert_eq!(m.param_bytes(), 4 * 16384 * 16);
    assert_eq!(build_baseline(&cfg).kind(), "uncompressed");
    cfg.apply_set("baseline.kind=hashing").unwrap();
    let b = build_baseline(&cfg);
    assert_eq!(b.kind(), "hashing");
    let capped: u64 = cfg.data.cardinalities.iter().map(|&c| c.min(100_000)).sum();
    assert_eq!(b.param_bytes(), 4 * 16 * capped);
    // Same seed, same init; another seed, another.
    let a = MemRec::from_config(&cfg);
    assert_eq!(a.token_table(), MemRec::from_config(&cfg).token_table());
    cfg.seed += 1;
    assert_ne!(a.token_table(), MemRec::from_config(&cfg).token_table());
}

proptest! {
    #[test]
    fn hash_indices_in_range_deterministic_and_seed_dependent(
        key in any::<u64>(),
        seed in any::<u64>(),
        k in 1usize..=8,
        kw in 0usize..=8,
        d in 1u64..=(1u64 << 31),
        dw in 1u64..=(1u64 << 31),
    ) {
        let h = MemrecHasher::new(seed, k, kw, d, dw);
        let mut a = [0u32; MAX_SLOTS];
        let mut b = [0u32; MAX_SLOTS];
        h.indices(key, &mut a);
        MemrecHasher::new(seed, k, kw, d, dw).indices(key, &mut b);
        prop_assert_eq!(a, b);
        for &r in &a[..k] { prop_assert!((r as u64) < d); }
        for &q in &a[k..k + kw] { prop_assert!((q as u64) < dw); }
        // Raw 32-bit slots under another seed: equal by chance with probability 2^-32 each.
        let mut s1 = [0u32; MAX_SLOTS];
        let mut s2 = [0u32; MAX_SLOTS];
        h.slots(key, &mut s1);
        MemrecHasher::new(seed ^ 1, k, kw, d, dw).slots(key, &mut s2);
        prop_assert_ne!(&s1[..k + kw], &s2[..k + kw]);
    }

    #[test]
    fn reduce_is_in_range(h in any::<u32>(), n in 1u64..=(1u64 << 32)) {
        prop_assert!((reduce(h, n) as u64) < n);
    }
}

#[test]
fn hash_rows_are_spread_evenly() {
    // 200k keys into 1000 rows: chi-square with 999 degrees of freedom (mean 999, sd 44.7)
    // within 5 sd of its mean.
    let h = MemrecHasher::new(5, 1, 1, 1000, 10);
    let mut counts = vec![0u32; 1000];
    let mut s = [0u32; MAX_SLOTS];
    for v in 0..200_000u32 {
        h.indices(token_key((v % 26) as usize, Some(v)), &mut s);
        counts[s[0] as usize] += 1;
    }
    let chi2: f64 = counts
        .iter()
        .map(|&c| (c as f64 - 200.0).powi(2) / 200.0)
        .sum();
    assert!(
        (999.0 - 224.0..999.0 + 224.0).contains(&chi2),
        "chi-square {chi2}"
    );
}

#[test]
fn every_method_allocates_what_the_config_computes() {
    for preset in ["kaggle", "tiny"] {
        for method in ["memrec", "hashing", "qr", "robe_z"] {
            let mut cfg = Config::from_preset(preset).unwrap();
            cfg.apply_set(&format!("memrec.method={method}")).unwrap();
            let rep = build_compressed(&cfg);
            assert_eq!(
                rep.param_bytes(),
                cfg.compressed_param_bytes(),
                "{preset} {method} ({})",
                rep.kind()
            );
            assert_eq!(rep.optimizer_bytes(), 0, "{preset} {method}");
        }
    }
    // QR on kaggle at c = 4096: per feature ceil(V/c) + c rows, or V rows when V <= c.
    let mut cfg = Config::from_preset("kaggle").unwrap();
    cfg.apply_set("memrec.method=qr").unwrap();
    cfg.apply_set("memrec.qr_collisions=4096").unwrap();
    let rows: u64 = cfg
        .data
        .cardinalities
        .iter()
        .map(|&v| {
            if v <= 4096 {
                v
            } else {
                v.div_ceil(4096) + 4096
            }
        })
        .sum();
    assert_eq!(build_compressed(&cfg).param_bytes(), 4 * 16 * rows);
    assert_eq!(build_compressed(&cfg).kind(), "qr");
    cfg.apply_set("memrec.method=robe_z").unwrap();
    assert_eq!(build_compressed(&cfg).param_bytes(), 4 * 262_144);
}
