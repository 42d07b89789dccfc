//! Messages into `update` and the effects it asks the runtime to carry out.
//!
//! Owns: the vocabulary between the runtime (terminal, threads, files) and the pure update
//! function. Must never: carry references into engine state or terminal handles.

use std::path::PathBuf;
use std::time::Instant;

use ratatui::crossterm::event::KeyEvent;

use super::state::PendingWrite;
use super::sweep::LoadedSweep;
use crate::train::protocol::{EngineCommand, EngineEvent};

/// Everything that can happen to the explorer.
#[derive(Debug, Clone)]
pub enum Msg {
    /// The runtime is up: ask for what the first screen needs (the first latency measurement).
    Started,
    /// A key press (only `KeyEventKind::Press` is forwarded) and when it arrived, for debouncing.
    Key(KeyEvent, Instant),
    Resize(u16, u16),
    Engine(EngineEvent),
    /// The engine's event stream ended without being asked to.
    EngineStopped,
    /// Time passed; sent only while a deadline is pending.
    Tick(Instant),
    /// The runtime finished a file write it was asked for.
    Written(WriteOutcome),
    /// Open the sweep directory (`--sweep DIR` at start).
    OpenSweep(PathBuf),
    /// The runtime read a sweep directory: the sweep, or what is wrong with the path.
    SweepLoaded(Result<Box<LoadedSweep>, String>),
    /// SIGINT, SIGTERM or SIGHUP arrived (its number): quit as on `q`, exiting 128 + number.
    Signal(i32),
}

/// Result of an `Effect::WriteExport`, `Effect::WriteReport` or `Effect::WriteScreenDump`.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOutcome {
    Exported(PathBuf),
    /// The report directory and the files written into it.
    ReportWritten {
        dir: PathBuf,
        files: Vec<String>,
    },
    /// The target exists and overwrite was not requested: ask the user.
    Exists {
        path: PathBuf,
        write: PendingWrite,
    },
    ScreenDumped(PathBuf),
    Failed(String),
}

/// Side effects `update` asks for; the runtime executes them in order.
#[derive(Debug, Clone)]
pub enum Effect {
    Engine(EngineCommand),
    /// Write the RON text atomically at `path`; never replace an existing file unless `overwrite`.
    WriteExport {
        path: PathBuf,
        text: String,
        overwrite: bool,
    },
    /// Write each (name, contents) atomically into the directory `dir` (created if missing);
    /// never write into an existing directory unless `overwrite`.
    WriteReport {
        dir: PathBuf,
        files: Vec<(String, String)>,
        overwrite: bool,
    },
    /// Render the current screen as text and write it under a new name.
    WriteScreenDump,
    /// Read the sweep directory (never writing to it) and answer with `Msg::SweepLoaded`.
    LoadSweep(PathBuf),
    /// Start a new session on this lesson's configuration (its data or model differ from the
    /// running session's in more than knobs): the runtime ends this session and opens it.
    OpenLesson(std::sync::Arc<crate::config::lesson::LoadedLesson>),
    Quit,
}
