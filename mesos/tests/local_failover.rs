//! Framework failover: a disconnected framework keeps its tasks for its
//! failover_timeout; after that, or after TEARDOWN, it is gone for good.

mod local_support;

use std::time::Duration;

use local_support::*;
use mesos::{
    Client, ClientOptions, calls,
    local::LocalMasterConfig,
    v1::{FrameworkId, FrameworkInfo, TaskState, scheduler::event, task_status::Reason},
};

/// A master with the default 15 s heartbeats: a dropped connection is
/// noticed when the socket closes, not by a heartbeat failing to write.
async fn master() -> mesos::local::LocalMaster {
    start(LocalMasterConfig {
        heartbeat_interval: Duration::from_secs(15),
        ..config()
    })
    .await
}

/// Subscribes, starts `sleep 60` as task `id` and returns its PID.
async fn framework_with_task(
    master: &mesos::local::LocalMaster,
    info: FrameworkInfo,
    id: &str,
) -> (Framework, u32) {
    let framework = Framework::subscribe(master, info).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let task = command_task(id, &offer.agent_id, "sleep 60", "cpus:0.1;mem:32");
    framework.launch(&offer, vec![task]).await;
    framework.follow(id, TaskState::TaskRunning).await;
    let pid = master.state().task(id).unwrap().pid.unwrap();
    (framework, pid)
}

fn resubscribe_info(framework_id: &str, failover_timeout: f64) -> FrameworkInfo {
    let mut info = framework_info("failover", &[], failover_timeout);
    info.id = Some(FrameworkId {
        value: framework_id.into(),
    });
    info
}

#[tokio::test]
async fn a_framework_that_fails_over_in_time_keeps_its_tasks() {
    let master = master().await;
    let (framework, pid) =
        framework_with_task(&master, framework_info("failover", &[], 60.0), "keeper").await;
    let framework_id = framework.id.clone();
    let client = framework.disconnect();
    master
        .wait_for(
            |s| s.framework(&framework_id).is_some_and(|f| !f.connected),
            WAIT,
        )
        .await
        .unwrap();
    let state = master.state();
    assert_eq!(state.task("keeper").unwrap().state, TaskState::TaskRunning);
    assert!(process_alive(pid));

    let framework =
        Framework::subscribe_client(client, resubscribe_info(&framework_id, 60.0)).await;
    assert_eq!(framework.id, framework_id, "the same framework");
    framework.call(calls::reconcile_all()).await;
    let status = framework.update("keeper").await;
    assert_eq!(status.state(), TaskState::TaskRunning);
    assert_eq!(status.reason(), Reason::Reconciliation);
    assert_eq!(master.state().task("keeper").unwrap().pid, Some(pid));
}

#[tokio::test]
async fn updates_missed_while_away_are_resent_on_resubscription() {
    // Agents would retry only after a minute: what arrives sooner is sent
    // because the framework came back.
    let master = start(LocalMasterConfig {
        status_update_retry: Duration::from_secs(60),
        ..config()
    })
    .await;
    let framework = Framework::subscribe(&master, framework_info("failover", &[], 60.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let task = command_task("unacked", &offer.agent_id, "sleep 60", "cpus:0.1;mem:32");
    framework.launch(&offer, vec![task]).await;
    framework.follow("unacked", TaskState::TaskStarting).await;
    let running = framework.update_in("unacked", TaskState::TaskRunning).await;
    let framework_id = framework.id.clone();
    let client = framework.disconnect();
    master
        .wait_for(
            |s| s.framework(&framework_id).is_some_and(|f| !f.connected),
            WAIT,
        )
        .await
        .unwrap();

    let framework =
        Framework::subscribe_client(client, resubscribe_info(&framework_id, 60.0)).await;
    let again = framework.update("unacked").await;
    assert_eq!(again, running, "the same, still unacknowledged update");
    framework.ack(&again).await;
}

#[tokio::test]
async fn after_the_failover_timeout_tasks_are_killed_and_the_framework_is_removed() {
    let master = master().await;
    let (framework, pid) =
        framework_with_task(&master, framework_info("failover", &[], 0.3), "doomed").await;
    let framework_id = framework.id.clone();
    let client = framework.disconnect();
    let state = master
        .wait_for(
            |s| s.framework(&framework_id).is_some_and(|f| f.removed),
            WAIT,
        )
        .await
        .unwrap();
    let task = state.task("doomed").unwrap();
    assert!(task.completed);
    assert_eq!(task.state, TaskState::TaskKilled);
    let last = task.statuses.last().unwrap();
    assert_eq!(last.reason(), Reason::FrameworkRemoved);
    assert_eq!(
        last.message.as_deref(),
        Some(format!("Framework {framework_id} removed").as_str())
    );
    wait_process_gone(pid).await;
    assert!(state.agents.iter().all(|a| a.used.is_empty()));

    // Coming back is refused, with Mesos' message, and the stream closes.
    client.set_framework_id(Some(FrameworkId {
        value: framework_id.clone(),
    }));
    let mut subscription = client
        .subscribe(calls::subscribe(resubscribe_info(&framework_id, 0.3)))
        .await
        .unwrap();
    let error = subscription.next_event().await.unwrap().unwrap();
    assert_eq!(error.r#type(), event::Type::Error);
    assert_eq!(error.error.unwrap().message, "Framework has been removed");
    assert!(
        subscription.next_event().await.unwrap().is_none(),
        "stream closed"
    );

    let json = get_json(&master, "/master/state").await;
    assert_eq!(json["frameworks"].as_array().unwrap().len(), 0);
    assert_eq!(json["completed_frameworks"][0]["id"], framework_id);
}

#[tokio::test]
async fn teardown_removes_the_framework_at_once() {
    let master = master().await;
    let (framework, pid) =
        framework_with_task(&master, framework_info("teardown", &[], 3600.0), "short").await;
    framework.call(calls::teardown()).await;
    framework.wait_ended().await;
    wait_process_gone(pid).await;
    let state = master.state();
    assert!(state.framework(&framework.id).unwrap().removed);
    // A new subscription without an ID is a new framework.
    let client = Client::new(ClientOptions::default());
    client.set_master(master.addr());
    let again = Framework::subscribe_client(client, framework_info("teardown", &[], 0.0)).await;
    assert_ne!(again.id, framework.id);
}
