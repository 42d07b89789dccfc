//! Metrics against hand-computed cases and brute-force definitions.
use memrec_tui::metrics::{auc, auc_delong, calibration, delta_auc_delong, logloss, midranks};
use proptest::prelude::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn auc_of_the_textbook_case() {
    // sklearn's roc_auc_score docstring example: 0.75.
    let y = [0.0, 0.0, 1.0, 1.0];
    let s = [0.1, 0.4, 0.35, 0.8];
    assert!(close(auc(&y, &s).unwrap(), 0.75, 1e-12));
}

#[test]
fn ties_count_one_half() {
    assert!(close(
        auc(&[0.0, 1.0, 0.0, 1.0], &[0.5; 4]).unwrap(),
        0.5,
        1e-12
    ));
    // Positives at 0.5, 0.5; negatives at 0.2, 0.5: pairs 1 + 0.5 + 1 + 0.5 = 3 of 4.
    let v = auc(&[0.0, 1.0, 1.0, 0.0], &[0.2, 0.5, 0.5, 0.5]).unwrap();
    assert!(close(v, 0.75, 1e-12), "{v}");
}

#[test]
fn one_class_has_no_auc() {
    assert!(auc(&[1.0, 1.0], &[0.1, 0.2]).is_none());
    assert!(auc_delong(&[0.0, 0.0], &[0.1, 0.2]).is_none());
    assert!(delta_auc_delong(&[0.0], &[0.1], &[0.2]).is_none());
}

#[test]
fn delong_variance_by_hand() {
    // Positives 0.35, 0.8 beat {1, 2} of 2 negatives: V10 = [0.5, 1]; negatives 0.1, 0.4 are beaten
    // by {2, 1} of 2 positives: V01 = [1, 0.5]. S10 = S01 = 0.125, var = 0.125/2 + 0.125/2.
    let y = [0.0, 0.0, 1.0, 1.0];
    let s = [0.1, 0.4, 0.35, 0.8];
    let a = auc_delong(&y, &s).unwrap();
    assert!(close(a.auc, 0.75, 1e-12));
    assert!(close(a.var, 0.125, 1e-12), "{}", a.var);
    let half = 1.959_963_984_540_054 * 0.125f64.sqrt();
    assert!(close(a.lo, (0.75 - half).max(0.0), 1e-9));
    assert!(close(a.hi, 1.0, 1e-12), "clamped to 1");
}

#[test]
fn paired_delta_by_hand() {
    let y = [0.0, 0.0, 1.0, 1.0];
    let a = [0.1, 0.4, 0.35, 0.8];
    let b: Vec<f32> = a.iter().map(|x| -x).collect();
    // AUC(b) = 0.25; V10 differences [0, 1], V01 differences [1, 0]: var = 0.5/2 + 0.5/2.
    let d = delta_auc_delong(&y, &a, &b).unwrap();
    assert!(close(d.delta, 0.5, 1e-12));
    assert!(close(d.var, 0.5, 1e-12), "{}", d.var);
    let same = delta_auc_delong(&y, &a, &a).unwrap();
    assert_eq!((same.delta, same.var), (0.0, 0.0));
}

#[test]
fn logloss_and_calibration_by_hand() {
    let y = [1.0, 0.0];
    let p = [0.8, 0.3];
    let want = -(0.8f64.ln() + 0.7f64.ln()) / 2.0;
    assert!(close(logloss(&y, &p), want, 1e-7));
    // Clipping keeps a confident mistake finite: -ln(1e-7).
    assert!(close(logloss(&[1.0], &[0.0]), 16.118_095_65, 1e-6));
    let (mp, cr) = calibration(&y, &p);
    assert!(close(mp, 0.55, 1e-7) && close(cr, 0.5, 1e-12));
}

#[test]
fn midranks_of_ties() {
    assert_eq!(midranks(&[2.0, 2.0, 1.0]), vec![2.5, 2.5, 1.0]);
}

/// Brute force over all (positive, negative) pairs.
fn auc_pairs(y: &[f32], s: &[f32]) -> Option<(f64, Vec<f64>, Vec<f64>)> {
    let pos: Vec<f32> = y
        .iter()
        .zip(s)
        .filter(|p| *p.0 > 0.5)
        .map(|p| *p.1)
        .collect();
    let neg: Vec<f32> = y
        .iter()
        .zip(s)
        .filter(|p| *p.0 <= 0.5)
        .map(|p| *p.1)
        .collect();
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let psi = |a: f32, b: f32| {
        if a > b {
            1.0
        } else if a == b {
            0.5
        } else {
            0.0
        }
    };
    let v10: Vec<f64> = pos
        .iter()
        .map(|&p| neg.iter().map(|&n| psi(p, n)).sum::<f64>() / neg.len() as f64)
        .collect();
    let v01: Vec<f64> = neg
        .iter()
        .map(|&n| pos.iter().map(|&p| psi(p, n)).sum::<f64>() / pos.len() as f64)
        .collect();
    let a = v10.iter().sum::<f64>() / v10.len() as f64;
    Some((a, v10, v01))
}

fn var(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64
}

proptest! {
    #[test]
    fn fast_delong_matches_the_definition(
        rows in prop::collection::vec((0u8..2, 0u8..6), 2..60)
    ) {
        // Few distinct scores, so ties are frequent.
        let y: Vec<f32> = rows.iter().map(|r| r.0 as f32).collect();
        let s: Vec<f32> = rows.iter().map(|r| r.1 as f32 / 5.0).collect();
        match auc_pairs(&y, &s) {
            None => prop_assert!(auc_delong(&y, &s).is_none()),
            Some((a, v10, v01)) => {
                let got = auc_delong(&y, &s).unwrap();
                prop_assert!(close(got.auc, a, 1e-12));
                prop_assert!(close(auc(&y, &s).unwrap(), a, 1e-12));
                let want = var(&v10) / v10.len() as f64 + var(&v01) / v01.len() as f64;
                prop_assert!(close(got.var, want, 1e-12), "{} vs {}", got.var, want);
            }
        }
    }
}
