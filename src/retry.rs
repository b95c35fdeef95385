//! The retry policy, in one place: what counts as worth retrying, and how long to wait.
//!
//! Any non-2xx answer is a failure. 5xx, 408, 425 and 429, timeouts, connection errors and
//! redirects (a proxy in the way) are transient: retried with capped exponential backoff, and
//! the result stays queued if they persist. Any other 4xx is a rejection that retrying cannot
//! fix: the result is moved aside, kept, and shown by `status`.

use std::future::Future;
use std::time::Duration;

/// Why a request did not succeed; callers branch on it (retry and keep vs. move aside).
#[derive(Debug)]
pub enum DeliveryError {
    /// May succeed later: keep the result queued.
    Transient(anyhow::Error),
    /// The server refused it for good (a 4xx).
    Rejected(anyhow::Error),
}

impl DeliveryError {
    /// The error, whatever its class.
    pub fn error(&self) -> &anyhow::Error {
        match self {
            DeliveryError::Transient(e) | DeliveryError::Rejected(e) => e,
        }
    }

    /// Whether retrying could help.
    pub fn is_transient(&self) -> bool {
        matches!(self, DeliveryError::Transient(_))
    }
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error())
    }
}

/// Statuses besides 5xx that mean "try again later".
pub const RETRIABLE_4XX: &[u16] = &[408, 425, 429];

/// Whether an HTTP status is success, transient, or a rejection.
pub fn classify(status: u16) -> Class {
    match status {
        200..=299 => Class::Success,
        400..=499 if !RETRIABLE_4XX.contains(&status) => Class::Rejected,
        _ => Class::Transient,
    }
}

/// See [`classify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Success,
    Transient,
    Rejected,
}

/// How many attempts, and the backoff between them.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// `attempts` tries with 250 ms, 500 ms, 1 s, … between them, at most 10 s.
    pub fn new(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            attempts: attempts.max(1),
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
        }
    }

    /// The pauses between registration rounds that failed for a transient reason: about a
    /// minute, then doubling, at most 5 minutes while the server stays away. Used by the
    /// daemon and by `register --retry` (the timers mode's register unit) alike.
    pub fn registration() -> RetryPolicy {
        RetryPolicy {
            attempts: u32::MAX,
            first_delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(5 * 60),
        }
    }

    /// The wait before attempt `n + 1` (after `n` failures, `n` ≥ 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failures.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// Runs `attempt` until it succeeds, is rejected, or the attempts are used up.
    pub async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T, DeliveryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, DeliveryError>>,
    {
        let mut failures = 0;
        loop {
            match attempt().await {
                Err(DeliveryError::Transient(e)) => {
                    failures += 1;
                    if failures >= self.attempts {
                        return Err(DeliveryError::Transient(e));
                    }
                    tracing::debug!("attempt {failures} failed, retrying: {e:#}");
                    tokio::time::sleep(self.delay(failures)).await;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn statuses_are_classified() {
        assert_eq!(classify(200), Class::Success);
        assert_eq!(classify(204), Class::Success);
        assert_eq!(classify(401), Class::Rejected);
        assert_eq!(classify(404), Class::Rejected);
        assert_eq!(classify(429), Class::Transient);
        assert_eq!(classify(503), Class::Transient);
        assert_eq!(classify(301), Class::Transient);
    }

    #[test]
    fn timeouts_too_early_and_server_errors_are_transient_other_4xx_rejected() {
        // Each guards one part of `classify`: 408 and 425 are in RETRIABLE_4XX, 500 falls to
        // the transient arm, 400 is a plain rejection.
        let got: Vec<(u16, Class)> = [408, 425, 500, 400]
            .into_iter()
            .map(|s| (s, classify(s)))
            .collect();
        assert_eq!(
            got,
            [
                (408, Class::Transient),
                (425, Class::Transient),
                (500, Class::Transient),
                (400, Class::Rejected),
            ]
        );
        assert_eq!(classify(299), Class::Success);
        assert_eq!(classify(499), Class::Rejected);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy::new(10);
        assert_eq!(p.delay(1), Duration::from_millis(250));
        assert_eq!(p.delay(3), Duration::from_secs(1));
        assert_eq!(p.delay(40), Duration::from_secs(10));
    }

    #[test]
    fn registration_retries_after_a_minute_then_at_most_every_five() {
        let p = RetryPolicy::registration();
        let delays: Vec<u64> = (1..=5).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(delays, [60, 120, 240, 300, 300]);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_then_given_up() {
        let calls = Cell::new(0);
        let out: Result<(), _> = RetryPolicy::new(3)
            .run(|| async {
                calls.set(calls.get() + 1);
                Err(DeliveryError::Transient(anyhow::anyhow!("503")))
            })
            .await;
        assert!(out.unwrap_err().is_transient());
        assert_eq!(calls.get(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn rejections_are_not_retried() {
        let calls = Cell::new(0);
        let out: Result<(), _> = RetryPolicy::new(3)
            .run(|| async {
                calls.set(calls.get() + 1);
                Err(DeliveryError::Rejected(anyhow::anyhow!("401")))
            })
            .await;
        assert!(!out.unwrap_err().is_transient());
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn an_error_shows_its_whole_chain_whatever_its_class() {
        // What `flush`, `status` and the journal print for a failed delivery: every cause.
        let transient = DeliveryError::Transient(
            anyhow::anyhow!("connection refused").context("POST https://status.nixcloud.io/api"),
        );
        assert_eq!(
            transient.to_string(),
            "POST https://status.nixcloud.io/api: connection refused"
        );
        let rejected =
            DeliveryError::Rejected(anyhow::anyhow!("HTTP 404: no such host").context("h-n"));
        assert_eq!(format!("{rejected}"), "h-n: HTTP 404: no such host");
    }
}
