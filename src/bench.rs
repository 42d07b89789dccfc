//! `memrec-tui bench`: lookup latency of the fused MEM-REC kernel against the uncompressed gather.
use crate::cli::CliError;
use crate::config::Config;

pub fn run_cli(_cfg: &Config, _json: bool) -> Result<(), CliError> {
    Err(CliError::runtime(anyhow::anyhow!("bench is not built yet")))
}
