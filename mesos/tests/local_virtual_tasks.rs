//! Virtual tasks (`LocalMasterConfig::virtual_tasks`), the benchmarks'
//! mode: no process, but the very updates a real agent sends, delivered as
//! reliably; and a cluster too big to publish after every change still
//! shows its latest state.

mod local_support;

use std::time::Duration;

use local_support::*;
use mesos::{
    calls,
    local::LocalMasterConfig,
    v1::{TaskState, framework_info::capability::Type as Capability, task_status::Source},
};

fn virtual_config() -> LocalMasterConfig {
    LocalMasterConfig {
        virtual_tasks: true,
        ..config()
    }
}

#[tokio::test]
async fn a_virtual_task_gets_starting_then_running_held_until_acknowledged() {
    let master = start(virtual_config()).await; // retries after 200 ms
    let info = framework_info("virtual", &[Capability::TaskKillingState], 0.0);
    let framework = Framework::subscribe(&master, info).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let task = command_task("v", &offer.agent_id, "sleep 3600", "cpus:0.1;mem:32");
    framework.launch(&offer, vec![task]).await;

    // TASK_STARTING from the executor, re-sent (same uuid) until
    // acknowledged, while TASK_RUNNING waits its turn: a real agent's
    // status update manager, unchanged.
    let starting = framework.update("v").await;
    assert_eq!(starting.state(), TaskState::TaskStarting);
    assert_eq!(starting.source(), Source::Executor);
    assert_eq!(
        framework.update("v").await,
        starting,
        "a retry is the same update"
    );
    let state = master.state();
    let task = state.task("v").unwrap();
    assert_eq!(task.state, TaskState::TaskRunning);
    assert_eq!(task.status_update_state, Some(TaskState::TaskStarting));
    assert_eq!(task.pid, None, "no process");

    framework.ack(&starting).await;
    let running = framework.update_in("v", TaskState::TaskRunning).await;
    assert_eq!(running.source(), Source::Executor);
    assert_ne!(running.uuid, starting.uuid);
    framework.ack(&running).await;
    let states: Vec<TaskState> = framework.statuses("v").iter().map(|s| s.state()).collect();
    assert!(
        states
            .iter()
            .all(|s| matches!(s, TaskState::TaskStarting | TaskState::TaskRunning)),
        "{states:?}"
    );

    // A kill ends it as SIGTERM ends a command task.
    framework
        .call(calls::kill(
            running.task_id.clone(),
            Some(offer.agent_id.clone()),
            None,
        ))
        .await;
    framework.follow("v", TaskState::TaskKilling).await;
    let killed = framework.follow("v", TaskState::TaskKilled).await;
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
    master
        .wait_for(
            |s| s.agents[0].used.is_empty() && s.task("v").is_some_and(|t| t.completed),
            WAIT,
        )
        .await
        .expect("the task's resources are free and it is completed");
}

/// More tasks than the master publishes a snapshot for after every
/// change: the snapshot is deferred, never lost.
#[tokio::test]
async fn a_big_cluster_still_publishes_its_latest_state() {
    const TASKS: usize = 300;
    let master = start(LocalMasterConfig {
        agents: 1,
        agent_resources: "cpus:100;mem:100000".into(),
        // Nothing else happens after the launch: no retries, and no
        // allocation cycle but the one a subscription triggers, so only the
        // deferred snapshot can show the last change.
        status_update_retry: Duration::from_secs(600),
        allocation_interval: Duration::from_secs(3600),
        ..virtual_config()
    })
    .await;
    let framework = Framework::subscribe(&master, framework_info("many", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let tasks = (0..TASKS)
        .map(|i| command_task(&format!("t{i}"), &offer.agent_id, "true", "cpus:0.01;mem:1"))
        .collect();
    framework.launch(&offer, tasks).await;
    // The agent knows all of them RUNNING without any acknowledgement.
    master
        .wait_for(
            |s| s.tasks.len() == TASKS && s.tasks.iter().all(|t| t.state == TaskState::TaskRunning),
            Duration::from_secs(60),
        )
        .await
        .expect("the launch is published");
    // Two changes in a row: the second comes within the first one's
    // snapshot's shadow, and nothing happens after it (no retry, no
    // allocation cycle). Only the deferred snapshot can show it.
    let first = framework.update("t0").await;
    let second = framework.update("t1").await;
    framework.ack(&first).await;
    framework.ack(&second).await;
    master
        .wait_for(
            |s| {
                ["t0", "t1"].iter().all(|id| {
                    s.task(id).unwrap().status_update_state == Some(TaskState::TaskRunning)
                })
            },
            WAIT,
        )
        .await
        .expect("the latest change is published");
}
