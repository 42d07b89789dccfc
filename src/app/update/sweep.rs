//! Sweeps in the explorer: opening a sweep directory, and loading a Pareto point (of this
//! session or of a loaded sweep) into the knobs.
//!
//! Owns: which points may be loaded into this session. Must never: read the sweep itself (the
//! runtime does, answering with `Msg::SweepLoaded`).

use std::path::PathBuf;

use super::super::msg::Effect;
use super::super::pareto::{self, PointId};
use super::super::state::{AppState, AucView, Focus, LatencyKey, StatusKind};
use super::super::sweep::{LoadedSweep, differences_outside_knobs, point_config};
use super::knobs::fire_restart;
use crate::config::Config;

pub(super) fn open_sweep(state: &mut AppState, path: PathBuf, fx: &mut Vec<Effect>) {
    state.set_status(
        StatusKind::Info,
        format!("opening sweep {}…", path.display()),
    );
    fx.push(Effect::LoadSweep(path));
}

pub(super) fn sweep_loaded(state: &mut AppState, sweep: LoadedSweep) {
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
    state.pareto_source = crate::app::state::ParetoSource::Sweep;
    state.pareto_at = None;
    state.auc_view = AucView::Pareto;
    state.focus = Focus::Pareto;
    state.set_status(kind, text);
}

/// The configuration of the selected Pareto point and how to name it, or why it has none (the
/// baselines) or may not be used in this session (a sweep of another base).
pub(super) fn selected_point_config(state: &AppState) -> Result<(Config, String), String> {
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
pub(super) fn load_selected_point(state: &mut AppState, fx: &mut Vec<Effect>) {
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
