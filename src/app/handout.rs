//! The lesson handout: what each step measured (its figures, as text) and its AUC chart, taken
//! from the explorer's state at the end of the step, and the Markdown that puts them after each
//! step's text for students to keep.
//!
//! Owns: the figures' wording and the handout's layout, as pure functions of `AppState` and what
//! the caller measured of the machine. Must never: do I/O (the CLI reads the machine and writes
//! the files), or print a number the run did not measure or compute: what is missing says so.

use std::fmt::Write as _;

use super::lesson::{LessonSession, confused_values, run_samples};
use super::state::{AppState, LatencyView};
use crate::config::lesson::{Figure, LoadedLesson};
use crate::config::{Config, Method};
use crate::train::protocol::RunKind;
use crate::util::units::fmt_bytes;

/// What the CLI read of the machine the lesson ran on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Machine {
    /// Physical memory (MemTotal), bytes.
    pub memory: Option<u64>,
    /// L1 data, L2 and L3 sizes, bytes.
    pub caches: [Option<u64>; 3],
    /// Logical CPUs this process may use.
    pub cpus: usize,
}

/// One figure of a step, as the handout prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureText {
    pub figure: Figure,
    pub lines: Vec<String>,
    /// Whether it was measured (false: the lines say why not).
    pub filled: bool,
}

/// What a step measured, taken when it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    pub step: usize,
    /// Whether the step's condition held before it ended.
    pub reached: bool,
    /// The condition's last progress line.
    pub progress: String,
    /// Samples the step's compressed run had seen.
    pub samples: u64,
    /// The compressed run's knobs, e.g. `K=2 D=256 kw=1 dw=64`.
    pub knobs: String,
    pub figures: Vec<FigureText>,
    /// The AUC chart at the end of the step (every run so far), SVG.
    pub svg: String,
    /// Wall-clock seconds the step took on this machine (measured by the caller).
    pub seconds: f64,
}

/// The step's record on `state` now; `seconds` as the caller measured; `latency_note` says why a
/// latency was not measured, when it was not.
pub fn record(
    state: &AppState,
    l: &LessonSession,
    machine: &Machine,
    seconds: f64,
    latency_note: Option<&str>,
) -> StepRecord {
    let step = l.current();
    let figures = step
        .figures
        .iter()
        .map(|&f| figure(state, l, machine, f, latency_note))
        .collect();
    StepRecord {
        step: l.step,
        reached: l.reached.get(l.step).copied().unwrap_or(false) || l.progress(state).met,
        progress: l.progress(state).text,
        samples: l.samples(state),
        knobs: knob_line(&state.cfg),
        figures,
        svg: super::report::auc_svg(state),
        seconds,
    }
}

/// The compressed method and its knobs, named as a student reads them.
pub fn knob_line(cfg: &Config) -> String {
    let name = match cfg.memrec.method {
        Method::Memrec if cfg.memrec.kw == 0 => "Bloom (MEM-REC with kw = 0)",
        m => m.label(),
    };
    format!("{name}: {}, dim {}", cfg.compressed_knobs(), cfg.model.dim)
}

fn text(figure: Figure, lines: Vec<String>) -> FigureText {
    FigureText {
        figure,
        lines,
        filled: true,
    }
}

fn missing(figure: Figure, why: impl Into<String>) -> FigureText {
    FigureText {
        figure,
        lines: vec![why.into()],
        filled: false,
    }
}

fn figure(
    state: &AppState,
    l: &LessonSession,
    machine: &Machine,
    f: Figure,
    latency_note: Option<&str>,
) -> FigureText {
    match f {
        Figure::Auc => auc_figure(state, l),
        Figure::Delta => delta_figure(state, l),
        Figure::Bytes => bytes_figure(state, l),
        Figure::Collisions => collisions_figure(state, l),
        Figure::Latency => latency_figure(state, latency_note),
        Figure::Machine => machine_figure(l, machine),
        Figure::Runs => runs_figure(state),
        Figure::FullData(n) => full_data_figure(state, l, machine, n),
    }
}

/// The baseline's AUC at exactly `samples`, from its curve.
fn baseline_auc_at(state: &AppState, samples: u64) -> Option<f64> {
    let b = state.baseline.as_ref()?;
    state
        .curves
        .get(RunKind::Baseline, b.generation)
        .iter()
        .find(|p| p.0 as u64 == samples)
        .map(|p| p.1)
}

fn auc_figure(state: &AppState, l: &LessonSession) -> FigureText {
    let Some(e) = l.counting_run(state).and_then(|r| r.last_eval.as_ref()) else {
        return missing(Figure::Auc, "test AUC: no evaluation of this step's run");
    };
    let mut lines = vec![format!(
        "test AUC of the compressed model after {} samples: {:.4} [{:.4}, {:.4}] (95%)",
        e.samples, e.auc, e.auc_lo, e.auc_hi
    )];
    match baseline_auc_at(state, e.samples) {
        Some(b) => lines.push(format!(
            "test AUC of the uncompressed baseline after the same {} samples: {b:.4}",
            e.samples
        )),
        None => lines.push("baseline: no evaluation at the same samples".into()),
    }
    if state.data.as_ref().is_some_and(|d| d.synthetic)
        && let Some(o) = e.oracle_auc
    {
        lines.push(format!(
            "oracle AUC (the true click probabilities of these synthetic test rows): {o:.4}"
        ));
    }
    text(Figure::Auc, lines)
}

fn delta_figure(state: &AppState, l: &LessonSession) -> FigureText {
    let Some(e) = l.counting_run(state).and_then(|r| r.last_eval.as_ref()) else {
        return missing(Figure::Delta, "ΔAUC: no evaluation of this step's run");
    };
    let Some(d) = e.delta_auc else {
        return missing(
            Figure::Delta,
            format!(
                "ΔAUC: the baseline has no evaluation at {} samples",
                e.samples
            ),
        );
    };
    let rows = state.data.as_ref().map_or(0, |d| d.test_rows);
    let verdict = if d.lo > 0.0 {
        "the interval excludes 0: the compressed model is ahead at this budget"
    } else if d.hi < 0.0 {
        "the interval excludes 0: the compressed model is behind at this budget"
    } else {
        "the interval includes 0: the two cannot be told apart at this budget"
    };
    text(
        Figure::Delta,
        vec![format!(
            "ΔAUC (compressed minus baseline, both after {} samples, on the same {rows} test rows): {:+.4} [{:+.4}, {:+.4}] (95%, DeLong); {verdict}",
            e.samples, d.delta, d.lo, d.hi
        )],
    )
}

/// Uncompressed bytes over the vocabulary the data holds: the synthetic stream's (scaled)
/// vocabularies, or the configured cardinalities for files.
fn vocabulary_bytes(cfg: &Config, synthetic: bool) -> (u64, u64) {
    let values: u64 = if synthetic && cfg.data.train.is_none() {
        crate::data::synthetic::scaled_cardinalities(
            &cfg.data.cardinalities,
            cfg.data.synthetic.cardinality_scale,
        )
        .iter()
        .sum()
    } else {
        cfg.data.cardinalities.iter().sum()
    };
    (values, 4 * cfg.model.dim as u64 * values)
}

fn bytes_figure(state: &AppState, l: &LessonSession) -> FigureText {
    let Some(run) = l.counting_run(state) else {
        return missing(
            Figure::Bytes,
            "table bytes: this step's run has not started",
        );
    };
    let cfg = &state.running;
    let tables = run.param_bytes();
    if tables == 0 {
        return missing(Figure::Bytes, "table bytes: not reported yet");
    }
    let synthetic = state.data.as_ref().is_some_and(|d| d.synthetic);
    let full = cfg.dataset_uncompressed_bytes();
    let (values, vocab) = vocabulary_bytes(cfg, synthetic);
    let mut lines = vec![
        format!(
            "compressed tables: {} of parameters (+{} optimizer state); {}",
            fmt_bytes(tables),
            fmt_bytes(run.optimizer_bytes()),
            knob_line(cfg)
        ),
        format!(
            "uncompressed tables at the full size of {} ({} values at dim {}): {}, {:.0}x the compressed tables",
            match cfg.data.dataset {
                crate::data::Dataset::Kaggle => "Criteo Kaggle",
                crate::data::Dataset::Terabyte => "Criteo Terabyte",
            },
            cfg.data.cardinalities.iter().sum::<u64>(),
            cfg.model.dim,
            fmt_bytes(full),
            full as f64 / tables as f64
        ),
    ];
    if vocab != full {
        lines.push(format!(
            "uncompressed tables over this data's vocabulary ({values} values): {}, {:.1}x the compressed tables",
            fmt_bytes(vocab),
            vocab as f64 / tables as f64
        ));
    }
    if let Some(b) = &state.baseline {
        lines.push(format!(
            "the baseline's tables now (the values it has met, {} samples): {}",
            run_samples(b),
            fmt_bytes(b.table_bytes_now())
        ));
    }
    text(Figure::Bytes, lines)
}

fn collisions_figure(state: &AppState, l: &LessonSession) -> FigureText {
    let Some(run) = l.counting_run(state) else {
        return missing(
            Figure::Collisions,
            "collisions: this step's run has not started",
        );
    };
    let Some(confused) = confused_values(run) else {
        return missing(Figure::Collisions, "collisions: not counted yet");
    };
    let values: u64 = run.collisions.iter().map(|c| c.distinct).sum();
    let per_row = if values > 0 {
        run.collisions
            .iter()
            .map(|c| c.tokens_per_row * c.distinct as f64)
            .sum::<f64>()
            / values as f64
    } else {
        0.0
    };
    let per_row_formula = if values > 0 {
        run.collisions
            .iter()
            .map(|c| c.tokens_per_row_formula * c.distinct as f64)
            .sum::<f64>()
            / values as f64
    } else {
        0.0
    };
    let worst = run
        .collisions
        .iter()
        .max_by(|a, b| a.tokens_per_row.total_cmp(&b.tokens_per_row));
    let mut lines = vec![
        format!(
            "values per token row, averaged over the {values} loaded values (the test rows and every training row so far): {per_row:.2} measured, {per_row_formula:.2} by the formula"
        ),
        format!(
            "values sharing their whole signature (every row) with another value: {confused} of {values} ({:.1}%)",
            100.0 * confused as f64 / values.max(1) as f64
        ),
    ];
    if let Some(w) = worst {
        lines.push(format!(
            "most crowded feature: C{} ({} values, {:.1} values per row)",
            w.feature + 1,
            w.distinct,
            w.tokens_per_row
        ));
    }
    text(Figure::Collisions, lines)
}

fn latency_figure(state: &AppState, note: Option<&str>) -> FigureText {
    if let Some(why) = note {
        return missing(Figure::Latency, why);
    }
    let r = match (state.latency_for(&state.cfg), &state.latency) {
        (Some(r), _) => r,
        (None, LatencyView::Failed(m)) => {
            return missing(
                Figure::Latency,
                format!("latency: the measurement failed: {m}"),
            );
        }
        _ => return missing(Figure::Latency, "latency: not measured yet"),
    };
    let size = if r.full_measured_at_full_size {
        "at full size".to_string()
    } else {
        "on the largest table this machine allowed (not the full size)".to_string()
    };
    text(
        Figure::Latency,
        vec![
            format!(
                "compressed kernel: {:.1} ns per looked-up value (p99 {:.1} ns), tables {} in {}",
                r.compressed_ns_per_token,
                r.compressed_p99_ns,
                fmt_bytes(r.compressed_bytes),
                r.compressed_fits
            ),
            format!(
                "uncompressed gather {size}: {:.1} ns per looked-up value (p99 {:.1} ns), tables {} in {}",
                r.full_ns_per_token,
                r.full_p99_ns,
                fmt_bytes(r.full_bytes),
                r.full_fits
            ),
            format!(
                "speedup of the compressed lookup: {:.2}x (median over {} batches of {} samples, {} threads)",
                r.speedup, r.batches, r.batch, r.threads
            ),
        ],
    )
}

fn runs_figure(state: &AppState) -> FigureText {
    let runs: Vec<_> = state.runs.iter().filter(|r| r.eval.is_some()).collect();
    if runs.is_empty() {
        return missing(Figure::Runs, "configurations tried: none evaluated yet");
    }
    let mut lines = vec![
        "every configuration tried, each against the baseline after the same number of samples:"
            .to_string(),
    ];
    for r in runs {
        let Some(e) = &r.eval else { continue };
        let delta = e.delta_auc.map_or("ΔAUC -".to_string(), |d| {
            format!("ΔAUC {:+.4} [{:+.4}, {:+.4}]", d.delta, d.lo, d.hi)
        });
        let latency = state.latency_for(&r.cfg).map_or(String::new(), |l| {
            format!(", lookup {:.1} ns per value", l.compressed_ns_per_token)
        });
        lines.push(format!(
            "#{} {}: tables {}, after {} samples AUC {:.4}, {delta}{latency}",
            r.generation,
            knob_line(&r.cfg),
            fmt_bytes(r.param_bytes),
            e.samples,
            e.auc
        ));
    }
    text(Figure::Runs, lines)
}

fn machine_figure(l: &LessonSession, m: &Machine) -> FigureText {
    let p = &l.lesson.preset;
    let full = p.dataset_uncompressed_bytes();
    let mut lines = vec![format!(
        "the uncompressed tables of preset {} at full size ({} values, dim {}): {} of parameters",
        p.name,
        p.data.cardinalities.iter().sum::<u64>(),
        p.model.dim,
        fmt_bytes(full)
    )];
    let caches: Vec<String> = m
        .caches
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.map(|c| format!("L{} {}", i + 1, fmt_bytes(c))))
        .collect();
    if caches.is_empty() {
        lines.push("this machine's cache sizes could not be read".into());
    } else {
        lines.push(format!(
            "this machine's caches (per core or shared): {}",
            caches.join(", ")
        ));
        if let Some(llc) = m.caches.iter().rev().flatten().next() {
            lines.push(format!(
                "the full tables are {:.0}x its last-level cache",
                full as f64 / *llc as f64
            ));
        }
    }
    match m.memory {
        Some(mem) => lines.push(format!(
            "this machine's memory: {} ({} CPUs): the full tables {}",
            fmt_bytes(mem),
            m.cpus,
            if full <= mem {
                format!("fit, using {:.0}% of it", 100.0 * full as f64 / mem as f64)
            } else {
                format!(
                    "do not fit: they need {:.1}x this memory",
                    full as f64 / mem as f64
                )
            }
        )),
        None => lines.push("this machine's memory could not be read".into()),
    }
    text(Figure::Machine, lines)
}

fn full_data_figure(state: &AppState, l: &LessonSession, m: &Machine, samples: u64) -> FigureText {
    let rate = l
        .counting_run(state)
        .and_then(|r| r.progress.as_ref())
        .map(|p| p.samples_per_s)
        .filter(|r| *r > 0.0);
    let Some(rate) = rate else {
        return missing(Figure::FullData(samples), "training rate: not measured yet");
    };
    let hours = samples as f64 / rate / 3600.0;
    let p = &l.lesson.preset;
    let mut lines = vec![
        format!(
            "this run trains the compressed model at {rate:.0} samples/s on this machine ({} CPUs), with the lesson's small model (dim {}), while the baseline trains beside it",
            m.cpus, state.cfg.model.dim
        ),
        format!(
            "one pass over {samples} samples at that rate: {hours:.1} hours for the compressed model alone; the preset's own model (dim {}, bottom MLP {:?}, top MLP {:?}) costs more per sample, so this is a lower bound",
            p.model.dim, p.model.bottom_mlp, p.model.top_mlp
        ),
    ];
    let full = p.dataset_uncompressed_bytes();
    if let Some(mem) = m.memory {
        lines.push(format!(
            "the uncompressed baseline at full size needs {} of tables (+ optimizer state); this machine has {}: {}",
            fmt_bytes(full),
            fmt_bytes(mem),
            if full > mem {
                "it cannot train the baseline the claim compares against"
            } else {
                "it could hold them"
            }
        ));
    }
    text(Figure::FullData(samples), lines)
}

/// The handout as Markdown: the lesson, then each step's text, question and figures, with its
/// chart (`svg_names[i]`, written beside the handout).
pub fn markdown(
    lesson: &LoadedLesson,
    records: &[StepRecord],
    svg_names: &[String],
    scale: f64,
    data_label: &str,
    machine: &Machine,
) -> String {
    let mut s = String::new();
    let l = &lesson.lesson;
    let _ = writeln!(s, "# {}\n", l.title);
    let _ = writeln!(
        s,
        "Lesson `{}` ({} minutes in class), run headless with `memrec-tui lesson {} --headless`. Data: {data_label}. Every figure below was measured in this run on this machine ({} CPUs) or computed from its configuration.\n",
        l.name, l.minutes, l.name, machine.cpus
    );
    if (scale - 1.0).abs() > f64::EPSILON {
        let _ = writeln!(
            s,
            "**Budgets scaled x{scale}** (`--budget-scale`): each step trained {scale} times the samples the lesson names, so these figures are a quick check, not the lesson's.\n"
        );
    }
    let total: f64 = records.iter().map(|r| r.seconds).sum();
    let _ = writeln!(s, "Time of the whole run on this machine: {total:.0} s.\n");
    for (i, r) in records.iter().enumerate() {
        let Some(step) = l.steps.get(r.step) else {
            continue;
        };
        let _ = writeln!(s, "## Step {}: {}\n", r.step + 1, step.title);
        let _ = writeln!(s, "{}\n", step.text.trim());
        let _ = writeln!(s, "**Question for the class:** {}\n", step.question.trim());
        let _ = writeln!(
            s,
            "*Measured in this run* ({}; budget {} samples; the step went on {}: {}; it took {:.0} s):\n",
            r.knobs,
            (step.budget as f64 * scale).ceil() as u64,
            step.go_on.scaled(scale),
            if r.reached {
                "reached".to_string()
            } else {
                format!("not reached within the budget ({})", r.progress)
            },
            r.seconds
        );
        for f in &r.figures {
            for line in &f.lines {
                let _ = writeln!(s, "- {line}");
            }
        }
        if let Some(name) = svg_names.get(i) {
            let _ = writeln!(
                s,
                "\n![Test AUC over samples seen, step {}]({name})",
                r.step + 1
            );
        }
        let _ = writeln!(s);
    }
    s
}
