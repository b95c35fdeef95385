//! `targets/<escaped id>.html`, a target's own page: what the overview shows of it, with the
//! 90 day bars carrying their figures (on hover, and on tap: a focused bar shows them, CSS
//! alone), and all its incidents. Written when the target changes (see `assemble`), beside
//! its `targets/<escaped id>.json`. Escaped as `html` escapes: maud, every value.

use super::history::Mark;
use super::html::{article, incident, incidents, legend, policy, STYLE};
use super::text::{clean, push_day_figures};
use super::time::{date_time, rfc3339};
use super::view::{DayView, TargetView};
use maud::{html, PreEscaped, DOCTYPE};

pub fn page(t: &TargetView) -> String {
    let h = t.h;
    let bars = html! {
        ol.days aria-label="The last 90 days, one bar each (UTC); the figures show on hover or tap" {
            (PreEscaped(days(&t.days)))
        }
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="Content-Security-Policy" content=(policy());
                meta name="color-scheme" content="light dark";
                title { (clean(&h.name)) " on " (clean(&h.host)) " · Status" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    p { a href="../index.html" { "← All targets" } }
                    h1 { (clean(&h.host)) " / " (clean(&h.name)) }
                    p.gen {
                        "As of " time datetime=(rfc3339(t.now_ms)) { (date_time(t.now_ms)) }
                        ". Written again when the target changes; the overview shows it as it \
                         is now."
                    }
                    (legend())
                }
                main {
                    (article(t, bars))
                    section.incidents {
                        h2 { "Incidents" }
                        @if h.incidents.is_empty() {
                            p.muted { "None in the last 90 days." }
                        } @else {
                            ol.inc {
                                @for i in incidents(t).iter().rev() {
                                    (incident(&t.stem, &h.host, &h.name, i))
                                }
                            }
                        }
                    }
                }
                footer.muted {
                    "Days and times are UTC. The same for machines: "
                    a href={ (t.stem) ".json" } { (t.stem) ".json" }
                    ". Written by nixcloud-monitoring."
                }
            }
        }
    };
    markup.into_string()
}

/// Each day's bar with its figures, as maud would write them (`<li class=… tabindex="0">
/// <span>…</span></li>`) but appended directly: 90 of them per page, most of the time its
/// rendering took. The class is a constant word and the figures dates, numbers and constant
/// words ([`push_day_figures`]): nothing in them needs escaping.
fn days(days: &[DayView]) -> String {
    let mut out = String::with_capacity(days.len() * 110);
    for d in days {
        out.push_str("<li class=\"");
        out.push_str(d.worst.map_or("none", Mark::key));
        out.push_str("\" tabindex=\"0\"><span>");
        let from = out.len();
        push_day_figures(&mut out, d);
        debug_assert!(
            !out[from..].contains(['<', '>', '&', '"']),
            "{}",
            &out[from..]
        );
        out.push_str("</span></li>");
    }
    out
}
