//! `stats` on the real Criteo sample must agree with the numbers recorded in
//! ../shared/datasets/criteo/README.md (computed there independently of this code).

mod common;

use memrec_tui::cli::stats::render_table;
use memrec_tui::data::stats;

const CAT_DISTINCT: [u64; 26] = [
    157, 370, 4524, 3369, 53, 7, 2817, 82, 3, 2584, 1904, 4337, 1591, 22, 1833, 3905, 9, 1055, 480,
    3, 4140, 7, 12, 2152, 37, 1635,
];
/// Percent, as rounded to one decimal in the README.
const CAT_MISSING: [f64; 26] = [
    0.0, 0.0, 3.3, 3.3, 0.0, 13.1, 0.0, 0.0, 0.0, 0.0, 0.0, 3.3, 0.0, 0.0, 0.0, 3.3, 0.0, 0.0,
    45.3, 45.3, 3.3, 81.7, 0.0, 3.3, 45.3, 45.3,
];
const INT_MISSING: [f64; 13] = [
    45.1, 0.0, 20.2, 20.3, 5.0, 25.2, 5.0, 0.1, 5.0, 45.1, 5.0, 77.7, 20.3,
];
const INT_MIN: [i64; 13] = [0, -2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const INT_MAX: [i64; 13] = [
    214, 18522, 65535, 280, 1618112, 12167, 1658, 547, 5639, 4, 79, 98, 770,
];

/// The README rounds percentages to one decimal (45.15% is written 45.1).
fn within_readme_rounding(rate: f64, pct: f64) -> bool {
    (100.0 * rate - pct).abs() <= 0.05 + 1e-9
}

#[test]
fn sample_statistics_match_the_dataset_readme() {
    let Some(sample) = common::criteo_sample() else {
        return;
    };
    let s = stats::compute(&[sample], true, 0).expect("the sample has no bad lines");
    assert_eq!(s.rows, 8000);
    assert_eq!(s.lines, 8000);
    assert_eq!(s.bad_lines.count, 0);
    assert!(!s.stopped_at_max_rows);
    assert_eq!(s.clicks, 1728);
    assert!((s.click_rate - 0.216).abs() < 1e-12);
    for (j, c) in s.categorical.iter().enumerate() {
        assert_eq!(c.name, format!("C{}", j + 1));
        assert_eq!(
            (c.distinct, c.distinct_exact),
            (CAT_DISTINCT[j], true),
            "{}",
            c.name
        );
        assert!(
            within_readme_rounding(c.missing_rate, CAT_MISSING[j]),
            "{} missing",
            c.name
        );
        // Every column with enough distinct values gets a fit; skews are positive.
        if c.distinct >= 7 {
            let z = c
                .zipf
                .as_ref()
                .unwrap_or_else(|| panic!("{}: no fit", c.name));
            assert!(z.exponent > 0.3 && z.exponent < 3.0, "{}: {z:?}", c.name);
        }
    }
    for (i, d) in s.dense.iter().enumerate() {
        assert!(
            within_readme_rounding(d.missing_rate, INT_MISSING[i]),
            "{} missing",
            d.name
        );
        assert_eq!(
            (d.min, d.max),
            (Some(INT_MIN[i]), Some(INT_MAX[i])),
            "{}",
            d.name
        );
        let m = d.mean_log1p.unwrap();
        let hi = (INT_MAX[i] as f64).ln_1p();
        assert!(m > 0.0 && m < hi, "{}: {m}", d.name);
    }
    // The integer group as a whole: 21.08% of cells missing (README).
    let missing: u64 = s.dense.iter().map(|d| d.missing).sum();
    assert_eq!((10000.0 * missing as f64 / (8000.0 * 13.0)).round(), 2108.0);
    let missing: u64 = s.categorical.iter().map(|c| c.missing).sum();
    assert_eq!((10000.0 * missing as f64 / (8000.0 * 26.0)).round(), 1138.0);
}

#[test]
fn max_rows_stops_early_and_estimates_take_over_past_the_cap() {
    let Some(sample) = common::criteo_sample() else {
        return;
    };
    let s = stats::compute(std::slice::from_ref(&sample), false, 1000).unwrap();
    assert_eq!(s.rows, 1000);
    assert!(s.stopped_at_max_rows);
    // A cap of 1,000 exact values: C3 (4,524 distinct) switches to the estimate, C1 does not.
    let s = stats::compute_with_cap(&[sample], false, 0, 1000).unwrap();
    let c3 = &s.categorical[2];
    assert!(!c3.distinct_exact);
    assert!(
        (c3.distinct as f64 / 4524.0 - 1.0).abs() < 0.03,
        "{}",
        c3.distinct
    );
    assert!(!c3.zipf.as_ref().unwrap().exact_counts);
    assert_eq!(
        (s.categorical[0].distinct, s.categorical[0].distinct_exact),
        (157, true)
    );
    assert!(render_table(&s).contains(&format!("~{}", {
        let d = c3.distinct;
        format!("{},{:03}", d / 1000, d % 1000)
    })));
}

#[test]
fn human_table_and_json_agree() {
    let Some(sample) = common::criteo_sample() else {
        return;
    };
    let s = stats::compute(&[sample], false, 0).unwrap();
    let t = render_table(&s);
    assert!(t.contains("rows        8,000\n"));
    assert!(t.contains("clicks      1,728 (click rate 21.60%)"));
    assert!(t.contains("\nC3            4,524      3.31"), "{t}");
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["categorical"][2]["distinct"], 4524);
    assert_eq!(v["dense"][1]["min"], -2);
}
