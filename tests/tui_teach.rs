//! Screens of the teaching aids at 120x40 and 80x24: the token inspector (its answer computed by
//! the engine's own query over real representations, not typed by hand), a panel's explanation
//! (`i`), the glossary in `?`, and a zoomed panel (`z`).

use std::time::Instant;

use memrec_tui::app::msg::Msg;
use memrec_tui::app::state::AppState;
use memrec_tui::app::state_from_events;
use memrec_tui::app::update::update;
use memrec_tui::config::Config;
use memrec_tui::data::{BadLines, NUM_CAT, token_key};
use memrec_tui::embedding::{build_baseline, build_compressed};
use memrec_tui::train::inspect::{SharingCache, Subject, inspect};
use memrec_tui::train::loaded::LoadedValues;
use memrec_tui::train::protocol::{EngineEvent, RunId, ValuePick};
use memrec_tui::ui::Theme;
use memrec_tui::ui::text::render_state_text;
use memrec_tui::util::rng::SplitMix64;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn cfg() -> Config {
    Config::from_preset("tiny").unwrap()
}

fn key(c: char) -> Msg {
    Msg::Key(
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
        Instant::now(),
    )
}

fn text(s: &AppState, w: u16, h: u16) -> String {
    render_state_text(s, &Theme::mono(), w, h)
}

/// Skewed keys: value v of feature j with probability ~ 1/(v+1), over small vocabularies.
fn keys(samples: usize, seed: u64) -> Vec<u64> {
    let mut rng = SplitMix64(seed);
    (0..samples * NUM_CAT)
        .map(|t| {
            let u = rng.next_unit_f64();
            let v = ((1.0 / (u * 0.999 + 0.001)) as u64).min(400) as u32;
            token_key(t % NUM_CAT, Some(v.wrapping_mul(0x9E37_79B1)))
        })
        .collect()
}

/// A session on `tiny` with the inspector open on C3's most trained-on value, answered by the
/// engine's query over the preset's own representations after admitting some rows.
fn inspected() -> AppState {
    let cfg = cfg();
    let events = vec![EngineEvent::DataReady {
        label: cfg.data_label(),
        synthetic: true,
        test_rows: 200,
        bad_lines: BadLines::default(),
    }];
    let mut s = state_from_events(&cfg, &events);
    update(&mut s, key('t'));
    update(&mut s, key('+'));
    update(&mut s, key('+'));
    let (train, test) = (keys(3000, 1), keys(200, 2));
    let mut base = build_baseline(&cfg);
    base.admit(&train);
    let comp = build_compressed(&cfg);
    let mut loaded = LoadedValues::new();
    loaded.add_test(&test);
    loaded.add_trained(&train);
    loaded.merge();
    let runs = [
        Subject {
            run: RunId::COMPRESSED,
            generation: 1,
            samples: 3000,
            rep: comp.as_ref(),
        },
        Subject {
            run: RunId::BASELINE,
            generation: 1,
            samples: 3000,
            rep: base.as_ref(),
        },
    ];
    let ans = inspect(
        2,
        ValuePick::Frequent(0),
        &loaded,
        &test,
        &runs,
        &mut SharingCache::default(),
    );
    update(&mut s, Msg::Engine(EngineEvent::Inspected(Box::new(ans))));
    s
}

#[test]
fn inspector_120x40() {
    let s = inspected();
    let t = text(&s, 120, 40);
    for want in [
        "Token inspector · C3",
        "hash key",
        "token row",
        "weight row",
        "its vector",
        "shared by",
        "baseline uncompressed",
        "most trained-on",
    ] {
        assert!(t.contains(want), "{want}\n{t}");
    }
    insta::assert_snapshot!("inspector_120x40", t);
}

#[test]
fn inspector_80x24() {
    let t = text(&inspected(), 80, 24);
    assert!(t.contains("token row") && t.contains("its vector"), "{t}");
    insta::assert_snapshot!("inspector_80x24", t);
}

#[test]
fn inspector_zoomed_120x40() {
    let mut s = inspected();
    update(&mut s, key('z'));
    let t = text(&s, 120, 40);
    assert!(t.contains("Token inspector") && !t.contains("Knobs"), "{t}");
    insta::assert_snapshot!("inspector_zoomed_120x40", t);
}

#[test]
fn info_overlay_on_memory_80x24_and_collisions_120x40() {
    let mut s = state_from_events(&cfg(), &[]);
    s.focus = memrec_tui::app::state::Focus::Memory;
    update(&mut s, key('i'));
    let t = text(&s, 80, 24);
    assert!(
        t.contains("Memory explained") && t.contains("rows × d × 4 bytes"),
        "{t}"
    );
    insta::assert_snapshot!("info_memory_80x24", t);
    update(&mut s, key('i'));
    s.focus = memrec_tui::app::state::Focus::Collisions;
    update(&mut s, key('i'));
    let t = text(&s, 120, 40);
    assert!(t.contains("n − m(1 − (1 − 1/m)^n)"), "{t}");
    insta::assert_snapshot!("info_collisions_120x40", t);
}

#[test]
fn help_ends_with_the_glossary() {
    let mut s = state_from_events(&cfg(), &[]);
    update(&mut s, key('?'));
    // Scroll past the keys: the glossary follows them.
    for _ in 0..memrec_tui::app::keymap::help_lines().len() {
        update(&mut s, key('j'));
    }
    let t = text(&s, 120, 40);
    assert!(
        t.contains("Glossary") && t.contains("samples seen") && t.contains("DeLong interval"),
        "{t}"
    );
}

/// Found when tried as a teacher would: with the hashing trick's 26 tables the Memory panel still
/// shows its totals at 120x40, and a status message is not cut at 120 columns.
#[test]
fn memory_totals_with_26_tables_and_whole_status_messages() {
    use memrec_tui::app::state::StatusKind;
    use memrec_tui::embedding::TableInfo;
    let mut cfg = cfg();
    cfg.memrec.method = memrec_tui::config::Method::Hashing;
    let tables: Vec<TableInfo> = (0..NUM_CAT as u64)
        .map(|j| TableInfo {
            name: format!("C{}", j + 1),
            rows: 3 + j * 100,
            cols: cfg.model.dim,
            param_bytes: 4 * (3 + j * 100) * cfg.model.dim as u64,
            optimizer_bytes: 0,
        })
        .collect();
    let events = vec![EngineEvent::RunStarted {
        run: RunId::COMPRESSED,
        generation: 1,
        representation: "hashing".into(),
        tables,
        compression_full: 1.0,
    }];
    let mut s = state_from_events(&cfg, &events);
    let msg = "run #0 pinned: the AUC chart and the Runs title compare against it";
    s.set_status(StatusKind::Info, msg);
    let t = text(&s, 120, 40);
    assert!(t.contains("26 tables 3-2503x8"), "{t}");
    assert!(
        t.contains("hashing total") && t.contains("uncompressed, full"),
        "{t}"
    );
    assert!(t.contains(msg), "{t}");
}

/// While the compressed run leads, the AUC panel shows the engine's counts (never a cause it did
/// not measure); while it trails, it does not.
#[test]
fn a_lead_is_shown_with_the_measured_counts() {
    use memrec_tui::train::protocol::{DeltaAuc, EvalPoint, Exposure};
    let cfg = cfg();
    let eval = |run: RunId, delta: Option<f64>| {
        EngineEvent::Eval(EvalPoint {
            run,
            generation: 1,
            samples: 20_000,
            auc: 0.7,
            auc_lo: 0.69,
            auc_hi: 0.71,
            logloss: 0.5,
            mean_prediction: 0.25,
            click_rate: 0.25,
            samples_per_s: 1.0,
            oracle_auc: None,
            delta_auc: delta.map(|d| DeltaAuc {
                delta: d,
                lo: d - 0.01,
                hi: d + 0.01,
            }),
        })
    };
    let exposure = |run: RunId, row_updates: u64, rows: u64| {
        EngineEvent::Exposure(Exposure {
            run,
            generation: 1,
            samples: 20_000,
            row_updates,
            rows,
            test_rows_with_untrained_value: Some(0.41),
        })
    };
    let started = |run: RunId| EngineEvent::RunStarted {
        run,
        generation: 1,
        representation: "x".into(),
        tables: vec![],
        compression_full: 1.0,
    };
    let session = |delta: f64| {
        vec![
            started(RunId::BASELINE),
            started(RunId::COMPRESSED),
            eval(RunId::BASELINE, None),
            eval(RunId::COMPRESSED, Some(delta)),
            exposure(RunId::BASELINE, 52_000, 24_000),
            exposure(RunId::COMPRESSED, 31_200, 320),
        ]
    };
    let t = text(&state_from_events(&cfg, &session(0.02)), 120, 40);
    assert!(
        t.contains("updates per parameter row so far: 97.50 MEM-REC, 2.17 baseline")
            && t.contains("41% of test rows hold a value never trained on"),
        "{t}"
    );
    let t = text(&state_from_events(&cfg, &session(0.02)), 80, 24);
    assert!(
        t.contains("updates per row: 97.50 MEM-REC, 2.17 baseline"),
        "{t}"
    );
    let t = text(&state_from_events(&cfg, &session(-0.02)), 120, 40);
    assert!(!t.contains("updates per"), "{t}");
}
