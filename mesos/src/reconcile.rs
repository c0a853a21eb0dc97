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
//! Two more occasions call for it, besides a (re)subscription
//! (`docs/reconciliation.md`, `docs/high-availability-framework-guide.md`):
//!
//! * **Periodically**: an update can be lost without any disconnection
//!   (a master failover the scheduler did not notice, a bug anywhere), so
//!   implicit reconciliation every so often ([`Reconciler::with_interval`])
//!   bounds how long the scheduler can be wrong.
//! * **A launch that nobody reported on**: a task launched should be heard
//!   of within seconds (TASK_STARTING, TASK_RUNNING, or an error). If
//!   nothing came, the ACCEPT may never have reached the master, and the
//!   task would stay STAGING in our records for ever. After
//!   [`Reconciler::with_launch_timeout`], the task is asked about
//!   explicitly: the master answers with its state, or says it does not
//!   know it (then the scheduler launches a replacement).
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
    /// How often to reconcile implicitly, if at all, and when next.
    interval: Option<Duration>,
    next_implicit: Option<Instant>,
    /// How long a launched task may go unreported, if we watch that, and
    /// the tasks launched and not heard of yet, with their deadlines.
    launch_timeout: Option<Duration>,
    launches: BTreeMap<String, (Option<AgentId>, Instant)>,
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
            interval: None,
            next_implicit: None,
            launch_timeout: None,
            launches: BTreeMap::new(),
        }
    }

    /// Also reconciles implicitly every `interval` while subscribed.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Also asks about a task that had no update within `timeout` of its
    /// launch ([`Reconciler::launched`]).
    pub fn with_launch_timeout(mut self, timeout: Duration) -> Self {
        self.launch_timeout = Some(timeout);
        self
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
        // Every task we know is asked about now, launched ones included.
        self.launches.clear();
        self.next_implicit = self.interval.map(|interval| now + interval);
        if self.pending.is_empty() {
            self.next_attempt = None;
            return vec![calls::reconcile_all()];
        }
        self.ask_again(now)
    }

    /// Stops until the next [`start`](Self::start): the subscription is
    /// gone, and answers would come on a subscription that no longer exists.
    pub fn stop(&mut self) {
        self.pending.clear();
        self.launches.clear();
        self.next_attempt = None;
        self.next_implicit = None;
    }

    /// Notes that `task_id` was just launched, to ask about it if no update
    /// comes within the launch timeout (if one is set).
    pub fn launched(&mut self, task_id: &str, agent_id: Option<AgentId>, now: Instant) {
        if let Some(timeout) = self.launch_timeout {
            self.launches
                .insert(task_id.to_string(), (agent_id, now + timeout));
        }
    }

    /// Forgets a launch that never went out (the scheduler held it back):
    /// nobody will report on that task, and nobody needs to.
    pub fn forget_launch(&mut self, task_id: &str) {
        self.launches.remove(task_id);
    }

    /// Notes that an update arrived for `task_id`. When that was the last
    /// task waited for, returns the implicit RECONCILE.
    pub fn on_update(&mut self, task_id: &str) -> Vec<Call> {
        self.launches.remove(task_id);
        if self.pending.remove(task_id).is_some() && self.pending.is_empty() {
            self.next_attempt = None;
            return vec![calls::reconcile_all()];
        }
        vec![]
    }

    /// Whatever is due at `now`: asking again about the tasks still
    /// unanswered, asking about launches nobody reported on, and the
    /// periodic implicit reconciliation.
    pub fn on_timer(&mut self, now: Instant) -> Vec<Call> {
        let mut calls = Vec::new();
        let overdue: Vec<String> = self
            .launches
            .iter()
            .filter(|(_, (_, deadline))| *deadline <= now)
            .map(|(task_id, _)| task_id.clone())
            .collect();
        if !overdue.is_empty() {
            for task_id in overdue {
                let (agent_id, _) = self.launches.remove(&task_id).expect("listed above");
                self.pending.insert(task_id, agent_id);
            }
            // Ask now, and from now on with backoff like any unanswered task.
            self.delay = self.initial_delay;
            calls.extend(self.ask_again(now));
        } else if self.next_attempt.is_some_and(|at| now >= at) && !self.pending.is_empty() {
            self.delay = (self.delay * 2).min(self.max_delay);
            calls.extend(self.ask_again(now));
        }
        if let (Some(at), Some(interval)) = (self.next_implicit, self.interval) {
            if now >= at {
                self.next_implicit = Some(now + interval);
                calls.push(calls::reconcile_all());
            }
        }
        calls
    }

    /// When [`Reconciler::on_timer`] next has something to do.
    pub fn next_attempt(&self) -> Option<Instant> {
        let retry = self.next_attempt.filter(|_| !self.pending.is_empty());
        let launch = self.launches.values().map(|(_, deadline)| *deadline).min();
        [retry, launch, self.next_implicit]
            .into_iter()
            .flatten()
            .min()
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
    fn a_launch_with_no_update_within_the_timeout_is_asked_about() {
        let start = Instant::now();
        let mut reconciler = Reconciler::new(Duration::from_secs(1), Duration::from_secs(60))
            .with_launch_timeout(Duration::from_secs(30));
        assert_eq!(
            asked(&reconciler.start(vec![], start)),
            Vec::<String>::new()
        );
        let agent = Some(AgentId {
            value: "agent-1".into(),
        });
        reconciler.launched("heard", agent.clone(), start);
        reconciler.launched("silent", agent.clone(), start);
        reconciler.launched("never sent", agent.clone(), start);
        reconciler.forget_launch("never sent");
        let deadline = start + Duration::from_secs(30);
        assert_eq!(reconciler.next_attempt(), Some(deadline));
        assert!(reconciler.on_update("heard").is_empty(), "not asked about");
        assert!(
            reconciler
                .on_timer(deadline - Duration::from_millis(1))
                .is_empty()
        );

        let calls = reconciler.on_timer(deadline);
        assert_eq!(asked(&calls), ["silent"], "only the one nobody reported on");
        assert_eq!(
            calls[0].reconcile.as_ref().unwrap().tasks[0].agent_id,
            agent,
            "with its agent"
        );
        // Unanswered, it is asked again with backoff, like any other.
        assert_eq!(
            reconciler.next_attempt(),
            Some(deadline + Duration::from_secs(1))
        );
        assert_eq!(
            asked(&reconciler.on_timer(deadline + Duration::from_secs(1))),
            ["silent"]
        );
        // The answer ends it, with the implicit reconciliation after.
        assert_eq!(asked(&reconciler.on_update("silent")), Vec::<String>::new());
        assert_eq!(reconciler.next_attempt(), None);
    }

    #[test]
    fn implicit_reconciliation_repeats_at_the_interval_while_subscribed() {
        let start = Instant::now();
        let interval = Duration::from_secs(900);
        let mut reconciler = Reconciler::default().with_interval(interval);
        assert_eq!(reconciler.next_attempt(), None, "not before subscribing");
        reconciler.start(vec![], start);
        assert_eq!(reconciler.next_attempt(), Some(start + interval));
        assert!(reconciler.on_timer(start + interval / 2).is_empty());
        for n in 1..=3 {
            let at = start + interval * n;
            assert_eq!(reconciler.next_attempt(), Some(at));
            assert_eq!(
                asked(&reconciler.on_timer(at)),
                Vec::<String>::new(),
                "implicit"
            );
        }
        // Disconnected: nothing is due until the next subscription.
        reconciler.launched("t", None, start);
        reconciler.stop();
        assert_eq!(reconciler.next_attempt(), None);
        assert!(reconciler.on_timer(start + interval * 10).is_empty());
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
