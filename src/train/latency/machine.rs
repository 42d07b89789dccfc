//! What the latency probe needs to know of the machine: the memory the full table may use
//! (physical, available, and the cgroup's limit) and the cache sizes each side fits in.
//!
//! Owns: reading /proc and /sys for these. Must never: time anything.

/// Share of physical memory the full table may take.
pub(super) const MEM_SHARE: f64 = 0.6;

/// Memory the full table may use: 60% of physical memory, and no more than 60% of what is
/// available now (other processes share the machine), nor of what is left under this process's
/// cgroup limit (a Slurm job's `--mem`, a container's limit: the probe must not be the reason a
/// task is killed). Unknown memory: 1 GiB.
pub(super) fn memory_budget() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
            .map(|kb| kb * 1024)
    };
    let share = |b: u64| (b as f64 * MEM_SHARE) as u64;
    let host = match (field("MemTotal:"), field("MemAvailable:")) {
        (Some(t), Some(a)) => share(t).min(share(a)),
        (Some(t), None) => share(t),
        _ => 1 << 30,
    };
    match cgroup_room() {
        Some(room) => host.min(share(room)),
        None => host,
    }
}

/// Bytes left under this process's cgroup (v2) memory limit: `memory.max` minus
/// `memory.current`; `None` when there is no limit or no cgroup v2.
fn cgroup_room() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = std::path::Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'));
    cgroup_room_in(&dir)
}

fn cgroup_room_in(dir: &std::path::Path) -> Option<u64> {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    let max: u64 = read("memory.max")?.trim().parse().ok()?;
    let current: u64 = read("memory.current")
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(0);
    Some(max.saturating_sub(current))
}

/// L1 data, L2 and L3 sizes of cpu0 in bytes, from /sys (None when not readable).
pub fn cache_sizes() -> [Option<u64>; 3] {
    let mut out = [None; 3];
    let base = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
    let Ok(dir) = std::fs::read_dir(base) else {
        return out;
    };
    for entry in dir.flatten() {
        let p = entry.path();
        let read = |f: &str| std::fs::read_to_string(p.join(f)).map(|s| s.trim().to_string());
        let (Ok(level), Ok(kind), Ok(size)) = (read("level"), read("type"), read("size")) else {
            continue;
        };
        if kind == "Instruction" {
            continue;
        }
        let Some(bytes) = parse_size(&size) else {
            continue;
        };
        if let Ok(l @ 1..=3) = level.parse::<usize>() {
            out[l - 1] = Some(out[l - 1].map_or(bytes, |b: u64| b.max(bytes)));
        }
    }
    out
}

/// "48K", "2048K", "32M", "1G" or plain bytes.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mul) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1u64 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim().parse::<u64>().ok().map(|n| n * mul)
}

/// Smallest cache level holding `bytes` (`L1`, `L2`, `L3`), `DRAM`, or `unknown`.
pub fn fits(bytes: u64, cache: &[Option<u64>; 3]) -> String {
    if cache.iter().all(Option::is_none) {
        return "unknown".into();
    }
    for (i, c) in cache.iter().enumerate() {
        if c.is_some_and(|c| bytes <= c) {
            return format!("L{}", i + 1);
        }
    }
    "DRAM".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_fit() {
        assert_eq!(parse_size("48K"), Some(48 << 10));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("x"), None);
        let c = [Some(48 << 10), Some(2 << 20), Some(32 << 20)];
        assert_eq!(fits(1 << 20, &c), "L2");
        assert_eq!(fits(1 << 30, &c), "DRAM");
        assert_eq!(fits(1, &[None; 3]), "unknown");
    }

    #[test]
    fn a_cgroup_limit_bounds_the_room_and_no_limit_gives_none() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("memory.max"), "1073741824\n").unwrap();
        std::fs::write(d.path().join("memory.current"), "73741824\n").unwrap();
        assert_eq!(cgroup_room_in(d.path()), Some(1_000_000_000));
        std::fs::write(d.path().join("memory.max"), "max\n").unwrap();
        assert_eq!(cgroup_room_in(d.path()), None);
    }
}
