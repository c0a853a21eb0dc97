//! Which task states are final.
//!
//! A scheduler's most common question about a status update is "is this
//! task gone for good?". If so, its resources are free and, for a service,
//! a replacement must be launched. TASK_UNREACHABLE is *not* final: the
//! agent may come back with the task still running (partition-aware
//! frameworks see it; others get TASK_LOST instead).

use crate::v1::TaskState;

impl TaskState {
    /// Whether the task will never run again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::TaskFinished
                | TaskState::TaskFailed
                | TaskState::TaskKilled
                | TaskState::TaskError
                | TaskState::TaskLost
                | TaskState::TaskDropped
                | TaskState::TaskGone
                | TaskState::TaskGoneByOperator
                | TaskState::TaskUnknown
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_and_passing_states() {
        for state in [
            TaskState::TaskFinished,
            TaskState::TaskFailed,
            TaskState::TaskLost,
            TaskState::TaskGone,
        ] {
            assert!(state.is_terminal(), "{state:?}");
        }
        for state in [
            TaskState::TaskStaging,
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskKilling,
            TaskState::TaskUnreachable,
        ] {
            assert!(!state.is_terminal(), "{state:?}");
        }
    }
}
