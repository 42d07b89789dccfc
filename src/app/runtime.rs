//! The explorer's runtime: the terminal (init/restore guard, panic hook), the input thread, the
//! main loop, and the execution of `update`'s effects (engine commands, file writes).
//!
//! Owns: every side effect of the explorer. Must never: block on training (the engine runs on its
//! own threads and reports owned snapshots over a channel), draw when nothing changed, or leave
//! the terminal in raw mode on any exit path.
//!
//! The loop blocks on the input and engine channels (and on the debounce deadline while one is
//! pending, so an idle explorer wakes up for nothing), drains every pending message, applies
//! them all with `update`, then draws once if something changed.
//!
//! SIGINT, SIGTERM and SIGHUP (`crate::signals`) reach the loop as `Msg::Signal` through the input
//! thread and quit as `q` does: the terminal is restored, the engine shut down, and the exit code
//! is 128 + the signal. A second signal exits at once only after the terminal is restored.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, never, select, unbounded};
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event, KeyEventKind};

use super::msg::{Effect, Msg, WriteOutcome};
use super::state::{AppState, PendingWrite};
use super::update::update;
use crate::config::Config;
use crate::config::lesson::LoadedLesson;
use crate::signals::Cancel;
use crate::train::protocol::{EngineCommand, EngineEvent};
use crate::ui::{self, Theme};
use crate::util::{WriteError, write_atomic};

/// What the runtime needs from the training engine.
pub trait EngineLink {
    fn send(&self, cmd: EngineCommand);
    /// Stop every worker and wait for them.
    fn shutdown(self: Box<Self>);
}

/// Why the explorer stopped other than by quitting: the terminal failed, or a signal quit it.
#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    #[error("cannot set up the terminal: {0}")]
    Setup(std::io::Error),
    #[error("{0}")]
    InputThread(std::io::Error),
    #[error("cannot draw: {0}")]
    Draw(std::io::Error),
    #[error("the terminal input stopped")]
    InputStopped,
    /// Quit (cleanly, as `q` does) because of a signal: the exit code is 128 + the signal.
    #[error("interrupted by {}", crate::signals::name(*.0))]
    Interrupted(i32),
}

impl EngineLink for crate::train::engine::EngineHandle {
    fn send(&self, cmd: EngineCommand) {
        crate::train::engine::EngineHandle::send(self, cmd);
    }
    fn shutdown(self: Box<Self>) {
        // A worker still busy after the bounded wait is left to the process exit.
        let _ = (*self).shutdown();
    }
}

/// Restores the terminal when dropped: on normal exit, on error returns and during unwinding.
/// (`ratatui::try_init` also installs a panic hook that restores it before the panic message.)
struct TerminalGuard {
    terminal: DefaultTerminal,
}

impl TerminalGuard {
    fn new() -> Result<TerminalGuard, ExploreError> {
        let terminal = ratatui::try_init().map_err(ExploreError::Setup)?;
        Ok(TerminalGuard { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Forwards key presses (only `Press`, so keys never fire twice), resizes and the first signal to
/// the main loop.
fn input_thread(tx: Sender<Msg>, stop: Arc<AtomicBool>, cancel: Cancel) {
    while !stop.load(Ordering::Relaxed) {
        if let Some(signal) = cancel.signal() {
            let _ = tx.send(Msg::Signal(signal));
            break;
        }
        match event::poll(Duration::from_millis(50)) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(_) => break,
        }
        let msg = match event::read() {
            Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => Msg::Key(k, Instant::now()),
            Ok(Event::Resize(w, h)) => Msg::Resize(w, h),
            Ok(_) => continue,
            Err(_) => break,
        };
        if tx.send(msg).is_err() {
            break;
        }
    }
}

/// Run the explorer on the terminal until it quits: `engine` already runs and reports on `events`;
/// `sweep` opens in the Pareto view at start; `cancel`'s signal quits as `q` does.
pub fn run_terminal(
    cfg: &Config,
    engine: &dyn EngineLink,
    events: Receiver<EngineEvent>,
    theme: &Theme,
    sweep: Option<PathBuf>,
    cancel: Cancel,
    lesson: Option<LessonStart>,
) -> Result<Option<Arc<LoadedLesson>>, ExploreError> {
    let mut guard = TerminalGuard::new()?;
    let (in_tx, in_rx) = unbounded();
    let stop = Arc::new(AtomicBool::new(false));
    let input = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("memrec-input".into())
            .spawn(move || input_thread(in_tx, stop, cancel))
            .map_err(ExploreError::InputThread)?
    };
    let result = main_loop(
        &mut guard.terminal,
        cfg,
        engine,
        events,
        in_rx,
        theme,
        sweep,
        lesson,
    );
    stop.store(true, Ordering::Relaxed);
    let _ = input.join();
    drop(guard);
    result
}

/// A lesson the explorer opens at start, at its first step (`memrec-tui lesson NAME`).
#[derive(Debug, Clone)]
pub struct LessonStart {
    pub lesson: Arc<LoadedLesson>,
    /// Multiplier of the step budgets (1 in class).
    pub scale: f64,
}

#[allow(clippy::too_many_arguments)]
fn main_loop(
    terminal: &mut DefaultTerminal,
    cfg: &Config,
    engine: &dyn EngineLink,
    events: Receiver<EngineEvent>,
    input: Receiver<Msg>,
    theme: &Theme,
    sweep: Option<PathBuf>,
    lesson: Option<LessonStart>,
) -> Result<Option<Arc<LoadedLesson>>, ExploreError> {
    let mut state = AppState::new(cfg.clone());
    let mut events = Some(events);
    let mut queue: VecDeque<Msg> = VecDeque::new();
    let mut reopen: Option<Arc<LoadedLesson>> = None;
    queue.push_back(Msg::Started);
    queue.extend(sweep.map(Msg::OpenSweep));
    if let Some(l) = lesson {
        let mut fx = Vec::new();
        super::update::start_lesson(&mut state, l.lesson, l.scale, &mut fx);
        for f in fx {
            if let Some(reply) = execute(f, engine, &state, terminal, theme) {
                queue.push_back(reply);
            }
        }
    }
    loop {
        while let Some(msg) = queue.pop_front() {
            for fx in update(&mut state, msg) {
                if let Effect::OpenLesson(l) = fx {
                    // A new session on the lesson's configuration: this one ends here.
                    reopen = Some(l);
                    state.quitting = true;
                    continue;
                }
                if let Some(reply) = execute(fx, engine, &state, terminal, theme) {
                    queue.push_back(reply);
                }
            }
        }
        if state.quitting {
            return match state.interrupted {
                Some(s) => Err(ExploreError::Interrupted(s)),
                None => Ok(reopen),
            };
        }
        if state.dirty {
            terminal
                .draw(|f| ui::draw(f, &state, theme))
                .map_err(ExploreError::Draw)?;
            state.dirty = false;
        }
        let tick = state
            .next_deadline()
            .map_or_else(never, crossbeam_channel::at);
        let engine_rx = events.clone().unwrap_or_else(never);
        select! {
            recv(input) -> m => match m {
                Ok(m) => queue.push_back(m),
                Err(_) => return Err(ExploreError::InputStopped),
            },
            recv(engine_rx) -> e => match e {
                Ok(ev) => queue.push_back(Msg::Engine(ev)),
                Err(_) => {
                    events = None;
                    queue.push_back(Msg::EngineStopped);
                }
            },
            recv(tick) -> _ => queue.push_back(Msg::Tick(Instant::now())),
        }
        // Coalesce: everything already waiting is applied before the next draw.
        queue.extend(input.try_iter().take(1024));
        if let Some(rx) = &events {
            queue.extend(rx.try_iter().take(4096).map(Msg::Engine));
        }
    }
}

fn execute(
    fx: Effect,
    engine: &dyn EngineLink,
    state: &AppState,
    terminal: &DefaultTerminal,
    theme: &Theme,
) -> Option<Msg> {
    match fx {
        Effect::Engine(cmd) => {
            engine.send(cmd);
            None
        }
        Effect::Quit | Effect::OpenLesson(_) => None,
        Effect::WriteExport {
            path,
            text,
            overwrite,
        } => Some(Msg::Written(
            match write_atomic(&path, text.as_bytes(), overwrite) {
                Ok(()) => WriteOutcome::Exported(absolute(&path)),
                Err(WriteError::Exists(_)) => WriteOutcome::Exists {
                    path,
                    write: PendingWrite::Ron(text),
                },
                Err(e) => WriteOutcome::Failed(e.to_string()),
            },
        )),
        Effect::WriteReport {
            dir,
            files,
            overwrite,
        } => Some(Msg::Written(write_report(&dir, files, overwrite))),
        Effect::LoadSweep(dir) => Some(Msg::SweepLoaded(super::sweep::load(&dir).map(Box::new))),
        Effect::WriteScreenDump => {
            let size = terminal.size().unwrap_or_default();
            // The dump is text for issue reports and screen readers: monochrome, no escapes.
            let _ = theme;
            let text =
                crate::ui::text::render_state_text(state, &Theme::mono(), size.width, size.height);
            Some(Msg::Written(write_screen_dump(Path::new("."), &text)))
        }
    }
}

/// Write each (name, contents) atomically into `dir`, creating it; an existing `dir` is written
/// into only with `overwrite` (otherwise the user is asked). Without `overwrite` the directory is
/// created exclusively, so of two explorers writing the same new report exactly one does.
pub fn write_report(dir: &Path, files: Vec<(String, String)>, overwrite: bool) -> WriteOutcome {
    let created = if overwrite {
        std::fs::create_dir_all(dir)
    } else {
        create_new_dir(dir)
    };
    match created {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return WriteOutcome::Exists {
                path: dir.to_path_buf(),
                write: PendingWrite::Report(files),
            };
        }
        Err(e) => return WriteOutcome::Failed(format!("cannot create {}: {e}", dir.display())),
    }
    let mut names = Vec::with_capacity(files.len());
    for (name, text) in &files {
        if let Err(e) = write_atomic(&dir.join(name), text.as_bytes(), overwrite) {
            return WriteOutcome::Failed(e.to_string());
        }
        names.push(name.clone());
    }
    WriteOutcome::ReportWritten {
        dir: absolute(dir),
        files: names,
    }
}

/// Create `dir` (and its missing parents); `AlreadyExists` if `dir` itself exists.
fn create_new_dir(dir: &Path) -> std::io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::create_dir(dir)
}

/// Write `text` to the first free `memrec-screen-N.txt` in `dir`.
pub fn write_screen_dump(dir: &Path, text: &str) -> WriteOutcome {
    for n in 1..10_000 {
        let path = dir.join(format!("memrec-screen-{n}.txt"));
        match write_atomic(&path, text.as_bytes(), false) {
            Ok(()) => return WriteOutcome::ScreenDumped(absolute(&path)),
            Err(WriteError::Exists(_)) => continue,
            Err(e) => return WriteOutcome::Failed(e.to_string()),
        }
    }
    WriteOutcome::Failed(format!(
        "{}: memrec-screen-1..9999.txt all exist",
        dir.display()
    ))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_of_concurrent_report_writers_creates_the_directory() {
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("report");
            let start = std::sync::Barrier::new(6);
            let outcomes: Vec<WriteOutcome> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..6)
                    .map(|i| {
                        let (target, start) = (&target, &start);
                        s.spawn(move || {
                            let files = vec![("summary.md".to_string(), format!("writer {i}"))];
                            start.wait();
                            write_report(target, files, false)
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let written = outcomes
                .iter()
                .filter(|o| matches!(o, WriteOutcome::ReportWritten { .. }))
                .count();
            assert_eq!(written, 1, "round {round}: {outcomes:?}");
            assert!(
                outcomes.iter().all(|o| matches!(
                    o,
                    WriteOutcome::ReportWritten { .. } | WriteOutcome::Exists { .. }
                )),
                "round {round}: {outcomes:?}"
            );
        }
    }

    #[test]
    fn screen_dumps_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_screen_dump(dir.path(), "one");
        let b = write_screen_dump(dir.path(), "two");
        let (WriteOutcome::ScreenDumped(a), WriteOutcome::ScreenDumped(b)) = (a, b) else {
            panic!("dump failed")
        };
        assert_ne!(a, b);
        assert_eq!(std::fs::read_to_string(a).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(b).unwrap(), "two");
    }
}
