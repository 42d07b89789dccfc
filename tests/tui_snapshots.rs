//! Screen tests of the explorer: full screens at 120x40 and 80x24 rendered from a recorded,
//! hand-made engine event sequence (a deterministic engine), the waiting and too-small states,
//! the help overlay, monochrome styling, and tiny sizes that must never panic. Then the Pareto
//! view and the report: sweep directories written by the sweep store's own writer (good, torn,
//! empty, of another base), loaded through the keys as the runtime does, and the report's files
//! checked against the session's numbers.

use std::time::{Duration, Instant};

use memrec_tui::app::msg::{Effect, Msg};
use memrec_tui::app::state::AppState;
use memrec_tui::app::state_from_events;
use memrec_tui::app::update::update;
use memrec_tui::config::{BaselineKind, Config};
use memrec_tui::data::BadLines;
use memrec_tui::embedding::TableInfo;
use memrec_tui::embedding::collisions::FeatureCollisions;
use memrec_tui::train::protocol::{DeltaAuc, EngineCommand, EngineEvent, EvalPoint, LatencyReport};
use memrec_tui::ui::text::render_state_text;
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
        run: run.parse().expect("a run name"),
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
        run: run.parse().expect("a run name"),
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
        run: run.parse().expect("a run name"),
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
        run: run.parse().expect("a run name"),
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
        compressed_ns_per_token: 3.1,
        compressed_p99_ns: 4.9,
        full_ns_per_token: 41.7,
        full_p99_ns: 96.0,
        speedup: 13.45,
        compressed_bytes: 1_052_672,
        full_bytes: 2_160_804_928,
        full_measured_at_full_size: true,
        threads: 2,
        batch: 2048,
        batches: 200,
        compressed_fits: "L2".into(),
        full_fits: "DRAM".into(),
        ratio_range: None,
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
        Effect::Engine(EngineCommand::RestartCompressed(c)) => Some(c.as_ref().clone()),
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
    // Pin run #0 from the Runs panel (after the AUC curves in focus order).
    update(&mut s, key('l', t0));
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
    assert!(t.contains("+ #0 MEM-REC D16k"), "{t}");
    insta::assert_snapshot!("edited_pinned_120x40", t);
}

#[test]
fn several_pinned_runs_each_keep_their_curve_marker_and_name() {
    let mut s = edited_session();
    // A third configuration (token rows 65536) runs; run #1 is pinned too.
    let mut c2 = s.running.clone();
    c2.memrec.token_rows = 65_536;
    s.requested.push_back(c2.clone());
    let mut ev = vec![started("memrec", 2, &c2)];
    ev.push(eval("memrec", 2, 1, 0.6801, Some(0.6801 - 0.6912)));
    for e in ev {
        update(&mut s, Msg::Engine(e));
    }
    let t0 = Instant::now();
    update(&mut s, key('j', t0));
    update(&mut s, key('p', t0));
    assert_eq!(s.pinned, [(0, '+'), (1, 'x')]);
    let t = text(&s, 120, 40);
    // Each pinned run in the legend with its marker, method and knobs; the running one too.
    assert!(t.contains("+ #0 MEM-REC D16k"), "{t}");
    assert!(t.contains("x #1 MEM-REC D32k"), "{t}");
    assert!(t.contains("• MEM-REC #2"), "{t}");
    // The Runs rows carry the same markers.
    assert!(t.contains("│+ #0") || t.contains("┃+ #0"), "{t}");
    // Short chart: the text legend names each pinned run by its marker.
    let small = text(&s, 80, 24);
    assert!(small.contains("+ #0  x #1"), "{small}");
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
fn every_run_failing_before_its_first_evaluation_is_not_waiting() {
    use memrec_tui::train::protocol::RunId;
    let cfg = cfg();
    let mut ev = vec![
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
    for run in [RunId::BASELINE, RunId::COMPRESSED] {
        ev.push(EngineEvent::RunFailed {
            run,
            generation: 0,
            message: "training loss is NaN: lower train.lr".into(),
        });
    }
    let t = text(&state_from_events(&cfg, &ev), 120, 40);
    assert!(!t.contains("waiting for the first evaluation"), "{t}");
    assert!(
        t.contains("no evaluation: every run stopped before its first"),
        "{t}"
    );
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
        run: memrec_tui::train::protocol::RunId::COMPRESSED,
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

/// The legend names the baseline that runs: a hashing baseline is not called uncompressed.
#[test]
fn auc_legend_names_the_hashing_baseline() {
    let mut cfg = cfg();
    cfg.baseline.kind = BaselineKind::Hashing;
    let s = state_from_events(&cfg, &session(&cfg));
    for (w, h) in [(120, 40), (80, 24)] {
        let t = text(&s, w, h);
        assert!(t.contains("baseline (hashing)"), "{t}");
        assert!(!t.contains("baseline (uncompressed)"), "{t}");
    }
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
    let a = memrec_tui::ui::text::render_screen_text(&cfg, &ev, 100, 30);
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

// ---------------------------------------------------------------------------------------------
// Pareto view, sweep loading, report.

use std::path::{Path, PathBuf};

use memrec_tui::app::msg::WriteOutcome;
use memrec_tui::app::pareto::PointId;
use memrec_tui::app::state::{AucView, Focus, Overlay, StatusKind};
use memrec_tui::sweep::store::{self, PointRecord, Store};

fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE), Instant::now())
}

/// A finished sweep point of `base` with `axes`, its bytes as a MEM-REC run of those knobs.
fn sweep_record(base: &Config, hash: &str, axes: &[(&str, &str)], delta: f64) -> PointRecord {
    let mut cfg = base.clone();
    for (p, v) in axes {
        cfg.apply_set(&format!("{p}={v}")).unwrap();
    }
    let bytes = (cfg.memrec.token_rows * cfg.model.dim * 4 + cfg.memrec.weight_rows * 4) as u64;
    PointRecord {
        key: memrec_tui::sweep::grid::key_of(
            &axes
                .iter()
                .map(|(p, v)| (p.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        ),
        base_hash: hash.into(),
        config_hash: store::config_hash(&cfg),
        axes: axes
            .iter()
            .map(|(p, v)| (p.to_string(), v.to_string()))
            .collect(),
        representation: "memrec-bundled".into(),
        status: "ok".into(),
        samples: 64_000,
        steps: 500,
        table_bytes: bytes,
        optimizer_bytes: 0,
        compression_full: Some(base.full_uncompressed_bytes() as f64 / bytes as f64),
        auc: Some(0.7577 + delta),
        auc_lo: Some(0.7517 + delta),
        auc_hi: Some(0.7637 + delta),
        delta_auc: Some(delta),
        delta_lo: Some(delta - 0.002),
        delta_hi: Some(delta + 0.002),
        logloss: Some(0.48),
        samples_per_s: Some(20_000.0),
        seconds: 3.0,
        ..PointRecord::default()
    }
}

/// Write a sweep of `base` into `dir` with the store's own writer: its baseline and three points.
fn write_sweep(dir: &Path, base: &Config) {
    let m = store::manifest_of(base, "steps=500");
    let (st, _) = Store::open(dir, &m).unwrap();
    let mut b = sweep_record(base, &m.base_hash, &[], 0.0);
    b.key = store::BASELINE_KEY.into();
    b.table_bytes = base.full_uncompressed_bytes() / 1000;
    b.delta_auc = None;
    b.delta_lo = None;
    b.delta_hi = None;
    st.append(&b).unwrap();
    for (axes, d) in [
        (
            &[("memrec.k", "1"), ("memrec.token_rows", "4096")][..],
            -0.0120,
        ),
        (
            &[("memrec.k", "4"), ("memrec.token_rows", "4096")][..],
            -0.0150,
        ),
        (
            &[("memrec.k", "4"), ("memrec.token_rows", "65536")][..],
            -0.0031,
        ),
    ] {
        st.append(&sweep_record(base, &m.base_hash, axes, d))
            .unwrap();
    }
}

/// Open `dir` through the keys (`o`, the path, Enter) and carry out the effect as the runtime does.
fn open_through_keys(s: &mut AppState, dir: &Path) {
    let t = Instant::now();
    update(s, key('o', t));
    // Clear what the prompt proposes (the last sweep's directory).
    for _ in 0..200 {
        update(s, code(KeyCode::Backspace));
    }
    for c in dir.display().to_string().chars() {
        update(s, key(c, t));
    }
    let fx = update(s, code(KeyCode::Enter));
    let [Effect::LoadSweep(path)] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(path, dir);
    let loaded = memrec_tui::app::sweep::load(path).map(Box::new);
    update(s, Msg::SweepLoaded(loaded));
}

fn status(s: &AppState) -> (StatusKind, String) {
    let st = s.status.clone().expect("a status message");
    (st.kind, st.text)
}

fn pareto_session(dir: &Path) -> AppState {
    let mut s = edited_session();
    write_sweep(dir, &cfg());
    open_through_keys(&mut s, dir);
    s
}

#[test]
fn pareto_view_120x40_and_80x24() {
    let tmp = tempfile::tempdir().unwrap();
    // A fixed name: the directory is shown on screen.
    let dir = tmp.path().join("sweep-kaggle");
    let s = pareto_session(&dir);
    assert_eq!((s.auc_view, s.focus), (AucView::Pareto, Focus::Pareto));
    let (kind, msg) = status(&s);
    assert_eq!(kind, StatusKind::Info, "{msg}");
    assert!(msg.contains("3 point(s), 3 ok, with its baseline"), "{msg}");
    // The temporary directory's name changes from run to run: show a fixed one.
    let mut s = s;
    let shown = dir.display().to_string();
    if let Some(sw) = s.sweep.as_mut() {
        sw.dir = PathBuf::from("sweep-kaggle");
    }
    if let Some(st) = s.status.as_mut() {
        st.text = st.text.replace(&shown, "sweep-kaggle");
    }
    let big = text(&s, 120, 40);
    assert!(big.contains("Pareto front") && big.contains('*'), "{big}");
    // A loaded sweep is shown alone (its points at one of its checkpoints), the session's runs
    // are not on its front; the baseline is the reference line.
    assert!(
        big.contains("sweep points at") && big.contains("baseline (reference)"),
        "{big}"
    );
    assert!(!big.contains("run #1 K2"), "{big}");
    insta::assert_snapshot!("pareto_120x40", big);
    // `w`: this session's runs instead, compared at one checkpoint; the selection follows the
    // running run (#1: K2 D32k) and says whether it is on the front.
    let mut session = s.clone();
    update(&mut session, key('w', Instant::now()));
    let runs = text(&session, 120, 40);
    assert!(runs.contains("session runs at"), "{runs}");
    assert!(runs.contains("· run #1 K2"), "{runs}");
    insta::assert_snapshot!("pareto_session_120x40", runs);
    let small = text(&s, 80, 24);
    assert!(small.contains("Pareto"), "{small}");
    insta::assert_snapshot!("pareto_80x24", small);
    // Without colour (NO_COLOR) every cell is uncoloured: the front reads by its `*` and words.
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    term.draw(|f| ui::draw(f, &s, &Theme::mono())).unwrap();
    for cell in term.backend().buffer().content() {
        assert!(
            matches!(cell.fg, Color::Reset) && matches!(cell.bg, Color::Reset),
            "colour in mono: {cell:?}"
        );
    }
    // Every size, with the prompt and the report's overwrite question open: no panic.
    for overlay in [
        Overlay::Prompt {
            input: "x".repeat(300),
        },
        Overlay::ConfirmOverwrite {
            path: PathBuf::from("memrec-report-kaggle"),
            write: memrec_tui::app::state::PendingWrite::Report(Vec::new()),
        },
    ] {
        let mut o = s.clone();
        o.overlay = overlay;
        for (w, h) in [(0, 0), (10, 3), (80, 24), (81, 25), (120, 40), (300, 100)] {
            let _ = text(&o, w, h);
        }
    }
    // AUC instead of ΔAUC: the axis and the selected point's value follow.
    update(&mut s, key('a', Instant::now()));
    let t = text(&s, 120, 40);
    assert!(t.contains("Pareto AUC · sweep points at"), "{t}");
    assert!(t.contains("@ AUC 0."), "{t}");
}

#[test]
fn enter_on_a_sweep_point_loads_its_configuration_and_restarts_memrec() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = pareto_session(tmp.path());
    let t = Instant::now();
    // Walk to the sweep point K4 D64k (the largest MEM-REC point; the baseline is last).
    let target = s
        .sweep
        .as_ref()
        .unwrap()
        .points
        .iter()
        .position(|p| p.key == "memrec.k=4;memrec.token_rows=65536")
        .unwrap();
    for _ in 0..20 {
        if s.pareto_selected == Some(PointId::Sweep(target)) {
            break;
        }
        update(&mut s, key('j', t));
    }
    assert_eq!(s.pareto_selected, Some(PointId::Sweep(target)));
    let fx = update(&mut s, code(KeyCode::Enter));
    let restart = fx.iter().find_map(|e| match e {
        Effect::Engine(EngineCommand::RestartCompressed(c)) => Some(c.as_ref().clone()),
        _ => None,
    });
    let c = restart.unwrap_or_else(|| panic!("no restart: {fx:?} {:?}", s.status));
    assert_eq!((c.memrec.k, c.memrec.token_rows), (4, 65_536));
    assert_eq!(s.cfg, c);
    // Other fields are the session's (the sweep's base is the same preset).
    assert_eq!(c.seed, cfg().seed);
    // K and D change the kernel: latency is measured for the new configuration.
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Engine(EngineCommand::MeasureLatency(_))))
    );
    let (_, msg) = status(&s);
    assert!(
        msg.contains("loaded sweep point memrec.k=4;memrec.token_rows=65536"),
        "{msg}"
    );
}

#[test]
fn a_sweep_of_another_base_is_shown_but_never_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    let mut other = cfg();
    other.seed += 1;
    other.eval.every_samples *= 2;
    write_sweep(tmp.path(), &other);
    let mut s = edited_session();
    let before = s.cfg.clone();
    open_through_keys(&mut s, tmp.path());
    let (kind, msg) = status(&s);
    assert_eq!(kind, StatusKind::Error);
    assert!(
        msg.contains("differs from this session outside the knobs") && msg.contains("seed"),
        "{msg}"
    );
    assert!(s.sweep.is_some(), "shown");
    // Select a sweep point and press Enter: refused, nothing restarts, the knobs stay.
    update(&mut s, key('k', Instant::now()));
    update(&mut s, key('k', Instant::now()));
    assert!(matches!(s.pareto_selected, Some(PointId::Sweep(_))));
    let fx = update(&mut s, code(KeyCode::Enter));
    assert!(fx.is_empty(), "{fx:?}");
    let (kind, msg) = status(&s);
    assert_eq!(kind, StatusKind::Error);
    assert!(
        msg.contains("not loaded") && msg.contains("seed") && msg.contains("eval.every_samples"),
        "{msg}"
    );
    assert_eq!(s.cfg, before);
}

#[test]
fn bad_sweep_directories_are_named_in_the_status_and_keep_the_session() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    let mut s = pareto_session(&good);
    let runs = s.runs.clone();
    let shown = s.sweep.clone();
    let mut expect = |dir: PathBuf, what: &str| {
        open_through_keys(&mut s, &dir);
        let (kind, msg) = status(&s);
        assert_eq!(kind, StatusKind::Error, "{msg}");
        assert!(
            msg.contains(&dir.display().to_string()) && msg.contains(what),
            "{what}: {msg}"
        );
        assert_eq!(s.runs, runs, "the session is untouched");
        assert_eq!(s.sweep, shown, "the sweep shown before stays");
    };
    expect(tmp.path().join("missing"), "no such directory");
    let empty_dir = tmp.path().join("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    expect(empty_dir.clone(), "not a sweep directory: no sweep.json");
    let file = tmp.path().join("file.txt");
    std::fs::write(&file, "x").unwrap();
    expect(file, "is a file");
    let junk = tmp.path().join("junk");
    std::fs::create_dir(&junk).unwrap();
    std::fs::write(junk.join("sweep.json"), "{ not json").unwrap();
    expect(junk, "sweep.json cannot be read");
    // A manifest and no finished point: an empty sweep.
    let fresh = tmp.path().join("fresh");
    Store::open(&fresh, &store::manifest_of(&cfg(), "steps=5")).unwrap();
    expect(fresh.clone(), "no finished point yet");
    // Only half a line written.
    std::fs::write(fresh.join("points.jsonl"), "{\"key\":\"memrec.k=4\",\"ba").unwrap();
    expect(fresh, "no finished point yet (1 unreadable line(s)");
}

#[test]
fn a_torn_last_line_is_skipped_and_the_directory_left_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    write_sweep(tmp.path(), &cfg());
    let points = tmp.path().join("points.jsonl");
    let mut text = std::fs::read_to_string(&points).unwrap();
    text.push_str("{\"key\":\"memrec.k=8\",\"base_hash\":\"");
    std::fs::write(&points, &text).unwrap();
    let mut s = edited_session();
    open_through_keys(&mut s, tmp.path());
    let (kind, msg) = status(&s);
    assert_eq!(kind, StatusKind::Info, "{msg}");
    assert!(
        msg.contains("3 point(s)") && msg.contains("1 unreadable line(s) skipped"),
        "{msg}"
    );
    // Read-only: a sweep may still be writing there.
    assert_eq!(std::fs::read_to_string(&points).unwrap(), text);
}

#[test]
fn report_holds_the_sessions_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = pareto_session(&tmp.path().join("sw"));
    let fx = update(&mut s, key('R', Instant::now()));
    let [Effect::WriteReport { files, .. }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    let out = tmp.path().join("report");
    let WriteOutcome::ReportWritten { dir, files: names } =
        memrec_tui::app::runtime::write_report(&out, files.clone(), false)
    else {
        panic!("not written")
    };
    assert_eq!(names, ["report.md", "auc.svg", "pareto.svg"]);
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    // Every run with its knobs, bytes, compression, AUC, ΔAUC and interval, latency, status.
    for r in &s.runs {
        let d = r.delta.unwrap();
        let e = r.eval.as_ref().unwrap();
        for needle in [
            format!(
                "| #{} | {} | {} |",
                r.generation, r.cfg.memrec.k, r.cfg.memrec.token_rows
            ),
            format!("({} B)", r.param_bytes),
            format!(
                "{:.0}x",
                r.cfg.full_uncompressed_bytes() as f64 / r.param_bytes as f64
            ),
            format!("{:.4} [{:.4}, {:.4}]", e.auc, e.auc_lo, e.auc_hi),
            format!("{:+.4} [{:+.4}, {:+.4}]", d.delta, d.lo, d.hi),
        ] {
            assert!(md.contains(&needle), "{needle} missing:\n{md}");
        }
    }
    let l = s.latency_for(&s.runs[0].cfg).unwrap();
    let lat = format!(
        "{:.1} / {:.1} ns",
        l.compressed_ns_per_token, l.full_ns_per_token
    );
    assert!(md.contains(&lat), "{lat}:\n{md}");
    assert!(
        md.contains("| stopped |") && md.contains("| live |"),
        "{md}"
    );
    let b = s.baseline.as_ref().unwrap().last_eval.as_ref().unwrap();
    assert!(md.contains(&format!(
        "{:.4} [{:.4}, {:.4}] 95%",
        b.auc, b.auc_lo, b.auc_hi
    )));
    assert!(md.contains("synthetic, generated: not Criteo rows") && md.contains("Oracle AUC"));
    assert!(
        md.contains("## Loaded sweep") && md.contains("3 points, 3 ok"),
        "{md}"
    );
    let auc = std::fs::read_to_string(dir.join("auc.svg")).unwrap();
    assert!(auc.starts_with("<svg") && auc.trim_end().ends_with("</svg>"));
    assert!(
        auc.contains("oracle AUC 0.7931") && auc.contains("#1 MEM-REC K2 D32k"),
        "{auc}"
    );
    // One polyline per curve: the baseline and the two MEM-REC runs.
    assert_eq!(auc.matches("<polyline").count(), 3);
    let pareto = std::fs::read_to_string(dir.join("pareto.svg")).unwrap();
    // The session's runs at one checkpoint, never the loaded sweep's points (another budget).
    assert!(
        pareto.contains("run #1 K2 D32k") && !pareto.contains("sweep k=4 token_rows=65536"),
        "{pareto}"
    );
    assert!(
        pareto.contains("samples seen (each run's ΔAUC there)"),
        "{pareto}"
    );
    assert!(
        pareto.contains(&format!("{} bytes", s.runs[1].param_bytes)),
        "{pareto}"
    );
    // Again: the directory exists, the user is asked.
    assert!(matches!(
        memrec_tui::app::runtime::write_report(&out, files.clone(), false),
        WriteOutcome::Exists { .. }
    ));
    let overlay_before = s.overlay.clone();
    assert_eq!(overlay_before, Overlay::None);
}

#[test]
fn other_methods_are_named_on_every_panel() {
    for (method, label, knob) in [
        ("qr", "QR", "QR remainder c"),
        ("robe_z", "ROBE-Z", "ROBE array size"),
        ("hashing", "hashing", "rows per feature"),
    ] {
        let mut cfg = cfg();
        cfg.apply_set(&format!("memrec.method={method}")).unwrap();
        let s = state_from_events(&cfg, &session(&cfg));
        let t = text(&s, 120, 40);
        for needle in [
            format!("ratio = uncompressed / {label}"),
            format!("• {label} #0"),
            format!("{label} total"),
            knob.to_string(),
        ] {
            assert!(t.contains(&needle), "{method}: `{needle}` missing\n{t}");
        }
        // MEM-REC's own knobs are not offered for another method.
        assert!(!t.contains("token rows D"), "{method}\n{t}");
    }
}
