//! Several Criteo files as one stream: the list of files and globs expanded (`day_*.gz`, sorted
//! naturally so `day_2` comes before `day_10`), every one checked before any is read, and
//! `FileChain`, the rows of the files one after the other.
//!
//! Owns: glob expansion and natural order, the "missing file / empty glob" errors, and the
//! bookkeeping of a pass over several files (rows, lines, bad lines named by file, bytes read).
//! Must never: read a row before every file of the list is known to exist, or reorder files the
//! user listed explicitly.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use super::parse::ParsedRow;
use super::reader::{RowReader, merge_bad_lines};
use crate::data::{BadLines, DataError};

/// Whether `s` holds a glob metacharacter.
fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Expand `patterns` in the order given: a path that exists is taken as is (even if its name
/// holds `*` or `[`), a glob is expanded to its matches in natural order, anything else is an
/// error naming it (a missing file, a glob that matches nothing, a bad glob).
pub fn expand_files(patterns: &[String]) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::new();
    for p in patterns {
        let path = Path::new(p);
        if path.exists() || !is_glob(p) {
            check_file(path)?;
            out.push(path.to_path_buf());
            continue;
        }
        let unusable = |reason: String| DataError::Unusable {
            path: p.clone(),
            reason,
        };
        let paths = glob::glob(p).map_err(|e| unusable(format!("not a valid glob: {e}")))?;
        let mut matched = Vec::new();
        for entry in paths {
            let entry = entry.map_err(|e| DataError::Open {
                path: e.path().display().to_string(),
                source: std::io::Error::new(e.error().kind(), e.error().to_string()),
            })?;
            if entry.is_file() {
                matched.push(entry);
            }
        }
        if matched.is_empty() {
            return Err(unusable("no file matches this glob".into()));
        }
        matched.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
        out.extend(matched);
    }
    Ok(out)
}

/// The files of a session, expanded and checked: the training files in stream order and where
/// the test rows come from.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFiles {
    pub train: Vec<PathBuf>,
    pub test: TestRows,
}

/// Where the test rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum TestRows {
    /// A file given as `--test` (`data.test`).
    File(PathBuf),
    /// The last of several training files (as MLPerf tests on the last day); it is not trained on.
    LastFile(PathBuf),
    /// The last `data.test_fraction` of the only training file.
    Tail,
}

impl DataFiles {
    /// Expand `train` (files and globs, in order) and `test`, checking every file exists. With
    /// several training files and no test file, the last one holds the test rows.
    pub fn resolve(train: &[String], test: Option<&str>) -> Result<DataFiles, DataError> {
        let mut train = expand_files(train)?;
        let test = match test {
            Some(t) => {
                let mut found = expand_files(&[t.to_string()])?;
                if found.len() > 1 {
                    return Err(DataError::Unusable {
                        path: t.to_string(),
                        reason: format!(
                            "the test glob matches {} files; give one test file",
                            found.len()
                        ),
                    });
                }
                TestRows::File(found.remove(0))
            }
            None if train.len() > 1 => TestRows::LastFile(train.pop().expect("at least two files")),
            None => TestRows::Tail,
        };
        Ok(DataFiles { train, test })
    }

    /// The test file, when the test rows are a file of their own.
    pub fn test_file(&self) -> Option<&Path> {
        match &self.test {
            TestRows::File(p) | TestRows::LastFile(p) => Some(p),
            TestRows::Tail => None,
        }
    }
}

/// A file that must exist and be a file (not a directory).
fn check_file(path: &Path) -> Result<(), DataError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(DataError::Unusable {
            path: path.display().to_string(),
            reason: "is a directory, not a Criteo file".into(),
        }),
        Ok(_) => Ok(()),
        Err(source) => Err(DataError::Open {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Natural order: runs of digits compare as numbers (`day_2` < `day_10`), the rest bytewise.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let na = trim_zeros(&a[..da]);
                let nb = trim_zeros(&b[..db]);
                let ord = na
                    .len()
                    .cmp(&nb.len())
                    .then_with(|| na.cmp(nb))
                    .then_with(|| da.cmp(&db));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let z = d.iter().take_while(|&&c| c == b'0').count();
    &d[z..]
}

/// Total size on disk of `files` (0 for one that cannot be read: a progress estimate only).
pub fn total_size(files: &[PathBuf]) -> u64 {
    files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum()
}

/// The good rows of several files, one file after the other, as one stream. A file is opened
/// when the previous one ends; bad lines are named by file and line.
pub struct FileChain {
    files: Vec<PathBuf>,
    /// Index of the file `current` reads.
    index: usize,
    current: RowReader,
    strict: bool,
    mod_categories: u32,
    /// Good rows, lines and file bytes of the files already finished, and their bad lines.
    rows_done: u64,
    lines_done: u64,
    bytes_done: u64,
    bad_done: BadLines,
}

impl FileChain {
    /// Open the first of `files` (at least one).
    pub fn open(files: &[PathBuf], strict: bool, mod_categories: u32) -> Result<Self, DataError> {
        let first = files.first().ok_or_else(|| DataError::Unusable {
            path: "data.train".into(),
            reason: "no train file given".into(),
        })?;
        Ok(FileChain {
            current: RowReader::open(first, strict)?.with_mod_categories(mod_categories),
            files: files.to_vec(),
            index: 0,
            strict,
            mod_categories,
            rows_done: 0,
            lines_done: 0,
            bytes_done: 0,
            bad_done: BadLines::default(),
        })
    }

    /// The next good row of the chain; `Ok(false)` after the last file.
    pub fn next_row(&mut self, row: &mut ParsedRow) -> Result<bool, DataError> {
        loop {
            if self.current.next_row(row)? {
                return Ok(true);
            }
            if self.index + 1 >= self.files.len() {
                return Ok(false);
            }
            self.index += 1;
            let next = RowReader::open(&self.files[self.index], self.strict)?
                .with_mod_categories(self.mod_categories);
            let done = std::mem::replace(&mut self.current, next);
            self.rows_done += done.rows_read();
            self.lines_done += done.lines_read();
            self.bytes_done += done.bytes_read();
            merge_bad_lines(&mut self.bad_done, done.bad_lines());
        }
    }

    /// Good rows returned so far.
    pub fn rows_read(&self) -> u64 {
        self.rows_done + self.current.rows_read()
    }

    /// Lines read so far (good and bad), over all files.
    pub fn lines_read(&self) -> u64 {
        self.lines_done + self.current.lines_read()
    }

    /// File bytes consumed so far (as stored), over all files.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_done + self.current.bytes_read()
    }

    /// Bad lines skipped so far, the first ones named `file:line: reason`.
    pub fn bad_lines(&self) -> BadLines {
        if self.index == 0 {
            return self.current.bad_lines().clone();
        }
        let mut all = self.bad_done.clone();
        merge_bad_lines(&mut all, self.current.bad_lines());
        all
    }

    /// The error for a chain that ended without one good row: the file's own words for one
    /// file, else every file named by count.
    pub fn no_rows_error(&self) -> DataError {
        if self.files.len() == 1 {
            return self.current.no_rows_error();
        }
        DataError::Unusable {
            path: self.files[0].display().to_string(),
            reason: format!(
                "no rows in any of the {} files ({} lines read, all malformed or empty)",
                self.files.len(),
                self.lines_read()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_reads_numbers_as_numbers() {
        let mut v = vec![
            "day_10.gz",
            "day_2.gz",
            "day_1.gz",
            "day_0.gz",
            "day_02.gz",
            "a",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "a",
                "day_0.gz",
                "day_1.gz",
                "day_2.gz",
                "day_02.gz",
                "day_10.gz"
            ]
        );
        assert_eq!(natural_cmp("x", "x"), Ordering::Equal);
        assert_eq!(natural_cmp("x9", "x10"), Ordering::Less);
        assert_eq!(natural_cmp("x", "x1"), Ordering::Less);
    }
}
