//! The status line (last message, data source, throughput, state) and the key hints, the latter
//! generated from the keymap table.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, fmt_count};
use crate::app::keymap;
use crate::app::state::{AppState, StatusKind};

/// The engine's state in a word, with a glyph so it reads without colour.
fn state_word(state: &AppState) -> &'static str {
    if state.engine_error.is_some() {
        "✖ engine stopped"
    } else if [&state.baseline, &state.compressed]
        .into_iter()
        .all(|r| r.as_ref().is_some_and(|r| r.failed.is_some()))
    {
        "✖ runs stopped"
    } else if state.paused {
        "‖ paused"
    } else if state.restart_deadline.is_some() || !state.requested.is_empty() {
        "~ restart pending"
    } else if state
        .baseline
        .as_ref()
        .is_some_and(|b| b.progress.is_some())
    {
        "▶ training"
    } else {
        "… starting"
    }
}

pub fn draw_status(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let data = state
        .data
        .as_ref()
        .map_or_else(|| state.running.data_label(), |d| d.label.clone());
    let bad = state
        .data
        .as_ref()
        .filter(|d| d.bad_lines.count > 0)
        .map_or(String::new(), |d| {
            format!(" · {} bad lines", d.bad_lines.count)
        });
    // Most important first: a narrow terminal cuts the end.
    let right = format!(
        "{} · {} samples/s · {data}{bad}",
        state_word(state),
        fmt_count(state.samples_per_s()),
    );
    // The message gets priority over the data label when both do not fit: the right-hand part
    // keeps at least the engine's state word and gives the message the rest.
    let right = format!(" │ {right}");
    let right_full = right.chars().count() as u16;
    let right_w = match &state.status {
        Some(msg) => {
            let least = (state_word(state).chars().count() + 3) as u16;
            let msg_w = msg.text.chars().count() as u16;
            area.width
                .saturating_sub(msg_w)
                .clamp(least, right_full.max(least))
        }
        None => right_full,
    };
    let [left_area, right_area] = area.layout(&Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(right_w),
    ]));
    if let Some(s) = &state.status {
        let style = match s.kind {
            StatusKind::Info => theme.status_info,
            StatusKind::Error => theme.status_error,
        };
        frame.render_widget(
            Paragraph::new(Line::styled(s.text.clone(), style)),
            left_area,
        );
    }
    frame.render_widget(Paragraph::new(Line::styled(right, theme.muted)), right_area);
}

pub fn draw_keys(frame: &mut Frame, area: Rect, theme: &Theme) {
    let mut spans = Vec::new();
    for hint in keymap::footer_hints() {
        let (key, desc) = hint.split_once(' ').unwrap_or((hint, ""));
        spans.push(Span::styled(key.to_string(), theme.key));
        spans.push(Span::styled(format!(" {desc}  "), theme.label));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
