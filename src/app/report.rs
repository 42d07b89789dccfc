//! The session report `R` writes: `report.md` (the data, the baseline, every MEM-REC configuration
//! tried with its knobs, bytes, compression, AUC, ΔAUC with its interval, latency and status, and
//! the loaded sweep), `auc.svg` (test AUC over samples seen of the baseline and each MEM-REC run,
//! the oracle line on synthetic data) and `pareto.svg` (ΔAUC against table bytes, drawn by the
//! sweep report's plot so both look alike).
//!
//! Owns: these files' contents, as pure functions of `AppState`. Must never: do I/O (the runtime
//! writes the files atomically), or print a number the session did not measure: what is missing
//! is written as `-` or "not measured".

use std::fmt::Write as _;

use super::pareto::{self, PointId};
use super::state::{AppState, Metric, TriedRun, TriedStatus};
use crate::config::{Config, Method};
use crate::sweep::report::{ReportInput, SvgText, pareto_svg};
use crate::sweep::store::PointRecord;
use crate::train::protocol::RunStatus;
use crate::util::svg::{Chart, Legend, Margins, Marker, nice_step};
use crate::util::units::fmt_bytes;

pub const REPORT_MD: &str = "report.md";
pub const AUC_SVG: &str = "auc.svg";
pub const PARETO_SVG: &str = "pareto.svg";

/// The report's files as (name, contents).
pub fn render(state: &AppState) -> Vec<(String, String)> {
    vec![
        (REPORT_MD.into(), markdown(state)),
        (AUC_SVG.into(), auc_svg(state)),
        (PARETO_SVG.into(), pareto_plot(state)),
    ]
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.prec$}"))
}

/// `1.00 MiB (1048577 B)`: the binary unit of every report, and the exact count.
fn bytes(b: u64) -> String {
    if b < 1024 {
        fmt_bytes(b)
    } else {
        format!("{} ({b} B)", fmt_bytes(b))
    }
}

fn status_word(r: &TriedRun) -> String {
    match r.status {
        TriedStatus::Running => "live".into(),
        ref s => s.to_string(),
    }
}

/// Markdown table cell: pipes would split the cell.
fn cell(s: &str) -> String {
    s.replace('|', "/")
}

fn markdown(state: &AppState) -> String {
    let mut s = String::new();
    let cfg = &state.cfg;
    let _ = writeln!(s, "# MEM-REC explorer report: {}\n", cell(&cfg.name));
    // The data in use.
    match &state.data {
        Some(d) => {
            let _ = writeln!(
                s,
                "Data: {}; {}; {} test rows{}.\n",
                d.label,
                if d.synthetic {
                    "synthetic, generated: not Criteo rows"
                } else {
                    "real Criteo rows"
                },
                d.test_rows,
                if d.bad_lines.count > 0 {
                    format!(", {} bad lines skipped", d.bad_lines.count)
                } else {
                    String::new()
                }
            );
        }
        None => {
            let _ = writeln!(
                s,
                "Data: {} (not opened yet).\n",
                state.running.data_label()
            );
        }
    }
    let _ = writeln!(
        s,
        "Seed {}; evaluation every {} samples. Full-size uncompressed tables (the preset's {} cardinalities, dim {}): {}.\n",
        cfg.seed,
        cfg.eval.every_samples,
        cfg.data.cardinalities.len(),
        cfg.model.dim,
        bytes(cfg.full_uncompressed_bytes())
    );
    let oracle = state
        .baseline
        .as_ref()
        .and_then(|b| b.last_eval.as_ref())
        .and_then(|e| e.oracle_auc)
        .filter(|_| state.data.as_ref().is_some_and(|d| d.synthetic));
    if let Some(o) = oracle {
        let _ = writeln!(
            s,
            "Oracle AUC (the true click probabilities of the synthetic test rows): {o:.4}.\n"
        );
    }
    // The baseline.
    let _ = writeln!(s, "## Baseline\n");
    match &state.baseline {
        Some(b) => {
            // Progress and evaluations arrive separately: the later of the two counts.
            let samples = b
                .progress
                .as_ref()
                .map_or(0, |p| p.samples)
                .max(b.last_eval.as_ref().map_or(0, |e| e.samples));
            let (auc, logloss) = match &b.last_eval {
                Some(e) => (
                    format!("{:.4} [{:.4}, {:.4}] 95%", e.auc, e.auc_lo, e.auc_hi),
                    format!("{:.4}", e.logloss),
                ),
                None => ("not evaluated yet".into(), "-".into()),
            };
            let _ = writeln!(
                s,
                "{}: tables {} (+{} optimizer state), {} samples seen, test AUC {auc}, logloss {logloss}, status {}.\n",
                b.representation,
                bytes(b.table_bytes_now()),
                bytes(b.optimizer_bytes()),
                samples,
                match (&b.failed, &b.finished) {
                    (Some(m), _) => format!("failed: {m}"),
                    (None, Some(f)) => f.status.to_string(),
                    (None, None) => "live".into(),
                }
            );
        }
        None => {
            let _ = writeln!(s, "Not started yet.\n");
        }
    }
    runs_table(state, &mut s);
    sweep_section(state, &mut s);
    let _ = writeln!(s, "## Figures\n");
    let _ = writeln!(
        s,
        "![Test AUC over samples seen]({AUC_SVG})\n\n![ΔAUC against table bytes]({PARETO_SVG})"
    );
    s
}

fn runs_table(state: &AppState, s: &mut String) {
    let _ = writeln!(
        s,
        "## Compressed configurations tried (MEM-REC; Bloom when kw = 0)\n"
    );
    if state.runs.is_empty() {
        let _ = writeln!(s, "None yet.\n");
        return;
    }
    let _ = writeln!(
        s,
        "ΔAUC is the run's test AUC minus the baseline's at the same samples seen, on the same test rows, with the DeLong 95% interval of the paired difference. \
         Compression = full-size uncompressed tables (at the run's dim) / the run's tables. \
         Latency: the fused MEM-REC kernel and the uncompressed gather over full-size tables, median ns per looked-up token, as measured this session. \
         ★ marks the Pareto front of this session's runs compared at one checkpoint, {} (no other has fewer table bytes and a higher ΔAUC there; the baseline is the reference, ΔAUC 0).\n",
        pareto::checkpoint(&session_view(state)).map_or("none yet".to_string(), |c| format!(
            "{} samples seen",
            crate::util::units::fmt_count(c)
        ))
    );
    // The front of the session alone, at the Pareto view's checkpoint.
    let session = session_view(state);
    let front: Vec<u64> = pareto::points(&session)
        .into_iter()
        .filter_map(|p| match p.id {
            PointId::Run(g) if p.front => Some(g),
            _ => None,
        })
        .collect();
    let _ = writeln!(
        s,
        "| | run | K | token rows D | kw | weight rows dw | dim | layout | optimizer | lr | batch | method | table parameter bytes | optimizer state bytes | compression | samples | AUC [95% CI] | ΔAUC [95% CI] | latency MEM-REC / uncompressed | status |"
    );
    let _ = writeln!(s, "|{}", "---|".repeat(20));
    for r in &state.runs {
        let c = &r.cfg;
        let full = c.full_uncompressed_bytes();
        let compression = if r.param_bytes > 0 {
            format!("{:.0}x", full as f64 / r.param_bytes as f64)
        } else {
            "-".into()
        };
        let auc = match &r.eval {
            Some(e) => format!("{:.4} [{:.4}, {:.4}]", e.auc, e.auc_lo, e.auc_hi),
            None => opt(r.auc, 4),
        };
        let delta = r.delta.map_or("-".into(), |d| {
            format!("{:+.4} [{:+.4}, {:+.4}]", d.delta, d.lo, d.hi)
        });
        let latency = state.latency_for(c).map_or("not measured".into(), |l| {
            format!(
                "{:.1} / {:.1} ns ({:.1}x)",
                l.compressed_ns_per_token, l.full_ns_per_token, l.speedup
            )
        });
        let _ = writeln!(
            s,
            "| {} | #{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            if front.contains(&r.generation) {
                "★"
            } else {
                ""
            },
            r.generation,
            memrec_knob(c, c.memrec.k),
            memrec_knob(c, c.memrec.token_rows),
            memrec_knob(c, c.memrec.kw),
            if c.is_bloom() {
                "-".to_string()
            } else {
                memrec_knob(c, c.memrec.weight_rows)
            },
            c.model.dim,
            if c.memrec.method == Method::Memrec {
                c.memrec.layout.as_str()
            } else {
                "-"
            },
            c.train.optimizer.as_str(),
            c.train.lr,
            c.train.batch,
            if c.memrec.method == Method::Memrec {
                c.compressed_label().to_string()
            } else {
                format!("{} ({})", c.compressed_label(), c.compressed_knobs())
            },
            bytes(r.param_bytes),
            bytes(r.optimizer_bytes),
            compression,
            r.samples,
            auc,
            delta,
            latency,
            cell(&status_word(r))
        );
    }
    let _ = writeln!(s);
}

fn sweep_section(state: &AppState, s: &mut String) {
    let Some(sw) = &state.sweep else {
        return;
    };
    let _ = writeln!(s, "## Loaded sweep\n");
    let ok = sw.points.iter().filter(|p| p.ok()).count();
    let _ = writeln!(
        s,
        "{} ({}): {} points, {} ok; its points are in {PARETO_SVG} next to this session's runs (its own summary.md has the full table).{}\n",
        sw.dir.display(),
        sw.budget,
        sw.points.len(),
        ok,
        match &sw.baseline {
            Some(b) => format!(
                " Its baseline: {}, tables {}, AUC {}.",
                b.representation,
                bytes(b.table_bytes),
                opt(b.auc, 4)
            ),
            None => String::new(),
        }
    );
}

/// The state as the report compares it: this session's runs, ΔAUC, at the Pareto view's
/// checkpoint.
fn session_view(state: &AppState) -> AppState {
    let mut session = state.clone();
    session.sweep = None;
    session.pareto_source = crate::app::state::ParetoSource::Session;
    session.pareto_metric = Metric::DeltaAuc;
    session
}

fn pareto_plot(state: &AppState) -> String {
    // The session's runs at one checkpoint (the Pareto view's), never mixed with a sweep's
    // points trained to another budget: the sweep folder has its own report.
    let session = session_view(state);
    let at = pareto::checkpoint(&session);
    let baseline = PointRecord {
        key: "baseline".into(),
        representation: state
            .baseline
            .as_ref()
            .map_or("baseline".into(), |b| b.representation.clone()),
        table_bytes: state.baseline.as_ref().map_or(0, |b| b.table_bytes_now()),
        auc: pareto::reference_auc(&session).map(|r| r.1),
        samples: at.unwrap_or(0),
        status: "ok".into(),
        ..PointRecord::default()
    };
    let points: Vec<PointRecord> = pareto::points(&session)
        .into_iter()
        .map(|p| PointRecord {
            key: p.label.clone(),
            // The method's name (Bloom when kw = 0), as the sweep report names its points.
            representation: match p.id {
                PointId::Run(g) => state
                    .runs
                    .iter()
                    .find(|r| r.generation == g)
                    .map_or_else(|| p.label.clone(), |r| r.cfg.compressed_kind().into()),
                _ => p.label.clone(),
            },
            status: match p.off_front {
                Some("cancelled") => RunStatus::Cancelled,
                Some(why) => RunStatus::Failed(why.into()),
                None => RunStatus::Ok,
            },
            samples: at.unwrap_or(0),
            table_bytes: p.bytes,
            auc: p.auc,
            delta_auc: Some(p.value),
            delta_lo: p.interval.map(|i| i.0),
            delta_hi: p.interval.map(|i| i.1),
            ..PointRecord::default()
        })
        .collect();
    let budget = match at {
        Some(c) => format!(
            "this session's runs at {} samples seen (each run's ΔAUC there)",
            crate::util::units::fmt_count(c)
        ),
        None => "this session's runs: none has an evaluation the baseline has too".into(),
    };
    let data_label = state
        .data
        .as_ref()
        .map_or_else(|| state.running.data_label(), |d| d.label.clone());
    pareto_svg(
        &ReportInput {
            title: &state.cfg.name,
            budget: &budget,
            data_label: &data_label,
            axes: &[],
            baseline: &baseline,
            points: &points,
        },
        &SvgText {
            heading: "Explorer: ΔAUC against table bytes",
            point: "run / point",
        },
    )
}

/// Dash patterns of the MEM-REC curves, so they differ without colour.
const DASHES: [&str; 5] = ["6,3", "2,3", "8,3,2,3", "12,4", "1,2"];
const COLOURS: [&str; 5] = ["#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

/// The AUC chart of the session (also each step of a lesson handout).
pub(crate) fn auc_svg(state: &AppState) -> String {
    let base: &[(f64, f64)] = state.baseline.as_ref().map_or(&[], |b| state.curve_of(b));
    let oracle = if state.data.as_ref().is_some_and(|d| d.synthetic) {
        state
            .baseline
            .as_ref()
            .and_then(|b| b.last_eval.as_ref())
            .and_then(|e| e.oracle_auc)
    } else {
        None
    };
    // (label, curve) of every MEM-REC run with at least one evaluation.
    let runs: Vec<(String, &[(f64, f64)])> = state
        .runs
        .iter()
        .filter(|r| !state.tried_curve(r).is_empty())
        .map(|r| {
            (
                format!("#{} {}", r.generation, pareto::run_name(&r.cfg)),
                state.tried_curve(r),
            )
        })
        .collect();
    let data_label = state
        .data
        .as_ref()
        .map_or_else(|| state.running.data_label(), |d| d.label.clone());
    let margins = Margins {
        left: 80.0,
        right: 350.0,
        top: 60.0,
        bottom: 60.0,
    };
    let mut c = Chart::new(
        980.0,
        520.0,
        margins,
        &format!("Test AUC over samples seen ({})", state.cfg.name),
        &data_label,
        42.0,
    );
    let all = base.iter().chain(runs.iter().flat_map(|(_, c)| c.iter()));
    let x_max = all.clone().map(|p| p.0).fold(0.0, f64::max);
    if x_max <= 0.0 {
        return c.empty("no evaluation yet");
    }
    let (mut y0, mut y1) = all
        .map(|p| p.1)
        .chain(oracle)
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if y1 - y0 < 1e-3 {
        y0 -= 0.005;
        y1 += 0.005;
    }
    let pad = (y1 - y0) * 0.06;
    c.plot((0.0, x_max), (y0 - pad, y1 + pad));
    c.x_ticks_linear(nice_step(x_max, 6.0), crate::ui::fmt_count);
    c.y_ticks(nice_step(y1 - y0 + 2.0 * pad, 8.0), false, |v| {
        format!("{v:.3}")
    });
    c.axis_titles("training samples seen", 18.0, "test AUC", 20.0);
    // Legend entries: (label, stroke, dash).
    let mut legend: Vec<(String, &str, &str)> = Vec::new();
    if let Some(o) = oracle {
        c.hline(o, "#555", "2,6");
        legend.push((format!("oracle AUC {o:.4}"), "#555", "2,6"));
    }
    if !base.is_empty() {
        c.polyline(base, "#1f77b4", 2.0, "");
        for &p in base {
            let dot = Marker {
                fill: "#1f77b4",
                stroke: "",
            };
            c.marker(p, 3.0, dot, None);
        }
        legend.push((baseline_name(state), "#1f77b4", ""));
    }
    for (i, (label, curve)) in runs.iter().enumerate() {
        let (dash, colour) = (DASHES[i % DASHES.len()], COLOURS[i % COLOURS.len()]);
        c.polyline(curve, colour, 1.5, dash);
        legend.push((label.clone(), colour, dash));
    }
    let (_, t, r, _) = c.area();
    for (i, (label, stroke, dash)) in legend.iter().enumerate() {
        let y = t + 10.0 + i as f64 * 18.0;
        c.legend(r + 12.0, y, Legend::Line(stroke, dash), label);
    }
    c.finish()
}

/// The baseline's legend entry, naming its representation as the run reported it (e.g.
/// `baseline (hashing)`), or as the running configuration says before it started.
fn baseline_name(state: &AppState) -> String {
    let kind = state.baseline.as_ref().map_or_else(
        || crate::ui::baseline_label(state).to_string(),
        |b| b.representation.clone(),
    );
    format!("baseline ({kind})")
}

/// A MEM-REC knob's cell: its value, or `-` when the run uses another method.
fn memrec_knob(c: &Config, v: usize) -> String {
    if c.memrec.method == Method::Memrec {
        v.to_string()
    } else {
        "-".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::state::TriedStatus;

    #[test]
    fn a_bloom_run_is_named_bloom_in_the_report() {
        let mut cfg = Config::from_preset("tiny").unwrap();
        cfg.memrec.kw = 0;
        let mut state = AppState::new(cfg.clone());
        state.runs.push(TriedRun {
            generation: 1,
            cfg,
            param_bytes: 4096,
            optimizer_bytes: 1024,
            samples: 1000,
            auc: Some(0.7),
            delta: None,
            eval: None,
            status: TriedStatus::Running,
        });
        state
            .curves
            .push(crate::train::protocol::RunKind::Compressed, 1, 1000.0, 0.7);
        assert_eq!(state.runs[0].cfg.compressed_kind(), "bloom-bundled");
        let files = render(&state);
        let md = &files[0].1;
        let row = md.lines().find(|l| l.contains("| #1 |")).unwrap();
        assert!(row.contains("| Bloom |"), "{row}");
        assert!(!row.contains("MEM-REC"), "{row}");
        assert!(
            files[1].1.contains("#1 Bloom K2"),
            "the AUC legend names it Bloom"
        );
        assert!(!files[1].1.contains("MEM-REC #1"));
    }
}
