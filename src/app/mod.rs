//! The interactive explorer: state, messages, update, keymap, and the runtime that connects
//! them to the terminal and the training engine.
//!
//! Owns: the explorer's behaviour. Must never: train (the engine does, on its own threads) or
//! draw outside `ui::draw`.

pub mod handout;
pub mod inspector;
pub mod keymap;
pub mod lesson;
pub mod msg;
pub mod pareto;
pub mod report;
pub mod runtime;
pub mod state;
pub mod store;
pub mod sweep;
pub mod update;

use crate::config::Config;
use crate::train::protocol::EngineEvent;
use msg::Msg;
use state::AppState;

/// The state after `events`, as the live explorer would show it.
pub fn state_from_events(cfg: &Config, events: &[EngineEvent]) -> AppState {
    let mut state = AppState::new(cfg.clone());
    for ev in events {
        update::update(&mut state, Msg::Engine(ev.clone()));
    }
    state
}
