//! The checks of the `config` fuzz target, shared with `tests/fuzz_regressions.rs` so that a kept
//! crash input replays exactly what the fuzzer ran. Nothing may panic; a configuration that loads
//! or survives a `--set` validates, and what validates writes with `to_ron` and reads back equal
//! (what `export` promises).
//!
//! Input: leading lines `set PATH=VALUE` are `--set` arguments (without the `set `), applied in
//! order; the rest is RON text, or the name of an embedded preset (`tiny`, `kaggle`, `terabyte`)
//! so that the sets are tried on a valid base too. Non-UTF-8 bytes are replaced (the program reads
//! text only).

use memrec_tui::config::{Config, PRESETS};

/// A configuration that validates is usable everywhere: its derived figures, its labels and its
/// RON export, which must load back equal.
fn check_valid(cfg: &Config, what: &str) {
    cfg.validate()
        .unwrap_or_else(|e| panic!("{what} does not validate: {e}"));
    let _ = cfg.compressed_param_bytes();
    let _ = cfg.full_uncompressed_bytes();
    let _ = cfg.compressed_knobs();
    let _ = cfg.data_label();
    let text = cfg
        .to_ron()
        .unwrap_or_else(|e| panic!("{what} does not serialize: {e}"));
    let back = Config::from_ron(&text, "export")
        .unwrap_or_else(|e| panic!("{what}: its export does not load: {e}\n{text}"));
    assert_eq!(&back, cfg, "{what}: its export loads different\n{text}");
}

/// Run one fuzz input; panics on any violation.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut sets = Vec::new();
    let mut rest: &str = &text;
    while let Some(line) = rest.strip_prefix("set ") {
        let (arg, tail) = line.split_once('\n').unwrap_or((line, ""));
        sets.push(arg);
        rest = tail;
    }

    let loaded = match PRESETS.iter().find(|(n, _)| *n == rest.trim()) {
        Some((name, ron)) => Config::from_ron(ron, name),
        None => Config::from_ron(rest, "fuzz.ron"),
    };
    let mut cfg = match loaded {
        Ok(cfg) => cfg,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    check_valid(&cfg, "loaded RON");

    for arg in sets {
        let before = cfg.clone();
        match cfg.apply_set(arg) {
            Ok(()) => check_valid(&cfg, &format!("after --set {arg}")),
            Err(e) => {
                assert!(!e.to_string().is_empty());
                // A refused --set leaves the configuration as it was.
                assert_eq!(
                    cfg, before,
                    "a refused --set {arg} changed the configuration"
                );
            }
        }
    }
}
