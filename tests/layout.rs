//! The layering of issue 18, checked on the source text: `cli` is the one front door (nothing
//! outside `src/cli/` and `main.rs` imports it), and the engine's rooms (`train`, `model`,
//! `embedding`, `data`, `metrics`) never reach up into the explorer (`app`, `ui`) or the command
//! line. A module that imports upward recreates the import circles the issue removed.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `(file relative to src/, line number, line)` of every code line (comments left out) of the
/// files under `src/` that `keep` selects and that names one of `paths`.
fn offenders(keep: impl Fn(&str) -> bool, paths: &[&str]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(&src)
            .expect("under src/")
            .to_string_lossy()
            .replace('\\', "/");
        if !keep(&rel) {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("a source file is readable");
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if paths.iter().any(|p| code.contains(p)) {
                found.push(format!("src/{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn nothing_outside_cli_and_main_imports_cli() {
    let found = offenders(
        |rel| !rel.starts_with("cli/") && rel != "main.rs",
        &["crate::cli", "super::cli", "memrec_tui::cli"],
    );
    assert!(
        found.is_empty(),
        "only src/cli/ and main.rs may name the command line; domain modules return typed errors \
         that cli/error.rs maps to exit codes:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_engine_never_reaches_the_front_ends() {
    let engine = ["train/", "model/", "embedding/", "data/", "metrics/"];
    let found = offenders(
        |rel| engine.iter().any(|e| rel.starts_with(e)),
        &[
            "crate::cli",
            "crate::app",
            "crate::ui",
            "crate::sweep",
            "crate::bench",
        ],
    );
    assert!(
        found.is_empty(),
        "the engine knows nothing of the terminal, the commands or the sweeps:\n{}",
        found.join("\n")
    );
}
