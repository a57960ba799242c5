//! Wall-clock time as the run store records it (unix seconds, `f64`) and as MLflow wants it
//! (unix milliseconds), plus a UTC rendering for tables and run-folder names.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Unix seconds to the unix milliseconds MLflow timestamps use.
pub fn to_millis(unix_seconds: f64) -> i64 {
    (unix_seconds * 1000.0).round() as i64
}

/// Renders unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn format_utc(unix_seconds: f64) -> String {
    let (date, time) = split_utc(unix_seconds);
    format!("{date} {time}")
}

/// Renders unix seconds as `YYYYMMDD-HHMMSS` (UTC), for folder names that sort by time.
pub fn compact_utc(unix_seconds: f64) -> String {
    format_utc(unix_seconds)
        .replace(['-', ':'], "")
        .replace(' ', "-")
}

fn split_utc(unix_seconds: f64) -> (String, String) {
    let secs = unix_seconds.max(0.0).floor() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_utc(0.0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(951_782_400.0), "2000-02-29 00:00:00");
        assert_eq!(format_utc(1_795_888_663.5), "2026-11-28 17:57:43");
        assert_eq!(compact_utc(1_795_888_663.0), "20261128-175743");
        assert_eq!(to_millis(1.2345), 1235);
    }
}
