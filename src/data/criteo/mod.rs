//! Criteo TSV reading: the byte-level line parser, the streaming row reader (plain or gzip), and
//! `FileSource`, the `DataSource` over Criteo files (several training files and globs streamed in
//! order, a test file or the last of several).
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
mod files;
mod parse;
mod reader;
mod source;

pub use files::{DataFiles, FileChain, TestRows, expand_files, natural_cmp, total_size};
pub use parse::{
    BadReason, MAX_LINE_BYTES, NUM_FIELDS, ParsedRow, Snippet, dense_value, format_line,
    parse_line, parse_line_into,
};
pub use reader::{RowReader, merge_bad_lines};
pub use source::{FileSource, TRAIN_CACHE_BYTES, files_label, split_rows, thousands};
