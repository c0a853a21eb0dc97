//! Builders for what an executor hears, and readers for what it says, so
//! that a test of its decisions reads like the scenario it checks.
//!
//! An executor written as a pure function of its state and one
//! [`ExecutorDriverEvent`] is tested without an agent: feed it events
//! built here, look at the status updates it decides.
//!
//! ```
//! use mesos::testing::executor::*;
//! use mesos::v1::TaskState;
//!
//! let events = [subscribed("executor-1"), launch(task("task-1")), kill("task-1")];
//! // … the executor decides; say it sent these:
//! let sent = [
//!     mesos::executor::status("task-1", TaskState::TaskRunning),
//!     mesos::executor::status("task-1", TaskState::TaskKilled),
//! ];
//! assert_eq!(states_of(&sent, "task-1"), [TaskState::TaskRunning, TaskState::TaskKilled]);
//! # let _ = events;
//! ```

use std::time::Duration;

use bytes::Bytes;

use crate::{
    executor::ExecutorDriverEvent,
    v1::{
        AgentId, AgentInfo, CommandInfo, DurationInfo, ExecutorId, ExecutorInfo, FrameworkId,
        FrameworkInfo, KillPolicy, TaskGroupInfo, TaskId, TaskInfo, TaskState, TaskStatus,
        executor::{Call, Event, call, event},
    },
};

fn event(r#type: event::Type, fill: impl FnOnce(&mut Event)) -> ExecutorDriverEvent {
    let mut event = Event {
        r#type: Some(r#type as i32),
        ..Default::default()
    };
    fill(&mut event);
    ExecutorDriverEvent::Event(event)
}

/// A task with this ID (and name), on agent `agent-1`, running `true`.
pub fn task(task_id: &str) -> TaskInfo {
    TaskInfo {
        name: task_id.to_string(),
        task_id: TaskId {
            value: task_id.to_string(),
        },
        agent_id: AgentId {
            value: "agent-1".into(),
        },
        command: Some(CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// SUBSCRIBED as `executor_id` of framework `framework-1` on `agent-1`.
pub fn subscribed(executor_id: &str) -> ExecutorDriverEvent {
    event(event::Type::Subscribed, |event| {
        event.subscribed = Some(event::Subscribed {
            executor_info: ExecutorInfo {
                executor_id: ExecutorId {
                    value: executor_id.to_string(),
                },
                framework_id: Some(FrameworkId {
                    value: "framework-1".into(),
                }),
                ..Default::default()
            },
            framework_info: FrameworkInfo {
                user: "root".into(),
                name: "framework".into(),
                id: Some(FrameworkId {
                    value: "framework-1".into(),
                }),
                ..Default::default()
            },
            agent_info: AgentInfo {
                hostname: "agent-1.example".into(),
                id: Some(AgentId {
                    value: "agent-1".into(),
                }),
                ..Default::default()
            },
            container_id: None,
        })
    })
}

/// LAUNCH of one task.
pub fn launch(task: TaskInfo) -> ExecutorDriverEvent {
    event(event::Type::Launch, |event| {
        event.launch = Some(event::Launch { task })
    })
}

/// LAUNCH_GROUP of these tasks.
pub fn launch_group(tasks: impl IntoIterator<Item = TaskInfo>) -> ExecutorDriverEvent {
    event(event::Type::LaunchGroup, |event| {
        event.launch_group = Some(event::LaunchGroup {
            task_group: TaskGroupInfo {
                tasks: tasks.into_iter().collect(),
            },
        })
    })
}

/// KILL of a task, with the task's own kill policy.
pub fn kill(task_id: &str) -> ExecutorDriverEvent {
    kill_with(task_id, None)
}

/// KILL of a task whose grace period the scheduler overrides.
pub fn kill_with_grace_period(task_id: &str, grace_period: Duration) -> ExecutorDriverEvent {
    let nanoseconds = i64::try_from(grace_period.as_nanos()).unwrap_or(i64::MAX);
    let policy = KillPolicy {
        grace_period: Some(DurationInfo { nanoseconds }),
    };
    kill_with(task_id, Some(policy))
}

fn kill_with(task_id: &str, kill_policy: Option<KillPolicy>) -> ExecutorDriverEvent {
    event(event::Type::Kill, |event| {
        event.kill = Some(event::Kill {
            task_id: TaskId {
                value: task_id.to_string(),
            },
            kill_policy,
        })
    })
}

/// ACKNOWLEDGED of the update of `task_id` with `uuid`.
pub fn acknowledged(task_id: &str, uuid: impl Into<Bytes>) -> ExecutorDriverEvent {
    event(event::Type::Acknowledged, |event| {
        event.acknowledged = Some(event::Acknowledged {
            task_id: TaskId {
                value: task_id.to_string(),
            },
            uuid: uuid.into(),
        })
    })
}

/// ACKNOWLEDGED of this update (as sent: with its uuid).
pub fn acknowledge(status: &TaskStatus) -> ExecutorDriverEvent {
    let uuid = status.uuid.clone().expect("a sent update has a uuid");
    acknowledged(&status.task_id.value, uuid)
}

/// MESSAGE from the scheduler.
pub fn message(data: impl Into<Bytes>) -> ExecutorDriverEvent {
    event(event::Type::Message, |event| {
        event.message = Some(event::Message { data: data.into() })
    })
}

/// ERROR with this message.
pub fn error(message: &str) -> ExecutorDriverEvent {
    event(event::Type::Error, |event| {
        event.error = Some(event::Error {
            message: message.to_string(),
        })
    })
}

/// The agent's SHUTDOWN, as the driver passes it on: 5 s of grace.
pub fn shutdown() -> ExecutorDriverEvent {
    ExecutorDriverEvent::Shutdown {
        reason: "the agent asked the executor to shut down".into(),
        grace_period: Duration::from_secs(5),
    }
}

/// The connection to the agent is lost.
pub fn disconnected() -> ExecutorDriverEvent {
    ExecutorDriverEvent::Disconnected {
        reason: "the agent closed the event stream".into(),
    }
}

/// The driver stopped (the grace period passed).
pub fn stopped() -> ExecutorDriverEvent {
    ExecutorDriverEvent::Stopped {
        reason: "the shutdown grace period has passed".into(),
    }
}

/// (task ID, state) of each update, in order.
pub fn states<'a>(updates: impl IntoIterator<Item = &'a TaskStatus>) -> Vec<(String, TaskState)> {
    let updates = updates.into_iter();
    updates
        .map(|s| (s.task_id.value.clone(), s.state()))
        .collect()
}

/// The states sent for one task, in order.
pub fn states_of<'a>(
    updates: impl IntoIterator<Item = &'a TaskStatus>,
    task_id: &str,
) -> Vec<TaskState> {
    let updates = updates.into_iter().filter(|s| s.task_id.value == task_id);
    updates.map(TaskStatus::state).collect()
}

/// The type of each executor call, in order.
pub fn kinds(calls: &[Call]) -> Vec<call::Type> {
    calls.iter().map(Call::r#type).collect()
}

/// The updates of UPDATE calls, in order.
pub fn updates(calls: &[Call]) -> Vec<&TaskStatus> {
    let updates = calls.iter().filter_map(|c| c.update.as_ref());
    updates.map(|u| &u.status).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{calls::Caller, status};

    #[test]
    fn builders_make_what_they_say() {
        let ExecutorDriverEvent::Event(event) = acknowledged("t1", vec![7; 16]) else {
            panic!("not an event");
        };
        assert_eq!(event.r#type(), event::Type::Acknowledged);
        assert_eq!(event.acknowledged.unwrap().uuid, vec![7; 16]);
        let ExecutorDriverEvent::Event(event) = launch_group([task("a"), task("b")]) else {
            panic!("not an event");
        };
        assert_eq!(event.launch_group.unwrap().task_group.tasks.len(), 2);
        let ExecutorDriverEvent::Event(event) =
            kill_with_grace_period("t1", Duration::from_secs(2))
        else {
            panic!("not an event");
        };
        let policy = event.kill.unwrap().kill_policy.unwrap();
        assert_eq!(policy.grace_period.unwrap().nanoseconds, 2_000_000_000);
    }

    #[test]
    fn readers_read_updates_and_calls() {
        let caller = Caller {
            framework_id: FrameworkId { value: "f".into() },
            executor_id: ExecutorId { value: "e".into() },
        };
        let calls = [
            caller.update(status("t1", TaskState::TaskRunning)),
            caller.heartbeat(),
            caller.update(status("t2", TaskState::TaskRunning)),
            caller.update(status("t1", TaskState::TaskFinished)),
        ];
        assert_eq!(kinds(&calls)[1], call::Type::Heartbeat);
        let sent = updates(&calls);
        assert_eq!(
            states_of(sent.iter().copied(), "t1"),
            [TaskState::TaskRunning, TaskState::TaskFinished]
        );
        assert_eq!(states(sent)[1], ("t2".to_string(), TaskState::TaskRunning));
    }
}
