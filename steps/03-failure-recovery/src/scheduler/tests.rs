//! The scheduler's recovery decisions, event by event: no master, no
//! ZooKeeper, no clock.

use std::time::Duration;

use mesos::v1::{
    OfferId, TaskId,
    scheduler::{Event, call},
};

use super::*;

const FRAMEWORK: &str = "framework-1";

fn spec() -> TaskSpec {
    TaskSpec {
        name: "hello".into(),
        cpus: 0.5,
        mem: 128.0,
        command: "sleep 600".into(),
        docker_image: None,
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
    Scheduler::new(instances, spec(), Some(framework_id), tasks)
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

fn error(message: &str) -> DriverEvent {
    event(Event {
        r#type: Some(event::Type::Error as i32),
        error: Some(event::Error {
            message: message.into(),
        }),
        ..Default::default()
    })
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
    assert_eq!(scheduler.next_reconciliation(), None);
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
    assert!(!scheduler.tasks().contains_key("b"));

    let calls = scheduler.on_event(&offer("agent-1"), now);
    assert_eq!(launched(&calls), 1, "one replacement, not two");
    assert_eq!(scheduler.tasks().len(), 2);
}

#[test]
fn unknown_tasks_are_adopted_while_instances_are_missing_and_killed_after() {
    let now = Instant::now();
    let mut scheduler = restarted(2, &[("a", "agent-1")]);
    scheduler.on_event(&subscribed(FRAMEWORK), now);
    scheduler.on_event(&update("a", TaskState::TaskRunning, "agent-1"), now);

    // Implicit reconciliation reports tasks we have no record of.
    scheduler.on_event(&update("x", TaskState::TaskRunning, "agent-2"), now);
    assert_eq!(scheduler.tasks().get("x"), Some(&running_on("agent-2")));
    let calls = scheduler.on_event(
        &reliable_update("y", TaskState::TaskRunning, "agent-2"),
        now,
    );
    assert_eq!(types(&calls), [call::Type::Kill, call::Type::Acknowledge]);
    let kill = calls[0].kill.as_ref().unwrap();
    assert_eq!(kill.task_id.value, "y");
    assert_eq!(kill.agent_id.as_ref().unwrap().value, "agent-2");
    assert!(!scheduler.tasks().contains_key("y"));
    assert_eq!(scheduler.tasks().len(), 2);
}

#[test]
fn a_removed_framework_is_forgotten_and_a_new_one_registered() {
    let now = Instant::now();
    let mut scheduler = restarted(2, &[("a", "agent-1"), ("b", "agent-2")]);
    let calls = scheduler.on_event(&error("Framework has been removed"), now);
    assert!(calls.is_empty());
    assert_eq!(scheduler.framework_id(), None);
    assert!(scheduler.tasks().is_empty());

    let calls = scheduler.on_event(&subscribed("framework-2"), now + Duration::from_secs(1));
    assert_eq!(scheduler.framework_id().unwrap().value, "framework-2");
    assert_eq!(reconciled(&calls), Some(vec![]), "nothing to ask about");
    let calls = scheduler.on_event(&offer("agent-1"), now);
    assert_eq!(launched(&calls), 2);
}

#[test]
fn other_errors_change_nothing() {
    let mut scheduler = restarted(2, &[("a", "agent-1")]);
    scheduler.on_event(&error("Framework failed over"), Instant::now());
    assert_eq!(scheduler.framework_id().unwrap().value, FRAMEWORK);
    assert_eq!(scheduler.tasks().len(), 1);
}
