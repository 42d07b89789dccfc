//! Semantic styles for the screen, in colour or monochrome.
//!
//! Owns: every colour and modifier the panels use. Must never: be the only carrier of meaning;
//! each styled thing also has a glyph or a label (baseline vs MEM-REC differ by marker and name).

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theme {
    pub mono: bool,
    pub border: Style,
    pub border_focus: Style,
    pub title: Style,
    pub label: Style,
    pub value: Style,
    pub muted: Style,
    /// A knob changed from the preset.
    pub changed: Style,
    /// A knob edited but not yet training.
    pub pending: Style,
    pub selected: Style,
    pub baseline: Style,
    /// The compressed run (whichever method).
    pub compressed: Style,
    pub pinned: Style,
    pub oracle: Style,
    pub good: Style,
    pub bad: Style,
    pub key: Style,
    pub status_info: Style,
    pub status_error: Style,
}

impl Theme {
    pub fn color() -> Theme {
        let fg = |c| Style::new().fg(c);
        Theme {
            mono: false,
            border: fg(Color::DarkGray),
            border_focus: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            title: Style::new().add_modifier(Modifier::BOLD),
            label: fg(Color::Gray),
            value: fg(Color::White),
            muted: fg(Color::DarkGray),
            changed: fg(Color::Yellow).add_modifier(Modifier::BOLD),
            pending: fg(Color::Magenta).add_modifier(Modifier::ITALIC),
            selected: Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
            baseline: fg(Color::Cyan),
            compressed: fg(Color::LightGreen).add_modifier(Modifier::BOLD),
            pinned: fg(Color::Magenta),
            oracle: fg(Color::Gray),
            good: fg(Color::Green),
            bad: fg(Color::Red),
            key: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            status_info: fg(Color::White),
            status_error: fg(Color::White).bg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    /// Modifiers only (`NO_COLOR`, `--no-color`); colours stay `Reset` so nothing is tinted.
    pub fn mono() -> Theme {
        let m = |md| Style::new().fg(Color::Reset).add_modifier(md);
        let plain = Style::new().fg(Color::Reset);
        Theme {
            mono: true,
            border: plain,
            border_focus: m(Modifier::BOLD),
            title: m(Modifier::BOLD),
            label: plain,
            value: plain,
            muted: plain,
            changed: m(Modifier::BOLD | Modifier::UNDERLINED),
            pending: m(Modifier::UNDERLINED),
            selected: m(Modifier::REVERSED),
            baseline: plain,
            compressed: m(Modifier::BOLD),
            pinned: m(Modifier::UNDERLINED),
            oracle: plain,
            good: m(Modifier::BOLD),
            bad: m(Modifier::BOLD),
            key: m(Modifier::BOLD),
            status_info: plain,
            status_error: m(Modifier::REVERSED),
        }
    }

    /// Monochrome when `--no-color` is given or `NO_COLOR` is set to anything non-empty.
    pub fn from_env(no_color_flag: bool) -> Theme {
        let env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if no_color_flag || env {
            Theme::mono()
        } else {
            Theme::color()
        }
    }
}
