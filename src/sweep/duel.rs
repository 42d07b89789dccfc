//! The best point against the next, on the same test rows. At each checkpoint the summary shows,
//! the two points with the highest ΔAUC within the budgets (`review::ranked`) are compared
//! directly: the DeLong 95% interval of their paired AUC difference, from the test-row
//! probabilities the runs kept (`sweep::predictions`). Each point's ΔAUC interval is against the
//! baseline; two of them may overlap while the paired gap is clear (the two models err on the
//! same rows), or the other way round: only the paired interval says whether the ranking of the
//! two is more than the noise of the test rows.
//!
//! Owns: that comparison and its section of the summary. Must never: train or measure anything
//! (it reads the stored probabilities), or compare two points at different samples.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use super::predictions;
use super::review::{self, Checkpoint, ReviewOptions};
use super::store::PointRecord;
use crate::metrics::{self, DeltaInterval};

/// The best point and the next at one checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Duel {
    /// The checkpoint's label (`16M`) and the samples both were evaluated at.
    pub label: String,
    pub samples: u64,
    /// Indices into the points: the best ΔAUC within the budgets, and the next.
    pub best: usize,
    pub next: usize,
    /// AUC(best) − AUC(next) on the same test rows with its DeLong 95% interval, or why there is
    /// none.
    pub gap: Result<DeltaInterval, String>,
    /// Test rows the gap was measured on.
    pub rows: usize,
}

impl Duel {
    /// The paired interval excludes 0.
    pub fn told_apart(&self) -> Option<bool> {
        self.gap.as_ref().ok().map(|g| g.lo > 0.0 || g.hi < 0.0)
    }
}

/// The duel at each of `shown` where at least two points are within the budgets, from the
/// probabilities kept in the sweep directory `dir`.
pub fn duels(
    dir: &Path,
    points: &[PointRecord],
    shown: &[Checkpoint],
    o: &ReviewOptions,
) -> Vec<Duel> {
    let labels = predictions::load_labels(dir);
    let mut kept: HashMap<usize, BTreeMap<u64, Vec<f32>>> = HashMap::new();
    let mut out = Vec::new();
    for c in shown {
        let r = review::ranked(points, c.samples, o);
        let [best, next, ..] = r[..] else {
            continue;
        };
        let gap = match &labels {
            None => Err(format!(
                "{} is missing: the sweep ran before the test labels were kept",
                predictions::LABELS
            )),
            Some(l) => {
                let mut probs = |i: usize| {
                    let p = &points[i];
                    kept.entry(i)
                        .or_insert_with(|| {
                            predictions::load_point(dir, (&p.base_hash, &p.config_hash), l)
                        })
                        .get(&c.samples)
                        .cloned()
                };
                match (probs(best), probs(next)) {
                    (Some(a), Some(b)) => metrics::delta_auc_delong(l, &a, &b)
                        .ok_or_else(|| "the test rows hold one class only".to_string()),
                    (a, _) => {
                        let missing = &points[if a.is_none() { best } else { next }];
                        let file = predictions::point_path(Path::new(""), &missing.config_hash);
                        Err(format!(
                            "the test probabilities of {} at {} were not kept ({} is missing or from an earlier run)",
                            review::label(missing),
                            c.label,
                            file.display()
                        ))
                    }
                }
            }
        };
        out.push(Duel {
            label: c.label.clone(),
            samples: c.samples,
            best,
            next,
            gap,
            rows: labels.as_ref().map_or(0, Vec::len),
        });
    }
    out
}

/// `+0.0030 [+0.0012, +0.0048]`.
pub fn fmt_gap(g: &DeltaInterval) -> String {
    format!("{:+.4} [{:+.4}, {:+.4}]", g.delta, g.lo, g.hi)
}

/// The summary's section: a row per checkpoint, then what the last one says.
pub fn markdown(s: &mut String, points: &[PointRecord], duels: &[Duel]) {
    if duels.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## The best point against the next, paired\n");
    let _ = writeln!(
        s,
        "Each ΔAUC above is against the baseline. Whether the best point (highest ΔAUC within the budgets) beats the next is the interval of their own paired AUC difference on the same test rows (DeLong 95%): it holds 0 when the two cannot be told apart at that budget.\n"
    );
    let _ = writeln!(
        s,
        "| checkpoint | best | next | AUC gap, best − next [95% CI] | told apart? |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for d in duels {
        let (gap, apart) = match (&d.gap, d.told_apart()) {
            (Ok(g), Some(t)) => (fmt_gap(g), if t { "yes" } else { "no" }.to_string()),
            (Err(why), _) => ("-".into(), format!("not measured: {why}")),
            (Ok(g), None) => (fmt_gap(g), "-".into()),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {gap} | {apart} |",
            d.label,
            review::label(&points[d.best]),
            review::label(&points[d.next])
        );
    }
    if let Some(d) = duels.last() {
        let _ = writeln!(s, "\n{}", verdict(points, d));
    }
}

/// One sentence on the last duel (also in `best.ron`'s provenance).
pub fn verdict(points: &[PointRecord], d: &Duel) -> String {
    let (best, next) = (
        review::label(&points[d.best]),
        review::label(&points[d.next]),
    );
    match (&d.gap, d.told_apart()) {
        (Ok(g), Some(true)) => format!(
            "At {}, {best} is ahead of {next} by {} AUC on {} test rows, and the paired interval excludes 0: their order is not the noise of the test rows.",
            d.label,
            fmt_gap(g),
            review::group(d.rows as u64)
        ),
        (Ok(g), _) => format!(
            "At {}, {best} and {next} cannot be told apart on these {} test rows (AUC gap {}, the paired interval holds 0): choose between them by table bytes and latency, or evaluate on more test rows (`--set eval.test_rows=N`, in a new sweep folder).",
            d.label,
            review::group(d.rows as u64),
            fmt_gap(g)
        ),
        (Err(why), _) => format!(
            "At {}, {best} and {next} were not compared directly: {why}.",
            d.label
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::store::CurvePoint;

    /// A finished point `hash` of `bytes` with ΔAUC `delta` at 1000 samples.
    fn point(hash: &str, bytes: u64, delta: f64) -> PointRecord {
        PointRecord {
            key: format!("memrec.token_rows={hash}"),
            base_hash: "base".into(),
            config_hash: hash.into(),
            axes: vec![("memrec.token_rows".into(), hash.into())],
            representation: "memrec-bundled".into(),
            status: "ok".into(),
            samples: 1000,
            table_bytes: bytes,
            curve: vec![CurvePoint {
                samples: 1000,
                delta_auc: Some(delta),
                ..CurvePoint::default()
            }],
            ..PointRecord::default()
        }
    }

    /// 600 labels and scores that follow them with `noise` (a fixed pseudo-random sequence).
    fn scores(labels: &[f32], noise: f32, seed: u64) -> Vec<f32> {
        let mut x = seed;
        labels
            .iter()
            .map(|&l| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (x >> 40) as f32 / (1u64 << 24) as f32;
                l * (1.0 - noise) + u * noise
            })
            .collect()
    }

    #[test]
    fn the_best_meets_the_next_on_the_same_rows() {
        let d = tempfile::tempdir().unwrap();
        let labels: Vec<f32> = (0..600).map(|i| ((i * 7) % 3 == 0) as u8 as f32).collect();
        let (a, b) = (scores(&labels, 0.6, 1), scores(&labels, 0.95, 2));
        let points = [
            point("b", 200, -0.02),
            point("a", 400, -0.01),
            point("c", 100, -0.03),
        ];
        predictions::save_labels(d.path(), &labels).unwrap();
        for (p, s) in points.iter().zip([&b, &a, &b]) {
            let evals = BTreeMap::from([(1000, s.clone())]);
            let who = (p.base_hash.as_str(), p.config_hash.as_str());
            predictions::save_point(d.path(), who, &labels, &evals, &[1000]).unwrap();
        }
        let cp = |s: u64| Checkpoint {
            label: format!("{s}"),
            samples: s,
            asked: None,
        };
        let all = ReviewOptions::default();
        let v = duels(d.path(), &points, &[cp(1000), cp(2000)], &all);
        // No point was evaluated at 2000: no duel there.
        assert_eq!(v.len(), 1);
        let (best, next) = (v[0].best, v[0].next);
        assert_eq!((best, next), (1, 0), "ranked by ΔAUC: a, then b");
        let g = v[0].gap.clone().unwrap();
        let auc = |s: &[f32]| metrics::auc(&labels, s).unwrap();
        assert!((g.delta - (auc(&a) - auc(&b))).abs() < 1e-12, "{g:?}");
        assert!(g.delta > 0.05 && g.lo > 0.0, "{g:?}");
        assert_eq!(v[0].told_apart(), Some(true));
        assert!(verdict(&points, &v[0]).contains("is ahead of"));

        // Within 300 bytes: b against c, the same scores: a gap of 0, not told apart.
        let small = ReviewOptions {
            max_bytes: Some(300),
            ..ReviewOptions::default()
        };
        let v = duels(d.path(), &points, &[cp(1000)], &small);
        assert_eq!((v[0].best, v[0].next), (0, 2));
        assert_eq!(v[0].gap.as_ref().unwrap().delta, 0.0);
        assert_eq!(v[0].told_apart(), Some(false));
        let mut s = String::new();
        markdown(&mut s, &points, &v);
        assert!(s.contains("| no |"), "{s}");
        assert!(
            s.contains("cannot be told apart on these 600 test rows"),
            "{s}"
        );

        // A point's probabilities missing, then the labels: said, not guessed.
        std::fs::remove_file(predictions::point_path(d.path(), "c")).unwrap();
        let v = duels(d.path(), &points, &[cp(1000)], &small);
        let why = v[0].gap.clone().unwrap_err();
        assert!(why.contains("predictions/c.evals"), "{why}");
        std::fs::remove_file(d.path().join(predictions::LABELS)).unwrap();
        let v = duels(d.path(), &points, &[cp(1000)], &all);
        assert!(v[0].gap.clone().unwrap_err().contains("test.labels"));
        // One point within the budget: nothing to compare.
        let tiny = ReviewOptions {
            max_bytes: Some(150),
            ..ReviewOptions::default()
        };
        assert!(duels(d.path(), &points, &[cp(1000)], &tiny).is_empty());
    }
}
