//! A [`History`] as bytes: a compact binary format (little endian), so that 48 hours of
//! one-minute results (2,880) take about 26 KB and the page reads 100 of them in a few
//! milliseconds. It starts with a magic and version and ends with a checksum over everything
//! before it, so a truncated, overwritten or foreign file is recognised and set aside instead of
//! being read as nonsense.
//!
//! ```text
//! "NCMPAGE1"
//! str id, str host, str name                       str = u32 length + UTF-8
//! u32 check_s, u32 timeout_s
//! u64 created_ms, since_ms, last_ok_ms, last_problem_ms
//! u8 has_last [str id, u64 measured_ms, u8 state, u64 duration_ms (MAX: none),
//!              str output, str perf_label, str perf_unit]
//! u16 days      × (u32 day, 5 × u32 ms, u32 results, u64 first_problem_ms, u64 last_problem_ms)
//! u16 incidents × (u64 start_ms, u64 end_ms (MAX: open), u8 worst, str output)
//! u32 points    × (u32 at_s, u8 state, f32 value)
//! u64 checksum
//! ```

use super::history::{Day, History, Incident, Last, Mark, Point};
use crate::result::State;
use anyhow::{anyhow, bail};

const MAGIC: &[u8; 8] = b"NCMPAGE1";
const DAY_BYTES: usize = 4 + 5 * 4 + 4 + 8 + 8;
const INCIDENT_FIXED: usize = 8 + 8 + 1 + 4;
pub const POINT_BYTES: usize = 4 + 1 + 4;
const NONE: u64 = u64::MAX;

fn str_len(s: &str) -> usize {
    4 + s.len()
}

/// The encoded size of `h`, without encoding it.
pub fn encoded_len(h: &History) -> usize {
    let last = h.last.as_ref().map_or(0, |l| {
        str_len(&l.id)
            + 8
            + 1
            + 8
            + str_len(&l.output)
            + str_len(&l.perf_label)
            + str_len(&l.perf_unit)
    });
    MAGIC.len()
        + str_len(&h.id)
        + str_len(&h.host)
        + str_len(&h.name)
        + 4
        + 4
        + 4 * 8
        + 1
        + last
        + 2
        + h.days.len() * DAY_BYTES
        + 2
        + h.incidents
            .iter()
            .map(|i| INCIDENT_FIXED + i.output.len())
            .sum::<usize>()
        + 4
        + h.recent.len() * POINT_BYTES
        + 8
}

/// Not cryptographic: finds truncation and stray bytes. Eight bytes at a time, so checking
/// 100 files of 30 KB costs well under a millisecond.
fn checksum(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        h = (h ^ u64::from_le_bytes(c.try_into().unwrap())).wrapping_mul(0x0100_0000_01b3);
        h ^= h >> 29;
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^ bytes.len() as u64
}

/// Little-endian fields after a magic; [`Writer::finish`] appends the checksum.
pub struct Writer(Vec<u8>);

impl Writer {
    pub fn new(magic: &[u8; 8], capacity: usize) -> Writer {
        let mut bytes = Vec::with_capacity(capacity);
        bytes.extend_from_slice(magic);
        Writer(bytes)
    }
    pub fn finish(mut self) -> Vec<u8> {
        let sum = checksum(&self.0);
        self.u64(sum);
        self.0
    }
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
}

pub fn encode(h: &History) -> Vec<u8> {
    let mut w = Writer::new(MAGIC, encoded_len(h));
    w.str(&h.id);
    w.str(&h.host);
    w.str(&h.name);
    w.u32(h.check_s);
    w.u32(h.timeout_s);
    for v in [h.created_ms, h.since_ms, h.last_ok_ms, h.last_problem_ms] {
        w.u64(v);
    }
    match &h.last {
        None => w.u8(0),
        Some(l) => {
            w.u8(1);
            w.str(&l.id);
            w.u64(l.measured_ms);
            w.u8(l.state.into());
            w.u64(l.duration_ms.unwrap_or(NONE));
            w.str(&l.output);
            w.str(&l.perf_label);
            w.str(&l.perf_unit);
        }
    }
    w.u16(h.days.len() as u16);
    for d in &h.days {
        w.u32(d.day);
        for ms in d.ms {
            w.u32(ms);
        }
        w.u32(d.results);
        w.u64(d.first_problem_ms);
        w.u64(d.last_problem_ms);
    }
    w.u16(h.incidents.len() as u16);
    for i in &h.incidents {
        w.u64(i.start_ms);
        w.u64(i.end_ms.unwrap_or(NONE));
        w.u8(i.worst as u8);
        w.str(&i.output);
    }
    w.u32(h.recent.len() as u32);
    for p in &h.recent {
        w.u32(p.at_s);
        w.u8(p.state.into());
        w.0.extend_from_slice(&p.value.to_le_bytes());
    }
    w.finish()
}

/// Reads what a [`Writer`] wrote.
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// After `magic`, over the bytes the checksum at the end covers, once it matches.
    pub fn checked(bytes: &'a [u8], magic: &[u8; 8]) -> anyhow::Result<Reader<'a>> {
        if bytes.len() < magic.len() + 8 || &bytes[..magic.len()] != magic {
            bail!(
                "it does not start with {:?}",
                String::from_utf8_lossy(magic)
            );
        }
        let (body, sum) = bytes.split_at(bytes.len() - 8);
        if checksum(body) != u64::from_le_bytes(sum.try_into()?) {
            bail!(
                "checksum mismatch over {} bytes (truncated or overwritten)",
                bytes.len()
            );
        }
        Ok(Reader {
            bytes: body,
            at: magic.len(),
        })
    }
    /// Fails when bytes are left over.
    pub fn end(&self) -> anyhow::Result<()> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            n => bail!("{n} bytes too many at the end"),
        }
    }
    pub fn take(&mut self, n: usize, what: &str) -> anyhow::Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            bail!(
                "truncated: {what} at byte {} needs {n} bytes, {} are left",
                self.at,
                self.bytes.len() - self.at
            );
        };
        let part = &self.bytes[self.at..end];
        self.at = end;
        Ok(part)
    }
    pub fn u8(&mut self, what: &str) -> anyhow::Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    pub fn u16(&mut self, what: &str) -> anyhow::Result<u16> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into()?))
    }
    pub fn u32(&mut self, what: &str) -> anyhow::Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into()?))
    }
    pub fn u64(&mut self, what: &str) -> anyhow::Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into()?))
    }
    pub fn str(&mut self, what: &str) -> anyhow::Result<String> {
        self.str_ref(what).map(str::to_string)
    }
    /// A string borrowed from the bytes read.
    pub fn str_ref(&mut self, what: &str) -> anyhow::Result<&'a str> {
        let n = self.u32(what)? as usize;
        let bytes = self.take(n, what)?;
        std::str::from_utf8(bytes).map_err(|_| anyhow!("{what} is not UTF-8"))
    }
    fn state(&mut self, what: &str) -> anyhow::Result<State> {
        State::try_from(self.u8(what)?).map_err(|e| anyhow!("{what}: {e}"))
    }
    fn optional(v: u64) -> Option<u64> {
        (v != NONE).then_some(v)
    }
}

/// Reads a history, or says why the bytes are none (truncated, checksum, …).
pub fn decode(bytes: &[u8]) -> anyhow::Result<History> {
    let mut r = match Reader::checked(bytes, MAGIC) {
        Err(e) if !bytes.starts_with(MAGIC) => bail!("not a page history ({e})"),
        other => other?,
    };
    let mut h = History {
        id: r.str("the id")?,
        host: r.str("the host")?,
        name: r.str("the name")?,
        check_s: r.u32("timers.check")?,
        timeout_s: r.u32("timers.timeout")?,
        created_ms: r.u64("the creation time")?,
        since_ms: r.u64("since")?,
        last_ok_ms: r.u64("the last OK")?,
        last_problem_ms: r.u64("the last problem")?,
        ..History::default()
    };
    if r.u8("the last result's flag")? == 1 {
        h.last = Some(Last {
            id: r.str("the last result's id")?,
            measured_ms: r.u64("the last result's time")?,
            state: r.state("the last result's state")?,
            duration_ms: Reader::optional(r.u64("the last result's run time")?),
            output: r.str("the last output")?,
            perf_label: r.str("the perfdata label")?,
            perf_unit: r.str("the perfdata unit")?,
        });
    }
    for _ in 0..r.u16("the number of days")? {
        let mut d = Day {
            day: r.u32("a day")?,
            ..Day::default()
        };
        for ms in &mut d.ms {
            *ms = r.u32("a day's time in a state")?;
        }
        d.results = r.u32("a day's results")?;
        d.first_problem_ms = r.u64("a day's first problem")?;
        d.last_problem_ms = r.u64("a day's last problem")?;
        h.days.push(d);
    }
    for _ in 0..r.u16("the number of incidents")? {
        h.incidents.push(Incident {
            start_ms: r.u64("an incident's start")?,
            end_ms: Reader::optional(r.u64("an incident's end")?),
            worst: Mark::from_u8(r.u8("an incident's state")?)
                .ok_or_else(|| anyhow!("an incident's state is out of range"))?,
            output: r.str("an incident's output")?,
        });
    }
    let points = r.u32("the number of results")? as usize;
    let bytes = r.take(
        points.saturating_mul(POINT_BYTES),
        &format!("{points} results"),
    )?;
    // All at once: 2,880 results a target, read field by field, were most of the decoding.
    h.recent.reserve(points);
    for p in bytes.chunks_exact(POINT_BYTES) {
        let state = State::try_from(p[4]).map_err(|e| anyhow!("a result's state: {e}"))?;
        h.recent.push_back(Point {
            at_s: u32::from_le_bytes([p[0], p[1], p[2], p[3]]),
            state,
            value: f32::from_le_bytes([p[5], p[6], p[7], p[8]]),
        });
    }
    r.end()?;
    Ok(h)
}
