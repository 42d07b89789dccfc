//! The points of the Pareto view: every compressed run tried this session, or the points of a
//! loaded sweep (never both on one front), each at one checkpoint (the same samples seen for
//! all: a run at 350k is never compared with a point at 2M), with its table bytes and quality
//! (AUC or ΔAUC at those samples), and whether it is on the Pareto front
//! (`sweep::pareto::pareto_front`: no other point has fewer bytes and a higher value). The
//! baseline at the checkpoint is a reference line, not a point.
//!
//! Owns: which runs become points, their order (bytes ascending, so arrows walk the x axis) and
//! their labels. Must never: draw, or change state; the view and `update` both read from here so
//! what is selected is what is drawn.

/// Lives with the selection it names; re-exported for the view's callers.
pub use super::state::PointId;
use super::state::{AppState, Metric, ParetoSource, TriedRun};
use super::store::EvalAt;
use crate::config::{Config, Layout, Method};
use crate::sweep::pareto::pareto_front;
use crate::sweep::review;
use crate::sweep::store::{CurvePoint, PointRecord};
use crate::train::protocol::{DeltaAuc, RunKind, RunStatus};

/// One point of the view.
#[derive(Debug, Clone, PartialEq)]
pub struct ParetoPoint {
    pub id: PointId,
    pub label: String,
    pub bytes: u64,
    /// The metric shown (AUC or ΔAUC).
    pub value: f64,
    /// Its 95% interval, when known.
    pub interval: Option<(f64, f64)>,
    pub auc: Option<f64>,
    /// Whether the run is usable on the front (a failed run is shown, never on the front).
    pub ok: bool,
    /// Why it is not on the front whatever its value: `failed` or `cancelled`.
    pub off_front: Option<&'static str>,
    pub front: bool,
}

/// Table rows as `16k` when a multiple of 1024, else the number.
pub fn rows(n: usize) -> String {
    if n >= 1024 && n.is_multiple_of(1024) {
        if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
            format!("{}M", n >> 20)
        } else {
            format!("{}k", n >> 10)
        }
    } else {
        n.to_string()
    }
}

/// `cfg`'s knobs that not every run of `runs` shares (the rest are the same for all, and the
/// Knobs panel shows them); the whole summary when nothing differs.
pub fn knobs_that_differ(runs: &[TriedRun], cfg: &Config) -> String {
    let all: Vec<String> = runs.iter().map(|t| knob_summary(&t.cfg)).collect();
    let mine = knob_summary(cfg);
    let differ: Vec<&str> = mine
        .split(' ')
        .filter(|w| !all.iter().all(|s| s.split(' ').any(|x| x == *w)))
        .collect();
    if differ.is_empty() {
        mine
    } else {
        differ.join(" ")
    }
}

/// A compressed run's name with its knobs: `MEM-REC K2 D16k kw1 dw1k d16 bundled`, `Bloom K2
/// D16k d16 bundled`, `hash 4k d16`, `QR c1k d16`, `ROBE 256k Z16 d16`.
pub fn run_name(cfg: &Config) -> String {
    let s = knob_summary(cfg);
    if cfg.memrec.method == Method::Memrec && !cfg.is_bloom() {
        format!("MEM-REC {s}")
    } else {
        s
    }
}

/// The compressed run's knobs of `cfg` in a short form, each letter the one the Knobs panel
/// names: `K2 D16k kw1 dw1k d16 bundled` (MEM-REC), `Bloom K2 D16k d16 bundled` (MEM-REC with
/// kw = 0, whose weight knobs do nothing), `hash 4k d16`, `QR c1k d16`, `ROBE 256k Z16 d16`.
pub fn knob_summary(cfg: &Config) -> String {
    let m = &cfg.memrec;
    let d = cfg.model.dim;
    let layout = match m.layout {
        Layout::Bundled => "bundled",
        Layout::PerFeature => "per-feature",
    };
    match m.method {
        Method::Memrec if m.kw == 0 => {
            format!("Bloom K{} D{} d{d} {layout}", m.k, rows(m.token_rows))
        }
        Method::Memrec => format!(
            "K{} D{} kw{} dw{} d{d} {layout}",
            m.k,
            rows(m.token_rows),
            m.kw,
            rows(m.weight_rows),
        ),
        Method::Hashing => format!("hash {} d{d}", rows(m.hash_rows)),
        Method::Qr => format!("QR c{} d{d}", rows(m.qr_collisions)),
        Method::RobeZ => format!("ROBE {} Z{} d{d}", rows(m.robe_size), m.robe_z),
    }
}

/// A sweep point's grid values without the section names: `k=2 token_rows=4096`.
pub fn sweep_label(r: &PointRecord) -> String {
    let parts: Vec<String> = r
        .axes
        .iter()
        .map(|(p, v)| format!("{}={v}", p.rsplit('.').next().unwrap_or(p)))
        .collect();
    if parts.is_empty() {
        r.key.clone()
    } else {
        parts.join(" ")
    }
}

/// The value of `metric` at one evaluation: AUC with its interval, or ΔAUC with its own.
fn value_of(metric: Metric, e: &EvalAt) -> Option<(f64, Option<(f64, f64)>)> {
    match metric {
        Metric::Auc => Some((e.auc, Some((e.auc_lo, e.auc_hi)))),
        Metric::DeltaAuc => e.delta.map(|d| (d.delta, Some((d.lo, d.hi)))),
    }
}

fn curve_eval(c: &CurvePoint) -> EvalAt {
    EvalAt {
        auc: c.auc,
        auc_lo: c.auc_lo,
        auc_hi: c.auc_hi,
        delta: c.delta_auc.map(|d| DeltaAuc {
            delta: d,
            lo: c.delta_lo.unwrap_or(f64::NAN),
            hi: c.delta_hi.unwrap_or(f64::NAN),
        }),
    }
}

/// A session run at `at` samples: its evaluation there (none: not on this view).
fn run_point(state: &AppState, r: &TriedRun, at: u64, metric: Metric) -> Option<ParetoPoint> {
    let e = state.curves.at(RunKind::Compressed, r.generation, at)?;
    let (value, interval) = value_of(metric, &e)?;
    Some(ParetoPoint {
        id: PointId::Run(r.generation),
        label: format!("run #{} {}", r.generation, knob_summary(&r.cfg)),
        bytes: r.param_bytes,
        value,
        interval,
        auc: Some(e.auc),
        ok: !r.status.is_failed(),
        off_front: r.status.is_failed().then_some("failed"),
        front: false,
    })
}

/// A sweep point at `at` samples, from its stored curve.
fn record_point(i: usize, r: &PointRecord, at: u64, metric: Metric) -> Option<ParetoPoint> {
    let e = curve_eval(&review::at(r, at)?);
    let (value, interval) = value_of(metric, &e)?;
    Some(ParetoPoint {
        id: PointId::Sweep(i),
        label: format!("sweep {}", sweep_label(r)),
        bytes: r.table_bytes,
        value,
        interval,
        auc: Some(e.auc),
        ok: r.ok(),
        off_front: match &r.status {
            RunStatus::Ok => None,
            RunStatus::Cancelled => Some("cancelled"),
            RunStatus::Failed(_) => Some("failed"),
        },
        front: false,
    })
}

/// Where the view's points come from: the loaded sweep when it is shown, else this session's.
fn sweep_shown(state: &AppState) -> Option<&crate::app::sweep::LoadedSweep> {
    state
        .sweep
        .as_ref()
        .filter(|_| state.pareto_source == ParetoSource::Sweep)
}

/// For each run (or sweep point) the view shows, in order: whether it has an evaluation at `c`
/// samples.
fn evaluated_at(state: &AppState, c: u64) -> Vec<bool> {
    match sweep_shown(state) {
        Some(sw) => sw
            .points
            .iter()
            .map(|p| review::at(p, c).is_some())
            .collect(),
        None => state
            .runs
            .iter()
            .map(|r| {
                state
                    .curves
                    .at(RunKind::Compressed, r.generation, c)
                    .is_some()
            })
            .collect(),
    }
}

/// The sample counts the view can compare at, ascending: the baseline's evaluations at which
/// at least one compressed run (this session's) or point (the sweep's) has one too.
pub fn checkpoints(state: &AppState) -> Vec<u64> {
    let mut at = match sweep_shown(state) {
        Some(sw) => {
            let Some(b) = &sw.baseline else {
                return Vec::new();
            };
            let mut at: Vec<u64> = b.curve.iter().map(|c| c.samples).collect();
            if at.is_empty() {
                at.push(b.samples);
            }
            at
        }
        None => {
            let Some(b) = &state.baseline else {
                return Vec::new();
            };
            state.curves.samples(RunKind::Baseline, b.generation)
        }
    };
    at.retain(|&c| evaluated_at(state, c).contains(&true));
    at
}

/// The samples the view compares at: the one chosen with `,`/`.` while it is offered, else the
/// latest at which the most runs (or sweep points) have an evaluation.
pub fn checkpoint(state: &AppState) -> Option<u64> {
    let at = checkpoints(state);
    if let Some(c) = state.pareto_at.filter(|c| at.contains(c)) {
        return Some(c);
    }
    // Later wins a tie: max_by_key keeps the last maximum.
    at.into_iter()
        .max_by_key(|&c| evaluated_at(state, c).iter().filter(|&&e| e).count())
}

/// The baseline at the checkpoint, drawn as a reference line (never a point on the front): its
/// name and value (ΔAUC: 0 by definition).
pub fn reference(state: &AppState) -> Option<(String, f64)> {
    let (name, auc) = reference_auc(state)?;
    let value = match state.pareto_metric {
        Metric::Auc => auc,
        Metric::DeltaAuc => 0.0,
    };
    Some((name, value))
}

/// The baseline at the checkpoint: its name and AUC, whatever the view's metric.
pub fn reference_auc(state: &AppState) -> Option<(String, f64)> {
    let at = checkpoint(state)?;
    let (name, auc) = match sweep_shown(state) {
        Some(sw) => {
            let b = sw.baseline.as_ref()?;
            (
                format!("sweep baseline ({})", b.representation),
                review::at(b, at)?.auc,
            )
        }
        None => {
            let b = state.baseline.as_ref()?;
            let e = state.curves.at(RunKind::Baseline, b.generation, at)?;
            (format!("baseline ({})", b.representation), e.auc)
        }
    };
    Some((name, auc))
}

/// The runs or points with no evaluation at the checkpoint, by label: left off the view (a
/// value at other samples is never compared with these).
pub fn not_at_checkpoint(state: &AppState) -> Vec<String> {
    let Some(at) = checkpoint(state) else {
        return Vec::new();
    };
    let labels: Vec<String> = match sweep_shown(state) {
        Some(sw) => sw
            .points
            .iter()
            .map(|p| format!("sweep {}", sweep_label(p)))
            .collect(),
        None => state
            .runs
            .iter()
            .map(|r| format!("run #{} (to {} samples)", r.generation, r.samples))
            .collect(),
    };
    labels
        .into_iter()
        .zip(evaluated_at(state, at))
        .filter(|(_, e)| !e)
        .map(|(l, _)| l)
        .collect()
}

/// Every point with a value for the state's metric at the checkpoint, from one source (this
/// session's runs, or the loaded sweep's points), by bytes ascending, with the front marked.
pub fn points(state: &AppState) -> Vec<ParetoPoint> {
    let metric = state.pareto_metric;
    let Some(at) = checkpoint(state) else {
        return Vec::new();
    };
    let mut out: Vec<ParetoPoint> = match sweep_shown(state) {
        Some(sw) => sw
            .points
            .iter()
            .enumerate()
            .filter_map(|(i, r)| record_point(i, r, at, metric))
            .collect(),
        None => state
            .runs
            .iter()
            .filter_map(|r| run_point(state, r, at, metric))
            .collect(),
    };
    out.retain(|p| p.bytes > 0 && p.value.is_finite());
    // Stable: equal bytes keep the generation (or file) order built above.
    out.sort_by_key(|p| p.bytes);
    let pairs: Vec<(u64, f64)> = out
        .iter()
        .map(|p| (p.bytes, if p.ok { p.value } else { f64::NAN }))
        .collect();
    for i in pareto_front(&pairs) {
        out[i].front = true;
    }
    out
}

/// Index of the selected point in `points`: the chosen one, else the running MEM-REC run's, else
/// the first.
pub fn selected_index(state: &AppState, points: &[ParetoPoint]) -> Option<usize> {
    if points.is_empty() {
        return None;
    }
    let running = state
        .compressed
        .as_ref()
        .map(|m| PointId::Run(m.generation));
    state
        .pareto_selected
        .and_then(|id| points.iter().position(|p| p.id == id))
        .or_else(|| running.and_then(|id| points.iter().position(|p| p.id == id)))
        .or(Some(0))
}
