//! The files a finished sweep writes: the report (`report::render_review`) with its provenance,
//! and `best.ron`, the configuration of the best grid point within the budgets at the last
//! checkpoint, headed by its provenance as comments (loading ignores them).
//!
//! Owns: what goes into the provenance of a sweep and the choice of `best.ron`. Must never: train
//! or measure anything (the records hold every figure).

use std::path::PathBuf;

use super::{PointRecord, StoreError, SweepError, SweepSpec, duel, report, review};
use crate::util::provenance::Provenance;

/// Render the report of `points` (the first `in_grid` of them this grid's) and write its files
/// into the sweep directory (atomically), with `best.ron`: the configuration of the best grid
/// point within the budgets at the last checkpoint, with its provenance.
pub(super) fn write_report(
    spec: &SweepSpec,
    baseline: &PointRecord,
    points: &[PointRecord],
    in_grid: usize,
) -> Result<Vec<PathBuf>, SweepError> {
    let mut axes: Vec<String> = spec.grid.axes.iter().map(|a| a.path.clone()).collect();
    for p in &points[in_grid..] {
        for (a, _) in &p.axes {
            if !axes.contains(a) {
                axes.push(a.clone());
            }
        }
    }
    let budget_text = spec.budget.describe();
    let data_label = spec.base.data_label();
    let review = review::ReviewOptions {
        checkpoints: spec.checkpoints.clone(),
        max_bytes: spec.max_bytes,
        max_ns: spec.max_ns,
    };
    let (cps, mut notes) = review::resolve(spec.checkpoints.as_deref(), baseline);
    if points.len() > in_grid {
        notes.push(format!(
            "{} point(s) of this folder are not in this grid (run earlier with another grid) and are reported too: {}.",
            points.len() - in_grid,
            points[in_grid..]
                .iter()
                .map(|p| p.key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let prov = provenance(
        spec,
        baseline,
        &cps,
        "the sweep as a whole: see the tables".into(),
    );
    let duels = duel::duels(&spec.out, points, &review::shown(&cps), &review);
    let input = report::ReportInput {
        title: &spec.title,
        budget: &budget_text,
        data_label: &data_label,
        axes: &axes,
        baseline,
        points,
    };
    let mut files: Vec<(String, String)> = report::render_review(
        &input,
        &report::Review {
            options: &review,
            checkpoints: &cps,
            notes: &notes,
            provenance: Some(&prov),
            in_grid,
            duels: &duels,
        },
    )
    .into_iter()
    .map(|(n, t)| (n.to_string(), t))
    .collect();
    let grid = (&points[..in_grid], points, duels.last());
    if let Some(text) = best_ron(spec, baseline, grid, &cps, &review) {
        files.push(("best.ron".into(), text));
    }
    let mut written = Vec::new();
    for (name, text) in files {
        let path = spec.out.join(name);
        crate::util::write_atomic(&path, text.as_bytes(), true).map_err(StoreError::from)?;
        written.push(path);
    }
    Ok(written)
}

/// The provenance of the sweep's reports, with `result`.
fn provenance(
    spec: &SweepSpec,
    baseline: &PointRecord,
    cps: &[review::Checkpoint],
    result: String,
) -> Provenance {
    let d = &spec.base.data;
    let mut budget = format!(
        "{} per run (baseline: {} samples)",
        spec.budget.describe(),
        review::group(baseline.samples)
    );
    if spec.checkpoints.is_some() {
        let l: Vec<&str> = cps.iter().map(|c| c.label.as_str()).collect();
        budget.push_str(&format!("; checkpoints {}", l.join(", ")));
    }
    if let Some(b) = spec.max_bytes {
        budget.push_str(&format!(
            "; --max-bytes {} (table parameters)",
            crate::util::units::fmt_bytes(b)
        ));
    }
    if let Some(n) = spec.max_ns {
        budget.push_str(&format!("; --max-ns {n} (ns per looked-up token)"));
    }
    Provenance {
        data: crate::util::provenance::data(
            d.train.as_deref(),
            d.test.as_deref(),
            &spec.base.data_label(),
            spec.base.seed,
        ),
        machine: crate::util::provenance::machine(spec.base.effective_threads()),
        budget,
        result,
        ..spec.provenance.clone()
    }
}

/// `best.ron`: the best grid point within the budgets at the last checkpoint, as a configuration
/// to load, headed by its provenance (comments: loading ignores them).
fn best_ron(
    spec: &SweepSpec,
    baseline: &PointRecord,
    (grid, all, duel): (&[PointRecord], &[PointRecord], Option<&duel::Duel>),
    cps: &[review::Checkpoint],
    o: &review::ReviewOptions,
) -> Option<String> {
    let last = cps.last()?;
    let &i = review::ranked(grid, last.samples, o).first()?;
    let p = &grid[i];
    let point = spec.points.iter().find(|q| q.key() == p.key)?;
    let latency = match (p.ns_per_token, p.uncompressed_ns_per_token) {
        (Some(n), Some(u)) => format!(
            "{n:.2} ns per looked-up token (uncompressed gather {u:.2}{}; {} thread(s), batch {})",
            p.ratio_to_gather_range
                .map_or(String::new(), |[lo, hi]| format!(
                    "; ratio to the gather {lo:.2}–{hi:.2} over the probe's rounds"
                )),
            p.latency_threads.unwrap_or(0),
            p.latency_batch.unwrap_or(0)
        ),
        _ => "latency not measured".into(),
    };
    let result = format!(
        "sweep point {} ({}): ΔAUC {} at {} samples vs the baseline's AUC {:.4}; {}; table parameters {} ({} bytes); chosen as the best ΔAUC within the budget at the last checkpoint",
        p.key,
        p.representation,
        review::fmt_delta_at(p, last.samples),
        review::group(last.samples),
        review::at(baseline, last.samples).map_or(f64::NAN, |c| c.auc),
        latency,
        crate::util::units::fmt_bytes(p.table_bytes),
        p.table_bytes
    );
    // The next best, compared directly (when the summary's duel at the last checkpoint is this
    // point's: the summary ranks the folder's points too).
    let result = match duel.filter(|d| d.samples == last.samples && all[d.best].key == p.key) {
        Some(d) => format!("{result}. {}", duel::verdict(all, d)),
        None => result,
    };
    let prov = provenance(spec, baseline, cps, result);
    let mut cfg = point.cfg.clone();
    cfg.threads = spec.base.threads;
    let body = cfg.to_ron().ok()?;
    Some(format!("{}{body}", prov.ron_comments()))
}
