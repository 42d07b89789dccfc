//! Fuzz the configuration: RON text as `--config` gives it and `--set` values as the command line
//! gives them. The input format and the checks are in `fuzz/harness/config.rs`, which
//! `tests/fuzz_regressions.rs` shares to replay kept crash inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/config.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::check(data));
