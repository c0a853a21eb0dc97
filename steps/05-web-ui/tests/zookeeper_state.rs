//! The framework keeps its state in ZooKeeper: the framework ID, the
//! instance count and one node per task. Checked against a real ZooKeeper
//! and the simulated master, reading the nodes with a plain ZooKeeper
//! client.

use std::collections::{BTreeMap, BTreeSet};

use mesos::testing::*;

/// The framework under test: this step's binary (Cargo names it after
/// the package, so the line is the same in every step).
const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));

/// Its root in ZooKeeper, as the tests pass it in `--zk`.
const ROOT: &str = "/hello-mesos";

#[tokio::test]
async fn the_framework_id_instances_and_every_task_are_stored() {
    let cluster = Cluster::start(BINARY).await;
    let _framework = cluster.framework(&["--instances", "2"]);
    let (framework_id, running) = cluster.wait_for_running(2).await;

    // One node per task, with its state and its agent, once the scheduler
    // has heard that the task runs.
    let expected: BTreeMap<_, _> = running
        .iter()
        .map(|(task, agent)| {
            let record = ("TASK_RUNNING".to_string(), Some(agent.clone()));
            (task.clone(), record)
        })
        .collect();
    let zookeeper = cluster.zookeeper_client().await;
    let stored = eventually("the running tasks stored in ZooKeeper", async || {
        let stored = read_stored(&zookeeper, ROOT).await;
        (stored.tasks == expected).then_some(stored)
    })
    .await;
    assert_eq!(stored.framework_id, Some(framework_id));
    assert_eq!(stored.instances.as_deref(), Some("2"));
}

#[tokio::test]
async fn the_stored_instance_count_is_used_after_a_restart() {
    let cluster = Cluster::start(BINARY).await;
    let mut first = cluster.framework(&["--instances", "3"]);
    let (first_id, _) = cluster.wait_for_running(3).await;
    first.kill();
    cluster
        .wait_for_master("the first scheduler's subscription closed", |state| {
            state.framework(&first_id).is_some_and(|f| !f.connected)
        })
        .await;

    // No --instances this time: the count comes from ZooKeeper, not from
    // the default of 2.
    let second = cluster.framework(&[]);
    let line = second
        .wait_for_output("instance count: stored in ZooKeeper")
        .await;
    assert!(line.contains("instances=3"), "{line}");
    cluster.wait_for_running(3).await;
    let stored = cluster.stored().await;
    assert_eq!(stored.instances.as_deref(), Some("3"));
}

#[tokio::test]
async fn unreadable_state_stops_the_scheduler_and_is_left_as_it_is() {
    let cluster = Cluster::start(BINARY).await;
    let zookeeper = cluster.zookeeper_client().await;
    let spoiled: [(String, &[u8]); 2] = [
        (
            format!("{ROOT}/state/tasks/hello-mesos-1"),
            br#"{"state":"TASK_SLEEPING","agent_id":null}"#,
        ),
        (format!("{ROOT}/state/framework_id"), b"not a framework ID"),
    ];
    for (node, data) in spoiled {
        create_node(&zookeeper, &node, data).await;
        let mut framework = cluster.framework(&[]);
        let status = framework.wait_exit().await;
        assert!(!status.success(), "it must fail, not carry on: {status}");
        assert_eq!(status.code(), Some(1), "an error, not a panic: {status}");
        let output = framework.output();
        assert!(output.contains(&node), "the error names {node}:\n{output}");
        assert_eq!(
            read_node(&zookeeper, &node).await.as_deref(),
            Some(data),
            "{node} is left as it was"
        );
        zookeeper.delete(&node, None).await.unwrap();
    }
    assert!(
        cluster.master.state().frameworks.is_empty(),
        "it never subscribed"
    );
}

/// Waits until ZooKeeper holds `framework_id` and exactly the tasks
/// `expected`, all running.
async fn wait_stored_running(cluster: &Cluster, framework_id: &str, expected: &BTreeSet<String>) {
    let stored = cluster.wait_stored_running(expected).await;
    assert_eq!(stored.framework_id.as_deref(), Some(framework_id));
}

#[tokio::test]
async fn a_framework_the_master_removed_is_forgotten_and_registered_anew() {
    let cluster = Cluster::start(BINARY).await;
    let framework = cluster.framework(&["--failover-timeout", "0"]);
    let (old_id, old_tasks) = cluster.wait_for_running(2).await;

    // The connection drops, as when a laptop sleeps. With a failover
    // timeout of 0 the master removes the framework at once, tasks and all,
    // and refuses its ID from then on.
    cluster.master.faults().drop_streams().await;
    framework
        .wait_for_output("the master removed this framework")
        .await;
    let (new_id, new_tasks) = cluster.wait_for_running(2).await;
    assert_ne!(new_id, old_id, "a new framework");
    assert!(new_tasks.keys().all(|task| !old_tasks.contains_key(task)));
    let removed = cluster.master.state();
    assert!(removed.framework(&old_id).is_some_and(|f| f.removed));

    // ZooKeeper follows: the new framework ID, and only its tasks.
    wait_stored_running(&cluster, &new_id, &new_tasks.into_keys().collect()).await;
}

#[tokio::test]
async fn an_instance_count_changed_in_zookeeper_is_adopted() {
    let cluster = Cluster::start(BINARY).await;
    let framework = cluster.framework(&[]);
    let (framework_id, tasks) = cluster.wait_for_running(2).await;
    wait_stored_running(&cluster, &framework_id, &tasks.keys().cloned().collect()).await;

    // An operator: `zkCli.sh set /hello-mesos/state/instances 3`.
    let zookeeper = cluster.zookeeper_client().await;
    zookeeper
        .set_data(&format!("{ROOT}/state/instances"), b"3", None)
        .await
        .unwrap();
    // The scheduler watches the node: it notices at once, though nothing
    // else happens (all its tasks run, so it has nothing to write).
    framework
        .wait_for_output("the instance count changed in ZooKeeper")
        .await;
    let (running_id, running) = cluster.wait_for_running(3).await;
    assert_eq!(running_id, framework_id);
    assert!(tasks.keys().all(|task| running.contains_key(task)));
    let stored = cluster.stored().await;
    assert_eq!(stored.instances.as_deref(), Some("3"), "not undone");
}

#[tokio::test]
async fn another_scheduler_writing_the_state_makes_the_leader_step_down() {
    let cluster = Cluster::start(BINARY).await;
    let framework = cluster.framework(&[]);
    let (framework_id, tasks) = cluster.wait_for_running(2).await;
    wait_stored_running(&cluster, &framework_id, &tasks.keys().cloned().collect()).await;

    // Another scheduler (outside the election, by mistake) stored its own
    // framework.
    let zookeeper = cluster.zookeeper_client().await;
    let node = format!("{ROOT}/state/framework_id");
    zookeeper
        .set_data(&node, b"another-framework", None)
        .await
        .unwrap();
    // Our next write conflicts: the leader steps down instead of writing
    // over it. Elected again (it is alone), it starts from what ZooKeeper
    // holds now.
    let (failed, _) = tasks.iter().next().unwrap();
    cluster.crash_task(failed);
    framework.wait_for_output("stepping down").await;
    framework
        .wait_for_output(r#"framework_id="another-framework""#)
        .await;
    let stored = cluster.stored().await;
    assert_eq!(stored.framework_id.as_deref(), Some("another-framework"));
}
