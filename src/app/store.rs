//! One store of the evaluation curves the engine reported, by run side and generation: each
//! evaluation is kept once, and every panel and report reads it from here (the pattern of
//! bottom's `DataStore`).
//!
//! Owns: the (samples seen, test AUC) points of every run and generation this session. Must
//! never: be written outside `update`, or hold anything but what the engine reported.

use std::collections::BTreeMap;

use crate::train::protocol::{DeltaAuc, RunKind};

/// One evaluation as the comparisons read it: AUC with its interval, and ΔAUC against the
/// baseline at the same samples (compressed runs, when the engine had the baseline's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalAt {
    pub auc: f64,
    pub auc_lo: f64,
    pub auc_hi: f64,
    pub delta: Option<DeltaAuc>,
}

/// The curves, in arrival order within a run's generation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CurveStore {
    curves: BTreeMap<(RunKind, u64), Vec<(f64, f64)>>,
    /// The same evaluations by samples seen, with their intervals and ΔAUC.
    evals: BTreeMap<(RunKind, u64), BTreeMap<u64, EvalAt>>,
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

    /// One evaluation with its interval and ΔAUC (`push` keeps its point on the curve).
    pub fn push_eval(&mut self, kind: RunKind, generation: u64, samples: u64, e: EvalAt) {
        self.push(kind, generation, samples as f64, e.auc);
        self.evals
            .entry((kind, generation))
            .or_default()
            .insert(samples, e);
    }

    /// The evaluation of `kind`'s run at `generation` at exactly `samples` seen.
    pub fn at(&self, kind: RunKind, generation: u64, samples: u64) -> Option<EvalAt> {
        self.evals.get(&(kind, generation))?.get(&samples).copied()
    }

    /// Samples seen at each evaluation of `kind`'s run at `generation`, ascending.
    pub fn samples(&self, kind: RunKind, generation: u64) -> Vec<u64> {
        self.evals
            .get(&(kind, generation))
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The run (re)started at `generation`: its curve starts empty.
    pub fn reset(&mut self, kind: RunKind, generation: u64) {
        self.curves.remove(&(kind, generation));
        self.evals.remove(&(kind, generation));
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
