//! End to end: the real binary in a pseudo-terminal (120x40) on the `tiny` preset. Wait for a
//! frame with evaluated AUC curves, change a knob, export, quit; the exported file loads, the
//! exit status is 0 and the terminal is restored (alternate screen left, cursor shown).
//!
//! Timeouts here are only upper bounds so a broken build fails instead of hanging; nothing is
//! asserted about how fast the app is.

#![cfg(unix)]

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use memrec_tui::config::Config;

struct Pty {
    master: std::fs::File,
    slave: OwnedFd,
}

fn open_pty(cols: u16, rows: u16) -> Pty {
    let mut master = -1;
    let mut slave = -1;
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fresh descriptors into `master`/`slave`; the null pointers
    // mean no name buffer and default terminal attributes.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    assert_eq!(rc, 0, "openpty failed: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just returned by openpty and are owned by nobody else.
    unsafe {
        Pty {
            master: std::fs::File::from_raw_fd(master),
            slave: OwnedFd::from_raw_fd(slave),
        }
    }
}

struct Screen(Arc<Mutex<Vec<u8>>>);

impl Screen {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
    fn wait_for(&self, what: &str, limit: Duration) {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if self.text().contains(what) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let t = self.text();
        let tail: String = t
            .chars()
            .rev()
            .take(3000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        panic!("`{what}` not on screen after {limit:?}; output tail:\n{tail:?}");
    }
}

#[test]
fn explorer_in_a_pty_changes_a_knob_exports_and_quits() {
    let dir = tempfile::tempdir().unwrap();
    let pty = open_pty(120, 40);
    let io = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_memrec-tui"));
    cmd.args(["--preset", "tiny", "--threads", "1"])
        .current_dir(dir.path())
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .stdin(io(&pty.slave))
        .stdout(io(&pty.slave))
        .stderr(io(&pty.slave));
    // SAFETY: only async-signal-safe calls between fork and exec: a new session whose
    // controlling terminal is the pty (stdin).
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("start memrec-tui");
    drop(pty.slave);

    let buf = Arc::new(Mutex::new(Vec::new()));
    let mut reader = pty.master.try_clone().unwrap();
    let sink = buf.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        // Ends with EIO once the child has exited and the slave side is closed.
        while let Ok(n) = reader.read(&mut chunk) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    let screen = Screen(buf);
    let mut keys = pty.master;
    let mut press = |k: &[u8]| keys.write_all(k).unwrap();

    // The AUC panel, then evaluated curves (the chart legend names the baseline).
    screen.wait_for("Test AUC", Duration::from_secs(30));
    screen.wait_for("(uncompressed)", Duration::from_secs(120));
    // K 2 -> 3, then export the knobs in force.
    press(b"+");
    screen.wait_for("MEM-REC restarts", Duration::from_secs(10));
    press(b"e");
    screen.wait_for("exported", Duration::from_secs(10));
    let path = dir.path().join("memrec-tiny-k3-256.ron");
    let cfg = Config::load(&path).expect("the export loads");
    assert_eq!(cfg.memrec.k, 3);
    // A second export of the same configuration asks instead of overwriting.
    press(b"e");
    screen.wait_for("already", Duration::from_secs(10));
    press(b"n");
    let second = dir.path().join("memrec-tiny-k3-256-n2.ron");
    let t0 = Instant::now();
    while !second.exists() {
        assert!(t0.elapsed() < Duration::from_secs(10), "no second export");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(Config::load(&second).unwrap(), cfg);
    press(b"q");

    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "memrec-tui did not exit after q"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    std::thread::sleep(Duration::from_millis(200));
    let out = screen.text();
    let entered = out
        .find("\x1b[?1049h")
        .expect("entered the alternate screen");
    let left = out.rfind("\x1b[?1049l").expect("left the alternate screen");
    assert!(left > entered);
    let (hide, show) = (out.rfind("\x1b[?25l"), out.rfind("\x1b[?25h"));
    assert!(hide.is_none() || show > hide, "cursor left hidden");
}

#[test]
fn without_a_terminal_the_explorer_points_to_headless() {
    let out = Command::new(env!("CARGO_BIN_EXE_memrec-tui"))
        .args(["--preset", "tiny"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--headless") && err.contains("terminal"),
        "{err}"
    );
}
