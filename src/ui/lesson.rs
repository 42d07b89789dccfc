//! The lesson on screen: a box with the step's title, text, question, the panel to look at and
//! the condition's progress ("waiting: 312k of 500k samples"), the highlighted panel's frame,
//! and the lesson picker (`L`).
//!
//! Owns: how a lesson looks. Must never: change state or decide a condition (app::lesson does).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use super::layout::Areas;
use super::{Theme, panel};
use crate::app::lesson::LessonSession;
use crate::app::state::AppState;
use crate::config::lesson::{LESSONS, Panel, parse_lesson};

/// The panel's rectangle on screen.
fn panel_area(a: &Areas, p: Panel) -> Rect {
    match p {
        Panel::Knobs => a.knobs,
        Panel::Memory => a.memory,
        Panel::Latency => a.latency,
        Panel::Auc => a.auc,
        Panel::Runs => a.runs,
        Panel::Collisions => a.collisions,
    }
}

/// Draw the lesson box and the highlight of the step's panel.
pub fn draw(frame: &mut Frame, a: &Areas, state: &AppState, l: &LessonSession, theme: &Theme) {
    let step = l.current();
    let target = panel_area(a, step.panel);
    let right_column = matches!(step.panel, Panel::Auc | Panel::Runs | Panel::Collisions);
    // The token inspector covers the right column: no frame marks a panel that is not on screen.
    if !(right_column && state.inspector.is_some()) {
        // The highlighted panel keeps its own title: its sides and bottom are drawn heavy.
        let mark = Block::default()
            .borders(Borders::LEFT | Borders::RIGHT | Borders::BOTTOM)
            .border_type(BorderType::Double)
            .border_style(theme.changed)
            .title_bottom(Line::styled(" ◆ lesson: look here ", theme.changed));
        frame.render_widget(mark, target);
    }

    let right = a.auc.union(a.runs).union(a.collisions);
    let lower = matches!(step.panel, Panel::Runs | Panel::Collisions);
    let width = right.width.saturating_sub(2).max(1);
    let progress = l.progress(state);
    let style = if progress.met {
        theme.good
    } else {
        theme.pending
    };
    // The condition's progress first: on a small screen the end of the text is what is cut.
    let lines: Vec<Line> = vec![
        Line::styled(progress.text.clone(), style),
        Line::styled(step.text.trim(), theme.value),
        Line::from(vec![
            Span::styled("Question: ", theme.key),
            Span::styled(step.question.trim(), theme.value),
        ]),
        Line::from(vec![
            Span::styled("Look at: ", theme.label),
            Span::styled(format!("the {} panel", step.panel.title()), theme.changed),
            Span::styled(
                format!(
                    " · budget {} samples",
                    crate::ui::fmt_count(l.budget() as f64)
                ),
                theme.muted,
            ),
        ]),
    ];
    let needed = wrapped_height(&lines, width) + 2;
    // The box leaves the highlighted panel visible when it shares the column.
    let max_h = match step.panel {
        Panel::Runs | Panel::Collisions => right.height.saturating_sub(target.height),
        Panel::Auc => right.height.saturating_sub(8),
        _ if a.compact => right.height.saturating_sub(6),
        _ => right.height.saturating_mul(3) / 5,
    };
    let h = needed.min(max_h).max(5).min(right.height);
    let area = if lower {
        Rect::new(right.x, right.y, right.width, h)
    } else {
        Rect::new(right.x, right.y + right.height - h, right.width, h)
    };
    let title = format!(
        "Lesson {} · step {}/{}: {}",
        l.lesson.name(),
        l.step + 1,
        l.lesson.steps().len(),
        step.title
    );
    let block = panel(title, true, theme).title_bottom(Line::from(vec![
        Span::styled(" n/→", theme.key),
        Span::raw(if l.is_last() {
            " finish · "
        } else {
            " next · "
        }),
        Span::styled("b/←", theme.key),
        Span::raw(" back · "),
        Span::styled("Esc", theme.key),
        Span::raw(" leave "),
    ]));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
        area,
    );
}

/// Rows `lines` take when wrapped at `width` (a word-wrap estimate, at least one per line).
fn wrapped_height(lines: &[Line], width: u16) -> u16 {
    let w = width.max(1) as usize;
    lines
        .iter()
        .map(|l| {
            let mut rows = 1usize;
            let mut col = 0usize;
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            for word in text.split_whitespace() {
                let n = unicode_width::UnicodeWidthStr::width(word);
                let need = if col == 0 { n } else { col + 1 + n };
                if need > w && col > 0 {
                    rows += 1;
                    col = n.min(w);
                } else {
                    col = need.min(w);
                }
            }
            rows as u16
        })
        .sum()
}

/// The lesson picker: every embedded lesson with its minutes and title.
pub fn draw_picker(frame: &mut Frame, area: Rect, selected: usize, theme: &Theme) {
    let mut lines = vec![Line::styled(
        "A lesson leads through steps, each with knob changes, a panel to look at and a question.",
        theme.muted,
    )];
    for (i, (name, text)) in LESSONS.iter().enumerate() {
        let (minutes, title) = match parse_lesson(text, name) {
            Ok(l) => (l.lesson.minutes.to_string(), l.lesson.title.clone()),
            Err(e) => ("-".into(), e.to_string()),
        };
        let style = if i == selected {
            theme.selected
        } else {
            theme.value
        };
        let mark = if i == selected { "▶ " } else { "  " };
        lines.push(Line::from(vec![
            Span::styled(format!("{mark}{name:<16}"), style),
            Span::styled(format!("{minutes:>3} min  "), theme.muted),
            Span::styled(title, style),
        ]));
    }
    let w = area.width.saturating_sub(4).min(110);
    let h = (lines.len() as u16 * 2 + 2).min(area.height.saturating_sub(2));
    let popup = area.centered(Constraint::Length(w), Constraint::Length(h));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(panel(
            "Lessons · ↑↓ choose · Enter start · Esc close",
            true,
            theme,
        )),
        popup,
    );
}
