//! The textfile: every known target as gauges in Prometheus' text exposition format (0.0.4),
//! one family after the other, each with `# HELP` and `# TYPE`, series sorted by target id.

use super::store::{Entry, Store};
use std::fmt::Write;

/// One metric family: name, help text, and how an entry gives its samples.
struct Family {
    name: &'static str,
    help: &'static str,
    samples: for<'a> fn(&'a Entry, &mut Vec<Sample<'a>>),
}

/// A sample's `label` and `uom` (perfdata only) and its value as written.
type Sample<'a> = (Option<&'a str>, Option<&'a str>, String);

const FAMILIES: &[Family] = &[
    Family {
        name: "nixcloud_monitoring_state",
        help: "State of the target's last result: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
        samples: |e, out| {
            if let Some(last) = &e.last {
                out.push((None, None, u8::from(last.state).to_string()));
            }
        },
    },
    Family {
        name: "nixcloud_monitoring_last_result_timestamp_seconds",
        help: "When the target's last result was measured, in seconds since the Unix epoch.",
        samples: |e, out| {
            if let Some(last) = &e.last {
                out.push((None, None, seconds(last.measured_at_ms)));
            }
        },
    },
    Family {
        name: "nixcloud_monitoring_check_interval_seconds",
        help: "How often the target is expected to report (timers.check).",
        samples: |e, out| {
            if let Some(m) = e.check_minutes {
                out.push((None, None, (m * 60).to_string()));
            }
        },
    },
    Family {
        name: "nixcloud_monitoring_timeout_seconds",
        help: "Silence after which the target counts as stale (timers.timeout).",
        samples: |e, out| {
            if let Some(m) = e.timeout_minutes {
                out.push((None, None, (m * 60).to_string()));
            }
        },
    },
    Family {
        name: "nixcloud_monitoring_failures_in_a_row",
        help: "Non-OK results in a row up to the last one (0 after an OK).",
        samples: |e, out| {
            if e.last.is_some() {
                out.push((None, None, e.failures_in_a_row.to_string()));
            }
        },
    },
    Family {
        name: "nixcloud_monitoring_failure_threshold",
        help: "Non-OK results in a row before the target counts as failing (failureThreshold).",
        samples: |e, out| {
            if let Some(n) = e.failure_threshold {
                out.push((None, None, n.to_string()));
            }
        },
    },
    Family {
        name: "nixcloud_monitoring_registered_timestamp_seconds",
        help: "When the target was last registered, in seconds since the Unix epoch.",
        samples: |e, out| {
            if let Some(ms) = e.registered_ms {
                out.push((None, None, seconds(ms)));
            }
        },
    },
    Family {
        name: "nixcloud_monitoring_run_duration_seconds",
        help: "How long the script that made the last result ran.",
        samples: |e, out| {
            if let Some(ms) = e.last.as_ref().and_then(|l| l.duration_ms) {
                out.push((None, None, seconds(ms)));
            }
        },
    },
    Family {
        name: "nixcloud_monitoring_perfdata",
        help: "Performance data of the last result, one series per label (unit in uom).",
        samples: |e, out| {
            for v in e.last.iter().flat_map(|l| &l.perfdata) {
                out.push((Some(&v.label), Some(&v.uom), v.value.to_string()));
            }
        },
    },
];

/// The whole file.
pub fn render(store: &Store) -> String {
    let mut text = String::with_capacity(256 * store.targets.len() + 1024);
    let mut samples = Vec::new();
    for family in FAMILIES {
        let mut header = false;
        for (id, entry) in &store.targets {
            samples.clear();
            (family.samples)(entry, &mut samples);
            for (label, uom, value) in &samples {
                if !header {
                    let _ = writeln!(text, "# HELP {} {}", family.name, family.help);
                    let _ = writeln!(text, "# TYPE {} gauge", family.name);
                    header = true;
                }
                let _ = write!(
                    text,
                    "{}{{target=\"{}\",host=\"{}\",service=\"{}\"",
                    family.name,
                    Escaped(id),
                    Escaped(&entry.host),
                    Escaped(&entry.name)
                );
                if let (Some(label), Some(uom)) = (label, uom) {
                    let _ = write!(
                        text,
                        ",label=\"{}\",uom=\"{}\"",
                        Escaped(label),
                        Escaped(uom)
                    );
                }
                let _ = writeln!(text, "}} {value}");
            }
        }
    }
    text
}

/// Milliseconds as seconds with three decimals, exactly (no float rounding).
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// A label value with `\`, `"` and newline escaped, as the exposition format wants.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['\\', '"', '\n']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'\\' => "\\\\",
                b'"' => "\\\"",
                _ => "\\n",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::super::perfdata::Value;
    use super::super::store::{Entry, Last, Store};
    use super::*;
    use crate::result::State;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(Escaped("a\\b\"c\nd\re").to_string(), "a\\\\b\\\"c\\nd\re");
        assert_eq!(Escaped("plain ü").to_string(), "plain ü");
    }

    #[test]
    fn seconds_are_exact() {
        assert_eq!(seconds(1_700_000_000_123), "1700000000.123");
        assert_eq!(seconds(5), "0.005");
    }

    #[test]
    fn families_without_samples_are_left_out_and_series_are_grouped() {
        let mut store = Store::default();
        store.targets.insert(
            "h-a".into(),
            Entry {
                host: "h".into(),
                name: "a".into(),
                check_minutes: Some(5),
                timeout_minutes: Some(15),
                failure_threshold: Some(3),
                failures_in_a_row: 0,
                registered_ms: Some(1000),
                last: None,
            },
        );
        store.targets.insert(
            "h-b".into(),
            Entry {
                host: "h".into(),
                name: "b".into(),
                check_minutes: None,
                timeout_minutes: None,
                failure_threshold: None,
                failures_in_a_row: 2,
                registered_ms: None,
                last: Some(Last {
                    id: "1".into(),
                    state: State::Critical,
                    measured_at_ms: 2500,
                    duration_ms: None,
                    perfdata: vec![Value {
                        label: "x".into(),
                        value: 0.25,
                        uom: "s".into(),
                    }],
                }),
            },
        );
        let text = render(&store);
        assert!(!text.contains("run_duration"), "{text}");
        assert!(text.contains(
            "nixcloud_monitoring_check_interval_seconds{target=\"h-a\",host=\"h\",service=\"a\"} 300\n"
        ));
        assert!(text.contains(
            "nixcloud_monitoring_perfdata{target=\"h-b\",host=\"h\",service=\"b\",label=\"x\",uom=\"s\"} 0.25\n"
        ));
        assert!(
            text.contains("nixcloud_monitoring_state{target=\"h-b\",host=\"h\",service=\"b\"} 2\n")
        );
        assert!(text.contains(
            "nixcloud_monitoring_failures_in_a_row{target=\"h-b\",host=\"h\",service=\"b\"} 2\n"
        ));
        assert!(text.contains(
            "nixcloud_monitoring_failure_threshold{target=\"h-a\",host=\"h\",service=\"a\"} 3\n"
        ));
        assert_eq!(text.matches("# TYPE").count(), 8, "{text}");
    }
}
