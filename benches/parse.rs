//! Throughput of the Criteo reader, in bytes of (uncompressed) text per second, on the real sample:
//! `parse_line` alone and with the conversion to a `Batch`, on the sample repeated in memory; and
//! the whole streaming reader on a 100x-repeated copy written to the temp dir, plain and gzip; and
//! the reader on the sample gzipped in memory (`gzip_memory`: no disk, one core), the figure of the
//! speed requirement (at least 150 MB/s of decompressed text per core).
//!
//! Run: `cargo bench --bench parse` (`cargo bench --bench parse -- gzip_memory` for the gzip
//! figure alone). Skips (with a message) when the sample is absent.

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memrec_tui::data::Batch;
use memrec_tui::data::criteo::{ParsedRow, RowReader, parse_line_into};

fn sample() -> Option<Vec<u8>> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/datasets/criteo/kaggle-sample-train.txt");
    match std::fs::read(&p) {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!("skipping the parse benchmarks: {}: {e}", p.display());
            None
        }
    }
}

fn repeated(s: &[u8], times: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() * times);
    for _ in 0..times {
        v.extend_from_slice(s);
    }
    v
}

/// Parse every line of `buf`; returns the clicks so nothing is optimised away.
fn parse_all(buf: &[u8], row: &mut ParsedRow) -> u64 {
    let mut clicks = 0;
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', buf) {
        if parse_line_into(&buf[start..end], row).is_ok() {
            clicks += row.label as u64;
        }
        start = end + 1;
    }
    clicks
}

fn bench_parse(c: &mut Criterion) {
    let Some(s) = sample() else { return };
    let buf = repeated(&s, 16);
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(buf.len() as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    let mut row = ParsedRow::default();
    g.bench_function("parse_line", |b| {
        b.iter(|| black_box(parse_all(black_box(&buf), &mut row)))
    });
    let mut batch = Batch::with_capacity(4096);
    g.bench_function("parse_line+batch", |b| {
        b.iter(|| {
            let mut start = 0;
            let mut n = 0;
            for end in memchr::memchr_iter(b'\n', &buf) {
                if parse_line_into(&buf[start..end], &mut row).is_ok() {
                    if batch.len() == 4096 {
                        batch.clear();
                    }
                    row.push_to(&mut batch);
                    n += 1;
                }
                start = end + 1;
            }
            black_box((n, batch.dense.last().copied()))
        })
    });
    g.finish();
}

/// Write `data` to `path` once (plain or gzip), reusing a previous run's file.
fn ensure_file(path: &Path, data: &[u8], gzip: bool) -> std::io::Result<()> {
    if path.is_file() {
        return Ok(());
    }
    let tmp = path.with_extension("partial");
    let f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    if gzip {
        let mut z = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        z.write_all(data)?;
        z.finish()?.flush()?;
    } else {
        let mut f = f;
        f.write_all(data)?;
        f.flush()?;
    }
    std::fs::rename(tmp, path)
}

fn bench_reader(c: &mut Criterion) {
    let Some(s) = sample() else { return };
    let data = repeated(&s, 100);
    let dir = std::env::temp_dir();
    let plain = dir.join("memrec-bench-criteo-100x.tsv");
    let gz = dir.join("memrec-bench-criteo-100x.tsv.gz");
    for (p, z) in [(&plain, false), (&gz, true)] {
        if let Err(e) = ensure_file(p, &data, z) {
            eprintln!("skipping the reader benchmarks: {}: {e}", p.display());
            return;
        }
    }
    let mut g = c.benchmark_group("reader");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    for (name, p) in [("plain_100x", &plain), ("gzip_100x", &gz)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut r = RowReader::open(p, false).expect("bench file");
                let mut row = ParsedRow::default();
                while r.next_row(&mut row).expect("bench file") {}
                assert_eq!(r.rows_read(), 800_000);
                r.rows_read()
            })
        });
    }
    g.finish();
}

/// The streaming reader over the sample, repeated and gzipped in memory: decompression, line
/// splitting and parsing on one core; throughput in bytes of decompressed text.
fn bench_gzip_memory(c: &mut Criterion) {
    let Some(s) = sample() else { return };
    const TIMES: usize = 20;
    let data = repeated(&s, TIMES);
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&data).expect("in memory");
    let gz: &'static [u8] = Box::leak(z.finish().expect("in memory").into_boxed_slice());
    let want = 8000 * TIMES as u64;
    let mut g = c.benchmark_group("reader");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("gzip_memory", |b| {
        b.iter(|| {
            let input = std::io::Cursor::new(gz);
            let mut r = RowReader::from_reader("sample.gz", input, false).expect("gzip");
            let mut row = ParsedRow::default();
            let mut clicks = 0u64;
            while r.next_row(&mut row).expect("gzip") {
                clicks += row.label as u64;
            }
            assert_eq!(r.rows_read(), want);
            black_box(clicks)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_parse, bench_reader, bench_gzip_memory);
criterion_main!(benches);
