use clap::{CommandFactory, FromArgMatches};
use memrec_tui::cli::CliError;

fn main() {
    let matches = memrec_tui::cli::Cli::command()
        .after_help(memrec_tui::cli::after_help())
        .get_matches();
    let cli = memrec_tui::cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Err(e) = memrec_tui::cli::run(cli) {
        match e {
            // Not an error: what was stopped has already said what it kept.
            CliError::Interrupted(_) => eprintln!("{e}"),
            _ => eprintln!("error: {e}"),
        }
        std::process::exit(e.exit_code());
    }
}
