//! The Latency panel: the fused MEM-REC kernel against the uncompressed gather at full size,
//! ns per looked-up token at p50 and p99, and the speedup; marked while a re-measurement runs.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Theme, fmt_ns, fmt_ratio, focused, panel};
use crate::app::state::{AppState, Focus, LatencyKey, LatencyView};
use crate::train::protocol::LatencyReport;

pub fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme, compact: bool) {
    let measuring =
        !state.latency_requests.is_empty() || state.latency_stale || state.first_latency_due;
    // The shown report is for other knobs than those in force until the new one arrives.
    let stale = match &state.latency {
        LatencyView::Ready(_) => state
            .latency_by_key
            .iter()
            .all(|(k, _)| *k != LatencyKey::of(&state.cfg)),
        _ => false,
    };
    let first = state.latency == LatencyView::Waiting;
    let title = match (measuring, compact) {
        (true, _) if first => "Latency · measuring…",
        (false, _) if first => "Latency",
        (true, _) => "Latency · re-measuring…",
        (false, true) => "Latency ns/token",
        (false, false) => "Latency (ns per looked-up token)",
    };
    let block = panel(title, focused(state, Focus::Latency), theme);
    let lines: Vec<Line> = match &state.latency {
        LatencyView::Waiting if !measuring => vec![Line::styled(
            "not measured in this session (`memrec-tui bench` measures it)",
            theme.muted,
        )],
        LatencyView::Waiting => vec![Line::styled(
            if state.first_latency_due {
                "measured after the first evaluation (training pauses briefly)"
            } else {
                "measuring the kernels… (training pauses briefly)"
            },
            theme.muted,
        )],
        LatencyView::Failed(msg) => vec![
            Line::styled("measurement failed:", theme.bad),
            Line::raw(msg.clone()),
        ],
        LatencyView::Ready(r) if compact => {
            return frame.render_widget(
                Paragraph::new(compact_lines(state, r, theme)).block(block),
                area,
            );
        }
        LatencyView::Ready(r) => full_lines(state, r, theme, stale && !measuring),
    };
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
        area,
    );
}

/// The Ready report in a short panel: one line per side and the speedup.
fn compact_lines<'a>(state: &AppState, r: &LatencyReport, theme: &Theme) -> Vec<Line<'a>> {
    let row = |label: &str, p50: f64, p99: f64, style| {
        Line::from(vec![
            Span::styled(format!("{label:<8}"), style),
            Span::styled(format!("{:>8}", fmt_ns(p50)), theme.value),
            Span::styled(format!(" p99 {}", fmt_ns(p99)), theme.muted),
        ])
    };
    vec![
        row(
            super::compressed_label(state),
            r.compressed_ns_per_token,
            r.compressed_p99_ns,
            theme.compressed,
        ),
        row("uncomp", r.full_ns_per_token, r.full_p99_ns, theme.baseline),
        Line::from(vec![
            Span::styled(format!("{:<8}", "speedup"), theme.label),
            Span::styled(
                format!("{:>8}", fmt_ratio(r.speedup)),
                if r.speedup >= 1.0 {
                    theme.good
                } else {
                    theme.bad
                },
            ),
            Span::styled(" p50", theme.muted),
        ]),
    ]
}

/// The Ready report in full: p50 and p99 per side, the speedup, and how it was measured.
fn full_lines<'a>(
    state: &AppState,
    r: &LatencyReport,
    theme: &Theme,
    stale: bool,
) -> Vec<Line<'a>> {
    let row = |label: &str, p50: f64, p99: f64, style| {
        Line::from(vec![
            Span::styled(format!("{label:<13}"), style),
            Span::styled(format!("{:>9}", fmt_ns(p50)), theme.value),
            Span::styled(format!(" {:>9}", fmt_ns(p99)), theme.value),
        ])
    };
    let mut v = vec![
        Line::from(Span::styled(
            format!("{:<13}{:>9} {:>9}", "per token", "p50", "p99"),
            theme.muted,
        )),
        row(
            if state.running.memrec.method == crate::config::Method::Memrec {
                "MEM-REC fused"
            } else {
                super::compressed_label(state)
            },
            r.compressed_ns_per_token,
            r.compressed_p99_ns,
            theme.compressed,
        ),
        row(
            "uncompressed",
            r.full_ns_per_token,
            r.full_p99_ns,
            theme.baseline,
        ),
        Line::from(vec![
            Span::styled(format!("{:<13}", "speedup"), theme.label),
            Span::styled(
                format!("{:>9}", fmt_ratio(r.speedup)),
                if r.speedup >= 1.0 {
                    theme.good
                } else {
                    theme.bad
                },
            ),
            Span::styled(" (p50)", theme.muted),
        ]),
    ];
    {
        v.push(Line::styled(
            if r.full_measured_at_full_size {
                "gather over full-size tables".to_string()
            } else {
                "gather on a smaller table (full size did not fit)".to_string()
            },
            theme.muted,
        ));
        v.push(Line::styled(
            format!(
                "threads {} · batch {} · {} timed batches",
                r.threads, r.batch, r.batches
            ),
            theme.muted,
        ));
    }
    if stale {
        v.push(Line::styled("for earlier knobs", theme.pending));
    }
    v
}
