//! The histories benches/page.sh measures: 100 targets with a result every minute for 90
//! days, made by the same [`History::record`] every delivery uses (not in the test suite: it
//! records 13 million results; the bench runs it in release mode).
//!
//!   NIXCLOUD_PAGE_FIXTURE=<stateDir> cargo test --release page_fixture -- --ignored
//!
//! Targets `host<i/10>.example.org-check<i>` with `timers = { check = 1, timeout = 3 }`,
//! as benches/page.sh writes them into the config: every ninth day one of them has half an
//! hour of WARNING, then CRITICAL, then a silence of ten minutes.

use super::codec;
use super::history::History;
use super::store::stem;
use crate::result::{CheckResult, State};

const TARGETS: u64 = 100;
const MIN: u64 = 60_000;

fn history_of(i: u64, now: u64) -> History {
    let (host, name) = (format!("host{}.example.org", i / 10), format!("check{i}"));
    let id = format!("{host}-{name}");
    let start = now - 90 * 1440 * MIN;
    let mut h = History::new(&id, &host, &name, start);
    (h.check_s, h.timeout_s) = (60, 180);
    let mut r = CheckResult {
        id: String::new(),
        target: id,
        host,
        name,
        state: State::Ok,
        output: String::new(),
        perfdata: String::new(),
        measured_at_ms: 0,
        duration_ms: Some(800),
    };
    for n in 0..90 * 1440 {
        // Minute of the 9-day cycle at which this target's trouble starts.
        let trouble = (n + i * 130) % (9 * 1440);
        if (60..70).contains(&trouble) {
            continue; // a silence of ten minutes
        }
        r.state = match trouble {
            0..30 => State::Warning,
            30..60 => State::Critical,
            _ => State::Ok,
        };
        r.measured_at_ms = start + n * MIN;
        r.id = format!("{:020}-1-{n}", r.measured_at_ms);
        r.output = format!("check {i}: {} items, {}", 1200 + n % 97, r.state.label());
        r.perfdata = format!("load={}.{};1;2;0", n % 3, n % 10);
        h.record(&r);
    }
    h
}

#[test]
#[ignore]
fn page_fixture() {
    let Some(state) = std::env::var_os("NIXCLOUD_PAGE_FIXTURE") else {
        panic!("set NIXCLOUD_PAGE_FIXTURE to the state directory to fill");
    };
    let dir = std::path::Path::new(&state).join("page/history");
    std::fs::create_dir_all(&dir).unwrap();
    let now = crate::state::now_ms() / MIN * MIN;
    std::thread::scope(|s| {
        for part in 0..2 {
            let dir = &dir;
            s.spawn(move || {
                for i in (part..TARGETS).step_by(2) {
                    let h = history_of(i, now);
                    std::fs::write(dir.join(format!("{}.hist", stem(&h.id))), codec::encode(&h))
                        .unwrap();
                }
            });
        }
    });
}
