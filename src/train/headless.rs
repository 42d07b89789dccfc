//! `--headless`: the engine without a terminal.
use crate::cli::{CliError, RunArgs};
use crate::config::Config;

pub fn run_cli(_cfg: &Config, _args: &RunArgs) -> Result<(), CliError> {
    Err(CliError::runtime(anyhow::anyhow!(
        "headless mode is not built yet"
    )))
}
