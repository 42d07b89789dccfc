//! memrec-tui: an interactive explorer of MEM-REC embedding compression for DLRM.
//!
//! The engine (`data`, `embedding`, `model`, `train` with its event protocol and latency probe,
//! `metrics`) knows nothing of the terminal or the command line; `app` (state, messages, update,
//! keymap) and `ui` (one file per panel, and the screen as text) are a front end of it. `cli` is
//! the one front door: every command (the explorer, `--headless`, `bench`, `stats`, `sweep`,
//! `export`) and the mapping of errors to exit codes live there, and nothing else imports it.

pub mod app;
pub mod cli;
pub mod config;
pub mod data;
pub mod embedding;
pub mod metrics;
pub mod model;
pub mod signals;
pub mod sweep;
pub mod train;
pub mod ui;
pub mod util;
