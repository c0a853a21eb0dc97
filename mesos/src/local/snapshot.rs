//! A read-only picture of the simulated cluster, for tests and `/state`.
//!
//! The master's state belongs to its actor task and changes only there.
//! After every change the actor publishes a fresh [`Snapshot`] on a
//! `watch` channel, so a test can look at the cluster (or wait for a
//! condition) without locks and without asking the actor, and the
//! `/master/state` endpoint can answer even while the master is busy.

use std::path::PathBuf;

use super::master::Master;
use crate::{
    resources::Resources,
    v1::{FrameworkInfo, TaskState, TaskStatus},
};

/// The cluster as the master sees it at one moment.
///
/// Resources are as the master accounts for them: without allocation
/// (`allocation_info`), reservations in the `reservations` field. Offers
/// carry them allocated to the offer's role.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The master's ID; agent, framework and offer IDs start with it.
    pub master_id: String,
    pub agents: Vec<AgentSnapshot>,
    /// Frameworks the master knows, including removed ones (`removed`).
    pub frameworks: Vec<FrameworkSnapshot>,
    /// Every task the master knows or knew of, including completed ones.
    pub tasks: Vec<TaskSnapshot>,
    /// Offers sent and not yet accepted, declined or rescinded.
    pub offers: Vec<OfferSnapshot>,
}

/// One agent.
#[derive(Debug, Clone)]
pub struct AgentSnapshot {
    /// `<master id>-S0`, `<master id>-S1`, …
    pub id: String,
    /// The libprocess PID, `slave(1)@127.0.0.1:5050`: the agent's address.
    pub pid: String,
    pub hostname: String,
    /// False once the agent was removed (see `Faults::remove_agent`).
    pub active: bool,
    pub total: Resources,
    /// Used by tasks and executors.
    pub used: Resources,
    /// In outstanding offers.
    pub offered: Resources,
    pub registered_time: f64,
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

    /// Agents still in the cluster.
    pub fn active_agents(&self) -> Vec<&AgentSnapshot> {
        self.agents.iter().filter(|a| a.active).collect()
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
                active: agent.active,
                total: agent.total.clone(),
                used: agent.used.clone(),
                offered,
                registered_time: agent.registered_time,
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
                    tasks.push(TaskSnapshot {
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
                    });
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
            master_id: self.settings.master_id.clone(),
            agents,
            frameworks,
            tasks,
            offers,
        }
    }
}
