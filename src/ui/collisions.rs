//! The Collisions panel: per feature, what the MEM-REC hashing does to the tokens seen, observed
//! next to the formula of `docs/method.md`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::{Theme, fmt_count, focused, panel};
use crate::app::state::{AppState, Focus};

pub fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme, compact: bool) {
    let is_focused = focused(state, Focus::Collisions);
    let title = if compact {
        "Collisions obs/formula"
    } else {
        "Collisions per feature: observed / formula"
    };
    let block = panel(title, is_focused, theme);
    let feats = state
        .compressed
        .as_ref()
        .map_or(&[][..], |m| &m.collisions[..]);
    if feats.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "waiting for collision statistics…",
                theme.muted,
            ))
            .block(block),
            area,
        );
        return;
    }
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    let skip = (state.collisions_scroll as usize).min(feats.len().saturating_sub(1));
    let body: Vec<Row> = feats
        .iter()
        .skip(skip)
        .map(|f| {
            let mut cells = vec![
                Cell::from(format!("C{}", f.feature + 1)),
                Cell::from(fmt_count(f.distinct as f64)),
                Cell::from(format!(
                    "{:.2} / {:.2}",
                    f.tokens_per_row, f.tokens_per_row_formula
                )),
            ];
            if !compact {
                cells.push(Cell::from(format!(
                    "{} / {}",
                    pct(f.shared_token_signature),
                    pct(f.shared_token_signature_formula)
                )));
            }
            cells.push(Cell::from(format!(
                "{} / {}",
                pct(f.shared_full_signature),
                pct(f.shared_full_signature_formula)
            )));
            Row::new(cells).style(theme.value)
        })
        .collect();
    let (header, widths): (Vec<&str>, Vec<Constraint>) = if compact {
        (
            vec!["feat", "distinct", "tokens/row", "shared sig"],
            vec![
                Constraint::Length(4),
                Constraint::Length(8),
                Constraint::Length(13),
                Constraint::Fill(1),
            ],
        )
    } else {
        (
            vec![
                "feat",
                "distinct",
                "tokens/row",
                "shared token sig",
                "shared token+weight sig",
            ],
            vec![
                Constraint::Length(4),
                Constraint::Length(8),
                Constraint::Length(13),
                Constraint::Length(17),
                Constraint::Fill(1),
            ],
        )
    };
    let table = Table::new(body, widths)
        .header(Row::new(
            header
                .into_iter()
                .map(|h| Cell::from(Span::styled(h, theme.label))),
        ))
        .block(block);
    frame.render_widget(table, area);
}
