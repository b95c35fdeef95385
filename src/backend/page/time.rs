//! Times as the page shows them: UTC dates and clock times, and spans ("2 h 5 min"). The page
//! is written by a service whose time zone is not the reader's, so it says UTC throughout.

pub const DAY_MS: u64 = 86_400_000;
pub const HOUR_MS: u64 = 3_600_000;

/// The UTC day (days since 1970-01-01) of a time in milliseconds.
pub fn day_of(ms: u64) -> u32 {
    (ms / DAY_MS) as u32
}

/// (year, month, day) of a day number: Howard Hinnant's `civil_from_days`.
fn civil(day: u32) -> (i64, u32, u32) {
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `2026-11-30`.
pub fn date(day: u32) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `14:05` (UTC) of a time in milliseconds.
pub fn clock(ms: u64) -> String {
    let minutes = (ms % DAY_MS) / 60_000;
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `2026-11-30 14:05 UTC`.
pub fn date_time(ms: u64) -> String {
    format!("{} {} UTC", date(day_of(ms)), clock(ms))
}

/// `2026-11-30T14:05:09Z`, for `<time datetime>` and status.json.
pub fn rfc3339(ms: u64) -> String {
    let secs = (ms % DAY_MS) / 1000;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date(day_of(ms)),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// A span for people: `45 s`, `12 min`, `2 h 5 min`, `3 d 4 h`.
pub fn span(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => match s / 60 % 60 {
            0 => format!("{} h", s / 3600),
            m => format!("{} h {m} min", s / 3600),
        },
        _ => match s / 3600 % 24 {
            0 => format!("{} d", s / 86_400),
            h => format!("{} d {h} h", s / 86_400),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_clock_times_are_utc() {
        // 2026-01-01T00:00:00Z and the last millisecond of 2024-02-29 (a leap day).
        assert_eq!(rfc3339(1_767_225_600_000), "2026-01-01T00:00:00Z");
        assert_eq!(date_time(1_709_251_199_999), "2024-02-29 23:59 UTC");
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(day_of(951_782_400_000)), "2000-02-29");
        assert_eq!(
            clock(1_767_225_600_000 + 14 * HOUR_MS + 5 * 60_000 + 59_999),
            "14:05"
        );
    }

    #[test]
    fn spans_read_as_people_say_them() {
        let cases = [
            (0, "0 s"),
            (59_999, "59 s"),
            (60_000, "1 min"),
            (HOUR_MS, "1 h"),
            (2 * HOUR_MS + 5 * 60_000, "2 h 5 min"),
            (DAY_MS, "1 d"),
            (3 * DAY_MS + 4 * HOUR_MS + 59_000, "3 d 4 h"),
        ];
        for (ms, want) in cases {
            assert_eq!(span(ms), want, "{ms} ms");
        }
    }
}
