//! What every timing driver measures: training steps timed one by one (median and fastest),
//! and the process's peak resident memory.

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

/// What [`time_steps`] measured.
pub struct StepTiming {
    /// The median step, seconds.
    pub median: f64,
    /// The fastest step, seconds.
    pub min: f64,
    /// The loss of the last step.
    pub loss: f32,
}

/// Runs `step` on `batches` (cycled) `warmup` times untimed, then `steps` times timed one by
/// one (`steps` at least 1).
pub fn time_steps<B>(
    batches: &[B],
    warmup: usize,
    steps: usize,
    mut step: impl FnMut(&B) -> anyhow::Result<f32>,
) -> anyhow::Result<StepTiming> {
    let mut loss = 0.0;
    for b in batches.iter().cycle().take(warmup) {
        loss = step(b)?;
    }
    let mut times = Vec::with_capacity(steps);
    for b in batches.iter().cycle().take(steps) {
        let start = std::time::Instant::now();
        loss = step(b)?;
        times.push(start.elapsed().as_secs_f64());
    }
    let (median, min) = median_min(times);
    Ok(StepTiming { median, min, loss })
}

/// Median and minimum of `times` (seconds); `times` must not be empty.
pub fn median_min(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0])
}
