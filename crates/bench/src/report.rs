//! The results: one [`Figure`] per measured quantity, each with its baseline, ratio and target,
//! rendered as the markdown table the benchmark prints and `docs/benchmarks.md` quotes.

use std::fmt::Write;
use std::time::Duration;

/// One measured quantity next to its raw SQLite baseline.
#[derive(Debug, Clone)]
pub struct Figure {
    /// What is measured.
    pub name: String,
    /// The work done, in words (how many events, campaigns, queries).
    pub work: String,
    /// Pluto's figure, formatted with its unit.
    pub pluto: String,
    /// The baseline's figure, formatted with its unit.
    pub baseline: String,
    /// Pluto's speed relative to the baseline (1.0 = as fast); `None` where a ratio means
    /// nothing (memory).
    pub ratio: Option<f64>,
    /// The target, in words.
    pub target: String,
    /// Whether the target is met.
    pub met: bool,
    /// Items the Pluto side processed (events, campaigns or rows), for sanity checks.
    pub pluto_count: u64,
    /// Items the baseline side processed.
    pub baseline_count: u64,
}

/// The store's figures as a markdown table.
pub fn table(figures: &[Figure]) -> String {
    table_with(figures, "raw SQLite baseline")
}

/// The figures as a markdown table whose baseline column is headed `baseline`.
pub fn table_with(figures: &[Figure], baseline: &str) -> String {
    let mut out = format!(
        "| benchmark | work | Pluto | {baseline} | ratio | target | met |\n\
         |---|---|---:|---:|---:|---|---|\n"
    );
    for f in figures {
        let ratio = f.ratio.map_or_else(|| "—".to_owned(), |r| format!("{r:.2}"));
        let met = if f.met { "yes" } else { "**no**" };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {ratio} | {} | {met} |",
            f.name, f.work, f.pluto, f.baseline, f.target
        );
    }
    out
}

/// `n` with thousands separators: `1,000,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Items per second.
pub fn rate(items: u64, elapsed: Duration) -> f64 {
    items as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// A rate as `12,345 /s`.
pub fn per_second(rate: f64) -> String {
    format!("{} /s", thousands(rate.round() as u64))
}

/// Milliseconds with enough digits for sub-millisecond queries.
pub fn millis(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Bytes in decimal megabytes: `76 MB`.
pub fn megabytes(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

/// The value below which `share` of the sorted samples fall (zero when there are none).
pub fn percentile(sorted: &[Duration], share: f64) -> Duration {
    let rank = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
