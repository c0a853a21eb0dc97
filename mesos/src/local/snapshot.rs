//! A read-only picture of the simulated cluster, for tests and `/state`.
//!
//! The master's state belongs to its actor task and changes only there.
//! After every change the actor publishes a fresh [`Snapshot`] on a
//! `watch` channel, so a test can look at the cluster (or wait for a
//! condition) without locks and without asking the actor, and the
//! `/master/state` endpoint can answer even while the master is busy.
//!
//! A snapshot copies every task, so building one after each of the calls
//! and updates that n tasks cause costs n² (1,000 tasks: a minute of CPU).
//! [`Publishing`] keeps that linear: a cluster of up to
//! [`EAGER_SNAPSHOT_TASKS`] tasks (every test's) is published after every
//! change, so whoever got a reply sees its effect; a bigger one at most
//! once per ten times the last build took (about a tenth of the actor's
//! time), and always soon after the last change: the snapshot then lags by
//! at most that much.

use std::{path::PathBuf, time::Duration};

use tokio::time::Instant;

use super::{
    agent::AgentState,
    custom_executor::{CustomExecutor, ExecutorState},
    master::{Master, Task},
};
use crate::{
    resources::Resources,
    v1::{ExecutorInfo, FrameworkInfo, TaskState, TaskStatus},
};

/// The cluster as the master sees it at one moment.
///
/// Resources are as the master accounts for them: without allocation
/// (`allocation_info`), reservations in the `reservations` field. Offers
/// carry them allocated to the offer's role.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The leading master's ID; the IDs of the frameworks it registers and
    /// of its offers start with it. A new one after each
    /// [`Faults::fail_over`](super::Faults::fail_over); agent IDs start
    /// with the first one ([`LocalMaster::id`](super::LocalMaster::id)).
    pub master_id: String,
    /// When the leading master was elected (seconds since the epoch).
    pub elected_time: f64,
    /// Every agent, registered or not.
    pub agents: Vec<AgentSnapshot>,
    /// Frameworks the master knows, including removed ones (`removed`).
    pub frameworks: Vec<FrameworkSnapshot>,
    /// Every task the master knows or knew of, including completed ones.
    /// Tasks an agent runs that the master does not know (since it failed
    /// over, or while the agent is away) are not here.
    pub tasks: Vec<TaskSnapshot>,
    /// Offers sent and not yet accepted, declined or rescinded.
    pub offers: Vec<OfferSnapshot>,
}

/// One agent.
#[derive(Debug, Clone)]
pub struct AgentSnapshot {
    /// `<first master id>-S0`, `<first master id>-S1`, …
    pub id: String,
    /// The libprocess PID, `slave(1)@127.0.0.1:5050`: the agent's address.
    pub pid: String,
    pub hostname: String,
    /// Registered, recovered (after a master failover) or unreachable.
    pub state: AgentState,
    /// Registered (`state` is [`AgentState::Registered`]).
    pub active: bool,
    pub total: Resources,
    /// Used by tasks and executors, as far as the master knows: nothing
    /// while the agent is not registered.
    pub used: Resources,
    /// In outstanding offers.
    pub offered: Resources,
    pub registered_time: f64,
    /// When it last re-registered, if it did.
    pub reregistered_time: Option<f64>,
    /// While it is not registered: the tasks it runs (or ran, their
    /// terminal update unacknowledged) that the master does not know, as
    /// the agent sees them. It reports them when it re-registers.
    pub unreported_tasks: Vec<TaskSnapshot>,
    /// The custom executors running on it (from launch until their
    /// process ends).
    pub executors: Vec<ExecutorSnapshot>,
}

/// A custom executor on an agent (`TaskInfo.executor`).
#[derive(Debug, Clone)]
pub struct ExecutorSnapshot {
    pub id: String,
    pub framework_id: String,
    /// With `framework_id` filled in, as the master did.
    pub info: ExecutorInfo,
    /// This run's container ID: the name of its sandbox directory.
    pub container_id: String,
    /// Its sandbox, where its (and its tasks') output goes.
    pub directory: PathBuf,
    /// `ExecutorInfo.resources`, held until its process ends.
    pub resources: Resources,
    /// It subscribed (and is not shutting down).
    pub subscribed: bool,
    /// It was asked to shut down.
    pub terminating: bool,
    /// Tasks not sent to it yet, in launch order.
    pub queued_tasks: Vec<String>,
    /// Its process, once started.
    pub pid: Option<u32>,
}

/// One framework.
#[derive(Debug, Clone)]
pub struct FrameworkSnapshot {
    pub id: String,
    pub info: FrameworkInfo,
    /// Has an open event stream.
    pub connected: bool,
    /// Removed after TEARDOWN or its failover timeout.
    pub removed: bool,
    /// Known to a newly elected master only from an agent running its
    /// tasks: not subscribed to this master yet.
    pub recovered: bool,
    /// Roles for which it asked not to get offers (SUPPRESS).
    pub suppressed_roles: Vec<String>,
    /// Active offer filters (from DECLINE or ACCEPT with refuse_seconds).
    pub filters: usize,
    pub registered_time: f64,
    pub unregistered_time: Option<f64>,
}

/// One task.
#[derive(Debug, Clone)]
pub struct TaskSnapshot {
    pub id: String,
    pub name: String,
    pub framework_id: String,
    pub agent_id: String,
    /// Set for tasks launched with an executor (LAUNCH_GROUP): the master
    /// does not record the command executor of a command task.
    pub executor_id: Option<String>,
    /// The task's latest state, as the agent knows it.
    pub state: TaskState,
    /// The state of the latest status update sent to the framework, which
    /// lags behind `state` until the framework acknowledges.
    pub status_update_state: Option<TaskState>,
    /// Every update sent for this task, in order (the same state once).
    pub statuses: Vec<TaskStatus>,
    pub resources: Resources,
    pub role: String,
    /// The sandbox directory, holding `stdout` and `stderr`.
    pub sandbox: Option<PathBuf>,
    /// The OS process ID while the task's process runs.
    pub pid: Option<u32>,
    /// Terminal and acknowledged (or its framework removed): the master
    /// keeps it only for `/state`'s `completed_tasks`.
    pub completed: bool,
    /// Lost with its agent (TASK_UNREACHABLE or TASK_LOST).
    pub unreachable: bool,
    /// The check its executor runs next to it (`crate::health`).
    pub health_check: Option<crate::v1::HealthCheck>,
}

/// One outstanding offer.
#[derive(Debug, Clone)]
pub struct OfferSnapshot {
    pub id: String,
    pub framework_id: String,
    pub agent_id: String,
    pub resources: Resources,
}

impl Snapshot {
    pub fn agent(&self, id: &str) -> Option<&AgentSnapshot> {
        self.agents.iter().find(|a| a.id == id)
    }

    pub fn framework(&self, id: &str) -> Option<&FrameworkSnapshot> {
        self.frameworks.iter().find(|f| f.id == id)
    }

    /// The task with this ID (of any framework; the latest if reused).
    /// A custom executor running on any agent.
    pub fn executor(&self, framework_id: &str, executor_id: &str) -> Option<&ExecutorSnapshot> {
        self.agents
            .iter()
            .flat_map(|a| &a.executors)
            .find(|e| e.framework_id == framework_id && e.id == executor_id)
    }

    pub fn task(&self, id: &str) -> Option<&TaskSnapshot> {
        self.tasks.iter().rev().find(|t| t.id == id)
    }

    /// Tasks of one framework that are not completed.
    pub fn active_tasks(&self, framework_id: &str) -> Vec<&TaskSnapshot> {
        self.tasks
            .iter()
            .filter(|t| t.framework_id == framework_id && !t.completed && !t.unreachable)
            .collect()
    }

    /// Registered agents.
    pub fn active_agents(&self) -> Vec<&AgentSnapshot> {
        self.agents.iter().filter(|a| a.active).collect()
    }
}

/// Up to this many tasks (completed ones included), the snapshot is
/// published after every change.
pub(crate) const EAGER_SNAPSHOT_TASKS: usize = 100;

/// A bigger snapshot waits this many times as long as the last one took
/// to build, so that building takes about a tenth of the actor's time.
const BUILD_TIME_FACTOR: u32 = 10;

/// When the actor publishes: whether the state changed since the last
/// snapshot, and the earliest time it may build the next one.
#[derive(Debug, Default)]
pub(crate) struct Publishing {
    changed: bool,
    not_before: Option<Instant>,
}

impl Publishing {
    /// The state changed: whether to publish now.
    pub(crate) fn changed(&mut self, now: Instant) -> bool {
        self.changed = true;
        self.not_before.is_none_or(|at| now >= at)
    }

    /// When a deferred snapshot is due, if one is.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.not_before.filter(|_| self.changed)
    }

    /// A snapshot of `tasks` tasks was published; building it took `took`.
    pub(crate) fn published(&mut self, tasks: usize, started: Instant, took: Duration) {
        self.changed = false;
        self.not_before =
            (tasks > EAGER_SNAPSHOT_TASKS).then(|| started + took * BUILD_TIME_FACTOR);
    }
}

impl Master {
    /// The snapshot the actor publishes after every change.
    pub(crate) fn build_snapshot(&self) -> Snapshot {
        let mut offered: Vec<Resources> = vec![Resources::default(); self.agents.len()];
        for offer in self.offers.values() {
            offered[offer.agent] += &offer.resources;
        }
        let agents = self
            .agents
            .iter()
            .zip(offered)
            .map(|(agent, offered)| AgentSnapshot {
                id: agent.id.clone(),
                pid: agent.pid.clone(),
                hostname: agent.hostname.clone(),
                state: agent.state,
                active: agent.registered(),
                total: agent.total.clone(),
                used: if agent.registered() {
                    agent.used.clone()
                } else {
                    Resources::default()
                },
                offered,
                registered_time: agent.registered_time,
                reregistered_time: agent.reregistered_time,
                unreported_tasks: agent
                    .unreported_tasks
                    .values()
                    .map(|task| self.task_snapshot(task, false, false))
                    .collect(),
                executors: agent
                    .custom_executors
                    .values()
                    .map(executor_snapshot)
                    .collect(),
            })
            .collect();
        let mut frameworks = Vec::new();
        let mut tasks = Vec::new();
        let all = self
            .frameworks
            .values()
            .map(|f| (f, false))
            .chain(self.removed_frameworks.values().map(|f| (f, true)));
        for (framework, removed) in all {
            frameworks.push(FrameworkSnapshot {
                id: framework.id.clone(),
                info: framework.info.clone(),
                connected: framework.stream.is_some(),
                removed,
                recovered: framework.recovered,
                suppressed_roles: framework.suppressed_roles.iter().cloned().collect(),
                filters: framework.filters.len(),
                registered_time: framework.registered_time,
                unregistered_time: framework.unregistered_time,
            });
            let groups = [
                (
                    framework.completed_tasks.iter().collect::<Vec<_>>(),
                    true,
                    false,
                ),
                (framework.unreachable_tasks.values().collect(), false, true),
                (framework.tasks.values().collect(), false, false),
            ];
            for (list, completed, unreachable) in groups {
                for task in list {
                    tasks.push(self.task_snapshot(task, completed, unreachable));
                }
            }
        }
        let offers = self
            .offers
            .values()
            .map(|offer| OfferSnapshot {
                id: offer.id.clone(),
                framework_id: offer.framework_id.clone(),
                agent_id: self.agents[offer.agent].id.clone(),
                resources: offer.resources.clone(),
            })
            .collect();
        Snapshot {
            master_id: self.id.clone(),
            elected_time: self.elected_time,
            agents,
            frameworks,
            tasks,
            offers,
        }
    }

    fn task_snapshot(&self, task: &Task, completed: bool, unreachable: bool) -> TaskSnapshot {
        TaskSnapshot {
            id: task.info.task_id.value.clone(),
            name: task.info.name.clone(),
            framework_id: task.framework_id.clone(),
            agent_id: self.agents[task.agent].id.clone(),
            executor_id: task.visible_executor_id(),
            state: task.state,
            status_update_state: task.status_update.as_ref().map(|(s, _)| *s),
            statuses: task.statuses.clone(),
            resources: task.resources.clone(),
            role: task.role.clone(),
            sandbox: task.sandbox.clone(),
            pid: task.pid,
            completed,
            unreachable,
            health_check: task.info.health_check.as_deref().cloned(),
        }
    }
}

fn executor_snapshot(executor: &CustomExecutor) -> ExecutorSnapshot {
    ExecutorSnapshot {
        id: executor.info.executor_id.value.clone(),
        framework_id: executor
            .info
            .framework_id
            .as_ref()
            .map(|id| id.value.clone())
            .unwrap_or_default(),
        info: executor.info.clone(),
        container_id: executor.container_id.clone(),
        directory: executor.sandbox.clone(),
        resources: executor.resources.clone(),
        subscribed: executor.state == ExecutorState::Running,
        terminating: executor.state == ExecutorState::Terminating,
        queued_tasks: executor.queued.clone(),
        pid: executor.pid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count of snapshot builds, not their time: a small cluster's is
    /// built at every change, a big one's at most once per ten build times,
    /// and a deferred one falls due.
    #[test]
    fn big_snapshots_are_built_at_most_once_per_ten_build_times() {
        let start = Instant::now();
        let took = Duration::from_millis(20);
        let mut publishing = Publishing::default();

        assert!(publishing.changed(start));
        publishing.published(EAGER_SNAPSHOT_TASKS, start, took);
        assert!(publishing.changed(start), "a small one at every change");
        assert_eq!(publishing.due(), None);

        publishing.published(EAGER_SNAPSHOT_TASKS + 1, start, took);
        let mut builds_in_window = 0;
        for ms in 0..200 {
            if publishing.changed(start + Duration::from_millis(ms)) {
                builds_in_window += 1;
            }
        }
        assert_eq!(builds_in_window, 0, "none within 10 × 20 ms");
        assert_eq!(publishing.due(), Some(start + took * BUILD_TIME_FACTOR));
        assert!(publishing.changed(start + Duration::from_millis(200)));
        publishing.published(EAGER_SNAPSHOT_TASKS + 1, start, took);
        assert_eq!(publishing.due(), None, "nothing changed since");
    }
}
