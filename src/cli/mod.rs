//! The command line: argument parsing, configuration assembly (`--preset`/`--config`/`--set` and
//! the data flags), the checks of output paths before any work, and the mapping of errors to exit
//! codes (0 ok, 2 bad usage, config or input, 1 runtime failure, 128 + the signal when a signal
//! stopped the command).
//!
//! Owns: nothing but wiring. Must never: hold engine logic; every command calls into the library.

pub mod bench;
mod error;
pub mod explore;
pub mod export;
pub mod headless;
pub mod lesson;
pub mod stats;
pub mod sweep;
pub mod sweep_cluster;

pub use error::CliError;

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, ConfigError};

/// The text after `--help`'s options: every configuration key (generated from the schema), the
/// environment variables and the exit codes.
pub fn after_help() -> String {
    let mut keys = String::new();
    let mut line = String::from("  ");
    for p in crate::config::field_paths() {
        if line.len() + p.len() + 2 > 100 {
            keys.push_str(line.trim_end());
            keys.push('\n');
            line = String::from("  ");
        }
        line.push_str(&p);
        line.push_str(", ");
    }
    keys.push_str(line.trim_end().trim_end_matches(','));
    format!(
        "Configuration keys (use with --set PATH=VALUE; `memrec-tui export` writes them all):\n{keys}\n\n\
Environment:\n  \
NO_COLOR       any non-empty value: monochrome screen (same as --no-color)\n  \
MEMREC_PRESET  default for --preset\n  \
MEMREC_NO_PIN  any value: leave the training threads unpinned (by default each is pinned to its\n                 own CPU when the process may use at least as many CPUs as threads)\n\n\
Exit codes: 0 ok, 2 bad usage, configuration or input (a missing, empty or single-class data file,\n  \
a bad line with --strict, an output path that would replace a file), 1 runtime failure;\n  \
128 + signal when stopped by one: 130 SIGINT, 143 SIGTERM, 129 SIGHUP.\n\n\
Signals: in the explorer, SIGINT, SIGTERM and SIGHUP restore the terminal and quit as `q` does.\n  \
Headless runs and sweeps stop every run at its next step on SIGINT or SIGTERM and still print\n  \
the summaries (status \"cancelled\"), --predictions (from each run's last evaluation; stderr says\n  \
at which samples) and the sweep report (unfinished points are not stored: running the same\n  \
sweep again trains them); a second signal exits at once."
    )
}

#[derive(Debug, Parser)]
#[command(
    name = "memrec-tui",
    version,
    about = "Explore MEM-REC embedding compression for DLRM click-through-rate models, live in the terminal",
    long_about = "Trains a DLRM with uncompressed embeddings and with MEM-REC (token table + weight table) side by \
side, on a synthetic Criteo-shaped stream or real Criteo files, while you turn the knobs; shows memory, \
collisions, measured lookup latency and test AUC. Without a subcommand it opens the interactive explorer \
(or runs headless with --headless).",
    args_conflicts_with_subcommands = false
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure lookup latency: the fused MEM-REC kernel against the uncompressed gather at full size.
    Bench(BenchArgs),
    /// Write a complete, valid configuration as RON.
    Export(ExportArgs),
    /// Guided lessons for a class. Without NAME: the list (name, minutes, title). With NAME (or
    /// a lesson .ron file): the explorer in lesson mode (n or → next step, b or ← back, Esc
    /// leaves keeping the knobs). With --headless: every step without a terminal and a
    /// Markdown handout of the figures measured.
    Lesson(LessonArgs),
    /// Dataset statistics of a Criteo file: rows, bad lines, click rate, per-feature distinct values,
    /// missing rates and a fitted Zipf skew.
    Stats(StatsArgs),
    /// Train a grid of MEM-REC configurations headless against one shared baseline and write a
    /// report (CSV, JSON, Markdown, SVG of ΔAUC against bytes with the Pareto front); resumable.
    Sweep(SweepArgs),
}

/// How the configuration is assembled: preset or file, then the data flags, then every --set (all
/// applied, then the result validated once).
#[derive(Debug, Clone, Args, Default)]
pub struct ConfigArgs {
    /// Preset name (kaggle, terabyte, tiny) or path to a preset .ron file.
    #[arg(long, global = true, env = "MEMREC_PRESET", value_name = "NAME|PATH")]
    pub preset: Option<String>,
    /// Configuration file written by `export` (or by `e` in the explorer).
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "preset")]
    pub config: Option<PathBuf>,
    /// Override one configuration field, e.g. --set memrec.k=4 (repeatable: all are applied, later
    /// ones winning, then the result is validated once).
    #[arg(long = "set", global = true, value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Criteo TSV files (plain or .gz) to train on instead of the synthetic stream, streamed in
    /// the order given; globs ('day_*.gz', quoted) are expanded in natural order (day_2 before
    /// day_10). With several files and no --test, the last file holds the test rows (as MLPerf
    /// tests on the last day). Give it after any subcommand, or end the list with another flag.
    #[arg(long, global = true, value_name = "FILE|GLOB", num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Criteo TSV to test on (default: the last of several --data files, or the last
    /// data.test_fraction of a single one).
    #[arg(long, global = true, value_name = "FILE", requires = "data")]
    pub test: Option<PathBuf>,
    /// Train on the first N good rows of the training stream only (data.max_rows; 0 = all).
    #[arg(long, global = true, value_name = "N")]
    pub rows: Option<u64>,
    /// Stop at the first malformed input line (exit 2) instead of skipping and counting it.
    #[arg(long, global = true)]
    pub strict: bool,
    /// Seed of everything random (same config and seed, same numbers).
    #[arg(long, global = true)]
    pub seed: Option<u64>,
    /// Worker threads (0 = all cores).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Args, Default)]
pub struct RunArgs {
    /// No terminal UI: train with the same engine and print evaluations and a summary.
    #[arg(long)]
    pub headless: bool,
    /// Headless: stop after N optimizer steps (batches).
    #[arg(long, value_name = "N", conflicts_with = "epochs")]
    pub steps: Option<u64>,
    /// Headless: stop after E passes over the training file (files only).
    #[arg(long, value_name = "E")]
    pub epochs: Option<u64>,
    /// Print one JSON object per line instead of a table (no progress bars either).
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars on stderr while reading data files (they show only on a terminal, for
    /// passes that take more than 2 s).
    #[arg(long, global = true)]
    pub quiet: bool,
    /// Headless: write `run<TAB>label<TAB>probability` for every test row of every run (an
    /// existing file is refused unless --force; an input file never is a valid output).
    #[arg(long, value_name = "FILE")]
    pub predictions: Option<PathBuf>,
    /// Headless: replace an existing --predictions file (never the data, test or configuration file).
    #[arg(long, requires = "predictions")]
    pub force: bool,
    /// Headless: after the steps, print the explorer's screen rendered at WxH as text.
    #[arg(long, value_name = "WxH")]
    pub screen: Option<String>,
    /// Monochrome screen (also when NO_COLOR is set and non-empty).
    #[arg(long)]
    pub no_color: bool,
    /// Explorer: open this sweep directory (`memrec-tui sweep --out DIR`) in the Pareto view at
    /// start; its points can be loaded into the knobs (key `o` opens one later).
    #[arg(long, value_name = "DIR", conflicts_with = "headless")]
    pub sweep: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Output file (`-` for standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Replace the file if it exists (never the data, test or configuration file).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
pub struct LessonArgs {
    /// Lesson name (`memrec-tui lesson` lists them) or path to a lesson .ron file.
    #[arg(value_name = "NAME|PATH")]
    pub name: Option<String>,
    /// Run every step without a terminal, each for its budget, and write the handout.
    #[arg(long, requires = "name")]
    pub headless: bool,
    /// Headless: write the handout (Markdown) here and each step's AUC chart beside it
    /// (FILE-step-N.svg); an existing file is refused unless --force. Without it, the
    /// Markdown goes to standard output.
    #[arg(long, value_name = "FILE", requires = "headless")]
    pub handout: Option<PathBuf>,
    /// Replace an existing handout and its charts (never the lesson file).
    #[arg(long, requires = "handout")]
    pub force: bool,
    /// Train this share (above 0, at most 1) of every step's budget and sample counts: a quick
    /// check, not the lesson (the handout says so).
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    pub budget_scale: f64,
}

#[derive(Debug, Clone, Args)]
pub struct StatsArgs {
    /// Criteo TSV files (plain or .gz) or globs, read in order; defaults to --data.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Stop after this many rows (0 = all; --rows N says the same).
    #[arg(long, default_value_t = 0)]
    pub max_rows: u64,
}

#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SweepArgs {
    /// A planned (Slurm) sweep's steps: `run-point`, `status`, `report`.
    #[command(subcommand)]
    pub action: Option<sweep_cluster::SweepAction>,
    /// Planning and Slurm (`--plan`, `--slurm`, ...).
    #[command(flatten)]
    pub cluster: Box<sweep_cluster::ClusterArgs>,
    /// The grid: `;`-separated axes PATH=V1,V2,... or PATH=A..B (powers of two from A to B) or
    /// PATH=A..B:xN (A, A*N, ... up to B), over memrec.*, model.* and train.* fields, e.g.
    /// "memrec.k=1,2,4;memrec.token_rows=4096..262144". Several grids joined by `|` run one
    /// after the other, e.g. one per compression method with its own knobs:
    /// "memrec.token_rows=1024..65536 | memrec.method=qr;memrec.qr_collisions=1024..16384".
    #[arg(long, value_name = "SPEC")]
    pub grid: Option<String>,
    /// Stop every run after N optimizer steps (batches).
    #[arg(long, value_name = "N", conflicts_with = "epochs")]
    pub steps: Option<u64>,
    /// Stop every run after E passes over the training file (files only).
    #[arg(long, value_name = "E")]
    pub epochs: Option<u64>,
    /// Sweep directory (points.jsonl, report); default sweep-<preset>-<hash>. Re-running the
    /// same command resumes it.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Points trained at once; each gets threads/J worker threads (default: one per thread).
    #[arg(long, value_name = "J")]
    pub jobs: Option<usize>,
}

impl ConfigArgs {
    /// Build the session configuration: the preset or file, then the flags, then every --set.
    pub fn resolve(&self) -> Result<Config, ConfigError> {
        let mut cfg = match (&self.config, &self.preset) {
            (Some(path), _) => Config::load(path)?,
            (None, Some(p)) => Config::from_preset(p)?,
            (None, None) => Config::from_preset("kaggle")?,
        };
        if let Some((first, more)) = self.data.split_first() {
            cfg.data.train = Some(first.display().to_string());
            cfg.data.more_train = more.iter().map(|d| d.display().to_string()).collect();
            cfg.data.test = self.test.as_ref().map(|t| t.display().to_string());
        }
        if let Some(n) = self.rows {
            cfg.data.max_rows = n;
        }
        if self.strict {
            cfg.data.strict = true;
        }
        if let Some(s) = self.seed {
            cfg.seed = s;
        }
        if let Some(t) = self.threads {
            cfg.threads = t;
        }
        // Every --set first, then one validation: a rule tying two fields (the bottom MLP ends
        // in model.dim) holds only once both are set, in whichever order they were given.
        cfg.apply_sets(&self.sets)?;
        Ok(cfg)
    }
}

impl ConfigArgs {
    /// The files this command reads, with their role: never a valid output, even with --force.
    pub fn input_files(&self, cfg: &Config) -> Vec<(String, PathBuf)> {
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        if let Some(c) = &self.config {
            files.push(("configuration".into(), c.clone()));
        }
        if let Some(p) = &self.preset
            && Path::new(p).is_file()
        {
            files.push(("preset".into(), PathBuf::from(p)));
        }
        files.extend(self.data.iter().map(|d| ("data".into(), d.clone())));
        files.extend(self.test.iter().map(|t| ("test".into(), t.clone())));
        // A configuration file or a --set may name the data instead of --data.
        files.extend(cfg.data.train.iter().map(|d| ("data".into(), d.into())));
        files.extend(
            cfg.data
                .more_train
                .iter()
                .map(|d| ("data".into(), d.into())),
        );
        files.extend(cfg.data.test.iter().map(|t| ("test".into(), t.into())));
        // And the files its globs match.
        let opts = cfg.data_options();
        if let Ok(found) =
            crate::data::criteo::DataFiles::resolve(&opts.train, opts.test.as_deref())
        {
            files.extend(found.test_file().map(|t| ("test".into(), t.to_path_buf())));
            files.extend(found.train.into_iter().map(|d| ("data".into(), d)));
        }
        files
    }
}

/// Every data file of `cfg` exists and every glob matches: checked before anything runs (exit 2
/// naming the missing file or the empty glob).
pub fn check_data(cfg: &Config) -> Result<(), CliError> {
    let opts = cfg.data_options();
    if opts.train.is_empty() {
        return Ok(());
    }
    crate::data::criteo::DataFiles::resolve(&opts.train, opts.test.as_deref())
        .map(|_| ())
        .map_err(CliError::data)
}

/// Refuse the output file `path` of `flag` before any work (exit 2): see `util::check_output_file`.
pub fn check_output(
    flag: &str,
    path: &Path,
    inputs: &[(String, PathBuf)],
    force: bool,
    example: &str,
) -> Result<(), CliError> {
    crate::util::check_output_file(flag, path, inputs, force, example).map_err(CliError::usage)
}

/// Run the parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    crate::data::progress::set_enabled(!cli.run.quiet && !cli.run.json);
    match &cli.command {
        Some(Command::Export(args)) => {
            let cfg = cli.config.resolve()?;
            if args.output.as_os_str() != "-" {
                let inputs = cli.config.input_files(&cfg);
                check_output("-o", &args.output, &inputs, args.force, "config.ron")?;
            }
            export::run_cli(&cfg, args)
        }
        Some(Command::Bench(_)) => {
            let cfg = cli.config.resolve()?;
            bench::run_cli(&cfg, cli.run.json)
        }
        Some(Command::Stats(args)) => {
            let mut given = args.files.clone();
            if given.is_empty() {
                given.extend(cli.config.data.iter().cloned());
            }
            if given.is_empty() {
                return Err(CliError::usage(anyhow::anyhow!(
                    "stats needs a Criteo file: memrec-tui stats FILE (or --data FILE)"
                )));
            }
            let given: Vec<String> = given.iter().map(|f| f.display().to_string()).collect();
            let files = crate::data::criteo::expand_files(&given).map_err(CliError::data)?;
            let max_rows = match (args.max_rows, cli.config.rows) {
                (0, Some(n)) => n,
                (n, _) => n,
            };
            stats::run_cli(&files, cli.config.strict, max_rows, cli.run.json)
        }
        Some(Command::Sweep(args)) => sweep::run_cli(&cli.config, args, cli.run.json),
        Some(Command::Lesson(args)) => lesson::run_cli(&cli.config, args, &cli.run),
        None => {
            let cfg = cli.config.resolve()?;
            check_data(&cfg)?;
            if let (true, Some(p)) = (cli.run.headless, &cli.run.predictions) {
                // Before the data is read or anything trained.
                let inputs = cli.config.input_files(&cfg);
                check_output(
                    "--predictions",
                    p,
                    &inputs,
                    cli.run.force,
                    "predictions.tsv",
                )?;
            }
            if cli.run.headless {
                headless::run_cli(&cfg, &cli.run)
            } else {
                explore::run_cli(&cfg, &cli.run)
            }
        }
    }
}
