//! Layer 1: the scheduler's decisions, one scenario at a time.
//!
//! The scheduler is a plain function of its state and an event, returning
//! the calls to make: so a test needs no master, no ZooKeeper, no clock.
//! It builds the event (`mesos::testing::events`), hands it over, and reads
//! the calls back (`mesos::testing::calls`). Each test below is one thing a
//! Mesos framework must get right, named for it. The first two are the
//! original workshop's only tests, kept by name.

use std::time::{Duration, Instant};

use mesos::{
    testing::{calls as read, events::*},
    v1::{TaskState, scheduler::call::Type as CallType, task_status::Reason},
};

use super::*;

const FRAMEWORK: &str = "framework-1";

/// The periodic implicit reconciliation: `--reconcile-interval`'s default.
const INTERVAL: Duration = Duration::from_secs(900);

/// 0.5 cpu and 128 MB a task, as the flags' defaults.
fn spec() -> TaskSpec {
    TaskSpec {
        name: "hello".into(),
        cpus: 0.5,
        mem: 128.0,
        command: "sleep 600".into(),
        kind: TaskKind::Shell,
    }
}

/// A scheduler started fresh (nothing stored) and subscribed: what it
/// is before its first offer.
fn subscribed_scheduler(instances: usize) -> Scheduler {
    let mut scheduler = Scheduler::new(instances, spec(), None, TaskRecords::new(), INTERVAL);
    scheduler.on_event(&subscribed(FRAMEWORK), Instant::now());
    scheduler
}

/// A scheduler restarted with `tasks` (task, agent) stored as running
/// under [`FRAMEWORK`], before it subscribes.
fn restarted(instances: usize, tasks: &[(&str, &str)]) -> Scheduler {
    let tasks = tasks
        .iter()
        .map(|(task, agent)| {
            let record = TaskRecord {
                state: TaskState::TaskRunning,
                agent_id: Some(agent.to_string()),
            };
            (task.to_string(), record)
        })
        .collect();
    let framework_id = FrameworkId {
        value: FRAMEWORK.into(),
    };
    Scheduler::new(instances, spec(), Some(framework_id), tasks, INTERVAL)
}

/// The one task the scheduler launched from an offer, on `agent`, of room
/// for one task.
fn launch_one(scheduler: &mut Scheduler, agent_id: &str) -> String {
    let room_for_one = agent(agent_id).resources("cpus:0.5;mem:128");
    let calls = scheduler.on_event(
        &offers([room_for_one.offer(&format!("offer-{agent_id}"))]),
        Instant::now(),
    );
    let launched = read::launched(&calls);
    assert_eq!(launched.len(), 1, "{calls:?}");
    launched[0].task_id.value.clone()
}

// The original workshop's two tests, by their names there.

#[test]
fn an_offer_of_2_cpus_and_1024_mb_gives_one_launch() {
    let mut scheduler = subscribed_scheduler(1);
    let calls = scheduler.on_event(
        &offers([offer("o-1").cpus(2.0).mem(1024.0)]),
        Instant::now(),
    );
    assert_eq!(read::accepted(&calls), ["o-1"]);
    assert_eq!(read::launched(&calls).len(), 1);
    assert!(read::declined(&calls).is_empty());
}

#[test]
fn an_offer_of_0_1_cpu_gives_one_decline() {
    let mut scheduler = subscribed_scheduler(1);
    let calls = scheduler.on_event(&offers([offer("o-1").cpus(0.1)]), Instant::now());
    assert_eq!(read::declined(&calls), ["o-1"]);
    assert!(read::launched(&calls).is_empty());
}

// Offers.

#[test]
fn never_more_tasks_than_desired_however_large_the_offer() {
    let mut scheduler = subscribed_scheduler(2);
    // Room for 8 tasks of 0.5 cpu.
    let big = agent("agent-1").resources("cpus:4;mem:4096").offer("o-1");
    let calls = scheduler.on_event(&offers([big]), Instant::now());
    let launched = read::launched(&calls);
    assert_eq!(launched.len(), 2);
    // All instances run now: offers stop.
    assert!(read::kinds(&calls).contains(&CallType::Suppress));
    // Each task gets what it needs and no more; the rest goes back.
    for task in launched {
        let resources: Resources = task.resources.iter().cloned().collect();
        assert_eq!(resources.cpus(), 0.5);
        assert_eq!(resources.mem(), 128.0);
    }
    // An offer still in flight is declined.
    let calls = scheduler.on_event(&offers([offer("o-2").cpus(2.0)]), Instant::now());
    assert_eq!(read::declined(&calls), ["o-2"]);
}

#[test]
fn why_no_offer_fits_is_kept_to_be_said_until_one_does() {
    let now = Instant::now();
    let big = TaskSpec {
        mem: 4096.0,
        ..spec()
    };
    let mut scheduler = Scheduler::new(1, big, None, TaskRecords::new(), INTERVAL);
    scheduler.on_event(&subscribed(FRAMEWORK), now);
    let small = agent("agent-1").resources("cpus:4;mem:1920");
    let smaller = agent("agent-2").resources("cpus:4;mem:1024");
    scheduler.on_event(&offers([small.offer("o-1"), smaller.offer("o-2")]), now);
    let why = scheduler.unfit.as_ref().map(ToString::to_string);
    assert_eq!(
        why.as_deref(),
        Some("a task needs 4096 MB; the largest offer had 1920 MB")
    );
    let large = agent("agent-3").resources("cpus:4;mem:8192");
    let calls = scheduler.on_event(&offers([large.offer("o-3")]), now);
    assert_eq!(read::launched(&calls).len(), 1);
    assert_eq!(scheduler.unfit, None);
    // All instances run: an offer too small is no news.
    scheduler.on_event(&offers([small.offer("o-4")]), now);
    assert_eq!(scheduler.unfit, None);
}

#[test]
fn on_our_executor_a_task_takes_its_executors_share_from_the_same_offer() {
    let start = offers::command_info_shell("exec ./hello executor");
    let spec = TaskSpec {
        kind: TaskKind::Executor { start },
        ..spec()
    };
    let mut scheduler = Scheduler::new(2, spec, None, TaskRecords::new(), INTERVAL);
    scheduler.on_event(&subscribed(FRAMEWORK), Instant::now());
    // Two tasks of 0.5 cpu would fit, but not with an executor of 0.05
    // cpus each (`task_kind::EXECUTOR_RESOURCES`).
    let offer = agent("agent-1").resources("cpus:1;mem:1024").offer("o-1");
    let calls = scheduler.on_event(&offers([offer]), Instant::now());
    let launched = read::launched(&calls);
    assert_eq!(launched.len(), 1, "{calls:?}");
    let executor = launched[0].executor.as_ref().expect("on our executor");
    let resources: Resources = executor.resources.iter().cloned().collect();
    assert_eq!(resources.cpus(), 0.05);
}

#[test]
fn several_offers_are_each_answered_once() {
    let mut scheduler = subscribed_scheduler(1);
    let calls = scheduler.on_event(
        &offers([
            offer("fits").cpus(1.0),
            offer("too-small").cpus(0.1),
            offer("not-needed").cpus(1.0),
        ]),
        Instant::now(),
    );
    assert_eq!(read::accepted(&calls), ["fits"]);
    let mut declined = read::declined(&calls);
    declined.sort();
    assert_eq!(declined, ["not-needed", "too-small"]);
}

#[test]
fn a_rescinded_offer_needs_no_answer() {
    let mut scheduler = subscribed_scheduler(1);
    assert!(
        scheduler
            .on_event(&rescind("o-1"), Instant::now())
            .is_empty()
    );
}

#[test]
fn task_ids_are_never_used_twice() {
    let mut scheduler = subscribed_scheduler(1);
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..20 {
        let task = launch_one(&mut scheduler, "agent-1");
        assert!(seen.insert(task.clone()), "round {round}: {task} again");
        scheduler.on_event(
            &update(&task, TaskState::TaskFailed).on("agent-1").event(),
            Instant::now(),
        );
    }
}

// Status updates.

#[test]
fn every_task_state_is_handled_as_mesos_means_it() {
    use TaskState::*;
    for state in (0..32).filter_map(|n| TaskState::try_from(n).ok()) {
        let mut scheduler = subscribed_scheduler(1);
        let task = launch_one(&mut scheduler, "agent-1");
        let reliable = update(&task, state).on("agent-1").reliable();
        let calls = scheduler.on_event(&reliable.event(), Instant::now());
        // Acknowledged, whatever it says: the agent re-sends it otherwise.
        let acknowledged = read::acknowledged(&calls);
        assert_eq!(acknowledged.len(), 1, "{state:?}");
        assert_eq!(
            acknowledged[0].1,
            reliable.status().uuid.unwrap(),
            "{state:?}"
        );
        let gone = state.is_terminal() || state == TaskUnknown;
        assert_eq!(!scheduler.tasks().contains_key(&task), gone, "{state:?}");
        // A task gone is replaced: offers are asked for again.
        assert_eq!(
            read::kinds(&calls).contains(&CallType::Revive),
            gone,
            "{state:?}"
        );
        if !gone {
            assert_eq!(scheduler.tasks()[&task].state, state, "recorded: {state:?}");
        }
    }
}

#[test]
fn an_update_without_a_uuid_is_not_acknowledged() {
    let mut scheduler = subscribed_scheduler(1);
    let task = launch_one(&mut scheduler, "agent-1");
    // Reconciliation's answers come from the master, without a uuid.
    let answer = update(&task, TaskState::TaskRunning)
        .on("agent-1")
        .reason(Reason::Reconciliation);
    let calls = scheduler.on_event(&answer.event(), Instant::now());
    assert!(read::acknowledged(&calls).is_empty());
}

#[test]
fn a_task_lost_then_back_after_it_was_replaced_is_killed() {
    let mut scheduler = subscribed_scheduler(1);
    let lost = launch_one(&mut scheduler, "agent-1");
    let now = Instant::now();
    scheduler.on_event(
        &update(&lost, TaskState::TaskLost).on("agent-1").event(),
        now,
    );
    let replacement = launch_one(&mut scheduler, "agent-2");
    scheduler.on_event(
        &update(&replacement, TaskState::TaskRunning)
            .on("agent-2")
            .event(),
        now,
    );
    // The agent comes back from a partition with the task still running
    // (Mesos 1.11 re-adds it; REASON_AGENT_REREGISTERED is the v1 name of
    // REASON_SLAVE_REREGISTERED). One too many now: it is killed.
    let back = update(&lost, TaskState::TaskRunning)
        .on("agent-1")
        .reason(Reason::AgentReregistered)
        .message("Unreachable agent re-reregistered");
    let calls = scheduler.on_event(&back.event(), now);
    assert_eq!(read::killed(&calls), vec![lost.clone()]);
    assert!(!scheduler.tasks().contains_key(&lost));
    assert!(scheduler.tasks().contains_key(&replacement));
}

#[test]
fn a_task_back_while_an_instance_is_missing_is_adopted() {
    let mut scheduler = subscribed_scheduler(2);
    let now = Instant::now();
    let lost = launch_one(&mut scheduler, "agent-1");
    scheduler.on_event(
        &update(&lost, TaskState::TaskLost).on("agent-1").event(),
        now,
    );
    let back = update(&lost, TaskState::TaskRunning)
        .on("agent-1")
        .reason(Reason::AgentReregistered);
    let calls = scheduler.on_event(&back.event(), now);
    assert!(read::killed(&calls).is_empty());
    assert_eq!(scheduler.tasks()[&lost].state, TaskState::TaskRunning);
}

// Subscribing and reconciling.

#[test]
fn subscribing_fresh_asks_the_master_for_all_its_tasks() {
    let mut scheduler = Scheduler::new(2, spec(), None, TaskRecords::new(), INTERVAL);
    let calls = scheduler.on_event(&subscribed(FRAMEWORK), Instant::now());
    assert_eq!(read::reconciled(&calls), Some(vec![]), "implicit");
    assert!(read::kinds(&calls).contains(&CallType::Revive));
    assert_eq!(scheduler.framework_id().unwrap().value, FRAMEWORK);
}

#[test]
fn subscribing_with_the_stored_id_asks_about_each_stored_task_first() {
    let now = Instant::now();
    let mut scheduler = restarted(2, &[("a", "agent-1"), ("b", "agent-2")]);
    let calls = scheduler.on_event(&subscribed(FRAMEWORK), now);
    assert_eq!(read::reconciled(&calls), Some(vec!["a".into(), "b".into()]));
    assert!(
        read::kinds(&calls).contains(&CallType::Suppress),
        "all instances known"
    );
    scheduler.on_event(
        &update("a", TaskState::TaskRunning).on("agent-1").event(),
        now,
    );
    let calls = scheduler.on_event(
        &update("b", TaskState::TaskRunning).on("agent-2").event(),
        now,
    );
    assert_eq!(
        read::reconciled(&calls),
        Some(vec![]),
        "then all of the master's"
    );
}

#[test]
fn subscribing_as_a_new_framework_forgets_the_old_ones_tasks() {
    let mut scheduler = restarted(2, &[("a", "agent-1")]);
    let calls = scheduler.on_event(&subscribed("framework-2"), Instant::now());
    assert!(scheduler.tasks().is_empty());
    assert_eq!(read::reconciled(&calls), Some(vec![]));
}

#[test]
fn a_removed_framework_is_forgotten() {
    let mut scheduler = restarted(2, &[("a", "agent-1")]);
    assert!(
        scheduler
            .on_event(&framework_removed(FRAMEWORK), Instant::now())
            .is_empty()
    );
    assert_eq!(scheduler.framework_id(), None);
    assert!(scheduler.tasks().is_empty());
}

#[test]
fn failing_over_to_another_scheduler_changes_nothing_stored() {
    let mut scheduler = restarted(2, &[("a", "agent-1")]);
    assert!(
        scheduler
            .on_event(&failed_over(), Instant::now())
            .is_empty()
    );
    assert_eq!(scheduler.framework_id().unwrap().value, FRAMEWORK);
    assert_eq!(scheduler.tasks().len(), 1);
}

#[test]
fn unanswered_tasks_are_asked_about_again_with_backoff() {
    let now = Instant::now();
    let mut scheduler = restarted(2, &[("a", "agent-1"), ("b", "agent-2")]);
    scheduler.on_event(&subscribed(FRAMEWORK), now);
    scheduler.on_event(
        &update("a", TaskState::TaskRunning).on("agent-1").event(),
        now,
    );
    let retry = scheduler.next_reconciliation().unwrap();
    assert!(scheduler.on_reconciliation_timer(now).is_empty(), "not yet");
    let calls = scheduler.on_reconciliation_timer(retry);
    assert_eq!(read::reconciled(&calls), Some(vec!["b".into()]));
    assert!(
        scheduler.next_reconciliation().unwrap() - retry > retry - now,
        "backing off"
    );
}

#[test]
fn a_launch_nobody_reports_on_is_asked_about() {
    let now = Instant::now();
    let mut scheduler = subscribed_scheduler(1);
    let task = launch_one(&mut scheduler, "agent-1");
    let due = scheduler.next_reconciliation().unwrap();
    let calls = scheduler.on_reconciliation_timer(due);
    assert_eq!(read::reconciled(&calls), Some(vec![task]));
    assert!(due > now);
}

// The instance count.

#[test]
fn a_lower_count_kills_the_extras_and_a_higher_one_asks_for_offers() {
    let now = Instant::now();
    let mut scheduler = subscribed_scheduler(3);
    let tasks: Vec<String> = (1..=3)
        .map(|n| {
            let task = launch_one(&mut scheduler, &format!("agent-{n}"));
            let started = update(&task, TaskState::TaskRunning)
                .on(&format!("agent-{n}"))
                .at(f64::from(n) * 100.0);
            scheduler.on_event(&started.event(), now);
            task
        })
        .collect();
    // The most recently started go first.
    let calls = scheduler.set_instances(1);
    assert_eq!(read::killed(&calls), [tasks[2].clone(), tasks[1].clone()]);
    let calls = scheduler.set_instances(4);
    assert!(read::killed(&calls).is_empty());
    assert!(read::kinds(&calls).contains(&CallType::Revive));
}

// Write-ahead.

#[test]
fn nothing_is_launched_while_the_state_is_not_stored() {
    let mut scheduler = subscribed_scheduler(2);
    scheduler.set_durable(false);
    let calls = scheduler.on_event(&offers([offer("o-1").cpus(2.0)]), Instant::now());
    assert!(read::launched(&calls).is_empty());
    assert_eq!(
        read::refuse_seconds(&calls),
        [("o-1".to_string(), 2.0)],
        "briefly"
    );
    scheduler.set_durable(true);
    let calls = scheduler.on_event(&offers([offer("o-2").cpus(2.0)]), Instant::now());
    assert_eq!(read::launched(&calls).len(), 2);
}

#[test]
fn launches_whose_records_could_not_be_stored_become_declines() {
    let mut scheduler = subscribed_scheduler(2);
    let calls = scheduler.on_event(&offers([offer("o-1").cpus(2.0)]), Instant::now());
    assert_eq!(read::launched(&calls).len(), 2);
    // The save after this decision failed.
    let calls = scheduler.withhold_launches(calls);
    assert!(read::launched(&calls).is_empty());
    assert_eq!(read::declined(&calls), ["o-1"]);
    assert!(
        scheduler.tasks().is_empty(),
        "never launched, never recorded"
    );
}

// Found by mutation testing (`cargo mutants`, see the README): each test
// below fails for a change to the scheduler that every test above let
// through.

/// Three running tasks, started at 100, 200 and 300, on agents 1 to 3.
fn three_running(scheduler: &mut Scheduler) -> Vec<String> {
    (1..=3)
        .map(|n| {
            let agent_id = format!("agent-{n}");
            let task = launch_one(scheduler, &agent_id);
            let running = update(&task, TaskState::TaskRunning)
                .on(&agent_id)
                .at(f64::from(n) * 100.0);
            scheduler.on_event(&running.event(), Instant::now());
            task
        })
        .collect()
}

#[test]
fn a_task_not_running_yet_is_killed_before_a_running_one() {
    let mut scheduler = subscribed_scheduler(3);
    let running: Vec<String> = (1..=2)
        .map(|n| {
            let task = launch_one(&mut scheduler, &format!("agent-{n}"));
            let update = update(&task, TaskState::TaskRunning).on(&format!("agent-{n}"));
            scheduler.on_event(&update.event(), Instant::now());
            task
        })
        .collect();
    let staging = launch_one(&mut scheduler, "agent-3");
    let calls = scheduler.set_instances(2);
    assert_eq!(read::killed(&calls), [staging]);
    assert!(
        running
            .iter()
            .all(|task| scheduler.tasks().contains_key(task))
    );
}

#[test]
fn lowering_the_count_twice_kills_another_task_the_second_time() {
    let mut scheduler = subscribed_scheduler(3);
    let tasks = three_running(&mut scheduler);
    let first = scheduler.set_instances(2);
    assert_eq!(read::killed(&first), [tasks[2].clone()]);
    // The first victim has not ended yet: it must not be chosen again.
    let second = scheduler.set_instances(1);
    assert_eq!(read::killed(&second), [tasks[1].clone()]);
    assert_eq!(scheduler.instances(), 1);
}

#[test]
fn a_kill_is_sent_again_only_when_reconciliation_finds_the_task_alive() {
    let mut scheduler = subscribed_scheduler(3);
    let tasks = three_running(&mut scheduler);
    scheduler.set_instances(2);
    let victim = &tasks[2];
    // An ordinary update of the victim (say, a health check): the KILL is
    // on its way, asking again would only add noise.
    let calls = scheduler.on_event(
        &update(victim, TaskState::TaskRunning).on("agent-3").event(),
        Instant::now(),
    );
    assert!(read::killed(&calls).is_empty(), "{calls:?}");
    // Reconciliation says it still runs: the KILL was lost. Again.
    let calls = scheduler.on_event(
        &update(victim, TaskState::TaskRunning)
            .on("agent-3")
            .reason(Reason::Reconciliation)
            .event(),
        Instant::now(),
    );
    assert_eq!(read::killed(&calls), vec![victim.clone()]);
}

#[test]
fn the_page_shows_when_a_task_started_changed_and_what_it_said() {
    let now = Instant::now();
    let mut scheduler = subscribed_scheduler(1);
    let task = launch_one(&mut scheduler, "agent-1");
    let running = update(&task, TaskState::TaskRunning).on("agent-1");
    scheduler.on_event(&running.clone().at(100.0).message("").event(), now);
    // The same state again, later, with a message: not a change, not a
    // new start.
    scheduler.on_event(&running.at(200.0).message("healthy").event(), now);
    let details = scheduler.details(&task).expect("the page's details");
    assert_eq!(details.started, Some(100.0));
    assert_eq!(details.changed, Some(100.0));
    assert_eq!(details.message.as_deref(), Some("healthy"));
    assert_eq!(
        details.host.as_deref(),
        Some("agent-1.example"),
        "the offer's host"
    );
    // An empty message shows as none rather than as "".
    let finished = update(&task, TaskState::TaskKilling).on("agent-1");
    scheduler.on_event(&finished.at(300.0).message("").event(), now);
    let details = scheduler.details(&task).unwrap();
    assert_eq!(details.message, None);
    assert_eq!(details.changed, Some(300.0));
    assert_eq!(details.started, Some(100.0), "started once");
}

#[test]
fn durability_is_reported_as_set() {
    let mut scheduler = subscribed_scheduler(1);
    assert!(scheduler.is_durable());
    scheduler.set_durable(false);
    assert!(!scheduler.is_durable());
    scheduler.set_durable(true);
    assert!(scheduler.is_durable());
}

#[test]
fn withheld_launches_leave_offers_revived_for_a_retry() {
    let mut scheduler = subscribed_scheduler(1);
    // The launch fills the count: the decision ends with a SUPPRESS.
    let calls = scheduler.on_event(&offers([offer("o-1").cpus(2.0)]), Instant::now());
    assert!(
        read::kinds(&calls).contains(&CallType::Suppress),
        "{calls:?}"
    );
    // The save failed: no launch, so no SUPPRESS either; offers must keep
    // coming, for the launch to be tried again once the state is stored.
    let calls = scheduler.withhold_launches(calls);
    assert!(
        !read::kinds(&calls).contains(&CallType::Suppress),
        "{calls:?}"
    );
    scheduler.set_durable(true);
    let calls = scheduler.on_event(&offers([offer("o-2").cpus(2.0)]), Instant::now());
    assert_eq!(read::launched(&calls).len(), 1);
    assert!(
        read::kinds(&calls).contains(&CallType::Suppress),
        "{calls:?}"
    );
}

#[test]
fn a_count_changed_in_zookeeper_is_taken_and_acted_on() {
    let mut scheduler = subscribed_scheduler(3);
    let tasks = three_running(&mut scheduler);
    let unchanged = Adopted {
        instances: Some(3),
        framework: None,
    };
    assert!(read::killed(&scheduler.adopt(unchanged).unwrap()).is_empty());
    let lowered = Adopted {
        instances: Some(2),
        framework: None,
    };
    let calls = scheduler.adopt(lowered).unwrap();
    assert_eq!(read::killed(&calls), [tasks[2].clone()]);
    assert_eq!(scheduler.instances(), 2);
    assert_eq!(scheduler.take_adopted_framework(), None);
}

#[test]
fn a_framework_stored_by_another_instance_is_adopted_with_its_tasks() {
    let mut scheduler = Scheduler::new(2, spec(), None, TaskRecords::new(), INTERVAL);
    let theirs = FrameworkId {
        value: "framework-2".into(),
    };
    let record = TaskRecord {
        state: TaskState::TaskRunning,
        agent_id: Some("agent-1".into()),
    };
    let adopted = Adopted {
        instances: None,
        framework: Some((
            theirs.clone(),
            TaskRecords::from_iter([("t-1".into(), record)]),
        )),
    };
    scheduler.adopt(adopted).unwrap();
    assert_eq!(scheduler.take_adopted_framework(), Some(theirs.clone()));
    assert_eq!(scheduler.take_adopted_framework(), None, "taken once");
    assert_eq!(scheduler.framework_id(), Some(&theirs));
    assert!(scheduler.tasks().contains_key("t-1"));
}

#[test]
fn extras_are_killed_only_once_reconciliation_has_ended() {
    let now = Instant::now();
    // Three tasks stored, and the count lowered to 2 while no leader ran.
    let mut scheduler = restarted(2, &[("a", "agent-1"), ("b", "agent-2"), ("c", "agent-3")]);
    scheduler.on_event(&subscribed(FRAMEWORK), now);
    let answer = |task: &str, agent: &str| {
        update(task, TaskState::TaskRunning)
            .on(agent)
            .reason(Reason::Reconciliation)
            .event()
    };
    // Until the master has answered for "c", it may be gone already:
    // killing another task now could leave one instead of two.
    for (task, agent) in [("a", "agent-1"), ("b", "agent-2")] {
        let calls = scheduler.on_event(&answer(task, agent), now);
        assert!(read::killed(&calls).is_empty(), "{task}: {calls:?}");
    }
    // All answered, all running: one too many.
    let calls = scheduler.on_event(&answer("c", "agent-3"), now);
    assert_eq!(read::killed(&calls).len(), 1, "{calls:?}");
    assert_eq!(
        read::reconciled(&calls),
        Some(vec![]),
        "then all of the master's"
    );
}

#[test]
fn offers_come_back_after_a_withheld_replacement() {
    let now = Instant::now();
    let mut scheduler = subscribed_scheduler(1);
    let task = launch_one(&mut scheduler, "agent-1");
    // One round of events, saved together: the task fails, so offers are
    // asked for again (REVIVE); an offer already on its way is taken for
    // the replacement, which makes the count (SUPPRESS).
    let failed = update(&task, TaskState::TaskFailed).on("agent-1").event();
    let mut calls = scheduler.on_event(&failed, now);
    calls.extend(scheduler.on_event(&offers([offer("o-2").cpus(2.0)]), now));
    let kinds = read::kinds(&calls);
    assert!(
        kinds.ends_with(&[CallType::Revive, CallType::Accept, CallType::Suppress]),
        "{kinds:?}"
    );
    // The save failed: the replacement is not launched, so the master must
    // be left sending offers, or the task is never replaced.
    let kinds = read::kinds(&scheduler.withhold_launches(calls));
    let last_say = kinds
        .iter()
        .rfind(|kind| matches!(kind, CallType::Revive | CallType::Suppress));
    assert_eq!(last_say, Some(&CallType::Revive), "{kinds:?}");
    // A REVIVE clears the master's decline filters: the decline comes after
    // it, or its short filter is gone.
    assert_eq!(kinds.last(), Some(&CallType::Decline), "{kinds:?}");
}

#[test]
fn what_is_saved_is_the_framework_the_count_and_every_task() {
    let mut scheduler = subscribed_scheduler(2);
    let task = launch_one(&mut scheduler, "agent-1");
    let (framework_id, instances, tasks) = scheduler.state_to_save();
    assert_eq!(framework_id.map(|id| id.value.as_str()), Some(FRAMEWORK));
    assert_eq!(instances, 2);
    // The record goes to ZooKeeper before the launch goes to the master.
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[&task].state, TaskState::TaskStaging);
    assert_eq!(tasks[&task].agent_id.as_deref(), Some("agent-1"));
}
