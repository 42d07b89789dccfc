//! `memrec-tui lesson`: the list of lessons; `lesson NAME` opens the explorer in lesson mode;
//! `lesson NAME --headless [--handout FILE]` runs every step without a terminal, on the same
//! engine and the same update code as the explorer, and writes a Markdown handout with the
//! figures measured in the run and an SVG chart per step beside it.
//!
//! Owns: the command's checks, reading the machine (memory, caches), timing the steps and writing
//! the handout. Must never: overwrite a file without --force (every output path is checked before
//! any training), or decide a step's condition (app::lesson does).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::anyhow;
use crossbeam_channel::unbounded;

use super::{CliError, ConfigArgs, LessonArgs, RunArgs};
use crate::app::handout::{self, Machine, StepRecord};
use crate::app::lesson::LessonSession;
use crate::app::msg::{Effect, Msg};
use crate::app::state::{AppState, LatencyKey};
use crate::app::update::{next_step, start_lesson, update};
use crate::config::Config;
use crate::config::lesson::{
    Figure, LESSONS, LessonError, LoadedLesson, load_lesson, parse_lesson,
};
use crate::signals::Cancel;
use crate::train::engine::{Engine, EngineHandle, EngineOptions};
use crate::train::protocol::{EngineCommand, EngineEvent};

impl From<LessonError> for CliError {
    fn from(e: LessonError) -> Self {
        CliError::usage(e)
    }
}

/// Run the `lesson` command.
pub fn run_cli(config: &ConfigArgs, args: &LessonArgs, run: &RunArgs) -> Result<(), CliError> {
    let Some(name) = &args.name else {
        return list(run.json);
    };
    if config.preset.is_some()
        || config.config.is_some()
        || !config.data.is_empty()
        || config.rows.is_some()
        || !config.sets.is_empty()
    {
        return Err(CliError::usage(anyhow!(
            "a lesson brings its own configuration: --preset, --config, --data, --rows and --set do not apply (--seed and --threads do)"
        )));
    }
    if !(args.budget_scale > 0.0 && args.budget_scale <= 1.0) {
        return Err(CliError::usage(anyhow!(
            "--budget-scale {}: a factor above 0 and at most 1",
            args.budget_scale
        )));
    }
    let mut lesson = load_lesson(name)?;
    apply_seed_threads(&mut lesson, config);
    let lesson = Arc::new(lesson);
    if !args.headless {
        use std::io::IsTerminal;
        if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
            return Err(CliError::usage(anyhow!(
                "a lesson in the explorer needs a terminal, and standard input/output is not one; \
                 use `memrec-tui lesson {name} --headless [--handout FILE]`"
            )));
        }
        let start = crate::app::runtime::LessonStart {
            lesson: Arc::clone(&lesson),
            scale: args.budget_scale,
        };
        return super::explore::run_session(&lesson.configs[0], run, Some(start));
    }
    let outputs = match &args.handout {
        Some(path) => {
            let outs = handout_paths(path, lesson.steps().len());
            let inputs = lesson_inputs(name);
            for p in &outs {
                super::check_output("--handout", p, &inputs, args.force, "handout.md")?;
            }
            Some(outs)
        }
        None => None,
    };
    let signals =
        crate::signals::Listener::start(&[crate::signals::SIGINT, crate::signals::SIGTERM], true)
            .map_err(|e| CliError::runtime(anyhow!("cannot listen for signals: {e}")))?;
    let machine = read_machine();
    let opts = HeadlessOptions {
        scale: args.budget_scale,
        max_latency_bytes: None,
    };
    let records = run_headless(&lesson, &opts, &machine, &signals.cancel(), |line| {
        eprintln!("{line}")
    })?;
    let data_label = lesson.configs[0].data_label();
    let md = handout::markdown(
        &lesson,
        &records,
        &svg_names(outputs.as_deref()),
        args.budget_scale,
        &data_label,
        &machine,
    );
    match outputs {
        Some(outs) => write_handout(&outs, &md, &records, args.force)?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(md.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| CliError::runtime(anyhow!("cannot write the handout: {e}")))?;
        }
    }
    Ok(())
}

/// `--seed` and `--threads` apply to every step's configuration.
fn apply_seed_threads(lesson: &mut LoadedLesson, config: &ConfigArgs) {
    for cfg in std::iter::once(&mut lesson.base).chain(lesson.configs.iter_mut()) {
        if let Some(s) = config.seed {
            cfg.seed = s;
        }
        if let Some(t) = config.threads {
            cfg.threads = t;
        }
    }
}

/// The lesson file (when a path), never a valid output.
fn lesson_inputs(name: &str) -> Vec<(String, PathBuf)> {
    if LESSONS.iter().any(|(n, _)| *n == name) {
        Vec::new()
    } else {
        vec![("lesson".into(), PathBuf::from(name))]
    }
}

/// The handout and its charts: `FILE`, then `STEM-step-N.svg` beside it.
pub fn handout_paths(md: &Path, steps: usize) -> Vec<PathBuf> {
    let stem = md
        .file_stem()
        .map_or_else(|| "handout".into(), |s| s.to_string_lossy().into_owned());
    let dir = md.parent().unwrap_or(Path::new(""));
    let mut out = vec![md.to_path_buf()];
    out.extend((1..=steps).map(|i| dir.join(format!("{stem}-step-{i}.svg"))));
    out
}

/// The charts' names as the Markdown links them (beside the handout).
fn svg_names(outs: Option<&[PathBuf]>) -> Vec<String> {
    outs.map_or_else(Vec::new, |o| {
        o.iter()
            .skip(1)
            .map(|p| {
                p.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            })
            .collect()
    })
}

/// Write the charts, then the handout (each create-exclusive unless --force).
fn write_handout(
    outs: &[PathBuf],
    md: &str,
    records: &[StepRecord],
    force: bool,
) -> Result<(), CliError> {
    for (path, r) in outs.iter().skip(1).zip(records) {
        crate::util::write_atomic(path, r.svg.as_bytes(), force).map_err(CliError::write)?;
    }
    crate::util::write_atomic(&outs[0], md.as_bytes(), force).map_err(CliError::write)?;
    eprintln!(
        "handout written: {} (and {} chart(s) beside it)",
        outs[0].display(),
        records.len()
    );
    Ok(())
}

/// The embedded lessons: name, title, minutes (`--json`: one object per line).
fn list(json: bool) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    let io = |e: std::io::Error| CliError::runtime(anyhow!("cannot write: {e}"));
    for (name, text) in LESSONS {
        let l = parse_lesson(text, &format!("presets/lessons/{name}.ron"))?;
        if json {
            let v = serde_json::json!({
                "name": name,
                "title": l.lesson.title,
                "minutes": l.lesson.minutes,
                "steps": l.steps().len(),
                "preset": l.lesson.preset,
            });
            writeln!(out, "{v}").map_err(io)?;
        } else {
            writeln!(
                out,
                "{name:<16} {:>3} min  {} ({} steps, preset {})",
                l.lesson.minutes,
                l.lesson.title,
                l.steps().len(),
                l.lesson.preset
            )
            .map_err(io)?;
        }
    }
    if !json {
        writeln!(
            out,
            "\nmemrec-tui lesson NAME opens one in the explorer; --headless --handout FILE writes its handout."
        )
        .map_err(io)?;
    }
    Ok(())
}

/// What the CLI reads of the machine for the handout.
pub fn read_machine() -> Machine {
    let memory = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with("MemTotal:"))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
            .map(|kb| kb * 1024)
    });
    Machine {
        memory,
        caches: crate::train::latency::cache_sizes(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// How a headless lesson runs beyond its file.
#[derive(Debug, Clone)]
pub struct HeadlessOptions {
    /// Multiplier of the step budgets (1 = the lesson's own).
    pub scale: f64,
    /// Skip a latency measurement whose full-size gather table exceeds this (quick checks on a
    /// shared machine); the handout says it was not measured and why.
    pub max_latency_bytes: Option<u64>,
}

/// Run every step of `lesson` on the engine, as the explorer would with `n` pressed as soon as
/// each step may go on and its budget is trained; `note` gets one line per step.
pub fn run_headless(
    lesson: &Arc<LoadedLesson>,
    opts: &HeadlessOptions,
    machine: &Machine,
    cancel: &Cancel,
    mut note: impl FnMut(&str),
) -> Result<Vec<StepRecord>, CliError> {
    let cfg: Config = lesson.configs[0].clone();
    let source = crate::data::open_for_training(&cfg.data_options()).map_err(CliError::data)?;
    let (tx, rx) = unbounded();
    let engine = Engine::spawn_with(cfg.clone(), source, tx, EngineOptions::default())
        .map_err(CliError::runtime)?;
    let mut state = AppState::new(cfg);
    let mut fx = Vec::new();
    start_lesson(&mut state, Arc::clone(lesson), opts.scale, &mut fx);
    send(&engine, &mut state, fx, opts);
    let mut records = Vec::new();
    let mut started = Instant::now();
    let mut stopping = false;
    while let Some(ev) = cancel.recv(&rx, &mut stopping, || engine.send(EngineCommand::Shutdown)) {
        if let EngineEvent::EngineFailed { message } = &ev {
            return Err(CliError::runtime(anyhow!("the engine stopped: {message}")));
        }
        let fx = update(&mut state, Msg::Engine(ev));
        send(&engine, &mut state, fx, opts);
        if let Some(msg) = failure(&state) {
            return Err(CliError::runtime(anyhow!("{msg}")));
        }
        let Some(l) = state.lesson.clone() else {
            break;
        };
        let latency = latency_status(&state, &l, opts);
        if !l.headless_done(&state) || latency == LatencyStatus::Waiting {
            continue;
        }
        let why = match &latency {
            LatencyStatus::Skipped(why) => Some(why.as_str()),
            _ => None,
        };
        let r = handout::record(&state, &l, machine, started.elapsed().as_secs_f64(), why);
        note(&format!(
            "step {}/{} {}: {} samples, {:.1} s, {}",
            l.step + 1,
            l.lesson.steps().len(),
            l.current().title,
            r.samples,
            r.seconds,
            if r.reached { "reached" } else { "NOT reached" }
        ));
        records.push(r);
        started = Instant::now();
        let mut fx = Vec::new();
        next_step(&mut state, &mut fx);
        send(&engine, &mut state, fx, opts);
        if state.lesson.is_none() {
            break;
        }
    }
    let _ = engine.shutdown();
    if stopping && let Some(signal) = cancel.signal() {
        return Err(CliError::Interrupted(signal));
    }
    if records.len() < lesson.steps().len() {
        return Err(CliError::runtime(anyhow!(
            "the engine stopped after {} of {} steps",
            records.len(),
            lesson.steps().len()
        )));
    }
    Ok(records)
}

/// A run that failed (divergence, data error): the lesson cannot go on.
fn failure(state: &AppState) -> Option<String> {
    [&state.baseline, &state.compressed]
        .into_iter()
        .flatten()
        .find_map(|r| {
            r.failed
                .as_ref()
                .map(|m| format!("run {} failed: {m}", r.id))
        })
}

#[derive(Debug, Clone, PartialEq)]
enum LatencyStatus {
    /// The step shows no latency, or it is measured.
    Ready,
    Waiting,
    Skipped(String),
}

fn latency_status(state: &AppState, l: &LessonSession, opts: &HeadlessOptions) -> LatencyStatus {
    if !l.current().figures.contains(&Figure::Latency) {
        return LatencyStatus::Ready;
    }
    if let Some(why) = latency_skip(&state.cfg, opts) {
        return LatencyStatus::Skipped(why);
    }
    if state.latency_for(&state.cfg).is_some()
        || matches!(state.latency, crate::app::state::LatencyView::Failed(_))
    {
        LatencyStatus::Ready
    } else {
        LatencyStatus::Waiting
    }
}

fn latency_skip(cfg: &Config, opts: &HeadlessOptions) -> Option<String> {
    let full = cfg.dataset_uncompressed_bytes();
    opts.max_latency_bytes.filter(|m| full > *m).map(|m| {
        format!(
            "latency: not measured in this run: the full-size gather table ({}) exceeds this run's limit of {}",
            crate::util::units::fmt_bytes(full),
            crate::util::units::fmt_bytes(m)
        )
    })
}

/// Carry out update's effects: engine commands are sent, except latency measurements no step
/// of the handout shows (a headless run measures only what it prints).
fn send(engine: &EngineHandle, state: &mut AppState, fx: Vec<Effect>, opts: &HeadlessOptions) {
    for f in fx {
        let Effect::Engine(cmd) = f else {
            continue;
        };
        if let EngineCommand::MeasureLatency(cfg) = &cmd {
            let key = LatencyKey::of(cfg);
            let wanted = state.lesson.as_ref().is_some_and(|l| {
                l.current().figures.contains(&Figure::Latency) && key == LatencyKey::of(&state.cfg)
            }) && latency_skip(cfg, opts).is_none();
            if !wanted {
                // Forget the request so answers pair with the measurements actually asked.
                if let Some(at) = state.latency_requests.iter().rposition(|k| *k == key) {
                    state.latency_requests.remove(at);
                }
                continue;
            }
        }
        engine.send(cmd);
    }
}
