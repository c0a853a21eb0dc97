//! What the tests share: a real ZooKeeper, a simulated Mesos master with
//! short intervals, and the framework's binary run as a child process, the
//! way an operator runs it.
//!
//! Every wait has a deadline ([`WAIT`]); a test that waits longer fails and
//! shows the framework's log.
#![allow(dead_code)] // each test file uses a part

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use mesos::{
    local::{LocalMaster, LocalMasterConfig, Snapshot},
    testing::ZooKeeperServer,
    v1::TaskState,
};
use zookeeper_client as zk;

/// The longest any one wait may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// The framework's root node, as in `--zk zk://…/hello-mesos`.
pub const ROOT: &str = "/hello-mesos";

/// A ZooKeeper server and a simulated master, for one test.
pub struct Cluster {
    pub zookeeper: ZooKeeperServer,
    pub master: LocalMaster,
}

impl Cluster {
    pub async fn start() -> Cluster {
        Cluster::start_with(config()).await
    }

    pub async fn start_with(config: LocalMasterConfig) -> Cluster {
        Cluster {
            zookeeper: ZooKeeperServer::start(),
            master: LocalMaster::start(config).await.expect("the master starts"),
        }
    }

    /// The `--zk` URL of the framework's state.
    pub fn zk_url(&self) -> String {
        format!("zk://{}{ROOT}", self.zookeeper.connect_string())
    }

    /// Starts the framework on this cluster, with `args` after `--master`
    /// and `--zk`.
    pub fn framework(&self, args: &[&str]) -> Framework {
        let master = self.master.addr().to_string();
        let zk_url = self.zk_url();
        let mut all = vec!["--master", &master, "--zk", &zk_url];
        all.extend_from_slice(args);
        Framework::start(&all)
    }

    /// A plain ZooKeeper client, to look at (or spoil) what the framework
    /// stored without going through the library that stored it.
    pub async fn zookeeper_client(&self) -> zk::Client {
        zk::Client::connect(&self.zookeeper.connect_string())
            .await
            .expect("connecting to ZooKeeper")
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

/// Short intervals, so that tests are quick.
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

/// The framework's state as it is in ZooKeeper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub framework_id: Option<String>,
    pub instances: Option<String>,
    /// Task ID → (state, agent ID), from each task's node.
    pub tasks: BTreeMap<String, (String, Option<String>)>,
}

/// Reads the state with a plain ZooKeeper client.
pub async fn read_stored(client: &zk::Client) -> Stored {
    let text = |data: Vec<u8>| String::from_utf8(data).expect("UTF-8 text");
    let mut tasks = BTreeMap::new();
    let tasks_node = format!("{ROOT}/state/tasks");
    let children = match client.list_children(&tasks_node).await {
        Ok(children) => children,
        Err(zk::Error::NoNode) => Vec::new(),
        Err(error) => panic!("listing {tasks_node}: {error}"),
    };
    for id in children {
        let node = format!("{tasks_node}/{id}");
        let Some(data) = read_node(client, &node).await else {
            continue;
        };
        let json: serde_json::Value = serde_json::from_slice(&data).expect("a task node is JSON");
        let state = json["state"].as_str().expect("a state").to_string();
        let agent_id = json["agent_id"].as_str().map(str::to_string);
        tasks.insert(id, (state, agent_id));
    }
    Stored {
        framework_id: read_node(client, &format!("{ROOT}/state/framework_id"))
            .await
            .map(text),
        instances: read_node(client, &format!("{ROOT}/state/instances"))
            .await
            .map(text),
        tasks,
    }
}

/// A node's data, or `None` if it does not exist.
pub async fn read_node(client: &zk::Client, node: &str) -> Option<Vec<u8>> {
    match client.get_data(node).await {
        Ok((data, _)) => Some(data),
        Err(zk::Error::NoNode) => None,
        Err(error) => panic!("reading {node}: {error}"),
    }
}

/// Creates `node` with `data`, and the nodes above it if missing.
pub async fn create_node(client: &zk::Client, node: &str, data: &[u8]) {
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let parent = &node[..node.rfind('/').expect("an absolute path")];
    client
        .mkdir(parent, &options)
        .await
        .expect("creating parents");
    client
        .create(node, data, &options)
        .await
        .unwrap_or_else(|e| panic!("creating {node}: {e}"));
}

/// Polls `check` until it returns something, at most [`WAIT`].
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The framework's binary, running. Killed (SIGKILL) when dropped.
pub struct Framework {
    child: Child,
    /// Everything it logged so far.
    output: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Framework {
    pub fn start(args: &[&str]) -> Framework {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hello-mesos-03"))
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the framework starts");
        let stdout = child.stdout.take().expect("piped");
        let output = Arc::new(Mutex::new(String::new()));
        let collected = output.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Shown when a test fails.
                println!("[framework] {line}");
                let mut output = collected.lock().unwrap();
                output.push_str(&line);
                output.push('\n');
            }
        });
        Framework {
            child,
            output,
            reader: Some(reader),
        }
    }

    /// Everything the framework logged so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until the framework logs a line containing `text`, and
    /// returns that line.
    pub async fn wait_for_output(&self, text: &str) -> String {
        let what = format!("the framework logging {text:?}");
        eventually(&what, async || {
            let output = self.output();
            let line = output.lines().find(|line| line.contains(text))?;
            Some(line.to_string())
        })
        .await
    }

    /// Waits until the framework exits; then its whole output is in
    /// [`Framework::output`].
    pub async fn wait_exit(&mut self) -> ExitStatus {
        let child = &mut self.child;
        let status = eventually("the framework exiting", async || {
            child.try_wait().expect("waiting for the framework")
        })
        .await;
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        status
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("checking the framework")
            .is_none()
    }

    /// Kills it with SIGKILL, as a crash would: no clean-up, no last word
    /// to the master or to ZooKeeper.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Framework {
    fn drop(&mut self) {
        self.kill();
    }
}
