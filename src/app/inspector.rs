//! The token inspector's state: which feature and value are inspected, the value being typed,
//! and the engine's latest answer (`EngineEvent::Inspected`).
//!
//! Owns: picking (the next frequent value or test row, the next feature, a typed value) and
//! matching answers to questions. Must never: look anything up itself (the engine answers from
//! the live representations), do I/O, or read the clock.

use crate::data::NUM_CAT;
use crate::train::protocol::{EngineCommand, Inspection, ValuePick};

/// Longest text the value prompt takes.
const MAX_TYPED: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub struct Inspector {
    /// Feature index (C1 is 0).
    pub feature: usize,
    pub pick: ValuePick,
    /// The text typed after `x` (hex value, `-` for missing, `#N` for test row N); `None` when
    /// not typing.
    pub typing: Option<String>,
    /// The engine's latest answer for this feature and pick.
    pub answer: Option<Inspection>,
    /// An `Inspect` was sent and not answered yet (one at a time).
    pub in_flight: bool,
}

impl Inspector {
    /// The inspector on `feature`'s most frequent value.
    pub fn new(feature: usize) -> Inspector {
        Inspector {
            feature: feature.min(NUM_CAT - 1),
            pick: ValuePick::Frequent(0),
            typing: None,
            answer: None,
            in_flight: false,
        }
    }

    /// The command asking about the current pick; marks it in flight.
    pub fn request(&mut self) -> EngineCommand {
        self.in_flight = true;
        EngineCommand::Inspect {
            feature: self.feature,
            pick: self.pick,
        }
    }

    /// The next (`delta` > 0) or previous value: the next frequent value or test row; a typed
    /// value steps into the frequent list.
    pub fn step_value(&mut self, delta: i64) {
        let step = |n: usize| (n as i64 + delta).max(0) as usize;
        self.pick = match self.pick {
            ValuePick::Frequent(n) => ValuePick::Frequent(step(n)),
            ValuePick::TestRow(n) => ValuePick::TestRow(step(n)),
            ValuePick::Value(_) => ValuePick::Frequent(0),
        };
    }

    /// The next (`delta` > 0) or previous feature, wrapping; a test row stays the same row, any
    /// other pick becomes the feature's most frequent value.
    pub fn step_feature(&mut self, delta: i64) {
        self.feature = (self.feature as i64 + delta).rem_euclid(NUM_CAT as i64) as usize;
        if !matches!(self.pick, ValuePick::TestRow(_)) {
            self.pick = ValuePick::Frequent(0);
        }
    }

    /// Keep `answer` if it answers the current question (older answers still show until then).
    pub fn on_answer(&mut self, answer: Inspection) {
        if answer.feature == self.feature && answer.pick == self.pick {
            self.answer = Some(answer);
        } else if self
            .answer
            .as_ref()
            .is_none_or(|a| a.feature != self.feature)
        {
            // A different feature's answer is misleading: show nothing until the right one.
            self.answer = None;
        }
        self.in_flight = false;
    }

    /// Whether the answer shown is for the current question.
    pub fn answer_current(&self) -> bool {
        self.answer
            .as_ref()
            .is_some_and(|a| a.feature == self.feature && a.pick == self.pick)
    }

    /// A typed character (hex digits, `-`, `#`, digits, `x` after a leading 0).
    pub fn type_char(&mut self, c: char) {
        if let Some(t) = &mut self.typing
            && t.chars().count() < MAX_TYPED
            && (c.is_ascii_hexdigit() || matches!(c, '-' | '#' | 'x' | 'X'))
        {
            t.push(c);
        }
    }
}

/// What the value prompt's text names: `3a1f09c2` or `0x3a1f09c2` (a hex value), `-` (the
/// missing value), `#12` (test row 12).
pub fn parse_pick(text: &str) -> Result<ValuePick, String> {
    let t = text.trim();
    if t == "-" {
        return Ok(ValuePick::Value(None));
    }
    if let Some(row) = t.strip_prefix('#') {
        return row
            .parse::<usize>()
            .map(ValuePick::TestRow)
            .map_err(|_| format!("`{t}`: a test row is # and a row number, e.g. #12"));
    }
    let hex = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if hex.is_empty() {
        return Err(
            "type a value in hex (e.g. 3a1f09c2), - for missing, or #N for test row N".into(),
        );
    }
    u32::from_str_radix(hex, 16)
        .map(|v| ValuePick::Value(Some(v)))
        .map_err(|_| format!("`{t}` is not a 32-bit hex value (at most 8 hex digits)"))
}

/// A value as Criteo writes it: 8 hex digits, or `missing`.
pub fn fmt_value(v: Option<u32>) -> String {
    v.map_or_else(|| "missing".into(), |v| format!("{v:08x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_parse_or_say_what_is_expected() {
        assert_eq!(
            parse_pick("3a1f09c2"),
            Ok(ValuePick::Value(Some(0x3a1f09c2)))
        );
        assert_eq!(parse_pick(" 0xFF "), Ok(ValuePick::Value(Some(255))));
        assert_eq!(parse_pick("-"), Ok(ValuePick::Value(None)));
        assert_eq!(parse_pick("#12"), Ok(ValuePick::TestRow(12)));
        assert!(parse_pick("#x").unwrap_err().contains("test row"));
        assert!(
            parse_pick("123456789")
                .unwrap_err()
                .contains("8 hex digits")
        );
        assert!(parse_pick("").is_err());
    }

    #[test]
    fn stepping_values_and_features() {
        let mut i = Inspector::new(2);
        i.step_value(1);
        assert_eq!(i.pick, ValuePick::Frequent(1));
        i.step_value(-5);
        assert_eq!(i.pick, ValuePick::Frequent(0));
        i.step_feature(-3);
        assert_eq!(i.feature, NUM_CAT - 1);
        i.pick = ValuePick::TestRow(4);
        i.step_feature(1);
        assert_eq!((i.feature, i.pick), (0, ValuePick::TestRow(4)));
        i.pick = ValuePick::Value(Some(1));
        i.step_value(1);
        assert_eq!(i.pick, ValuePick::Frequent(0));
    }

    #[test]
    fn stale_answers_are_not_shown_as_current() {
        let mut i = Inspector::new(0);
        let _ = i.request();
        assert!(i.in_flight);
        let ans = |feature, pick| Inspection {
            feature,
            pick,
            value: None,
            key: 0,
            trained: 0,
            frequent: vec![],
            loaded_values: 0,
            loaded_capped: false,
            runs: vec![],
            error: None,
        };
        i.step_value(1);
        i.on_answer(ans(0, ValuePick::Frequent(0)));
        assert!(!i.in_flight && !i.answer_current());
        i.on_answer(ans(0, ValuePick::Frequent(1)));
        assert!(i.answer_current());
        i.step_feature(1);
        i.on_answer(ans(0, ValuePick::Frequent(1)));
        assert!(!i.answer_current());
    }
}
