//! Simulated agents: the machines of the cluster and their resources.
//!
//! A Mesos agent registers with the master, announcing its resources; the
//! master's allocator offers whatever is not in use to frameworks. Here
//! every agent lives in this process and shares this machine: it has an ID
//! (`<first master id>-S<n>`, kept across master failovers), a libprocess
//! PID `slave(<n+1>)@<ip>:<port>` (the master's address, where its
//! `/slave(<n+1>)/state` endpoint is served), the resources it was given,
//! and a work directory under which each task gets its sandbox, laid out
//! as on a real agent:
//!
//! ```text
//! <work_dir>/slaves/<agent id>/frameworks/<framework id>/executors/<executor id>/runs/<container id>
//! ```
//!
//! Custom executors (`TaskInfo.executor`) live in
//! [`Agent::custom_executors`] from their launch until their process ends
//! (`custom_executor.rs`); the agent serves them the executor API at
//! `/slave(<n+1>)/api/v1/executor` (`executor_api.rs`).
//!
//! An agent is not the master's: it runs its tasks whether or not a master
//! knows about them. While it is registered, the master's record of a task
//! is the agent's too (one [`Task`] in the framework's `tasks`). When the
//! master loses track of an agent (it marked the agent unreachable, or it
//! failed over), the agent keeps its tasks as [`Agent::unreported_tasks`]:
//! their processes run on, their executors report, their status updates
//! queue up, and the agent tells the master about all of it when it
//! re-registers (`partition.rs`).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
};

use super::{
    custom_executor::CustomExecutor,
    files::Files,
    master::{Master, Settings, Task},
    status_updates::StatusUpdateManager,
};
use crate::{resources::Resources, v1::FrameworkInfo};

/// Where an agent stands with the leading master: Mesos' `slaves.registered`,
/// `slaves.recovered` and `slaves.unreachable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentState {
    /// Registered: its resources are offered and its tasks known.
    Registered,
    /// Known to a newly elected master from the registry, but not
    /// re-registered yet, so the master does not know what it runs.
    Recovered,
    /// Marked unreachable: it stopped answering health checks. Its tasks
    /// are TASK_UNREACHABLE (or TASK_LOST) to the master, yet they run on.
    Unreachable,
}

/// One simulated agent.
#[derive(Debug)]
pub(crate) struct Agent {
    pub id: String,
    /// `slave(N)@ip:port`.
    pub pid: String,
    pub hostname: String,
    pub total: Resources,
    /// Its `--attributes`, sent with each offer of its resources.
    pub attributes: Vec<crate::v1::Attribute>,
    /// Its fault domain (`--domain`), sent with each offer too.
    pub domain: Option<crate::v1::DomainInfo>,
    /// Resources of running tasks and executors, as the agent knows them
    /// (the master only knows them while the agent is registered).
    pub used: Resources,
    pub state: AgentState,
    pub registered_time: f64,
    pub reregistered_time: Option<f64>,
    /// When it was marked unreachable (while it is).
    pub unreachable_time: Option<f64>,
    /// The agent's own sandbox root: `<work_dir>/slaves/<agent id>`.
    pub root: PathBuf,
    /// Its `/files` endpoints, where it attaches the sandboxes it creates
    /// (shared by all agents, `files.rs`).
    pub files: Files,
    /// Reliable delivery of its tasks' status updates.
    pub updates: StatusUpdateManager,
    /// Executors of task groups (LAUNCH_GROUP) running here, by
    /// (framework ID, executor ID). Command tasks have no entry: their
    /// executor lives and dies with the one task.
    pub executors: BTreeMap<(String, String), GroupExecutor>,
    /// Custom executors (`TaskInfo.executor`) running here, by
    /// (framework ID, executor ID), from their launch until their process
    /// ends (`custom_executor.rs`).
    pub custom_executors: BTreeMap<(String, String), CustomExecutor>,
    /// While not registered: the tasks it runs, or ran and whose terminal
    /// update is not acknowledged yet, by (framework ID, task ID). The
    /// master does not know them (it lost them with the agent, or failed
    /// over); the agent reports them when it re-registers.
    pub unreported_tasks: BTreeMap<(String, String), Task>,
    /// While not registered: the FrameworkInfo of the frameworks of
    /// `unreported_tasks`, as the agent last heard of them. It reports
    /// them too, so a master that failed over can recover the frameworks.
    pub frameworks: BTreeMap<String, FrameworkInfo>,
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
    /// Agent number `index` of the cluster, on the master's address and
    /// under its work directory.
    pub(crate) fn new(
        master_id: &str,
        index: usize,
        settings: &Settings,
        total: Resources,
        files: Files,
        now: f64,
    ) -> Agent {
        let id = format!("{master_id}-S{index}");
        Agent {
            // libprocess numbers its processes from 1: slave(1), slave(2), …
            pid: format!("slave({})@{}", index + 1, settings.ip_port()),
            root: settings.work_dir.join("slaves").join(&id),
            files,
            id,
            hostname: settings.hostname.clone(),
            total,
            attributes: Vec::new(),
            domain: None,
            used: Resources::default(),
            state: AgentState::Registered,
            registered_time: now,
            reregistered_time: None,
            unreachable_time: None,
            updates: StatusUpdateManager::default(),
            executors: BTreeMap::new(),
            custom_executors: BTreeMap::new(),
            unreported_tasks: BTreeMap::new(),
            frameworks: BTreeMap::new(),
        }
    }

    pub(crate) fn registered(&self) -> bool {
        self.state == AgentState::Registered
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

/// The agent's view of its tasks, wherever the record is.
impl Master {
    /// A task as its agent knows it: the master's record while the agent
    /// is registered, else the agent's own.
    pub(crate) fn agent_task(
        &self,
        agent: usize,
        framework_id: &str,
        task_id: &str,
    ) -> Option<&Task> {
        if self.agents[agent].registered() {
            self.frameworks
                .get(framework_id)?
                .tasks
                .get(task_id)
                .filter(|t| t.agent == agent)
        } else {
            self.agents[agent]
                .unreported_tasks
                .get(&(framework_id.to_string(), task_id.to_string()))
        }
    }

    pub(crate) fn agent_task_mut(
        &mut self,
        agent: usize,
        framework_id: &str,
        task_id: &str,
    ) -> Option<&mut Task> {
        if self.agents[agent].registered() {
            self.frameworks
                .get_mut(framework_id)?
                .tasks
                .get_mut(task_id)
                .filter(|t| t.agent == agent)
        } else {
            self.agents[agent]
                .unreported_tasks
                .get_mut(&(framework_id.to_string(), task_id.to_string()))
        }
    }

    /// The FrameworkInfo as the agent knows it: the master keeps its
    /// registered agents up to date (`sendFrameworkUpdates`); an agent
    /// away from the master has the one it last heard.
    pub(crate) fn agent_framework_info(
        &self,
        agent: usize,
        framework_id: &str,
    ) -> Option<&FrameworkInfo> {
        if self.agents[agent].registered() {
            self.frameworks.get(framework_id).map(|f| &f.info)
        } else {
            self.agents[agent].frameworks.get(framework_id)
        }
    }

    /// The tasks of one of an agent's frameworks, as the agent knows them.
    pub(crate) fn agent_tasks_of(&self, agent: usize, framework_id: &str) -> Vec<&Task> {
        if self.agents[agent].registered() {
            self.frameworks
                .get(framework_id)
                .map(|f| f.tasks.values().filter(|t| t.agent == agent).collect())
                .unwrap_or_default()
        } else {
            self.agents[agent]
                .unreported_tasks
                .iter()
                .filter(|((f, _), _)| f == framework_id)
                .map(|(_, task)| task)
                .collect()
        }
    }
}
