//! The interactive explorer: state, messages, update, keymap, and the runtime that connects
//! them to the terminal and the training engine.
//!
//! Owns: the explorer's behaviour. Must never: train (the engine does, on its own threads) or
//! draw outside `ui::draw`.

pub mod keymap;
pub mod msg;
pub mod pareto;
pub mod report;
pub mod runtime;
pub mod state;
pub mod store;
pub mod sweep;
pub mod update;

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::config::Config;
use crate::report::EngineEvent;
use crate::ui::{self, Theme};
use msg::Msg;
use state::AppState;

pub use runtime::run_cli;

/// The state after `events`, as the live explorer would show it.
pub fn state_from_events(cfg: &Config, events: &[EngineEvent]) -> AppState {
    let mut state = AppState::new(cfg.clone());
    for ev in events {
        update::update(&mut state, Msg::Engine(ev.clone()));
    }
    state
}

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
