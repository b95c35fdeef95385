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

// The page writes thousands of these at a time (90 days of each target, the incidents), so
// they append digits themselves: `format!` with padding takes the slow general path.

/// Appends `n` with at least `width` digits (zeros in front).
pub fn push_num(out: &mut String, n: u64, width: usize) {
    let mut digits = [0u8; 20];
    let (mut at, mut n) = (digits.len(), n);
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for _ in (digits.len() - at)..width {
        out.push('0');
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// Appends `2026-11-30`.
pub fn push_date(out: &mut String, day: u32) {
    let (y, m, d) = civil(day);
    push_num(out, y.max(0) as u64, 4);
    out.push('-');
    push_num(out, u64::from(m), 2);
    out.push('-');
    push_num(out, u64::from(d), 2);
}

/// Appends `14:05` (UTC) of a time in milliseconds.
pub fn push_clock(out: &mut String, ms: u64) {
    let minutes = (ms % DAY_MS) / 60_000;
    push_num(out, minutes / 60, 2);
    out.push(':');
    push_num(out, minutes % 60, 2);
}

/// Appends a span for people: `45 s`, `12 min`, `2 h 5 min`, `3 d 4 h`.
pub fn push_span(out: &mut String, ms: u64) {
    let s = ms / 1000;
    let mut two = |big: u64, big_unit: &str, small: u64, small_unit: &str| {
        push_num(out, big, 1);
        out.push_str(big_unit);
        if small > 0 {
            out.push(' ');
            push_num(out, small, 1);
            out.push_str(small_unit);
        }
    };
    match s {
        0..60 => two(s, " s", 0, ""),
        60..3600 => two(s / 60, " min", 0, ""),
        3600..86_400 => two(s / 3600, " h", s / 60 % 60, " min"),
        _ => two(s / 86_400, " d", s / 3600 % 24, " h"),
    }
}

/// `2026-11-30`.
pub fn date(day: u32) -> String {
    let mut out = String::with_capacity(10);
    push_date(&mut out, day);
    out
}

/// `2026-11-30 14:05 UTC`.
pub fn date_time(ms: u64) -> String {
    let mut out = String::with_capacity(20);
    push_date(&mut out, day_of(ms));
    out.push(' ');
    push_clock(&mut out, ms);
    out.push_str(" UTC");
    out
}

/// `2026-11-30T14:05:09Z`, for `<time datetime>` and status.json.
pub fn rfc3339(ms: u64) -> String {
    let mut out = String::with_capacity(20);
    let secs = (ms % DAY_MS) / 1000;
    push_date(&mut out, day_of(ms));
    out.push('T');
    push_num(&mut out, secs / 3600, 2);
    out.push(':');
    push_num(&mut out, secs / 60 % 60, 2);
    out.push(':');
    push_num(&mut out, secs % 60, 2);
    out.push('Z');
    out
}

/// A span for people: `45 s`, `12 min`, `2 h 5 min`, `3 d 4 h`.
pub fn span(ms: u64) -> String {
    let mut out = String::with_capacity(12);
    push_span(&mut out, ms);
    out
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
        let mut clock = String::new();
        push_clock(
            &mut clock,
            1_767_225_600_000 + 14 * HOUR_MS + 5 * 60_000 + 59_999,
        );
        assert_eq!(clock, "14:05");
    }

    #[test]
    fn numbers_are_padded_to_their_width_and_never_cut() {
        let mut out = String::new();
        for (n, width) in [
            (0, 1),
            (7, 2),
            (42, 2),
            (2026, 4),
            (12345, 2),
            (u64::MAX, 1),
        ] {
            push_num(&mut out, n, width);
            out.push(' ');
        }
        assert_eq!(out, format!("0 07 42 2026 12345 {} ", u64::MAX));
        assert_eq!(date(day_of(253_402_300_799_000)), "9999-12-31");
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
            (HOUR_MS + 59 * 60_000 + 59_999, "1 h 59 min"),
            (2 * DAY_MS + 60_000, "2 d"),
        ];
        for (ms, want) in cases {
            assert_eq!(span(ms), want, "{ms} ms");
        }
    }
}
