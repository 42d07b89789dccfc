//! The values the session has loaded: every distinct token key of the test rows and of the
//! training rows trained on so far (up to a cap), with how often training has seen each. The
//! collision statistics, the token inspector's "who else reads this row" and its list of frequent
//! values are computed over these keys.
//!
//! Owns: the sorted key list, the training counts, the cap. Must never: depend on a hash map's
//! iteration order (keys are kept sorted; counts are merged by sorting), or grow past its cap
//! (values first met past the cap are not kept, and `capped` says so).

use crate::data::{NUM_CAT, key_feature};

/// Most distinct values kept: 16 bytes each (key and count).
pub const MAX_VALUES: usize = 1 << 21;
/// Training keys buffered before they are merged into the sorted list.
const MERGE_AT: usize = 1 << 22;

#[derive(Debug, Clone, Default)]
pub struct LoadedValues {
    /// Distinct keys, sorted.
    keys: Vec<u64>,
    /// Training occurrences of `keys[i]` (0 for a value only in the test rows).
    counts: Vec<u32>,
    /// Training keys not merged yet.
    pending: Vec<u64>,
    /// Some value first met once `MAX_VALUES` were kept was left out.
    capped: bool,
    cap: usize,
}

impl LoadedValues {
    pub fn new() -> LoadedValues {
        LoadedValues::with_cap(MAX_VALUES)
    }

    pub fn with_cap(cap: usize) -> LoadedValues {
        LoadedValues {
            cap,
            ..LoadedValues::default()
        }
    }

    /// The test rows' keys: loaded, never trained on.
    pub fn add_test(&mut self, keys: &[u64]) {
        self.merge_with(keys, false);
    }

    /// Keys of training rows just trained on (each row once).
    pub fn add_trained(&mut self, keys: &[u64]) {
        self.pending.extend_from_slice(keys);
        if self.pending.len() >= MERGE_AT {
            self.merge();
        }
    }

    /// Fold the buffered training keys into the sorted list.
    pub fn merge(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.merge_with(&pending, true);
        self.pending = pending;
        self.pending.clear();
    }

    fn merge_with(&mut self, add: &[u64], trained: bool) {
        if add.is_empty() {
            return;
        }
        let mut add: Vec<u64> = add
            .iter()
            .copied()
            .filter(|&k| key_feature(k) < NUM_CAT)
            .collect();
        add.sort_unstable();
        let mut keys = Vec::with_capacity(self.keys.len() + add.len().min(self.cap));
        let mut counts = Vec::with_capacity(keys.capacity());
        let (mut i, mut a) = (0, 0);
        while i < self.keys.len() || a < add.len() {
            let next_add = add.get(a).copied();
            if next_add.is_none_or(|k| i < self.keys.len() && self.keys[i] < k) {
                keys.push(self.keys[i]);
                counts.push(self.counts[i]);
                i += 1;
                continue;
            }
            let k = next_add.unwrap_or_default();
            let mut n = 0u32;
            while a < add.len() && add[a] == k {
                n = n.saturating_add(1);
                a += 1;
            }
            let n = if trained { n } else { 0 };
            if i < self.keys.len() && self.keys[i] == k {
                keys.push(k);
                counts.push(self.counts[i].saturating_add(n));
                i += 1;
            } else if self.keys.len() - i + keys.len() < self.cap {
                keys.push(k);
                counts.push(n);
            } else {
                self.capped = true;
            }
        }
        self.keys = keys;
        self.counts = counts;
    }

    /// The distinct keys kept, sorted (merge first to include the latest training rows).
    pub fn keys(&self) -> &[u64] {
        &self.keys
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether values were left out at the cap.
    pub fn capped(&self) -> bool {
        self.capped
    }

    /// Training occurrences of `key` (0 if never trained on, or not kept).
    pub fn count(&self, key: u64) -> u32 {
        self.keys.binary_search(&key).map_or(0, |i| self.counts[i])
    }

    /// Share of the rows of `test_keys` (26 keys each) holding at least one value no training row
    /// so far held; `None` when values were left out at the cap (their counts are unknown).
    pub fn share_of_rows_with_untrained(&self, test_keys: &[u64]) -> Option<f64> {
        let rows = test_keys.len() / NUM_CAT;
        if self.capped || rows == 0 {
            return None;
        }
        let untrained = test_keys
            .chunks_exact(NUM_CAT)
            .filter(|row| row.iter().any(|&k| self.count(k) == 0))
            .count();
        Some(untrained as f64 / rows as f64)
    }

    /// Feature `feature`'s `n` most trained-on values, most frequent first (ties: smaller key
    /// first), with their counts.
    pub fn top(&self, feature: usize, n: usize) -> Vec<(u64, u32)> {
        let lo = self.keys.partition_point(|&k| key_feature(k) < feature);
        let hi = self.keys.partition_point(|&k| key_feature(k) <= feature);
        let mut v: Vec<(u64, u32)> = (lo..hi).map(|i| (self.keys[i], self.counts[i])).collect();
        v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::token_key;

    #[test]
    fn counts_training_occurrences_and_keeps_test_values_at_zero() {
        let mut l = LoadedValues::new();
        let (a, b, c) = (
            token_key(0, Some(1)),
            token_key(0, Some(2)),
            token_key(3, None),
        );
        l.add_test(&[c, a]);
        l.add_trained(&[a, a, b]);
        l.merge();
        l.add_trained(&[b, a]);
        l.merge();
        assert_eq!(l.keys(), &[a, b, c]);
        assert_eq!((l.count(a), l.count(b), l.count(c)), (3, 2, 0));
        assert_eq!(l.top(0, 5), vec![(a, 3), (b, 2)]);
        assert_eq!(l.top(3, 5), vec![(c, 0)]);
        assert!(l.top(1, 5).is_empty());
        assert!(!l.capped());
        // Two test rows: one holds only trained values, one holds `c`, never trained on.
        let mut rows = vec![a; 2 * NUM_CAT];
        rows[NUM_CAT + 5] = c;
        assert_eq!(l.share_of_rows_with_untrained(&rows), Some(0.5));
    }

    #[test]
    fn the_cap_keeps_counting_known_values_and_says_it_dropped_new_ones() {
        let mut l = LoadedValues::with_cap(2);
        let k = |v| token_key(1, Some(v));
        l.add_trained(&[k(5), k(7)]);
        l.merge();
        l.add_trained(&[k(6), k(5)]);
        l.merge();
        assert_eq!(l.keys(), &[k(5), k(7)]);
        assert_eq!(l.count(k(5)), 2);
        assert!(l.capped());
    }
}
