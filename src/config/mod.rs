//! The session configuration: one `Config` fully defines what memrec-tui does (data, model,
//! the representations compared, training, evaluation, seed, threads).
//!
//! Owns: the serde/RON schema, the embedded presets, `--set path=value` overrides and validation.
//! Must never: touch the terminal, read data files, or guess a value the user did not give. Every
//! error names the field (or file:line:col), the bad value and what is allowed.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::synthetic::SyntheticParams;
use crate::data::{DataOptions, NUM_CAT};

/// Which Criteo release the data is shaped like (owned by data; named here for the schema).
pub use crate::data::Dataset;

pub mod knobs;
pub mod lesson;
mod set;
mod validate;

pub use set::field_paths;

/// Version of the configuration schema written by `export`.
pub const CONFIG_VERSION: u32 = 1;

/// Largest compressed table set a configuration may ask for (allocated up front, with optimizer
/// state beside it).
pub const MAX_TABLE_BYTES: u64 = 8 << 30;

/// Most distinct values a column can have: Criteo's categorical values are 32-bit ids.
pub const MAX_CARDINALITY: u64 = 1 << 32;

/// The presets compiled into the binary: (name, RON text).
pub const PRESETS: &[(&str, &str)] = &[
    ("kaggle", include_str!("../../presets/kaggle.ron")),
    ("terabyte", include_str!("../../presets/terabyte.ron")),
    ("tiny", include_str!("../../presets/tiny.ron")),
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
    /// A knob that cannot step further, said as the explorer says it.
    #[error("{0}")]
    Knob(String),
    #[error("cannot write the configuration: {0}")]
    Serialize(String),
}

impl ConfigError {
    pub(crate) fn invalid(
        field: &str,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            field: field.to_string(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
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
    /// Options of `sweep --slurm` (its flags override them). Never part of a sweep's hashes or
    /// plan: where a point runs does not change its result.
    #[serde(default, skip_serializing_if = "SlurmConfig::is_empty")]
    pub slurm: SlurmConfig,
}

/// The `slurm` block of a configuration: what `sweep --slurm` passes to sbatch when no flag says
/// otherwise (`--partition`, `--account`, `--time`, `--cpus-per-task`, `--mem`). Empty text or 0:
/// not set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SlurmConfig {
    pub partition: String,
    pub account: String,
    /// Time limit of every job, in Slurm's format (`90`, `4:00:00`, `1-12:00:00`).
    pub time: String,
    pub cpus_per_task: usize,
    /// Memory of every job (`2048M`, `4G`); default: computed from the configuration.
    pub mem: String,
}

impl SlurmConfig {
    pub fn is_empty(&self) -> bool {
        *self == SlurmConfig::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub dataset: Dataset,
    /// Distinct values per categorical column C1..C26 in the *full* dataset: the uncompressed
    /// side of every compression ratio, and the synthetic generator's vocabularies.
    pub cardinalities: Vec<u64>,
    /// Criteo TSV (plain or .gz) or glob (`day_*.gz`, matches in natural order) to train on;
    /// `None` = the embedded synthetic stream.
    pub train: Option<String>,
    /// More training files or globs, streamed after `train` in this order (`--data A B C` sets
    /// `train` to A and this to [B, C]).
    #[serde(default)]
    pub more_train: Vec<String>,
    /// Criteo TSV to test on; `None` = the last of several training files (as MLPerf tests on
    /// the last day), or the last `test_fraction` of the only one.
    pub test: Option<String>,
    /// Share of `train` held out as test rows when no `test` file is given and there is only one
    /// training file (the tail, as Criteo's day-based split does).
    pub test_fraction: f64,
    /// A training pass stops after this many good rows, the first ones (`--rows N`); 0 = all.
    #[serde(default)]
    pub max_rows: u64,
    /// Categorical values of files are taken modulo this after parsing their hex (MLPerf's
    /// Terabyte preprocessing: 40000000); 0 = off. The synthetic stream ignores it.
    #[serde(default)]
    pub mod_categories: u64,
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
/// subject of the tool; the others put it in context at the same memory budget (docs/method.md,
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

    /// Parameter bytes of the compressed run's tables (`memrec.method` and its knobs), by the
    /// formulas of docs/method.md; the representations report the same from their allocations.
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

    /// Whether the compressed run is a Bloom embedding: MEM-REC with kw = 0 (no weight table).
    pub fn is_bloom(&self) -> bool {
        self.memrec.method == Method::Memrec && self.memrec.kw == 0
    }

    /// The compressed run's name for screens and reports: `Bloom` for MEM-REC with kw = 0, else
    /// the method's label (`MEM-REC`, `hashing`, `QR`, `ROBE-Z`).
    pub fn compressed_label(&self) -> &'static str {
        if self.is_bloom() {
            "Bloom"
        } else {
            self.memrec.method.label()
        }
    }

    /// The compressed representation's kind as the engine reports it (`Representation::kind`):
    /// `memrec-bundled`, `bloom-per-feature`, `hashing`, `qr`, `robe-z`, ...
    pub fn compressed_kind(&self) -> &'static str {
        let per_feature = self.memrec.layout == Layout::PerFeature;
        match (self.memrec.method, self.is_bloom(), per_feature) {
            (Method::Memrec, true, false) => "bloom-bundled",
            (Method::Memrec, true, true) => "bloom-per-feature",
            (Method::Memrec, false, false) => "memrec-bundled",
            (Method::Memrec, false, true) => "memrec-per-feature",
            (Method::Hashing, ..) => "hashing",
            (Method::Qr, ..) => "qr",
            (Method::RobeZ, ..) => "robe-z",
        }
    }

    /// The compressed run's knobs in short form, e.g. `K=2 D=16384 kw=1 dw=1024` (MEM-REC),
    /// `K=2 D=16384` (Bloom: no weight table), `rows=4096/feature` (hashing), `c=4096` (QR),
    /// `S=262144 Z=16` (ROBE-Z).
    pub fn compressed_knobs(&self) -> String {
        let r = &self.memrec;
        match r.method {
            Method::Memrec if r.kw == 0 => format!("K={} D={}", r.k, r.token_rows),
            Method::Memrec => format!(
                "K={} D={} kw={} dw={}",
                r.k, r.token_rows, r.kw, r.weight_rows
            ),
            Method::Hashing => format!("rows={}/feature", r.hash_rows),
            Method::Qr => format!("c={}", r.qr_collisions),
            Method::RobeZ => format!("S={} Z={}", r.robe_size, r.robe_z),
        }
    }

    /// Bytes of the uncompressed f32 tables at the full dataset's cardinalities: `4 d sum_j V_j`,
    /// with the synthetic stream's vocabularies when it scales them down (the tables its full
    /// vocabulary would need, not the dataset it imitates: docs/method.md).
    pub fn full_uncompressed_bytes(&self) -> u64 {
        4 * self.model.dim as u64 * self.full_cardinalities().iter().sum::<u64>()
    }

    /// Bytes of the uncompressed f32 tables at the dataset's own cardinalities (Criteo Kaggle or
    /// Terabyte), even when the synthetic stream scales its vocabularies down: the table the
    /// latency gather reads, and the size lessons compare with this machine's caches.
    pub fn dataset_uncompressed_bytes(&self) -> u64 {
        4 * self.model.dim as u64 * self.data.cardinalities.iter().sum::<u64>()
    }

    /// The distinct values per column the data in use can hold: the preset's cardinalities, or
    /// the synthetic stream's scaled-down vocabularies.
    pub fn full_cardinalities(&self) -> Vec<u64> {
        let scale = self.data.synthetic.cardinality_scale;
        if self.data.train.is_none() && scale < 1.0 {
            crate::data::synthetic::scaled_cardinalities(&self.data.cardinalities, scale)
        } else {
            self.data.cardinalities.clone()
        }
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
        self.data_options().label()
    }

    /// What the data constructors need of this configuration.
    pub fn data_options(&self) -> DataOptions {
        let d = &self.data;
        DataOptions {
            seed: self.seed,
            dataset: d.dataset,
            cardinalities: d.cardinalities.clone(),
            train: d.train.iter().chain(&d.more_train).cloned().collect(),
            test: d.test.clone(),
            test_fraction: d.test_fraction,
            strict: d.strict,
            synthetic: d.synthetic.clone(),
            test_rows: self.eval.test_rows,
            max_rows: d.max_rows,
            // Validated to fit in 32 bits.
            mod_categories: u32::try_from(d.mod_categories).unwrap_or(0),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `tiny` scales its vocabularies down x0.001: its "full" uncompressed tables are those of
    /// the scaled vocabularies, not Kaggle's 1 GiB.
    #[test]
    fn full_size_follows_the_synthetic_streams_scaled_vocabularies() {
        let tiny = Config::from_preset("tiny").unwrap();
        let scaled = crate::data::synthetic::scaled_cardinalities(
            &tiny.data.cardinalities,
            tiny.data.synthetic.cardinality_scale,
        );
        assert_eq!(
            tiny.full_uncompressed_bytes(),
            4 * tiny.model.dim as u64 * scaled.iter().sum::<u64>()
        );
        assert!(tiny.full_uncompressed_bytes() < 4 << 20);
        // The dataset it imitates keeps Kaggle's sizes (the latency gather, the lessons' caches).
        let kaggle: u64 = tiny.data.cardinalities.iter().sum();
        assert_eq!(
            tiny.dataset_uncompressed_bytes(),
            4 * tiny.model.dim as u64 * kaggle
        );
        // Real files keep the preset's cardinalities.
        let mut file = tiny.clone();
        file.data.train = Some("train.txt".into());
        let all: u64 = file.data.cardinalities.iter().sum();
        assert_eq!(
            file.full_uncompressed_bytes(),
            4 * file.model.dim as u64 * all
        );
    }

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
    fn unknown_fields_are_rejected_by_name_with_position() {
        let text = PRESETS[0].1.replacen("seed:", "sead: 1,\n    seed:", 1);
        let err = Config::from_ron(&text, "x.ron").unwrap_err().to_string();
        assert!(err.starts_with("x.ron:") && err.contains("sead"), "{err}");
    }
}
