//! Training: side-by-side runs fed the same batches (`engine`), one model's step and inference
//! (`trainer`), and the protocol of events they send (`protocol`).
//!
//! Owns: everything between a `DataSource` and the events a front end draws. Must never: hold
//! terminal or ratatui types.
pub mod engine;
pub mod inspect;
pub mod latency;
pub mod loaded;
pub mod options;
pub mod protocol;
pub mod schedule;
pub mod trainer;
