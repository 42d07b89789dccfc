//! `memrec-tui bench`: the JSON line has the documented fields with sane values, and
//! `bench::measure` (the explorer's latency panel) agrees on what it measured. Small shapes
//! only: a test never asserts a wall-clock figure.

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
    for fit in ["memrec_fits", "full_fits"] {
        let s = v[fit].as_str().unwrap();
        assert!(
            ["L1", "L2", "L3", "DRAM", "unknown"].contains(&s),
            "{fit} = {s}"
        );
    }
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
    let r = memrec_tui::bench::measure(&cfg).unwrap();
    assert_eq!((r.threads, r.batch, r.batches), (1, 64, 5));
    assert_eq!(r.memrec_bytes, 4 * (256 * 8 + 64));
    assert!(r.memrec_p99_ns >= r.memrec_ns_per_token);
    assert!(r.full_p99_ns >= r.full_ns_per_token);
}
