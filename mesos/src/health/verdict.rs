//! From check results to health: the grace period, consecutive failures,
//! and when to say so (`HealthChecker::failure` and `success` in Mesos'
//! `src/checks/health_checker.cpp`, 1.11). No I/O: a plain function of
//! what the checks found and how long the task has run.

use std::time::Duration;

/// What the executor is told: it sends a status update with `healthy`,
/// and kills the task if `kill_task` (Mesos' `TaskHealthStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskHealth {
    pub healthy: bool,
    /// Failures in a row, past the grace period (0 when healthy).
    pub consecutive_failures: u32,
    /// The failures reached the check's `consecutive_failures`.
    pub kill_task: bool,
}

/// The checker's memory of past results.
#[derive(Debug, Clone)]
pub struct Verdicts {
    grace_period: Duration,
    max_failures: u32,
    consecutive_failures: u32,
    /// No check has passed yet: failures within the grace period are the
    /// task still starting up, not a sick task.
    initializing: bool,
}

impl Verdicts {
    pub fn new(grace_period: Duration, max_failures: u32) -> Verdicts {
        Verdicts {
            grace_period,
            max_failures,
            consecutive_failures: 0,
            initializing: true,
        }
    }

    /// One check's result, `since_start` after the checker started. Some
    /// health to report, or None when there is nothing new to say.
    pub fn record(
        &mut self,
        result: &Result<(), String>,
        since_start: Duration,
    ) -> Option<TaskHealth> {
        match result {
            Ok(()) => self.success(),
            Err(_) => self.failure(since_start),
        }
    }

    /// Healthy is said on the first success, and on the first success
    /// after failures: a framework hears of a change, not of every pass.
    fn success(&mut self) -> Option<TaskHealth> {
        let changed = self.initializing || self.consecutive_failures > 0;
        self.initializing = false;
        self.consecutive_failures = 0;
        changed.then_some(TaskHealth {
            healthy: true,
            consecutive_failures: 0,
            kill_task: false,
        })
    }

    /// Every failure past the grace period is said (Mesos sends an
    /// unhealthy update each time), and the last one asks for the kill.
    /// The grace period ends early once a check passed: a task that was
    /// healthy once and fails is sick, however young.
    fn failure(&mut self, since_start: Duration) -> Option<TaskHealth> {
        if self.initializing && !self.grace_period.is_zero() && since_start <= self.grace_period {
            return None;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        Some(TaskHealth {
            healthy: false,
            consecutive_failures: self.consecutive_failures,
            kill_task: self.consecutive_failures >= self.max_failures,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAILED: Result<(), String> = Err(String::new());
    const PASSED: Result<(), String> = Ok(());

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn failures_in_the_grace_period_are_ignored_until_a_check_passes() {
        let mut verdicts = Verdicts::new(secs(10), 3);
        assert_eq!(verdicts.record(&FAILED, secs(5)), None);
        assert_eq!(verdicts.record(&FAILED, secs(10)), None);
        let health = verdicts.record(&FAILED, secs(11)).unwrap();
        assert_eq!((health.healthy, health.consecutive_failures), (false, 1));

        let mut verdicts = Verdicts::new(secs(10), 3);
        assert!(verdicts.record(&PASSED, secs(1)).unwrap().healthy);
        let health = verdicts.record(&FAILED, secs(2)).unwrap();
        assert_eq!((health.healthy, health.kill_task), (false, false));
    }

    #[test]
    fn healthy_is_said_on_the_first_pass_and_after_failures_only() {
        let mut verdicts = Verdicts::new(Duration::ZERO, 3);
        assert!(verdicts.record(&PASSED, secs(1)).is_some());
        assert_eq!(verdicts.record(&PASSED, secs(2)), None);
        assert!(verdicts.record(&FAILED, secs(3)).is_some());
        assert_eq!(
            verdicts.record(&PASSED, secs(4)),
            Some(TaskHealth {
                healthy: true,
                consecutive_failures: 0,
                kill_task: false
            })
        );
    }

    #[test]
    fn the_kill_comes_with_the_last_allowed_failure() {
        let mut verdicts = Verdicts::new(Duration::ZERO, 3);
        let kills: Vec<bool> = (1..=4)
            .map(|s| verdicts.record(&FAILED, secs(s)).unwrap().kill_task)
            .collect();
        assert_eq!(kills, [false, false, true, true]);
        // A pass in between starts the count again.
        let mut verdicts = Verdicts::new(Duration::ZERO, 2);
        verdicts.record(&FAILED, secs(1));
        verdicts.record(&PASSED, secs(2));
        assert!(!verdicts.record(&FAILED, secs(3)).unwrap().kill_task);
    }
}
