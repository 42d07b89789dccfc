//! `FileSource`: the `DataSource` over one or two Criteo files, with the train/test split of a
//! single file and the parsed copy of a training set small enough to keep.
//!
//! Must never: keep more than `TRAIN_CACHE_BYTES` of parsed rows, or read a file twice when once
//! is enough.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::parse::ParsedRow;
use super::reader::{RowReader, merge_bad_lines};
use crate::data::{
    BadLines, Batch, BatchStream, DataError, DataOptions, DataSource, NUM_CAT, NUM_DENSE,
};

/// A training set whose parsed rows take at most this many bytes (264 per row: about a million
/// rows) is parsed once, when the source opens (before any timed step, as the test rows are),
/// and every epoch of every run reads it from memory. A bigger one is streamed every epoch.
pub const TRAIN_CACHE_BYTES: usize = 256 << 20;

/// Criteo files as a `DataSource`: a train file and either a test file or the tail of the train
/// file (`data.test_fraction`), at most `eval.test_rows` test rows (0 = all).
pub struct FileSource {
    train: PathBuf,
    test_file: Option<PathBuf>,
    strict: bool,
    /// Good rows the training stream yields per epoch; `None` = the whole train file (not counted
    /// when a separate test file is given, to spare a pass over a possibly huge file).
    train_rows: Option<u64>,
    test: Batch,
    /// Good test rows available before the `eval.test_rows` cap.
    test_available: u64,
    bad: BadLines,
    dataset: crate::data::Dataset,
    /// The training rows, parsed, with the bad lines a pass over them skips, when they fit in
    /// `TRAIN_CACHE_BYTES`.
    cache: Option<Arc<(Batch, BadLines)>>,
}

impl FileSource {
    /// Open `opts.train` (and `opts.test`, when given) and read the test rows.
    pub fn open(opts: &DataOptions) -> Result<FileSource, DataError> {
        let train = PathBuf::from(opts.train.as_deref().ok_or_else(|| DataError::Unusable {
            path: "data.train".into(),
            reason: "no train file given".into(),
        })?);
        match opts.test.as_deref() {
            Some(test_path) => {
                FileSource::open_with_test_file(opts, train, PathBuf::from(test_path))
            }
            None => FileSource::open_holding_out_tail(opts, train),
        }
    }

    /// A train file and a separate test file: the train file is only checked (and kept parsed
    /// when small), not counted.
    fn open_with_test_file(
        opts: &DataOptions,
        train: PathBuf,
        test_file: PathBuf,
    ) -> Result<FileSource, DataError> {
        let strict = opts.strict;
        let cap = opts.test_rows as u64;
        let mut bad = BadLines::default();
        let mut row = ParsedRow::default();
        // Fail early on a missing or unreadable train file.
        let mut r = RowReader::open(&train, strict)?;
        if !r.next_row(&mut row)? {
            return Err(r.no_rows_error());
        }
        let bad_before_first = r.bad_lines().clone();
        // Parse the whole training file now if it fits (a file bigger than the budget
        // on disk is at least as big parsed, unless compressed: stop at the budget).
        let mut cache = None;
        let size = std::fs::metadata(&train).map_or(u64::MAX, |m| m.len());
        if size <= TRAIN_CACHE_BYTES as u64 {
            let mut rows = Batch::default();
            row.push_to(&mut rows);
            let mut fits = true;
            while fits && r.next_row(&mut row)? {
                fits = parsed_bytes(rows.len() + 1) <= TRAIN_CACHE_BYTES;
                row.push_to(&mut rows);
            }
            if fits {
                cache = Some(Arc::new((rows, r.bad_lines().clone())));
            }
        }
        let mut t = RowReader::open(&test_file, strict)?;
        let mut test = Batch::default();
        while (cap == 0 || (test.len() as u64) < cap) && t.next_row(&mut row)? {
            row.push_to(&mut test);
        }
        if test.is_empty() {
            return Err(t.no_rows_error());
        }
        merge_bad_lines(&mut bad, &bad_before_first);
        merge_bad_lines(&mut bad, t.bad_lines());
        Ok(FileSource {
            train,
            test_file: Some(test_file),
            strict,
            train_rows: None,
            test_available: test.len() as u64,
            test,
            bad,
            dataset: opts.dataset,
            cache,
        })
    }

    /// One file: its last `opts.test_fraction` of good rows are the test rows.
    fn open_holding_out_tail(opts: &DataOptions, train: PathBuf) -> Result<FileSource, DataError> {
        let strict = opts.strict;
        let cap = opts.test_rows as u64;
        let mut bad = BadLines::default();
        let mut row = ParsedRow::default();
        // Pass 1: count the good rows, keeping them while they fit in the cache, with
        // the good rows before each bad line (to tell the training part's bad lines).
        let mut r = RowReader::open(&train, strict)?;
        let mut kept: Option<(Batch, Vec<u64>)> = Some(Default::default());
        loop {
            let bad_before = r.bad_lines().count;
            if !r.next_row(&mut row)? {
                break;
            }
            if let Some((rows, bad_at)) = &mut kept {
                let skipped = r.bad_lines().count - bad_before;
                bad_at.extend((0..skipped).map(|_| rows.len() as u64));
                if parsed_bytes(rows.len() + 1) + 8 * bad_at.len() > TRAIN_CACHE_BYTES {
                    kept = None;
                } else {
                    row.push_to(rows);
                }
            }
        }
        let n = r.rows_read();
        if n == 0 {
            return Err(r.no_rows_error());
        }
        merge_bad_lines(&mut bad, r.bad_lines());
        if n < 2 {
            return Err(DataError::Unusable {
                path: train.display().to_string(),
                reason: format!("only {n} good row: cannot hold out a test set (give --test FILE)"),
            });
        }
        let (n_train, n_test) = split_rows(n, opts.test_fraction);
        let mut cache = None;
        let mut test = Batch::default();
        if let Some((mut rows, bad_at)) = kept {
            // The test rows are the tail; the training pass would have met the bad
            // lines before its last row (a prefix of the file's, first ones included).
            let end = if cap == 0 { n } else { (n_train + cap).min(n) };
            test.extend_from(&rows, n_train as usize..end as usize);
            rows.truncate(n_train as usize);
            let count = bad_at.iter().filter(|&&b| b < n_train).count();
            let all = r.bad_lines();
            let bad = BadLines {
                count: count as u64,
                first: all.first.iter().take(count).cloned().collect(),
            };
            cache = Some(Arc::new((rows, bad)));
        } else {
            // Pass 2: the test rows are the tail, from good row `n_train` on.
            let mut r = RowReader::open(&train, strict)?;
            let mut seen = 0u64;
            while (cap == 0 || (test.len() as u64) < cap) && r.next_row(&mut row)? {
                if seen >= n_train {
                    row.push_to(&mut test);
                }
                seen += 1;
            }
        }
        Ok(FileSource {
            train,
            test_file: None,
            strict,
            train_rows: Some(n_train),
            test_available: n_test,
            test,
            bad,
            dataset: opts.dataset,
            cache,
        })
    }

    /// Good rows per training epoch, when known.
    pub fn train_rows(&self) -> Option<u64> {
        self.train_rows
    }
}

/// Split `n >= 2` rows into (train, test): the test share is `fraction` rounded, at least one row
/// on each side.
pub fn split_rows(n: u64, fraction: f64) -> (u64, u64) {
    let test = ((n as f64 * fraction).round() as u64).clamp(1, n.saturating_sub(1).max(1));
    (n - test, test)
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

impl DataSource for FileSource {
    fn label(&self) -> String {
        let kind = match self.dataset {
            crate::data::Dataset::Kaggle => "Criteo",
            crate::data::Dataset::Terabyte => "Criteo Terabyte",
        };
        let test = self.test.len() as u64;
        let test = if test < self.test_available {
            format!("{} of {}", thousands(test), thousands(self.test_available))
        } else {
            thousands(test)
        };
        match (&self.test_file, self.train_rows) {
            (Some(t), _) => format!(
                "{kind} file {} (train) / {} ({test} test rows)",
                file_name(&self.train),
                file_name(t),
            ),
            (None, Some(n)) => format!(
                "{kind} file {} ({} train / {test} test rows)",
                file_name(&self.train),
                thousands(n),
            ),
            (None, None) => format!("{kind} file {}", file_name(&self.train)),
        }
    }

    fn is_synthetic(&self) -> bool {
        false
    }

    fn open_train(&self) -> Result<Box<dyn BatchStream>, DataError> {
        if let Some(rows) = &self.cache {
            return Ok(Box::new(CachedStream {
                rows: Arc::clone(rows),
                next: 0,
            }));
        }
        Ok(Box::new(FileStream {
            reader: RowReader::open(&self.train, self.strict)?,
            limit: self.train_rows,
            row: ParsedRow::default(),
        }))
    }

    fn test_set(&self) -> Result<Batch, DataError> {
        Ok(self.test.clone())
    }

    fn train_keys(&self) -> Option<&[u64]> {
        self.cache.as_ref().map(|rows| &rows.0.keys[..])
    }

    fn bad_lines(&self) -> BadLines {
        self.bad.clone()
    }
}

/// One pass over the training rows of a `FileSource`.
struct FileStream {
    reader: RowReader,
    /// Stop after this many good rows (the rest of the file is the test set).
    limit: Option<u64>,
    row: ParsedRow,
}

/// Bytes a batch of `rows` parsed rows takes.
fn parsed_bytes(rows: usize) -> usize {
    rows * (4 * NUM_DENSE + 8 * NUM_CAT + 4)
}

impl BatchStream for FileStream {
    fn next_batch(&mut self, rows: usize, out: &mut Batch) -> Result<usize, DataError> {
        out.clear();
        out.true_prob = None;
        while out.len() < rows {
            if self.limit.is_some_and(|l| self.reader.rows_read() >= l) {
                break;
            }
            if !self.reader.next_row(&mut self.row)? {
                break;
            }
            self.row.push_to(out);
        }
        Ok(out.len())
    }

    fn bad_lines(&self) -> BadLines {
        self.reader.bad_lines().clone()
    }
}

/// One pass over training rows kept in memory (see `TRAIN_CACHE_BYTES`): the same rows, in the
/// same order and batches, with the same bad lines, as a pass over the file.
struct CachedStream {
    rows: Arc<(Batch, BadLines)>,
    next: usize,
}

impl BatchStream for CachedStream {
    fn next_batch(&mut self, rows: usize, out: &mut Batch) -> Result<usize, DataError> {
        out.clear();
        out.true_prob = None;
        let all = &self.rows.0;
        let end = (self.next + rows).min(all.len());
        out.extend_from(all, self.next..end);
        self.next = end;
        Ok(out.len())
    }

    fn bad_lines(&self) -> BadLines {
        self.rows.1.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_one_row_each_side() {
        assert_eq!(split_rows(8000, 0.2), (6400, 1600));
        assert_eq!(split_rows(2, 0.01), (1, 1));
        assert_eq!(split_rows(2, 0.99), (1, 1));
        assert_eq!(thousands(6400), "6,400");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
