//! Which task states are final.
//!
//! A scheduler's most common question about a status update is "is this
//! task gone for good?". If so, its resources are free and, for a service,
//! a replacement must be launched. The answer is Mesos' own
//! (`isTerminalState`, `src/common/protobuf_utils.cpp`):
//!
//! * TASK_UNREACHABLE is *not* final: the agent may come back with the task
//!   still running (partition-aware frameworks see it; others get
//!   TASK_LOST instead).
//! * TASK_UNKNOWN is not final either, for Mesos: it is what reconciliation
//!   answers (to partition-aware frameworks) about a task the master does
//!   not know, on an agent it does not know. The task is gone *as far as
//!   the master can tell*, so a scheduler that asked treats it as gone; but
//!   that is the scheduler's decision, made explicitly where it asks.

use crate::v1::TaskState;

impl TaskState {
    /// Whether the task will never run again: Mesos' `isTerminalState`.
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
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_is_final_or_not_as_mesos_says() {
        use TaskState::*;
        let terminal = [
            TaskFinished,
            TaskFailed,
            TaskKilled,
            TaskError,
            TaskLost,
            TaskDropped,
            TaskGone,
            TaskGoneByOperator,
        ];
        let passing = [
            TaskStaging,
            TaskStarting,
            TaskRunning,
            TaskKilling,
            TaskUnreachable,
            TaskUnknown,
        ];
        // Every state of the protocol is in one list or the other.
        let all: Vec<TaskState> = (0..32)
            .filter_map(|n| TaskState::try_from(n).ok())
            .collect();
        assert_eq!(all.len(), terminal.len() + passing.len(), "{all:?}");
        for state in terminal {
            assert!(state.is_terminal(), "{state:?}");
        }
        for state in passing {
            assert!(!state.is_terminal(), "{state:?}");
        }
    }
}
