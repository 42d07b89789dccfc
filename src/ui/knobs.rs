//! The Knobs panel: the compressed method and its knobs, the model and training knobs, changed-from-preset and pending markers.
//!
//! Must never: edit a knob (keys go through `update`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, focused, panel};
use crate::app::state::{AppState, Focus};
use crate::config::knobs::{KNOBS, visible};

pub fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let any_pending = state.restart_deadline.is_some()
        || !state.requested.is_empty()
        || KNOBS.iter().any(|k| state.knob_pending(k.id));
    let knobs = visible(&state.cfg);
    let title = if any_pending {
        "Knobs · restart pending ~".to_string()
    } else {
        format!("Knobs (preset {})", state.preset.name)
    };
    let block = panel(title, focused(state, Focus::Knobs), theme);
    let inner = block.inner(area);
    // A panel shorter than the list (the compact layout) shows a window that keeps the selected
    // knob in view.
    let rows = (inner.height as usize).max(1);
    let first = (state.knob + 1)
        .saturating_sub(rows)
        .min(knobs.len().saturating_sub(rows));
    let mut lines: Vec<Line> = knobs
        .iter()
        .enumerate()
        .skip(first)
        .map(|(i, k)| {
            let selected = i == state.knob;
            let changed = state.knob_changed(k.id);
            let pending = state.knob_pending(k.id);
            let value_style = if changed { theme.changed } else { theme.value };
            let row_style = if selected {
                theme.selected
            } else {
                ratatui::style::Style::new()
            };
            Line::from(vec![
                Span::styled(if selected { "›" } else { " " }, theme.key),
                Span::styled(format!("{:<16} ", k.label), theme.label),
                Span::styled(format!("{:>9}", (k.get)(&state.cfg)), value_style),
                Span::styled(if changed { "*" } else { " " }, theme.changed),
                Span::styled(if pending { "~" } else { " " }, theme.pending),
            ])
            .style(row_style)
        })
        .collect();
    if inner.height as usize > knobs.len() {
        lines.push(Line::from(Span::styled(
            " * ≠ preset  ~ not applied yet",
            theme.muted,
        )));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
