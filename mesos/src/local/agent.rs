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

use super::{resources::Resources, status_updates::StatusUpdateManager};

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
        let mut free = self.total.minus(&self.used);
        free.subtract(offered);
        free
    }
}
