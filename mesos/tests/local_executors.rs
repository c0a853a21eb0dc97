//! Custom executors on the simulated agent: the executor API's answers,
//! SUBSCRIBE and LAUNCH, updates, kills, shutdown, exits and timeouts.

mod executor_support;
mod local_support;

use std::time::Duration;

use bytes::Bytes;
use executor_support::{Executor, executor_info, task};
use http::StatusCode;
use local_support::*;
use mesos::{
    calls,
    local::{LocalMaster, LocalMasterConfig},
    resources::Resources,
    v1::{
        AgentId, DurationInfo, ExecutorId, KillPolicy, Offer, TaskId, TaskState,
        command_info::Uri,
        executor::{call, event},
        scheduler::event as scheduler_event,
        task_status::{Reason, Source},
    },
};

const EXECUTOR: &str = "cpus:0.1;mem:32";
const TASK: &str = "cpus:0.5;mem:64";

/// A master, a framework and an offer of agent S0.
async fn setup(config: LocalMasterConfig) -> (LocalMaster, Framework, Offer) {
    let master = start(config).await;
    let framework = Framework::subscribe(&master, framework_info("exec", &[], 3600.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    (master, framework, offer)
}

/// Waits for the scheduler's FAILURE event about an executor.
async fn failure(framework: &Framework, executor_id: &str) -> scheduler_event::Failure {
    let event = framework
        .wait("FAILURE", |e| {
            e.failure.as_ref().is_some_and(|f| {
                f.executor_id
                    .as_ref()
                    .is_some_and(|id| id.value == executor_id)
            })
        })
        .await;
    event.failure.unwrap()
}

fn short_grace(mut info: mesos::v1::ExecutorInfo) -> mesos::v1::ExecutorInfo {
    info.shutdown_grace_period = Some(DurationInfo {
        nanoseconds: 200_000_000,
    });
    info
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_executor_gets_mesos_environment_in_its_sandbox() {
    let (master, framework, offer) = setup(config()).await;
    let info = executor_info("exec", EXECUTOR);
    framework
        .launch(&offer, vec![task("t1", &offer.agent_id, &info, TASK)])
        .await;
    let executor = Executor::of_task(&master, "t1").await;
    let env = &executor.env;
    let sandbox = executor.sandbox.display().to_string();
    assert!(
        sandbox.contains(&format!(
            "/slaves/{}/frameworks/{}/executors/exec/runs/",
            offer.agent_id.value, framework.id
        )),
        "{sandbox}"
    );
    let addr = master.socket_addr().to_string();
    for (name, value) in [
        ("MESOS_FRAMEWORK_ID", framework.id.as_str()),
        ("MESOS_EXECUTOR_ID", "exec"),
        ("MESOS_DIRECTORY", sandbox.as_str()),
        ("MESOS_SANDBOX", sandbox.as_str()),
        ("PWD", sandbox.as_str()),
        ("MESOS_SLAVE_ID", offer.agent_id.value.as_str()),
        ("MESOS_SLAVE_PID", format!("slave(1)@{addr}").as_str()),
        ("MESOS_AGENT_ENDPOINT", addr.as_str()),
        ("MESOS_CHECKPOINT", "0"),
        ("MESOS_HTTP_COMMAND_EXECUTOR", "0"),
        ("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "5secs"),
    ] {
        assert_eq!(env.get(name).map(String::as_str), Some(value), "{name}");
    }
    // Only checkpointing frameworks' executors get these.
    assert!(!env.contains_key("MESOS_RECOVERY_TIMEOUT"));
    assert!(!env.contains_key("MESOS_SUBSCRIPTION_BACKOFF_MAX"));
    // The task waits for its executor.
    assert_eq!(
        master.state().task("t1").unwrap().state,
        TaskState::TaskStaging
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_executor_endpoint_answers_as_mesos_does() {
    let (master, framework, offer) = setup(config()).await;
    let info = executor_info("exec", EXECUTOR);
    framework
        .launch(&offer, vec![task("t1", &offer.agent_id, &info, TASK)])
        .await;
    let executor = Executor::of_task(&master, "t1").await;
    let path = executor.path();
    let json = [("Content-Type", "application/json")];
    let answer = |raw: Raw| async move { (raw.status, raw.text().await) };

    let raw = request(&master, "GET", &path, &[], Bytes::new()).await;
    assert_eq!(raw.status, StatusCode::METHOD_NOT_ALLOWED);
    let raw = request(&master, "POST", &path, &[], "{}").await;
    assert_eq!(
        answer(raw).await,
        (
            StatusCode::BAD_REQUEST,
            "Expecting 'Content-Type' to be present".into()
        )
    );
    let raw = request(
        &master,
        "POST",
        &path,
        &[("Content-Type", "text/plain")],
        "{}",
    )
    .await;
    assert_eq!(raw.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let raw = request(&master, "POST", &path, &json, "garbage").await;
    let (status, text) = answer(raw).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.starts_with("Failed to parse body into JSON"), "{text}");
    let no_executor = format!(
        r#"{{"type":"SUBSCRIBE","framework_id":{{"value":"{}"}},"subscribe":{{}}}}"#,
        framework.id
    );
    let raw = request(&master, "POST", &path, &json, no_executor).await;
    assert_eq!(
        answer(raw).await,
        (
            StatusCode::BAD_REQUEST,
            "Failed to convert JSON into Call protobuf: Missing required fields: executor_id"
                .into()
        )
    );
    let raw = executor
        .post(&master, &executor.call(call::Type::Subscribe))
        .await;
    assert_eq!(
        answer(raw).await,
        (
            StatusCode::BAD_REQUEST,
            "Failed to validate Executor::Call: Expecting 'subscribe' to be present".into()
        )
    );
    let body = mesos::codec::encode(
        &executor.subscribe_call(vec![]),
        mesos::codec::ContentType::Json,
    );
    let headers = [
        ("Content-Type", "application/json"),
        ("Accept", "text/html"),
    ];
    let raw = request(&master, "POST", &path, &headers, body).await;
    assert_eq!(raw.status, StatusCode::NOT_ACCEPTABLE);

    // HEARTBEAT is answered before any lookup: dummy IDs are fine.
    let mut heartbeat = executor.call(call::Type::Heartbeat);
    heartbeat.framework_id.value = "dummy".into();
    heartbeat.executor_id.value = "dummy".into();
    assert_eq!(
        executor.post(&master, &heartbeat).await.status,
        StatusCode::ACCEPTED
    );

    let mut unknown = executor.update_call("t1", TaskState::TaskRunning);
    unknown.framework_id.value = "nobody".into();
    assert_eq!(
        answer(executor.post(&master, &unknown).await).await,
        (StatusCode::BAD_REQUEST, "Framework cannot be found".into())
    );
    let mut unknown = executor.update_call("t1", TaskState::TaskRunning);
    unknown.executor_id.value = "nobody".into();
    assert_eq!(
        answer(executor.post(&master, &unknown).await).await,
        (StatusCode::BAD_REQUEST, "Executor cannot be found".into())
    );
    let update = executor.update_call("t1", TaskState::TaskRunning);
    assert_eq!(
        answer(executor.post(&master, &update).await).await,
        (StatusCode::FORBIDDEN, "Executor is not subscribed".into())
    );

    let _events = executor
        .subscribe(&master, &executor.subscribe_call(vec![]))
        .await;
    let staging = executor.update_call("t1", TaskState::TaskStaging);
    assert_eq!(
        answer(executor.post(&master, &staging).await).await,
        (
            StatusCode::BAD_REQUEST,
            format!(
                "Failed to validate Executor::Call: Received TASK_STAGING from executor exec \
                 of framework {} which is not allowed",
                framework.id
            )
        )
    );
    executor.send(&master, &update).await;
    let message = call::Message {
        data: Bytes::from_static(b"hi"),
    };
    executor
        .send(
            &master,
            &mesos::v1::executor::Call {
                message: Some(message),
                ..executor.call(call::Type::Message)
            },
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_tasks_are_launched_on_subscribe_and_updates_are_acknowledged_and_forwarded() {
    let (master, framework, offer) = setup(config()).await;
    let agent_id = offer.agent_id.clone();
    let info = executor_info("exec", EXECUTOR);
    framework
        .launch(
            &offer,
            vec![
                task("t1", &agent_id, &info, TASK),
                task("t2", &agent_id, &info, TASK),
            ],
        )
        .await;
    // The executor's resources count once, with its tasks'.
    let used = master.state().agent(&agent_id.value).unwrap().used.clone();
    let expected = Resources::parse(EXECUTOR).unwrap()
        + Resources::parse(TASK).unwrap()
        + Resources::parse(TASK).unwrap();
    assert_eq!(used, expected);

    let executor = Executor::of_task(&master, "t1").await;
    let mut events = executor
        .subscribe(&master, &executor.subscribe_call(vec![]))
        .await;
    let subscribed = events
        .expect(event::Type::Subscribed)
        .await
        .subscribed
        .unwrap();
    assert_eq!(subscribed.executor_info.executor_id.value, "exec");
    assert_eq!(
        subscribed.framework_info.id.as_ref().unwrap().value,
        framework.id
    );
    assert_eq!(subscribed.agent_info.id.as_ref().unwrap(), &agent_id);
    let container = subscribed.container_id.unwrap().value;
    assert!(executor.sandbox.ends_with(&container));
    for id in ["t1", "t2"] {
        let launch = events.expect(event::Type::Launch).await.launch.unwrap();
        assert_eq!(launch.task.task_id.value, id);
    }

    let update = executor.update_call("t1", TaskState::TaskRunning);
    let sent_uuid = update.update.as_ref().unwrap().status.uuid.clone().unwrap();
    executor.send(&master, &update).await;
    // The agent's acknowledgement, before the scheduler's.
    let acknowledged = events
        .expect(event::Type::Acknowledged)
        .await
        .acknowledged
        .unwrap();
    assert_eq!(acknowledged.task_id.value, "t1");
    assert_eq!(acknowledged.uuid, sent_uuid);
    let running = framework.update_in("t1", TaskState::TaskRunning).await;
    assert_eq!(running.uuid.as_ref(), Some(&sent_uuid));
    assert_eq!(running.source(), Source::Executor);
    assert_eq!(running.executor_id.as_ref().unwrap().value, "exec");
    assert_eq!(running.agent_id.as_ref(), Some(&agent_id));
    // Not acknowledged by the scheduler: the agent sends it again.
    let again = framework.update_in("t1", TaskState::TaskRunning).await;
    assert_eq!(again.uuid, running.uuid);
    framework.ack(&running).await;
    master
        .wait_for(
            |s| s.task("t1").unwrap().state == TaskState::TaskRunning,
            WAIT,
        )
        .await
        .unwrap();

    // A later task goes to the running executor: no new process.
    let offer = framework.offer_for("-S0", |_| true).await;
    framework
        .launch(&offer, vec![task("t3", &agent_id, &info, TASK)])
        .await;
    let launch = events.expect(event::Type::Launch).await.launch.unwrap();
    assert_eq!(launch.task.task_id.value, "t3");
    assert_eq!(
        master.state().task("t3").unwrap().sandbox.as_ref(),
        Some(&executor.sandbox)
    );

    // A terminal update frees the task's resources.
    executor
        .send(
            &master,
            &executor.update_call("t2", TaskState::TaskFinished),
        )
        .await;
    events.expect(event::Type::Acknowledged).await;
    framework.update_in("t2", TaskState::TaskFinished).await;

    // A clean exit: the tasks it did not finish fail; FAILURE, status 0.
    executor.exit(0);
    let failed = framework.update_in("t3", TaskState::TaskFailed).await;
    assert_eq!(failed.source(), Source::Agent);
    assert_eq!(failed.reason(), Reason::ExecutorTerminated);
    assert_eq!(failed.message.as_deref(), Some("Executor terminated"));
    let failure = failure(&framework, "exec").await;
    assert_eq!(failure.status, Some(0));
    assert_eq!(failure.agent_id.as_ref(), Some(&agent_id));
    assert!(
        events.next().await.is_none(),
        "the stream ends with the executor"
    );
    let state = master
        .wait_for(|s| s.agent(&agent_id.value).unwrap().used.is_empty(), WAIT)
        .await;
    assert!(state.is_ok(), "the executor's resources are free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_code_is_reported_as_its_wait_status() {
    let (master, framework, offer) = setup(config()).await;
    let info = executor_info("exec", EXECUTOR);
    framework
        .launch(&offer, vec![task("t1", &offer.agent_id, &info, TASK)])
        .await;
    let executor = Executor::of_task(&master, "t1").await;
    // Held open: the executor stays subscribed.
    let _events = executor.subscribe_and_take_launch(&master).await;
    executor.exit(3);
    let failed = framework.update_in("t1", TaskState::TaskFailed).await;
    assert_eq!(failed.reason(), Reason::ExecutorTerminated);
    assert_eq!(failure(&framework, "exec").await.status, Some(768));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_killed_before_delivery_is_killed_by_the_agent_and_its_executor_shut_down() {
    let (master, framework, offer) = setup(config()).await;
    let agent_id = offer.agent_id.clone();
    let info = short_grace(executor_info("exec", EXECUTOR));
    framework
        .launch(&offer, vec![task("t1", &agent_id, &info, TASK)])
        .await;
    let executor = Executor::of_task(&master, "t1").await;
    framework
        .call(calls::kill(TaskId { value: "t1".into() }, None, None))
        .await;
    let killed = framework.update_in("t1", TaskState::TaskKilled).await;
    assert_eq!(killed.source(), Source::Agent);
    assert_eq!(killed.reason(), Reason::TaskKilledDuringLaunch);
    assert_eq!(
        killed.message.as_deref(),
        Some("Killed before delivery to the executor")
    );
    // MESOS-8411: subscribing, it gets SHUTDOWN instead of its task…
    let mut events = executor
        .subscribe(&master, &executor.subscribe_call(vec![]))
        .await;
    events.expect(event::Type::Shutdown).await;
    // …and is destroyed after its grace period: SIGKILL, wait status 9.
    assert_eq!(failure(&framework, "exec").await.status, Some(9));
    master
        .wait_for(|s| s.agent(&agent_id.value).unwrap().used.is_empty(), WAIT)
        .await
        .expect("the executor's resources are free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivered_task_is_killed_by_its_executor() {
    let (master, framework, offer) = setup(config()).await;
    let info = executor_info("exec", EXECUTOR);
    framework
        .launch(&offer, vec![task("t1", &offer.agent_id, &info, TASK)])
        .await;
    let executor = Executor::of_task(&master, "t1").await;
    let mut events = executor.subscribe_and_take_launch(&master).await;
    let policy = KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: 1_000_000_000,
        }),
    };
    framework
        .call(calls::kill(
            TaskId { value: "t1".into() },
            None,
            Some(policy),
        ))
        .await;
    let kill = events.expect(event::Type::Kill).await.kill.unwrap();
    assert_eq!(kill.task_id.value, "t1");
    assert_eq!(kill.kill_policy, Some(policy));
    // Nothing signalled the executor: it decides, and reports.
    executor
        .send(&master, &executor.update_call("t1", TaskState::TaskKilled))
        .await;
    let killed = framework.update_in("t1", TaskState::TaskKilled).await;
    assert_eq!(killed.source(), Source::Executor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_the_executor_then_destroys_it_after_its_grace_period() {
    let (master, framework, offer) = setup(config()).await;
    let agent_id = offer.agent_id.clone();
    let info = short_grace(executor_info("exec", EXECUTOR));
    framework
        .launch(&offer, vec![task("t1", &agent_id, &info, TASK)])
        .await;
    let executor = Executor::of_task(&master, "t1").await;
    let mut events = executor.subscribe_and_take_launch(&master).await;
    framework
        .call(calls::shutdown(
            ExecutorId {
                value: "exec".into(),
            },
            agent_id.clone(),
        ))
        .await;
    events.expect(event::Type::Shutdown).await;
    let failed = framework.update_in("t1", TaskState::TaskFailed).await;
    assert_eq!(failed.reason(), Reason::ExecutorTerminated);
    assert_eq!(failed.message.as_deref(), Some("Executor terminated"));
    assert_eq!(failure(&framework, "exec").await.status, Some(9));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executor_that_does_not_subscribe_in_time_is_destroyed() {
    let config = LocalMasterConfig {
        executor_registration_timeout: Duration::from_millis(300),
        ..config()
    };
    let (master, framework, offer) = setup(config).await;
    let info = executor_info("exec", EXECUTOR);
    framework
        .launch(&offer, vec![task("t1", &offer.agent_id, &info, TASK)])
        .await;
    let failed = framework.update_in("t1", TaskState::TaskFailed).await;
    assert_eq!(failed.source(), Source::Agent);
    assert_eq!(failed.reason(), Reason::ExecutorRegistrationTimeout);
    assert_eq!(
        failed.message.as_deref(),
        Some("Executor did not register within 300ms")
    );
    assert_eq!(failure(&framework, "exec").await.status, Some(9));
    drop(master);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_subscribe_replaces_the_first_and_drops_tasks_the_executor_never_got() {
    let (master, framework, offer) = setup(config()).await;
    let info = executor_info("exec", EXECUTOR);
    framework
        .launch(&offer, vec![task("t1", &offer.agent_id, &info, TASK)])
        .await;
    let executor = Executor::of_task(&master, "t1").await;
    let mut first = executor.subscribe_and_take_launch(&master).await;
    // The executor "restarted" and lists no unacknowledged task: t1,
    // still STAGING, never reached it.
    let mut second = executor
        .subscribe(&master, &executor.subscribe_call(vec![]))
        .await;
    assert!(first.next().await.is_none(), "the first stream is closed");
    let lost = framework.update_in("t1", TaskState::TaskLost).await;
    assert_eq!(lost.source(), Source::Agent);
    assert_eq!(lost.reason(), Reason::AgentRestarted);
    assert_eq!(
        lost.message.as_deref(),
        Some("Task launched during agent restart")
    );
    second.expect(event::Type::Subscribed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_messages_travel_both_ways() {
    let (master, framework, offer) = setup(config()).await;
    let agent_id = offer.agent_id.clone();
    let info = executor_info("exec", EXECUTOR);
    framework
        .launch(&offer, vec![task("t1", &agent_id, &info, TASK)])
        .await;
    let executor = Executor::of_task(&master, "t1").await;
    let mut events = executor.subscribe_and_take_launch(&master).await;
    let exec_id = ExecutorId {
        value: "exec".into(),
    };
    framework
        .call(calls::message(
            agent_id.clone(),
            exec_id.clone(),
            Bytes::from_static(b"to the executor"),
        ))
        .await;
    let message = events.expect(event::Type::Message).await.message.unwrap();
    assert_eq!(message.data, Bytes::from_static(b"to the executor"));

    let call = mesos::v1::executor::Call {
        message: Some(call::Message {
            data: Bytes::from_static(b"to the scheduler"),
        }),
        ..executor.call(call::Type::Message)
    };
    executor.send(&master, &call).await;
    let event = framework
        .wait("MESSAGE", |e| e.message.is_some())
        .await
        .message
        .unwrap();
    assert_eq!(event.agent_id, agent_id);
    assert_eq!(event.executor_id, exec_id);
    assert_eq!(event.data, Bytes::from_static(b"to the scheduler"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_of_one_executor_must_carry_the_same_executor_info() {
    let (master, framework, offer) = setup(config()).await;
    let agent_id: AgentId = offer.agent_id.clone();
    let info = executor_info("exec", EXECUTOR);
    let mut other = info.clone();
    other.name = Some("another".into());
    framework
        .launch(
            &offer,
            vec![
                task("t1", &agent_id, &info, TASK),
                task("t2", &agent_id, &other, TASK),
            ],
        )
        .await;
    let error = framework.update_in("t2", TaskState::TaskError).await;
    assert_eq!(error.reason(), Reason::TaskInvalid);
    let message = error.message.unwrap();
    assert!(
        message.starts_with(
            "ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID.\n"
        ),
        "{message}"
    );
    assert_eq!(
        master.state().task("t1").unwrap().state,
        TaskState::TaskStaging
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_infos_are_validated_as_mesos_does() {
    let (master, framework, offer) = setup(config()).await;
    let agent_id: AgentId = offer.agent_id.clone();
    // `../../x` would put the sandbox outside the agent's work directory.
    let escaping = executor_info("../../x", EXECUTOR);
    let mut negative_grace = executor_info("exec", EXECUTOR);
    negative_grace.shutdown_grace_period = Some(DurationInfo { nanoseconds: -1 });
    framework
        .launch(
            &offer,
            vec![
                task("t1", &agent_id, &escaping, TASK),
                task("t2", &agent_id, &negative_grace, TASK),
            ],
        )
        .await;
    for (task_id, message) in [
        ("t1", "'../../x' contains invalid characters"),
        (
            "t2",
            "ExecutorInfo's 'shutdown_grace_period' must be non-negative",
        ),
    ] {
        let error = framework.update_in(task_id, TaskState::TaskError).await;
        assert_eq!(error.reason(), Reason::TaskInvalid);
        assert_eq!(error.message.as_deref(), Some(message));
    }
    assert!(master.state().task("t1").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fetch_fails_the_executors_tasks() {
    let (_master, framework, offer) = setup(config()).await;
    let mut info = executor_info("exec", EXECUTOR);
    info.command.as_mut().unwrap().uris = vec![Uri {
        value: "http://example.com/executor.tar.gz".into(),
        ..Default::default()
    }];
    framework
        .launch(&offer, vec![task("t1", &offer.agent_id, &info, TASK)])
        .await;
    let failed = framework.update_in("t1", TaskState::TaskFailed).await;
    assert_eq!(failed.reason(), Reason::ContainerLaunchFailed);
    let message = failed.message.unwrap();
    assert!(
        message.starts_with("Failed to launch container: Failed to fetch all URIs for container '"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_endpoints_list_custom_executors() {
    let (master, framework, offer) = setup(config()).await;
    let agent_id = offer.agent_id.clone();
    let mut info = executor_info("exec", EXECUTOR);
    info.name = Some("my executor".into());
    framework
        .launch(&offer, vec![task("t1", &agent_id, &info, TASK)])
        .await;
    let executor = Executor::of_task(&master, "t1").await;
    let directory = executor.sandbox.display().to_string();

    let agent_state = get_json(&master, "/slave(1)/state").await;
    let listed = &agent_state["frameworks"][0]["executors"][0];
    assert_eq!(listed["id"], "exec");
    assert_eq!(listed["name"], "my executor");
    assert_eq!(listed["directory"], directory.as_str());
    assert!(directory.ends_with(listed["container"].as_str().unwrap()));
    assert_eq!(listed["queued_tasks"][0]["id"], "t1");
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 0);
    assert!(listed.get("type").is_none(), "{listed}");
    assert_eq!(listed["resources"]["cpus"], 0.6);

    let master_state = get_json(&master, "/master/state").await;
    let listed = &master_state["frameworks"][0]["executors"][0];
    assert_eq!(listed["executor_id"], "exec");
    assert_eq!(listed["framework_id"], framework.id.as_str());
    assert_eq!(listed["slave_id"], agent_id.value.as_str());
    assert_eq!(listed["command"]["value"], executor_support::SCRIPT);
    assert_eq!(listed["resources"]["mem"], 32.0);

    // Held open: the executor stays subscribed.
    let _events = executor.subscribe_and_take_launch(&master).await;
    let state = master
        .wait_for(
            |s| {
                s.executor(&framework.id, "exec")
                    .is_some_and(|e| e.subscribed)
            },
            WAIT,
        )
        .await
        .unwrap();
    assert!(
        state
            .executor(&framework.id, "exec")
            .unwrap()
            .queued_tasks
            .is_empty()
    );
    let agent_state = get_json(&master, "/slave(1)/state").await;
    let listed = &agent_state["frameworks"][0]["executors"][0];
    assert_eq!(listed["tasks"][0]["id"], "t1");
    assert_eq!(listed["queued_tasks"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_shuts_the_executors_down_without_a_failure_event() {
    let (master, framework, offer) = setup(config()).await;
    let agent_id = offer.agent_id.clone();
    let info = short_grace(executor_info("exec", EXECUTOR));
    framework
        .launch(&offer, vec![task("t1", &agent_id, &info, TASK)])
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
    framework.call(calls::teardown()).await;
    events.expect(event::Type::Shutdown).await;
    // Destroyed after its grace period, though the script ignores SHUTDOWN.
    wait_process_gone(pid).await;
    master
        .wait_for(
            |s| {
                let agent = s.agent(&agent_id.value).unwrap();
                agent.executors.is_empty() && agent.used.is_empty()
            },
            WAIT,
        )
        .await
        .expect("the executor is gone and its resources free");
    assert!(events.next().await.is_none(), "its stream ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_streams_carry_heartbeats() {
    let config = LocalMasterConfig {
        executor_heartbeat_interval: Duration::from_millis(100),
        ..config()
    };
    let (master, framework, offer) = setup(config).await;
    let info = executor_info("exec", EXECUTOR);
    framework
        .launch(&offer, vec![task("t1", &offer.agent_id, &info, TASK)])
        .await;
    let executor = Executor::of_task(&master, "t1").await;
    let mut events = executor.subscribe_and_take_launch(&master).await;
    events.expect(event::Type::Heartbeat).await;
    events.expect(event::Type::Heartbeat).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubscribing_executor_hands_over_its_unacknowledged_updates() {
    let (master, framework, offer) = setup(config()).await;
    let info = executor_info("exec", EXECUTOR);
    let t1 = task("t1", &offer.agent_id, &info, TASK);
    framework.launch(&offer, vec![t1.clone()]).await;
    let executor = Executor::of_task(&master, "t1").await;
    // Held open until the second SUBSCRIBE replaces it.
    let _first = executor.subscribe_and_take_launch(&master).await;
    // Reconnecting, the executor lists the task (so it is not lost) and
    // an update it never saw acknowledged.
    let update = executor.update_call("t1", TaskState::TaskRunning);
    let mut subscribe = executor.subscribe_call(vec![t1]);
    subscribe.subscribe.as_mut().unwrap().unacknowledged_updates =
        vec![update.update.clone().unwrap()];
    let mut second = executor.subscribe(&master, &subscribe).await;
    // SUBSCRIBED first (`Slave::subscribe` sends it at once; the updates'
    // acknowledgements come once the status update manager has them).
    second.expect(event::Type::Subscribed).await;
    let acknowledged = second
        .expect(event::Type::Acknowledged)
        .await
        .acknowledged
        .unwrap();
    assert_eq!(acknowledged.task_id.value, "t1");
    let running = framework.update("t1").await;
    assert_eq!(
        running.state(),
        TaskState::TaskRunning,
        "not lost: {running:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_for_a_terminating_executor_is_lost() {
    let (master, framework, offer) = setup(config()).await;
    let agent_id = offer.agent_id.clone();
    // The script ignores SHUTDOWN: it terminates for the grace period.
    let info = executor_info("exec", EXECUTOR);
    framework
        .launch(&offer, vec![task("t1", &agent_id, &info, TASK)])
        .await;
    let executor = Executor::of_task(&master, "t1").await;
    let mut events = executor.subscribe_and_take_launch(&master).await;
    framework
        .call(calls::shutdown(
            ExecutorId {
                value: "exec".into(),
            },
            agent_id.clone(),
        ))
        .await;
    events.expect(event::Type::Shutdown).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    framework
        .launch(&offer, vec![task("t2", &agent_id, &info, TASK)])
        .await;
    let lost = framework.update_in("t2", TaskState::TaskLost).await;
    assert_eq!(lost.source(), Source::Agent);
    assert_eq!(lost.reason(), Reason::ExecutorTerminated);
    assert_eq!(lost.message.as_deref(), Some("Executor terminating"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_for_a_terminal_task_is_acknowledged_and_dropped() {
    let (master, framework, offer) = setup(config()).await;
    let agent_id = offer.agent_id.clone();
    let info = executor_info("exec", EXECUTOR);
    framework
        .launch(
            &offer,
            vec![
                task("t1", &agent_id, &info, TASK),
                task("t2", &agent_id, &info, TASK),
            ],
        )
        .await;
    let executor = Executor::of_task(&master, "t1").await;
    let mut events = executor.subscribe_and_take_launch(&master).await;
    events.expect(event::Type::Launch).await;
    executor
        .send(
            &master,
            &executor.update_call("t1", TaskState::TaskFinished),
        )
        .await;
    events.expect(event::Type::Acknowledged).await;
    let finished = framework.update_in("t1", TaskState::TaskFinished).await;
    framework.ack(&finished).await;

    // The executor would keep a late update until it is acknowledged.
    let late = executor.update_call("t1", TaskState::TaskFailed);
    let late_uuid = late.update.as_ref().unwrap().status.uuid.clone().unwrap();
    executor.send(&master, &late).await;
    let acknowledged = events
        .expect(event::Type::Acknowledged)
        .await
        .acknowledged
        .unwrap();
    assert_eq!(
        (acknowledged.task_id.value.as_str(), acknowledged.uuid),
        ("t1", late_uuid)
    );
    // Not forwarded: what the scheduler hears next is about t2.
    executor
        .send(&master, &executor.update_call("t2", TaskState::TaskRunning))
        .await;
    events.expect(event::Type::Acknowledged).await;
    framework.update_in("t2", TaskState::TaskRunning).await;
    let states: Vec<_> = framework.statuses("t1").iter().map(|s| s.state()).collect();
    assert_eq!(states, [TaskState::TaskFinished]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_received_before_is_acknowledged_but_not_sent_again() {
    let (master, framework, offer) = setup(config()).await;
    let info = executor_info("exec", EXECUTOR);
    let t1 = task("t1", &offer.agent_id, &info, TASK);
    framework.launch(&offer, vec![t1.clone()]).await;
    let executor = Executor::of_task(&master, "t1").await;
    let mut first = executor.subscribe_and_take_launch(&master).await;
    let update = executor.update_call("t1", TaskState::TaskRunning);
    executor.send(&master, &update).await;
    first.expect(event::Type::Acknowledged).await;
    let running = framework.update_in("t1", TaskState::TaskRunning).await;
    framework.ack(&running).await;

    // The acknowledgement was lost on the way: the executor hands the
    // update over again as it reconnects.
    let mut subscribe = executor.subscribe_call(vec![t1]);
    subscribe.subscribe.as_mut().unwrap().unacknowledged_updates =
        vec![update.update.clone().unwrap()];
    let mut second = executor.subscribe(&master, &subscribe).await;
    second.expect(event::Type::Subscribed).await;
    let acknowledged = second
        .expect(event::Type::Acknowledged)
        .await
        .acknowledged
        .unwrap();
    assert_eq!(Some(acknowledged.uuid), running.uuid);
    // The scheduler does not hear it twice: its next update is the next
    // state.
    executor
        .send(
            &master,
            &executor.update_call("t1", TaskState::TaskFinished),
        )
        .await;
    let next = framework.update("t1").await;
    assert_eq!(next.state(), TaskState::TaskFinished, "{next:?}");
}

/// An executor (in Perl: dash has no job control without a terminal) that
/// starts `sleep 600` in a process group of its own, as an executor
/// starting each task in its own group does, writes its pid to
/// `grandchild` and waits for it. Both sides call setpgid, so the group is
/// set before the pid is written.
fn grandchild_executor(id: &str) -> mesos::v1::ExecutorInfo {
    let script = r#"perl -e '
        defined(my $pid = fork) or die "fork: $!";
        if (!$pid) { setpgrp(0, 0); exec "sleep", "600"; die "exec: $!" }
        setpgrp($pid, $pid);
        open my $f, ">", "grandchild.tmp" or die; print $f $pid; close $f;
        rename "grandchild.tmp", "grandchild" or die;
        waitpid $pid, 0'"#;
    let mut info = executor_info(id, EXECUTOR);
    info.command.as_mut().unwrap().value = Some(script.into());
    info
}

/// The pid of a task's executor's grandchild, once it is written.
async fn grandchild_of(master: &LocalMaster, task_id: &str) -> u32 {
    let state = master
        .wait_for(
            |s| s.task(task_id).is_some_and(|t| t.sandbox.is_some()),
            WAIT,
        )
        .await
        .expect("the task has a sandbox");
    let file = state
        .task(task_id)
        .unwrap()
        .sandbox
        .clone()
        .unwrap()
        .join("grandchild");
    wait_until(|| file.exists()).await;
    let pid = std::fs::read_to_string(&file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(process_running(pid), "the grandchild runs");
    pid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executor_killed_takes_its_other_process_groups_along() {
    let (master, framework, offer) = setup(config()).await;
    let info = grandchild_executor("exec");
    framework
        .launch(&offer, vec![task("t1", &offer.agent_id, &info, TASK)])
        .await;
    let grandchild = grandchild_of(&master, "t1").await;
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
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let failed = framework.update_in("t1", TaskState::TaskFailed).await;
    assert_eq!(failed.reason(), Reason::ExecutorTerminated);
    // Its container is destroyed: the whole session, as `os::killtree`
    // (or the cgroup) does on a real agent, not only its process group.
    wait_process_dead(grandchild).await;
}

// One runtime thread, which the test blocks after dropping the master:
// the executor's supervisor cannot run, only the master's `Drop` kills.
#[tokio::test]
async fn a_dropped_master_kills_its_executors_other_process_groups() {
    let (master, framework, offer) = setup(config()).await;
    let info = grandchild_executor("exec");
    framework
        .launch(&offer, vec![task("t1", &offer.agent_id, &info, TASK)])
        .await;
    let grandchild = grandchild_of(&master, "t1").await;
    drop(master);
    let deadline = std::time::Instant::now() + WAIT;
    while process_running(grandchild) {
        assert!(
            std::time::Instant::now() < deadline,
            "the grandchild runs on"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
