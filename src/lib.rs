//! memrec-tui: an interactive explorer of MEM-REC embedding compression for DLRM.
//!
//! The engine (`data`, `embedding`, `model`, `train`, `metrics`, `bench`) knows nothing of the
//! terminal; `app` (state, messages, update, keymap) and `ui` (one file per panel) are a front end
//! of it, as are `--headless --json`, `bench` and `export` (`cli`).

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
