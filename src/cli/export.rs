//! `memrec-tui export`: write a complete, valid configuration as RON (to a file or stdout).
//!
//! Owns: the writing of the file. Must never: replace an input file (`cli::check_output` ran
//! before) or a file that exists without --force.

use std::io::Write;

use super::{CliError, ExportArgs};
use crate::config::Config;

pub fn run_cli(cfg: &Config, args: &ExportArgs) -> Result<(), CliError> {
    let text = cfg.to_ron()?;
    if args.output.as_os_str() == "-" {
        std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(CliError::runtime)?;
        return Ok(());
    }
    crate::util::write_atomic(&args.output, text.as_bytes(), args.force)
        .map_err(CliError::write)?;
    eprintln!("wrote {}", args.output.display());
    Ok(())
}
