//! The progress bar of a pass over data files (counting rows, reading test rows, statistics): on
//! stderr, shown only once the pass has taken `SHOW_AFTER`, with rows, file bytes per second and
//! an ETA from the files' sizes on disk.
//!
//! Owns: whether a bar may be drawn (`set_enabled`, off by default so a library caller or a test
//! draws nothing; the command line turns it on unless `--quiet` or `--json`) and the bar itself.
//! Must never: draw on anything but a terminal's stderr, or cost more than a counter per row.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A pass shorter than this shows no bar.
pub const SHOW_AFTER: Duration = Duration::from_secs(2);

/// Rows between two looks at the clock.
const CHECK_EVERY_ROWS: u64 = 16_384;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Allow (or forbid) progress bars for the rest of the process. The command line allows them
/// unless `--quiet` or `--json`; a bar is drawn only on a terminal even then.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether a bar is drawn: allowed and stderr a terminal.
pub fn should_draw(enabled: bool, stderr_is_terminal: bool) -> bool {
    enabled && stderr_is_terminal
}

/// The draw target for a pass: stderr when `should_draw`, else hidden.
pub fn draw_target(enabled: bool, stderr_is_terminal: bool) -> ProgressDrawTarget {
    if should_draw(enabled, stderr_is_terminal) {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// One pass over files of `total_bytes` on disk. Call `update` once per row; the bar appears
/// after `SHOW_AFTER`, and `finish` clears it.
pub struct Progress {
    what: String,
    total_bytes: u64,
    start: Instant,
    next_check: u64,
    bar: Option<ProgressBar>,
    draw: bool,
}

impl Progress {
    /// A pass described by `what` (e.g. "counting rows of day_0.gz").
    pub fn new(what: impl Into<String>, total_bytes: u64) -> Progress {
        Progress {
            what: what.into(),
            total_bytes,
            start: Instant::now(),
            next_check: CHECK_EVERY_ROWS,
            bar: None,
            draw: should_draw(
                ENABLED.load(Ordering::Relaxed),
                std::io::stderr().is_terminal(),
            ),
        }
    }

    /// `rows` read so far, `bytes` of the files consumed so far.
    #[inline]
    pub fn update(&mut self, rows: u64, bytes: u64) {
        if rows >= self.next_check {
            self.next_check = rows + CHECK_EVERY_ROWS;
            self.refresh(rows, bytes);
        }
    }

    #[cold]
    fn refresh(&mut self, rows: u64, bytes: u64) {
        if self.bar.is_none() {
            if !self.draw || self.start.elapsed() < SHOW_AFTER {
                return;
            }
            self.bar = Some(self.make_bar());
        }
        if let Some(bar) = &self.bar {
            bar.set_position(bytes.min(self.total_bytes));
            bar.set_message(status(
                rows,
                bytes,
                self.total_bytes,
                self.start.elapsed().as_secs_f64(),
            ));
        }
    }

    fn make_bar(&self) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(self.total_bytes), draw_target(true, true));
        // Speed and ETA over the whole pass (indicatif's own estimate would start when the bar
        // appears, after `SHOW_AFTER`, and read the bytes already done as instantaneous).
        let style =
            ProgressStyle::with_template("{prefix} [{wide_bar}] {bytes}/{total_bytes} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(self.what.clone());
        bar
    }

    /// Whether a bar is on screen.
    pub fn is_shown(&self) -> bool {
        self.bar.as_ref().is_some_and(|b| !b.is_hidden())
    }

    /// End the pass: the bar, if any, is cleared.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `1,234 rows, 56.7 MB/s, ETA 8s`: the speed in file bytes (as stored) per second since the pass
/// began, the ETA from the bytes left of the files' size.
pub fn status(rows: u64, bytes: u64, total_bytes: u64, elapsed_s: f64) -> String {
    let rows = super::criteo::thousands(rows);
    if bytes == 0 || elapsed_s <= 0.0 {
        return format!("{rows} rows");
    }
    let rate = bytes as f64 / elapsed_s;
    let left = total_bytes.saturating_sub(bytes) as f64 / rate;
    let eta = if left >= 3600.0 {
        format!(
            "{}h{:02}m",
            (left / 3600.0) as u64,
            (left % 3600.0 / 60.0) as u64
        )
    } else if left >= 60.0 {
        format!("{}m{:02}s", (left / 60.0) as u64, (left % 60.0) as u64)
    } else {
        format!("{}s", left.ceil() as u64)
    };
    format!("{rows} rows, {:.1} MB/s, ETA {eta}", rate / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_only_when_allowed_and_on_a_terminal() {
        assert!(should_draw(true, true));
        assert!(!should_draw(true, false), "not a terminal: hidden");
        assert!(!should_draw(false, true), "--quiet or --json: hidden");
        assert!(ProgressBar::with_draw_target(Some(1), draw_target(true, false)).is_hidden());
        assert!(ProgressBar::with_draw_target(Some(1), draw_target(false, true)).is_hidden());
    }

    #[test]
    fn status_says_rows_speed_and_eta_from_the_file_sizes() {
        assert_eq!(
            status(1_234_567, 50_000_000, 150_000_000, 2.0),
            "1,234,567 rows, 25.0 MB/s, ETA 4s"
        );
        assert_eq!(
            status(1, 1_000_000, 1_000_000_000, 1.0),
            "1 rows, 1.0 MB/s, ETA 16m39s"
        );
        assert_eq!(status(5, 0, 10, 1.0), "5 rows");
    }

    #[test]
    fn a_pass_in_tests_never_shows_a_bar() {
        // Tests run with stderr captured (not a terminal) and bars not enabled.
        let mut p = Progress::new("test", 100);
        p.start -= SHOW_AFTER * 2;
        for rows in 0..3 * CHECK_EVERY_ROWS {
            p.update(rows, rows);
        }
        assert!(!p.is_shown());
        p.finish();
    }
}
