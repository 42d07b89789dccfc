//! The plots of a sweep report: `pareto.svg` (ΔAUC against table bytes, log scale, the front
//! connected) and `latency.svg` (ΔAUC against ns per looked-up token), each point's marker shape
//! telling its method (with a legend), never colour alone.
//!
//! Owns: the plots' wording and layout. Must never: compute a figure the records do not hold.

use super::input::{ReportInput, fmt_delta, fmt_opt, front_of};
use super::store::PointRecord;
use crate::train::protocol::RunStatus;
use crate::util::svg::{Chart, Legend, Margins, Marker, Shape, nice_step};
use crate::util::units::{ByteAxis, fmt_bytes};

/// The wording of the Pareto plot: the sweep's by default; other front ends (the explorer's
/// report) name their own points.
pub struct SvgText<'a> {
    /// Plot heading, before `(title, budget)`.
    pub heading: &'a str,
    /// Legend label of a point off the front.
    pub point: &'a str,
}

impl Default for SvgText<'_> {
    fn default() -> Self {
        SvgText {
            heading: "MEM-REC sweep: ΔAUC against table bytes",
            point: "grid point",
        }
    }
}

/// The Pareto plot (ΔAUC against bytes, log scale, 95% error bars, the front in red and
/// connected) of `input`'s points, worded by `text`.
pub fn pareto_svg(input: &ReportInput, text: &SvgText) -> String {
    svg(input, &front_of(input.points), text)
}

/// Markers of the plot: points off the front, and on it.
const POINT: Marker = Marker {
    fill: "#1f77b4",
    stroke: "#0d3b66",
};
const FRONT: Marker = Marker {
    fill: "#d62728",
    stroke: "#7a1010",
};

pub(super) fn svg(input: &ReportInput, front: &[usize], text: &SvgText) -> String {
    let plotted: Vec<(usize, &PointRecord)> = input
        .points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.ok() && p.delta_auc.is_some_and(f64::is_finite) && p.table_bytes > 0)
        .collect();
    let b = input.baseline;
    let margins = Margins {
        left: 90.0,
        right: 30.0,
        top: 88.0,
        bottom: 70.0,
    };
    let mut c = Chart::new(
        820.0,
        520.0,
        margins,
        &format!("{} ({}, {})", text.heading, input.title, input.budget),
        &format!(
            "baseline {}: AUC {}, {} table parameters; {}",
            b.representation,
            fmt_opt(b.auc, 4),
            fmt_bytes(b.table_bytes),
            input.data_label
        ),
        44.0,
    );
    if plotted.is_empty() {
        return c.empty("no successful point to plot");
    }
    // x: log2 bytes over labelled powers of two; y: ΔAUC intervals and 0.
    let bytes = plotted.iter().map(|(_, p)| p.table_bytes);
    let axis = ByteAxis::new(
        bytes.clone().min().unwrap_or(1),
        bytes.max().unwrap_or(1),
        8,
    );
    let (mut y0, mut y1) = (0.0f64, 0.0f64);
    for (_, p) in &plotted {
        for v in [p.delta_auc, p.delta_lo, p.delta_hi].into_iter().flatten() {
            if v.is_finite() {
                y0 = y0.min(v);
                y1 = y1.max(v);
            }
        }
    }
    if y1 - y0 < 1e-6 {
        y0 -= 0.005;
        y1 += 0.005;
    }
    let pad = (y1 - y0) * 0.06;
    c.plot((axis.lo as f64, axis.hi as f64), (y0 - pad, y1 + pad));
    c.x_ticks_bytes(&axis);
    c.y_ticks(nice_step(y1 - y0 + 2.0 * pad, 8.0), true, |v| {
        if v == 0.0 {
            "0".to_string()
        } else {
            format!("{v:+.4}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        }
    });
    c.axis_titles(
        "table bytes (parameters, log scale; 1 KiB = 1024 bytes)",
        22.0,
        "ΔAUC vs baseline (95% DeLong interval)",
        22.0,
    );
    let xy = |p: &PointRecord| (ByteAxis::pos(p.table_bytes), p.delta_auc.unwrap_or(0.0));
    let methods = methods_of(input.points);
    // Error bars and markers of every point, the marker's shape telling the method.
    for (i, p) in &plotted {
        if let (Some(lo), Some(hi)) = (p.delta_lo, p.delta_hi)
            && lo.is_finite()
            && hi.is_finite()
        {
            c.error_bar(xy(p).0, lo, hi, "#7a8fb0");
        }
        let on = front.contains(i);
        let tip = format!("{}: {} bytes, ΔAUC {}", p.key, p.table_bytes, fmt_delta(p));
        let (r, style) = if on { (5.0, FRONT) } else { (4.0, POINT) };
        c.shape(xy(p), r, style, shape_of(&methods, p), Some(&tip));
    }
    // The front, connected by increasing bytes.
    let line: Vec<(f64, f64)> = front.iter().map(|&i| xy(&input.points[i])).collect();
    if line.len() > 1 {
        c.polyline(&line, "#d62728", 1.5, "");
    }
    // Legend, in two rows between the subtitle and the plot (never over the data).
    let (l, t, r, _) = c.area();
    let (lx, ly) = (l + 6.0, t - 14.0);
    method_legend(&mut c, lx, ly - 18.0, &methods, text.point);
    c.legend(
        lx,
        ly,
        Legend::Dot(5.0, FRONT),
        "red: Pareto front (max ΔAUC for min bytes); error bars: 95% interval",
    );
    let cancelled = input
        .points
        .iter()
        .filter(|p| p.status == RunStatus::Cancelled)
        .count();
    let failed = (input.points.len() - plotted.len()).saturating_sub(cancelled);
    if failed + cancelled > 0 {
        let what = match (failed, cancelled) {
            (f, 0) => format!("{f} failed"),
            (0, c) => format!("{c} cancelled"),
            (f, c) => format!("{f} failed, {c} cancelled"),
        };
        c.note_right(r, ly + 4.0, "#a00", &format!("{what} point(s) not shown"));
    }
    c.finish()
}

/// The representations of `points`, sorted: one marker shape each.
fn methods_of(points: &[PointRecord]) -> Vec<String> {
    let mut m: Vec<String> = points.iter().map(|p| p.representation.clone()).collect();
    m.sort();
    m.dedup();
    m
}

fn shape_of(methods: &[String], p: &PointRecord) -> Shape {
    Shape::nth(
        methods
            .iter()
            .position(|m| *m == p.representation)
            .unwrap_or(0),
    )
}

/// One legend entry per method (its shape), in a row from (x, y).
fn method_legend(c: &mut Chart, x: f64, y: f64, methods: &[String], what: &str) {
    let mut at = x;
    for (i, m) in methods.iter().enumerate() {
        let label = format!("{what}: {m}");
        c.legend(at, y, Legend::Shape(4.0, POINT, Shape::nth(i)), &label);
        at += 24.0 + 6.5 * label.chars().count() as f64;
    }
}

/// ΔAUC at the end of the budget against the measured latency (ns per looked-up token, linear),
/// one shape per method, the uncompressed gather as a dashed vertical line.
pub(super) fn latency_svg(input: &ReportInput) -> String {
    let plotted: Vec<&PointRecord> = input
        .points
        .iter()
        .filter(|p| p.ok() && p.delta_auc.is_some_and(f64::is_finite))
        .filter(|p| p.ns_per_token.is_some_and(f64::is_finite))
        .collect();
    let b = input.baseline;
    let unc = input
        .points
        .iter()
        .find_map(|p| p.uncompressed_ns_per_token);
    let margins = Margins {
        left: 90.0,
        right: 30.0,
        top: 70.0,
        bottom: 70.0,
    };
    let mut c = Chart::new(
        820.0,
        520.0,
        margins,
        &format!(
            "ΔAUC against lookup latency ({}, {})",
            input.title, input.budget
        ),
        &format!(
            "baseline {}: AUC {}; uncompressed gather {}; {}",
            b.representation,
            fmt_opt(b.auc, 4),
            unc.map_or("not measured".into(), |u| format!(
                "{u:.2} ns per looked-up token"
            )),
            input.data_label
        ),
        44.0,
    );
    if plotted.is_empty() {
        return c.empty("no point with a measured latency to plot");
    }
    let mut x1 = plotted
        .iter()
        .filter_map(|p| p.ns_per_token)
        .fold(unc.unwrap_or(0.0), f64::max);
    x1 = (x1 * 1.1).max(1.0);
    let (mut y0, mut y1) = (0.0f64, 0.0f64);
    for p in &plotted {
        for v in [p.delta_auc, p.delta_lo, p.delta_hi].into_iter().flatten() {
            y0 = y0.min(v);
            y1 = y1.max(v);
        }
    }
    if y1 - y0 < 1e-6 {
        y0 -= 0.005;
        y1 += 0.005;
    }
    let pad = (y1 - y0) * 0.06;
    c.plot((0.0, x1), (y0 - pad, y1 + pad));
    c.x_ticks_linear(nice_step(x1, 8.0), |v| format!("{v}"));
    c.y_ticks(nice_step(y1 - y0 + 2.0 * pad, 8.0), true, |v| {
        if v == 0.0 {
            "0".to_string()
        } else {
            format!("{v:+.4}")
        }
    });
    c.axis_titles(
        "ns per looked-up token (median; one token = one (sample, feature) lookup)",
        22.0,
        "ΔAUC vs baseline (95% DeLong interval)",
        22.0,
    );
    if let Some(u) = unc {
        c.polyline(&[(u, y0 - pad), (u, y1 + pad)], "#555", 1.0, "4 3");
    }
    let methods = methods_of(input.points);
    for p in &plotted {
        let x = p.ns_per_token.unwrap_or(0.0);
        if let (Some(lo), Some(hi)) = (p.delta_lo, p.delta_hi) {
            c.error_bar(x, lo, hi, "#7a8fb0");
        }
        let tip = format!(
            "{}: {:.2} ns/token, {}, ΔAUC {}",
            p.key,
            x,
            fmt_bytes(p.table_bytes),
            fmt_delta(p)
        );
        let at = (x, p.delta_auc.unwrap_or(0.0));
        c.shape(at, 4.0, POINT, shape_of(&methods, p), Some(&tip));
    }
    let (l, t, _, _) = c.area();
    method_legend(&mut c, l + 6.0, t - 14.0, &methods, "point");
    c.finish()
}
