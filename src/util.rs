//! Small shared helpers with no better home: atomic file writes, the compute threads' pool.

// The kernels' shared ground (nothing here imports the rest of the crate): the choice of
// instruction set at run time, the random generator, the aligned buffer; and the one byte
// formatter and chart module of every screen and report.
pub mod aligned;
pub mod provenance;
pub mod rng;
pub mod simd;
pub mod svg;
pub mod units;

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

/// Write `bytes` to `path` through a temporary file in the same folder, so a reader never sees
/// half a file and a failure leaves any existing file intact. With `overwrite` the temporary file
/// is renamed over `path`; without it, it is published only if `path` does not exist at that
/// instant (create-exclusive: of several writers racing to create one new path, exactly one
/// succeeds and the others get `Exists`, never a silent replacement).
pub fn write_atomic(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), WriteError> {
    if !overwrite && path.exists() {
        return Err(WriteError::Exists(path.to_path_buf()));
    }
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = create_temp(path, bytes).map_err(io)?;
    let result = if overwrite {
        std::fs::rename(&tmp, path)
    } else {
        publish_new(&tmp, path, bytes)
    };
    // After a rename or a link the name is gone or a second name of the published file.
    let _ = std::fs::remove_file(&tmp);
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(WriteError::Exists(path.to_path_buf()))
        }
        Err(e) => Err(io(e)),
    }
}

/// Temporary files of this process get distinct names: threads of one process (and two
/// processes, by the pid) never write into each other's.
static TEMP_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Create a new temporary file beside `path` holding `bytes`, flushed to disk; returns its path.
fn create_temp(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    loop {
        let n = TEMP_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
        // `create_new`: a stale temp file of a dead process with our pid is left alone.
        let mut f = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let written = f.write_all(bytes).and_then(|()| f.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        return Ok(tmp);
    }
}

/// Give the complete file `tmp` the name `path` unless `path` exists (`AlreadyExists` then), as
/// one step of the file system: `renameat2(RENAME_NOREPLACE)` on Linux, else a hard link.
fn publish_new(tmp: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    match rename_noreplace(tmp, path) {
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => link_new(tmp, path, bytes),
        other => other,
    }
}

/// `renameat2(tmp, path, RENAME_NOREPLACE)`; `Unsupported` where the kernel or the file
/// system does not offer it.
#[cfg(target_os = "linux")]
fn rename_noreplace(tmp: &Path, path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let (from, to) = (c(tmp)?, c(path)?);
    // SAFETY: both strings are NUL-terminated and live across the call; the syscall only reads
    // them. The raw syscall works with C libraries that lack the renameat2 wrapper.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) => {
            Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
        }
        _ => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn rename_noreplace(_tmp: &Path, _path: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// The portable create-exclusive publish: a hard link fails if `path` exists. On a file system
/// without hard links, the last resort creates `path` exclusively and writes `bytes` into it (never
/// replacing anything, though a reader could then see it half written).
fn link_new(tmp: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    match std::fs::hard_link(tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)?;
            f.write_all(bytes)?;
            f.sync_all()
        }
    }
}

/// Why an output path is refused before any work starts.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(
        "{flag} {path}: that is the {role} file this command reads ({input}); an input is never replaced, even with --force: choose another path"
    )]
    IsInput {
        flag: String,
        path: PathBuf,
        role: String,
        input: PathBuf,
    },
    #[error("{flag} {path}: is a directory; give a file path inside it, e.g. {path}/{example}")]
    IsDirectory {
        flag: String,
        path: PathBuf,
        example: String,
    },
    #[error("{flag} {path}: the folder {dir} does not exist")]
    NoFolder {
        flag: String,
        path: PathBuf,
        dir: PathBuf,
    },
    #[error("{flag} {path}: already exists; add --force to replace it")]
    Exists { flag: String, path: PathBuf },
}

/// Check the output file `path` of option `flag` before any work: it is none of `inputs` (role,
/// path) (never, even with `force`: compared by canonical path and by device and inode, so a
/// symbolic or hard link to an input is caught too), not a directory, its folder exists, and,
/// unless `force`, it does not exist yet. `example` names a file for the directory message.
pub fn check_output_file(
    flag: &str,
    path: &Path,
    inputs: &[(String, PathBuf)],
    force: bool,
    example: &str,
) -> Result<(), OutputError> {
    if let Some((role, input)) = inputs.iter().find(|(_, i)| same_file(path, i)) {
        return Err(OutputError::IsInput {
            flag: flag.into(),
            path: path.to_path_buf(),
            role: role.clone(),
            input: input.clone(),
        });
    }
    if path.is_dir() {
        return Err(OutputError::IsDirectory {
            flag: flag.into(),
            path: path.to_path_buf(),
            example: example.into(),
        });
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(OutputError::NoFolder {
            flag: flag.into(),
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
        });
    }
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(OutputError::Exists {
            flag: flag.into(),
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Whether `a` and `b` name the same file: the same absolute path (even if neither exists yet),
/// the same canonical path (symbolic links and `..` resolved), or the same device and inode (two
/// hard links of one file).
pub fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(x), Ok(y)) = (std::path::absolute(a), std::path::absolute(b))
        && x == y
    {
        return true;
    }
    if let (Ok(x), Ok(y)) = (std::fs::canonicalize(a), std::fs::canonicalize(b))
        && x == y
    {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    false
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

    /// `threads` writers race to create `path` with distinct contents; returns how many
    /// succeeded, after checking the file holds one writer's bytes whole and no temp file is left.
    fn race_new_file(dir: &Path, threads: usize) -> usize {
        let path = dir.join("out.ron");
        let start = std::sync::Barrier::new(threads);
        let results: Vec<(usize, Result<(), WriteError>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|i| {
                    let (path, start) = (&path, &start);
                    s.spawn(move || {
                        let text = format!("writer {i}\n").repeat(1000);
                        start.wait();
                        (i, write_atomic(path, text.as_bytes(), false))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<usize> = results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(i, _)| *i)
            .collect();
        for (i, r) in &results {
            if let Err(e) = r {
                assert!(matches!(e, WriteError::Exists(_)), "writer {i}: {e}");
            }
        }
        if let [w] = winners[..] {
            let got = std::fs::read_to_string(&path).unwrap();
            assert_eq!(got, format!("writer {w}\n").repeat(1000));
        }
        let left: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            vec![std::ffi::OsString::from("out.ron")],
            "files left"
        );
        winners.len()
    }

    #[test]
    fn the_hard_link_fallback_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, out) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("out"),
        );
        std::fs::write(&a, "first").unwrap();
        std::fs::write(&b, "second").unwrap();
        link_new(&a, &out, b"first").unwrap();
        let e = link_new(&b, &out, b"second").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "first");
    }

    #[test]
    fn exactly_one_of_many_concurrent_writers_creates_a_new_file() {
        for round in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            assert_eq!(race_new_file(dir.path(), 8), 1, "round {round}");
        }
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
