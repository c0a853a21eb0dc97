//! A partitioned agent: the master marks it unreachable and its tasks lost,
//! while the agent runs them on; when it re-registers the master takes
//! them back, as Mesos 1.11 does.

mod executor_support;
mod local_support;

use executor_support::{Executor, executor_info, task};
use local_support::*;
use mesos::{
    calls,
    local::{AgentState, LocalMaster},
    resources::Resources,
    v1::{
        DurationInfo, TaskState,
        executor::event,
        framework_info::capability::Type as Capability,
        task_status::{Reason, Source},
    },
};

const TASK_RESOURCES: &str = "cpus:0.5;mem:64";

/// A framework running `command` as task `id` on S0, followed to
/// TASK_RUNNING; returns it with the task's PID and agent ID.
async fn running_task(
    master: &LocalMaster,
    capabilities: &[Capability],
    id: &str,
    command: &str,
) -> (Framework, u32, String) {
    let framework =
        Framework::subscribe(master, framework_info("partitioned", capabilities, 3600.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let task = command_task(id, &offer.agent_id, command, TASK_RESOURCES);
    framework.launch(&offer, vec![task]).await;
    framework.follow(id, TaskState::TaskRunning).await;
    let pid = master.state().task(id).unwrap().pid.unwrap();
    (framework, pid, offer.agent_id.value)
}

#[tokio::test]
async fn a_removed_agent_comes_back_with_its_task_still_running() {
    let master = start(config()).await;
    let (framework, pid, agent_id) = running_task(&master, &[], "survivor", "sleep 60").await;

    assert!(master.faults().remove_agent(&agent_id).await);
    let lost = framework.update_in("survivor", TaskState::TaskLost).await;
    assert_eq!(lost.reason(), Reason::AgentRemoved);
    let state = master.state();
    let agent = state.agent(&agent_id).unwrap();
    assert_eq!(agent.state, AgentState::Unreachable);
    assert!(agent.used.is_empty(), "the master no longer counts it");
    assert!(state.task("survivor").unwrap().unreachable);
    // The agent still runs the task, unbeknownst to the master.
    assert_eq!(agent.unreported_tasks.len(), 1);
    assert_eq!(agent.unreported_tasks[0].pid, Some(pid));
    assert!(process_alive(pid));

    assert!(master.faults().reregister_agent(&agent_id).await);
    let back = framework.update("survivor").await;
    assert_eq!(back.state(), TaskState::TaskRunning);
    assert_eq!(back.reason(), Reason::AgentReregistered);
    assert_eq!(back.source(), Source::Master);
    assert_eq!(
        back.message.as_deref(),
        Some("Unreachable agent re-reregistered")
    );
    assert_eq!(back.uuid, None, "not to be acknowledged");
    assert_eq!(back.agent_id.unwrap().value, agent_id);

    let state = master.state();
    let agent = state.agent(&agent_id).unwrap();
    assert_eq!(agent.state, AgentState::Registered);
    assert!(agent.reregistered_time.is_some());
    assert!(agent.unreported_tasks.is_empty());
    assert_eq!(agent.used, Resources::parse(TASK_RESOURCES).unwrap());
    let task = state.task("survivor").unwrap();
    assert!(!task.unreachable && !task.completed);
    assert_eq!(task.state, TaskState::TaskRunning);
    assert_eq!(task.pid, Some(pid), "the same process");
    assert!(process_alive(pid));
    assert_eq!(state.active_tasks(&framework.id).len(), 1);
    assert!(
        !master.faults().reregister_agent(&agent_id).await,
        "already registered"
    );

    // The allocator counts the task again: the agent offers only the rest
    // (its offers from before were rescinded with it).
    let rest = full_agent() - &Resources::parse(TASK_RESOURCES).unwrap();
    let state = master
        .wait_for(|s| s.offers.iter().any(|o| o.agent_id == agent_id), WAIT)
        .await
        .unwrap();
    let offer = state
        .offers
        .iter()
        .find(|o| o.agent_id == agent_id)
        .unwrap();
    assert_eq!(offer.resources, rest);
    // And reconciliation knows the task.
    framework.call(calls::reconcile_all()).await;
    let reconciled = framework.update("survivor").await;
    assert_eq!(reconciled.state(), TaskState::TaskRunning);
    assert_eq!(reconciled.reason(), Reason::Reconciliation);
}

#[tokio::test]
async fn a_task_that_finished_while_its_agent_was_away_is_reported_when_it_comes_back() {
    let master = start(config()).await;
    // Runs until told to stop, by a file in its sandbox.
    let (framework, pid, agent_id) = running_task(
        &master,
        &[Capability::PartitionAware],
        "finisher",
        "while [ ! -e stop ]; do sleep 0.05; done",
    )
    .await;
    assert!(master.faults().remove_agent(&agent_id).await);
    framework
        .update_in("finisher", TaskState::TaskUnreachable)
        .await;

    let sandbox = master.state().task("finisher").unwrap().sandbox.clone();
    std::fs::write(sandbox.unwrap().join("stop"), "").unwrap();
    wait_process_gone(pid).await;
    // The agent knows; the master cannot.
    let state = master
        .wait_for(
            |s| s.agent(&agent_id).unwrap().unreported_tasks[0].state == TaskState::TaskFinished,
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(
        state.task("finisher").unwrap().state,
        TaskState::TaskUnreachable
    );

    assert!(master.faults().reregister_agent(&agent_id).await);
    // First the master, with the state the agent reported…
    let back = framework.update("finisher").await;
    assert_eq!(back.state(), TaskState::TaskFinished);
    assert_eq!(back.reason(), Reason::AgentReregistered);
    assert_eq!(back.uuid, None);
    // …then the agent's own update, held back while it was away, reliable.
    let finished = framework.update("finisher").await;
    assert_eq!(finished.state(), TaskState::TaskFinished);
    assert_eq!(finished.source(), Source::Executor);
    assert!(finished.uuid.is_some());
    let sent: Vec<TaskState> = framework
        .statuses("finisher")
        .iter()
        .map(|s| s.state())
        .collect();
    assert_eq!(
        sent,
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskUnreachable,
            TaskState::TaskFinished,
            TaskState::TaskFinished,
        ],
        "nothing reached the framework while the agent was away"
    );
    framework.ack(&finished).await;
    let state = master
        .wait_for(|s| s.task("finisher").unwrap().completed, WAIT)
        .await
        .unwrap();
    assert!(state.agent(&agent_id).unwrap().used.is_empty());
}

#[tokio::test]
async fn tasks_of_a_framework_removed_while_their_agent_was_away_are_killed_when_it_comes_back() {
    let master = start(config()).await;
    let (framework, pid, agent_id) = running_task(&master, &[], "orphan", "sleep 60").await;
    assert!(master.faults().remove_agent(&agent_id).await);
    framework.update_in("orphan", TaskState::TaskLost).await;
    framework.call(calls::teardown()).await;
    framework.wait_ended().await;
    let state = master.state();
    assert!(state.framework(&framework.id).unwrap().removed);
    // The agent did not hear of it.
    assert!(process_alive(pid));

    assert!(master.faults().reregister_agent(&agent_id).await);
    wait_process_gone(pid).await;
    let state = master.state();
    let agent = state.agent(&agent_id).unwrap();
    assert_eq!(agent.state, AgentState::Registered);
    assert!(agent.used.is_empty());
    let task = state.task("orphan").unwrap();
    assert!(task.completed, "not taken back");
    assert!(state.active_tasks(&framework.id).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executors_of_a_framework_removed_while_their_agent_was_away_are_shut_down_when_it_comes_back()
 {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("partitioned", &[], 3600.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let agent_id = offer.agent_id.value.clone();
    let mut info = executor_info("exec", "cpus:0.1;mem:32");
    info.shutdown_grace_period = Some(DurationInfo {
        nanoseconds: 200_000_000,
    });
    framework
        .launch(
            &offer,
            vec![task("t1", &offer.agent_id, &info, TASK_RESOURCES)],
        )
        .await;
    let executor = Executor::of_task(&master, "t1").await;
    let mut events = executor.subscribe_and_take_launch(&master).await;
    let pid = master
        .wait_for(
            |s| {
                s.executor(&framework.id, "exec")
                    .is_some_and(|e| e.pid.is_some())
            },
            WAIT,
        )
        .await
        .unwrap()
        .executor(&framework.id, "exec")
        .unwrap()
        .pid
        .unwrap();

    assert!(master.faults().remove_agent(&agent_id).await);
    framework.update_in("t1", TaskState::TaskLost).await;
    framework.call(calls::teardown()).await;
    framework.wait_ended().await;
    // The agent did not hear of it.
    assert!(process_alive(pid));

    assert!(master.faults().reregister_agent(&agent_id).await);
    // `Slave::shutdownFramework`: told, then destroyed after its grace
    // period, though the script ignores SHUTDOWN.
    events.expect(event::Type::Shutdown).await;
    wait_process_gone(pid).await;
    master
        .wait_for(
            |s| {
                let agent = s.agent(&agent_id).unwrap();
                agent.executors.is_empty() && agent.used.is_empty()
            },
            WAIT,
        )
        .await
        .expect("the executor is gone and its resources free");
}
