//! The knobs, defined once: one table (`KNOBS`) of what the explorer lets a user turn while
//! training runs, with each knob's label, configuration path, the methods it belongs to, a typed
//! getter, a typed writer and its step rule. The Knobs panel, the restart rule
//! (`same_compressed_run`), the engine's adoption of a new compressed configuration
//! (`adopt_knobs`), the sweep's "outside the knobs" check and `--set` on a knob path all read it.
//!
//! Must never: go through strings for a knob's value (a step or an adoption is typed end to end),
//! or accept a stepped configuration that `--set` would refuse (every step is validated).

use std::fmt;

use super::{Config, ConfigError, Layout, Method, Optimizer};

/// Embedding dimensions the `dim` knob steps through.
pub const DIM_STEPS: [usize; 6] = [4, 8, 16, 32, 64, 128];

/// Which knob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KnobId {
    Method,
    K,
    TokenRows,
    Kw,
    WeightRows,
    HashRows,
    QrCollisions,
    RobeSize,
    RobeZ,
    Dim,
    Layout,
    Optimizer,
    Lr,
    Batch,
}

/// The value of a knob, typed. Its `Display` is the text the Knobs panel shows (and that `--set`
/// accepts); it honours width and alignment (`{:>9}`) as a string would.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KnobValue {
    Method(Method),
    Layout(Layout),
    Optimizer(Optimizer),
    Count(usize),
    Real(f32),
}

impl fmt::Display for KnobValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KnobValue::Method(m) => f.pad(m.as_str()),
            KnobValue::Layout(l) => f.pad(l.as_str()),
            KnobValue::Optimizer(o) => f.pad(o.as_str()),
            KnobValue::Count(n) => f.pad(&n.to_string()),
            KnobValue::Real(x) => f.pad(&x.to_string()),
        }
    }
}

/// The type of a knob's value, for reading it from `--set` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnobKind {
    Method,
    Layout,
    Optimizer,
    Count,
    Real,
}

/// One knob.
pub struct KnobSpec {
    pub id: KnobId,
    /// Label on the Knobs panel.
    pub label: &'static str,
    /// The configuration field it edits (as in `--set`).
    pub path: &'static str,
    pub kind: KnobKind,
    /// The compressed methods whose panel shows it; empty = every method.
    pub methods: &'static [Method],
    pub get: fn(&Config) -> KnobValue,
    /// Write the value into its field and nothing else, unvalidated (a value of another kind is
    /// refused). Rules that tie fields together (the bottom MLP ends in the dim) are the caller's:
    /// `apply_sets`, the step rules, `adopt_knobs`.
    pub put: fn(&mut Config, KnobValue) -> Result<(), ConfigError>,
    /// `cfg` with this knob moved `steps` steps (negative = down), validated.
    pub step: fn(&Config, i32) -> Result<Config, ConfigError>,
    /// Whether a change restarts the compressed run (the baseline never restarts for a knob).
    pub restarts_compressed: bool,
    /// Whether a change changes what the lookup kernel does (so latency is re-measured).
    pub affects_latency: bool,
}

impl fmt::Debug for KnobSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KnobSpec")
            .field("id", &self.id)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

const MEMREC: &[Method] = &[Method::Memrec];
const ALL: &[Method] = &[];

macro_rules! count_knob {
    ($id:ident, $label:literal, $path:literal, $methods:expr, $($field:ident).+, $step:expr) => {
        KnobSpec {
            id: KnobId::$id,
            label: $label,
            path: $path,
            kind: KnobKind::Count,
            methods: $methods,
            get: |c| KnobValue::Count(c.$($field).+),
            put: |c, v| {
                c.$($field).+ = count($path, v)?;
                Ok(())
            },
            step: $step,
            restarts_compressed: true,
            affects_latency: true,
        }
    };
}

/// Every knob, in the order the panel lists a method's own knobs, then the model and training
/// knobs, then the method itself (`visible` picks those of one method).
pub static KNOBS: &[KnobSpec] = &[
    count_knob!(K, "K token hashes", "memrec.k", MEMREC, memrec.k, |c, s| {
        add_steps(c, "memrec.k", c.memrec.k, s)
    }),
    count_knob!(
        TokenRows,
        "token rows D",
        "memrec.token_rows",
        MEMREC,
        memrec.token_rows,
        |c, s| doubled(c, "memrec.token_rows", c.memrec.token_rows, s)
    ),
    count_knob!(
        Kw,
        "kw weight hashes",
        "memrec.kw",
        MEMREC,
        memrec.kw,
        |c, s| { add_steps(c, "memrec.kw", c.memrec.kw, s) }
    ),
    count_knob!(
        WeightRows,
        "weight rows dw",
        "memrec.weight_rows",
        MEMREC,
        memrec.weight_rows,
        |c, s| doubled(c, "memrec.weight_rows", c.memrec.weight_rows, s)
    ),
    count_knob!(
        HashRows,
        "rows per feature",
        "memrec.hash_rows",
        &[Method::Hashing],
        memrec.hash_rows,
        |c, s| doubled(c, "memrec.hash_rows", c.memrec.hash_rows, s)
    ),
    count_knob!(
        QrCollisions,
        "QR remainder c",
        "memrec.qr_collisions",
        &[Method::Qr],
        memrec.qr_collisions,
        |c, s| doubled(c, "memrec.qr_collisions", c.memrec.qr_collisions, s)
    ),
    count_knob!(
        RobeSize,
        "ROBE array size",
        "memrec.robe_size",
        &[Method::RobeZ],
        memrec.robe_size,
        |c, s| doubled(c, "memrec.robe_size", c.memrec.robe_size, s)
    ),
    count_knob!(
        RobeZ,
        "ROBE block Z",
        "memrec.robe_z",
        &[Method::RobeZ],
        memrec.robe_z,
        step_robe_z
    ),
    KnobSpec {
        id: KnobId::Dim,
        label: "dim d",
        path: "model.dim",
        kind: KnobKind::Count,
        methods: ALL,
        get: |c| KnobValue::Count(c.model.dim),
        put: |c, v| {
            c.model.dim = count("model.dim", v)?;
            Ok(())
        },
        step: step_dim,
        restarts_compressed: true,
        affects_latency: true,
    },
    KnobSpec {
        id: KnobId::Layout,
        label: "layout",
        path: "memrec.layout",
        kind: KnobKind::Layout,
        methods: MEMREC,
        get: |c| KnobValue::Layout(c.memrec.layout),
        put: |c, v| match v {
            KnobValue::Layout(l) => {
                c.memrec.layout = l;
                Ok(())
            }
            other => Err(wrong_kind("memrec.layout", other)),
        },
        step: |c, _| {
            let to = match c.memrec.layout {
                Layout::Bundled => Layout::PerFeature,
                Layout::PerFeature => Layout::Bundled,
            };
            with_value(c, KnobId::Layout, KnobValue::Layout(to))
        },
        restarts_compressed: true,
        affects_latency: true,
    },
    KnobSpec {
        id: KnobId::Optimizer,
        label: "optimizer",
        path: "train.optimizer",
        kind: KnobKind::Optimizer,
        methods: ALL,
        get: |c| KnobValue::Optimizer(c.train.optimizer),
        put: |c, v| match v {
            KnobValue::Optimizer(o) => {
                c.train.optimizer = o;
                Ok(())
            }
            other => Err(wrong_kind("train.optimizer", other)),
        },
        step: |c, _| {
            let to = match c.train.optimizer {
                Optimizer::Sgd => Optimizer::Adagrad,
                Optimizer::Adagrad => Optimizer::Sgd,
            };
            with_value(c, KnobId::Optimizer, KnobValue::Optimizer(to))
        },
        restarts_compressed: true,
        affects_latency: false,
    },
    KnobSpec {
        id: KnobId::Lr,
        label: "learning rate",
        path: "train.lr",
        kind: KnobKind::Real,
        methods: ALL,
        get: |c| KnobValue::Real(c.train.lr),
        put: |c, v| match v {
            KnobValue::Real(x) => {
                c.train.lr = x;
                Ok(())
            }
            other => Err(wrong_kind("train.lr", other)),
        },
        step: |c, steps| {
            // One step doubles or halves; a big step (two or more) multiplies or divides by 10.
            let factor = if steps.abs() >= 2 { 10f64 } else { 2f64 };
            let lr = c.train.lr as f64 * factor.powi(steps.signum());
            with_value(c, KnobId::Lr, KnobValue::Real(lr as f32))
        },
        restarts_compressed: true,
        affects_latency: false,
    },
    KnobSpec {
        id: KnobId::Batch,
        label: "batch",
        path: "train.batch",
        kind: KnobKind::Count,
        methods: ALL,
        get: |c| KnobValue::Count(c.train.batch),
        put: |c, v| {
            c.train.batch = count("train.batch", v)?;
            Ok(())
        },
        step: |c, s| doubled(c, "train.batch", c.train.batch, s),
        restarts_compressed: true,
        affects_latency: false,
    },
    KnobSpec {
        id: KnobId::Method,
        label: "method",
        path: "memrec.method",
        kind: KnobKind::Method,
        methods: ALL,
        get: |c| KnobValue::Method(c.memrec.method),
        put: |c, v| match v {
            KnobValue::Method(m) => {
                c.memrec.method = m;
                Ok(())
            }
            other => Err(wrong_kind("memrec.method", other)),
        },
        step: |c, steps| {
            // Cycles through every method, one per key press whatever the step size.
            let at = Method::ALL
                .iter()
                .position(|&m| m == c.memrec.method)
                .unwrap_or(0) as i64;
            let to = (at + steps.signum() as i64).rem_euclid(Method::ALL.len() as i64) as usize;
            with_value(c, KnobId::Method, KnobValue::Method(Method::ALL[to]))
        },
        restarts_compressed: true,
        affects_latency: true,
    },
];

/// The knob with this id.
pub fn knob(id: KnobId) -> &'static KnobSpec {
    // Every id has exactly one row (a unit test checks it).
    KNOBS
        .iter()
        .find(|k| k.id == id)
        .unwrap_or(&KNOBS[KNOBS.len() - 1])
}

/// The knob that edits `path`, if any.
pub fn knob_at(path: &str) -> Option<&'static KnobSpec> {
    KNOBS.iter().find(|k| k.path == path)
}

/// The knobs that matter for `cfg`'s compressed method, in panel order: that method's own
/// knobs, the model and training knobs, and last the method itself. MEM-REC with kw = 0 is a
/// Bloom embedding: it has no weight table, so the weight-table size is not listed.
pub fn visible(cfg: &Config) -> Vec<&'static KnobSpec> {
    KNOBS
        .iter()
        .filter(|k| k.methods.is_empty() || k.methods.contains(&cfg.memrec.method))
        .filter(|k| !(k.id == KnobId::WeightRows && cfg.memrec.kw == 0))
        .collect()
}

/// Whether two configurations train the same compressed run: every knob that restarts it has
/// the same value. (Configurations compared here differ at most in knobs: the explorer changes
/// nothing else, and a sweep point is refused when it differs outside them.)
pub fn same_compressed_run(a: &Config, b: &Config) -> bool {
    KNOBS
        .iter()
        .filter(|k| k.restarts_compressed)
        .all(|k| (k.get)(a) == (k.get)(b))
}

/// Copy every knob of `from` into `into`, with the bottom MLP's last width (which follows the
/// dim), without validation: `from` was validated, and `into` differs from it only outside the
/// knobs.
pub fn adopt_knobs(from: &Config, into: &mut Config) {
    for k in KNOBS {
        // `put` refuses only a value of another kind, and `get` gives the knob's own kind.
        let _ = (k.put)(into, (k.get)(from));
    }
    if let (Some(last), Some(&theirs)) = (
        into.model.bottom_mlp.last_mut(),
        from.model.bottom_mlp.last(),
    ) {
        *last = theirs;
    }
}

impl KnobKind {
    /// A JSON value of this kind, so `--set` text is read for it as for any field of its type.
    pub fn placeholder(self) -> serde_json::Value {
        match self {
            KnobKind::Method | KnobKind::Layout | KnobKind::Optimizer => {
                serde_json::Value::String(String::new())
            }
            KnobKind::Count => serde_json::Value::from(0u64),
            KnobKind::Real => serde_json::Value::from(0.5f64),
        }
    }

    /// The typed value of `--set` text read as JSON (by the same deserializer as the whole
    /// configuration, so the same texts are accepted, with the same errors).
    pub fn read(self, v: serde_json::Value) -> Result<KnobValue, serde_json::Error> {
        Ok(match self {
            KnobKind::Method => KnobValue::Method(serde_json::from_value(v)?),
            KnobKind::Layout => KnobValue::Layout(serde_json::from_value(v)?),
            KnobKind::Optimizer => KnobValue::Optimizer(serde_json::from_value(v)?),
            KnobKind::Count => KnobValue::Count(serde_json::from_value(v)?),
            KnobKind::Real => KnobValue::Real(serde_json::from_value(v)?),
        })
    }
}

fn wrong_kind(path: &str, v: KnobValue) -> ConfigError {
    ConfigError::invalid(path, v, "a value of this knob's own type")
}

fn count(path: &str, v: KnobValue) -> Result<usize, ConfigError> {
    match v {
        KnobValue::Count(n) => Ok(n),
        other => Err(wrong_kind(path, other)),
    }
}

/// `cfg` with knob `id` set to `v`, validated.
fn with_value(cfg: &Config, id: KnobId, v: KnobValue) -> Result<Config, ConfigError> {
    let mut next = cfg.clone();
    (knob(id).put)(&mut next, v)?;
    next.validate()?;
    Ok(next)
}

/// A count moved by `steps` (K, kw). Below 0 is refused as `--set` refuses it.
fn add_steps(cfg: &Config, path: &str, now: usize, steps: i32) -> Result<Config, ConfigError> {
    let to = now as i64 + steps as i64;
    let Ok(to) = usize::try_from(to) else {
        return Err(ConfigError::Set {
            arg: format!("{path}={to}"),
            msg: format!(
                "`{path}` cannot be `{to}`: invalid value: integer `{to}`, expected usize"
            ),
        });
    };
    let id = knob_at(path).map_or(KnobId::K, |k| k.id);
    with_value(cfg, id, KnobValue::Count(to))
}

/// A count doubled or halved per step (table rows, batch); below 1 it becomes 0, which
/// validation refuses with the allowed range.
fn doubled(cfg: &Config, path: &str, now: usize, steps: i32) -> Result<Config, ConfigError> {
    let v = now as f64 * 2f64.powi(steps);
    let to = if v < 1.0 { 0 } else { v.round() as usize };
    let id = knob_at(path).map_or(KnobId::Batch, |k| k.id);
    with_value(cfg, id, KnobValue::Count(to))
}

/// ROBE-Z's block walks the divisors of the dim.
fn step_robe_z(cfg: &Config, steps: i32) -> Result<Config, ConfigError> {
    let dim = cfg.model.dim;
    let divisors: Vec<usize> = (1..=dim).filter(|z| dim.is_multiple_of(*z)).collect();
    let at = divisors
        .iter()
        .position(|&z| z >= cfg.memrec.robe_z)
        .unwrap_or(divisors.len().saturating_sub(1)) as i64;
    let to = (at + steps as i64)
        .clamp(0, divisors.len() as i64 - 1)
        .max(0) as usize;
    let z = divisors.get(to).copied().unwrap_or(1);
    with_value(cfg, KnobId::RobeZ, KnobValue::Count(z))
}

/// The dim walks `DIM_STEPS` (a dim off the ladder steps to its neighbours); the bottom MLP's last
/// width follows, and ROBE-Z's block becomes the largest divisor of the new dim not above it.
fn step_dim(cfg: &Config, steps: i32) -> Result<Config, ConfigError> {
    let cur = cfg.model.dim;
    let idx = DIM_STEPS.iter().position(|&d| d >= cur);
    let start = if steps > 0 {
        match idx {
            Some(i) if DIM_STEPS[i] == cur => i as i64,
            Some(i) => i as i64 - 1,
            None => DIM_STEPS.len() as i64 - 1,
        }
    } else {
        idx.map_or(DIM_STEPS.len() as i64, |i| i as i64)
    };
    let target = usize::try_from(start + steps as i64)
        .ok()
        .and_then(|t| DIM_STEPS.get(t).copied());
    let Some(dim) = target else {
        return Err(ConfigError::Knob(format!(
            "model.dim = {cur}: the explorer steps through {DIM_STEPS:?}; use --set model.dim for others"
        )));
    };
    let mut next = cfg.clone();
    (knob(KnobId::Dim).put)(&mut next, KnobValue::Count(dim))?;
    if let Some(last) = next.model.bottom_mlp.last_mut() {
        *last = dim;
    }
    let z = next.memrec.robe_z.min(dim);
    next.memrec.robe_z = (1..=z).rev().find(|x| dim.is_multiple_of(*x)).unwrap_or(1);
    next.validate()?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: [KnobId; 14] = [
        KnobId::Method,
        KnobId::K,
        KnobId::TokenRows,
        KnobId::Kw,
        KnobId::WeightRows,
        KnobId::HashRows,
        KnobId::QrCollisions,
        KnobId::RobeSize,
        KnobId::RobeZ,
        KnobId::Dim,
        KnobId::Layout,
        KnobId::Optimizer,
        KnobId::Lr,
        KnobId::Batch,
    ];

    /// Every preset under every method: where the knobs are tried.
    fn configs() -> Vec<Config> {
        let mut out = Vec::new();
        for (name, _) in super::super::PRESETS {
            for m in Method::ALL {
                let mut cfg = Config::from_preset(name).unwrap();
                cfg.memrec.method = m;
                if cfg.validate().is_ok() {
                    out.push(cfg);
                }
            }
        }
        assert!(out.len() >= 8, "{}", out.len());
        out
    }

    #[test]
    fn every_knob_has_one_row_and_a_settable_path() {
        let paths: Vec<String> = super::super::field_paths()
            .into_iter()
            .map(|p| p.split(' ').next().unwrap_or_default().to_string())
            .collect();
        assert_eq!(KNOBS.len(), IDS.len());
        for id in IDS {
            assert_eq!(KNOBS.iter().filter(|k| k.id == id).count(), 1, "{id:?}");
            let k = knob(id);
            assert_eq!(k.id, id);
            assert!(paths.iter().any(|p| p == k.path), "{}", k.path);
            assert_eq!(knob_at(k.path).map(|k| k.id), Some(id));
        }
    }

    #[test]
    fn the_panel_lists_each_methods_knobs_in_order() {
        use KnobId::{
            Batch, Dim, HashRows, K, Kw, Layout, Lr, Optimizer, QrCollisions, RobeSize, RobeZ,
            TokenRows, WeightRows,
        };
        let mut cfg = Config::from_preset("kaggle").unwrap();
        let want: [(Method, &[KnobId]); 4] = [
            (
                Method::Memrec,
                &[
                    K,
                    TokenRows,
                    Kw,
                    WeightRows,
                    Dim,
                    Layout,
                    Optimizer,
                    Lr,
                    Batch,
                    KnobId::Method,
                ],
            ),
            (
                Method::Hashing,
                &[HashRows, Dim, Optimizer, Lr, Batch, KnobId::Method],
            ),
            (
                Method::Qr,
                &[QrCollisions, Dim, Optimizer, Lr, Batch, KnobId::Method],
            ),
            (
                Method::RobeZ,
                &[RobeSize, RobeZ, Dim, Optimizer, Lr, Batch, KnobId::Method],
            ),
        ];
        for (m, ids) in want {
            cfg.memrec.method = m;
            let got: Vec<KnobId> = visible(&cfg).iter().map(|k| k.id).collect();
            assert_eq!(got, ids, "{m:?}");
        }
    }

    #[test]
    fn the_weight_table_knob_is_hidden_while_kw_is_zero() {
        let mut cfg = Config::from_preset("tiny").unwrap();
        cfg.memrec.method = Method::Memrec;
        let ids = |c: &Config| visible(c).iter().map(|k| k.id).collect::<Vec<_>>();
        cfg.memrec.kw = 1;
        assert!(ids(&cfg).contains(&KnobId::WeightRows));
        let bloom = step(KnobId::Kw, &cfg, -1).unwrap();
        assert_eq!(bloom.memrec.kw, 0);
        assert_eq!(
            ids(&bloom),
            [
                KnobId::K,
                KnobId::TokenRows,
                KnobId::Kw,
                KnobId::Dim,
                KnobId::Layout,
                KnobId::Optimizer,
                KnobId::Lr,
                KnobId::Batch,
                KnobId::Method
            ]
        );
        let back = step(KnobId::Kw, &bloom, 1).unwrap();
        assert!(ids(&back).contains(&KnobId::WeightRows));
    }

    #[test]
    fn a_knobs_value_round_trips_through_set() {
        for cfg in configs() {
            for k in KNOBS {
                let mut back = cfg.clone();
                back.apply_set(&format!("{}={}", k.path, (k.get)(&cfg)))
                    .unwrap_or_else(|e| panic!("{}: {e}", k.path));
                assert_eq!(back, cfg, "{} did not round-trip", k.path);
                // A stepped value set by its path gives the stepped configuration.
                let Ok(stepped) = (k.step)(&cfg, 1) else {
                    continue;
                };
                let mut set = cfg.clone();
                set.apply_set(&format!("{}={}", k.path, (k.get)(&stepped)))
                    .unwrap_or_else(|e| panic!("{}: {e}", k.path));
                if k.id != KnobId::Dim {
                    assert_eq!(set, stepped, "{}", k.path);
                } else {
                    assert_eq!(set.model, stepped.model, "{}", k.path);
                }
            }
        }
    }

    #[test]
    fn set_on_a_knob_reads_values_as_any_field_does() {
        // The typed route and the JSON route agree on every text, accepted or refused.
        let raws = [
            "4",
            "0",
            "-1",
            "two",
            "4.0",
            "\"4\"",
            "(8)",
            "01",
            "1e-3",
            "0.05",
            "3.4e39",
            "bundled",
            "per_feature",
            "\"qr\"",
            "robe_z",
            "tt_rec",
            "adagrad",
            "None",
            "Some(3)",
            "",
        ];
        let base = Config::from_preset("kaggle").unwrap();
        for k in KNOBS {
            for raw in raws {
                let arg = format!("{}={raw}", k.path);
                let (mut typed, mut json) = (base.clone(), base.clone());
                let a = typed.set_field(&arg).map(|p| p.to_string());
                let b = json
                    .set_field_json(&arg, k.path, raw)
                    .map(|p| p.to_string());
                match (a, b) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(a, b);
                        assert_eq!(typed, json, "{arg}");
                    }
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{arg}"),
                    (a, b) => panic!("{arg}: typed {a:?} vs json {b:?}"),
                }
            }
        }
    }

    #[test]
    fn stepping_stays_valid_and_matches_set() {
        for cfg in configs() {
            for k in KNOBS {
                for steps in [-3, -1, 1, 2, 3] {
                    match (k.step)(&cfg, steps) {
                        Ok(next) => {
                            next.validate()
                                .unwrap_or_else(|e| panic!("{} {steps}: {e}", k.path));
                            assert_eq!(next.model.bottom_mlp.last(), Some(&next.model.dim));
                        }
                        Err(e) => assert!(!e.to_string().is_empty()),
                    }
                }
            }
        }
        // K below 0 is refused as `--set` refuses it, word for word.
        let mut cfg = Config::from_preset("tiny").unwrap();
        cfg.memrec.k = 1;
        let err = (knob(KnobId::K).step)(&cfg, -2).unwrap_err().to_string();
        let want = cfg
            .clone()
            .apply_set("memrec.k=-1")
            .unwrap_err()
            .to_string();
        assert_eq!(err, want);
        // Off the dim ladder's end.
        cfg.model.dim = 128;
        cfg.model.bottom_mlp = vec![64, 128];
        let err = (knob(KnobId::Dim).step)(&cfg, 1).unwrap_err().to_string();
        assert!(
            err.starts_with("model.dim = 128: the explorer steps"),
            "{err}"
        );
        // The dim keeps ROBE-Z's block a divisor.
        let mut robe = Config::from_preset("kaggle").unwrap();
        robe.memrec.method = Method::RobeZ;
        robe.memrec.robe_z = 16;
        let down = (knob(KnobId::Dim).step)(&robe, -1).unwrap();
        assert_eq!((down.model.dim, down.memrec.robe_z), (8, 8));
    }

    #[test]
    fn the_restart_rule_and_adoption_follow_the_knobs() {
        for cfg in configs() {
            assert!(same_compressed_run(&cfg, &cfg));
            // Outside the knobs: the same compressed run.
            let mut other = cfg.clone();
            other.seed += 1;
            other.eval.every_samples += 1;
            assert!(same_compressed_run(&cfg, &other));
            for k in KNOBS {
                let Ok(next) = (k.step)(&cfg, 1) else {
                    continue;
                };
                // As the sections were compared before the table (`same_memrec_run`).
                let old =
                    cfg.memrec == next.memrec && cfg.model == next.model && cfg.train == next.train;
                assert_eq!(same_compressed_run(&cfg, &next), old, "{}", k.path);
                if next != cfg {
                    // A step that moved the knob (Z at the dim cannot go up) restarts the run.
                    assert_eq!(!old, k.restarts_compressed, "{}", k.path);
                }
                // Adoption takes exactly the knobs (as `adopt_memrec` took the sections).
                let mut adopted = other.clone();
                adopt_knobs(&next, &mut adopted);
                let mut want = other.clone();
                want.memrec = next.memrec.clone();
                want.model = next.model.clone();
                want.train = next.train.clone();
                assert_eq!(adopted, want, "{}", k.path);
                assert!(same_compressed_run(&adopted, &next));
            }
        }
    }

    #[test]
    fn values_show_as_the_panel_showed_them() {
        let mut cfg = Config::from_preset("kaggle").unwrap();
        cfg.train.lr = 0.05;
        let shown = |id| (knob(id).get)(&cfg).to_string();
        assert_eq!(shown(KnobId::Lr), "0.05");
        assert_eq!(shown(KnobId::Method), "memrec");
        assert_eq!(shown(KnobId::Layout), cfg.memrec.layout.as_str());
        assert_eq!(shown(KnobId::Optimizer), cfg.train.optimizer.as_str());
        assert_eq!(shown(KnobId::TokenRows), cfg.memrec.token_rows.to_string());
        assert!(!knob(KnobId::Lr).affects_latency && knob(KnobId::K).affects_latency);
    }

    // The step rules as the explorer had them before the table (from `app::state`).

    fn tiny() -> Config {
        Config::from_preset("tiny").unwrap()
    }

    fn step(id: KnobId, cfg: &Config, steps: i32) -> Result<Config, String> {
        (knob(id).step)(cfg, steps).map_err(|e| e.to_string())
    }

    #[test]
    fn table_rows_step_in_powers_of_two_and_stop_at_the_bounds() {
        let cfg = tiny();
        let up = step(KnobId::TokenRows, &cfg, 1).unwrap();
        assert_eq!(up.memrec.token_rows, cfg.memrec.token_rows * 2);
        let down = step(KnobId::WeightRows, &cfg, -2).unwrap();
        assert_eq!(down.memrec.weight_rows, cfg.memrec.weight_rows / 4);
        let mut one = cfg.clone();
        one.memrec.token_rows = 1;
        let err = step(KnobId::TokenRows, &one, -1).unwrap_err();
        assert!(err.contains("memrec.token_rows"), "{err}");
    }

    #[test]
    fn k_and_kw_are_bounded_by_validation() {
        let mut cfg = tiny();
        cfg.memrec.k = 8;
        let err = step(KnobId::K, &cfg, 1).unwrap_err();
        assert!(err.contains("memrec.k") && err.contains("1 to 8"), "{err}");
        cfg.memrec.kw = 0;
        assert!(step(KnobId::Kw, &cfg, -1).is_err());
        assert_eq!(step(KnobId::Kw, &cfg, 1).unwrap().memrec.kw, 1);
    }

    #[test]
    fn dim_walks_the_ladder_and_keeps_the_bottom_mlp_consistent() {
        let cfg = tiny(); // dim 8
        let up = step(KnobId::Dim, &cfg, 1).unwrap();
        assert_eq!(up.model.dim, 16);
        assert_eq!(up.model.bottom_mlp.last(), Some(&16));
        let down = step(KnobId::Dim, &cfg, -1).unwrap();
        assert_eq!(down.model.dim, 4);
        assert!(step(KnobId::Dim, &down, -1).is_err());
        let mut off = cfg.clone();
        off.model.dim = 10;
        *off.model.bottom_mlp.last_mut().unwrap() = 10;
        assert_eq!(step(KnobId::Dim, &off, 1).unwrap().model.dim, 16);
        assert_eq!(step(KnobId::Dim, &off, -1).unwrap().model.dim, 8);
    }

    #[test]
    fn toggles_and_lr() {
        let cfg = tiny();
        let l = step(KnobId::Layout, &cfg, 1).unwrap();
        assert_eq!(l.memrec.layout, Layout::PerFeature);
        assert_eq!(
            step(KnobId::Layout, &l, -1).unwrap().memrec.layout,
            Layout::Bundled
        );
        let o = step(KnobId::Optimizer, &cfg, 1).unwrap();
        assert_eq!(o.train.optimizer, Optimizer::Sgd);
        let lr = step(KnobId::Lr, &cfg, 1).unwrap();
        assert!((lr.train.lr - 0.1).abs() < 1e-7);
        let lr = step(KnobId::Lr, &cfg, -2).unwrap();
        assert!((lr.train.lr - 0.005).abs() < 1e-7);
        assert_eq!(step(KnobId::Batch, &cfg, 1).unwrap().train.batch, 256);
    }

    #[test]
    fn a_value_pads_as_the_panel_pads_text() {
        let cfg = tiny();
        assert_eq!(
            format!("{:>9}|", (knob(KnobId::Batch).get)(&cfg)),
            format!("{:>9}|", cfg.train.batch)
        );
        assert_eq!(
            format!("{:>9}|", (knob(KnobId::Method).get)(&cfg)),
            format!("{:>9}|", cfg.memrec.method.as_str())
        );
    }
}
