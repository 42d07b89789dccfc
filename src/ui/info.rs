//! Plain words: what each panel shows, explained for a student who knows what an embedding is but
//! not the hashing trick, Bloom embeddings or MEM-REC (`i`), and the glossary at the end of the
//! `?` help. The formulas are the ones the panels compute (docs/method.md).
//!
//! Owns: the explanation texts and their overlay. Must never: state a number (the panels show
//! the measured ones), or change state.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::{Theme, panel};
use crate::app::state::Focus;

/// The glossary: (word, meaning).
pub const GLOSSARY: &[(&str, &str)] = &[
    (
        "token",
        "one categorical value of one feature, e.g. the value 3a1f09c2 in column C3. Its key is (feature, value) packed into 64 bits",
    ),
    (
        "token row",
        "a row of d floats in MEM-REC's token table. A token is hashed K times; its K token rows are summed into its vector",
    ),
    (
        "weight row",
        "one float in MEM-REC's weight table. A token is hashed kw more times; the sum of its kw weights scales its vector",
    ),
    (
        "signature",
        "the set of rows a token reads: its K token rows (and kw weight rows). Two tokens get the same vector only if they share it all",
    ),
    (
        "collision",
        "two different tokens reading the same row. Sharing one row of K is mild; sharing the whole signature makes them identical",
    ),
    (
        "hashing trick",
        "one hashed row per token in a small table per feature: every collision is a whole-signature collision",
    ),
    (
        "Bloom embedding",
        "MEM-REC with kw = 0: K hashed token rows summed, no weight table",
    ),
    (
        "compression ratio",
        "bytes of the uncompressed tables divided by bytes of the compressed tables (2053x: 2053 times smaller)",
    ),
    (
        "AUC",
        "chance that a random clicked test row is scored above a random unclicked one: 0.5 is guessing, 1 is perfect",
    ),
    (
        "ΔAUC",
        "the compressed run's test AUC minus the baseline's, on the same test rows, at the same number of samples seen",
    ),
    (
        "DeLong interval",
        "the 95% confidence interval of an AUC (or ΔAUC), from DeLong's method; an interval spanning 0 means no measurable difference",
    ),
    (
        "oracle AUC",
        "the AUC of the true click probabilities (synthetic data only): the best any model can score on these rows",
    ),
    (
        "samples seen",
        "training rows the model has learned from so far; curves are compared at equal samples seen",
    ),
    (
        "p50 / p99",
        "the median and the 99th-percentile time of a measured batch: typical and worst-but-rare",
    ),
];

/// Lines the glossary adds to the `?` help (a blank, the heading, each word wrapped at 40
/// columns: a scroll bound, never short).
pub fn glossary_lines() -> usize {
    2 + GLOSSARY
        .iter()
        .map(|(w, m)| (w.chars().count() + m.chars().count() + 4) / 40 + 1)
        .sum::<usize>()
}

/// The glossary as help lines.
pub fn glossary(theme: &Theme) -> Vec<Line<'static>> {
    let mut out = vec![Line::raw(""), Line::styled("Glossary", theme.title)];
    for (word, meaning) in GLOSSARY {
        out.push(Line::from(vec![
            Span::styled(format!("  {word}: "), theme.key),
            Span::styled(*meaning, theme.value),
        ]));
    }
    out
}

/// The explanation of `panel`, paragraph by paragraph.
pub fn panel_text(panel: Focus) -> &'static [&'static str] {
    match panel {
        Focus::Knobs => &[
            "The knobs choose how the compressed model stores its categorical features. Changing one restarts only the compressed run; the baseline keeps training.",
            "K token hashes: how many rows of the token table each value reads and sums. token rows D: the size of that table. kw weight hashes and weight rows dw: the same for the weight table, whose floats scale the summed vector (kw = 0 is a Bloom embedding).",
            "dim d: floats per vector. layout: bundled sums all 26 features into one vector per sample; per feature keeps one vector per feature.",
            "A * marks a value changed from the preset; ~ marks a change not yet in the running model (it restarts after a short pause).",
        ],
        Focus::Memory => &[
            "How many bytes the categorical parameters take, and how many times smaller the compressed tables are.",
            "An f32 is 4 bytes, so a table costs  memory = rows × d × 4 bytes.  MEM-REC: 4 (D d + dw) bytes whatever the vocabulary. Uncompressed: one row per distinct value, 4 d Σ V_j bytes.",
            "uncompressed, full: the tables for every value of the preset's dataset (scaled down with the synthetic stream's vocabularies). uncompressed, loaded: the tables for the values met so far; it grows as training meets new values.",
            "compression ratio = uncompressed bytes / compressed bytes. fits in: the smallest cache of this machine the table fits in (L1, L2, L3, or DRAM when none): a lookup in cache is many times faster than one in DRAM.",
        ],
        Focus::Latency => &[
            "How long one lookup takes, measured on this machine: ns per looked-up token over many batches, after a warm-up.",
            "The compressed side runs the fused kernel: hash each token, read its K token rows and kw weights, scale and sum, in one pass. The uncompressed side gathers one row per token from tables of the full dataset's size, with Criteo's skew.",
            "p50 is the median batch, p99 the slowest 1% (the tail users feel). speedup = uncompressed p50 / compressed p50.",
        ],
        Focus::Auc => &[
            "Test AUC over training samples seen, for the baseline and the compressed run: both learn from the same rows in the same order and are tested on the same rows.",
            "AUC is the chance that a random clicked row scores above a random unclicked one. The oracle line (synthetic data only) is the AUC of the true click probabilities: no model can beat it.",
            "ΔAUC = compressed AUC − baseline AUC at the same samples, with its 95% DeLong interval: if the interval spans 0, the difference is not measurable on these test rows.",
            "Early on the compressed run often leads. While it does, the panel shows two counts the engine measured: how many updates the average parameter row has had in each model (a shared row is updated by every value that reads it; a rare value's private row seldom is), and the share of test rows holding a value no training row has held yet (the baseline reads an untrained row for it; the compressed model reads rows other values trained). A lead with these counts is not compression improving the model: compare at several budgets.",
        ],
        Focus::Pareto => &[
            "Every configuration tried this session (and a loaded sweep's) as a point: table bytes across, AUC or ΔAUC up. A point is on the front when no other point is both smaller and better.",
            "↑↓ select a point, Enter loads its knobs, a switches AUC and ΔAUC, o opens a sweep directory.",
        ],
        Focus::Runs => &[
            "Every compressed configuration tried this session: its knobs, its tables and optimizer state in bytes, its last ΔAUC against the baseline with the 95% interval, and its measured lookup time.",
            "p pins the selected run: the AUC chart keeps its curve and the title compares the newest run against it. e exports the selected configuration as RON.",
        ],
        Focus::Collisions => &[
            "Per feature, how often values share rows, counted on the values loaded so far (test rows and training rows) next to what the formula predicts for random hashing.",
            "values per token row: over the token rows the feature's values use, how many distinct values read each. Expected for N values hashed K times into D rows: λ/(1 − e^−λ) with λ = N K / D, plus the load of the other features.",
            "Over a table of m rows, n values hashed once leave  n − m(1 − (1 − 1/m)^n)  of them colliding with an earlier one.",
            "values sharing all K token rows: the share whose whole token signature equals another value's: those values get the same summed vector. With the weight rows too, they get the same vector exactly. Enter inspects the feature of the top row.",
        ],
        Focus::Inspector => &[
            "One value traced through the representation, as the model computes it now. Its key is (feature, value) packed into 64 bits; every hash starts from it.",
            "MEM-REC hashes the key K times into the token table and kw times into the weight table: the value's vector is  a · (M[t1] + … + M[tK])  with  a = w[g1] + … + w[gkw]. The hashing trick reads one row of its feature's table; QR multiplies a quotient row and a remainder row; ROBE-Z reads d/Z blocks of Z floats at hashed offsets of one array.",
            "shared with: how many other loaded values read the same row (and a few of them). Sharing one row is harmless; sharing every row (the whole signature) makes two values identical to the model.",
            "The bars draw each dimension of the vector (▁ most negative … █ most positive, on one scale for both), beside the baseline's own vector for the same value; an unseen value reads the baseline's untrained out-of-vocabulary row.",
            "↑↓ next value (most trained-on first) · +/- next feature · x type a value in hex, - for missing, #N for test row N · t closes.",
        ],
    }
}

/// Lines of `panel`'s explanation, for the scroll bound (paragraphs wrapped at 40 columns, the
/// narrowest the overlay gets: a bound, never short).
pub fn panel_lines(panel: Focus) -> usize {
    panel_text(panel)
        .iter()
        .map(|p| p.chars().count() / 40 + 2)
        .sum()
}

/// The `i` overlay: the focused panel's explanation.
pub fn draw(frame: &mut Frame, area: Rect, panel_of: Focus, scroll: u16, theme: &Theme) {
    let w = area.width.saturating_sub(4).min(96);
    let mut lines = Vec::new();
    for (i, p) in panel_text(panel_of).iter().enumerate() {
        if i > 0 {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(*p, theme.value));
    }
    let popup = area.centered(
        Constraint::Length(w.min(area.width)),
        Constraint::Length(area.height.saturating_sub(2).min(26)),
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .scroll((scroll, 0))
            .block(panel(
                format!("{} explained · ↑↓ scroll · i or Esc close", panel_of.name()),
                true,
                theme,
            )),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The glossary words are all there.
    #[test]
    fn glossary_has_the_words_the_screen_uses() {
        for w in [
            "token",
            "token row",
            "weight row",
            "signature",
            "collision",
            "compression ratio",
            "ΔAUC",
            "DeLong interval",
            "oracle AUC",
            "samples seen",
        ] {
            assert!(GLOSSARY.iter().any(|(g, _)| *g == w), "{w}");
        }
    }
}
