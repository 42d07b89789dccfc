//! Screen drawing: one file per panel, all pure functions of `AppState`.
//!
//! Owns: how state looks. Must never: change state, block, or do I/O; every number shown
//! carries its unit.

pub mod auc;
pub mod collisions;
pub mod footer;
pub mod help;
pub mod info;
pub mod inspector;
pub mod knobs;
pub mod latency;
pub mod layout;
pub mod lesson;
pub mod memory;
pub mod pareto;
pub mod runs;
pub mod text;
pub mod theme;
pub mod too_small;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType};

use crate::app::state::{AppState, AucView, Focus, Overlay, PendingWrite};
use crate::config::BaselineKind;
pub use theme::Theme;

/// Draw the whole screen for `state`.
pub fn draw(frame: &mut Frame, state: &AppState, theme: &Theme) {
    let area = frame.area();
    let Some(a) = layout::areas(area) else {
        too_small::draw(frame, area, theme);
        return;
    };
    if state.zoom {
        draw_panel(frame, a.body, state, theme, state.focus, false);
    } else {
        for (area, panel) in [
            (a.knobs, Focus::Knobs),
            (a.memory, Focus::Memory),
            (a.latency, Focus::Latency),
        ] {
            draw_panel(frame, area, state, theme, panel, a.compact);
        }
        if state.inspector.is_some() {
            draw_panel(frame, a.right, state, theme, Focus::Inspector, a.compact);
        } else {
            for (area, panel) in [
                (a.auc, Focus::Auc),
                (a.runs, Focus::Runs),
                (a.collisions, Focus::Collisions),
            ] {
                draw_panel(frame, area, state, theme, panel, a.compact);
            }
        }
    }
    footer::draw_status(frame, a.status, state, theme);
    footer::draw_keys(frame, a.footer, theme);
    // A zoomed panel has the screen to itself: the lesson box comes back with the layout.
    if let Some(l) = state.lesson.as_ref().filter(|_| !state.zoom) {
        lesson::draw(frame, &a, state, l, theme);
    }
    match &state.overlay {
        Overlay::None => {}
        Overlay::Help { scroll } => help::draw(frame, area, *scroll, theme),
        Overlay::ConfirmOverwrite { path, write } => {
            let what = match write {
                PendingWrite::Ron(_) => "Export",
                PendingWrite::Report(_) => "Report",
            };
            help::draw_confirm(frame, area, path, what, theme)
        }
        Overlay::Prompt { input } => help::draw_prompt(frame, area, input, theme),
        Overlay::KnobValue { path, input } => {
            help::draw_knob_value(frame, area, path, input, theme)
        }
        Overlay::Info { panel, scroll } => info::draw(frame, area, *panel, *scroll, theme),
        Overlay::Lessons { selected } => lesson::draw_picker(frame, area, *selected, theme),
    }
}

/// One panel in `area` (the AUC panel shows the curves or the Pareto view, as chosen).
fn draw_panel(
    frame: &mut Frame,
    area: Rect,
    state: &AppState,
    theme: &Theme,
    panel: Focus,
    compact: bool,
) {
    match panel {
        Focus::Knobs => knobs::draw(frame, area, state, theme),
        Focus::Memory => memory::draw(frame, area, state, theme, compact),
        Focus::Latency => latency::draw(frame, area, state, theme, compact),
        Focus::Auc | Focus::Pareto => match state.auc_view {
            AucView::Curves => auc::draw(frame, area, state, theme),
            AucView::Pareto => pareto::draw(frame, area, state, theme),
        },
        Focus::Runs => runs::draw(frame, area, state, theme, compact),
        Focus::Collisions => collisions::draw(frame, area, state, theme, compact),
        Focus::Inspector => inspector::draw(frame, area, state, theme, compact),
    }
}

/// A bordered panel; the focused one has a heavier border and a `▶` in its title.
pub(crate) fn panel<'a>(title: impl Into<String>, focused: bool, theme: &Theme) -> Block<'a> {
    let title: String = title.into();
    let (style, mark, border) = if focused {
        (theme.border_focus, "▶ ", BorderType::Thick)
    } else {
        (theme.border, "", BorderType::Plain)
    };
    Block::bordered()
        .border_type(border)
        .border_style(style)
        .title(Line::from(vec![Span::styled(
            format!(" {mark}{title} "),
            theme.title,
        )]))
}

pub(crate) fn focused(state: &AppState, f: Focus) -> bool {
    state.focus == f
}

/// Bytes on screen: the crate's one formatter (binary units).
pub use crate::util::units::fmt_bytes;

/// `950`, `12.3k`, `1.20M`.
pub fn fmt_count(n: f64) -> String {
    let a = n.abs();
    if a >= 1e9 {
        format!("{:.2}G", n / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", n / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// A ratio with its unit: `2014x`, `12.3x`, `0.85x`.
pub fn fmt_ratio(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x >= 100.0 {
        format!("{x:.0}x")
    } else if x >= 10.0 {
        format!("{x:.1}x")
    } else {
        format!("{x:.2}x")
    }
}

/// Nanoseconds: `12.3 ns`, `1.20 µs`.
pub fn fmt_ns(ns: f64) -> String {
    if ns >= 10_000.0 {
        format!("{:.1} µs", ns / 1000.0)
    } else if ns >= 100.0 {
        format!("{ns:.0} ns")
    } else {
        format!("{ns:.1} ns")
    }
}

/// Label of the compressed run as it is training (`MEM-REC`, `Bloom` for MEM-REC with kw = 0,
/// `hashing`, `QR`, `ROBE-Z`): the panels name the method, never assume it.
pub fn compressed_label(state: &AppState) -> &'static str {
    state.running.compressed_label()
}

/// The running baseline's kind, as legends name it: `uncompressed` or `hashing`.
pub fn baseline_label(state: &AppState) -> &'static str {
    match state.running.baseline.kind {
        BaselineKind::Uncompressed => "uncompressed",
        BaselineKind::Hashing => "hashing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_rec_without_weights_is_named_bloom() {
        let mut s = AppState::new(crate::config::Config::from_preset("tiny").unwrap());
        assert_eq!(compressed_label(&s), "MEM-REC");
        s.running.memrec.kw = 0;
        assert_eq!(compressed_label(&s), "Bloom");
    }

    #[test]
    fn units() {
        assert_eq!(fmt_count(12_345.0), "12.3k");
        assert_eq!(fmt_count(1_200_000.0), "1.20M");
        assert_eq!(fmt_ratio(2014.2), "2014x");
        assert_eq!(fmt_ratio(0.851), "0.85x");
        assert_eq!(fmt_ns(12.34), "12.3 ns");
    }
}
