//! Jittered, capped exponential backoff.
//!
//! When a master goes away, every framework connected to it notices at the
//! same moment. If they all retried on a fixed schedule they would hit the
//! new leader in synchronized waves. Doubling the wait after each failure
//! backs off a master that is struggling, the cap keeps the framework from
//! sleeping for minutes once it is back, and the random "jitter" spreads the
//! retries of many frameworks apart. The scheduler HTTP API docs recommend
//! exactly this for resubscribing, and `docs/reconciliation.md` for repeating
//! reconciliation.

use std::time::Duration;

/// How long to wait before each retry.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Default for Backoff {
    /// From 0.5 s doubling up to 15 s, the cap Mesos' docs suggest.
    fn default() -> Self {
        Backoff::new(Duration::from_millis(500), Duration::from_secs(15))
    }
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// The largest delay the next retry may get: `initial × 2^attempt`,
    /// truncated at `max`.
    pub fn ceiling(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(31));
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next retry: "equal jitter", a random point in the
    /// upper half of the ceiling, so a retry is never immediate and never
    /// later than the cap.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        // Nanoseconds: the ceiling is at most `max`, far below u64::MAX ns
        // (584 years).
        let half_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(fastrand::u64(0..=half_nanos))
    }

    /// Starts again from the initial delay, after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// How many retries since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_inside_bounds() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(15));
        let ceilings = [1, 2, 4, 8, 15, 15, 15];
        for ceiling in ceilings {
            let ceiling = Duration::from_secs(ceiling);
            assert_eq!(backoff.ceiling(), ceiling);
            let delay = backoff.next_delay();
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{delay:?} vs {ceiling:?}"
            );
        }
        backoff.reset();
        assert_eq!(backoff.ceiling(), Duration::from_secs(1));
    }

    #[test]
    fn many_attempts_do_not_overflow() {
        let mut backoff = Backoff::default();
        for _ in 0..1000 {
            assert!(backoff.next_delay() <= Duration::from_secs(15));
        }
        assert_eq!(backoff.attempts(), 1000);
    }

    #[test]
    fn jitter_spreads_retries() {
        let delays: std::collections::HashSet<Duration> = (0..20)
            .map(|_| Backoff::new(Duration::from_secs(8), Duration::from_secs(8)).next_delay())
            .collect();
        assert!(delays.len() > 1, "all 20 delays were equal: no jitter");
    }
}
