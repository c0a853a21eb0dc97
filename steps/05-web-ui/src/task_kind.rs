//! Who runs a task on the agent: Mesos' command executor, or ours.
//!
//! Every task runs under an *executor*, a process on the agent that
//! starts the task and reports on it. A task with a `command` gets Mesos'
//! own command executor, which runs it in the agent's shell, or in a
//! Docker image if the task has a container. A task that names an
//! `ExecutorInfo` instead runs on that executor: here, this very program
//! (`src/executor.rs`), which the scheduler can talk to with framework
//! messages. It costs resources of its own, and an agent must be able to
//! start it.

use bytes::Bytes;
use mesos::{
    calls, offers,
    resources::Resources,
    v1::{
        CommandInfo, TaskInfo, TaskState, TaskStatus,
        scheduler::{Call, event},
    },
};

use crate::executor::UPTIME_QUESTION;

/// What our executor needs beside its task: Mesos' minimum for an executor
/// (`MIN_CPUS`, `MIN_MEM` in `src/master/constants.hpp`), with room.
pub const EXECUTOR_RESOURCES: &str = "cpus:0.05;mem:32";

/// Who runs the command on the agent.
#[derive(Debug, Clone)]
pub enum TaskKind {
    /// Mesos' command executor, in the agent's shell.
    Shell,
    /// Mesos' command executor, in this Docker image.
    Docker { image: String },
    /// Our own executor (`src/executor.rs`), which the agent starts with
    /// this command; it gets the shell command in the task's `data`.
    Executor { start: CommandInfo },
}

impl TaskKind {
    /// What each task needs beside its own resources: our executor's
    /// share, which must fit in the same offer (or neither launches).
    pub fn executor_resources(&self) -> Resources {
        match self {
            TaskKind::Executor { .. } => {
                Resources::parse(EXECUTOR_RESOURCES).expect("valid resources")
            }
            _ => Resources::default(),
        }
    }

    /// Makes `task`, built to run its command in the agent's shell, run as
    /// this kind says; `executor_resources` is the share taken for our
    /// executor.
    pub fn apply(&self, task: &mut TaskInfo, name: &str, executor_resources: Resources) {
        match self {
            TaskKind::Shell => {}
            TaskKind::Docker { image } => task.container = Some(offers::docker_container(image)),
            TaskKind::Executor { start } => {
                // One executor per task, named after it, as Mesos names its
                // command executors. A task on a custom executor may not
                // have a command of its own: the executor reads it from
                // `data`.
                let executor_id = task.task_id.value.clone();
                let executor = offers::executor_info(
                    executor_id,
                    format!("{name} executor"),
                    executor_resources,
                    start.clone(),
                );
                task.executor = Some(Box::new(executor));
                task.data = task
                    .command
                    .take()
                    .and_then(|command| command.value)
                    .map(Bytes::from);
            }
        }
    }

    /// Our own executor can be talked to, with framework messages: ask it
    /// how a task that started running is doing. (It answers with a
    /// MESSAGE event. Mesos delivers messages at most once: a question or
    /// an answer may be lost, so never count on one.)
    pub fn ask_executor(&self, status: &TaskStatus) -> Option<Call> {
        let TaskKind::Executor { .. } = self else {
            return None;
        };
        let (TaskState::TaskRunning, Some(executor_id), Some(agent_id)) =
            (status.state(), &status.executor_id, &status.agent_id)
        else {
            return None;
        };
        Some(calls::message(
            agent_id.clone(),
            executor_id.clone(),
            Bytes::from_static(UPTIME_QUESTION),
        ))
    }
}

/// A framework message: our executor's answer.
pub fn on_message(message: &event::Message) -> Vec<Call> {
    let answer = String::from_utf8_lossy(&message.data);
    tracing::info!(executor = %message.executor_id.value, agent = %message.agent_id.value, "our executor says: {answer}");
    vec![]
}

#[cfg(test)]
mod tests {
    use mesos::{
        offers::OfferPacker,
        testing::{calls as read, events::*},
        v1::AgentId,
    };

    use super::*;

    fn executor_kind() -> TaskKind {
        TaskKind::Executor {
            start: offers::command_info_shell("exec ./hello executor"),
        }
    }

    fn shell_task() -> TaskInfo {
        let resources = Resources::parse("cpus:0.5;mem:128").unwrap();
        let agent = AgentId {
            value: "a-1".into(),
        };
        offers::task_info(
            "hello",
            "t-1",
            &agent,
            resources,
            offers::command_info_shell("sleep 600"),
        )
    }

    #[test]
    fn on_our_executor_the_task_carries_its_command_as_data_and_the_executor_its_own_share() {
        let mut task = shell_task();
        let kind = executor_kind();
        kind.apply(&mut task, "hello", kind.executor_resources());
        assert!(
            task.command.is_none(),
            "a task on a custom executor has no command of its own"
        );
        assert_eq!(task.data.as_deref(), Some(&b"sleep 600"[..]));
        let executor = task.executor.expect("an executor");
        assert_eq!(executor.executor_id.value, "t-1");
        assert_eq!(
            Resources::from(executor.resources).to_string(),
            EXECUTOR_RESOURCES
        );
        assert_eq!(
            executor.command.and_then(|c| c.value).as_deref(),
            Some("exec ./hello executor")
        );
    }

    #[test]
    fn the_command_executor_kinds_keep_the_command() {
        let mut task = shell_task();
        TaskKind::Docker {
            image: "busybox".into(),
        }
        .apply(&mut task, "hello", Resources::default());
        assert!(task.container.is_some() && task.command.is_some() && task.executor.is_none());
        assert!(TaskKind::Shell.executor_resources().is_empty());
    }

    #[test]
    fn a_task_and_its_executor_fit_together_or_not_at_all() {
        let task = Resources::parse("cpus:0.5;mem:128").unwrap();
        let needs = offers::TaskRequirements::new(task + executor_kind().executor_resources());
        // Room for the task, not for its executor too.
        let mut packer = OfferPacker::from_resources(Resources::parse("cpus:0.5;mem:150").unwrap());
        assert!(packer.take(&needs).is_none());
    }

    #[test]
    fn our_executor_is_asked_how_its_running_task_does_and_nobody_else_is() {
        let running = update("t-1", TaskState::TaskRunning)
            .on("a-1")
            .from_executor("t-1")
            .reliable();
        let asked = executor_kind().ask_executor(&running.status());
        assert_eq!(
            read::messages(&Vec::from_iter(asked)),
            [("t-1".to_string(), Bytes::from_static(UPTIME_QUESTION))]
        );
        // Mesos' command executor would not understand.
        assert!(TaskKind::Shell.ask_executor(&running.status()).is_none());
        // Only a running task is asked about.
        let staging = update("t-1", TaskState::TaskStarting)
            .on("a-1")
            .from_executor("t-1")
            .reliable();
        assert!(executor_kind().ask_executor(&staging.status()).is_none());
    }
}
