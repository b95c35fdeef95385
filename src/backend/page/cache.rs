//! `<stateDir>/page/rendered`: each target's part of the page as last rendered (its HTML
//! article, its status.json object, its incidents' list items) with what the page needs to
//! order and count it. A result then renders one target and joins the others' parts, instead
//! of reading and rendering 100 histories of 90 days each time (benches/page.sh). The parts
//! are small (about 4 KB a target: the day bars without their figures), since this file is
//! read and written at every result.
//!
//! A part is rendered again when its target changed, when its state changes with time (it
//! became STALE), when its day is over, when `showOutput` changed for it, and at the latest
//! after [`REFRESH_MS`], so its figures (uptimes, today's bar) are never older than that. The
//! file is derived data: one that cannot be read, or that another build wrote, is rendered
//! again from the histories. The parts read borrow their text from the file's bytes (copying
//! them was most of reading it).

use super::codec::{Reader, Writer};
use super::history::Mark;
use super::view::Shown;
use crate::result::State;
use anyhow::bail;
use std::borrow::Cow;
use std::collections::BTreeMap;

const MAGIC: &[u8; 8] = b"NCMPGRE1";

/// The oldest a target's figures get on the page.
pub const REFRESH_MS: u64 = 10 * 60_000;

/// What the parts were made by: the build, and the markup's own version (bump it when the
/// HTML or JSON of a target changes).
fn version() -> String {
    const MARKUP: u32 = 2;
    format!(
        "{} markup {MARKUP}",
        env!("NIXCLOUD_MONITORING_BUILD_VERSION")
    )
}

/// One target's rendered part; its text as read from the file, or rendered now.
#[derive(Debug, Clone, PartialEq)]
pub struct Part<'a> {
    pub id: String,
    /// The id's file name (`store::stem`), kept: it is asked for often.
    pub stem: String,
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
    pub html: Cow<'a, str>,
    pub json: Cow<'a, str>,
    /// Its incidents, oldest first (the page lists the newest of all targets).
    pub incidents: Vec<Listed<'a>>,
}

/// An incident as the page lists it: the output empty where it is hidden. Kept as data, not
/// markup: 16 incidents of 100 targets as list items were most of the file, and the page
/// lists 50.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<'a> {
    pub start_ms: u64,
    pub end_ms: Option<u64>,
    pub worst: Mark,
    pub output: Cow<'a, str>,
}

/// Every target's part, by id.
#[derive(Default)]
pub struct Cache<'a> {
    pub parts: BTreeMap<String, Part<'a>>,
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
        n => Mark::from_u8(n).map(Shown::Is),
    }
}

/// The file's bytes; `capacity` is what they probably take (the file read before).
pub fn encode(cache: &Cache, capacity: usize) -> Vec<u8> {
    let mut w = Writer::new(MAGIC, capacity);
    w.str(&version());
    w.u32(cache.parts.len() as u32);
    for p in cache.parts.values() {
        w.str(&p.id);
        w.str(&p.stem);
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
        w.u32(p.incidents.len() as u32);
        for i in &p.incidents {
            w.u64(i.start_ms);
            w.u64(i.end_ms.unwrap_or(u64::MAX));
            w.u8(i.worst as u8);
            w.str(&i.output);
        }
    }
    w.finish()
}

/// The parts, or why they cannot be used (then everything is rendered again).
pub fn decode(bytes: &[u8]) -> anyhow::Result<Cache<'_>> {
    let mut r = Reader::checked(bytes, MAGIC)?;
    if r.str("the version")? != version() {
        bail!("written by another build");
    }
    let mut cache = Cache::default();
    for _ in 0..r.u32("the number of parts")? {
        let id = r.str("an id")?;
        let part = Part {
            stem: r.str("a file stem")?,
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
            html: Cow::Borrowed(r.str_ref("the HTML")?),
            json: Cow::Borrowed(r.str_ref("the JSON")?),
            incidents: {
                let n = r.u32("the number of incidents")?;
                let mut v = Vec::new();
                for _ in 0..n {
                    v.push(Listed {
                        start_ms: r.u64("an incident's start")?,
                        end_ms: Some(r.u64("an incident's end")?).filter(|&e| e != u64::MAX),
                        worst: Mark::from_u8(r.u8("an incident's state")?).ok_or_else(|| {
                            anyhow::anyhow!("an incident's state is out of range")
                        })?,
                        output: Cow::Borrowed(r.str_ref("an incident's output")?),
                    });
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
