//! Running tasks: KILL, SHUTDOWN, and the status updates that report
//! what happens to them.
//!
//! After launch (`launch.rs`), a task's story is told by status updates:
//!
//! 1. The agent's executor reports TASK_STARTING, TASK_RUNNING and a
//!    terminal state. Each report becomes a status update with a fresh
//!    `uuid`, delivered reliably by the agent's status update manager: it
//!    is re-sent until acknowledged, and the task's next update waits.
//! 2. Once the task is terminal its resources go back to the allocator at
//!    once; once the framework acknowledges the terminal update the master
//!    forgets the task (it moves to `completed_tasks`).
//!
//! A KILL asks the executor to stop the task: TASK_KILLING first for
//! frameworks that understand it, then SIGTERM, SIGKILL after the grace
//! period, and TASK_KILLED.

use std::time::Duration;

use bytes::Bytes;

use super::{
    agent::Agent,
    executor::{DEFAULT_KILL_GRACE_PERIOD, ExecutorReport, Report},
    master::{Master, Task, now_secs},
    status_updates::Acknowledged,
    stream,
};
use crate::{
    health::TaskHealth,
    resources::Resources,
    v1::{
        KillPolicy, TaskState, TaskStatus,
        framework_info::capability::Type as Capability,
        scheduler::call,
        task_status::{Reason, Source},
    },
};

impl Master {
    /// KILL: kill a task; an unknown task is reconciled instead (Mesos
    /// answers with TASK_LOST/TASK_UNKNOWN, REASON_RECONCILIATION).
    pub(crate) fn kill(&mut self, framework_id: &str, kill: call::Kill) {
        let task_id = kill.task_id.value.clone();
        let agent_id = kill.agent_id.map(|a| a.value);
        let Some(task) = self.frameworks[framework_id].tasks.get(&task_id) else {
            tracing::warn!(framework_id, %task_id, "cannot kill unknown task; performing reconciliation");
            self.reconcile(framework_id, vec![(task_id, agent_id)]);
            return;
        };
        if agent_id.is_some_and(|a| a != self.agents[task.agent].id) {
            tracing::warn!(framework_id, %task_id, "cannot kill task: it belongs to a different agent");
            return;
        }
        // The default executor kills the whole group when one task is killed.
        let agent = task.agent;
        let targets: Vec<String> = if task.in_group {
            let executor = task.executor_id.clone();
            self.frameworks[framework_id]
                .tasks
                .values()
                .filter(|t| t.in_group && t.executor_id == executor && t.agent == agent)
                .map(|t| t.info.task_id.value.clone())
                .collect()
        } else {
            vec![task_id]
        };
        for target in targets {
            self.kill_task(agent, framework_id, &target, kill.kill_policy.as_ref());
        }
    }

    /// Asks a task's executor to kill it: TASK_KILLING first if the
    /// framework understands it, then SIGTERM, SIGKILL after the grace
    /// period (the KILL's policy, else the task's, else 3 s). This happens
    /// on the agent, which may be away from the master (a task group's
    /// default executor kills the group when one of its tasks fails).
    fn kill_task(
        &mut self,
        agent: usize,
        framework_id: &str,
        task_id: &str,
        policy: Option<&KillPolicy>,
    ) {
        let Some(task) = self.agent_task(agent, framework_id, task_id) else {
            return;
        };
        if task.state.is_terminal() {
            return;
        }
        if task.custom {
            // The agent signals nothing: the executor decides how its
            // task dies, and says so in an update.
            self.kill_custom_task(agent, framework_id, task_id, policy);
            return;
        }
        // A negative grace period (a task's is refused at launch, a KILL's
        // is not checked) means no grace at all.
        let grace = policy
            .or(task.info.kill_policy.as_ref())
            .and_then(|p| p.grace_period.as_ref())
            .map_or(DEFAULT_KILL_GRACE_PERIOD, |g| {
                Duration::from_nanos(u64::try_from(g.nanoseconds).unwrap_or(0))
            });
        let first_kill = !task.killing && task.process.is_some();
        let killing_capable = self
            .agent_framework_info(agent, framework_id)
            .is_some_and(|info| {
                info.capabilities
                    .iter()
                    .any(|c| c.r#type == Some(Capability::TaskKillingState as i32))
            });
        let announce = first_kill
            && killing_capable
            && matches!(task.state, TaskState::TaskStarting | TaskState::TaskRunning);
        tracing::info!(framework_id, task_id, ?grace, "killing task");
        if announce {
            let status = self.agent_status(
                agent,
                framework_id,
                task_id,
                TaskState::TaskKilling,
                Source::Executor,
                None,
                None,
            );
            self.task_changed(agent, framework_id, status);
        }
        if let Some(task) = self.agent_task_mut(agent, framework_id, task_id) {
            task.killing = true;
            if let Some(process) = &task.process {
                process.kill(grace);
            }
        }
    }

    /// SHUTDOWN: stop an executor, which kills its tasks.
    pub(crate) fn shutdown_executor(&mut self, framework_id: &str, shutdown: call::Shutdown) {
        let Some(agent) = self.agent_index(&shutdown.agent_id.value) else {
            tracing::warn!(framework_id, agent_id = %shutdown.agent_id.value, "unable to shut down executor of unknown agent");
            return;
        };
        let executor = shutdown.executor_id.value;
        let key = (framework_id.to_string(), executor.clone());
        if self.agents[agent].custom_executors.contains_key(&key) {
            // `Slave::shutdownExecutor`: the executor is told, its tasks
            // end when it does.
            self.shutdown_custom_executor(agent, &key);
            return;
        }
        let targets: Vec<String> = self.frameworks[framework_id]
            .tasks
            .values()
            .filter(|t| t.agent == agent && t.executor_id == executor)
            .map(|t| t.info.task_id.value.clone())
            .collect();
        tracing::info!(framework_id, executor_id = %executor, tasks = targets.len(), "shutting down executor");
        for task_id in targets {
            self.kill_task(agent, framework_id, &task_id, None);
        }
    }

    /// ACKNOWLEDGE: the framework got an update; the agent may send the
    /// next one, and a terminal task is forgotten.
    pub(crate) fn acknowledge(&mut self, framework_id: &str, acknowledge: call::Acknowledge) {
        let task_id = acknowledge.task_id.value;
        let Some(agent) = self.agent_index(&acknowledge.agent_id.value) else {
            tracing::warn!(framework_id, %task_id, "cannot acknowledge: agent is not registered");
            return;
        };
        let outcome =
            self.agents[agent]
                .updates
                .acknowledge(framework_id, &task_id, &acknowledge.uuid);
        let Acknowledged::Done { state, next } = outcome else {
            tracing::warn!(framework_id, %task_id, "ignoring unexpected status update acknowledgement");
            return;
        };
        if state.is_terminal() {
            let framework = self
                .frameworks
                .get_mut(framework_id)
                .expect("caller checked");
            if let Some(mut task) = framework.tasks.remove(&task_id) {
                task.process = None;
                framework.completed_tasks.push(task);
            }
        }
        if let Some(next) = next {
            self.send_update(agent, framework_id, *next);
        }
    }

    /// News from a task's supervisor becomes a status update, whether or
    /// not the agent can reach the master right now.
    pub(crate) fn executor_report(&mut self, report: ExecutorReport) {
        let ExecutorReport {
            agent,
            framework_id,
            task_id,
            report,
        } = report;
        let Some(task) = self.agent_task_mut(agent, &framework_id, &task_id) else {
            return; // framework removed, or shut down on the agent
        };
        if task.state.is_terminal() {
            return;
        }
        let (state, source, reason, message, healthy) = match report {
            Report::Starting => (TaskState::TaskStarting, Source::Executor, None, None, None),
            Report::Running { pid } => {
                task.pid = (pid > 0).then_some(pid);
                (TaskState::TaskRunning, Source::Executor, None, None, None)
            }
            Report::Health(health) => {
                self.health_report(agent, &framework_id, &task_id, health);
                return;
            }
            Report::Exited {
                message,
                success,
                killed,
                unhealthy,
            } => {
                task.pid = None;
                task.process = None;
                // Killed wins over the exit code, as in the command executor.
                let state = if killed {
                    TaskState::TaskKilled
                } else if success {
                    TaskState::TaskFinished
                } else {
                    TaskState::TaskFailed
                };
                // `reaped`: a kill the health check asked for says so, with
                // no reason of its own (Mesos 1.11 has none yet).
                let healthy = (killed && unhealthy).then_some(false);
                (state, Source::Executor, None, Some(message), healthy)
            }
            Report::LaunchFailed { message } => {
                task.process = None;
                (
                    TaskState::TaskFailed,
                    Source::Agent,
                    Some(Reason::ContainerLaunchFailed),
                    Some(message),
                    None,
                )
            }
        };
        let mut status = self.agent_status(
            agent,
            &framework_id,
            &task_id,
            state,
            source,
            reason,
            message,
        );
        status.healthy = healthy;
        self.task_changed(agent, &framework_id, status);
    }

    /// The command executor's `taskHealthUpdated`: the task's health
    /// changed, or it failed a check again. A TASK_RUNNING update says so
    /// (`healthy`, REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, reliably
    /// delivered like any other), and a check that failed too often kills
    /// the task as a KILL would: TASK_KILLING for frameworks that
    /// understand it, then SIGTERM, SIGKILL after the task's grace period.
    fn health_report(
        &mut self,
        agent: usize,
        framework_id: &str,
        task_id: &str,
        health: TaskHealth,
    ) {
        // Nothing after a kill began (the framework's KILL may have
        // crossed the check's result).
        if self
            .agent_task(agent, framework_id, task_id)
            .is_none_or(|task| task.killing)
        {
            return;
        }
        let mut status = self.agent_status(
            agent,
            framework_id,
            task_id,
            TaskState::TaskRunning,
            Source::Executor,
            Some(Reason::TaskHealthCheckStatusUpdated),
            None,
        );
        status.healthy = Some(health.healthy);
        self.task_changed(agent, framework_id, status);
        if health.kill_task {
            tracing::info!(
                framework_id,
                task_id,
                "killing a task that failed its health check"
            );
            self.kill_task(agent, framework_id, task_id, None);
        }
    }

    /// A status update born on the agent (from its executor or itself):
    /// with a uuid, to be delivered reliably.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn agent_status(
        &self,
        agent: usize,
        framework_id: &str,
        task_id: &str,
        state: TaskState,
        source: Source,
        reason: Option<Reason>,
        message: Option<String>,
    ) -> TaskStatus {
        let executor_id = self
            .agent_task(agent, framework_id, task_id)
            .map_or_else(|| task_id.to_string(), |t| t.executor_id.clone());
        TaskStatus {
            task_id: crate::v1::TaskId {
                value: task_id.to_string(),
            },
            state: state as i32,
            message,
            source: Some(source as i32),
            reason: reason.map(|r| r as i32),
            agent_id: Some(crate::v1::AgentId {
                value: self.agents[agent].id.clone(),
            }),
            executor_id: Some(crate::v1::ExecutorId { value: executor_id }),
            timestamp: Some(now_secs()),
            uuid: Some(Bytes::copy_from_slice(uuid::Uuid::new_v4().as_bytes())),
            ..Default::default()
        }
    }

    /// The agent learned a task's new state: record it, free resources if
    /// it ended, and queue the update for reliable delivery.
    pub(crate) fn task_changed(&mut self, agent: usize, framework_id: &str, status: TaskStatus) {
        let task_id = status.task_id.value.clone();
        let state = status.state();
        let Some(task) = self.agent_task_mut(agent, framework_id, &task_id) else {
            return;
        };
        task.state = state;
        let mut group_failed = None;
        let mut released = None;
        if state.is_terminal() {
            task.process = None;
            task.pid = None;
            if task.in_group && state == TaskState::TaskFailed {
                group_failed = Some(task.executor_id.clone());
            }
            released = Some(Footprint::of(task));
        }
        if let Some(footprint) = released {
            footprint.release(&mut self.agents[agent]);
        }
        let to_send = self.agents[agent]
            .updates
            .update(framework_id, &task_id, status);
        if let Some(status) = to_send {
            self.send_update(agent, framework_id, status);
        }
        // The default executor's policy: when a task of a group fails, the
        // rest of the group is killed.
        if let Some(executor) = group_failed {
            let siblings: Vec<String> = self
                .agent_tasks_of(agent, framework_id)
                .into_iter()
                .filter(|t| t.in_group && t.executor_id == executor && !t.state.is_terminal())
                .map(|t| t.info.task_id.value.clone())
                .collect();
            for sibling in siblings {
                self.kill_task(agent, framework_id, &sibling, None);
            }
        }
    }

    /// The agent sends an update (again); the master records what the
    /// framework was told and forwards it if the framework is connected.
    /// A retry is scheduled either way: only an acknowledgement stops it.
    ///
    /// An agent away from the master sends nothing: its updates wait in its
    /// status update manager until it re-registers (`partition.rs`).
    pub(crate) fn send_update(&mut self, agent: usize, framework_id: &str, status: TaskStatus) {
        if !self.agents[agent].registered() {
            return;
        }
        let task_id = status.task_id.value.clone();
        let uuid = status.uuid.clone().unwrap_or_default();
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        if let Some(task) = framework.tasks.get_mut(&task_id) {
            task.status_update = Some((status.state(), uuid.clone()));
            task.record(&status);
        }
        if let Some(stream) = &framework.stream {
            let event = stream::update(status);
            let copies = if self.faults.duplicate_updates() {
                2
            } else {
                1
            };
            let delay = self.faults.update_delay();
            for _ in 0..copies {
                if delay.is_zero() {
                    stream.send(&event);
                } else {
                    stream.send_later(&event, delay);
                }
            }
        }
        let (retry, sending) = self.agents[agent].updates.next_retry(
            framework_id,
            &task_id,
            self.settings.status_update_retry,
        );
        let commands = self.commands.clone();
        let framework_id = framework_id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(retry).await;
            let _ = commands.send(super::master::Command::RetryUpdate {
                agent,
                framework_id,
                task_id,
                uuid,
                sending,
            });
        });
    }

    /// Re-sends an update that is still unacknowledged.
    pub(crate) fn retry_update(
        &mut self,
        agent: usize,
        framework_id: &str,
        task_id: &str,
        uuid: &Bytes,
        sending: u32,
    ) {
        if !self.agents[agent].registered() {
            return;
        }
        let pending = self.agents[agent]
            .updates
            .in_flight(framework_id, task_id, uuid, sending)
            .cloned();
        if let Some(status) = pending {
            tracing::debug!(framework_id, task_id, state = ?status.state(), "re-sending unacknowledged status update");
            self.send_update(agent, framework_id, status);
        }
    }
}

/// What a task takes from its agent: its resources, and a share in its
/// group executor's.
pub(crate) struct Footprint {
    framework_id: String,
    task_id: String,
    executor_id: Option<String>,
    resources: Resources,
}

impl Footprint {
    pub(crate) fn of(task: &Task) -> Footprint {
        Footprint {
            framework_id: task.framework_id.clone(),
            task_id: task.info.task_id.value.clone(),
            executor_id: task.in_group.then(|| task.executor_id.clone()),
            resources: task.resources.clone(),
        }
    }

    /// Gives a finished task's resources back to its agent (and its group
    /// executor's, once the executor has no task left).
    pub(crate) fn release(self, agent: &mut Agent) {
        agent.used -= &self.resources;
        if let Some(executor_id) = self.executor_id {
            let key = (self.framework_id, executor_id);
            if let Some(executor) = agent.executors.get_mut(&key) {
                executor.live_tasks.remove(&self.task_id);
                if executor.live_tasks.is_empty() {
                    let executor = agent.executors.remove(&key).expect("just found");
                    agent.used -= &executor.resources;
                }
            }
        }
    }
}
