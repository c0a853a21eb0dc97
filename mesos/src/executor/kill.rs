//! How long a task gets to stop when it is killed.
//!
//! A task's `kill_policy` says how long to wait between asking it to stop
//! (SIGTERM) and forcing it (SIGKILL). A scheduler may override it for one
//! kill: the KILL event then carries its own policy, which wins, as in the
//! command executor (`src/launcher/executor.cpp`, `Event::KILL`).

use crate::v1::{KillPolicy, TaskInfo, executor::event};

/// The kill policy that applies to this KILL of `task`: the event's own,
/// else the task's, else none (the executor's default grace period).
pub fn effective_kill_policy(task: &TaskInfo, kill: &event::Kill) -> Option<KillPolicy> {
    kill.kill_policy.or(task.kill_policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{DurationInfo, TaskId};

    fn policy(seconds: i64) -> KillPolicy {
        KillPolicy {
            grace_period: Some(DurationInfo {
                nanoseconds: seconds * 1_000_000_000,
            }),
        }
    }

    #[test]
    fn the_kills_policy_overrides_the_tasks() {
        let mut task = TaskInfo::default();
        let mut kill = event::Kill {
            task_id: TaskId::default(),
            kill_policy: None,
        };
        assert_eq!(effective_kill_policy(&task, &kill), None);
        task.kill_policy = Some(policy(10));
        assert_eq!(effective_kill_policy(&task, &kill), Some(policy(10)));
        kill.kill_policy = Some(policy(1));
        assert_eq!(effective_kill_policy(&task, &kill), Some(policy(1)));
    }
}
