//! Build script: the git commit the binary was built from, for the provenance of reports and
//! exported configurations (`util::provenance`). Without git (a source tarball) it says
//! "unknown"; it never fails the build.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    // Sources that differ from the commit: say so rather than claim the commit.
    let dirty = commit.is_some()
        && git(&[
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ])
        .is_some();
    let text = match commit {
        Some(c) if dirty => format!("{c}+modified"),
        Some(c) => c,
        None => "unknown".to_string(),
    };
    println!("cargo:rustc-env=MEMREC_GIT_COMMIT={text}");
    // Rerun when the commit or the sources change (HEAD, the branch's ref, the index).
    for path in ["HEAD", "index", "packed-refs"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(p) = git(&["rev-parse", "--git-path", &r])
    {
        println!("cargo:rerun-if-changed={p}");
    }
    for path in ["build.rs", "Cargo.toml", "src", "presets"] {
        println!("cargo:rerun-if-changed={path}");
    }
}
