//! The Criteo line grammar: one line of bytes to a `ParsedRow`, or the precise reason it is bad.
//!
//! Owns: the 40-field grammar, integer and hex parsing, the dense transform and the bad-line
//! reasons. Must never: allocate per good line, panic on any input bytes, or do I/O.

use std::fmt;

use crate::data::{Batch, NUM_CAT, NUM_DENSE, token_key};

/// Fields of a Criteo line: label, 13 integers, 26 categories.
pub const NUM_FIELDS: usize = 1 + NUM_DENSE + NUM_CAT;
/// Longest line accepted (real lines are about 250 bytes); a longer one is bad, and reading it
/// costs no more memory than this.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
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
}
