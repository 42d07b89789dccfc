//! Collision statistics of hashed representations, per feature, observed on a set of distinct
//! token keys and next to the formula of docs/method.md.
//!
//! Owns: the definitions of the three statistics (below) and their closed forms. Must never:
//! depend on the order of the keys given, or on a HashMap's iteration order.
//!
//! For the distinct tokens of feature j (N_j of them, N over all features):
//! - `tokens_per_row`: over the distinct token rows that feature j's tokens use, the mean number
//!   of distinct tokens (of any feature sharing the table) using that row. With
//!   `lj = N_j K / D_j` and, for tables shared by all features, `lo = (N - N_j) K / D` (else 0),
//!   the formula is `lj / (1 - exp(-lj)) + lo`: docs/method.md's mean load `N K / D`, counted over
//!   occupied rows only (the Poisson load of a row known to hold at least one token of j).
//! - `shared_token_signature`: share of j's tokens whose multiset of K token rows equals another
//!   token's (any feature, if shared): formula `1 - exp(-(n - 1) K! / D^K)`, n = N if shared, N_j if
//!   not. The rows are summed, so their order does not matter: the multiset is the signature.
//! - `shared_full_signature`: the same with the token rows and the kw weight rows:
//!   `1 - exp(-(n - 1) (K!/D^K) (kw!/dw^kw))`; equal to the token one when kw = 0.

use serde::Serialize;

use super::hash::MAX_SLOTS;
use crate::data::{NUM_CAT, key_feature};

/// Collision statistics of one feature's tokens in one representation, observed on the loaded
/// data next to the formula of `docs/method.md`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureCollisions {
    pub feature: usize,
    /// Distinct tokens of this feature in the data looked at.
    pub distinct: u64,
    /// Mean distinct tokens sharing a token row (over occupied rows), observed and by formula.
    pub tokens_per_row: f64,
    pub tokens_per_row_formula: f64,
    /// Share of tokens whose whole token-row signature is shared with another token.
    pub shared_token_signature: f64,
    pub shared_token_signature_formula: f64,
    /// Share of tokens whose token-row and weight-row signature is shared with another token.
    pub shared_full_signature: f64,
    pub shared_full_signature_formula: f64,
}

/// What the statistics need to know about a representation.
#[derive(Debug, Clone)]
pub struct Spec {
    pub k: usize,
    pub kw: usize,
    /// Whether all features share the tables (MEM-REC) or each has its own (hashing trick).
    pub shared: bool,
    /// Rows of the token table feature j hashes into (the shared table's rows when shared).
    pub token_rows: [u64; NUM_CAT],
    pub weight_rows: u64,
}

type Sig = [u32; MAX_SLOTS];

/// Statistics for every feature present in `keys` (duplicates and keys of features >= 26 are
/// ignored). `sig(key, slots)` writes the key's `k` token rows then `kw` weight rows; token rows
/// of different features must be distinct numbers unless they are the same row of a shared table.
pub fn compute(
    keys: &[u64],
    spec: &Spec,
    sig: impl Fn(u64, &mut Sig) + Sync,
) -> Vec<FeatureCollisions> {
    let (k, kw) = (spec.k.min(MAX_SLOTS / 2), spec.kw.min(MAX_SLOTS / 2));
    let distinct = distinct_keys(keys);
    let n_total = distinct.len();
    if n_total == 0 {
        return Vec::new();
    }

    // Signatures: sorted token rows (padded with MAX), then sorted weight rows.
    let mut sigs: Vec<Sig> = Vec::with_capacity(n_total);
    let mut slots = [0u32; MAX_SLOTS];
    for &key in &distinct {
        sig(key, &mut slots);
        let mut s = [u32::MAX; MAX_SLOTS];
        s[..k].copy_from_slice(&slots[..k]);
        s[..k].sort_unstable();
        s[MAX_SLOTS / 2..MAX_SLOTS / 2 + kw].copy_from_slice(&slots[k..k + kw]);
        s[MAX_SLOTS / 2..MAX_SLOTS / 2 + kw].sort_unstable();
        sigs.push(s);
    }
    let shared_tok = shared_flags(&sigs, |s| &s[..MAX_SLOTS / 2]);
    let shared_full = shared_flags(&sigs, |s| &s[..]);

    // Load of each token row: distinct tokens using it.
    let mut all_rows: Vec<u32> = Vec::with_capacity(n_total * k);
    for s in &sigs {
        push_distinct(&mut all_rows, &s[..k]);
    }
    all_rows.sort_unstable();
    let mut loads: Vec<(u32, u32)> = Vec::new();
    for &r in &all_rows {
        match loads.last_mut() {
            Some((last, c)) if *last == r => *c += 1,
            _ => loads.push((r, 1)),
        }
    }

    let mut out = Vec::new();
    let mut start = 0;
    while start < n_total {
        let f = key_feature(distinct[start]);
        let mut end = start;
        while end < n_total && key_feature(distinct[end]) == f {
            end += 1;
        }
        let nj = (end - start) as f64;
        let mut rows: Vec<u32> = Vec::new();
        for s in &sigs[start..end] {
            push_distinct(&mut rows, &s[..k]);
        }
        rows.sort_unstable();
        rows.dedup();
        let load_sum: u64 = rows
            .iter()
            .map(|r| {
                loads
                    .binary_search_by_key(r, |&(row, _)| row)
                    .map_or(0, |i| loads[i].1 as u64)
            })
            .sum();
        let tokens_per_row = if rows.is_empty() {
            0.0
        } else {
            load_sum as f64 / rows.len() as f64
        };
        let count = |flags: &[bool]| flags[start..end].iter().filter(|&&b| b).count() as f64;

        let d = spec.token_rows[f].max(1) as f64;
        let dw = spec.weight_rows.max(1) as f64;
        let kf = k as f64;
        let lj = nj * kf / d;
        let lo = if spec.shared {
            (n_total as f64 - nj) * kf / d
        } else {
            0.0
        };
        let tpr_formula = if lj > 0.0 {
            lj / (1.0 - (-lj).exp()) + lo
        } else {
            1.0 + lo
        };
        let others = if spec.shared { n_total as f64 } else { nj } - 1.0;
        let p_tok = factorial(k) / d.powi(k as i32);
        let p_w = factorial(kw) / dw.powi(kw as i32);
        out.push(FeatureCollisions {
            feature: f,
            distinct: nj as u64,
            tokens_per_row,
            tokens_per_row_formula: tpr_formula,
            shared_token_signature: count(&shared_tok) / nj,
            shared_token_signature_formula: 1.0 - (-others * p_tok).exp(),
            shared_full_signature: count(&shared_full) / nj,
            shared_full_signature_formula: 1.0 - (-others * p_tok * p_w).exp(),
        });
        start = end;
    }
    out
}

/// Statistics of a representation without collisions (one row per token): one row per token,
/// nothing shared, formulas alike.
pub fn none(keys: &[u64]) -> Vec<FeatureCollisions> {
    let distinct = distinct_keys(keys);
    let mut counts = [0u64; NUM_CAT];
    for &key in &distinct {
        counts[key_feature(key)] += 1;
    }
    counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(f, &c)| FeatureCollisions {
            feature: f,
            distinct: c,
            tokens_per_row: 1.0,
            tokens_per_row_formula: 1.0,
            shared_token_signature: 0.0,
            shared_token_signature_formula: 0.0,
            shared_full_signature: 0.0,
            shared_full_signature_formula: 0.0,
        })
        .collect()
}

fn push_distinct(rows: &mut Vec<u32>, token_rows: &[u32]) {
    // `token_rows` is sorted: skip repeats so a token counts once per row.
    for (i, &r) in token_rows.iter().enumerate() {
        if i == 0 || token_rows[i - 1] != r {
            rows.push(r);
        }
    }
}

/// For each signature, whether another signature (by `part`) is equal to it.
fn shared_flags(sigs: &[Sig], part: impl Fn(&Sig) -> &[u32]) -> Vec<bool> {
    let mut order: Vec<u32> = (0..sigs.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| part(&sigs[a as usize]).cmp(part(&sigs[b as usize])));
    let mut flags = vec![false; sigs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && part(&sigs[order[j] as usize]) == part(&sigs[order[i] as usize]) {
            j += 1;
        }
        if j - i > 1 {
            for &o in &order[i..j] {
                flags[o as usize] = true;
            }
        }
        i = j;
    }
    flags
}

fn factorial(n: usize) -> f64 {
    (1..=n).map(|i| i as f64).product()
}

/// The distinct keys of categorical features, sorted.
fn distinct_keys(keys: &[u64]) -> Vec<u64> {
    let mut distinct: Vec<u64> = keys
        .iter()
        .copied()
        .filter(|&x| key_feature(x) < NUM_CAT)
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    distinct
}
