//! Health checks run next to a task, as Mesos' executors run
//! `TaskInfo.health_check` (`src/checks/health_checker.cpp` and
//! `checker_process.cpp`, 1.11).
//!
//! A scheduler can check its tasks itself, over the network, but then a
//! partition between scheduler and agent looks like a sick task. Mesos
//! offers the other way: the executor, on the task's own host, runs the
//! check and reports the task's health in its status updates (`healthy`,
//! reason REASON_TASK_HEALTH_CHECK_STATUS_UPDATED), and kills a task that
//! fails too often. The simulated agent's command executor
//! (`local/executor.rs`) and the kit's own executor both use this module,
//! so a check behaves the same whoever runs it.
//!
//! The timing is Mesos': the first check `delay_seconds` after the task
//! started (default 15), the next `interval_seconds` after each result
//! (10), each given `timeout_seconds` (20; 0 means no limit). Failures
//! within `grace_period_seconds` (10) of the start do not count until a
//! check has passed once; past it, each failure is reported, and the
//! `consecutive_failures`th (3) in a row asks for the kill (`verdict.rs`).
//!
//! | file | concern |
//! |---|---|
//! | `validation.rs` | which checks Mesos accepts, with its messages |
//! | `probe.rs` | one COMMAND, HTTP or TCP check |
//! | `verdict.rs` | grace period and consecutive failures: when to say what |

mod probe;
mod validation;
mod verdict;

use std::time::Duration;

use tokio::time::Instant;

pub use probe::CommandContext;
pub(crate) use probe::command_of;
pub use validation::validate;
pub use verdict::{TaskHealth, Verdicts};

use crate::{
    executor::status::{TaskStatusExt, status},
    v1::{HealthCheck, TaskState, TaskStatus, task_status::Reason},
};
use probe::Probe;

/// A task's running health check. Dropping it stops the checks (Mesos
/// pauses them when the task is being killed or has ended: no health
/// update may follow a kill).
#[derive(Debug)]
pub struct HealthChecker {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HealthChecker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HealthChecker {
    /// Starts checking a task that has just started, calling `report` with
    /// each health to report. Refuses a check Mesos would refuse (the
    /// executor then runs the task unchecked, as Mesos' does, after
    /// logging why).
    pub fn start(
        check: &HealthCheck,
        context: CommandContext,
        report: impl Fn(TaskHealth) + Send + 'static,
    ) -> Result<HealthChecker, String> {
        validate(check)?;
        let probe = Probe::new(check, context);
        let verdicts = Verdicts::new(
            seconds(check.grace_period_seconds()),
            check.consecutive_failures(),
        );
        let timing = Timing {
            delay: seconds(check.delay_seconds()),
            interval: seconds(check.interval_seconds()),
            // Zero means no timeout.
            timeout: Some(seconds(check.timeout_seconds())).filter(|t| !t.is_zero()),
        };
        let task = tokio::spawn(run(probe, timing, verdicts, report));
        Ok(HealthChecker { task })
    }
}

struct Timing {
    delay: Duration,
    interval: Duration,
    timeout: Option<Duration>,
}

async fn run(probe: Probe, timing: Timing, mut verdicts: Verdicts, report: impl Fn(TaskHealth)) {
    // The grace period counts from the start of the task, delay included.
    let started = Instant::now();
    tokio::time::sleep(timing.delay).await;
    loop {
        let result = probe.perform(timing.timeout.unwrap_or(Duration::MAX)).await;
        if let Err(error) = &result {
            tracing::info!(check = probe.name(), %error, "health check failed");
        }
        if let Some(health) = verdicts.record(&result, started.elapsed()) {
            report(health);
        }
        // The interval runs from the end of a check, not its start: a slow
        // check never overlaps the next.
        tokio::time::sleep(timing.interval).await;
    }
}

/// A field's seconds as a duration; one that none can represent (NaN, or
/// beyond a u64 of seconds) is as good as forever.
fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::MAX)
}

/// The status update that reports a task's health, as the command
/// executor's `taskHealthUpdated` builds it: the task is still
/// TASK_RUNNING, with `healthy` and the reason saying why this update.
pub fn health_update(task_id: &str, health: TaskHealth) -> TaskStatus {
    status(task_id, TaskState::TaskRunning)
        .with_reason(Reason::TaskHealthCheckStatusUpdated)
        .with_healthy(health.healthy)
}
