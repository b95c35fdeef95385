//! `index.html`. Written with maud, which escapes every value put into the markup (`(x)`);
//! only the constant style sheet and script go in unescaped. Outputs, perfdata labels, hosts
//! and names are the machine's scripts' and admins' text and may hold anything: they stay
//! text. A Content-Security-Policy in the page allows nothing but its own style and script
//! (by hash), so even a mistake here could not run injected code.
//!
//! No JavaScript is needed to read it: the day figures show on hover and on tap (focus) with
//! CSS alone; the one script only turns on the out-of-date warning, which needs the reader's
//! clock.

use super::history::{Incident, Mark, RECENT_MS};
use super::text::{clean, day_figures, number, percent};
use super::time::{date_time, rfc3339, span};
use super::view::{DayView, Shown, Spark, TargetView, WINDOWS};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::sync::OnceLock;

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("stale.js");

/// The Content-Security-Policy: the page's own style and script by hash, images from the
/// page's own directory, nothing else.
fn policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        format!(
            "default-src 'none'; style-src '{}'; script-src '{}'; img-src 'self'; \
             base-uri 'none'; form-action 'none'",
            hash(STYLE),
            hash(SCRIPT)
        )
    })
}

fn hash(text: &str) -> String {
    use sha2::Digest;
    format!("sha256-{}", base64(&sha2::Sha256::digest(text.as_bytes())))
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ABC[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// What the page says at its top.
pub struct Head<'a> {
    pub now_ms: u64,
    pub stale_after_ms: u64,
    /// How many targets show each state, problems first.
    pub counts: &'a [(Shown, usize)],
}

/// The whole page: the head, each host's targets (their articles, as rendered), the newest
/// incidents (their list items) and how many more there are.
pub fn page(head: &Head, hosts: &[(&str, Vec<&str>)], incidents: &[&str], more: usize) -> String {
    let summary: Vec<String> = head
        .counts
        .iter()
        .map(|(s, n)| format!("{n} {}", s.label()))
        .collect();
    let summary = match summary.is_empty() {
        true => "no targets yet".to_string(),
        false => summary.join(", "),
    };
    let problems: usize = head
        .counts
        .iter()
        .filter(|(s, _)| s.rank() < 4)
        .map(|c| c.1)
        .sum();
    let title = match problems {
        0 => "Status: all well".to_string(),
        1 => "Status: 1 problem".to_string(),
        n => format!("Status: {n} problems"),
    };
    let (now, after) = (head.now_ms, head.stale_after_ms);
    let markup = html! {
        (DOCTYPE)
        html lang="en" data-generated=(now) data-stale-after=(after) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="Content-Security-Policy" content=(policy());
                meta http-equiv="refresh" content="60";
                meta name="color-scheme" content="light dark";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "Status" }
                    p.summary { (summary) }
                    p.gen {
                        "Generated " time datetime=(rfc3339(now)) { (date_time(now)) }
                        ". Rewritten after every result; out of date after "
                        (span(after)) " without one."
                    }
                    p #stale .outdated role="alert" hidden {
                        "This page is out of date: it was generated at " (date_time(now))
                        " and should have been rewritten within " (span(after))
                        ". The agent may have stopped, or its results no longer arrive."
                    }
                    (legend())
                }
                main {
                    @for (host, articles) in hosts {
                        section.host {
                            h2 { (clean(host)) }
                            @for article in articles { (PreEscaped(article)) }
                        }
                    }
                    section.incidents {
                        h2 { "Incidents" }
                        @if incidents.is_empty() {
                            p.muted { "None in the last 90 days." }
                        } @else {
                            ol.inc { @for li in incidents { (PreEscaped(li)) } }
                            @if more > 0 {
                                p.muted { (more) " older ones are in status.json." }
                            }
                        }
                    }
                }
                footer.muted {
                    "Days and times are UTC. The same facts for machines: "
                    a href="status.json" { "status.json" }
                    "; a badge per target in badges/. Written by nixcloud-monitoring."
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    markup.into_string()
}

fn legend() -> Markup {
    let entries = [
        ("ok", "OK (solid)"),
        ("warning", "WARNING (striped)"),
        ("unknown", "UNKNOWN (dotted)"),
        ("stale", "STALE: no result (hollow, lower)"),
        ("critical", "CRITICAL (solid, taller)"),
        ("none", "no data (short)"),
    ];
    html! {
        ul.legend aria-label="What the day bars mean" {
            @for (class, text) in entries {
                li { i class=(class) {} (text) }
            }
        }
    }
}

/// A target's article (rendered once per change of the target, see `cache`). It only holds
/// absolute times, so it reads right however long it is shown.
pub fn target(t: &TargetView) -> String {
    let h = t.h;
    let markup = html! {
        article class={ "t s-" (t.shown.key()) } id={ "t-" (t.stem) } {
            div.th {
                h3 { (clean(&h.name)) }
                span.st { (t.shown.label()) }
            }
            p.since { (since(t)) }
            @if let Some(last) = &h.last {
                @if t.show_output {
                    @if !last.output.is_empty() {
                        div.out { pre { (clean(&last.output)) } }
                    }
                } @else {
                    p.hid { "Output hidden (page.showOutput)." }
                }
            }
            dl.up {
                @for ((name, _), share) in WINDOWS.iter().zip(t.uptime) {
                    div { dt { (name) } dd { (percent(share)) } }
                }
            }
            ol.days aria-label="The last 90 days, one bar each (UTC); the figures show on hover or tap" {
                @for d in &t.days { (day(d)) }
            }
            p.axis aria-hidden="true" { span { "90 days ago" } span { "today" } }
            @if let Some(s) = &t.spark { (spark(s, t.now_ms)) }
            @if h.last.is_some() { p.runs { (runs(t)) } }
        }
    };
    markup.into_string()
}

fn since(t: &TargetView) -> String {
    let h = t.h;
    match (&h.last, t.shown) {
        (None, _) => format!("No result yet (known since {}).", date_time(h.created_ms)),
        (Some(last), Shown::Is(Mark::Stale)) => format!(
            "No result since {} (expected every {}); the last was {}.",
            date_time(last.measured_ms),
            span(u64::from(h.check_s) * 1000),
            last.state.label()
        ),
        (Some(last), _) => format!(
            "{} since {}. Last result {}.",
            last.state.label(),
            date_time(h.since_ms),
            date_time(last.measured_ms)
        ),
    }
}

/// A watched unit's (or script's) last success, last failure and run time.
fn runs(t: &TargetView) -> String {
    let h = t.h;
    let when = |ms: u64| match ms {
        0 => "never".to_string(),
        ms => date_time(ms),
    };
    let mut text = format!(
        "Last success: {} · last failure: {}",
        when(h.last_ok_ms),
        when(h.last_problem_ms)
    );
    if let Some(ms) = h.last.as_ref().and_then(|l| l.duration_ms) {
        text.push_str(&format!(" · run time: {}", span(ms)));
    }
    text
}

fn day(d: &DayView) -> Markup {
    // The shortest markup that still works without JavaScript: 9,000 of these make most of
    // a page of 100 targets.
    html! {
        li class=(d.worst.map_or("none", Mark::key)) tabindex="0" { span { (day_figures(d)) } }
    }
}

fn spark(s: &Spark, now_ms: u64) -> Markup {
    let start = now_ms.saturating_sub(RECENT_MS);
    let range = f64::from(s.max - s.min);
    let mut points = String::new();
    for &(at, v) in &s.points {
        let x = at.saturating_sub(start) as f64 * 300.0 / RECENT_MS as f64;
        let y = match range > 0.0 {
            true => 38.0 - (f64::from(v) - f64::from(s.min)) / range * 36.0,
            false => 20.0,
        };
        // In tenths as integers: `{:.1}` on floats takes the slow exact path, and 96 points
        // of 100 targets were a tenth of a full rewrite. Both are within 0..300.
        let (x, y) = ((x * 10.0).round() as u32, (y * 10.0).round() as u32);
        points.push_str(&format!("{}.{},{}.{} ", x / 10, x % 10, y / 10, y % 10));
    }
    let label = if s.label.is_empty() {
        "value"
    } else {
        &s.label
    };
    let caption = format!(
        "{}: now {}{unit}; 48 h: {}{unit} to {}{unit}",
        label,
        number(s.last),
        number(s.min),
        number(s.max),
        unit = s.unit
    );
    html! {
        figure.spark {
            svg viewBox="0 0 300 40" preserveAspectRatio="none" role="img" aria-label=(clean(&caption)) {
                polyline points=(points.trim_end()) fill="none" stroke="currentColor"
                    stroke-width="1.5" vector-effect="non-scaling-stroke" {}
            }
            figcaption { (clean(&caption)) }
        }
    }
}

/// Each of a target's incidents as a list item, with its start (the page lists the newest
/// of all targets).
pub fn incidents(t: &TargetView) -> Vec<(u64, String)> {
    t.h.incidents
        .iter()
        .map(|i| (i.start_ms, incident(t, i).into_string()))
        .collect()
}

fn incident(t: &TargetView, i: &Incident) -> Markup {
    html! {
        li class={ "s-" (i.worst.key()) } {
            span.st { (i.worst.label()) } " "
            a href={ "#t-" (t.stem) } { (clean(&t.h.host)) " / " (clean(&t.h.name)) }
            " · " (date_time(i.start_ms)) " → "
            @match i.end_ms {
                Some(end) => { (date_time(end)) " (" (span(end.saturating_sub(i.start_ms))) ")" }
                None => "ongoing",
            }
            @if i.worst == Mark::Stale {
                p.muted { "No result for longer than the timeout." }
            } @else if t.show_output && !i.output.is_empty() {
                pre { (clean(&i.output)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_pads_as_the_csp_hash_needs() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }
}
