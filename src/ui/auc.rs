//! The AUC panel: test AUC over samples seen for the baseline, the running compressed run and
//! every pinned run (each with its own marker and its knobs in the legend),
//! the oracle line on synthetic data, ΔAUC with its 95% interval and the loglosses; a waiting
//! screen until the first evaluation.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Paragraph, Wrap};

use super::{Theme, fmt_count, focused, panel};
use crate::app::pareto::knobs_that_differ;
use crate::app::state::{AppState, Focus, TriedRun};

/// A pinned run drawn on the chart: its marker, the run, its curve.
type PinnedCurve<'a> = (char, &'a TriedRun, &'a [(f64, f64)]);

pub fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let block = panel(
        "Test AUC vs samples seen",
        focused(state, Focus::Auc),
        theme,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.is_empty() {
        return;
    }
    let base = state.baseline.as_ref();
    let mem = state.compressed.as_ref();
    let base_curve: &[(f64, f64)] = base.map_or(&[], |b| state.curve_of(b));
    let mem_curve: &[(f64, f64)] = mem.map_or(&[], |m| state.curve_of(m));
    // A short chart has no room for a legend box: the legend becomes a text line.
    let text_legend = inner.height < 16;
    let lead = lead_line(state, theme, inner.width < 70);
    let [summary, chart_area] = inner.layout(&Layout::vertical([
        Constraint::Length(2 + text_legend as u16 + lead.len() as u16),
        Constraint::Fill(1),
    ]));
    let mut lines = summary_lines(state, theme, inner.width < 70);
    lines.extend(lead);
    if text_legend {
        lines.push(text_legend_line(state, theme, inner.width));
    }
    frame.render_widget(Paragraph::new(lines), summary);
    if base_curve.is_empty() && mem_curve.is_empty() {
        draw_waiting(frame, chart_area, state, theme);
        return;
    }
    // The running generation is drawn as the running run, once.
    let pinned: Vec<PinnedCurve> = state
        .pinned_runs()
        .into_iter()
        .filter(|(_, p)| mem.is_none_or(|m| m.generation != p.generation))
        .map(|(c, p)| (c, p, state.tried_curve(p)))
        .collect();
    let oracle = if state.data.as_ref().is_some_and(|d| d.synthetic) {
        [base, mem]
            .into_iter()
            .flatten()
            .filter_map(|r| r.last_eval.as_ref())
            .find_map(|e| e.oracle_auc)
    } else {
        None
    };

    let all = base_curve
        .iter()
        .chain(mem_curve)
        .chain(pinned.iter().flat_map(|p| p.2.iter()));
    let x_max = all.clone().map(|p| p.0).fold(0.0, f64::max).max(1.0);
    let (mut y_lo, mut y_hi) = all
        .map(|p| p.1)
        .chain(oracle)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
    let pad = ((y_hi - y_lo) * 0.1).max(0.005);
    y_lo = ((y_lo - pad) * 200.0).floor() / 200.0;
    y_hi = ((y_hi + pad) * 200.0).ceil() / 200.0;
    let oracle_line: Vec<(f64, f64)> = oracle.map_or(Vec::new(), |o| vec![(0.0, o), (x_max, o)]);

    let mut datasets = Vec::new();
    if let Some(o) = oracle {
        datasets.push(
            Dataset::default()
                .name(format!("- oracle {o:.4}"))
                .marker(Marker::Custom('-'))
                .graph_type(GraphType::Line)
                .style(theme.oracle)
                .data(&oracle_line),
        );
    }
    for &(c, p, curve) in &pinned {
        datasets.push(
            Dataset::default()
                .name(pin_name(state, c, p))
                .marker(Marker::Custom(c))
                .graph_type(GraphType::Line)
                .style(theme.pinned)
                .data(curve),
        );
    }
    datasets.push(
        Dataset::default()
            .name(format!("⣀ baseline ({})", super::baseline_label(state)))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.baseline)
            .data(base_curve),
    );
    datasets.push(
        Dataset::default()
            .name(format!(
                "• {} #{}",
                super::compressed_label(state),
                mem.map_or(0, |m| m.generation)
            ))
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .style(theme.compressed)
            .data(mem_curve),
    );
    let (x_axis, y_axis) = axes(x_max, (y_lo, y_hi), theme);
    let chart = Chart::new(datasets)
        .x_axis(x_axis)
        .y_axis(y_axis)
        .legend_position(if text_legend {
            None
        } else {
            Some(LegendPosition::BottomRight)
        })
        .hidden_legend_constraints((Constraint::Percentage(70), Constraint::Percentage(60)));
    frame.render_widget(chart, chart_area);
}

/// A pinned run's legend entry: its marker, run, method and the knobs that tell it from the
/// other runs tried (all its knobs when nothing differs), short enough for the legend box.
fn pin_name(state: &AppState, marker: char, p: &TriedRun) -> String {
    let knobs = knobs_that_differ(&state.runs, &p.cfg);
    let knobs = knobs.strip_prefix("Bloom ").unwrap_or(&knobs);
    format!(
        "{marker} #{} {} {knobs}",
        p.generation,
        p.cfg.compressed_label()
    )
}

/// The legend as one line of text, for a chart too short for a legend box.
/// Where it would not fit in `width`, the baseline's kind is left out (the summary names it).
fn text_legend_line<'a>(state: &AppState, theme: &Theme, width: u16) -> Line<'a> {
    let full = text_legend_spans(state, theme, true);
    let spans = if full.iter().map(|s| s.width()).sum::<usize>() > width as usize {
        text_legend_spans(state, theme, false)
    } else {
        full
    };
    Line::from(spans)
}

fn text_legend_spans<'a>(state: &AppState, theme: &Theme, kind: bool) -> Vec<Span<'a>> {
    vec![
        Span::styled(
            if kind {
                format!("⣀ baseline ({})", super::baseline_label(state))
            } else {
                "⣀ baseline".to_string()
            },
            theme.baseline,
        ),
        Span::styled(
            format!("  • {}", super::compressed_label(state)),
            theme.compressed,
        ),
        Span::styled(
            state
                .pinned_runs()
                .iter()
                .filter(|(_, p)| {
                    Some(p.generation) != state.compressed.as_ref().map(|m| m.generation)
                })
                .map(|(c, p)| format!("  {c} #{}", p.generation))
                .collect::<String>(),
            theme.pinned,
        ),
        Span::styled(
            if state.data.as_ref().is_some_and(|d| d.synthetic) {
                "  - oracle"
            } else {
                ""
            },
            theme.oracle,
        ),
    ]
}

/// The samples axis from 0 to `x_max` and the AUC axis over `y`.
fn axes<'a>(x_max: f64, (y_lo, y_hi): (f64, f64), theme: &Theme) -> (Axis<'a>, Axis<'a>) {
    (
        Axis::default()
            .title(Span::styled("samples", theme.muted))
            .bounds([0.0, x_max])
            .labels([
                Span::raw("0"),
                Span::raw(fmt_count(x_max / 2.0)),
                Span::raw(fmt_count(x_max)),
            ])
            .style(theme.muted),
        Axis::default()
            .title(Span::styled("AUC", theme.muted))
            .bounds([y_lo, y_hi])
            .labels([
                Span::raw(format!("{y_lo:.3}")),
                Span::raw(format!("{:.3}", (y_lo + y_hi) / 2.0)),
                Span::raw(format!("{y_hi:.3}")),
            ])
            .style(theme.muted),
    )
}

fn summary_lines<'a>(state: &AppState, theme: &Theme, narrow: bool) -> Vec<Line<'a>> {
    let base = state.baseline.as_ref().and_then(|b| b.last_eval.as_ref());
    let mem = state.compressed.as_ref().and_then(|m| m.last_eval.as_ref());
    let mut first = vec![Span::styled(
        if narrow {
            "ΔAUC ".to_string()
        } else {
            format!("ΔAUC ({} − baseline) ", super::compressed_label(state))
        },
        theme.label,
    )];
    match mem.and_then(|m| m.delta_auc) {
        Some(d) => {
            let significant = d.lo > 0.0 || d.hi < 0.0;
            first.push(Span::styled(
                format!("{:+.4} [{:+.4}, {:+.4}] 95%", d.delta, d.lo, d.hi),
                if significant {
                    if d.delta < 0.0 { theme.bad } else { theme.good }
                } else {
                    theme.value
                },
            ));
            if !significant && !narrow {
                first.push(Span::styled(" (interval spans 0)", theme.muted));
            }
        }
        None => first.push(Span::styled("pending", theme.muted)),
    }
    let mut second = vec![Span::styled("logloss ", theme.label)];
    match (base, mem) {
        (None, None) => second.push(Span::styled("pending", theme.muted)),
        _ => {
            let f = |e: Option<&crate::train::protocol::EvalPoint>| {
                e.map_or("…".to_string(), |e| format!("{:.4}", e.logloss))
            };
            second.push(Span::styled(
                format!("{} baseline", f(base)),
                theme.baseline,
            ));
            second.push(Span::styled(" / ", theme.muted));
            second.push(Span::styled(
                format!("{} {}", f(mem), super::compressed_label(state)),
                theme.compressed,
            ));
            if let Some(m) = mem.filter(|_| !narrow) {
                second.push(Span::styled(
                    format!(" · AUC {:.4} {}", m.auc, super::compressed_label(state)),
                    theme.muted,
                ));
            }
        }
    }
    let failed = state.compressed.as_ref().and_then(|m| m.failed.as_ref());
    if let Some(msg) = state.engine_error.as_ref().or(failed) {
        second = vec![Span::styled(format!("stopped: {msg}"), theme.status_error)];
    }
    vec![Line::from(first), Line::from(second)]
}

/// While the compressed run leads the baseline, what the engine counted about both (never a
/// cause it did not measure): row updates per parameter row in each model, and the test rows
/// holding a value no training row so far held.
fn lead_line(state: &AppState, theme: &Theme, narrow: bool) -> Vec<Line<'static>> {
    lead_text(state, narrow)
        .into_iter()
        .map(|t| Line::styled(t, theme.muted))
        .collect()
}

fn lead_text(state: &AppState, narrow: bool) -> Vec<String> {
    let Some(mem) = state.compressed.as_ref() else {
        return Vec::new();
    };
    let delta = mem.last_eval.as_ref().and_then(|e| e.delta_auc);
    let base = state.baseline.as_ref().and_then(|b| b.exposure.as_ref());
    let (Some(m), Some(b), true) = (
        mem.exposure.as_ref(),
        base,
        delta.is_some_and(|d| d.delta > 0.0),
    ) else {
        return Vec::new();
    };
    let per_row =
        |e: &crate::train::protocol::Exposure| e.row_updates as f64 / e.rows.max(1) as f64;
    let (m, b) = (fmt_per_row(per_row(m)), fmt_per_row(per_row(b)));
    let label = super::compressed_label(state);
    match (narrow, b_share(state)) {
        (true, _) | (false, None) => vec![format!("updates per row: {m} {label}, {b} baseline")],
        (false, Some(share)) => vec![
            format!("it leads; updates per parameter row so far: {m} {label}, {b} baseline"),
            format!(
                "{:.0}% of test rows hold a value never trained on (i explains)",
                share * 100.0
            ),
        ],
    }
}

/// The baseline's share of test rows holding a value never trained on.
fn b_share(state: &AppState) -> Option<f64> {
    let e = state.baseline.as_ref()?.exposure.as_ref()?;
    e.test_rows_with_untrained_value
}

/// `312`, `2.14`, `0.031`: enough digits to compare.
fn fmt_per_row(x: f64) -> String {
    if x >= 100.0 {
        fmt_count(x)
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// Every run of this session has stopped on an error (and none evaluated): nothing will come.
fn every_run_failed(state: &AppState) -> bool {
    let runs = [state.baseline.as_ref(), state.compressed.as_ref()];
    runs.iter().any(Option::is_some) && runs.iter().flatten().all(|r| r.failed.is_some())
}

fn draw_waiting(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let cfg = &state.running;
    let mut lines = vec![Line::raw("")];
    match &state.data {
        _ if state.engine_error.is_some() => {
            lines.push(Line::styled("no evaluation: the engine stopped", theme.bad));
            lines.push(Line::styled(
                "see the message above; q quits, --headless shows the same error",
                theme.muted,
            ));
        }
        _ if every_run_failed(state) => {
            lines.push(Line::styled(
                "no evaluation: every run stopped before its first",
                theme.bad,
            ));
            lines.push(Line::styled(
                "the reason is above; change a knob to train again, r restarts every run, q quits",
                theme.muted,
            ));
        }
        None => {
            lines.push(Line::styled("opening the data…", theme.title));
            lines.push(Line::styled(cfg.data_label(), theme.muted));
        }
        Some(d) => {
            let first = crate::train::engine::first_eval_samples(cfg.eval.every_samples);
            lines.push(Line::styled(
                "waiting for the first evaluation…",
                theme.title,
            ));
            lines.push(Line::styled(
                format!(
                    "first test AUC after {} samples, on {} test rows",
                    fmt_count(first as f64),
                    fmt_count(d.test_rows as f64)
                ),
                theme.muted,
            ));
            let seen = state
                .baseline
                .as_ref()
                .and_then(|b| b.progress.as_ref())
                .map_or(0, |p| p.samples);
            let pct = (seen as f64 / first as f64 * 100.0).min(100.0);
            lines.push(Line::styled(
                format!(
                    "baseline has seen {} samples ({pct:.0}%)",
                    fmt_count(seen as f64)
                ),
                theme.muted,
            ));
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(ratatui::layout::Alignment::Center)
            .wrap(Wrap { trim: true }),
        area,
    );
}
