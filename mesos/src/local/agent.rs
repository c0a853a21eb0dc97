//! Simulated agents: the machines of the cluster and their resources.
//!
//! A Mesos agent registers with the master, announcing its resources; the
//! master's allocator offers whatever is not in use to frameworks. Here
//! every agent lives in this process and shares this machine: it has an ID
//! (`<master id>-S<n>`), a libprocess PID `slave(<n+1>)@<ip>:<port>` (the
//! master's address, where its `/slave(<n+1>)/state` endpoint is served),
//! the resources it was given, and a work directory under which each task
//! gets its sandbox, laid out as on a real agent:
//!
//! ```text
//! <work_dir>/slaves/<agent id>/frameworks/<framework id>/executors/<executor id>/runs/<container id>
//! ```

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use super::{
    master::{Master, master_status, now_secs, time_info},
    status_updates::StatusUpdateManager,
    stream,
};
use crate::{
    resources::Resources,
    v1::{TaskState, task_status::Reason},
};

/// One simulated agent.
#[derive(Debug)]
pub(crate) struct Agent {
    pub id: String,
    /// `slave(N)@ip:port`.
    pub pid: String,
    pub hostname: String,
    pub total: Resources,
    /// Resources of running tasks and executors.
    pub used: Resources,
    /// False once the agent is removed (unreachable).
    pub active: bool,
    pub registered_time: f64,
    /// The agent's own sandbox root: `<work_dir>/slaves/<agent id>`.
    pub root: PathBuf,
    /// Reliable delivery of its tasks' status updates.
    pub updates: StatusUpdateManager,
    /// Executors of task groups (LAUNCH_GROUP) running here, by
    /// (framework ID, executor ID). Command tasks have no entry: their
    /// executor lives and dies with the one task.
    pub executors: BTreeMap<(String, String), GroupExecutor>,
}

/// A default executor running a task group.
#[derive(Debug)]
pub(crate) struct GroupExecutor {
    /// The executor's own resources, used while any of its tasks lives.
    pub resources: Resources,
    /// Its tasks that have not terminated yet.
    pub live_tasks: BTreeSet<String>,
    /// The executor's sandbox; each task gets `tasks/<task id>` in it.
    pub sandbox: PathBuf,
}

impl Agent {
    pub(crate) fn new(
        master_id: &str,
        index: usize,
        ip_port: &str,
        hostname: &str,
        total: Resources,
        work_dir: &Path,
        now: f64,
    ) -> Agent {
        let id = format!("{master_id}-S{index}");
        Agent {
            // libprocess numbers its processes from 1: slave(1), slave(2), …
            pid: format!("slave({})@{ip_port}", index + 1),
            root: work_dir.join("slaves").join(&id),
            id,
            hostname: hostname.to_string(),
            total,
            used: Resources::default(),
            active: true,
            registered_time: now,
            updates: StatusUpdateManager::default(),
            executors: BTreeMap::new(),
        }
    }

    /// The name this agent is served under: `slave(N)`.
    pub(crate) fn process_id(&self) -> &str {
        self.pid.split('@').next().unwrap_or(&self.pid)
    }

    /// A new sandbox directory path for an executor's container run.
    pub(crate) fn sandbox(
        &self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
    ) -> PathBuf {
        self.root
            .join("frameworks")
            .join(framework_id)
            .join("executors")
            .join(executor_id)
            .join("runs")
            .join(container_id)
    }

    /// What the agent could offer now, given what is already offered.
    pub(crate) fn available(&self, offered: &Resources) -> Resources {
        self.total.clone() - &self.used - offered
    }
}

/// Losing an agent (see `Faults::remove_agent`).
impl Master {
    /// An agent stops answering health checks: Mesos marks it unreachable
    /// and its tasks TASK_UNREACHABLE (or TASK_LOST for frameworks that
    /// are not partition-aware), rescinds its offers and tells every
    /// framework with a FAILURE event (`Master::__removeSlave`).
    pub(crate) fn remove_agent(&mut self, agent_id: &str) -> bool {
        let Some(index) = self.agent_index(agent_id) else {
            return false;
        };
        let message = "health check timed out";
        let now = now_secs();
        tracing::warn!(agent_id, "fault: agent removed ({message})");
        self.agents[index].active = false;
        self.unreachable_agents.insert(agent_id.to_string(), now);

        for framework in self.frameworks.values_mut() {
            let on_agent: Vec<String> = framework
                .tasks
                .values()
                .filter(|t| t.agent == index)
                .map(|t| t.info.task_id.value.clone())
                .collect();
            let state = if framework.partition_aware() {
                TaskState::TaskUnreachable
            } else {
                TaskState::TaskLost
            };
            for task_id in on_agent {
                let mut task = framework.tasks.remove(&task_id).expect("listed above");
                // The agent is gone, and with it (as far as anyone can
                // tell) its processes: kill ours so none outlive it.
                task.process = None;
                task.pid = None;
                if task.state.is_terminal() {
                    framework.completed_tasks.push(task);
                    continue;
                }
                let mut status = master_status(
                    &task_id,
                    state,
                    Reason::AgentRemoved,
                    message,
                    Some(agent_id),
                    task.visible_executor_id(),
                );
                status.unreachable_time = Some(time_info(now));
                task.state = state;
                task.record(&status);
                framework.send(&stream::update(status));
                framework.unreachable_tasks.insert(task_id, task);
            }
        }
        let agent = &mut self.agents[index];
        agent.used = Resources::default();
        agent.executors.clear();
        agent.updates = Default::default();

        let rescinded: Vec<String> = self
            .offers
            .values()
            .filter(|o| o.agent == index)
            .map(|o| o.id.clone())
            .collect();
        for offer_id in rescinded {
            let offer = self.offers.remove(&offer_id).expect("listed above");
            if let Some(framework) = self.frameworks.get(&offer.framework_id) {
                framework.send(&stream::rescind(&offer_id));
            }
        }
        for framework in self.frameworks.values() {
            framework.send(&stream::agent_lost(agent_id));
        }
        true
    }
}
