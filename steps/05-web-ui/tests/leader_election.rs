//! Several instances, one leader, no split brain: only the leader
//! subscribes; killing it hands the framework to another within a bound;
//! a leader cycled with SIGUSR1 stays as a standby; a paused leader
//! deposed meanwhile overwrites nothing and is heard by no master.
//! Against a real ZooKeeper and the simulated master, with the framework's
//! binary run as three processes.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use mesos::{
    leader::current_leader,
    local::{CallRecord, LocalMasterConfig},
    testing::*,
    v1::scheduler::call::Type as CallType,
};

/// The framework under test: this step's binary (Cargo names it after
/// the package, so the line is the same in every step).
const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));

/// The election's session timeout the tests ask for, in seconds. The test
/// ZooKeeper grants it as is (it is within 2 to 20 of its ticks).
const SESSION_SECONDS: u64 = 3;

/// How soon a new leader must subscribe after the old one died: ZooKeeper
/// expires a dead leader's session at most one tick after its timeout,
/// and the successor needs well under another timeout to read the state
/// and subscribe. A liveness bound, not a benchmark.
fn takeover_bound() -> Duration {
    2 * Duration::from_secs(SESSION_SECONDS) + TICK_TIME
}

/// Three instances of the framework, and the cluster they run on.
struct Instances {
    cluster: Cluster,
    running: Vec<Framework>,
}

impl Instances {
    async fn start(count: usize) -> Instances {
        Self::start_with(count, config(), &[]).await
    }

    async fn start_with(count: usize, master: LocalMasterConfig, args: &[&str]) -> Instances {
        let cluster = Cluster::start_with(BINARY, master).await;
        let mut instances = Instances {
            cluster,
            running: Vec::new(),
        };
        for _ in 0..count {
            instances.add(args);
        }
        instances
    }

    fn add(&mut self, args: &[&str]) {
        let timeout = SESSION_SECONDS.to_string();
        let mut all = vec!["--zk-session-timeout", &timeout];
        all.extend_from_slice(args);
        self.running.push(self.cluster.framework(&all));
    }

    /// The position in `running` of the instance that leads now, by the
    /// election's nodes (the participant id is the instance's web URL).
    async fn leader(&self) -> usize {
        let client = self.cluster.zookeeper_client().await;
        let root = self.cluster.root.clone();
        let mut urls = Vec::new();
        for instance in &self.running {
            urls.push(instance.web_url().await);
        }
        eventually("a leader elected among the running instances", async || {
            let leader = current_leader(&client, &root).await.ok()??;
            urls.iter().position(|url| *url == leader.id)
        })
        .await
    }
}

/// The SUBSCRIBE calls the master took, in order.
fn subscriptions(calls: &[CallRecord]) -> Vec<&CallRecord> {
    calls
        .iter()
        .filter(|c| c.kind == CallType::Subscribe && c.accepted)
        .collect()
}

/// Checks that after each subscription the master took no call from an
/// older one: no instance acted after its successor subscribed.
fn assert_no_call_from_a_replaced_subscription(calls: &[CallRecord]) {
    let mut current: Option<&str> = None;
    for call in calls {
        if call.kind == CallType::Subscribe && call.accepted {
            current = call.stream_id.as_deref();
        } else if call.accepted {
            assert_eq!(
                call.stream_id.as_deref(),
                current,
                "the master took {call:?} from a replaced subscription"
            );
        }
    }
}

/// Waits until exactly `count` tasks of one framework run, and checks that
/// no task ID was ever used twice.
async fn assert_exactly_running(
    cluster: &Cluster,
    count: usize,
) -> (String, BTreeMap<String, String>) {
    let (framework_id, running) = cluster.wait_for_running(count).await;
    let state = cluster.master.state();
    let ids: Vec<&String> = state.tasks.iter().map(|t| &t.id).collect();
    let unique: BTreeSet<&String> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "a task ID used twice: {ids:?}");
    (framework_id, running)
}

#[tokio::test]
async fn only_the_leader_subscribes_and_every_instance_knows_who_leads() {
    let instances = Instances::start(3).await;
    let (framework_id, _) = assert_exactly_running(&instances.cluster, 2).await;
    let leader = instances.leader().await;
    let leader_id = instances.running[leader].web_url().await;
    for (position, instance) in instances.running.iter().enumerate() {
        if position == leader {
            instance
                .wait_for_output("elected: this instance leads")
                .await;
            continue;
        }
        // Standbys say that they wait, and who leads.
        let line = instance.wait_for_output("standby: waiting").await;
        let known = instance.wait_for_output("the leader changed").await;
        assert!(
            known.contains(&leader_id) || line.contains(&leader_id),
            "{line}\n{known}"
        );
    }
    // A while of quiet (a few heartbeats of the test master: what must
    // not happen has no event to wait for). No standby ever subscribes; no
    // instance displaces another.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calls = instances.cluster.master.calls();
    assert_eq!(subscriptions(&calls).len(), 1, "one SUBSCRIBE: {calls:#?}");
    for (position, instance) in instances.running.iter().enumerate() {
        let output = instance.output();
        assert_eq!(output.matches("failed over").count(), 0, "{output}");
        if position != leader {
            assert_eq!(output.matches("subscribing").count(), 0, "{output}");
        }
    }
    let state = instances.cluster.master.state();
    assert_eq!(state.frameworks.len(), 1);
    assert!(state.framework(&framework_id).unwrap().connected);

    // An operator asks who leads.
    let shown = std::process::Command::new(BINARY)
        .args(["--zk", &instances.cluster.zk_url(), "--show-leader"])
        .output()
        .unwrap();
    assert!(shown.status.success(), "{shown:?}");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert_eq!(shown.trim(), leader_id);

    // Ctrl-C: the leader leaves the election and says so, not that it
    // waits as a standby for a leader called "none".
    let stopping = &instances.running[leader];
    stopping.signal("INT");
    stopping.wait_for_output("left the leader election").await;
    let output = stopping.output();
    assert!(!output.contains(r#"leader="none""#), "{output}");
    // Its output goes to a pipe here: no colour codes.
    assert!(!output.contains('\u{1b}'), "{output}");
}

#[tokio::test]
async fn killing_the_leader_ten_times_hands_the_framework_over_each_time() {
    let mut instances = Instances::start(3).await;
    let (framework_id, _) = assert_exactly_running(&instances.cluster, 2).await;
    for round in 1..=10 {
        let leader = instances.leader().await;
        let before = instances.cluster.master.calls();
        let streams_before: BTreeSet<_> = subscriptions(&before)
            .iter()
            .filter_map(|c| c.stream_id.clone())
            .collect();

        // kill -9: no last word to ZooKeeper or the master. The standbys
        // learn of it when ZooKeeper expires the dead leader's session.
        let mut dead = instances.running.remove(leader);
        dead.kill();
        instances.add(&[]);

        let taken_over = instances
            .cluster
            .master
            .wait_for(
                |_| {
                    let calls = instances.cluster.master.calls();
                    subscriptions(&calls).iter().any(|c| {
                        c.stream_id
                            .as_ref()
                            .is_some_and(|s| !streams_before.contains(s))
                    })
                },
                takeover_bound(),
            )
            .await;
        assert!(
            taken_over.is_ok(),
            "round {round}: no new leader subscribed within {:?}",
            takeover_bound()
        );
        let calls = instances.cluster.master.calls();
        let newest = subscriptions(&calls).last().copied().unwrap().clone();
        assert_eq!(
            newest.framework_id, framework_id,
            "round {round}: the same framework"
        );
    }
    let (running_id, _) = assert_exactly_running(&instances.cluster, 2).await;
    assert_eq!(running_id, framework_id);
    let state = instances.cluster.master.state();
    assert_eq!(state.frameworks.len(), 1, "never a second framework");
    assert_no_call_from_a_replaced_subscription(&instances.cluster.master.calls());
    let stored = instances.cluster.stored().await;
    assert_eq!(stored.framework_id, Some(framework_id));
}

#[tokio::test]
async fn a_leader_cycled_with_sigusr1_hands_over_and_stays_a_standby() {
    let instances = Instances::start(2).await;
    let (framework_id, tasks) = assert_exactly_running(&instances.cluster, 2).await;
    let leader = instances.leader().await;
    let old = &instances.running[leader];

    old.signal("USR1");
    old.wait_for_output("giving up leadership").await;
    let next = eventually("the other instance leads", async || {
        let now = instances.leader().await;
        (now != leader).then_some(now)
    })
    .await;
    instances.running[next]
        .wait_for_output("reconciled every task we know")
        .await;
    let (running_id, running) = assert_exactly_running(&instances.cluster, 2).await;
    assert_eq!(running_id, framework_id);
    assert_eq!(running, tasks, "the same tasks, carried on");
    old.wait_for_output("standby: waiting").await;
    assert_no_call_from_a_replaced_subscription(&instances.cluster.master.calls());
}

#[tokio::test]
async fn a_paused_leader_deposed_meanwhile_overwrites_nothing() {
    // Room for two tasks, and three wanted: the leader never suppresses
    // offers, so whatever frees up is offered to it at once.
    let master = LocalMasterConfig {
        agent_resources: "cpus:0.5;mem:256;disk:1024;ports:[31000-32000]".into(),
        ..config()
    };
    let instances = Instances::start_with(2, master, &["--instances", "3"]).await;
    let (framework_id, tasks) = assert_exactly_running(&instances.cluster, 2).await;
    instances
        .cluster
        .wait_stored_running(&tasks.keys().cloned().collect())
        .await;
    let leader = instances.leader().await;
    let paused = &instances.running[leader];

    // The leader freezes (SIGSTOP: a long GC pause, a frozen VM). A task
    // fails meanwhile: its failure, and an offer of the resources it
    // freed, wait in the paused leader's socket.
    paused.signal("STOP");
    let (failed, _) = tasks.iter().next().unwrap();
    instances.cluster.crash_task(failed);
    // Its session expires; the other instance leads, takes the framework
    // over and replaces the task.
    let next = eventually("the other instance leads", async || {
        let now = instances.leader().await;
        (now != leader).then_some(now)
    })
    .await;
    instances.running[next]
        .wait_for_output("reconciled every task we know")
        .await;
    let state = instances
        .cluster
        .wait_for_master("a replacement running under the new leader", |state| {
            let running = running_tasks(state, &framework_id);
            running.len() == 2 && !running.contains_key(failed)
        })
        .await;
    let running = running_tasks(&state, &framework_id);
    instances
        .cluster
        .wait_stored_running(&running.keys().cloned().collect())
        .await;

    // The old leader wakes up believing it leads, with a failure and an
    // offer to act on: it would launch a task and record it (a new node,
    // which no compare-and-set can stop). Fencing refuses the write; the
    // master refuses its calls. It steps down and is a standby again.
    let standby_lines = paused.count_output("standby: waiting");
    paused.signal("CONT");
    eventually("the old leader back as a standby", async || {
        (paused.count_output("standby: waiting") > standby_lines).then_some(())
    })
    .await;
    let stored = instances.cluster.stored().await;
    let stored_tasks: BTreeSet<_> = stored.tasks.keys().cloned().collect();
    assert_eq!(
        stored_tasks,
        running.keys().cloned().collect::<BTreeSet<_>>(),
        "the deposed leader recorded nothing: {}",
        paused.output()
    );
    assert_eq!(stored.framework_id, Some(framework_id.clone()));
    assert_no_call_from_a_replaced_subscription(&instances.cluster.master.calls());
    let (still, _) = assert_exactly_running(&instances.cluster, 2).await;
    assert_eq!(still, framework_id);
}
