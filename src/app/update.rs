//! `update(state, msg) -> effects`: the only place the explorer's state changes.
//!
//! Owns: what every key and engine event means. Must never: block, do I/O, read the clock (time
//! comes inside `Msg::Key` and `Msg::Tick`), or touch the terminal; side effects are returned as
//! `Effect`s for the runtime to execute.

use std::path::{Path, PathBuf};

use super::keymap::{self, Action};
use super::msg::{Effect, Msg, WriteOutcome};
use super::pareto::{self, PointId};
use super::state::{
    AppState, AucView, DEBOUNCE, DataInfo, Focus, Knob, LatencyKey, LatencyView, Metric, Overlay,
    PendingWrite, ProgressView, RunView, StatusKind, TriedRun, same_memrec_run,
};
use super::sweep::{LoadedSweep, differences_outside_knobs, point_config};
use crate::config::{Config, Method};
use crate::embedding::TableInfo;
use crate::train::protocol::{EngineCommand, EngineEvent};

/// Apply one message; returns what the runtime must do.
pub fn update(state: &mut AppState, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    match msg {
        Msg::Key(ev, _) if matches!(state.overlay, Overlay::Prompt { .. }) => {
            state.dirty = true;
            prompt_key(state, &ev, &mut fx);
        }
        Msg::Key(ev, at) => {
            if let Some(action) = keymap::dispatch(&ev) {
                state.dirty = true;
                on_action(state, action, at, &mut fx);
            }
        }
        Msg::Signal(signal) => {
            state.interrupted.get_or_insert(signal);
            quit(state, &mut fx);
        }
        Msg::Started => {
            // The first measurement waits for the first evaluation: it pauses training (and
            // allocates the full-size tables), which must not delay the first AUC points.
            state.dirty = true;
            state.first_latency_due = true;
        }
        Msg::Resize(..) => state.dirty = true,
        Msg::Engine(ev) => {
            state.dirty = true;
            let evaluated = matches!(ev, EngineEvent::Eval(_));
            on_engine(state, ev);
            if evaluated && state.first_latency_due {
                state.first_latency_due = false;
                if state.latency == LatencyView::Waiting && state.latency_requests.is_empty() {
                    state
                        .latency_requests
                        .push_back(LatencyKey::of(&state.running));
                    fx.push(Effect::Engine(EngineCommand::MeasureLatency(Box::new(
                        state.running.clone(),
                    ))));
                }
            }
        }
        Msg::EngineStopped => {
            // Keep the engine's own reason (e.g. a data error) if it gave one.
            if !state.quitting && state.engine_error.is_none() {
                state.dirty = true;
                let text = "the training engine stopped; the screen shows its last state (q quits)";
                state.engine_error = Some(text.into());
                state.set_status(StatusKind::Error, text);
            }
        }
        Msg::Tick(now) => {
            if state.restart_deadline.is_some_and(|d| now >= d) {
                state.dirty = true;
                fire_restart(state, &mut fx);
            }
        }
        Msg::Written(outcome) => {
            state.dirty = true;
            on_written(state, outcome);
        }
        Msg::OpenSweep(path) => {
            state.dirty = true;
            open_sweep(state, path, &mut fx);
        }
        Msg::SweepLoaded(result) => {
            state.dirty = true;
            match result {
                Ok(sweep) => sweep_loaded(state, *sweep),
                // The sweep shown before (if any) stays: a typo must not lose it.
                Err(msg) => state.set_status(StatusKind::Error, msg),
            }
        }
    }
    fx
}

/// The effect that carries out `write` at `path`.
fn write_effect(path: PathBuf, write: PendingWrite, overwrite: bool) -> Effect {
    match write {
        PendingWrite::Ron(text) => Effect::WriteExport {
            path,
            text,
            overwrite,
        },
        PendingWrite::Report(files) => Effect::WriteReport {
            dir: path,
            files,
            overwrite,
        },
    }
}

/// A key while the path prompt is open: text edits the path; Enter opens it; Esc cancels.
fn prompt_key(
    state: &mut AppState,
    ev: &ratatui::crossterm::event::KeyEvent,
    fx: &mut Vec<Effect>,
) {
    use ratatui::crossterm::event::{KeyCode, KeyModifiers};
    if keymap::dispatch(ev) == Some(Action::Quit) && ev.code != KeyCode::Char('q') {
        // Ctrl-C still quits; a plain `q` is part of a path.
        quit(state, fx);
        return;
    }
    let Overlay::Prompt { input } = &mut state.overlay else {
        return;
    };
    let plain = !ev
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    match ev.code {
        KeyCode::Esc => {
            state.overlay = Overlay::None;
            state.set_status(StatusKind::Info, "open sweep cancelled");
        }
        KeyCode::Enter => {
            let path = input.trim().to_string();
            state.overlay = Overlay::None;
            if path.is_empty() {
                state.set_status(StatusKind::Error, "no sweep directory given");
            } else {
                open_sweep(state, PathBuf::from(path), fx);
            }
        }
        KeyCode::Backspace => {
            input.pop();
        }
        // Paths are short; a runaway paste is cut rather than grown without bound.
        KeyCode::Char(c) if plain && input.chars().count() < 4096 => input.push(c),
        _ => {}
    }
}

fn open_sweep(state: &mut AppState, path: PathBuf, fx: &mut Vec<Effect>) {
    state.set_status(
        StatusKind::Info,
        format!("opening sweep {}…", path.display()),
    );
    fx.push(Effect::LoadSweep(path));
}

fn sweep_loaded(state: &mut AppState, sweep: LoadedSweep) {
    let mut text = sweep.describe();
    let diff = differences_outside_knobs(&sweep.base, &state.cfg);
    let kind = if diff.is_empty() {
        text.push_str("; Enter loads a point into the knobs");
        StatusKind::Info
    } else {
        // Shown, never mixed into the session: Enter on its points is refused.
        text.push_str(&format!(
            "; its base differs from this session outside the knobs ({}{}): points shown, not loadable",
            diff.iter().take(2).cloned().collect::<Vec<_>>().join(", "),
            if diff.len() > 2 { ", …" } else { "" }
        ));
        StatusKind::Error
    };
    if state.pareto_selected.is_some_and(PointId::is_sweep) {
        state.pareto_selected = None;
    }
    state.sweep = Some(sweep);
    state.auc_view = AucView::Pareto;
    state.focus = Focus::Pareto;
    state.set_status(kind, text);
}

fn on_action(state: &mut AppState, action: Action, at: std::time::Instant, fx: &mut Vec<Effect>) {
    if action == Action::Quit {
        quit(state, fx);
        return;
    }
    match state.overlay.clone() {
        Overlay::Help { scroll } => {
            let last = keymap::help_lines().len().saturating_sub(1) as u16;
            match action {
                Action::Up => {
                    state.overlay = Overlay::Help {
                        scroll: scroll.saturating_sub(1),
                    }
                }
                Action::Down => {
                    state.overlay = Overlay::Help {
                        scroll: (scroll + 1).min(last),
                    }
                }
                Action::Help | Action::Back => state.overlay = Overlay::None,
                _ => {}
            }
            return;
        }
        Overlay::ConfirmOverwrite { path, write } => {
            match action {
                Action::Yes => {
                    state.overlay = Overlay::None;
                    fx.push(write_effect(path, write, true));
                }
                Action::No => {
                    state.overlay = Overlay::None;
                    fx.push(write_effect(next_free_name(&path), write, false));
                }
                Action::Back => {
                    state.overlay = Overlay::None;
                    state.set_status(StatusKind::Info, "export cancelled");
                }
                _ => {}
            }
            return;
        }
        // Keys reach the prompt before the keymap (see `update`).
        Overlay::Prompt { .. } => return,
        Overlay::None => {}
    }
    match action {
        Action::Quit | Action::Back => quit(state, fx),
        Action::Help => state.overlay = Overlay::Help { scroll: 0 },
        Action::Up => move_in_focus(state, -1),
        Action::Down => move_in_focus(state, 1),
        Action::FocusNext => state.focus = state.focus.next(state.auc_view == AucView::Pareto),
        Action::FocusPrev => state.focus = state.focus.prev(state.auc_view == AucView::Pareto),
        Action::Increase => edit_knob(state, 1, at),
        Action::Decrease => edit_knob(state, -1, at),
        Action::IncreaseCoarse => edit_knob(state, 2, at),
        Action::DecreaseCoarse => edit_knob(state, -2, at),
        Action::Pause => {
            state.paused = !state.paused;
            fx.push(Effect::Engine(EngineCommand::Pause(state.paused)));
            let text = if state.paused {
                "paused (Space resumes)"
            } else {
                "training resumed"
            };
            state.set_status(StatusKind::Info, text);
        }
        Action::Restart => {
            if state.restart_deadline.is_some() {
                fire_restart(state, fx);
            }
            fx.push(Effect::Engine(EngineCommand::RestartAll));
            state.set_status(StatusKind::Info, "restarting every run from sample 0");
        }
        Action::Export => export(state, fx),
        Action::ScreenDump => fx.push(Effect::WriteScreenDump),
        Action::Pin => pin(state),
        Action::Report => report(state, fx),
        Action::ToggleView => toggle_view(state),
        Action::ToggleMetric => {
            if state.auc_view != AucView::Pareto {
                state.set_status(
                    StatusKind::Info,
                    "a switches the Pareto view's axis: press v first",
                );
                return;
            }
            state.pareto_metric = match state.pareto_metric {
                Metric::Auc => Metric::DeltaAuc,
                Metric::DeltaAuc => Metric::Auc,
            };
            state.set_status(
                StatusKind::Info,
                format!(
                    "Pareto view: {} against table bytes",
                    state.pareto_metric.label()
                ),
            );
        }
        Action::OpenSweep => {
            let input = state
                .sweep
                .as_ref()
                .map_or_else(String::new, |s| s.dir.display().to_string());
            state.overlay = Overlay::Prompt { input };
        }
        Action::Select => {
            if state.focus == Focus::Pareto && state.auc_view == AucView::Pareto {
                load_selected_point(state, fx);
            }
        }
        Action::Yes | Action::No => {}
    }
}

fn toggle_view(state: &mut AppState) {
    match state.auc_view {
        AucView::Curves => {
            state.auc_view = AucView::Pareto;
            state.focus = Focus::Pareto;
            state.set_status(
                StatusKind::Info,
                "Pareto view: ↑↓ select a point, Enter loads it, a AUC/ΔAUC, o opens a sweep, v back to curves",
            );
        }
        AucView::Pareto => {
            state.auc_view = AucView::Curves;
            if state.focus == Focus::Pareto {
                state.focus = Focus::Knobs;
            }
            state.set_status(StatusKind::Info, "AUC curves");
        }
    }
}

/// The configuration of the selected Pareto point and how to name it, or why it has none (the
/// baselines) or may not be used in this session (a sweep of another base).
fn selected_point_config(state: &AppState) -> Result<(Config, String), String> {
    let points = pareto::points(state);
    let Some(p) = pareto::selected_index(state, &points).map(|i| &points[i]) else {
        return Err("no point selected yet".into());
    };
    match p.id {
        PointId::Baseline | PointId::SweepBaseline => {
            Err("the baseline is not a MEM-REC configuration: select a MEM-REC point".into())
        }
        PointId::Run(g) => state
            .runs
            .iter()
            .find(|r| r.generation == g)
            .map(|r| (r.cfg.clone(), format!("run #{g}")))
            .ok_or_else(|| format!("run #{g} is gone")),
        PointId::Sweep(i) => {
            let sweep = state.sweep.as_ref().ok_or("no sweep loaded")?;
            let rec = sweep.points.get(i).ok_or("no such sweep point")?;
            let cfg = point_config(sweep, rec, &state.cfg)?;
            Ok((cfg, format!("sweep point {}", rec.key)))
        }
    }
}

/// Enter on a Pareto point: its configuration becomes the knobs and MEM-REC restarts with it
/// at once (a deliberate choice needs no debounce), as a knob edit would after it.
fn load_selected_point(state: &mut AppState, fx: &mut Vec<Effect>) {
    let (cfg, what) = match selected_point_config(state) {
        Ok(x) => x,
        Err(msg) => {
            state.set_status(StatusKind::Error, msg);
            return;
        }
    };
    if LatencyKey::of(&cfg) != LatencyKey::of(&state.running) {
        state.latency_stale = true;
    }
    state.cfg = cfg;
    fire_restart(state, fx);
    let after = state
        .status
        .as_ref()
        .map_or(String::new(), |s| s.text.clone());
    state.set_status(
        StatusKind::Info,
        format!("loaded {what} into the knobs · {after}"),
    );
}

/// The directory `R` proposes: `memrec-report-<name>` in the working directory.
pub fn default_report_dir(cfg: &Config) -> PathBuf {
    PathBuf::from(format!("memrec-report-{}", safe_name(&cfg.name)))
}

fn report(state: &mut AppState, fx: &mut Vec<Effect>) {
    let files = super::report::render(state);
    state.set_status(StatusKind::Info, "writing the report…");
    fx.push(Effect::WriteReport {
        dir: default_report_dir(&state.cfg),
        files,
        overwrite: false,
    });
}

fn quit(state: &mut AppState, fx: &mut Vec<Effect>) {
    state.quitting = true;
    fx.push(Effect::Quit);
}

fn move_in_focus(state: &mut AppState, delta: i64) {
    match state.focus {
        Focus::Knobs => {
            let n = Knob::visible(&state.cfg).len() as i64;
            state.knob = (state.knob as i64 + delta).rem_euclid(n) as usize;
        }
        Focus::Runs => {
            if let Some(cur) = state.selected_run_index() {
                let last = state.runs.len() - 1;
                let next = (cur as i64 + delta).clamp(0, last as i64) as usize;
                // Back on the newest row: follow new runs again.
                state.selected_run = if next == last { None } else { Some(next) };
            }
        }
        Focus::Pareto => {
            let points = pareto::points(state);
            if let Some(cur) = pareto::selected_index(state, &points) {
                let next = (cur as i64 + delta).clamp(0, points.len() as i64 - 1) as usize;
                state.pareto_selected = Some(points[next].id);
            }
        }
        Focus::Collisions => {
            let rows = state
                .memrec
                .as_ref()
                .map_or(0, |m| m.collisions.len().saturating_sub(1)) as i64;
            state.collisions_scroll =
                (state.collisions_scroll as i64 + delta).clamp(0, rows.max(0)) as u16;
        }
    }
}

fn edit_knob(state: &mut AppState, steps: i32, at: std::time::Instant) {
    let knobs = Knob::visible(&state.cfg);
    let knob = knobs[state.knob.min(knobs.len() - 1)];
    match knob.stepped(&state.cfg, steps) {
        Ok(next) => {
            let before = knob.value(&state.cfg);
            state.cfg = next;
            if knob.affects_latency() {
                state.latency_stale = true;
            }
            state.restart_deadline = Some(at + DEBOUNCE);
            state.set_status(
                StatusKind::Info,
                format!(
                    "{} {} → {}: {} restarts when you stop typing",
                    knob.field(),
                    before,
                    knob.value(&state.cfg),
                    state.cfg.memrec.method.label()
                ),
            );
        }
        Err(e) => state.set_status(StatusKind::Error, e),
    }
}

/// The debounce deadline passed: restart MEM-REC with the knobs in force (and re-measure
/// latency if a kernel knob changed), unless the edits came back to what is already training.
fn fire_restart(state: &mut AppState, fx: &mut Vec<Effect>) {
    state.restart_deadline = None;
    let latest = state.requested.back().unwrap_or(&state.running);
    if same_memrec_run(latest, &state.cfg) {
        state.latency_stale = false;
        state.set_status(
            StatusKind::Info,
            "knobs are back to the configuration already training: no restart",
        );
        return;
    }
    let cfg = state.cfg.clone();
    fx.push(Effect::Engine(EngineCommand::RestartMemrec(Box::new(
        cfg.clone(),
    ))));
    state.requested.push_back(cfg.clone());
    if state.latency_stale {
        state.latency_stale = false;
        let key = LatencyKey::of(&cfg);
        match state.latency_by_key.iter().find(|(k, _)| *k == key) {
            // Measured earlier this session: show it again rather than measure twice.
            Some((_, report)) => state.latency = LatencyView::Ready(report.clone()),
            None => {
                state.latency_requests.push_back(key);
                fx.push(Effect::Engine(EngineCommand::MeasureLatency(Box::new(cfg))));
            }
        }
    }
    state.set_status(
        StatusKind::Info,
        format!(
            "{} restarting: {}, dim {}, {}{} lr {}, batch {}",
            state.cfg.memrec.method.label(),
            state.cfg.compressed_knobs(),
            state.cfg.model.dim,
            if state.cfg.memrec.method == Method::Memrec {
                format!("{}, ", state.cfg.memrec.layout.as_str())
            } else {
                String::new()
            },
            state.cfg.train.optimizer.as_str(),
            state.cfg.train.lr,
            state.cfg.train.batch
        ),
    );
}

/// The file name `e` proposes: `memrec-<name>-k<K>-<token rows>.ron` in the working directory.
pub fn default_export_path(cfg: &Config) -> PathBuf {
    PathBuf::from(format!(
        "memrec-{}-{}.ron",
        safe_name(&cfg.name),
        match cfg.memrec.method {
            Method::Memrec => format!("k{}-{}", cfg.memrec.k, cfg.memrec.token_rows),
            Method::Hashing => format!("hashing-{}", cfg.memrec.hash_rows),
            Method::Qr => format!("qr-{}", cfg.memrec.qr_collisions),
            Method::RobeZ => format!("robe-{}-z{}", cfg.memrec.robe_size, cfg.memrec.robe_z),
        }
    ))
}

/// `name` with everything but ASCII letters, digits, `-` and `_` replaced by `_` (a file name).
fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `x.ron` -> `x-n2.ron`, `x-n2.ron` -> `x-n3.ron`.
pub fn next_free_name(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "memrec".into());
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    // `-nN` rather than `-N`: the default name already ends in a number (the token rows).
    let (base, n) = match stem.rsplit_once("-n") {
        Some((b, n)) if !b.is_empty() && n.parse::<u32>().is_ok_and(|n| n < 10_000) => {
            (b.to_string(), n.parse::<u32>().unwrap_or(1) + 1)
        }
        _ => (stem.clone(), 2),
    };
    path.with_file_name(format!("{base}-n{n}{ext}"))
}

fn export(state: &mut AppState, fx: &mut Vec<Effect>) {
    let (cfg, what) = match (state.focus, state.selected_run_index()) {
        (Focus::Runs, Some(i)) => (
            state.runs[i].cfg.clone(),
            format!("run #{}", state.runs[i].generation),
        ),
        (Focus::Pareto, _) => match selected_point_config(state) {
            Ok(x) => x,
            Err(msg) => {
                state.set_status(StatusKind::Error, format!("not exported: {msg}"));
                return;
            }
        },
        _ => (state.cfg.clone(), "the knobs in force".to_string()),
    };
    match cfg.to_ron() {
        Ok(text) => {
            state.set_status(StatusKind::Info, format!("exporting {what}…"));
            fx.push(Effect::WriteExport {
                path: default_export_path(&cfg),
                text,
                overwrite: false,
            });
        }
        Err(e) => state.set_status(StatusKind::Error, e.to_string()),
    }
}

fn pin(state: &mut AppState) {
    let Some(i) = state.selected_run_index() else {
        state.set_status(StatusKind::Error, "no run to pin yet");
        return;
    };
    let g = state.runs[i].generation;
    if state.pinned == Some(g) {
        state.pinned = None;
        state.set_status(StatusKind::Info, format!("run #{g} unpinned"));
    } else {
        state.pinned = Some(g);
        state.set_status(
            StatusKind::Info,
            format!("run #{g} pinned: the AUC chart and the Runs title compare against it"),
        );
    }
}

fn on_written(state: &mut AppState, outcome: WriteOutcome) {
    match outcome {
        WriteOutcome::Exported(path) => state.set_status(
            StatusKind::Info,
            format!(
                "exported {} (reopen with --config {})",
                path.display(),
                path.display()
            ),
        ),
        WriteOutcome::Exists { path, write } => {
            state.overlay = Overlay::ConfirmOverwrite { path, write };
        }
        WriteOutcome::ReportWritten { dir, files } => state.set_status(
            StatusKind::Info,
            format!("report written to {}: {}", dir.display(), files.join(", ")),
        ),
        WriteOutcome::ScreenDumped(path) => state.set_status(
            StatusKind::Info,
            format!("screen written to {}", path.display()),
        ),
        WriteOutcome::Failed(msg) => state.set_status(StatusKind::Error, msg),
    }
}

/// The baseline is named `baseline...`.
pub fn is_baseline(run: &str) -> bool {
    run.starts_with("baseline")
}

/// MEM-REC runs are named `memrec...`; other names (the engine's `data`) are no run of ours.
pub fn is_run(run: &str) -> bool {
    is_baseline(run) || run.starts_with("memrec")
}

fn start_run(
    state: &mut AppState,
    run: &str,
    generation: u64,
    representation: String,
    tables: Vec<TableInfo>,
) {
    let view = RunView {
        name: run.to_string(),
        generation,
        representation,
        tables,
        ..RunView::default()
    };
    if is_baseline(run) {
        state.baseline = Some(view);
        return;
    }
    for r in state.runs.iter_mut().filter(|r| r.status == "running") {
        r.status = "stopped".into();
    }
    let cfg = state
        .requested
        .pop_front()
        .unwrap_or_else(|| state.running.clone());
    state.running = cfg.clone();
    let tried = TriedRun {
        generation,
        cfg,
        param_bytes: view.param_bytes(),
        optimizer_bytes: view.optimizer_bytes(),
        samples: 0,
        auc: None,
        delta: None,
        curve: Vec::new(),
        eval: None,
        status: "running".into(),
    };
    match state.runs.iter_mut().find(|r| r.generation == generation) {
        Some(r) => *r = tried,
        None => state.runs.push(tried),
    }
    state.collisions_scroll = 0;
    state.memrec = Some(view);
}

/// The view of `run` at `generation`: `None` for a stale generation; an event of a newer
/// generation than known starts that generation.
fn view_mut<'a>(state: &'a mut AppState, run: &str, generation: u64) -> Option<&'a mut RunView> {
    if !is_run(run) {
        return None;
    }
    let known = if is_baseline(run) {
        &state.baseline
    } else {
        &state.memrec
    };
    match known {
        Some(v) if v.generation > generation => return None,
        Some(v) if v.generation == generation => {}
        _ => start_run(state, run, generation, String::new(), Vec::new()),
    }
    if is_baseline(run) {
        state.baseline.as_mut()
    } else {
        state.memrec.as_mut()
    }
}

fn tried_mut<'a>(state: &'a mut AppState, run: &str, generation: u64) -> Option<&'a mut TriedRun> {
    if is_baseline(run) {
        return None;
    }
    state.runs.iter_mut().find(|r| r.generation == generation)
}

fn on_engine(state: &mut AppState, ev: EngineEvent) {
    match ev {
        EngineEvent::DataReady {
            label,
            synthetic,
            test_rows,
            bad_lines,
        } => {
            state.data = Some(DataInfo {
                label,
                synthetic,
                test_rows,
                bad_lines,
            })
        }
        EngineEvent::DataIssues(bad) => {
            if let Some(d) = &mut state.data {
                d.bad_lines = bad;
            }
        }
        EngineEvent::RunStarted {
            run,
            generation,
            representation,
            tables,
            compression_full: _,
        } => {
            let stale = if is_baseline(&run) {
                &state.baseline
            } else {
                &state.memrec
            }
            .as_ref()
            .is_some_and(|v| v.generation > generation);
            if !stale && is_run(&run) {
                start_run(state, &run, generation, representation, tables);
            }
        }
        EngineEvent::Progress {
            run,
            generation,
            samples,
            steps,
            samples_per_s,
            train_loss,
            distinct_tokens,
            loaded_uncompressed_bytes,
        } => {
            if let Some(v) = view_mut(state, &run, generation) {
                v.progress = Some(ProgressView {
                    samples,
                    steps,
                    samples_per_s,
                    train_loss,
                    distinct_tokens,
                    loaded_uncompressed_bytes,
                });
                if let Some(t) = tried_mut(state, &run, generation) {
                    t.samples = samples;
                }
            }
        }
        EngineEvent::Eval(p) => {
            let (run, generation) = (p.run.clone(), p.generation);
            let point = (p.samples as f64, p.auc);
            let (auc, delta, samples) = (p.auc, p.delta_auc, p.samples);
            if let Some(v) = view_mut(state, &run, generation) {
                v.curve.push(point);
                v.last_eval = Some(p.clone());
                if let Some(t) = tried_mut(state, &run, generation) {
                    t.curve.push(point);
                    t.auc = Some(auc);
                    t.delta = delta;
                    t.samples = t.samples.max(samples);
                    t.eval = Some(p);
                }
            }
        }
        EngineEvent::Collisions {
            run,
            generation,
            features,
        } => {
            if let Some(v) = view_mut(state, &run, generation) {
                v.collisions = features;
            }
        }
        EngineEvent::Latency(report) => {
            let key = state
                .latency_requests
                .pop_front()
                .unwrap_or_else(|| LatencyKey::of(&state.running));
            match state.latency_by_key.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = report.clone(),
                None => state.latency_by_key.push((key, report.clone())),
            }
            state.latency = LatencyView::Ready(report);
        }
        EngineEvent::LatencyFailed { message } => {
            state.latency_requests.pop_front();
            state.set_status(
                StatusKind::Error,
                format!("latency measurement failed: {message}"),
            );
            state.latency = LatencyView::Failed(message);
        }
        EngineEvent::RunFailed {
            run,
            generation,
            message,
        } => {
            if !is_run(&run) {
                // Not a run: the engine itself stopped (e.g. the data could not be read).
                let text = format!("the engine stopped ({run}): {message}");
                state.set_status(StatusKind::Error, text.clone());
                state.engine_error = Some(text);
                return;
            }
            let label = if is_baseline(&run) {
                "baseline"
            } else {
                "MEM-REC"
            };
            if let Some(v) = view_mut(state, &run, generation) {
                v.failed = Some(message.clone());
                if let Some(t) = tried_mut(state, &run, generation) {
                    t.status = "failed".into();
                }
                state.set_status(
                    StatusKind::Error,
                    format!("{label} run stopped: {message} (change a knob or press r)"),
                );
            }
        }
        EngineEvent::Finished(summary) => {
            let (run, status) = (summary.run.clone(), summary.status.clone());
            let generation = if is_baseline(&run) {
                state.baseline.as_ref().map(|v| v.generation)
            } else {
                state.memrec.as_ref().map(|v| v.generation)
            };
            if let Some(g) = generation {
                if let Some(v) = view_mut(state, &run, g) {
                    v.finished = Some(summary);
                }
                if let Some(t) = tried_mut(state, &run, g) {
                    t.status = if status == "ok" {
                        "finished".into()
                    } else {
                        status
                    };
                }
            }
        }
    }
}

/// Lines of the help overlay, for scroll bounds (the panel renders the same list).
pub fn help_len() -> usize {
    keymap::help_lines().len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use std::time::{Duration, Instant};

    fn key(c: char, at: Instant) -> Msg {
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE), at)
    }

    fn state() -> AppState {
        AppState::new(Config::from_preset("tiny").unwrap())
    }

    fn restarts(fx: &[Effect]) -> usize {
        fx.iter()
            .filter(|e| matches!(e, Effect::Engine(EngineCommand::RestartMemrec(_))))
            .count()
    }

    #[test]
    fn knob_edits_are_debounced_into_one_restart() {
        let mut s = state();
        let t0 = Instant::now();
        let mut fx = Vec::new();
        // Three quick edits of K (2 -> 3 -> 4 -> 5), each within the debounce window.
        for i in 0..3 {
            fx.extend(update(
                &mut s,
                key('+', t0 + Duration::from_millis(100 * i)),
            ));
        }
        assert_eq!(s.cfg.memrec.k, 5);
        assert!(s.knob_pending(Knob::K));
        fx.extend(update(&mut s, Msg::Tick(t0 + Duration::from_millis(250))));
        assert_eq!(restarts(&fx), 0, "fired before the debounce deadline");
        fx.extend(update(&mut s, Msg::Tick(t0 + Duration::from_millis(600))));
        assert_eq!(restarts(&fx), 1);
        let Some(Effect::Engine(EngineCommand::RestartMemrec(cfg))) = fx
            .iter()
            .find(|e| matches!(e, Effect::Engine(EngineCommand::RestartMemrec(_))))
        else {
            unreachable!()
        };
        assert_eq!(cfg.memrec.k, 5);
        // K affects the kernel: latency is re-measured once.
        assert_eq!(
            fx.iter()
                .filter(|e| matches!(e, Effect::Engine(EngineCommand::MeasureLatency(_))))
                .count(),
            1
        );
        assert_eq!(s.next_deadline(), None);
        // Later ticks do nothing.
        assert!(update(&mut s, Msg::Tick(t0 + Duration::from_secs(5))).is_empty());
    }

    #[test]
    fn edits_that_return_to_the_running_config_do_not_restart() {
        let mut s = state();
        let t0 = Instant::now();
        update(&mut s, key('+', t0));
        update(&mut s, key('-', t0));
        let fx = update(&mut s, Msg::Tick(t0 + Duration::from_secs(1)));
        assert_eq!(restarts(&fx), 0);
        assert!(!s.knob_pending(Knob::K));
    }

    #[test]
    fn the_method_knob_switches_the_compressed_run_and_its_knobs() {
        let mut s = state();
        let t0 = Instant::now();
        // The method is the last knob: one step up from the first wraps to it.
        update(&mut s, key('k', t0));
        assert_eq!(Knob::visible(&s.cfg)[s.knob], Knob::Method);
        update(&mut s, key('+', t0));
        assert_eq!(s.cfg.memrec.method, Method::Hashing);
        assert_eq!(
            Knob::visible(&s.cfg),
            [
                Knob::HashRows,
                Knob::Dim,
                Knob::Optimizer,
                Knob::Lr,
                Knob::Batch,
                Knob::Method
            ]
        );
        update(&mut s, key('+', t0));
        assert_eq!(s.cfg.memrec.method, Method::Qr);
        let fx = update(&mut s, Msg::Tick(t0 + Duration::from_secs(1)));
        assert_eq!(restarts(&fx), 1);
        // A new kernel: its latency is measured.
        assert!(
            fx.iter()
                .any(|e| matches!(e, Effect::Engine(EngineCommand::MeasureLatency(_))))
        );
        let status = s.status.as_ref().map_or("", |st| st.text.as_str());
        assert!(status.contains("QR restarting: c=1024"), "{status}");
        assert_eq!(
            default_export_path(&s.cfg),
            PathBuf::from("memrec-tiny-qr-1024.ron")
        );
    }

    #[test]
    fn lr_edit_restarts_without_measuring_latency() {
        let mut s = state();
        let t0 = Instant::now();
        for _ in 0..7 {
            update(&mut s, key('j', t0));
        }
        assert_eq!(Knob::visible(&s.cfg)[s.knob], Knob::Lr);
        update(&mut s, key(']', t0));
        let fx = update(&mut s, Msg::Tick(t0 + Duration::from_secs(1)));
        assert_eq!(restarts(&fx), 1);
        assert!(
            !fx.iter()
                .any(|e| matches!(e, Effect::Engine(EngineCommand::MeasureLatency(_))))
        );
    }

    #[test]
    fn refused_edit_shows_the_validation_error() {
        let mut s = state();
        let t0 = Instant::now();
        for _ in 0..10 {
            update(&mut s, key('+', t0));
        }
        assert_eq!(s.cfg.memrec.k, 8);
        let st = s.status.clone().unwrap();
        assert_eq!(st.kind, StatusKind::Error);
        assert!(st.text.contains("1 to 8"), "{}", st.text);
    }

    #[test]
    fn pause_toggles_and_tells_the_engine() {
        let mut s = state();
        let fx = update(&mut s, key(' ', Instant::now()));
        assert!(s.paused);
        assert!(matches!(
            fx.as_slice(),
            [Effect::Engine(EngineCommand::Pause(true))]
        ));
        let fx = update(&mut s, key(' ', Instant::now()));
        assert!(!s.paused);
        assert!(matches!(
            fx.as_slice(),
            [Effect::Engine(EngineCommand::Pause(false))]
        ));
    }

    #[test]
    fn quit_keys_and_esc_closing_the_help_first() {
        let t = Instant::now();
        let mut s = state();
        update(&mut s, key('?', t));
        assert_eq!(s.overlay, Overlay::Help { scroll: 0 });
        let fx = update(
            &mut s,
            Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), t),
        );
        assert!(fx.is_empty());
        assert_eq!(s.overlay, Overlay::None);
        let fx = update(
            &mut s,
            Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), t),
        );
        assert!(matches!(fx.as_slice(), [Effect::Quit]));

        let mut s = state();
        update(&mut s, key('?', t));
        let fx = update(
            &mut s,
            Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL), t),
        );
        assert!(matches!(fx.as_slice(), [Effect::Quit]));
        let mut s = state();
        assert!(matches!(
            update(&mut s, key('q', t)).as_slice(),
            [Effect::Quit]
        ));
        assert!(s.quitting);
        assert_eq!(s.interrupted, None);
    }

    #[test]
    fn a_signal_quits_as_q_does_and_is_remembered() {
        let mut s = state();
        update(&mut s, key('?', Instant::now()));
        assert!(matches!(
            update(&mut s, Msg::Signal(crate::signals::SIGTERM)).as_slice(),
            [Effect::Quit]
        ));
        assert!(s.quitting);
        assert_eq!(s.interrupted, Some(crate::signals::SIGTERM));
    }

    #[test]
    fn help_overlay_scrolls_within_bounds_and_is_modal() {
        let t = Instant::now();
        let mut s = state();
        update(&mut s, key('?', t));
        update(&mut s, key('k', t));
        assert_eq!(s.overlay, Overlay::Help { scroll: 0 });
        for _ in 0..200 {
            update(&mut s, key('j', t));
        }
        assert_eq!(
            s.overlay,
            Overlay::Help {
                scroll: help_len() as u16 - 1
            }
        );
        // Knob keys do nothing while the help is open.
        assert!(update(&mut s, key('+', t)).is_empty());
        assert_eq!(s.cfg.memrec.k, 2);
    }

    #[test]
    fn export_writes_without_overwrite_then_asks() {
        let t = Instant::now();
        let mut s = state();
        let fx = update(&mut s, key('e', t));
        let [
            Effect::WriteExport {
                path,
                text,
                overwrite: false,
            },
        ] = fx.as_slice()
        else {
            panic!("{fx:?}")
        };
        assert_eq!(path, &PathBuf::from("memrec-tiny-k2-256.ron"));
        assert_eq!(Config::from_ron(text, "export").unwrap(), s.cfg);
        update(
            &mut s,
            Msg::Written(WriteOutcome::Exists {
                path: path.clone(),
                write: PendingWrite::Ron(text.clone()),
            }),
        );
        assert!(matches!(s.overlay, Overlay::ConfirmOverwrite { .. }));
        let fx = update(&mut s, key('n', t));
        assert!(matches!(
            fx.as_slice(),
            [Effect::WriteExport { path, overwrite: false, .. }] if path == &PathBuf::from("memrec-tiny-k2-256-n2.ron")
        ));
        update(
            &mut s,
            Msg::Written(WriteOutcome::Exists {
                path: path.clone(),
                write: PendingWrite::Ron(text.clone()),
            }),
        );
        let fx = update(&mut s, key('y', t));
        assert!(matches!(
            fx.as_slice(),
            [Effect::WriteExport {
                overwrite: true,
                ..
            }]
        ));
        update(
            &mut s,
            Msg::Written(WriteOutcome::Exported(PathBuf::from("/x/y.ron"))),
        );
        assert!(s.status.unwrap().text.contains("/x/y.ron"));
    }

    #[test]
    fn next_free_name_counts_up() {
        assert_eq!(
            next_free_name(Path::new("a/memrec-k2-256.ron")),
            PathBuf::from("a/memrec-k2-256-n2.ron")
        );
        assert_eq!(
            next_free_name(Path::new("memrec-k2-256-n2.ron")),
            PathBuf::from("memrec-k2-256-n3.ron")
        );
    }

    #[test]
    fn runs_track_generations_and_ignore_stale_events() {
        let mut s = state();
        let started = |g| {
            Msg::Engine(EngineEvent::RunStarted {
                run: "memrec".into(),
                generation: g,
                representation: "memrec-bundled".into(),
                tables: vec![],
                compression_full: 1.0,
            })
        };
        update(&mut s, started(0));
        let t0 = Instant::now();
        update(&mut s, key('+', t0));
        update(&mut s, Msg::Tick(t0 + Duration::from_secs(1)));
        assert_eq!(
            s.running.memrec.k, 2,
            "running changes only when the run starts"
        );
        update(&mut s, started(1));
        assert_eq!(s.running.memrec.k, 3);
        assert!(!s.knob_pending(Knob::K));
        assert_eq!(s.runs.len(), 2);
        assert_eq!(s.runs[0].status, "stopped");
        assert_eq!(s.runs[1].cfg.memrec.k, 3);
        // A late progress event of generation 0 does not touch generation 1.
        update(
            &mut s,
            Msg::Engine(EngineEvent::Progress {
                run: "memrec".into(),
                generation: 0,
                samples: 99,
                steps: 1,
                samples_per_s: 1.0,
                train_loss: 0.5,
                distinct_tokens: 1,
                loaded_uncompressed_bytes: 1,
            }),
        );
        assert_eq!(s.memrec.as_ref().unwrap().generation, 1);
        assert!(s.memrec.as_ref().unwrap().progress.is_none());
        // Pin the first run from the Runs panel.
        update(&mut s, key('l', t0));
        update(&mut s, key('k', t0));
        update(&mut s, key('p', t0));
        assert_eq!(s.pinned, Some(0));
    }

    #[test]
    fn a_data_failure_is_an_engine_error_not_a_run() {
        let mut s = state();
        update(
            &mut s,
            Msg::Engine(EngineEvent::RunFailed {
                run: "data".into(),
                generation: 0,
                message: "x.tsv: no such file".into(),
            }),
        );
        assert!(s.memrec.is_none() && s.runs.is_empty());
        assert!(s.engine_error.as_deref().unwrap().contains("no such file"));
    }

    #[test]
    fn engine_stop_is_shown_not_fatal() {
        let mut s = state();
        let fx = update(&mut s, Msg::EngineStopped);
        assert!(fx.is_empty());
        assert!(s.engine_error.is_some());
    }

    fn code(c: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(c, KeyModifiers::NONE), Instant::now())
    }

    /// A session with a baseline and two evaluated MEM-REC runs (K 2, then K 3).
    fn two_runs() -> AppState {
        let mut s = state();
        let t0 = Instant::now();
        let started = |run: &str, g| {
            Msg::Engine(EngineEvent::RunStarted {
                run: run.into(),
                generation: g,
                representation: "r".into(),
                tables: vec![TableInfo {
                    name: "t".into(),
                    rows: 100 * (g + 1),
                    cols: 4,
                    param_bytes: 1600 * (g + 1),
                    optimizer_bytes: 0,
                }],
                compression_full: 1.0,
            })
        };
        let eval = |run: &str, g, auc: f64, delta: Option<f64>| {
            Msg::Engine(EngineEvent::Eval(crate::train::protocol::EvalPoint {
                run: run.into(),
                generation: g,
                samples: 1000,
                auc,
                auc_lo: auc - 0.01,
                auc_hi: auc + 0.01,
                logloss: 0.5,
                mean_prediction: 0.25,
                click_rate: 0.25,
                samples_per_s: 1.0,
                oracle_auc: None,
                delta_auc: delta.map(|d| crate::train::protocol::DeltaAuc {
                    delta: d,
                    lo: d - 0.01,
                    hi: d + 0.01,
                }),
            }))
        };
        update(&mut s, started("baseline", 0));
        update(&mut s, started("memrec", 0));
        update(&mut s, eval("baseline", 0, 0.75, None));
        update(&mut s, eval("memrec", 0, 0.74, Some(-0.01)));
        update(&mut s, key('+', t0));
        update(&mut s, Msg::Tick(t0 + Duration::from_secs(1)));
        update(&mut s, started("memrec", 1));
        update(&mut s, eval("memrec", 1, 0.745, Some(-0.005)));
        s
    }

    #[test]
    fn v_toggles_the_pareto_view_and_tab_visits_it_only_while_shown() {
        let t = Instant::now();
        let mut s = state();
        for _ in 0..3 {
            update(&mut s, key('l', t));
        }
        assert_eq!(
            s.focus,
            Focus::Knobs,
            "three panels without the Pareto view"
        );
        update(&mut s, key('a', t));
        assert_eq!(
            s.pareto_metric,
            Metric::DeltaAuc,
            "a does nothing on the curves"
        );
        update(&mut s, key('v', t));
        assert_eq!((s.auc_view, s.focus), (AucView::Pareto, Focus::Pareto));
        update(&mut s, key('l', t));
        assert_eq!(s.focus, Focus::Runs);
        update(&mut s, key('h', t));
        update(&mut s, key('h', t));
        assert_eq!(s.focus, Focus::Knobs);
        update(&mut s, key('l', t));
        assert_eq!(s.focus, Focus::Pareto);
        update(&mut s, key('a', t));
        assert_eq!(s.pareto_metric, Metric::Auc);
        update(&mut s, key('v', t));
        assert_eq!((s.auc_view, s.focus), (AucView::Curves, Focus::Knobs));
    }

    #[test]
    fn pareto_points_are_ordered_by_bytes_with_the_front_marked() {
        let s = two_runs();
        let pts = pareto::points(&s);
        let ids: Vec<PointId> = pts.iter().map(|p| p.id).collect();
        // Bytes 1600 (baseline, run #0), 3200 (run #1).
        assert_eq!(
            ids,
            vec![PointId::Baseline, PointId::Run(0), PointId::Run(1)]
        );
        // ΔAUC: baseline 0 dominates run #0 (same bytes, higher) and run #1 (more bytes).
        let front: Vec<bool> = pts.iter().map(|p| p.front).collect();
        assert_eq!(front, vec![true, false, false]);
        assert_eq!(pts[2].value, -0.005);
    }

    #[test]
    fn arrows_select_and_enter_loads_a_run_into_the_knobs() {
        let t = Instant::now();
        let mut s = two_runs();
        assert_eq!(s.running.memrec.k, 3);
        update(&mut s, key('v', t));
        // Default selection: the running run (#1); up twice reaches the baseline.
        update(&mut s, key('k', t));
        assert_eq!(s.pareto_selected, Some(PointId::Run(0)));
        update(&mut s, key('k', t));
        update(&mut s, key('k', t));
        assert_eq!(s.pareto_selected, Some(PointId::Baseline));
        let fx = update(&mut s, code(KeyCode::Enter));
        assert!(fx.is_empty());
        let st = s.status.clone().unwrap();
        assert_eq!(st.kind, StatusKind::Error);
        assert!(st.text.contains("baseline is not a MEM-REC"), "{}", st.text);
        update(&mut s, key('j', t));
        let fx = update(&mut s, code(KeyCode::Enter));
        let Some(Effect::Engine(EngineCommand::RestartMemrec(cfg))) = fx.first() else {
            panic!("{fx:?}")
        };
        assert_eq!(cfg.memrec.k, 2);
        assert_eq!(s.cfg.memrec.k, 2);
        assert!(s.status.unwrap().text.contains("loaded run #0"));
        assert_eq!(s.restart_deadline, None, "applied at once, not debounced");
    }

    #[test]
    fn e_in_the_pareto_view_exports_the_selected_point() {
        let t = Instant::now();
        let mut s = two_runs();
        update(&mut s, key('v', t));
        update(&mut s, key('k', t));
        let fx = update(&mut s, key('e', t));
        let [Effect::WriteExport { text, .. }] = fx.as_slice() else {
            panic!("{fx:?}")
        };
        assert_eq!(Config::from_ron(text, "export").unwrap().memrec.k, 2);
        update(&mut s, key('k', t));
        assert!(
            update(&mut s, key('e', t)).is_empty(),
            "the baseline has no RON"
        );
        assert!(s.status.unwrap().text.starts_with("not exported"));
    }

    #[test]
    fn enter_outside_the_pareto_focus_does_nothing() {
        let mut s = two_runs();
        assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
        update(&mut s, key('v', Instant::now()));
        update(&mut s, key('l', Instant::now()));
        assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    }

    #[test]
    fn path_prompt_takes_text_and_opens_on_enter() {
        let t = Instant::now();
        let mut s = state();
        update(&mut s, key('o', t));
        assert_eq!(
            s.overlay,
            Overlay::Prompt {
                input: String::new()
            }
        );
        // Letters bound to actions (q, v, j) are text here.
        for c in "qvjx".chars() {
            assert!(update(&mut s, key(c, t)).is_empty());
        }
        update(&mut s, code(KeyCode::Backspace));
        assert!(!s.quitting);
        let fx = update(&mut s, code(KeyCode::Enter));
        assert!(
            matches!(fx.as_slice(), [Effect::LoadSweep(p)] if p == &PathBuf::from("qvj")),
            "{fx:?}"
        );
        assert_eq!(s.overlay, Overlay::None);
        // Esc cancels; an empty path is refused; Ctrl-C quits from the prompt.
        update(&mut s, key('o', t));
        update(&mut s, code(KeyCode::Esc));
        assert_eq!(s.overlay, Overlay::None);
        assert!(!s.quitting);
        update(&mut s, key('o', t));
        assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
        assert_eq!(s.status.clone().unwrap().kind, StatusKind::Error);
        update(&mut s, key('o', t));
        let fx = update(
            &mut s,
            Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL), t),
        );
        assert!(matches!(fx.as_slice(), [Effect::Quit]));
    }

    #[test]
    fn a_failed_sweep_load_keeps_the_session_and_the_sweep_shown() {
        let mut s = two_runs();
        let runs = s.runs.clone();
        let fx = update(&mut s, Msg::OpenSweep(PathBuf::from("nowhere")));
        assert!(matches!(fx.as_slice(), [Effect::LoadSweep(_)]));
        update(
            &mut s,
            Msg::SweepLoaded(Err("nowhere: no such directory".into())),
        );
        let st = s.status.clone().unwrap();
        assert_eq!(st.kind, StatusKind::Error);
        assert!(st.text.contains("nowhere: no such directory"));
        assert_eq!(s.runs, runs);
        assert!(s.sweep.is_none());
    }

    #[test]
    fn report_writes_a_directory_and_asks_before_overwriting() {
        let t = Instant::now();
        let mut s = two_runs();
        let fx = update(&mut s, key('R', t));
        let [
            Effect::WriteReport {
                dir,
                files,
                overwrite: false,
            },
        ] = fx.as_slice()
        else {
            panic!("{fx:?}")
        };
        assert_eq!(dir, &PathBuf::from("memrec-report-tiny"));
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["report.md", "auc.svg", "pareto.svg"]);
        update(
            &mut s,
            Msg::Written(WriteOutcome::Exists {
                path: dir.clone(),
                write: PendingWrite::Report(files.clone()),
            }),
        );
        assert!(matches!(
            &s.overlay,
            Overlay::ConfirmOverwrite {
                write: PendingWrite::Report(_),
                ..
            }
        ));
        let fx = update(&mut s, key('n', t));
        assert!(
            matches!(fx.as_slice(), [Effect::WriteReport { dir, overwrite: false, .. }] if dir == &PathBuf::from("memrec-report-tiny-n2")),
            "{fx:?}"
        );
    }
}
