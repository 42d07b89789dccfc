//! What made a report or an exported configuration: the program (version and the git commit it
//! was built from, `build.rs`), the command line, the data, the machine (CPU model and threads),
//! the budget and the result it stands for. Written into `summary.md` and as comment lines at the
//! top of every exported RON (which loading ignores).
//!
//! Owns: gathering these facts and their two renderings. Must never: decide what a report says
//! beyond this block, or fail (a fact it cannot read is written as `unknown`).

use std::path::Path;

/// The provenance block of one report or file; each field one line of text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Provenance {
    /// `memrec-tui 0.1.0 (commit 0123abcd4567)`.
    pub program: String,
    /// The command line, shell-quoted.
    pub command: String,
    /// File names and sizes, or `synthetic ... seed N`.
    pub data: String,
    /// CPU model and threads.
    pub machine: String,
    /// Training budget (steps, samples), or why there is none.
    pub budget: String,
    /// The figures the report or file stands for (ΔAUC with its interval, latency), or why none.
    pub result: String,
}

/// `memrec-tui VERSION (commit C)`, the commit read by `build.rs` (`unknown` without git).
pub fn program() -> String {
    format!(
        "memrec-tui {} (commit {})",
        env!("CARGO_PKG_VERSION"),
        env!("MEMREC_GIT_COMMIT")
    )
}

/// This process's command line, each argument shell-quoted where needed.
pub fn command_line() -> String {
    std::env::args()
        .map(|a| quote(&a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(a: &str) -> String {
    let plain = !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

/// The CPU model (first `model name` of /proc/cpuinfo) and `threads` of the CPUs online.
pub fn machine(threads: usize) -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let online = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model}; {threads} thread(s) used of {online} available")
}

/// The data: each file with its size in bytes, or the synthetic stream with its seed.
pub fn data(train: Option<&str>, test: Option<&str>, synthetic: &str, seed: u64) -> String {
    let file = |role: &str, f: &str| {
        let size = std::fs::metadata(Path::new(f))
            .map_or("size unknown".to_string(), |m| format!("{} bytes", m.len()));
        format!("{role} {f} ({size})")
    };
    match train {
        Some(t) => {
            let mut s = file("train", t);
            if let Some(x) = test {
                s.push_str(&format!(", {}", file("test", x)));
            } else {
                s.push_str(", test = the file's last data.test_fraction");
            }
            format!("{s}; seed {seed}")
        }
        None if synthetic.contains("seed") => synthetic.to_string(),
        None => format!("{synthetic}; seed {seed}"),
    }
}

impl Provenance {
    fn fields(&self) -> [(&'static str, &str); 6] {
        [
            ("program", &self.program),
            ("command", &self.command),
            ("data", &self.data),
            ("machine", &self.machine),
            ("budget", &self.budget),
            ("result", &self.result),
        ]
    }

    /// A Markdown section.
    pub fn markdown(&self) -> String {
        let mut s = String::from("## Provenance\n\n");
        for (k, v) in self.fields() {
            s.push_str(&format!("- {k}: {}\n", v.replace('\n', " ")));
        }
        s
    }

    /// `// provenance.KEY: VALUE` lines (RON comments: loading ignores them).
    pub fn ron_comments(&self) -> String {
        self.fields()
            .iter()
            .map(|(k, v)| format!("// provenance.{k}: {}\n", v.replace(['\n', '\r'], " ")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_name_every_fact() {
        let p = Provenance {
            program: program(),
            command: "memrec-tui sweep --grid 'a=1;b=2'".into(),
            data: data(None, None, "synthetic Criteo-shaped stream", 7),
            machine: machine(2),
            budget: "2000 steps".into(),
            result: "ΔAUC +0.0010 [-0.0010, +0.0030]\nline".into(),
        };
        assert!(p.program.starts_with("memrec-tui ") && p.program.contains("(commit "));
        assert!(p.data.ends_with("seed 7") && p.machine.contains("2 thread(s)"));
        assert_eq!(
            data(None, None, "synthetic (seed 3)", 3),
            "synthetic (seed 3)"
        );
        let md = p.markdown();
        assert!(md.contains("- budget: 2000 steps") && md.contains("[-0.0010, +0.0030] line"));
        let ron = p.ron_comments();
        assert_eq!(ron.lines().count(), 6);
        assert!(ron.lines().all(|l| l.starts_with("// provenance.")));
        assert_eq!(quote("a;b"), "'a;b'");
        assert_eq!(quote("--max-bytes=4MiB"), "--max-bytes=4MiB");
    }
}
