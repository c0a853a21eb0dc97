//! Custom executors: the agent's side of an executor a framework wrote.
//!
//! A task with `TaskInfo.executor` is not run by the agent: the agent
//! starts the framework's executor (`ExecutorInfo.command`, as a process
//! in its own sandbox) and hands it the task once the executor has called
//! back over the executor HTTP API (`executor_api.rs`, `executor_calls.rs`).
//! One executor may run many tasks: a task for an executor that already
//! runs on the agent goes to it, and the executor's resources are counted
//! once, from its launch until its process ends.
//!
//! The life of an executor, after `src/slave/slave.cpp` (1.11.0):
//!
//! 1. REGISTERING: launched (fetcher, then the process); its tasks are
//!    queued, TASK_STAGING. If it does not SUBSCRIBE within the
//!    registration timeout, the agent destroys it
//!    (`Slave::registerExecutorTimeout`).
//! 2. RUNNING: subscribed; it gets its queued tasks as LAUNCH events,
//!    later ones at once, and reports on them with UPDATE calls.
//! 3. TERMINATING: asked to shut down (a SHUTDOWN call, its framework
//!    removed): a SHUTDOWN event, then its process is destroyed after
//!    its shutdown grace period (`Slave::shutdownExecutor`).
//! 4. Its process ended: the tasks it did not finish fail, and the
//!    scheduler gets a FAILURE event with the wait status
//!    (`Slave::executorTerminated`, `Master::exitedExecutor`).
//!
//! Every decision here runs in the master's actor; the executor's process
//! is watched by a supervisor (`executor::launch_executor`) that reports
//! back as [`Command::ExecutorProcess`], and timers report as
//! [`Command::ExecutorTimeout`].

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    time::Duration,
};

use bytes::Bytes;
use http::StatusCode;
use tokio::sync::mpsc;

use super::{
    executor::{self, ExecutorProcessReport, LaunchSpec, TaskProcess},
    master::{Command, Master, Task},
    stream::EventStream,
};
use crate::{
    executor::duration,
    resources::Resources,
    v1::{
        ExecutorInfo, TaskInfo, TaskState,
        executor::{Event, event},
        scheduler,
        task_status::{Reason, Source},
    },
};

/// The agent's default `--executor_shutdown_grace_period` (5 s).
pub(crate) const DEFAULT_SHUTDOWN_GRACE_PERIOD: Duration = Duration::from_secs(5);
/// The agent's default `--recovery_timeout` (15 min).
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// The agent's default `--executor_reregistration_timeout` (2 s), which
/// it gives checkpointing executors as their longest backoff.
const SUBSCRIPTION_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// A custom executor on an agent.
#[derive(Debug)]
pub(crate) struct CustomExecutor {
    /// As the first task launched on it carried it, with `framework_id`
    /// filled in by the master.
    pub info: ExecutorInfo,
    /// This run's container: a relaunched executor is another run, and a
    /// timer set for an old run must not touch it.
    pub container_id: String,
    pub sandbox: PathBuf,
    /// `ExecutorInfo.resources`, held from launch until the process ends.
    pub resources: Resources,
    pub state: ExecutorState,
    /// The SUBSCRIBE response's stream, while subscribed.
    pub stream: Option<EventStream>,
    /// Tasks not sent to the executor yet, in launch order.
    pub queued: Vec<String>,
    /// Tasks sent to it (LAUNCH) that have not terminated.
    pub launched: BTreeSet<String>,
    /// Some task was ever sent to it (`Executor::everSentTask`).
    pub ever_sent_task: bool,
    /// The supervisor of its process; dropping it kills the process.
    pub process: Option<TaskProcess>,
    pub pid: Option<u32>,
    /// How its tasks end when it does, if not the default TASK_FAILED
    /// "Executor terminated" (`Executor::pendingTermination`).
    pub pending_termination: Option<Termination>,
    /// Its framework was removed: it is shut down and its tasks get no
    /// more updates (`Framework::TERMINATING` on the agent).
    pub framework_removed: bool,
}

/// `Executor::State` of the agent, but TERMINATED: a terminated executor
/// is removed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExecutorState {
    Registering,
    Running,
    Terminating,
}

/// How an executor's unfinished tasks end (`ContainerTermination`).
#[derive(Debug, Clone)]
pub(crate) struct Termination {
    pub state: TaskState,
    pub reason: Reason,
    pub message: String,
}

/// Which of an executor's timers fired.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ExecutorTimeout {
    /// `--executor_registration_timeout` after launch.
    Registration,
    /// The shutdown grace period after SHUTDOWN.
    Shutdown,
}

/// The actor's answer to an executor API call.
pub(crate) enum ExecutorCallReply {
    /// 202 Accepted.
    Accepted,
    /// 200 OK, streaming these records (SUBSCRIBE).
    Subscribed {
        records: mpsc::UnboundedReceiver<Bytes>,
    },
    /// An error status with Mesos' message.
    Error(StatusCode, String),
}

/// An executor's key in `Agent::custom_executors`.
pub(crate) type ExecutorKey = (String, String);

impl Master {
    /// Adds a validated task for a custom executor (TASK_STAGING): to the
    /// executor if it runs on the agent, else to a new one that is
    /// launched now (`Slave::run`, `Slave::launchExecutor`).
    pub(crate) fn launch_custom(
        &mut self,
        framework_id: &str,
        agent: usize,
        info: TaskInfo,
        resources: Resources,
        role: &str,
        executor_resources: Resources,
    ) {
        let mut executor_info = *info.executor.clone().expect("a custom executor's task");
        executor_info
            .framework_id
            .get_or_insert_with(|| crate::v1::FrameworkId {
                value: framework_id.to_string(),
            });
        let executor_id = executor_info.executor_id.value.clone();
        let key = (framework_id.to_string(), executor_id.clone());
        if !self.agents[agent].custom_executors.contains_key(&key) {
            self.launch_executor(agent, &key, executor_info, executor_resources);
        }
        let task_id = info.task_id.value.clone();
        let agent_state = &mut self.agents[agent];
        agent_state.used += &resources;
        let sandbox = agent_state.custom_executors[&key].sandbox.clone();
        tracing::info!(framework_id, %task_id, %executor_id, %resources, "launching task on custom executor");
        let task = Task {
            info,
            framework_id: framework_id.to_string(),
            agent,
            executor_id,
            in_group: false,
            custom: true,
            resources,
            role: role.to_string(),
            state: TaskState::TaskStaging,
            status_update: None,
            statuses: Vec::new(),
            // A custom executor's tasks write into its sandbox.
            sandbox: Some(sandbox),
            pid: None,
            process: None,
            killing: false,
        };
        self.frameworks
            .get_mut(framework_id)
            .expect("caller checked")
            .tasks
            .insert(task_id.clone(), task);
        let executor = self.agents[agent]
            .custom_executors
            .get_mut(&key)
            .expect("launched above");
        match executor.state {
            ExecutorState::Registering => executor.queued.push(task_id),
            ExecutorState::Running => {
                executor.queued.push(task_id);
                self.send_queued_tasks(agent, &key);
            }
            // `Slave::__run`: a task for an executor that is going away
            // was never launched.
            ExecutorState::Terminating => self.executor_terminating(agent, framework_id, &task_id),
        }
    }

    /// TASK_LOST (TASK_DROPPED if partition-aware) for a task sent to a
    /// terminating executor.
    fn executor_terminating(&mut self, agent: usize, framework_id: &str, task_id: &str) {
        let partition_aware = self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.partition_aware());
        let state = if partition_aware {
            TaskState::TaskDropped
        } else {
            TaskState::TaskLost
        };
        let status = self.agent_status(
            agent,
            framework_id,
            task_id,
            state,
            Source::Agent,
            Some(Reason::ExecutorTerminated),
            Some("Executor terminating".into()),
        );
        self.task_changed(agent, framework_id, status);
    }

    /// Starts a new executor's container: sandbox, fetcher, process, and
    /// the registration timer, which runs from now (fetching counts).
    fn launch_executor(
        &mut self,
        agent: usize,
        key: &ExecutorKey,
        info: ExecutorInfo,
        resources: Resources,
    ) {
        let (framework_id, executor_id) = key.clone();
        let container_id = uuid::Uuid::new_v4().to_string();
        let agent_state = &mut self.agents[agent];
        let sandbox = agent_state.sandbox(&framework_id, &executor_id, &container_id);
        agent_state.used += &resources;
        let checkpoint = self
            .frameworks
            .get(&framework_id)
            .and_then(|f| f.info.checkpoint)
            .unwrap_or(false);
        let spec = LaunchSpec {
            framework_id: framework_id.clone(),
            task_id: executor_id.clone(),
            executor_id: executor_id.clone(),
            executor_directory: sandbox.clone(),
            command: info.command.clone().unwrap_or_default(),
            environment: self.executor_environment(agent, &info, &sandbox, checkpoint),
            sandbox: sandbox.clone(),
            // A custom executor runs its task's checks itself.
            health_check: None,
        };
        let commands = self.commands.clone();
        let report = {
            let (framework_id, executor_id, container_id) = (
                framework_id.clone(),
                executor_id.clone(),
                container_id.clone(),
            );
            move |report| {
                let _ = commands.send(Command::ExecutorProcess {
                    agent,
                    framework_id: framework_id.clone(),
                    executor_id: executor_id.clone(),
                    container_id: container_id.clone(),
                    report,
                });
            }
        };
        tracing::info!(%framework_id, %executor_id, %container_id, "launching custom executor");
        let process = executor::launch_executor(
            spec,
            container_id.clone(),
            report,
            self.processes.clone(),
            self.agents[agent].files.clone(),
        );
        self.executor_timer(
            agent,
            key,
            &container_id,
            ExecutorTimeout::Registration,
            self.settings.executor_registration_timeout,
        );
        self.agents[agent].custom_executors.insert(
            key.clone(),
            CustomExecutor {
                info,
                container_id,
                sandbox,
                resources,
                state: ExecutorState::Registering,
                stream: None,
                queued: Vec::new(),
                launched: BTreeSet::new(),
                ever_sent_task: false,
                process: Some(process),
                pid: None,
                pending_termination: None,
                framework_removed: false,
            },
        );
    }

    /// The executor's environment: `executorEnvironment` (slave.cpp), plus
    /// MESOS_SANDBOX, which the Mesos containerizer adds.
    fn executor_environment(
        &self,
        agent: usize,
        info: &ExecutorInfo,
        sandbox: &Path,
        checkpoint: bool,
    ) -> Vec<(String, String)> {
        let agent = &self.agents[agent];
        let directory = sandbox.display().to_string();
        let grace = shutdown_grace_period(info);
        let mut environment = vec![
            // The executor library binds no port of its own.
            ("LIBPROCESS_PORT", "0".to_string()),
            ("MESOS_FRAMEWORK_ID", framework_id_of(info)),
            ("MESOS_EXECUTOR_ID", info.executor_id.value.clone()),
            ("MESOS_DIRECTORY", directory.clone()),
            ("MESOS_SANDBOX", directory),
            ("MESOS_SLAVE_ID", agent.id.clone()),
            ("MESOS_SLAVE_PID", agent.pid.clone()),
            // Where the executor finds the agent: `slave(N)@ip:port`'s address.
            ("MESOS_AGENT_ENDPOINT", self.settings.ip_port()),
            (
                "MESOS_CHECKPOINT",
                if checkpoint { "1" } else { "0" }.into(),
            ),
            ("MESOS_HTTP_COMMAND_EXECUTOR", "0".to_string()),
            (
                "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
                duration::format(grace),
            ),
        ];
        // Only an executor that survives an agent restart needs to know
        // how long to wait for the agent to come back.
        if checkpoint {
            environment.push(("MESOS_RECOVERY_TIMEOUT", duration::format(RECOVERY_TIMEOUT)));
            environment.push((
                "MESOS_SUBSCRIPTION_BACKOFF_MAX",
                duration::format(SUBSCRIPTION_BACKOFF_MAX),
            ));
        }
        environment
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect()
    }

    /// Sets one of an executor's timers, for this container run.
    fn executor_timer(
        &self,
        agent: usize,
        key: &ExecutorKey,
        container_id: &str,
        timeout: ExecutorTimeout,
        after: Duration,
    ) {
        let commands = self.commands.clone();
        let (framework_id, executor_id) = key.clone();
        let container_id = container_id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = commands.send(Command::ExecutorTimeout {
                agent,
                framework_id,
                executor_id,
                container_id,
                timeout,
            });
        });
    }

    /// A timer fired: destroy the executor if it is still the same run,
    /// still registering (registration) or still terminating (shutdown).
    pub(crate) fn executor_timeout(
        &mut self,
        agent: usize,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        timeout: ExecutorTimeout,
    ) {
        let timeout_text = duration::format(self.settings.executor_registration_timeout);
        let key = (framework_id.to_string(), executor_id.to_string());
        let Some(executor) = self.agents[agent].custom_executors.get_mut(&key) else {
            return;
        };
        if executor.container_id != container_id {
            return;
        }
        match (timeout, executor.state) {
            (ExecutorTimeout::Registration, ExecutorState::Registering) => {
                if executor.framework_removed {
                    return;
                }
                tracing::info!(
                    framework_id,
                    executor_id,
                    "terminating executor because it did not register within {timeout_text}"
                );
                executor.state = ExecutorState::Terminating;
                // `Slave::registerExecutorTimeout`'s termination.
                executor.pending_termination = Some(Termination {
                    state: TaskState::TaskFailed,
                    reason: Reason::ExecutorRegistrationTimeout,
                    message: format!("Executor did not register within {timeout_text}"),
                });
            }
            (ExecutorTimeout::Shutdown, ExecutorState::Terminating) => {
                tracing::info!(framework_id, executor_id, "killing executor");
            }
            _ => return,
        }
        destroy(executor);
    }

    /// News from an executor's supervisor.
    pub(crate) fn executor_process(
        &mut self,
        agent: usize,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        report: ExecutorProcessReport,
    ) {
        let key = (framework_id.to_string(), executor_id.to_string());
        let Some(executor) = self.agents[agent].custom_executors.get_mut(&key) else {
            return;
        };
        if executor.container_id != container_id {
            return;
        }
        match report {
            ExecutorProcessReport::Started { pid } => executor.pid = Some(pid),
            ExecutorProcessReport::LaunchFailed { message } => {
                tracing::warn!(framework_id, executor_id, "{message}");
                // `Slave::executorLaunched` on a failed launch.
                executor.pending_termination = Some(Termination {
                    state: TaskState::TaskFailed,
                    reason: Reason::ContainerLaunchFailed,
                    message,
                });
                self.executor_terminated(agent, &key, None);
            }
            ExecutorProcessReport::Exited { status } => {
                self.executor_terminated(agent, &key, status)
            }
        }
    }

    /// The executor's process ended (`Slave::executorTerminated`): its
    /// unfinished tasks end, the scheduler hears of it, its resources are
    /// free.
    fn executor_terminated(&mut self, agent: usize, key: &ExecutorKey, status: Option<i32>) {
        let Some(executor) = self.agents[agent].custom_executors.remove(key) else {
            return;
        };
        let (framework_id, executor_id) = key;
        tracing::info!(%framework_id, %executor_id, ?status, "executor terminated");
        self.agents[agent].used -= &executor.resources;
        // Its stream closes with it (dropped with `executor`).
        if executor.framework_removed {
            return;
        }
        let termination = executor.pending_termination.clone().unwrap_or(Termination {
            state: TaskState::TaskFailed,
            reason: Reason::ExecutorTerminated,
            message: "Executor terminated".into(),
        });
        let unfinished = executor.launched.iter().chain(&executor.queued);
        for task_id in unfinished {
            let live = self
                .agent_task(agent, framework_id, task_id)
                .is_some_and(|t| !t.state.is_terminal());
            if live {
                let status = self.agent_status(
                    agent,
                    framework_id,
                    task_id,
                    termination.state,
                    Source::Agent,
                    Some(termination.reason),
                    Some(termination.message.clone()),
                );
                self.task_changed(agent, framework_id, status);
            }
        }
        self.exited_executor(agent, framework_id, executor_id, status);
    }

    /// `Master::exitedExecutor`: a FAILURE event for the scheduler, best
    /// effort (dropped if it is not connected, never re-sent).
    fn exited_executor(
        &mut self,
        agent: usize,
        framework_id: &str,
        executor_id: &str,
        status: Option<i32>,
    ) {
        if !self.agents[agent].registered() {
            return;
        }
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let event = scheduler::Event {
            r#type: Some(scheduler::event::Type::Failure as i32),
            failure: Some(scheduler::event::Failure {
                agent_id: Some(crate::v1::AgentId {
                    value: self.agents[agent].id.clone(),
                }),
                executor_id: Some(crate::v1::ExecutorId {
                    value: executor_id.to_string(),
                }),
                // The agent's "unknown status" is -1.
                status: Some(status.unwrap_or(-1)),
            }),
            ..Default::default()
        };
        framework.send(&event);
    }

    /// Asks an executor to shut down (`Slave::_shutdownExecutor`): a
    /// SHUTDOWN event (lost if it has not subscribed), and its container
    /// destroyed after its grace period.
    pub(crate) fn shutdown_custom_executor(&mut self, agent: usize, key: &ExecutorKey) {
        let Some(executor) = self.agents[agent].custom_executors.get_mut(key) else {
            return;
        };
        if executor.state == ExecutorState::Terminating {
            tracing::warn!(executor_id = %key.1, "ignoring shutdown: the executor is terminating");
            return;
        }
        tracing::info!(framework_id = %key.0, executor_id = %key.1, "shutting down executor");
        executor.state = ExecutorState::Terminating;
        send(executor, executor_event(event::Type::Shutdown));
        let grace = shutdown_grace_period(&executor.info);
        let container_id = executor.container_id.clone();
        self.executor_timer(agent, key, &container_id, ExecutorTimeout::Shutdown, grace);
    }

    /// The agent shuts a removed framework's executors down
    /// (`Slave::shutdownFramework`): each is told, then destroyed after its
    /// grace period, and its tasks get no more updates.
    pub(crate) fn shutdown_framework_executors(&mut self, agent: usize, framework_id: &str) {
        let executors: Vec<ExecutorKey> = self.agents[agent]
            .custom_executors
            .iter_mut()
            .filter(|((f, _), _)| f == framework_id)
            .map(|(key, executor)| {
                executor.framework_removed = true;
                key.clone()
            })
            .collect();
        for key in executors {
            self.shutdown_custom_executor(agent, &key);
        }
    }

    /// KILL of a custom executor's task (`Slave::killTask`): answered by
    /// the agent if the executor does not have the task yet, else passed
    /// on to the executor, whose update says what became of the task.
    pub(crate) fn kill_custom_task(
        &mut self,
        agent: usize,
        framework_id: &str,
        task_id: &str,
        policy: Option<&crate::v1::KillPolicy>,
    ) {
        let Some(task) = self.agent_task(agent, framework_id, task_id) else {
            return;
        };
        let key = (framework_id.to_string(), task.executor_id.clone());
        let Some(executor) = self.agents[agent].custom_executors.get_mut(&key) else {
            return;
        };
        if executor.state == ExecutorState::Terminating {
            tracing::warn!(
                framework_id,
                task_id,
                "ignoring kill task: the executor is terminating"
            );
            return;
        }
        let Some(position) = executor.queued.iter().position(|t| t == task_id) else {
            let kill = event::Kill {
                task_id: crate::v1::TaskId {
                    value: task_id.to_string(),
                },
                kill_policy: policy.cloned(),
            };
            send(
                executor,
                Event {
                    kill: Some(kill),
                    ..executor_event(event::Type::Kill)
                },
            );
            return;
        };
        executor.queued.remove(position);
        let running = executor.state == ExecutorState::Running;
        let idle = !executor.ever_sent_task && executor.queued.is_empty();
        let status = self.agent_status(
            agent,
            framework_id,
            task_id,
            TaskState::TaskKilled,
            Source::Agent,
            Some(Reason::TaskKilledDuringLaunch),
            Some("Killed before delivery to the executor".into()),
        );
        self.task_changed(agent, framework_id, status);
        // MESOS-8411: an executor that never got a task and has none left
        // is shut down. A registering one is, when it subscribes.
        if running && idle {
            self.shutdown_custom_executor(agent, &key);
        }
    }

    /// Sends a subscribed executor its queued tasks, as LAUNCH events.
    pub(crate) fn send_queued_tasks(&mut self, agent: usize, key: &ExecutorKey) {
        let Some(executor) = self.agents[agent].custom_executors.get(key) else {
            return;
        };
        let queued = executor.queued.clone();
        let tasks: Vec<TaskInfo> = queued
            .iter()
            .filter_map(|id| self.agent_task(agent, &key.0, id))
            .map(|task| task.info.clone())
            .collect();
        let executor = self.agents[agent]
            .custom_executors
            .get_mut(key)
            .expect("found above");
        executor.queued.clear();
        for task in tasks {
            executor.ever_sent_task = true;
            executor.launched.insert(task.task_id.value.clone());
            let launch = event::Launch { task };
            send(
                executor,
                Event {
                    launch: Some(launch),
                    ..executor_event(event::Type::Launch)
                },
            );
        }
    }
}

/// Destroys an executor's container now: everything in it is killed (its
/// process group and session, `session.rs`), and its supervisor reports
/// the exit.
fn destroy(executor: &CustomExecutor) {
    if let Some(process) = &executor.process {
        process.kill(Duration::ZERO);
    }
}

/// Sends an event to an executor if it is subscribed; else it is lost, as
/// Mesos' `Executor::send` drops what it cannot deliver.
pub(crate) fn send(executor: &CustomExecutor, event: Event) {
    match &executor.stream {
        Some(stream) => {
            stream.send_message(&event);
        }
        None => tracing::debug!(
            executor_id = %executor.info.executor_id.value,
            kind = ?event.r#type(),
            "dropping event for an executor that is not subscribed"
        ),
    }
}

/// An event with only its type set.
pub(crate) fn executor_event(kind: event::Type) -> Event {
    Event {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

/// `ExecutorInfo.shutdown_grace_period`, else the agent's default.
fn shutdown_grace_period(info: &ExecutorInfo) -> Duration {
    info.shutdown_grace_period
        .as_ref()
        .map_or(DEFAULT_SHUTDOWN_GRACE_PERIOD, |d| {
            Duration::from_nanos(u64::try_from(d.nanoseconds).unwrap_or(0))
        })
}

fn framework_id_of(info: &ExecutorInfo) -> String {
    info.framework_id
        .as_ref()
        .map(|id| id.value.clone())
        .unwrap_or_default()
}
