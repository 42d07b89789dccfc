//! `memrec-tui export`: write a complete, valid configuration as RON (to a file or stdout),
//! headed by its provenance as comment lines (`util::provenance`; loading ignores them).
//!
//! Owns: the writing of the file. Must never: replace an input file (`cli::check_output` ran
//! before) or a file that exists without --force.

use std::io::Write;

use super::{CliError, ExportArgs};
use crate::config::Config;
use crate::util::provenance::{self, Provenance};

/// The provenance of a configuration written by `export`: nothing was trained or measured.
pub fn provenance_of(cfg: &Config) -> Provenance {
    Provenance {
        program: provenance::program(),
        command: provenance::command_line(),
        data: provenance::data(
            cfg.data.train.as_deref(),
            cfg.data.test.as_deref(),
            &cfg.data_label(),
            cfg.seed,
        ),
        machine: provenance::machine(cfg.effective_threads()),
        budget: "none: written by `export` without training".into(),
        result: "none measured: a sweep's best.ron carries its point's ΔAUC and latency".into(),
    }
}

pub fn run_cli(cfg: &Config, args: &ExportArgs) -> Result<(), CliError> {
    let text = format!("{}{}", provenance_of(cfg).ron_comments(), cfg.to_ron()?);
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
