//! Byte counts as people read them: binary units (1 KiB = 1024 B) everywhere the crate shows
//! bytes (screen panels, reports, sweep progress lines, chart axes), so one run's size reads the
//! same in every place it appears.
//!
//! Owns: the one byte formatter and the ticks of a logarithmic byte axis. Must never: decide
//! which bytes are counted; callers say it next to the number (table parameters, or with the
//! optimizer state).

/// Binary units, each 1024 times the one before.
const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];

/// `512 B`, `4.00 KiB`, `26.6 KiB`, `1.00 MiB`, `2.01 GiB`: three significant digits in the
/// largest unit that keeps the number at least 1, so columns of sizes line up.
pub fn fmt_bytes(b: u64) -> String {
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else if v >= 100.0 {
        format!("{v:.0} {}", UNITS[u])
    } else if v >= 10.0 {
        format!("{v:.1} {}", UNITS[u])
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

/// `4MiB`, `512 KiB`, `1.5GiB`, `4096` (plain bytes) as bytes. Only binary units: `4MB` or `4M`
/// are refused (is it 4,000,000 or 4,194,304?), with what to write instead.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = (&t[..split], t[split..].trim());
    let mult: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => {
            return Err(format!(
                "`{t}`: write bytes in binary units, e.g. 4MiB, 512KiB, 1GiB, or plain bytes (4194304)"
            ));
        }
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{t}`: not a size; e.g. 4MiB, 512KiB, 1GiB or 4194304"))?;
    // A fraction of a unit (4.1MiB) is rounded to whole bytes; plain bytes must be whole.
    let bytes = if mult > 1 {
        (v * mult as f64).round()
    } else {
        v
    };
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64) || bytes.fract() != 0.0 {
        return Err(format!(
            "`{t}`: a whole number of bytes of at least 1 is needed"
        ));
    }
    Ok(bytes as u64)
}

/// A count of samples: `250k`, `1M`, `2.5M`, `1G`, `64000` (decimal: k = 1000). Counts are not
/// bytes, so the decimal prefixes apply.
pub fn parse_count(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1e3),
        Some((i, 'M')) => (&t[..i], 1e6),
        Some((i, 'G')) => (&t[..i], 1e9),
        _ => (t, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{t}`: not a count; e.g. 250k, 1M, 2.5M or 64000"))?;
    let n = v * mult;
    if !(1.0..1e18).contains(&n) || n.fract() != 0.0 {
        return Err(format!("`{t}`: a whole count of at least 1 is needed"));
    }
    Ok(n as u64)
}

/// `250k`, `1M`, `2.5M`, `64000`: a sample count in the shortest exact decimal form.
pub fn fmt_count(n: u64) -> String {
    for (div, suffix) in [(1_000_000_000u64, "G"), (1_000_000, "M"), (1_000, "k")] {
        if n >= div && (n * 10).is_multiple_of(div) {
            let v = n as f64 / div as f64;
            return format!("{}{suffix}", format!("{v:.1}").trim_end_matches(".0"));
        }
    }
    n.to_string()
}

/// Steps between labelled powers of two on a byte axis: every power, then 4x, 32x, 1024x...
const STEPS: [i32; 6] = [1, 2, 5, 10, 20, 30];

/// A logarithmic byte axis in powers of two: its ends `lo..=hi` (exponents of 2, multiples of
/// `step`) and its labelled ticks every `step` exponents, all evenly spaced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ByteAxis {
    pub lo: i32,
    pub hi: i32,
    pub step: i32,
}

impl ByteAxis {
    /// The axis covering `min..=max` bytes (at least 1) with at most `max_ticks` labels (at least
    /// two: the ends): the finest step that fits.
    pub fn new(min: u64, max: u64, max_ticks: usize) -> ByteAxis {
        let lo_b = (min.max(1) as f64).log2();
        let hi_b = (max.max(min).max(1) as f64).log2();
        let fit = |step: i32| {
            let lo = (lo_b / step as f64).floor() as i32 * step;
            let mut hi = (hi_b / step as f64).ceil() as i32 * step;
            if hi <= lo {
                hi = lo + step;
            }
            ByteAxis { lo, hi, step }
        };
        STEPS
            .iter()
            .map(|&s| fit(s))
            .find(|a| a.ticks().count() <= max_ticks.max(2))
            .unwrap_or_else(|| fit(STEPS[STEPS.len() - 1]))
    }

    /// Exponents of the labelled ticks, from `lo` to `hi`.
    pub fn ticks(&self) -> impl Iterator<Item = i32> + use<> {
        (self.lo..=self.hi).step_by(self.step.max(1) as usize)
    }

    /// Where `bytes` sits on the axis (its log2; `lo..=hi` spans the axis).
    pub fn pos(bytes: u64) -> f64 {
        (bytes.max(1) as f64).log2()
    }

    /// The label of the tick at exponent `e`: `32.0 KiB`.
    pub fn label(e: i32) -> String {
        fmt_bytes(1u64 << e.clamp(0, 63))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_in_binary_units() {
        assert_eq!(fmt_bytes(0), "0 B");
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_bytes(1023), "1023 B");
        assert_eq!(fmt_bytes(4096), "4.00 KiB");
        assert_eq!(fmt_bytes(1536), "1.50 KiB");
        assert_eq!(fmt_bytes(27_238), "26.6 KiB");
        assert_eq!(fmt_bytes(1 << 20), "1.00 MiB");
        assert_eq!(fmt_bytes(2_202_010), "2.10 MiB");
        assert_eq!(fmt_bytes(2_160_804_928), "2.01 GiB");
        assert_eq!(fmt_bytes(200 << 40), "200 TiB");
        assert_eq!(fmt_bytes(u64::MAX), "16777216 TiB");
    }

    #[test]
    fn byte_axis_ticks_are_powers_of_two_that_fit() {
        // 2 000 to 40 000 bytes: 1 KiB .. 64 KiB by powers of two when seven labels fit.
        let a = ByteAxis::new(2_000, 40_000, 8);
        assert_eq!(
            a,
            ByteAxis {
                lo: 10,
                hi: 16,
                step: 1
            }
        );
        let labels: Vec<String> = a.ticks().map(ByteAxis::label).collect();
        assert_eq!(labels.first().map(String::as_str), Some("1.00 KiB"));
        assert_eq!(labels.last().map(String::as_str), Some("64.0 KiB"));
        // Three labels: every 32x.
        let a = ByteAxis::new(2_000, 40_000, 3);
        assert_eq!(
            a,
            ByteAxis {
                lo: 10,
                hi: 20,
                step: 5
            }
        );
        assert_eq!(
            a.ticks().map(ByteAxis::label).collect::<Vec<_>>(),
            ["1.00 KiB", "32.0 KiB", "1.00 MiB"]
        );
        // One size: a whole step around it.
        let a = ByteAxis::new(4096, 4096, 8);
        assert_eq!((a.lo, a.hi), (12, 13));
        assert!(ByteAxis::pos(4096) >= a.lo as f64 && ByteAxis::pos(4096) <= a.hi as f64);
    }

    #[test]
    fn sizes_and_counts_parse() {
        assert_eq!(parse_bytes("4MiB"), Ok(4 << 20));
        assert_eq!(parse_bytes("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_bytes("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("4.1MiB"), Ok(4_299_162));
        for bad in ["4MB", "4M", "", "MiB", "-1", "0", "0.5"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_count("250k"), Ok(250_000));
        assert_eq!(parse_count("1M"), Ok(1_000_000));
        assert_eq!(parse_count("2.5M"), Ok(2_500_000));
        assert_eq!(parse_count("64000"), Ok(64_000));
        for bad in ["", "k", "1.00001k", "-3", "1MiB", "x"] {
            assert!(parse_count(bad).is_err(), "{bad}");
        }
        assert_eq!(fmt_count(250_000), "250k");
        assert_eq!(fmt_count(2_500_000), "2.5M");
        assert_eq!(fmt_count(256_000), "256k");
        assert_eq!(fmt_count(250_112), "250112");
    }
}
