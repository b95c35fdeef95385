//! No floods: the first change goes out at once, and further changes within the next window
//! wait and go out together as one notice. Pure, like [`super::decide`]; the held events live
//! in the channel's state file between processes (timers mode) and passes (daemon mode).

use super::decide::Event;
use serde::{Deserialize, Serialize};

/// A channel's events that wait for the window to close.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Outbox {
    /// Until when further events wait (the last notice's time plus the window).
    pub window_until_ms: u64,
    pub held: Vec<Event>,
}

impl Outbox {
    /// Adds `events`; returns what is to be sent now: every held event once the window is
    /// over (and opens the next window), else nothing. Only a send that succeeds may keep the
    /// changed outbox (the caller saves it then): a failed one leaves the old one on disk.
    pub fn take_due(&mut self, events: Vec<Event>, now_ms: u64, window_ms: u64) -> Vec<Event> {
        self.held.extend(events);
        if self.held.is_empty() || now_ms < self.window_until_ms {
            return Vec::new();
        }
        self.window_until_ms = now_ms.saturating_add(window_ms);
        std::mem::take(&mut self.held)
    }

    /// When held events are due; `None` when nothing waits.
    pub fn due_ms(&self) -> Option<u64> {
        (!self.held.is_empty()).then_some(self.window_until_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::super::decide::{Condition, Kind};
    use super::*;

    fn event(target: &str, at_ms: u64) -> Event {
        Event {
            target: target.into(),
            host: "h".into(),
            name: target.into(),
            kind: Kind::Problem,
            condition: Condition::NoResult,
            previous: Condition::Ok,
            previous_since_ms: 0,
            at_ms,
            since_ms: at_ms,
            in_a_row: 0,
            changes: 1,
            result: None,
            timeout_minutes: 3,
        }
    }

    #[test]
    fn the_first_goes_at_once_the_next_wait_for_the_window_and_go_together() {
        let mut o = Outbox::default();
        let sent = o.take_due(vec![event("a", 1)], 1_000, 30_000);
        assert_eq!(sent.len(), 1);
        assert_eq!(o.window_until_ms, 31_000);
        assert!(o.take_due(vec![event("b", 2)], 5_000, 30_000).is_empty());
        assert!(o.take_due(vec![event("c", 3)], 30_999, 30_000).is_empty());
        assert_eq!(o.due_ms(), Some(31_000));
        let sent = o.take_due(Vec::new(), 31_000, 30_000);
        let targets: Vec<&str> = sent.iter().map(|e| e.target.as_str()).collect();
        assert_eq!(targets, ["b", "c"], "together, in order");
        assert_eq!((o.window_until_ms, o.due_ms()), (61_000, None));
        // A quiet spell: the next change goes at once again.
        assert_eq!(o.take_due(vec![event("d", 4)], 100_000, 30_000).len(), 1);
    }

    #[test]
    fn a_window_of_zero_sends_everything_at_once() {
        let mut o = Outbox::default();
        assert_eq!(o.take_due(vec![event("a", 1)], 1_000, 0).len(), 1);
        assert_eq!(o.take_due(vec![event("b", 1)], 1_000, 0).len(), 1);
    }
}
