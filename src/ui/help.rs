//! The `?` help overlay (generated from the keymap table, scrollable) and the overwrite prompt.

use std::path::Path;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::{Theme, panel};
use crate::app::keymap::{self, HelpLine};
use crate::app::update::next_free_name;

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    area.centered(
        Constraint::Length(w.min(area.width)),
        Constraint::Length(h.min(area.height)),
    )
}

pub fn draw(frame: &mut Frame, area: Rect, scroll: u16, theme: &Theme) {
    let lines: Vec<Line> = keymap::help_lines()
        .into_iter()
        .map(|l| match l {
            HelpLine::Heading(t) => Line::styled(t, theme.title),
            HelpLine::Entry { keys, description } => Line::from(vec![
                Span::styled(format!("  {keys:<11} "), theme.key),
                Span::styled(description, theme.value),
            ]),
            HelpLine::Blank => Line::raw(""),
        })
        .chain(super::info::glossary(theme))
        .collect();
    let popup = centered(
        area,
        area.width.saturating_sub(4).min(96),
        (lines.len() as u16 + 2).min(area.height.saturating_sub(2)),
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(panel("Help · ↑↓ scroll · ? or Esc close", true, theme)),
        popup,
    );
}

pub fn draw_confirm(frame: &mut Frame, area: Rect, path: &Path, what: &str, theme: &Theme) {
    let popup = centered(area, 64, 6);
    let lines = vec![
        Line::styled(format!("{} already exists.", path.display()), theme.value),
        Line::from(vec![
            Span::styled("y", theme.key),
            Span::raw(" overwrite · "),
            Span::styled("n", theme.key),
            Span::raw(format!(" save as {} · ", next_free_name(path).display())),
            Span::styled("Esc", theme.key),
            Span::raw(" cancel"),
        ]),
    ];
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(panel(what, true, theme)),
        popup,
    );
}

/// The path prompt of `o`: the text typed so far with a cursor mark, and how to finish.
pub fn draw_prompt(frame: &mut Frame, area: Rect, input: &str, theme: &Theme) {
    draw_input(
        frame,
        area,
        input,
        (
            "Open sweep directory (memrec-tui sweep --out DIR)",
            " open · ",
        ),
        theme,
    );
}

/// The value typed for a knob (`Enter` on the Knobs panel).
pub fn draw_knob_value(frame: &mut Frame, area: Rect, path: &str, input: &str, theme: &Theme) {
    draw_input(
        frame,
        area,
        input,
        (
            &format!("{path} = (any value --set accepts)"),
            " apply and restart · ",
        ),
        theme,
    );
}

/// A one-line text input in a popup: `title`, and what Enter does.
fn draw_input(
    frame: &mut Frame,
    area: Rect,
    input: &str,
    (title, enter): (&str, &str),
    theme: &Theme,
) {
    let popup = centered(area, 72, 6);
    // Keep the end of a long path in view: it is where the typing happens.
    let room = popup.width.saturating_sub(4) as usize;
    let chars: Vec<char> = input.chars().collect();
    let shown: String = chars[chars.len().saturating_sub(room)..].iter().collect();
    let lines = vec![
        Line::from(vec![
            Span::styled(shown, theme.value),
            Span::styled("▏", theme.key),
        ]),
        Line::from(vec![
            Span::styled("Enter", theme.key),
            Span::raw(enter.to_string()),
            Span::styled("Backspace", theme.key),
            Span::raw(" erase · "),
            Span::styled("Esc", theme.key),
            Span::raw(" cancel"),
        ]),
    ];
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(panel(title.to_string(), true, theme)),
        popup,
    );
}
