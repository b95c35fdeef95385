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
    assert_eq!(q.adopt_spool(&lock, &[]).unwrap().len(), 1);
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
    assert!(q.adopt_spool(&lock, &[]).unwrap().is_empty());
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
