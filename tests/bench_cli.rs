//! `memrec-tui bench`: the JSON line has the documented fields with sane values, the cache level
//! each table fits in agrees with the machine's caches (read here from /sys, independently of the
//! crate), and `train::latency::measure` (the explorer's latency panel) agrees on what it measured. Small
//! shapes only: a test never asserts a wall-clock figure.

use assert_cmd::Command;
use memrec_tui::config::Config;

const SMALL: [&str; 8] = [
    "--set",
    "data.cardinalities=[50,40,3000,2000,30,24,500,60,3,900,500,3000,300,27,1000,2000,10,500,200,4,2000,18,15,800,105,1000]",
    "--set",
    "bench.batch=64",
    "--set",
    "bench.batches=5",
    "--set",
    "bench.warmup=1",
];

/// L1 data, L2 and L3 sizes of cpu0 in bytes as /sys gives them (`None` when not readable).
fn machine_caches() -> [Option<u64>; 3] {
    let mut out = [None; 3];
    let Ok(dir) = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache") else {
        return out;
    };
    for e in dir.flatten() {
        let read = |f: &str| std::fs::read_to_string(e.path().join(f)).ok();
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
        else {
            continue;
        };
        if kind.trim() == "Instruction" {
            continue;
        }
        let size = size.trim();
        let bytes = if let Some(k) = size.strip_suffix('K') {
            k.parse::<u64>().ok().map(|n| n << 10)
        } else if let Some(m) = size.strip_suffix('M') {
            m.parse::<u64>().ok().map(|n| n << 20)
        } else {
            size.parse::<u64>().ok()
        };
        if let (Ok(l @ 1..=3), Some(b)) = (level.trim().parse::<usize>(), bytes) {
            out[l - 1] = Some(out[l - 1].map_or(b, |o: u64| o.max(b)));
        }
    }
    out
}

/// The level a table of `bytes` fits in on this machine: the first cache at least that big.
fn level_for(bytes: u64) -> &'static str {
    let caches = machine_caches();
    if caches.iter().all(Option::is_none) {
        return "unknown";
    }
    match caches.iter().position(|c| c.is_some_and(|c| bytes <= c)) {
        Some(0) => "L1",
        Some(1) => "L2",
        Some(_) => "L3",
        None => "DRAM",
    }
}

#[test]
fn bench_json_has_the_documented_fields() {
    let out = Command::cargo_bin("memrec-tui")
        .unwrap()
        .args(["bench", "--preset", "kaggle", "--json", "--threads", "2"])
        .args(SMALL)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON line: {text}");
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    for field in [
        "memrec_ns_per_token",
        "memrec_p99_ns",
        "full_ns_per_token",
        "speedup",
        "memrec_fwd_bwd_tokens_per_s",
    ] {
        let x = v[field]
            .as_f64()
            .unwrap_or_else(|| panic!("{field} in {v}"));
        assert!(x.is_finite() && x > 0.0, "{field} = {x}");
    }
    assert_eq!(v["threads"], 2);
    assert_eq!(v["batch"], 64);
    assert_eq!(v["memrec_bytes"], 4 * (16384 * 16 + 1024));
    let cards: u64 = 50
        + 40
        + 3000
        + 2000
        + 30
        + 24
        + 500
        + 60
        + 3
        + 900
        + 500
        + 3000
        + 300
        + 27
        + 1000
        + 2000
        + 10
        + 500
        + 200
        + 4
        + 2000
        + 18
        + 15
        + 800
        + 105
        + 1000;
    assert_eq!(v["full_bytes"], 4 * 16 * cards);
    assert_eq!(v["full_measured_at_full_size"], true);
    assert_eq!(v["full_rows_measured"], cards);
    assert_eq!(v["representation"], "memrec-bundled");
    // Each side's cache level, from the machine's cache sizes.
    let caches: Vec<u64> = machine_caches().iter().map(|c| c.unwrap_or(0)).collect();
    assert_eq!(v["cache_bytes"], serde_json::json!(caches));
    for (fit, bytes) in [
        ("memrec_fits", "memrec_bytes"),
        ("full_fits", "full_bytes"),
        ("full_measured_fits", "full_bytes_measured"),
    ] {
        let b = v[bytes].as_u64().unwrap();
        assert_eq!(
            v[fit],
            level_for(b),
            "{fit} of {b} bytes, caches {caches:?}"
        );
    }
    // The speedup is the ratio of the two medians reported, not of other figures.
    let ratio =
        v["full_ns_per_token"].as_f64().unwrap() / v["memrec_ns_per_token"].as_f64().unwrap();
    let speedup = v["speedup"].as_f64().unwrap();
    assert!((speedup / ratio - 1.0).abs() < 1e-9, "{speedup} vs {ratio}");
}

#[test]
fn bench_human_output_names_both_sides() {
    let out = Command::cargo_bin("memrec-tui")
        .unwrap()
        .args([
            "bench",
            "--preset",
            "kaggle",
            "--set",
            "memrec.layout=per_feature",
        ])
        .args(SMALL)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("memrec-per-feature") && text.contains("uncompressed gather"),
        "{text}"
    );
    assert!(text.contains("speedup"), "{text}");
}

#[test]
fn measure_reports_the_configuration_it_ran() {
    let mut cfg = Config::from_preset("tiny").unwrap();
    for s in SMALL.chunks(2) {
        cfg.apply_set(s[1]).unwrap();
    }
    cfg.threads = 1;
    let r = memrec_tui::train::latency::measure(&cfg).unwrap();
    assert_eq!((r.threads, r.batch, r.batches), (1, 64, 5));
    assert_eq!(r.compressed_bytes, 4 * (256 * 8 + 64));
    assert_eq!(r.compressed_fits, level_for(r.compressed_bytes));
    assert_eq!(r.full_fits, level_for(r.full_bytes));
    let ratio = r.full_ns_per_token / r.compressed_ns_per_token;
    assert!(
        (r.speedup / ratio - 1.0).abs() < 1e-9,
        "{} vs {ratio}",
        r.speedup
    );
}
