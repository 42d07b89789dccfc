use clap::{CommandFactory, FromArgMatches};

fn main() {
    let matches = memrec_tui::cli::Cli::command()
        .after_help(memrec_tui::cli::after_help())
        .get_matches();
    let cli = memrec_tui::cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Err(e) = memrec_tui::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
