//! `systemd-analyze calendar`: systemd's own parser says whether an expression is valid, and
//! gives its normalized form (the one [`super::spec`] reads) and its next elapse. One call
//! for any number of expressions.

use std::collections::HashMap;
use std::process::Command;

/// What systemd said about one expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Valid {
        normalized: String,
        /// `Next elapse`, in UTC, to the second (`None`: "never").
        next: Option<String>,
    },
    /// systemd's message, e.g. `Failed to parse calendar specification 'foo': Invalid
    /// argument`.
    Refused(String),
}

/// The program; `$NIXCLOUD_SYSTEMD_ANALYZE` names another (tests only use the real one).
fn program() -> String {
    std::env::var("NIXCLOUD_SYSTEMD_ANALYZE").unwrap_or_else(|_| "systemd-analyze".into())
}

/// Asks systemd about every expression in `exprs` (distinct, in any order) at once.
pub fn ask(exprs: &[&str]) -> anyhow::Result<HashMap<String, Answer>> {
    let mut answers = HashMap::new();
    // Well below any command-line limit.
    for batch in exprs.chunks(500) {
        let out = Command::new(program())
            .arg("calendar")
            .args(batch)
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| {
                anyhow::anyhow!(
                    "could not run {} (part of systemd), which checks timers.calendar \
                     expressions: {e}",
                    program()
                )
            })?;
        answers.extend(parse(
            batch,
            &String::from_utf8_lossy(&out.stdout),
            &String::from_utf8_lossy(&out.stderr),
        )?);
    }
    Ok(answers)
}

/// Splits the output of one call into answers: refusals come on stderr, naming the
/// expression; every accepted one has a block on stdout, in the order given, starting with
/// its `Normalized form:` (an `Original form:` line before it only when the two differ).
fn parse(exprs: &[&str], stdout: &str, stderr: &str) -> anyhow::Result<HashMap<String, Answer>> {
    let mut refused: HashMap<&str, String> = HashMap::new();
    for line in stderr.lines() {
        for e in exprs {
            if line.contains(&format!("'{e}'")) {
                refused.insert(e, line.trim().to_string());
            }
        }
    }
    let mut blocks = stdout
        .split("Normalized form:")
        .skip(1)
        .map(block)
        .collect::<Vec<_>>()
        .into_iter();
    let mut answers = HashMap::new();
    for e in exprs {
        if let Some(message) = refused.remove(e) {
            answers.insert(e.to_string(), Answer::Refused(message));
            continue;
        }
        let Some(answer) = blocks.next() else {
            anyhow::bail!(
                "{} calendar gave no answer for {e:?}: {}",
                program(),
                stderr.trim()
            );
        };
        answers.insert(e.to_string(), answer);
    }
    Ok(answers)
}

/// One stdout block: its normalized form and next elapse (the UTC line where systemd prints
/// one besides the local time).
fn block(text: &str) -> Answer {
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key).map(|v| v.trim().to_string()))
    };
    let next = match (value("(in UTC):"), value("Next elapse:")) {
        (Some(utc), _) => Some(utc),
        (None, Some(n)) if n != "never" => Some(n),
        _ => None,
    };
    Answer::Valid {
        normalized: text.lines().next().unwrap_or("").trim().to_string(),
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_and_blocks_are_matched_to_their_expressions() {
        // An expression already in normalized form gets no "Original form:" line.
        let stdout = "  Original form: daily\nNormalized form: *-*-* 00:00:00\n    Next elapse: Fri 2026-12-04 00:00:00 CET\n       (in UTC): Thu 2026-12-03 23:00:00 UTC\n       From now: 7h left\n\n\n  Original form: 2020-01-01\nNormalized form: 2020-01-01 00:00:00\n    Next elapse: never\n\nNormalized form: *-*-* 00:01:00\n    Next elapse: Fri 2026-12-04 00:01:00 UTC\n       From now: 7h left\n";
        let stderr = "Failed to parse calendar specification 'foo': Invalid argument\n";
        let got = parse(
            &["daily", "foo", "2020-01-01", "*-*-* 00:01:00"],
            stdout,
            stderr,
        )
        .unwrap();
        assert_eq!(
            got["*-*-* 00:01:00"],
            Answer::Valid {
                normalized: "*-*-* 00:01:00".into(),
                next: Some("Fri 2026-12-04 00:01:00 UTC".into())
            }
        );
        assert_eq!(
            got["daily"],
            Answer::Valid {
                normalized: "*-*-* 00:00:00".into(),
                next: Some("Thu 2026-12-03 23:00:00 UTC".into())
            }
        );
        assert_eq!(
            got["foo"],
            Answer::Refused(
                "Failed to parse calendar specification 'foo': Invalid argument".into()
            )
        );
        assert_eq!(
            got["2020-01-01"],
            Answer::Valid {
                normalized: "2020-01-01 00:00:00".into(),
                next: None
            }
        );
        assert!(parse(&["daily", "weekly", "x"], stdout, "").is_ok());
        assert!(parse(&["a", "b", "c", "d"], stdout, "").is_err());
    }
}
