//! `memrec-tui stats`: dataset statistics of Criteo files.
use std::path::PathBuf;

use crate::cli::CliError;

pub fn run_cli(
    _files: &[PathBuf],
    _strict: bool,
    _max_rows: u64,
    _json: bool,
) -> Result<(), CliError> {
    Err(CliError::runtime(anyhow::anyhow!("stats is not built yet")))
}
