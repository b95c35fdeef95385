//! The runs [`Spec`] enumerates against the real `systemd-analyze calendar --iterations`, in
//! time zones with and without daylight-saving changes, across those changes.

use super::*;
use std::process::Command;

/// 2026-03-20 00:00 UTC: before the EU's spring change (2026-03-29) and after the US's
/// (2026-03-08).
const SPRING: i64 = 1_773_964_800;
/// 2026-10-20 00:00 UTC: before the EU's (2026-10-25) and the US's (2026-11-01) fall-back.
const FALL: i64 = 1_792_454_400;
/// 2026-02-25 00:00 UTC: across the end of a February, the leap-year question and March.
const FEBRUARY: i64 = 1_771_977_600;

/// What systemd-analyze says: the normalized form and the first `n` runs after `base`
/// (seconds), each `YYYY-MM-DD HH:MM:SS UTC`, computed with `TZ=zone`.
fn systemd(expr: &str, zone: &str, base: i64, n: usize) -> (String, Vec<String>) {
    let out = Command::new("systemd-analyze")
        .args(["calendar", &format!("--base-time=@{base}")])
        .arg(format!("--iterations={n}"))
        .arg(expr)
        .env("TZ", format!(":{zone}"))
        .env("LC_ALL", "C")
        .output()
        .expect("systemd-analyze (Debian: systemd) is needed by this test");
    assert!(
        out.status.success(),
        "{expr}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let normalized = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Normalized form:"))
        .unwrap()
        .trim()
        .to_string();
    let utc = zone == "UTC";
    let runs = text
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            let value = if utc {
                l.strip_prefix("Next elapse:").or_else(|| {
                    l.split_once("Iter. #")
                        .and_then(|(_, r)| Some(r.split_once(':')?.1))
                })
            } else {
                l.strip_prefix("(in UTC):")
            }?;
            let value = value.trim();
            Some(value.split_once(' ').map_or(value, |(_, d)| d).to_string())
        })
        .collect();
    (normalized, runs)
}

fn ours(normalized: &str, zone: &str, base: i64, n: usize) -> Vec<String> {
    let local = TimeZone::get(zone).unwrap();
    let spec = Spec::parse(normalized, &local).unwrap();
    spec.elapses_after(base * SECOND)
        .take(n)
        .map(|us| {
            jiff::Timestamp::from_microsecond(us)
                .unwrap()
                .strftime("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        })
        .collect()
}

fn agree(expr: &str, zone: &str, base: i64, n: usize) {
    let (normalized, theirs) = systemd(expr, zone, base, n);
    assert_eq!(
        theirs.len(),
        n,
        "{expr} in {zone}: systemd printed {theirs:?}"
    );
    let got = ours(&normalized, zone, base, n);
    for (i, (a, b)) in got.iter().zip(&theirs).enumerate() {
        assert_eq!(
            a,
            b,
            "{expr} ({normalized}) in {zone} from @{base}: run {} differs",
            i + 1
        );
    }
    assert_eq!(got.len(), n, "{expr} in {zone}");
}

#[test]
fn runs_agree_with_systemd_analyze() {
    let cases: &[(&str, usize)] = &[
        ("daily", 40),
        ("hourly", 60),
        ("minutely", 200),
        ("weekly", 10),
        ("monthly", 14),
        ("quarterly", 6),
        ("semiannually", 4),
        ("yearly", 3),
        ("Mon..Fri 18:00", 30),
        ("Sat,Sun 12:00", 12),
        ("Mon,Wed,Fri *-*-* 02:30", 20),
        ("*-*-* 02:30", 40),
        ("*-*-* 02,03:15,45", 60),
        ("*-*-* 01..04:00/20", 60),
        ("*:0/15", 300),
        ("*:07/10:30", 300),
        ("*-*~01 03:00", 13),
        ("*-*~03 03:00", 13),
        ("*-02~01", 4),
        ("*-*~07/2 12:00", 20),
        ("*-*-1,15 04:00", 20),
        ("*-*-29..31 23:59", 20),
        ("*-02-29 00:00", 3),
        ("*-1/2-1 06:00", 8),
        ("2027..2029-06-01 12:00", 3),
        ("Fri *-*-13 13:13", 5),
        ("*-*-* *:*:0/20", 400),
        ("Mon *-*-* 03:00 Europe/Berlin", 10),
        ("*-*-* 02:30 America/New_York", 40),
        ("*-*-* 12:00 UTC", 10),
    ];
    for zone in [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",
    ] {
        for base in [SPRING, FALL, FEBRUARY] {
            for &(expr, n) in cases {
                agree(expr, zone, base, n);
            }
        }
    }
}

#[test]
fn every_hour_through_both_changes_of_a_year_agrees() {
    // 2026-03-01 to 2026-11-10: 6,000 hourly runs cross both changes in both zones.
    for zone in ["Europe/Berlin", "America/New_York"] {
        agree("*:30", zone, 1_772_323_200, 6000);
        agree("*-*-* 00,01,02,03:00,30", zone, 1_772_323_200, 3000);
    }
}

#[test]
fn the_normalized_grammar_is_read() {
    let utc = TimeZone::UTC;
    let spec = Spec::parse("Mon..Wed,Fri *-*-* 01,03..05:00/20:07.500000", &utc).unwrap();
    assert_eq!(spec.weekdays, 0b10111);
    assert_eq!(spec.times.len(), 4 * 3);
    assert_eq!(spec.times[0], HOUR + 7 * SECOND + 500_000);
    assert!(Spec::parse("*-*-*", &utc).is_err());
    assert!(Spec::parse("*-*-* 00:00:00 Nowhere/City", &utc).is_err());
    let err = Spec::parse("*-*-* *:*:00/0.000010", &utc).unwrap_err();
    assert!(err.0.contains("times a day"), "{err}");
}
