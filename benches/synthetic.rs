//! Throughput of the synthetic stream (rows/s), for the ">= 1 M rows/s on 2 cores" claim.
//!
//! `cargo bench --bench synthetic` (criterion prints elements/s = rows/s). The pool uses every
//! core of the machine unless `RAYON_NUM_THREADS` says otherwise.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memrec_tui::config::Config;
use memrec_tui::data::synthetic::SyntheticSource;
use memrec_tui::data::{Batch, DataSource};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("synthetic");
    for (preset, rows) in [("kaggle", 65_536usize), ("kaggle", 128), ("tiny", 65_536)] {
        let cfg = Config::from_preset(preset).expect("embedded preset");
        let src = SyntheticSource::new(&cfg.data_options());
        let mut stream = src.open_train().expect("synthetic stream");
        let mut batch = Batch::default();
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_function(format!("{preset}/batch {rows}"), |b| {
            b.iter(|| {
                stream
                    .next_batch(rows, &mut batch)
                    .expect("infinite stream")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
