//! Training: side-by-side runs fed the same batches, evaluation, and the headless front end.
pub mod headless;
