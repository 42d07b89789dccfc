//! The design review of a sweep: ΔAUC at each budget checkpoint (at equal samples), the front at
//! each checkpoint and the sentences where it changes, how far the baseline still is from
//! converging (and a warning when the conclusion may not hold at a larger budget), the front over
//! (table bytes, ΔAUC, latency), and the best point within `--max-bytes` and `--max-ns`. Pure
//! functions of the finished records; `report` renders them.
//!
//! Owns: these rules. Must never: run anything, read files, or compare two runs at different
//! samples (a point without an evaluation at a checkpoint's samples has no ΔAUC there).

use std::fmt::Write as _;

use super::pareto::pareto_front;
use super::store::{CurvePoint, PointRecord};
use crate::util::units::{fmt_bytes, fmt_count};

/// One checkpoint of the review: where it was asked (`--checkpoints`) and the samples of the
/// baseline's evaluation it is compared at.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// `250k`, `1M`: the asked count, or the evaluation's samples when none was asked.
    pub label: String,
    pub samples: u64,
    pub asked: Option<u64>,
}

/// The review's options.
#[derive(Debug, Clone, Default)]
pub struct ReviewOptions {
    /// `--checkpoints`, sorted; `None`: every evaluation of the baseline.
    pub checkpoints: Option<Vec<u64>>,
    pub max_bytes: Option<u64>,
    pub max_ns: Option<f64>,
}

/// The checkpoints of `asked` (or every evaluation of the baseline's curve), each at the
/// baseline's first evaluation at or after it, and notes on those moved or left out.
pub fn resolve(asked: Option<&[u64]>, baseline: &PointRecord) -> (Vec<Checkpoint>, Vec<String>) {
    let mut samples: Vec<u64> = baseline.curve.iter().map(|c| c.samples).collect();
    if samples.is_empty() && baseline.samples > 0 {
        // A baseline stored before curves were kept: its end only.
        samples.push(baseline.samples);
    }
    resolve_samples(asked, &samples)
}

/// `resolve` on the baseline's evaluations at `samples`.
pub fn resolve_samples(asked: Option<&[u64]>, samples: &[u64]) -> (Vec<Checkpoint>, Vec<String>) {
    let mut notes = Vec::new();
    let Some(asked) = asked else {
        let cps = samples
            .iter()
            .map(|&s| Checkpoint {
                label: fmt_count(s),
                samples: s,
                asked: None,
            })
            .collect();
        return (cps, notes);
    };
    let mut cps: Vec<Checkpoint> = Vec::new();
    for &c in asked {
        match samples.iter().find(|&&s| s >= c) {
            Some(&s) => {
                if s != c {
                    notes.push(format!(
                        "checkpoint {} is compared at the first evaluation at or after it, {} samples (whole batches; a baseline trained before this checkpoint was asked evaluates on its own schedule).",
                        fmt_count(c),
                        group(s)
                    ));
                }
                if cps.last().is_some_and(|l| l.samples == s) {
                    continue;
                }
                cps.push(Checkpoint {
                    label: fmt_count(c),
                    samples: s,
                    asked: Some(c),
                });
            }
            None => notes.push(format!(
                "checkpoint {} is past the budget (the runs end at {} samples): left out.",
                fmt_count(c),
                group(samples.last().copied().unwrap_or(0))
            )),
        }
    }
    (cps, notes)
}

/// `1234567` as `1,234,567`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The evaluation of `p` at `samples` (its stored curve, or its final figures for a record
/// stored before curves were kept).
pub fn at(p: &PointRecord, samples: u64) -> Option<CurvePoint> {
    if let Some(c) = p.curve.iter().find(|c| c.samples == samples) {
        return Some(c.clone());
    }
    (p.curve.is_empty() && p.samples == samples && p.auc.is_some()).then(|| CurvePoint {
        samples,
        auc: p.auc.unwrap_or(f64::NAN),
        auc_lo: p.auc_lo.unwrap_or(f64::NAN),
        auc_hi: p.auc_hi.unwrap_or(f64::NAN),
        logloss: p.logloss.unwrap_or(f64::NAN),
        delta_auc: p.delta_auc,
        delta_lo: p.delta_lo,
        delta_hi: p.delta_hi,
    })
}

/// ΔAUC of `p` at `samples`, if it finished and was evaluated there.
pub fn delta_at(p: &PointRecord, samples: u64) -> Option<f64> {
    if !p.ok() {
        return None;
    }
    at(p, samples)
        .and_then(|c| c.delta_auc)
        .filter(|d| d.is_finite())
}

/// Indices of the front over (table bytes, ΔAUC at `samples`), by increasing bytes.
pub fn front_at(points: &[PointRecord], samples: u64) -> Vec<usize> {
    let pairs: Vec<(u64, f64)> = points
        .iter()
        .map(|p| (p.table_bytes, delta_at(p, samples).unwrap_or(f64::NAN)))
        .collect();
    pareto_front(&pairs)
}

/// A point's name for sentences: its representation and the last part of each grid axis (a
/// Bloom point, MEM-REC with kw = 0, leaves out the weight table it does not have).
pub fn label(p: &PointRecord) -> String {
    if p.axes.is_empty() {
        return p.key.clone();
    }
    let bloom = p.representation.starts_with("bloom");
    let knobs: Vec<String> = p
        .axes
        .iter()
        .filter(|(a, _)| a != "memrec.method")
        .filter(|(a, _)| !(bloom && (a == "memrec.kw" || a == "memrec.weight_rows")))
        .map(|(a, v)| format!("{}={v}", a.rsplit('.').next().unwrap_or(a)))
        .collect();
    format!("{} {}", p.representation, knobs.join(" "))
        .trim()
        .to_string()
}

fn names(points: &[PointRecord], idx: &[usize]) -> String {
    let v: Vec<String> = idx.iter().map(|&i| label(&points[i])).collect();
    match v.len() {
        0 => String::new(),
        1 => v[0].clone(),
        n => format!("{} and {}", v[..n - 1].join(", "), v[n - 1]),
    }
}

/// One sentence per checkpoint where the front differs from the one before: who enters, who
/// leaves.
pub fn front_changes(
    points: &[PointRecord],
    cps: &[Checkpoint],
    fronts: &[Vec<usize>],
) -> Vec<String> {
    let mut out = Vec::new();
    for i in 1..fronts.len().min(cps.len()) {
        let (before, now) = (&fronts[i - 1], &fronts[i]);
        let entered: Vec<usize> = now
            .iter()
            .copied()
            .filter(|j| !before.contains(j))
            .collect();
        let left: Vec<usize> = before
            .iter()
            .copied()
            .filter(|j| !now.contains(j))
            .collect();
        let at = &cps[i].label;
        let s = match (entered.is_empty(), left.is_empty()) {
            (true, true) => continue,
            (false, true) => format!(
                "{} {} the front at {at}.",
                names(points, &entered),
                verb(entered.len(), "enters", "enter")
            ),
            (true, false) => format!(
                "{} {} the front at {at}.",
                names(points, &left),
                verb(left.len(), "leaves", "leave")
            ),
            (false, false) => format!(
                "{} {} the front at {at}; {} {} it.",
                names(points, &entered),
                verb(entered.len(), "enters", "enter"),
                names(points, &left),
                verb(left.len(), "leaves", "leave")
            ),
        };
        out.push(s);
    }
    out
}

fn verb(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// The checkpoints the summary shows: every asked one; without `--checkpoints`, the evaluations
/// a doubling of samples apart, counted back from the last (at most 8).
pub fn shown(cps: &[Checkpoint]) -> Vec<Checkpoint> {
    if cps.iter().any(|c| c.asked.is_some()) || cps.len() <= 4 {
        return cps.to_vec();
    }
    let mut out: Vec<Checkpoint> = Vec::new();
    for c in cps.iter().rev() {
        let keep = match out.last() {
            None => true,
            Some(l) => c.samples * 2 <= l.samples,
        };
        if keep {
            out.push(c.clone());
        }
        if out.len() == 8 {
            break;
        }
    }
    out.reverse();
    out
}

/// The samples of the checkpoints a summary shows (`shown`), the baseline evaluated at
/// `samples`: where a point's test probabilities are kept for the paired comparisons.
pub fn shown_samples(asked: Option<&[u64]>, samples: &[u64]) -> Vec<u64> {
    shown(&resolve_samples(asked, samples).0)
        .iter()
        .map(|c| c.samples)
        .collect()
}

/// How far the baseline still is from converging: its AUC gain over its last doubling of
/// samples (from its evaluation nearest half its samples), and on synthetic data its distance to
/// the oracle.
#[derive(Debug, Clone, PartialEq)]
pub struct Convergence {
    pub from: CurvePoint,
    pub to: CurvePoint,
    pub gain: f64,
    pub oracle_gap: Option<f64>,
}

pub fn convergence(b: &PointRecord) -> Option<Convergence> {
    let to = b.curve.last()?.clone();
    let from = b
        .curve
        .iter()
        .rfind(|c| c.samples * 2 <= to.samples)?
        .clone();
    Some(Convergence {
        gain: to.auc - from.auc,
        oracle_gap: b.oracle_auc.map(|o| o - to.auc),
        from,
        to,
    })
}

/// Points within both budgets, ranked by ΔAUC at `samples` (highest first; equal ΔAUC: fewer
/// bytes, then faster).
pub fn ranked(points: &[PointRecord], samples: u64, o: &ReviewOptions) -> Vec<usize> {
    let mut v: Vec<usize> = (0..points.len())
        .filter(|&i| within(&points[i], o) && delta_at(&points[i], samples).is_some())
        .collect();
    v.sort_by(|&a, &b| {
        let d = |i: usize| delta_at(&points[i], samples).unwrap_or(f64::NAN);
        d(b).total_cmp(&d(a))
            .then(points[a].table_bytes.cmp(&points[b].table_bytes))
            .then(ns(&points[a]).total_cmp(&ns(&points[b])))
    });
    v
}

fn ns(p: &PointRecord) -> f64 {
    p.ns_per_token.unwrap_or(f64::INFINITY)
}

/// Within `--max-bytes` (table parameters) and `--max-ns` (a point without a latency figure is
/// not within a latency budget).
pub fn within(p: &PointRecord, o: &ReviewOptions) -> bool {
    o.max_bytes.is_none_or(|m| p.table_bytes <= m)
        && o.max_ns
            .is_none_or(|m| p.ns_per_token.is_some_and(|n| n <= m))
}

/// Indices of the front over (table bytes, ΔAUC at `samples`, ns per token): no other point has
/// at most the bytes, at least the ΔAUC and at most the latency, and is better in one. Points
/// without a latency figure are left out. By increasing bytes.
pub fn front3(points: &[PointRecord], samples: u64) -> Vec<usize> {
    let v: Vec<(usize, u64, f64, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let d = delta_at(p, samples)?;
            let n = p.ns_per_token.filter(|n| n.is_finite())?;
            Some((i, p.table_bytes, d, n))
        })
        .collect();
    let mut out: Vec<(u64, usize)> = v
        .iter()
        .filter(|&&(i, b, d, n)| {
            !v.iter().any(|&(j, b2, d2, n2)| {
                let no_worse = b2 <= b && d2 >= d && n2 <= n;
                let better = b2 < b || d2 > d || n2 < n;
                no_worse && (better || j < i)
            })
        })
        .map(|&(i, b, _, _)| (b, i))
        .collect();
    out.sort_unstable();
    out.into_iter().map(|(_, i)| i).collect()
}

/// The warning of the summary, if the conclusion may not hold at a larger budget: the front
/// changed between the last two checkpoints shown, a point's ΔAUC changed sign there beyond its
/// interval at one of them, or the
/// baseline still gains more per doubling than the margin between the best point and the next.
pub fn warning(
    points: &[PointRecord],
    shown: &[Checkpoint],
    conv: Option<&Convergence>,
) -> Option<String> {
    let mut why = Vec::new();
    if let [.., a, b] = shown {
        let (fa, fb) = (front_at(points, a.samples), front_at(points, b.samples));
        if fa != fb {
            why.push(format!(
                "the front changed between {} and {}",
                a.label, b.label
            ));
        }
        let flipped: Vec<String> = points
            .iter()
            .filter(|p| sign_changed(p, a.samples, b.samples))
            .map(label)
            .collect();
        if !flipped.is_empty() {
            why.push(format!(
                "ΔAUC changed sign between {} and {} (its interval excludes 0 at one of them) for {}",
                a.label,
                b.label,
                flipped.join(", ")
            ));
        }
    }
    if let (Some(c), Some(last)) = (conv, shown.last()) {
        let r = ranked(points, last.samples, &ReviewOptions::default());
        if let [first, second, ..] = r[..] {
            let margin = delta_at(&points[first], last.samples).unwrap_or(0.0)
                - delta_at(&points[second], last.samples).unwrap_or(0.0);
            if c.gain > margin {
                why.push(format!(
                    "the baseline still gained {:+.4} AUC over its last doubling of samples, more than the {:.4} between the best point ({}) and the next ({})",
                    c.gain,
                    margin,
                    label(&points[first]),
                    label(&points[second])
                ));
            }
        }
    }
    (!why.is_empty()).then(|| {
        format!(
            "⚠ The conclusion may not hold at a larger budget: {}. Re-run with more --steps (the same --out resumes nothing: the budget is part of the sweep) and compare.",
            why.join("; ")
        )
    })
}

/// Whether `p`'s ΔAUC has opposite signs at samples `a` and `b` and at one of them its interval
/// excludes 0: a sign change while both intervals hold 0 is noise (the point is not told apart
/// from the baseline at either), not a change of conclusion.
fn sign_changed(p: &PointRecord, a: u64, b: u64) -> bool {
    if !p.ok() {
        return false;
    }
    let clear = |c: &CurvePoint| match (c.delta_lo, c.delta_hi) {
        (Some(lo), Some(hi)) => lo > 0.0 || hi < 0.0,
        // Without an interval every sign is taken as it is.
        _ => true,
    };
    match (at(p, a), at(p, b)) {
        (Some(x), Some(y)) => match (x.delta_auc, y.delta_auc) {
            (Some(dx), Some(dy)) if dx.is_finite() && dy.is_finite() => {
                dx.signum() != dy.signum() && (clear(&x) || clear(&y))
            }
            _ => false,
        },
        _ => false,
    }
}

/// `+0.0123 [+0.0100, +0.0146]`, or `-`.
pub fn fmt_delta_at(p: &PointRecord, samples: u64) -> String {
    if !p.ok() {
        return "-".into();
    }
    match at(p, samples) {
        Some(CurvePoint {
            delta_auc: Some(d),
            delta_lo: Some(lo),
            delta_hi: Some(hi),
            ..
        }) => format!("{d:+.4} [{lo:+.4}, {hi:+.4}]"),
        Some(CurvePoint {
            delta_auc: Some(d), ..
        }) => format!("{d:+.4}"),
        _ => "-".into(),
    }
}

/// `6.82 ns/token`, or `5.41–7.34 ns/token (measured beside ...)` when the probes differ.
fn fmt_range(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if format!("{lo:.2}") == format!("{hi:.2}") {
        format!("{lo:.2} ns/token")
    } else {
        format!(
            "{lo:.2}–{hi:.2} ns/token (measured beside each point's kernel; the ratios in brackets are each point's own)"
        )
    }
}

/// `7.49`, or `7.49 (0.72–0.80x)` with the range of its ratio to the gather over the probe's
/// rounds.
pub fn fmt_ns(p: &PointRecord) -> String {
    match (p.ns_per_token, p.ratio_to_gather_range) {
        (Some(n), Some([lo, hi])) => format!("{n:.2} ({lo:.2}–{hi:.2}x)"),
        (Some(n), None) => format!("{n:.2}"),
        _ => "-".into(),
    }
}

/// The summary's sections of the review (Markdown).
pub fn markdown(
    points: &[PointRecord],
    baseline: &PointRecord,
    cps: &[Checkpoint],
    o: &ReviewOptions,
) -> String {
    let mut s = String::new();
    let shown = shown(cps);
    let conv = convergence(baseline);
    convergence_md(&mut s, baseline, conv.as_ref());
    if let Some(w) = warning(points, &shown, conv.as_ref()) {
        let _ = writeln!(s, "{w}\n");
    }
    if shown.is_empty() {
        return s;
    }
    checkpoint_table(&mut s, points, &shown, cps.len());
    let fronts: Vec<Vec<usize>> = shown.iter().map(|c| front_at(points, c.samples)).collect();
    let _ = writeln!(s, "\n## The front at each checkpoint\n");
    for (c, f) in shown.iter().zip(&fronts) {
        let _ = writeln!(
            s,
            "- {} ({} samples): {}",
            c.label,
            group(c.samples),
            if f.is_empty() {
                "no point".into()
            } else {
                names(points, f)
            }
        );
    }
    let changes = front_changes(points, &shown, &fronts);
    if changes.is_empty() {
        let _ = writeln!(s, "\nThe front is the same at every checkpoint shown.");
    } else {
        let _ = writeln!(s);
        for c in changes {
            let _ = writeln!(s, "{c}");
        }
    }
    let last = shown.last().map_or(0, |c| c.samples);
    front3_md(&mut s, points, baseline, last, &shown);
    budget_md(&mut s, points, &shown, o);
    s
}

fn convergence_md(s: &mut String, b: &PointRecord, conv: Option<&Convergence>) {
    let _ = writeln!(s, "## Has the baseline converged?\n");
    match conv {
        Some(c) => {
            let _ = write!(
                s,
                "The baseline's AUC went from {:.4} at {} samples to {:.4} at {}: {:+.4} over its last doubling of samples.",
                c.from.auc,
                group(c.from.samples),
                c.to.auc,
                group(c.to.samples),
                c.gain
            );
            if let (Some(g), Some(o)) = (c.oracle_gap, b.oracle_auc) {
                let _ = write!(
                    s,
                    " On this synthetic data the oracle (the true click probabilities) reaches {o:.4}: the baseline is {g:.4} below it."
                );
            }
            let _ = writeln!(s, "\n");
        }
        None => {
            let _ = writeln!(
                s,
                "Not known: the baseline has no evaluation at half its samples (or was stored before curves were kept).\n"
            );
        }
    }
}

fn checkpoint_table(s: &mut String, points: &[PointRecord], shown: &[Checkpoint], all: usize) {
    let _ = writeln!(
        s,
        "## ΔAUC at each checkpoint\n\nEach point against the baseline's predictions at the same samples, on the same test rows (DeLong 95% interval); ★: on the front over table bytes and ΔAUC at that checkpoint.{}\n",
        if all > shown.len() {
            format!(" Shown: evaluations a doubling apart; points.csv has all {all}.")
        } else {
            String::new()
        }
    );
    let mut head = vec!["point".to_string(), "table bytes".into()];
    head.extend(shown.iter().map(|c| format!("ΔAUC at {}", c.label)));
    let _ = writeln!(s, "| {} |", head.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(head.len()));
    let fronts: Vec<Vec<usize>> = shown.iter().map(|c| front_at(points, c.samples)).collect();
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by_key(|&i| (points[i].table_bytes, i));
    for i in order {
        let p = &points[i];
        let mut row = vec![label(p), fmt_bytes(p.table_bytes)];
        for (c, f) in shown.iter().zip(&fronts) {
            let star = if f.contains(&i) { "★ " } else { "" };
            row.push(format!("{star}{}", fmt_delta_at(p, c.samples)));
        }
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
}

fn front3_md(
    s: &mut String,
    points: &[PointRecord],
    b: &PointRecord,
    last: u64,
    shown: &[Checkpoint],
) {
    let label_last = shown.last().map_or(String::new(), |c| c.label.clone());
    let _ = writeln!(
        s,
        "\n## The front over table bytes, ΔAUC and latency (at {label_last})\n\nNo other point has at most its table bytes, at least its ΔAUC and at most its ns per looked-up token."
    );
    let uncs: Vec<f64> = points
        .iter()
        .filter_map(|p| p.uncompressed_ns_per_token)
        .collect();
    let unc = uncs.first().copied();
    let full = points.iter().find_map(|p| p.uncompressed_at_full_size);
    let setup = points
        .iter()
        .find_map(|p| p.latency_threads.zip(p.latency_batch));
    let (Some(_), Some((t, bt))) = (unc, setup) else {
        let _ = writeln!(
            s,
            "\nLatency was not measured in this sweep: no latency front."
        );
        return;
    };
    let _ = writeln!(
        s,
        "Latency: `bench`'s kernel and set-up ({t} thread(s), batch {bt}, median ns per looked-up token); the uncompressed gather over {} measures {} (the baseline's {} of tables hold only the vocabulary seen in training).\n",
        if full == Some(false) {
            "a SCALED table (the full one does not fit in this machine's memory)"
        } else {
            "tables of the full cardinalities"
        },
        fmt_range(&uncs),
        fmt_bytes(b.table_bytes)
    );
    let f = front3(points, last);
    let _ = writeln!(s, "| point | table bytes | ΔAUC [95% CI] | ns/token |");
    let _ = writeln!(s, "|---|---|---|---|");
    for i in f {
        let p = &points[i];
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            label(p),
            fmt_bytes(p.table_bytes),
            fmt_delta_at(p, last),
            fmt_ns(p)
        );
    }
}

fn budget_md(s: &mut String, points: &[PointRecord], shown: &[Checkpoint], o: &ReviewOptions) {
    if o.max_bytes.is_none() && o.max_ns.is_none() {
        return;
    }
    let mut what = Vec::new();
    if let Some(b) = o.max_bytes {
        what.push(format!("table parameters ≤ {}", fmt_bytes(b)));
    }
    if let Some(n) = o.max_ns {
        what.push(format!("≤ {n} ns per looked-up token"));
    }
    let what = what.join(" and ");
    let _ = writeln!(s, "\n## Best point within the budget ({what})\n");
    let over: Vec<String> = points
        .iter()
        .filter(|p| p.ok() && o.max_bytes.is_some_and(|m| p.table_bytes > m))
        .map(|p| format!("{} ({} bytes)", label(p), group(p.table_bytes)))
        .collect();
    if !over.is_empty() {
        let _ = writeln!(
            s,
            "Over the memory budget of {} bytes: {}.\n",
            group(o.max_bytes.unwrap_or(0)),
            over.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "| checkpoint | best point | table bytes | ΔAUC [95% CI] | ns/token |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for c in shown {
        let r = ranked(points, c.samples, o);
        let cells = match r.first() {
            Some(&i) => {
                let p = &points[i];
                format!(
                    "{} | {} | {} | {}",
                    label(p),
                    fmt_bytes(p.table_bytes),
                    fmt_delta_at(p, c.samples),
                    fmt_ns(p)
                )
            }
            None => "none fits | - | - | -".into(),
        };
        let _ = writeln!(s, "| {} | {cells} |", c.label);
    }
    if let Some(last) = shown.last() {
        let r = ranked(points, last.samples, o);
        let _ = writeln!(
            s,
            "\nWithin the budget at {}, ranked by ΔAUC ({} of {} points fit):\n",
            last.label,
            r.len(),
            points.len()
        );
        for (n, &i) in r.iter().take(10).enumerate() {
            let p = &points[i];
            let _ = writeln!(
                s,
                "{}. {}: {} ({} bytes), ΔAUC {}, {} ns/token",
                n + 1,
                label(p),
                fmt_bytes(p.table_bytes),
                group(p.table_bytes),
                fmt_delta_at(p, last.samples),
                fmt_ns(p)
            );
        }
        let unmeasured = points
            .iter()
            .filter(|p| p.ok() && o.max_ns.is_some() && p.ns_per_token.is_none())
            .count();
        if unmeasured > 0 {
            let _ = writeln!(
                s,
                "\n{unmeasured} point(s) have no latency figure and are left out of a latency budget."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bloom_point_is_named_bloom_without_weight_knobs() {
        let mut p = point("bloom-bundled", "256", 1 << 20, &[0.0], 3.0);
        p.axes.push(("memrec.kw".into(), "0".into()));
        p.axes.push(("memrec.weight_rows".into(), "64".into()));
        assert_eq!(label(&p), "bloom-bundled token_rows=256");
        p.representation = "memrec-bundled".into();
        p.axes[1].1 = "1".into();
        assert_eq!(
            label(&p),
            "memrec-bundled token_rows=256 kw=1 weight_rows=64"
        );
    }

    /// A finished point of `rep` with `bytes`, ΔAUC `deltas[i]` at samples 1000 (i + 1).
    fn point(rep: &str, knob: &str, bytes: u64, deltas: &[f64], ns: f64) -> PointRecord {
        PointRecord {
            key: format!("memrec.token_rows={knob}"),
            axes: vec![("memrec.token_rows".into(), knob.into())],
            representation: rep.into(),
            status: "ok".into(),
            samples: 1000 * deltas.len() as u64,
            table_bytes: bytes,
            curve: deltas
                .iter()
                .enumerate()
                .map(|(i, &d)| CurvePoint {
                    samples: 1000 * (i as u64 + 1),
                    auc: 0.7 + d,
                    delta_auc: Some(d),
                    delta_lo: Some(d - 0.001),
                    delta_hi: Some(d + 0.001),
                    ..CurvePoint::default()
                })
                .collect(),
            ns_per_token: Some(ns),
            ..PointRecord::default()
        }
    }

    fn baseline(aucs: &[f64]) -> PointRecord {
        PointRecord {
            key: "baseline".into(),
            status: "ok".into(),
            samples: 1000 * aucs.len() as u64,
            curve: aucs
                .iter()
                .enumerate()
                .map(|(i, &a)| CurvePoint {
                    samples: 1000 * (i as u64 + 1),
                    auc: a,
                    ..CurvePoint::default()
                })
                .collect(),
            oracle_auc: Some(0.8),
            ..PointRecord::default()
        }
    }

    #[test]
    fn checkpoints_resolve_on_the_baseline_evaluations() {
        let b = baseline(&[0.6, 0.65, 0.7, 0.72]);
        let (cps, notes) = resolve(Some(&[1000, 2500, 9000]), &b);
        let got: Vec<(&str, u64)> = cps.iter().map(|c| (c.label.as_str(), c.samples)).collect();
        assert_eq!(got, [("1k", 1000), ("2.5k", 3000)]);
        assert!(
            notes[0].contains("2.5k") && notes[0].contains("3,000 samples"),
            "{notes:?}"
        );
        assert!(notes[1].contains("9k is past the budget"), "{notes:?}");
        let (all, _) = resolve(None, &b);
        assert_eq!(all.len(), 4);
        let c = convergence(&b).unwrap();
        assert_eq!((c.from.samples, c.to.samples), (2000, 4000));
        assert!((c.gain - 0.07).abs() < 1e-12 && (c.oracle_gap.unwrap() - 0.08).abs() < 1e-12);
    }

    #[test]
    fn front_changes_are_told_in_one_sentence_each() {
        // At 1k the small MEM-REC point leads; by 2k ROBE-Z overtakes it and it leaves the front.
        let pts = vec![
            point("memrec-bundled", "64k", 4 << 20, &[0.02, -0.004], 3.5),
            point("robe-z", "1M", 4 << 20, &[0.005, -0.0006], 10.0),
            point("hashing", "4096", 3 << 20, &[0.002, -0.007], 3.2),
        ];
        let b = baseline(&[0.7, 0.75]);
        let (cps, _) = resolve(None, &b);
        let fronts: Vec<Vec<usize>> = cps.iter().map(|c| front_at(&pts, c.samples)).collect();
        assert_eq!(fronts, [vec![2, 0], vec![2, 1]]);
        assert_eq!(
            front_changes(&pts, &cps, &fronts),
            [
                "robe-z token_rows=1M enters the front at 2k; memrec-bundled token_rows=64k leaves it."
            ]
        );
        // The same fronts twice: nothing to say.
        assert!(front_changes(&pts, &cps[..1], &fronts[..1]).is_empty());
        let w = warning(&pts, &cps, convergence(&b).as_ref()).unwrap();
        assert!(w.contains("the front changed between 1k and 2k"), "{w}");
        assert!(w.contains("changed sign"), "{w}");
        // Latency front at 2k: MEM-REC is faster than ROBE-Z at the same bytes, hashing smaller.
        assert_eq!(front3(&pts, 2000), vec![2, 0, 1]);
    }

    #[test]
    fn a_sign_change_inside_both_intervals_is_not_a_change_of_conclusion() {
        // As MEM-REC K4 in the 4 MiB review from 4M to 8M: -0.0012 [-0.0039, +0.0015], then
        // +0.0008 [-0.0023, +0.0038]; the baseline has stopped gaining.
        let mut p = point("memrec-bundled", "64k", 4 << 20, &[-0.0012, 0.0008], 3.5);
        for c in &mut p.curve {
            let d = c.delta_auc.unwrap();
            (c.delta_lo, c.delta_hi) = (Some(d - 0.003), Some(d + 0.003));
        }
        let b = baseline(&[0.75, 0.75]);
        let (cps, _) = resolve(None, &b);
        assert!(!sign_changed(&p, 1000, 2000));
        assert_eq!(warning(&[p.clone()], &cps, convergence(&b).as_ref()), None);
        // The same change with a tight interval at 1k is one.
        p.curve[0].delta_hi = Some(-0.0001);
        assert!(sign_changed(&p, 1000, 2000));
        let w = warning(&[p], &cps, convergence(&b).as_ref()).unwrap();
        assert!(w.contains("changed sign between 1k and 2k"), "{w}");
    }

    #[test]
    fn budgets_filter_and_rank() {
        let pts = vec![
            point("memrec-bundled", "a", 4 << 20, &[-0.004], 3.5),
            point("robe-z", "b", 4 << 20, &[-0.0006], 10.0),
            point("hashing", "c", 3 << 20, &[-0.007], 3.2),
            point("qr", "d", 5 << 20, &[0.01], 5.4),
        ];
        let o = ReviewOptions {
            max_bytes: Some(4 << 20),
            ..ReviewOptions::default()
        };
        assert_eq!(ranked(&pts, 1000, &o), vec![1, 0, 2]);
        let o = ReviewOptions {
            max_bytes: Some(4 << 20),
            max_ns: Some(6.0),
            ..ReviewOptions::default()
        };
        assert_eq!(ranked(&pts, 1000, &o), vec![0, 2]);
        let b = baseline(&[0.7]);
        let (cps, _) = resolve(None, &b);
        let md = markdown(&pts, &b, &cps, &o);
        assert!(
            md.contains("## Best point within the budget (table parameters ≤ 4.00 MiB and ≤ 6 ns per looked-up token)"),
            "{md}"
        );
        assert!(
            md.contains("| 1k | memrec-bundled token_rows=a | 4.00 MiB |"),
            "{md}"
        );
        assert!(md.contains("(2 of 4 points fit)"), "{md}");
    }
}
