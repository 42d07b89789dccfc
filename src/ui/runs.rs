//! The Runs panel: every MEM-REC configuration tried this session with its memory, last ΔAUC and
//! measured latency; the pinned run and the comparison against it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::{Theme, fmt_bytes, fmt_ns, fmt_ratio, focused, panel};
use crate::app::pareto::{knob_summary, knobs_that_differ};
use crate::app::state::{AppState, Focus, TriedStatus};

fn title(state: &AppState) -> String {
    let cur = state.runs.last();
    match (state.pinned_run(), cur) {
        (Some(p), Some(c)) if p.generation != c.generation => {
            let dd = match (c.delta, p.delta) {
                (Some(a), Some(b)) => format!("{:+.4}", a.delta - b.delta),
                _ => "…".into(),
            };
            let mem = if p.param_bytes > 0 {
                fmt_ratio(c.param_bytes as f64 / p.param_bytes as f64)
            } else {
                "-".into()
            };
            format!(
                "Runs · #{} vs pinned #{}: ΔAUC {dd}, memory {mem}",
                c.generation, p.generation
            )
        }
        _ => "Runs · ΔAUC vs the baseline at equal samples · p pin · e export".into(),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme, compact: bool) {
    let is_focused = focused(state, Focus::Runs);
    let block = panel(title(state), is_focused, theme);
    if state.runs.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                format!("no {} run yet", super::compressed_label(state)),
                theme.muted,
            ))
            .block(block),
            area,
        );
        return;
    }
    let current = state.compressed.as_ref().map(|m| m.generation);
    let body: Vec<Row> = state
        .runs
        .iter()
        .map(|r| {
            // A pinned run shows its curve's marker; the running one ▸.
            let mark = match state.pin_marker(r.generation) {
                Some(c) => c.to_string(),
                None if Some(r.generation) == current => "▸".into(),
                None => " ".into(),
            };
            let delta = r.delta.map_or("…".to_string(), |d| {
                format!("{:+.4} ±{:.4}", d.delta, (d.hi - d.lo) / 2.0)
            });
            let lat = state
                .latency_for(&r.cfg)
                .map_or("…".to_string(), |l| fmt_ns(l.compressed_ns_per_token));
            let style = if state.pin_marker(r.generation).is_some() {
                theme.pinned
            } else if Some(r.generation) == current {
                theme.compressed
            } else {
                theme.value
            };
            let mut cells = vec![Cell::from(mark), Cell::from(format!("#{}", r.generation))];
            cells.push(Cell::from(if compact {
                knobs_that_differ(&state.runs, &r.cfg)
            } else {
                knob_summary(&r.cfg)
            }));
            cells.extend([
                Cell::from(fmt_bytes(r.param_bytes + r.optimizer_bytes)),
                Cell::from(delta),
            ]);
            if !compact {
                cells.push(Cell::from(lat));
                cells.push(Cell::from(match r.status {
                    // Seven columns: "finished" would be cut.
                    TriedStatus::Running => "live".to_string(),
                    TriedStatus::Ended(crate::train::protocol::RunStatus::Ok) => "done".to_string(),
                    ref s => s.to_string(),
                }));
            }
            Row::new(cells).style(style)
        })
        .collect();
    let mut header = vec!["", "run", "knobs"];
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(3),
        if compact {
            Constraint::Fill(1)
        } else {
            Constraint::Length(28)
        },
    ];
    // The tables and their optimizer state (the info overlay says so): more than the Pareto
    // view's table bytes.
    header.extend(["memory", "ΔAUC ±95%"]);
    widths.extend([Constraint::Length(8), Constraint::Length(15)]);
    if !compact {
        header.extend(["ns/token", "state"]);
        widths.extend([Constraint::Length(8), Constraint::Fill(1)]);
    }
    let table = Table::new(body, widths)
        .header(Row::new(
            header
                .into_iter()
                .map(|h| Cell::from(Span::styled(h, theme.label))),
        ))
        .block(block)
        .row_highlight_style(if is_focused {
            theme.selected
        } else {
            ratatui::style::Style::new()
        });
    let mut ts = TableState::default().with_selected(state.selected_run_index());
    frame.render_stateful_widget(table, area, &mut ts);
}
