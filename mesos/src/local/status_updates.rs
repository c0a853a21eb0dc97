//! The agent's status update manager: reliable, ordered task updates.
//!
//! Mesos messages are delivered at most once, but a framework must learn
//! every state change of its tasks. So the agent keeps each update until
//! the framework acknowledges it (ACKNOWLEDGE with the update's `uuid`)
//! and re-sends it, with exponential backoff, until then
//! (`src/status_update_manager` in Mesos; the first retry comes after
//! 10 seconds). Updates of one task form a *stream*: the next update is
//! held back until the previous one is acknowledged, so a framework sees a
//! task's states in order, each at least once.
//!
//! The consequence framework authors must know: a scheduler that does not
//! acknowledge stops hearing about that task, and one that processes an
//! update twice must not be surprised (retries are duplicates).

use std::{
    collections::{HashMap, HashSet, VecDeque},
    time::Duration,
};

use bytes::Bytes;

use crate::v1::{TaskState, TaskStatus};

/// The longest wait between two retries of one update (Mesos: 10 minutes).
const MAX_RETRY_INTERVAL: Duration = Duration::from_secs(600);

/// All update streams of one agent, keyed by (framework ID, task ID).
#[derive(Debug, Default)]
pub(crate) struct StatusUpdateManager {
    streams: HashMap<(String, String), Stream>,
}

#[derive(Debug, Default)]
struct Stream {
    /// The front is in flight (sent, not yet acknowledged).
    pending: VecDeque<TaskStatus>,
    /// How many times the front has been sent since its backoff (re)started.
    attempts: u32,
    /// Every sending of any update of the stream, numbered, so that a retry
    /// timer set for an earlier sending knows it is stale.
    sendings: u32,
    /// The uuids of every update the stream took in, acknowledged or not:
    /// an executor re-sends the updates it never saw acknowledged, and the
    /// framework must not hear them twice.
    received: HashSet<Bytes>,
}

impl StatusUpdateManager {
    /// Queues an update. Returns it if it should be sent now, that is when
    /// no earlier update of the task is waiting for its acknowledgement.
    pub(crate) fn update(
        &mut self,
        framework_id: &str,
        task_id: &str,
        status: TaskStatus,
    ) -> Option<TaskStatus> {
        let stream = self
            .streams
            .entry((framework_id.to_string(), task_id.to_string()))
            .or_default();
        if let Some(uuid) = &status.uuid {
            stream.received.insert(uuid.clone());
        }
        stream.pending.push_back(status);
        if stream.pending.len() == 1 {
            stream.attempts = 0;
            stream.pending.front().cloned()
        } else {
            None
        }
    }

    /// Has the task's stream already taken in the update with this uuid
    /// (acknowledged or not)? Mesos ignores such a duplicate
    /// (`TaskStatusUpdateStream::update`); the agent still acknowledges it
    /// to the executor.
    pub(crate) fn received(&self, framework_id: &str, task_id: &str, uuid: &[u8]) -> bool {
        self.streams
            .get(&(framework_id.to_string(), task_id.to_string()))
            .is_some_and(|s| s.received.contains(uuid))
    }

    /// Handles an acknowledgement. If it matches the update in flight, that
    /// update is done and the next one (if any) is returned to be sent.
    /// An acknowledgement for anything else is ignored, as Mesos does.
    pub(crate) fn acknowledge(
        &mut self,
        framework_id: &str,
        task_id: &str,
        uuid: &[u8],
    ) -> Acknowledged {
        let key = (framework_id.to_string(), task_id.to_string());
        let Some(stream) = self.streams.get_mut(&key) else {
            return Acknowledged::Unexpected;
        };
        let matches = stream
            .pending
            .front()
            .and_then(|s| s.uuid.as_ref())
            .is_some_and(|u| u.as_ref() == uuid);
        if !matches {
            return Acknowledged::Unexpected;
        }
        let done = stream.pending.pop_front().expect("front exists");
        stream.attempts = 0;
        let next = stream.pending.front().cloned().map(Box::new);
        // The stream lives until its terminal update is acknowledged
        // (`TaskStatusUpdateManagerProcess::acknowledgement`), remembering
        // the uuids it took in until then.
        if next.is_none() && done.state().is_terminal() {
            self.streams.remove(&key);
        }
        Acknowledged::Done {
            state: done.state(),
            next,
        }
    }

    /// The update in flight for a task, if its latest sending is still
    /// `sending` (a later sending makes older retry timers stale).
    pub(crate) fn in_flight(
        &self,
        framework_id: &str,
        task_id: &str,
        uuid: &Bytes,
        sending: u32,
    ) -> Option<&TaskStatus> {
        self.streams
            .get(&(framework_id.to_string(), task_id.to_string()))
            .filter(|s| s.sendings == sending)
            .and_then(|s| s.pending.front())
            .filter(|s| s.uuid.as_ref() == Some(uuid))
    }

    /// The updates in flight for a framework's tasks, to send again at once
    /// when the framework comes back (Mesos' agent does this when it
    /// learns that the framework failed over).
    pub(crate) fn in_flight_of(&self, framework_id: &str) -> Vec<TaskStatus> {
        self.streams
            .iter()
            .filter(|((f, _), _)| f == framework_id)
            .filter_map(|(_, s)| s.pending.front().cloned())
            .collect()
    }

    /// The agent (re-)registered with a master, after it could not reach
    /// one: the update in flight of every stream, with its framework, to be
    /// sent again at once, their backoff starting over
    /// (`StatusUpdateManagerProcess::resume`). While the agent had no
    /// master, nothing was sent: updates only queued up.
    pub(crate) fn resume(&mut self) -> Vec<(String, TaskStatus)> {
        let mut in_flight = Vec::new();
        for ((framework_id, _), stream) in &mut self.streams {
            if let Some(status) = stream.pending.front() {
                stream.attempts = 0;
                in_flight.push((framework_id.clone(), status.clone()));
            }
        }
        in_flight
    }

    /// Counts one more sending of the update in flight. Returns how long to
    /// wait before the next (`base`, doubling, capped at 10 minutes) and
    /// the number of this sending.
    pub(crate) fn next_retry(
        &mut self,
        framework_id: &str,
        task_id: &str,
        base: Duration,
    ) -> (Duration, u32) {
        let Some(stream) = self
            .streams
            .get_mut(&(framework_id.to_string(), task_id.to_string()))
        else {
            return (base, 0);
        };
        let factor = 2u32.saturating_pow(stream.attempts.min(20));
        stream.attempts = stream.attempts.saturating_add(1);
        stream.sendings = stream.sendings.wrapping_add(1);
        let delay = base
            .saturating_mul(factor)
            .min(MAX_RETRY_INTERVAL.max(base));
        (delay, stream.sendings)
    }

    /// Forgets every stream of a framework (it was removed, or shut down).
    pub(crate) fn remove_framework(&mut self, framework_id: &str) {
        self.streams.retain(|(f, _), _| f != framework_id);
    }

    /// How many updates of a task wait (including the one in flight).
    #[cfg(test)]
    fn pending(&self, framework_id: &str, task_id: &str) -> usize {
        self.streams
            .get(&(framework_id.to_string(), task_id.to_string()))
            .map_or(0, |s| s.pending.len())
    }
}

/// What an acknowledgement did.
#[derive(Debug)]
pub(crate) enum Acknowledged {
    /// It matched the update in flight, whose task was in `state`; `next`
    /// (if any) must be sent now.
    Done {
        state: TaskState,
        next: Option<Box<TaskStatus>>,
    },
    /// It matched nothing in flight (a duplicate, or a stale uuid).
    Unexpected,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::TaskId;

    fn status(state: TaskState, uuid: u8) -> TaskStatus {
        TaskStatus {
            task_id: TaskId { value: "t".into() },
            state: state as i32,
            uuid: Some(Bytes::from(vec![uuid; 16])),
            ..Default::default()
        }
    }

    #[test]
    fn later_updates_wait_for_the_acknowledgement_of_earlier_ones() {
        let mut manager = StatusUpdateManager::default();
        let starting = status(TaskState::TaskStarting, 1);
        assert_eq!(manager.update("f", "t", starting.clone()), Some(starting));
        assert_eq!(
            manager.update("f", "t", status(TaskState::TaskRunning, 2)),
            None
        );
        assert_eq!(manager.pending("f", "t"), 2);
        // A wrong uuid changes nothing.
        assert!(matches!(
            manager.acknowledge("f", "t", &[2; 16]),
            Acknowledged::Unexpected
        ));
        let Acknowledged::Done { next, .. } = manager.acknowledge("f", "t", &[1; 16]) else {
            panic!("the in-flight update was acknowledged");
        };
        assert_eq!(next.unwrap().state(), TaskState::TaskRunning);
        assert!(matches!(
            manager.acknowledge("f", "t", &[2; 16]),
            Acknowledged::Done { next: None, .. }
        ));
        assert_eq!(manager.pending("f", "t"), 0);
    }

    #[test]
    fn a_stream_remembers_the_updates_it_took_in_until_its_terminal_one_is_acknowledged() {
        let mut manager = StatusUpdateManager::default();
        manager.update("f", "t", status(TaskState::TaskRunning, 1));
        assert!(manager.received("f", "t", &[1; 16]), "pending");
        assert!(!manager.received("f", "t", &[2; 16]));
        manager.acknowledge("f", "t", &[1; 16]);
        assert!(manager.received("f", "t", &[1; 16]), "acknowledged");
        manager.update("f", "t", status(TaskState::TaskFinished, 2));
        manager.acknowledge("f", "t", &[2; 16]);
        assert!(!manager.received("f", "t", &[1; 16]), "the stream is gone");
        assert!(manager.streams.is_empty());
    }

    #[test]
    fn retries_back_off_exponentially() {
        let mut manager = StatusUpdateManager::default();
        manager.update("f", "t", status(TaskState::TaskRunning, 1));
        let base = Duration::from_secs(10);
        let delays: Vec<_> = (0..4)
            .map(|_| manager.next_retry("f", "t", base).0)
            .collect();
        assert_eq!(delays, [10, 20, 40, 80].map(Duration::from_secs).to_vec());
        for _ in 0..20 {
            assert!(manager.next_retry("f", "t", base).0 <= MAX_RETRY_INTERVAL);
        }
    }

    #[test]
    fn resuming_resends_what_is_in_flight_with_a_fresh_backoff() {
        let mut manager = StatusUpdateManager::default();
        let running = status(TaskState::TaskRunning, 1);
        manager.update("f", "t", running.clone());
        manager.update("f", "t", status(TaskState::TaskFinished, 2));
        let base = Duration::from_secs(10);
        let (_, stale) = manager.next_retry("f", "t", base);
        manager.next_retry("f", "t", base);
        let uuid = running.uuid.clone().unwrap();
        assert!(manager.in_flight("f", "t", &uuid, stale).is_none());

        assert_eq!(manager.resume(), vec![("f".to_string(), running.clone())]);
        let (delay, sending) = manager.next_retry("f", "t", base);
        assert_eq!(delay, base, "the backoff starts over");
        assert_eq!(manager.in_flight("f", "t", &uuid, sending), Some(&running));
        assert!(manager.in_flight("f", "t", &uuid, stale).is_none());
    }
}
