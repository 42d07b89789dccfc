//! Training: side-by-side runs fed the same batches (`engine`), one model's step and inference
//! (`trainer`), and the headless front end (`headless`).
//!
//! Owns: everything between a `DataSource` and the events a front end draws. Must never: hold
//! terminal or ratatui types.
pub mod engine;
pub mod headless;
pub mod protocol;
pub mod trainer;
