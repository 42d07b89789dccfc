//! The explorer command (no subcommand, no --headless): check that there is a terminal, open the
//! data, listen for signals, start the engine, then hand over to the explorer's runtime
//! (`app::runtime::run_terminal`) and shut the engine down after it.
//!
//! Owns: the order of those steps and their errors' exit codes. Must never: draw or handle keys
//! (`app` does).

use std::io::IsTerminal;

use crossbeam_channel::unbounded;

use super::{CliError, RunArgs};
use crate::app::runtime::{EngineLink, LessonStart, run_terminal};
use crate::config::Config;
use crate::signals::{SIGHUP, SIGINT, SIGTERM};
use crate::train::engine::Engine;
use crate::ui::Theme;

/// Open the explorer on `cfg`: check the terminal, open the data, start the engine, run.
pub fn run_cli(cfg: &Config, args: &RunArgs) -> Result<(), CliError> {
    run_session(cfg, args, None)
}

/// The explorer, opening `lesson` at its first step when given. A lesson picked with `L` whose
/// configuration differs from the session's outside the knobs starts a new session on it.
pub fn run_session(
    cfg: &Config,
    args: &RunArgs,
    mut lesson: Option<LessonStart>,
) -> Result<(), CliError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(CliError::usage(anyhow::anyhow!(
            "the explorer needs a terminal, and standard input/output is not one; \
             use --headless (with --steps N, --json, or --screen 120x40 for a text screen)"
        )));
    }
    let theme = Theme::from_env(args.no_color);
    // Before the terminal changes: from here on a signal quits through the loop, which restores it.
    let signals = crate::signals::Listener::start(&[SIGINT, SIGTERM, SIGHUP], false)
        .map_err(|e| CliError::runtime(anyhow::anyhow!("cannot listen for signals: {e}")))?;
    let mut cfg = cfg.clone();
    let mut sweep = args.sweep.clone();
    loop {
        let source = crate::data::open_for_training(&cfg.data_options()).map_err(CliError::data)?;
        let (ev_tx, ev_rx) = unbounded();
        let engine: Box<dyn EngineLink> =
            Box::new(Engine::spawn(cfg.clone(), source, ev_tx).map_err(CliError::runtime)?);
        let result = run_terminal(
            &cfg,
            engine.as_ref(),
            ev_rx,
            &theme,
            sweep.take(),
            signals.cancel(),
            lesson.take(),
        );
        // The terminal is restored: a second signal may now end a slow engine shutdown at once.
        signals.set_exit_on_repeat(true);
        engine.shutdown();
        match result? {
            None => return Ok(()),
            Some(next) => {
                signals.set_exit_on_repeat(false);
                cfg = next.configs[0].clone();
                lesson = Some(LessonStart {
                    lesson: next,
                    scale: 1.0,
                });
            }
        }
    }
}
