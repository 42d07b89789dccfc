//! Data: Criteo TSV reading, the synthetic Criteo-shaped stream, dataset statistics, and the
//! `Batch` every other module consumes.
//!
//! Owns: turning bytes (or a seed) into rows of (label, 13 dense, 26 token keys). Must never:
//! load a whole Criteo file into memory, panic on any input bytes, or know about models or the UI.

pub mod criteo;
pub mod progress;
pub mod stats;
pub mod synthetic;

use std::path::Path;

use serde::{Deserialize, Serialize};

use synthetic::SyntheticParams;

/// Dense (integer) columns I1..I13.
pub const NUM_DENSE: usize = 13;
/// Categorical columns C1..C26.
pub const NUM_CAT: usize = 26;

/// Which Criteo release the data (or the synthetic stream) is shaped like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    /// Criteo Display Advertising Challenge (Kaggle `train.txt`), 7 days, 45.8 M rows.
    Kaggle,
    /// Criteo 1TB click logs (`day_0` .. `day_23`), MLPerf hashing of ids mod 40 M.
    Terabyte,
}

/// What the data constructors need to know of a session: data owns this type and the
/// configuration builds it (`Config::data_options`), so data never depends on the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct DataOptions {
    /// Seed of the synthetic stream.
    pub seed: u64,
    pub dataset: Dataset,
    /// Distinct values per categorical column in the full dataset (the synthetic vocabularies).
    pub cardinalities: Vec<u64>,
    /// Criteo TSV files or globs to train on, streamed in this order (a glob's matches in natural
    /// order); empty = the synthetic stream.
    pub train: Vec<String>,
    /// Criteo TSV to test on; `None` = the last of several `train` files, or the last
    /// `test_fraction` of the only one.
    pub test: Option<String>,
    pub test_fraction: f64,
    /// Stop at the first malformed line instead of skipping and counting it.
    pub strict: bool,
    pub synthetic: SyntheticParams,
    /// Test rows (synthetic: generated; files: at most this many kept, 0 = all).
    pub test_rows: usize,
    /// Files: a training pass stops after this many good rows (0 = all of them).
    pub max_rows: u64,
    /// Files: categorical values are taken modulo this after parsing (MLPerf's Terabyte
    /// `mod 40,000,000`); 0 = off.
    pub mod_categories: u32,
}

impl DataOptions {
    /// Human description of the data in use; synthetic data is never presented as Criteo. Says
    /// which rows are the test rows (the last of several files, as MLPerf does) and the row cap.
    pub fn label(&self) -> String {
        if self.train.is_empty() {
            return format!(
                "synthetic Criteo-{}-shaped stream (seed {})",
                match self.dataset {
                    Dataset::Kaggle => "Kaggle",
                    Dataset::Terabyte => "Terabyte",
                },
                self.seed
            );
        }
        let extra = {
            let mut e = Vec::new();
            if self.max_rows > 0 {
                e.push(format!(
                    "first {} training rows",
                    criteo::thousands(self.max_rows)
                ));
            }
            if self.mod_categories > 0 {
                e.push(format!(
                    "categorical values mod {}",
                    criteo::thousands(self.mod_categories as u64)
                ));
            }
            if e.is_empty() {
                String::new()
            } else {
                format!("; {}", e.join(", "))
            }
        };
        let files = criteo::DataFiles::resolve(&self.train, self.test.as_deref());
        let Ok(files) = files else {
            // Not openable (the error comes when the source opens): the names as given.
            return format!("Criteo files {}{extra}", self.train.join(" "));
        };
        let train = criteo::files_label(&files.train);
        match &files.test {
            criteo::TestRows::Tail => format!(
                "Criteo file {train} (last {:.0}% as test{extra})",
                self.test_fraction * 100.0
            ),
            criteo::TestRows::File(t) if extra.is_empty() => format!(
                "Criteo files {train} / test {}",
                file_name(&t.display().to_string())
            ),
            criteo::TestRows::File(t) => format!(
                "Criteo files {train} / test {} ({})",
                file_name(&t.display().to_string()),
                &extra[2..]
            ),
            criteo::TestRows::LastFile(t) => format!(
                "Criteo files {train} / test {} (the last file, as MLPerf tests on the last day{extra})",
                file_name(&t.display().to_string())
            ),
        }
    }
}

fn file_name(p: &str) -> String {
    Path::new(p)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.to_string())
}

/// The well-defined key of a (feature, value) token that every representation hashes or looks up:
/// the feature index in bits 33.., a presence bit at 32, the 32-bit Criteo value in bits 0..32.
/// A missing value is its own token per feature (presence bit clear), as in DLRM's preprocessing.
#[inline]
pub fn token_key(feature: usize, value: Option<u32>) -> u64 {
    let f = (feature as u64) << 33;
    match value {
        Some(v) => f | (1 << 32) | v as u64,
        None => f,
    }
}

/// Feature index of a token key.
#[inline]
pub fn key_feature(key: u64) -> usize {
    (key >> 33) as usize
}

/// The 32-bit value of a token key (`None`: the missing value).
#[inline]
pub fn key_value(key: u64) -> Option<u32> {
    (key & (1 << 32) != 0).then_some(key as u32)
}

/// A block of rows, column-major by row: row `i` owns `dense[i*13..][..13]` and `keys[i*26..][..26]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// `log(1 + max(x, 0))` of I1..I13; a missing value is 0.
    pub dense: Vec<f32>,
    /// Token keys of C1..C26 (`token_key`).
    pub keys: Vec<u64>,
    /// Click labels, 0.0 or 1.0.
    pub labels: Vec<f32>,
    /// The true click probability of each row, known only for synthetic data (oracle AUC).
    pub true_prob: Option<Vec<f32>>,
}

impl Batch {
    pub fn with_capacity(rows: usize) -> Batch {
        Batch {
            dense: Vec::with_capacity(rows * NUM_DENSE),
            keys: Vec::with_capacity(rows * NUM_CAT),
            labels: Vec::with_capacity(rows),
            true_prob: None,
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn clear(&mut self) {
        self.dense.clear();
        self.keys.clear();
        self.labels.clear();
        if let Some(p) = &mut self.true_prob {
            p.clear();
        }
    }

    /// Keep the first `rows` rows.
    pub fn truncate(&mut self, rows: usize) {
        self.dense.truncate(rows * NUM_DENSE);
        self.keys.truncate(rows * NUM_CAT);
        self.labels.truncate(rows);
        if let Some(p) = &mut self.true_prob {
            p.truncate(rows);
        }
    }

    /// Append the rows `range` of `other` (used to cut test sets and mini-batches).
    pub fn extend_from(&mut self, other: &Batch, range: std::ops::Range<usize>) {
        self.dense
            .extend_from_slice(&other.dense[range.start * NUM_DENSE..range.end * NUM_DENSE]);
        self.keys
            .extend_from_slice(&other.keys[range.start * NUM_CAT..range.end * NUM_CAT]);
        self.labels.extend_from_slice(&other.labels[range.clone()]);
        match (&mut self.true_prob, &other.true_prob) {
            (Some(dst), Some(src)) => dst.extend_from_slice(&src[range]),
            (None, Some(src)) if self.labels.len() == range.len() => {
                self.true_prob = Some(src[range].to_vec())
            }
            _ => self.true_prob = None,
        }
    }
}

/// Bad input lines skipped (not in `--strict` mode): the count and the first few, as `file:line: reason`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct BadLines {
    pub count: u64,
    pub first: Vec<String>,
}

/// How many bad lines are kept verbatim in `BadLines::first`.
pub const BAD_LINES_SHOWN: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened (missing, unreadable): bad input.
    #[error("{path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Reading failed after the file was opened (including a truncated or corrupt gzip stream).
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A malformed line in `--strict` mode.
    #[error("{path}:{line}: {reason}")]
    BadLine {
        path: String,
        line: u64,
        reason: String,
    },
    #[error("{path}: {reason}")]
    Unusable { path: String, reason: String },
}

impl DataError {
    /// Whether the input is at fault (a missing, unreadable or empty file, a file without good
    /// rows, a bad line in `--strict` mode): exit 2 in every command. A read failure after the
    /// file was opened is a runtime failure (exit 1), as in `stats`.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, DataError::Io { .. })
    }
}

/// Rows for training, in a fixed order. Every run opens its own stream, so a restarted run sees
/// exactly the batches the others saw, in the same order.
pub trait BatchStream: Send {
    /// Clear `out` and fill it with up to `rows` rows; `Ok(0)` ends the pass (an epoch).
    fn next_batch(&mut self, rows: usize, out: &mut Batch) -> Result<usize, DataError>;
    /// Bad lines skipped so far by this stream.
    fn bad_lines(&self) -> BadLines {
        BadLines::default()
    }
}

/// Where a session's rows come from: a Criteo file (or two) or the synthetic stream.
pub trait DataSource: Send + Sync {
    /// What is in use, for the screen and reports; synthetic data says so.
    fn label(&self) -> String;
    fn is_synthetic(&self) -> bool;
    /// A new training stream from the first row.
    fn open_train(&self) -> Result<Box<dyn BatchStream>, DataError>;
    /// The session's test rows (the same for every run).
    fn test_set(&self) -> Result<Batch, DataError>;
    /// Every training row's token keys, in stream order, when all of them are in memory (a file
    /// small enough to keep); `None` for a stream (synthetic data, a large file).
    fn train_keys(&self) -> Option<&[u64]> {
        None
    }
    /// Bad lines found while preparing the source (counting rows, reading the test set).
    fn bad_lines(&self) -> BadLines {
        BadLines::default()
    }
}

/// `open_source` for a training session: a file's test rows must also hold clicks and
/// non-clicks, or no AUC can ever be computed; said here, before any training, rather than as runs
/// failing at their first evaluation. (The engine checks any source again before it starts.)
pub fn open_for_training(opts: &DataOptions) -> Result<std::sync::Arc<dyn DataSource>, DataError> {
    let source = open_source(opts)?;
    if source.is_synthetic() {
        return Ok(source);
    }
    let labels = source.test_set()?.labels;
    let clicks = labels.iter().filter(|&&y| y > 0.5).count();
    if clicks > 0 && clicks < labels.len() {
        return Ok(source);
    }
    let files = criteo::DataFiles::resolve(&opts.train, opts.test.as_deref())?;
    let (path, hint) = match (files.test_file(), files.train.first()) {
        (Some(t), _) => (t.display().to_string(), String::new()),
        (None, t) => (
            t.map(|t| t.display().to_string()).unwrap_or_default(),
            format!(
                " (the file's last rows, data.test_fraction {}; give a --test FILE, or shuffle the file)",
                opts.test_fraction
            ),
        ),
    };
    Err(DataError::Unusable {
        path,
        reason: format!(
            "the {} test rows{hint} are all labelled {}: no AUC can be computed; the test rows need both clicks (1) and non-clicks (0)",
            labels.len(),
            u8::from(clicks > 0),
        ),
    })
}

/// The data source a configuration asks for.
pub fn open_source(opts: &DataOptions) -> Result<std::sync::Arc<dyn DataSource>, DataError> {
    if opts.train.is_empty() {
        Ok(std::sync::Arc::new(synthetic::SyntheticSource::new(opts)))
    } else {
        Ok(std::sync::Arc::new(criteo::FileSource::open(opts)?))
    }
}
