//! The Pareto view (in the AUC panel's place, `v`): AUC or ΔAUC against table bytes on a log
//! scale, at one checkpoint (`,`/`.`), for the compressed runs of this session or the points of a
//! loaded sweep (`w`), never both; the baseline at that checkpoint is a dashed reference line. The
//! front is drawn as `*` joined by a line, and named in the legend and in the selected point's
//! line, so it reads without colour.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Wrap};

use super::{Theme, focused, panel};
use crate::app::pareto::{self, ParetoPoint, PointId};
use crate::app::state::{AppState, Focus, Metric, ParetoSource};
use crate::util::units::{ByteAxis, fmt_bytes, fmt_count};

/// Markers by kind; the legend line spells them out.
const FRONT: char = '*';
const RUN: char = 'o';
const SWEEP: char = 'x';
const SELECTED: char = '@';
/// The baseline's reference line.
const REFERENCE: char = '-';

fn marker(p: &ParetoPoint) -> char {
    match p.id {
        _ if p.front => FRONT,
        PointId::Sweep(_) => SWEEP,
        _ => RUN,
    }
}

fn fmt_value(metric: Metric, v: f64) -> String {
    match metric {
        Metric::Auc => format!("{v:.4}"),
        Metric::DeltaAuc => format!("{v:+.4}"),
    }
}

/// `ΔAUC -0.0016 [-0.0037, +0.0005]`.
fn value_text(metric: Metric, p: &ParetoPoint) -> String {
    let mut s = format!("{} {}", metric.label(), fmt_value(metric, p.value));
    if let Some((lo, hi)) = p.interval {
        s.push_str(&format!(
            " [{}, {}]",
            fmt_value(metric, lo),
            fmt_value(metric, hi)
        ));
    }
    s
}

pub fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let metric = state.pareto_metric;
    let is_focused = focused(state, Focus::Pareto);
    let at = pareto::checkpoint(state).map_or("no checkpoint yet".to_string(), |c| {
        format!("at {} samples", fmt_count(c))
    });
    let source = match (state.pareto_source, &state.sweep) {
        (ParetoSource::Sweep, Some(_)) => "sweep points",
        _ => "session runs",
    };
    let block = panel(
        format!(
            "Pareto {}{} · {source} {at}",
            metric.label(),
            if area.width < 90 {
                ""
            } else {
                " vs table bytes"
            },
        ),
        is_focused,
        theme,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.is_empty() {
        return;
    }
    let points = pareto::points(state);
    let selected = pareto::selected_index(state, &points);
    let [legend_area, chart_area, detail_area] = inner.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(3),
    ]));
    // Narrow panels get the short words, so every marker stays explained.
    let narrow = inner.width < 70;
    let word = |long: &'static str, short: &'static str| if narrow { short } else { long };
    let gap = word("  ", " ");
    let reference = pareto::reference(state);
    let point_word = match (state.pareto_source, &state.sweep) {
        (ParetoSource::Sweep, Some(_)) => (SWEEP, "sweep point"),
        _ => (RUN, "run"),
    };
    let mut legend = vec![
        Span::styled(
            format!("{FRONT} {}", word("Pareto front", "front")),
            theme.good,
        ),
        Span::styled(
            format!("{gap}{} {}", point_word.0, point_word.1),
            theme.compressed,
        ),
    ];
    if reference.is_some() {
        legend.push(Span::styled(
            format!(
                "{gap}{REFERENCE}{REFERENCE} {}",
                word("baseline (reference)", "base")
            ),
            theme.baseline,
        ));
    }
    legend.push(Span::styled(
        format!("{gap}{SELECTED} {}", word("selected", "sel")),
        theme.pinned,
    ));
    frame.render_widget(Paragraph::new(Line::from(legend)), legend_area);
    if points.is_empty() {
        let lines = vec![
            Line::raw(""),
            Line::styled("no point yet", theme.title),
            Line::styled(
                "a run becomes a point at its first evaluation the baseline has too (the same samples seen); o opens a sweep directory",
                theme.muted,
            ),
        ];
        frame.render_widget(
            Paragraph::new(lines)
                .alignment(ratatui::layout::Alignment::Center)
                .wrap(Wrap { trim: true }),
            chart_area,
        );
        return;
    }
    let view = View {
        state,
        points: &points,
        selected,
        theme,
        reference,
    };
    draw_chart(frame, chart_area, &view);
    draw_detail(frame, detail_area, &view);
}

/// What both parts of the view draw from.
struct View<'a> {
    state: &'a AppState,
    points: &'a [ParetoPoint],
    selected: Option<usize>,
    theme: &'a Theme,
    /// The baseline at the checkpoint: name and value.
    reference: Option<(String, f64)>,
}

fn draw_chart(frame: &mut Frame, area: Rect, v: &View) {
    let (state, points, selected, theme) = (v.state, v.points, v.selected, v.theme);
    let metric = state.pareto_metric;
    let xy = |p: &ParetoPoint| (ByteAxis::pos(p.bytes), p.value);
    // Labelled powers of two, as many as fit (a label is at most 8 columns and a space); the
    // chart spaces labels evenly, as the ticks are.
    let axis = ByteAxis::new(
        points.iter().map(|p| p.bytes).min().unwrap_or(1),
        points.iter().map(|p| p.bytes).max().unwrap_or(1),
        (area.width as usize / 10).max(2),
    );
    let (x0, x1) = (axis.lo as f64, axis.hi as f64);
    let (mut y0, mut y1) = points
        .iter()
        .map(|p| p.value)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if let Some((_, r)) = &v.reference {
        (y0, y1) = (y0.min(*r), y1.max(*r));
    }
    let pad = ((y1 - y0) * 0.1).max(0.002);
    y0 -= pad;
    y1 += pad;
    // Datasets: the front's line under everything, then each kind, the selection on top.
    let front_line: Vec<(f64, f64)> = points.iter().filter(|p| p.front).map(xy).collect();
    let of_kind =
        |m: char| -> Vec<(f64, f64)> { points.iter().filter(|p| marker(p) == m).map(xy).collect() };
    let kinds = [
        (RUN, of_kind(RUN), theme.compressed),
        (SWEEP, of_kind(SWEEP), theme.compressed),
        (FRONT, of_kind(FRONT), theme.good),
    ];
    // The reference as dashes across the chart: a line of markers every few columns.
    let reference: Vec<(f64, f64)> = v.reference.as_ref().map_or_else(Vec::new, |(_, r)| {
        let n = (area.width as usize / 3).max(2);
        (0..n)
            .map(|i| (x0 + (x1 - x0) * i as f64 / (n - 1) as f64, *r))
            .collect()
    });
    let sel: Vec<(f64, f64)> = selected.map(|i| xy(&points[i])).into_iter().collect();
    let mut datasets = Vec::new();
    if !reference.is_empty() {
        datasets.push(
            Dataset::default()
                .marker(Marker::Custom(REFERENCE))
                .graph_type(GraphType::Scatter)
                .style(theme.baseline)
                .data(&reference),
        );
    }
    if front_line.len() > 1 {
        datasets.push(
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.good)
                .data(&front_line),
        );
    }
    for (m, data, style) in &kinds {
        if !data.is_empty() {
            datasets.push(
                Dataset::default()
                    .marker(Marker::Custom(*m))
                    .graph_type(GraphType::Scatter)
                    .style(*style)
                    .data(data),
            );
        }
    }
    if state.focus == Focus::Pareto {
        datasets.push(
            Dataset::default()
                .marker(Marker::Custom(SELECTED))
                .graph_type(GraphType::Scatter)
                .style(theme.pinned)
                .data(&sel),
        );
    }
    let x_labels: Vec<Span> = axis
        .ticks()
        .map(|e| Span::raw(ByteAxis::label(e)))
        .collect();
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .title(Span::styled("table bytes", theme.muted))
                .bounds([x0, x1])
                .labels(x_labels)
                .style(theme.muted),
        )
        .y_axis(
            Axis::default()
                .title(Span::styled(metric.label(), theme.muted))
                .bounds([y0, y1])
                .labels([
                    Span::raw(fmt_value(metric, y0)),
                    Span::raw(fmt_value(metric, (y0 + y1) / 2.0)),
                    Span::raw(fmt_value(metric, y1)),
                ])
                .style(theme.muted),
        )
        .legend_position(None);
    frame.render_widget(chart, area);
}

fn draw_detail(frame: &mut Frame, area: Rect, v: &View) {
    let (state, points, selected, theme) = (v.state, v.points, v.selected, v.theme);
    let metric = state.pareto_metric;
    let front = points.iter().filter(|p| p.front).count();
    let mut lines = Vec::new();
    if let Some(p) = selected.map(|i| &points[i]) {
        // The numbers first: a narrow panel wraps the label onto the next line.
        let first = vec![
            Span::styled(format!("{SELECTED} "), theme.pinned),
            Span::styled(
                format!("{} · {} · ", value_text(metric, p), fmt_bytes(p.bytes)),
                theme.value,
            ),
            if p.front {
                Span::styled(format!("on the front ({FRONT})"), theme.good)
            } else if let Some(why) = p.off_front {
                Span::styled(format!("{why}: not on the front"), theme.bad)
            } else {
                Span::styled("dominated", theme.muted)
            },
            Span::styled(format!(" · {}", p.label), theme.value),
        ];
        lines.push(Line::from(first));
    }
    let missing = pareto::not_at_checkpoint(state);
    let mut what = match (&state.sweep, state.pareto_source) {
        (Some(sw), ParetoSource::Sweep) => format!(
            "{} points, {front} on the front · sweep {} ({}) · w session runs",
            points.len(),
            sw.dir.display(),
            sw.budget
        ),
        (Some(_), ParetoSource::Session) => format!(
            "{} runs, {front} on the front · w the loaded sweep",
            points.len()
        ),
        (None, _) => format!(
            "{} runs, {front} on the front · o opens a sweep directory",
            points.len()
        ),
    };
    if let Some((name, value)) = &v.reference {
        what.push_str(&format!(" · {name} {}", fmt_value(metric, *value)));
    }
    if !missing.is_empty() {
        what.push_str(&format!(
            " · not at this checkpoint: {} (, . move it)",
            missing.join(", ")
        ));
    }
    let hint = if state.focus == Focus::Pareto {
        "↑↓ select · Enter load · , . checkpoint · "
    } else {
        "Tab to focus · "
    };
    lines.push(Line::from(vec![
        Span::styled(hint, theme.key),
        Span::styled(what, theme.muted),
    ]));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}
