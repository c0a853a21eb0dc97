//! The executor: runs on the agent, next to the task, and reports on it.
//!
//! Mesos starts an executor for every task: by default its own *command
//! executor*, which runs `TaskInfo.command` in a shell. A task that names
//! an `ExecutorInfo` runs on that executor instead: this binary, started
//! by the agent with the `executor` subcommand. It subscribes to the
//! agent, is given the task (LAUNCH), runs the shell command the scheduler
//! put in the task's `data`, and reports each step as a status update:
//! TASK_STARTING, TASK_RUNNING, and at the end TASK_FINISHED, TASK_FAILED
//! (with the exit status) or TASK_KILLED. A task with a `health_check` is
//! checked next to it as Mesos' command executor checks it (the library's
//! `mesos::health`): TASK_RUNNING again with `healthy` when its health
//! changes, and a kill when it fails too often. What the executor says is
//! all the scheduler ever learns about the task. An executor can do what the
//! command executor cannot: answer the scheduler's framework messages
//! (here, "how long has the task been running?"), run several tasks in one
//! process, keep state between them.
//!
//! As with the scheduler, this file only decides: a plain function of the
//! executor's state, what happened, and the time, returning what to do.
//! Starting and killing processes and talking to the agent are in
//! `executor/run.rs`.

use std::{collections::BTreeMap, time::Duration};

use bytes::Bytes;
use mesos::{
    executor::{ExecutorDriverEvent, process::DEFAULT_KILL_GRACE_PERIOD, status},
    health::{TaskHealth, health_update},
    v1::{HealthCheck, KillPolicy, TaskInfo, TaskState, executor::event},
};

pub mod run;
#[cfg(test)]
mod tests;

/// What the scheduler asks an executor in a framework message.
pub const UPTIME_QUESTION: &[u8] = b"uptime?";

/// What happens to the executor.
// Most inputs are the driver's events: boxing them would only allocate.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Input {
    /// What the driver says: the agent's events, and its own.
    Driver(ExecutorDriverEvent),
    /// A task's command started.
    Started { task_id: String },
    /// A task's command ended, or never started; `message` says how, as
    /// Mesos does ("Command exited with status 1").
    Ended {
        task_id: String,
        success: bool,
        message: String,
    },
    /// A task's health check has news: its health changed, or it failed
    /// again.
    Health { task_id: String, health: TaskHealth },
}

/// What the executor decides to do.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Send this status update to the agent (the driver fills in the
    /// executor ID, the source and a fresh uuid).
    Update(mesos::v1::TaskStatus),
    /// Run the task's shell command.
    Start { task_id: String, command: String },
    /// Start checking a running task's health (and stop at its kill or end).
    CheckHealth { task_id: String, check: HealthCheck },
    /// SIGTERM the task's command, SIGKILL it after the grace period.
    Kill {
        task_id: String,
        grace_period: Duration,
    },
    /// Send a framework message to the scheduler.
    Message(Bytes),
}

/// A task this executor was given and has not seen end.
#[derive(Debug)]
struct Task {
    kill_policy: Option<KillPolicy>,
    health_check: Option<HealthCheck>,
    /// When its command started (seconds since the epoch).
    started_at: Option<f64>,
    /// We were asked to kill it: its end is TASK_KILLED, whatever the exit
    /// status.
    killing: bool,
    /// The kill was its health check's doing: the last update says
    /// `healthy: false`.
    unhealthy: bool,
}

/// The executor's state: the tasks it runs.
#[derive(Debug, Default)]
pub struct Executor {
    tasks: BTreeMap<String, Task>,
}

impl Executor {
    /// Decides what to do about `input`, which happened at `now` (seconds
    /// since the epoch).
    pub fn on_input(&mut self, input: Input, now: f64) -> Vec<Action> {
        match input {
            Input::Driver(ExecutorDriverEvent::Event(event)) => self.on_event(event, now),
            // The agent wants the executor gone (or is gone itself), and
            // destroys it when the grace period is over: kill every task
            // in time to report it killed (the command executor keeps a
            // second in hand, `src/launcher/executor.cpp`).
            Input::Driver(ExecutorDriverEvent::Shutdown { grace_period, .. }) => {
                let grace_period = grace_period.saturating_sub(Duration::from_secs(1));
                let ids: Vec<String> = self.tasks.keys().cloned().collect();
                ids.iter()
                    .flat_map(|id| self.kill(id, Some(grace_period)))
                    .collect()
            }
            // Disconnected, Finished and Stopped are `run.rs`'s business.
            Input::Driver(_) => vec![],
            Input::Started { task_id } => match self.tasks.get_mut(&task_id) {
                Some(task) => {
                    task.started_at = Some(now);
                    let check = task.health_check.clone();
                    let mut actions = vec![update(&task_id, TaskState::TaskRunning, None)];
                    actions.extend(check.map(|check| Action::CheckHealth { task_id, check }));
                    actions
                }
                None => vec![],
            },
            Input::Health { task_id, health } => self.health(&task_id, health),
            Input::Ended {
                task_id,
                success,
                message,
            } => {
                let Some(task) = self.tasks.remove(&task_id) else {
                    return vec![];
                };
                let state = match (task.killing, success) {
                    (true, _) => TaskState::TaskKilled,
                    (false, true) => TaskState::TaskFinished,
                    (false, false) => TaskState::TaskFailed,
                };
                let mut ended = update(&task_id, state, Some(message));
                if let (Action::Update(status), true) = (&mut ended, task.killing && task.unhealthy)
                {
                    status.healthy = Some(false);
                }
                vec![ended]
            }
        }
    }

    fn on_event(&mut self, event: mesos::v1::executor::Event, now: f64) -> Vec<Action> {
        match event.r#type() {
            event::Type::Launch => match event.launch {
                Some(launch) => self.launch(launch.task),
                None => vec![],
            },
            event::Type::Kill => match event.kill {
                Some(kill) => {
                    let grace_period = self.grace_period(&kill.task_id.value, kill.kill_policy);
                    self.kill(&kill.task_id.value, grace_period)
                }
                None => vec![],
            },
            event::Type::Message => match event.message {
                Some(message) if message.data == UPTIME_QUESTION => self.uptimes(now),
                _ => vec![],
            },
            // A task group is for executors that launch them (the
            // default executor); this one does not, so it says so.
            event::Type::LaunchGroup => {
                let tasks = event
                    .launch_group
                    .map(|g| g.task_group.tasks)
                    .unwrap_or_default();
                let message = "this executor runs tasks one by one (LAUNCH), not task groups";
                tasks
                    .iter()
                    .map(|task| {
                        update(
                            &task.task_id.value,
                            TaskState::TaskFailed,
                            Some(message.into()),
                        )
                    })
                    .collect()
            }
            // SUBSCRIBED, ACKNOWLEDGED and ERROR are the driver's business.
            _ => vec![],
        }
    }

    fn launch(&mut self, task: TaskInfo) -> Vec<Action> {
        let task_id = task.task_id.value.clone();
        // The scheduler puts the shell command in the task's data: a task
        // that names an executor may not also have a CommandInfo.
        let command = task.data.as_deref().map(String::from_utf8_lossy);
        let Some(command) = command.filter(|c| !c.trim().is_empty()) else {
            let message = "the task has no command to run in its data";
            return vec![update(
                &task_id,
                TaskState::TaskFailed,
                Some(message.into()),
            )];
        };
        let command = command.into_owned();
        self.tasks.insert(
            task_id.clone(),
            Task {
                kill_policy: task.kill_policy,
                health_check: task.health_check.map(|check| *check),
                started_at: None,
                killing: false,
                unhealthy: false,
            },
        );
        vec![
            update(&task_id, TaskState::TaskStarting, None),
            Action::Start { task_id, command },
        ]
    }

    /// A KILL's own kill policy overrides the task's; without either, Mesos'
    /// default.
    fn grace_period(&self, task_id: &str, policy: Option<KillPolicy>) -> Option<Duration> {
        let task = self.tasks.get(task_id)?;
        let period = policy.or(task.kill_policy).and_then(|p| p.grace_period);
        Some(period.map_or(DEFAULT_KILL_GRACE_PERIOD, |d| {
            Duration::from_nanos(d.nanoseconds.max(0) as u64)
        }))
    }

    fn kill(&mut self, task_id: &str, grace_period: Option<Duration>) -> Vec<Action> {
        let (Some(task), Some(grace_period)) = (self.tasks.get_mut(task_id), grace_period) else {
            return vec![];
        };
        task.killing = true;
        vec![Action::Kill {
            task_id: task_id.to_string(),
            grace_period,
        }]
    }

    /// What a task's health check found, said as Mesos' command executor
    /// says it (`taskHealthUpdated`): TASK_RUNNING with `healthy`, nothing
    /// once a kill began; a check that failed too often kills the task.
    fn health(&mut self, task_id: &str, health: TaskHealth) -> Vec<Action> {
        let Some(task) = self.tasks.get_mut(task_id).filter(|task| !task.killing) else {
            return vec![];
        };
        task.unhealthy = health.kill_task;
        let mut actions = vec![Action::Update(health_update(task_id, health))];
        if health.kill_task {
            let grace_period = self.grace_period(task_id, None);
            actions.extend(self.kill(task_id, grace_period));
        }
        actions
    }

    /// The answer to the scheduler's question: each running task's uptime.
    fn uptimes(&self, now: f64) -> Vec<Action> {
        self.tasks
            .iter()
            .filter_map(|(id, task)| task.started_at.map(|at| (id, now - at)))
            .map(|(id, up)| Action::Message(format!("{id} has been running for {up:.0} s").into()))
            .collect()
    }
}

/// A status update for a task, as the executor sends it.
fn update(task_id: &str, state: TaskState, message: Option<String>) -> Action {
    let mut status = status(task_id, state);
    status.message = message;
    Action::Update(status)
}
