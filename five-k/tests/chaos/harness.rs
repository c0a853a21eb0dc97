//! The cluster under chaos: a real ZooKeeper, the simulated master, three
//! 5K instances, and the faults done to them.
//!
//! Each fault is one an operator meets: a leader killed (`kill -9`, no
//! last word to anyone) or frozen (SIGSTOP, as a long pause of the VM: it
//! wakes up believing it still leads), a standby killed, the master
//! failing over (agents re-register a moment later), ZooKeeper restarting,
//! a task crashing (its agent reports TASK_FAILED), a task's health check
//! starting to fail. They come while the
//! workers change apps, so most land in the middle of a deployment.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use mesos::{
    local::{AgentReregistration, LocalMasterConfig},
    testing::{Cluster, Framework, config},
    v1::TaskState,
};

use super::{
    client::Shared,
    common::api_url,
    http,
    invariants::{app_of_task, check_apps},
    random::Random,
};

/// 5K, the binary under test.
const BINARY: &str = env!("CARGO_BIN_EXE_five-k");

/// Agents, each on a rack of its own: as many as the most tasks a
/// `rack:UNIQUE` app may run during an upgrade (4 instances with
/// maximumOverCapacity 1), or its deployments could not progress.
pub const RACKS: usize = 8;

/// Instances: one leads, two stand by.
pub const INSTANCES: usize = 3;

/// The election's session timeout, in seconds: a dead leader is replaced
/// in about that long (the default, 6, would spend the test waiting).
const SESSION_SECONDS: &str = "3";

/// How long the cluster may take to be well again after a fault: a
/// takeover is about two session timeouts; generous for a loaded 2-core
/// machine.
pub const RECOVERY: Duration = Duration::from_secs(40);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    KillLeader,
    PauseLeader,
    KillStandby,
    MasterFailover,
    RestartZooKeeper,
    CrashTask,
    FailHealthCheck,
}

pub const ALL_FAULTS: [Fault; 7] = [
    Fault::KillLeader,
    Fault::PauseLeader,
    Fault::KillStandby,
    Fault::MasterFailover,
    Fault::RestartZooKeeper,
    Fault::CrashTask,
    Fault::FailHealthCheck,
];

/// An instance running, and its API's URL.
struct Instance {
    process: Framework,
    url: String,
}

pub struct Chaos {
    pub cluster: Cluster,
    instances: Vec<Option<Instance>>,
    /// The instance frozen by SIGSTOP, if one is.
    paused: Option<usize>,
    pub shared: Shared,
    pub random: Random,
    pub seed: u64,
    pub injected: BTreeMap<Fault, usize>,
    /// Checks of every app against the client's knowledge, passed.
    pub checks: usize,
    /// Leader faults that came while a deployment was open.
    pub mid_deployment: usize,
    /// Health checks made to fail (a `FailHealthCheck` finds none to fail
    /// when no app has a checked task).
    pub failed_checks: usize,
}

impl Chaos {
    pub async fn start(seed: u64, shared: Shared) -> Chaos {
        // One rack per agent: the simulated agents share one hostname,
        // so a `rack:UNIQUE` app stands for Marathon's `hostname:UNIQUE`.
        let racks = (0..RACKS).map(|rack| format!("rack:r{rack}")).collect();
        let master = LocalMasterConfig {
            agents: RACKS,
            agent_attributes: racks,
            ..config()
        };
        let mut cluster = Cluster::start_with(BINARY, master).await;
        cluster.root = "/five-k".into();
        let mut chaos = Chaos {
            cluster,
            instances: Vec::new(),
            paused: None,
            shared,
            random: Random::new(seed),
            seed,
            injected: BTreeMap::new(),
            checks: 0,
            mid_deployment: 0,
            failed_checks: 0,
        };
        for _ in 0..INSTANCES {
            let instance = chaos.launch().await;
            chaos.instances.push(Some(instance));
        }
        chaos.publish_reachable();
        chaos
    }

    async fn launch(&self) -> Instance {
        let args = [
            "--http-address",
            "127.0.0.1:0",
            "--zk-session-timeout",
            SESSION_SECONDS,
        ];
        let process = self.cluster.framework(&args);
        let url = api_url(&process).await;
        Instance { process, url }
    }

    /// Tells the workers which instances answer.
    fn publish_reachable(&self) {
        let urls = self
            .instances
            .iter()
            .enumerate()
            .filter(|(index, _)| Some(*index) != self.paused)
            .filter_map(|(_, instance)| instance.as_ref().map(|i| i.url.clone()))
            .collect();
        *self.shared.reachable.lock().unwrap() = urls;
    }

    fn running(&self) -> impl Iterator<Item = (usize, &Instance)> {
        self.instances
            .iter()
            .enumerate()
            .filter(|(index, _)| Some(*index) != self.paused)
            .filter_map(|(index, instance)| Some((index, instance.as_ref()?)))
    }

    /// The instance that leads, as the reachable ones say; `None` while
    /// they do not know, or name one that is dead or frozen.
    async fn leader_now(&self) -> Option<usize> {
        for (_, instance) in self.running() {
            let url = format!("{}/v2/leader", instance.url);
            let Ok(answer) = http::send("GET", &url, None, Duration::from_secs(2)).await else {
                continue;
            };
            let Some(leader) = answer
                .json()
                .and_then(|j| j["leader"].as_str().map(String::from))
            else {
                continue;
            };
            let named = self
                .running()
                .find(|(_, i)| i.url == format!("http://{leader}"));
            if let Some((index, _)) = named {
                return Some(index);
            }
        }
        None
    }

    pub async fn leader(&self) -> usize {
        let deadline = Instant::now() + RECOVERY;
        loop {
            if let Some(leader) = self.leader_now().await {
                return leader;
            }
            self.check_deadline(deadline, "a leader among the running instances");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn check_deadline(&self, deadline: Instant, what: &str) {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {RECOVERY:?} (CHAOS_SEED={} replays this run)",
            self.seed
        );
    }

    pub async fn inject(&mut self, fault: Fault) {
        *self.injected.entry(fault).or_default() += 1;
        match fault {
            Fault::KillLeader => {
                let leader = self.leader().await;
                self.await_a_deployment(leader).await;
                self.kill(leader);
                // Another instance takes over: the session of the dead
                // one must expire first.
                self.leader().await;
                self.instances[leader] = Some(self.launch().await);
                self.publish_reachable();
            }
            Fault::KillStandby => {
                let leader = self.leader().await;
                let standby = (leader + 1 + self.random.between(0, 1) as usize) % INSTANCES;
                self.kill(standby);
                self.pause(0, 1000).await;
                self.instances[standby] = Some(self.launch().await);
                self.publish_reachable();
            }
            Fault::PauseLeader => self.pause_leader().await,
            Fault::MasterFailover => {
                let agents = Duration::from_millis(self.random.between(200, 1500));
                self.cluster
                    .master
                    .faults()
                    .fail_over(AgentReregistration::After(agents))
                    .await;
            }
            Fault::RestartZooKeeper => {
                let down = Duration::from_millis(self.random.between(0, 1500));
                // Blocking (it waits for the JVM): this runtime's other
                // thread runs the master and the workers meanwhile.
                let zookeeper = &mut self.cluster.zookeeper;
                tokio::task::block_in_place(|| {
                    zookeeper.stop();
                    std::thread::sleep(down);
                    zookeeper.restart();
                });
            }
            Fault::CrashTask => self.crash_a_task(),
            Fault::FailHealthCheck => {
                self.fail_a_health_check();
            }
        }
    }

    /// Waits a little for the leader to have a deployment open, so that
    /// the fault lands in the middle of one (the clients change apps
    /// every few hundred milliseconds; a deployment of `sleep` tasks
    /// lasts about as long).
    async fn await_a_deployment(&mut self, leader: usize) {
        let url = format!(
            "{}/v2/deployments",
            self.instances[leader].as_ref().expect("running").url
        );
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(answer) = http::send("GET", &url, None, Duration::from_secs(2)).await
                && answer
                    .json()
                    .is_some_and(|d| d.as_array().is_some_and(|d| !d.is_empty()))
            {
                self.mid_deployment += 1;
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn kill(&mut self, index: usize) {
        let mut instance = self.instances[index].take().expect("running");
        self.publish_reachable();
        instance.process.kill();
    }

    /// SIGSTOP the leader until another instance leads, then SIGCONT: it
    /// wakes up still believing it leads, and must find out it does not
    /// before it does anything (its writes are fenced by the election).
    async fn pause_leader(&mut self) {
        let leader = self.leader().await;
        self.await_a_deployment(leader).await;
        let instance = self.instances[leader].as_ref().expect("running");
        let stood_by = instance.process.count_output("standing by");
        instance.process.signal("STOP");
        self.paused = Some(leader);
        self.publish_reachable();
        self.leader().await;
        self.pause(0, 2000).await;
        self.paused = None;
        let instance = self.instances[leader].as_mut().expect("running");
        instance.process.signal("CONT");
        // Reachable again once it knows it no longer leads (or, had it
        // stopped itself, once started again).
        let deadline = Instant::now() + RECOVERY;
        loop {
            let instance = self.instances[leader].as_mut().expect("running");
            if !instance.process.is_running() {
                self.instances[leader] = Some(self.launch().await);
                break;
            }
            if instance.process.count_output("standing by") > stood_by {
                break;
            }
            self.check_deadline(deadline, "the woken leader standing by");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.publish_reachable();
    }

    /// Kills one of 5K's running tasks, as a crash of its process would.
    fn crash_a_task(&mut self) {
        let state = self.cluster.master.state();
        let pids: Vec<u32> = state
            .tasks
            .iter()
            .filter(|t| t.state == TaskState::TaskRunning && !t.completed)
            .filter_map(|t| t.pid)
            .collect();
        if pids.is_empty() {
            return;
        }
        let pid = *self.random.pick(&pids);
        // It may have ended since the state was read: no matter.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }

    /// Makes the health check of one of 5K's checked tasks fail: its
    /// server answers 404 from then on (the task itself runs on), as an
    /// app whose dependency broke. 5K must replace it, within the app's
    /// upgrade strategy. Returns the task, if one had a check to fail.
    pub fn fail_a_health_check(&mut self) -> Option<String> {
        let state = self.cluster.master.state();
        let checked: Vec<(String, std::path::PathBuf)> = state
            .tasks
            .iter()
            .filter(|t| t.state == TaskState::TaskRunning && !t.completed)
            .filter_map(|t| Some((t.id.clone(), t.sandbox.as_ref()?.join("health"))))
            .filter(|(_, health)| health.exists())
            .collect();
        if checked.is_empty() {
            return None;
        }
        let (task, health) = self.random.pick(&checked).clone();
        // It may have ended since the state was read: no matter.
        std::fs::remove_file(health).ok()?;
        self.failed_checks += 1;
        Some(task)
    }

    /// Whether `task_id` still runs (or is being killed) on the master.
    pub fn is_alive(&self, task_id: &str) -> bool {
        let state = self.cluster.master.state();
        state
            .tasks
            .iter()
            .any(|t| t.id == task_id && !t.state.is_terminal() && !t.completed)
    }

    /// Sends a change through a reachable instance, until one accepts it
    /// (once the faults have stopped).
    pub async fn send_until_accepted(
        &mut self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) {
        let deadline = Instant::now() + RECOVERY;
        loop {
            if let Some(url) = self.shared.pick_instance(&mut self.random) {
                let url = format!("{url}{path}");
                if let Ok(answer) =
                    http::send(method, &url, Some(body), Duration::from_secs(5)).await
                    && answer.is_success()
                {
                    return;
                }
            }
            self.check_deadline(deadline, &format!("{method} {path} accepted"));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pause(&mut self, low_ms: u64, high_ms: u64) -> tokio::time::Sleep {
        tokio::time::sleep(Duration::from_millis(self.random.between(low_ms, high_ms)))
    }

    /// Every instance running and none frozen (after the faults, or after
    /// a failure of the test itself).
    pub async fn restore(&mut self) {
        if let Some(paused) = self.paused.take()
            && let Some(instance) = &self.instances[paused]
        {
            instance.process.signal("CONT");
        }
        for index in 0..INSTANCES {
            if self.instances[index].is_none() {
                self.instances[index] = Some(self.launch().await);
            }
        }
        self.publish_reachable();
    }

    /// `GET` through a reachable instance, until one answers 200.
    pub async fn get(&mut self, path: &str) -> serde_json::Value {
        let deadline = Instant::now() + RECOVERY;
        loop {
            if let Some(url) = self.shared.pick_instance(&mut self.random) {
                let url = format!("{url}{path}");
                if let Ok(answer) = http::send("GET", &url, None, Duration::from_secs(5)).await
                    && answer.status == 200
                    && let Some(json) = answer.json()
                {
                    return json;
                }
            }
            self.check_deadline(deadline, &format!("an answer to GET {path}"));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every app as the client knows it: no change in flight meanwhile.
    pub async fn check_apps(&mut self) {
        let gate = self.shared.gate.clone();
        let _no_change_in_flight = gate.write().await;
        let listed = self.get("/v2/apps").await;
        let violations = check_apps(&self.shared.models.lock().unwrap(), &listed);
        assert!(
            violations.is_empty(),
            "CHAOS_SEED={} replays this run: {violations:#?}",
            self.seed
        );
        self.checks += 1;
    }

    /// The tasks running on the master, by app.
    pub fn running_by_app(&self) -> BTreeMap<String, usize> {
        let mut by_app = BTreeMap::new();
        for task in &self.cluster.master.state().tasks {
            if task.state == TaskState::TaskRunning && !task.completed && !task.unreachable {
                *by_app.entry(app_of_task(&task.id)).or_default() += 1;
            }
        }
        by_app
    }

    /// What an operator would look at when the cluster does not settle:
    /// the master's tasks, agents, offers and 5K's latest calls, and
    /// 5K's launch queue.
    pub async fn diagnosis(&mut self) -> String {
        let state = self.cluster.master.state();
        let tasks: Vec<_> = state
            .tasks
            .iter()
            .filter(|t| !t.completed)
            .map(|t| (&t.id, t.state.as_str_name(), t.unreachable))
            .collect();
        let agents: Vec<_> = state.agents.iter().map(|a| (&a.id, a.active)).collect();
        let frameworks: Vec<_> = state
            .frameworks
            .iter()
            .map(|f| (&f.id, f.connected, f.removed))
            .collect();
        let calls = self.cluster.master.calls();
        let latest: Vec<_> = calls
            .iter()
            .rev()
            .take(15)
            .map(|c| (c.kind.as_str_name(), c.accepted))
            .collect();
        let queue = self.get("/v2/queue").await;
        let apps = self.get("/v2/apps?embed=apps.tasks").await;
        let apps: Vec<_> = (apps["apps"].as_array().cloned().unwrap_or_default().iter())
            .map(|app| {
                let tasks: Vec<_> = (app["tasks"].as_array().cloned().unwrap_or_default().iter())
                    .map(|t| {
                        let alive = t["healthCheckResults"][0]["alive"].clone();
                        (
                            t["id"].to_string(),
                            t["state"].to_string(),
                            t["version"].to_string(),
                            alive,
                        )
                    })
                    .collect();
                (
                    app["id"].to_string(),
                    app["instances"].clone(),
                    app["versionInfo"].clone(),
                    tasks,
                )
            })
            .collect();
        format!(
            "5K's apps (id, instances, versionInfo, tasks (id, state, version, alive)): {apps:#?}\n\
             master: tasks {tasks:#?}\nagents {agents:?}\nframeworks {frameworks:?}\n\
             {} offers outstanding\nlatest calls, newest first: {latest:?}\n5K's queue: {queue:#}",
            state.offers.len()
        )
    }
}
