//! Timestamps: unix seconds, or `YYYY-MM-DD HH:MM:SS` date-times (read as UTC) converted to
//! unix seconds, so every dataset stores time the same way.

/// Parses unix seconds (an integer) or a `YYYY-MM-DD HH:MM:SS` / `YYYY-MM-DDTHH:MM:SS` UTC
/// date-time; the error says what was expected.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    parse_datetime(text).ok_or_else(|| {
        format!("{text:?} is neither unix seconds nor a YYYY-MM-DD HH:MM:SS date-time")
    })
}

fn parse_datetime(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = &text[range];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the usual era-based computation).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_become_unix_seconds() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Ok(0));
        assert_eq!(parse_timestamp("2016-02-25 13:05:09"), Ok(1_456_405_509));
        assert_eq!(parse_timestamp("2000-03-01T00:00:00"), Ok(951_868_800));
        assert_eq!(parse_timestamp("874724710"), Ok(874_724_710));
    }

    #[test]
    fn malformed_datetimes_are_refused() {
        for bad in [
            "2016-02-30 00:00:00",
            "2016-13-01 00:00:00",
            "2016-02-25",
            "yesterday",
            "2016-02-25 24:00:00",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }
}
