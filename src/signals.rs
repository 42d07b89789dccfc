//! Termination signals (SIGINT, SIGTERM, SIGHUP) turned into a cancellation that front ends wait
//! on beside their other channels: the explorer restores the terminal and quits as on `q`, headless
//! runs and sweeps stop their runs at the next step and still report. The signals are read on a
//! thread of their own (`signal_hook::iterator::Signals`), never inside a signal handler.
//!
//! Owns: the signal registration, the first signal's number (for the exit code 128 + signal) and
//! what a repeated signal does. Must never: stop anything itself on a first signal (the front end
//! decides how to end and what to write), or unregister its handlers while the process lives (the
//! registry would then leave the signal ignored instead of restoring the default).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender, select};

/// Signal numbers (the same on Linux and the BSDs).
pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGTERM: i32 = 15;

/// The conventional name of a signal, for messages.
pub fn name(signal: i32) -> String {
    match signal {
        SIGHUP => "SIGHUP".into(),
        SIGINT => "SIGINT".into(),
        SIGTERM => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

/// The exit code of a process ended by `signal`, as shells report it: 128 + its number.
pub fn exit_code(signal: i32) -> i32 {
    128 + signal
}

/// A cancellation that can be waited on in a `select!` beside other channels. Clones share it.
#[derive(Clone, Debug)]
pub struct Cancel {
    /// Never receives a message; it disconnects when the cancellation fires, which wakes every
    /// clone at once (a message would wake only one).
    rx: Receiver<()>,
    /// The first signal (0: none yet). Set before `rx` disconnects.
    signal: Arc<AtomicI32>,
}

/// Fires a `Cancel` (the signal thread holds one; tests may too).
#[derive(Debug)]
pub struct Canceller {
    tx: Mutex<Option<Sender<()>>>,
    signal: Arc<AtomicI32>,
}

impl Cancel {
    /// A cancellation that never fires.
    pub fn never() -> Cancel {
        Cancel {
            rx: crossbeam_channel::never(),
            signal: Arc::new(AtomicI32::new(0)),
        }
    }

    /// A cancellation and the one thing that fires it.
    pub fn pair() -> (Canceller, Cancel) {
        let (tx, rx) = crossbeam_channel::bounded(0);
        let signal = Arc::new(AtomicI32::new(0));
        (
            Canceller {
                tx: Mutex::new(Some(tx)),
                signal: Arc::clone(&signal),
            },
            Cancel { rx, signal },
        )
    }

    /// The signal that fired it, if it has fired.
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.signal().is_some()
    }

    /// Ready (with an error) once the cancellation has fired: for `select!`.
    pub fn receiver(&self) -> &Receiver<()> {
        &self.rx
    }

    /// The next message of `rx` (`None` once it is closed), calling `on_cancel` once when the
    /// cancellation fires while waiting; `seen` remembers that it did (start with `false`). Used to
    /// tell an engine to stop and keep reading its last events (the cancelled summaries).
    pub fn recv<T>(
        &self,
        rx: &Receiver<T>,
        seen: &mut bool,
        on_cancel: impl FnOnce(),
    ) -> Option<T> {
        if !*seen {
            select! {
                recv(rx) -> m => return m.ok(),
                recv(self.rx) -> _ => {
                    *seen = true;
                    on_cancel();
                }
            }
        }
        rx.recv().ok()
    }
}

impl Canceller {
    /// Fire the cancellation with `signal`; true if this was the first time.
    pub fn cancel(&self, signal: i32) -> bool {
        let first = self
            .signal
            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        // Dropping the only sender disconnects every receiver: the waiters wake up.
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        first
    }
}

/// Listens for signals on its own thread and fires a `Cancel` at the first. While it lives, a
/// repeated signal exits at once (code 128 + signal) if `exit_on_repeat` is set; once it is
/// dropped (the front end has finished with the terminal and its output), any signal exits at
/// once, as the default action would.
pub struct Listener {
    cancel: Cancel,
    exit_on_repeat: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
}

impl Listener {
    /// Start listening for `signals` (e.g. `[SIGINT, SIGTERM]`).
    pub fn start(signals: &[i32], exit_on_repeat: bool) -> std::io::Result<Listener> {
        let (canceller, cancel) = Cancel::pair();
        let exit_on_repeat = Arc::new(AtomicBool::new(exit_on_repeat));
        let done = Arc::new(AtomicBool::new(false));
        spawn_thread(
            signals,
            canceller,
            Arc::clone(&exit_on_repeat),
            Arc::clone(&done),
        )?;
        Ok(Listener {
            cancel,
            exit_on_repeat,
            done,
        })
    }

    /// The cancellation the first signal fires.
    pub fn cancel(&self) -> Cancel {
        self.cancel.clone()
    }

    /// Whether a second signal exits at once (the explorer arms it once the terminal is restored).
    pub fn set_exit_on_repeat(&self, on: bool) {
        self.exit_on_repeat.store(on, Ordering::SeqCst);
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

/// What the signal thread does with one signal: fire the cancellation, and say whether the
/// process must exit now.
fn on_signal(canceller: &Canceller, signal: i32, exit_on_repeat: bool, done: bool) -> bool {
    let first = canceller.cancel(signal);
    done || (!first && exit_on_repeat)
}

#[cfg(unix)]
fn spawn_thread(
    signals: &[i32],
    canceller: Canceller,
    exit_on_repeat: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let mut incoming = signal_hook::iterator::Signals::new(signals)?;
    // The thread (and so the registration) lives as long as the process: see the module note.
    std::thread::Builder::new()
        .name("memrec-signals".into())
        .spawn(move || {
            for signal in incoming.forever() {
                let repeat = exit_on_repeat.load(Ordering::SeqCst);
                if on_signal(&canceller, signal, repeat, done.load(Ordering::SeqCst)) {
                    eprintln!("{}: exiting at once", name(signal));
                    std::process::exit(exit_code(signal));
                }
            }
        })?;
    Ok(())
}

#[cfg(not(unix))]
fn spawn_thread(
    _signals: &[i32],
    canceller: Canceller,
    _exit_on_repeat: Arc<AtomicBool>,
    _done: Arc<AtomicBool>,
) -> std::io::Result<()> {
    // No POSIX signals here: the cancellation never fires (the default Ctrl-C handling applies).
    std::mem::forget(canceller);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_cancel_wakes_every_waiter_and_keeps_the_first_signal() {
        let (c, cancel) = Cancel::pair();
        let other = cancel.clone();
        assert!(!cancel.is_cancelled());
        assert!(c.cancel(SIGTERM));
        assert!(!c.cancel(SIGINT));
        assert_eq!(cancel.signal(), Some(SIGTERM));
        assert_eq!(other.signal(), Some(SIGTERM));
        assert!(cancel.receiver().recv().is_err());
        assert!(other.receiver().recv().is_err());
        assert!(
            Cancel::never()
                .receiver()
                .recv_timeout(Duration::from_millis(1))
                .is_err()
        );
        assert!(!Cancel::never().is_cancelled());
    }

    #[test]
    fn recv_calls_on_cancel_once_and_keeps_reading_until_closed() {
        let (c, cancel) = Cancel::pair();
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut seen = false;
        let mut calls = 0;
        tx.send(1).unwrap();
        assert_eq!(cancel.recv(&rx, &mut seen, || calls += 1), Some(1));
        c.cancel(SIGINT);
        // Nothing waiting: the cancellation is what wakes the wait.
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(2).unwrap();
        });
        assert_eq!(cancel.recv(&rx, &mut seen, || calls += 1), Some(2));
        assert!(seen);
        assert_eq!(cancel.recv(&rx, &mut seen, || calls += 1), None);
        assert_eq!(calls, 1);
    }

    #[test]
    fn only_a_repeat_or_a_signal_after_the_end_exits() {
        let (c, _cancel) = Cancel::pair();
        assert!(!on_signal(&c, SIGINT, true, false));
        assert!(on_signal(&c, SIGINT, true, false));
        let (c, _cancel) = Cancel::pair();
        assert!(!on_signal(&c, SIGTERM, false, false));
        assert!(!on_signal(&c, SIGTERM, false, false));
        let (c, _cancel) = Cancel::pair();
        assert!(on_signal(&c, SIGHUP, false, true));
        assert_eq!(exit_code(SIGINT), 130);
        assert_eq!(exit_code(SIGTERM), 143);
        assert_eq!(exit_code(SIGHUP), 129);
    }

    /// The child side of `a_second_sigint_exits_at_once`: run only by it (`--ignored`, with the
    /// variable set).
    #[cfg(unix)]
    #[test]
    #[ignore = "the child process of a_second_sigint_exits_at_once"]
    fn second_sigint_child() {
        if std::env::var_os("MEMREC_SIGNALS_CHILD").is_none() {
            return;
        }
        let listener = Listener::start(&[SIGINT, SIGTERM], true).unwrap();
        let cancel = listener.cancel();
        // SAFETY: kill on our own pid with a signal whose handler signal-hook installed.
        unsafe { libc::kill(libc::getpid(), SIGINT) };
        assert!(cancel.receiver().recv().is_err());
        assert_eq!(cancel.signal(), Some(SIGINT));
        // SAFETY: as above.
        unsafe { libc::kill(libc::getpid(), SIGINT) };
        // The process exits from the signal thread; if it does not, this test ends and the
        // child exits 0, which the parent reports.
        std::thread::sleep(Duration::from_secs(30));
    }

    #[cfg(unix)]
    #[test]
    fn a_second_sigint_exits_at_once() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "signals::tests::second_sigint_child",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env("MEMREC_SIGNALS_CHILD", "1")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(130),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
