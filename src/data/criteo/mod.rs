//! Criteo TSV reading: the byte-level line parser, the streaming row reader (plain or gzip), and
//! `FileSource`, the `DataSource` over one or two Criteo files.
//!
//! Owns: the Criteo line grammar (40 tab-separated fields: label, I1..I13, C1..C26; Kaggle
//! `train.txt` and Terabyte `day_N` share it), the precise reason a line is bad, line numbering,
//! gzip detection, the train/test split of a single file, and the parsed copy of a training set
//! small enough to keep (`TRAIN_CACHE_BYTES`). Must never: load a whole file into memory beyond
//! that bound, allocate per good line, panic on any input bytes, or know about models or the UI.
//!
//! Line ends: Criteo files use LF. A carriage return anywhere in a line (a CRLF file, or a CR/LF
//! mix) makes that line bad, with a reason that says so; it is never stripped silently, so a file
//! converted on Windows is reported rather than half-accepted.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{BAD_LINES_SHOWN, BadLines, Batch, BatchStream, DataError, DataSource};
use super::{NUM_CAT, NUM_DENSE, token_key};

/// Fields of a Criteo line: label, 13 integers, 26 categories.
pub const NUM_FIELDS: usize = 1 + NUM_DENSE + NUM_CAT;
/// Longest line accepted (real lines are about 250 bytes); a longer one is bad, and reading it
/// costs no more memory than this.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Read buffer of the (decompressed) input.
const READ_BUF_BYTES: usize = 1 << 20;
/// A training set whose parsed rows take at most this many bytes (264 per row: about a million
/// rows) is parsed once, when the source opens (before any timed step, as the test rows are),
/// and every epoch of every run reads it from memory. A bigger one is streamed every epoch.
pub const TRAIN_CACHE_BYTES: usize = 256 << 20;
/// Longest excerpt of a bad field quoted in a reason.
const SNIPPET_BYTES: usize = 16;

/// One good line, as parsed: raw integers and category values with presence masks. No heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParsedRow {
    /// 0 or 1.
    pub label: u8,
    /// I1..I13 as written (0 where missing).
    pub ints: [i64; NUM_DENSE],
    /// Bit `i` set when I(i+1) is present.
    pub int_present: u16,
    /// C1..C26 as 32-bit values (0 where missing).
    pub cats: [u32; NUM_CAT],
    /// Bit `j` set when C(j+1) is present.
    pub cat_present: u32,
}

impl ParsedRow {
    /// I(i+1), `None` when missing.
    #[inline]
    pub fn int(&self, i: usize) -> Option<i64> {
        (self.int_present >> i & 1 == 1).then_some(self.ints[i])
    }

    /// C(j+1), `None` when missing.
    #[inline]
    pub fn cat(&self, j: usize) -> Option<u32> {
        (self.cat_present >> j & 1 == 1).then_some(self.cats[j])
    }

    /// The model's dense input of I(i+1): `ln(1 + max(x, 0))`, 0 when missing.
    #[inline]
    pub fn dense(&self, i: usize) -> f32 {
        dense_value(self.int(i))
    }

    /// The token key of C(j+1) (`data::token_key`).
    #[inline]
    pub fn key(&self, j: usize) -> u64 {
        token_key(j, self.cat(j))
    }

    /// Append this row to `batch` (dense log1p, keys, label).
    pub fn push_to(&self, batch: &mut Batch) {
        batch.dense.extend((0..NUM_DENSE).map(|i| self.dense(i)));
        batch.keys.extend((0..NUM_CAT).map(|j| self.key(j)));
        batch.labels.push(self.label as f32);
    }
}

/// Write `row` as a Criteo line (no newline), lower-case hex: the inverse of `parse_line`, used by
/// the round-trip tests, the fuzz target and tools that write sample files.
pub fn format_line(row: &ParsedRow, out: &mut Vec<u8>) {
    use std::io::Write as _;
    out.push(b'0' + row.label.min(1));
    for i in 0..NUM_DENSE {
        out.push(b'\t');
        if let Some(v) = row.int(i) {
            // Writing to a Vec cannot fail.
            let _ = write!(out, "{v}");
        }
    }
    for j in 0..NUM_CAT {
        out.push(b'\t');
        if let Some(v) = row.cat(j) {
            let _ = write!(out, "{v:08x}");
        }
    }
}

/// `ln(1 + max(x, 0))` as f32; a missing value is 0. Computed in f64 so that every caller (the
/// reader, stats) gets the same rounding.
#[inline]
pub fn dense_value(x: Option<i64>) -> f32 {
    match x {
        // Most Criteo integers are small counts: a table lookup instead of a logarithm (the
        // table holds the very same f64-computed values, so results do not depend on the path).
        Some(v) if v > 0 && (v as u64) < LOG1P_TABLE_LEN as u64 => LOG1P_TABLE[v as usize],
        Some(v) if v > 0 => (v as f64).ln_1p() as f32,
        _ => 0.0,
    }
}

const LOG1P_TABLE_LEN: usize = 2048;
static LOG1P_TABLE: std::sync::LazyLock<[f32; LOG1P_TABLE_LEN]> =
    std::sync::LazyLock::new(|| std::array::from_fn(|i| (i as f64).ln_1p() as f32));

/// A short, owned excerpt of a bad field (no heap: bad lines can be most of a junk file).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Snippet {
    bytes: [u8; SNIPPET_BYTES],
    len: u8,
    truncated: bool,
}

impl Snippet {
    fn new(field: &[u8]) -> Snippet {
        let n = field.len().min(SNIPPET_BYTES);
        let mut bytes = [0u8; SNIPPET_BYTES];
        bytes[..n].copy_from_slice(&field[..n]);
        Snippet {
            bytes,
            len: n as u8,
            truncated: field.len() > SNIPPET_BYTES,
        }
    }
}

impl fmt::Display for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &b in &self.bytes[..self.len as usize] {
            write!(f, "{}", std::ascii::escape_default(b))?;
        }
        f.write_str(if self.truncated { "...\"" } else { "\"" })
    }
}

impl fmt::Debug for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a line is bad. Columns are 1-based byte positions in the line; `int` and `cat` are 0-based
/// indexes (I1 = 0, C1 = 0) and printed 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadReason {
    EmptyLine,
    /// Longer than `MAX_LINE_BYTES` (`len` bytes, without the newline).
    TooLong {
        len: u64,
    },
    CarriageReturn {
        column: usize,
    },
    /// A byte that is not printable ASCII or a tab (binary junk, other encodings).
    NonText {
        byte: u8,
        column: usize,
    },
    FieldCount {
        found: usize,
    },
    Label {
        text: Snippet,
    },
    NotInteger {
        int: u8,
        text: Snippet,
    },
    IntegerOverflow {
        int: u8,
        text: Snippet,
    },
    NotHex {
        cat: u8,
        text: Snippet,
    },
    HexLength {
        cat: u8,
        len: usize,
        text: Snippet,
    },
}

impl fmt::Display for BadReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadReason::EmptyLine => write!(f, "empty line"),
            BadReason::TooLong { len } => write!(
                f,
                "line too long: {len} bytes (at most {MAX_LINE_BYTES}; Criteo lines are ~250)"
            ),
            BadReason::CarriageReturn { column } => write!(
                f,
                "carriage return at column {column}: lines must end with LF only \
                 (a CRLF file can be converted with dos2unix)"
            ),
            BadReason::NonText { byte, column } => write!(
                f,
                "binary or non-ASCII byte 0x{byte:02x} at column {column}: Criteo lines are ASCII text"
            ),
            BadReason::FieldCount { found } => write!(
                f,
                "expected {NUM_FIELDS} tab-separated fields, found {found}"
            ),
            BadReason::Label { text } => write!(f, "label: expected 0 or 1, found {text}"),
            BadReason::NotInteger { int, text } => {
                write!(f, "I{}: not an integer: {text}", int + 1)
            }
            BadReason::IntegerOverflow { int, text } => {
                write!(f, "I{}: integer out of the 64-bit range: {text}", int + 1)
            }
            BadReason::NotHex { cat, text } => write!(
                f,
                "C{}: not hexadecimal (expected 8 hex digits): {text}",
                cat + 1
            ),
            BadReason::HexLength { cat, len, text } => write!(
                f,
                "C{}: expected 8 hex digits, found {len} characters: {text}",
                cat + 1
            ),
        }
    }
}

/// Where the fast path gave up; `diagnose` turns it into a `BadReason`.
#[derive(Clone, Copy)]
enum Fail {
    /// The line's structure (tabs, end) is not 40 fields, or a field is malformed: look again.
    Structure,
    Label,
    Int(u8, IntFail),
    Cat(u8),
}

#[derive(Clone, Copy)]
enum IntFail {
    NotInteger,
    Overflow,
}

/// Hex digit values; 0xff = not a hex digit. Upper and lower case are both accepted.
const HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Parse one Criteo line (without its `\n`). Never panics; a bad line gets a precise reason.
///
/// The Kaggle and Terabyte releases share this layout, so there is no layout parameter.
pub fn parse_line(line: &[u8]) -> Result<ParsedRow, BadReason> {
    let mut row = ParsedRow::default();
    match parse_fast(line, &mut row) {
        Ok(()) => Ok(row),
        Err(fail) => Err(diagnose(line, fail)),
    }
}

/// Parse into an existing row (the reader's hot path: no copy of the row on success).
#[inline]
pub fn parse_line_into(line: &[u8], row: &mut ParsedRow) -> Result<(), BadReason> {
    parse_fast(line, row).map_err(|fail| diagnose(line, fail))
}

#[inline]
fn parse_fast(line: &[u8], row: &mut ParsedRow) -> Result<(), Fail> {
    let n = line.len();
    // Label: one byte, then a tab.
    if n < 2 || line[1] != b'\t' {
        return Err(Fail::Structure);
    }
    row.label = match line[0] {
        b'0' => 0,
        b'1' => 1,
        _ => return Err(Fail::Label),
    };
    let mut p = 2;
    row.int_present = 0;
    for i in 0..NUM_DENSE {
        let (v, present, end) = parse_int(line, p).map_err(|e| Fail::Int(i as u8, e))?;
        // Every integer field is followed by a tab (the categories come after).
        if end >= n {
            return Err(Fail::Structure);
        }
        row.ints[i] = v;
        row.int_present |= (present as u16) << i;
        p = end + 1;
    }
    row.cat_present = 0;
    for j in 0..NUM_CAT {
        let last = j == NUM_CAT - 1;
        // The field ends at the next tab, or at the end of the line for C26.
        let end = if p >= n || line[p] == b'\t' {
            row.cats[j] = 0;
            p
        } else {
            let e = p + 8;
            if e > n || (e < n && line[e] != b'\t') {
                return Err(Fail::Cat(j as u8));
            }
            let mut v: u32 = 0;
            let mut bad = 0u8;
            for &b in &line[p..e] {
                let d = HEX[b as usize];
                bad |= d;
                v = v << 4 | (d & 0x0f) as u32;
            }
            // Any 0xff entry sets the high bits; digits never do.
            if bad & 0xf0 != 0 {
                return Err(Fail::Cat(j as u8));
            }
            row.cats[j] = v;
            row.cat_present |= 1 << j;
            e
        };
        if last {
            if end != n {
                return Err(Fail::Structure);
            }
        } else {
            if end >= n {
                return Err(Fail::Structure);
            }
            p = end + 1;
        }
    }
    Ok(())
}

/// Parse the integer field starting at `p`: returns (value, present, index of the byte after it).
/// The byte after it is not checked here beyond "not a digit".
#[inline]
fn parse_int(line: &[u8], mut p: usize) -> Result<(i64, bool, usize), IntFail> {
    let n = line.len();
    let neg = p < n && line[p] == b'-';
    if neg {
        p += 1;
    }
    let start = p;
    let mut v: u64 = 0;
    while p < n {
        let d = line[p].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        // Up to 19 digits cannot overflow u64; longer numbers are checked below.
        v = v.wrapping_mul(10).wrapping_add(d as u64);
        p += 1;
    }
    let digits = p - start;
    if p < n && line[p] != b'\t' {
        return Err(IntFail::NotInteger);
    }
    if digits == 0 {
        return if neg {
            Err(IntFail::NotInteger)
        } else {
            Ok((0, false, p))
        };
    }
    if digits > 18 {
        // Rare: redo it with checks (leading zeros make long strings legal).
        let mut c: u64 = 0;
        for &b in &line[start..p] {
            c = c
                .checked_mul(10)
                .and_then(|c| c.checked_add((b - b'0') as u64))
                .ok_or(IntFail::Overflow)?;
        }
        v = c;
    }
    let value = if neg {
        if v > i64::MAX as u64 + 1 {
            return Err(IntFail::Overflow);
        }
        (v as i64).wrapping_neg()
    } else {
        if v > i64::MAX as u64 {
            return Err(IntFail::Overflow);
        }
        v as i64
    };
    Ok((value, true, p))
}

/// The slow path: why exactly the line is bad. Checks in order of what the user most needs to
/// hear: line ends, binary junk, field count, then the field that failed.
#[cold]
fn diagnose(line: &[u8], fail: Fail) -> BadReason {
    if line.is_empty() {
        return BadReason::EmptyLine;
    }
    if let Some(i) = memchr::memchr(b'\r', line) {
        return BadReason::CarriageReturn { column: i + 1 };
    }
    if let Some(i) = line
        .iter()
        .position(|&b| !(b == b'\t' || (0x20..0x7f).contains(&b)))
    {
        return BadReason::NonText {
            byte: line[i],
            column: i + 1,
        };
    }
    let found = memchr::memchr_iter(b'\t', line).count() + 1;
    if found != NUM_FIELDS {
        return BadReason::FieldCount { found };
    }
    let field = |k: usize| line.split(|&b| b == b'\t').nth(k).unwrap_or(&[]);
    match fail {
        Fail::Label | Fail::Structure => {
            // With 40 fields the structure can only fail on the label (e.g. "10" or "").
            let f = field(0);
            if f != b"0" && f != b"1" {
                return BadReason::Label {
                    text: Snippet::new(f),
                };
            }
            // Not reachable for a 40-field line; report the count rather than panic.
            BadReason::FieldCount { found }
        }
        Fail::Int(i, e) => {
            let text = Snippet::new(field(1 + i as usize));
            match e {
                IntFail::NotInteger => BadReason::NotInteger { int: i, text },
                IntFail::Overflow => BadReason::IntegerOverflow { int: i, text },
            }
        }
        Fail::Cat(j) => {
            let f = field(1 + NUM_DENSE + j as usize);
            let text = Snippet::new(f);
            if f.len() != 8 {
                BadReason::HexLength {
                    cat: j,
                    len: f.len(),
                    text,
                }
            } else {
                BadReason::NotHex { cat: j, text }
            }
        }
    }
}

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

/// Open a file, plain or gzip (detected by its magic bytes, not its name).
/// Returns the reader and whether the file is gzip.
fn open_input(path: &Path) -> Result<(Box<dyn BufRead + Send>, bool), DataError> {
    let io_err = |source| DataError::Io {
        path: path.display().to_string(),
        source,
    };
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
    let mut plain = BufReader::with_capacity(READ_BUF_BYTES, file);
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
}

impl RowReader {
    pub fn open(path: &Path, strict: bool) -> Result<RowReader, DataError> {
        let (input, gzip) = open_input(path)?;
        Ok(RowReader {
            path: path.display().to_string(),
            lines: LineReader {
                input,
                buf: Vec::with_capacity(4096),
            },
            gzip,
            line_no: 0,
            rows: 0,
            strict,
            bad: BadLines::default(),
        })
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
    dataset: crate::config::Dataset,
    /// The training rows, parsed, with the bad lines a pass over them skips, when they fit in
    /// `TRAIN_CACHE_BYTES`.
    cache: Option<Arc<(Batch, BadLines)>>,
}

impl FileSource {
    pub fn open(cfg: &crate::config::Config) -> Result<FileSource, DataError> {
        let train =
            PathBuf::from(
                cfg.data
                    .train
                    .as_deref()
                    .ok_or_else(|| DataError::Unusable {
                        path: "data.train".into(),
                        reason: "no train file given".into(),
                    })?,
            );
        let strict = cfg.data.strict;
        let cap = cfg.eval.test_rows as u64;
        let mut bad = BadLines::default();
        let mut row = ParsedRow::default();
        match cfg.data.test.as_deref() {
            Some(test_path) => {
                let test_file = PathBuf::from(test_path);
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
                    dataset: cfg.data.dataset,
                    cache,
                })
            }
            None => {
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
                        reason: format!(
                            "only {n} good row: cannot hold out a test set (give --test FILE)"
                        ),
                    });
                }
                let (n_train, n_test) = split_rows(n, cfg.data.test_fraction);
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
                    dataset: cfg.data.dataset,
                    cache,
                })
            }
        }
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
            crate::config::Dataset::Kaggle => "Criteo",
            crate::config::Dataset::Terabyte => "Criteo Terabyte",
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

    fn good_line() -> String {
        let mut f = vec!["1".to_string()];
        f.extend((0..13).map(|i| {
            if i == 2 {
                String::new()
            } else {
                format!("{}", i * 7 - 1)
            }
        }));
        f.extend((0..26).map(|j| {
            if j == 5 {
                String::new()
            } else {
                format!("{:08x}", 0xdead_0000u32 + j)
            }
        }));
        f.join("\t")
    }

    #[test]
    fn parses_a_good_line() {
        let r = parse_line(good_line().as_bytes()).unwrap();
        assert_eq!(r.label, 1);
        assert_eq!(r.int(0), Some(-1));
        assert_eq!(r.int(2), None);
        assert_eq!(r.int(12), Some(83));
        assert_eq!(r.cat(0), Some(0xdead_0000));
        assert_eq!(r.cat(5), None);
        assert_eq!(r.cat(25), Some(0xdead_0019));
        assert_eq!(r.dense(0), 0.0);
        assert_eq!(r.dense(1), (6f64).ln_1p() as f32);
        assert_eq!(r.key(5), token_key(5, None));
    }

    #[test]
    fn upper_case_hex_is_the_same_value() {
        let lower = good_line();
        let upper = lower.replace("dead", "DEAD");
        assert_eq!(
            parse_line(lower.as_bytes()).unwrap(),
            parse_line(upper.as_bytes()).unwrap()
        );
    }

    #[test]
    fn reasons_are_precise() {
        let base = good_line();
        let fields: Vec<&str> = base.split('\t').collect();
        let with = |k: usize, v: &str| {
            let mut f = fields.clone();
            f[k] = v;
            f.join("\t")
        };
        let reason = |s: String| parse_line(s.as_bytes()).unwrap_err().to_string();
        assert_eq!(reason(String::new()), "empty line");
        assert_eq!(
            reason(fields[..39].join("\t")),
            "expected 40 tab-separated fields, found 39"
        );
        assert_eq!(reason(with(0, "2")), "label: expected 0 or 1, found \"2\"");
        assert_eq!(reason(with(0, "")), "label: expected 0 or 1, found \"\"");
        assert_eq!(reason(with(4, "12a")), "I4: not an integer: \"12a\"");
        assert_eq!(reason(with(4, "-")), "I4: not an integer: \"-\"");
        assert_eq!(
            reason(with(13, "99999999999999999999")),
            "I13: integer out of the 64-bit range: \"9999999999999999...\""
        );
        assert_eq!(
            reason(with(14, "0000000g")),
            "C1: not hexadecimal (expected 8 hex digits): \"0000000g\""
        );
        assert_eq!(
            reason(with(39, "123456789")),
            "C26: expected 8 hex digits, found 9 characters: \"123456789\""
        );
        assert!(reason(format!("{base}\r")).starts_with("carriage return at column"));
        assert!(reason(with(20, "\u{e9}")).starts_with("binary or non-ASCII byte 0xc3"));
    }

    #[test]
    fn integer_limits() {
        let base = good_line();
        let mut f: Vec<&str> = base.split('\t').collect();
        f[1] = "-9223372036854775808";
        f[2] = "9223372036854775807";
        f[3] = "0000000000000000000000042";
        let r = parse_line(f.join("\t").as_bytes()).unwrap();
        assert_eq!(r.int(0), Some(i64::MIN));
        assert_eq!(r.int(1), Some(i64::MAX));
        assert_eq!(r.int(2), Some(42));
        f[2] = "9223372036854775808";
        assert!(matches!(
            parse_line(f.join("\t").as_bytes()),
            Err(BadReason::IntegerOverflow { int: 1, .. })
        ));
    }

    #[test]
    fn dense_table_and_formula_agree() {
        for v in [1i64, 2, 7, 2047, 2048, 2049, 1_618_112, i64::MAX] {
            assert_eq!(dense_value(Some(v)), (v as f64).ln_1p() as f32, "{v}");
        }
        assert_eq!(dense_value(Some(0)), 0.0);
        assert_eq!(dense_value(Some(-2)), 0.0);
        assert_eq!(dense_value(None), 0.0);
    }

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
