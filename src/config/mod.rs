//! The session configuration: one `Config` fully defines what memrec-tui does (data, model,
//! the representations compared, training, evaluation, seed, threads).
//!
//! Owns: the serde/RON schema, the embedded presets, `--set path=value` overrides and validation.
//! Must never: touch the terminal, read data files, or guess a value the user did not give. Every
//! error names the field (or file:line:col), the bad value and what is allowed.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::NUM_CAT;
use crate::data::synthetic::SyntheticParams;

/// Version of the configuration schema written by `export`.
pub const CONFIG_VERSION: u32 = 1;

/// Largest compressed table set a configuration may ask for (allocated up front, with optimizer
/// state beside it).
pub const MAX_TABLE_BYTES: u64 = 8 << 30;

/// Most distinct values a column can have: Criteo's categorical values are 32-bit ids.
pub const MAX_CARDINALITY: u64 = 1 << 32;

/// The presets compiled into the binary: (name, RON text).
pub const PRESETS: &[(&str, &str)] = &[
    ("kaggle", include_str!("../presets/kaggle.ron")),
    ("terabyte", include_str!("../presets/terabyte.ron")),
    ("tiny", include_str!("../presets/tiny.ron")),
];

/// Names of the embedded presets, for help texts and error messages.
pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown preset `{name}`: expected one of {available} or a path to a .ron file")]
    UnknownPreset { name: String, available: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}:{line}:{col}: {msg}")]
    Parse {
        origin: String,
        line: usize,
        col: usize,
        msg: String,
    },
    #[error("--set {arg}: {msg}")]
    Set { arg: String, msg: String },
    #[error("config field `{field}` = {value}: {allowed}")]
    Invalid {
        field: String,
        value: String,
        allowed: String,
    },
    #[error("cannot write the configuration: {0}")]
    Serialize(String),
}

impl ConfigError {
    fn invalid(field: &str, value: impl fmt::Display, allowed: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.to_string(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

/// Which Criteo release the data (or the synthetic stream) is shaped like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    /// Criteo Display Advertising Challenge (Kaggle `train.txt`), 7 days, 45.8 M rows.
    Kaggle,
    /// Criteo 1TB click logs (`day_0` .. `day_23`), MLPerf hashing of ids mod 40 M.
    Terabyte,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Schema version; `export` writes the current one.
    pub version: u32,
    pub name: String,
    pub description: String,
    /// Seed of everything random: data generation, initialisation, hashing, sampling.
    pub seed: u64,
    /// Worker threads for training and the kernel; 0 = all cores of the machine.
    pub threads: usize,
    pub data: DataConfig,
    pub model: ModelConfig,
    pub baseline: BaselineConfig,
    pub memrec: MemrecConfig,
    pub train: TrainConfig,
    pub eval: EvalConfig,
    pub bench: BenchConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub dataset: Dataset,
    /// Distinct values per categorical column C1..C26 in the *full* dataset: the uncompressed
    /// side of every compression ratio, and the synthetic generator's vocabularies.
    pub cardinalities: Vec<u64>,
    /// Criteo TSV (plain or .gz) to train on; `None` = the embedded synthetic stream.
    pub train: Option<String>,
    /// Criteo TSV to test on; `None` = the last `test_fraction` of `train`.
    pub test: Option<String>,
    /// Share of `train` held out as test rows when no `test` file is given (the tail, as
    /// Criteo's day-based split does).
    pub test_fraction: f64,
    /// Stop at the first malformed line (exit 2) instead of skipping and counting it.
    pub strict: bool,
    /// The synthetic Criteo-shaped stream used when `train` is `None`.
    pub synthetic: SyntheticParams,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Embedding dimension d.
    pub dim: usize,
    /// Bottom MLP layer widths after the 13 dense inputs; the last must equal `dim` (a `--set
    /// model.dim` without `--set model.bottom_mlp` moves it along).
    pub bottom_mlp: Vec<usize>,
    /// Top MLP layer widths after the interaction; the last must be 1.
    pub top_mlp: Vec<usize>,
}

/// The reference representation that MEM-REC is compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineKind {
    /// One row per observed value and feature, plus one out-of-vocabulary row per feature.
    Uncompressed,
    /// Hashing trick: per-feature tables of `hash_rows` rows (fewer if the feature has fewer values).
    Hashing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineConfig {
    pub kind: BaselineKind,
    /// Rows per feature for `hashing`.
    pub hash_rows: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// The authors' variant: shared tables, one summed vector and one scalar weight per sample,
    /// concatenated with the bottom MLP output.
    Bundled,
    /// One vector and one weight per feature (shared tables, feature-salted hashes), so DLRM's dot
    /// interaction applies.
    PerFeature,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Bundled => "bundled",
            Layout::PerFeature => "per_feature",
        }
    }
}

/// The compressed representation trained beside the baseline (the `memrec` run). MEM-REC is the
/// subject of the tool; the others put it in context at the same memory budget (method.md,
/// "Baselines worth having beside MEM-REC"). Bloom is MEM-REC with `kw = 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// MEM-REC: token table (K hashes, rows summed) scaled by hashed weights; `layout`, `k`,
    /// `token_rows`, `kw`, `weight_rows`.
    #[default]
    Memrec,
    /// The hashing trick: per-feature tables of `hash_rows` rows (fewer if the feature has fewer
    /// values).
    Hashing,
    /// Quotient-remainder (Shi et al. 2020): per feature, `Wq[x div c] * Wr[x mod c]` element-wise
    /// with `c = qr_collisions`; features with at most `c` values keep a full table.
    Qr,
    /// ROBE-Z (Desai et al. 2022): one flat shared array of `robe_size` floats; each block of
    /// `robe_z` dimensions is read at a hashed offset.
    RobeZ,
}

impl Method {
    /// Every method, in the order the explorer's `method` knob steps through them.
    pub const ALL: [Method; 4] = [Method::Memrec, Method::Hashing, Method::Qr, Method::RobeZ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Memrec => "memrec",
            Method::Hashing => "hashing",
            Method::Qr => "qr",
            Method::RobeZ => "robe_z",
        }
    }
    /// Label for screens and reports.
    pub fn label(self) -> &'static str {
        match self {
            Method::Memrec => "MEM-REC",
            Method::Hashing => "hashing",
            Method::Qr => "QR",
            Method::RobeZ => "ROBE-Z",
        }
    }
}

fn default_hash_rows() -> usize {
    4096
}
fn default_qr_collisions() -> usize {
    4096
}
fn default_robe_size() -> usize {
    262_144
}
fn default_robe_z() -> usize {
    16
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemrecConfig {
    /// Which compressed representation the `memrec` run trains (default MEM-REC; configurations
    /// written before this field existed load as MEM-REC).
    #[serde(default)]
    pub method: Method,
    pub layout: Layout,
    /// K: token-table hashes per value (Bloom style; the K rows are summed).
    pub k: usize,
    /// D: rows of the token table (D x dim floats).
    pub token_rows: usize,
    /// kw: weight-table hashes per value; 0 = Bloom embedding (no weights).
    pub kw: usize,
    /// dw: rows of the weight table (dw x 1 floats).
    pub weight_rows: usize,
    /// `method: hashing`: rows per feature table (capped at the feature's cardinality).
    #[serde(default = "default_hash_rows")]
    pub hash_rows: usize,
    /// `method: qr`: c, the remainder table's rows per feature (the quotient table has
    /// ceil(V/c) rows).
    #[serde(default = "default_qr_collisions")]
    pub qr_collisions: usize,
    /// `method: robe_z`: floats in the shared array.
    #[serde(default = "default_robe_size")]
    pub robe_size: usize,
    /// `method: robe_z`: Z, dimensions per hashed block (divides `model.dim`).
    #[serde(default = "default_robe_z")]
    pub robe_z: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    /// Plain SGD, sparse for the embedding rows.
    Sgd,
    /// Adagrad for the MLPs, row-wise Adagrad (one accumulator per row) for embedding tables.
    Adagrad,
}

impl Optimizer {
    pub fn as_str(self) -> &'static str {
        match self {
            Optimizer::Sgd => "sgd",
            Optimizer::Adagrad => "adagrad",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub optimizer: Optimizer,
    pub lr: f32,
    /// Samples per optimizer step.
    pub batch: usize,
    /// Adagrad's epsilon (ignored by SGD).
    pub adagrad_eps: f32,
    /// A run whose training loss (running mean) exceeds this, or is not finite, is stopped as diverged.
    pub divergence_loss: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Evaluate on the test rows every this many training samples.
    pub every_samples: u64,
    /// Test rows (synthetic: generated from a separate stream; files: at most this many test rows
    /// are kept, 0 = all).
    pub test_rows: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchConfig {
    /// Samples per timed kernel call.
    pub batch: usize,
    /// Timed kernel calls (median and p99 are over these).
    pub batches: usize,
    /// Untimed calls first, to warm caches and the thread pool.
    pub warmup: usize,
}

impl Config {
    /// Load a preset by name (`kaggle`, `terabyte`, `tiny`) or by path to a `.ron` file.
    pub fn from_preset(name_or_path: &str) -> Result<Config, ConfigError> {
        if let Some((_, text)) = PRESETS.iter().find(|(n, _)| *n == name_or_path) {
            return Config::from_ron(text, &format!("preset {name_or_path}"));
        }
        let path = Path::new(name_or_path);
        if name_or_path.ends_with(".ron") || path.exists() {
            return Config::load(path);
        }
        Err(ConfigError::UnknownPreset {
            name: name_or_path.to_string(),
            available: preset_names().join(", "),
        })
    }

    /// Load and validate a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Config::from_ron(&text, &path.display().to_string())
    }

    /// Parse and validate RON text; `origin` names it in errors.
    pub fn from_ron(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let cfg: Config =
            ron::Options::default()
                .from_str(text)
                .map_err(|e: ron::error::SpannedError| ConfigError::Parse {
                    origin: origin.to_string(),
                    line: e.span.start.line,
                    col: e.span.start.col,
                    msg: e.code.to_string(),
                })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The configuration as pretty RON, loadable with `--config`.
    pub fn to_ron(&self) -> Result<String, ConfigError> {
        let pretty = ron::ser::PrettyConfig::new()
            .depth_limit(4)
            .struct_names(false)
            .compact_arrays(true);
        let body = ron::ser::to_string_pretty(self, pretty)
            .map_err(|e| ConfigError::Serialize(e.to_string()))?;
        Ok(format!(
            "// memrec-tui configuration (schema version {CONFIG_VERSION}); load with `memrec-tui --config FILE`.\n{body}\n"
        ))
    }

    /// Apply one `path=value` override, e.g. `memrec.k=4` or `data.train=day_0.gz`, then validate
    /// (as `apply_sets` with one override).
    pub fn apply_set(&mut self, arg: &str) -> Result<(), ConfigError> {
        self.apply_sets(&[arg])
    }

    /// Apply `path=value` overrides in order, then validate once: a rule that ties two fields
    /// together (the bottom MLP ends in `model.dim`) can only hold after both are set, whatever
    /// their order. The bottom MLP's last width follows `model.dim` (in DLRM it must equal it)
    /// unless `model.bottom_mlp` is among the overrides too; then a mismatch names both fields.
    /// On any error the configuration is left as it was.
    pub fn apply_sets<S: AsRef<str>>(&mut self, args: &[S]) -> Result<(), ConfigError> {
        let mut next = self.clone();
        let (mut dim_set, mut mlp_set) = (false, false);
        for arg in args {
            match next.set_field(arg.as_ref())? {
                "model.dim" => dim_set = true,
                "model.bottom_mlp" => mlp_set = true,
                _ => {}
            }
        }
        let m = &mut next.model;
        if dim_set && !mlp_set {
            if let Some(last) = m.bottom_mlp.last_mut() {
                *last = m.dim;
            }
        } else if dim_set && (1..=1024).contains(&m.dim) && m.bottom_mlp.last() != Some(&m.dim) {
            let mut fixed = m.bottom_mlp.clone();
            if let Some(last) = fixed.last_mut() {
                *last = m.dim;
            }
            return Err(ConfigError::invalid(
                "model.bottom_mlp",
                format!("{:?}", m.bottom_mlp),
                format!(
                    "its last width must equal model.dim, set to {} here; end it in {} (e.g. {fixed:?}) or leave model.bottom_mlp out to have it follow model.dim",
                    m.dim, m.dim
                ),
            ));
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Set one `path=value` without the cross-field rules (`apply_sets` checks them once all
    /// overrides are in); the path and the value's type are checked. Returns the field path.
    pub fn set_field<'a>(&mut self, arg: &'a str) -> Result<&'a str, ConfigError> {
        let set_err = |msg: String| ConfigError::Set {
            arg: arg.to_string(),
            msg,
        };
        let (path, raw) = arg
            .split_once('=')
            .ok_or_else(|| set_err("expected PATH=VALUE, e.g. memrec.k=4".into()))?;
        let path = path.trim();
        if path.is_empty() {
            return Err(set_err("empty field path".into()));
        }
        let mut root = serde_json::to_value(&*self).map_err(|e| set_err(e.to_string()))?;
        let mut slot = &mut root;
        let mut walked = String::new();
        for part in path.split('.') {
            let obj = slot.as_object_mut().ok_or_else(|| {
                set_err(format!("`{walked}` is a value, it has no field `{part}`"))
            })?;
            if !obj.contains_key(part) {
                let mut keys: Vec<&String> = obj.keys().collect();
                keys.sort();
                let keys: Vec<String> = keys
                    .iter()
                    .map(|k| {
                        if walked.is_empty() {
                            k.to_string()
                        } else {
                            format!("{walked}.{k}")
                        }
                    })
                    .collect();
                let here = if walked.is_empty() {
                    "the configuration".to_string()
                } else {
                    format!("`{walked}`")
                };
                return Err(set_err(format!(
                    "unknown field `{part}` in {here}; fields: {}",
                    keys.join(", ")
                )));
            }
            if !walked.is_empty() {
                walked.push('.');
            }
            walked.push_str(part);
            slot = obj.get_mut(part).expect("key checked above");
        }
        if slot.is_object() {
            return Err(set_err(format!(
                "`{path}` is a section; set one of its fields, e.g. {path}.{}",
                slot.as_object()
                    .and_then(|o| o.keys().next().cloned())
                    .unwrap_or_default()
            )));
        }
        *slot = parse_set_value(raw.trim(), slot);
        *self = serde_json::from_value(root)
            .map_err(|e| set_err(format!("`{path}` cannot be `{}`: {e}", raw.trim())))?;
        Ok(path)
    }

    /// Check every cross-field rule; the first violation is returned with its field path.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.version != CONFIG_VERSION {
            return Err(ConfigError::invalid(
                "version",
                self.version,
                format!("this memrec-tui reads schema version {CONFIG_VERSION}"),
            ));
        }
        if self.threads > 1024 {
            return Err(ConfigError::invalid(
                "threads",
                self.threads,
                "0 (all cores) to 1024",
            ));
        }
        let d = &self.data;
        if d.cardinalities.len() != NUM_CAT {
            return Err(ConfigError::invalid(
                "data.cardinalities",
                format!("{} values", d.cardinalities.len()),
                format!("exactly {NUM_CAT} values, C1..C26"),
            ));
        }
        // Criteo values are 32-bit ids, so no column has more than 2^32 distinct values; within
        // that bound the u64 byte counts below cannot overflow (a column of 2^62 overflowed them).
        if let Some(i) = d
            .cardinalities
            .iter()
            .position(|&c| !(1..=MAX_CARDINALITY).contains(&c))
        {
            return Err(ConfigError::invalid(
                &format!("data.cardinalities[{i}]"),
                d.cardinalities[i],
                "1 to 2^32 distinct values per column (Criteo values are 32-bit)",
            ));
        }
        if !(d.test_fraction > 0.0 && d.test_fraction < 1.0) {
            return Err(ConfigError::invalid(
                "data.test_fraction",
                d.test_fraction,
                "a fraction strictly between 0 and 1",
            ));
        }
        for (field, p) in [("data.train", &d.train), ("data.test", &d.test)] {
            if p.as_deref().is_some_and(|s| s.trim().is_empty()) {
                return Err(ConfigError::invalid(
                    field,
                    "\"\"",
                    "a file path, or None for the synthetic stream",
                ));
            }
        }
        if d.test.is_some() && d.train.is_none() {
            return Err(ConfigError::invalid(
                "data.test",
                d.test.as_deref().unwrap_or_default(),
                "a test file needs a training file (data.train); the synthetic stream makes its own test rows",
            ));
        }
        d.synthetic.validate().map_err(|(field, value, allowed)| {
            ConfigError::invalid(&format!("data.synthetic.{field}"), value, allowed)
        })?;

        let m = &self.model;
        if !(1..=1024).contains(&m.dim) {
            return Err(ConfigError::invalid("model.dim", m.dim, "1 to 1024"));
        }
        if m.bottom_mlp.is_empty() || m.bottom_mlp.last() != Some(&m.dim) {
            return Err(ConfigError::invalid(
                "model.bottom_mlp",
                format!("{:?}", m.bottom_mlp),
                format!(
                    "layer widths whose last equals model.dim ({}), e.g. [512, 256, 64, {}]",
                    m.dim, m.dim
                ),
            ));
        }
        if m.top_mlp.is_empty() || m.top_mlp.last() != Some(&1) {
            return Err(ConfigError::invalid(
                "model.top_mlp",
                format!("{:?}", m.top_mlp),
                "layer widths ending in 1, e.g. [512, 256, 1]",
            ));
        }
        for (name, layers) in [
            ("model.bottom_mlp", &m.bottom_mlp),
            ("model.top_mlp", &m.top_mlp),
        ] {
            if let Some(i) = layers.iter().position(|&w| w == 0 || w > 16384) {
                return Err(ConfigError::invalid(
                    &format!("{name}[{i}]"),
                    layers[i],
                    "a layer width from 1 to 16384",
                ));
            }
        }

        if self.baseline.kind == BaselineKind::Hashing
            && !(1..=1 << 31).contains(&self.baseline.hash_rows)
        {
            return Err(ConfigError::invalid(
                "baseline.hash_rows",
                self.baseline.hash_rows,
                "1 to 2^31 rows per feature",
            ));
        }

        let r = &self.memrec;
        if !(1..=8).contains(&r.k) {
            return Err(ConfigError::invalid("memrec.k", r.k, "1 to 8 token hashes"));
        }
        if r.kw > 8 {
            return Err(ConfigError::invalid(
                "memrec.kw",
                r.kw,
                "0 (Bloom, no weights) to 8 weight hashes",
            ));
        }
        if !(1..=1 << 31).contains(&r.token_rows) {
            return Err(ConfigError::invalid(
                "memrec.token_rows",
                r.token_rows,
                "1 to 2^31 rows",
            ));
        }
        if !(1..=1 << 31).contains(&r.weight_rows) {
            return Err(ConfigError::invalid(
                "memrec.weight_rows",
                r.weight_rows,
                "1 to 2^31 rows",
            ));
        }

        if !(1..=1 << 31).contains(&r.hash_rows) {
            return Err(ConfigError::invalid(
                "memrec.hash_rows",
                r.hash_rows,
                "1 to 2^31 rows per feature",
            ));
        }
        if !(2..=1 << 31).contains(&r.qr_collisions) {
            return Err(ConfigError::invalid(
                "memrec.qr_collisions",
                r.qr_collisions,
                "2 to 2^31 remainder rows per feature",
            ));
        }
        // Z must divide the dim only while ROBE-Z is the method: a dim change for another method
        // is not refused over a dormant knob.
        let z_fits =
            r.method != Method::RobeZ || (r.robe_z <= m.dim && m.dim.is_multiple_of(r.robe_z));
        if !(1..=1024).contains(&r.robe_z) || !z_fits {
            return Err(ConfigError::invalid(
                "memrec.robe_z",
                r.robe_z,
                format!(
                    "a block size that divides model.dim ({}), e.g. 1, {} or {}",
                    m.dim,
                    m.dim / 2,
                    m.dim
                ),
            ));
        }
        if !(r.robe_z..=1 << 31).contains(&r.robe_size) {
            return Err(ConfigError::invalid(
                "memrec.robe_size",
                r.robe_size,
                format!("memrec.robe_z ({}) to 2^31 floats", r.robe_z),
            ));
        }

        // Tables are allocated up front: refuse sizes this tool cannot hold rather than abort.
        let compressed_bytes = self.compressed_param_bytes();
        if compressed_bytes > MAX_TABLE_BYTES {
            let field = match r.method {
                Method::Memrec => "memrec.token_rows",
                Method::Hashing => "memrec.hash_rows",
                Method::Qr => "memrec.qr_collisions",
                Method::RobeZ => "memrec.robe_size",
            };
            let value = serde_json::to_value(r)
                .ok()
                .and_then(|v| v.get(field.trim_start_matches("memrec.")).cloned())
                .map_or_else(String::new, |v| v.to_string());
            return Err(ConfigError::invalid(
                field,
                value,
                format!(
                    "{} tables of {:.1} GiB at model.dim {}; at most {} GiB",
                    r.method.label(),
                    compressed_bytes as f64 / (1u64 << 30) as f64,
                    m.dim,
                    MAX_TABLE_BYTES >> 30
                ),
            ));
        }
        if self.baseline.kind == BaselineKind::Hashing {
            let total = hashing_bytes(&d.cardinalities, self.baseline.hash_rows, m.dim);
            if total > MAX_TABLE_BYTES {
                return Err(ConfigError::invalid(
                    "baseline.hash_rows",
                    self.baseline.hash_rows,
                    format!(
                        "hashing tables of {:.1} GiB; at most {} GiB",
                        total as f64 / (1u64 << 30) as f64,
                        MAX_TABLE_BYTES >> 30
                    ),
                ));
            }
        }

        let t = &self.train;
        if !(t.lr.is_finite() && t.lr > 0.0 && t.lr <= 100.0) {
            return Err(ConfigError::invalid(
                "train.lr",
                t.lr,
                "a learning rate in (0, 100]",
            ));
        }
        if !(1..=65536).contains(&t.batch) {
            return Err(ConfigError::invalid(
                "train.batch",
                t.batch,
                "1 to 65536 samples",
            ));
        }
        if !(t.adagrad_eps.is_finite() && t.adagrad_eps > 0.0) {
            return Err(ConfigError::invalid(
                "train.adagrad_eps",
                t.adagrad_eps,
                "a positive number, e.g. 1e-8",
            ));
        }
        if !(t.divergence_loss.is_finite() && t.divergence_loss > 0.0) {
            return Err(ConfigError::invalid(
                "train.divergence_loss",
                t.divergence_loss,
                "a positive loss, e.g. 10.0",
            ));
        }
        if self.eval.every_samples == 0 {
            return Err(ConfigError::invalid(
                "eval.every_samples",
                0,
                "at least 1 sample between evaluations",
            ));
        }
        if self.data.train.is_none() && self.eval.test_rows < 2 {
            return Err(ConfigError::invalid(
                "eval.test_rows",
                self.eval.test_rows,
                "at least 2 synthetic test rows (an AUC needs both classes)",
            ));
        }
        let b = &self.bench;
        if !(1..=1 << 20).contains(&b.batch) {
            return Err(ConfigError::invalid(
                "bench.batch",
                b.batch,
                "1 to 1048576 samples",
            ));
        }
        if !(1..=1_000_000).contains(&b.batches) {
            return Err(ConfigError::invalid(
                "bench.batches",
                b.batches,
                "1 to 1000000 timed calls",
            ));
        }
        if b.warmup > 1_000_000 {
            return Err(ConfigError::invalid(
                "bench.warmup",
                b.warmup,
                "0 to 1000000 calls",
            ));
        }
        Ok(())
    }

    /// Parameter bytes of the compressed run's tables (`memrec.method` and its knobs), by the
    /// formulas of method.md; the representations report the same from their allocations.
    pub fn compressed_param_bytes(&self) -> u64 {
        let r = &self.memrec;
        let dim = self.model.dim as u64;
        match r.method {
            Method::Memrec => 4 * (r.token_rows as u64 * dim + r.weight_rows as u64),
            Method::Hashing => hashing_bytes(&self.data.cardinalities, r.hash_rows, self.model.dim),
            Method::Qr => {
                let c = r.qr_collisions as u64;
                let rows: u64 = self
                    .data
                    .cardinalities
                    .iter()
                    .map(|&v| qr_rows(v, c).iter().sum::<u64>())
                    .sum();
                4 * dim * rows
            }
            Method::RobeZ => 4 * r.robe_size as u64,
        }
    }

    /// The compressed run's knobs in short form, e.g. `K=2 D=16384 kw=1 dw=1024` (MEM-REC),
    /// `rows=4096/feature` (hashing), `c=4096` (QR), `S=262144 Z=16` (ROBE-Z).
    pub fn compressed_knobs(&self) -> String {
        let r = &self.memrec;
        match r.method {
            Method::Memrec => format!(
                "K={} D={} kw={} dw={}",
                r.k, r.token_rows, r.kw, r.weight_rows
            ),
            Method::Hashing => format!("rows={}/feature", r.hash_rows),
            Method::Qr => format!("c={}", r.qr_collisions),
            Method::RobeZ => format!("S={} Z={}", r.robe_size, r.robe_z),
        }
    }

    /// Bytes of the uncompressed f32 tables at the full dataset's cardinalities: `4 d sum_j V_j`.
    pub fn full_uncompressed_bytes(&self) -> u64 {
        4 * self.model.dim as u64 * self.data.cardinalities.iter().sum::<u64>()
    }

    /// Threads to use: `threads`, or all cores when it is 0.
    pub fn effective_threads(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }

    /// Human description of the data in use; synthetic data is never presented as Criteo.
    pub fn data_label(&self) -> String {
        match (&self.data.train, &self.data.test) {
            (None, _) => format!(
                "synthetic Criteo-{}-shaped stream (seed {})",
                match self.data.dataset {
                    Dataset::Kaggle => "Kaggle",
                    Dataset::Terabyte => "Terabyte",
                },
                self.seed
            ),
            (Some(train), None) => format!(
                "Criteo file {} (last {:.0}% as test)",
                file_name(train),
                self.data.test_fraction * 100.0
            ),
            (Some(train), Some(test)) => {
                format!(
                    "Criteo files {} / test {}",
                    file_name(train),
                    file_name(test)
                )
            }
        }
    }
}

/// Bytes of hashing-trick tables of `rows` rows per feature, capped at each cardinality.
fn hashing_bytes(cardinalities: &[u64], rows: usize, dim: usize) -> u64 {
    cardinalities
        .iter()
        .map(|&v| 4 * dim as u64 * v.min(rows as u64).max(1))
        .sum()
}

/// QR table rows of a feature with `v` values and `c` remainder rows: `[quotient, remainder]`, or
/// `[v, 0]` when `v <= c` (a full table is smaller than the two QR tables then).
pub fn qr_rows(v: u64, c: u64) -> [u64; 2] {
    let v = v.max(1);
    if v <= c { [v, 0] } else { [v.div_ceil(c), c] }
}

fn file_name(p: &str) -> String {
    PathBuf::from(p)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.to_string())
}

/// Every settable field path of the configuration (`memrec.k`, `data.synthetic.zipf_exponent`, ...),
/// sorted by path, with the allowed words for the enumerations. Generated from the schema itself so
/// `--help` cannot drift from it.
pub fn field_paths() -> Vec<String> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, child) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&path, child, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    const CHOICES: &[(&str, &str)] = &[
        ("data.dataset", "kaggle|terabyte"),
        ("baseline.kind", "uncompressed|hashing"),
        ("memrec.layout", "bundled|per_feature"),
        ("memrec.method", "memrec|hashing|qr|robe_z"),
        ("train.optimizer", "sgd|adagrad"),
    ];
    let (_, text) = PRESETS[0];
    let mut out = Vec::new();
    if let Ok(cfg) = ron::from_str::<Config>(text)
        && let Ok(v) = serde_json::to_value(&cfg)
    {
        walk("", &v, &mut out);
    }
    out.into_iter()
        .map(|p| match CHOICES.iter().find(|(k, _)| *k == p) {
            Some((_, c)) => format!("{p} ({c})"),
            None => p,
        })
        .collect()
}

/// Interpret the text of `--set` guided by the type of the value it replaces, so `name=123`
/// stays a string while `memrec.k=4` becomes a number.
fn parse_set_value(raw: &str, current: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    if matches!(raw, "None" | "none" | "null") {
        return Value::Null;
    }
    let unquoted = raw
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(raw);
    match current {
        Value::String(_) | Value::Null => {
            // Option<String> fields are null when unset; `Some(x)` is accepted too.
            let inner = unquoted
                .strip_prefix("Some(")
                .and_then(|s| s.strip_suffix(')'))
                .map(|s| s.trim_matches('"'))
                .unwrap_or(unquoted);
            match current {
                Value::Null if raw.parse::<f64>().is_ok() => {
                    serde_json::from_str(raw).unwrap_or(Value::String(inner.into()))
                }
                _ => Value::String(inner.to_string()),
            }
        }
        _ => {
            let json_like = raw.replace(['(', ')'], "");
            serde_json::from_str(&json_like).unwrap_or_else(|_| Value::String(unquoted.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_loads_and_round_trips() {
        for (name, _) in PRESETS {
            let cfg = Config::from_preset(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            let text = cfg.to_ron().unwrap();
            let back =
                Config::from_ron(&text, "export").unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
            assert_eq!(cfg, back, "{name} does not round-trip");
        }
    }

    #[test]
    fn set_changes_fields_and_names_bad_ones() {
        let mut cfg = Config::from_preset("tiny").unwrap();
        cfg.apply_set("memrec.k=4").unwrap();
        assert_eq!(cfg.memrec.k, 4);
        cfg.apply_set("memrec.layout=per_feature").unwrap();
        assert_eq!(cfg.memrec.layout, Layout::PerFeature);
        cfg.apply_set("train.optimizer=adagrad").unwrap();
        assert_eq!(cfg.train.optimizer, Optimizer::Adagrad);
        cfg.apply_set("train.lr=0.05").unwrap();
        assert_eq!(cfg.train.lr, 0.05);
        cfg.apply_set("data.train=/tmp/x.txt").unwrap();
        assert_eq!(cfg.data.train.as_deref(), Some("/tmp/x.txt"));
        cfg.apply_set("data.train=None").unwrap();
        assert_eq!(cfg.data.train, None);
        cfg.apply_set("name=123").unwrap();
        assert_eq!(cfg.name, "123");

        let err = cfg.apply_set("memrec.kk=4").unwrap_err().to_string();
        assert!(
            err.contains("unknown field `kk`") && err.contains("memrec.k"),
            "{err}"
        );
        let err = cfg.apply_set("memrec.k=0").unwrap_err().to_string();
        assert!(err.contains("memrec.k") && err.contains("1 to 8"), "{err}");
        let err = cfg
            .apply_set("memrec.layout=diagonal")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("memrec.layout") && err.contains("bundled"),
            "{err}"
        );
        let err = cfg.apply_set("memrec.k=two").unwrap_err().to_string();
        assert!(err.contains("memrec.k"), "{err}");
        let err = cfg
            .apply_set("memrec.token_rows=2147483648")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("memrec.token_rows") && err.contains("GiB"),
            "{err}"
        );
        let err = cfg.apply_set("memrec=3").unwrap_err().to_string();
        assert!(err.contains("section"), "{err}");
        let err = cfg.apply_set("seed").unwrap_err().to_string();
        assert!(err.contains("PATH=VALUE"), "{err}");
        // A failed --set leaves the configuration as it was.
        assert_eq!(cfg.memrec.k, 4);
    }

    #[test]
    fn unknown_fields_are_rejected_by_name_with_position() {
        let text = PRESETS[0].1.replacen("seed:", "sead: 1,\n    seed:", 1);
        let err = Config::from_ron(&text, "x.ron").unwrap_err().to_string();
        assert!(err.starts_with("x.ron:") && err.contains("sead"), "{err}");
    }

    #[test]
    fn every_field_path_is_settable_to_its_own_value() {
        let paths = field_paths();
        assert!(paths.len() > 30, "{paths:?}");
        assert!(
            paths
                .iter()
                .any(|p| p == "memrec.layout (bundled|per_feature)")
        );
        let base = Config::from_preset("kaggle").unwrap();
        let json = serde_json::to_value(&base).unwrap();
        for p in paths {
            let path = p.split(' ').next().unwrap();
            let mut v = &json;
            for part in path.split('.') {
                v = &v[part];
            }
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let mut cfg = base.clone();
            cfg.apply_set(&format!("{path}={text}"))
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(cfg, base, "{path}={text} changed the configuration");
        }
    }

    #[test]
    fn method_knobs_are_checked_and_old_files_load_as_memrec() {
        let mut cfg = Config::from_preset("kaggle").unwrap();
        cfg.apply_set("memrec.method=robe_z").unwrap();
        let err = cfg.apply_set("memrec.robe_z=3").unwrap_err().to_string();
        assert!(
            err.contains("memrec.robe_z") && err.contains("divides"),
            "{err}"
        );
        let err = cfg.apply_set("memrec.robe_size=4").unwrap_err().to_string();
        assert!(err.contains("memrec.robe_size"), "{err}");
        let err = cfg
            .apply_set("memrec.qr_collisions=1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("memrec.qr_collisions"), "{err}");
        let err = cfg
            .apply_set("memrec.method=tt_rec")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("memrec.method") && err.contains("robe_z"),
            "{err}"
        );
        // A dormant knob does not block a dim change for another method.
        cfg.apply_set("memrec.method=memrec").unwrap();
        cfg.apply_set("memrec.robe_z=16").unwrap();
        cfg.model.dim = 8;
        cfg.model.bottom_mlp = vec![64, 8];
        cfg.validate().unwrap();
        cfg.memrec.method = Method::RobeZ;
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("memrec.robe_z")
        );
        // QR at c = 2 on kaggle needs 17 M rows: allowed (1 GiB); sizes past 8 GiB are refused.
        let mut big = Config::from_preset("terabyte").unwrap();
        let err = big
            .apply_set("memrec.method=qr")
            .and_then(|_| big.apply_set("memrec.qr_collisions=2"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("memrec.qr_collisions") && err.contains("GiB"),
            "{err}"
        );

        // A file written before `method` and its knobs existed.
        let mut text = PRESETS[0].1.to_string();
        for field in [
            "method",
            "hash_rows",
            "qr_collisions",
            "robe_size",
            "robe_z",
        ] {
            let start = text.rfind(&format!("        {field}: ")).unwrap();
            let end = start + text[start..].find('\n').unwrap() + 1;
            text.replace_range(start..end, "");
        }
        let old = Config::from_ron(&text, "old.ron").unwrap();
        assert_eq!(old.memrec.method, Method::Memrec);
        assert_eq!(old.memrec.k, 2);

        // A file written before the synthetic stream's `head_share` existed: pure Zipf columns.
        let mut text = PRESETS[0].1.to_string();
        let start = text.find("            head_share: [").unwrap();
        let end =
            start + text[start..].find("\n            ],\n").unwrap() + "\n            ],\n".len();
        text.replace_range(start..end, "");
        let old = Config::from_ron(&text, "old.ron").unwrap();
        assert!(old.data.synthetic.head_share.is_empty());
        let s = old.data.synthetic.zipf_exponent[21];
        let pure = 1.0 / (1..=18).map(|r| (r as f64).powf(-s)).sum::<f64>();
        assert!((old.data.synthetic.column_law(21, 18).pmf(1) - pure).abs() < 1e-6);

        // A bad head is named.
        let mut bad = Config::from_preset("kaggle").unwrap();
        bad.data.synthetic.head_share[3] = vec![0.7, 0.6];
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("head_share[3]"), "{err}");
    }

    #[test]
    fn mlp_shapes_are_checked() {
        let mut cfg = Config::from_preset("kaggle").unwrap();
        let err = cfg
            .apply_set("model.bottom_mlp=[512,256,64,8]")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("model.bottom_mlp") && err.contains("model.dim (16)"),
            "{err}"
        );
        let err = cfg
            .apply_set("model.top_mlp=[512,2]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("model.top_mlp"), "{err}");
        assert_eq!(cfg.full_uncompressed_bytes(), 2_160_804_928);
    }

    #[test]
    fn the_bottom_mlp_follows_the_dim_unless_set_too() {
        let kaggle = Config::from_preset("kaggle").unwrap();
        // Alone, and in either order with other overrides: the last bottom width follows.
        for sets in [
            vec!["model.dim=32"],
            vec!["model.dim=32", "memrec.k=4"],
            vec!["memrec.k=4", "model.dim=32"],
        ] {
            let mut cfg = kaggle.clone();
            cfg.apply_sets(&sets)
                .unwrap_or_else(|e| panic!("{sets:?}: {e}"));
            assert_eq!(cfg.model.dim, 32, "{sets:?}");
            assert_eq!(cfg.model.bottom_mlp, [512, 256, 64, 32], "{sets:?}");
        }
        // Both set and agreeing, in either order.
        for sets in [
            ["model.dim=32", "model.bottom_mlp=[128,32]"],
            ["model.bottom_mlp=[128,32]", "model.dim=32"],
        ] {
            let mut cfg = kaggle.clone();
            cfg.apply_sets(&sets)
                .unwrap_or_else(|e| panic!("{sets:?}: {e}"));
            assert_eq!(cfg.model.bottom_mlp, [128, 32], "{sets:?}");
        }
        // Both set and disagreeing, in either order: refused, naming both, nothing changed.
        for sets in [
            ["model.dim=32", "model.bottom_mlp=[512,256,64,16]"],
            ["model.bottom_mlp=[512,256,64,16]", "model.dim=32"],
        ] {
            let mut cfg = kaggle.clone();
            let err = cfg.apply_sets(&sets).unwrap_err().to_string();
            assert!(
                err.contains("model.bottom_mlp")
                    && err.contains("model.dim")
                    && err.contains("[512, 256, 64, 32]"),
                "{sets:?}: {err}"
            );
            assert_eq!(cfg, kaggle, "{sets:?}");
        }
        // An out-of-range dim is named as such, not as a bottom MLP problem.
        let err = kaggle
            .clone()
            .apply_set("model.dim=0")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`model.dim`") && err.contains("1 to 1024"),
            "{err}"
        );
    }
}
