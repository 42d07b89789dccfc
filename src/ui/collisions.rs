//! The Collisions panel: per feature, what the compressed method's hashing does to the values
//! loaded so far, measured next to the formula of `docs/method.md`, under column titles that
//! read without the README.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::{Theme, fmt_count, focused, panel};
use crate::app::state::{AppState, Focus};
use crate::config::Method;

/// What the running method calls the rows a value reads, and whether it has weight rows.
fn words(state: &AppState) -> (&'static str, bool) {
    let m = &state.running.memrec;
    match m.method {
        Method::Memrec => ("token row", m.kw > 0),
        Method::Hashing => ("row", false),
        // Two values share QR's vector exactly when they share the index x in 0..V.
        Method::Qr => ("index", false),
        Method::RobeZ => ("block offset", false),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme, compact: bool) {
    let is_focused = focused(state, Focus::Collisions);
    let title = if compact {
        "Collisions: measured / expected"
    } else {
        "Collisions: measured / expected from random hashing · Enter inspects"
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
    let (row_word, weights) = words(state);
    let k = match state.running.memrec.method {
        Method::Memrec => format!("all {}", state.running.memrec.k),
        _ => "all".to_string(),
    };
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    let skip = (state.collisions_scroll as usize).min(feats.len().saturating_sub(1));
    let body: Vec<Row> = feats
        .iter()
        .skip(skip)
        .enumerate()
        .map(|(i, f)| {
            let mut cells = vec![
                Cell::from(format!("C{}", f.feature + 1)),
                Cell::from(fmt_count(f.distinct as f64)),
                Cell::from(format!(
                    "{:.2} / {:.2}",
                    f.tokens_per_row, f.tokens_per_row_formula
                )),
                Cell::from(format!(
                    "{} / {}",
                    pct(f.shared_token_signature),
                    pct(f.shared_token_signature_formula)
                )),
            ];
            if weights && !compact {
                cells.push(Cell::from(format!(
                    "{} / {}",
                    pct(f.shared_full_signature),
                    pct(f.shared_full_signature_formula)
                )));
            }
            // Enter inspects the top row's feature: it stands out while the panel is focused.
            let style = if is_focused && i == 0 {
                theme.selected
            } else {
                theme.value
            };
            Row::new(cells).style(style)
        })
        .collect();
    let (header, widths, height): (Vec<String>, Vec<Constraint>, u16) = if compact {
        (
            vec![
                "feature".into(),
                "values".into(),
                format!("per {row_word}"),
                format!("sharing {k}"),
            ],
            vec![
                Constraint::Length(7),
                Constraint::Length(6),
                Constraint::Length(13),
                Constraint::Fill(1),
            ],
            1,
        )
    } else {
        let mut h = vec![
            "feature\n".to_string(),
            "values\nloaded".into(),
            format!("values per {row_word}"),
            format!("values sharing\n{k} {row_word}s"),
        ];
        h[2].push_str("\nmeasured / expected");
        let mut w = vec![
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(20),
            Constraint::Length(18),
        ];
        if weights {
            h.push("sharing those\nand weight rows".into());
            w.push(Constraint::Fill(1));
        }
        (h, w, 2)
    };
    let table = Table::new(body, widths)
        .header(
            Row::new(
                header
                    .into_iter()
                    .map(|h| Cell::from(ratatui::text::Text::styled(h, theme.label))),
            )
            .height(height),
        )
        .block(block);
    frame.render_widget(table, area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn column_words_follow_the_method() {
        let mut s = AppState::new(Config::from_preset("tiny").unwrap());
        assert_eq!(words(&s), ("token row", s.running.memrec.kw > 0));
        s.running.memrec.method = Method::Hashing;
        assert_eq!(words(&s), ("row", false));
    }
}
