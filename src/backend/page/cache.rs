//! `<stateDir>/page/rendered`: each target's part of the page as last rendered (its HTML
//! article, its status.json object, its badge, its incidents' list items) with what the page
//! needs to order and count it. A result then renders one target and joins the others' parts,
//! instead of reading and rendering 100 histories of 90 days each time (benches/page.sh).
//!
//! A part is rendered again when its target changed, when its state changes with time (it
//! became STALE), when its day is over, when `showOutput` changed for it, and at the latest
//! after [`REFRESH_MS`], so its figures (uptimes, today's bar) are never older than that. The
//! file is derived data: one that cannot be read, or that another build wrote, is rendered
//! again from the histories.

use super::codec::{Reader, Writer};
use super::view::Shown;
use crate::result::State;
use anyhow::bail;
use std::collections::BTreeMap;

const MAGIC: &[u8; 8] = b"NCMPGRE1";

/// The oldest a target's figures get on the page.
pub const REFRESH_MS: u64 = 10 * 60_000;

/// What the parts were made by: the build, and the markup's own version (bump it when the
/// HTML or JSON of a target changes).
fn version() -> String {
    const MARKUP: u32 = 1;
    format!(
        "{} markup {MARKUP}",
        env!("NIXCLOUD_MONITORING_BUILD_VERSION")
    )
}

/// One target's rendered part.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub id: String,
    pub host: String,
    pub name: String,
    pub check_s: u32,
    pub timeout_ms: u64,
    /// The last result's time and state.
    pub last: Option<(u64, State)>,
    /// What the part shows, and when it was rendered.
    pub shown: Shown,
    pub rendered_ms: u64,
    pub show_output: bool,
    pub html: String,
    pub json: String,
    pub badge: String,
    /// (start, `<li>`) of each incident.
    pub incidents: Vec<(u64, String)>,
}

/// Every target's part, by id.
#[derive(Default)]
pub struct Cache {
    pub parts: BTreeMap<String, Part>,
}

fn shown_code(s: Shown) -> u8 {
    match s {
        Shown::Pending => 255,
        Shown::Is(m) => m as u8,
    }
}

fn shown_of(n: u8) -> Option<Shown> {
    match n {
        255 => Some(Shown::Pending),
        n => super::history::Mark::from_u8(n).map(Shown::Is),
    }
}

pub fn encode(cache: &Cache) -> Vec<u8> {
    let mut w = Writer::new(MAGIC, 1 << 16);
    w.str(&version());
    w.u32(cache.parts.len() as u32);
    for p in cache.parts.values() {
        w.str(&p.id);
        w.str(&p.host);
        w.str(&p.name);
        w.u32(p.check_s);
        w.u64(p.timeout_ms);
        match p.last {
            None => w.u8(255),
            Some((at, state)) => {
                w.u8(state.into());
                w.u64(at);
            }
        }
        w.u8(shown_code(p.shown));
        w.u64(p.rendered_ms);
        w.u8(u8::from(p.show_output));
        w.str(&p.html);
        w.str(&p.json);
        w.str(&p.badge);
        w.u32(p.incidents.len() as u32);
        for (start, li) in &p.incidents {
            w.u64(*start);
            w.str(li);
        }
    }
    w.finish()
}

/// The parts, or why they cannot be used (then everything is rendered again).
pub fn decode(bytes: &[u8]) -> anyhow::Result<Cache> {
    let mut r = Reader::checked(bytes, MAGIC)?;
    if r.str("the version")? != version() {
        bail!("written by another build");
    }
    let mut cache = Cache::default();
    for _ in 0..r.u32("the number of parts")? {
        let id = r.str("an id")?;
        let part = Part {
            host: r.str("a host")?,
            name: r.str("a name")?,
            check_s: r.u32("timers.check")?,
            timeout_ms: r.u64("the timeout")?,
            last: match r.u8("the last state")? {
                255 => None,
                n => Some((
                    r.u64("the last time")?,
                    State::try_from(n).map_err(anyhow::Error::msg)?,
                )),
            },
            shown: shown_of(r.u8("the state shown")?)
                .ok_or_else(|| anyhow::anyhow!("the state shown is out of range"))?,
            rendered_ms: r.u64("the time rendered")?,
            show_output: r.u8("showOutput")? == 1,
            html: r.str("the HTML")?,
            json: r.str("the JSON")?,
            badge: r.str("the badge")?,
            incidents: {
                let n = r.u32("the number of incidents")?;
                let mut v = Vec::new();
                for _ in 0..n {
                    v.push((r.u64("an incident's start")?, r.str("an incident")?));
                }
                v
            },
            id: id.clone(),
        };
        cache.parts.insert(id, part);
    }
    r.end()?;
    Ok(cache)
}
