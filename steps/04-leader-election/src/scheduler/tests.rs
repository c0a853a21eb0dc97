//! The scheduler's recovery decisions, event by event: no master, no
//! ZooKeeper, no clock.

use std::time::Duration;

use mesos::v1::{
    OfferId, TaskId,
    scheduler::{Event, call},
};

use super::*;

const FRAMEWORK: &str = "framework-1";

/// The periodic implicit reconciliation: `--reconcile-interval`'s default.
const INTERVAL: Duration = Duration::from_secs(900);

fn spec() -> TaskSpec {
    TaskSpec {
        name: "hello".into(),
        cpus: 0.5,
        mem: 128.0,
        command: "sleep 600".into(),
        kind: TaskKind::Shell,
    }
}

fn running_on(agent: &str) -> TaskRecord {
    TaskRecord {
        state: TaskState::TaskRunning,
        agent_id: Some(agent.into()),
    }
}

/// A scheduler restarted with `tasks` stored under [`FRAMEWORK`].
fn restarted(instances: usize, tasks: &[(&str, &str)]) -> Scheduler {
    let tasks = tasks
        .iter()
        .map(|(task, agent)| (task.to_string(), running_on(agent)))
        .collect();
    let framework_id = FrameworkId {
        value: FRAMEWORK.into(),
    };
    Scheduler::new(instances, spec(), Some(framework_id), tasks, INTERVAL)
}

fn event(event: Event) -> DriverEvent {
    DriverEvent::Event(event)
}

fn subscribed(framework_id: &str) -> DriverEvent {
    event(Event {
        r#type: Some(event::Type::Subscribed as i32),
        subscribed: Some(event::Subscribed {
            framework_id: FrameworkId {
                value: framework_id.into(),
            },
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// An update as reconciliation answers it: from the master, no uuid.
fn update(task: &str, state: TaskState, agent: &str) -> DriverEvent {
    event(Event {
        r#type: Some(event::Type::Update as i32),
        update: Some(event::Update {
            status: TaskStatus {
                task_id: TaskId { value: task.into() },
                state: state as i32,
                agent_id: Some(AgentId {
                    value: agent.into(),
                }),
                ..Default::default()
            },
        }),
        ..Default::default()
    })
}

/// The same update sent reliably by the agent: it has a uuid to
/// acknowledge.
fn reliable_update(task: &str, state: TaskState, agent: &str) -> DriverEvent {
    let mut event = update(task, state, agent);
    if let DriverEvent::Event(Event {
        update: Some(update),
        ..
    }) = &mut event
    {
        update.status.uuid = Some(vec![7; 16].into());
    }
    event
}

/// What the driver says when the master answered "Framework has been
/// removed".
fn removed() -> DriverEvent {
    DriverEvent::FrameworkRemoved {
        framework_id: FrameworkId {
            value: FRAMEWORK.into(),
        },
        message: "Framework has been removed".into(),
    }
}

/// One offer with room for two tasks.
fn offer(agent: &str) -> DriverEvent {
    event(Event {
        r#type: Some(event::Type::Offers as i32),
        offers: Some(event::Offers {
            offers: vec![Offer {
                id: OfferId {
                    value: format!("offer-{agent}"),
                },
                framework_id: FrameworkId {
                    value: FRAMEWORK.into(),
                },
                agent_id: AgentId {
                    value: agent.into(),
                },
                hostname: agent.into(),
                resources: vec![resources::cpus(1.0), resources::mem(256.0)],
                ..Default::default()
            }],
        }),
        ..Default::default()
    })
}

fn types(calls: &[Call]) -> Vec<call::Type> {
    calls.iter().map(Call::r#type).collect()
}

/// The task IDs of the RECONCILE among `calls`; empty for an implicit one.
fn reconciled(calls: &[Call]) -> Option<Vec<String>> {
    let reconcile = calls.iter().find_map(|c| c.reconcile.as_ref())?;
    Some(
        reconcile
            .tasks
            .iter()
            .map(|t| t.task_id.value.clone())
            .collect(),
    )
}

fn launched(calls: &[Call]) -> usize {
    calls
        .iter()
        .filter_map(|c| c.accept.as_ref())
        .flat_map(|a| &a.operations)
        .filter_map(|o| o.launch.as_ref())
        .map(|l| l.task_infos.len())
        .sum()
}

#[test]
fn after_subscribing_it_reconciles_each_task_then_all() {
    let now = Instant::now();
    let mut scheduler = restarted(2, &[("a", "agent-1"), ("b", "agent-2")]);
    let calls = scheduler.on_event(&subscribed(FRAMEWORK), now);
    assert_eq!(types(&calls), [call::Type::Suppress, call::Type::Reconcile]);
    assert_eq!(reconciled(&calls), Some(vec!["a".into(), "b".into()]));
    let asked = &calls[1].reconcile.as_ref().unwrap().tasks;
    assert_eq!(asked[0].agent_id.as_ref().unwrap().value, "agent-1");

    let calls = scheduler.on_event(&update("a", TaskState::TaskRunning, "agent-1"), now);
    assert!(
        calls.is_empty(),
        "nothing to acknowledge, still waiting for b"
    );
    let calls = scheduler.on_event(&update("b", TaskState::TaskRunning, "agent-2"), now);
    assert_eq!(reconciled(&calls), Some(vec![]), "then implicit");
    assert_eq!(
        scheduler.next_reconciliation(),
        Some(now + INTERVAL),
        "nothing due until the periodic one"
    );
}

#[test]
fn tasks_without_an_answer_are_asked_about_again() {
    let now = Instant::now();
    let mut scheduler = restarted(2, &[("a", "agent-1"), ("b", "agent-2")]);
    scheduler.on_event(&subscribed(FRAMEWORK), now);
    scheduler.on_event(&update("a", TaskState::TaskRunning, "agent-1"), now);
    let retry = scheduler.next_reconciliation().expect("a retry is due");
    assert!(retry > now);
    assert!(scheduler.on_reconciliation_timer(now).is_empty(), "not yet");
    let calls = scheduler.on_reconciliation_timer(retry);
    assert_eq!(reconciled(&calls), Some(vec!["b".into()]));
    let later = scheduler.next_reconciliation().unwrap();
    assert!(later - retry > retry - now, "backing off");
}

#[test]
fn a_disconnection_stops_reconciling_until_the_next_subscription() {
    let now = Instant::now();
    let mut scheduler = restarted(1, &[("a", "agent-1")]);
    scheduler.on_event(&subscribed(FRAMEWORK), now);
    assert!(scheduler.next_reconciliation().is_some());
    let disconnected = DriverEvent::Disconnected {
        reason: "the master closed the event stream".into(),
    };
    assert!(scheduler.on_event(&disconnected, now).is_empty());
    assert_eq!(scheduler.next_reconciliation(), None, "no answer can come");

    let calls = scheduler.on_event(&subscribed(FRAMEWORK), now);
    assert_eq!(reconciled(&calls), Some(vec!["a".into()]), "starts over");
}

#[test]
fn a_task_lost_while_away_is_replaced() {
    let now = Instant::now();
    let mut scheduler = restarted(2, &[("a", "agent-1"), ("b", "agent-2")]);
    scheduler.on_event(&subscribed(FRAMEWORK), now);
    scheduler.on_event(&update("a", TaskState::TaskRunning, "agent-1"), now);
    let calls = scheduler.on_event(&update("b", TaskState::TaskLost, "agent-2"), now);
    assert!(types(&calls).contains(&call::Type::Revive), "{calls:?}");
    assert!(!scheduler.tasks.contains_key("b"));

    let calls = scheduler.on_event(&offer("agent-1"), now);
    assert_eq!(launched(&calls), 1, "one replacement, not two");
    assert_eq!(scheduler.tasks.len(), 2);
}

#[test]
fn unknown_tasks_are_adopted_while_instances_are_missing_and_killed_after() {
    let now = Instant::now();
    let mut scheduler = restarted(2, &[("a", "agent-1")]);
    scheduler.on_event(&subscribed(FRAMEWORK), now);
    scheduler.on_event(&update("a", TaskState::TaskRunning, "agent-1"), now);

    // Implicit reconciliation reports tasks we have no record of.
    scheduler.on_event(&update("x", TaskState::TaskRunning, "agent-2"), now);
    assert_eq!(scheduler.tasks.get("x"), Some(&running_on("agent-2")));
    let calls = scheduler.on_event(
        &reliable_update("y", TaskState::TaskRunning, "agent-2"),
        now,
    );
    assert_eq!(types(&calls), [call::Type::Kill, call::Type::Acknowledge]);
    let kill = calls[0].kill.as_ref().unwrap();
    assert_eq!(kill.task_id.value, "y");
    assert_eq!(kill.agent_id.as_ref().unwrap().value, "agent-2");
    assert!(!scheduler.tasks.contains_key("y"));
    assert_eq!(scheduler.tasks.len(), 2);
}

#[test]
fn a_removed_framework_is_forgotten_and_a_new_one_registered() {
    let now = Instant::now();
    let mut scheduler = restarted(2, &[("a", "agent-1"), ("b", "agent-2")]);
    let calls = scheduler.on_event(&removed(), now);
    assert!(calls.is_empty());
    assert_eq!(scheduler.framework_id(), None);
    assert!(scheduler.tasks.is_empty());

    let calls = scheduler.on_event(&subscribed("framework-2"), now + Duration::from_secs(1));
    assert_eq!(scheduler.framework_id().unwrap().value, "framework-2");
    assert_eq!(reconciled(&calls), Some(vec![]), "nothing to ask about");
    let calls = scheduler.on_event(&offer("agent-1"), now);
    assert_eq!(launched(&calls), 2);
}

#[test]
fn failed_over_changes_nothing_stored() {
    // Another scheduler took the framework over: the driver stopped, and
    // the framework and its tasks are the other one's now. Forgetting
    // them would only be written over the other's records.
    let mut scheduler = restarted(2, &[("a", "agent-1")]);
    let failed_over = DriverEvent::FailedOver {
        message: "Framework failed over".into(),
    };
    assert!(scheduler.on_event(&failed_over, Instant::now()).is_empty());
    assert_eq!(scheduler.framework_id().unwrap().value, FRAMEWORK);
    assert_eq!(scheduler.tasks.len(), 1);
}

/// A scheduler subscribed with no tasks, all answered for.
fn subscribed_empty(instances: usize, now: Instant) -> Scheduler {
    let mut scheduler = restarted(instances, &[]);
    scheduler.on_event(&subscribed(FRAMEWORK), now);
    scheduler
}

fn declined(calls: &[Call]) -> Vec<(String, f64)> {
    calls
        .iter()
        .filter_map(|c| c.decline.as_ref())
        .flat_map(|d| {
            let refuse = d
                .filters
                .as_ref()
                .and_then(|f| f.refuse_seconds)
                .unwrap_or(5.0);
            d.offer_ids.iter().map(move |id| (id.value.clone(), refuse))
        })
        .collect()
}

#[test]
fn nothing_is_launched_while_the_state_is_not_stored() {
    let now = Instant::now();
    let mut scheduler = subscribed_empty(2, now);
    scheduler.set_durable(false);
    let calls = scheduler.on_event(&offer("agent-1"), now);
    assert_eq!(launched(&calls), 0);
    assert_eq!(
        declined(&calls),
        [("offer-agent-1".to_string(), 2.0)],
        "declined for a short while"
    );
    assert!(scheduler.tasks.is_empty());

    scheduler.set_durable(true);
    let calls = scheduler.on_event(&offer("agent-1"), now);
    assert_eq!(launched(&calls), 2);
}

#[test]
fn launches_whose_records_were_not_stored_are_withheld_and_forgotten() {
    let now = Instant::now();
    let mut scheduler = subscribed_empty(2, now);
    let calls = scheduler.on_event(&offer("agent-1"), now);
    assert_eq!(launched(&calls), 2);
    assert!(
        types(&calls).contains(&call::Type::Suppress),
        "all launched"
    );

    // The save after this decision failed: nothing may be launched.
    let calls = scheduler.withhold_launches(calls);
    assert_eq!(launched(&calls), 0, "{calls:?}");
    assert_eq!(declined(&calls), [("offer-agent-1".to_string(), 2.0)]);
    assert!(
        !types(&calls).contains(&call::Type::Suppress),
        "tasks are missing again: no SUPPRESS"
    );
    assert!(scheduler.tasks.is_empty(), "never launched, never recorded");
    // Not even asked about later: the master never heard of them.
    assert_eq!(scheduler.next_reconciliation(), Some(now + INTERVAL));

    scheduler.set_durable(true);
    let calls = scheduler.on_event(&offer("agent-2"), now);
    assert_eq!(launched(&calls), 2, "launched once stored");
}

#[test]
fn a_launch_nobody_reports_on_is_reconciled() {
    let now = Instant::now();
    let mut scheduler = subscribed_empty(1, now);
    let calls = scheduler.on_event(&offer("agent-1"), now);
    assert_eq!(launched(&calls), 1);
    let task = scheduler.tasks.keys().next().unwrap().clone();

    let due = scheduler.next_reconciliation().unwrap();
    assert_eq!(due, now + LAUNCH_TIMEOUT);
    let calls = scheduler.on_reconciliation_timer(due);
    assert_eq!(reconciled(&calls), Some(vec![task.clone()]));
    let asked = &calls[0].reconcile.as_ref().unwrap().tasks[0];
    assert_eq!(asked.agent_id.as_ref().unwrap().value, "agent-1");

    // The master never heard of it (the ACCEPT was lost): replaced.
    let calls = scheduler.on_event(&update(&task, TaskState::TaskLost, "agent-1"), due);
    assert!(!scheduler.tasks.contains_key(&task));
    assert!(types(&calls).contains(&call::Type::Revive));
}

#[test]
fn an_update_in_time_means_no_question_about_the_launch() {
    let now = Instant::now();
    let mut scheduler = subscribed_empty(1, now);
    scheduler.on_event(&offer("agent-1"), now);
    let task = scheduler.tasks.keys().next().unwrap().clone();
    scheduler.on_event(
        &reliable_update(&task, TaskState::TaskStarting, "agent-1"),
        now,
    );
    assert_eq!(scheduler.next_reconciliation(), Some(now + INTERVAL));
}

#[test]
fn all_tasks_are_reconciled_implicitly_every_interval() {
    let now = Instant::now();
    let mut scheduler = subscribed_empty(0, now);
    for n in 1..=3 {
        let at = now + INTERVAL * n;
        assert_eq!(scheduler.next_reconciliation(), Some(at));
        assert_eq!(
            reconciled(&scheduler.on_reconciliation_timer(at)),
            Some(vec![])
        );
    }
}

#[test]
fn an_instance_count_changed_in_zookeeper_is_adopted() {
    let now = Instant::now();
    let mut scheduler = restarted(1, &[("a", "agent-1")]);
    let calls = scheduler.on_event(&subscribed(FRAMEWORK), now);
    assert_eq!(types(&calls)[0], call::Type::Suppress, "all instances run");
    let adopted = Adopted {
        instances: Some(3),
        framework: None,
    };
    let calls = scheduler.adopt(adopted).unwrap();
    assert_eq!(types(&calls), [call::Type::Revive], "two more to launch");
    assert_eq!(scheduler.instances, 3);
    assert_eq!(scheduler.take_adopted_framework(), None);
}

#[test]
fn with_no_framework_yet_the_stored_one_is_adopted() {
    let mut scheduler = Scheduler::new(2, spec(), None, TaskRecords::new(), INTERVAL);
    let theirs = FrameworkId {
        value: "framework-9".into(),
    };
    let tasks = TaskRecords::from_iter([("x".to_string(), running_on("agent-1"))]);
    scheduler
        .adopt(Adopted {
            instances: Some(2),
            framework: Some((theirs.clone(), tasks.clone())),
        })
        .unwrap();
    assert_eq!(scheduler.framework_id(), Some(&theirs));
    assert_eq!(scheduler.tasks, tasks);
    assert_eq!(
        scheduler.take_adopted_framework(),
        Some(theirs),
        "for the driver"
    );
    assert_eq!(scheduler.take_adopted_framework(), None, "once");
}

#[test]
fn a_task_unknown_to_the_master_is_replaced() {
    let now = Instant::now();
    let mut scheduler = restarted(2, &[("a", "agent-1"), ("b", "agent-2")]);
    scheduler.on_event(&subscribed(FRAMEWORK), now);
    scheduler.on_event(&update("a", TaskState::TaskRunning, "agent-1"), now);
    // What reconciliation answers a partition-aware framework about a task
    // the master never heard of.
    let calls = scheduler.on_event(&update("b", TaskState::TaskUnknown, "agent-2"), now);
    assert!(!scheduler.tasks.contains_key("b"), "forgotten");
    assert!(types(&calls).contains(&call::Type::Revive), "{calls:?}");
    let calls = scheduler.on_event(&offer("agent-1"), now);
    assert_eq!(launched(&calls), 1, "replaced");
}
