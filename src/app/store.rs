//! One store of the evaluation curves the engine reported, by run side and generation: each
//! evaluation is kept once, and every panel and report reads it from here (the pattern of
//! bottom's `DataStore`).
//!
//! Owns: the (samples seen, test AUC) points of every run and generation this session. Must
//! never: be written outside `update`, or hold anything but what the engine reported.

use std::collections::BTreeMap;

use crate::train::protocol::RunKind;

/// The curves, in arrival order within a run's generation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CurveStore {
    curves: BTreeMap<(RunKind, u64), Vec<(f64, f64)>>,
}

impl CurveStore {
    /// Points of `kind`'s run at `generation` (empty when it has none).
    pub fn get(&self, kind: RunKind, generation: u64) -> &[(f64, f64)] {
        self.curves
            .get(&(kind, generation))
            .map_or(&[], |c| c.as_slice())
    }

    /// One evaluation: `samples` seen, test `auc`.
    pub fn push(&mut self, kind: RunKind, generation: u64, samples: f64, auc: f64) {
        self.curves
            .entry((kind, generation))
            .or_default()
            .push((samples, auc));
    }

    /// The run (re)started at `generation`: its curve starts empty.
    pub fn reset(&mut self, kind: RunKind, generation: u64) {
        self.curves.remove(&(kind, generation));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_are_kept_per_side_and_generation_and_reset_on_restart() {
        let mut s = CurveStore::default();
        s.push(RunKind::Compressed, 1, 10.0, 0.6);
        s.push(RunKind::Compressed, 1, 20.0, 0.7);
        s.push(RunKind::Compressed, 2, 10.0, 0.65);
        s.push(RunKind::Baseline, 1, 10.0, 0.71);
        assert_eq!(
            s.get(RunKind::Compressed, 1),
            &[(10.0, 0.6), (20.0, 0.7)][..]
        );
        assert_eq!(s.get(RunKind::Compressed, 2), &[(10.0, 0.65)][..]);
        assert_eq!(s.get(RunKind::Baseline, 1), &[(10.0, 0.71)][..]);
        assert!(s.get(RunKind::Baseline, 2).is_empty());
        s.reset(RunKind::Compressed, 1);
        assert!(s.get(RunKind::Compressed, 1).is_empty());
        assert_eq!(s.get(RunKind::Compressed, 2).len(), 1);
    }
}
