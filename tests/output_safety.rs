//! Nothing lost (issue 17): output paths are checked before anything is read or trained. An
//! existing `--predictions` file is kept unless `--force`; the data, test and configuration files
//! are never a valid output, even with `--force` (nor a link to one); `export -o` the same; a
//! directory given as an output file is named as such; `sweep --out` writes only into a new or
//! empty directory or one of its own sweeps.
//!
//! The Criteo-format rows here are made up (see `criteo_rows`), never Criteo data.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn bin() -> Command {
    let mut c = Command::cargo_bin("memrec-tui").unwrap();
    c.env_remove("MEMREC_PRESET");
    c
}

/// `n` made-up rows in the Criteo format, both labels throughout (every third row clicks).
fn criteo_rows(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(if i % 3 == 0 { "1" } else { "0" });
        for j in 0..13 {
            s.push_str(&format!("\t{}", (i * 7 + j * 3) % 50));
        }
        for j in 0..26 {
            s.push_str(&format!(
                "\t{:08x}",
                0xa5a5_0000u32 + ((i % 17) * 26 + j) as u32
            ));
        }
        s.push('\n');
    }
    s
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn an_existing_predictions_file_is_kept_unless_force() {
    let dir = tempfile::tempdir().unwrap();
    let pred = dir.path().join("pred.tsv");
    write(&pred, "my notes\n");
    let run = |force: bool| {
        let mut c = bin();
        c.args(["--preset", "tiny", "--headless", "--steps", "3", "--json"])
            .arg("--predictions")
            .arg(&pred);
        if force {
            c.arg("--force");
        }
        c.assert()
    };
    // Refused before anything ran: no evaluation was printed.
    run(false)
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(
            predicate::str::contains("already exists").and(predicate::str::contains("--force")),
        );
    assert_eq!(read(&pred), "my notes\n");
    run(true).code(0);
    let text = read(&pred);
    assert!(text.starts_with("baseline\t"), "{text}");
}

#[test]
fn inputs_are_never_an_output_even_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("train.tsv");
    let test = dir.path().join("test.tsv");
    let cfg = dir.path().join("my.ron");
    let rows = criteo_rows(200);
    write(&data, &rows);
    write(&test, &criteo_rows(60));
    bin()
        .args(["export", "--preset", "tiny", "-o"])
        .arg(&cfg)
        .assert()
        .code(0);
    let cfg_text = read(&cfg);
    let hard = dir.path().join("hard-link.tsv");
    std::fs::hard_link(&data, &hard).unwrap();
    let dotted = dir.path().join("sub/../train.tsv");
    std::fs::create_dir(dir.path().join("sub")).unwrap();

    let headless = |extra: &[&std::ffi::OsStr], out: &Path, role: &str| {
        for force in [false, true] {
            let mut c = bin();
            c.args(["--headless", "--steps", "3"])
                .args(extra)
                .arg("--predictions")
                .arg(out);
            if force {
                c.arg("--force");
            }
            c.assert()
                .code(2)
                .stdout(predicate::str::is_empty())
                .stderr(
                    predicate::str::contains(format!("the {role} file"))
                        .and(predicate::str::contains("never replaced")),
                );
        }
    };
    let tiny_data = [
        "--preset".as_ref(),
        "tiny".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
    ];
    headless(&tiny_data, &data, "data");
    headless(&tiny_data, &dotted, "data");
    headless(&tiny_data, &hard, "data");
    let with_test = [
        "--preset".as_ref(),
        "tiny".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--test".as_ref(),
        test.as_os_str(),
    ];
    headless(&with_test, &test, "test");
    headless(
        &["--config".as_ref(), cfg.as_os_str()],
        &cfg,
        "configuration",
    );
    #[cfg(unix)]
    {
        let sym = dir.path().join("sym.ron");
        std::os::unix::fs::symlink(&cfg, &sym).unwrap();
        headless(
            &["--config".as_ref(), cfg.as_os_str()],
            &sym,
            "configuration",
        );
    }

    // `export` alike.
    for (args, out, role) in [
        (
            vec!["--config".as_ref(), cfg.as_os_str()],
            &cfg,
            "configuration",
        ),
        (
            vec![
                "--preset".as_ref(),
                "tiny".as_ref(),
                "--data".as_ref(),
                data.as_os_str(),
            ],
            &data,
            "data",
        ),
    ] {
        bin()
            .arg("export")
            .args(args)
            .arg("-o")
            .arg(out)
            .arg("--force")
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!("the {role} file")));
    }
    assert_eq!(read(&data), rows);
    assert_eq!(read(&cfg), cfg_text);
}

#[test]
fn a_directory_or_a_missing_folder_is_named_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    for force in [false, true] {
        let mut c = bin();
        c.args(["export", "--preset", "tiny", "-o"]).arg(dir.path());
        if force {
            c.arg("--force");
        }
        c.assert().code(2).stderr(
            predicate::str::contains("is a directory")
                .and(predicate::str::contains("--force").not()),
        );
    }
    bin()
        .args([
            "--preset",
            "tiny",
            "--headless",
            "--steps",
            "3",
            "--predictions",
        ])
        .arg(dir.path())
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("is a directory"));
    // A folder that does not exist: said at once, not after the training.
    bin()
        .args([
            "--preset",
            "tiny",
            "--headless",
            "--steps",
            "3",
            "--predictions",
        ])
        .arg(dir.path().join("no/such/pred.tsv"))
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("does not exist"));
}

#[test]
fn sweep_out_refuses_a_foreign_directory_and_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let u = dir.path().join("u");
    std::fs::create_dir(&u).unwrap();
    write(&u.join("summary.md"), "notes\n");
    let sweep = |out: &Path| {
        let mut c = bin();
        c.args([
            "sweep",
            "--preset",
            "tiny",
            "--steps",
            "5",
            "--grid",
            "memrec.k=1,2",
            "--out",
        ])
        .arg(out);
        c.assert()
    };
    sweep(&u).code(2).stderr(
        predicate::str::contains(u.display().to_string())
            .and(predicate::str::contains("sweep.json"))
            .and(predicate::str::contains("summary.md")),
    );
    assert_eq!(read(&u.join("summary.md")), "notes\n");
    let names: Vec<_> = std::fs::read_dir(&u).unwrap().collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let f = dir.path().join("f.txt");
    write(&f, "mine\n");
    sweep(&f)
        .code(2)
        .stderr(predicate::str::contains("is a file, not a directory"));
    assert_eq!(read(&f), "mine\n");
}

/// Run the explorer with `args`, standard input and output on a fresh pseudo-terminal (so it
/// gets past its terminal check), standard error captured; returns the exit code and standard
/// error. A run still going after a minute is killed and fails the test.
#[cfg(unix)]
fn explorer(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::process::Stdio;
    let (mut master, mut slave) = (-1, -1);
    let ws = libc::winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fresh descriptors; null pointers: no name, default attributes.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just returned by openpty and belong to nobody else.
    let (mut master, slave) = unsafe {
        (
            std::fs::File::from_raw_fd(master),
            OwnedFd::from_raw_fd(slave),
        )
    };
    // Drain the terminal so a drawing explorer never blocks on a full buffer.
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while matches!(master.read(&mut buf), Ok(n) if n > 0) {}
    });
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_memrec-tui"))
        .args(args)
        .env_remove("MEMREC_PRESET")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the explorer was still running after 60 s: {args:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

#[test]
fn a_missing_or_an_empty_data_file_exits_2_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.tsv");
    let empty = dir.path().join("empty.tsv");
    write(&empty, "");
    for (data, why) in [(&missing, "No such file"), (&empty, "the file is empty")] {
        let says = || {
            predicate::str::contains(data.display().to_string()).and(predicate::str::contains(why))
        };
        let tiny = ["--preset", "tiny", "--data"];
        bin()
            .args(tiny)
            .arg(data)
            .args(["--headless", "--steps", "3"])
            .assert()
            .code(2)
            .stderr(says());
        bin()
            .args(["sweep", "--steps", "3", "--grid", "memrec.k=1,2", "--out"])
            .arg(dir.path().join("s"))
            .args(tiny)
            .arg(data)
            .assert()
            .code(2)
            .stderr(says());
        bin().arg("stats").arg(data).assert().code(2).stderr(says());
        #[cfg(unix)]
        {
            let (code, err) = explorer(&[
                "--preset".as_ref(),
                "tiny".as_ref(),
                "--data".as_ref(),
                data.as_os_str(),
            ]);
            assert_eq!(code, Some(2), "{err}");
            assert!(err.contains(why), "{err}");
        }
    }
}

#[test]
fn a_single_class_test_file_is_a_usage_error_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("train.tsv");
    let test = dir.path().join("test.tsv");
    write(&data, &criteo_rows(200));
    // Every third row clicks: rows 1, 2, 4, 5, ... never do.
    let zeros: String = criteo_rows(90)
        .lines()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    write(&test, &zeros);
    let says = || {
        predicate::str::contains(test.display().to_string())
            .and(predicate::str::contains("all labelled 0"))
    };
    let files = ["--preset", "tiny", "--data"];
    bin()
        .args(files)
        .arg(&data)
        .arg("--test")
        .arg(&test)
        .args(["--headless", "--steps", "3", "--json"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(says());
    bin()
        .args(["sweep", "--steps", "3", "--grid", "memrec.k=1,2", "--out"])
        .arg(dir.path().join("s"))
        .args(files)
        .arg(&data)
        .arg("--test")
        .arg(&test)
        .assert()
        .code(2)
        .stderr(says());
    assert!(!dir.path().join("s").exists());
    // The held-out tail of a file alike: 100 rows, the last 20 all without a click.
    let tail = dir.path().join("tail.tsv");
    let mut rows = criteo_rows(80);
    rows.push_str(
        &zeros
            .lines()
            .take(20)
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    write(&tail, &rows);
    bin()
        .args(files)
        .arg(&tail)
        .args(["--headless", "--steps", "3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--test FILE"));
    // The explorer says so and exits, instead of training runs that can never be evaluated.
    #[cfg(unix)]
    {
        let (code, err) = explorer(&[
            "--preset".as_ref(),
            "tiny".as_ref(),
            "--data".as_ref(),
            data.as_os_str(),
            "--test".as_ref(),
            test.as_os_str(),
        ]);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("all labelled 0"), "{err}");
    }
}

#[test]
fn json_with_a_screen_keeps_stdout_json() {
    let out = bin()
        .args([
            "--preset",
            "tiny",
            "--headless",
            "--steps",
            "3",
            "--json",
            "--screen",
            "100x30",
        ])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.lines().count() >= 2, "{stdout}");
    for line in stdout.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v.get("type").is_some(), "{line}");
    }
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("Knobs"),
        "the screen goes to stderr: {stderr}"
    );
}

#[test]
fn skipped_bad_lines_are_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("train.tsv");
    // Two bad lines among the training rows (the first 80% of the file).
    let mut rows: Vec<String> = criteo_rows(200).lines().map(str::to_string).collect();
    rows.insert(10, "not a criteo line".into());
    rows.insert(50, "1\t2".into());
    write(&data, &(rows.join("\n") + "\n"));
    for json in [false, true] {
        let mut c = bin();
        c.args(["--preset", "tiny", "--headless", "--steps", "3", "--data"])
            .arg(&data);
        if json {
            c.arg("--json");
        }
        let out = c.assert().code(0).get_output().clone();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.matches("skipped").count(), 1, "{stderr}");
        assert!(stderr.contains("skipped 2 bad input line(s)"), "{stderr}");
    }
    // With a separate test file the training rows' bad lines are met while training: once too.
    let test = dir.path().join("test.tsv");
    write(&test, &criteo_rows(60));
    let out = bin()
        .args(["--preset", "tiny", "--headless", "--steps", "3", "--data"])
        .arg(&data)
        .arg("--test")
        .arg(&test)
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.matches("skipped").count(), 1, "{stderr}");
    assert!(stderr.contains("skipped 2 bad input line(s)"), "{stderr}");
}
