//! The interactive explorer: state, messages, update, keymap.
use crate::cli::{CliError, RunArgs};
use crate::config::Config;

pub fn run_cli(_cfg: &Config, _args: &RunArgs) -> Result<(), CliError> {
    Err(CliError::runtime(anyhow::anyhow!(
        "the explorer is not built yet"
    )))
}
