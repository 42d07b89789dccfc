//! When a run is evaluated: soon after it starts (so a new user sees AUC points within seconds),
//! then at doubling intervals up to `eval.every_samples`, then every `every_samples`.
//!
//! Owns: the evaluation schedule. Must never: depend on time (the schedule is in samples, so
//! every machine evaluates at the same points).

/// Samples before a run's first evaluation: an eighth of `eval.every_samples`, so a new user sees
/// the first AUC points within seconds; the interval then doubles up to `every_samples`.
pub fn first_eval_samples(every: u64) -> u64 {
    (every / 8).max(1)
}

/// The evaluation after the one at `at` samples: doubling during the warm-up, then every `every`.
pub fn next_eval_samples(at: u64, every: u64) -> u64 {
    if at < every {
        (at * 2).min(every)
    } else {
        at + every
    }
}

#[cfg(test)]
mod schedule_tests {
    use super::*;

    #[test]
    fn evaluations_double_then_settle_at_every_samples() {
        let every = 50_000;
        let mut at = first_eval_samples(every);
        let mut seen = vec![at];
        while at < 4 * every {
            at = next_eval_samples(at, every);
            seen.push(at);
        }
        assert_eq!(seen, [6250, 12500, 25000, 50000, 100000, 150000, 200000]);
        assert_eq!(first_eval_samples(3), 1);
    }
}
