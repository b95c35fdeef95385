//! A passive check result: what was measured, when, and the id a server can deduplicate on.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Output and perfdata longer than this are cut, keeping the end (where errors usually are).
pub const MAX_TEXT: usize = 64 * 1024;

/// Nagios states, the only ones a result may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum State {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl TryFrom<u8> for State {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, String> {
        match n {
            0 => Ok(State::Ok),
            1 => Ok(State::Warning),
            2 => Ok(State::Critical),
            3 => Ok(State::Unknown),
            _ => Err(format!(
                "state {n} is not one of 0 (OK), 1 (WARNING), 2 (CRITICAL), 3 (UNKNOWN)"
            )),
        }
    }
}

impl From<State> for u8 {
    fn from(s: State) -> u8 {
        s as u8
    }
}

impl std::str::FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let n: u8 = s.trim().parse().map_err(|_| {
            format!(
                "state {s:?} is not a number; use 0 (OK), 1 (WARNING), 2 (CRITICAL) or 3 (UNKNOWN)"
            )
        })?;
        State::try_from(n)
    }
}

impl State {
    /// `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`.
    pub fn label(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }
}

/// One result, as queued on disk and handed to a backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Unique per result and stable across retries, so a server can drop duplicates.
    pub id: String,
    /// The target's id, `<host>-<name>`.
    pub target: String,
    pub host: String,
    pub name: String,
    pub state: State,
    pub output: String,
    pub perfdata: String,
    /// When it was measured: milliseconds since the Unix epoch.
    pub measured_at_ms: u64,
    /// How long the script ran, when a script produced it.
    pub duration_ms: Option<u64>,
}

impl CheckResult {
    /// A result measured now, with a fresh id; output and perfdata cut to [`MAX_TEXT`].
    pub fn new(
        target: &crate::targets::Target,
        state: State,
        output: &str,
        perfdata: &str,
    ) -> CheckResult {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        CheckResult {
            id: new_id(now),
            target: target.id.clone(),
            host: target.host.clone(),
            name: target.name.clone(),
            state,
            output: keep_tail(output, MAX_TEXT),
            perfdata: keep_tail(perfdata, MAX_TEXT),
            measured_at_ms: now.as_millis() as u64,
            duration_ms: None,
        }
    }

    /// When the check ran, as a [`SystemTime`].
    pub fn measured_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.measured_at_ms)
    }
}

/// The latest time a result may carry: 9999-12-31T23:59:59.999Z, in ms after the epoch. RFC
/// 3339 has no later year; a spooled result from after it made every command that printed
/// or sent its time panic, and stopped every delivery for good.
pub const LATEST_MS: u64 = 253_402_300_799_999;

impl CheckResult {
    /// Why a result read from a file cannot be used, if it cannot: an id that is not
    /// `<nanoseconds>-<pid>-<counter>` (it names files and goes out as the `Idempotency-Key`
    /// header), or a time after [`LATEST_MS`].
    pub fn problem(&self) -> Option<String> {
        let parts: Vec<&str> = self.id.split('-').collect();
        let digits =
            |s: &&str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        let id_ms = parts
            .first()
            .and_then(|n| n.parse::<u128>().ok())
            .map(|ns| ns / 1_000_000);
        if parts.len() != 3
            || !parts.iter().all(digits)
            || id_ms.is_none_or(|ms| ms > u128::from(LATEST_MS))
        {
            return Some(format!(
                "its id {:?} is not <nanoseconds>-<pid>-<counter> of a time up to the year 9999",
                self.id.chars().take(80).collect::<String>()
            ));
        }
        if self.measured_at_ms > LATEST_MS {
            return Some(format!(
                "measured_at_ms {} is after the year 9999",
                self.measured_at_ms
            ));
        }
        None
    }

    /// The result with output and perfdata cut to [`MAX_TEXT`] as any other result's are
    /// (for results that come from a file others could write, the spool).
    pub fn cut(mut self) -> CheckResult {
        if self.output.len() > MAX_TEXT {
            self.output = keep_tail(&self.output, MAX_TEXT);
        }
        if self.perfdata.len() > MAX_TEXT {
            self.perfdata = keep_tail(&self.perfdata, MAX_TEXT);
        }
        self
    }
}

/// `<nanoseconds>-<pid>-<counter>`: sorts by time of measurement, unique on this machine even
/// for results made in the same nanosecond by parallel processes.
fn new_id(now: Duration) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:020}-{}-{n}", now.as_nanos(), std::process::id())
}

/// Cuts `text` to at most `max` bytes, keeping the end and saying how much was cut.
pub fn keep_tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let marker_room = 64;
    let mut start = text.len() - (max - marker_room);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!(
        "[cut: first {start} of {} bytes dropped] {}",
        text.len(),
        &text[start..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_outside_0_to_3_are_refused() {
        assert_eq!("2".parse::<State>(), Ok(State::Critical));
        assert!("7"
            .parse::<State>()
            .unwrap_err()
            .contains("state 7 is not one of"));
        assert!("x".parse::<State>().unwrap_err().contains("not a number"));
    }

    #[test]
    fn long_text_keeps_the_tail_within_the_limit() {
        let text = format!("{}END", "快".repeat(100_000));
        let cut = keep_tail(&text, MAX_TEXT);
        assert!(cut.len() <= MAX_TEXT, "{}", cut.len());
        assert!(cut.starts_with("[cut: first "));
        assert!(cut.ends_with("快END"));
    }

    fn passive_target() -> crate::targets::Target {
        crate::targets::Target {
            id: "h-n".into(),
            host: "h".into(),
            name: "n".into(),
            tags: vec![],
            public: true,
            key: None,
            line: 1,
            failure_threshold: 1,
            kind: crate::targets::TargetKind::Passive(crate::targets::Passive {
                script: String::new(),
                check_minutes: 1,
                timeout_minutes: 2,
                calendar: None,
                script_timeout: Duration::from_secs(60),
                notify: Default::default(),
            }),
        }
    }

    #[test]
    fn perfdata_is_capped_at_64_kib_with_the_exact_cut_marker() {
        assert_eq!(MAX_TEXT, 65536);
        // 100003 bytes; 65536 - 64 = 65472 are kept, so the first 100003 - 65472 = 34531 go.
        let perfdata = format!("{}END", "p".repeat(100_000));
        let r = CheckResult::new(&passive_target(), State::Ok, "fine", &perfdata);
        let want = format!(
            "[cut: first 34531 of 100003 bytes dropped] {}END",
            "p".repeat(65469)
        );
        assert_eq!(r.perfdata, want);
        assert_eq!(r.output, "fine");
    }

    #[test]
    fn perfdata_of_exactly_64_kib_is_kept_and_one_byte_more_is_cut() {
        let exact = "q".repeat(65536);
        let r = CheckResult::new(&passive_target(), State::Ok, "", &exact);
        assert_eq!(r.perfdata, exact);
        let over = "q".repeat(65537);
        let r = CheckResult::new(&passive_target(), State::Ok, "", &over);
        assert_eq!(
            r.perfdata,
            format!(
                "[cut: first 65 of 65537 bytes dropped] {}",
                "q".repeat(65472)
            )
        );
    }

    #[test]
    fn short_text_is_untouched() {
        assert_eq!(keep_tail("it's $(fine)\n", MAX_TEXT), "it's $(fine)\n");
    }

    #[test]
    fn ids_are_unique_and_time_ordered() {
        let a = new_id(Duration::from_secs(1));
        let b = new_id(Duration::from_secs(1));
        let c = new_id(Duration::from_secs(2));
        assert_ne!(a, b);
        assert!(a < c && b < c);
    }

    #[test]
    fn labels_are_the_nagios_names() {
        // `run` and `status` print these; the order is the state's number.
        let labels: Vec<(u8, &str)> = [State::Ok, State::Warning, State::Critical, State::Unknown]
            .into_iter()
            .map(|s| (u8::from(s), s.label()))
            .collect();
        assert_eq!(
            labels,
            [(0, "OK"), (1, "WARNING"), (2, "CRITICAL"), (3, "UNKNOWN")]
        );
    }

    #[test]
    fn measured_at_is_the_stored_milliseconds_after_the_epoch() {
        let mut r = CheckResult::new(&passive_target(), State::Ok, "", "");
        r.measured_at_ms = 1_767_225_600_123; // 2026-01-01T00:00:00.123Z
        assert_eq!(
            humantime::format_rfc3339_millis(r.measured_at()).to_string(),
            "2026-01-01T00:00:00.123Z"
        );
    }

    #[test]
    fn a_result_from_a_file_needs_a_well_formed_id_and_a_time_up_to_9999() {
        let mut r = CheckResult::new(&passive_target(), State::Ok, "", "");
        assert_eq!(r.problem(), None);
        r.measured_at_ms = LATEST_MS;
        assert_eq!(r.problem(), None);
        r.measured_at_ms = LATEST_MS + 1;
        assert_eq!(
            r.problem().as_deref(),
            Some("measured_at_ms 253402300800000 is after the year 9999")
        );
        r.measured_at_ms = 1;
        for (id, ok) in [
            ("00000000000000000001-2-3", true),
            ("253402300799999999999-1-0", false), // 21 digits
            ("25340230079999999999-1-0", true),   // 20 digits, year 2773
            ("1-2", false),
            ("1-2-3-4", false),
            ("1--3", false),
            ("a-2-3", false),
            ("1-2-3\r\nX-Injected: 1", false),
            ("１-2-3", false), // a full-width digit
        ] {
            r.id = id.to_string();
            assert_eq!(r.problem().is_none(), ok, "{id:?}: {:?}", r.problem());
        }
        r.id = "1-2-3\n".into();
        assert_eq!(
            r.problem().as_deref(),
            Some("its id \"1-2-3\\n\" is not <nanoseconds>-<pid>-<counter> of a time up to the year 9999")
        );
    }

    #[test]
    fn a_result_from_a_file_gets_the_same_cut_as_any_other() {
        let mut r = CheckResult::new(&passive_target(), State::Ok, "", "");
        r.output = "o".repeat(MAX_TEXT + 1);
        r.perfdata = "p".repeat(MAX_TEXT);
        let cut = r.clone().cut();
        assert_eq!(cut.output, keep_tail(&r.output, MAX_TEXT));
        assert!(cut
            .output
            .starts_with("[cut: first 65 of 65537 bytes dropped] "));
        assert_eq!(cut.perfdata, r.perfdata, "exactly 64 KiB is kept");
        r.perfdata.push('p');
        assert!(r
            .cut()
            .perfdata
            .starts_with("[cut: first 65 of 65537 bytes dropped] "));
    }

    #[test]
    fn a_cut_inside_a_multi_byte_char_moves_forward_to_the_next_char() {
        // "a" then 50000 two-byte chars then "b": 100002 bytes. The cut would start at byte
        // 100002 - 65472 = 34530, inside an "é" (they start at odd offsets), so it starts at
        // 34531: that char is dropped whole, the text stays valid and within the limit.
        let text = format!("a{}b", "é".repeat(50_000));
        let cut = keep_tail(&text, MAX_TEXT);
        assert_eq!(
            cut,
            format!(
                "[cut: first 34531 of 100002 bytes dropped] {}b",
                "é".repeat(32_735)
            )
        );
        assert!(cut.len() <= MAX_TEXT);
    }
}

/// Property tests (proptest): any text in, no panic, a faithful value out.
#[cfg(test)]
pub(crate) mod props;

/// Splitting perfdata text, for the backends that take it apart.
pub mod perfdata;
