//! `memrec-tui stats`: the dataset statistics of `data::stats` rendered as an aligned table, or
//! one JSON object with `--json`.
//!
//! Owns: the two renderings. Must never: compute statistics (`data::stats` does).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::CliError;
use crate::data::criteo::thousands;
use crate::data::stats::{DatasetStats, ZIPF_MIN_COUNT, compute};

/// The `stats` command.
pub fn run_cli(files: &[PathBuf], strict: bool, max_rows: u64, json: bool) -> Result<(), CliError> {
    let stats = compute(files, strict, max_rows)?;
    let text = if json {
        let mut s = serde_json::to_string(&stats).map_err(CliError::runtime)?;
        s.push('\n');
        s
    } else {
        render_table(&stats)
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(CliError::runtime)
}

/// The human rendering: a header and two aligned tables.
pub fn render_table(s: &DatasetStats) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let names: Vec<String> = s
        .files
        .iter()
        .map(|f| {
            Path::new(f)
                .file_name()
                .map_or_else(|| f.clone(), |n| n.to_string_lossy().into_owned())
        })
        .collect();
    let _ = writeln!(o, "Criteo statistics: {}", names.join(", "));
    let _ = writeln!(
        o,
        "rows        {}{}",
        thousands(s.rows),
        if s.stopped_at_max_rows {
            " (stopped at --max-rows)"
        } else {
            ""
        }
    );
    let _ = writeln!(o, "bad lines   {}", thousands(s.bad_lines.count));
    for b in &s.bad_lines.first {
        let _ = writeln!(o, "  {b}");
    }
    if s.bad_lines.count > s.bad_lines.first.len() as u64 {
        let _ = writeln!(
            o,
            "  ... {} more",
            thousands(s.bad_lines.count - s.bad_lines.first.len() as u64)
        );
    }
    let _ = writeln!(
        o,
        "clicks      {} (click rate {:.2}%)",
        thousands(s.clicks),
        100.0 * s.click_rate
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<6} {:>12} {:>9} {:>8} {:>6} {:>7} {:>8}",
        "column", "distinct", "missing%", "zipf s", "r2", "fit pts", "max rank"
    );
    for c in &s.categorical {
        let distinct = if c.distinct_exact {
            thousands(c.distinct)
        } else {
            format!("~{}", thousands(c.distinct))
        };
        let (zs, r2, pts, max_rank) = match &c.zipf {
            Some(z) => (
                format!("{}{:.3}", if z.exact_counts { "" } else { "~" }, z.exponent),
                format!("{:.3}", z.r2),
                z.ranks_used.to_string(),
                thousands(z.max_rank),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        let _ = writeln!(
            o,
            "{:<6} {:>12} {:>9.2} {:>8} {:>6} {:>7} {:>8}",
            c.name,
            distinct,
            100.0 * c.missing_rate,
            zs,
            r2,
            pts,
            max_rank
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<6} {:>9} {:>20} {:>20} {:>11}",
        "column", "missing%", "min", "max", "mean log1p"
    );
    let opt = |v: Option<i64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    for d in &s.dense {
        let _ = writeln!(
            o,
            "{:<6} {:>9.2} {:>20} {:>20} {:>11}",
            d.name,
            100.0 * d.missing_rate,
            opt(d.min),
            opt(d.max),
            d.mean_log1p
                .map_or_else(|| "-".to_string(), |m| format!("{m:.4}"))
        );
    }
    let _ = writeln!(
        o,
        "\nzipf s: least-squares slope of ln(count) on ln(rank), log-spaced ranks with count >= {ZIPF_MIN_COUNT} \
         (fit pts of them, up to max rank); ~ = estimate"
    );
    o
}
