//! Metrics of a click model on a test set: exact ROC AUC (ties get average ranks), DeLong 95%
//! intervals for one AUC and for the paired difference of two AUCs on the same rows (Sun & Xu's
//! fast algorithm), logloss and calibration.
//!
//! Owns: pure functions of (labels, scores). Must never: know about models, runs or the UI, or
//! panic on degenerate input (one class only, NaN scores): those give `None` or a NaN-free
//! fallback documented at each function.

use statrs::distribution::{ContinuousCDF, Normal};

/// Probabilities are clipped to `[LOGLOSS_EPS, 1 - LOGLOSS_EPS]` in `logloss`, as the PyTorch
/// reference (`dlrm_ref.py`) does before sklearn's `log_loss`.
pub const LOGLOSS_EPS: f64 = 1e-7;

/// An AUC with its DeLong 95% interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AucInterval {
    pub auc: f64,
    /// DeLong variance of the AUC estimate.
    pub var: f64,
    pub lo: f64,
    pub hi: f64,
}

/// A paired difference `a - b` of two AUCs on the same rows, with its DeLong 95% interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeltaInterval {
    pub delta: f64,
    pub var: f64,
    pub lo: f64,
    pub hi: f64,
}

/// The two-sided 95% normal quantile (1.95996...), from statrs rather than a typed constant.
pub fn z95() -> f64 {
    Normal::standard().inverse_cdf(0.975)
}

/// Midranks (1-based, ties get the average of the ranks they span) of `x`. NaN sorts last.
pub fn midranks(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        // Positions i..=j share the value: average of the 1-based ranks i+1..=j+1.
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    ranks
}

/// Exact ROC AUC (the probability that a random positive scores above a random negative, ties
/// counting one half). `None` when the labels hold a single class.
pub fn auc(labels: &[f32], scores: &[f32]) -> Option<f64> {
    let scores: Vec<f64> = scores.iter().map(|&s| s as f64).collect();
    auc_f64(labels, &scores)
}

/// `auc` on f64 scores.
pub fn auc_f64(labels: &[f32], scores: &[f64]) -> Option<f64> {
    assert_eq!(labels.len(), scores.len(), "one score per label");
    let n_pos = labels.iter().filter(|&&y| y > 0.5).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let ranks = midranks(scores);
    let sum_pos: f64 = labels
        .iter()
        .zip(&ranks)
        .filter(|(y, _)| **y > 0.5)
        .map(|(_, r)| r)
        .sum();
    let (p, n) = (n_pos as f64, n_neg as f64);
    Some((sum_pos - p * (p + 1.0) / 2.0) / (p * n))
}

/// Per-model DeLong structural components (Sun & Xu 2014): V10 over positives, V01 over negatives.
struct Components {
    auc: f64,
    v10: Vec<f64>,
    v01: Vec<f64>,
}

fn components(labels: &[f32], scores: &[f64]) -> Option<Components> {
    let pos: Vec<f64> = labels
        .iter()
        .zip(scores)
        .filter(|(y, _)| **y > 0.5)
        .map(|(_, s)| *s)
        .collect();
    let neg: Vec<f64> = labels
        .iter()
        .zip(scores)
        .filter(|(y, _)| **y <= 0.5)
        .map(|(_, s)| *s)
        .collect();
    let (m, n) = (pos.len(), neg.len());
    if m == 0 || n == 0 {
        return None;
    }
    let tx = midranks(&pos);
    let ty = midranks(&neg);
    let mut all = pos.clone();
    all.extend_from_slice(&neg);
    let tz = midranks(&all);
    let (mf, nf) = (m as f64, n as f64);
    let auc = (tz[..m].iter().sum::<f64>() - mf * (mf + 1.0) / 2.0) / (mf * nf);
    let v10 = (0..m).map(|i| (tz[i] - tx[i]) / nf).collect();
    let v01 = (0..n).map(|j| 1.0 - (tz[m + j] - ty[j]) / mf).collect();
    Some(Components { auc, v10, v01 })
}

/// Sample covariance (denominator n - 1) of two equally long series; 0 for fewer than 2 values.
fn cov(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len();
    if n < 2 {
        return 0.0;
    }
    let ma = a.iter().sum::<f64>() / n as f64;
    let mb = b.iter().sum::<f64>() / n as f64;
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (n - 1) as f64
}

/// The AUC with its DeLong variance and 95% interval (clamped to [0, 1]). `None` with one class.
pub fn auc_delong(labels: &[f32], scores: &[f32]) -> Option<AucInterval> {
    let s: Vec<f64> = scores.iter().map(|&x| x as f64).collect();
    let c = components(labels, &s)?;
    let var = cov(&c.v10, &c.v10) / c.v10.len() as f64 + cov(&c.v01, &c.v01) / c.v01.len() as f64;
    let half = z95() * var.max(0.0).sqrt();
    Some(AucInterval {
        auc: c.auc,
        var,
        lo: (c.auc - half).max(0.0),
        hi: (c.auc + half).min(1.0),
    })
}

/// `AUC(a) - AUC(b)` on the same rows with the DeLong variance of the paired difference and its
/// 95% interval. `None` with one class.
pub fn delta_auc_delong(labels: &[f32], a: &[f32], b: &[f32]) -> Option<DeltaInterval> {
    assert_eq!(a.len(), b.len(), "paired scores on the same rows");
    let sa: Vec<f64> = a.iter().map(|&x| x as f64).collect();
    let sb: Vec<f64> = b.iter().map(|&x| x as f64).collect();
    let ca = components(labels, &sa)?;
    let cb = components(labels, &sb)?;
    let (m, n) = (ca.v10.len() as f64, ca.v01.len() as f64);
    let s10 = cov(&ca.v10, &ca.v10) + cov(&cb.v10, &cb.v10) - 2.0 * cov(&ca.v10, &cb.v10);
    let s01 = cov(&ca.v01, &ca.v01) + cov(&cb.v01, &cb.v01) - 2.0 * cov(&ca.v01, &cb.v01);
    let var = (s10 / m + s01 / n).max(0.0);
    let delta = ca.auc - cb.auc;
    let half = z95() * var.sqrt();
    Some(DeltaInterval {
        delta,
        var,
        lo: delta - half,
        hi: delta + half,
    })
}

/// Mean binary cross-entropy of probabilities `p` (clipped to [eps, 1 - eps]); NaN for no rows.
pub fn logloss(labels: &[f32], p: &[f32]) -> f64 {
    assert_eq!(labels.len(), p.len(), "one probability per label");
    if labels.is_empty() {
        return f64::NAN;
    }
    let s: f64 = labels
        .iter()
        .zip(p)
        .map(|(&y, &q)| {
            let q = (q as f64).clamp(LOGLOSS_EPS, 1.0 - LOGLOSS_EPS);
            if y > 0.5 { -q.ln() } else { -(1.0 - q).ln() }
        })
        .sum();
    s / labels.len() as f64
}

/// Calibration: (mean prediction, observed click rate); both NaN for no rows.
pub fn calibration(labels: &[f32], p: &[f32]) -> (f64, f64) {
    if labels.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = labels.len() as f64;
    let mp = p.iter().map(|&x| x as f64).sum::<f64>() / n;
    let cr = labels.iter().map(|&y| y as f64).sum::<f64>() / n;
    (mp, cr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midranks_average_ties() {
        assert_eq!(
            midranks(&[3.0, 1.0, 3.0, 2.0, 3.0]),
            vec![4.0, 1.0, 4.0, 2.0, 4.0]
        );
    }

    #[test]
    fn z95_is_the_normal_quantile() {
        assert!((z95() - 1.959_963_984_540_054).abs() < 1e-9);
    }
}
