//! Master failover: a newly elected master knows no framework until agents
//! re-register or schedulers subscribe again, as in Mesos 1.11.

mod local_support;

use std::time::Duration;

use local_support::*;
use mesos::{
    Client, Error, calls,
    local::{AgentReregistration, AgentState, LocalMaster},
    resources::Resources,
    v1::{
        AgentId, FrameworkId, FrameworkInfo, TaskId, TaskState,
        framework_info::capability::Type as Capability, scheduler::event, task_status::Reason,
    },
};

const TASK_RESOURCES: &str = "cpus:0.5;mem:64";

fn info(framework_id: Option<&str>) -> FrameworkInfo {
    FrameworkInfo {
        id: framework_id.map(|id| FrameworkId { value: id.into() }),
        ..framework_info("survivor", &[], 3600.0)
    }
}

/// A framework running `sleep 60` as task `id` on the agent ending with
/// `agent`, followed to TASK_RUNNING; returns the task's PID.
async fn sleep_on(master: &LocalMaster, framework: &Framework, id: &str, agent: &str) -> u32 {
    let offer = framework.offer_for(agent, |_| true).await;
    let task = command_task(id, &offer.agent_id, "sleep 60", TASK_RESOURCES);
    framework.launch(&offer, vec![task]).await;
    framework.follow(id, TaskState::TaskRunning).await;
    master.state().task(id).unwrap().pid.unwrap()
}

/// A REVIVE with the client's framework ID and stream ID.
async fn revive(client: &Client) -> Result<(), Error> {
    client.call(calls::revive(vec![])).await.map(|_| ())
}

fn reconcile_one(task_id: &str, agent_id: Option<&str>) -> mesos::v1::scheduler::Call {
    calls::reconcile(vec![(
        TaskId {
            value: task_id.into(),
        },
        agent_id.map(|value| AgentId {
            value: value.into(),
        }),
    )])
}

/// Explicitly reconciles `task_id` (on `agent_id`) and returns the answer,
/// if there was one.
async fn reconcile_answer(
    framework: &Framework,
    task_id: &str,
    agent_id: Option<&str>,
) -> Option<mesos::v1::TaskStatus> {
    answer_about(framework, reconcile_one(task_id, agent_id), task_id).await
}

/// Sends `call`, then reconciles a task on an agent no one knows, which is
/// always answered. Returns the update about `task_id` that came in
/// between, if any: events come in order, so it would have come first.
async fn answer_about(
    framework: &Framework,
    call: mesos::v1::scheduler::Call,
    task_id: &str,
) -> Option<mesos::v1::TaskStatus> {
    let before = framework.statuses(task_id).len();
    framework.call(call).await;
    let marker = format!("marker-for-{task_id}-{before}");
    framework
        .call(reconcile_one(&marker, Some("no-such-agent")))
        .await;
    framework.update(&marker).await;
    let statuses = framework.statuses(task_id);
    assert!(statuses.len() <= before + 1);
    statuses.get(before).cloned()
}

#[tokio::test]
async fn after_a_failover_calls_get_400_until_the_agent_is_back_then_403_until_resubscribed() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, info(None)).await;
    let pid = sleep_on(&master, &framework, "sleeper", "-S0").await;
    let framework_id = framework.id.clone();
    let s0 = format!("{}-S0", master.id());
    let s1 = format!("{}-S1", master.id());

    let new_id = master
        .faults()
        .fail_over(AgentReregistration::WhenAsked)
        .await;
    assert_ne!(new_id, master.id());
    framework.wait_ended().await;

    let state = master.state();
    assert_eq!(state.master_id, new_id);
    assert!(state.frameworks.is_empty(), "{:?}", state.frameworks);
    assert!(state.tasks.is_empty() && state.offers.is_empty());
    for agent in &state.agents {
        assert_eq!(agent.state, AgentState::Recovered, "{}", agent.id);
        assert!(agent.used.is_empty());
    }
    // The agent runs its task all the same.
    let unreported = &state.agent(&s0).unwrap().unreported_tasks;
    assert_eq!(unreported[0].id, "sleeper");
    assert_eq!(unreported[0].pid, Some(pid));
    assert!(process_alive(pid));
    let json = get_json(&master, "/master/state").await;
    assert_eq!(json["id"], new_id);
    assert_eq!(json["slaves"].as_array().unwrap().len(), 0);
    assert_eq!(json["recovered_slaves"].as_array().unwrap().len(), 2);
    assert_eq!(json["recovered_slaves"][0]["id"], s0);
    assert_eq!(json["frameworks"].as_array().unwrap().len(), 0);

    let client = framework.disconnect();
    let error = revive(&client).await.unwrap_err();
    assert!(
        matches!(&error, Error::BadRequest(m) if m == "Framework cannot be found"),
        "{error:?}"
    );

    // The agent comes back with the task: the master recovers the framework.
    assert!(master.faults().reregister_agent(&s0).await);
    let state = master.state();
    assert_eq!(state.agent(&s0).unwrap().state, AgentState::Registered);
    assert_eq!(state.agent(&s1).unwrap().state, AgentState::Recovered);
    assert_eq!(
        state.agent(&s0).unwrap().used,
        Resources::parse(TASK_RESOURCES).unwrap()
    );
    let recovered = state.framework(&framework_id).unwrap();
    assert!(recovered.recovered && !recovered.connected && !recovered.removed);
    assert_eq!(recovered.info.name, "survivor");
    assert_eq!(state.task("sleeper").unwrap().pid, Some(pid));
    let error = revive(&client).await.unwrap_err();
    assert!(
        matches!(&error, Error::Forbidden(m) if m == "Framework is not subscribed"),
        "{error:?}"
    );
    assert_eq!(
        get_json(&master, "/master/state").await["frameworks"][0]["recovered"],
        true
    );

    // The scheduler subscribes again, with its ID.
    let framework = Framework::subscribe_client(client, info(Some(&framework_id))).await;
    assert_eq!(framework.id, framework_id);
    let subscribed = framework.events()[0].subscribed.clone().unwrap();
    assert_eq!(subscribed.master_info.unwrap().id, new_id);
    revive(&framework.client).await.unwrap();
    let state = master.state();
    let known = state.framework(&framework_id).unwrap();
    assert!(known.connected && !known.recovered);
    let task = state.task("sleeper").unwrap();
    assert_eq!(task.state, TaskState::TaskRunning);
    assert_eq!(task.pid, Some(pid), "the same process");
    assert!(process_alive(pid));

    // New frameworks get IDs from the new master.
    let newcomer = Framework::subscribe(&master, framework_info("newcomer", &[], 0.0)).await;
    assert!(newcomer.id.starts_with(&new_id), "{}", newcomer.id);
}

#[tokio::test]
async fn tasks_on_agents_not_yet_reregistered_are_not_reconciled() {
    let master = start(config()).await;
    let framework = Framework::subscribe(
        &master,
        framework_info("careful", &[Capability::PartitionAware], 3600.0),
    )
    .await;
    sleep_on(&master, &framework, "sleeper", "-S0").await;
    let framework_id = framework.id.clone();
    let s0 = format!("{}-S0", master.id());
    let s1 = format!("{}-S1", master.id());
    master
        .faults()
        .fail_over(AgentReregistration::WhenAsked)
        .await;
    framework.wait_ended().await;

    // Unknown to the new master, the ID is taken as it is.
    let mut resubscription = framework_info("careful", &[Capability::PartitionAware], 3600.0);
    resubscription.id = Some(FrameworkId {
        value: framework_id.clone(),
    });
    let framework = Framework::subscribe_client(framework.disconnect(), resubscription).await;
    assert_eq!(framework.id, framework_id);
    assert!(!master.state().framework(&framework_id).unwrap().recovered);

    // The task may be on a recovered agent: no answer, with or without
    // its agent, nor for an implicit reconciliation.
    assert_eq!(
        reconcile_answer(&framework, "sleeper", Some(&s0)).await,
        None
    );
    assert_eq!(reconcile_answer(&framework, "sleeper", None).await, None);
    assert_eq!(
        answer_about(&framework, calls::reconcile_all(), "sleeper").await,
        None
    );

    // Once its agent is back, the task is known.
    assert!(master.faults().reregister_agent(&s0).await);
    let known = reconcile_answer(&framework, "sleeper", Some(&s0))
        .await
        .unwrap();
    assert_eq!(known.state(), TaskState::TaskRunning);
    assert_eq!(known.reason(), Reason::Reconciliation);
    assert_eq!(
        known.message.as_deref(),
        Some("Reconciliation: Latest task state")
    );
    // A task the registered agent does not have is gone, but one with no
    // agent given may be on S1, which is still recovered.
    let gone = reconcile_answer(&framework, "ghost", Some(&s0))
        .await
        .unwrap();
    assert_eq!(gone.state(), TaskState::TaskGone);
    assert_eq!(reconcile_answer(&framework, "ghost", None).await, None);
    assert_eq!(reconcile_answer(&framework, "ghost", Some(&s1)).await, None);

    assert!(master.faults().reregister_agent(&s1).await);
    let unknown = reconcile_answer(&framework, "ghost", None).await.unwrap();
    assert_eq!(unknown.state(), TaskState::TaskUnknown);
}

#[tokio::test]
async fn agents_reregister_by_themselves_and_resend_unacknowledged_updates() {
    // Agents would retry only after a minute: what arrives sooner is sent
    // because agent and framework came back.
    let master = start(mesos::local::LocalMasterConfig {
        status_update_retry: Duration::from_secs(60),
        ..config()
    })
    .await;
    let framework = Framework::subscribe(&master, info(None)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let task = command_task("unacked", &offer.agent_id, "sleep 60", TASK_RESOURCES);
    framework.launch(&offer, vec![task]).await;
    framework.follow("unacked", TaskState::TaskStarting).await;
    let running = framework.update_in("unacked", TaskState::TaskRunning).await;
    let framework_id = framework.id.clone();

    master
        .faults()
        .fail_over(AgentReregistration::After(Duration::from_millis(100)))
        .await;
    framework.wait_ended().await;
    let framework =
        Framework::subscribe_client(framework.disconnect(), info(Some(&framework_id))).await;
    assert_eq!(framework.id, framework_id);
    master
        .wait_for(|s| s.agents.iter().all(|a| a.active), WAIT)
        .await
        .unwrap();
    let again = framework.update("unacked").await;
    assert_eq!(again, running, "the same, still unacknowledged update");
    framework.ack(&again).await;
    let state = master.state();
    assert_eq!(
        state.task("unacked").unwrap().status_update_state,
        Some(TaskState::TaskRunning)
    );
}

#[tokio::test]
async fn agents_reregister_after_a_second_failover_that_came_before_they_did() {
    let master = start(config()).await;
    let faults = master.faults();
    faults
        .fail_over(AgentReregistration::After(Duration::from_millis(500)))
        .await;
    // The second master is elected before the agents re-registered with
    // the first: they re-register with the second.
    faults
        .fail_over(AgentReregistration::After(Duration::from_millis(100)))
        .await;
    let reregistered = master.wait_for(|s| s.agents.iter().all(|a| a.active), WAIT);
    assert!(
        reregistered.await.is_ok(),
        "agents stranded after two failovers"
    );
}

#[tokio::test]
async fn a_framework_removed_before_a_failover_can_subscribe_again_with_its_old_id() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, info(None)).await;
    let framework_id = framework.id.clone();
    framework.call(calls::teardown()).await;
    framework.wait_ended().await;
    let client = framework.disconnect();
    client.set_framework_id(Some(FrameworkId {
        value: framework_id.clone(),
    }));
    let mut refused = client
        .subscribe(calls::subscribe(info(Some(&framework_id))))
        .await
        .unwrap();
    let error = refused.next_event().await.unwrap().unwrap();
    assert_eq!(error.error.unwrap().message, "Framework has been removed");

    master
        .faults()
        .fail_over(AgentReregistration::After(Duration::ZERO))
        .await;
    // The new master never heard of the removal.
    let framework = Framework::subscribe_client(client, info(Some(&framework_id))).await;
    assert_eq!(framework.id, framework_id);
    let state = master.state();
    let known = state.framework(&framework_id).unwrap();
    assert!(known.connected && !known.removed);
}

#[tokio::test]
async fn a_recovered_agent_that_does_not_come_back_is_lost_and_may_return_later() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, info(None)).await;
    let pid = sleep_on(&master, &framework, "sleeper", "-S0").await;
    let framework_id = framework.id.clone();
    let s0 = format!("{}-S0", master.id());
    master
        .faults()
        .fail_over(AgentReregistration::WhenAsked)
        .await;
    framework.wait_ended().await;
    let framework =
        Framework::subscribe_client(framework.disconnect(), info(Some(&framework_id))).await;

    // As when `--agent_reregister_timeout` expires: the agent is lost.
    assert!(master.faults().remove_agent(&s0).await);
    let failure = framework
        .wait("FAILURE", |e| e.r#type() == event::Type::Failure)
        .await;
    assert_eq!(failure.failure.unwrap().agent_id.unwrap().value, s0);
    assert_eq!(
        master.state().agent(&s0).unwrap().state,
        AgentState::Unreachable
    );
    let lost = reconcile_answer(&framework, "sleeper", Some(&s0))
        .await
        .unwrap();
    assert_eq!(lost.state(), TaskState::TaskLost);
    assert_eq!(
        lost.message.as_deref(),
        Some("Reconciliation: Task is unreachable")
    );
    assert!(process_alive(pid));

    // It does come back, and says what it runs.
    assert!(master.faults().reregister_agent(&s0).await);
    let back = framework.update_in("sleeper", TaskState::TaskRunning).await;
    assert_eq!(back.reason(), Reason::AgentReregistered);
    assert_eq!(master.state().task("sleeper").unwrap().pid, Some(pid));
}
