//! Crash-loop backoff: launching an app that keeps failing less and less
//! often (Marathon's `RateLimiter.scala`).
//!
//! A task whose command exits at once would otherwise be relaunched on
//! every offer, many times a second, flooding the agents with sandboxes
//! and the event bus with updates. So each failure delays the app's next
//! launch: `backoffSeconds` after the first, the last delay times
//! `backoffFactor` after each later one, never more than
//! `maxLaunchDelaySeconds`. A task that starts moves the delay's
//! reference to now (`advanceDelay`); once `maxLaunchDelaySeconds` pass
//! after it with no failure, the app is forgiven. A new configuration
//! (also what a restart makes) starts with no delay: the delay belongs
//! to an app *and* its configuration, as Marathon keys it.
//!
//! The delays live in the leader's memory only, as in Marathon, which
//! does not persist them either: a new leader starts every app with no
//! delay, at worst one more quick failure each, and a failover does not
//! have to write to ZooKeeper on every crash of every task.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use crate::app::{App, PathId};

/// The delay of one app's launches.
#[derive(Clone, Debug, PartialEq)]
struct Delay {
    /// The configuration it was earned by (`lastConfigChangeAt`).
    config: String,
    /// The last failure or start.
    reference: Instant,
    current: Duration,
    max: Duration,
    /// Whether the scheduler was woken at its deadline already.
    woken: bool,
}

impl Delay {
    fn deadline(&self) -> Instant {
        self.reference + self.current
    }

    /// Forgiven: `max` passed since the last failure or start
    /// (`cleanUpOverdueDelays`).
    fn expired(&self, now: Instant) -> bool {
        now > self.reference + self.max
    }
}

/// Every app's launch delay.
#[derive(Debug, Default)]
pub struct Backoff {
    delays: BTreeMap<PathId, Delay>,
}

impl Backoff {
    /// A task of `app`'s configuration failed at `now` (`addDelay`).
    pub fn failed(&mut self, app: &App, now: Instant) {
        let max = seconds(app.max_launch_delay_seconds, Duration::MAX);
        let config = app.config_version();
        let current = match self.delays.get(&app.id) {
            Some(delay) if delay.config == config && !delay.expired(now) => {
                // Scala multiplies the nanoseconds; a float of seconds is
                // as exact at these magnitudes.
                let increased = delay.current.as_secs_f64() * app.backoff_factor;
                seconds(increased, max).min(max)
            }
            _ => seconds(app.backoff_seconds, max).min(max),
        };
        tracing::info!(app = %app.id, delay = ?current, "task failed: delaying the app's launches");
        self.delays.insert(
            app.id.clone(),
            Delay {
                config: config.to_string(),
                reference: now,
                current,
                max,
                woken: false,
            },
        );
    }

    /// A task of `app`'s configuration started at `now` (`advanceDelay`):
    /// the delay, if any, counts from now.
    pub fn started(&mut self, app: &App, now: Instant) {
        if let Some(delay) = self.delays.get_mut(&app.id) {
            if delay.config == app.config_version() && !delay.expired(now) {
                delay.reference = now;
                delay.woken = false;
            }
        }
    }

    /// Drops `app_id`'s delay (`resetDelay`): a new configuration, a
    /// restart, a deletion, or `DELETE /v2/queue/{app}/delay`.
    pub fn reset(&mut self, app_id: &PathId) {
        if self.delays.remove(app_id).is_some() {
            tracing::info!(app = %app_id, "launch delay reset");
        }
    }

    /// Until when `app`'s launches wait, if they do at `now`.
    pub fn deadline(&self, app: &App, now: Instant) -> Option<Instant> {
        self.delays
            .get(&app.id)
            .filter(|delay| delay.config == app.config_version() && !delay.expired(now))
            .map(Delay::deadline)
    }

    /// Whether `app` may not launch at `now`.
    pub fn is_delayed(&self, app: &App, now: Instant) -> bool {
        self.deadline(app, now)
            .is_some_and(|deadline| deadline > now)
    }

    /// When the next delay ends that the scheduler has not been woken for.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.delays
            .values()
            .filter(|delay| !delay.woken)
            .map(Delay::deadline)
            .min()
    }

    /// The apps whose delay ended by `now` (each once), forgetting the
    /// delays that expired.
    ///
    /// The ended ones are found before the expired ones are forgotten: a
    /// scheduler woken late (its loop held up by a slow ZooKeeper write)
    /// may find a delay both ended and expired, and its app, whose offers
    /// were suppressed while it waited, must still hear that it may
    /// launch, or it would wait for offers forever.
    pub fn wake(&mut self, now: Instant) -> Vec<PathId> {
        let mut ended = Vec::new();
        for (app_id, delay) in &mut self.delays {
            if !delay.woken && delay.deadline() <= now {
                delay.woken = true;
                ended.push(app_id.clone());
            }
        }
        self.delays.retain(|_, delay| !delay.expired(now));
        ended
    }
}

/// A duration of `seconds`, or `otherwise` for what no duration is (a
/// negative or huge number validation let through).
fn seconds(seconds: f64, otherwise: Duration) -> Duration {
    Duration::try_from_secs_f64(seconds).unwrap_or(otherwise)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::AppRequest;

    fn app(json: &str, version: &str) -> App {
        let request: AppRequest = serde_json::from_str(json).unwrap();
        App::create(PathId::parse("/crash"), request, version)
    }

    fn crash() -> App {
        app(
            r#"{"cmd": "exit 1", "backoffSeconds": 1, "backoffFactor": 2, "maxLaunchDelaySeconds": 10}"#,
            "2026-12-06T00:00:00.000Z",
        )
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn each_failure_multiplies_the_delay_up_to_the_maximum() {
        let (app, t0) = (crash(), Instant::now());
        let mut backoff = Backoff::default();
        assert_eq!(backoff.deadline(&app, t0), None);
        let mut now = t0;
        for expected in [1, 2, 4, 8, 10, 10] {
            backoff.failed(&app, now);
            assert_eq!(backoff.deadline(&app, now), Some(now + expected * S));
            assert!(backoff.is_delayed(&app, now));
            now += expected * S;
            assert!(!backoff.is_delayed(&app, now), "over at its deadline");
        }
    }

    #[test]
    fn marathons_defaults_start_at_one_second_and_grow_by_fifteen_percent() {
        let app = app(r#"{"cmd": "exit 1"}"#, "2026-12-06T00:00:00.000Z");
        let (mut backoff, now) = (Backoff::default(), Instant::now());
        backoff.failed(&app, now);
        backoff.failed(&app, now);
        let delay = backoff.deadline(&app, now).unwrap() - now;
        assert_eq!(delay.as_millis(), 1150);
    }

    #[test]
    fn the_delay_is_forgiven_after_the_maximum_without_failure() {
        let (app, now) = (crash(), Instant::now());
        let mut backoff = Backoff::default();
        backoff.failed(&app, now);
        backoff.failed(&app, now + S);
        assert!(backoff.deadline(&app, now + 11 * S).is_some());
        assert_eq!(backoff.deadline(&app, now + 12 * S), None);
        backoff.failed(&app, now + 12 * S);
        let restart = backoff.deadline(&app, now + 12 * S).unwrap();
        assert_eq!(restart, now + 13 * S, "back to backoffSeconds");
    }

    #[test]
    fn a_start_moves_the_delay_on() {
        let (app, now) = (crash(), Instant::now());
        let mut backoff = Backoff::default();
        backoff.failed(&app, now);
        backoff.started(&app, now + 5 * S);
        assert_eq!(backoff.deadline(&app, now + 5 * S), Some(now + 6 * S));
        assert!(backoff.deadline(&app, now + 14 * S).is_some());
    }

    #[test]
    fn a_new_configuration_or_a_reset_starts_with_no_delay() {
        let (app, now) = (crash(), Instant::now());
        let mut backoff = Backoff::default();
        backoff.failed(&app, now);
        let changed = app.restarted("2026-12-06T00:00:05.000Z");
        assert_eq!(backoff.deadline(&changed, now), None);
        backoff.failed(&changed, now);
        assert_eq!(backoff.deadline(&changed, now), Some(now + S), "not 2 s");
        backoff.reset(&app.id);
        assert_eq!(backoff.deadline(&changed, now), None);
    }

    #[test]
    fn the_scheduler_is_woken_once_when_a_delay_ends() {
        let (app, now) = (crash(), Instant::now());
        let mut backoff = Backoff::default();
        backoff.failed(&app, now);
        assert_eq!(backoff.next_wakeup(), Some(now + S));
        assert!(backoff.wake(now).is_empty());
        assert_eq!(backoff.wake(now + S), vec![app.id.clone()]);
        assert_eq!(backoff.next_wakeup(), None);
        assert!(backoff.wake(now + 2 * S).is_empty());
        // Expired delays are dropped.
        backoff.wake(now + 20 * S);
        assert!(backoff.delays.is_empty());
    }

    #[test]
    fn a_delay_that_ended_and_expired_before_the_wake_still_wakes() {
        let (app, now) = (crash(), Instant::now());
        let mut backoff = Backoff::default();
        backoff.failed(&app, now);
        // Woken only after the maximum (10 s) passed: the delay is both
        // over and forgiven.
        assert_eq!(backoff.wake(now + 11 * S), vec![app.id.clone()]);
        assert!(backoff.delays.is_empty());
        assert!(backoff.wake(now + 12 * S).is_empty());
    }
}
