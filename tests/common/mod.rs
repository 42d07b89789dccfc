//! Shared test helpers. The real Criteo sample is read from `../shared` and never committed.
#![allow(dead_code)]

use std::path::PathBuf;

/// Set to `1` to skip, visibly, the tests that read the real Criteo sample when it is absent.
pub const SKIP_CRITEO: &str = "MEMREC_SKIP_CRITEO";

/// Path of the real Criteo Kaggle sample (8,000 rows). When it is absent the test fails, saying
/// how to get it, so a missing file never passes unnoticed; only with `MEMREC_SKIP_CRITEO=1` does
/// it return `None` (the caller then skips, saying so on stderr).
pub fn criteo_sample() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/datasets/criteo/kaggle-sample-train.txt");
    if p.is_file() {
        return Some(p);
    }
    if std::env::var(SKIP_CRITEO).is_ok_and(|v| v == "1") {
        eprintln!(
            "SKIPPED ({SKIP_CRITEO}=1): {} not found; this test did not run",
            p.display()
        );
        return None;
    }
    panic!(
        "the real Criteo sample {} is missing. This test reads the first 8,000 rows of Criteo \
         Kaggle's train.txt at ../shared/datasets/criteo/kaggle-sample-train.txt, relative to the \
         repository (see datasets/README.md for where train.txt comes from): put them there \
         (e.g. `head -n 8000 train.txt > ../shared/datasets/criteo/kaggle-sample-train.txt`), \
         or set {SKIP_CRITEO}=1 to skip the tests that need it",
        p.display()
    );
}
