//! Comparing like with like through `update`: the Pareto view at one checkpoint and from one
//! source, typed knob values, several pins, one row per configuration, Bloom's knob list.

use super::tests::*;
use super::*;
use crate::app::pareto::{self, PointId};
use crate::app::state::Focus;
use crate::config::Config;
use crate::config::knobs::{KnobId, visible};
use crate::sweep::store::PointRecord;
use crate::train::protocol::{RunId, RunKind, RunStatus};
use ratatui::crossterm::event::KeyCode;
use std::path::PathBuf;
use std::time::Instant;

#[test]
fn the_pareto_view_compares_at_one_checkpoint_and_never_mixes_a_sweep_in() {
    let t = Instant::now();
    let mut s = two_runs();
    // Run #1 goes on to 2000 samples, the baseline too; run #0 stopped at 1000.
    let eval = eval_msg;
    update(&mut s, eval(RunId::BASELINE, 0, 2000, 0.76, None));
    update(&mut s, eval(RunId::COMPRESSED, 1, 2000, 0.765, Some(0.005)));
    assert_eq!(pareto::checkpoints(&s), vec![1000, 2000]);
    // By default the checkpoint most runs reached (both at 1000); at 2000 only run #1 is there
    // and run #0 is named as not at it.
    assert_eq!(pareto::checkpoint(&s), Some(1000));
    assert_eq!(pareto::points(&s).len(), 2);
    update(&mut s, key('v', t));
    update(&mut s, key('.', t));
    assert_eq!(pareto::checkpoint(&s), Some(2000));
    let ids: Vec<PointId> = pareto::points(&s).iter().map(|p| p.id).collect();
    assert_eq!(ids, vec![PointId::Run(1)]);
    assert_eq!(
        pareto::not_at_checkpoint(&s),
        vec!["run #0 (to 1000 samples)"]
    );
    update(&mut s, key('.', t));
    assert!(s.status.clone().unwrap().text.contains("latest"));
    update(&mut s, key(',', t));
    assert_eq!(pareto::checkpoint(&s), Some(1000));
    // A loaded sweep is shown alone, at its own checkpoints; `w` goes back to the session.
    let rec = |key: &str, bytes: u64, curve: Vec<(u64, f64, Option<f64>)>| PointRecord {
        key: key.into(),
        representation: "r".into(),
        status: RunStatus::Ok,
        table_bytes: bytes,
        samples: curve.last().map_or(0, |c| c.0),
        auc: curve.last().map(|c| c.1),
        curve: curve
            .into_iter()
            .map(|(samples, auc, d)| crate::sweep::store::CurvePoint {
                samples,
                auc,
                auc_lo: auc - 0.01,
                auc_hi: auc + 0.01,
                logloss: 0.5,
                delta_auc: d,
                delta_lo: d.map(|d| d - 0.01),
                delta_hi: d.map(|d| d + 0.01),
            })
            .collect(),
        ..PointRecord::default()
    };
    s.sweep = Some(crate::app::sweep::LoadedSweep {
        dir: PathBuf::from("sw"),
        base: s.cfg.clone(),
        budget: "steps=10".into(),
        baseline: Some(rec(
            "baseline",
            9999,
            vec![(500, 0.7, None), (4000, 0.78, None)],
        )),
        points: vec![rec(
            "k=1",
            800,
            vec![(500, 0.69, Some(-0.01)), (4000, 0.775, Some(-0.005))],
        )],
        unreadable: 0,
        other_base: 0,
    });
    s.pareto_source = crate::app::state::ParetoSource::Sweep;
    assert_eq!(pareto::checkpoints(&s), vec![500, 4000]);
    let pts = pareto::points(&s);
    assert_eq!(
        pts.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![PointId::Sweep(0)]
    );
    assert_eq!(pts[0].value, -0.005);
    update(&mut s, key('w', t));
    assert_eq!(s.pareto_source, crate::app::state::ParetoSource::Session);
    assert!(
        pareto::points(&s)
            .iter()
            .all(|p| matches!(p.id, PointId::Run(_)))
    );
}

#[test]
fn enter_on_the_knobs_types_any_value_and_applies_it_at_once() {
    let mut s = state();
    assert_eq!(s.focus, Focus::Knobs);
    // The focused knob: the first visible one; go to token rows.
    let at = visible(&s.cfg)
        .iter()
        .position(|k| k.path == "memrec.token_rows")
        .unwrap();
    s.knob = at;
    update(&mut s, code(KeyCode::Enter));
    let Overlay::KnobValue { path, input } = s.overlay.clone() else {
        panic!("{:?}", s.overlay)
    };
    assert_eq!(path, "memrec.token_rows");
    assert_eq!(input, s.cfg.memrec.token_rows.to_string());
    // A value the doubling steps never reach.
    for _ in 0..input.len() {
        update(&mut s, code(KeyCode::Backspace));
    }
    for c in "abc".chars() {
        update(&mut s, code(KeyCode::Char(c)));
    }
    let fx = update(&mut s, code(KeyCode::Enter));
    assert_eq!(restarts(&fx), 0);
    assert!(
        matches!(s.overlay, Overlay::KnobValue { .. }),
        "a refused value keeps the prompt"
    );
    let st = s.status.clone().unwrap();
    assert_eq!(st.kind, StatusKind::Error);
    assert!(st.text.contains("memrec.token_rows"), "{}", st.text);
    for _ in 0..3 {
        update(&mut s, code(KeyCode::Backspace));
    }
    for c in "3000".chars() {
        update(&mut s, code(KeyCode::Char(c)));
    }
    let fx = update(&mut s, code(KeyCode::Enter));
    assert_eq!(restarts(&fx), 1, "{fx:?}");
    assert_eq!(s.cfg.memrec.token_rows, 3000);
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(s.restart_deadline, None, "applied at once, not debounced");
    // Esc leaves the value as it was.
    update(&mut s, code(KeyCode::Enter));
    update(&mut s, code(KeyCode::Char('9')));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.cfg.memrec.token_rows, 3000);
    assert_eq!(s.overlay, Overlay::None);
}

#[test]
fn with_kw_at_zero_the_knob_list_skips_the_weight_rows() {
    let mut s = state();
    let t0 = Instant::now();
    // K, token rows, kw: down to kw, then kw 1 -> 0.
    update(&mut s, key('j', t0));
    update(&mut s, key('j', t0));
    assert_eq!(visible(&s.cfg)[s.knob].id, KnobId::Kw);
    update(&mut s, key('-', t0));
    assert_eq!(s.cfg.memrec.kw, 0);
    // The next knob is the dim: the weight rows are hidden.
    update(&mut s, key('j', t0));
    assert_eq!(visible(&s.cfg)[s.knob].id, KnobId::Dim);
    update(&mut s, key('k', t0));
    update(&mut s, key('+', t0));
    assert_eq!(s.cfg.memrec.kw, 1);
    update(&mut s, key('j', t0));
    assert_eq!(visible(&s.cfg)[s.knob].id, KnobId::WeightRows);
}

/// The compressed run of `cfg` starts at generation `g` and is evaluated once at 1000 samples.
fn run_of(s: &mut AppState, g: u64, cfg: &Config) {
    s.requested.push_back(cfg.clone());
    update(
        s,
        Msg::Engine(EngineEvent::RunStarted {
            run: RunId::COMPRESSED,
            generation: g,
            representation: "memrec-bundled".into(),
            tables: vec![],
            compression_full: 1.0,
        }),
    );
    s.curves
        .push(crate::train::protocol::RunKind::Compressed, g, 1000.0, 0.7);
}

#[test]
fn p_pins_up_to_four_runs_each_with_its_own_marker() {
    let mut s = state();
    let t0 = Instant::now();
    for g in 0..5 {
        let mut c = s.cfg.clone();
        c.memrec.k = 1 + g as usize;
        run_of(&mut s, g, &c);
    }
    s.focus = Focus::Runs;
    s.selected_run = Some(0);
    for _ in 0..5 {
        update(&mut s, key('p', t0));
        update(&mut s, key('j', t0));
    }
    assert_eq!(s.pinned, [(0, '+'), (1, 'x'), (2, 'o'), (3, '*')]);
    let st = s.status.as_ref().unwrap();
    assert_eq!(st.kind, StatusKind::Error);
    assert!(st.text.contains("4 runs pinned already"), "{}", st.text);
    assert!(st.text.chars().count() <= 120, "{}", st.text);
    // Unpinning frees its marker for the next pin.
    s.selected_run = Some(1);
    update(&mut s, key('p', t0));
    assert_eq!(s.pin_marker(1), None);
    s.selected_run = None;
    update(&mut s, key('p', t0));
    assert_eq!(s.pin_marker(4), Some('x'));
    assert_eq!(s.pinned_runs().len(), 4);
}

#[test]
fn trying_the_same_knobs_again_is_one_configuration() {
    let mut s = state();
    let t0 = Instant::now();
    let a = s.cfg.clone();
    let mut b = a.clone();
    b.memrec.k += 1;
    run_of(&mut s, 0, &a);
    s.focus = Focus::Runs;
    update(&mut s, key('p', t0));
    run_of(&mut s, 1, &b);
    // Back to the first knobs: the new run replaces the first one's row, curve and pin.
    run_of(&mut s, 2, &a);
    let gens: Vec<u64> = s.runs.iter().map(|r| r.generation).collect();
    assert_eq!(gens, [1, 2]);
    assert!(
        s.curves
            .get(crate::train::protocol::RunKind::Compressed, 0)
            .is_empty()
    );
    assert_eq!(s.pinned, [(2, '+')]);
    // And once more: still two configurations.
    run_of(&mut s, 3, &b);
    let gens: Vec<u64> = s.runs.iter().map(|r| r.generation).collect();
    assert_eq!(gens, [2, 3]);
}

#[test]
fn an_evaluation_without_a_baseline_twin_keeps_the_last_delta_at_equal_samples() {
    let mut s = two_runs();
    // Run #1 evaluates at 1500 samples, where the baseline has none: no ΔAUC there.
    update(&mut s, eval_msg(RunId::COMPRESSED, 1, 1500, 0.75, None));
    let r = s.runs.iter().find(|r| r.generation == 1).unwrap();
    assert_eq!(r.samples, 1500);
    assert_eq!(
        r.delta.map(|d| d.delta),
        Some(-0.005),
        "kept from 1000 samples"
    );
    assert!(
        s.curves
            .at(RunKind::Compressed, 1, 1500)
            .unwrap()
            .delta
            .is_none()
    );
    assert_eq!(
        s.curves
            .at(RunKind::Compressed, 1, 1000)
            .unwrap()
            .delta
            .map(|d| d.delta),
        Some(-0.005)
    );
}
