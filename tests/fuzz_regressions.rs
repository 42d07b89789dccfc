//! Inputs that crash the `config` fuzz harness (`fuzz/harness/config.rs`: nothing panics, what
//! validates round-trips through `to_ron`), kept as ordinary tests. Each replays the harness on
//! the input, then checks the error the user gets. Test builds keep overflow checks on, so an
//! overflow in the byte counts panics here as it does in the fuzzer.
//!
//! Both were found while writing the target, by reading the byte counts, and confirmed through the
//! fuzz binary (then shrunk with `cargo fuzz tmin`); the 10-minute runs did not reach them alone.

#[path = "../fuzz/harness/config.rs"]
mod harness;

use memrec_tui::config::Config;

/// `data.cardinalities` as a `--set` value or RON list: `first`, then 25 times `rest`.
fn cards(first: u64, rest: u64) -> String {
    let list: Vec<u64> = std::iter::once(first)
        .chain(std::iter::repeat_n(rest, 25))
        .collect();
    format!("{list:?}")
}

/// A column of 2^62 distinct values validated, and then the uncompressed size (`4 d sum V_j`,
/// shown on every screen) overflowed u64.
#[test]
fn a_cardinality_past_32_bits_is_refused_not_overflowed() {
    let arg = format!("data.cardinalities={}", cards(1 << 62, 1460));
    harness::check(format!("set {arg}\ntiny").as_bytes());

    let mut cfg = Config::from_preset("tiny").expect("tiny loads");
    let err = cfg
        .apply_set(&arg)
        .expect_err("2^62 values in a column")
        .to_string();
    assert!(
        err.contains("data.cardinalities[0]")
            && err.contains("4611686018427387904")
            && err.contains("2^32"),
        "{err}"
    );
    // 2^32 itself is allowed: Criteo values are 32-bit, so a column can have that many.
    cfg.apply_set(&format!("data.cardinalities={}", cards(1 << 32, 1460)))
        .expect("2^32 values in a column");
    // The dataset's own size (tiny's synthetic stream scales its vocabularies, so its "full"
    // tables are smaller; both are computed without overflow).
    assert_eq!(
        cfg.dataset_uncompressed_bytes(),
        4 * cfg.model.dim as u64 * ((1 << 32) + 25 * 1460)
    );
    assert!(cfg.full_uncompressed_bytes() < cfg.dataset_uncompressed_bytes());
}

/// QR's table bytes (`4 d sum (ceil(V_j / c) + c)`) overflowed inside `validate` itself, from a
/// `--set` and from a RON file alike.
#[test]
fn qr_with_huge_cardinalities_is_refused_not_overflowed() {
    let list = cards(u64::MAX, u64::MAX);
    harness::check(
        format!("set memrec.method=qr\nset data.cardinalities={list}\nkaggle").as_bytes(),
    );

    let text = Config::from_preset("kaggle")
        .and_then(|c| c.to_ron())
        .expect("kaggle exports");
    let start = text.find("cardinalities: [").expect("a cardinalities line");
    let end = start + text[start..].find(']').expect("its end") + 1;
    let mut bad = text.clone();
    bad.replace_range(start..end, &format!("cardinalities: {list}"));
    let bad = bad.replacen("method: memrec", "method: qr", 1);
    assert!(bad.contains("method: qr"), "{bad}");
    let err = Config::from_ron(&bad, "big.ron")
        .expect_err("u64::MAX values")
        .to_string();
    assert!(
        err.starts_with("config field `data.cardinalities[0]` = 18446744073709551615"),
        "{err}"
    );
}
