//! What a notice says: subject, text and the facts for machines, from the events it carries.
//! Pure: every channel sends the same [`Notice`], each in its own form.
//!
//! One target: `[<host>] CRITICAL <name>: <first line of output>`, with the state, since when,
//! how many in a row, the output (its end when cut), perfdata and the run time. Several events
//! of one target that waited together are folded into one story ("CRITICAL from 10:02 to
//! 10:40, OK again"). Several targets: one digest with a table of them all.

use super::decide::{Condition, Event, Kind};
use crate::queue::format_ms;
use crate::result::keep_tail;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// How many targets a digest details below its table (the table lists them all).
const DETAILED: usize = 20;
/// Output shown per target in a digest's details.
const DIGEST_OUTPUT: usize = 1024;
/// A subject longer than this is cut (mail clients cut them anyway).
const SUBJECT_CHARS: usize = 150;

/// One message, ready for any channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub subject: String,
    pub text: String,
    /// The worst condition told (ntfy's priority, the webhook's headline).
    pub condition: Condition,
    /// `<…@…>`, the same for the same events (a retry after a failure repeats it).
    pub message_id: String,
    /// The problem mails this one ends (recoveries), for `In-Reply-To`/`References`.
    pub replies_to: Vec<String>,
    pub events: Vec<Event>,
    /// A test notice (`notify --test`), not about any target.
    pub test: bool,
    /// The machine that sends it.
    pub machine: String,
}

/// The notice for `events` (in the order they happened). `threads` has, per target, the
/// Message-ID of the mail that told its current problem.
pub fn compose(
    events: Vec<Event>,
    threads: &BTreeMap<String, String>,
    machine: &str,
    channel: &str,
) -> Notice {
    let by_target = by_target(&events);
    let condition = by_target
        .iter()
        .map(|(_, evs)| last(evs).condition)
        .max_by_key(|c| c.severity())
        .unwrap_or_default();
    let replies_to: Vec<String> = by_target
        .iter()
        .filter(|(_, evs)| last(evs).kind == Kind::Recovery)
        .filter_map(|(id, _)| threads.get(*id).cloned())
        .collect();
    let (subject, text) = match by_target.as_slice() {
        [(_, evs)] => single(evs, machine, channel),
        several => digest(several, machine, channel),
    };
    Notice {
        subject: one_line(&subject, SUBJECT_CHARS),
        text,
        condition,
        message_id: message_id(&events, machine, channel),
        replies_to,
        events,
        test: false,
        machine: machine.to_string(),
    }
}

/// A notice that proves a channel works, sent by `notify --test`.
pub fn test_notice(machine: &str, channel: &str, now_ms: u64) -> Notice {
    Notice {
        subject: format!("[{machine}] test notice from nixcloud-monitoring ({channel})"),
        text: format!(
            "This is a test notice, sent by `nixcloud-monitoring notify --test` on {machine} \
             at {} through the channel {channel}.\n\nIf you read this, notices about the \
             targets of {machine} reach you this way.\n{}",
            when_full(now_ms),
            footer(machine, channel, None)
        ),
        condition: Condition::Ok,
        message_id: format!(
            "<nixcloud-monitoring.test.{channel}.{now_ms}@{}>",
            mail_host(machine)
        ),
        replies_to: Vec::new(),
        events: Vec::new(),
        test: true,
        machine: machine.to_string(),
    }
}

/// The events grouped per target, in the order each target first appears.
fn by_target(events: &[Event]) -> Vec<(&str, Vec<&Event>)> {
    let mut out: Vec<(&str, Vec<&Event>)> = Vec::new();
    for e in events {
        match out.iter_mut().find(|(id, _)| *id == e.target) {
            Some((_, evs)) => evs.push(e),
            None => out.push((&e.target, vec![e])),
        }
    }
    out
}

fn last<'a>(events: &[&'a Event]) -> &'a Event {
    events[events.len() - 1]
}

/// What one target's events come to in a line: the story when several waited together (or it
/// flapped), "no result since …", else the first line of the newest output.
fn headline(events: &[&Event]) -> String {
    let e = last(events);
    match (events.len(), e.kind, e.condition) {
        (1, Kind::Flapped, _) | (2.., _, _) => story(events),
        (1, _, Condition::NoResult) => no_result(e),
        _ => e
            .result
            .as_ref()
            .map(|r| first_line(&r.output))
            .unwrap_or_default(),
    }
}

/// Subject and text for one target's events.
fn single(events: &[&Event], machine: &str, channel: &str) -> (String, String) {
    let e = last(events);
    let headline = headline(events);
    let subject = format!(
        "[{}] {} {}: {headline}",
        e.host,
        e.condition.label(),
        e.name
    );
    let mut text = format!("{} {}\n\n{}\n", e.condition.label(), e.target, details(e));
    if events.len() > 1 {
        text.push_str(&format!("What happened, in order: {}.\n", story(events)));
    }
    text.push_str(&shown(e, usize::MAX));
    text.push_str(&footer(machine, channel, Some(&e.target)));
    (subject, text)
}

/// Subject and text for several targets: a table of them all, then the first few in full.
fn digest(targets: &[(&str, Vec<&Event>)], machine: &str, channel: &str) -> (String, String) {
    let mut counts: BTreeMap<(std::cmp::Reverse<u8>, &str), usize> = BTreeMap::new();
    for (_, evs) in targets {
        let c = last(evs).condition;
        *counts
            .entry((std::cmp::Reverse(c.severity()), c.label()))
            .or_default() += 1;
    }
    let counts: Vec<String> = counts
        .iter()
        .map(|((_, label), n)| format!("{n} {label}"))
        .collect();
    let hosts: Vec<&str> = targets
        .iter()
        .map(|(_, evs)| evs[0].host.as_str())
        .collect();
    let host = match hosts.iter().all(|h| *h == hosts[0]) {
        true => hosts[0],
        false => machine,
    };
    let subject = format!("[{host}] {} targets: {}", targets.len(), counts.join(", "));
    let rows: Vec<[String; 4]> = targets
        .iter()
        .map(|(id, evs)| {
            let e = last(evs);
            [
                e.condition.label().to_string(),
                id.to_string(),
                when_full(e.since_ms),
                one_line(&headline(evs), 80),
            ]
        })
        .collect();
    let mut text = format!(
        "{} targets of {machine} changed ({}):\n\n{}\n",
        targets.len(),
        counts.join(", "),
        table(&["STATE", "TARGET", "SINCE", "WHAT"], &rows)
    );
    for (_, evs) in targets.iter().take(DETAILED) {
        let e = last(evs);
        text.push_str(&format!(
            "\n== {} {} ==\n{}\n",
            e.condition.label(),
            e.target,
            details(e)
        ));
        text.push_str(&shown(e, DIGEST_OUTPUT));
    }
    if targets.len() > DETAILED {
        text.push_str(&format!(
            "\n… and {} more targets, listed in the table above; `nixcloud-monitoring status` \
             shows each one's last result.\n",
            targets.len() - DETAILED
        ));
    }
    text.push_str(&footer(machine, channel, None));
    (subject, text)
}

/// A fixed-width text table (notices are plain text: mail, ntfy and chat all show it).
fn table(head: &[&str; 4], rows: &[[String; 4]]) -> String {
    let mut widths = head.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            match i {
                3 => out.push_str(cell),
                _ => out.push_str(&format!("{cell:<w$}  ")),
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(*head);
    for row in rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3]]));
    }
    out
}

/// "CRITICAL since …, 3 results in a row; before: OK since …", the run time, flapping.
fn details(e: &Event) -> String {
    let mut out = match e.condition {
        Condition::NoResult => format!(
            "No result since {}: one was expected within {} minutes (timers.timeout).",
            when_full(e.since_ms),
            e.timeout_minutes
        ),
        c => {
            let row = match e.in_a_row {
                0 | 1 => String::new(),
                n => format!(", {n} results in a row"),
            };
            format!("{} since {}{row}.", c.label(), when_full(e.since_ms))
        }
    };
    match e.kind {
        Kind::Reminder => out.push_str(" (a reminder: it still lasts)"),
        Kind::Flapped => out.push_str(&format!(
            " It changed {} times meanwhile (flapping); notices were held back, at most one \
             problem and one recovery go out per hour.",
            e.changes
        )),
        Kind::Problem | Kind::Recovery if e.previous != e.condition => {
            let since = match e.previous_since_ms {
                0 => String::new(),
                ms => format!(" since {}", when_full(ms)),
            };
            out.push_str(&format!("\nBefore: {}{since}.", e.previous.label()));
            if e.changes > 1 {
                out.push_str(&format!(
                    " It changed {} times since the last notice (flapping).",
                    e.changes
                ));
            }
        }
        _ => {}
    }
    if let Some(ms) = e.result.as_ref().and_then(|r| r.duration_ms) {
        out.push_str(&format!("\nRun time: {}.", seconds(ms)));
    }
    out
}

/// The output and perfdata of the newest result, at most `max` bytes of output (the end).
fn shown(e: &Event, max: usize) -> String {
    let Some(r) = &e.result else {
        return String::new();
    };
    let mut out = String::new();
    if e.condition == Condition::NoResult {
        let state = r.state.map(|s| s.label()).unwrap_or("?");
        out.push_str(&format!(
            "\nThe last result ({state}, {}):\n",
            when_full(r.measured_at_ms)
        ));
    } else {
        out.push_str(&format!("\nOutput ({}):\n", when_full(r.measured_at_ms)));
    }
    let output = keep_tail(&r.output, max);
    out.push_str(if output.is_empty() { "(none)" } else { &output });
    out.push('\n');
    if !r.perfdata.is_empty() {
        out.push_str(&format!("\nPerfdata: {}\n", r.perfdata));
    }
    out
}

fn footer(machine: &str, channel: &str, target: Option<&str>) -> String {
    let mute = target.unwrap_or("ID");
    format!(
        "\n-- \nnixcloud-monitoring on {machine}, channel {channel}.\n\
         `nixcloud-monitoring status` shows every target; \
         `nixcloud-monitoring silence {mute} --for 2h` holds its notices.\n"
    )
}

/// One target's events in order, as one line: "CRITICAL from 10:02 to 10:40, OK again".
pub fn story(events: &[&Event]) -> String {
    let reference = last(events).at_ms;
    let mut parts: Vec<String> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let end = events.get(i + 1).map(|n| n.at_ms);
        let c = e.condition.label();
        parts.push(match (e.kind, e.condition, end) {
            (Kind::Flapped, _, _) => format!("flapped {} times, {c} as before", e.changes),
            (Kind::Reminder, _, _) => format!("still {c} since {}", when(e.since_ms, reference)),
            (_, Condition::Ok, None) if i > 0 => "OK again".to_string(),
            (_, Condition::NoResult, None) => no_result(e),
            (_, _, None) if i > 0 => format!("{c} again since {}", when(e.at_ms, reference)),
            (_, _, None) => format!("{c} since {}", when(e.since_ms, reference)),
            (_, _, Some(end)) => format!(
                "{c} from {} to {}",
                when(e.since_ms.min(e.at_ms), reference),
                when(end, reference)
            ),
        });
    }
    parts.join(", ")
}

fn no_result(e: &Event) -> String {
    format!("no result since {}", when(e.since_ms, e.at_ms))
}

/// "10:02 UTC" on the reference's day, else "2026-12-02 10:02 UTC".
fn when(ms: u64, reference_ms: u64) -> String {
    let (day, time) = split(ms);
    match split(reference_ms).0 == day {
        true => format!("{time} UTC"),
        false => format!("{day} {time} UTC"),
    }
}

/// "2026-12-03 10:02" and "10:02" of a time (UTC, minutes).
fn split(ms: u64) -> (String, String) {
    let full = format_ms(ms);
    let day = full.get(..10).unwrap_or_default().to_string();
    let time = full.get(11..16).unwrap_or_default().to_string();
    (day, time)
}

/// "2026-12-03 10:02:11 UTC".
pub fn when_full(ms: u64) -> String {
    format_ms(ms).replace('T', " ").replace('Z', " UTC")
}

fn seconds(ms: u64) -> String {
    match ms {
        0..=59_999 => format!("{} s", ms / 1000),
        _ => format!("{} min {} s", ms / 60_000, ms % 60_000 / 1000),
    }
}

/// The first line of an output, without the cut marker a long output starts with.
pub fn first_line(output: &str) -> String {
    let text = match output.strip_prefix("[cut: ") {
        Some(rest) => rest.split_once("] ").map_or(rest, |(_, after)| after),
        None => output,
    };
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

/// `text` as one line of at most `max` characters, control characters replaced.
pub fn one_line(text: &str, max: usize) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match clean.chars().count() > max {
        true => {
            clean
                .chars()
                .take(max.saturating_sub(1))
                .collect::<String>()
                + "…"
        }
        false => clean,
    }
}

/// A Message-ID that is the same for the same events on the same channel: a notice sent again
/// after a failure (or a crash before the state was saved) carries the same ID, so mail
/// systems that keep IDs can drop the copy.
fn message_id(events: &[Event], machine: &str, channel: &str) -> String {
    let mut hash = Sha256::new();
    for e in events {
        hash.update(e.target.as_bytes());
        hash.update([0]);
        hash.update(format!("{:?}{}{}", e.kind, e.condition.label(), e.at_ms).as_bytes());
        hash.update([0]);
    }
    let digest = hash.finalize();
    let short: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let first = events.first().map_or(0, |e| e.at_ms);
    format!(
        "<nixcloud-monitoring.{channel}.{first}.{short}@{}>",
        mail_host(machine)
    )
}

/// The machine's name as the right side of a Message-ID (letters, digits, dots, hyphens).
fn mail_host(machine: &str) -> String {
    let clean: String = machine
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    match clean.is_empty() {
        true => "localhost".to_string(),
        false => clean,
    }
}

#[cfg(test)]
mod tests;
