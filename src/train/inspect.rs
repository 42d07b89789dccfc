//! The token inspector's query, answered on the engine thread from the live representations:
//! pick the value (a frequent one, a typed one, or a test row's), then look it up in every run
//! and count who else among the loaded values reads its rows.
//!
//! Owns: resolving a `ValuePick` and assembling an `Inspection`. Must never: change a
//! representation, or compute a row itself (`Representation::lookup_rows` / `explain` do, with
//! the kernels' own functions).

use super::loaded::LoadedValues;
use super::protocol::{Exposure, InspectedRun, Inspection, RunId, ValuePick};
use crate::data::{NUM_CAT, key_value, token_key};
use crate::embedding::Representation;
use crate::embedding::explain::{RowRef, Sharing, sharing};

/// Examples kept per shared row.
pub const EXAMPLES: usize = 4;
/// Frequent values listed for picking.
pub const FREQUENT: usize = 12;

/// Sharing answers kept between inspections: the brute-force pass over every loaded value is
/// the costly part, and its answer only changes with the value's rows, the run's generation or
/// the loaded values (merged at evaluations).
#[derive(Debug, Default)]
pub struct SharingCache {
    entries: Vec<(RunId, u64, usize, Vec<RowRef>, Sharing)>,
}

impl SharingCache {
    fn get_or_compute(&mut self, s: &Subject, key: u64, loaded: &LoadedValues) -> Sharing {
        let mut rows = Vec::new();
        s.rep.lookup_rows(key, &mut rows);
        let id = (s.run, s.generation, loaded.len());
        if let Some(e) = self
            .entries
            .iter()
            .find(|e| (e.0, e.1, e.2) == id && e.3 == rows)
        {
            return e.4.clone();
        }
        let answer = sharing(s.rep, key, loaded.keys(), EXAMPLES);
        // One entry per run: the value inspected now.
        self.entries.retain(|e| e.0 != s.run);
        self.entries.push((id.0, id.1, id.2, rows, answer.clone()));
        answer
    }
}

/// What `rep` (run `run` at `samples`) has been trained on: its row updates against its rows,
/// and the test rows holding a value no training row so far held (`loaded` as last merged).
pub fn exposure(
    run: RunId,
    generation: u64,
    samples: u64,
    rep: &dyn Representation,
    loaded: &LoadedValues,
    test_keys: &[u64],
) -> Exposure {
    Exposure {
        run,
        generation,
        samples,
        row_updates: rep.row_updates(),
        rows: rep.tables().iter().map(|t| t.rows).sum(),
        test_rows_with_untrained_value: loaded.share_of_rows_with_untrained(test_keys),
    }
}

/// One run as the inspector sees it.
pub struct Subject<'a> {
    pub run: RunId,
    pub generation: u64,
    pub samples: u64,
    pub rep: &'a dyn Representation,
}

/// The key `pick` names for `feature`, or why there is none.
pub fn resolve(
    feature: usize,
    pick: ValuePick,
    loaded: &LoadedValues,
    test_keys: &[u64],
) -> Result<u64, String> {
    if feature >= NUM_CAT {
        return Err(format!(
            "there is no feature C{} (C1..C{NUM_CAT})",
            feature + 1
        ));
    }
    match pick {
        ValuePick::Value(v) => Ok(token_key(feature, v)),
        ValuePick::Frequent(n) => {
            let top = loaded.top(feature, n + 1);
            top.get(n).map(|&(k, _)| k).ok_or_else(|| {
                format!(
                    "C{} has {} value(s) loaded: no value ranked {}",
                    feature + 1,
                    top.len(),
                    n + 1
                )
            })
        }
        ValuePick::TestRow(r) => test_keys
            .get(r * NUM_CAT + feature)
            .copied()
            .ok_or_else(|| {
                format!(
                    "test row {r}: the test set has {} rows (0 to {})",
                    test_keys.len() / NUM_CAT,
                    (test_keys.len() / NUM_CAT).saturating_sub(1)
                )
            }),
    }
}

/// Look `pick` of `feature` up in every run of `runs`, counting sharing over `loaded`'s keys
/// (as last merged).
pub fn inspect(
    feature: usize,
    pick: ValuePick,
    loaded: &LoadedValues,
    test_keys: &[u64],
    runs: &[Subject],
    cache: &mut SharingCache,
) -> Inspection {
    let frequent = if feature < NUM_CAT {
        loaded
            .top(feature, FREQUENT)
            .into_iter()
            .map(|(k, n)| (key_value(k), n))
            .collect()
    } else {
        Vec::new()
    };
    let mut out = Inspection {
        feature,
        pick,
        value: None,
        key: 0,
        trained: 0,
        frequent,
        loaded_values: loaded.len() as u64,
        loaded_capped: loaded.capped(),
        runs: Vec::new(),
        error: None,
    };
    let key = match resolve(feature, pick, loaded, test_keys) {
        Ok(k) => k,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    out.key = key;
    out.value = key_value(key);
    out.trained = loaded.count(key);
    out.runs = runs
        .iter()
        .map(|s| InspectedRun {
            run: s.run,
            generation: s.generation,
            samples: s.samples,
            representation: s.rep.kind().to_string(),
            lookup: s.rep.explain(key),
            sharing: cache.get_or_compute(s, key, loaded),
        })
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedding::MemRec;

    #[test]
    fn picks_resolve_or_say_why_not() {
        let mut l = LoadedValues::new();
        let (a, b) = (token_key(2, Some(10)), token_key(2, Some(11)));
        l.add_trained(&[b, a, b]);
        l.merge();
        let test = vec![token_key(0, None); 2 * NUM_CAT];
        assert_eq!(resolve(2, ValuePick::Frequent(0), &l, &test), Ok(b));
        assert_eq!(resolve(2, ValuePick::Frequent(1), &l, &test), Ok(a));
        assert!(resolve(2, ValuePick::Frequent(2), &l, &test).is_err());
        assert_eq!(
            resolve(5, ValuePick::TestRow(1), &l, &test),
            Ok(token_key(0, None))
        );
        let e = resolve(5, ValuePick::TestRow(2), &l, &test).unwrap_err();
        assert!(e.contains("2 rows"), "{e}");
        assert!(resolve(26, ValuePick::Value(None), &l, &test).is_err());

        let m = MemRec::new(crate::config::Layout::Bundled, 4, 2, 8, 1, 4, 1);
        let runs = [Subject {
            run: RunId::COMPRESSED,
            generation: 3,
            samples: 100,
            rep: &m,
        }];
        let mut cache = SharingCache::default();
        let i = inspect(2, ValuePick::Frequent(0), &l, &test, &runs, &mut cache);
        let again = inspect(2, ValuePick::Frequent(0), &l, &test, &runs, &mut cache);
        assert_eq!(i, again, "a cached answer is the same answer");
        assert_eq!((i.value, i.trained), (Some(11), 2));
        assert_eq!(i.frequent, vec![(Some(11), 2), (Some(10), 1)]);
        assert_eq!(i.runs.len(), 1);
        let lookup = i.runs[0].lookup.as_ref().unwrap();
        assert_eq!(lookup.rows.len(), 3);
        assert_eq!(i.runs[0].sharing.looked_at, 1);
    }
}
