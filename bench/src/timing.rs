//! What every timing driver reports beside its throughput: the median and fastest step, and
//! the process's peak resident memory.

use anyhow::Context;

/// The process's peak resident memory in bytes (`VmHWM` of `/proc/self/status`).
pub fn peak_rss() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .context("no VmHWM in /proc/self/status")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()?;
    Ok(kb * 1024)
}

/// Median and minimum of `times` (seconds); `times` must not be empty.
pub fn median_min(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0])
}
