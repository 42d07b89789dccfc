//! The `--grid` language of `sweep`: `;`-separated axes, each `PATH=V1,V2,...`, `PATH=A..B` (the
//! powers of two from A to B) or `PATH=A..B:xN` (A, A·N, A·N², ... up to B), and their Cartesian
//! product in a deterministic order (first axis outermost, last axis fastest). Several such grids
//! joined by `|` are run one after the other, e.g. each compression method with its own knobs:
//! `memrec.method=memrec;memrec.token_rows=1024..65536 | memrec.method=qr;memrec.qr_collisions=...`
//! (a point given twice is run once).
//!
//! Owns: parsing, the canonical spelling of values (as the configuration prints them, so `4096` and
//! `4_096`-style variants or quoted strings name the same point), and validation of every value and
//! every point through `Config::apply_sets` (a point's values together, as `--set`s are, so
//! `model.bottom_mlp` follows `model.dim` unless the point sets it too), so bad paths and values
//! get the configuration's own messages before anything runs. Must never: run anything, or accept an axis that would change the
//! shared baseline (data, seed, evaluation, baseline).

use crate::config::Config;

/// Most points one sweep may hold: a guard against a typo turning a grid into days of training.
pub const MAX_POINTS: usize = 1000;

/// Configuration sections a grid axis may vary. Every other section is shared by all points and
/// by the baseline they are compared with (same data, seed, test rows, baseline tables).
pub const VARIABLE_SECTIONS: &[&str] = &["memrec", "model", "train"];

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GridError {
    #[error(
        "--grid is empty: expected `;`-separated axes PATH=V1,V2,... / PATH=A..B / PATH=A..B:xN, e.g. \"memrec.k=1,2,4;memrec.token_rows=4096..262144\""
    )]
    Empty,
    #[error("--grid axis `{axis}`: {msg}")]
    Axis { axis: String, msg: String },
    #[error(
        "--grid has {points} points ({sizes}); a sweep holds at most {max}: split it into several sweeps"
    )]
    TooMany {
        points: u128,
        sizes: String,
        max: usize,
    },
    #[error("--grid point {point}: {msg}")]
    Point { point: String, msg: String },
}

/// One axis: a configuration path and its values, canonical, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub path: String,
    pub values: Vec<String>,
}

/// One point of the grid: a value per axis (axis order) and the configuration it gives.
#[derive(Debug, Clone)]
pub struct Point {
    pub assignments: Vec<(String, String)>,
    pub cfg: Config,
}

impl Point {
    /// The point's identity in `points.jsonl`: `path=value` pairs sorted by path, joined by `;`,
    /// so reordering the axes of a grid does not re-run anything.
    pub fn key(&self) -> String {
        key_of(&self.assignments)
    }
}

/// Canonical key of a list of `(path, value)` assignments.
pub fn key_of(assignments: &[(String, String)]) -> String {
    let mut a: Vec<&(String, String)> = assignments.iter().collect();
    a.sort();
    a.iter()
        .map(|(p, v)| format!("{p}={v}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// A parsed, validated grid: one or more sub-grids (`|`-separated), each a Cartesian product.
#[derive(Debug, Clone)]
pub struct Grid {
    /// Every path any sub-grid varies, in order of first appearance, with the union of its values
    /// (for report columns).
    pub axes: Vec<Axis>,
    /// The sub-grids, in the order given.
    pub blocks: Vec<Vec<Axis>>,
}

impl Grid {
    /// Parse `spec` and check every value against a copy of `base`.
    pub fn parse(spec: &str, base: &Config) -> Result<Grid, GridError> {
        let mut blocks: Vec<Vec<Axis>> = Vec::new();
        for part in spec.split('|') {
            if part.trim().trim_matches(';').trim().is_empty() {
                continue;
            }
            blocks.push(parse_block(part, base)?);
        }
        if blocks.is_empty() {
            return Err(GridError::Empty);
        }
        let n: u128 = blocks
            .iter()
            .map(|b| b.iter().map(|a| a.values.len() as u128).product::<u128>())
            .sum();
        if n > MAX_POINTS as u128 {
            return Err(GridError::TooMany {
                points: n,
                sizes: blocks
                    .iter()
                    .map(|b| {
                        b.iter()
                            .map(|a| format!("{} values of {}", a.values.len(), a.path))
                            .collect::<Vec<_>>()
                            .join(" x ")
                    })
                    .collect::<Vec<_>>()
                    .join(" + "),
                max: MAX_POINTS,
            });
        }
        let mut axes: Vec<Axis> = Vec::new();
        for a in blocks.iter().flatten() {
            match axes.iter_mut().find(|x| x.path == a.path) {
                Some(x) => {
                    for v in &a.values {
                        if !x.values.contains(v) {
                            x.values.push(v.clone());
                        }
                    }
                }
                None => axes.push(a.clone()),
            }
        }
        Ok(Grid { axes, blocks })
    }

    /// Number of points (before removing points given twice).
    pub fn len(&self) -> usize {
        self.blocks
            .iter()
            .map(|b| b.iter().map(|a| a.values.len()).product::<usize>())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every point, sub-grid by sub-grid, first axis outermost, each with its configuration
    /// (checked as a whole: a combination can break a cross-field rule that no single value
    /// breaks). A point whose key an earlier sub-grid already produced is left out.
    pub fn points(&self, base: &Config) -> Result<Vec<Point>, GridError> {
        let mut out: Vec<Point> = Vec::with_capacity(self.len());
        let mut seen = std::collections::BTreeSet::new();
        for block in &self.blocks {
            for p in block_points(block, base)? {
                if seen.insert(p.key()) {
                    out.push(p);
                }
            }
        }
        Ok(out)
    }
}

/// One `;`-separated sub-grid.
fn parse_block(spec: &str, base: &Config) -> Result<Vec<Axis>, GridError> {
    let mut axes: Vec<Axis> = Vec::new();
    for part in spec.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (path, values) = part.split_once('=').ok_or_else(|| GridError::Axis {
            axis: part.to_string(),
            msg: "expected PATH=VALUES, e.g. memrec.k=1,2,4".into(),
        })?;
        let path = path.trim().to_string();
        let err = |msg: String| GridError::Axis {
            axis: path.clone(),
            msg,
        };
        if path.is_empty() {
            return Err(err("empty field path".into()));
        }
        let section = path.split('.').next().unwrap_or_default();
        if !VARIABLE_SECTIONS.contains(&section) {
            return Err(err(format!(
                "only fields of {} can vary in a sweep: every point is compared with one baseline trained on the same data, seed and test rows (set other fields with --set)",
                VARIABLE_SECTIONS
                    .iter()
                    .map(|s| format!("{s}.*"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if axes.iter().any(|a| a.path == path) {
            return Err(err("appears twice in the grid".into()));
        }
        let raw = expand_values(values.trim()).map_err(&err)?;
        let mut canonical: Vec<String> = Vec::with_capacity(raw.len());
        for r in raw {
            // Path and type first; the cross-field rules once the block's axes are all known.
            let mut cfg = base.clone();
            cfg.set_field(&format!("{path}={r}"))
                .map_err(|e| err(format!("value `{r}`: {e}")))?;
            let c = value_at(&cfg, &path).map_err(&err)?;
            if canonical.contains(&c) {
                return Err(err(format!("value `{c}` appears twice")));
            }
            canonical.push(c);
        }
        axes.push(Axis {
            path,
            values: canonical,
        });
    }
    if axes.is_empty() {
        return Err(GridError::Empty);
    }
    check_values(&axes, base)?;
    Ok(axes)
}

/// Refuse, under its axis, a value that no point of the block can hold: alone on `base` it breaks
/// a rule, and no combination with the other axes' values mends it (`model.bottom_mlp=[64,16]`
/// is fine beside `model.dim=16`). A value that only some combinations break is left to
/// `points`, which names the point.
fn check_values(axes: &[Axis], base: &Config) -> Result<(), GridError> {
    let size: u128 = axes.iter().map(|a| a.values.len() as u128).product();
    let mut all: Option<Vec<Vec<(String, String)>>> = None;
    for (i, axis) in axes.iter().enumerate() {
        for v in &axis.values {
            let Err(e) = base.clone().apply_set(&format!("{}={v}", axis.path)) else {
                continue;
            };
            let refuse = || GridError::Axis {
                axis: axis.path.clone(),
                msg: format!("value `{v}`: {e}"),
            };
            if axes.len() == 1 {
                return Err(refuse());
            }
            // Past the size limit `Grid::parse` refuses the whole grid anyway.
            if size > MAX_POINTS as u128 {
                continue;
            }
            let points = all.get_or_insert_with(|| assignments(axes));
            let mended = points
                .iter()
                .filter(|p| p[i].1 == *v)
                .any(|p| with_assignments(base, p).is_ok());
            if !mended {
                return Err(refuse());
            }
        }
    }
    Ok(())
}

/// Every assignment of the block's Cartesian product, first axis outermost, last fastest.
fn assignments(axes: &[Axis]) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut idx = vec![0usize; axes.len()];
    loop {
        out.push(
            axes.iter()
                .zip(&idx)
                .map(|(a, &i)| (a.path.clone(), a.values[i].clone()))
                .collect(),
        );
        // Odometer: the last axis turns fastest.
        let mut d = axes.len();
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < axes[d].values.len() {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// `base` with a point's assignments applied together, as `--set`s are: all, then one
/// validation, so `model.bottom_mlp` follows `model.dim` unless the point sets it too.
pub fn with_assignments(
    base: &Config,
    assignments: &[(String, String)],
) -> Result<Config, crate::config::ConfigError> {
    let sets: Vec<String> = assignments
        .iter()
        .map(|(p, v)| format!("{p}={v}"))
        .collect();
    let mut cfg = base.clone();
    cfg.apply_sets(&sets)?;
    Ok(cfg)
}

/// The Cartesian product of one sub-grid, first axis outermost.
fn block_points(axes: &[Axis], base: &Config) -> Result<Vec<Point>, GridError> {
    assignments(axes)
        .into_iter()
        .map(|assignments| {
            let cfg = with_assignments(base, &assignments).map_err(|e| GridError::Point {
                point: key_of(&assignments),
                msg: e.to_string(),
            })?;
            Ok(Point { assignments, cfg })
        })
        .collect()
}

/// The value at `path` as the configuration prints it (strings unquoted, numbers as JSON).
pub fn value_at(cfg: &Config, path: &str) -> Result<String, String> {
    // Through text, so f32 fields print as written (0.05, not 0.05000000074505806).
    let text = serde_json::to_string(cfg).map_err(|e| e.to_string())?;
    let mut v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    for part in path.split('.') {
        v = v
            .get_mut(part)
            .map(serde_json::Value::take)
            .ok_or_else(|| format!("no field `{part}`"))?;
    }
    Ok(match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}

/// The raw values of one axis: a list (commas inside brackets do not split), or a range.
fn expand_values(text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Err("no values; expected V1,V2,... or A..B or A..B:xN".into());
    }
    if !text.starts_with('[') && text.contains("..") {
        return expand_range(text);
    }
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for ch in text.chars() {
        match ch {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(ch);
        }
    }
    out.push(cur);
    let out: Vec<String> = out.into_iter().map(|s| s.trim().to_string()).collect();
    if out.iter().any(|s| s.is_empty()) {
        return Err(format!("empty value in the list `{text}`"));
    }
    Ok(out)
}

/// `A..B` (powers of two, both ends included) or `A..B:xN` (geometric by N, ending exactly at B).
fn expand_range(text: &str) -> Result<Vec<String>, String> {
    let (range, factor) = match text.split_once(':') {
        Some((r, f)) => (r, Some(f.trim())),
        None => (text, None),
    };
    let (a, b) = range
        .split_once("..")
        .ok_or_else(|| format!("`{text}`: expected A..B or A..B:xN"))?;
    let num = |s: &str| -> Result<u64, String> {
        s.trim().parse::<u64>().map_err(|_| {
            format!(
                "`{text}`: range ends must be whole numbers, `{}` is not",
                s.trim()
            )
        })
    };
    let (a, b) = (num(a)?, num(b)?);
    if a == 0 {
        return Err(format!("`{text}`: a range starts at 1 or more"));
    }
    if a > b {
        return Err(format!("`{text}`: the start {a} is above the end {b}"));
    }
    let n = match factor {
        None => {
            for x in [a, b] {
                if !x.is_power_of_two() {
                    return Err(format!(
                        "`{text}`: A..B is a range of powers of two and {x} is not one; use A..B:xN for a geometric range from {a}, or list the values"
                    ));
                }
            }
            2
        }
        Some(f) => {
            let n = f
                .strip_prefix('x')
                .and_then(|n| n.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    format!("`{text}`: expected a factor like :x2 or :x4 after the range")
                })?;
            if n < 2 {
                return Err(format!("`{text}`: the factor must be 2 or more"));
            }
            n
        }
    };
    let mut out = vec![a];
    let mut x = a;
    while x < b {
        x = x
            .checked_mul(n)
            .ok_or_else(|| format!("`{text}`: the range overflows"))?;
        if x > b {
            return Err(format!(
                "`{text}`: {b} is not {a}·{n}^k (the steps go {} then {x}); end the range at {}",
                x / n,
                x / n
            ));
        }
        out.push(x);
    }
    Ok(out.iter().map(u64::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Config {
        Config::from_preset("tiny").unwrap()
    }

    #[test]
    fn lists_and_ranges_expand() {
        let g = Grid::parse(
            "memrec.k=1,2,4; memrec.token_rows=4096..16384;memrec.weight_rows=16..256:x4",
            &tiny(),
        )
        .unwrap();
        assert_eq!(g.axes[0].values, ["1", "2", "4"]);
        assert_eq!(g.axes[1].values, ["4096", "8192", "16384"]);
        assert_eq!(g.axes[2].values, ["16", "64", "256"]);
        assert_eq!(g.len(), 27);
        let pts = g.points(&tiny()).unwrap();
        assert_eq!(pts.len(), 27);
        // First axis outermost, last fastest.
        assert_eq!(
            pts[0].key(),
            "memrec.k=1;memrec.token_rows=4096;memrec.weight_rows=16"
        );
        assert_eq!(
            pts[1].key(),
            "memrec.k=1;memrec.token_rows=4096;memrec.weight_rows=64"
        );
        assert_eq!(pts[26].cfg.memrec.k, 4);
        assert_eq!(pts[26].cfg.memrec.token_rows, 16384);
        assert_eq!(pts[26].cfg.memrec.weight_rows, 256);
    }

    #[test]
    fn values_are_canonical() {
        let g = Grid::parse(
            "train.lr=0.05,0.10;memrec.layout=\"per_feature\",bundled;model.bottom_mlp=[16, 8],[8]",
            &tiny(),
        )
        .unwrap();
        assert_eq!(g.axes[0].values, ["0.05", "0.1"]);
        assert_eq!(g.axes[1].values, ["per_feature", "bundled"]);
        assert_eq!(g.axes[2].values, ["[16,8]", "[8]"]);
        // Axis order does not change a point's key.
        let a = key_of(&[("b".into(), "1".into()), ("a".into(), "2".into())]);
        assert_eq!(a, "a=2;b=1");
    }

    #[test]
    fn the_bottom_mlp_follows_a_dim_axis_unless_the_point_sets_it() {
        // tiny: dim 8, bottom MLP ending in 8.
        let pts = Grid::parse("model.dim=8,16;memrec.k=1,2", &tiny())
            .unwrap()
            .points(&tiny())
            .unwrap();
        assert_eq!(pts.len(), 4);
        for p in &pts {
            assert_eq!(p.cfg.model.bottom_mlp.last(), Some(&p.cfg.model.dim));
        }
        assert_eq!(pts[3].cfg.model.dim, 16);
        // A bottom MLP that only fits beside the dim of its own point is accepted.
        let g = Grid::parse("model.dim=16;model.bottom_mlp=[64,16],[32,16]", &tiny()).unwrap();
        let pts = g.points(&tiny()).unwrap();
        assert_eq!(pts[1].cfg.model.bottom_mlp, [32, 16]);
        // ... and one that fits no point is refused under its axis.
        let e = Grid::parse("model.dim=16,32;model.bottom_mlp=[64,12]", &tiny()).unwrap_err();
        assert!(
            matches!(&e, GridError::Axis { axis, .. } if axis == "model.bottom_mlp"),
            "{e}"
        );
        // One that fits some points only: the others are refused by point, naming both fields.
        let g = Grid::parse("model.dim=8,16;model.bottom_mlp=[64,8]", &tiny()).unwrap();
        let e = g.points(&tiny()).unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(&e, GridError::Point { point, .. } if point == "model.bottom_mlp=[64,8];model.dim=16"),
            "{text}"
        );
        assert!(
            text.contains("model.bottom_mlp") && text.contains("model.dim, set to 16"),
            "{text}"
        );
    }

    #[test]
    fn errors_name_the_axis() {
        let cases = [
            ("memrec.k=1,0", "memrec.k", "1 to 8"),
            ("memrec.kk=1", "memrec.kk", "unknown field"),
            (
                "memrec.token_rows=1000..4096",
                "memrec.token_rows",
                "powers of two",
            ),
            (
                "memrec.token_rows=1024..5000:x4",
                "memrec.token_rows",
                "end the range at 4096",
            ),
            (
                "memrec.token_rows=4096..1024",
                "memrec.token_rows",
                "above the end",
            ),
            (
                "memrec.token_rows=1..8:x1",
                "memrec.token_rows",
                "2 or more",
            ),
            (
                "memrec.token_rows=a..8",
                "memrec.token_rows",
                "whole numbers",
            ),
            ("memrec.k=1,,2", "memrec.k", "empty value"),
            ("memrec.k=1,1", "memrec.k", "appears twice"),
            ("memrec.k=1;memrec.k=2", "memrec.k", "appears twice"),
            ("seed=1,2", "seed", "only fields of memrec.*"),
            ("data.train=x", "data.train", "baseline"),
            ("memrec.k", "memrec.k", "PATH=VALUES"),
        ];
        for (spec, axis, needle) in cases {
            let e = Grid::parse(spec, &tiny()).unwrap_err();
            let text = e.to_string();
            assert!(
                matches!(&e, GridError::Axis { axis: a, .. } if a == axis),
                "{spec}: {text}"
            );
            assert!(text.contains(needle), "{spec}: {text}");
        }
        assert_eq!(Grid::parse(" ; ", &tiny()).unwrap_err(), GridError::Empty);
    }

    #[test]
    fn too_many_points_is_an_error() {
        let e = Grid::parse(
            "memrec.token_rows=1..1048576;memrec.weight_rows=1..1048576;memrec.k=1,2,3,4",
            &tiny(),
        )
        .unwrap_err();
        assert!(matches!(e, GridError::TooMany { points: 1764, .. }), "{e}");
        assert!(e.to_string().contains("at most 1000"), "{e}");
    }

    #[test]
    fn sub_grids_join_with_a_bar_and_points_given_twice_run_once() {
        let g = Grid::parse(
            "memrec.method=memrec;memrec.token_rows=64..128 | memrec.method=qr;memrec.qr_collisions=4,8|memrec.method=memrec;memrec.token_rows=128",
            &tiny(),
        )
        .unwrap();
        assert_eq!(g.blocks.len(), 3);
        assert_eq!(g.len(), 5);
        let keys: Vec<String> = g.points(&tiny()).unwrap().iter().map(Point::key).collect();
        assert_eq!(
            keys,
            [
                "memrec.method=memrec;memrec.token_rows=64",
                "memrec.method=memrec;memrec.token_rows=128",
                "memrec.method=qr;memrec.qr_collisions=4",
                "memrec.method=qr;memrec.qr_collisions=8",
            ]
        );
        let paths: Vec<&str> = g.axes.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(
            paths,
            ["memrec.method", "memrec.token_rows", "memrec.qr_collisions"]
        );
        assert_eq!(g.axes[0].values, ["memrec", "qr"]);
        let e = Grid::parse("memrec.k=1 | memrec.k=9", &tiny()).unwrap_err();
        assert!(e.to_string().contains("memrec.k"), "{e}");
        assert_eq!(Grid::parse(" | ; ", &tiny()).unwrap_err(), GridError::Empty);
    }
}
