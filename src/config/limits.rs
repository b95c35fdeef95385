//! The bounds of every number the config gives, and the checks of the values that cannot
//! work. The NixOS module declares the same bounds (`types.ints.between MIN MAX` in
//! nix/options.nix and nix/targets.nix); tests/it/schema.rs holds both sides to the same
//! numbers by trying each bound and its neighbour.
//!
//! Durations are bounded above as well: a config of 2·10^17 minutes passed `check` once and
//! then overflowed the daemon's clock. A year (and a day) is longer than any interval a
//! monitoring setup means.

use super::raw::{RawDelivery, RawPrometheus, RawQueue};
use super::{DeliverySettings, PrometheusSettings, QueueSettings};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// `timers.check`, minutes: one minute to 365 days.
pub const TIMERS_CHECK: RangeInclusive<u64> = 1..=525_600;
/// `timers.timeout`, minutes: more than the smallest `timers.check`, up to 366 days (so that
/// the longest `timers.check` still has a larger one).
pub const TIMERS_TIMEOUT: RangeInclusive<u64> = 2..=527_040;
/// `timers.grace`, minutes: at least one (a run is never exactly on time), up to 366 days.
pub const TIMERS_GRACE: RangeInclusive<u64> = 1..=527_040;
/// `scriptTimeout`, seconds: up to 366 days, as long as the longest `timers.check` in seconds.
pub const SCRIPT_TIMEOUT: RangeInclusive<u64> = 1..=31_622_400;
/// `delivery.timeout`, seconds per request: an hour at most.
pub const DELIVERY_TIMEOUT: RangeInclusive<u64> = 1..=3600;
/// `delivery.attempts` per request: with the backoff of at most 10 s between two, 100
/// attempts already keep one command busy for a quarter of an hour.
pub const DELIVERY_ATTEMPTS: RangeInclusive<u64> = 1..=100;
/// `delivery.concurrency`: at least one request in flight.
pub const DELIVERY_CONCURRENCY: RangeInclusive<u64> = 1..=MAX_INT;
/// `queue.maxCount`: room for at least one result.
pub const QUEUE_MAX_COUNT: RangeInclusive<u64> = 1..=MAX_INT;
/// `queue.maxBytes`: at least 1 MiB, so that the largest result (64 KiB output and 64 KiB
/// perfdata, each byte JSON-escaped to at most 6) fits into an empty queue.
pub const QUEUE_MAX_BYTES: RangeInclusive<u64> = 1024 * 1024..=MAX_INT;
/// An active check's `timeout`, seconds (the server runs it; the agent reads a u32).
pub const CHECK_TIMEOUT: RangeInclusive<u64> = 1..=u32::MAX as u64;
/// The largest integer a Nix option (and so the module) can hold.
const MAX_INT: u64 = i64::MAX as u64;

/// The longest escaped id: it becomes a unit name, which systemd caps at 255 bytes with the
/// prefix and suffix (the module's `names.maxEscapedIdLength`).
pub const MAX_ESCAPED_ID: usize = 200;
/// The longest check name Healthchecks takes (its `name` field); the check is named by id.
pub const HEALTHCHECKS_NAME: usize = 100;

/// A number from the file, where it is, and whose it is for the message (`""` or
/// `"target h-x: "`).
pub struct Number<'a> {
    pub file: &'a str,
    pub text: &'a str,
    pub whose: &'a str,
}

impl Number<'_> {
    /// `value` when it lies in `range`; else an error at its line naming `key`, the bounds
    /// and `unit`, and why such a value cannot work when that is known.
    pub fn within(
        &self,
        key: &str,
        value: &Spanned<u64>,
        range: &RangeInclusive<u64>,
        unit: &str,
    ) -> anyhow::Result<u64> {
        let v = *value.get_ref();
        if range.contains(&v) {
            return Ok(v);
        }
        let line = super::line_of(self.text, value.span().start);
        let (file, whose) = (self.file, self.whose);
        anyhow::bail!(
            "{file}:{line}: {whose}{}",
            out_of_range(key, v, range, unit)
        )
    }
}

/// `[queue]` with its defaults, each value within its bounds.
pub(super) fn queue(file: &str, text: &str, raw: RawQueue) -> anyhow::Result<QueueSettings> {
    let default = QueueSettings::default();
    let n = Number {
        file,
        text,
        whose: "",
    };
    let count = |v: &Spanned<u64>| n.within("queue.maxCount", v, &QUEUE_MAX_COUNT, "results");
    let bytes = |v: &Spanned<u64>| n.within("queue.maxBytes", v, &QUEUE_MAX_BYTES, "bytes");
    Ok(QueueSettings {
        max_count: match &raw.max_count {
            Some(v) => usize::try_from(count(v)?).unwrap_or(usize::MAX),
            None => default.max_count,
        },
        max_bytes: raw
            .max_bytes
            .as_ref()
            .map(bytes)
            .transpose()?
            .unwrap_or(default.max_bytes),
    })
}

/// `[delivery]` with its defaults, each value within its bounds.
pub(super) fn delivery(
    file: &str,
    text: &str,
    raw: RawDelivery,
) -> anyhow::Result<DeliverySettings> {
    let default = DeliverySettings::default();
    let n = Number {
        file,
        text,
        whose: "",
    };
    let check = |key: &str, v: &Option<Spanned<u64>>, range, unit| {
        v.as_ref()
            .map(|v| n.within(key, v, range, unit))
            .transpose()
    };
    let attempts = check(
        "delivery.attempts",
        &raw.attempts,
        &DELIVERY_ATTEMPTS,
        "attempts",
    )?;
    let timeout = check(
        "delivery.timeout",
        &raw.timeout,
        &DELIVERY_TIMEOUT,
        "seconds",
    )?;
    let concurrency = check(
        "delivery.concurrency",
        &raw.concurrency,
        &DELIVERY_CONCURRENCY,
        "requests",
    )?;
    Ok(DeliverySettings {
        // Both within u32 and usize by their bounds.
        attempts: attempts.map_or(default.attempts, |a| a as u32),
        timeout: timeout.unwrap_or(default.timeout),
        concurrency: concurrency.map_or(default.concurrency, |c| {
            usize::try_from(c).unwrap_or(usize::MAX)
        }),
    })
}

/// `stateDir` as configured, which must be an absolute path: a relative one would be taken
/// from the working directory, which is `/` under systemd.
pub(super) fn state_dir(
    file: &str,
    text: &str,
    raw: Option<Spanned<PathBuf>>,
) -> anyhow::Result<Option<PathBuf>> {
    let Some(dir) = raw else { return Ok(None) };
    absolute(
        file,
        text,
        "stateDir",
        &dir,
        "the state would land below the working directory, / under systemd",
    )?;
    Ok(Some(dir.into_inner()))
}

/// `[prometheus]`: a `textfile`, when given, must be an absolute path to a file.
pub(super) fn prometheus(
    file: &str,
    text: &str,
    raw: Option<RawPrometheus>,
) -> anyhow::Result<PrometheusSettings> {
    let Some(textfile) = raw.and_then(|r| r.textfile) else {
        return Ok(PrometheusSettings::default());
    };
    absolute(
        file,
        text,
        "prometheus.textfile",
        &textfile,
        "the node exporter reads a fixed directory; leave it out for the default",
    )?;
    Ok(PrometheusSettings {
        textfile: Some(textfile.into_inner()),
    })
}

fn absolute(
    file: &str,
    text: &str,
    key: &str,
    path: &Spanned<PathBuf>,
    why: &str,
) -> anyhow::Result<()> {
    let p = path.get_ref();
    if p.is_absolute() {
        return Ok(());
    }
    let line = super::line_of(text, path.span().start);
    let what = match p.as_os_str().is_empty() {
        true => "is empty",
        false => "is not an absolute path",
    };
    anyhow::bail!(
        "{file}:{line}: {key} = {:?} {what}: {why}",
        p.display().to_string()
    )
}

/// `icinga2.caFile`, when given, must be a file that is there: without it no request can be
/// made (a Nix path from the module always is).
pub(super) fn ca_file(file: &str, text: &str, ca: Option<&Spanned<PathBuf>>) -> anyhow::Result<()> {
    let Some(ca) = ca else { return Ok(()) };
    let problem = match std::fs::metadata(ca.get_ref()) {
        Ok(meta) if meta.is_file() => return Ok(()),
        Ok(_) => "is not a regular file".to_string(),
        Err(e) => format!("cannot be read: {e}"),
    };
    let line = super::line_of(text, ca.span().start);
    anyhow::bail!(
        "{file}:{line}: icinga2.caFile {} {problem}; it must be the CA certificate (PEM) that signed the Icinga2 API certificate",
        display(ca.get_ref())
    )
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// "delivery.timeout = 0 is out of range: from 1 to 3600 seconds (0 …)".
pub fn out_of_range(key: &str, v: u64, range: &RangeInclusive<u64>, unit: &str) -> String {
    let bounds = match *range.end() {
        MAX_INT => format!("at least {}", range.start()),
        end => format!("from {} to {end}", range.start()),
    };
    let why = match (key, v) {
        ("delivery.timeout", 0) => {
            " (0 leaves a request no time: every result would be sent again on every pass)"
        }
        ("delivery.attempts", 0) => " (0 attempts would send nothing)",
        ("delivery.concurrency", 0) => " (0 requests in flight would register nothing)",
        ("queue.maxCount", 0) => " (a queue of 0 results refuses every result)",
        ("queue.maxBytes", _) if v < *range.start() => {
            " (the largest result, 64 KiB output and 64 KiB perfdata, JSON-escaped, must fit \
             into an empty queue)"
        }
        (_, 0) => " (0 cannot work)",
        _ => "",
    };
    format!("{key} = {v} is out of range: {bounds} {unit}{why}")
}

/// Characters a `host` or `name` must not hold, besides the C0 and C1 control characters:
/// bidirectional controls (a name that reads differently than it is, U+202E) and line and
/// paragraph separators (a second line in a log or a unit description). The module refuses
/// the same set (nix/escape.nix).
const FORMAT_CHARS: &[char] = &[
    '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{2028}', '\u{2029}',
];

/// What kind of forbidden character `c` is, if it is one: ids name units, files and journal
/// lines, and must read as what they are.
pub fn forbidden(c: char) -> Option<&'static str> {
    match c {
        '\u{2028}' | '\u{2029}' | '\u{0085}' => Some("a line or paragraph separator"),
        c if c.is_control() => Some("a control character"),
        c if FORMAT_CHARS.contains(&c) => Some("a bidirectional control character"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_characters_are_named_by_kind() {
        assert_eq!(forbidden('a'), None);
        assert_eq!(forbidden('快'), None);
        assert_eq!(forbidden('\n'), Some("a control character"));
        assert_eq!(forbidden('\u{7f}'), Some("a control character"));
        assert_eq!(forbidden('\u{9f}'), Some("a control character"));
        assert_eq!(forbidden('\u{85}'), Some("a line or paragraph separator"));
        assert_eq!(forbidden('\u{2028}'), Some("a line or paragraph separator"));
        assert_eq!(forbidden('\u{2029}'), Some("a line or paragraph separator"));
        for c in FORMAT_CHARS
            .iter()
            .filter(|c| !matches!(c, '\u{2028}' | '\u{2029}'))
        {
            assert_eq!(
                forbidden(*c),
                Some("a bidirectional control character"),
                "{c:?}"
            );
        }
        // Neighbours of the ranges are fine.
        for c in [
            '\u{a0}', '\u{2027}', '\u{202F}', '\u{2065}', '\u{206A}', '\u{200D}',
        ] {
            assert_eq!(forbidden(c), None, "{c:?}");
        }
    }

    #[test]
    fn an_out_of_range_value_names_the_key_the_bounds_and_why() {
        assert_eq!(
            out_of_range("delivery.timeout", 0, &DELIVERY_TIMEOUT, "seconds"),
            "delivery.timeout = 0 is out of range: from 1 to 3600 seconds (0 leaves a request \
             no time: every result would be sent again on every pass)"
        );
        assert_eq!(
            out_of_range("queue.maxCount", 0, &QUEUE_MAX_COUNT, "results"),
            "queue.maxCount = 0 is out of range: at least 1 results (a queue of 0 results \
             refuses every result)"
        );
        assert_eq!(
            out_of_range("timers.check", 600_000, &TIMERS_CHECK, "minutes"),
            "timers.check = 600000 is out of range: from 1 to 525600 minutes"
        );
    }
}
