//! What an executor must not forget: its tasks, and the updates the agent
//! has not acknowledged.
//!
//! The agent acknowledges every status update it receives (an ACKNOWLEDGED
//! event, as soon as it has stored the update; the scheduler's own
//! acknowledgement comes later, and the executor never sees it). Until
//! then the update may be lost: the agent may restart, the connection may
//! drop. So the executor keeps each update until it is acknowledged and
//! re-sends the rest in its next SUBSCRIBE, with the tasks it was given
//! and has not had an update acknowledged for (the agent may not know it
//! launched them). This is what `doReliableRegistration` in
//! `src/launcher/executor.cpp` sends.
//!
//! When is an executor done? The command executor exits once the agent
//! has acknowledged its task's terminal update: Mesos then knows the end
//! of the task, and nothing is left to say. With several tasks, an
//! executor is done once every task it was given has had a terminal
//! update acknowledged ([`Tasks::is_finished`]).
//!
//! No I/O here: the driver calls these methods as events come and updates
//! go, and tests call them directly.

use crate::v1::{TaskInfo, TaskState, executor::call};

/// The tasks an executor was given and the updates it sent.
#[derive(Debug, Default)]
pub struct Tasks {
    tasks: Vec<TaskRecord>,
    /// Updates not acknowledged yet, in the order they were sent, with
    /// the number of their recording (see [`Tasks::mark`]).
    updates: Vec<(u64, call::Update)>,
    /// How many updates were ever recorded.
    recorded: u64,
}

#[derive(Debug)]
struct TaskRecord {
    info: TaskInfo,
    /// Some update of this task was acknowledged: the agent knows the
    /// executor has it.
    acknowledged: bool,
    /// A terminal update of this task was acknowledged.
    finished: bool,
}

/// What an ACKNOWLEDGED event meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acknowledgement {
    /// It acknowledged this update (its state), which is now forgotten.
    Update(TaskState),
    /// No update with this task ID and uuid is waiting (a duplicate, or an
    /// update from before this executor started).
    Unknown,
}

impl Tasks {
    pub fn new() -> Self {
        Self::default()
    }

    /// A task given by LAUNCH, or one of a LAUNCH_GROUP. A task launched
    /// twice (the agent re-sends nothing, but be safe) is recorded once.
    pub fn launched(&mut self, task: TaskInfo) {
        if self.tasks.iter().any(|t| t.info.task_id == task.task_id) {
            return;
        }
        self.tasks.push(TaskRecord {
            info: task,
            acknowledged: false,
            finished: false,
        });
    }

    /// An update sent (or about to be): kept until acknowledged.
    pub fn sent(&mut self, update: call::Update) {
        self.recorded += 1;
        self.updates.push((self.recorded, update));
    }

    /// An update the agent refused (400): it will never be acknowledged,
    /// and must not go into the next SUBSCRIBE.
    pub fn refused(&mut self, uuid: &[u8]) {
        self.updates
            .retain(|(_, update)| update.status.uuid.as_deref() != Some(uuid));
    }

    /// ACKNOWLEDGED of the update of `task_id` with `uuid`.
    pub fn acknowledged(&mut self, task_id: &str, uuid: &[u8]) -> Acknowledgement {
        let position = self.updates.iter().position(|(_, update)| {
            update.status.task_id.value == task_id && update.status.uuid.as_deref() == Some(uuid)
        });
        let Some(position) = position else {
            return Acknowledgement::Unknown;
        };
        let (_, update) = self.updates.remove(position);
        let state = update.status.state();
        if let Some(task) = self
            .tasks
            .iter_mut()
            .find(|t| t.info.task_id.value == task_id)
        {
            task.acknowledged = true;
            task.finished |= state.is_terminal();
        }
        Acknowledgement::Update(state)
    }

    /// The tasks for which no update has been acknowledged, for SUBSCRIBE.
    pub fn unacknowledged_tasks(&self) -> Vec<TaskInfo> {
        let tasks = self.tasks.iter().filter(|t| !t.acknowledged);
        tasks.map(|t| t.info.clone()).collect()
    }

    /// The updates not acknowledged, oldest first, for SUBSCRIBE.
    pub fn unacknowledged_updates(&self) -> Vec<call::Update> {
        self.updates.iter().map(|(_, u)| u.clone()).collect()
    }

    /// How many updates have been recorded so far: a SUBSCRIBE built now
    /// carries all those still unacknowledged, and [`Tasks::sent_since`]
    /// gives the ones recorded after it.
    pub fn mark(&self) -> u64 {
        self.recorded
    }

    /// The unacknowledged updates recorded after `mark`.
    pub fn sent_since(&self, mark: u64) -> Vec<call::Update> {
        let later = self.updates.iter().filter(|(number, _)| *number > mark);
        later.map(|(_, u)| u.clone()).collect()
    }

    /// The task with this ID, if the executor was given it.
    pub fn task(&self, task_id: &str) -> Option<&TaskInfo> {
        let mut tasks = self.tasks.iter();
        tasks
            .find(|t| t.info.task_id.value == task_id)
            .map(|t| &t.info)
    }

    /// Whether the executor is done: it was given tasks, each has had a
    /// terminal update acknowledged, and no update waits for an
    /// acknowledgement.
    pub fn is_finished(&self) -> bool {
        !self.tasks.is_empty() && self.tasks.iter().all(|t| t.finished) && self.updates.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    use crate::v1::{TaskId, TaskStatus};

    fn task(id: &str) -> TaskInfo {
        TaskInfo {
            task_id: TaskId { value: id.into() },
            name: id.into(),
            ..Default::default()
        }
    }

    fn update(task_id: &str, state: TaskState, uuid: u8) -> call::Update {
        call::Update {
            status: TaskStatus {
                task_id: TaskId {
                    value: task_id.into(),
                },
                state: state as i32,
                uuid: Some(Bytes::from(vec![uuid; 16])),
                ..Default::default()
            },
        }
    }

    fn ids(tasks: &[TaskInfo]) -> Vec<&str> {
        tasks.iter().map(|t| t.task_id.value.as_str()).collect()
    }

    fn states(updates: &[call::Update]) -> Vec<(String, TaskState)> {
        let states = updates
            .iter()
            .map(|u| (u.status.task_id.value.clone(), u.status.state()));
        states.collect()
    }

    #[test]
    fn a_task_is_unacknowledged_until_one_of_its_updates_is() {
        let mut tasks = Tasks::new();
        tasks.launched(task("t1"));
        tasks.launched(task("t1"));
        tasks.launched(task("t2"));
        assert_eq!(ids(&tasks.unacknowledged_tasks()), ["t1", "t2"]);
        tasks.sent(update("t1", TaskState::TaskStarting, 1));
        assert_eq!(ids(&tasks.unacknowledged_tasks()), ["t1", "t2"]);
        assert_eq!(
            tasks.acknowledged("t1", &[1; 16]),
            Acknowledgement::Update(TaskState::TaskStarting)
        );
        assert_eq!(ids(&tasks.unacknowledged_tasks()), ["t2"]);
    }

    #[test]
    fn updates_wait_for_their_acknowledgement_by_task_and_uuid() {
        let mut tasks = Tasks::new();
        tasks.launched(task("t1"));
        tasks.sent(update("t1", TaskState::TaskStarting, 1));
        tasks.sent(update("t1", TaskState::TaskRunning, 2));
        // The right uuid for another task, and an unknown uuid: no match.
        assert_eq!(tasks.acknowledged("t2", &[1; 16]), Acknowledgement::Unknown);
        assert_eq!(tasks.acknowledged("t1", &[9; 16]), Acknowledgement::Unknown);
        assert_eq!(tasks.unacknowledged_updates().len(), 2);
        tasks.acknowledged("t1", &[2; 16]);
        assert_eq!(
            states(&tasks.unacknowledged_updates()),
            [("t1".to_string(), TaskState::TaskStarting)]
        );
        // Acknowledged twice: the second is unknown.
        assert_eq!(tasks.acknowledged("t1", &[2; 16]), Acknowledgement::Unknown);
    }

    #[test]
    fn finished_once_every_task_has_a_terminal_update_acknowledged() {
        let mut tasks = Tasks::new();
        assert!(!tasks.is_finished(), "no task yet: not finished");
        tasks.launched(task("t1"));
        tasks.launched(task("t2"));
        tasks.sent(update("t1", TaskState::TaskFinished, 1));
        tasks.acknowledged("t1", &[1; 16]);
        assert!(!tasks.is_finished(), "t2 still runs");
        tasks.sent(update("t2", TaskState::TaskRunning, 2));
        tasks.sent(update("t2", TaskState::TaskKilled, 3));
        tasks.acknowledged("t2", &[3; 16]);
        assert!(
            !tasks.is_finished(),
            "TASK_RUNNING of t2 is not acknowledged"
        );
        tasks.acknowledged("t2", &[2; 16]);
        assert!(tasks.is_finished());
    }

    #[test]
    fn a_non_terminal_acknowledgement_does_not_finish() {
        let mut tasks = Tasks::new();
        tasks.launched(task("t1"));
        tasks.sent(update("t1", TaskState::TaskRunning, 1));
        tasks.acknowledged("t1", &[1; 16]);
        assert!(!tasks.is_finished());
    }

    #[test]
    fn updates_after_a_mark_and_refusals() {
        let mut tasks = Tasks::new();
        tasks.sent(update("t1", TaskState::TaskStarting, 1));
        let mark = tasks.mark();
        tasks.sent(update("t1", TaskState::TaskRunning, 2));
        assert_eq!(
            states(&tasks.sent_since(mark)),
            [("t1".to_string(), TaskState::TaskRunning)]
        );
        tasks.refused(&[2; 16]);
        assert!(tasks.sent_since(mark).is_empty());
        assert_eq!(tasks.unacknowledged_updates().len(), 1);
    }
}
