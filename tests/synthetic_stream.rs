//! Behaviour of the synthetic stream: determinism (seed, chunking, thread count), disjoint train
//! and test rows, well-formed rows, calibrated click rate and a Criteo-like oracle AUC.

use memrec_tui::config::Config;
use memrec_tui::data::synthetic::{SyntheticSource, TEST_BASE, TRAIN_BASE};
use memrec_tui::data::{Batch, DataSource, NUM_CAT, NUM_DENSE, key_feature};

fn preset(name: &str) -> Config {
    Config::from_preset(name).expect("embedded preset")
}

fn rows(src: &SyntheticSource, sizes: &[usize]) -> Batch {
    let mut stream = src.open_train().expect("synthetic stream");
    let mut all = Batch::default();
    let mut b = Batch::default();
    for &n in sizes {
        assert_eq!(stream.next_batch(n, &mut b).expect("rows"), n);
        let len = b.len();
        all.extend_from(&b, 0..len);
    }
    all
}

/// Exact AUC (ties counted half), from the library's metrics.
fn auc(scores: &[f32], labels: &[f32]) -> f64 {
    memrec_tui::metrics::auc(labels, scores).expect("both classes present")
}

#[test]
fn auc_helper_is_right_on_a_known_case() {
    // 2 positives, 2 negatives: pairs (p,n) ordered right 3 times, one tie: (3 + 0.5) / 4.
    let a = auc(&[0.1, 0.4, 0.4, 0.9], &[0.0, 1.0, 0.0, 1.0]);
    assert!((a - 0.875).abs() < 1e-12, "{a}");
}

#[test]
fn same_seed_same_rows_whatever_the_batch_sizes() {
    let cfg = preset("kaggle");
    let a = rows(&SyntheticSource::new(&cfg.data_options()), &[3000]);
    let b = rows(
        &SyntheticSource::new(&cfg.data_options()),
        &[1, 999, 1500, 500],
    );
    assert_eq!(a, b);
    // Two streams of one source are independent and both start at row 0.
    let src = SyntheticSource::new(&cfg.data_options());
    let mut s1 = src.open_train().expect("stream");
    let mut s2 = src.open_train().expect("stream");
    let (mut x, mut y) = (Batch::default(), Batch::default());
    s1.next_batch(100, &mut x).expect("rows");
    s1.next_batch(100, &mut x).expect("rows");
    s2.next_batch(100, &mut y).expect("rows");
    assert_eq!(y.keys[..], a.keys[..100 * NUM_CAT]);
    assert_eq!(x.keys[..], a.keys[100 * NUM_CAT..200 * NUM_CAT]);
}

#[test]
fn different_seed_different_rows() {
    let mut cfg = preset("kaggle");
    let a = rows(&SyntheticSource::new(&cfg.data_options()), &[2000]);
    cfg.seed += 1;
    let b = rows(&SyntheticSource::new(&cfg.data_options()), &[2000]);
    let same = a.keys.iter().zip(&b.keys).filter(|(x, y)| x == y).count();
    // Frequent values coincide by rank, but their 32-bit values are re-hashed per seed.
    assert!(
        same < a.keys.len() / 5,
        "{same} of {} keys equal",
        a.keys.len()
    );
    assert_ne!(a.labels, b.labels);
}

#[test]
fn thread_count_does_not_change_anything() -> Result<(), Box<dyn std::error::Error>> {
    let cfg = preset("tiny");
    let run = |threads: usize| -> Result<(f64, Batch, Batch), rayon::ThreadPoolBuildError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        Ok(pool.install(|| {
            // Construction included: the bias calibration is parallel too.
            let src = SyntheticSource::new(&cfg.data_options());
            let train = rows(&src, &[5000, 3]);
            let test = src.test_set().expect("test rows");
            (src.generator().bias(), train, test)
        }))
    };
    let one = run(1)?;
    let two = run(2)?;
    assert_eq!(one.0.to_bits(), two.0.to_bits(), "calibrated bias");
    assert_eq!(one.1, two.1, "training rows");
    assert_eq!(one.2, two.2, "test rows");
    Ok(())
}

#[test]
fn train_and_test_streams_are_disjoint() {
    let cfg = preset("kaggle");
    let src = SyntheticSource::new(&cfg.data_options());
    let test = src.test_set().expect("test rows");
    assert_eq!(test.len(), cfg.eval.test_rows);
    // In index space: the test rows start 2^62 rows after the training stream's first row, which
    // no training run reaches.
    const { assert!(TEST_BASE - TRAIN_BASE >= 1 << 62) };
    let mut again = Batch::default();
    src.generator().fill(TEST_BASE, test.len(), &mut again);
    assert_eq!(again, test, "the test set is rows TEST_BASE..");
    // And in content: no test row repeats one of the first training rows.
    let train = rows(&src, &[test.len()]);
    let train_rows: std::collections::HashSet<&[u64]> = train.keys.chunks_exact(NUM_CAT).collect();
    let shared = test
        .keys
        .chunks_exact(NUM_CAT)
        .filter(|r| train_rows.contains(r))
        .count();
    assert_eq!(shared, 0);
}

#[test]
fn rows_are_well_formed() {
    for name in ["kaggle", "terabyte", "tiny"] {
        let cfg = preset(name);
        let src = SyntheticSource::new(&cfg.data_options());
        let b = rows(&src, &[4000]);
        assert_eq!(b.dense.len(), 4000 * NUM_DENSE);
        assert_eq!(b.keys.len(), 4000 * NUM_CAT);
        let p = b.true_prob.as_ref().expect("true probabilities");
        assert_eq!(p.len(), 4000);
        assert!(p.iter().all(|&p| p > 0.0 && p < 1.0), "{name}: p in (0, 1)");
        assert!(b.labels.iter().all(|&l| l == 0.0 || l == 1.0));
        assert!(b.dense.iter().all(|&y| y.is_finite() && y >= 0.0));
        for row in b.keys.chunks_exact(NUM_CAT) {
            for (j, &k) in row.iter().enumerate() {
                assert_eq!(key_feature(k), j);
            }
        }
        let vocab = src.generator().vocab();
        assert!(
            vocab
                .iter()
                .zip(&cfg.data.cardinalities)
                .all(|(v, c)| *v >= 1 && v <= c)
        );
        let label = src.label();
        assert!(
            label.starts_with("synthetic") && !src.label().starts_with("Criteo"),
            "{label}"
        );
        assert!(src.is_synthetic());
    }
}

#[test]
fn click_rate_is_calibrated_and_oracle_auc_is_criteo_like() {
    for (name, lo, hi) in [("kaggle", 0.76, 0.84), ("tiny", 0.76, 0.92)] {
        let cfg = preset(name);
        let src = SyntheticSource::new(&cfg.data_options());
        let test = src.test_set().expect("test rows");
        let p = test.true_prob.as_ref().expect("true probabilities");
        let n = test.len() as f64;
        let mean_p = p.iter().map(|&x| x as f64).sum::<f64>() / n;
        let rate = test.labels.iter().map(|&x| x as f64).sum::<f64>() / n;
        let target = cfg.data.synthetic.click_rate;
        assert!((mean_p - target).abs() < 0.01, "{name}: mean p {mean_p}");
        // Binomial noise of the realised rate: 4 standard deviations.
        let sd = (target * (1.0 - target) / n).sqrt();
        assert!(
            (rate - target).abs() < 4.0 * sd + 0.01,
            "{name}: rate {rate}"
        );
        let a = auc(p, &test.labels);
        eprintln!(
            "{name}: oracle AUC {a:.4} on {} rows, click rate {rate:.4}",
            test.len()
        );
        assert!((lo..hi).contains(&a), "{name}: oracle AUC {a}");
    }
}

#[test]
fn bad_parameters_are_named() {
    let mut cfg = preset("kaggle");
    cfg.data.synthetic.dense_quantiles[3] = vec![1.0, 0.5];
    let (field, value, allowed) = cfg.data.synthetic.validate().expect_err("decreasing");
    assert_eq!(field, "dense_quantiles[3][1]");
    assert_eq!(value, "0.5");
    assert!(allowed.contains("non-decreasing"), "{allowed}");

    let mut cfg = preset("kaggle");
    cfg.data.synthetic.token_signal = f64::NAN;
    assert_eq!(
        cfg.data.synthetic.validate().expect_err("NaN").0,
        "token_signal"
    );

    let mut cfg = preset("kaggle");
    cfg.data.synthetic.zipf_exponent.pop();
    assert_eq!(
        cfg.data.synthetic.validate().expect_err("25").0,
        "zipf_exponent"
    );
}

#[test]
fn generator_never_panics_on_unvalidated_parameters() {
    // Construction does not return a Result: out-of-range values are clamped, not trusted.
    let mut cfg = preset("tiny");
    let s = &mut cfg.data.synthetic;
    s.cat_missing = vec![2.0; 3];
    s.zipf_exponent = vec![f64::INFINITY; 30];
    s.dense_quantiles = vec![vec![]; 1];
    s.dense_missing = vec![-1.0; 13];
    s.click_rate = 7.0;
    s.cardinality_scale = 0.0;
    cfg.data.cardinalities = vec![0; 26];
    cfg.eval.test_rows = 100;
    let src = SyntheticSource::new(&cfg.data_options());
    let b = rows(&src, &[2000]);
    assert!(
        b.true_prob
            .expect("probabilities")
            .iter()
            .all(|p| p.is_finite())
    );
    assert_eq!(src.test_set().expect("test rows").len(), 100);
}
