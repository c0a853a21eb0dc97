//! The framework keeps its state in ZooKeeper: the framework ID, the
//! instance count and one node per task. Checked against a real ZooKeeper
//! and the simulated master, reading the nodes with a plain ZooKeeper
//! client.

mod common;

use std::collections::BTreeMap;

use common::*;

#[tokio::test]
async fn the_framework_id_instances_and_every_task_are_stored() {
    let cluster = Cluster::start().await;
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
        let stored = read_stored(&zookeeper).await;
        (stored.tasks == expected).then_some(stored)
    })
    .await;
    assert_eq!(stored.framework_id, Some(framework_id));
    assert_eq!(stored.instances.as_deref(), Some("2"));
}

#[tokio::test]
async fn the_stored_instance_count_is_used_after_a_restart() {
    let cluster = Cluster::start().await;
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
    let stored = read_stored(&cluster.zookeeper_client().await).await;
    assert_eq!(stored.instances.as_deref(), Some("3"));
}

#[tokio::test]
async fn unreadable_state_stops_the_scheduler_and_is_left_as_it_is() {
    let cluster = Cluster::start().await;
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
