//! The report of a sweep: `points.csv`, `points.json`, `summary.md` and `pareto.svg`, all pure
//! functions of the finished records (so re-running a finished sweep rewrites the same report).
//!
//! Owns: the formats, the memory budgets of the summary and the hand-written SVG plot. Must never:
//! run anything or read the sweep directory (the caller writes the files atomically).

use std::fmt::Write as _;

use super::duel::{self, Duel};
use super::review::{self, Checkpoint, ReviewOptions};
use super::store::PointRecord;
use crate::train::protocol::RunStatus;
use crate::util::provenance::Provenance;
use crate::util::units::fmt_bytes;

pub use super::input::{ReportInput, front_of};
use super::input::{fmt_delta, fmt_opt};
pub use super::plots::{SvgText, pareto_svg};
use super::plots::{latency_svg, svg};

/// What the design review adds to a report: the budgets, the checkpoints (resolved on the
/// baseline's curve, `review::resolve`), notes, and the provenance.
pub struct Review<'a> {
    pub options: &'a ReviewOptions,
    pub checkpoints: &'a [Checkpoint],
    pub notes: &'a [String],
    pub provenance: Option<&'a Provenance>,
    /// The first `in_grid` points are this grid's; the others come from earlier grids.
    pub in_grid: usize,
    /// The best point against the next at each checkpoint shown (`duel::duels`).
    pub duels: &'a [Duel],
}

/// The report files as (name, contents), every evaluation of the baseline a checkpoint.
pub fn render(input: &ReportInput) -> Vec<(&'static str, String)> {
    let (cps, notes) = review::resolve(None, input.baseline);
    render_review(
        input,
        &Review {
            options: &ReviewOptions::default(),
            checkpoints: &cps,
            notes: &notes,
            provenance: None,
            in_grid: input.points.len(),
            duels: &[],
        },
    )
}

/// The report files of a design review: `points.csv`, `points.json`, `summary.md`,
/// `pareto.svg` (ΔAUC against table bytes) and `latency.svg` (ΔAUC against ns per token).
pub fn render_review(input: &ReportInput, r: &Review) -> Vec<(&'static str, String)> {
    let front = front_of(input.points);
    vec![
        ("points.csv", csv(input, &front, r)),
        ("points.json", json(input, &front, r)),
        ("summary.md", summary(input, &front, r)),
        ("pareto.svg", svg(input, &front, &SvgText::default())),
        ("latency.svg", latency_svg(input)),
    ]
}

/// Columns of `points.csv` after the axis columns (then, per checkpoint L, `auc@L`,
/// `delta_auc@L`, `delta_lo@L`, `delta_hi@L`, `pareto@L`). Bytes say which: `table_param_bytes`
/// counts the compressed tables' parameters (the JSON's `table_bytes`), `optimizer_state_bytes`
/// their optimizer state, `table_param_and_optimizer_state_bytes` both (what the explorer's Runs
/// panel shows). Latency: median and p99 ns per looked-up token of the point's kernel and of the
/// uncompressed gather at full size, with the measurement's threads and batch. `source`: `grid`,
/// or `folder` for a point of an earlier grid in the same folder. `ratio_to_gather_lo`/`_hi`: the
/// lowest and highest ratio of the point's kernel to the gather within one round of the probe.
pub const CSV_COLUMNS: &[&str] = &[
    "status",
    "samples",
    "steps",
    "table_param_bytes",
    "optimizer_state_bytes",
    "compression_full",
    "auc",
    "auc_lo",
    "auc_hi",
    "delta_auc",
    "delta_lo",
    "delta_hi",
    "logloss",
    "samples_per_s",
    "pareto",
    "table_param_and_optimizer_state_bytes",
    "ns_per_token",
    "p99_ns_per_token",
    "uncompressed_ns_per_token",
    "latency_threads",
    "latency_batch",
    "pareto_bytes_delta_latency",
    "source",
    "ratio_to_gather_lo",
    "ratio_to_gather_hi",
];

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| format!("{x}"))
}

fn axis_value<'a>(p: &'a PointRecord, path: &str) -> &'a str {
    p.axes
        .iter()
        .find(|(a, _)| a == path)
        .map_or("", |(_, v)| v.as_str())
}

/// The point's source: this grid (the first `in_grid` points), or an earlier grid run into the
/// same folder.
fn source(i: usize, in_grid: usize) -> &'static str {
    if i < in_grid { "grid" } else { "folder" }
}

fn csv(input: &ReportInput, front: &[usize], r: &Review) -> String {
    let cps = r.checkpoints;
    let mut out = String::new();
    let last = cps.last().map_or(0, |c| c.samples);
    let front3 = review::front3(input.points, last);
    let fronts: Vec<Vec<usize>> = cps
        .iter()
        .map(|c| review::front_at(input.points, c.samples))
        .collect();
    let mut header: Vec<String> = input
        .axes
        .iter()
        .map(|a| csv_field(a))
        .chain(CSV_COLUMNS.iter().map(|c| c.to_string()))
        .collect();
    for c in cps {
        for col in ["auc", "delta_auc", "delta_lo", "delta_hi", "pareto"] {
            header.push(format!("{col}@{}", c.label));
        }
    }
    out.push_str(&header.join(","));
    out.push('\n');
    for (i, p) in input.points.iter().enumerate() {
        let mut row: Vec<String> = input
            .axes
            .iter()
            .map(|a| csv_field(axis_value(p, a)))
            .collect();
        row.extend([
            csv_field(&p.status.to_string()),
            p.samples.to_string(),
            p.steps.to_string(),
            p.table_bytes.to_string(),
            p.optimizer_bytes.to_string(),
            num(p.compression_full),
            num(p.auc),
            num(p.auc_lo),
            num(p.auc_hi),
            num(p.delta_auc),
            num(p.delta_lo),
            num(p.delta_hi),
            num(p.logloss),
            num(p.samples_per_s),
            front.contains(&i).to_string(),
            (p.table_bytes + p.optimizer_bytes).to_string(),
            num(p.ns_per_token),
            num(p.p99_ns_per_token),
            num(p.uncompressed_ns_per_token),
            p.latency_threads.map_or(String::new(), |t| t.to_string()),
            p.latency_batch.map_or(String::new(), |t| t.to_string()),
            front3.contains(&i).to_string(),
            source(i, r.in_grid).to_string(),
            num(p.ratio_to_gather_range.map(|r| r[0])),
            num(p.ratio_to_gather_range.map(|r| r[1])),
        ]);
        for (c, f) in cps.iter().zip(&fronts) {
            let e = review::at(p, c.samples).filter(|_| p.ok());
            row.extend([
                num(e.as_ref().map(|e| e.auc)),
                num(e.as_ref().and_then(|e| e.delta_auc)),
                num(e.as_ref().and_then(|e| e.delta_lo)),
                num(e.as_ref().and_then(|e| e.delta_hi)),
                f.contains(&i).to_string(),
            ]);
        }
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

fn json(input: &ReportInput, front: &[usize], r: &Review) -> String {
    let cps = r.checkpoints;
    let last = cps.last().map_or(0, |c| c.samples);
    let front3 = review::front3(input.points, last);
    let fronts: Vec<Vec<usize>> = cps
        .iter()
        .map(|c| review::front_at(input.points, c.samples))
        .collect();
    let points: Vec<serde_json::Value> = input
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut v = serde_json::to_value(p).unwrap_or(serde_json::Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("pareto".into(), front.contains(&i).into());
                // Axes as an object is easier to read than pairs; the order is the grid's.
                let axes: serde_json::Map<String, serde_json::Value> = p
                    .axes
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone().into()))
                    .collect();
                o.insert("axes".into(), axes.into());
                o.insert(
                    "pareto_bytes_delta_latency".into(),
                    front3.contains(&i).into(),
                );
                o.insert("source".into(), source(i, r.in_grid).into());
                let at: Vec<serde_json::Value> = cps
                    .iter()
                    .zip(&fronts)
                    .map(|(c, f)| {
                        let e = review::at(p, c.samples).filter(|_| p.ok());
                        // The best point within the budgets here: its paired gap to the next.
                        let duel = r
                            .duels
                            .iter()
                            .find(|d| d.samples == c.samples && d.best == i);
                        let vs_next = duel.map(|d| {
                            let g = d.gap.as_ref().ok();
                            serde_json::json!({
                                "next": input.points[d.next].key,
                                "auc_gap": g.map(|g| g.delta),
                                "gap_lo": g.map(|g| g.lo),
                                "gap_hi": g.map(|g| g.hi),
                                "told_apart": d.told_apart(),
                                "why_not_measured": d.gap.as_ref().err(),
                            })
                        });
                        serde_json::json!({
                            "best_vs_next": vs_next,
                            "checkpoint": c.label,
                            "samples": c.samples,
                            "auc": e.as_ref().map(|e| e.auc),
                            "delta_auc": e.as_ref().and_then(|e| e.delta_auc),
                            "delta_lo": e.as_ref().and_then(|e| e.delta_lo),
                            "delta_hi": e.as_ref().and_then(|e| e.delta_hi),
                            "pareto": f.contains(&i),
                        })
                    })
                    .collect();
                o.insert("checkpoints".into(), at.into());
            }
            v
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&points).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

/// Memory budgets of the summary: the powers of 8 (1 KiB, 8 KiB, 64 KiB...: about a decade
/// apart, round in binary units) from the smallest point up to the largest.
pub fn budgets(points: &[PointRecord]) -> Vec<u64> {
    let ok: Vec<u64> = points
        .iter()
        .filter(|p| p.ok())
        .map(|p| p.table_bytes.max(1))
        .collect();
    let (Some(&lo), Some(&hi)) = (ok.iter().min(), ok.iter().max()) else {
        return Vec::new();
    };
    let mut b = 1u64;
    while b < lo {
        b = b.saturating_mul(8);
    }
    let mut out = vec![b];
    while b < hi && out.len() < 8 {
        b = b.saturating_mul(8);
        out.push(b);
    }
    out
}

fn summary(input: &ReportInput, front: &[usize], r: &Review) -> String {
    let mut s = String::new();
    let b = input.baseline;
    let _ = writeln!(s, "# MEM-REC sweep: {} ({})\n", input.title, input.budget);
    if let Some(p) = r.provenance {
        let _ = writeln!(s, "{}", p.markdown());
    }
    let _ = writeln!(s, "Data: {}.\n", input.data_label);
    let _ = writeln!(
        s,
        "Baseline ({}): AUC {} [{}, {}], logloss {}, tables {} (+{} optimizer state), status {}.\n",
        b.representation,
        fmt_opt(b.auc, 4),
        fmt_opt(b.auc_lo, 4),
        fmt_opt(b.auc_hi, 4),
        fmt_opt(b.logloss, 4),
        fmt_bytes(b.table_bytes),
        fmt_bytes(b.optimizer_bytes),
        b.status
    );
    let _ = writeln!(
        s,
        "ΔAUC is each point's test AUC minus the baseline's on the same test rows, with the DeLong 95% interval of the paired difference. \
         Bytes are the compressed tables' parameters (optimizer state separately), in binary units (1 KiB = 1024 bytes, 1 MiB = 1024 KiB). ★ marks the Pareto front (no other point has fewer bytes and a higher ΔAUC). \
         Latency: median ns per looked-up token (one token = one (sample, feature) lookup) of `bench`'s kernel and set-up; in brackets, where measured, the lowest and highest ratio to the uncompressed gather over the probe's rounds (kernel and gather timed in turn, each round's ratio at the same moments).\n"
    );
    for n in r.notes {
        let _ = writeln!(s, "Note: {n}\n");
    }
    s.push_str(&review::markdown(input.points, b, r.checkpoints, r.options));
    duel::markdown(&mut s, input.points, r.duels);
    let _ = writeln!(
        s,
        "\n## Every point at the end of the budget ({} samples)\n",
        review::group(b.samples)
    );
    let mut order: Vec<usize> = (0..input.points.len()).collect();
    order.sort_by_key(|&i| (input.points[i].table_bytes, i));
    let mut head = vec!["".to_string()];
    head.extend(input.axes.iter().cloned());
    head.extend(
        [
            "representation",
            "table parameters",
            "optimizer state",
            "compression",
            "AUC",
            "ΔAUC [95% CI]",
            "ns/token",
            "logloss",
            "samples/s",
            "status",
        ]
        .map(String::from),
    );
    let _ = writeln!(s, "| {} |", head.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(head.len()));
    for i in order {
        let p = &input.points[i];
        let mut row = vec![if front.contains(&i) { "★" } else { "" }.to_string()];
        row.extend(input.axes.iter().map(|a| axis_value(p, a).to_string()));
        row.extend([
            p.representation.clone(),
            fmt_bytes(p.table_bytes),
            fmt_bytes(p.optimizer_bytes),
            p.compression_full
                .map_or("-".into(), |c| format!("{c:.0}x")),
            fmt_opt(p.auc, 4),
            fmt_delta(p),
            review::fmt_ns(p),
            fmt_opt(p.logloss, 4),
            fmt_opt(p.samples_per_s, 0),
            p.status.to_string().replace('|', "/"),
        ]);
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
    memory_budgets(&mut s, input.points);
    by_representation(&mut s, input.points);
    not_finished(&mut s, input.points);
    s
}

/// The best point under each memory budget (powers of 8 over the points' bytes).
fn memory_budgets(s: &mut String, points: &[PointRecord]) {
    let budgets = budgets(points);
    if !budgets.is_empty() {
        let _ = writeln!(s, "\n## Best point under a memory budget\n");
        let _ = writeln!(
            s,
            "| budget (table bytes) | best point | bytes | ΔAUC [95% CI] |"
        );
        let _ = writeln!(s, "|---|---|---|---|");
        for budget in budgets {
            let best = best_of(points.iter().filter(|p| p.table_bytes <= budget));
            let cells = match best {
                Some(p) => format!(
                    "{} | {} | {}",
                    p.key,
                    fmt_bytes(p.table_bytes),
                    fmt_delta(p)
                ),
                None => "none fits | - | -".into(),
            };
            let _ = writeln!(s, "| ≤ {} | {cells} |", fmt_bytes(budget));
        }
    }
}

/// The points cancelled or failed, and why.
fn not_finished(s: &mut String, points: &[PointRecord]) {
    let (cancelled, failed): (Vec<&PointRecord>, Vec<&PointRecord>) = points
        .iter()
        .filter(|p| !p.ok())
        .partition(|p| p.status == RunStatus::Cancelled);
    if !cancelled.is_empty() {
        let keys: Vec<&str> = cancelled.iter().map(|p| p.key.as_str()).collect();
        let _ = writeln!(
            s,
            "\n{} point(s) cancelled before they finished (not stored: re-running the same command trains them): {}",
            cancelled.len(),
            keys.join(", ")
        );
    }
    if !failed.is_empty() {
        let _ = writeln!(
            s,
            "\n{} point(s) failed and are left out of the front:\n",
            failed.len()
        );
        for p in failed {
            let _ = writeln!(s, "- {}: {}", p.key, p.status);
        }
    }
}

/// The finished point with the highest ΔAUC among `points` (equal ΔAUC: the smaller tables).
fn best_of<'a>(points: impl Iterator<Item = &'a PointRecord>) -> Option<&'a PointRecord> {
    points
        .filter(|p| p.ok() && p.delta_auc.is_some())
        .max_by(|a, b| {
            a.delta_auc
                .unwrap_or(f64::NAN)
                .total_cmp(&b.delta_auc.unwrap_or(f64::NAN))
                .then(b.table_bytes.cmp(&a.table_bytes))
        })
}

/// Compression ratios (full-size uncompressed bytes over table bytes) of the comparison table.
pub const RATIOS: [f64; 3] = [100.0, 1000.0, 10000.0];

/// For each representation in the sweep and each ratio of `RATIOS`, the best ΔAUC among its
/// points compressing at least that much: where MEM-REC sits against the other methods.
fn by_representation(s: &mut String, points: &[PointRecord]) {
    let mut kinds: Vec<&str> = points
        .iter()
        .filter(|p| p.ok())
        .map(|p| p.representation.as_str())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    if kinds.len() < 2 || points.iter().all(|p| p.compression_full.is_none()) {
        return;
    }
    let _ = writeln!(
        s,
        "\n## Best ΔAUC per representation at a compression ratio\n\nEach cell: the best point of that representation whose tables are at least that many times smaller than the full-size uncompressed tables (its bytes and ratio in brackets).\n"
    );
    let head: Vec<String> = RATIOS.iter().map(|r| format!("≥ {r:.0}x")).collect();
    let _ = writeln!(s, "| representation | {} |", head.join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(RATIOS.len()));
    for kind in kinds {
        let cells: Vec<String> = RATIOS
            .iter()
            .map(|&ratio| {
                best_of(points.iter().filter(|p| {
                    p.representation == kind && p.compression_full.is_some_and(|c| c >= ratio)
                }))
                .map_or("none".into(), |p| {
                    format!(
                        "{} ({}, {:.0}x)",
                        fmt_delta(p),
                        fmt_bytes(p.table_bytes),
                        p.compression_full.unwrap_or(0.0)
                    )
                })
            })
            .collect();
        let _ = writeln!(s, "| {kind} | {} |", cells.join(" | "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &str, bytes: u64, delta: Option<f64>, status: &str) -> PointRecord {
        PointRecord {
            key: key.into(),
            base_hash: "h".into(),
            config_hash: String::new(),
            axes: vec![("memrec.token_rows".into(), key.into())],
            representation: "memrec".into(),
            status: status.into(),
            samples: 100,
            steps: 1,
            table_bytes: bytes,
            optimizer_bytes: bytes / 8,
            compression_full: Some(10.0),
            auc: Some(0.7),
            auc_lo: Some(0.69),
            auc_hi: Some(0.71),
            delta_auc: delta,
            delta_lo: delta.map(|d| d - 0.01),
            delta_hi: delta.map(|d| d + 0.01),
            logloss: Some(0.5),
            samples_per_s: Some(1000.0),
            seconds: 1.0,
            ..PointRecord::default()
        }
    }

    #[test]
    fn report_marks_the_front_and_leaves_failures_out() {
        let base = rec("baseline", 1_000_000, None, "ok");
        let points = vec![
            rec("a", 2_000, Some(-0.05), "ok"),
            rec("b", 40_000, Some(-0.01), "ok"),
            rec("c", 30_000, Some(-0.08), "ok"),
            rec("d", 500, Some(0.5), "training loss is NaN, \"diverged\""),
        ];
        let axes = vec!["memrec.token_rows".to_string()];
        let files = render(&ReportInput {
            title: "tiny",
            budget: "steps=5",
            data_label: "synthetic <test>",
            axes: &axes,
            baseline: &base,
            points: &points,
        });
        let get = |n: &str| files.iter().find(|(f, _)| *f == n).unwrap().1.clone();
        let csv = get("points.csv");
        let lines: Vec<&str> = csv.lines().collect();
        // The records have no curve: one checkpoint, the end (100 samples).
        assert_eq!(
            lines[0],
            format!(
                "memrec.token_rows,{},auc@100,delta_auc@100,delta_lo@100,delta_hi@100,pareto@100",
                CSV_COLUMNS.join(",")
            )
        );
        let at = |row: usize, col: &str| -> String {
            let i = 1 + CSV_COLUMNS.iter().position(|c| *c == col).unwrap();
            lines[row].split(',').nth(i).unwrap().to_string()
        };
        // a: 2000 table bytes + 250 optimizer bytes, on the front.
        let cols = ["pareto", "table_param_and_optimizer_state_bytes"];
        assert_eq!(cols.map(|c| at(1, c)), ["true", "2250"]);
        assert_eq!(cols.map(|c| at(2, c)), ["true", "45000"]);
        assert_eq!(cols.map(|c| at(3, c)), ["false", "33750"]);
        // At the checkpoint: AUC, ΔAUC (from the record's end figures) and the front.
        assert!(
            lines[1].ends_with(",true") && lines[1].contains(",0.7,-0.05,"),
            "{}",
            lines[1]
        );
        assert!(lines[4].contains("\"training loss is NaN, \"\"diverged\"\"\""));
        let md = get("summary.md");
        assert!(md.contains("| ★ | a |") && md.contains("| ★ | b |"), "{md}");
        assert!(md.contains("| ≤ 4.00 KiB | a |"), "{md}");
        assert!(md.contains("1 point(s) failed"), "{md}");
        let svg = get("pareto.svg");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 3 + 2, "3 points + legend");
        assert!(svg.contains("&lt;test&gt;") && svg.contains("polyline"));
        assert!(
            svg.contains(">1.00 KiB<") && svg.contains(">64.0 KiB<"),
            "{svg}"
        );
        let json: serde_json::Value = serde_json::from_str(&get("points.json")).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 4);
        assert_eq!(json[0]["pareto"], true);
        assert_eq!(json[0]["axes"]["memrec.token_rows"], "a");
    }

    #[test]
    fn cancelled_points_are_listed_apart_from_failures() {
        let base = rec("baseline", 1_000_000, None, "ok");
        let mut c = rec("c", 30_000, None, "cancelled");
        c.auc = None;
        let points = vec![rec("a", 2_000, Some(-0.05), "ok"), c];
        let axes = vec!["memrec.token_rows".to_string()];
        let files = render(&ReportInput {
            title: "tiny",
            budget: "steps=5",
            data_label: "synthetic",
            axes: &axes,
            baseline: &base,
            points: &points,
        });
        let get = |n: &str| files.iter().find(|(f, _)| *f == n).unwrap().1.clone();
        let md = get("summary.md");
        assert!(
            md.contains("1 point(s) cancelled before they finished (not stored: re-running the same command trains them): c"),
            "{md}"
        );
        assert!(!md.contains("failed"), "{md}");
        assert!(get("pareto.svg").contains(">1 cancelled point(s) not shown<"));
    }

    #[test]
    fn representations_are_compared_at_each_compression_ratio() {
        let mut pts = Vec::new();
        for (kind, ratio, delta) in [
            ("memrec-bundled", 150.0, 0.010),
            ("memrec-bundled", 2000.0, 0.004),
            ("memrec-bundled", 20000.0, -0.002),
            ("qr", 500.0, -0.001),
            ("qr", 90.0, 0.020),
            ("robe-z", 1500.0, -0.003),
        ] {
            let mut p = rec(kind, (2e9 / ratio) as u64, Some(delta), "ok");
            p.representation = kind.into();
            p.compression_full = Some(ratio);
            pts.push(p);
        }
        let mut s = String::new();
        by_representation(&mut s, &pts);
        let row = |k: &str| {
            s.lines()
                .find(|l| l.starts_with(&format!("| {k} |")))
                .unwrap_or_else(|| panic!("{k} row missing:\n{s}"))
                .to_string()
        };
        // Best at ≥100x is the 150x point (+0.010); at ≥1000x the 2000x one; at ≥10000x the last.
        let m = row("memrec-bundled");
        assert!(
            m.contains("+0.0100 [") && m.contains("+0.0040 [") && m.contains("-0.0020 ["),
            "{m}"
        );
        // QR's 90x point is not ≥ 100x; QR has nothing ≥ 1000x.
        let q = row("qr");
        assert!(q.contains("-0.0010 [") && !q.contains("+0.0200"), "{q}");
        assert_eq!(q.matches("none").count(), 2, "{q}");
        assert_eq!(row("robe-z").matches("none").count(), 1);
        // One representation only: no comparison table.
        let mut one = String::new();
        by_representation(&mut one, &pts[..3]);
        assert!(one.is_empty());
    }

    #[test]
    fn bytes_and_budgets() {
        let pts = [
            rec("a", 2_000, Some(0.0), "ok"),
            rec("b", 40_000, Some(0.0), "ok"),
        ];
        assert_eq!(budgets(&pts), vec![4096, 32_768, 262_144]);
        assert!(budgets(&[]).is_empty());
    }
}
