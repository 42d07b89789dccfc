//! Lessons: the RON schema of a guided lesson (a base configuration and a list of steps), the
//! lessons compiled into the binary (`presets/lessons/*.ron`), loading by name or path, and
//! validation. A step has a title, a few sentences for students, the knob changes it makes (paths
//! of the knob table, `config::knobs`, read and checked as `--set` reads and checks them), the
//! panel it points at, a question for the class, the budget it needs and when it may go on.
//!
//! Owns: what a lesson file may say, and every refusal of a bad one, named by file, line and
//! field. Must never: run anything, read data or touch the terminal (the explorer and the headless
//! driver do), or accept a step whose knob value `--set` would refuse or whose condition cannot
//! hold within its budget.

use std::fmt;
use std::path::Path;

use serde::Deserialize;

use super::{Config, knobs};

/// The lessons compiled into the binary: (name, RON text).
pub const LESSONS: &[(&str, &str)] = &[
    ("basics", include_str!("../../presets/lessons/basics.ron")),
    ("hashing", include_str!("../../presets/lessons/hashing.ron")),
    (
        "bloom-to-memrec",
        include_str!("../../presets/lessons/bloom-to-memrec.ron"),
    ),
    ("paper", include_str!("../../presets/lessons/paper.ron")),
];

/// Fewest and most sentences of a step's text.
pub const SENTENCES: (usize, usize) = (2, 6);

/// A lesson as written in its file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    /// Short name (`memrec-tui lesson NAME`).
    pub name: String,
    pub title: String,
    /// How long the lesson takes in class, in minutes (the steps' budgets plus discussion).
    pub minutes: u32,
    /// The preset the lesson starts from (name or path).
    pub preset: String,
    /// Fields of the preset the lesson changes before its first step, as `--set PATH=VALUE`
    /// (any field: this is how a lesson makes its own smaller configuration).
    #[serde(default)]
    pub set: Vec<String>,
    pub steps: Vec<Step>,
}

/// One step of a lesson.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub title: String,
    /// Two to six sentences, written for students.
    pub text: String,
    /// Knob changes, each `PATH=VALUE` with PATH a knob of the explorer (`memrec.k=4`),
    /// applied in order on top of the previous steps'.
    #[serde(default)]
    pub knobs: Vec<String>,
    /// The panel the step points at.
    pub panel: Panel,
    /// A question for the class.
    pub question: String,
    /// Training samples (of the compressed run, after this step's knob changes) the step needs
    /// for its figures; the headless run trains this many when the step goes on at a key.
    pub budget: u64,
    /// When the step may go on.
    pub go_on: GoOn,
    /// The figures the handout records at the end of the step.
    #[serde(default)]
    pub figures: Vec<Figure>,
}

/// A panel of the explorer's screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Panel {
    Knobs,
    Memory,
    Latency,
    Auc,
    Runs,
    Collisions,
}

impl Panel {
    pub fn title(self) -> &'static str {
        match self {
            Panel::Knobs => "Knobs",
            Panel::Memory => "Memory",
            Panel::Latency => "Latency",
            Panel::Auc => "AUC",
            Panel::Runs => "Runs",
            Panel::Collisions => "Collisions",
        }
    }
}

/// When a step may go on.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoOn {
    /// When the teacher presses `n` or `→` (the headless run trains the step's budget first).
    Key,
    /// Once the compressed run of this step has seen this many training samples.
    Samples(u64),
    /// Once the 95% interval of ΔAUC (compressed minus baseline at equal samples) excludes 0,
    /// at an evaluation after at least this many samples.
    DeltaExcludesZero(u64),
    /// Once fewer than this many loaded values share their whole signature (all their rows)
    /// with another value, in the compressed run of this step.
    ConfusedBelow(u64),
}

/// What the handout records at the end of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// Test AUC of both runs with their 95% intervals, and the oracle AUC on synthetic data.
    Auc,
    /// ΔAUC at equal samples with its 95% interval.
    Delta,
    /// Table bytes of both runs, the uncompressed tables at full size and over the data's
    /// vocabulary, and the compression ratios.
    Bytes,
    /// Values per token row and values sharing their whole signature, over all features.
    Collisions,
    /// The measured lookup latency of both sides and where each table fits.
    Latency,
    /// This machine's memory and caches against the lesson preset's full-size tables.
    Machine,
    /// Every compressed configuration tried so far: bytes, samples, AUC, ΔAUC at equal samples
    /// and latency where measured (the Runs panel, as a table).
    Runs,
    /// The training time one pass over this many samples (the full dataset the lesson's claim
    /// is about, as the lesson file quotes it) would take at this run's measured rate, and
    /// the memory its uncompressed baseline would need.
    FullData(u64),
}

impl Figure {
    pub fn as_str(self) -> &'static str {
        match self {
            Figure::Auc => "auc",
            Figure::Delta => "delta",
            Figure::Bytes => "bytes",
            Figure::Collisions => "collisions",
            Figure::Latency => "latency",
            Figure::Machine => "machine",
            Figure::Runs => "runs",
            Figure::FullData(_) => "full_data",
        }
    }
}

impl GoOn {
    /// The condition with its sample counts multiplied by `scale` (at least 1 sample).
    pub fn scaled(self, scale: f64) -> GoOn {
        let f = |n: u64| ((n as f64 * scale).ceil() as u64).max(1);
        match self {
            GoOn::Samples(n) => GoOn::Samples(f(n)),
            GoOn::DeltaExcludesZero(n) => GoOn::DeltaExcludesZero(f(n)),
            other => other,
        }
    }
}

impl fmt::Display for GoOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GoOn::Key => f.write_str("at n or →"),
            GoOn::Samples(n) => write!(f, "after {n} samples"),
            GoOn::DeltaExcludesZero(n) => write!(
                f,
                "once the ΔAUC interval excludes 0 (evaluated after at least {n} samples)"
            ),
            GoOn::ConfusedBelow(n) => write!(
                f,
                "once fewer than {n} values share their whole signature with another"
            ),
        }
    }
}

/// A lesson file refused: where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{origin}:{line}: {field}: {msg}")]
pub struct LessonError {
    /// The file (or `lesson NAME` for an embedded one).
    pub origin: String,
    /// 1-based line of the offending text (the start of the item when it cannot be pinned).
    pub line: usize,
    /// The field, e.g. `steps[2].knobs` or `minutes`.
    pub field: String,
    pub msg: String,
}

/// A lesson checked against the configuration it runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedLesson {
    pub lesson: Lesson,
    /// Where it came from: `lesson NAME` or the file's path.
    pub origin: String,
    /// The preset as shipped (before the lesson's `set`): what "full size" means for the lesson.
    pub preset: Config,
    /// The preset with the lesson's `set`: the configuration before the first step.
    pub base: Config,
    /// The configuration in force at each step (the base with every step's knobs so far).
    pub configs: Vec<Config>,
}

impl LoadedLesson {
    pub fn name(&self) -> &str {
        &self.lesson.name
    }
    pub fn steps(&self) -> &[Step] {
        &self.lesson.steps
    }
}

/// Names of the embedded lessons.
pub fn lesson_names() -> Vec<&'static str> {
    LESSONS.iter().map(|(n, _)| *n).collect()
}

/// Load a lesson by name (embedded) or by path to a `.ron` file, and validate it.
pub fn load_lesson(name_or_path: &str) -> Result<LoadedLesson, LessonError> {
    if let Some((name, text)) = LESSONS.iter().find(|(n, _)| *n == name_or_path) {
        return parse_lesson(text, &format!("presets/lessons/{name}.ron"));
    }
    let path = Path::new(name_or_path);
    if name_or_path.ends_with(".ron") || path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| LessonError {
            origin: path.display().to_string(),
            line: 0,
            field: "file".into(),
            msg: e.to_string(),
        })?;
        return parse_lesson(&text, &path.display().to_string());
    }
    Err(LessonError {
        origin: format!("lesson {name_or_path}"),
        line: 0,
        field: "name".into(),
        msg: format!(
            "no such lesson: expected one of {} or a path to a .ron file",
            lesson_names().join(", ")
        ),
    })
}

/// Parse and validate lesson text; `origin` names it in errors.
pub fn parse_lesson(text: &str, origin: &str) -> Result<LoadedLesson, LessonError> {
    let lesson: Lesson =
        ron::Options::default()
            .from_str(text)
            .map_err(|e: ron::error::SpannedError| LessonError {
                origin: origin.to_string(),
                line: e.span.start.line,
                field: field_of_parse_error(&e.code),
                msg: format!("column {}: {}", e.span.start.col, e.code),
            })?;
    validate(lesson, text, origin)
}

/// The field a RON error is about, when it names one.
fn field_of_parse_error(code: &ron::Error) -> String {
    match code {
        ron::Error::NoSuchStructField { found, .. } => found.clone(),
        ron::Error::MissingStructField { field, .. } => field.to_string(),
        ron::Error::DuplicateStructField { field, .. } => field.to_string(),
        ron::Error::NoSuchEnumVariant { outer, found, .. } => {
            outer.clone().unwrap_or_else(|| found.clone())
        }
        _ => "syntax".into(),
    }
}

/// Where things are in the lesson's text, to name a line in errors found after parsing.
struct Locator<'a> {
    text: &'a str,
    /// Byte offsets where each step starts (its `title:`), in order.
    steps: Vec<usize>,
}

impl<'a> Locator<'a> {
    fn new(text: &'a str) -> Locator<'a> {
        let code = code_only(text);
        let after = find_key(&code, "steps", 0).unwrap_or(code.len());
        let mut steps = Vec::new();
        let mut from = after;
        while let Some(at) = find_key(&code, "title", from) {
            steps.push(at);
            from = at + 1;
        }
        Locator { text, steps }
    }

    fn line_at(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    /// The range of step `i` in the text.
    fn step_range(&self, i: usize) -> (usize, usize) {
        let start = self.steps.get(i).copied().unwrap_or(0);
        let end = self.steps.get(i + 1).copied().unwrap_or(self.text.len());
        (start, end)
    }

    /// The line of `needle` inside step `i` (or of the step's start when absent); `None` = the
    /// lesson's top level.
    fn line_of(&self, step: Option<usize>, needle: &str) -> usize {
        let (start, end) = match step {
            Some(i) => self.step_range(i),
            None => (0, self.steps.first().copied().unwrap_or(self.text.len())),
        };
        let hay = &self.text[start..end];
        match hay.find(needle) {
            Some(at) => self.line_at(start + at),
            None => self.line_at(start),
        }
    }
}

/// `text` with comments blanked (same length), so keys are not found inside them.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_str = false;
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if in_str {
            out.push(c);
            if c == '\\' {
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        if c == '"' {
            in_str = true;
            out.push(c);
        } else if c == '/' && chars.peek().is_some_and(|(_, n)| *n == '/') {
            // A line comment: blank to the end of the line.
            out.push(' ');
            for (_, n) in chars.by_ref() {
                if n == '\n' {
                    out.push('\n');
                    break;
                }
                out.extend(std::iter::repeat_n(' ', n.len_utf8()));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Offset of the next `key:` (a field key, not inside a string) at or after `from`.
fn find_key(code: &str, key: &str, from: usize) -> Option<usize> {
    let bytes = code.as_bytes();
    let mut at = from;
    while let Some(i) = code.get(at..)?.find(key) {
        let pos = at + i;
        let before_ok =
            pos == 0 || !(bytes[pos - 1].is_ascii_alphanumeric() || bytes[pos - 1] == b'_');
        let rest = code[pos + key.len()..].trim_start();
        let in_string = code[..pos].matches('"').count() % 2 == 1;
        if before_ok && rest.starts_with(':') && !in_string {
            return Some(pos);
        }
        at = pos + key.len();
    }
    None
}

/// Sentences in a step's text: runs ending in `.`, `?` or `!` followed by a space or the end.
pub fn sentence_count(text: &str) -> usize {
    let t = text.trim();
    let mut n = 0;
    let chars: Vec<char> = t.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if matches!(c, '.' | '?' | '!') && chars.get(i + 1).is_none_or(|n| n.is_whitespace()) {
            n += 1;
        }
    }
    n
}

fn validate(lesson: Lesson, text: &str, origin: &str) -> Result<LoadedLesson, LessonError> {
    let at = Locator::new(text);
    let err = |step: Option<usize>, field: &str, needle: &str, msg: String| LessonError {
        origin: origin.to_string(),
        line: at.line_of(step, needle),
        field: match step {
            Some(i) => format!("steps[{i}].{field}"),
            None => field.to_string(),
        },
        msg,
    };
    let top = |field: &str, msg: String| err(None, field, &format!("{field}:"), msg);
    if lesson.name.trim().is_empty() || lesson.name.contains(char::is_whitespace) {
        return Err(top(
            "name",
            format!(
                "`{}`: a short name without spaces, e.g. hashing",
                lesson.name
            ),
        ));
    }
    if lesson.title.trim().is_empty() {
        return Err(top("title", "empty: give the lesson a title".into()));
    }
    if !(1..=240).contains(&lesson.minutes) {
        return Err(top(
            "minutes",
            format!("{}: 1 to 240 minutes", lesson.minutes),
        ));
    }
    if lesson.steps.is_empty() {
        return Err(top("steps", "no steps: a lesson needs at least one".into()));
    }
    let preset = Config::from_preset(&lesson.preset)
        .map_err(|e| top("preset", format!("`{}`: {e}", lesson.preset)))?;
    let mut base = preset.clone();
    for s in &lesson.set {
        base.apply_set(s)
            .map_err(|e| err(None, "set", &format!("\"{s}\""), e.to_string()))?;
    }
    let mut cfg = base.clone();
    let mut configs = Vec::with_capacity(lesson.steps.len());
    for (i, step) in lesson.steps.iter().enumerate() {
        let e = |field: &str, needle: &str, msg: String| err(Some(i), field, needle, msg);
        for (field, value) in [("title", &step.title), ("question", &step.question)] {
            if value.trim().is_empty() {
                return Err(e(field, &format!("{field}:"), "empty".into()));
            }
        }
        let n = sentence_count(&step.text);
        if !(SENTENCES.0..=SENTENCES.1).contains(&n) {
            return Err(e(
                "text",
                "text:",
                format!(
                    "{n} sentence(s): a step says what to see in {} to {} sentences",
                    SENTENCES.0, SENTENCES.1
                ),
            ));
        }
        for k in &step.knobs {
            let needle = format!("\"{k}\"");
            let path = k.split_once('=').map_or(k.as_str(), |(p, _)| p.trim());
            if knobs::knob_at(path).is_none() {
                let all: Vec<&str> = knobs::KNOBS.iter().map(|k| k.path).collect();
                return Err(e(
                    "knobs",
                    &needle,
                    format!(
                        "`{k}`: `{path}` is not a knob (a step turns knobs: {}; the lesson's `set` changes any other field)",
                        all.join(", ")
                    ),
                ));
            }
            cfg.apply_set(k)
                .map_err(|x| e("knobs", &needle, format!("`{k}`: {x}")))?;
        }
        if step.budget == 0 {
            return Err(e(
                "budget",
                "budget:",
                "0 samples: a step trains at least one batch".into(),
            ));
        }
        let impossible = match step.go_on {
            GoOn::Samples(n) | GoOn::DeltaExcludesZero(n) if n > step.budget => Some(format!(
                "{}: never within the step's budget of {} samples (raise `budget` or lower the count)",
                step.go_on, step.budget
            )),
            GoOn::Samples(0) => {
                Some("after 0 samples: use `key` for a step that needs no training".into())
            }
            GoOn::ConfusedBelow(0) => Some(
                "fewer than 0 values can never share a signature: the count must be at least 1"
                    .into(),
            ),
            _ => None,
        };
        if let Some(msg) = impossible {
            return Err(e("go_on", "go_on:", msg));
        }
        configs.push(cfg.clone());
    }
    Ok(LoadedLesson {
        lesson,
        origin: origin.to_string(),
        preset,
        base,
        configs,
    })
}
