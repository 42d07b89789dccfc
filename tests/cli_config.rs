//! The configuration surface of the binary: export, --config, --set, presets by name and path,
//! and exit code 2 for every bad configuration, with the field named.

use assert_cmd::Command;
use memrec_tui::config::{Config, preset_names};
use predicates::prelude::*;
use predicates::str::contains;

fn bin() -> Command {
    Command::cargo_bin("memrec-tui").expect("binary built")
}

#[test]
fn export_reload_export_is_identical_on_every_preset() {
    let dir = tempfile::tempdir().unwrap();
    for name in preset_names() {
        let first = dir.path().join(format!("{name}.ron"));
        let second = dir.path().join(format!("{name}-again.ron"));
        bin()
            .args(["export", "--preset", name, "-o"])
            .arg(&first)
            .assert()
            .success();
        bin()
            .arg("export")
            .arg("--config")
            .arg(&first)
            .arg("-o")
            .arg(&second)
            .assert()
            .success();
        // The configuration, without the provenance comments (the command lines differ).
        let body = |f: &std::path::Path| -> String {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with("// provenance."))
                .map(|l| format!("{l}\n"))
                .collect()
        };
        let (a, b) = (body(&first), body(&second));
        assert_eq!(
            a, b,
            "{name}: export -> --config -> export changed the file"
        );
        assert_eq!(
            Config::load(&first).unwrap(),
            Config::from_preset(name).unwrap(),
            "{name}: exported file differs from the preset"
        );
    }
}

#[test]
fn set_overrides_land_in_the_export() {
    let out = bin()
        .args(["export", "--preset", "kaggle", "-o", "-"])
        .args(["--set", "memrec.k=4", "--set", "memrec.token_rows=65536"])
        .args([
            "--set",
            "memrec.layout=per_feature",
            "--set",
            "train.optimizer=adagrad",
        ])
        .args([
            "--set",
            "seed=9",
            "--set",
            "threads=1",
            "--set",
            "train.batch=256",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = Config::from_ron(&String::from_utf8(out.stdout).unwrap(), "stdout").unwrap();
    assert_eq!(cfg.memrec.k, 4);
    assert_eq!(cfg.memrec.token_rows, 65536);
    assert_eq!(cfg.memrec.layout, memrec_tui::config::Layout::PerFeature);
    assert_eq!(cfg.train.optimizer, memrec_tui::config::Optimizer::Adagrad);
    assert_eq!((cfg.seed, cfg.threads, cfg.train.batch), (9, 1, 256));
}

#[test]
fn set_model_dim_moves_the_bottom_mlp_in_any_order() {
    for sets in [
        ["model.dim=32", "memrec.k=4"],
        ["memrec.k=4", "model.dim=32"],
    ] {
        let out = bin()
            .args(["export", "--preset", "kaggle", "-o", "-"])
            .args(["--set", sets[0], "--set", sets[1]])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{sets:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cfg = Config::from_ron(&String::from_utf8(out.stdout).unwrap(), "stdout").unwrap();
        assert_eq!(cfg.model.dim, 32, "{sets:?}");
        assert_eq!(cfg.model.bottom_mlp, [512, 256, 64, 32], "{sets:?}");
        assert_eq!(cfg.memrec.k, 4, "{sets:?}");
    }
    // The bottom MLP set explicitly and disagreeing with the dim: refused, both fields named.
    for sets in [
        ["model.dim=32", "model.bottom_mlp=[512,256,64,16]"],
        ["model.bottom_mlp=[512,256,64,16]", "model.dim=32"],
    ] {
        bin()
            .args(["export", "--preset", "kaggle", "-o", "-"])
            .args(["--set", sets[0], "--set", sets[1]])
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(contains("model.bottom_mlp").and(contains("model.dim")));
    }
}

#[test]
fn preset_by_path_works() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/presets/tiny.ron");
    bin()
        .args(["export", "--preset", path, "-o", "-"])
        .assert()
        .success()
        .stdout(contains("name: \"tiny\""));
}

#[test]
fn bad_configuration_exits_2_and_names_the_field() {
    bin()
        .args([
            "export",
            "--preset",
            "kaggle",
            "-o",
            "-",
            "--set",
            "memrec.k=0",
        ])
        .assert()
        .code(2)
        .stderr(contains("memrec.k").and(contains("1 to 8")));
    bin()
        .args([
            "export",
            "--preset",
            "kaggle",
            "-o",
            "-",
            "--set",
            "memrec.bogus=1",
        ])
        .assert()
        .code(2)
        .stderr(contains("unknown field `bogus`"));
    bin()
        .args(["export", "--preset", "nope", "-o", "-"])
        .assert()
        .code(2)
        .stderr(contains("unknown preset `nope`").and(contains("kaggle")));
    bin()
        .args(["export", "--config", "/nonexistent/x.ron", "-o", "-"])
        .assert()
        .code(2)
        .stderr(contains("/nonexistent/x.ron"));
    bin().args(["--bogus-flag"]).assert().code(2);
}

#[test]
fn broken_config_file_reports_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.ron");
    let text = Config::from_preset("tiny").unwrap().to_ron().unwrap();
    std::fs::write(&path, text.replace("k: 2,", "k: two,")).unwrap();
    bin()
        .arg("export")
        .arg("--config")
        .arg(&path)
        .args(["-o", "-"])
        .assert()
        .code(2)
        .stderr(contains("broken.ron:"));
}

#[test]
fn export_never_overwrites_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.ron");
    std::fs::write(&path, "keep me").unwrap();
    bin()
        .args(["export", "--preset", "tiny", "-o"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(contains("already exists"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    bin()
        .args(["export", "--preset", "tiny", "--force", "-o"])
        .arg(&path)
        .assert()
        .success();
    assert!(Config::load(&path).is_ok());
}

#[test]
fn io_errors_name_the_file_once() {
    let out = bin()
        .args(["stats", "/nonexistent/dir/train.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("/nonexistent/dir/train.txt").count(),
        1,
        "{err}"
    );
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

/// `export` heads the RON with its provenance as comments, and the file still loads.
#[test]
fn exported_ron_carries_provenance_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("p.ron");
    let mut c = assert_cmd::Command::cargo_bin("memrec-tui").unwrap();
    c.env_remove("MEMREC_PRESET")
        .args(["export", "--preset", "tiny", "--set", "memrec.k=4", "-o"])
        .arg(&f)
        .assert()
        .success();
    let text = std::fs::read_to_string(&f).unwrap();
    for key in ["program", "command", "data", "machine", "budget", "result"] {
        assert!(
            text.contains(&format!("// provenance.{key}: ")),
            "{key}: {text}"
        );
    }
    assert!(
        text.contains("memrec.k=4") && text.contains("(commit "),
        "{text}"
    );
    let cfg = memrec_tui::config::Config::load(&f).unwrap();
    assert_eq!(cfg.memrec.k, 4);
}
