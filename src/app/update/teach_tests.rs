//! The teaching keys through `update`: the token inspector (`t`, Enter on Collisions, `x`,
//! arrows, `+`/`-`), the explanations (`i`) and the zoom (`z`).

use super::*;
use crate::app::state::Focus;
use crate::config::Config;
use crate::train::protocol::{Inspection, RunId, ValuePick};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::time::Instant;

fn key(c: char) -> Msg {
    Msg::Key(
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
        Instant::now(),
    )
}

fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE), Instant::now())
}

fn state() -> AppState {
    AppState::new(Config::from_preset("tiny").unwrap())
}

/// The `Inspect` commands among `fx`.
fn asked(fx: &[Effect]) -> Vec<(usize, ValuePick)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Engine(EngineCommand::Inspect { feature, pick }) => Some((*feature, *pick)),
            _ => None,
        })
        .collect()
}

fn answer(feature: usize, pick: ValuePick) -> Msg {
    Msg::Engine(EngineEvent::Inspected(Box::new(Inspection {
        feature,
        pick,
        value: Some(7),
        key: crate::data::token_key(feature, Some(7)),
        trained: 3,
        frequent: vec![(Some(7), 3)],
        loaded_values: 10,
        loaded_capped: false,
        runs: vec![],
        error: None,
    })))
}

#[test]
fn t_opens_the_inspector_asks_the_engine_and_closes_again() {
    let mut s = state();
    let fx = update(&mut s, key('t'));
    assert_eq!(asked(&fx), [(0, ValuePick::Frequent(0))]);
    assert_eq!(s.focus, Focus::Inspector);
    // Arrows pick the next value, +/- the next feature: each asks at once.
    assert_eq!(
        asked(&update(&mut s, key('j'))),
        [(0, ValuePick::Frequent(1))]
    );
    assert_eq!(
        asked(&update(&mut s, key('+'))),
        [(1, ValuePick::Frequent(0))]
    );
    assert_eq!(
        asked(&update(&mut s, key('-'))),
        [(0, ValuePick::Frequent(0))]
    );
    // The answer is kept; progress then asks again (live), one question at a time.
    update(&mut s, answer(0, ValuePick::Frequent(0)));
    assert!(s.inspector.as_ref().unwrap().answer_current());
    let progress = |samples| {
        Msg::Engine(EngineEvent::Progress {
            run: RunId::COMPRESSED,
            generation: 1,
            samples,
            steps: 1,
            samples_per_s: 1.0,
            train_loss: 0.5,
            distinct_tokens: 1,
            loaded_uncompressed_bytes: 1,
        })
    };
    assert_eq!(asked(&update(&mut s, progress(100))).len(), 1);
    assert!(
        asked(&update(&mut s, progress(200))).is_empty(),
        "one in flight"
    );
    // The knobs stay reachable; t closes and gives the focus back.
    update(&mut s, key('t'));
    assert!(s.inspector.is_none());
    assert_eq!(s.focus, Focus::Knobs);
    assert!(asked(&update(&mut s, progress(300))).is_empty());
}

#[test]
fn x_types_a_value_or_a_test_row_and_bad_text_says_why() {
    let mut s = state();
    update(&mut s, key('t'));
    update(&mut s, key('x'));
    for c in "3a1f09c2".chars() {
        update(&mut s, key(c));
    }
    // While typing, q is text... no: q is not hex, and Ctrl-C still quits; `q` is ignored.
    update(&mut s, key('q'));
    assert!(!s.quitting);
    let fx = update(&mut s, code(KeyCode::Enter));
    assert_eq!(asked(&fx), [(0, ValuePick::Value(Some(0x3a1f09c2)))]);
    update(&mut s, key('x'));
    update(&mut s, key('#'));
    update(&mut s, key('1'));
    update(&mut s, key('2'));
    assert_eq!(
        asked(&update(&mut s, code(KeyCode::Enter))),
        [(0, ValuePick::TestRow(12))]
    );
    update(&mut s, key('x'));
    update(&mut s, key('#'));
    assert!(asked(&update(&mut s, code(KeyCode::Enter))).is_empty());
    assert!(s.status.as_ref().unwrap().text.contains("test row"));
    // Esc leaves the prompt, then the inspector, and only then quits.
    update(&mut s, key('x'));
    update(&mut s, code(KeyCode::Esc));
    assert!(s.inspector.as_ref().unwrap().typing.is_none());
    update(&mut s, code(KeyCode::Esc));
    assert!(s.inspector.is_none() && !s.quitting);
    update(&mut s, code(KeyCode::Esc));
    assert!(s.quitting);
}

#[test]
fn enter_on_collisions_inspects_the_top_rows_feature() {
    let mut s = state();
    let mut view = crate::app::state::RunView::new(RunId::COMPRESSED, 1, "memrec".into(), vec![]);
    let keys: Vec<u64> = (0..26)
        .map(|f| crate::data::token_key(f, Some(1)))
        .collect();
    view.collisions = crate::embedding::collisions::none(&keys);
    assert_eq!(view.collisions.len(), 26);
    s.compressed = Some(view);
    s.focus = Focus::Collisions;
    update(&mut s, key('j'));
    update(&mut s, key('j'));
    let fx = update(&mut s, code(KeyCode::Enter));
    assert_eq!(asked(&fx), [(2, ValuePick::Frequent(0))]);
    assert_eq!(s.inspector.as_ref().unwrap().feature, 2);
}

#[test]
fn i_explains_the_focused_panel_and_z_zooms_it() {
    let mut s = state();
    for (presses, panel) in [(0, Focus::Knobs), (1, Focus::Auc), (4, Focus::Memory)] {
        s.focus = Focus::Knobs;
        for _ in 0..presses {
            update(&mut s, key('l'));
        }
        update(&mut s, key('i'));
        assert_eq!(s.overlay, Overlay::Info { panel, scroll: 0 });
        update(&mut s, key('j'));
        assert_eq!(s.overlay, Overlay::Info { panel, scroll: 1 });
        // i again (or Esc) closes it; other keys do nothing meanwhile.
        update(&mut s, key('+'));
        update(&mut s, key('i'));
        assert_eq!(s.overlay, Overlay::None);
    }
    update(&mut s, key('z'));
    assert!(s.zoom);
    update(&mut s, code(KeyCode::Esc));
    assert!(!s.zoom && !s.quitting, "Esc leaves the zoom first");
}
