//! A ZooKeeper server and a simulated Mesos master, for one test, and the
//! framework's binary run against them.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    time::Duration,
};

use zookeeper_client as zk;

use super::{Framework, WAIT, ZooKeeperServer};
use crate::{
    local::{LocalMaster, LocalMasterConfig, Snapshot},
    v1::TaskState,
};

/// A real ZooKeeper and a simulated master, for one test, and the binary
/// of the framework under test.
pub struct Cluster {
    pub zookeeper: ZooKeeperServer,
    pub master: LocalMaster,
    /// The framework's root node, as in `--zk zk://…/hello-mesos`.
    pub root: String,
    binary: PathBuf,
}

impl Cluster {
    /// Starts ZooKeeper and a master with short intervals ([`config`]), for
    /// the framework whose binary is at `binary` (in a test:
    /// `env!("CARGO_BIN_EXE_<name>")`).
    pub async fn start(binary: impl Into<PathBuf>) -> Cluster {
        Cluster::start_with(binary, config()).await
    }

    /// Like [`Cluster::start`], with the master configured as given.
    pub async fn start_with(binary: impl Into<PathBuf>, config: LocalMasterConfig) -> Cluster {
        Cluster {
            zookeeper: ZooKeeperServer::start(),
            master: LocalMaster::start(config).await.expect("the master starts"),
            root: "/hello-mesos".into(),
            binary: binary.into(),
        }
    }

    /// The `--zk` URL of the framework's state.
    pub fn zk_url(&self) -> String {
        format!("zk://{}{}", self.zookeeper.connect_string(), self.root)
    }

    /// Starts the framework on this cluster: `--master <this master> --zk
    /// <zk_url>` then `args`.
    pub fn framework(&self, args: &[&str]) -> Framework {
        let master = self.master.addr().to_string();
        let zk_url = self.zk_url();
        let mut all = vec!["--master", &master, "--zk", &zk_url];
        all.extend_from_slice(args);
        Framework::start(&self.binary, &all)
    }

    /// A plain ZooKeeper client, to look at (or spoil) what the framework
    /// stored without going through the library that stored it.
    pub async fn zookeeper_client(&self) -> zk::Client {
        let servers = self.zookeeper.connect_string();
        match tokio::time::timeout(WAIT, zk::Client::connect(&servers)).await {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => panic!("connecting to ZooKeeper: {error}"),
            Err(_) => panic!("connecting to ZooKeeper: not within {WAIT:?}"),
        }
    }

    /// The framework's state as ZooKeeper holds it.
    pub async fn stored(&self) -> super::Stored {
        super::read_stored(&self.zookeeper_client().await, &self.root).await
    }

    /// Waits until ZooKeeper holds exactly the tasks `expected`, all
    /// TASK_RUNNING, and returns the stored state (to check the rest).
    pub async fn wait_stored_running(&self, expected: &BTreeSet<String>) -> super::Stored {
        super::eventually("the running tasks stored in ZooKeeper", async || {
            let stored = self.stored().await;
            let running = stored
                .tasks
                .values()
                .all(|(state, _)| state == "TASK_RUNNING");
            let ids: BTreeSet<&String> = stored.tasks.keys().collect();
            (running && ids == expected.iter().collect()).then_some(stored)
        })
        .await
    }

    /// Kills a task's process with SIGKILL, as a crash of the task would:
    /// its executor reports TASK_FAILED.
    pub fn crash_task(&self, task_id: &str) {
        let state = self.master.state();
        let pid = state
            .task(task_id)
            .and_then(|task| task.pid)
            .unwrap_or_else(|| panic!("task {task_id} has no running process"));
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .expect("running kill");
        assert!(killed.success(), "kill -KILL {pid}");
    }

    /// Waits until the master's state satisfies `predicate`.
    pub async fn wait_for_master(
        &self,
        what: &str,
        predicate: impl FnMut(&Snapshot) -> bool,
    ) -> Snapshot {
        match self.master.wait_for(predicate, WAIT).await {
            Ok(state) => state,
            Err(timeout) => panic!(
                "{what}: not within {WAIT:?}; the master's tasks then: {:#?}",
                task_summary(&timeout.last)
            ),
        }
    }

    /// Waits until a subscribed framework has exactly `count` tasks, all
    /// running. Returns its ID and its tasks (task ID → agent ID).
    pub async fn wait_for_running(&self, count: usize) -> (String, BTreeMap<String, String>) {
        let what = format!("a subscribed framework with {count} running tasks");
        let state = self
            .wait_for_master(&what, |state| {
                subscribed_framework(state).is_some_and(|id| {
                    let tasks = state.active_tasks(&id);
                    tasks.len() == count && tasks.iter().all(|t| t.state == TaskState::TaskRunning)
                })
            })
            .await;
        let id = subscribed_framework(&state).expect("checked above");
        let tasks = running_tasks(&state, &id);
        (id, tasks)
    }
}

/// A master with short intervals, so that tests are quick.
pub fn config() -> LocalMasterConfig {
    LocalMasterConfig {
        heartbeat_interval: Duration::from_millis(500),
        allocation_interval: Duration::from_millis(50),
        status_update_retry: Duration::from_millis(200),
        ..LocalMasterConfig::default()
    }
}

/// The ID of the framework with an open subscription, if one has.
pub fn subscribed_framework(state: &Snapshot) -> Option<String> {
    let framework = state.frameworks.iter().find(|f| f.connected)?;
    Some(framework.id.clone())
}

/// A framework's running tasks: task ID → agent ID.
pub fn running_tasks(state: &Snapshot, framework_id: &str) -> BTreeMap<String, String> {
    state
        .active_tasks(framework_id)
        .into_iter()
        .filter(|task| task.state == TaskState::TaskRunning)
        .map(|task| (task.id.clone(), task.agent_id.clone()))
        .collect()
}

/// Every task the master knows: (framework, task, state, completed).
fn task_summary(state: &Snapshot) -> Vec<(String, String, &'static str, bool)> {
    state
        .tasks
        .iter()
        .map(|t| {
            let state = t.state.as_str_name();
            (t.framework_id.clone(), t.id.clone(), state, t.completed)
        })
        .collect()
}
