//! `TaskInfo.health_check` on the simulated agents: run by the command
//! executor next to the task as Mesos 1.11's is, healthy reported in
//! TASK_RUNNING updates, an unhealthy task killed, an invalid check
//! refused by the master.

mod local_support;

use local_support::*;
use mesos::v1::{
    CommandInfo, Environment, HealthCheck, TaskState, TaskStatus, environment,
    framework_info::capability::Type as Capability,
    health_check::{HttpCheckInfo, TcpCheckInfo, Type},
    task_status::{Reason, Source},
};
use tokio::{io::AsyncWriteExt, net::TcpListener};

/// A check with short timings: first check at once, then every 100 ms.
fn check(kind: Type, grace_seconds: f64, consecutive_failures: u32) -> HealthCheck {
    HealthCheck {
        r#type: Some(kind as i32),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.1),
        timeout_seconds: Some(5.0),
        grace_period_seconds: Some(grace_seconds),
        consecutive_failures: Some(consecutive_failures),
        ..Default::default()
    }
}

fn command_check(command: &str, grace_seconds: f64, consecutive_failures: u32) -> HealthCheck {
    HealthCheck {
        command: Some(CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        ..check(Type::Command, grace_seconds, consecutive_failures)
    }
}

fn http_check(port: u16, path: &str) -> HealthCheck {
    HealthCheck {
        http: Some(HttpCheckInfo {
            port: port.into(),
            path: Some(path.into()),
            ..Default::default()
        }),
        ..check(Type::Http, 0.0, 3)
    }
}

fn tcp_check(port: u16) -> HealthCheck {
    HealthCheck {
        tcp: Some(TcpCheckInfo {
            port: port.into(),
            ..Default::default()
        }),
        ..check(Type::Tcp, 0.0, 3)
    }
}

/// Launches `sleep 60` as `id`, checked by `health_check`.
async fn launch_checked(framework: &Framework, id: &str, health_check: HealthCheck) {
    let offer = framework.offer_for("-S0", |_| true).await;
    let mut task = command_task(id, &offer.agent_id, "sleep 60", "cpus:0.1;mem:32");
    task.health_check = Some(Box::new(health_check));
    framework.launch(&offer, vec![task]).await;
}

/// Follows a task's updates (acknowledging them) until a health update.
async fn next_health(framework: &Framework, id: &str) -> TaskStatus {
    loop {
        let status = framework.update(id).await;
        framework.ack(&status).await;
        if status.reason == Some(Reason::TaskHealthCheckStatusUpdated as i32) {
            return status;
        }
    }
}

/// The command executor's health update: TASK_RUNNING from the executor,
/// `healthy` set, the reason saying why it came, no message.
fn assert_health_update(status: &TaskStatus, healthy: bool) {
    assert_eq!(status.state(), TaskState::TaskRunning, "{status:?}");
    assert_eq!(status.source(), Source::Executor);
    assert_eq!(status.reason(), Reason::TaskHealthCheckStatusUpdated);
    assert_eq!(status.healthy, Some(healthy), "{status:?}");
    assert_eq!(status.message, None);
}

/// A tiny HTTP server on a loopback port answering every request with
/// `status`; returns the port.
async fn http_server(status: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 1024];
                let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut request).await;
                let response =
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

/// A loopback port nobody listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_command_check_runs_in_the_sandbox_with_the_task_environment() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("cmd", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let mut task = command_task("web", &offer.agent_id, "sleep 60", "cpus:0.1;mem:32");
    task.command.as_mut().unwrap().environment = Some(Environment {
        variables: vec![environment::Variable {
            name: "GREETING".into(),
            value: Some("hi".into()),
            ..Default::default()
        }],
    });
    // Passes only in the sandbox (it holds `stdout`), with the task's
    // variable and the agent's `MESOS_*` ones.
    task.health_check = Some(Box::new(command_check(
        r#"test -f stdout && test "$GREETING" = hi && test -n "$MESOS_TASK_ID""#,
        10.0,
        3,
    )));
    framework.launch(&offer, vec![task]).await;

    let healthy = next_health(&framework, "web").await;
    assert_health_update(&healthy, true);
    assert_eq!(healthy.executor_id.as_ref().unwrap().value, "web");
    // Said once: later passes change nothing.
    assert!(
        framework
            .try_wait(
                |e| e.update.is_some(),
                std::time::Duration::from_millis(500)
            )
            .await
            .is_none()
    );
    // `/master/state` shows it on the task's latest status.
    let state = get_json(&master, "/master/state").await;
    let statuses = &state["frameworks"][0]["tasks"][0]["statuses"];
    let last = statuses.as_array().unwrap().last().unwrap();
    assert_eq!(last["state"], "TASK_RUNNING");
    assert_eq!(last["healthy"], true, "{statuses}");
    let check = &state["frameworks"][0]["tasks"][0]["health_check"];
    assert_eq!(check["type"], "COMMAND", "{check}");
}

#[tokio::test]
async fn http_checks_pass_on_2xx_and_3xx_and_tcp_checks_on_a_connection() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("net", &[], 0.0)).await;
    let ok = http_server("200 OK").await;
    launch_checked(&framework, "http", http_check(ok, "/health")).await;
    assert_health_update(&next_health(&framework, "http").await, true);

    // A timeout of 0 is none at all.
    let moved = http_server("304 Not Modified").await;
    let mut unlimited = http_check(moved, "/");
    unlimited.timeout_seconds = Some(0.0);
    launch_checked(&framework, "http-304", unlimited).await;
    assert_health_update(&next_health(&framework, "http-304").await, true);

    launch_checked(&framework, "tcp", tcp_check(ok)).await;
    assert_health_update(&next_health(&framework, "tcp").await, true);
}

#[tokio::test]
async fn a_task_failing_its_check_past_the_grace_period_is_killed() {
    let master = start(config()).await;
    let capable = framework_info("sick", &[Capability::TaskKillingState], 0.0);
    let framework = Framework::subscribe(&master, capable).await;
    let error = http_server("503 Service Unavailable").await;
    launch_checked(&framework, "sick", http_check(error, "/")).await;

    // Each failure is said, and the third in a row kills the task.
    for _ in 0..3 {
        assert_health_update(&next_health(&framework, "sick").await, false);
    }
    let killing = framework.update("sick").await;
    framework.ack(&killing).await;
    assert_eq!(killing.state(), TaskState::TaskKilling);
    let killed = framework.update("sick").await;
    framework.ack(&killed).await;
    assert_eq!(killed.state(), TaskState::TaskKilled);
    assert_eq!(killed.source(), Source::Executor);
    assert_eq!(killed.reason, None);
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
    assert_eq!(killed.healthy, Some(false));

    // A TCP check on a closed port: the same end.
    let port = closed_port().await;
    launch_checked(&framework, "deaf", tcp_check(port)).await;
    let killed = framework.follow("deaf", TaskState::TaskKilled).await;
    assert_eq!(killed.healthy, Some(false));
    let unhealthy = framework
        .statuses("deaf")
        .iter()
        .filter(|s| s.healthy == Some(false) && s.state() == TaskState::TaskRunning)
        .count();
    assert_eq!(unhealthy, 3, "{:#?}", framework.statuses("deaf"));
}

#[tokio::test]
async fn failures_within_the_grace_period_do_not_count() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("slow", &[], 0.0)).await;
    // One failure is enough to kill, once the 1.5 s grace period is over.
    launch_checked(&framework, "slow", command_check("false", 1.5, 1)).await;
    let running = framework.follow("slow", TaskState::TaskRunning).await;
    let unhealthy = next_health(&framework, "slow").await;
    assert_health_update(&unhealthy, false);
    let waited = unhealthy.timestamp.unwrap() - running.timestamp.unwrap();
    // The checker starts a moment before the master stamps TASK_RUNNING:
    // allow for that; without the grace period it would be 0.1 s.
    assert!(waited >= 1.3, "the first failure counted after {waited} s");
    // Without TASK_KILLING_STATE there is no TASK_KILLING.
    let killed = framework.update("slow").await;
    assert_eq!(killed.state(), TaskState::TaskKilled);
    assert_eq!(killed.healthy, Some(false));
}

#[tokio::test]
async fn an_invalid_check_is_task_error_with_mesos_message() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("bad", &[], 0.0)).await;
    launch_checked(&framework, "pathless", http_check(8080, "health")).await;
    let error = framework.update("pathless").await;
    assert_eq!(error.state(), TaskState::TaskError);
    assert_eq!(error.reason(), Reason::TaskInvalid);
    assert_eq!(error.source(), Source::Master);
    assert_eq!(
        error.message.as_deref(),
        Some(
            "Task uses invalid health check: The path 'health' of HTTP health check must start with '/'"
        )
    );

    let mut negative = command_check("true", 0.0, 3);
    negative.interval_seconds = Some(-1.0);
    launch_checked(&framework, "negative", negative).await;
    let error = framework.update("negative").await;
    assert_eq!(error.state(), TaskState::TaskError);
    assert_eq!(
        error.message.as_deref(),
        Some("Task uses invalid health check: Expecting 'interval_seconds' to be non-negative")
    );
}
