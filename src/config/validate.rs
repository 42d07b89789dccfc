//! Validation: every rule that ties fields together or bounds them, one section at a time, each
//! error naming the field, the bad value and what is allowed.
//!
//! Must never: change the configuration, or accept what the tool cannot hold (tables are
//! allocated up front).

use super::*;

impl Config {
    /// Check every rule, section by section in schema order; the first violation is returned
    /// with its field path.
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
        self.validate_data()?;
        self.validate_model()?;
        self.validate_methods()?;
        self.validate_table_sizes()?;
        self.validate_training()?;
        Ok(())
    }

    /// `data`: the column counts, the split, the files and the synthetic stream.
    fn validate_data(&self) -> Result<(), ConfigError> {
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
        if let Some(i) = d.more_train.iter().position(|s| s.trim().is_empty()) {
            return Err(ConfigError::invalid(
                &format!("data.more_train[{i}]"),
                "\"\"",
                "a file path or glob",
            ));
        }
        if !d.more_train.is_empty() && d.train.is_none() {
            return Err(ConfigError::invalid(
                "data.more_train",
                format!("{:?}", d.more_train),
                "more training files need a first one (data.train)",
            ));
        }
        if d.mod_categories > u32::MAX as u64 {
            return Err(ConfigError::invalid(
                "data.mod_categories",
                d.mod_categories,
                "0 (off) or a modulus up to 4294967295 (Criteo values are 32-bit; MLPerf uses 40000000)",
            ));
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
        Ok(())
    }

    /// `model`: the dim and the MLP shapes.
    fn validate_model(&self) -> Result<(), ConfigError> {
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
        Ok(())
    }

    /// `baseline` and `memrec`: each method's knobs in range (ROBE-Z's block divides the dim).
    fn validate_methods(&self) -> Result<(), ConfigError> {
        let m = &self.model;
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
        Ok(())
    }

    /// Table sizes: refuse what this tool cannot allocate up front.
    fn validate_table_sizes(&self) -> Result<(), ConfigError> {
        let (d, m, r) = (&self.data, &self.model, &self.memrec);
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
        Ok(())
    }

    /// `train`, `eval` and `bench`.
    fn validate_training(&self) -> Result<(), ConfigError> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
