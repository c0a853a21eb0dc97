//! What health check results mean for an app's tasks.
//!
//! Results come from two places: 5K's own checkers (HTTP, HTTPS, TCP,
//! `health/checker.rs`) and the agent (`TaskStatus.healthy`, for COMMAND
//! and MESOS_ checks). Either way they update the task's health record
//! (Marathon's `Health`), set `Task::healthy`, and publish Marathon's
//! events. This file decides; it does no I/O.
//!
//! A task that fails 5K's checks `maxConsecutiveFailures` times in a row
//! is *failed*: it no longer counts toward its app's instances, so a
//! replacement is launched, and it is killed once the app can spare it.
//! Marathon killed every failed task at once, and when a shared
//! dependency (a database) went down every task of the app failed and
//! was killed together: the app was gone, and came back only as fast as
//! offers allowed (mesosphere/marathon#3317, #3318). Here a failed task
//! is killed only while the app keeps ⌈instances × minimumHealthCapacity⌉
//! tasks up ([`unhealthy_kills`], with `deployment::capacity`'s minimum);
//! replacements start first, within `maximumOverCapacity`. Agent-side
//! checks are not held back: the agent kills the task itself.
//!
//! Health records are not stored in ZooKeeper (Marathon keeps them in
//! memory too): a new leader checks again. What must survive a failover
//! is on the stored task: `Task::healthy` says meanwhile what the last
//! leader knew, and `Task::failed_by_checks` that the task is to go.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use mesos::v1::TaskStatus;

use super::{AppEntry, Scheduler, deployment, replace, task::Task};
use crate::{
    app::{HealthCheck, PathId},
    events::Event,
    health::{
        probe::Probe,
        state::{Health, Outcome, in_grace_period},
    },
};

/// Each task's health, per check (the index in the app's `healthChecks`).
#[derive(Debug, Default)]
pub struct HealthRecords {
    by_task: HashMap<String, BTreeMap<usize, Health>>,
}

impl HealthRecords {
    /// A task's records, by check index.
    pub fn of(&self, task_id: &str) -> Option<&BTreeMap<usize, Health>> {
        self.by_task.get(task_id)
    }

    /// Forgets a task that ended.
    pub fn remove(&mut self, task_id: &str) {
        self.by_task.remove(task_id);
    }
}

/// One check of one task for 5K's checkers to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub task_id: String,
    pub check_index: usize,
    pub probe: Probe,
    pub host: String,
    pub port: u16,
    pub delay: Duration,
    pub interval: Duration,
    pub timeout: Duration,
}

/// What a checker found.
#[derive(Clone, Debug)]
pub struct CheckResult {
    pub task_id: String,
    pub check_index: usize,
    pub outcome: Outcome,
}

impl Scheduler {
    /// Every check 5K must run now: one per running task and HTTP, HTTPS
    /// or TCP check of its app's version.
    pub fn health_targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        for entry in self.apps.values() {
            for task in self.tasks.of_app(&entry.app.id) {
                if !task.is_running() || task.killing {
                    continue;
                }
                for (index, check) in checks_of(entry, task).iter().enumerate() {
                    if let Some(target) = target(task, index, check) {
                        targets.push(target);
                    }
                }
            }
        }
        targets
    }

    /// Results from 5K's checkers.
    pub fn on_health_results(&mut self, results: Vec<CheckResult>) {
        for result in results {
            self.on_health_result(result);
        }
    }

    fn on_health_result(&mut self, result: CheckResult) {
        let Some(task) = self.tasks.get(&result.task_id) else {
            return; // ended since
        };
        let Some(entry) = self.apps.get(&task.app_id) else {
            return;
        };
        let Some(check) = checks_of(entry, task).get(result.check_index).cloned() else {
            return;
        };
        if !task.is_running() || task.killing {
            return; // Marathon ignores results of tasks not running
        }
        let task = task.clone();
        self.record(&task, result.check_index, &check, result.outcome);
    }

    /// The agent's word on a task with a COMMAND or MESOS_ check: the
    /// `healthy` of a status update, recorded as the result of that check.
    pub(super) fn on_agent_health(&mut self, status: &TaskStatus) {
        let Some(healthy) = status.healthy else {
            return;
        };
        // A task that ends may still carry its last `healthy`: it says
        // nothing new, and the task is forgotten next.
        if status.state() != mesos::v1::TaskState::TaskRunning {
            return;
        }
        let Some(task) = self.tasks.get(&status.task_id.value).cloned() else {
            return;
        };
        let Some(entry) = self.apps.get(&task.app_id) else {
            return;
        };
        let checks = checks_of(entry, &task);
        let Some((index, check)) = checks
            .iter()
            .enumerate()
            .find(|(_, check)| check.runs_on_the_agent())
            .map(|(index, check)| (index, check.clone()))
        else {
            // An agent-side check we did not ask for: still, the task
            // is healthy or not.
            self.set_healthy(&task.id, Some(healthy));
            return;
        };
        let outcome = if healthy {
            Outcome::Healthy
        } else {
            Outcome::Unhealthy(
                status
                    .message
                    .clone()
                    .unwrap_or_else(|| "the agent's check failed".into()),
            )
        };
        self.record(&task, index, &check, outcome);
    }

    /// Records one result, publishes what Marathon publishes, and keeps
    /// `Task::healthy` in step.
    fn record(&mut self, task: &Task, index: usize, check: &HealthCheck, outcome: Outcome) {
        let now = self.timestamp();
        let old = self
            .health
            .by_task
            .get(&task.id)
            .and_then(|records| records.get(&index))
            .cloned()
            .unwrap_or_default();
        let new = match &outcome {
            Outcome::Ignored => return,
            Outcome::Healthy => old.succeeded(&now),
            Outcome::Unhealthy(cause) => {
                let grace = Duration::from_secs(check.grace_period_seconds.into());
                let start = self.now.checked_sub(grace).unwrap_or(std::time::UNIX_EPOCH);
                let grace_start = crate::time::format(start);
                if in_grace_period(&old, task.started_at.as_deref(), &grace_start) {
                    return;
                }
                self.publish(Event::failed_health_check(&now, task, check));
                old.failed(cause, &now)
            }
        };
        if old.alive() != new.alive() {
            self.publish(Event::health_status_changed(&now, task, new.alive()));
        }
        if new.is_failed(check.max_consecutive_failures) && !check.runs_on_the_agent() {
            tracing::info!(app = %task.app_id, task = %task.id, "task failed its health check: replacing it");
            // Its app launches a replacement and kills it (`converge.rs`).
            // Once failed, the task goes even if it passes again: its
            // replacement is on its way (Marathon kills it at once).
            if let Some(task) = self.tasks.get_mut(&task.id) {
                task.failed_by_checks = true;
            }
            self.dirty.insert(task.app_id.clone());
        }
        let checks = self.checks_of_task(task);
        let records = self.health.by_task.entry(task.id.clone()).or_default();
        records.insert(index, new);
        let healthy = overall(records, &checks, task.healthy);
        self.set_healthy(&task.id, healthy);
    }

    fn checks_of_task(&self, task: &Task) -> Vec<HealthCheck> {
        self.apps
            .get(&task.app_id)
            .map_or_else(Vec::new, |entry| checks_of(entry, task).to_vec())
    }

    fn set_healthy(&mut self, task_id: &str, healthy: Option<bool>) {
        if self
            .tasks
            .get(task_id)
            .is_some_and(|t| t.healthy != healthy)
        {
            let task = self.tasks.get_mut(task_id).expect("just found");
            task.healthy = healthy;
            // A rolling upgrade waits for healthy tasks: look again.
            let app_id = task.app_id.clone();
            self.dirty.insert(app_id);
        }
    }

    /// Whether 5K's checks failed the task: it is to be replaced, and
    /// no longer counts toward its app's instances. Read from the stored
    /// task: after a failover, the new leader has no health records, and
    /// taking the sick task for a current instance would make it kill the
    /// replacement (the younger) and keep the sick one.
    pub(super) fn is_failed_by_checks(&self, task: &Task) -> bool {
        task.failed_by_checks
    }

    /// Whether `task` serves, judged by the checks of its own version:
    /// an old task of a version without checks serves while running,
    /// though the new version has some (it was never checked).
    pub(crate) fn serves(&self, task: &Task) -> bool {
        let has_checks = self
            .apps
            .get(&task.app_id)
            .is_some_and(|entry| !checks_of(entry, task).is_empty());
        task.is_serving(has_checks) && !task.failed_by_checks
    }

    /// Kills the tasks of `app_id` that failed their checks, as many as
    /// [`unhealthy_kills`] allows, oldest failure first.
    pub(super) fn kill_failed(&mut self, app_id: &PathId) {
        let Some(entry) = self.apps.get(app_id) else {
            return; // a deleted app's tasks are all killed anyway
        };
        // The one minimum a deployment keeps too.
        let min_serving = deployment::capacity(&entry.app).min_serving;
        let active: Vec<&Task> = self
            .tasks
            .of_app(app_id)
            .filter(|t| t.is_active())
            .collect();
        let mut failed: Vec<Task> = active
            .iter()
            .filter(|t| self.is_failed_by_checks(t))
            .map(|t| (*t).clone())
            .collect();
        let serving = active.iter().filter(|t| self.serves(t)).count();
        let count = unhealthy_kills(min_serving, serving, failed.len());
        failed.sort_by_key(|t| self.last_failure(&t.id));
        for task in failed.into_iter().take(count) {
            let now = self.timestamp();
            let reason = self
                .last_failure_cause(&task.id)
                .unwrap_or_else(|| "unknown".into());
            tracing::info!(app = %app_id, task = %task.id, "killing a task that failed its health check");
            self.publish(Event::unhealthy_instance_kill(&now, &task, &reason));
            self.kill(&task.id);
        }
    }

    fn last_failure(&self, task_id: &str) -> Option<String> {
        let records = self.health.of(task_id)?;
        records
            .values()
            .filter_map(|h| h.last_failure.clone())
            .max()
    }

    fn last_failure_cause(&self, task_id: &str) -> Option<String> {
        let records = self.health.of(task_id)?;
        records
            .values()
            .filter(|h| h.last_failure.is_some())
            .max_by_key(|h| h.last_failure.clone())
            .and_then(|h| h.last_failure_cause.clone())
    }

    /// Each task's health records, for `healthCheckResults`.
    pub fn health_records(&self, task_id: &str) -> Option<&BTreeMap<usize, Health>> {
        self.health.of(task_id)
    }
}

/// The scheduler judges tasks for the rolling rule (`replace.rs`).
impl replace::Judge for Scheduler {
    fn failed(&self, task: &Task) -> bool {
        self.is_failed_by_checks(task)
    }

    fn serves(&self, task: &Task) -> bool {
        Scheduler::serves(self, task)
    }
}

/// How many of an app's failed tasks may be killed now: as many as leave
/// `min_serving` (⌈instances × minimumHealthCapacity⌉) tasks up, counting
/// the serving ones and the failed ones not yet killed. A failed task
/// still up may serve some requests; killing it before a replacement
/// serves would leave the app with fewer tasks than its upgrade strategy
/// promises (the mass kill of mesosphere/marathon#3317).
pub fn unhealthy_kills(min_serving: usize, serving: usize, failed: usize) -> usize {
    (serving + failed).saturating_sub(min_serving).min(failed)
}

/// A task is healthy when every check of its app passed (last), unhealthy
/// when one failed (last), and unknown until each has a result (Marathon's
/// `tasksHealthy` and `tasksUnhealthy` count the first two).
///
/// The agent's check is the exception: Mesos reports `healthy` only when
/// it changes, so a new leader may wait for ever for a first word on a
/// task that stays healthy. Until it hears, the stored `was` stands for
/// it: if the task was healthy, every check passed then, the agent's too.
fn overall(
    records: &BTreeMap<usize, Health>,
    checks: &[HealthCheck],
    was: Option<bool>,
) -> Option<bool> {
    if records.values().any(|h| !h.alive()) {
        return Some(false);
    }
    let passed = |(index, check): (usize, &HealthCheck)| match records.get(&index) {
        Some(_) => true,
        None => check.runs_on_the_agent() && was == Some(true),
    };
    let all_passed = checks.iter().enumerate().all(passed);
    (all_passed && !checks.is_empty()).then_some(true)
}

/// When 5K first checks a task: Marathon's checks start after
/// min(interval, 5 s) (`HealthCheckActor.scala`'s `startAfter`,
/// `HealthCheck.DefaultFirstHealthCheckAfter`). `delaySeconds` belongs to
/// Mesos' checks only (`MesosHealthCheck`), sent to the agent
/// (`launch.rs`).
fn first_check_delay(check: &HealthCheck) -> Duration {
    Duration::from_secs(check.interval_seconds.min(5).into())
}

/// The health checks of the app version a task runs: during an upgrade,
/// old tasks are checked as their version says, not as the new one does.
fn checks_of<'a>(entry: &'a AppEntry, task: &Task) -> &'a [HealthCheck] {
    if task.config_version == entry.app.config_version() {
        return &entry.app.health_checks;
    }
    entry
        .versions
        .iter()
        .rev()
        .find(|app| app.config_version() == task.config_version)
        .map_or(&entry.app.health_checks, |app| &app.health_checks)
}

/// What 5K runs for `check` of `task`; `None` for agent-side checks, and
/// for a port the task does not have.
fn target(task: &Task, index: usize, check: &HealthCheck) -> Option<Target> {
    let path = check.path.clone().unwrap_or_else(|| "/".into());
    let ignore_http1xx = check.ignore_http1xx;
    let probe = match check.protocol.as_str() {
        "HTTP" => Probe::Http {
            path,
            ignore_http1xx,
        },
        "HTTPS" => Probe::Https { path },
        "TCP" => Probe::Tcp,
        _ => return None,
    };
    // Marathon checks the host port (`effectivePort`): `port` as given,
    // or the task's port at `portIndex`.
    let port = match check.port {
        Some(port) => u64::from(port),
        None => *task.ports.get(check.port_index.unwrap_or(0) as usize)?,
    };
    Some(Target {
        task_id: task.id.clone(),
        check_index: index,
        probe,
        host: task.host.clone(),
        // Refused above 65535 when the app was posted (`health_check.rs`).
        port: u16::try_from(port).ok()?,
        delay: first_check_delay(check),
        interval: Duration::from_secs(check.interval_seconds.into()),
        timeout: Duration::from_secs(check.timeout_seconds.into()),
    })
}
