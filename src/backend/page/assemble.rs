//! Bringing the rendered parts up to date and joining them into the page: which targets are
//! rendered again (see `cache`) and which of those get their own page and details file
//! written, then the order (grouped by host, problems first), the counts, the newest
//! incidents.

use super::cache::{Cache, Listed, Part, REFRESH_MS};
use super::site::{Details, Rendered, Site};
use super::store::Store;
use super::time::day_of;
use super::{badge, detail, html, json, view};
use crate::config::ShowOutput;
use std::collections::BTreeSet;

/// Incidents listed on the page, newest first (each target's page lists all of its own).
const INCIDENTS_SHOWN: usize = 50;

/// Whether `part` must be rendered again at `now` (the target itself unchanged).
fn outdated(part: &Part, show: &ShowOutput, now: u64) -> bool {
    part.shown != view::shown_at(part.last, part.timeout_ms, now)
        || part.show_output != show.shows(&part.id)
        || day_of(now) != day_of(part.rendered_ms)
        || now < part.rendered_ms
        || now - part.rendered_ms > REFRESH_MS
}

/// A target's part and badge, and its page and details file when `details` says they are
/// wanted of what is shown (the 90 days' figures: most of the time rendering takes).
fn render(
    h: &super::history::History,
    show: &ShowOutput,
    now: u64,
    details: impl FnOnce(&Part) -> bool,
) -> (Part<'static>, Rendered) {
    let t = view::target(h, show.shows(&h.id), now);
    let part = Part {
        id: h.id.clone(),
        stem: t.stem.clone(),
        host: h.host.clone(),
        name: h.name.clone(),
        check_s: h.check_s,
        timeout_ms: h.timeout_ms(),
        last: h.last.as_ref().map(|l| (l.measured_ms, l.state)),
        shown: t.shown,
        rendered_ms: now,
        show_output: t.show_output,
        html: html::target(&t).into(),
        json: json::target(&t).into(),
        incidents: html::incidents(&t)
            .into_iter()
            .map(|i| Listed {
                output: i.output.into_owned().into(),
                ..i
            })
            .collect(),
    };
    let rendered = Rendered {
        stem: t.stem.clone(),
        badge: badge::render(&t),
        details: details(&part).then(|| Details {
            json: json::details(&t),
            html: detail::page(&t),
        }),
    };
    (part, rendered)
}

/// Renders again what `changed` (ids saved just now) and time made outdated, adds the
/// histories on disk that have no part yet, drops the parts whose history is gone. Returns
/// what was rendered. A target's own page and details file are written when the target
/// changed, when what they show of it changed (its state, say, to STALE; whether outputs are
/// shown), when its part was unknown (a new target, a lost parts file, another build) or
/// when `has_details` (its stem) says they are missing; not when only time moved on (each
/// midnight, every 10 minutes), which would write 200 files at once for 100 targets.
pub fn refresh(
    cache: &mut Cache,
    store: &mut Store,
    changed: &BTreeSet<String>,
    show: &ShowOutput,
    now: u64,
    has_details: impl Fn(&str) -> bool,
) -> Vec<Rendered> {
    cache.parts.retain(|_, p| store.stems().contains(&p.stem));
    let covered: BTreeSet<String> = cache.parts.values().map(|p| p.stem.clone()).collect();
    let mut todo: BTreeSet<String> = changed.clone();
    let new: Vec<String> = store.stems().difference(&covered).cloned().collect();
    for s in new {
        if let Some(h) = store.load_stem(&s) {
            todo.insert(h.id.clone());
        }
    }
    todo.extend(
        cache
            .parts
            .values()
            .filter(|p| outdated(p, show, now))
            .map(|p| p.id.clone()),
    );
    let mut rendered = Vec::new();
    for id in &todo {
        match store.get(id) {
            Some(h) => {
                let old = cache.parts.get(id);
                let wanted = |new: &Part| match old {
                    None => true,
                    Some(old) => {
                        changed.contains(id)
                            || old.shown != new.shown
                            || old.show_output != new.show_output
                            || !has_details(&old.stem)
                    }
                };
                let (part, files) = render(h, show, now, wanted);
                rendered.push(files);
                cache.parts.insert(id.clone(), part);
            }
            None => {
                cache.parts.remove(id);
            }
        }
    }
    rendered
}

/// The page's files from the parts, at `now`, with the files of the targets `rendered`.
pub fn site(cache: &Cache, rendered: Vec<Rendered>, now: u64) -> Site {
    let mut parts: Vec<&Part> = cache.parts.values().collect();
    parts.sort_by(|a, b| (a.shown.rank(), &a.name, &a.id).cmp(&(b.shown.rank(), &b.name, &b.id)));
    let mut hosts: Vec<(&str, Vec<&Part>)> = Vec::new();
    for p in parts {
        match hosts.iter_mut().find(|(host, _)| *host == p.host) {
            Some((_, ps)) => ps.push(p),
            None => hosts.push((&p.host, vec![p])),
        }
    }
    // A host ranks by its worst target (its first), then by name.
    hosts.sort_by(|a, b| (a.1[0].shown.rank(), a.0).cmp(&(b.1[0].shown.rank(), b.0)));
    let ordered: Vec<&Part> = hosts
        .iter()
        .flat_map(|(_, ps)| ps.iter().copied())
        .collect();
    let mut counts: Vec<(view::Shown, usize)> = Vec::new();
    for p in &ordered {
        match counts.iter_mut().find(|(s, _)| *s == p.shown) {
            Some((_, n)) => *n += 1,
            None => counts.push((p.shown, 1)),
        }
    }
    counts.sort_by_key(|(s, _)| s.rank());
    let mut incidents: Vec<(&Part, &Listed)> = ordered
        .iter()
        .flat_map(|p| p.incidents.iter().map(move |i| (*p, i)))
        .collect();
    let more = incidents.len().saturating_sub(INCIDENTS_SHOWN);
    let newest = |(_, i): &(&Part, &Listed)| std::cmp::Reverse(i.start_ms);
    if more > 0 {
        incidents.select_nth_unstable_by_key(INCIDENTS_SHOWN, newest);
        incidents.truncate(INCIDENTS_SHOWN);
    }
    incidents.sort_by_key(newest);
    let incidents: Vec<String> = incidents
        .iter()
        .map(|(p, i)| html::incident(&p.stem, &p.host, &p.name, i).into_string())
        .collect();
    let incidents: Vec<&str> = incidents.iter().map(String::as_str).collect();
    let stale_after_ms = view::stale_after_ms(ordered.iter().map(|p| p.check_s));
    let head = html::Head {
        now_ms: now,
        stale_after_ms,
        counts: &counts,
    };
    let articles: Vec<(&str, Vec<&str>)> = hosts
        .iter()
        .map(|(host, ps)| (*host, ps.iter().map(|p| p.html.as_ref()).collect()))
        .collect();
    let objects: Vec<&str> = ordered.iter().map(|p| p.json.as_ref()).collect();
    Site {
        index: html::page(&head, &articles, &incidents, more),
        status: json::page(now, stale_after_ms, &counts, &objects),
        stems: ordered.iter().map(|p| p.stem.clone()).collect(),
        rendered,
    }
}
