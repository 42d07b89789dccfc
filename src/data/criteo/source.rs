//! `FileSource`: the `DataSource` over Criteo files (one or several training files, a test file or
//! the last of several, or the tail of a single file), with the train/test split of a single file,
//! the `data.max_rows` cap and the parsed copy of a training set small enough to keep.
//!
//! Must never: keep more than `TRAIN_CACHE_BYTES` of parsed rows, or read a file twice when once
//! is enough.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::files::{DataFiles, FileChain, TestRows, total_size};
use super::parse::ParsedRow;
use super::reader::{RowReader, merge_bad_lines};
use crate::data::progress::Progress;
use crate::data::{
    BadLines, Batch, BatchStream, DataError, DataOptions, DataSource, NUM_CAT, NUM_DENSE,
};

/// A training set whose parsed rows take at most this many bytes (264 per row: about a million
/// rows) is parsed once, when the source opens (before any timed step, as the test rows are),
/// and every epoch of every run reads it from memory. A bigger one is streamed every epoch.
pub const TRAIN_CACHE_BYTES: usize = 256 << 20;

/// Criteo files as a `DataSource`: training files streamed in order and either a test file (given,
/// or the last of several training files) or the tail of the only training file
/// (`data.test_fraction`), at most `eval.test_rows` test rows (0 = all); training passes stop
/// after `data.max_rows` good rows when set.
pub struct FileSource {
    files: DataFiles,
    strict: bool,
    mod_categories: u32,
    /// Good rows the training stream yields per epoch; `None` = the whole training files (not
    /// counted when the test rows are a file of their own, to spare a pass over huge files).
    train_rows: Option<u64>,
    /// `data.max_rows` (0 = all): training passes stop after this many good rows.
    max_rows: u64,
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
    /// Expand and check every file of `opts` (none is read before all are known to exist), then
    /// read the test rows.
    pub fn open(opts: &DataOptions) -> Result<FileSource, DataError> {
        if opts.train.is_empty() {
            return Err(DataError::Unusable {
                path: "data.train".into(),
                reason: "no train file given".into(),
            });
        }
        let files = DataFiles::resolve(&opts.train, opts.test.as_deref())?;
        match files.test_file().map(Path::to_path_buf) {
            Some(test_file) => FileSource::open_with_test_file(opts, files, test_file),
            None => FileSource::open_holding_out_tail(opts, files),
        }
    }

    fn reader(&self, path: &Path) -> Result<RowReader, DataError> {
        Ok(RowReader::open(path, self.strict)?.with_mod_categories(self.mod_categories))
    }

    /// Training files and a separate test file: the training files are only checked (and kept
    /// parsed when small, or when `max_rows` is), not counted.
    fn open_with_test_file(
        opts: &DataOptions,
        files: DataFiles,
        test_file: PathBuf,
    ) -> Result<FileSource, DataError> {
        let mut src = FileSource::unread(opts, files);
        let mut bad = BadLines::default();
        let mut row = ParsedRow::default();
        // Fail early on a training file without rows.
        let mut r = FileChain::open(&src.files.train, src.strict, src.mod_categories)?;
        if !r.next_row(&mut row)? {
            return Err(r.no_rows_error());
        }
        let bad_before_first = r.bad_lines();
        // Parse the training rows now if they fit (files bigger than the budget on disk are at
        // least as big parsed, unless compressed: stop at the budget).
        let size = total_size(&src.files.train);
        let limit = (src.max_rows > 0).then_some(src.max_rows);
        let small = size <= TRAIN_CACHE_BYTES as u64
            || limit.is_some_and(|n| n <= (TRAIN_CACHE_BYTES / parsed_bytes(1)) as u64);
        if small {
            let mut progress = Progress::new(format!("reading {}", src.train_name()), size);
            let mut rows = Batch::default();
            row.push_to(&mut rows);
            let mut fits = true;
            while fits && limit.is_none_or(|n| (rows.len() as u64) < n) && r.next_row(&mut row)? {
                fits = parsed_bytes(rows.len() + 1) <= TRAIN_CACHE_BYTES;
                row.push_to(&mut rows);
                progress.update(rows.len() as u64, r.bytes_read());
            }
            progress.finish();
            if fits {
                src.cache = Some(Arc::new((rows, r.bad_lines())));
            }
        }
        let mut t = src.reader(&test_file)?;
        let mut test = Batch::default();
        let cap = opts.test_rows as u64;
        let mut progress = Progress::new(
            format!("reading test rows of {}", file_name(&test_file)),
            total_size(std::slice::from_ref(&test_file)),
        );
        while (cap == 0 || (test.len() as u64) < cap) && t.next_row(&mut row)? {
            row.push_to(&mut test);
            progress.update(test.len() as u64, t.bytes_read());
        }
        progress.finish();
        if test.is_empty() {
            return Err(t.no_rows_error());
        }
        merge_bad_lines(&mut bad, &bad_before_first);
        merge_bad_lines(&mut bad, t.bad_lines());
        src.test_available = test.len() as u64;
        src.test = test;
        src.bad = bad;
        Ok(src)
    }

    /// A source with no rows read yet.
    fn unread(opts: &DataOptions, files: DataFiles) -> FileSource {
        FileSource {
            files,
            strict: opts.strict,
            mod_categories: opts.mod_categories,
            train_rows: None,
            max_rows: opts.max_rows,
            test: Batch::default(),
            test_available: 0,
            bad: BadLines::default(),
            dataset: opts.dataset,
            cache: None,
        }
    }

    /// One file: its last `opts.test_fraction` of good rows are the test rows.
    fn open_holding_out_tail(
        opts: &DataOptions,
        files: DataFiles,
    ) -> Result<FileSource, DataError> {
        let mut src = FileSource::unread(opts, files);
        let train = src.files.train[0].clone();
        let cap = opts.test_rows as u64;
        let mut bad = BadLines::default();
        let mut row = ParsedRow::default();
        // Pass 1: count the good rows, keeping them while they fit in the cache, with
        // the good rows before each bad line (to tell the training part's bad lines).
        let mut r = src.reader(&train)?;
        let mut progress = Progress::new(
            format!("counting rows of {}", file_name(&train)),
            total_size(std::slice::from_ref(&train)),
        );
        let mut kept: Option<(Batch, Vec<u64>)> = Some(Default::default());
        loop {
            let bad_before = r.bad_lines().count;
            if !r.next_row(&mut row)? {
                break;
            }
            progress.update(r.rows_read(), r.bytes_read());
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
        progress.finish();
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
        // The training stream: the first `n_train` rows, or fewer with `data.max_rows`.
        let n_used = if src.max_rows > 0 {
            n_train.min(src.max_rows)
        } else {
            n_train
        };
        let mut test = Batch::default();
        if let Some((mut rows, bad_at)) = kept {
            // The test rows are the tail; the training pass would have met the bad
            // lines before its last row (a prefix of the file's, first ones included).
            let end = if cap == 0 { n } else { (n_train + cap).min(n) };
            test.extend_from(&rows, n_train as usize..end as usize);
            rows.truncate(n_used as usize);
            let count = bad_at.iter().filter(|&&b| b < n_used).count();
            let all = r.bad_lines();
            let bad = BadLines {
                count: count as u64,
                first: all.first.iter().take(count).cloned().collect(),
            };
            src.cache = Some(Arc::new((rows, bad)));
        } else {
            // Pass 2: the test rows are the tail, from good row `n_train` on.
            let mut r = src.reader(&train)?;
            let mut progress = Progress::new(
                format!("reading test rows of {}", file_name(&train)),
                total_size(std::slice::from_ref(&train)),
            );
            let mut seen = 0u64;
            while (cap == 0 || (test.len() as u64) < cap) && r.next_row(&mut row)? {
                if seen >= n_train {
                    row.push_to(&mut test);
                }
                seen += 1;
                progress.update(seen, r.bytes_read());
            }
            progress.finish();
        }
        src.train_rows = Some(n_used);
        src.test_available = n_test;
        src.test = test;
        src.bad = bad;
        Ok(src)
    }

    /// Good rows per training epoch, when known.
    pub fn train_rows(&self) -> Option<u64> {
        self.train_rows
    }

    /// The training files and the test rows' origin, as expanded when the source opened.
    pub fn files(&self) -> &DataFiles {
        &self.files
    }

    /// `day_0.gz`, or `day_0.gz .. day_22.gz (23 files)`.
    fn train_name(&self) -> String {
        files_label(&self.files.train)
    }
}

/// `day_0.gz`, or `day_0.gz .. day_22.gz (23 files)`.
pub fn files_label(files: &[PathBuf]) -> String {
    match files {
        [] => String::new(),
        [one] => file_name(one),
        [first, .., last] => format!(
            "{} .. {} ({} files)",
            file_name(first),
            file_name(last),
            files.len()
        ),
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
        let first = if self.max_rows > 0 && self.train_rows.is_none_or(|n| n >= self.max_rows) {
            format!("first {} rows of ", thousands(self.max_rows))
        } else {
            String::new()
        };
        let many = self.files.train.len() > 1;
        let files = if many { "files" } else { "file" };
        let train = self.train_name();
        match (&self.files.test, self.train_rows) {
            (TestRows::LastFile(t), _) => format!(
                "{kind} {files} {first}{train} (train) / {} (the last file: {test} test rows, as MLPerf tests on the last day)",
                file_name(t),
            ),
            (TestRows::File(t), _) => format!(
                "{kind} {files} {first}{train} (train) / {} ({test} test rows)",
                file_name(t),
            ),
            (TestRows::Tail, Some(n)) => format!(
                "{kind} file {train} ({} train / {test} test rows)",
                thousands(n),
            ),
            (TestRows::Tail, None) => format!("{kind} file {train}"),
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
        let limit = match (self.train_rows, self.max_rows) {
            (Some(n), _) => Some(n),
            (None, 0) => None,
            (None, m) => Some(m),
        };
        Ok(Box::new(FileStream {
            reader: FileChain::open(&self.files.train, self.strict, self.mod_categories)?,
            limit,
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
    reader: FileChain,
    /// Stop after this many good rows (the rest of the file is the test set, or `data.max_rows`).
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
        self.reader.bad_lines()
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
