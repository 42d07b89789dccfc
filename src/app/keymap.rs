//! The explorer's keymap: one table of (keys, action, description, group) that feeds key
//! dispatch, the footer hints and the `?` help overlay, so the three can never disagree (the
//! gitui `CommandInfo` idea).
//!
//! Owns: which key does what. Must never: change state (that is `update`'s job) or hold ratatui
//! styles; the footer and help panels style what this module lists.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for; `update` gives it meaning in the current mode (overlay or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Quit from anywhere.
    Quit,
    /// Close the overlay or prompt if one is open, otherwise quit.
    Back,
    Help,
    Up,
    Down,
    FocusNext,
    FocusPrev,
    Increase,
    Decrease,
    IncreaseCoarse,
    DecreaseCoarse,
    Pause,
    Restart,
    Export,
    ScreenDump,
    Pin,
    /// Write the session report (Markdown + SVG) into a directory.
    Report,
    /// The AUC panel: curves or Pareto view.
    ToggleView,
    /// The Pareto view's quality axis: AUC or ΔAUC.
    ToggleMetric,
    /// The Pareto view's points: this session's runs or the loaded sweep's.
    ToggleSource,
    /// The Pareto view compares at the previous / next checkpoint (samples seen).
    EarlierCheckpoint,
    LaterCheckpoint,
    /// Ask for a sweep directory to show in the Pareto view.
    OpenSweep,
    /// Load the selected Pareto point's configuration into the knobs.
    Select,
    Yes,
    /// The overwrite prompt: keep the file; in a lesson: the next step.
    No,
    /// Open / close the token inspector.
    Inspect,
    /// Explain the focused panel (an overlay written for students).
    Info,
    /// The focused panel fills the screen; again restores the layout.
    Zoom,
    /// Inspector: type the value to inspect.
    TypeValue,
    /// `→`: in a lesson the next step, otherwise the next panel.
    Forward,
    /// `←`: in a lesson the previous step, otherwise the previous panel.
    Backward,
    /// `b`: in a lesson the previous step.
    StepBack,
    /// `L`: pick a lesson.
    Lessons,
}

/// A physical key of a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A character, with or without Shift (so `?` and `+` work on every layout).
    Char(char),
    /// A character with Ctrl.
    Ctrl(char),
    Code(KeyCode),
}

impl Key {
    fn matches(self, ev: &KeyEvent) -> bool {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let alt = ev.modifiers.contains(KeyModifiers::ALT);
        match self {
            Key::Char(c) => !ctrl && !alt && ev.code == KeyCode::Char(c),
            Key::Ctrl(c) => {
                ctrl && matches!(ev.code, KeyCode::Char(x) if x.eq_ignore_ascii_case(&c))
            }
            Key::Code(code) => !ctrl && !alt && ev.code == code,
        }
    }
}

/// Where a binding is listed in the help overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Navigate,
    Knobs,
    Pareto,
    Inspector,
    Session,
    Lesson,
    Prompt,
}

impl Group {
    pub fn title(self) -> &'static str {
        match self {
            Group::Navigate => "Navigate",
            Group::Knobs => "Knobs",
            Group::Pareto => "Pareto view (AUC or ΔAUC against table bytes)",
            Group::Inspector => "Token inspector (one value: its rows, weights, vector)",
            Group::Session => "Session",
            Group::Lesson => "Lessons (guided steps for a class)",
            Group::Prompt => "In a prompt",
        }
    }
}

/// One line of the keymap.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [Key],
    /// The keys as shown to the user.
    pub label: &'static str,
    pub action: Action,
    /// Long description (help overlay).
    pub description: &'static str,
    /// Short description (footer); empty = not in the footer.
    pub hint: &'static str,
    pub group: Group,
}

/// The keymap, in the order the footer and the help overlay show it.
pub const KEYMAP: &[Binding] = &[
    Binding {
        keys: &[Key::Char('?'), Key::Code(KeyCode::F(1))],
        label: "?/F1",
        action: Action::Help,
        description: "show / hide this help (keys, then a glossary of the words used)",
        hint: "? help",
        group: Group::Session,
    },
    Binding {
        keys: &[Key::Char('i')],
        label: "i",
        action: Action::Info,
        description: "explain the focused panel: what it shows, how it is computed",
        hint: "i info",
        group: Group::Session,
    },
    Binding {
        keys: &[Key::Char('q'), Key::Ctrl('c')],
        label: "q/Ctrl-C",
        action: Action::Quit,
        description: "quit (the terminal is restored)",
        hint: "q quit",
        group: Group::Session,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Up), Key::Char('k')],
        label: "↑/k",
        action: Action::Up,
        description: "previous knob / run / feature row / inspected value; scroll help",
        hint: "",
        group: Group::Navigate,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Down), Key::Char('j')],
        label: "↓/j",
        action: Action::Down,
        description: "next knob / run / feature row / inspected value; scroll help",
        hint: "↑↓ move",
        group: Group::Navigate,
    },
    Binding {
        keys: &[Key::Char('l'), Key::Code(KeyCode::Tab)],
        label: "l/Tab",
        action: Action::FocusNext,
        description: "focus the next panel (Knobs → AUC → Runs → Collisions → Memory → Latency)",
        hint: "",
        group: Group::Navigate,
    },
    Binding {
        keys: &[Key::Char('h'), Key::Code(KeyCode::BackTab)],
        label: "h/S-Tab",
        action: Action::FocusPrev,
        description: "focus the previous panel",
        hint: "",
        group: Group::Navigate,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Right)],
        label: "→",
        action: Action::Forward,
        description: "next panel; in a lesson: the next step (as n)",
        hint: "",
        group: Group::Navigate,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Left)],
        label: "←",
        action: Action::Backward,
        description: "previous panel; in a lesson: the previous step (as b)",
        hint: "←→ panel",
        group: Group::Navigate,
    },
    Binding {
        keys: &[Key::Char('+'), Key::Char('=')],
        label: "+",
        action: Action::Increase,
        description: "focused knob up: rows, batch, lr x2; next dim; toggles; inspector: next feature",
        hint: "",
        group: Group::Knobs,
    },
    Binding {
        keys: &[Key::Char('-'), Key::Char('_')],
        label: "-",
        action: Action::Decrease,
        description: "focused knob down one step; inspector: previous feature",
        hint: "+/- knob",
        group: Group::Knobs,
    },
    Binding {
        keys: &[Key::Char(']')],
        label: "]",
        action: Action::IncreaseCoarse,
        description: "focused knob up two steps (rows x4, lr x10)",
        hint: "",
        group: Group::Knobs,
    },
    Binding {
        keys: &[Key::Char('[')],
        label: "[",
        action: Action::DecreaseCoarse,
        description: "focused knob down two steps",
        hint: "",
        group: Group::Knobs,
    },
    Binding {
        keys: &[Key::Char(' ')],
        label: "Space",
        action: Action::Pause,
        description: "pause / resume training (no CPU while paused)",
        hint: "Space pause",
        group: Group::Session,
    },
    Binding {
        keys: &[Key::Char('r')],
        label: "r",
        action: Action::Restart,
        description: "restart every run from sample 0",
        hint: "r restart",
        group: Group::Session,
    },
    Binding {
        keys: &[Key::Char('p')],
        label: "p",
        action: Action::Pin,
        description: "pin the selected run (Runs panel) to compare; again unpins",
        hint: "p pin",
        group: Group::Session,
    },
    Binding {
        keys: &[Key::Char('e')],
        label: "e",
        action: Action::Export,
        description: "export knobs as RON (or the Runs/Pareto selection); asks",
        hint: "e export",
        group: Group::Session,
    },
    Binding {
        keys: &[Key::Char('v')],
        label: "v",
        action: Action::ToggleView,
        description: "AUC panel: curves ↔ Pareto view (runs tried, loaded sweep)",
        // In the help only: the footer keeps the teaching keys (i, t, z) within 120 columns.
        hint: "",
        group: Group::Pareto,
    },
    Binding {
        keys: &[Key::Char('a')],
        label: "a",
        action: Action::ToggleMetric,
        description: "Pareto view: quality axis AUC ↔ ΔAUC (front recomputed)",
        hint: "",
        group: Group::Pareto,
    },
    Binding {
        keys: &[Key::Char('w')],
        label: "w",
        action: Action::ToggleSource,
        description: "Pareto view: this session's runs ↔ the loaded sweep's points (never one front)",
        hint: "",
        group: Group::Pareto,
    },
    Binding {
        keys: &[Key::Char(',')],
        label: ",",
        action: Action::EarlierCheckpoint,
        description: "Pareto view: compare at the previous checkpoint (samples seen)",
        hint: "",
        group: Group::Pareto,
    },
    Binding {
        keys: &[Key::Char('.')],
        label: ".",
        action: Action::LaterCheckpoint,
        description: "Pareto view: compare at the next checkpoint",
        hint: "",
        group: Group::Pareto,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Enter)],
        label: "Enter",
        action: Action::Select,
        description: "Knobs: type a value; Pareto: load the point into the knobs; Collisions: inspect that feature",
        hint: "",
        group: Group::Pareto,
    },
    Binding {
        keys: &[Key::Char('t')],
        label: "t",
        action: Action::Inspect,
        description: "open / close the token inspector (Enter on a Collisions row opens it there)",
        hint: "t inspect",
        group: Group::Inspector,
    },
    Binding {
        keys: &[Key::Char('x')],
        label: "x",
        action: Action::TypeValue,
        description: "type the value: hex (3a1f09c2), - for missing, #N for test row N",
        hint: "",
        group: Group::Inspector,
    },
    Binding {
        keys: &[Key::Char('z')],
        label: "z",
        action: Action::Zoom,
        description: "zoom the focused panel to the whole screen; again (or Esc) restores",
        hint: "z zoom",
        group: Group::Session,
    },
    Binding {
        keys: &[Key::Char('o')],
        label: "o",
        action: Action::OpenSweep,
        description: "open a sweep directory (output of `sweep`) in Pareto view",
        hint: "",
        group: Group::Pareto,
    },
    Binding {
        keys: &[Key::Char('R')],
        label: "R",
        action: Action::Report,
        description: "report: Markdown + SVGs in ./memrec-report-NAME/; asks first",
        hint: "",
        group: Group::Session,
    },
    Binding {
        keys: &[Key::Char('s')],
        label: "s",
        action: Action::ScreenDump,
        description: "write the screen as text to ./memrec-screen-N.txt",
        hint: "",
        group: Group::Session,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Esc)],
        label: "Esc",
        action: Action::Back,
        description: "close the help, a prompt, the zoom or the inspector; else leave a lesson, or quit",
        hint: "",
        group: Group::Session,
    },
    Binding {
        keys: &[Key::Char('y')],
        label: "y",
        action: Action::Yes,
        description: "overwrite the existing file",
        hint: "",
        group: Group::Prompt,
    },
    Binding {
        keys: &[Key::Char('n')],
        label: "n",
        action: Action::No,
        description: "lesson: next step, once the step may go on; overwrite prompt: keep the existing file, write under a new name",
        hint: "",
        group: Group::Lesson,
    },
    Binding {
        keys: &[Key::Char('b')],
        label: "b",
        action: Action::StepBack,
        description: "lesson: the previous step (its knobs again)",
        hint: "",
        group: Group::Lesson,
    },
    Binding {
        keys: &[Key::Char('L')],
        label: "L",
        action: Action::Lessons,
        description: "pick a lesson (↑↓, Enter starts it); Esc in a lesson leaves it, keeping the knobs",
        hint: "",
        group: Group::Lesson,
    },
    Binding {
        // Typed text is handled before the keymap; listed so the help tells how the prompt works.
        keys: &[],
        label: "text/Enter",
        action: Action::Select,
        description: "path prompt: type; Backspace erase, Enter open, Esc cancel",
        hint: "",
        group: Group::Prompt,
    },
];

/// The action bound to a key press, if any.
pub fn dispatch(ev: &KeyEvent) -> Option<Action> {
    KEYMAP
        .iter()
        .find(|b| b.keys.iter().any(|k| k.matches(ev)))
        .map(|b| b.action)
}

/// Footer hints, in keymap order.
pub fn footer_hints() -> impl Iterator<Item = &'static str> {
    KEYMAP.iter().map(|b| b.hint).filter(|h| !h.is_empty())
}

/// One line of the help overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpLine {
    Heading(&'static str),
    Entry {
        keys: &'static str,
        description: &'static str,
    },
    Blank,
}

/// The help overlay's lines, grouped, generated from `KEYMAP`.
pub fn help_lines() -> Vec<HelpLine> {
    let mut out = Vec::new();
    for group in [
        Group::Navigate,
        Group::Knobs,
        Group::Pareto,
        Group::Inspector,
        Group::Session,
        Group::Lesson,
        Group::Prompt,
    ] {
        if !out.is_empty() {
            out.push(HelpLine::Blank);
        }
        out.push(HelpLine::Heading(group.title()));
        for b in KEYMAP.iter().filter(|b| b.group == group) {
            out.push(HelpLine::Entry {
                keys: b.label,
                description: b.description,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn arrows_and_vim_keys_map_to_the_same_actions() {
        assert_eq!(dispatch(&key(KeyCode::Up)), Some(Action::Up));
        assert_eq!(dispatch(&key(KeyCode::Char('k'))), Some(Action::Up));
        assert_eq!(dispatch(&key(KeyCode::Down)), Some(Action::Down));
        assert_eq!(dispatch(&key(KeyCode::Char('j'))), Some(Action::Down));
        assert_eq!(dispatch(&key(KeyCode::Char('l'))), Some(Action::FocusNext));
        assert_eq!(dispatch(&key(KeyCode::Char('h'))), Some(Action::FocusPrev));
        // The arrows move between panels, and between a lesson's steps while one is open.
        assert_eq!(dispatch(&key(KeyCode::Right)), Some(Action::Forward));
        assert_eq!(dispatch(&key(KeyCode::Left)), Some(Action::Backward));
        assert_eq!(dispatch(&key(KeyCode::Char('n'))), Some(Action::No));
        assert_eq!(dispatch(&key(KeyCode::Char('b'))), Some(Action::StepBack));
        assert_eq!(
            dispatch(&KeyEvent::new(KeyCode::Char('L'), KeyModifiers::SHIFT)),
            Some(Action::Lessons)
        );
        assert_eq!(dispatch(&key(KeyCode::Char('+'))), Some(Action::Increase));
        assert_eq!(
            dispatch(&key(KeyCode::Char(']'))),
            Some(Action::IncreaseCoarse)
        );
        assert_eq!(
            dispatch(&key(KeyCode::Char('['))),
            Some(Action::DecreaseCoarse)
        );
    }

    #[test]
    fn quit_keys_and_modifiers() {
        assert_eq!(dispatch(&key(KeyCode::Char('q'))), Some(Action::Quit));
        assert_eq!(
            dispatch(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(dispatch(&key(KeyCode::Esc)), Some(Action::Back));
        // Plain `c` is not bound; Ctrl-k is not `k`.
        assert_eq!(dispatch(&key(KeyCode::Char('c'))), None);
        assert_eq!(
            dispatch(&KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL)),
            None
        );
        // Shifted characters still dispatch (`?` is Shift-/ on most layouts).
        assert_eq!(
            dispatch(&KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(Action::Help)
        );
    }

    #[test]
    fn no_key_is_bound_twice() {
        let all: Vec<Key> = KEYMAP.iter().flat_map(|b| b.keys.iter().copied()).collect();
        for (i, a) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(a), "{a:?} is bound twice");
        }
    }

    #[test]
    fn help_and_footer_come_from_the_table() {
        let help = help_lines();
        let entries = help
            .iter()
            .filter(|l| matches!(l, HelpLine::Entry { .. }))
            .count();
        assert_eq!(entries, KEYMAP.len());
        for b in KEYMAP {
            assert!(
                help.contains(&HelpLine::Entry {
                    keys: b.label,
                    description: b.description
                }),
                "{} missing from help",
                b.label
            );
        }
        let hints: Vec<_> = footer_hints().collect();
        assert!(hints.contains(&"q quit") && hints.contains(&"? help"));
    }
}
