//! Fuzz the Criteo line parser: no input may panic it, every rejection has a reason, and every
//! accepted line formats back to a line that parses to the same row.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memrec_tui::data::criteo::{format_line, parse_line};

fuzz_target!(|data: &[u8]| {
    match parse_line(data) {
        Ok(row) => {
            let mut out = Vec::with_capacity(data.len() + 16);
            format_line(&row, &mut out);
            assert_eq!(parse_line(&out), Ok(row));
        }
        Err(reason) => assert!(!reason.to_string().is_empty()),
    }
});
