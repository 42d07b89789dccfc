//! The token inspector panel: one value's hash key, the rows each run reads for it (MEM-REC's K
//! token rows and kw weights, the hashing trick's row, QR's quotient and remainder rows, ROBE-Z's
//! blocks, the baseline's own or out-of-vocabulary row), their values as bars, the vector it
//! gets beside the baseline's, and who else among the loaded values reads each row.
//!
//! Owns: how an `Inspection` looks. Must never: compute a row or a count (the engine did, from
//! the live representations); every bar is drawn on one scale, stated on screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, fmt_count, focused, panel};
use crate::app::inspector::{Inspector, fmt_value};
use crate::app::state::{AppState, Focus};
use crate::data::{key_feature, key_value};
use crate::embedding::explain::{RowKind, RowRef, TokenLookup};
use crate::train::protocol::{InspectedRun, Inspection, ValuePick};

/// Eight heights, lowest for the most negative value on the scale.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

pub fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme, compact: bool) {
    let Some(ins) = &state.inspector else {
        return;
    };
    let block = panel(title(ins), focused(state, Focus::Inspector), theme);
    let width = block.inner(area).width as usize;
    let mut lines = Vec::new();
    if let Some(t) = &ins.typing {
        lines.push(Line::from(vec![
            Span::styled("value: ", theme.label),
            Span::styled(t.clone(), theme.value),
            Span::styled("▏", theme.key),
            Span::styled(" hex, - missing, #N test row · Enter · Esc", theme.muted),
        ]));
    }
    match &ins.answer {
        None => lines.push(Line::styled("asking the engine…", theme.muted)),
        Some(a) if a.error.is_some() => {
            lines.push(Line::styled(
                a.error.clone().unwrap_or_default(),
                theme.status_error,
            ));
            lines.extend(frequent_line(ins, a, theme, width));
        }
        Some(a) => body(&mut lines, ins, a, theme, width, compact),
    }
    lines.push(Line::styled(
        "↑↓ value · +/- feature · x type · i explain · z zoom · t close",
        theme.muted,
    ));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn title(ins: &Inspector) -> String {
    let what = match ins.pick {
        ValuePick::Frequent(n) => format!("most trained-on #{}", n + 1),
        ValuePick::Value(_) => "typed".into(),
        ValuePick::TestRow(r) => format!("test row {r}"),
    };
    let value = ins
        .answer
        .as_ref()
        .filter(|_| ins.answer_current())
        .filter(|a| a.error.is_none())
        .map_or("…".into(), |a| fmt_value(a.value));
    format!("Token inspector · C{} = {value} ({what})", ins.feature + 1)
}

fn body(
    lines: &mut Vec<Line<'static>>,
    ins: &Inspector,
    a: &Inspection,
    theme: &Theme,
    width: usize,
    compact: bool,
) {
    let stale = if ins.answer_current() {
        ""
    } else {
        " (updating…)"
    };
    lines.push(Line::from(vec![
        Span::styled("hash key ", theme.label),
        Span::styled(format!("{:#018x}", a.key), theme.value),
        Span::styled(
            format!(
                " · in {} training rows · {} values loaded{}{stale}",
                fmt_count(a.trained as f64),
                fmt_count(a.loaded_values as f64),
                if a.loaded_capped { " (capped)" } else { "" }
            ),
            theme.muted,
        ),
    ]));
    let scale = a
        .runs
        .iter()
        .filter_map(|r| r.lookup.as_ref())
        .flat_map(|l| l.vector.iter().chain(l.rows.iter().flat_map(|r| &r.values)))
        .fold(0f32, |m, x| m.max(x.abs()));
    // The compressed run first, then the baseline it is compared with.
    let mut runs: Vec<&InspectedRun> = a.runs.iter().collect();
    runs.sort_by_key(|r| r.run.is_baseline());
    for r in runs {
        run_lines(lines, r, scale, theme, width, compact);
    }
    lines.push(Line::styled(
        format!(
            "bars: one per dimension, ▁ {:+.3} … █ {:+.3}",
            -scale, scale
        ),
        theme.muted,
    ));
    lines.extend(frequent_line(ins, a, theme, width));
}

fn run_lines(
    lines: &mut Vec<Line<'static>>,
    r: &InspectedRun,
    scale: f32,
    theme: &Theme,
    width: usize,
    compact: bool,
) {
    let (name, style) = if r.run.is_baseline() {
        ("baseline", theme.baseline)
    } else {
        ("compressed", theme.compressed)
    };
    let Some(l) = &r.lookup else {
        lines.push(Line::styled(
            format!("{name} ({}): cannot show its rows", r.representation),
            theme.muted,
        ));
        return;
    };
    lines.push(Line::from(vec![
        Span::styled(
            format!("{name} {} #{}", r.representation, r.generation),
            style,
        ),
        Span::styled(
            format!(" after {} samples", fmt_count(r.samples as f64)),
            theme.muted,
        ),
    ]));
    lines.push(Line::styled(
        cut(&format!("  {}", l.formula), width),
        theme.muted,
    ));
    let label_w = 17;
    // One bar per dimension, as many as fit beside the label and the count.
    let bar_w = l
        .vector
        .len()
        .min(width.saturating_sub(label_w + 14))
        .max(1);
    for (i, u) in l.rows.iter().enumerate() {
        let share = r.sharing.rows.iter().find(|s| s.at == u.at);
        let values = if u.values.len() == 1 {
            format!("{:+.4}", u.values[0])
        } else {
            bars(&u.values, scale, bar_w)
        };
        let mut spans = vec![
            Span::styled(format!("  {:<15}", row_label(&u.at, i)), theme.label),
            Span::styled(format!("{values:<bar_w$}"), style),
        ];
        if let Some(s) = share {
            let mut text = format!(" shared by {}", fmt_count(s.others as f64));
            if !compact && !s.first.is_empty() {
                let first: Vec<String> = s.first.iter().map(|&k| fmt_key(k)).collect();
                text.push_str(&format!(": {}", first.join(", ")));
                if s.others > s.first.len() as u64 {
                    text.push_str(", …");
                }
            }
            let room = width.saturating_sub(label_w + bar_w);
            spans.push(Span::styled(cut(&text, room), theme.value));
        }
        lines.push(Line::from(spans));
    }
    let scale_note = l.scale.map_or(String::new(), |a| format!(" a = {a:+.4}"));
    lines.push(Line::from(vec![
        Span::styled(format!("  {:<15}", "its vector"), theme.label),
        Span::styled(format!("{:<bar_w$}", bars(&l.vector, scale, bar_w)), style),
        Span::styled(scale_note, theme.value),
    ]));
    lines.push(signature_line(r, l, theme));
}

/// Whether any loaded value reads every row this one reads (then the model cannot tell them
/// apart), and how many share the token rows alone.
fn signature_line(r: &InspectedRun, l: &TokenLookup, theme: &Theme) -> Line<'static> {
    let s = &r.sharing;
    let has_weights = l.rows.iter().any(|u| u.at.kind == RowKind::Weight);
    let mut text = if s.same_signature == 0 {
        format!(
            "  none of the {} other values loaded reads all its rows",
            fmt_count(s.looked_at as f64)
        )
    } else {
        let first: Vec<String> = s.first_same.iter().map(|&k| fmt_key(k)).collect();
        format!(
            "  {} other value(s) read all its rows (same vector): {}",
            fmt_count(s.same_signature as f64),
            first.join(", ")
        )
    };
    if has_weights {
        text.push_str(&format!(
            " · {} share its token rows",
            fmt_count(s.same_token_rows as f64)
        ));
    }
    let style = if s.same_signature == 0 {
        theme.muted
    } else {
        theme.status_error
    };
    Line::styled(text, style)
}

fn frequent_line(
    ins: &Inspector,
    a: &Inspection,
    theme: &Theme,
    width: usize,
) -> Option<Line<'static>> {
    if a.frequent.is_empty() {
        return None;
    }
    let mut spans = vec![Span::styled(
        format!("C{} most trained-on: ", a.feature + 1),
        theme.label,
    )];
    let mut used = spans[0].content.chars().count();
    for (i, (v, n)) in a.frequent.iter().enumerate() {
        let text = format!("{}:{} ({}) ", i + 1, fmt_value(*v), fmt_count(*n as f64));
        used += text.chars().count();
        if used > width {
            break;
        }
        let current = ins.pick == ValuePick::Frequent(i);
        spans.push(Span::styled(
            text,
            if current { theme.selected } else { theme.value },
        ));
    }
    Some(Line::from(spans))
}

fn row_label(at: &RowRef, i: usize) -> String {
    let table = at.feature.map_or(String::new(), |f| format!("C{} ", f + 1));
    match at.kind {
        RowKind::Token => format!("token row {}", at.row),
        RowKind::Weight => format!("weight row {}", at.row),
        RowKind::Row => format!("{table}row {}", at.row),
        RowKind::OutOfVocabulary => "out-of-vocab row".into(),
        RowKind::Quotient => format!("{table}quot {}", at.row),
        RowKind::Remainder => format!("{table}rem {}", at.row),
        RowKind::Block => format!("block {i} at {}", at.row),
    }
}

/// `text` cut to `width` characters, a `…` marking the cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// `C7 0badf00d`.
fn fmt_key(k: u64) -> String {
    format!("C{} {}", key_feature(k) + 1, fmt_value(key_value(k)))
}

/// One bar per value on a symmetric scale (`▁` = -scale, `█` = +scale), at most `width` of them
/// (a `›` marks dimensions left out).
pub fn bars(values: &[f32], scale: f32, width: usize) -> String {
    let n = values.len().min(width);
    let mut s: String = values[..n]
        .iter()
        .map(|&v| {
            let t = if scale > 0.0 {
                ((v / scale + 1.0) / 2.0).clamp(0.0, 1.0)
            } else {
                0.5
            };
            BARS[((t * 8.0) as usize).min(7)]
        })
        .collect();
    if values.len() > n && n > 0 {
        s.pop();
        s.push('›');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_span_the_scale_and_mark_what_is_cut() {
        assert_eq!(bars(&[-1.0, 0.0, 1.0], 1.0, 10), "▁▅█");
        assert_eq!(bars(&[0.5; 5], 1.0, 3), "▇▇›");
        assert_eq!(bars(&[0.0], 0.0, 3), "▅");
    }
}
