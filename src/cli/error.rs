//! The errors at the binary's edge and their exit codes: 0 ok, 2 bad usage, configuration or
//! input, 1 runtime failure, 128 + the signal when a signal stopped the command.
//!
//! Owns: the mapping of every domain error (configuration, data, stats, sweep, latency probe,
//! explorer, file writes) to an exit code, in one place. Must never: be imported outside `cli`
//! and `main.rs`; domain modules return their own typed errors and this file maps them.

use crate::config::ConfigError;

/// An error at the binary's edge, with its exit code.
#[derive(Debug)]
pub enum CliError {
    /// Bad usage, configuration or (with --strict) input: exit 2.
    Usage(anyhow::Error),
    /// Runtime failure: exit 1.
    Runtime(anyhow::Error),
    /// Stopped by a signal (SIGINT, SIGTERM, SIGHUP) after a clean stop: exit 128 + signal.
    Interrupted(i32),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Runtime(_) => 1,
            CliError::Interrupted(s) => crate::signals::exit_code(*s),
        }
    }
    pub fn usage(e: impl Into<anyhow::Error>) -> Self {
        CliError::Usage(e.into())
    }
    pub fn runtime(e: impl Into<anyhow::Error>) -> Self {
        CliError::Runtime(e.into())
    }
    /// A data error: exit 2 when the input is at fault (`DataError::is_bad_input`: a missing or
    /// empty file, say), in every command alike; 1 for a read failure.
    pub fn data(e: crate::data::DataError) -> Self {
        if e.is_bad_input() {
            CliError::usage(e)
        } else {
            CliError::runtime(e)
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Print the cause chain, but skip a cause whose text the message already includes (our
        // typed errors put their cause in their own message).
        let e = match self {
            CliError::Usage(e) | CliError::Runtime(e) => e,
            CliError::Interrupted(s) => {
                return write!(f, "interrupted by {}", crate::signals::name(*s));
            }
        };
        let mut text = e.to_string();
        for cause in e.chain().skip(1) {
            let c = cause.to_string();
            if !text.contains(&c) {
                text.push_str(": ");
                text.push_str(&c);
            }
        }
        f.write_str(&text)
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::Usage(e.into())
    }
}

impl CliError {
    /// A file write: exit 2 when the file exists and --force was not given, 1 otherwise.
    pub fn write(e: crate::util::WriteError) -> Self {
        match e {
            crate::util::WriteError::Exists(_) => CliError::usage(e),
            other => CliError::runtime(other),
        }
    }
}

impl From<crate::data::stats::StatsError> for CliError {
    /// Bad input (missing file, bad line with --strict, no good rows): 2; a read failure: 1.
    fn from(e: crate::data::stats::StatsError) -> Self {
        use crate::data::stats::StatsError;
        match e {
            StatsError::Input(e) => CliError::usage(e),
            StatsError::Read(e) => CliError::runtime(e),
        }
    }
}

impl From<crate::sweep::SweepError> for CliError {
    /// A bad grid, directory or manifest: 2 (`SweepError::is_usage`); a signal: 128 + it; else 1.
    fn from(e: crate::sweep::SweepError) -> Self {
        if let crate::sweep::SweepError::Interrupted(signal) = e {
            CliError::Interrupted(signal)
        } else if e.is_usage() {
            CliError::usage(e)
        } else {
            CliError::runtime(e)
        }
    }
}

impl From<crate::train::latency::BenchError> for CliError {
    /// The probe cannot start its pool or allocate its table: a runtime failure (1).
    fn from(e: crate::train::latency::BenchError) -> Self {
        CliError::runtime(e)
    }
}

impl From<crate::app::runtime::ExploreError> for CliError {
    /// A signal that quit the explorer: 128 + the signal; a terminal failure: 1.
    fn from(e: crate::app::runtime::ExploreError) -> Self {
        match e {
            crate::app::runtime::ExploreError::Interrupted(s) => CliError::Interrupted(s),
            other => CliError::runtime(other),
        }
    }
}
