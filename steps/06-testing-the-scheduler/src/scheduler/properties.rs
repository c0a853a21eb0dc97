//! Layer 2: properties that hold for *any* sequence of events.
//!
//! Layer 1 checks scenarios someone thought of. Here proptest makes up the
//! scenarios: a random sequence of offers (of random sizes), rescinds,
//! status updates (any state, reliable or not, sometimes delivered twice),
//! agents coming back with tasks thought lost, changes of the instance
//! count, resubscriptions, timers, and ZooKeeper failing to store. After
//! every step it checks what must always be true of a Mesos scheduler:
//!
//! 1. no launch brings the tasks alive above the instance count (but for
//!    those it asked to kill);
//! 2. every offer is answered exactly once, accepted or declined;
//! 3. every update carrying a uuid is acknowledged exactly once;
//! 4. a task that ended is never reconciled or killed again, unless it
//!    came back (its agent re-registered: then, one too many, it is
//!    killed);
//! 5. no task ID is used twice.
//!
//! When a property fails, proptest shrinks the sequence to a small one
//! that still fails, and prints it: each step prints as it reads.

use std::{
    collections::BTreeSet,
    fmt,
    time::{Duration, Instant},
};

use mesos::{
    testing::{calls as read, events::*},
    v1::{TaskState, scheduler::Call, task_status::Reason},
};
use proptest::prelude::*;

use super::*;

/// One thing that happens to the scheduler.
#[derive(Clone)]
enum Step {
    /// An offer of `cpus` (tenths) and `mem` (MB) from agent `agent`.
    Offer { agent: u8, tenths: u8, mem: u16 },
    /// The master withdraws the last offer made.
    Rescind,
    /// News of the `task`-th task launched so far (modulo their number).
    Update {
        task: usize,
        state: TaskState,
        reliable: bool,
        twice: bool,
    },
    /// The `task`-th task's agent re-registers with it running, though the
    /// scheduler was told it was lost.
    AgentBack { task: usize },
    /// A new instance count, from the web page.
    Count(usize),
    /// Subscribed again (after a disconnection), same framework.
    Resubscribed,
    /// Time passes: reconciliation timers fire.
    Later(u16),
    /// The next save fails (ZooKeeper is away) or works again.
    Store { works: bool },
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Offer { agent, tenths, mem } => {
                write!(
                    f,
                    "offer {}.{} cpus {mem} MB from agent-{agent}",
                    tenths / 10,
                    tenths % 10
                )
            }
            Step::Rescind => write!(f, "rescind the last offer"),
            Step::Update {
                task,
                state,
                reliable,
                twice,
            } => write!(
                f,
                "task #{task} {}{}{}",
                state.as_str_name(),
                if *reliable { " (with uuid)" } else { "" },
                if *twice { " twice" } else { "" }
            ),
            Step::AgentBack { task } => write!(f, "task #{task} back with its agent, running"),
            Step::Count(count) => write!(f, "count {count}"),
            Step::Resubscribed => write!(f, "resubscribed"),
            Step::Later(seconds) => write!(f, "{seconds} s later"),
            Step::Store { works } => {
                write!(
                    f,
                    "{}",
                    if *works {
                        "ZooKeeper back"
                    } else {
                        "ZooKeeper away"
                    }
                )
            }
        }
    }
}

/// Any of Mesos' task states (their numbers have gaps, so pick from the
/// list rather than from a range).
fn task_state() -> impl Strategy<Value = TaskState> {
    let all: Vec<TaskState> = (0..32)
        .filter_map(|n| TaskState::try_from(n).ok())
        .collect();
    prop::sample::select(all)
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..3u8, 0..25u8, 0..1024u16).prop_map(|(agent, tenths, mem)| Step::Offer { agent, tenths, mem }),
        1 => Just(Step::Rescind),
        5 => (0..8usize, task_state(), any::<bool>(), prop::bool::weighted(0.2))
            .prop_map(|(task, state, reliable, twice)| Step::Update { task, state, reliable, twice }),
        1 => (0..8usize).prop_map(|task| Step::AgentBack { task }),
        1 => (0..5usize).prop_map(Step::Count),
        1 => Just(Step::Resubscribed),
        1 => (1..200u16).prop_map(Step::Later),
        1 => any::<bool>().prop_map(|works| Step::Store { works }),
    ]
}

/// What the cluster knows, to make consistent events and to check the
/// scheduler's calls against.
struct World {
    scheduler: Scheduler,
    now: Instant,
    count: usize,
    /// Every task ID launched, in order.
    launched: Vec<String>,
    /// Tasks told ended (terminal, or unknown to the master).
    ended: BTreeSet<String>,
    /// Tasks the scheduler asked to kill, not yet told ended.
    killing: BTreeSet<String>,
    /// The last offer made, to rescind.
    last_offer: Option<String>,
    offers_made: u32,
    store_works: bool,
}

impl World {
    fn new() -> World {
        let now = Instant::now();
        let spec = TaskSpec {
            name: "t".into(),
            cpus: 0.5,
            mem: 128.0,
            command: "sleep 600".into(),
            kind: TaskKind::Shell,
        };
        let interval = Duration::from_secs(60);
        let mut scheduler = Scheduler::new(2, spec, None, TaskRecords::new(), interval);
        scheduler.on_event(&subscribed("framework-1"), now);
        World {
            scheduler,
            now,
            count: 2,
            launched: Vec::new(),
            ended: BTreeSet::new(),
            killing: BTreeSet::new(),
            last_offer: None,
            offers_made: 0,
            store_works: true,
        }
    }

    /// What `main.rs` does after every decision: store, then let out what
    /// may go out (`store.rs`).
    fn store(&mut self, calls: Vec<Call>) -> Vec<Call> {
        if self.store_works {
            self.scheduler.set_durable(true);
            calls
        } else {
            self.scheduler.withhold_launches(calls)
        }
    }

    fn alive(&self) -> usize {
        let launched: BTreeSet<&String> = self.launched.iter().collect();
        let ended: BTreeSet<&String> = self.ended.iter().collect();
        let killing: BTreeSet<&String> = self.killing.iter().collect();
        launched
            .difference(&ended)
            .filter(|t| !killing.contains(*t))
            .count()
    }

    /// Plays one step and checks the properties on the calls it led to.
    fn play(&mut self, step: &Step) -> Result<(), TestCaseError> {
        match step {
            Step::Offer {
                agent: a,
                tenths,
                mem,
            } => {
                self.offers_made += 1;
                let id = format!("o-{}", self.offers_made);
                let resources = format!("cpus:{}.{};mem:{mem}", tenths / 10, tenths % 10);
                let offer = agent(&format!("agent-{a}"))
                    .resources(&resources)
                    .offer(&id);
                let calls = self.scheduler.on_event(&offers([offer]), self.now);
                let calls = self.store(calls);
                // 2. Answered exactly once.
                let answers = read::accepted(&calls)
                    .into_iter()
                    .chain(read::declined(&calls));
                let answers: Vec<String> = answers.collect();
                prop_assert_eq!(
                    &answers,
                    &vec![id.clone()],
                    "offer {} answered: {:?}",
                    id,
                    calls
                );
                self.last_offer = Some(id);
                self.check(&calls)
            }
            Step::Rescind => {
                let Some(id) = self.last_offer.take() else {
                    return Ok(());
                };
                let calls = self.scheduler.on_event(&rescind(&id), self.now);
                let calls = self.store(calls);
                prop_assert!(
                    read::accepted(&calls).is_empty() && read::declined(&calls).is_empty()
                );
                self.check(&calls)
            }
            Step::Update {
                task,
                state,
                reliable,
                twice,
            } => {
                let Some(task) = self.nth_task(*task) else {
                    return Ok(());
                };
                let gone = state.is_terminal() || *state == TaskState::TaskUnknown;
                if self.ended.contains(&task) && !gone {
                    // Mesos sends a task's updates in order, and nothing
                    // after its end but the end again (or the agent's
                    // return: `AgentBack`).
                    return Ok(());
                }
                let mut news = update(&task, *state).on("agent-0");
                if *reliable {
                    news = news.reliable();
                }
                for _ in 0..if *twice { 2 } else { 1 } {
                    let calls = self.scheduler.on_event(&news.event(), self.now);
                    let calls = self.store(calls);
                    // 3. Acknowledged exactly once, if it has a uuid.
                    let acknowledged = read::acknowledged(&calls);
                    let expected = usize::from(*reliable);
                    prop_assert_eq!(acknowledged.len(), expected, "{:?}", calls);
                    if gone {
                        self.ended.insert(task.clone());
                        self.killing.remove(&task);
                    }
                    self.check(&calls)?;
                }
                Ok(())
            }
            Step::AgentBack { task } => {
                let Some(task) = self.nth_task(*task) else {
                    return Ok(());
                };
                if !self.ended.remove(&task) {
                    return Ok(()); // it was not thought gone
                }
                let back = update(&task, TaskState::TaskRunning)
                    .on("agent-0")
                    .reason(Reason::AgentReregistered);
                let calls = self.scheduler.on_event(&back.event(), self.now);
                let calls = self.store(calls);
                self.check(&calls)
            }
            Step::Count(count) => {
                self.count = *count;
                let calls = self.scheduler.set_instances(*count);
                let calls = self.store(calls);
                self.check(&calls)
            }
            Step::Resubscribed => {
                let calls = self.scheduler.on_event(&disconnected(), self.now);
                self.check(&calls)?;
                let calls = self
                    .scheduler
                    .on_event(&subscribed("framework-1"), self.now);
                let calls = self.store(calls);
                self.check(&calls)
            }
            Step::Later(seconds) => {
                self.now += Duration::from_secs(u64::from(*seconds));
                let calls = self.scheduler.on_reconciliation_timer(self.now);
                let calls = self.store(calls);
                self.check(&calls)
            }
            Step::Store { works } => {
                self.store_works = *works;
                Ok(())
            }
        }
    }

    fn nth_task(&self, n: usize) -> Option<String> {
        (!self.launched.is_empty()).then(|| self.launched[n % self.launched.len()].clone())
    }

    /// The properties that concern every decision.
    fn check(&mut self, calls: &[Call]) -> Result<(), TestCaseError> {
        // 5. No task ID twice.
        for task in read::launched(calls) {
            let id = task.task_id.value.clone();
            prop_assert!(!self.launched.contains(&id), "task ID {} used twice", id);
            self.launched.push(id);
        }
        // 4. Nothing ended is asked about or killed again.
        let explicit = read::reconciled(calls).unwrap_or_default();
        for task in explicit.iter().chain(read::killed(calls).iter()) {
            prop_assert!(
                !self.ended.contains(task),
                "task {} ended, yet {:?}",
                task,
                read::kinds(calls)
            );
        }
        self.killing.extend(read::killed(calls));
        // 1. No launch beyond the count (the tasks being killed aside). A
        // count lowered while reconciling may leave extras alive for a
        // while: the scheduler kills them once the master has answered.
        if !read::launched(calls).is_empty() {
            prop_assert!(
                self.alive() <= self.count,
                "a launch made {} tasks alive (not counting those being killed) for a count of {}",
                self.alive(),
                self.count
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn a_scheduler_keeps_its_promises_whatever_happens(
        steps in prop::collection::vec(step(), 1..60)
    ) {
        let mut world = World::new();
        for step in &steps {
            world.play(step)?;
        }
    }
}
