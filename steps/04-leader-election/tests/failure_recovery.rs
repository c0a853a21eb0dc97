//! The framework recovers from failures: its own crash (`kill -9`), tasks
//! lost while it was down, the master giving up on it, ZooKeeper going
//! away under it; and it can be ended for good (`--teardown`). Against a
//! real ZooKeeper and the simulated master, with the framework's binary
//! killed and restarted as an operator would.

use http::StatusCode;
use mesos::{
    Client, ClientOptions, calls,
    local::{AgentReregistration, AgentState, LocalMasterConfig},
    testing::*,
    v1::{FrameworkId, FrameworkInfo},
};

/// The framework under test: this step's binary (Cargo names it after
/// the package, so the line is the same in every step).
const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));

#[tokio::test]
async fn after_kill_9_the_scheduler_resumes_its_framework_and_tasks() {
    let cluster = Cluster::start(BINARY).await;
    let mut first = cluster.framework(&[]);
    let (framework_id, tasks) = cluster.wait_for_running(2).await;
    first.kill();
    cluster
        .wait_for_master("the subscription closed", |state| {
            state.framework(&framework_id).is_some_and(|f| !f.connected)
        })
        .await;

    let second = cluster.framework(&[]);
    second
        .wait_for_output("reconciled every task we know")
        .await;
    let state = cluster
        .wait_for_master("the framework back, offers suppressed", |state| {
            state
                .framework(&framework_id)
                .is_some_and(|f| f.connected && !f.suppressed_roles.is_empty())
        })
        .await;
    assert_eq!(state.frameworks.len(), 1, "no new framework registered");
    assert_eq!(
        running_tasks(&state, &framework_id),
        tasks,
        "the same tasks run on the same agents"
    );
    assert_eq!(state.tasks.len(), 2, "no task launched after the restart");
    let stored = cluster.stored().await;
    assert_eq!(stored.framework_id, Some(framework_id));
    assert_eq!(
        stored.tasks.keys().collect::<Vec<_>>(),
        tasks.keys().collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_dropped_connection_and_missed_heartbeats_are_survived() {
    let cluster = Cluster::start(BINARY).await;
    let framework = cluster.framework(&[]);
    let (framework_id, tasks) = cluster.wait_for_running(2).await;
    let resubscribed = async |times: usize| {
        let what = format!("{times} resubscriptions, each reconciling both tasks");
        eventually(&what, async || {
            let output = framework.output();
            let lines = output
                .matches("reconciling the tasks we know tasks=2")
                .count();
            (lines >= times).then_some(())
        })
        .await;
    };

    // The master closes the event stream, as a network failure would.
    cluster.master.faults().drop_streams().await;
    resubscribed(1).await;

    // The connection stays open but goes silent: only the missing
    // heartbeats tell.
    cluster.master.faults().stop_heartbeats(true);
    framework.wait_for_output("heartbeats missed").await;
    cluster.master.faults().stop_heartbeats(false);
    resubscribed(2).await;

    let state = cluster
        .wait_for_master("the framework subscribed", |state| {
            state.framework(&framework_id).is_some_and(|f| f.connected)
        })
        .await;
    assert_eq!(running_tasks(&state, &framework_id), tasks);
    assert_eq!(state.frameworks.len(), 1, "no new framework registered");
    assert_eq!(state.tasks.len(), 2, "no task launched");
}

#[tokio::test]
async fn a_task_lost_while_the_scheduler_was_down_is_replaced() {
    // Room for one task per agent: two tasks, and one agent to spare.
    let cluster = Cluster::start_with(
        BINARY,
        LocalMasterConfig {
            agents: 3,
            agent_resources: "cpus:0.5;mem:256;disk:1024;ports:[31000-32000]".into(),
            ..config()
        },
    )
    .await;
    let mut first = cluster.framework(&[]);
    let (framework_id, tasks) = cluster.wait_for_running(2).await;
    first.kill();
    cluster
        .wait_for_master("the subscription closed", |state| {
            state.framework(&framework_id).is_some_and(|f| !f.connected)
        })
        .await;

    // An agent is lost with its task while no scheduler listens: the
    // master's TASK_LOST goes nowhere. Only reconciliation can tell.
    let (lost_task, lost_agent) = tasks.iter().next().unwrap();
    assert!(cluster.master.faults().remove_agent(lost_agent).await);

    let _second = cluster.framework(&[]);
    let state = cluster
        .wait_for_master("two tasks running again", |state| {
            let running = running_tasks(state, &framework_id);
            running.len() == 2 && !running.contains_key(lost_task)
        })
        .await;
    let running = running_tasks(&state, &framework_id);
    let kept = tasks.keys().find(|task| *task != lost_task).unwrap();
    assert_eq!(running.get(kept), tasks.get(kept), "the other task is kept");
    assert!(running.values().all(|agent| agent != lost_agent));

    // ZooKeeper follows: the lost task's record is gone, the
    // replacement's is there.
    cluster
        .wait_stored_running(&running.into_keys().collect())
        .await;
}

#[tokio::test]
async fn after_the_failover_timeout_a_new_framework_is_registered() {
    let cluster = Cluster::start(BINARY).await;
    let mut first = cluster.framework(&["--failover-timeout", "1"]);
    let (old_id, old_tasks) = cluster.wait_for_running(2).await;
    first.kill();
    cluster
        .wait_for_master("the master removed the framework", |state| {
            state.framework(&old_id).is_some_and(|f| f.removed)
        })
        .await;

    // The restarted scheduler subscribes with the stored ID, is refused,
    // and registers anew: once, not in a loop.
    let second = cluster.framework(&["--failover-timeout", "1"]);
    second
        .wait_for_output("the master removed this framework")
        .await;
    let (new_id, new_tasks) = cluster.wait_for_running(2).await;
    assert_ne!(new_id, old_id);
    assert!(new_tasks.keys().all(|task| !old_tasks.contains_key(task)));
    assert_eq!(cluster.master.state().frameworks.len(), 2);

    // ZooKeeper holds the new framework and only its tasks.
    cluster
        .wait_stored_running(&new_tasks.into_keys().collect())
        .await;
    let stored = cluster.stored().await;
    assert_eq!(stored.framework_id, Some(new_id));
}

// Several threads: restarting ZooKeeper blocks one while the simulated
// master keeps running on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_going_away_under_a_leader_stops_it_at_once() {
    let mut cluster = Cluster::start(BINARY).await;
    let mut framework = cluster.framework(&[]);
    let (framework_id, tasks) = cluster.wait_for_running(2).await;
    cluster
        .wait_stored_running(&tasks.keys().cloned().collect())
        .await;

    // ZooKeeper goes away: the leader cannot know whether it still leads,
    // so it stops acting at once and closes its subscription.
    cluster.zookeeper.stop();
    framework.wait_for_output("no longer sure to lead").await;
    cluster
        .wait_for_master("the framework disconnected", |state| {
            state.framework(&framework_id).is_some_and(|f| !f.connected)
        })
        .await;
    // A task fails meanwhile: nobody hears of it yet.
    let (failed_task, _) = tasks.iter().next().unwrap();
    cluster.crash_task(failed_task);
    let calls_before = cluster.master.calls().len();

    // ZooKeeper comes back (same port, same data) within the session
    // timeout: the session, and the leadership, lived. A new term reads
    // the state, subscribes, hears of the failure and replaces the task.
    tokio::task::block_in_place(|| cluster.zookeeper.restart());
    let state = cluster
        .wait_for_master("a replacement running", |state| {
            let running = running_tasks(state, &framework_id);
            running.len() == 2 && !running.contains_key(failed_task)
        })
        .await;
    let calls = cluster.master.calls();
    assert_eq!(
        calls[calls_before].kind.as_str_name(),
        "SUBSCRIBE",
        "nothing before subscribing again: {calls:?}"
    );
    let running = running_tasks(&state, &framework_id);
    cluster
        .wait_stored_running(&running.into_keys().collect())
        .await;
    assert!(framework.is_running(), "the scheduler never gave up");
}

// Several threads: restarting ZooKeeper blocks one while the simulated
// master keeps running on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_away_at_the_first_subscription_means_nothing_is_launched() {
    let mut cluster = Cluster::start(BINARY).await;
    let faults = cluster.master.faults();
    faults.fail_with(Some(StatusCode::SERVICE_UNAVAILABLE));
    let mut first = cluster.framework(&[]);
    first.wait_for_output("disconnected from the master").await;
    // ZooKeeper goes away before the first SUBSCRIBED: the leader stops
    // at once, and nothing is launched under a framework ID it could not
    // store.
    cluster.zookeeper.stop();
    faults.fail_with(None);
    first.wait_for_output("no longer sure to lead").await;
    assert!(cluster.master.state().tasks.is_empty());

    tokio::task::block_in_place(|| cluster.zookeeper.restart());
    let (framework_id, tasks) = cluster.wait_for_running(2).await;
    cluster
        .wait_stored_running(&tasks.keys().cloned().collect())
        .await;
    assert_eq!(
        cluster.stored().await.framework_id,
        Some(framework_id.clone())
    );

    // Crash and restart: the same framework, the same tasks, nothing new.
    first.kill();
    let second = cluster.framework(&[]);
    second
        .wait_for_output("reconciled every task we know")
        .await;
    let state = cluster
        .wait_for_master("the framework back", |state| {
            state.framework(&framework_id).is_some_and(|f| f.connected)
        })
        .await;
    assert_eq!(running_tasks(&state, &framework_id), tasks);
    let launched: std::collections::BTreeSet<_> = state.tasks.iter().map(|t| &t.id).collect();
    assert_eq!(launched.len(), 2, "exactly N tasks, none launched twice");
}

#[tokio::test]
async fn teardown_ends_the_framework_and_clears_what_was_stored() {
    let cluster = Cluster::start(BINARY).await;
    let mut running = cluster.framework(&["--instances", "3"]);
    let (framework_id, tasks) = cluster.wait_for_running(3).await;
    cluster
        .wait_stored_running(&tasks.keys().cloned().collect())
        .await;
    running.kill();

    // The framework outlives its scheduler (a week's failover timeout):
    // `--teardown` ends it.
    let mut teardown = cluster.framework(&["--teardown"]);
    let status = teardown.wait_exit().await;
    assert!(status.success(), "{status}\n{}", teardown.output());
    assert!(teardown.output().contains("framework torn down"));
    let state = cluster
        .wait_for_master("the framework removed, its tasks killed", |state| {
            state.framework(&framework_id).is_some_and(|f| f.removed)
                && state.active_tasks(&framework_id).is_empty()
        })
        .await;
    assert!(
        tasks
            .keys()
            .all(|task| state.task(task).unwrap().state.is_terminal())
    );
    let stored = cluster.stored().await;
    assert_eq!(stored.framework_id, None);
    assert!(stored.tasks.is_empty());
    assert_eq!(stored.instances.as_deref(), Some("3"), "the count stays");

    // Again: nothing stored, nothing to do.
    let mut again = cluster.framework(&["--teardown"]);
    assert!(again.wait_exit().await.success());
    assert!(again.output().contains("nothing to tear down"));

    // The next start registers a new framework.
    let _next = cluster.framework(&[]);
    let (new_id, _) = cluster.wait_for_running(3).await;
    assert_ne!(new_id, framework_id);
}

#[tokio::test]
async fn after_kill_9_and_a_master_failover_the_scheduler_resumes_its_framework_and_tasks() {
    let cluster = Cluster::start(BINARY).await;
    let mut first = cluster.framework(&[]);
    let (framework_id, tasks) = cluster.wait_for_running(2).await;
    first.kill();

    // The master fails over while no scheduler runs: the new one knows no
    // framework, and its agents have not re-registered yet.
    let faults = cluster.master.faults();
    let old_master = cluster.master.state().master_id;
    let new_master = faults.fail_over(AgentReregistration::WhenAsked).await;
    assert_ne!(new_master, old_master);

    // The scheduler comes back and subscribes with the stored ID: the new
    // master takes it. Reconciliation gets no answer while the agents that
    // may run the tasks are still recovering: the scheduler asks again,
    // and launches nothing meanwhile.
    let second = cluster.framework(&[]);
    cluster
        .wait_for_master("the framework subscribed to the new master", |state| {
            state.framework(&framework_id).is_some_and(|f| f.connected)
        })
        .await;
    second
        .wait_for_output("reconciling: asking the master about our tasks")
        .await;
    assert!(cluster.master.state().tasks.is_empty(), "nothing launched");

    // The agents re-register with their tasks: the answers come, and the
    // same tasks run on.
    for agent in cluster.master.state().agents {
        assert_eq!(agent.state, AgentState::Recovered);
        assert!(faults.reregister_agent(&agent.id).await);
    }
    second
        .wait_for_output("reconciled every task we know")
        .await;
    let state = cluster
        .wait_for_master("both tasks known and running again", |state| {
            running_tasks(state, &framework_id) == tasks
        })
        .await;
    assert_eq!(state.frameworks.len(), 1, "no new framework registered");
    assert_eq!(state.tasks.len(), 2, "no task launched");
    let stored = cluster.stored().await;
    assert_eq!(stored.framework_id, Some(framework_id));
}

#[tokio::test]
async fn a_master_failover_under_a_running_scheduler_is_survived() {
    let cluster = Cluster::start(BINARY).await;
    let framework = cluster.framework(&[]);
    let (framework_id, tasks) = cluster.wait_for_running(2).await;
    cluster
        .wait_stored_running(&tasks.keys().cloned().collect())
        .await;
    let reconciled_before = framework.count_output("reconciled every task we know");

    // The master fails over; the agents re-register a moment later.
    let faults = cluster.master.faults();
    faults
        .fail_over(AgentReregistration::After(
            std::time::Duration::from_millis(500),
        ))
        .await;
    framework
        .wait_for_output("disconnected from the master")
        .await;
    eventually("reconciled with the new master", async || {
        let reconciled = framework.count_output("reconciled every task we know");
        (reconciled > reconciled_before).then_some(())
    })
    .await;
    let state = cluster
        .wait_for_master("the framework back, its tasks running", |state| {
            state.framework(&framework_id).is_some_and(|f| f.connected)
                && running_tasks(state, &framework_id) == tasks
        })
        .await;
    assert_eq!(state.frameworks.len(), 1);
    assert_eq!(state.tasks.len(), 2, "no task launched");
}

#[tokio::test]
async fn a_leader_displaced_by_another_scheduler_gives_up_leadership() {
    let cluster = Cluster::start(BINARY).await;
    let framework = cluster.framework(&[]);
    let (framework_id, _) = cluster.wait_for_running(2).await;

    // A scheduler outside the election subscribes with the same framework
    // ID (an operator's tool, a forgotten instance of step 03).
    let other = Client::new(ClientOptions::default());
    other.set_master(cluster.master.addr());
    let id = Some(FrameworkId {
        value: framework_id.clone(),
    });
    other.set_framework_id(id.clone());
    let info = FrameworkInfo {
        id,
        user: "root".into(),
        name: "hello-mesos".into(),
        failover_timeout: Some(604800.0),
        checkpoint: Some(true),
        ..Default::default()
    };
    let subscription = other.subscribe(calls::subscribe(info)).await.unwrap();

    // The leader does not fight: it resigns and stays up as a standby.
    // Alone in the election, it is elected again, and takes the framework
    // back once, as a new term: not in a loop.
    framework
        .wait_for_output("another scheduler took the framework over")
        .await;
    framework.wait_for_output("resigning").await;
    drop(subscription);
    let subscribes = || {
        let calls = cluster.master.calls();
        calls
            .into_iter()
            .filter(|c| c.kind.as_str_name() == "SUBSCRIBE")
            .count()
    };
    eventually("the leader subscribed again", async || {
        (subscribes() >= 3).then_some(())
    })
    .await;
    let state = cluster
        .wait_for_master("the framework back with the leader", |state| {
            state.framework(&framework_id).is_some_and(|f| f.connected)
                && running_tasks(state, &framework_id).len() == 2
        })
        .await;
    assert_eq!(state.frameworks.len(), 1);
    assert_eq!(subscribes(), 3, "ours, theirs, ours again: no fight");
    assert_eq!(framework.count_output("subscribing"), 2);
}
