//! A task's health as one check sees it, and what a result does to it.
//!
//! This is Marathon's `core/health/Health.scala`: a task is alive when
//! its last success is more recent than its last failure, so a single
//! failure makes it unhealthy (it leaves the load balancer at once) but
//! only `maxConsecutiveFailures` of them in a row get it killed (one slow
//! answer is no reason to lose the task's work).

use serde::Serialize;

/// What one check of one task found.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Healthy,
    Unhealthy(String),
    /// An answer that says nothing: an HTTP 1xx with `ignoreHttp1xx`.
    Ignored,
}

/// What `healthCheckResults` shows for one check of one task.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub first_success: Option<String>,
    pub last_success: Option<String>,
    pub last_failure: Option<String>,
    pub last_failure_cause: Option<String>,
    pub consecutive_failures: u32,
}

impl Health {
    /// Alive: a success more recent than any failure. Timestamps in
    /// Marathon's format sort in time order (`time.rs`).
    pub fn alive(&self) -> bool {
        match (&self.last_success, &self.last_failure) {
            (Some(success), Some(failure)) => success > failure,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The record after a success at `now`.
    pub fn succeeded(&self, now: &str) -> Health {
        Health {
            first_success: self.first_success.clone().or_else(|| Some(now.to_string())),
            last_success: Some(now.to_string()),
            consecutive_failures: 0,
            ..self.clone()
        }
    }

    /// The record after a failure at `now`.
    pub fn failed(&self, cause: &str, now: &str) -> Health {
        Health {
            last_failure: Some(now.to_string()),
            last_failure_cause: Some(cause.to_string()),
            consecutive_failures: self.consecutive_failures + 1,
            ..self.clone()
        }
    }

    /// Whether the task has failed often enough to be replaced (0: never,
    /// as Marathon's `checkConsecutiveFailures`).
    pub fn is_failed(&self, max_consecutive_failures: u32) -> bool {
        max_consecutive_failures > 0 && self.consecutive_failures >= max_consecutive_failures
    }
}

/// Whether a failure is ignored: a task that has never passed the check
/// is still starting until `gracePeriodSeconds` after it started running
/// (Marathon's `HealthCheckActor.ignoreFailures`). `grace_start` is the
/// time the grace period started from, formatted as `now` is; both sort
/// in time order.
pub fn in_grace_period(health: &Health, started_at: Option<&str>, grace_start: &str) -> bool {
    health.first_success.is_none() && started_at.is_none_or(|started| started > grace_start)
}

/// What an HTTP status says: 200 to 399 healthy, as Marathon (and AWS
/// Route 53) accept; a 1xx ignored when the check asks so.
pub fn http_outcome(status: u16, ignore_http1xx: bool) -> Outcome {
    match status {
        200..=399 => Outcome::Healthy,
        100..=199 if ignore_http1xx => Outcome::Ignored,
        _ => Outcome::Unhealthy(format!("HTTP status {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "2026-12-06T14:35:01.000Z";
    const T2: &str = "2026-12-06T14:35:02.000Z";
    const T3: &str = "2026-12-06T14:35:03.000Z";

    #[test]
    fn one_failure_makes_a_task_unhealthy_and_a_success_heals_it() {
        let fresh = Health::default();
        assert!(!fresh.alive(), "no result yet is not alive");
        let up = fresh.succeeded(T1);
        assert!(up.alive());
        let down = up.failed("connection refused", T2);
        assert!(!down.alive());
        assert_eq!(down.consecutive_failures, 1);
        assert_eq!(
            down.last_failure_cause.as_deref(),
            Some("connection refused")
        );
        let again = down.succeeded(T3);
        assert!(again.alive());
        assert_eq!(
            (again.consecutive_failures, again.first_success.as_deref()),
            (0, Some(T1))
        );
    }

    #[test]
    fn max_consecutive_failures_in_a_row_fail_the_task_and_zero_never_does() {
        let mut health = Health::default();
        for now in [T1, T2] {
            health = health.failed("timeout", now);
        }
        assert!(!health.is_failed(3));
        health = health.failed("timeout", T3);
        assert!(health.is_failed(3));
        assert!(!health.is_failed(0));
    }

    #[test]
    fn failures_are_ignored_until_the_first_success_within_the_grace_period() {
        let fresh = Health::default();
        // Started at T2, grace period started at T1: still starting.
        assert!(in_grace_period(&fresh, Some(T2), T1));
        // Started before the grace period's start: over.
        assert!(!in_grace_period(&fresh, Some(T1), T2));
        // Once it passed once, failures count at once.
        assert!(!in_grace_period(&fresh.succeeded(T2), Some(T2), T1));
    }

    #[test]
    fn http_200_to_399_is_healthy_and_1xx_ignored_only_when_asked() {
        assert_eq!(http_outcome(200, false), Outcome::Healthy);
        assert_eq!(http_outcome(302, false), Outcome::Healthy);
        assert_eq!(
            http_outcome(404, false),
            Outcome::Unhealthy("HTTP status 404".into())
        );
        assert_eq!(http_outcome(101, true), Outcome::Ignored);
        assert!(matches!(http_outcome(101, false), Outcome::Unhealthy(_)));
        assert!(matches!(http_outcome(500, true), Outcome::Unhealthy(_)));
    }
}
