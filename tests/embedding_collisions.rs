//! Collision statistics: on uniform synthetic keys the observed figures agree with docs/method.md's
//! formulas within 10%; the uncompressed tables report none.

use memrec_tui::config::Layout;
use memrec_tui::data::{NUM_CAT, token_key};
use memrec_tui::embedding::collisions::FeatureCollisions;
use memrec_tui::embedding::{HashingTrick, MemRec, Representation, Uncompressed};
use memrec_tui::util::rng::SplitMix64;

/// `n` distinct uniformly random values of `feature`.
fn uniform_keys(feature: usize, n: usize, seed: u64) -> Vec<u64> {
    let mut rng = SplitMix64(seed);
    let mut keys: Vec<u64> = (0..n * 11 / 10)
        .map(|_| token_key(feature, Some(rng.next_u64() as u32)))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys.truncate(n);
    keys
}

fn close(observed: f64, formula: f64, what: &str) {
    assert!(
        (observed - formula).abs() <= 0.1 * formula.abs(),
        "{what}: observed {observed} vs formula {formula}"
    );
}

fn agree(c: &FeatureCollisions, label: &str) {
    close(
        c.tokens_per_row,
        c.tokens_per_row_formula,
        &format!("{label} tokens/row"),
    );
    close(
        c.shared_token_signature,
        c.shared_token_signature_formula,
        &format!("{label} token signature"),
    );
    close(
        c.shared_full_signature,
        c.shared_full_signature_formula,
        &format!("{label} full signature"),
    );
}

#[test]
fn memrec_observed_collisions_agree_with_the_formulas() {
    // Sizes chosen so each statistic counts thousands of events (sampling noise a few %).
    // K = 2, D = 256: pair probability 2/D^2 = 3.1e-5, so 30k tokens share ~60% of token
    // signatures, and with dw = 4 about 20% of full signatures.
    let keys = uniform_keys(3, 30_000, 1);
    for layout in [Layout::Bundled, Layout::PerFeature] {
        let m = MemRec::new(layout, 4, 2, 256, 1, 4, 9);
        let c = m.collisions(&keys);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].feature, c[0].distinct), (3, 30_000));
        assert!(c[0].shared_token_signature > 0.3 && c[0].shared_full_signature > 0.1);
        agree(&c[0], &format!("{layout:?}"));
    }
    // K = 1 with a sparse load (tokens/row near 1 + lambda/2): 45% of token signatures
    // shared, 21% of full ones.
    let m = MemRec::new(Layout::PerFeature, 4, 1, 2000, 1, 64, 4);
    agree(&m.collisions(&keys)[0], "K=1 kw=1");
}

#[test]
fn shared_tables_count_other_features_tokens() {
    // Two features in one shared table: each feature's rows also hold the other's tokens.
    let mut keys = uniform_keys(0, 20_000, 2);
    keys.extend(uniform_keys(7, 40_000, 3));
    // D = 512: each token shares its K = 2 rows with probability 7.6e-6 per other token, so
    // about 37% of the 60k tokens (of either feature) share a token signature and, with
    // dw = 8, about 5.6% a full one (over a thousand events per feature).
    let m = MemRec::new(Layout::PerFeature, 4, 2, 512, 1, 8, 5);
    let c = m.collisions(&keys);
    assert_eq!(c.iter().map(|c| c.feature).collect::<Vec<_>>(), vec![0, 7]);
    for f in &c {
        agree(f, &format!("feature {}", f.feature));
    }
}

#[test]
fn hashing_trick_collisions_agree_with_the_formula_per_feature() {
    let mut keys = uniform_keys(2, 20_000, 4);
    keys.extend(uniform_keys(5, 3_000, 5));
    let cards = [1u64 << 30; NUM_CAT];
    let h = HashingTrick::new(4, &cards, 8192, 6);
    let c = h.collisions(&keys);
    assert_eq!(c.len(), 2);
    for f in &c {
        agree(f, &format!("hashing feature {}", f.feature));
        assert_eq!(f.shared_token_signature, f.shared_full_signature);
    }
}

#[test]
fn uncompressed_reports_no_collisions() {
    let keys = uniform_keys(4, 100, 7);
    let mut with_dup = keys.clone();
    with_dup.extend_from_slice(&keys[..10]);
    let u = Uncompressed::new(4, &[10; NUM_CAT], 1);
    let c = u.collisions(&with_dup);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].distinct, 100);
    assert_eq!(c[0].shared_full_signature, 0.0);
    assert_eq!(c[0].shared_token_signature_formula, 0.0);
    assert_eq!(c[0].tokens_per_row, 1.0);
}
