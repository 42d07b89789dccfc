//! Shared test helpers. The real Criteo sample is read from `../shared` and never committed.
#![allow(dead_code)]

use std::path::PathBuf;

/// Path of the real Criteo Kaggle sample (8,000 rows), or `None` outside CI when it is absent.
/// In CI (`CI` set) a missing sample fails the test instead of skipping it silently.
pub fn criteo_sample() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/datasets/criteo/kaggle-sample-train.txt");
    if p.is_file() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI: the real Criteo sample {} is missing", p.display());
    }
    eprintln!("skipping: {} not found", p.display());
    None
}
