//! What a status update means for 5K's tasks.
//!
//! Mesos reports every change of a task's state, and repeats each report
//! until it is acknowledged: an update may arrive twice, late, or for a
//! task 5K has forgotten. A terminal state ends the task's record (the
//! app then launches a replacement, see `converge.rs`); a task 5K does
//! not know is killed, because nothing would ever count it or stop it.

use mesos::{
    calls,
    v1::{TaskState, TaskStatus},
};

use super::{Scheduler, TaskFailure, task::Task};
use crate::events::{Event, StatusUpdate};

impl Scheduler {
    pub(super) fn on_update(&mut self, status: &TaskStatus) {
        // Acknowledge whatever we do with it: until then the agent keeps
        // sending it, and holds back the updates behind it.
        self.effects.calls.extend(calls::acknowledge_update(status));
        let task_id = status.task_id.value.as_str();
        self.effects
            .calls
            .extend(self.reconciler.on_update(task_id));
        let state = status.state();
        let timestamp = self.timestamp();
        let Some(task) = self.tasks.get_mut(task_id) else {
            self.kill_unknown(status);
            return;
        };
        // Agents repeat a state to report a task's health: only a change
        // of state means something to its launch delay
        // (`update.stateUpdated`).
        let changed = task.state != state;
        task.state = state;
        if state == TaskState::TaskRunning && task.started_at.is_none() {
            task.started_at = Some(timestamp.clone());
        }
        let task = task.clone();
        self.on_agent_health(status);
        if changed {
            self.note_for_backoff(&task, state);
        }
        let message = status.message.clone().unwrap_or_default();
        self.publish(Event::status_update(
            &timestamp,
            StatusUpdate {
                agent_id: &task.agent_id,
                task_id,
                state: state.as_str_name(),
                message: &message,
                app_id: &task.app_id.to_string(),
                host: &task.host,
                ports: &task.ports,
                version: &task.version,
            },
        ));
        self.dirty.insert(task.app_id.clone());
        if is_terminal(state) {
            self.forget_ended(&task, state, message, timestamp);
        }
    }

    /// A task 5K does not know is killed: nothing would ever count it or
    /// stop it (a launch whose record was lost, say). A terminal update
    /// about one needs nothing but its acknowledgement.
    fn kill_unknown(&mut self, status: &TaskStatus) {
        let state = status.state();
        if is_terminal(state) {
            return;
        }
        let task_id = status.task_id.value.as_str();
        tracing::info!(
            task_id,
            state = state.as_str_name(),
            "killing a task 5K does not know"
        );
        self.effects.calls.push(calls::kill(
            status.task_id.clone(),
            status.agent_id.clone(),
            None,
        ));
    }

    /// A task ended: its record goes (the app's count drops, so
    /// `converge.rs` launches a replacement), and a failure is kept as
    /// the app's `lastTaskFailure`, the first thing to read when an app
    /// does not stay up.
    fn forget_ended(&mut self, task: &Task, state: TaskState, message: String, timestamp: String) {
        let task_id = task.id.as_str();
        tracing::info!(app = %task.app_id, task = task_id, "task ended: {}", state.as_str_name());
        self.tasks.remove(task_id);
        self.kills_sent.remove(task_id);
        self.health.remove(task_id);
        if !is_failure(state) {
            return;
        }
        if let Some(entry) = self.apps.get_mut(&task.app_id) {
            self.changes.apps.insert(task.app_id.clone());
            entry.last_task_failure = Some(TaskFailure {
                app_id: task.app_id.to_string(),
                host: task.host.clone(),
                message,
                state: state.as_str_name().to_string(),
                task_id: task_id.to_string(),
                slave_id: task.agent_id.clone(),
                timestamp,
                version: task.version.clone(),
            });
        }
    }

    /// What a task's new state means for its app's launch delay
    /// (`NotifyRateLimiterStepImpl.scala`): an end 5K did not ask for
    /// delays the next launch, a start moves the delay on. Only tasks of
    /// the app's current configuration count: an old one failing says
    /// nothing of the new.
    fn note_for_backoff(&mut self, task: &Task, state: TaskState) {
        let Some(entry) = self.apps.get(&task.app_id) else {
            return;
        };
        if task.config_version != entry.app.config_version() {
            return;
        }
        if is_terminal(state) && !task.killing && is_limit_worthy(state) {
            self.backoff.failed(&entry.app, self.instant);
        } else if matches!(state, TaskState::TaskStarting | TaskState::TaskRunning) {
            self.backoff.started(&entry.app, self.instant);
        }
    }

    /// Forgets every task, for when the master says they are all gone.
    pub(super) fn forget_all_tasks(&mut self, why: &str) {
        let ids: Vec<String> = self.tasks.all().map(|task| task.id.clone()).collect();
        tracing::warn!(tasks = ids.len(), "{why}: forgetting our tasks");
        for id in ids {
            self.tasks.remove(&id);
            self.health.remove(&id);
        }
        self.dirty.extend(self.apps.keys().cloned());
    }
}

/// A state after which 5K counts the task as gone: Mesos' own terminal
/// states (`TaskState::is_terminal`), and two more. TASK_UNREACHABLE: like
/// Marathon's default `unreachableStrategy` (0 s), the instance is
/// replaced at once, and should the task come back it is unknown and
/// killed. TASK_UNKNOWN: the master knows nothing of it.
pub fn is_terminal(state: TaskState) -> bool {
    state.is_terminal() || matches!(state, TaskState::TaskUnreachable | TaskState::TaskUnknown)
}

/// The terminal states Marathon reports as the app's `lastTaskFailure`
/// (a kill asked for, or a task that finished, is no failure).
fn is_failure(state: TaskState) -> bool {
    is_terminal(state) && !matches!(state, TaskState::TaskKilled | TaskState::TaskFinished)
}

/// Whether an end not asked for counts as the app failing: any, even
/// TASK_FINISHED (a long-running app must not exit), but those that say
/// the agent or the network failed, not the app (Marathon's
/// `limitWorthy` leaves out Unreachable and Unknown, which TASK_LOST
/// mostly is), and TASK_KILLED, which is not in `limitWorthy` either
/// (`NotifyRateLimiterStepImpl.scala`): 5K did not ask for it, so the
/// agent killed the task, for failing its COMMAND or MESOS_ check.
fn is_limit_worthy(state: TaskState) -> bool {
    !matches!(
        state,
        TaskState::TaskLost
            | TaskState::TaskUnreachable
            | TaskState::TaskUnknown
            | TaskState::TaskKilled
    )
}
