//! `index.html`, the page to glance at. Written with maud, which escapes every value put into
//! the markup (`(x)`); only the constant style sheet and script, and markup this module made
//! itself, go in unescaped. Outputs, perfdata labels, hosts and names are the machine's
//! scripts' and admins' text and may hold anything: they stay text. A Content-Security-Policy
//! in the page allows nothing but its own style and script (by hash), so even a mistake here
//! could not run injected code.
//!
//! Each target's 90 day bars are bare elements here (their figures would be most of the page:
//! 9,000 of them, a megabyte for 100 targets, written at every result); the bars link to the
//! target's own page (`detail`), whose bars show each day's figures on hover and tap. No
//! JavaScript is needed to read either; the one script only turns on the out-of-date warning,
//! which needs the reader's clock.

use super::cache::Listed;
use super::history::{Mark, RECENT_MS};
use super::text::{clean, number, percent};
use super::time::{date_time, rfc3339, span};
use super::view::{DayView, Shown, Spark, TargetView, WINDOWS};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::borrow::Cow;
use std::sync::OnceLock;

pub const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("stale.js");

/// The Content-Security-Policy: the page's own style and script by hash, images from the
/// page's own directory, nothing else.
pub fn policy() -> &'static str {
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
                                p.muted { (more) " older ones are on their targets' pages." }
                            }
                        }
                    }
                }
                footer.muted {
                    "Days and times are UTC. A target's bars lead to its page: each day's figures, \
                     its incidents. The same facts for machines: "
                    a href="status.json" { "status.json" }
                    " and targets/<id>.json; a badge per target in badges/. Written by \
                     nixcloud-monitoring."
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    markup.into_string()
}

pub fn legend() -> Markup {
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

/// A target's article on the overview (rendered once per change of the target, see `cache`):
/// its bars bare, linking to its own page. It only holds absolute times, so it reads right
/// however long it is shown.
pub fn target(t: &TargetView) -> String {
    let bars = html! {
        a.days href={ "targets/" (t.stem) ".html" } aria-label=(bars_label(&t.days)) {
            (PreEscaped(bare_bars(&t.days)))
        }
    };
    article(t, bars).into_string()
}

/// What a target shows wherever it is shown, with its day bars as `bars`.
pub fn article(t: &TargetView, bars: Markup) -> Markup {
    let h = t.h;
    html! {
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
            (bars)
            p.axis aria-hidden="true" { span { "90 days ago" } span { "today" } }
            @if let Some(s) = &t.spark { (spark(s, t.now_ms)) }
            @if h.last.is_some() { p.runs { (runs(t)) } }
        }
    }
}

/// The bars without their figures: one empty element each, its class the day's worst state
/// (constant words, so written without maud: 9,000 of them at every midnight).
fn bare_bars(days: &[DayView]) -> String {
    let mut out = String::with_capacity(days.len() * 20);
    for d in days {
        out.push_str("<i class=\"");
        out.push_str(d.worst.map_or("none", Mark::key));
        out.push_str("\"></i>");
    }
    out
}

/// What the bare bars say to a screen reader: how many days were which, and where the
/// figures are.
fn bars_label(days: &[DayView]) -> String {
    let mut text = format!("The last {} days:", days.len());
    let marks = Mark::ALL.map(Some).into_iter().chain([None]);
    let mut first = true;
    for mark in marks {
        let n = days.iter().filter(|d| d.worst == mark).count();
        if n > 0 {
            let name = mark.map_or("no data", Mark::label);
            text.push_str(&format!("{} {n} {name}", if first { "" } else { "," }));
            first = false;
        }
    }
    text.push_str(". Each day's figures are on the target's page.");
    text
}

pub fn since(t: &TargetView) -> String {
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

/// The sparkline: the half-hour means as a polyline in a 192 × 100 box (whole numbers: a
/// short attribute, and no float formatting).
pub fn spark(s: &Spark, now_ms: u64) -> Markup {
    let start = now_ms.saturating_sub(RECENT_MS);
    let range = f64::from(s.max - s.min);
    let mut points = String::with_capacity(s.points.len() * 8);
    for &(at, v) in &s.points {
        let x = (at.saturating_sub(start) as f64 * 192.0 / RECENT_MS as f64).round() as u32;
        let y = match range > 0.0 {
            true => 95.0 - (f64::from(v) - f64::from(s.min)) / range * 90.0,
            false => 50.0,
        };
        if !points.is_empty() {
            points.push(' ');
        }
        points.push_str(&format!("{},{}", x.min(192), y.round() as u32));
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
            svg viewBox="0 0 192 100" preserveAspectRatio="none" role="img" aria-label=(clean(&caption)) {
                polyline points=(points) fill="none" stroke="currentColor"
                    stroke-width="1.5" vector-effect="non-scaling-stroke" {}
            }
            figcaption { (clean(&caption)) }
        }
    }
}

/// A target's incidents as the page lists them: the output kept only where it is shown.
pub fn incidents<'a>(t: &TargetView<'a>) -> Vec<Listed<'a>> {
    t.h.incidents
        .iter()
        .map(|i| Listed {
            start_ms: i.start_ms,
            end_ms: i.end_ms,
            worst: i.worst,
            output: match t.show_output {
                true => Cow::Borrowed(i.output.as_str()),
                false => Cow::Borrowed(""),
            },
        })
        .collect()
}

/// An incident of the target `stem` (`host` / `name`) as a list item linking to its article.
pub fn incident(stem: &str, host: &str, name: &str, i: &Listed) -> Markup {
    html! {
        li class={ "s-" (i.worst.key()) } {
            span.st { (i.worst.label()) } " "
            a href={ "#t-" (stem) } { (clean(host)) " / " (clean(name)) }
            " · " (date_time(i.start_ms)) " → "
            @match i.end_ms {
                Some(end) => { (date_time(end)) " (" (span(end.saturating_sub(i.start_ms))) ")" }
                None => "ongoing",
            }
            @if i.worst == Mark::Stale {
                p.muted { "No result for longer than the timeout." }
            } @else if !i.output.is_empty() {
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
