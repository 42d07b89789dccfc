//! The interactive explorer: state, messages, update, keymap.
use crate::cli::{CliError, RunArgs};
use crate::config::Config;

pub fn run_cli(_cfg: &Config, _args: &RunArgs) -> Result<(), CliError> {
    Err(CliError::runtime(anyhow::anyhow!(
        "the explorer is not built yet"
    )))
}

/// The explorer's screen for `cfg` after the engine emitted `events`, rendered at `width` x
/// `height` into plain text (`--headless --screen WxH`, README, screen readers).
pub fn render_screen_text(
    _cfg: &Config,
    _events: &[crate::report::EngineEvent],
    width: u16,
    height: u16,
) -> String {
    format!("(screen {width}x{height} not built yet)")
}
