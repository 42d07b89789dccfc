//! The points of the Pareto view: the baseline and every MEM-REC run tried this session, and the
//! points of a loaded sweep, each with its table bytes and quality (AUC or ΔAUC), and whether it
//! is on the Pareto front (`sweep::pareto::pareto_front`: no other point has fewer bytes and a
//! higher value).
//!
//! Owns: which runs become points, their order (bytes ascending, so arrows walk the x axis) and
//! their labels. Must never: draw, or change state; the view and `update` both read from here so
//! what is selected is what is drawn.

/// Lives with the selection it names; re-exported for the view's callers.
pub use super::state::PointId;
use super::state::{AppState, Metric, TriedRun};
use crate::config::{Config, Layout, Method};
use crate::sweep::pareto::pareto_front;
use crate::sweep::store::PointRecord;

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

fn run_point(r: &TriedRun, metric: Metric) -> Option<ParetoPoint> {
    let (value, interval) = match metric {
        Metric::Auc => {
            let e = r.eval.as_ref();
            (r.auc?, e.map(|e| (e.auc_lo, e.auc_hi)))
        }
        Metric::DeltaAuc => {
            let d = r.delta?;
            (d.delta, Some((d.lo, d.hi)))
        }
    };
    Some(ParetoPoint {
        id: PointId::Run(r.generation),
        label: format!("run #{} {}", r.generation, knob_summary(&r.cfg)),
        bytes: r.param_bytes,
        value,
        interval,
        auc: r.auc,
        ok: !r.status.is_failed(),
        front: false,
    })
}

fn record_point(
    id: PointId,
    r: &PointRecord,
    label: String,
    metric: Metric,
) -> Option<ParetoPoint> {
    let baseline = id.is_baseline();
    let (value, interval) = match metric {
        Metric::Auc => (r.auc?, r.auc_lo.zip(r.auc_hi)),
        // The baseline against itself: exactly 0.
        Metric::DeltaAuc if baseline => (0.0, None),
        Metric::DeltaAuc => (r.delta_auc?, r.delta_lo.zip(r.delta_hi)),
    };
    Some(ParetoPoint {
        id,
        label,
        bytes: r.table_bytes,
        value,
        interval,
        auc: r.auc,
        ok: r.ok(),
        front: false,
    })
}

/// Every point with a value for the state's metric, by bytes ascending (ties: session first),
/// with the front marked.
pub fn points(state: &AppState) -> Vec<ParetoPoint> {
    let metric = state.pareto_metric;
    let mut out = Vec::new();
    if let Some(b) = &state.baseline
        && let Some(e) = &b.last_eval
    {
        out.push(ParetoPoint {
            id: PointId::Baseline,
            label: format!("baseline ({})", b.representation),
            bytes: b.table_bytes_now(),
            value: match metric {
                Metric::Auc => e.auc,
                Metric::DeltaAuc => 0.0,
            },
            interval: match metric {
                Metric::Auc => Some((e.auc_lo, e.auc_hi)),
                Metric::DeltaAuc => None,
            },
            auc: Some(e.auc),
            ok: b.failed.is_none(),
            front: false,
        });
    }
    out.extend(state.runs.iter().filter_map(|r| run_point(r, metric)));
    if let Some(sw) = &state.sweep {
        if let Some(b) = &sw.baseline {
            out.extend(record_point(
                PointId::SweepBaseline,
                b,
                format!("sweep baseline ({})", b.representation),
                metric,
            ));
        }
        out.extend(sw.points.iter().enumerate().filter_map(|(i, r)| {
            record_point(
                PointId::Sweep(i),
                r,
                format!("sweep {}", sweep_label(r)),
                metric,
            )
        }));
    }
    out.retain(|p| p.bytes > 0 && p.value.is_finite());
    // Stable: equal bytes keep the session-before-sweep, generation order built above.
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
