//! `--set PATH=VALUE` overrides: a field path walked through the schema, the value read by the
//! type of the field it replaces, the cross-field rule of `model.dim` and `model.bottom_mlp`, then
//! one validation. Also the list of every settable path, generated from the schema.
//!
//! Must never: leave a configuration half-changed when an override is refused.

use super::{Config, ConfigError, PRESETS};

impl Config {
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
        // A knob's value is read by its type and written by its own setter: no detour through
        // the whole configuration as JSON.
        if let Some(knob) = super::knobs::knob_at(path) {
            let raw = raw.trim();
            let value = parse_set_value(raw, &knob.kind.placeholder());
            let value = knob.kind.read(value).map_err(|e| ConfigError::Set {
                arg: arg.to_string(),
                msg: format!("`{path}` cannot be `{raw}`: {e}"),
            })?;
            (knob.put)(self, value)?;
            return Ok(path);
        }
        self.set_field_json(arg, path, raw)
    }

    /// `set_field` for any field: the configuration as JSON, the path walked, the value read by
    /// the type of the one it replaces, the whole read back.
    pub(super) fn set_field_json<'a>(
        &mut self,
        arg: &str,
        path: &'a str,
        raw: &str,
    ) -> Result<&'a str, ConfigError> {
        let set_err = |msg: String| ConfigError::Set {
            arg: arg.to_string(),
            msg,
        };
        let mut root = serde_json::to_value(&*self).map_err(|e| set_err(e.to_string()))?;
        // An empty slurm block is left out of what is written; its fields can still be set.
        if let (Some(o), Ok(s)) = (root.as_object_mut(), serde_json::to_value(&self.slurm)) {
            o.entry("slurm").or_insert(s);
        }
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
    use crate::config::{Layout, Optimizer};

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
