use clap::Parser;

fn main() {
    let cli = memrec_tui::cli::Cli::parse();
    if let Err(e) = memrec_tui::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
