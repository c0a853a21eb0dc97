//! Task reconciliation: making the scheduler's view agree with the master's.
//!
//! Messages get lost. A scheduler that crashed, failed over or was cut off
//! may have missed status updates, and the master may have lost tasks when
//! an agent died. `docs/reconciliation.md` prescribes the cure, after every
//! (re)subscription:
//!
//! 1. **Explicit** reconciliation: ask for the state of every non-terminal
//!    task the scheduler knows of (`RECONCILE` with their IDs). The master
//!    answers each with an UPDATE: the task's state, or TASK_LOST /
//!    TASK_UNKNOWN for a task it has never heard of.
//! 2. Answers are not guaranteed either, so repeat for the tasks still
//!    unanswered, waiting longer each time (truncated exponential backoff),
//!    until every one has had an update.
//! 3. Then **implicit** reconciliation (`RECONCILE` with no tasks): the
//!    master sends the state of every task it has for the framework,
//!    including ones the scheduler has forgotten, so they can be killed or
//!    adopted.
//!
//! [`Reconciler`] is that procedure as a state machine. It does no I/O and
//! reads no clock: the caller passes the time in and sends the calls it
//! returns, so a test can drive it through any sequence of events.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use crate::{
    calls,
    v1::{AgentId, TaskId, scheduler::Call},
};

/// Drives explicit-then-implicit reconciliation.
#[derive(Debug, Clone)]
pub struct Reconciler {
    /// Tasks asked about that have not had an update yet.
    pending: BTreeMap<String, Option<AgentId>>,
    /// When to ask again about the pending tasks.
    next_attempt: Option<Instant>,
    /// The wait before the next attempt; doubles up to `max_delay`.
    delay: Duration,
    initial_delay: Duration,
    max_delay: Duration,
}

impl Default for Reconciler {
    /// Retries after 1 s, 2 s, 4 s, … up to 60 s.
    fn default() -> Self {
        Reconciler::new(Duration::from_secs(1), Duration::from_secs(60))
    }
}

impl Reconciler {
    pub fn new(initial_delay: Duration, max_delay: Duration) -> Self {
        Reconciler {
            pending: BTreeMap::new(),
            next_attempt: None,
            delay: initial_delay,
            initial_delay,
            max_delay: max_delay.max(initial_delay),
        }
    }

    /// Starts reconciling after a (re)subscription, for the non-terminal
    /// tasks the scheduler knows (with their agents, when known). Returns
    /// the first RECONCILE call; with no tasks to ask about, the implicit
    /// one straight away.
    pub fn start(
        &mut self,
        tasks: impl IntoIterator<Item = (String, Option<AgentId>)>,
        now: Instant,
    ) -> Vec<Call> {
        self.pending = tasks.into_iter().collect();
        self.delay = self.initial_delay;
        if self.pending.is_empty() {
            self.next_attempt = None;
            return vec![calls::reconcile_all()];
        }
        self.ask_again(now)
    }

    /// Notes that an update arrived for `task_id`. When that was the last
    /// task waited for, returns the implicit RECONCILE.
    pub fn on_update(&mut self, task_id: &str) -> Vec<Call> {
        if self.pending.remove(task_id).is_some() && self.pending.is_empty() {
            self.next_attempt = None;
            return vec![calls::reconcile_all()];
        }
        vec![]
    }

    /// Asks again about the tasks still unanswered, if their time has come.
    pub fn on_timer(&mut self, now: Instant) -> Vec<Call> {
        match self.next_attempt {
            Some(at) if now >= at && !self.pending.is_empty() => {
                self.delay = (self.delay * 2).min(self.max_delay);
                self.ask_again(now)
            }
            _ => vec![],
        }
    }

    /// When [`Reconciler::on_timer`] next has something to do.
    pub fn next_attempt(&self) -> Option<Instant> {
        self.next_attempt
    }

    /// The tasks asked about and not yet answered.
    pub fn pending(&self) -> impl Iterator<Item = &str> {
        self.pending.keys().map(String::as_str)
    }

    /// Whether explicit reconciliation is still going on.
    pub fn is_reconciling(&self) -> bool {
        !self.pending.is_empty()
    }

    fn ask_again(&mut self, now: Instant) -> Vec<Call> {
        self.next_attempt = Some(now + self.delay);
        let tasks = self
            .pending
            .iter()
            .map(|(task_id, agent_id)| {
                (
                    TaskId {
                        value: task_id.clone(),
                    },
                    agent_id.clone(),
                )
            })
            .collect();
        vec![calls::reconcile(tasks)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::scheduler::call;

    /// The task IDs a RECONCILE call asks about (empty: implicit).
    fn asked(calls: &[Call]) -> Vec<String> {
        assert_eq!(calls.len(), 1, "one call: {calls:?}");
        assert_eq!(calls[0].r#type(), call::Type::Reconcile);
        let reconcile = calls[0].reconcile.as_ref().unwrap();
        reconcile
            .tasks
            .iter()
            .map(|t| t.task_id.value.clone())
            .collect()
    }

    fn tasks(ids: &[&str]) -> Vec<(String, Option<AgentId>)> {
        ids.iter()
            .map(|id| {
                (
                    id.to_string(),
                    Some(AgentId {
                        value: "agent-1".into(),
                    }),
                )
            })
            .collect()
    }

    #[test]
    fn explicit_then_implicit() {
        let now = Instant::now();
        let mut reconciler = Reconciler::default();
        let first = reconciler.start(tasks(&["a", "b"]), now);
        assert_eq!(asked(&first), ["a", "b"]);
        assert_eq!(
            first[0].reconcile.as_ref().unwrap().tasks[0]
                .agent_id
                .as_ref()
                .unwrap()
                .value,
            "agent-1"
        );
        assert!(reconciler.on_update("a").is_empty());
        assert!(reconciler.on_update("unrelated").is_empty());
        let implicit = reconciler.on_update("b");
        assert_eq!(
            asked(&implicit),
            Vec::<String>::new(),
            "implicit: no task list"
        );
        assert!(!reconciler.is_reconciling());
        assert_eq!(reconciler.next_attempt(), None);
        // Late duplicates change nothing.
        assert!(reconciler.on_update("b").is_empty());
    }

    #[test]
    fn nothing_to_ask_goes_straight_to_implicit() {
        let mut reconciler = Reconciler::default();
        assert_eq!(
            asked(&reconciler.start(vec![], Instant::now())),
            Vec::<String>::new()
        );
        assert!(!reconciler.is_reconciling());
    }

    #[test]
    fn unanswered_tasks_are_asked_again_with_truncated_exponential_backoff() {
        let start = Instant::now();
        let mut reconciler = Reconciler::new(Duration::from_secs(1), Duration::from_secs(4));
        reconciler.start(tasks(&["a", "b"]), start);
        assert!(
            reconciler
                .on_timer(start + Duration::from_millis(999))
                .is_empty(),
            "not yet"
        );
        reconciler.on_update("a");

        let mut now = start;
        let mut waits = Vec::new();
        for _ in 0..5 {
            let at = reconciler.next_attempt().unwrap();
            waits.push((at - now).as_secs());
            now = at;
            assert_eq!(
                asked(&reconciler.on_timer(now)),
                ["b"],
                "only the unanswered task"
            );
        }
        assert_eq!(waits, [1, 2, 4, 4, 4], "doubling, capped at the maximum");
        assert_eq!(asked(&reconciler.on_update("b")), Vec::<String>::new());
    }

    #[test]
    fn a_new_subscription_restarts_reconciliation() {
        let now = Instant::now();
        let mut reconciler = Reconciler::new(Duration::from_secs(1), Duration::from_secs(60));
        reconciler.start(tasks(&["a"]), now);
        reconciler.on_timer(now + Duration::from_secs(1));
        reconciler.on_timer(now + Duration::from_secs(3));
        let restarted = reconciler.start(tasks(&["a", "c"]), now + Duration::from_secs(5));
        assert_eq!(asked(&restarted), ["a", "c"]);
        assert_eq!(
            reconciler.next_attempt(),
            Some(now + Duration::from_secs(6)),
            "backoff starts over"
        );
    }
}
