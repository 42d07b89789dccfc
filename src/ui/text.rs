//! The explorer's screen as plain text: `--headless --screen WxH`, the README's screens, screen
//! readers and the snapshot tests.
//!
//! Owns: the rendering of a state into text lines (no styles, trailing spaces trimmed, wide
//! glyphs counted once). Must never: change state (it replays events into a fresh one).

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::app::state::AppState;
use crate::app::state_from_events;
use crate::config::Config;
use crate::train::protocol::EngineEvent;
use crate::ui::{self, Theme};

/// `state` rendered at `width` x `height` as plain text lines (no styles, trailing spaces
/// trimmed).
pub fn render_state_text(state: &AppState, theme: &Theme, width: u16, height: u16) -> String {
    let mut terminal = match Terminal::new(TestBackend::new(width, height)) {
        Ok(t) => t,
        Err(e) => return format!("(cannot render: {e})"),
    };
    if let Err(e) = terminal.draw(|f| ui::draw(f, state, theme)) {
        return format!("(cannot render: {e})");
    }
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..buf.area.width {
            // Wide glyphs occupy two cells; the second holds an empty symbol.
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(x, y)].symbol();
            line.push_str(sym);
            skip = unicode_width(sym).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn unicode_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// The explorer's screen for `cfg` after the engine emitted `events`, rendered at `width` x
/// `height` into plain text (`--headless --screen WxH`, README, screen readers).
pub fn render_screen_text(cfg: &Config, events: &[EngineEvent], width: u16, height: u16) -> String {
    let state = state_from_events(cfg, events);
    render_state_text(&state, &Theme::mono(), width, height)
}
