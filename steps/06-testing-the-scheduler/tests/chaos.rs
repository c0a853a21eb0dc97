//! Chaos: three instances of the framework, the simulated master and a real
//! ZooKeeper, and for a minute (`CHAOS_SECONDS`) one fault after another,
//! picked at random from a printed seed (`CHAOS_SEED` replays a run): the
//! leader or a standby killed, the leader frozen past its session timeout,
//! the event stream dropped, heartbeats stopped, the master failing over,
//! ZooKeeper restarting, the leader cut off from ZooKeeper and the master,
//! an agent lost and coming back, the count changed on the web page.
//!
//! Every fault of a distributed system is survivable alone; the bugs live
//! in their sequences (a failover while a task is being replaced, a
//! partition right after a scale change). A test that replays the same
//! few scenarios never meets those; a random one, reproducible by its
//! seed, does. After each fault the framework must come back to health;
//! at the end nothing may have gone wrong on the way: one framework, N
//! tasks, no task ID twice, no wanted task killed, ZooKeeper complete, and
//! never a call taken from an instance that had been replaced.
//!
//! The instances run in network namespaces of their own (`ip netns`),
//! joined to this process's host by veth pairs on a bridge, so that one
//! can be cut off for real: its link goes down and its packets go nowhere,
//! as in a network partition, where a killed process would get a reset.
//! The addresses are in 198.18.0.0/15 (RFC 2544, for network tests), on
//! links that exist only inside this machine. Creating namespaces needs
//! root (CAP_NET_ADMIN): the test is `#[ignore]`d for `cargo test`, and
//! `.ci/run` runs it as root. Without namespaces it fails, saying why.
//!
//! ```text
//! sudo CHAOS_SECONDS=600 CHAOS_SEED=42 cargo test -p hello-mesos-06 --test chaos -- --ignored --nocapture
//! ```

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use http::StatusCode;
use mesos::{
    leader::current_leader,
    local::{AgentReregistration, CallRecord, LocalMasterConfig, Snapshot},
    testing::{web::*, *},
    v1::{TaskState, scheduler::call::Type as CallType},
};

/// The framework under test.
const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));

/// Scheduler instances: one leads, two stand by.
const INSTANCES: usize = 3;

/// The election's session timeout, in seconds (as in leader_election.rs).
const SESSION_SECONDS: u64 = 3;

/// How long the framework may take to be healthy again after a fault:
/// a takeover is bounded by about two session timeouts, a master failover
/// by the agents re-registering; generous for a loaded 2-core machine.
const RECOVERY: Duration = Duration::from_secs(60);

/// The faults, each injected at least once per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    KillLeader,
    KillStandby,
    PauseLeader,
    DropStream,
    StopHeartbeats,
    MasterFailover,
    RestartZooKeeper,
    PartitionLeader,
    AgentLost,
    ScaleThroughWeb,
}

const ALL_FAULTS: [Fault; 10] = [
    Fault::KillLeader,
    Fault::KillStandby,
    Fault::PauseLeader,
    Fault::DropStream,
    Fault::StopHeartbeats,
    Fault::MasterFailover,
    Fault::RestartZooKeeper,
    Fault::PartitionLeader,
    Fault::AgentLost,
    Fault::ScaleThroughWeb,
];

/// A small seeded generator (SplitMix64): the same seed, the same run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `range`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Runs `ip` with `args`; the error says what failed and why.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip` (Debian: apt-get install iproute2): {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The test's hosts: a bridge on this machine (where the master and
/// ZooKeeper listen) and a network namespace per scheduler instance, each
/// linked to the bridge by a veth pair. Removed when dropped.
struct Network {
    tag: String,
    /// `198.18.<n>`: this run's /24, so that runs at once do not collide.
    prefix: String,
    bridge: String,
}

impl Network {
    fn create(hosts: usize) -> Result<Network, String> {
        let pid = std::process::id();
        let network = Network {
            tag: format!("{}", pid % 100_000),
            prefix: format!("198.18.{}", pid % 250 + 1),
            bridge: format!("chb{}", pid % 100_000),
        };
        let host = format!("{}/24", network.host_ip());
        ip(&["link", "add", &network.bridge, "type", "bridge"])?;
        ip(&["addr", "add", &host, "dev", &network.bridge])?;
        ip(&["link", "set", &network.bridge, "up"])?;
        for index in 0..hosts {
            let namespace = network.namespace(index);
            let (outside, inside) = network.veth(index);
            let address = format!("{}/24", network.instance_ip(index));
            ip(&["netns", "add", &namespace])?;
            ip(&[
                "link", "add", &outside, "type", "veth", "peer", "name", &inside,
            ])?;
            ip(&["link", "set", &inside, "netns", &namespace])?;
            ip(&["link", "set", &outside, "master", &network.bridge])?;
            ip(&["link", "set", &outside, "up"])?;
            ip(&["-n", &namespace, "addr", "add", &address, "dev", &inside])?;
            ip(&["-n", &namespace, "link", "set", &inside, "up"])?;
            ip(&["-n", &namespace, "link", "set", "lo", "up"])?;
        }
        Ok(network)
    }

    /// This machine's address on the bridge: the master's and ZooKeeper's.
    fn host_ip(&self) -> String {
        format!("{}.1", self.prefix)
    }

    fn instance_ip(&self, index: usize) -> String {
        format!("{}.{}", self.prefix, 10 + index)
    }

    fn namespace(&self, index: usize) -> String {
        format!("chaos-{}-{index}", self.tag)
    }

    /// The veth pair: the end on the bridge, the end in the namespace.
    fn veth(&self, index: usize) -> (String, String) {
        (
            format!("chh{}x{index}", self.tag),
            format!("chn{}x{index}", self.tag),
        )
    }

    /// Cuts host `index` off: its link goes down, its packets are lost
    /// (no reset, no error: the peers hear nothing, as in a partition).
    fn partition(&self, index: usize) {
        ip(&["link", "set", &self.veth(index).0, "down"]).expect("partitioning");
    }

    fn heal(&self, index: usize) {
        ip(&["link", "set", &self.veth(index).0, "up"]).expect("healing");
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for index in 0..INSTANCES {
            let _ = ip(&["link", "del", &self.veth(index).0]);
            let _ = ip(&["netns", "del", &self.namespace(index)]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}

/// What the watcher saw in every published state of the master.
#[derive(Default)]
struct Observed {
    /// Frameworks that subscribed or had tasks.
    framework_ids: BTreeSet<String>,
    /// Task ID → the first process seen running it.
    processes: BTreeMap<String, u32>,
    /// Task IDs seen killed.
    killed: BTreeSet<String>,
    /// What went wrong, in words.
    violations: Vec<String>,
    /// The fewest tasks that must run now (the wanted count, the lower
    /// one while a change is in flight): a kill below it kills a task
    /// that should run.
    floor: usize,
}

impl Observed {
    fn look(&mut self, state: &Snapshot) {
        for framework in &state.frameworks {
            if framework.connected || !framework.removed {
                self.framework_ids.insert(framework.id.clone());
            }
            if framework.removed {
                self.violations
                    .push(format!("framework {} removed by the master", framework.id));
            }
        }
        for task in &state.tasks {
            self.framework_ids.insert(task.framework_id.clone());
            if let Some(pid) = task.pid {
                let first = *self.processes.entry(task.id.clone()).or_insert(pid);
                if first != pid {
                    self.violations.push(format!(
                        "task ID {} used twice (processes {first} and {pid})",
                        task.id
                    ));
                }
            }
            if task.state == TaskState::TaskKilled && self.killed.insert(task.id.clone()) {
                let active = state
                    .active_tasks(&task.framework_id)
                    .iter()
                    .filter(|t| t.state != TaskState::TaskKilled)
                    .count();
                if active < self.floor {
                    self.violations.push(format!(
                        "task {} killed leaving {active} active, fewer than {} wanted",
                        task.id, self.floor
                    ));
                }
            }
        }
        self.violations.dedup();
    }
}

/// One scheduler instance in its namespace, or a dead one to restart.
struct Instance {
    process: Framework,
    url: String,
}

/// The cluster, the network and the instances under chaos.
struct Chaos {
    cluster: Cluster,
    network: Network,
    instances: Vec<Option<Instance>>,
    zk: ZkClient,
    random: Random,
    seed: u64,
    wanted: usize,
    observed: Arc<Mutex<Observed>>,
    injected: BTreeMap<Fault, usize>,
    survived: BTreeMap<Fault, usize>,
    /// Faults injected since the framework was last seen healthy.
    pending: Vec<Fault>,
}

/// A ZooKeeper client for the test's own reads, reconnected after a
/// restart of the server.
struct ZkClient(Option<zookeeper_client::Client>);

impl Chaos {
    async fn start(seed: u64) -> Chaos {
        let network = Network::create(INSTANCES).unwrap_or_else(|why| {
            panic!(
                "the chaos test needs network namespaces (ip netns, veth, a bridge), \
                 which need root or CAP_NET_ADMIN; creating them failed: {why}"
            )
        });
        let master = LocalMasterConfig {
            ip: network.host_ip().parse().expect("an IP"),
            agents: 3,
            ..config()
        };
        let cluster = Cluster::start_with(BINARY, master).await;
        let mut chaos = Chaos {
            cluster,
            network,
            instances: Vec::new(),
            zk: ZkClient(None),
            random: Random(seed),
            seed,
            wanted: 2,
            observed: Arc::new(Mutex::new(Observed {
                floor: 2,
                ..Observed::default()
            })),
            injected: BTreeMap::new(),
            survived: BTreeMap::new(),
            pending: Vec::new(),
        };
        for index in 0..INSTANCES {
            let instance = chaos.launch(index).await;
            chaos.instances.push(Some(instance));
        }
        chaos
    }

    /// Starts instance `index` in its namespace.
    async fn launch(&self, index: usize) -> Instance {
        let master = format!("http://{}", self.cluster.master.socket_addr());
        let zk = format!(
            "zk://{}:{}{}",
            self.network.host_ip(),
            self.cluster.zookeeper.port(),
            self.cluster.root
        );
        let web = format!("{}:0", self.network.instance_ip(index));
        let namespace = self.network.namespace(index);
        let session = SESSION_SECONDS.to_string();
        // `ip netns exec` enters the namespace and execs the binary: the
        // child's PID is the framework's, for kill -9 and SIGSTOP.
        let process = Framework::start(
            Path::new("ip"),
            &[
                "netns",
                "exec",
                &namespace,
                BINARY,
                "--master",
                &master,
                "--zk",
                &zk,
                "--zk-session-timeout",
                &session,
                "--web-addr",
                &web,
                "--max-instances",
                "10",
            ],
        );
        let url = process.web_url().await;
        Instance { process, url }
    }

    async fn client(&mut self) -> &zookeeper_client::Client {
        if self.zk.0.is_none() {
            self.zk.0 = Some(self.cluster.zookeeper_client().await);
        }
        self.zk.0.as_ref().expect("connected")
    }

    /// The index of the instance the election says leads, if any.
    async fn leader_now(&mut self) -> Option<usize> {
        let root = self.cluster.root.clone();
        let leader = match current_leader(self.client().await, &root).await {
            Ok(leader) => leader?,
            Err(_) => {
                // The test's own session may have gone with a restart.
                self.zk.0 = None;
                return None;
            }
        };
        self.instances
            .iter()
            .position(|i| i.as_ref().is_some_and(|i| i.url == leader.id))
    }

    async fn leader(&mut self) -> usize {
        let deadline = Instant::now() + RECOVERY;
        loop {
            if let Some(leader) = self.leader_now().await {
                return leader;
            }
            self.check_deadline(deadline, "a leader elected among the running instances");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn check_deadline(&self, deadline: Instant, what: &str) {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {RECOVERY:?} (CHAOS_SEED={} replays this run)",
            self.seed
        );
    }

    /// Streams of the SUBSCRIBE calls the master took so far.
    fn subscriptions(&self) -> BTreeSet<String> {
        subscriptions(&self.cluster.master.calls())
            .filter_map(|c| c.stream_id.clone())
            .collect()
    }

    /// Waits until a subscription other than `before` is taken by the
    /// master and the elected leader is not `not`.
    async fn wait_new_subscription(&mut self, before: &BTreeSet<String>, not: Option<usize>) {
        let deadline = Instant::now() + RECOVERY;
        loop {
            let new = self.subscriptions().difference(before).count() > 0;
            if new {
                let leader = self.leader_now().await;
                if leader.is_some() && leader != not {
                    return;
                }
            }
            self.check_deadline(deadline, "a new subscription by another leader");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Healthy again: a leader elected and exactly the wanted tasks running.
    async fn recover(&mut self) {
        self.leader().await;
        let wanted = self.wanted;
        let what = format!(
            "{wanted} tasks running again (CHAOS_SEED={} replays this run)",
            self.seed
        );
        let waited = self
            .cluster
            .master
            .wait_for(
                |state| {
                    subscribed_framework(state).is_some_and(|id| {
                        let tasks = state.active_tasks(&id);
                        tasks.len() == wanted
                            && tasks.iter().all(|t| t.state == TaskState::TaskRunning)
                    })
                },
                RECOVERY,
            )
            .await;
        if let Err(timeout) = waited {
            let tasks: Vec<_> = timeout
                .last
                .tasks
                .iter()
                .map(|t| (&t.id, t.state.as_str_name(), t.completed, t.unreachable))
                .collect();
            panic!("{what}: not within {RECOVERY:?}; tasks: {tasks:#?}");
        }
    }

    fn pause(&mut self, low_ms: u64, high_ms: u64) -> tokio::time::Sleep {
        tokio::time::sleep(Duration::from_millis(self.random.between(low_ms, high_ms)))
    }

    async fn inject(&mut self, fault: Fault) {
        *self.injected.entry(fault).or_default() += 1;
        match fault {
            Fault::KillLeader => {
                let leader = self.leader().await;
                let before = self.subscriptions();
                self.instances[leader]
                    .take()
                    .expect("running")
                    .process
                    .kill();
                self.wait_new_subscription(&before, None).await;
                self.instances[leader] = Some(self.launch(leader).await);
            }
            Fault::KillStandby => {
                let leader = self.leader().await;
                let standby = (leader + 1 + self.random.between(0, 1) as usize) % INSTANCES;
                self.instances[standby]
                    .take()
                    .expect("running")
                    .process
                    .kill();
                self.pause(0, 2000).await;
                self.instances[standby] = Some(self.launch(standby).await);
            }
            Fault::PauseLeader => {
                let leader = self.leader().await;
                let before = self.subscriptions();
                let paused = &self.instances[leader].as_ref().expect("running").process;
                paused.signal("STOP");
                // Past the session timeout: another instance takes over.
                self.wait_new_subscription(&before, Some(leader)).await;
                self.pause(0, 2000).await;
                self.instances[leader]
                    .as_ref()
                    .expect("running")
                    .process
                    .signal("CONT");
            }
            Fault::DropStream => {
                let before = self.subscriptions();
                self.cluster.master.faults().drop_streams().await;
                self.wait_new_subscription(&before, None).await;
            }
            Fault::StopHeartbeats => {
                let before = self.subscriptions();
                let faults = self.cluster.master.faults();
                faults.stop_heartbeats(true);
                // Only the silence tells; the scheduler must notice it and
                // subscribe again.
                self.wait_new_subscription(&before, None).await;
                faults.stop_heartbeats(false);
            }
            Fault::MasterFailover => {
                let before = self.subscriptions();
                let after = Duration::from_millis(self.random.between(200, 2000));
                self.cluster
                    .master
                    .faults()
                    .fail_over(AgentReregistration::After(after))
                    .await;
                self.wait_new_subscription(&before, None).await;
            }
            Fault::RestartZooKeeper => {
                let down = Duration::from_millis(self.random.between(0, 2000));
                // Blocking (it waits for the JVM); this runtime has other
                // threads for the master meanwhile.
                let zookeeper = &mut self.cluster.zookeeper;
                tokio::task::block_in_place(|| {
                    zookeeper.stop();
                    std::thread::sleep(down);
                    zookeeper.restart();
                });
                self.zk.0 = None;
            }
            Fault::PartitionLeader => {
                let leader = self.leader().await;
                let before = self.subscriptions();
                self.network.partition(leader);
                self.wait_new_subscription(&before, Some(leader)).await;
                self.pause(0, 3000).await;
                self.network.heal(leader);
            }
            Fault::AgentLost => {
                // An agent with tasks of ours if one is registered (after
                // a master failover they may still be re-registering).
                let state = self.cluster.master.state();
                let ours = state
                    .tasks
                    .iter()
                    .filter(|t| !t.completed && !t.unreachable)
                    .map(|t| t.agent_id.clone());
                let registered: BTreeSet<String> =
                    state.active_agents().iter().map(|a| a.id.clone()).collect();
                let agent = ours
                    .filter(|a| registered.contains(a))
                    .chain(registered.iter().cloned())
                    .next()
                    .expect("a registered agent");
                let faults = self.cluster.master.faults();
                if faults.remove_agent(&agent).await {
                    self.pause(200, 4000).await;
                    assert!(faults.reregister_agent(&agent).await, "{agent} back");
                }
            }
            Fault::ScaleThroughWeb => {
                // The page of a healthy leader: a change through a page
                // that is going away is refused, and rightly.
                self.recover_all().await;
                let leader = self.leader().await;
                let url = self.instances[leader]
                    .as_ref()
                    .expect("running")
                    .url
                    .clone();
                let mut count = self.wanted;
                while count == self.wanted {
                    count = self.random.between(1, 4) as usize;
                }
                // Fewer: the floor drops before the change, so that the
                // kills it asks for are allowed; more: after it is stored.
                if count < self.wanted {
                    self.observed.lock().unwrap().floor = count;
                }
                let page = get(&format!("{url}/")).await;
                let csrf = token(&page.body);
                let text = count.to_string();
                let saved =
                    post_form(&format!("{url}/"), &[("instances", &text), ("csrf", &csrf)]).await;
                assert_eq!(
                    saved.status,
                    StatusCode::SEE_OTHER,
                    "the leader took the count: {}",
                    saved.body
                );
                self.wanted = count;
                self.observed.lock().unwrap().floor = count;
            }
        }
        self.pending.push(fault);
        // Now and then the next fault comes before the framework has
        // recovered from this one: the bugs hide in such sequences.
        if self.random.between(0, 2) > 0 {
            self.recover_all().await;
        }
    }

    /// Waits for health, then counts every fault since as survived.
    async fn recover_all(&mut self) {
        self.recover().await;
        for fault in self.pending.drain(..) {
            *self.survived.entry(fault).or_default() += 1;
        }
    }

    /// Every instance running and reachable again (after a failure of the
    /// test itself nothing is left stopped or cut off: see Drop).
    fn restore(&mut self) {
        for index in 0..INSTANCES {
            let _ = ip(&["link", "set", &self.network.veth(index).0, "up"]);
            if let Some(instance) = &self.instances[index] {
                let _ = Command::new("kill")
                    .args(["-CONT", &instance.process.pid().to_string()])
                    .status();
            }
        }
        self.cluster.master.faults().stop_heartbeats(false);
    }
}

/// The accepted SUBSCRIBE calls.
fn subscriptions(calls: &[CallRecord]) -> impl Iterator<Item = &CallRecord> {
    calls
        .iter()
        .filter(|c| c.kind == CallType::Subscribe && c.accepted)
}

/// The CSRF token in a page's form.
fn token(page: &str) -> String {
    let (_, rest) = page
        .split_once(r#"name="csrf" value=""#)
        .unwrap_or_else(|| panic!("no token in {page}"));
    rest.split('"').next().unwrap().to_string()
}

/// After each subscription the master took no call from an older one.
fn calls_from_replaced_subscriptions(calls: &[CallRecord]) -> Vec<&CallRecord> {
    let mut current: Option<&str> = None;
    let mut wrong = Vec::new();
    for call in calls {
        if call.kind == CallType::Subscribe && call.accepted {
            current = call.stream_id.as_deref();
        } else if call.accepted && call.stream_id.as_deref() != current {
            wrong.push(call);
        }
    }
    wrong
}

/// Prints a line of the run's account on stderr as it happens, past the
/// test harness's capture (which keeps the instances' logs for a failure):
/// the seed must be seen even if the run hangs, and the figures without
/// `--nocapture`.
fn say(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "chaos: {line}");
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?}: expected a whole number")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root for network namespaces and a minute: `.ci/run` runs it"]
async fn the_framework_survives_a_minute_of_random_faults() {
    let seed = env_number("CHAOS_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as u64
    });
    let seconds = env_number("CHAOS_SECONDS").unwrap_or(60);
    say(format_args!("CHAOS_SEED={seed} CHAOS_SECONDS={seconds}"));

    let mut chaos = Chaos::start(seed).await;
    chaos.recover().await;

    // The watcher: every state the master publishes, checked as it comes.
    let observed = chaos.observed.clone();
    let mut snapshots = chaos.cluster.master.snapshots();
    let watcher = tokio::spawn(async move {
        while snapshots.changed().await.is_ok() {
            let state = snapshots.borrow_and_update().clone();
            observed.lock().unwrap().look(&state);
        }
    });

    let run = async {
        let started = Instant::now();
        let mut round = 0;
        // Whole rounds, each fault once in a random order, until the time
        // is up: every kind is injected however short the run.
        while round == 0 || started.elapsed() < Duration::from_secs(seconds) {
            round += 1;
            let mut faults = ALL_FAULTS;
            chaos.random.shuffle(&mut faults);
            for fault in faults {
                say(format_args!(
                    "round {round}, {:>5.1} s: {fault:?}",
                    started.elapsed().as_secs_f64()
                ));
                chaos.inject(fault).await;
                chaos.pause(0, 1500).await;
            }
        }
        started.elapsed()
    };
    let elapsed = run.await;
    assert!(!watcher.is_finished(), "the watcher stopped");
    chaos.restore();
    chaos.recover_all().await;

    // Let the last state settle into the watcher's view.
    let state = chaos.cluster.master.state();
    chaos.observed.lock().unwrap().look(&state);

    say(format_args!(
        "{elapsed:.1?}, seed {seed}; fault: injected / survived"
    ));
    for fault in ALL_FAULTS {
        say(format_args!(
            "  {:<18} {:>3} / {:>3}",
            format!("{fault:?}"),
            chaos.injected.get(&fault).copied().unwrap_or(0),
            chaos.survived.get(&fault).copied().unwrap_or(0)
        ));
    }

    let framework_id = subscribed_framework(&state).expect("subscribed");
    let running = running_tasks(&state, &framework_id);
    assert_eq!(running.len(), chaos.wanted, "exactly the wanted tasks");

    {
        let observed = chaos.observed.lock().unwrap();
        assert_eq!(
            observed.framework_ids,
            BTreeSet::from([framework_id.clone()]),
            "one framework ID all along (seed {seed})"
        );
        assert!(
            observed.violations.is_empty(),
            "seed {seed}: {:#?}",
            observed.violations
        );
    }
    let ids: Vec<&String> = state.tasks.iter().map(|t| &t.id).collect();
    let unique: BTreeSet<&String> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "a task ID used twice: {ids:?}");

    let calls = chaos.cluster.master.calls();
    let subscribed_as: BTreeSet<_> = subscriptions(&calls)
        .map(|c| c.framework_id.clone())
        .collect();
    assert_eq!(subscribed_as, BTreeSet::from([framework_id.clone()]));
    let wrong = calls_from_replaced_subscriptions(&calls);
    assert!(
        wrong.is_empty(),
        "seed {seed}: the master took calls from replaced subscriptions: {wrong:#?}"
    );

    // Nothing lost from ZooKeeper: the framework, the count, every task.
    let stored = chaos
        .cluster
        .wait_stored_running(&running.keys().cloned().collect())
        .await;
    assert_eq!(stored.framework_id.as_deref(), Some(framework_id.as_str()));
    assert_eq!(stored.instances, Some(chaos.wanted.to_string()));
    for fault in ALL_FAULTS {
        assert_eq!(
            chaos.injected.get(&fault),
            chaos.survived.get(&fault),
            "{fault:?}"
        );
        assert!(chaos.injected.get(&fault).copied().unwrap_or(0) > 0);
    }
}
