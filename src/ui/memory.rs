//! The Memory panel: MEM-REC's tables as allocated (from `RunStarted`), the uncompressed tables
//! at the full dataset's size and over the vocabulary loaded so far, the compression ratios, and
//! the cache level each side fits in (from the latency measurement).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, fmt_bytes, fmt_ratio, focused, panel};
use crate::app::state::{AppState, Focus, LatencyView};

pub fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme, compact: bool) {
    let block = panel(title(state, compact), focused(state, Focus::Memory), theme);
    let Some(m) = state.compressed.as_ref().filter(|m| !m.tables.is_empty()) else {
        let p = Paragraph::new(Line::styled(
            format!("waiting for the {} run…", super::compressed_label(state)),
            theme.muted,
        ));
        frame.render_widget(p.block(block), area);
        return;
    };
    let param = m.param_bytes();
    let opt = m.optimizer_bytes();
    let full = state.running.full_uncompressed_bytes();
    let loaded = state
        .baseline
        .as_ref()
        .and_then(|b| b.progress.as_ref())
        .map(|p| p.loaded_uncompressed_bytes);
    let ratio = |x: u64| {
        if param == 0 {
            "-".to_string()
        } else {
            fmt_ratio(x as f64 / param as f64)
        }
    };
    let label_w = if compact { 12 } else { 20 };
    let row = |label: String, value: String, extra: String| {
        Line::from(vec![
            Span::styled(format!("{label:<label_w$}"), theme.label),
            Span::styled(format!("{value:>10}"), theme.value),
            Span::styled(format!(" {extra:>7}"), theme.compressed),
        ])
    };
    let fits = fits_of(state);
    let mut lines = Vec::new();
    if compact {
        lines.push(row(
            super::compressed_label(state).into(),
            fmt_bytes(param + opt),
            String::new(),
        ));
        lines.push(row("full uncomp".into(), fmt_bytes(full), ratio(full)));
        lines.push(row(
            "loaded vocab".into(),
            loaded.map_or("…".into(), fmt_bytes),
            loaded.map_or(String::new(), ratio),
        ));
        lines.push(Line::from(vec![
            Span::styled("fits: ", theme.label),
            Span::styled(
                match &state.latency {
                    LatencyView::Ready(_) => format!(
                        "{} {}, full {}",
                        super::compressed_label(state),
                        fits.0,
                        fits.1
                    ),
                    _ => fits.0,
                },
                theme.value,
            ),
        ]));
    } else {
        for (label, bytes) in table_rows(m, param) {
            lines.push(row(label, fmt_bytes(bytes), String::new()));
        }
        lines.push(row("optimizer state".into(), fmt_bytes(opt), String::new()));
        lines.push(row(
            format!("{} total", super::compressed_label(state)),
            fmt_bytes(param + opt),
            String::new(),
        ));
        lines.push(row(
            "uncompressed, full".into(),
            fmt_bytes(full),
            ratio(full),
        ));
        lines.push(row(
            "uncompressed, loaded".into(),
            loaded.map_or("…".into(), fmt_bytes),
            loaded.map_or(String::new(), ratio),
        ));
        lines.push(match &state.latency {
            LatencyView::Ready(_) => Line::from(vec![
                Span::styled("fits in  ", theme.label),
                Span::styled(
                    format!("{} {}", super::compressed_label(state), fits.0),
                    theme.compressed,
                ),
                Span::styled(" · ", theme.muted),
                Span::styled(format!("full {}", fits.1), theme.baseline),
            ]),
            _ => Line::from(vec![
                Span::styled("fits in  ", theme.label),
                Span::styled(fits.0, theme.muted),
            ]),
        });
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// One line per table, or one for all of them when there are more than two (hashing and QR
/// have one table per feature: 26 or more), so the totals always show.
fn table_rows(m: &crate::app::state::RunView, param: u64) -> Vec<(String, u64)> {
    if m.tables.len() > 2 {
        let (lo, hi) = m.tables.iter().fold((u64::MAX, 0), |(lo, hi), t| {
            (lo.min(t.rows), hi.max(t.rows))
        });
        let cols = m.tables.first().map_or(0, |t| t.cols);
        return vec![(format!("{} tables {lo}-{hi}x{cols}", m.tables.len()), param)];
    }
    m.tables
        .iter()
        .map(|t| {
            let name = t.name.strip_prefix("memrec.").unwrap_or(&t.name);
            (format!("{name} {}x{}", t.rows, t.cols), t.param_bytes)
        })
        .collect()
}

/// The panel's title: what the ratio divides by, when there is room to say it.
fn title(state: &AppState, compact: bool) -> String {
    if compact {
        "Memory".to_string()
    } else {
        format!(
            "Memory (ratio = uncompressed / {})",
            super::compressed_label(state)
        )
    }
}

/// The cache level each side fits in, from the latency report (or why it is not known yet).
fn fits_of(state: &AppState) -> (String, String) {
    match &state.latency {
        LatencyView::Ready(r) => (r.compressed_fits.clone(), r.full_fits.clone()),
        LatencyView::Waiting if state.latency_requests.is_empty() && !state.first_latency_due => {
            ("not measured".into(), "not measured".into())
        }
        LatencyView::Waiting => ("measuring…".into(), "measuring…".into()),
        LatencyView::Failed(_) => ("unknown".into(), "unknown".into()),
    }
}
