//! The backend as a whole: crashes between two writes, unreadable histories, hostile text.

use super::*;
use crate::result::State;

/// Two passive targets: one with HTML and URL characters in its id, one plain.
const CONFIG: &str = "backends = [\"local\", \"page\"]\nstateDir = \"/nonexistent\"\n\
    [[targets.passive]]\nhost = \"web<1>&\"\nname = \"a/b \\\"c\\\"?#%\"\n\
    timers = { check = 5, timeout = 15 }\n\
    [[targets.passive]]\nhost = \"db\"\nname = \"disk\"\n";

struct Fixture {
    dir: tempfile::TempDir,
    page: Page,
    targets: Vec<Target>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(std::path::Path::new("t.toml"), CONFIG).unwrap();
    let page = Page::new(&config, &StateDir::new(dir.path().to_path_buf()));
    Fixture {
        dir,
        page,
        targets: config.targets,
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn result(t: &Target, state: State, output: &str, n: u64) -> CheckResult {
    let mut r = CheckResult::new(t, state, output, "load=0.5;1;2");
    r.measured_at_ms = now_ms() - 60_000 + n;
    r.id = format!("{:020}-1-{n}", r.measured_at_ms);
    r
}

impl Fixture {
    fn history(&self, id: &str) -> History {
        let path = self
            .dir
            .path()
            .join("page/history")
            .join(format!("{}.hist", store::stem(id)));
        codec::decode(&std::fs::read(path).unwrap()).unwrap()
    }

    fn site(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("page/site").join(name)).unwrap()
    }

    fn deliver(&self, items: &[(&CheckResult, Option<&Target>)]) {
        block_on(self.page.deliver_many(items)).unwrap();
    }
}

#[test]
fn a_crash_after_the_history_and_before_the_page_is_put_right_by_the_redelivery() {
    let f = fixture();
    let r = result(&f.targets[1], State::Critical, "disk full", 0);
    // The history is written, then the process dies (no page yet): the queue still holds
    // the result and delivers it again.
    let mut store = Store::open(&f.dir.path().join("page/history")).unwrap();
    record(&mut store, &[(&r, Some(&f.targets[1]))], now_ms());
    store.save().unwrap();
    assert!(!f.dir.path().join("page/site/index.html").exists());
    f.deliver(&[(&r, Some(&f.targets[1]))]);
    let h = f.history("db-disk");
    assert_eq!(
        h.days.iter().map(|d| d.results).sum::<u32>(),
        1,
        "counted once"
    );
    assert!(f.site("index.html").contains("disk full"));
}

#[test]
fn a_crash_between_two_targets_histories_records_each_result_once() {
    let f = fixture();
    let (a, b) = (&f.targets[0], &f.targets[1]);
    let (ra, rb) = (
        result(a, State::Ok, "a", 1),
        result(b, State::Warning, "b", 2),
    );
    // A batch of two: the first history is written, the process dies before the second.
    let mut store = Store::open(&f.dir.path().join("page/history")).unwrap();
    record(&mut store, &[(&ra, Some(a))], now_ms());
    store.save().unwrap();
    // A temporary file of the second write, never renamed.
    let tmp = f.dir.path().join("page/history/.tmp-4242-db-disk.hist");
    std::fs::write(&tmp, b"half a hist").unwrap();
    f.deliver(&[(&ra, Some(a)), (&rb, Some(b))]);
    for (id, state) in [(a.id.as_str(), State::Ok), (b.id.as_str(), State::Warning)] {
        let h = f.history(id);
        assert_eq!(h.days.iter().map(|d| d.results).sum::<u32>(), 1, "{id}");
        assert_eq!(h.last.unwrap().state, state);
    }
    assert!(
        !tmp.exists(),
        "the dead process's temporary file is cleared"
    );
}

#[test]
fn a_garbage_history_is_set_aside_and_the_page_still_written() {
    let f = fixture();
    let (a, b) = (&f.targets[0], &f.targets[1]);
    f.deliver(&[(&result(b, State::Ok, "fine", 0), Some(b))]);
    let history = f.dir.path().join("page/history");
    std::fs::write(
        history.join(format!("{}.hist", store::stem(&a.id))),
        b"NCMPAGE1 garbage",
    )
    .unwrap();
    let good = history.join("db-disk.hist");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&good, &bytes[..bytes.len() / 2]).unwrap();
    let corrupt = history.join("corrupt");
    let listed = || {
        let mut names: Vec<String> = std::fs::read_dir(&corrupt)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    // A result for the target whose history is garbage: set aside, a new one begun; the
    // other target's page part is still the one rendered before.
    f.deliver(&[(&result(a, State::Critical, "new", 5), Some(a))]);
    assert_eq!(
        listed(),
        [
            format!("{}.hist", store::stem(&a.id)),
            format!("{}.hist.reason", store::stem(&a.id))
        ]
    );
    let index = f.site("index.html");
    assert!(index.contains("new") && index.contains("fine"), "{index}");
    assert_eq!(
        f.history(&a.id).days.iter().map(|d| d.results).sum::<u32>(),
        1
    );
    // Rendering everything again (another build, say) reads the truncated one: set aside
    // too, and the page is written from what is left.
    std::fs::remove_file(f.dir.path().join("page/rendered")).unwrap();
    f.deliver(&[(&result(a, State::Ok, "newer", 6), Some(a))]);
    assert_eq!(listed().len(), 4);
    let reason = std::fs::read_to_string(corrupt.join("db-disk.hist.reason")).unwrap();
    assert!(reason.contains("checksum mismatch"), "{reason}");
    let index = f.site("index.html");
    assert!(
        index.contains("newer") && !index.contains("fine"),
        "{index}"
    );
}

#[test]
fn hostile_ids_and_outputs_stay_text_in_html_json_and_svg() {
    let f = fixture();
    let t = &f.targets[0];
    let hostile = "<script>alert(1)</script> & \"quoted\" 'single' \u{1b}[31m";
    f.deliver(&[(&result(t, State::Critical, hostile, 0), Some(t))]);
    let index = f.site("index.html");
    assert!(!index.contains("<script>alert"), "{index}");
    assert!(index.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;"));
    assert!(
        index.contains("\u{241b}[31m"),
        "the escape character is shown as a picture"
    );
    assert!(index.contains("web&lt;1&gt;&amp;"), "the host");
    // The anchor and the badge use the escaped id only.
    let stem = store::stem(&t.id);
    assert_eq!(stem, "web_1__-a_b__c____");
    assert!(index.contains(&format!("id=\"t-{stem}\"")));
    let status: serde_json::Value = serde_json::from_str(&f.site("status.json")).unwrap();
    assert_eq!(status["targets"][0]["output"], hostile);
    assert_eq!(status["targets"][0]["id"], t.id.as_str());
    assert_eq!(status["targets"][0]["badge"], format!("badges/{stem}.svg"));
    let own = f.site(&format!("targets/{stem}.html"));
    assert!(!own.contains("<script"), "{own}");
    assert!(own.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;"));
    assert!(own.contains("web&lt;1&gt;&amp;"), "the host");
    let svg = f.site(&format!("badges/{stem}.svg"));
    assert!(svg.contains("a/b &quot;c&quot;?#%: CRITICAL"), "{svg}");
    assert!(
        svg.starts_with("<svg xmlns=") && svg.ends_with("</svg>"),
        "{svg}"
    );
}

#[test]
fn a_page_dir_that_is_a_file_is_refused_and_nothing_is_lost() {
    let f = fixture();
    std::fs::create_dir_all(f.dir.path().join("page")).unwrap();
    std::fs::write(f.dir.path().join("page/site"), b"not a directory").unwrap();
    let t = &f.targets[1];
    let r = result(t, State::Ok, "fine", 0);
    let err = block_on(f.page.deliver_many(&[(&r, Some(t))])).unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("is not a directory") && text.contains("page/site"),
        "{text}"
    );
    assert!(
        matches!(err, DeliveryError::Transient(_)),
        "it stays queued"
    );
    // Once the directory is there, the redelivery writes it, the result counted once.
    std::fs::remove_file(f.dir.path().join("page/site")).unwrap();
    f.deliver(&[(&r, Some(t))]);
    assert!(f.site("index.html").contains("fine"));
    assert_eq!(
        f.history("db-disk")
            .days
            .iter()
            .map(|d| d.results)
            .sum::<u32>(),
        1
    );
}

#[test]
fn a_complete_registration_drops_the_targets_no_longer_configured() {
    let f = fixture();
    // A result first: the target with special characters keeps its history.
    let t = &f.targets[0];
    f.deliver(&[(&result(t, State::Critical, "x", 0), Some(t))]);
    let rows = block_on(f.page.register(&f.targets, true));
    assert!(rows.iter().all(|r| r.outcome.is_ok()));
    let status: serde_json::Value = serde_json::from_str(&f.site("status.json")).unwrap();
    let states: Vec<&str> = status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["CRITICAL", "PENDING"]);
    block_on(f.page.register(&f.targets[1..], true));
    let status: serde_json::Value = serde_json::from_str(&f.site("status.json")).unwrap();
    assert_eq!(status["targets"].as_array().unwrap().len(), 1);
    let badges = std::fs::read_dir(f.dir.path().join("page/site/badges"))
        .unwrap()
        .count();
    assert_eq!(badges, 1, "the removed target's badge is gone");
    let mut pages: Vec<String> = std::fs::read_dir(f.dir.path().join("page/site/targets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        ["db-disk.html", "db-disk.json"],
        "its page and details too"
    );
}

#[test]
fn a_targets_own_page_is_written_when_it_changes_not_when_only_time_moves_on() {
    let f = fixture();
    let t = &f.targets[1];
    f.deliver(&[(&result(t, State::Critical, "disk full", 0), Some(t))]);
    let own = f.dir.path().join("page/site/targets/db-disk.html");
    let page = std::fs::read_to_string(&own).unwrap();
    assert!(
        page.contains("disk full") && page.contains("Incidents"),
        "{page}"
    );
    assert!(f
        .site("index.html")
        .contains("href=\"targets/db-disk.html\""));
    // Every part rendered again 11 minutes on (nothing else changed): the index is, the
    // target's own page is not.
    std::fs::write(&own, "as before").unwrap();
    let later = now_ms() + 11 * 60_000;
    f.page.update(later, |_| {}).unwrap();
    assert_eq!(std::fs::read_to_string(&own).unwrap(), "as before");
    // A missing one is written again; so is one whose target has a new result.
    std::fs::remove_file(&own).unwrap();
    f.page.update(later + 11 * 60_000, |_| {}).unwrap();
    assert!(std::fs::read_to_string(&own).unwrap().contains("disk full"));
    std::fs::write(&own, "as before").unwrap();
    f.deliver(&[(&result(t, State::Ok, "fine again", 1), Some(t))]);
    assert!(std::fs::read_to_string(&own)
        .unwrap()
        .contains("fine again"));
}
