//! Property tests of the Criteo line parser: no input bytes make it panic, and every valid row
//! survives a format/parse round trip (lower or upper case hex).

use std::io::Write;

use memrec_tui::data::criteo::{ParsedRow, RowReader, format_line, parse_line};
use memrec_tui::data::{NUM_CAT, NUM_DENSE};
use proptest::prelude::*;

fn arb_row() -> impl Strategy<Value = ParsedRow> {
    (
        0u8..=1,
        proptest::collection::vec(proptest::option::of(any::<i64>()), NUM_DENSE),
        proptest::collection::vec(proptest::option::of(any::<u32>()), NUM_CAT),
    )
        .prop_map(|(label, ints, cats)| {
            let mut r = ParsedRow {
                label,
                ..ParsedRow::default()
            };
            for (i, v) in ints.into_iter().enumerate() {
                if let Some(v) = v {
                    r.ints[i] = v;
                    r.int_present |= 1 << i;
                }
            }
            for (j, v) in cats.into_iter().enumerate() {
                if let Some(v) = v {
                    r.cats[j] = v;
                    r.cat_present |= 1 << j;
                }
            }
            r
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(row) = parse_line(&bytes) {
            // Whatever parses must format back to a line that parses the same.
            let mut out = Vec::new();
            format_line(&row, &mut out);
            prop_assert_eq!(parse_line(&out), Ok(row));
        }
    }

    #[test]
    fn round_trip(row in arb_row(), upper in any::<bool>()) {
        let mut line = Vec::new();
        format_line(&row, &mut line);
        if upper {
            line.make_ascii_uppercase();
        }
        prop_assert_eq!(parse_line(&line), Ok(row));
    }

    #[test]
    fn one_changed_byte_never_panics(row in arb_row(), at in any::<prop::sample::Index>(), b in any::<u8>()) {
        let mut line = Vec::new();
        format_line(&row, &mut line);
        let i = at.index(line.len());
        line[i] = b;
        match parse_line(&line) {
            Ok(r) => {
                let mut again = Vec::new();
                format_line(&r, &mut again);
                prop_assert_eq!(parse_line(&again), Ok(r));
            }
            Err(reason) => prop_assert!(!reason.to_string().is_empty()),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The streaming reader on arbitrary bytes (with newlines) never panics, and counts every line
    /// as good or bad.
    #[test]
    fn reader_never_panics(chunks in proptest::collection::vec(
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            arb_row().prop_map(|r| { let mut v = Vec::new(); format_line(&r, &mut v); v }),
        ], 0..12)) {
        // A file starting with the gzip magic is read as gzip (and fails as one): not this test.
        prop_assume!(!chunks.first().is_some_and(|c| c.starts_with(&[0x1f, 0x8b])));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = std::fs::File::create(&path).unwrap();
        for c in &chunks {
            f.write_all(c).unwrap();
            f.write_all(b"\n").unwrap();
        }
        drop(f);
        let mut r = RowReader::open(&path, false).unwrap();
        let mut row = ParsedRow::default();
        while r.next_row(&mut row).unwrap() {}
        let newlines = chunks.iter().flatten().filter(|&&b| b == b'\n').count() + chunks.len();
        prop_assert_eq!(r.lines_read(), newlines as u64);
        prop_assert_eq!(r.rows_read() + r.bad_lines().count, r.lines_read());
    }
}
