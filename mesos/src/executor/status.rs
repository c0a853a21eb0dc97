//! Status updates, as an executor's decisions make them.
//!
//! An executor's main output is status updates: TASK_STARTING, then
//! TASK_RUNNING, then one terminal state. Its decisions are best plain
//! functions of its state and an event (no clock, no randomness), so
//! [`status`] builds only what the decision chooses: the task, the state,
//! maybe a reason and a message. The driver fills in the rest when it
//! sends the update ([`fill_in`]), as the command executor's
//! `createTaskStatus` (`src/launcher/executor.cpp`) does: the executor ID,
//! SOURCE_EXECUTOR, a fresh uuid and the time.

use bytes::Bytes;

use crate::{
    executor::error::{Error, Result},
    v1::{
        ExecutorId, TaskId, TaskState, TaskStatus,
        task_status::{Reason, Source},
    },
};

/// An update saying `task_id` is in `state`; the driver fills in the
/// executor ID, source, uuid and timestamp when it sends it.
///
/// ```
/// use mesos::executor::{TaskStatusExt, status};
/// use mesos::v1::{TaskState, task_status::Reason};
///
/// let failed = status("task-1", TaskState::TaskFailed)
///     .with_reason(Reason::CommandExecutorFailed)
///     .with_message("exited with status 3");
/// assert_eq!(failed.state(), TaskState::TaskFailed);
/// ```
pub fn status(task_id: impl Into<String>, state: TaskState) -> TaskStatus {
    TaskStatus {
        task_id: TaskId {
            value: task_id.into(),
        },
        state: state as i32,
        ..Default::default()
    }
}

/// Chained setters for the optional parts of a [`TaskStatus`].
pub trait TaskStatusExt: Sized {
    fn with_reason(self, reason: Reason) -> Self;
    fn with_message(self, message: impl Into<String>) -> Self;
    /// Data for the scheduler (it gets it in the update).
    fn with_data(self, data: impl Into<Bytes>) -> Self;
    fn with_healthy(self, healthy: bool) -> Self;
}

impl TaskStatusExt for TaskStatus {
    fn with_reason(mut self, reason: Reason) -> Self {
        self.reason = Some(reason as i32);
        self
    }

    fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    fn with_data(mut self, data: impl Into<Bytes>) -> Self {
        self.data = Some(data.into());
        self
    }

    fn with_healthy(mut self, healthy: bool) -> Self {
        self.healthy = Some(healthy);
        self
    }
}

/// Makes `status` an update the agent accepts (`validateExecutorCall`
/// in `src/common/validation.cpp`): from this executor, SOURCE_EXECUTOR,
/// with a new random uuid (the agent's acknowledgement names it) and the
/// current time, as `createTaskStatus` in `src/launcher/executor.cpp`.
/// TASK_STAGING is refused: it is the agent's state for a task no
/// executor has seen, and the agent refuses it from an executor.
pub fn fill_in(mut status: TaskStatus, executor_id: &ExecutorId) -> Result<TaskStatus> {
    if status.state() == TaskState::TaskStaging {
        return Err(Error::InvalidUpdate(format!(
            "TASK_STAGING for task {}: an executor may not send it, the agent refuses it",
            status.task_id.value
        )));
    }
    if status.task_id.value.is_empty() {
        return Err(Error::InvalidUpdate(
            "a status update without a task ID".into(),
        ));
    }
    if let Some(other) = &status.executor_id {
        if other != executor_id {
            return Err(Error::InvalidUpdate(format!(
                "the update of task {} names executor {}, but this is {}",
                status.task_id.value, other.value, executor_id.value
            )));
        }
    }
    status.executor_id = Some(executor_id.clone());
    status.source = Some(Source::Executor as i32);
    status.uuid = Some(Bytes::copy_from_slice(uuid::Uuid::new_v4().as_bytes()));
    status.timestamp = Some(now());
    Ok(status)
}

/// Seconds since the epoch, as Mesos' `Clock::now().secs()`.
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executor() -> ExecutorId {
        ExecutorId {
            value: "executor-1".into(),
        }
    }

    #[test]
    fn fills_in_what_the_command_executor_fills_in() {
        let sent = fill_in(status("task-1", TaskState::TaskRunning), &executor()).unwrap();
        assert_eq!(sent.executor_id, Some(executor()));
        assert_eq!(sent.source(), Source::Executor);
        let uuid = sent.uuid.clone().unwrap();
        assert_eq!(uuid.len(), 16);
        assert_eq!(uuid::Uuid::from_slice(&uuid).unwrap().get_version_num(), 4);
        assert!(sent.timestamp.unwrap() > 1.5e9);
        let again = fill_in(status("task-1", TaskState::TaskRunning), &executor()).unwrap();
        assert_ne!(again.uuid, sent.uuid, "every update gets its own uuid");
    }

    #[test]
    fn keeps_what_the_decision_chose() {
        let chosen = status("task-1", TaskState::TaskFailed)
            .with_reason(Reason::CommandExecutorFailed)
            .with_message("exit 3")
            .with_data(Bytes::from_static(b"x"))
            .with_healthy(false);
        let sent = fill_in(chosen, &executor()).unwrap();
        assert_eq!(sent.reason(), Reason::CommandExecutorFailed);
        assert_eq!(sent.message.as_deref(), Some("exit 3"));
        assert_eq!(sent.data.as_deref(), Some(&b"x"[..]));
        assert_eq!(sent.healthy, Some(false));
    }

    #[test]
    fn refuses_staging_and_strangers() {
        let error = fill_in(status("task-1", TaskState::TaskStaging), &executor()).unwrap_err();
        assert!(error.to_string().contains("TASK_STAGING"), "{error}");
        assert!(fill_in(status("", TaskState::TaskRunning), &executor()).is_err());
        let mut other = status("task-1", TaskState::TaskRunning);
        other.executor_id = Some(ExecutorId {
            value: "executor-2".into(),
        });
        assert!(fill_in(other, &executor()).is_err());
    }
}
