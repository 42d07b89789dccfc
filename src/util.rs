//! Small shared helpers with no better home: atomic file writes, the compute threads' pool.

// The kernels' shared ground (nothing here imports the rest of the crate): the choice of
// instruction set at run time, the random generator, the aligned buffer.
pub mod aligned;
pub mod rng;
pub mod simd;

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0} already exists (use --force to replace it)")]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Write `bytes` to `path` through a temporary file in the same folder and a rename, so a reader
/// never sees half a file and a failure leaves any existing file intact. Refuses to replace an
/// existing file unless `overwrite`.
pub fn write_atomic(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), WriteError> {
    if !overwrite && path.exists() {
        return Err(WriteError::Exists(path.to_path_buf()));
    }
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        if !overwrite && path.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "appeared while writing",
            ));
        }
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            return Err(WriteError::Exists(path.to_path_buf()));
        }
        return Err(io(e));
    }
    Ok(())
}

/// Environment variable that, when set (to anything), leaves the compute threads unpinned.
pub const NO_PIN_VAR: &str = "MEMREC_NO_PIN";

/// A rayon pool of `threads` workers named `{name}-{i}`, worker `i` pinned to the `i`-th CPU
/// this process may run on, when there are at least `threads` of them (Linux; not when
/// `MEMREC_NO_PIN` is set). Pinning changes no number, only where the threads run.
///
/// Why: a training step forks and joins several times per millisecond, and its workers sleep
/// between runs (setup, evaluation). Waking them, Linux tends to place both on the waking
/// thread's CPU, where they then take turns while the other CPU idles until the load balancer
/// moves one, tens of milliseconds later. On a 2-CPU machine that halved the speed of the first
/// 5-30 steps of a run in about a third of the runs (measured with scheduler traces).
pub fn compute_pool(
    threads: usize,
    name: &'static str,
) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    let cpus = pin_targets(
        &allowed_cpus(),
        threads,
        std::env::var_os(NO_PIN_VAR).is_some(),
    );
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("{name}-{i}"))
        .start_handler(move |i| {
            if let Some(&cpu) = cpus.get(i) {
                pin_current_thread(cpu);
            }
        })
        .build()
}

/// The CPU of each of `threads` workers: the first `threads` allowed CPUs, or none (no
/// pinning) when disabled or when there are fewer allowed CPUs than threads.
fn pin_targets(allowed: &[usize], threads: usize, disabled: bool) -> Vec<usize> {
    if disabled || threads == 0 || allowed.len() < threads {
        return Vec::new();
    }
    allowed[..threads].to_vec()
}

/// The CPUs the calling thread may run on (empty when unknown).
#[cfg(target_os = "linux")]
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `set` is a plain bit set that sched_getaffinity fills; CPU_ISSET reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

#[cfg(not(target_os = "linux"))]
fn allowed_cpus() -> Vec<usize> {
    Vec::new()
}

/// Pin the calling thread to `cpu`; a refusal (a cpuset that changed meanwhile) leaves it free.
#[cfg(target_os = "linux")]
fn pin_current_thread(cpu: usize) {
    // SAFETY: `set` is a plain bit set with one CPU (< CPU_SETSIZE, it came from
    // `allowed_cpus`); sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

#[cfg(not(target_os = "linux"))]
fn pin_current_thread(_cpu: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_are_pinned_to_distinct_allowed_cpus_only_when_there_are_enough() {
        assert_eq!(pin_targets(&[0, 1, 2, 3], 2, false), vec![0, 1]);
        assert_eq!(pin_targets(&[4, 6], 2, false), vec![4, 6]);
        assert!(pin_targets(&[0], 2, false).is_empty());
        assert!(pin_targets(&[0, 1], 2, true).is_empty());
        assert!(pin_targets(&[], 1, false).is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_pinned_pool_runs_its_workers_on_their_cpus() {
        let allowed = allowed_cpus();
        if allowed.len() < 2 || std::env::var_os(NO_PIN_VAR).is_some() {
            return;
        }
        let pool = compute_pool(2, "pin-test").expect("pool");
        // Each worker may run on exactly one CPU: its own.
        let masks = pool.broadcast(|c| (c.index(), allowed_cpus()));
        for (i, mask) in masks {
            assert_eq!(mask, vec![allowed[i]], "worker {i}");
        }
    }
}
