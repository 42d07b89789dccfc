//! The streaming row reader: lines of a plain or gzip file, numbered, parsed, bad ones counted.
//!
//! Owns: gzip detection, line capping (`MAX_LINE_BYTES`), line numbering, the strict mode, the
//! count of file bytes consumed (for progress bars) and MLPerf's `value mod M` of categorical
//! values. Must never: hold more than one line (and the read buffer) in memory, or panic on any
//! bytes.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::parse::{BadReason, MAX_LINE_BYTES, ParsedRow, parse_line_into};
use crate::data::{BAD_LINES_SHOWN, BadLines, DataError};
/// Read buffer of the (decompressed) input.
const READ_BUF_BYTES: usize = 1 << 20;
/// What one call to `LineReader::next_line` found.
enum Line {
    Eof,
    /// A line of at most `MAX_LINE_BYTES`, in the reader's buffer.
    Ok,
    /// A longer line, skipped; its full length.
    TooLong(u64),
}

/// Reads `\n`-terminated lines into a reused buffer, capping their length.
struct LineReader {
    input: Box<dyn BufRead + Send>,
    buf: Vec<u8>,
}

impl LineReader {
    fn next_line(&mut self) -> io::Result<Line> {
        self.buf.clear();
        // Bytes of the line (without the newline), and whether anything at all was consumed:
        // a lone "\n" is an (empty, bad) line, not the end of the file.
        let mut total: u64 = 0;
        let mut consumed_any = false;
        let mut too_long = false;
        loop {
            let avail = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                if !consumed_any {
                    return Ok(Line::Eof);
                }
                break;
            }
            let (take, used, done) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i, i + 1, true),
                None => (avail.len(), avail.len(), false),
            };
            total += take as u64;
            if !too_long {
                if self.buf.len() + take <= MAX_LINE_BYTES {
                    self.buf.extend_from_slice(&avail[..take]);
                } else {
                    // Keep reading to the newline, but drop the bytes: memory stays bounded.
                    too_long = true;
                    self.buf.clear();
                }
            }
            self.input.consume(used);
            consumed_any = true;
            if done {
                break;
            }
        }
        if too_long {
            Ok(Line::TooLong(total))
        } else {
            Ok(Line::Ok)
        }
    }
}

/// A reader that counts the bytes it hands out (the file bytes consumed, compressed or not).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Open a file, plain or gzip (detected by its magic bytes, not its name).
fn open_file(path: &Path) -> Result<File, DataError> {
    let file = File::open(path).map_err(|source| DataError::Open {
        path: path.display().to_string(),
        source,
    })?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(DataError::Unusable {
            path: path.display().to_string(),
            reason: "is a directory, not a Criteo file".into(),
        });
    }
    Ok(file)
}

/// Wrap `input` (a file or any byte stream), decompressing it when it starts with the gzip magic
/// bytes. Returns the line source and whether the input is gzip.
fn wrap_input(
    name: &str,
    input: Box<dyn Read + Send>,
) -> Result<(Box<dyn BufRead + Send>, bool), DataError> {
    let io_err = |source| DataError::Io {
        path: name.to_string(),
        source,
    };
    let mut plain = BufReader::with_capacity(READ_BUF_BYTES, input);
    let head = loop {
        match plain.fill_buf() {
            Ok(b) => break b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        }
    };
    if head.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::bufread::MultiGzDecoder::new(plain);
        Ok((Box::new(BufReader::with_capacity(READ_BUF_BYTES, gz)), true))
    } else {
        Ok((Box::new(plain), false))
    }
}

/// Streams the good rows of one Criteo file, skipping and counting bad lines (or stopping at the
/// first in strict mode). Memory: one read buffer and one line of at most `MAX_LINE_BYTES`.
pub struct RowReader {
    path: String,
    lines: LineReader,
    line_no: u64,
    rows: u64,
    strict: bool,
    bad: BadLines,
    gzip: bool,
    /// Bytes of the file (as stored: compressed for gzip) consumed so far.
    consumed: Arc<AtomicU64>,
    /// Categorical values are taken modulo this (MLPerf's Terabyte `mod 40,000,000`); 0 = off.
    mod_categories: u32,
}

impl RowReader {
    pub fn open(path: &Path, strict: bool) -> Result<RowReader, DataError> {
        let file = open_file(path)?;
        RowReader::from_reader(&path.display().to_string(), file, strict)
    }

    /// A reader over any byte stream, plain or gzip (benchmarks, tests); `name` stands for the
    /// file in errors and bad-line reports.
    pub fn from_reader(
        name: &str,
        input: impl Read + Send + 'static,
        strict: bool,
    ) -> Result<RowReader, DataError> {
        let consumed = Arc::new(AtomicU64::new(0));
        let counting = Counting {
            inner: input,
            count: Arc::clone(&consumed),
        };
        let (input, gzip) = wrap_input(name, Box::new(counting))?;
        Ok(RowReader {
            path: name.to_string(),
            lines: LineReader {
                input,
                buf: Vec::with_capacity(4096),
            },
            gzip,
            line_no: 0,
            rows: 0,
            strict,
            bad: BadLines::default(),
            consumed,
            mod_categories: 0,
        })
    }

    /// Take every categorical value modulo `m` after parsing its hex (MLPerf's Terabyte
    /// preprocessing uses 40,000,000); 0 leaves the values as they are.
    pub fn with_mod_categories(mut self, m: u32) -> RowReader {
        self.mod_categories = m;
        self
    }

    /// Bytes of the input consumed so far, as stored (compressed for gzip); read ahead by up to
    /// one read buffer.
    pub fn bytes_read(&self) -> u64 {
        self.consumed.load(Ordering::Relaxed)
    }

    /// Read the next good row into `row`; `Ok(false)` at the end of the file. I/O failures
    /// (including a truncated or corrupt gzip stream) name the file and the last line read.
    pub fn next_row(&mut self, row: &mut ParsedRow) -> Result<bool, DataError> {
        loop {
            let line = self.lines.next_line().map_err(|e| self.read_error(e))?;
            self.line_no += 1;
            let result = match line {
                Line::Eof => {
                    self.line_no -= 1;
                    return Ok(false);
                }
                Line::TooLong(len) => Err(BadReason::TooLong { len }),
                Line::Ok => parse_line_into(&self.lines.buf, row),
            };
            match result {
                Ok(()) => {
                    if self.mod_categories > 0 {
                        let m = self.mod_categories;
                        row.cats.iter_mut().for_each(|c| *c %= m);
                    }
                    self.rows += 1;
                    return Ok(true);
                }
                Err(reason) => self.bad_line(reason)?,
            }
        }
    }

    #[cold]
    fn read_error(&self, e: io::Error) -> DataError {
        let source = if self.gzip {
            io::Error::new(
                e.kind(),
                format!("reading the gzip stream: {e} (truncated or corrupt .gz file?)"),
            )
        } else {
            e
        };
        DataError::Io {
            path: format!("{}:{}", self.path, self.line_no + 1),
            source,
        }
    }

    #[cold]
    fn bad_line(&mut self, reason: BadReason) -> Result<(), DataError> {
        if self.strict {
            return Err(DataError::BadLine {
                path: self.path.clone(),
                line: self.line_no,
                reason: reason.to_string(),
            });
        }
        self.bad.count += 1;
        if self.bad.first.len() < BAD_LINES_SHOWN {
            self.bad
                .first
                .push(format!("{}:{}: {}", self.path, self.line_no, reason));
        }
        Ok(())
    }

    /// Lines read so far (good and bad).
    pub fn lines_read(&self) -> u64 {
        self.line_no
    }

    /// Good rows returned so far.
    pub fn rows_read(&self) -> u64 {
        self.rows
    }

    pub fn bad_lines(&self) -> &BadLines {
        &self.bad
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The error for a file that ended without one good row.
    pub fn no_rows_error(&self) -> DataError {
        let reason = if self.line_no == 0 {
            "no rows: the file is empty".to_string()
        } else {
            let first = self
                .bad
                .first
                .first()
                .map(|s| format!("; first: {s}"))
                .unwrap_or_default();
            format!("no rows: all {} lines are malformed{first}", self.bad.count)
        };
        DataError::Unusable {
            path: self.path.clone(),
            reason,
        }
    }
}

/// Merge `more` into `into`, keeping the first `BAD_LINES_SHOWN` in order.
pub fn merge_bad_lines(into: &mut BadLines, more: &BadLines) {
    into.count += more.count;
    for s in &more.first {
        if into.first.len() < BAD_LINES_SHOWN {
            into.first.push(s.clone());
        }
    }
}
