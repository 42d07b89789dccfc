//! `--headless`: the training engine without a terminal. Prints one JSON object per line
//! (`--json`: `{"type":"eval",...}` per run per evaluation, `{"type":"summary",...}` per run at the
//! end) or a readable table, writes `--predictions`, and renders `--screen WxH` as text.
//! SIGINT or SIGTERM stops every run at its next step: the summaries say `cancelled`, the
//! predictions come from each run's last evaluation (stderr says at which samples) and the exit
//! code is 128 + the signal; a second signal exits at once.
//!
//! Owns: argument checks specific to headless runs and the output formats. Must never: train by
//! itself (it drives the same `Engine` as the explorer) or print anything but results on stdout
//! (notes and warnings go to stderr).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;

use crate::cli::{CliError, RunArgs};
use crate::config::Config;
use crate::data::{BadLines, DataError, DataSource};
use crate::signals::Cancel;
use crate::train::engine::{Engine, EngineOptions, RunPredictions};
use crate::train::protocol::{EngineCommand, EngineEvent, EvalPoint, RunSummary};

/// Parse `WxH` (e.g. `120x40`) for `--screen`.
pub fn parse_screen(s: &str) -> Result<(u16, u16), CliError> {
    let bad = || {
        CliError::usage(anyhow!(
            "--screen {s}: expected WIDTHxHEIGHT in characters, e.g. 120x40 (each 1 to 1000)"
        ))
    };
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u16 = w.trim().parse().map_err(|_| bad())?;
    let h: u16 = h.trim().parse().map_err(|_| bad())?;
    if !(1..=1000).contains(&w) || !(1..=1000).contains(&h) {
        return Err(bad());
    }
    Ok((w, h))
}

/// Engine options for a headless run: the step or epoch budget, checked against the data.
pub fn options(cfg: &Config, args: &RunArgs) -> Result<EngineOptions, CliError> {
    let (max_steps, max_epochs) = match (args.steps, args.epochs) {
        (Some(0), _) => return Err(CliError::usage(anyhow!("--steps 0: at least 1 step"))),
        (_, Some(0)) => return Err(CliError::usage(anyhow!("--epochs 0: at least 1 epoch"))),
        (Some(s), None) => (Some(s), None),
        (None, Some(e)) => {
            if cfg.data.train.is_none() {
                return Err(CliError::usage(anyhow!(
                    "--epochs needs a training file (--data FILE): the synthetic stream has no end; use --steps N"
                )));
            }
            (None, Some(e))
        }
        (None, None) => {
            return Err(CliError::usage(anyhow!(
                "--headless needs a budget: --steps N (optimizer steps, i.e. batches) or --epochs E (passes over --data)"
            )));
        }
        (Some(_), Some(_)) => {
            return Err(CliError::usage(anyhow!(
                "--steps and --epochs cannot be combined"
            )));
        }
    };
    Ok(EngineOptions {
        max_steps,
        max_epochs,
        exit_when_done: true,
        ..EngineOptions::default()
    })
}

fn data_error(e: DataError) -> CliError {
    CliError::data(e)
}

pub fn run_cli(cfg: &Config, args: &RunArgs) -> Result<(), CliError> {
    let opts = options(cfg, args)?;
    let screen = args.screen.as_deref().map(parse_screen).transpose()?;
    let source = crate::data::open_for_training(&cfg.data_options()).map_err(data_error)?;
    let signals =
        crate::signals::Listener::start(&[crate::signals::SIGINT, crate::signals::SIGTERM], true)
            .map_err(|e| CliError::runtime(anyhow!("cannot listen for signals: {e}")))?;
    run_cancellable(
        cfg,
        args,
        source,
        opts,
        screen,
        &mut std::io::stdout().lock(),
        &signals.cancel(),
    )
}

/// The headless session on an opened source, writing results to `out` (tests pass a buffer).
pub fn run_with(
    cfg: &Config,
    args: &RunArgs,
    source: Arc<dyn DataSource>,
    opts: EngineOptions,
    screen: Option<(u16, u16)>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    run_cancellable(cfg, args, source, opts, screen, out, &Cancel::never())
}

/// `run_with` that `cancel` can stop: every run ends at its next step with status `cancelled`,
/// the summaries and predictions are still written, and the result is `CliError::Interrupted`.
pub fn run_cancellable(
    cfg: &Config,
    args: &RunArgs,
    source: Arc<dyn DataSource>,
    mut opts: EngineOptions,
    screen: Option<(u16, u16)>,
    out: &mut dyn Write,
    cancel: &Cancel,
) -> Result<(), CliError> {
    let test_labels = if args.predictions.is_some() {
        Some(source.test_set().map_err(data_error)?.labels)
    } else {
        None
    };
    let (ptx, prx) = crossbeam_channel::unbounded::<RunPredictions>();
    if test_labels.is_some() {
        opts.predictions = Some(ptx);
    } else {
        drop(ptx);
    }
    let (tx, rx) = crossbeam_channel::unbounded();
    let handle = Engine::spawn_with(cfg.clone(), source, tx, opts).map_err(CliError::runtime)?;
    let io = |e: std::io::Error| CliError::runtime(anyhow!("cannot write results: {e}"));
    let mut events = Vec::new();
    let mut failures = Vec::new();
    let mut summaries: Vec<RunSummary> = Vec::new();
    let mut notes = BadLineNotes::default();
    if !args.json {
        writeln!(out, "data: {}", cfg.data_label()).map_err(io)?;
        writeln!(
            out,
            "{:<10} {:>4} {:>12} {:>8} {:>17} {:>8} {:>10} {:>9}",
            "run", "gen", "samples", "auc", "95% interval", "logloss", "samples/s", "ΔAUC"
        )
        .map_err(io)?;
    }
    // The engine closes the channel when every run has finished or failed (or was cancelled).
    let mut stopping = false;
    while let Some(e) = cancel.recv(&rx, &mut stopping, || stop(&handle, cancel)) {
        match &e {
            EngineEvent::Eval(p) => write_eval(out, p, args.json).map_err(io)?,
            EngineEvent::Finished(s) => summaries.push(s.clone()),
            EngineEvent::RunFailed {
                run,
                generation,
                message,
            } => {
                eprintln!("run {run} (generation {generation}) stopped: {message}");
                failures.push(format!("{run}: {message}"));
            }
            // Worded as when the engine reported it as a run named `data`: output unchanged.
            EngineEvent::EngineFailed { message } => {
                eprintln!("run data (generation 0) stopped: {message}");
                failures.push(format!("data: {message}"));
            }
            EngineEvent::DataReady { bad_lines, .. } => notes.opened(bad_lines),
            EngineEvent::DataIssues(bad_lines) => notes.training(bad_lines),
            _ => {}
        }
        if screen.is_some() {
            events.push(e);
        }
    }
    drop(handle);
    notes.finish();
    for s in &summaries {
        write_summary(out, s, args.json).map_err(io)?;
    }
    if let (Some(path), Some(labels)) = (&args.predictions, &test_labels) {
        let preds: Vec<RunPredictions> = prx.try_iter().collect();
        write_predictions(path, labels, &preds, args.force)?;
        if stopping {
            note_predictions(path, &summaries, &preds);
        }
    }
    if let Some((w, h)) = screen {
        let text = crate::ui::text::render_screen_text(cfg, &events, w, h);
        // With --json, standard output holds only JSON lines: the screen goes to stderr.
        if args.json {
            eprintln!("{text}");
        } else {
            writeln!(out, "{text}").map_err(io)?;
        }
    }
    out.flush().map_err(io)?;
    if let Some(signal) = cancel.signal().filter(|_| stopping) {
        return Err(CliError::Interrupted(signal));
    }
    if !failures.is_empty() {
        return Err(CliError::runtime(anyhow!(
            "{} run(s) failed: {}",
            failures.len(),
            failures.join("; ")
        )));
    }
    Ok(())
}

/// Ask the engine to stop every run at its next step, and say so.
fn stop(handle: &crate::train::engine::EngineHandle, cancel: &Cancel) {
    handle.send(EngineCommand::Shutdown);
    eprintln!(
        "{}: stopping every run at its next step (again to exit at once, without summaries)",
        crate::signals::name(cancel.signal().unwrap_or(crate::signals::SIGINT))
    );
}

/// After a cancellation, say on stderr which model each run's predictions come from.
fn note_predictions(path: &Path, summaries: &[RunSummary], preds: &[RunPredictions]) {
    let mut parts: Vec<String> = preds
        .iter()
        .map(|p| format!("{} at {} samples", p.run, p.samples))
        .collect();
    for s in summaries {
        if !preds.iter().any(|p| p.run == s.run) {
            parts.push(format!("{}: none (no evaluation yet)", s.run));
        }
    }
    eprintln!(
        "{}: predictions of each run's last evaluation before the stop: {}",
        path.display(),
        parts.join(", ")
    );
}

/// The bad-line notes on stderr, each once. The source's (found while opening it: the whole file
/// when the test rows are its tail) are printed at once; the training stream's count is
/// cumulative and, for a split file, a part of those, so it is printed only at the end and only
/// if it tells something new (a separate --test file's training part).
#[derive(Default)]
struct BadLineNotes {
    shown: BadLines,
    training: Option<BadLines>,
}

impl BadLineNotes {
    fn opened(&mut self, bad: &BadLines) {
        if bad.count > 0 {
            eprintln!(
                "skipped {} bad input line(s), e.g. {}",
                bad.count,
                bad.first.join("; ")
            );
            self.shown = bad.clone();
        }
    }

    fn training(&mut self, bad: &BadLines) {
        self.training = Some(bad.clone());
    }

    fn finish(&self) {
        let Some(bad) = &self.training else { return };
        let new =
            bad.count > self.shown.count || bad.first.iter().any(|l| !self.shown.first.contains(l));
        if bad.count > 0 && new {
            eprintln!(
                "skipped {} bad input line(s) of the training rows, e.g. {}",
                bad.count,
                bad.first.join("; ")
            );
        }
    }
}

fn tagged(kind: &str, v: impl serde::Serialize) -> serde_json::Value {
    let mut v = serde_json::to_value(v).unwrap_or(serde_json::Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("type".into(), kind.into());
    }
    v
}

fn fmt_delta(d: Option<crate::train::protocol::DeltaAuc>) -> String {
    d.map_or("-".into(), |d| {
        format!("{:+.4} [{:+.4}, {:+.4}]", d.delta, d.lo, d.hi)
    })
}

fn write_eval(out: &mut dyn Write, p: &EvalPoint, json: bool) -> std::io::Result<()> {
    if json {
        return writeln!(out, "{}", tagged("eval", p));
    }
    writeln!(
        out,
        "{:<10} {:>4} {:>12} {:>8.4} [{:.4}, {:.4}] {:>8.4} {:>10.0} {}",
        p.run,
        p.generation,
        p.samples,
        p.auc,
        p.auc_lo,
        p.auc_hi,
        p.logloss,
        p.samples_per_s,
        fmt_delta(p.delta_auc)
    )
}

fn write_summary(out: &mut dyn Write, s: &RunSummary, json: bool) -> std::io::Result<()> {
    if json {
        return writeln!(out, "{}", tagged("summary", s));
    }
    writeln!(
        out,
        "\n{} ({}): {} after {} steps ({} samples, {:.0} samples/s)",
        s.run, s.representation, s.status, s.steps, s.samples, s.samples_per_s
    )?;
    writeln!(
        out,
        "  test AUC {:.4} [{:.4}, {:.4}], logloss {:.4}{}",
        s.auc,
        s.auc_lo,
        s.auc_hi,
        s.logloss,
        s.oracle_auc
            .map_or(String::new(), |o| format!(", oracle AUC {o:.4}"))
    )?;
    if s.delta_auc.is_some() {
        writeln!(out, "  ΔAUC vs baseline {}", fmt_delta(s.delta_auc))?;
    }
    writeln!(
        out,
        "  tables {} bytes (+{} optimizer), {:.1}x smaller than the full uncompressed tables, {:.1}x than the loaded vocabulary",
        s.table_bytes, s.optimizer_bytes, s.compression_full, s.compression_loaded
    )
}

/// Write the predictions file; without `force` a file that appeared since the start is kept (the
/// start checked that none was there, `cli::check_output`).
fn write_predictions(
    path: &Path,
    labels: &[f32],
    preds: &[RunPredictions],
    force: bool,
) -> Result<(), CliError> {
    let mut text = String::with_capacity(preds.len() * labels.len() * 24);
    for p in preds {
        for (y, q) in labels.iter().zip(&p.probs) {
            // `{}` prints the shortest text that reads back as the same f32.
            text.push_str(&format!("{}\t{}\t{}\n", p.run, *y as u8, q));
        }
    }
    crate::util::write_atomic(path, text.as_bytes(), force).map_err(CliError::write)
}
