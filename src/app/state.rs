//! The explorer's state: the configuration in force, what the engine reported (as owned copies),
//! focus, overlays and the pending-restart deadline.
//!
//! Owns: the data every panel draws from (the knobs themselves, their step rules and the restart
//! rule live in `config::knobs`). Must never: be changed outside `update`, hold ratatui widgets
//! or terminal handles, or do I/O.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Instant;

use super::store::CurveStore;
use crate::config::Config;
use crate::config::knobs::{KNOBS, KnobId, KnobValue, knob};
use crate::data::BadLines;
use crate::embedding::TableInfo;
use crate::embedding::collisions::FeatureCollisions;
use crate::train::protocol::{DeltaAuc, EvalPoint, LatencyReport, RunId, RunStatus, RunSummary};

/// How long knob edits wait for the next edit before the MEM-REC run restarts.
pub const DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(300);

/// The part of a configuration that decides what the lookup kernel costs: the value of every
/// knob that `affects_latency` (`config::knobs`), in table order.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyKey(Vec<KnobValue>);

impl LatencyKey {
    pub fn of(cfg: &Config) -> LatencyKey {
        LatencyKey(
            KNOBS
                .iter()
                .filter(|k| k.affects_latency)
                .map(|k| (k.get)(cfg))
                .collect(),
        )
    }
}

/// Latest training progress of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProgressView {
    pub samples: u64,
    pub steps: u64,
    pub samples_per_s: f64,
    pub train_loss: f64,
    pub distinct_tokens: u64,
    pub loaded_uncompressed_bytes: u64,
}

/// One run (baseline or MEM-REC) in its current generation, built from engine events. Its
/// curve is in `AppState::curves`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    pub id: RunId,
    pub generation: u64,
    pub representation: String,
    pub tables: Vec<TableInfo>,
    pub progress: Option<ProgressView>,
    pub last_eval: Option<EvalPoint>,
    pub collisions: Vec<FeatureCollisions>,
    pub failed: Option<String>,
    pub finished: Option<RunSummary>,
    /// What its parameters have been trained on, as of its last evaluation.
    pub exposure: Option<crate::train::protocol::Exposure>,
}

impl RunView {
    /// A run just started: nothing reported yet but its tables.
    pub fn new(
        id: RunId,
        generation: u64,
        representation: String,
        tables: Vec<TableInfo>,
    ) -> RunView {
        RunView {
            id,
            generation,
            representation,
            tables,
            progress: None,
            last_eval: None,
            collisions: Vec::new(),
            failed: None,
            finished: None,
            exposure: None,
        }
    }

    pub fn param_bytes(&self) -> u64 {
        self.tables.iter().map(|t| t.param_bytes).sum()
    }
    pub fn optimizer_bytes(&self) -> u64 {
        self.tables.iter().map(|t| t.optimizer_bytes).sum()
    }
    /// Table bytes as of the latest progress: an uncompressed baseline's tables grow with the
    /// vocabulary loaded, which `RunStarted` (the allocation at sample 0) does not show.
    pub fn table_bytes_now(&self) -> u64 {
        let loaded = self
            .progress
            .as_ref()
            .map_or(0, |p| p.loaded_uncompressed_bytes);
        if self.representation == "uncompressed" {
            self.param_bytes().max(loaded)
        } else {
            self.param_bytes()
        }
    }
}

/// Where a tried configuration's run stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriedStatus {
    /// The current generation, training.
    Running,
    /// A later generation replaced it before it ended.
    Stopped,
    /// The engine reported a failure (its summary, with the reason, follows).
    Failed,
    /// The engine's summary: finished, cancelled, or the failure's reason.
    Ended(RunStatus),
}

impl TriedStatus {
    /// The run stopped on an error, whether or not its summary has arrived.
    pub fn is_failed(&self) -> bool {
        matches!(
            self,
            TriedStatus::Failed | TriedStatus::Ended(RunStatus::Failed(_))
        )
    }
}

impl std::fmt::Display for TriedStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TriedStatus::Running => f.pad("running"),
            TriedStatus::Stopped => f.pad("stopped"),
            TriedStatus::Failed => f.pad("failed"),
            TriedStatus::Ended(RunStatus::Ok) => f.pad("finished"),
            TriedStatus::Ended(s) => s.fmt(f),
        }
    }
}

/// The most runs pinned at once: more curves would make the AUC chart unreadable.
pub const MAX_PINS: usize = 4;
/// The markers of the pinned runs' curves, distinct without colour (the baseline draws braille,
/// the running run `•`, the oracle `-`).
pub const PIN_MARKERS: [char; MAX_PINS] = ['+', 'x', 'o', '*'];

/// One MEM-REC configuration tried this session (one generation of the MEM-REC run). Its
/// curve is in `AppState::curves`.
#[derive(Debug, Clone, PartialEq)]
pub struct TriedRun {
    pub generation: u64,
    pub cfg: Config,
    pub param_bytes: u64,
    pub optimizer_bytes: u64,
    pub samples: u64,
    pub auc: Option<f64>,
    pub delta: Option<DeltaAuc>,
    /// The run's latest evaluation (AUC interval, logloss, oracle) for the report.
    pub eval: Option<EvalPoint>,
    pub status: TriedStatus,
}

/// What the Latency panel knows.
#[derive(Debug, Clone, PartialEq)]
pub enum LatencyView {
    /// Nothing measured yet.
    Waiting,
    Ready(LatencyReport),
    Failed(String),
}

/// Whose points the Pareto view compares: never this session's runs and a sweep's on one front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParetoSource {
    Session,
    Sweep,
}

/// Which panel arrows, `i` (explain), `z` (zoom) and `p`/`e`/Enter act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Knobs,
    /// The AUC curves (while the AUC panel shows them).
    Auc,
    /// The Pareto view (only while the AUC panel shows it).
    Pareto,
    Runs,
    Collisions,
    /// The token inspector (only while it is open; it takes the right-hand panels' place).
    Inspector,
    Memory,
    Latency,
}

impl Focus {
    /// The panels focus visits: the knobs, the right-hand panels top to bottom (the AUC curves
    /// or the Pareto view; or the inspector in their place), then the left-hand ones below the
    /// knobs.
    pub fn order(pareto_shown: bool, inspector_open: bool) -> Vec<Focus> {
        let mut v = vec![Focus::Knobs];
        if inspector_open {
            v.push(Focus::Inspector);
        } else {
            v.push(if pareto_shown {
                Focus::Pareto
            } else {
                Focus::Auc
            });
            v.extend([Focus::Runs, Focus::Collisions]);
        }
        v.extend([Focus::Memory, Focus::Latency]);
        v
    }

    /// The next panel in `order`'s sequence (from a panel not shown: the one after the knobs).
    pub fn next(self, pareto_shown: bool, inspector_open: bool) -> Focus {
        let order = Focus::order(pareto_shown, inspector_open);
        match order.iter().position(|&f| f == self) {
            Some(i) => order[(i + 1) % order.len()],
            None => order[1],
        }
    }

    pub fn prev(self, pareto_shown: bool, inspector_open: bool) -> Focus {
        let order = Focus::order(pareto_shown, inspector_open);
        match order.iter().position(|&f| f == self) {
            Some(i) => order[(i + order.len() - 1) % order.len()],
            None => order[1],
        }
    }

    /// The panel's name, as its title and the info overlay say it.
    pub fn name(self) -> &'static str {
        match self {
            Focus::Knobs => "Knobs",
            Focus::Auc => "AUC curves",
            Focus::Pareto => "Pareto view",
            Focus::Runs => "Runs",
            Focus::Collisions => "Collisions",
            Focus::Inspector => "Token inspector",
            Focus::Memory => "Memory",
            Focus::Latency => "Latency",
        }
    }
}

/// What the AUC panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AucView {
    /// Test AUC over samples seen.
    Curves,
    /// Quality against table bytes of every run tried and of a loaded sweep, with the front.
    Pareto,
}

/// The quality axis of the Pareto view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Auc,
    DeltaAuc,
}

impl Metric {
    pub fn label(self) -> &'static str {
        match self {
            Metric::Auc => "AUC",
            Metric::DeltaAuc => "ΔAUC",
        }
    }
}

/// Where a point comes from (stable while runs come and go, unlike an index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointId {
    /// The session's baseline.
    Baseline,
    /// A MEM-REC run of this session, by generation.
    Run(u64),
    /// The loaded sweep's baseline.
    SweepBaseline,
    /// A loaded sweep point, by index into `LoadedSweep::points`.
    Sweep(usize),
}

impl PointId {
    pub fn is_baseline(self) -> bool {
        matches!(self, PointId::Baseline | PointId::SweepBaseline)
    }
    pub fn is_sweep(self) -> bool {
        matches!(self, PointId::SweepBaseline | PointId::Sweep(_))
    }
}

/// A file write waiting for the user's answer because its target exists.
#[derive(Debug, Clone, PartialEq)]
pub enum PendingWrite {
    /// A configuration as RON (`e`).
    Ron(String),
    /// A report directory's files as (name, contents) (`R`).
    Report(Vec<(String, String)>),
}

/// A modal layer over the panels.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help {
        scroll: u16,
    },
    /// The export path exists: overwrite, pick the next free name, or cancel.
    ConfirmOverwrite {
        path: PathBuf,
        write: PendingWrite,
    },
    /// A path typed by the user: the sweep directory to open (`o`).
    Prompt {
        input: String,
    },
    /// A value typed for the focused knob (`Enter` on the Knobs panel): any value `--set`
    /// accepts for it, applied at once.
    KnobValue {
        path: &'static str,
        input: String,
    },
    /// What a panel shows, explained for a student (`i`).
    Info {
        panel: Focus,
        scroll: u16,
    },
    /// The lesson picker (`L`): the embedded lessons, one selected.
    Lessons {
        selected: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Info,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub text: String,
    pub kind: StatusKind,
}

/// What the data source said about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct DataInfo {
    pub label: String,
    pub synthetic: bool,
    pub test_rows: u64,
    pub bad_lines: BadLines,
}

/// Everything the screen shows.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The configuration in force (knob edits land here first).
    pub cfg: Config,
    /// The preset's configuration, to highlight what was changed from it.
    pub preset: Config,
    /// The configuration of the MEM-REC run actually training.
    pub running: Config,
    /// Restarts sent to the engine whose `RunStarted` has not arrived yet, oldest first.
    pub requested: VecDeque<Config>,
    pub data: Option<DataInfo>,
    pub baseline: Option<RunView>,
    /// The compressed run (whichever method) in its current generation.
    pub compressed: Option<RunView>,
    pub latency: LatencyView,
    /// Latency measurements asked for and not yet answered, oldest first.
    pub latency_requests: VecDeque<LatencyKey>,
    pub latency_by_key: Vec<(LatencyKey, LatencyReport)>,
    pub runs: Vec<TriedRun>,
    /// Every run's evaluations, once.
    pub curves: CurveStore,
    /// Selected row of the Runs table; `None` follows the newest run.
    pub selected_run: Option<usize>,
    /// The pinned runs (generation, the marker their curve is drawn with), oldest pin first:
    /// their curves stay on the AUC chart. At most `MAX_PINS`.
    pub pinned: Vec<(u64, char)>,
    pub focus: Focus,
    pub knob: usize,
    pub collisions_scroll: u16,
    pub overlay: Overlay,
    pub paused: bool,
    pub status: Option<Status>,
    /// When the debounced MEM-REC restart fires.
    pub restart_deadline: Option<Instant>,
    /// A latency-affecting knob changed since the last restart was sent.
    pub latency_stale: bool,
    /// The session's first latency measurement is asked for at the first evaluation.
    pub first_latency_due: bool,
    /// An engine-level failure (the event stream ended); shown, never fatal.
    pub engine_error: Option<String>,
    pub quitting: bool,
    /// The signal that made the session quit, if one did (the exit code is 128 + its number).
    pub interrupted: Option<i32>,
    pub auc_view: AucView,
    pub pareto_metric: Metric,
    /// The Pareto point selected; `None` selects the running MEM-REC run's point.
    pub pareto_selected: Option<PointId>,
    /// Whose points the Pareto view shows (`w`): this session's runs or the loaded sweep's.
    pub pareto_source: ParetoSource,
    /// The samples the Pareto view compares at (`[`/`]`); `None`: the largest offered.
    pub pareto_at: Option<u64>,
    /// The sweep loaded with `o` or `--sweep`.
    pub sweep: Option<crate::app::sweep::LoadedSweep>,
    /// The lesson being taught, if any (`memrec-tui lesson NAME`, or `L`).
    pub lesson: Option<super::lesson::LessonSession>,
    /// Something changed since the last draw.
    pub dirty: bool,
    /// The token inspector, while open (`t`).
    pub inspector: Option<super::inspector::Inspector>,
    /// The focused panel fills the screen (`z`).
    pub zoom: bool,
}

impl AppState {
    /// A fresh session for `cfg`, before any engine event.
    pub fn new(cfg: Config) -> AppState {
        let preset = Config::from_preset(&cfg.name)
            .ok()
            .filter(|p| p.data.cardinalities.len() == cfg.data.cardinalities.len())
            .unwrap_or_else(|| cfg.clone());
        AppState {
            running: cfg.clone(),
            preset,
            requested: VecDeque::new(),
            data: None,
            baseline: None,
            compressed: None,
            latency: LatencyView::Waiting,
            latency_requests: VecDeque::new(),
            latency_by_key: Vec::new(),
            runs: Vec::new(),
            curves: CurveStore::default(),
            selected_run: None,
            pinned: Vec::new(),
            focus: Focus::Knobs,
            knob: 0,
            collisions_scroll: 0,
            overlay: Overlay::None,
            paused: false,
            status: None,
            restart_deadline: None,
            latency_stale: false,
            first_latency_due: false,
            engine_error: None,
            quitting: false,
            interrupted: None,
            auc_view: AucView::Curves,
            pareto_metric: Metric::DeltaAuc,
            pareto_selected: None,
            pareto_source: ParetoSource::Session,
            pareto_at: None,
            sweep: None,
            lesson: None,
            dirty: true,
            inspector: None,
            zoom: false,
            cfg,
        }
    }

    /// The next time the runtime must wake up without an event (the debounce deadline).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.restart_deadline
    }

    /// The Runs row selected (the newest when the user has not moved).
    pub fn selected_run_index(&self) -> Option<usize> {
        if self.runs.is_empty() {
            return None;
        }
        Some(
            self.selected_run
                .unwrap_or(self.runs.len() - 1)
                .min(self.runs.len() - 1),
        )
    }

    /// The evaluations of `view`'s run in its current generation.
    pub fn curve_of(&self, view: &RunView) -> &[(f64, f64)] {
        self.curves.get(view.id.kind, view.generation)
    }

    /// The evaluations of a tried configuration's run.
    pub fn tried_curve(&self, run: &TriedRun) -> &[(f64, f64)] {
        self.curves
            .get(crate::train::protocol::RunKind::Compressed, run.generation)
    }

    /// The run pinned last (the Runs title compares the newest run against it).
    pub fn pinned_run(&self) -> Option<&TriedRun> {
        let g = self.pinned.last()?.0;
        self.runs.iter().find(|r| r.generation == g)
    }

    /// Every pinned run with its marker, in pin order.
    pub fn pinned_runs(&self) -> Vec<(char, &TriedRun)> {
        self.pinned
            .iter()
            .filter_map(|&(g, m)| Some((m, self.runs.iter().find(|r| r.generation == g)?)))
            .collect()
    }

    /// The marker of generation `g`'s curve, when it is pinned.
    pub fn pin_marker(&self, g: u64) -> Option<char> {
        self.pinned.iter().find(|p| p.0 == g).map(|p| p.1)
    }

    pub fn latency_for(&self, cfg: &Config) -> Option<&LatencyReport> {
        let key = LatencyKey::of(cfg);
        self.latency_by_key
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, r)| r)
    }

    /// Whether a knob's value differs from the preset's.
    pub fn knob_changed(&self, id: KnobId) -> bool {
        let get = knob(id).get;
        get(&self.cfg) != get(&self.preset)
    }

    /// Whether a knob's value is not yet what the MEM-REC run trains with.
    pub fn knob_pending(&self, id: KnobId) -> bool {
        let get = knob(id).get;
        get(&self.cfg) != get(&self.running)
    }

    /// Training throughput of all runs together, from their latest progress.
    pub fn samples_per_s(&self) -> f64 {
        [&self.baseline, &self.compressed]
            .into_iter()
            .flatten()
            .filter_map(|r| r.progress.as_ref())
            .map(|p| p.samples_per_s)
            // fold from +0.0: an empty f64 sum is -0.0, which would print as "-0".
            .fold(0.0, |a, b| a + b)
    }

    pub fn set_status(&mut self, kind: StatusKind, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            kind,
        });
    }
}
