//! Step 01, what the template generates, when its connection drops: with
//! Mesos' default `failover_timeout` of 0 the master removes the framework
//! at once, and the framework must register anew instead of knocking on
//! the door of a removed framework for ever. And built as a new user
//! builds it, without the library's `tls` feature.

use std::{path::PathBuf, process::Command, time::Duration};

use kit_tests::repo_root;
use mesos::{
    local::LocalMaster,
    testing::{Framework, WAIT, assert_usage_error, config, running_tasks, subscribed_framework},
};

/// Builds step 01 alone, as `cargo run -p hello-mesos` does (so with the
/// library's features step 01 asks for, and no others), and returns the
/// binary.
fn build_step_01() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--quiet", "--locked", "-p", "hello-mesos"])
        .current_dir(repo_root())
        .status()
        .unwrap();
    assert!(built.success(), "step 01 does not build");
    repo_root().join("target/debug/hello-mesos")
}

#[tokio::test]
async fn after_a_dropped_connection_step_01_registers_a_new_framework() {
    let binary = build_step_01();
    let master = LocalMaster::start(config()).await.unwrap();
    let address = master.addr().to_string();
    let framework = Framework::start(&binary, &["--master", &address]);
    let two_running = |state: &mesos::local::Snapshot, not: Option<&str>| {
        subscribed_framework(state)
            .filter(|id| Some(id.as_str()) != not)
            .is_some_and(|id| running_tasks(state, &id).len() == 2)
    };
    let state = master
        .wait_for(|state| two_running(state, None), WAIT)
        .await
        .expect("two tasks running");
    let old = subscribed_framework(&state).unwrap();

    // A laptop that sleeps for a minute: the connection is gone.
    master.faults().drop_streams().await;
    framework
        .wait_for_output("the master removed this framework")
        .await;
    let state = master
        .wait_for(|state| two_running(state, Some(&old)), WAIT)
        .await
        .expect("a new framework with two tasks running");
    let new = subscribed_framework(&state).unwrap();
    assert!(state.framework(&old).unwrap().removed);
    assert_ne!(new, old);
    // Registered once: not a loop of registrations.
    tokio::time::timeout(Duration::from_secs(5), async {
        while framework.count_output("subscribed framework_id") < 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the driver logs each SUBSCRIBED");
    assert_eq!(master.state().frameworks.len(), 2, "one removed, one new");
}

/// TLS is the library's `tls` feature, which step 01 does not ask for: an
/// `https` master is refused as a bad flag that says what to enable, not
/// retried for ever.
#[test]
fn without_the_tls_feature_an_https_master_is_a_bad_flag() {
    // Refused at once (exit 2); a framework that took the flag would keep
    // retrying, and the helper would kill it and fail.
    let binary = build_step_01();
    assert_usage_error(
        binary.to_str().unwrap(),
        &["--master", "https://127.0.0.1:5050"],
        &[],
        &["enable the `tls` feature of the `mesos` crate"],
    );
}

/// The own-executor task kind end to end, as the workshop shows it: two
/// tasks run on step 01's own executor (the same binary, started by the
/// agent), the scheduler hears from each executor, and an executor killed
/// with -9 fails its task with REASON_EXECUTOR_TERMINATED, which the
/// framework replaces.
#[tokio::test]
async fn tasks_run_on_the_frameworks_own_executor_and_one_killed_is_replaced() {
    use mesos::v1::{TaskState, task_status::Reason};

    let binary = build_step_01();
    let master = LocalMaster::start(config()).await.unwrap();
    let address = master.addr().to_string();
    let framework = Framework::start(&binary, &["--master", &address, "--task-kind", "executor"]);
    let state = master
        .wait_for(
            |state| {
                subscribed_framework(state).is_some_and(|id| running_tasks(state, &id).len() == 2)
            },
            WAIT,
        )
        .await
        .expect("two tasks running");
    let framework_id = subscribed_framework(&state).unwrap();
    let first: Vec<String> = running_tasks(&state, &framework_id).into_keys().collect();
    for task_id in &first {
        // One executor per task, named after it: ours, subscribed.
        let executor = state
            .executor(&framework_id, task_id)
            .expect("the task's executor");
        assert!(executor.subscribed, "{executor:?}");
        let command = executor
            .info
            .command
            .as_ref()
            .and_then(|c| c.value.clone())
            .unwrap_or_default();
        assert!(command.ends_with("executor"), "{command}");
    }
    // The executor's answer to the scheduler's framework message.
    framework.wait_for_output("has been running for").await;

    let victim = &first[0];
    let pid = state
        .executor(&framework_id, victim)
        .and_then(|e| e.pid)
        .expect("the executor's pid");
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let state = master
        .wait_for(
            |state| {
                let failed = state.task(victim).is_some_and(|task| {
                    task.statuses.iter().any(|s| {
                        s.state() == TaskState::TaskFailed
                            && s.reason() == Reason::ExecutorTerminated
                    })
                });
                let running = running_tasks(state, &framework_id);
                failed && running.len() == 2 && !running.contains_key(victim)
            },
            WAIT,
        )
        .await
        .expect("the task failed with its executor, and a new one runs in its place");
    let task = state.task(victim).unwrap();
    let last = task.statuses.last().unwrap();
    assert_eq!(last.message(), "Executor terminated");
    framework.wait_for_output("Executor terminated").await;
}

/// The framework's own executor runs a task's `health_check` as Mesos'
/// command executor does (with the library's `mesos::health`): a task
/// passing its check is reported healthy, one failing it is killed and
/// ends TASK_KILLED with `healthy: false`. The scheduler here is the
/// test's: step 01's does not send health checks.
#[tokio::test]
async fn the_own_executor_reports_a_tasks_health_and_kills_an_unhealthy_task() {
    use mesos::{
        calls,
        client::{Client, ClientOptions},
        offers,
        resources::Resources,
        v1::{
            FrameworkInfo, HealthCheck, TaskId, TaskInfo, TaskState, health_check::Type,
            scheduler::event, task_status::Reason,
        },
    };

    let binary = build_step_01();
    let master = LocalMaster::start(config()).await.unwrap();
    let client = Client::new(ClientOptions::default());
    client.set_master(master.addr());
    let info = FrameworkInfo {
        user: "tester".into(),
        name: "health".into(),
        ..Default::default()
    };
    let mut subscription = client.subscribe(calls::subscribe(info)).await.unwrap();
    // A task on our executor whose health check runs `check` every 100 ms,
    // killing it at the second failure in a row.
    let task = |id: &str, check: &str, agent_id| TaskInfo {
        name: id.into(),
        task_id: TaskId { value: id.into() },
        agent_id,
        resources: Resources::parse("cpus:0.1;mem:32").unwrap().into_vec(),
        executor: Some(Box::new(offers::executor_info(
            id,
            "our executor",
            Resources::parse("cpus:0.05;mem:32").unwrap(),
            offers::command_info_shell(format!("'{}' executor", binary.display())),
        ))),
        data: Some("sleep 60".into()),
        health_check: Some(Box::new(HealthCheck {
            r#type: Some(Type::Command as i32),
            command: Some(offers::command_info_shell(check)),
            delay_seconds: Some(0.0),
            interval_seconds: Some(0.1),
            grace_period_seconds: Some(0.0),
            consecutive_failures: Some(2),
            ..Default::default()
        })),
        ..Default::default()
    };

    let (mut launched, mut healthy, mut killed) = (false, None, None);
    tokio::time::timeout(2 * WAIT, async {
        while healthy.is_none() || killed.is_none() {
            let event = subscription
                .next_event()
                .await
                .unwrap()
                .expect("the stream stays open");
            match event.r#type() {
                event::Type::Subscribed => {
                    client.set_framework_id(Some(event.subscribed.unwrap().framework_id))
                }
                event::Type::Offers if !launched => {
                    let offer = event.offers.unwrap().offers.remove(0);
                    let tasks = vec![
                        task("well", "true", offer.agent_id.clone()),
                        task("sick", "false", offer.agent_id.clone()),
                    ];
                    client
                        .call(calls::accept(
                            vec![offer.id],
                            vec![calls::launch(tasks)],
                            None,
                        ))
                        .await
                        .unwrap();
                    launched = true;
                }
                event::Type::Update => {
                    let status = event.update.unwrap().status;
                    if let Some(ack) = calls::acknowledge_update(&status) {
                        client.call(ack).await.unwrap();
                    }
                    let health_news = status.reason() == Reason::TaskHealthCheckStatusUpdated;
                    match status.task_id.value.as_str() {
                        "well" if health_news => healthy = Some(status),
                        "sick" if status.state() == TaskState::TaskKilled => killed = Some(status),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    })
    .await
    .expect("one task reported healthy, the other killed");

    let healthy = healthy.unwrap();
    assert_eq!(
        (healthy.state(), healthy.healthy),
        (TaskState::TaskRunning, Some(true))
    );
    let killed = killed.unwrap();
    assert_eq!(killed.healthy, Some(false), "{killed:?}");
    assert_eq!(
        killed.message(),
        "Command terminated with signal Terminated"
    );
}
