use super::*;
use crate::result::State;

fn result(n: u64) -> CheckResult {
    CheckResult {
        id: format!("{:020}-1-{n}", 1_000_000_000_000 + n),
        target: "h-n".into(),
        host: "h".into(),
        name: "n".into(),
        state: State::Ok,
        output: format!("result {n}"),
        perfdata: String::new(),
        measured_at_ms: 1_000 + n,
        duration_ms: None,
    }
}

fn queue(limits: QueueSettings) -> (tempfile::TempDir, Queue) {
    let dir = tempfile::tempdir().unwrap();
    let q = Queue::new(&StateDir::new(dir.path().to_path_buf()), limits);
    (dir, q)
}

#[test]
fn pending_is_oldest_first() {
    let (_d, q) = queue(QueueSettings::default());
    for n in [3, 1, 2] {
        q.push(&result(n)).unwrap();
    }
    let lock = q.lock().unwrap();
    let outputs: Vec<String> = q
        .pending(&lock)
        .unwrap()
        .into_iter()
        .map(|e| e.result.output)
        .collect();
    assert_eq!(outputs, ["result 1", "result 2", "result 3"]);
}

#[test]
fn full_queue_refuses_and_says_so() {
    let (_d, q) = queue(QueueSettings {
        max_count: 2,
        max_bytes: 1 << 20,
    });
    q.push(&result(1)).unwrap();
    q.push(&result(2)).unwrap();
    let err = q.push(&result(3)).unwrap_err();
    assert!(err.downcast_ref::<QueueFull>().is_some());
    assert!(err.to_string().contains("queue.maxCount = 2"), "{err}");
    assert_eq!(q.stats().count, 2);
}

#[test]
fn byte_bound_is_enforced() {
    let (_d, q) = queue(QueueSettings {
        max_count: 100,
        max_bytes: 300,
    });
    q.push(&result(1)).unwrap();
    assert!(q.push(&result(2)).is_err());
}

#[test]
fn rejected_results_are_kept_with_the_reason() {
    let (_d, q) = queue(QueueSettings::default());
    q.push(&result(1)).unwrap();
    let lock = q.lock().unwrap();
    let entry = q.pending(&lock).unwrap().remove(0);
    q.reject(&entry, "HTTP 400: bad").unwrap();
    assert_eq!(q.whereabouts(&entry.result.id), Some("rejected"));
    let stats = q.stats();
    assert_eq!((stats.count, stats.rejected), (0, 1));
}

#[test]
fn spool_is_adopted_and_garbage_set_aside() {
    let (_d, q) = queue(QueueSettings::default());
    q.push_spool(&result(1)).unwrap();
    std::fs::write(q.spool.join("junk.json"), b"not json").unwrap();
    let lock = q.lock().unwrap();
    assert_eq!(q.adopt_spool(&lock, &[], &|_| Ok(())).unwrap().len(), 1);
    assert_eq!(q.pending(&lock).unwrap().len(), 1);
    let stats = q.stats();
    assert_eq!((stats.rejected, stats.corrupt), (0, 1));
    assert!(q.corrupt.join("junk.json").is_file());
    let why = std::fs::read_to_string(q.corrupt.join("junk.json.reason")).unwrap();
    assert!(why.starts_with("not a result (8 bytes): "), "{why}");
}

#[test]
fn a_spool_created_here_is_setgid_and_group_writable_with_the_state_group() {
    use std::os::unix::fs::MetadataExt;
    let (d, q) = queue(QueueSettings::default());
    q.push_spool(&result(1)).unwrap();
    let spool = std::fs::metadata(&q.spool).unwrap();
    let state = std::fs::metadata(d.path()).unwrap();
    assert_eq!(
        (spool.mode() & 0o7777, spool.gid()),
        (0o2770, state.gid()),
        "drwxrws--- with the state directory's group"
    );
    let file = std::fs::metadata(q.spool.join(format!("{}.json", result(1).id))).unwrap();
    assert_eq!(file.mode() & 0o7777, 0o660);
    // An existing spool is left as it is.
    std::fs::set_permissions(
        &q.spool,
        std::os::unix::fs::PermissionsExt::from_mode(0o2775),
    )
    .unwrap();
    q.ensure_spool().unwrap();
    assert_eq!(std::fs::metadata(&q.spool).unwrap().mode() & 0o7777, 0o2775);
}

#[test]
fn the_owner_creates_the_spool_when_it_delivers() {
    use std::os::unix::fs::MetadataExt;
    let (_d, q) = queue(QueueSettings::default());
    let lock = q.lock().unwrap();
    assert!(q.adopt_spool(&lock, &[], &|_| Ok(())).unwrap().is_empty());
    assert_eq!(std::fs::metadata(&q.spool).unwrap().mode() & 0o7777, 0o2770);
}

/// A queued result's file name (`<nanoseconds>-<pid>-<n>.json`) that sorts between
/// `result(n)` and `result(n + 1)`.
fn name_after(n: u64, tag: &str) -> String {
    format!("{}-{tag}.json", result(n).id)
}

#[test]
fn unreadable_entries_are_moved_to_corrupt_and_the_rest_is_pending_in_order() {
    let (_d, q) = queue(QueueSettings::default());
    q.push(&result(1)).unwrap();
    q.push(&result(2)).unwrap();
    let full = serde_json::to_vec(&result(9)).unwrap();
    std::fs::write(q.queue.join(name_after(1, "a")), &full[..full.len() / 2]).unwrap();
    std::fs::write(q.queue.join(name_after(1, "b")), b"").unwrap();
    std::fs::create_dir(q.queue.join(name_after(1, "c"))).unwrap();
    std::fs::write(q.queue.join(name_after(1, "c")).join("x"), b"x").unwrap();
    // Valid JSON, but not the result its name says.
    std::fs::write(q.queue.join(name_after(1, "d")), &full).unwrap();
    // Before a delivery pass the directory is not counted as waiting.
    assert_eq!(q.stats().count, 5);

    let lock = q.lock().unwrap();
    let outputs: Vec<String> = q
        .pending(&lock)
        .unwrap()
        .into_iter()
        .map(|e| e.result.output)
        .collect();
    assert_eq!(outputs, ["result 1", "result 2"]);
    let reason = |tag: &str| {
        std::fs::read_to_string(q.corrupt.join(format!("{}.reason", name_after(1, tag)))).unwrap()
    };
    assert!(reason("a").starts_with("truncated ("), "{}", reason("a"));
    assert!(reason("a").contains("EOF while parsing"), "{}", reason("a"));
    assert!(
        reason("b").starts_with("empty file (0 bytes)"),
        "{}",
        reason("b")
    );
    assert!(
        reason("c").starts_with("a directory, not a result file"),
        "{}",
        reason("c")
    );
    assert!(
        reason("d").starts_with("the file name does not match the result id"),
        "{}",
        reason("d")
    );
    assert!(
        reason("b").contains(&format!("(moved here from {}", q.queue.display())),
        "{}",
        reason("b")
    );
    // Kept under their own names, the directory with its content.
    assert!(q.corrupt.join(name_after(1, "c")).join("x").is_file());
    let stats = q.stats();
    assert_eq!((stats.count, stats.rejected, stats.corrupt), (2, 0, 4));
    // A second pass finds nothing more to move.
    assert_eq!(q.pending(&lock).unwrap().len(), 2);
    assert_eq!(q.stats().corrupt, 4);
}

#[test]
fn a_fifo_named_like_a_result_does_not_block_delivery() {
    let (_d, q) = queue(QueueSettings::default());
    q.push(&result(1)).unwrap();
    let fifo = q.queue.join(name_after(1, "fifo"));
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let lock = q.lock().unwrap();
    assert_eq!(q.pending(&lock).unwrap().len(), 1);
    assert_eq!(q.stats().corrupt, 1);
    let why = std::fs::read_to_string(q.corrupt.join(format!("{}.reason", name_after(1, "fifo"))))
        .unwrap();
    assert!(why.starts_with("a FIFO, socket or device"), "{why}");
}

#[test]
fn a_name_taken_in_corrupt_gets_a_suffix() {
    let (_d, q) = queue(QueueSettings::default());
    let name = name_after(1, "x");
    let lock = q.lock().unwrap();
    for _ in 0..2 {
        std::fs::write(q.queue.join(&name), b"{").unwrap();
        assert!(q.pending(&lock).unwrap().is_empty());
    }
    assert!(q.corrupt.join(&name).is_file());
    assert!(q.corrupt.join(format!("{name}.1")).is_file());
    assert!(q.corrupt.join(format!("{name}.1.reason")).is_file());
    assert_eq!(q.stats().corrupt, 2);
}

#[test]
fn failing_to_move_an_entry_aside_is_not_fatal() {
    let (_d, q) = queue(QueueSettings::default());
    q.push(&result(1)).unwrap();
    std::fs::write(q.queue.join(name_after(1, "junk")), b"junk").unwrap();
    q.push(&result(2)).unwrap();
    // `queue/corrupt` cannot be created: a file holds its name.
    std::fs::write(&q.corrupt, b"in the way").unwrap();
    let lock = q.lock().unwrap();
    let pending = q.pending(&lock).unwrap();
    assert_eq!(pending.len(), 2);
    assert!(
        q.queue.join(name_after(1, "junk")).is_file(),
        "left in place"
    );
    assert_eq!(q.stats().corrupt, 0);
}

#[test]
fn a_result_whose_file_was_moved_aside_is_found_there() {
    let (_d, q) = queue(QueueSettings::default());
    let path = q.push(&result(1)).unwrap();
    std::fs::write(&path, b"").unwrap();
    let lock = q.lock().unwrap();
    assert!(q.pending(&lock).unwrap().is_empty());
    assert_eq!(q.whereabouts(&result(1).id), Some("corrupt"));
    assert_eq!(q.corrupt_reason(&result(1).id), "empty file (0 bytes)");
}

#[test]
fn second_locker_has_to_wait() {
    let (_d, q) = queue(QueueSettings::default());
    let held = q.try_lock().unwrap();
    assert!(held.is_some());
    assert!(q.try_lock().unwrap().is_none());
    drop(held);
    assert!(q.try_lock().unwrap().is_some());
}

#[test]
fn oldest_comes_from_the_id() {
    let (_d, q) = queue(QueueSettings::default());
    q.push(&result(5)).unwrap();
    assert_eq!(q.stats().oldest_ms, Some(1_000_000));
}

fn stats(n: usize, oldest: Option<u64>, error: Option<&str>) -> QueueStats {
    QueueStats {
        count: n,
        bytes: 10 * n as u64,
        oldest_ms: oldest,
        spooled: n,
        rejected: 2 * n,
        corrupt: 3 * n,
        unreadable: 4 * n,
        last_error: error.map(str::to_string),
    }
}

#[test]
fn lane_stats_add_up() {
    let mut sum = stats(2, Some(7), Some("a: down"));
    sum.add(stats(3, Some(5), Some("b: refused")));
    assert_eq!(
        (sum.count, sum.bytes, sum.oldest_ms, sum.spooled),
        (5, 50, Some(5), 3),
        "counts and bytes summed, the oldest of both, the one spool counted once"
    );
    assert_eq!((sum.rejected, sum.corrupt, sum.unreadable), (10, 15, 20));
    assert_eq!(sum.last_error.as_deref(), Some("a: down; b: refused"));
    // Either side may have no oldest result and no error.
    let mut sum = stats(1, None, None);
    sum.add(stats(1, Some(9), Some("b")));
    assert_eq!(
        (sum.oldest_ms, sum.last_error.as_deref()),
        (Some(9), Some("b"))
    );
    let mut sum = stats(1, Some(4), Some("a"));
    sum.add(stats(1, None, None));
    assert_eq!(
        (sum.oldest_ms, sum.last_error.as_deref()),
        (Some(4), Some("a"))
    );
}

#[test]
fn has_results_sees_queued_and_spooled_results_only() {
    let (_d, q) = queue(QueueSettings::default());
    assert!(!q.has_results(), "no queue directory yet");
    let lock = q.lock().unwrap();
    drop(lock);
    std::fs::write(q.queue.join(".tmp-1-x.json"), b"{}").unwrap();
    std::fs::write(q.queue.join("notes.txt"), b"").unwrap();
    assert!(
        !q.has_results(),
        "a temp file and a non-result are no results"
    );
    q.push(&result(1)).unwrap();
    assert!(q.has_results());

    let (_d, q) = queue(QueueSettings::default());
    q.push_spool(&result(1)).unwrap();
    assert!(q.has_results(), "a spooled result counts");
}

#[test]
fn has_spooled_sees_the_spool_and_for_a_lane_the_old_single_queue() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(dir.path().to_path_buf());
    let single = Queue::new(&state, QueueSettings::default());
    let lane = Queue::lane(&state, QueueSettings::default(), "nixcloud");
    assert!(!single.has_spooled() && !lane.has_spooled());
    single.push(&result(1)).unwrap();
    assert!(!single.has_spooled(), "its own queue is not the spool");
    assert!(lane.has_spooled(), "queue/ itself, for a lane");
    std::fs::remove_file(single.queue.join(format!("{}.json", result(1).id))).unwrap();
    assert!(!lane.has_spooled());
    single.push_spool(&result(2)).unwrap();
    assert!(single.has_spooled() && lane.has_spooled());
}

#[test]
fn the_byte_bound_counts_the_new_result_and_allows_exactly_the_limit() {
    let size = serde_json::to_vec(&result(1)).unwrap().len() as u64;
    let (_d, q) = queue(QueueSettings {
        max_count: 100,
        max_bytes: size,
    });
    q.push(&result(1)).unwrap();
    let err = q.push(&result(2)).unwrap_err();
    assert!(err.downcast_ref::<QueueFull>().is_some(), "{err:#}");
    assert!(
        err.to_string().contains(&format!(
            ": 1 results, {size} bytes (limits: queue.maxCount = 100, queue.maxBytes = {size}), oldest measured 1970-01-01T00:16:40Z; the result for h-n was NOT accepted."
        )),
        "{err}"
    );
    // One byte less than a result: even an empty queue refuses it.
    let (_d, q) = queue(QueueSettings {
        max_count: 100,
        max_bytes: size - 1,
    });
    let err = q.push(&result(1)).unwrap_err();
    assert!(
        err.to_string().contains(": 0 results, 0 bytes (limits: "),
        "{err}"
    );
    assert_eq!(q.stats().count, 0);
}

#[test]
fn ensure_spool_reports_a_spool_it_cannot_create() {
    // Even root cannot create a directory in /proc.
    let q = Queue::new(&StateDir::new("/proc".into()), QueueSettings::default());
    let err = q.ensure_spool().unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "could not create /proc/spool: No such file or directory (os error 2)"
    );
}

#[test]
fn a_queue_for_one_target_reads_only_that_targets_results() {
    let (_d, q) = queue(QueueSettings::default());
    let mut other = result(2);
    other.target = "x-y".into();
    let mine = q.push(&result(1)).unwrap();
    let theirs = q.push(&other).unwrap();
    let q = q.only_target("h-n");
    assert_eq!(q.entry(&mine).unwrap().result.output, "result 1");
    assert!(q.entry(&theirs).is_none());
    assert!(theirs.is_file(), "left queued for whoever knows it");
    let q = q.only_target("x-y");
    assert!(q.entry(&mine).is_none());
    assert_eq!(q.entry(&theirs).unwrap().result.output, "result 2");
}

#[test]
fn a_survey_counts_the_readable_results_and_lists_the_rest_leaving_them() {
    let (_d, q) = queue(QueueSettings::default());
    let empty = q.survey();
    assert!(empty.results.is_empty() && empty.unreadable.is_empty());
    assert_eq!((empty.stats.count, empty.stats.unreadable), (0, 0));
    let second = q.push(&result(2)).unwrap();
    let first = q.push(&result(1)).unwrap();
    let junk = q.queue.join(name_after(1, "junk"));
    std::fs::write(&junk, b"junk").unwrap();
    let survey = q.survey();
    let outputs: Vec<&str> = survey.results.iter().map(|r| r.output.as_str()).collect();
    assert_eq!(outputs, ["result 1", "result 2"]);
    assert_eq!(survey.unreadable.len(), 1);
    assert_eq!(survey.unreadable[0].0, junk);
    assert!(
        survey.unreadable[0]
            .1
            .starts_with("not a result (4 bytes): "),
        "{:?}",
        survey.unreadable
    );
    let bytes =
        std::fs::metadata(&first).unwrap().len() + std::fs::metadata(&second).unwrap().len();
    assert_eq!(
        (
            survey.stats.count,
            survey.stats.bytes,
            survey.stats.unreadable
        ),
        (2, bytes, 1)
    );
    // The oldest is the first result's time (ids are ns, 1_000_000_000_000 + n: 1_000_000 ms).
    assert_eq!(survey.stats.oldest_ms, Some(1_000_000));
    assert!(junk.is_file(), "left for delivery to move aside");
    // The cheap figures still count it as waiting; only the survey tells.
    assert_eq!(q.stats().count, 3);
}

#[test]
fn remove_forgets_a_delivered_result() {
    let (_d, q) = queue(QueueSettings::default());
    let path = q.push(&result(1)).unwrap();
    let lock = q.lock().unwrap();
    let entry = q.pending(&lock).unwrap().remove(0);
    q.remove(&entry).unwrap();
    assert!(!path.exists());
    assert_eq!(q.whereabouts(&result(1).id), None);
    let err = q.remove(&entry).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        format!(
            "could not remove {}: No such file or directory (os error 2)",
            path.display()
        )
    );
}

#[test]
fn the_reason_for_a_refusal_is_read_back_as_written() {
    let (_d, q) = queue(QueueSettings::default());
    q.push(&result(1)).unwrap();
    let lock = q.lock().unwrap();
    let entry = q.pending(&lock).unwrap().remove(0);
    q.reject(&entry, "HTTP 400 Bad Request: bad").unwrap();
    assert_eq!(
        q.rejection_reason(&result(1).id),
        "HTTP 400 Bad Request: bad"
    );
    assert_eq!(q.rejection_reason(&result(2).id), "");
}

#[test]
fn the_last_delivery_error_is_kept_until_a_good_delivery() {
    let (_d, q) = queue(QueueSettings::default());
    q.lock().unwrap();
    assert_eq!(q.stats().last_error, None);
    let before = now_ms() / 1000 * 1000;
    q.set_last_error(Some("HTTP 503: down"));
    let error = q.stats().last_error.unwrap();
    let (when, what) = error.split_once(": ").unwrap();
    assert_eq!(what, "HTTP 503: down");
    let when = humantime::parse_rfc3339(when).unwrap();
    let ms = when
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(ms >= before && ms <= now_ms(), "{error}");
    q.set_last_error(None);
    assert_eq!(q.stats().last_error, None);
    assert!(!q.queue.join(".last-error").exists());
}

#[test]
fn syncing_a_missing_file_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone.json");
    let err = sync_file_and_dir(&path).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        format!(
            "could not sync {} to disk: No such file or directory (os error 2)",
            path.display()
        )
    );
    std::fs::write(&path, b"x").unwrap();
    sync_file_and_dir(&path).unwrap();
}

#[test]
fn a_missing_directory_lists_empty_and_an_unlistable_one_fails() {
    let dir = tempfile::tempdir().unwrap();
    assert!(list_json(&dir.path().join("missing")).unwrap().is_empty());
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let err = list_json(&file).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        format!(
            "could not list {}: Not a directory (os error 20)",
            file.display()
        )
    );
}

#[test]
fn an_entry_that_vanished_is_gone_and_one_that_cannot_be_opened_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        inspect(&dir.path().join("gone.json")).unwrap_err(),
        Unreadable::Gone
    );
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    assert_eq!(
        inspect(&file.join("x.json")).unwrap_err(),
        Unreadable::Corrupt("could not open it: Not a directory (os error 20)".into())
    );
}

#[test]
fn a_thousand_suffixes_are_tried_then_setting_aside_fails() {
    let dir = tempfile::tempdir().unwrap();
    let aside = dir.path().join("aside");
    std::fs::create_dir(&aside).unwrap();
    let name = "r.json";
    std::fs::write(aside.join(name), b"").unwrap();
    for n in 1..1000 {
        std::fs::write(aside.join(format!("{name}.{n}")), b"").unwrap();
    }
    let path = dir.path().join(name);
    std::fs::write(&path, b"x").unwrap();
    assert_eq!(
        set_aside_in(&aside, &path, "why").unwrap(),
        aside.join("r.json.1000")
    );
    assert_eq!(
        std::fs::read_to_string(aside.join("r.json.1000.reason")).unwrap(),
        "why"
    );
    std::fs::write(&path, b"x").unwrap();
    let err = set_aside_in(&aside, &path, "why").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{} holds too many entries named {name}", aside.display())
    );
    assert!(path.is_file(), "left where it was");
}

#[test]
fn corrupt_entries_are_counted_with_or_without_a_reason_file() {
    let (_d, q) = queue(QueueSettings::default());
    std::fs::create_dir_all(&q.corrupt).unwrap();
    std::fs::write(q.corrupt.join("a.json"), b"").unwrap();
    std::fs::write(q.corrupt.join("b.json"), b"").unwrap();
    std::fs::write(q.corrupt.join("b.json.reason"), b"why").unwrap();
    std::fs::write(q.corrupt.join(".tmp-1-c.json"), b"").unwrap();
    assert_eq!(q.stats().corrupt, 2);
}

#[test]
fn times_are_shown_as_rfc3339_utc_to_the_second() {
    assert_eq!(format_ms(0), "1970-01-01T00:00:00Z");
    assert_eq!(format_ms(1_764_547_199_999), "2025-11-30T23:59:59Z");
}
