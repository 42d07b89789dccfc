//! `FileSource`: the train/test split of one file, a separate test file, fresh streams per run,
//! and the errors a user sees for missing or malformed files.

mod common;

use std::path::PathBuf;

use memrec_tui::config::Config;
use memrec_tui::data::criteo::{ParsedRow, RowReader, parse_line};
use memrec_tui::data::{Batch, DataError, DataSource, NUM_CAT, NUM_DENSE, open_source};

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/malformed")
        .join(name)
}

fn config(train: &std::path::Path, test: Option<&std::path::Path>, test_rows: usize) -> Config {
    let mut cfg = Config::from_preset("kaggle").unwrap();
    cfg.data.train = Some(train.display().to_string());
    cfg.data.test = test.map(|t| t.display().to_string());
    cfg.data.test_fraction = 0.2;
    cfg.data.strict = false;
    cfg.eval.test_rows = test_rows;
    cfg
}

/// All batches of one training pass, concatenated.
fn drain(src: &dyn DataSource, batch: usize) -> Batch {
    let mut stream = src.open_train().unwrap();
    let mut all = Batch::default();
    let mut b = Batch::default();
    loop {
        let n = stream.next_batch(batch, &mut b).unwrap();
        if n == 0 {
            break;
        }
        assert!(n <= batch);
        assert_eq!(b.true_prob, None);
        all.extend_from(&b, 0..n);
    }
    all
}

#[test]
fn the_sample_splits_into_6400_train_and_1600_test_rows() {
    let Some(sample) = common::criteo_sample() else {
        return;
    };
    let src = open_source(&config(&sample, None, 0).data_options()).unwrap();
    assert!(!src.is_synthetic());
    assert_eq!(
        src.label(),
        "Criteo file kaggle-sample-train.txt (6,400 train / 1,600 test rows)"
    );
    let train = drain(src.as_ref(), 1000);
    assert_eq!(train.len(), 6400);
    assert_eq!(train.dense.len(), 6400 * NUM_DENSE);
    assert_eq!(train.keys.len(), 6400 * NUM_CAT);
    let test = src.test_set().unwrap();
    assert_eq!(test.len(), 1600);
    assert_eq!(src.bad_lines().count, 0);

    // Rows are those of the file, in order: train = lines 1..=6400, test = 6401..=8000.
    let text = std::fs::read_to_string(&sample).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in [(0, lines[0]), (6399, lines[6399])] {
        let r = parse_line(line.as_bytes()).unwrap();
        assert_eq!(train.labels[i], r.label as f32);
        for j in 0..NUM_CAT {
            assert_eq!(train.keys[i * NUM_CAT + j], r.key(j));
        }
        for k in 0..NUM_DENSE {
            assert_eq!(train.dense[i * NUM_DENSE + k], r.dense(k));
        }
    }
    let r = parse_line(lines[6400].as_bytes()).unwrap();
    assert_eq!(
        &test.keys[..NUM_CAT],
        &(0..NUM_CAT).map(|j| r.key(j)).collect::<Vec<_>>()[..]
    );
    let clicks: f32 = train.labels.iter().sum::<f32>() + test.labels.iter().sum::<f32>();
    assert_eq!(clicks, 1728.0);

    // Every run gets its own stream from the first row: a second pass is identical.
    assert_eq!(drain(src.as_ref(), 333), train);
}

#[test]
fn test_rows_caps_the_tail_from_its_start() {
    let Some(sample) = common::criteo_sample() else {
        return;
    };
    let src = open_source(&config(&sample, None, 100).data_options()).unwrap();
    assert_eq!(
        src.label(),
        "Criteo file kaggle-sample-train.txt (6,400 train / 100 of 1,600 test rows)"
    );
    let capped = src.test_set().unwrap();
    let full = open_source(&config(&sample, None, 0).data_options())
        .unwrap()
        .test_set()
        .unwrap();
    let mut head = Batch::default();
    head.extend_from(&full, 0..100);
    assert_eq!(capped, head);
}

#[test]
fn a_separate_test_file_gzip_or_not() {
    let train = corpus("good.tsv");
    let test = corpus("valid_gzip_no_extension");
    let src = open_source(&config(&train, Some(&test), 0).data_options()).unwrap();
    assert_eq!(
        src.label(),
        "Criteo file good.tsv (train) / valid_gzip_no_extension (5 test rows)"
    );
    assert_eq!(drain(src.as_ref(), 2).len(), 3);
    assert_eq!(src.test_set().unwrap().len(), 5);
    let src = open_source(&config(&train, Some(&test), 4).data_options()).unwrap();
    assert_eq!(src.test_set().unwrap().len(), 4);
}

#[test]
fn bad_lines_are_counted_or_stop_the_source_in_strict_mode() {
    let path = corpus("wrong_field_count.tsv");
    let src = open_source(&config(&path, None, 0).data_options()).unwrap();
    // 2 good rows: 1 train, 1 test; both bad lines were seen by the counting pass.
    assert!(
        src.label().ends_with("(1 train / 1 test rows)"),
        "{}",
        src.label()
    );
    assert_eq!(src.bad_lines().count, 2);
    let mut stream = src.open_train().unwrap();
    let mut b = Batch::default();
    assert_eq!(stream.next_batch(10, &mut b).unwrap(), 1);
    assert_eq!(stream.next_batch(10, &mut b).unwrap(), 0);
    // The stream stops at the split without reading on: line 2 (bad) belongs to the tail.
    assert_eq!(stream.bad_lines().count, 0);

    let mut cfg = config(&path, None, 0);
    cfg.data.strict = true;
    match open_source(&cfg.data_options()) {
        Err(DataError::BadLine {
            line: 2, reason, ..
        }) => {
            assert_eq!(reason, "expected 40 tab-separated fields, found 39")
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("strict mode accepted a bad line"),
    }
}

#[test]
fn missing_empty_and_unsplittable_files_are_clear_errors() {
    let missing = corpus("no-such-file.tsv");
    match open_source(&config(&missing, None, 0).data_options()) {
        Err(e @ DataError::Open { .. }) => assert!(e.to_string().contains("no-such-file.tsv")),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened a missing file"),
    }
    let check = |cfg: Config, want: &str| match open_source(&cfg.data_options()) {
        Err(e @ DataError::Unusable { .. }) => {
            assert!(e.to_string().contains(want), "{e}")
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("accepted: {want}"),
    };
    check(
        config(&corpus("empty.tsv"), None, 0),
        "no rows: the file is empty",
    );
    check(
        config(&corpus("crlf.tsv"), None, 0),
        "no rows: all 3 lines are malformed",
    );
    check(
        config(&corpus("good.tsv"), Some(&corpus("empty.tsv")), 0),
        "empty.tsv: no rows",
    );
    check(
        config(&corpus("non_numeric_int.tsv"), None, 0),
        "only 1 good row: cannot hold out a test set",
    );
}

#[test]
fn reader_and_parser_agree_on_every_sample_row() {
    let Some(sample) = common::criteo_sample() else {
        return;
    };
    let text = std::fs::read(&sample).unwrap();
    let mut r = RowReader::open(&sample, true).unwrap();
    let mut row = ParsedRow::default();
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(r.next_row(&mut row).unwrap());
        assert_eq!(row, parse_line(line).unwrap());
    }
    assert!(!r.next_row(&mut row).unwrap());
    assert_eq!(r.lines_read(), 8000);
}

/// A training file of `good` copies of the corpus's good lines with a bad line after the first,
/// and a separate test file, in a temporary directory.
fn train_with_a_bad_line(dir: &std::path::Path, good: usize) -> (PathBuf, PathBuf) {
    let lines: Vec<String> = std::fs::read_to_string(corpus("good.tsv"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut text = String::new();
    for i in 0..good {
        text.push_str(&lines[i % lines.len()]);
        text.push('\n');
        if i == 0 {
            text.push_str("1\tnot a criteo line\n");
        }
    }
    let (train, test) = (dir.join("train.tsv"), dir.join("test.tsv"));
    std::fs::write(&train, text).unwrap();
    std::fs::copy(corpus("good.tsv"), &test).unwrap();
    (train, test)
}

/// The training rows and bad lines of one streamed pass read with `RowReader` directly: the
/// first `limit` good rows (all of them if `None`).
fn streamed(path: &std::path::Path, limit: Option<usize>) -> (Batch, memrec_tui::data::BadLines) {
    let mut r = RowReader::open(path, false).unwrap();
    let mut row = ParsedRow::default();
    let mut all = Batch::default();
    while limit.is_none_or(|l| all.len() < l) && r.next_row(&mut row).unwrap() {
        row.push_to(&mut all);
    }
    (all, r.bad_lines().clone())
}

#[test]
fn every_pass_comes_from_memory_with_the_rows_and_bad_lines_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = train_with_a_bad_line(dir.path(), 50);
    let (rows, bad) = streamed(&train, None);
    assert_eq!((rows.len(), bad.count), (50, 1));
    assert!(bad.first[0].contains("train.tsv:2"), "{:?}", bad.first);
    for test_file in [Some(&test), None] {
        let src =
            open_source(&config(&train, test_file.map(|t| t.as_path()), 0).data_options()).unwrap();
        // With the file split, the last 20% are test rows; the bad line is in the training part.
        let n_train = if test_file.is_some() { 50 } else { 40 };
        let (want, want_bad) = streamed(&train, Some(n_train));
        assert_eq!(want_bad, bad);
        // Parsed when the source opened: the file can go.
        std::fs::rename(&train, dir.path().join("moved.tsv")).unwrap();
        for batch in [1, 7, 64] {
            assert_eq!(drain(src.as_ref(), batch), want, "batch {batch}");
        }
        // What a run admits before training: exactly the keys the passes will bring.
        assert_eq!(src.train_keys(), Some(&want.keys[..]));
        let mut stream = src.open_train().unwrap();
        let mut b = Batch::default();
        assert_eq!(stream.next_batch(64, &mut b).unwrap(), n_train);
        assert_eq!(stream.next_batch(64, &mut b).unwrap(), 0);
        assert_eq!(stream.bad_lines(), bad);
        std::fs::rename(dir.path().join("moved.tsv"), &train).unwrap();
    }
}

#[test]
fn a_split_file_keeps_only_its_training_rows() {
    let Some(sample) = common::criteo_sample() else {
        return;
    };
    let src = open_source(&config(&sample, None, 0).data_options()).unwrap();
    let kept = drain(src.as_ref(), 128);
    assert_eq!(kept, streamed(&sample, Some(6400)).0);
    let test = src.test_set().unwrap();
    let (all, _) = streamed(&sample, None);
    let mut tail = Batch::default();
    tail.extend_from(&all, 6400..8000);
    assert_eq!(test, tail);
}
