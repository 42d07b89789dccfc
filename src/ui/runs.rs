//! The Runs panel: every MEM-REC configuration tried this session with its memory, last ΔAUC and
//! measured latency; the pinned run and the comparison against it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::{Theme, fmt_bytes, fmt_ns, fmt_ratio, focused, panel};
use crate::app::pareto::{knob_summary, knobs_that_differ};
use crate::app::state::{AppState, Focus, TriedStatus};
use crate::train::protocol::{DeltaAuc, RunKind};
use crate::util::units::fmt_count;

/// The run's latest ΔAUC that is at equal samples (the engine pairs it with the baseline's
/// evaluation at exactly those samples), and those samples.
fn delta_at_equal_samples(state: &AppState, generation: u64) -> Option<(u64, DeltaAuc)> {
    let kind = RunKind::Compressed;
    state
        .curves
        .samples(kind, generation)
        .into_iter()
        .rev()
        .find_map(|s| Some((s, state.curves.at(kind, generation, s)?.delta?)))
}

/// Two runs compared at the largest samples both have a ΔAUC at (never at two budgets).
fn compared(state: &AppState, a: u64, b: u64) -> Option<(u64, f64)> {
    let kind = RunKind::Compressed;
    state
        .curves
        .samples(kind, a)
        .into_iter()
        .rev()
        .find_map(|s| {
            let x = state.curves.at(kind, a, s)?.delta?;
            let y = state.curves.at(kind, b, s)?.delta?;
            Some((s, x.delta - y.delta))
        })
}

/// Samples in at most 5 columns: `850`, `192k`, `1.0M`, `12.3M` (rounded; the title and the
/// AUC chart give exact figures).
fn short_count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..999_500 => format!("{}k", (n as f64 / 1e3).round()),
        _ if n < 99_950_000 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{}M", (n as f64 / 1e6).round()),
    }
}

/// `text` in `room` columns: whole words from the start, `…` where words were left out (a
/// single run has no knob that tells it apart: its whole summary would be cut mid-word).
fn fit_words(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_string();
    }
    let mut out = String::new();
    for w in text.split_whitespace() {
        let next = if out.is_empty() {
            w.to_string()
        } else {
            format!("{out} {w}")
        };
        if next.chars().count() + 2 > room {
            break;
        }
        out = next;
    }
    format!("{out} …")
}

fn title(state: &AppState) -> String {
    let cur = state.runs.last();
    match (state.pinned_run(), cur) {
        (Some(p), Some(c)) if p.generation != c.generation => {
            let dd = match compared(state, c.generation, p.generation) {
                Some((s, d)) => format!("{d:+.4} at {}", fmt_count(s)),
                None => "— (no samples in common yet)".into(),
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
    // Every knob when they fit beside the fixed columns, else only those that tell runs apart.
    let fixed: u16 = if compact {
        1 + 3 + 8 + 5 + 15 + 5
    } else {
        1 + 3 + 8 + 5 + 15 + 8 + 7 + 7
    };
    let room = area.width.saturating_sub(2 + fixed) as usize;
    let full_knobs = !compact
        && state
            .runs
            .iter()
            .all(|r| knob_summary(&r.cfg).chars().count() <= room);
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
            let equal = delta_at_equal_samples(state, r.generation);
            let delta = equal.map_or("—".to_string(), |(_, d)| {
                format!("{:+.4} ±{:.4}", d.delta, (d.hi - d.lo) / 2.0)
            });
            let at = equal.map_or("—".to_string(), |(s, _)| short_count(s));
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
            cells.push(Cell::from(if full_knobs {
                knob_summary(&r.cfg)
            } else if compact {
                knobs_that_differ(&state.runs, &r.cfg)
            } else {
                fit_words(&knobs_that_differ(&state.runs, &r.cfg), room)
            }));
            cells.extend([
                Cell::from(fmt_bytes(r.param_bytes + r.optimizer_bytes)),
                Cell::from(at),
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
        Constraint::Fill(1),
    ];
    // The tables and their optimizer state (the info overlay says so): more than the Pareto
    // view's table bytes.
    // ΔAUC at equal samples: at the run's latest evaluation the baseline has too ("at").
    header.extend(["memory", "at", "ΔAUC ±95%"]);
    widths.extend([
        Constraint::Length(8),
        Constraint::Length(5),
        Constraint::Length(15),
    ]);
    if !compact {
        header.extend(["ns/token", "state"]);
        widths.extend([Constraint::Length(8), Constraint::Length(7)]);
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

#[cfg(test)]
mod tests {
    use super::short_count;

    #[test]
    fn knobs_are_cut_at_whole_words() {
        assert_eq!(super::fit_words("K2 D16k kw1", 20), "K2 D16k kw1");
        assert_eq!(
            super::fit_words("K2 D16k kw1 dw1k d16 bundled", 22),
            "K2 D16k kw1 dw1k d16 …"
        );
    }

    #[test]
    fn samples_fit_five_columns() {
        for (n, s) in [
            (850, "850"),
            (192_000, "192k"),
            (999_499, "999k"),
            (1_000_064, "1.0M"),
            (12_345_678, "12.3M"),
            (450_000_000, "450M"),
        ] {
            assert_eq!(short_count(n), s);
            assert!(short_count(n).chars().count() <= 5);
        }
    }
}
