//! The executor's I/O edge: the driver that talks to the agent, the
//! tasks' processes, and the clock. Everything decided is decided in
//! `executor.rs`.

use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use mesos::{
    executor::{
        ExecutorConfig, ExecutorDriver, ExecutorDriverEvent,
        process::{self, TaskProcess},
    },
    health::{CommandContext, HealthChecker},
    v1::HealthCheck,
};
use tokio::sync::mpsc;

use super::{Action, Executor, Input};

/// Runs the executor until its work is done: started by the agent as
/// `<this program> executor`, configured by the environment the agent
/// sets (MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID, MESOS_SLAVE_PID, …).
pub async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = ExecutorConfig::from_env()?;
    tracing::info!(executor = %config.executor_id.value, agent = %config.agent_url, "executor subscribing");
    let (driver, mut events) = ExecutorDriver::start(config)?;
    // Task processes report here when they start and end.
    let (reports, mut processes) = mpsc::unbounded_channel();
    let mut executor = Executor::default();
    let mut pids = BTreeMap::new();
    // Dropping a task's checker stops its checks.
    let mut checkers = BTreeMap::new();

    loop {
        let input = tokio::select! {
            event = events.recv() => match event {
                // The command executor's rule: once the agent has every
                // task's last update, nothing is left to do.
                Some(ExecutorDriverEvent::Finished) => {
                    tracing::info!("every task ended and the agent knows it: exiting");
                    break;
                }
                // The agent is gone for good, or asked us to go and the
                // grace period is over: no task may outlive its executor
                // (an agent would destroy the whole container).
                Some(ExecutorDriverEvent::Stopped { reason }) => {
                    kill_all(&pids).await;
                    return Err(reason.into());
                }
                Some(event) => Input::Driver(event),
                None => {
                    kill_all(&pids).await;
                    return Err("the driver stopped".into());
                }
            },
            Some(input) = processes.recv() => input,
        };
        if let Input::Ended { task_id, .. } = &input {
            pids.remove(task_id);
            checkers.remove(task_id);
        }
        for action in executor.on_input(input, now()) {
            match action {
                Action::Update(status) => {
                    if let Err(error) = driver.update(status).await {
                        tracing::warn!(%error, "status update not sent");
                    }
                }
                Action::Message(data) => {
                    if let Err(error) = driver.message(data).await {
                        tracing::warn!(%error, "framework message not sent");
                    }
                }
                Action::Start { task_id, command } => start(task_id, &command, &mut pids, &reports),
                Action::CheckHealth { task_id, check } => {
                    if let Some(checker) = check_health(&task_id, &check, &reports) {
                        checkers.insert(task_id, checker);
                    }
                }
                Action::Kill {
                    task_id,
                    grace_period,
                } => {
                    checkers.remove(&task_id);
                    if let Some(&pid) = pids.get(&task_id) {
                        tracing::info!(task = %task_id, ?grace_period, "killing");
                        tokio::spawn(process::kill_group(pid, grace_period));
                    }
                }
            }
        }
    }
    driver.stop().await;
    Ok(())
}

/// Starts a task's command and watches it end.
fn start(
    task_id: String,
    command: &str,
    pids: &mut BTreeMap<String, u32>,
    reports: &mpsc::UnboundedSender<Input>,
) {
    let process = match TaskProcess::spawn_shell(command) {
        Ok(process) => process,
        Err(error) => {
            let message = format!("Failed to launch the command: {error}");
            let _ = reports.send(Input::Ended {
                task_id,
                success: false,
                message,
            });
            return;
        }
    };
    tracing::info!(task = %task_id, pid = process.pid(), "command started");
    pids.insert(task_id.clone(), process.pid());
    let _ = reports.send(Input::Started {
        task_id: task_id.clone(),
    });
    let reports = reports.clone();
    tokio::spawn(async move {
        let (success, message) = match process.wait().await {
            Ok(status) => (
                status.success(),
                format!("Command {}", process::describe_exit(status)),
            ),
            Err(error) => (
                false,
                format!("Failed to get exit status for Command: {error}"),
            ),
        };
        let _ = reports.send(Input::Ended {
            task_id,
            success,
            message,
        });
    });
}

/// Starts checking a task's health with the library's checker, as Mesos'
/// command executor does: in the executor's directory (the sandbox) and
/// environment. An invalid check is logged and the task runs unchecked.
fn check_health(
    task_id: &str,
    check: &HealthCheck,
    reports: &mpsc::UnboundedSender<Input>,
) -> Option<HealthChecker> {
    let (reports, id) = (reports.clone(), task_id.to_string());
    let report = move |health| {
        let _ = reports.send(Input::Health {
            task_id: id.clone(),
            health,
        });
    };
    HealthChecker::start(check, CommandContext::default(), report)
        .inspect_err(
            |error| tracing::error!(task = %task_id, %error, "Failed to create health checker"),
        )
        .ok()
}

/// SIGKILLs every task's process group still running.
async fn kill_all(pids: &BTreeMap<String, u32>) {
    for &pid in pids.values() {
        process::signal_group(pid, "KILL").await;
    }
}

/// Seconds since the epoch, as Mesos' timestamps.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}
