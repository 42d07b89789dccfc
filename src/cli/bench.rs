//! `memrec-tui bench`: the latency probe's full measurement (`train::latency::measure_full`)
//! printed as a human table, or one JSON line with `--json`.
//!
//! Owns: the table's text. Must never: time anything itself (the probe does).

use super::CliError;
use crate::config::Config;
use crate::train::latency::measure_full;

/// `memrec-tui bench`: a human table, or one JSON line with `--json`.
pub fn run_cli(cfg: &Config, json: bool) -> Result<(), CliError> {
    let r = measure_full(cfg)?;
    if json {
        let line = serde_json::to_string(&r).map_err(CliError::runtime)?;
        println!("{line}");
        return Ok(());
    }
    let l = &r.latency;
    let mb = |b: u64| b as f64 / (1u64 << 20) as f64;
    println!(
        "lookup latency, preset {} ({} threads, batch {}, {} timed batches after {} warm-up; \
         1 token = one (sample, feature) lookup)",
        r.preset, l.threads, l.batch, l.batches, cfg.bench.warmup
    );
    println!(
        "  {:<46} {:>10} {:>10} {:>12} {:>6}",
        "", "ns/token", "p99 ns", "MiB", "fits"
    );
    println!(
        "  {:<46} {:>10.2} {:>10.2} {:>12.2} {:>6}",
        format!("{} ({})", r.representation, cfg.compressed_knobs()),
        l.compressed_ns_per_token,
        l.compressed_p99_ns,
        mb(l.compressed_bytes),
        l.compressed_fits
    );
    let full_label = if l.full_measured_at_full_size {
        format!("uncompressed gather ({} rows)", r.full_rows_measured)
    } else {
        format!(
            "uncompressed gather, SCALED ({} rows)",
            r.full_rows_measured
        )
    };
    println!(
        "  {:<46} {:>10.2} {:>10.2} {:>12.2} {:>6}",
        full_label,
        l.full_ns_per_token,
        l.full_p99_ns,
        mb(r.full_bytes_measured),
        r.full_measured_fits
    );
    println!(
        "  fastest batch: {} {:.2} ns/token, uncompressed {:.2} ns/token",
        r.representation, r.memrec_min_ns_per_token, r.full_min_ns_per_token
    );
    if let (Some(med), Some(min), Some(bytes)) = (
        r.floor_ns_per_token,
        r.floor_min_ns_per_token,
        r.floor_bytes_per_token,
    ) {
        println!(
            "  floor (its {bytes:.0} table bytes per token read, indices computed beforehand): \
             {med:.2} ns/token, fastest {min:.2}; the kernel is {:.2}x its floor",
            l.compressed_ns_per_token / med
        );
    }
    if !l.full_measured_at_full_size {
        println!(
            "  full tables: {:.1} MiB by formula (4 d sum V), fits {}: too big for this machine, \
             gather measured on the scaled table above",
            mb(l.full_bytes),
            l.full_fits
        );
    }
    println!(
        "  speedup {:.1}x; memory {:.0}x smaller; forward+backward+update {:.1} M tokens/s \
         ({:.1}x the forward time)",
        l.speedup,
        l.full_bytes as f64 / l.compressed_bytes.max(1) as f64,
        r.memrec_fwd_bwd_tokens_per_s / 1e6,
        r.fwd_bwd_over_fwd
    );
    Ok(())
}
