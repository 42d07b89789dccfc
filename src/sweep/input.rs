//! What a sweep's report is made of (`ReportInput`), its Pareto front over (bytes, ΔAUC), and the
//! formatting of a record's figures: shared by the tables (`report`) and the plots (`plots`).
//!
//! Owns: these. Must never: write files or decide the layout of a report.

use super::pareto::pareto_front;
use super::store::PointRecord;

/// Everything a report is made of.
pub struct ReportInput<'a> {
    /// Preset or configuration file the sweep started from.
    pub title: &'a str,
    /// `steps=N` or `epochs=E`.
    pub budget: &'a str,
    pub data_label: &'a str,
    pub axes: &'a [String],
    pub baseline: &'a PointRecord,
    /// Points in grid order.
    pub points: &'a [PointRecord],
}

/// Indices (into `points`) of the Pareto front of the successful points, by increasing bytes.
pub fn front_of(points: &[PointRecord]) -> Vec<usize> {
    let pairs: Vec<(u64, f64)> = points
        .iter()
        .map(|p| {
            let d = if p.ok() {
                p.delta_auc.unwrap_or(f64::NAN)
            } else {
                f64::NAN
            };
            (p.table_bytes, d)
        })
        .collect();
    pareto_front(&pairs)
}

pub(crate) fn fmt_opt(v: Option<f64>, prec: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.prec$}"))
}

pub(crate) fn fmt_delta(p: &PointRecord) -> String {
    match (p.delta_auc, p.delta_lo, p.delta_hi) {
        (Some(d), Some(lo), Some(hi)) => format!("{d:+.4} [{lo:+.4}, {hi:+.4}]"),
        (Some(d), _, _) => format!("{d:+.4}"),
        _ => "-".into(),
    }
}
