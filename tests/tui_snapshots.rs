//! Screen tests of the explorer: full screens at 120x40 and 80x24 rendered from a recorded,
//! hand-made engine event sequence (a deterministic engine), the waiting and too-small states,
//! the help overlay, monochrome styling, and tiny sizes that must never panic.

use std::time::{Duration, Instant};

use memrec_tui::app::msg::{Effect, Msg};
use memrec_tui::app::state::AppState;
use memrec_tui::app::update::update;
use memrec_tui::app::{render_state_text, state_from_events};
use memrec_tui::config::Config;
use memrec_tui::data::BadLines;
use memrec_tui::embedding::TableInfo;
use memrec_tui::report::{
    DeltaAuc, EngineCommand, EngineEvent, EvalPoint, FeatureCollisions, LatencyReport,
};
use memrec_tui::ui::{self, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier};

fn cfg() -> Config {
    Config::from_preset("kaggle").unwrap()
}

fn table(name: &str, rows: u64, cols: usize) -> TableInfo {
    TableInfo {
        name: name.into(),
        rows,
        cols,
        param_bytes: rows * cols as u64 * 4,
        optimizer_bytes: 0,
    }
}

fn started(run: &str, generation: u64, cfg: &Config) -> EngineEvent {
    let tables = if run == "baseline" {
        vec![table("uncompressed", 120_000, cfg.model.dim)]
    } else {
        vec![
            table("token", cfg.memrec.token_rows as u64, cfg.model.dim),
            table("weight", cfg.memrec.weight_rows as u64, 1),
        ]
    };
    EngineEvent::RunStarted {
        run: run.into(),
        generation,
        representation: if run == "baseline" {
            "uncompressed".into()
        } else {
            "memrec-bundled".into()
        },
        tables,
        compression_full: 1.0,
    }
}

fn progress(run: &str, generation: u64, samples: u64) -> EngineEvent {
    EngineEvent::Progress {
        run: run.into(),
        generation,
        samples,
        steps: samples / 128,
        samples_per_s: 21_000.0,
        train_loss: 0.48,
        distinct_tokens: 40_000 + samples / 10,
        loaded_uncompressed_bytes: (40_000 + samples / 10) * 64,
    }
}

fn eval(run: &str, generation: u64, i: u64, auc: f64, delta: Option<f64>) -> EngineEvent {
    EngineEvent::Eval(EvalPoint {
        run: run.into(),
        generation,
        samples: i * 50_000,
        auc,
        auc_lo: auc - 0.006,
        auc_hi: auc + 0.006,
        logloss: 0.52 - auc * 0.05,
        mean_prediction: 0.25,
        click_rate: 0.25,
        samples_per_s: 21_000.0,
        oracle_auc: Some(0.7931),
        delta_auc: delta.map(|d| DeltaAuc {
            delta: d,
            lo: d - 0.0021,
            hi: d + 0.0021,
        }),
    })
}

fn collisions(run: &str, generation: u64) -> EngineEvent {
    EngineEvent::Collisions {
        run: run.into(),
        generation,
        features: (0..26)
            .map(|f| FeatureCollisions {
                feature: f,
                distinct: 10 + (f as u64 * 7919) % 5000,
                tokens_per_row: 1.0 + f as f64 * 0.05,
                tokens_per_row_formula: 1.0 + f as f64 * 0.049,
                shared_token_signature: f as f64 * 0.002,
                shared_token_signature_formula: f as f64 * 0.0021,
                shared_full_signature: f as f64 * 0.0002,
                shared_full_signature_formula: f as f64 * 0.00019,
            })
            .collect(),
    }
}

fn latency() -> EngineEvent {
    EngineEvent::Latency(LatencyReport {
        memrec_ns_per_token: 3.1,
        memrec_p99_ns: 4.9,
        full_ns_per_token: 41.7,
        full_p99_ns: 96.0,
        speedup: 13.45,
        memrec_bytes: 1_052_672,
        full_bytes: 2_160_804_928,
        full_measured_at_full_size: true,
        threads: 2,
        batch: 2048,
        batches: 200,
        memrec_fits: "L2".into(),
        full_fits: "DRAM".into(),
    })
}

/// A session: data ready, both runs, four evaluations each, collisions and latency.
fn session(cfg: &Config) -> Vec<EngineEvent> {
    let mut ev = vec![
        EngineEvent::DataReady {
            label: cfg.data_label(),
            synthetic: true,
            test_rows: 20_000,
            bad_lines: BadLines::default(),
        },
        started("baseline", 0, cfg),
        started("memrec", 0, cfg),
        latency(),
    ];
    let base = [0.6912, 0.7304, 0.7489, 0.7577];
    let mem = [0.6851, 0.7262, 0.7466, 0.7561];
    for i in 0..4 {
        ev.push(progress("baseline", 0, (i as u64 + 1) * 50_000));
        ev.push(progress("memrec", 0, (i as u64 + 1) * 50_000));
        ev.push(eval("baseline", 0, i as u64 + 1, base[i], None));
        ev.push(eval(
            "memrec",
            0,
            i as u64 + 1,
            mem[i],
            Some(mem[i] - base[i]),
        ));
    }
    ev.push(collisions("memrec", 0));
    ev
}

fn key(c: char, at: Instant) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE), at)
}

/// The session, then the user doubles the token rows; the engine restarts MEM-REC (generation
/// 1) and evaluates it twice; the first run is pinned.
fn edited_session() -> AppState {
    let cfg = cfg();
    let mut s = state_from_events(&cfg, &session(&cfg));
    let t0 = Instant::now();
    update(&mut s, key('j', t0)); // token rows
    update(&mut s, key('+', t0));
    let fx = update(&mut s, Msg::Tick(t0 + Duration::from_secs(1)));
    let restarted = fx.iter().find_map(|e| match e {
        Effect::Engine(EngineCommand::RestartMemrec(c)) => Some(c.as_ref().clone()),
        _ => None,
    });
    let new_cfg = restarted.expect("a restart after the debounce");
    assert_eq!(new_cfg.memrec.token_rows, 32_768);
    let mut ev = vec![started("memrec", 1, &new_cfg)];
    let mem = [0.6883, 0.7291];
    let base = [0.6912, 0.7304];
    for i in 0..2 {
        ev.push(progress("memrec", 1, (i as u64 + 1) * 50_000));
        ev.push(eval(
            "memrec",
            1,
            i as u64 + 1,
            mem[i],
            Some(mem[i] - base[i]),
        ));
    }
    ev.push(collisions("memrec", 1));
    ev.push(latency());
    for e in ev {
        update(&mut s, Msg::Engine(e));
    }
    // Pin run #0 from the Runs panel.
    update(&mut s, key('l', t0));
    update(&mut s, key('k', t0));
    update(&mut s, key('p', t0));
    s
}

fn text(s: &AppState, w: u16, h: u16) -> String {
    render_state_text(s, &Theme::mono(), w, h)
}

#[test]
fn full_screen_120x40() {
    let cfg = cfg();
    let s = state_from_events(&cfg, &session(&cfg));
    let t = text(&s, 120, 40);
    assert!(
        t.contains("baseline (uncompressed)") && t.contains("MEM-REC"),
        "{t}"
    );
    assert!(t.contains("oracle"), "{t}");
    insta::assert_snapshot!("full_120x40", t);
}

#[test]
fn full_screen_80x24() {
    let cfg = cfg();
    let s = state_from_events(&cfg, &session(&cfg));
    insta::assert_snapshot!("full_80x24", text(&s, 80, 24));
}

#[test]
fn edited_and_pinned_120x40() {
    let s = edited_session();
    let t = text(&s, 120, 40);
    assert!(t.contains("pinned run #0"), "{t}");
    insta::assert_snapshot!("edited_pinned_120x40", t);
}

#[test]
fn edited_and_pinned_80x24() {
    insta::assert_snapshot!("edited_pinned_80x24", text(&edited_session(), 80, 24));
}

#[test]
fn pending_edit_is_marked() {
    let cfg = cfg();
    let mut s = state_from_events(&cfg, &session(&cfg));
    update(&mut s, key('+', Instant::now()));
    let t = text(&s, 120, 40);
    assert!(t.contains("restart pending"), "{t}");
    // K 2 -> 3: changed from the preset (*) and not applied yet (~).
    assert!(t.contains("3*~"), "{t}");
}

#[test]
fn waiting_for_first_evaluation() {
    let cfg = cfg();
    let ev = vec![
        EngineEvent::DataReady {
            label: cfg.data_label(),
            synthetic: true,
            test_rows: 20_000,
            bad_lines: BadLines::default(),
        },
        started("baseline", 0, &cfg),
        started("memrec", 0, &cfg),
        progress("baseline", 0, 3_200),
    ];
    // As live: the runtime's first message asks for a latency measurement.
    let mut s = AppState::new(cfg.clone());
    assert!(update(&mut s, Msg::Started).is_empty());
    for e in ev {
        update(&mut s, Msg::Engine(e));
    }
    let t = text(&s, 120, 40);
    assert!(t.contains("waiting for the first evaluation"), "{t}");
    assert!(t.contains("Latency · measuring"), "{t}");
    // The first evaluation asks for the first latency measurement, once.
    let fx = update(&mut s, Msg::Engine(eval("baseline", 0, 1, 0.69, None)));
    assert!(matches!(
        fx.as_slice(),
        [Effect::Engine(EngineCommand::MeasureLatency(_))]
    ));
    assert!(update(&mut s, Msg::Engine(eval("memrec", 0, 1, 0.68, None))).is_empty());
    insta::assert_snapshot!("waiting_120x40", t);
}

#[test]
fn splash_before_any_event() {
    let s = AppState::new(cfg());
    let t = text(&s, 80, 24);
    assert!(t.contains("opening the data"), "{t}");
    insta::assert_snapshot!("splash_80x24", t);
}

#[test]
fn too_small_says_so() {
    let s = AppState::new(cfg());
    let t = text(&s, 60, 20);
    assert!(
        t.contains("Terminal too small") && t.contains("60x20"),
        "{t}"
    );
    insta::assert_snapshot!("too_small_60x20", t);
}

#[test]
fn help_overlay_lists_the_keymap() {
    let cfg = cfg();
    let mut s = state_from_events(&cfg, &session(&cfg));
    update(&mut s, key('?', Instant::now()));
    let t = text(&s, 80, 24);
    assert!(t.contains("Help") && t.contains("Navigate"), "{t}");
    insta::assert_snapshot!("help_80x24", t);
}

#[test]
fn engine_failure_is_shown_not_fatal() {
    let cfg = cfg();
    let mut ev = session(&cfg);
    ev.push(EngineEvent::RunFailed {
        run: "memrec".into(),
        generation: 0,
        message: "training loss 12.3 exceeded train.divergence_loss 10".into(),
    });
    let t = text(&state_from_events(&cfg, &ev), 120, 40);
    assert!(t.contains("MEM-REC run stopped"), "{t}");
    assert!(t.contains("stopped: training loss 12.3"), "{t}");
}

#[test]
fn mono_theme_has_no_colour_and_marks_focus_without_it() {
    let cfg = cfg();
    let s = state_from_events(&cfg, &session(&cfg));
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    term.draw(|f| ui::draw(f, &s, &Theme::mono())).unwrap();
    let buf = term.backend().buffer();
    let mut reversed = 0;
    for cell in buf.content() {
        assert!(
            matches!(cell.fg, Color::Reset) && matches!(cell.bg, Color::Reset),
            "colour in mono: {cell:?}"
        );
        if cell.modifier.contains(Modifier::REVERSED) {
            reversed += 1;
        }
    }
    assert!(
        reversed > 0,
        "the selected knob must stand out without colour"
    );
}

#[test]
fn colour_theme_distinguishes_runs_by_marker_and_label() {
    let cfg = cfg();
    let s = state_from_events(&cfg, &session(&cfg));
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    term.draw(|f| ui::draw(f, &s, &Theme::color())).unwrap();
    let t: String = term
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    // Braille for the baseline, dots for MEM-REC, each named in the legend.
    assert!(t.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)));
    assert!(t.contains('•'));
    assert!(t.contains("⣀ baseline (uncompressed)") && t.contains("• MEM-REC #0"));
}

#[test]
fn tiny_sizes_never_panic() {
    let cfg = cfg();
    let mut s = state_from_events(&cfg, &session(&cfg));
    for overlay in [false, true] {
        if overlay {
            update(&mut s, key('?', Instant::now()));
        }
        for w in 0..=20u16 {
            for h in 0..=5u16 {
                let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
                term.draw(|f| ui::draw(f, &s, &Theme::color())).unwrap();
            }
        }
    }
    // Odd sizes around the layout switch.
    for (w, h) in [
        (80, 24),
        (109, 33),
        (110, 34),
        (300, 100),
        (80, 200),
        (500, 24),
    ] {
        let _ = text(&s, w, h);
    }
}

#[test]
fn headless_screen_matches_the_live_state() {
    let cfg = cfg();
    let ev = session(&cfg);
    let a = memrec_tui::app::render_screen_text(&cfg, &ev, 100, 30);
    let b = text(&state_from_events(&cfg, &ev), 100, 30);
    assert_eq!(a, b);
    assert_eq!(a.lines().count(), 30);
}

#[test]
fn text_dump_keeps_columns_with_wide_glyphs() {
    let cfg = cfg();
    let mut ev = session(&cfg);
    ev[0] = EngineEvent::DataReady {
        label: "Criteo file 点击日志.txt".into(),
        synthetic: false,
        test_rows: 20_000,
        bad_lines: BadLines::default(),
    };
    let t = text(&state_from_events(&cfg, &ev), 120, 40);
    assert!(t.contains("点击日志"), "{t}");
    for line in t.lines() {
        assert!(unicode_width::UnicodeWidthStr::width(line) <= 120, "{line}");
    }
}
