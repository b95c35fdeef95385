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
    assert_eq!(q.adopt_spool(&lock).unwrap().len(), 1);
    assert_eq!(q.pending(&lock).unwrap().len(), 1);
    assert_eq!(q.stats().rejected, 1);
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
