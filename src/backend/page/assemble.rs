//! Bringing the rendered parts up to date and joining them into the page: which targets are
//! rendered again (see `cache`), then the order (grouped by host, problems first), the
//! counts, the newest incidents.

use super::cache::{Cache, Part, REFRESH_MS};
use super::site::Site;
use super::store::{stem, Store};
use super::time::day_of;
use super::{badge, html, json, view};
use crate::config::ShowOutput;
use std::collections::BTreeSet;

/// Incidents listed on the page, newest first (status.json has every target's).
const INCIDENTS_SHOWN: usize = 50;

/// Whether `part` must be rendered again at `now` (the target itself unchanged).
fn outdated(part: &Part, show: &ShowOutput, now: u64) -> bool {
    part.shown != view::shown_at(part.last, part.timeout_ms, now)
        || part.show_output != show.shows(&part.id)
        || day_of(now) != day_of(part.rendered_ms)
        || now < part.rendered_ms
        || now - part.rendered_ms > REFRESH_MS
}

/// A target's part and its details file.
fn render(h: &super::history::History, show: &ShowOutput, now: u64) -> (Part, String) {
    let t = view::target(h, show.shows(&h.id), now);
    let part = Part {
        id: h.id.clone(),
        host: h.host.clone(),
        name: h.name.clone(),
        check_s: h.check_s,
        timeout_ms: h.timeout_ms(),
        last: h.last.as_ref().map(|l| (l.measured_ms, l.state)),
        shown: t.shown,
        rendered_ms: now,
        show_output: t.show_output,
        html: html::target(&t),
        json: json::target(&t),
        badge: badge::render(&t),
        incidents: html::incidents(&t),
    };
    (part, json::details(&t))
}

/// Renders again what `changed` (ids saved just now) and time made outdated, adds the
/// histories on disk that have no part yet, drops the parts whose history is gone. Returns
/// the details files (stem, JSON) of the targets rendered.
pub fn refresh(
    cache: &mut Cache,
    store: &mut Store,
    changed: &BTreeSet<String>,
    show: &ShowOutput,
    now: u64,
) -> Vec<(String, String)> {
    cache
        .parts
        .retain(|id, _| store.stems().contains(&stem(id)));
    let covered: BTreeSet<String> = cache.parts.keys().map(|id| stem(id)).collect();
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
    let mut details = Vec::new();
    for id in &todo {
        match store.get(id) {
            Some(h) => {
                let (part, detail) = render(h, show, now);
                details.push((stem(id), detail));
                cache.parts.insert(id.clone(), part);
            }
            None => {
                cache.parts.remove(id);
            }
        }
    }
    details
}

/// The page's files from the parts, at `now`, with the `details` of the targets rendered.
pub fn site(cache: &Cache, details: Vec<(String, String)>, now: u64) -> Site {
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
    let mut incidents: Vec<&(u64, String)> =
        ordered.iter().flat_map(|p| p.incidents.iter()).collect();
    incidents.sort_by_key(|i| std::cmp::Reverse(i.0));
    let more = incidents.len().saturating_sub(INCIDENTS_SHOWN);
    let incidents: Vec<&str> = incidents
        .iter()
        .take(INCIDENTS_SHOWN)
        .map(|i| i.1.as_str())
        .collect();
    let stale_after_ms = view::stale_after_ms(ordered.iter().map(|p| p.check_s));
    let head = html::Head {
        now_ms: now,
        stale_after_ms,
        counts: &counts,
    };
    let articles: Vec<(&str, Vec<&str>)> = hosts
        .iter()
        .map(|(host, ps)| (*host, ps.iter().map(|p| p.html.as_str()).collect()))
        .collect();
    let objects: Vec<&str> = ordered.iter().map(|p| p.json.as_str()).collect();
    Site {
        index: html::page(&head, &articles, &incidents, more),
        status: json::page(now, stale_after_ms, &counts, &objects),
        badges: ordered
            .iter()
            .map(|p| (stem(&p.id), p.badge.clone()))
            .collect(),
        details,
    }
}
