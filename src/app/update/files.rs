//! The files the explorer writes: configuration exports (`e`), reports (`R`), and what the
//! runtime answers about them.
//!
//! Owns: default file names and the write effects. Must never: do the I/O itself.

use std::path::{Path, PathBuf};

use super::super::msg::{Effect, WriteOutcome};
use super::super::state::{AppState, Focus, Overlay, PendingWrite, StatusKind};
use super::sweep::selected_point_config;
use crate::config::{Config, Method};

/// The effect that carries out `write` at `path`.
pub(super) fn write_effect(path: PathBuf, write: PendingWrite, overwrite: bool) -> Effect {
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

/// The directory `R` proposes: `memrec-report-<name>` in the working directory.
pub fn default_report_dir(cfg: &Config) -> PathBuf {
    PathBuf::from(format!("memrec-report-{}", safe_name(&cfg.name)))
}

pub(super) fn report(state: &mut AppState, fx: &mut Vec<Effect>) {
    let files = super::super::report::render(state);
    state.set_status(StatusKind::Info, "writing the report…");
    fx.push(Effect::WriteReport {
        dir: default_report_dir(&state.cfg),
        files,
        overwrite: false,
    });
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

pub(super) fn export(state: &mut AppState, fx: &mut Vec<Effect>) {
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

pub(super) fn on_written(state: &mut AppState, outcome: WriteOutcome) {
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
