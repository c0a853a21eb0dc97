//! Layer 3, integration: the whole framework, as three processes, against
//! the simulated master and a real ZooKeeper, through one fault after
//! another. The other files in `tests/` (from steps 02 to 05) check one
//! fault each; this one checks that the faults do not add up: after a
//! leader kill, a dropped master stream, a master failover and a ZooKeeper
//! restart, the same two tasks still run under the same framework, and the
//! master never heard from a scheduler that had been replaced.
//!
//! Layers 1 and 2 (`src/scheduler/tests.rs`, `src/scheduler/properties.rs`)
//! check the decisions in milliseconds; this layer checks what they cannot:
//! the processes, the timeouts, ZooKeeper and the HTTP connections.

use std::{collections::BTreeSet, time::Duration};

use mesos::{
    local::{AgentReregistration, CallRecord},
    testing::*,
    v1::scheduler::call::Type as CallType,
};

/// The framework under test: this step's binary (Cargo names it after
/// the package, so the line is the same in every step).
const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));

/// A short election session, so that a dead leader is replaced in seconds.
const SESSION_TIMEOUT: &str = "3";

/// The streams of the subscriptions the master accepted, in order.
fn subscriptions(calls: &[CallRecord]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.kind == CallType::Subscribe && c.accepted)
        .filter_map(|c| c.stream_id.clone())
        .collect()
}

/// Waits until the master accepts a subscription it had not seen before
/// `before` (a count of subscriptions), and returns its framework ID.
async fn resubscribed(cluster: &Cluster, before: usize, after_what: &str) -> String {
    let what = format!("a new subscription after {after_what}");
    eventually(&what, async || {
        let calls = cluster.master.calls();
        let newest = calls
            .iter()
            .filter(|c| c.kind == CallType::Subscribe && c.accepted)
            .nth(before)?;
        Some(newest.framework_id.clone())
    })
    .await
}

// Several threads: restarting ZooKeeper blocks one while the simulated
// master keeps running on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_tasks_run_after_one_fault_after_another() {
    let mut cluster = Cluster::start(BINARY).await;
    let args = ["--zk-session-timeout", SESSION_TIMEOUT];
    let mut instances: Vec<Framework> = (0..3).map(|_| cluster.framework(&args)).collect();
    let (framework_id, tasks) = cluster.wait_for_running(2).await;
    cluster
        .wait_stored_running(&tasks.keys().cloned().collect())
        .await;

    // 1. kill -9 of the leader: a standby takes the framework over once
    //    ZooKeeper expires the dead leader's session.
    let before = subscriptions(&cluster.master.calls()).len();
    let leader = cluster
        .master
        .state()
        .framework(&framework_id)
        .and_then(|f| f.info.webui_url.clone())
        .expect("the leader sets webui_url to its page");
    let mut urls = Vec::new();
    for instance in &instances {
        urls.push(instance.web_url().await);
    }
    let position = urls.iter().position(|url| *url == leader).unwrap();
    instances.remove(position).kill();
    instances.push(cluster.framework(&args));
    let id = resubscribed(&cluster, before, "killing the leader").await;
    assert_eq!(id, framework_id, "the new leader resumes the framework");

    // 2. The master drops the event stream, as a network failure would.
    let before = subscriptions(&cluster.master.calls()).len();
    cluster.master.faults().drop_streams().await;
    resubscribed(&cluster, before, "a dropped stream").await;

    // 3. The master fails over: it forgets the framework until the
    //    scheduler subscribes again, and the agents re-register a moment
    //    later, with the tasks.
    let before = subscriptions(&cluster.master.calls()).len();
    cluster
        .master
        .faults()
        .fail_over(AgentReregistration::After(Duration::from_millis(500)))
        .await;
    resubscribed(&cluster, before, "a master failover").await;

    // 4. ZooKeeper restarts: the leader stops at once when its session is
    //    suspended, and whoever leads afterwards carries on.
    let before = subscriptions(&cluster.master.calls()).len();
    tokio::task::block_in_place(|| cluster.zookeeper.restart());
    resubscribed(&cluster, before, "a ZooKeeper restart").await;

    // The end: the same two tasks under the same framework, none launched
    // twice or killed, all stored, and no call from a replaced scheduler.
    let state = cluster
        .wait_for_master("the framework back with its two tasks", |state| {
            state.framework(&framework_id).is_some_and(|f| f.connected)
                && running_tasks(state, &framework_id) == tasks
        })
        .await;
    assert_eq!(state.frameworks.len(), 1, "never a second framework");
    let ids: Vec<&String> = state.tasks.iter().map(|t| &t.id).collect();
    assert_eq!(
        ids.len(),
        2,
        "no task launched besides the first two: {ids:?}"
    );
    let stored = cluster
        .wait_stored_running(&tasks.keys().cloned().collect::<BTreeSet<_>>())
        .await;
    assert_eq!(stored.framework_id, Some(framework_id));

    let calls = cluster.master.calls();
    let mut current = None;
    for call in &calls {
        if call.kind == CallType::Subscribe && call.accepted {
            current = call.stream_id.clone();
        } else if call.accepted {
            assert_eq!(
                call.stream_id, current,
                "the master took {call:?} from a replaced subscription"
            );
        }
    }
}
