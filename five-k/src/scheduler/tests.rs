//! The scheduler's decisions, driven with events and requests, no master.

use mesos::{
    testing::{calls, events::*},
    v1::{TaskState, scheduler::call},
};

use super::*;
use crate::app::{AppRequest, PathId};

fn request(json: &str) -> AppRequest {
    serde_json::from_str(json).unwrap()
}

/// An agent with room for many small tasks, each with a port.
fn agent1() -> AgentBuilder {
    agent("agent-1").resources("cpus:4;mem:4096;ports:[31000-31100]")
}

fn id(text: &str) -> PathId {
    PathId::parse(text)
}

/// A subscribed scheduler with no apps, its effects taken.
fn scheduler() -> Scheduler {
    let mut scheduler = Scheduler::new();
    scheduler.on_event(&subscribed("framework-1"));
    scheduler.converge();
    scheduler.take_effects();
    scheduler
}

/// Offers `offers`, converges, and returns the calls.
fn offer(
    scheduler: &mut Scheduler,
    offers_: Vec<mesos::v1::Offer>,
) -> Vec<mesos::v1::scheduler::Call> {
    scheduler.on_event(&offers(offers_));
    scheduler.converge();
    scheduler.take_effects().calls
}

fn update_all(
    scheduler: &mut Scheduler,
    task_ids: &[String],
    state: TaskState,
) -> Vec<mesos::v1::scheduler::Call> {
    for task_id in task_ids {
        scheduler.on_event(&update(task_id, state).on("agent-1").event());
    }
    scheduler.converge();
    scheduler.take_effects().calls
}

fn launched_ids(calls_: &[mesos::v1::scheduler::Call]) -> Vec<String> {
    calls::launched(calls_)
        .iter()
        .map(|t| t.task_id.value.clone())
        .collect()
}

/// Creates `/web` with `instances` and runs them all.
fn running_app(scheduler: &mut Scheduler, instances: u32) -> Vec<String> {
    let json = format!(
        r#"{{"id": "web", "cmd": "serve", "cpus": 0.1, "mem": 16, "instances": {instances}}}"#
    );
    scheduler.create_app(request(&json), false).unwrap();
    scheduler.converge();
    scheduler.take_effects();
    let calls_ = offer(scheduler, vec![agent1().offer("offer-1").build()]);
    let ids = launched_ids(&calls_);
    update_all(scheduler, &ids, TaskState::TaskRunning);
    ids
}

#[test]
fn a_new_app_asks_for_offers_and_launches_its_instances() {
    let mut scheduler = scheduler();
    scheduler.on_event(&offers([agent1().offer("offer-0")]));
    scheduler.converge();
    let idle = scheduler.take_effects().calls;
    assert_eq!(
        calls::kinds(&idle),
        vec![call::Type::Decline, call::Type::Suppress]
    );

    scheduler
        .create_app(
            request(r#"{"id": "web", "cmd": "serve", "cpus": 0.5, "mem": 64, "instances": 3}"#),
            false,
        )
        .unwrap();
    scheduler.converge();
    let effects = scheduler.take_effects();
    assert_eq!(calls::kinds(&effects.calls), vec![call::Type::Revive]);
    assert!(
        effects
            .events
            .iter()
            .any(|e| e.event_type == "deployment_info")
    );

    let calls_ = offer(&mut scheduler, vec![agent1().offer("offer-1").build()]);
    let launched = calls::launched(&calls_);
    assert_eq!(launched.len(), 3);
    assert!(launched.iter().all(|t| t.task_id.value.starts_with("web.")));
    assert_eq!(
        calls::kinds(&calls_),
        vec![call::Type::Accept, call::Type::Suppress]
    );
}

#[test]
fn the_deployment_ends_when_every_instance_runs() {
    let mut scheduler = scheduler();
    scheduler
        .create_app(
            request(r#"{"id": "web", "cmd": "serve", "cpus": 0.1, "mem": 16, "instances": 2}"#),
            false,
        )
        .unwrap();
    scheduler.converge();
    scheduler.take_effects();
    let ids = launched_ids(&offer(
        &mut scheduler,
        vec![agent1().offer("offer-1").build()],
    ));
    update_all(&mut scheduler, &ids[..1], TaskState::TaskRunning);
    assert_eq!(scheduler.deployments().count(), 1, "one of two runs");
    scheduler.on_event(
        &update(&ids[1], TaskState::TaskRunning)
            .on("agent-1")
            .event(),
    );
    scheduler.converge();
    assert_eq!(scheduler.deployments().count(), 0);
    let events: Vec<&str> = scheduler
        .take_effects()
        .events
        .iter()
        .map(|e| e.event_type)
        .collect();
    assert!(events.contains(&"deployment_success"), "{events:?}");
}

#[test]
fn a_failed_task_is_recorded_and_replaced_once_its_launch_delay_ends() {
    let mut scheduler = scheduler();
    let ids = running_app(&mut scheduler, 2);
    // Later than the interval between two revives.
    scheduler.instant += super::MIN_REVIVE_INTERVAL;
    scheduler.on_event(
        &update(&ids[0], TaskState::TaskFailed)
            .on("agent-1")
            .message("boom")
            .event(),
    );
    scheduler.converge();
    // Delayed by backoffSeconds (1 s): no offers wanted until then.
    let calls_ = scheduler.take_effects().calls;
    assert_eq!(calls::kinds(&calls_), vec![]);
    let failure = scheduler
        .app(&id("/web"))
        .unwrap()
        .last_task_failure
        .clone()
        .unwrap();
    assert_eq!(
        (failure.task_id.as_str(), failure.message.as_str()),
        (ids[0].as_str(), "boom")
    );
    let entry = scheduler.app(&id("/web")).unwrap().clone();
    assert_eq!(scheduler.launch_delay(&entry), (1, false));
    let during = offer(&mut scheduler, vec![agent1().offer("offer-2").build()]);
    assert!(launched_ids(&during).is_empty(), "declined while delayed");

    let deadline = scheduler.instant + std::time::Duration::from_secs(1);
    assert_eq!(scheduler.next_timer(), Some(deadline));
    scheduler.instant = deadline;
    scheduler.on_timer();
    scheduler.converge();
    let calls_ = scheduler.take_effects().calls;
    assert_eq!(calls::kinds(&calls_), vec![call::Type::Revive]);
    let replacement = launched_ids(&offer(
        &mut scheduler,
        vec![agent1().offer("offer-3").build()],
    ));
    assert_eq!(replacement.len(), 1);
    assert!(!ids.contains(&replacement[0]));
}

#[test]
fn each_failure_delays_the_next_launch_longer_until_reset() {
    let mut scheduler = scheduler();
    scheduler
        .create_app(
            request(
                r#"{"id": "crash", "cmd": "exit 1", "cpus": 0.1, "mem": 16, "backoffSeconds": 2, "backoffFactor": 3}"#,
            ),
            false,
        )
        .unwrap();
    scheduler.converge();
    scheduler.take_effects();
    let app_id = id("/crash");
    let mut delays = Vec::new();
    for n in 0..3 {
        let launched = launched_ids(&offer(
            &mut scheduler,
            vec![agent1().offer(&format!("offer-{n}")).build()],
        ));
        assert_eq!(launched.len(), 1, "launch {n}");
        update_all(&mut scheduler, &launched, TaskState::TaskRunning);
        // TASK_FINISHED counts: a long-running app must not exit.
        update_all(&mut scheduler, &launched, TaskState::TaskFinished);
        let entry = scheduler.app(&app_id).unwrap().clone();
        delays.push(scheduler.launch_delay(&entry).0);
        scheduler.instant = scheduler.next_timer().unwrap();
        scheduler.on_timer();
        scheduler.converge();
        scheduler.take_effects();
    }
    assert_eq!(delays, vec![2, 6, 18]);

    // A kill 5K asked for is no failure.
    let launched = launched_ids(&offer(
        &mut scheduler,
        vec![agent1().offer("offer-k").build()],
    ));
    scheduler.kill_tasks(&launched, false, false).unwrap();
    update_all(&mut scheduler, &launched, TaskState::TaskKilled);
    let entry = scheduler.app(&app_id).unwrap().clone();
    assert_eq!(scheduler.launch_delay(&entry), (0, false));

    // A failure, then DELETE /v2/queue/crash/delay: launches at once.
    let launched = launched_ids(&offer(
        &mut scheduler,
        vec![agent1().offer("offer-r").build()],
    ));
    update_all(&mut scheduler, &launched, TaskState::TaskFailed);
    assert_eq!(scheduler.launch_delay(&entry).0, 54);
    assert!(scheduler.reset_delay(&app_id));
    assert_eq!(scheduler.launch_delay(&entry), (0, false));
    let relaunched = offer(&mut scheduler, vec![agent1().offer("offer-x").build()]);
    assert_eq!(launched_ids(&relaunched).len(), 1);
    assert!(!scheduler.reset_delay(&id("/nothing")));
}

#[test]
fn a_start_moves_the_delay_on_but_a_repeated_state_does_not() {
    let mut scheduler = scheduler();
    scheduler
        .create_app(
            request(
                r#"{"id": "web", "cmd": "serve", "cpus": 0.1, "mem": 16, "instances": 3, "backoffSeconds": 10}"#,
            ),
            false,
        )
        .unwrap();
    scheduler.converge();
    let ids = launched_ids(&offer(
        &mut scheduler,
        vec![agent1().offer("offer-1").build()],
    ));
    update_all(&mut scheduler, &ids[..2], TaskState::TaskRunning);
    update_all(&mut scheduler, &ids[..1], TaskState::TaskFailed);
    let entry = scheduler.app(&id("/web")).unwrap().clone();
    assert_eq!(scheduler.launch_delay(&entry).0, 10);
    scheduler.instant += std::time::Duration::from_secs(5);
    // An agent reporting health repeats TASK_RUNNING: nothing started.
    update_all(&mut scheduler, &ids[1..2], TaskState::TaskRunning);
    assert_eq!(scheduler.launch_delay(&entry).0, 5);
    // A task that starts moves the delay's reference to now.
    update_all(&mut scheduler, &ids[2..], TaskState::TaskRunning);
    assert_eq!(scheduler.launch_delay(&entry).0, 10);
}

#[test]
fn a_restart_forgives_the_failures() {
    let mut scheduler = scheduler();
    let ids = running_app(&mut scheduler, 1);
    update_all(&mut scheduler, &ids, TaskState::TaskFailed);
    let entry = scheduler.app(&id("/web")).unwrap().clone();
    assert_eq!(scheduler.launch_delay(&entry).0, 1);
    scheduler.restart_app(&id("/web"), false).unwrap();
    let entry = scheduler.app(&id("/web")).unwrap().clone();
    assert_eq!(scheduler.launch_delay(&entry), (0, false));
    let calls_ = offer(&mut scheduler, vec![agent1().offer("offer-2").build()]);
    assert_eq!(launched_ids(&calls_).len(), 1);
}

#[test]
fn scaling_down_kills_the_youngest_first_unless_told_otherwise() {
    for (selection, expected_survivor) in [("YOUNGEST_FIRST", 0), ("OLDEST_FIRST", 2)] {
        let mut scheduler = scheduler();
        let mut ids = Vec::new();
        // Launched one by one, so their ages differ.
        let json = format!(
            r#"{{"id": "web", "cmd": "x", "cpus": 0.1, "mem": 16, "instances": 1, "killSelection": "{selection}"}}"#
        );
        scheduler.create_app(request(&json), false).unwrap();
        for n in 0..3u64 {
            scheduler.now += std::time::Duration::from_secs(1);
            if n > 0 {
                let (_, _) = scheduler
                    .update_app(
                        &id("/web"),
                        request(&format!(r#"{{"instances": {}}}"#, n + 1)),
                        true,
                    )
                    .unwrap();
            }
            scheduler.converge();
            scheduler.take_effects();
            let new = launched_ids(&offer(
                &mut scheduler,
                vec![agent1().offer(&format!("o{n}")).build()],
            ));
            update_all(&mut scheduler, &new, TaskState::TaskRunning);
            ids.extend(new);
        }
        assert_eq!(ids.len(), 3);
        scheduler
            .update_app(&id("/web"), request(r#"{"instances": 1}"#), false)
            .unwrap();
        scheduler.converge();
        let killed = calls::killed(&scheduler.take_effects().calls);
        let survivor = &ids[expected_survivor];
        assert_eq!(killed.len(), 2, "{selection}");
        assert!(
            !killed.contains(survivor),
            "{selection}: {killed:?} {ids:?}"
        );
    }
}

#[test]
fn a_change_to_an_app_under_deployment_is_refused_unless_forced() {
    let mut scheduler = scheduler();
    let (_, first) = scheduler
        .create_app(request(r#"{"id": "web", "cmd": "x"}"#), false)
        .unwrap();
    let refused = scheduler
        .update_app(&id("/web"), request(r#"{"instances": 3}"#), false)
        .unwrap_err();
    assert_eq!(
        refused,
        Refusal::Locked {
            deployments: vec![first.deployment_id.clone()]
        }
    );
    assert_eq!(
        scheduler.app(&id("/web")).unwrap().app.instances,
        1,
        "nothing applied"
    );
    scheduler.take_effects();

    scheduler
        .update_app(&id("/web"), request(r#"{"instances": 3}"#), true)
        .unwrap();
    assert_eq!(scheduler.app(&id("/web")).unwrap().app.instances, 3);
    let events: Vec<&str> = scheduler
        .take_effects()
        .events
        .iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(events, vec!["deployment_failed", "deployment_info"]);
    assert!(scheduler.deployments().all(|d| d.id != first.deployment_id));
}

#[test]
fn a_restart_starts_new_tasks_before_it_kills_the_old_ones() {
    let mut scheduler = scheduler();
    let old = running_app(&mut scheduler, 2);
    assert_eq!(scheduler.deployments().count(), 0);
    scheduler.restart_app(&id("/web"), false).unwrap();
    scheduler.converge();
    assert!(
        calls::killed(&scheduler.take_effects().calls).is_empty(),
        "nothing killed yet"
    );

    let new = launched_ids(&offer(
        &mut scheduler,
        vec![agent1().offer("offer-9").build()],
    ));
    assert_eq!(new.len(), 2);
    // One new task runs: one old one may go.
    let calls_ = update_all(&mut scheduler, &new[..1], TaskState::TaskRunning);
    assert_eq!(calls::killed(&calls_).len(), 1);
    let calls_ = update_all(&mut scheduler, &new[1..], TaskState::TaskRunning);
    let mut killed = calls::killed(&calls_);
    assert_eq!(killed.len(), 1);
    update_all(&mut scheduler, &old, TaskState::TaskKilled);
    killed.sort();
    assert_eq!(
        scheduler.deployments().count(),
        0,
        "done once the old ones are gone"
    );
}

#[test]
fn an_upgrade_with_health_checks_replaces_a_task_only_once_a_new_one_is_healthy() {
    let mut scheduler = scheduler();
    scheduler
        .create_app(
            request(
                r#"{"id": "web", "cmd": "serve", "cpus": 0.1, "mem": 16, "instances": 2,
                    "healthChecks": [{"protocol": "HTTP"}],
                    "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0}}"#,
            ),
            false,
        )
        .unwrap();
    scheduler.converge();
    scheduler.take_effects();
    let old = launched_ids(&offer(
        &mut scheduler,
        vec![agent1().offer("offer-1").build()],
    ));
    update_all(&mut scheduler, &old, TaskState::TaskRunning);
    for task_id in &old {
        scheduler.tasks.get_mut(task_id).unwrap().healthy = Some(true);
    }
    scheduler.dirty.insert(id("/web"));
    scheduler.converge();
    scheduler.take_effects();
    assert_eq!(scheduler.deployments().count(), 0, "deployed once healthy");

    scheduler
        .update_app(&id("/web"), request(r#"{"cmd": "serve --v2"}"#), false)
        .unwrap();
    scheduler.converge();
    // ⌈2 × 0.5⌉ = 1 must serve, at most 2 alive: one old goes at once,
    // and only once it ended is there room for a new one.
    let calls_ = scheduler.take_effects().calls;
    assert_eq!(calls::killed(&calls_).len(), 1);
    assert_eq!(scheduler.missing_instances(&id("/web")), 0);
    let first_gone = calls::killed(&calls_);
    update_all(&mut scheduler, &first_gone, TaskState::TaskKilled);
    scheduler.instant += super::MIN_REVIVE_INTERVAL;
    let new = launched_ids(&offer(
        &mut scheduler,
        vec![agent1().offer("offer-2").build()],
    ));
    assert_eq!(new.len(), 1);
    // Running is not serving: the last old task stays.
    let calls_ = update_all(&mut scheduler, &new, TaskState::TaskRunning);
    assert!(calls::killed(&calls_).is_empty());
    scheduler.tasks.get_mut(&new[0]).unwrap().healthy = Some(true);
    scheduler.dirty.insert(id("/web"));
    scheduler.converge();
    let last_old = calls::killed(&scheduler.take_effects().calls);
    assert_eq!(last_old.len(), 1);
    assert!(old.contains(&last_old[0]));
    update_all(&mut scheduler, &last_old, TaskState::TaskKilled);
    let second = launched_ids(&offer(
        &mut scheduler,
        vec![agent1().offer("offer-3").build()],
    ));
    assert_eq!(second.len(), 1);
    update_all(&mut scheduler, &second, TaskState::TaskRunning);
    assert_eq!(
        scheduler.deployments().count(),
        1,
        "not before it is healthy"
    );
    scheduler.tasks.get_mut(&second[0]).unwrap().healthy = Some(true);
    scheduler.dirty.insert(id("/web"));
    scheduler.converge();
    assert_eq!(scheduler.deployments().count(), 0);
}

#[test]
fn kill_and_scale_lowers_the_count_so_nothing_replaces_the_task() {
    let mut scheduler = scheduler();
    let ids = running_app(&mut scheduler, 3);
    let (killed, submitted) = scheduler.kill_tasks(&ids[..1], true, false).unwrap();
    assert_eq!((killed.len(), submitted.len()), (1, 1));
    assert_eq!(scheduler.app(&id("/web")).unwrap().app.instances, 2);
    scheduler.converge();
    assert_eq!(
        calls::killed(&scheduler.take_effects().calls),
        vec![ids[0].clone()]
    );
    update_all(&mut scheduler, &ids[..1], TaskState::TaskKilled);
    assert_eq!(scheduler.missing_instances(&id("/web")), 0);
    assert_eq!(scheduler.deployments().count(), 0);

    // Without scale, the app replaces it.
    scheduler.kill_tasks(&ids[1..2], false, false).unwrap();
    assert_eq!(scheduler.missing_instances(&id("/web")), 1);
}

#[test]
fn deleting_an_app_kills_its_tasks_and_ends_when_they_are_gone() {
    let mut scheduler = scheduler();
    let ids = running_app(&mut scheduler, 2);
    scheduler.delete_app(&id("/web"), false).unwrap();
    assert!(scheduler.app(&id("/web")).is_none());
    scheduler.converge();
    let mut killed = calls::killed(&scheduler.take_effects().calls);
    killed.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(killed, expected);
    assert_eq!(scheduler.deployments().count(), 1);
    update_all(&mut scheduler, &ids, TaskState::TaskKilled);
    assert_eq!(scheduler.deployments().count(), 0);
}

#[test]
fn cancelling_a_deployment_rolls_the_app_back() {
    let mut scheduler = scheduler();
    running_app(&mut scheduler, 1);
    let scale_up = scheduler
        .update_app(&id("/web"), request(r#"{"instances": 5}"#), false)
        .unwrap()
        .0;
    let rollback = scheduler
        .cancel_deployment(&scale_up.deployment_id, false)
        .unwrap()
        .unwrap();
    assert_ne!(rollback.deployment_id, scale_up.deployment_id);
    assert_eq!(scheduler.app(&id("/web")).unwrap().app.instances, 1);
    // Forced, it only stops.
    let again = scheduler
        .update_app(&id("/web"), request(r#"{"instances": 4}"#), true)
        .unwrap()
        .0;
    assert_eq!(
        scheduler
            .cancel_deployment(&again.deployment_id, true)
            .unwrap(),
        None
    );
    assert_eq!(scheduler.app(&id("/web")).unwrap().app.instances, 4);
    assert!(matches!(
        scheduler.cancel_deployment("nope", false),
        Err(Refusal::NotFound(_))
    ));
}

#[test]
fn an_invalid_app_is_not_stored() {
    let mut scheduler = scheduler();
    let refused = scheduler.create_app(
        request(r#"{"id": "web", "cmd": "x", "constraints": [["hostname", "NEAR"]]}"#),
        false,
    );
    assert!(matches!(refused, Err(Refusal::Invalid(_))));
    let refused = scheduler.create_app(request(r#"{"id": "Web", "cmd": "x"}"#), false);
    assert!(matches!(refused, Err(Refusal::Invalid(_))));
    assert_eq!(scheduler.apps().count(), 0);
    assert_eq!(scheduler.deployments().count(), 0);
    scheduler
        .create_app(request(r#"{"id": "web", "cmd": "x"}"#), false)
        .unwrap();
    assert!(matches!(
        scheduler.create_app(request(r#"{"id": "/web/", "cmd": "y"}"#), false),
        Err(Refusal::AlreadyExists(message)) if message == "An app with id [/web] already exists."
    ));
}

#[test]
fn one_offer_is_shared_fairly_between_waiting_apps() {
    let mut scheduler = scheduler();
    scheduler
        .create_app(
            request(r#"{"id": "big", "cmd": "x", "cpus": 0.1, "mem": 10, "instances": 1000}"#),
            false,
        )
        .unwrap();
    scheduler
        .create_app(
            request(r#"{"id": "small", "cmd": "x", "cpus": 0.1, "mem": 10, "instances": 2}"#),
            false,
        )
        .unwrap();
    scheduler.converge();
    scheduler.take_effects();
    // Room for 4 tasks: both apps get two.
    let calls_ = offer(
        &mut scheduler,
        vec![
            agent("agent-1")
                .resources("cpus:0.4;mem:1000;ports:[31000-31100]")
                .offer("o1")
                .build(),
        ],
    );
    let ids = launched_ids(&calls_);
    assert_eq!(
        ids.iter().filter(|id| id.starts_with("small.")).count(),
        2,
        "{ids:?}"
    );
    assert_eq!(
        ids.iter().filter(|id| id.starts_with("big.")).count(),
        2,
        "{ids:?}"
    );
}

#[test]
fn a_task_nobody_knows_is_killed() {
    let mut scheduler = scheduler();
    scheduler.on_event(
        &update("stranger.1", TaskState::TaskRunning)
            .on("agent-1")
            .reliable()
            .event(),
    );
    scheduler.converge();
    let calls_ = scheduler.take_effects().calls;
    assert_eq!(calls::killed(&calls_), vec!["stranger.1".to_string()]);
    assert_eq!(calls::acknowledged(&calls_).len(), 1);
}

#[test]
fn each_task_gets_its_own_host_ports_and_the_apps_service_port() {
    let mut scheduler = scheduler();
    scheduler
        .create_app(
            request(r#"{"id": "web", "cmd": "x", "cpus": 0.1, "mem": 16, "instances": 2}"#),
            false,
        )
        .unwrap();
    scheduler.converge();
    scheduler.take_effects();
    offer(&mut scheduler, vec![agent1().offer("o1").build()]);
    let tasks: Vec<_> = scheduler.tasks().of_app(&id("/web")).cloned().collect();
    assert_eq!(tasks.len(), 2);
    assert_ne!(tasks[0].ports, tasks[1].ports);
    assert_eq!(tasks[0].service_ports, vec![10000]);
}

#[test]
fn kill_and_scale_does_not_count_a_task_already_being_killed() {
    let mut scheduler = scheduler();
    let ids = running_app(&mut scheduler, 3);
    scheduler.kill_tasks(&ids[..1], false, false).unwrap();
    // The first is being killed already (and replaced): only the second
    // lowers the count (`TaskKiller.killAndScale`).
    scheduler.kill_tasks(&ids[..2], true, true).unwrap();
    assert_eq!(scheduler.app(&id("/web")).unwrap().app.instances, 2);
}

#[test]
fn the_launch_queue_holds_an_app_from_its_change_until_its_tasks_are_launched() {
    let mut scheduler = scheduler();
    scheduler.now = std::time::UNIX_EPOCH + Duration::from_secs(60);
    scheduler
        .create_app(
            request(r#"{"id": "web", "cmd": "x", "cpus": 0.1, "mem": 16, "instances": 2}"#),
            false,
        )
        .unwrap();
    scheduler.converge();
    scheduler.now += Duration::from_secs(60);
    let queue: Vec<(String, u32, String)> = scheduler
        .launch_queue()
        .map(|(entry, count, since)| (entry.app.id.to_string(), count, since))
        .collect();
    let since = "1970-01-01T00:01:00.000Z".to_string();
    assert_eq!(queue, vec![("/web".into(), 2, since)]);
    let ids = launched_ids(&offer(&mut scheduler, vec![agent1().offer("o").build()]));
    update_all(&mut scheduler, &ids, TaskState::TaskRunning);
    assert_eq!(scheduler.launch_queue().count(), 0);
    assert!(scheduler.waiting_since.is_empty());
    // A task that fails puts the app back, since then.
    update_all(&mut scheduler, &ids[..1], TaskState::TaskFailed);
    let (_, count, since) = scheduler.launch_queue().next().unwrap();
    assert_eq!((count, since.as_str()), (1, "1970-01-01T00:02:00.000Z"));
}

#[test]
fn offers_declined_alike_are_declined_in_one_call() {
    let mut scheduler = scheduler();
    scheduler
        .create_app(
            request(r#"{"id": "huge", "cmd": "x", "cpus": 64, "mem": 16}"#),
            false,
        )
        .unwrap();
    scheduler.converge();
    scheduler.take_effects();
    // Three agents, none with room: one DECLINE, not three calls.
    let offers_ = ["a", "b", "c"]
        .map(|name| agent(name).offer(&format!("offer-{name}")).build())
        .to_vec();
    let calls_ = offer(&mut scheduler, offers_);
    assert_eq!(calls::kinds(&calls_), vec![call::Type::Decline]);
    let declined = calls_[0].decline.as_ref().unwrap();
    assert_eq!(declined.offer_ids.len(), 3);
}

#[test]
fn an_app_that_starts_waiting_revives_offers_declined_for_others() {
    let mut scheduler = scheduler();
    scheduler
        .create_app(
            request(r#"{"id": "huge", "cmd": "x", "cpus": 64, "mem": 16}"#),
            false,
        )
        .unwrap();
    scheduler.converge();
    scheduler.take_effects();
    // Declined (filtered) for the app that does not fit; offers still flow.
    let calls_ = offer(&mut scheduler, vec![agent1().offer("o1").build()]);
    assert_eq!(calls::kinds(&calls_), vec![call::Type::Decline]);

    scheduler.instant += super::MIN_REVIVE_INTERVAL;
    scheduler
        .create_app(
            request(r#"{"id": "small", "cmd": "x", "cpus": 0.1, "mem": 16}"#),
            false,
        )
        .unwrap();
    scheduler.converge();
    assert_eq!(
        calls::kinds(&scheduler.take_effects().calls),
        vec![call::Type::Revive]
    );
    // A change that adds no waiting app revives nothing.
    scheduler
        .update_app(&id("/small"), request(r#"{"instances": 1}"#), true)
        .unwrap();
    scheduler.converge();
    assert!(calls::kinds(&scheduler.take_effects().calls).is_empty());
}

#[test]
fn revives_wanted_within_the_interval_after_the_last_become_one() {
    let mut scheduler = scheduler();
    let start = scheduler.instant;
    let mut revives = 0;
    for (n, app) in ["a", "b", "c"].iter().enumerate() {
        scheduler.instant = start + super::MIN_REVIVE_INTERVAL * n as u32 / 3;
        let json = format!(r#"{{"id": "{app}", "cmd": "x", "cpus": 64, "mem": 16}}"#);
        scheduler.create_app(request(&json), false).unwrap();
        scheduler.converge();
        revives += calls::kinds(&scheduler.take_effects().calls)
            .iter()
            .filter(|kind| **kind == call::Type::Revive)
            .count();
    }
    assert_eq!(revives, 1, "only the first at once");
    // The others' revive, once, when the interval is over.
    let due = scheduler.next_timer().unwrap();
    assert_eq!(due, start + super::MIN_REVIVE_INTERVAL);
    scheduler.instant = due;
    scheduler.on_timer();
    assert_eq!(
        calls::kinds(&scheduler.take_effects().calls),
        vec![call::Type::Revive]
    );
    scheduler.on_timer();
    assert!(scheduler.take_effects().calls.is_empty());
}
