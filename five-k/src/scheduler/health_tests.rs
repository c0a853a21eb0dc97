//! Health check results and what they make the scheduler do, no network.

use std::time::Duration;

use mesos::{
    testing::{calls, events::*},
    v1::{TaskState, scheduler::Call},
};

use super::{
    Scheduler,
    health::{CheckResult, unhealthy_kills},
    launch,
};
use crate::{
    app::{AppRequest, HealthCheck, PathId},
    health::{probe::Probe, state::Outcome},
};

fn scheduler() -> Scheduler {
    let mut scheduler = Scheduler::new();
    scheduler.on_event(&subscribed("framework-1"));
    scheduler.converge();
    scheduler.take_effects();
    scheduler
}

fn offer(scheduler: &mut Scheduler, offer_id: &str) -> Vec<String> {
    let agent = agent("agent-1").resources("cpus:4;mem:4096;ports:[31000-31100]");
    scheduler.on_event(&offers([agent.offer(offer_id)]));
    scheduler.converge();
    calls::launched(&scheduler.take_effects().calls)
        .iter()
        .map(|t| t.task_id.value.clone())
        .collect()
}

fn run(scheduler: &mut Scheduler, ids: &[String]) {
    for id in ids {
        scheduler.on_event(&update(id, TaskState::TaskRunning).on("agent-1").event());
    }
    scheduler.converge();
    scheduler.take_effects();
}

/// `/web` with `instances` running, with one HTTP check (`check` merged
/// over a short one with no grace period).
fn checked_app(scheduler: &mut Scheduler, instances: u32, check: &str) -> Vec<String> {
    let json = format!(
        r#"{{"id": "web", "cmd": "serve", "cpus": 0.1, "mem": 16, "instances": {instances},
            "healthChecks": [{{"protocol": "HTTP", "path": "/health", "intervalSeconds": 2,
            "timeoutSeconds": 1, "delaySeconds": 0, {check}}}]}}"#
    );
    let request: AppRequest = serde_json::from_str(&json).unwrap();
    scheduler.create_app(request, false).unwrap();
    scheduler.converge();
    scheduler.take_effects();
    let ids = offer(scheduler, "offer-1");
    run(scheduler, &ids);
    ids
}

fn result(task_id: &str, outcome: Outcome) -> CheckResult {
    CheckResult {
        task_id: task_id.to_string(),
        check_index: 0,
        outcome,
    }
}

fn failed(task_id: &str) -> CheckResult {
    result(task_id, Outcome::Unhealthy("HTTP status 503".into()))
}

/// Feeds results, converges, returns the calls and the health events'
/// types (a first healthy result may also end the app's deployment).
fn feed(scheduler: &mut Scheduler, results: Vec<CheckResult>) -> (Vec<Call>, Vec<&'static str>) {
    scheduler.on_health_results(results);
    scheduler.converge();
    let effects = scheduler.take_effects();
    let events = effects
        .events
        .iter()
        .map(|e| e.event_type)
        .filter(|t| !t.starts_with("deployment"))
        .collect();
    (effects.calls, events)
}

fn healthy(scheduler: &Scheduler, task_id: &str) -> Option<bool> {
    scheduler.tasks().get(task_id).unwrap().healthy
}

fn killed(calls_: &[Call]) -> Vec<String> {
    calls_
        .iter()
        .filter_map(|c| c.kill.as_ref())
        .map(|k| k.task_id.value.clone())
        .collect()
}

#[test]
fn a_success_makes_a_task_healthy_and_a_failure_unhealthy() {
    let mut scheduler = scheduler();
    let ids = checked_app(&mut scheduler, 1, r#""gracePeriodSeconds": 0"#);
    assert_eq!(healthy(&scheduler, &ids[0]), None, "not checked yet");

    let (_, events) = feed(&mut scheduler, vec![result(&ids[0], Outcome::Healthy)]);
    assert_eq!(healthy(&scheduler, &ids[0]), Some(true));
    assert_eq!(events, vec!["health_status_changed_event"]);

    let (calls_, events) = feed(&mut scheduler, vec![failed(&ids[0])]);
    assert_eq!(healthy(&scheduler, &ids[0]), Some(false));
    assert_eq!(
        events,
        vec!["failed_health_check_event", "health_status_changed_event"]
    );
    assert!(
        killed(&calls_).is_empty(),
        "one failure of three kills nothing"
    );
    let record = &scheduler.health_records(&ids[0]).unwrap()[&0];
    assert_eq!(
        (
            record.consecutive_failures,
            record.last_failure_cause.as_deref()
        ),
        (1, Some("HTTP status 503"))
    );
}

#[test]
fn failures_are_ignored_in_the_grace_period_until_the_first_success() {
    let mut scheduler = scheduler();
    let ids = checked_app(&mut scheduler, 1, r#""gracePeriodSeconds": 300"#);
    let (_, events) = feed(&mut scheduler, vec![failed(&ids[0])]);
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(healthy(&scheduler, &ids[0]), None);

    // Past the grace period, failures count.
    scheduler.now += Duration::from_secs(301);
    feed(&mut scheduler, vec![failed(&ids[0])]);
    assert_eq!(healthy(&scheduler, &ids[0]), Some(false));
}

#[test]
fn after_a_first_success_the_grace_period_is_over() {
    let mut scheduler = scheduler();
    let ids = checked_app(&mut scheduler, 1, r#""gracePeriodSeconds": 300"#);
    feed(&mut scheduler, vec![result(&ids[0], Outcome::Healthy)]);
    let (_, events) = feed(&mut scheduler, vec![failed(&ids[0])]);
    assert!(events.contains(&"failed_health_check_event"));
    assert_eq!(healthy(&scheduler, &ids[0]), Some(false));
}

#[test]
fn a_failed_task_is_replaced_first_and_killed_once_its_replacement_serves() {
    let mut scheduler = scheduler();
    let ids = checked_app(
        &mut scheduler,
        3,
        r#""gracePeriodSeconds": 0, "maxConsecutiveFailures": 2"#,
    );
    let all_up = ids.iter().map(|id| result(id, Outcome::Healthy)).collect();
    feed(&mut scheduler, all_up);
    feed(&mut scheduler, vec![failed(&ids[0])]);
    assert_eq!(scheduler.missing_instances(&PathId::parse("/web")), 0);

    let (calls_, events) = feed(&mut scheduler, vec![failed(&ids[0])]);
    assert!(killed(&calls_).is_empty(), "killed before replaced");
    assert!(!events.contains(&"unhealthy_instance_kill_event"));
    let replacement = offer(&mut scheduler, "offer-2");
    assert_eq!(replacement.len(), 1);

    run(&mut scheduler, &replacement);
    assert_eq!(healthy(&scheduler, &ids[0]), Some(false));
    // Running is not serving: its own check must pass first.
    let (calls_, events) = feed(
        &mut scheduler,
        vec![result(&replacement[0], Outcome::Healthy)],
    );
    assert_eq!(killed(&calls_), vec![ids[0].clone()]);
    assert!(events.contains(&"unhealthy_instance_kill_event"));
}

#[test]
fn when_every_task_fails_at_once_none_is_killed_before_replacements_serve() {
    let mut scheduler = scheduler();
    let ids = checked_app(
        &mut scheduler,
        3,
        r#""gracePeriodSeconds": 0, "maxConsecutiveFailures": 1"#,
    );
    let all_down = ids.iter().map(|id| failed(id)).collect();
    let (calls_, _) = feed(&mut scheduler, all_down);
    assert!(killed(&calls_).is_empty(), "the mass kill of #3317");
    // maximumOverCapacity 1: all three replacements at once.
    let replacements = offer(&mut scheduler, "offer-2");
    assert_eq!(replacements.len(), 3);
    run(&mut scheduler, &replacements);

    let (calls_, _) = feed(
        &mut scheduler,
        vec![result(&replacements[0], Outcome::Healthy)],
    );
    assert_eq!(killed(&calls_).len(), 1, "one serves: one may go");
    let rest = replacements[1..]
        .iter()
        .map(|id| result(id, Outcome::Healthy))
        .collect();
    let (calls_, _) = feed(&mut scheduler, rest);
    assert_eq!(killed(&calls_).len(), 2);
}

#[test]
fn without_room_over_capacity_replacements_come_one_at_a_time() {
    let mut scheduler = scheduler();
    let json = r#""gracePeriodSeconds": 0, "maxConsecutiveFailures": 1"#;
    let ids = checked_app(&mut scheduler, 2, json);
    let entry = scheduler.apps.get_mut(&PathId::parse("/web")).unwrap();
    entry.app.upgrade_strategy.maximum_over_capacity = 0.0;
    let all_down = ids.iter().map(|id| failed(id)).collect();
    feed(&mut scheduler, all_down);
    let first = offer(&mut scheduler, "offer-2");
    assert_eq!(first.len(), 1, "2 kept, at most 3 up");
    run(&mut scheduler, &first);
    let (calls_, _) = feed(&mut scheduler, vec![result(&first[0], Outcome::Healthy)]);
    let gone = killed(&calls_);
    assert_eq!(gone.len(), 1);
    // A task being killed takes room until Mesos says it ended.
    assert!(offer(&mut scheduler, "offer-3").is_empty());
    scheduler.on_event(
        &update(&gone[0], TaskState::TaskKilled)
            .on("agent-1")
            .event(),
    );
    assert_eq!(offer(&mut scheduler, "offer-4").len(), 1);
}

#[test]
fn zero_max_consecutive_failures_never_replaces_a_task() {
    let mut scheduler = scheduler();
    let ids = checked_app(
        &mut scheduler,
        1,
        r#""gracePeriodSeconds": 0, "maxConsecutiveFailures": 0"#,
    );
    for _ in 0..5 {
        feed(&mut scheduler, vec![failed(&ids[0])]);
    }
    assert_eq!(healthy(&scheduler, &ids[0]), Some(false));
    assert!(offer(&mut scheduler, "offer-2").is_empty());
}

#[test]
fn the_kill_rule_keeps_the_minimum_health_capacity_up() {
    // 3 instances, all failed, nothing serving: keep all 3.
    assert_eq!(unhealthy_kills(3, 1.0, 0, 3), 0);
    // One replacement serves: one failed task may go.
    assert_eq!(unhealthy_kills(3, 1.0, 1, 3), 1);
    // Half the capacity is enough: 2 of 4 may go at once.
    assert_eq!(unhealthy_kills(4, 0.5, 0, 4), 2);
    // Never more than the failed ones.
    assert_eq!(unhealthy_kills(3, 0.0, 5, 1), 1);
    // ⌈3 × 0.5⌉ = 2 kept.
    assert_eq!(unhealthy_kills(3, 0.5, 0, 3), 1);
}

#[test]
fn five_k_checks_http_https_and_tcp_on_the_tasks_host_port() {
    let mut scheduler = scheduler();
    let json = r#"{"id": "web", "cmd": "serve", "cpus": 0.1, "mem": 16, "instances": 1,
        "portDefinitions": [{"port": 0}, {"port": 0}],
        "healthChecks": [
            {"protocol": "HTTP", "path": "/health", "portIndex": 1},
            {"protocol": "TCP", "port": 9000},
            {"protocol": "MESOS_TCP"}]}"#;
    scheduler
        .create_app(serde_json::from_str(json).unwrap(), false)
        .unwrap();
    scheduler.converge();
    let ids = offer(&mut scheduler, "offer-1");
    assert!(scheduler.health_targets().is_empty(), "staging: not yet");
    run(&mut scheduler, &ids);
    let targets = scheduler.health_targets();
    let task = scheduler.tasks().get(&ids[0]).unwrap();
    assert_eq!(targets.len(), 2, "the agent runs MESOS_TCP");
    assert_eq!(
        targets[0].probe,
        Probe::Http {
            path: "/health".into(),
            ignore_http1xx: false
        }
    );
    assert_eq!(u64::from(targets[0].port), task.ports[1]);
    assert_eq!(targets[0].host, task.host);
    assert_eq!((&targets[1].probe, targets[1].port), (&Probe::Tcp, 9000));
    // Marathon's defaults: first after 15 s, every 60 s, 20 s to answer.
    assert_eq!(
        (targets[0].delay, targets[0].interval, targets[0].timeout),
        (
            Duration::from_secs(15),
            Duration::from_secs(60),
            Duration::from_secs(20)
        )
    );
}

#[test]
fn the_agents_healthy_sets_the_task_healthy_and_5k_does_not_kill_for_it() {
    let mut scheduler = scheduler();
    let json = r#"{"id": "web", "cmd": "serve", "cpus": 0.1, "mem": 16, "instances": 1,
        "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"},
                          "gracePeriodSeconds": 0, "maxConsecutiveFailures": 1}]}"#;
    scheduler
        .create_app(serde_json::from_str(json).unwrap(), false)
        .unwrap();
    scheduler.converge();
    let ids = offer(&mut scheduler, "offer-1");
    run(&mut scheduler, &ids);
    let mut status = update(&ids[0], TaskState::TaskRunning)
        .on("agent-1")
        .status();
    status.healthy = Some(true);
    scheduler.on_update(&status);
    assert_eq!(healthy(&scheduler, &ids[0]), Some(true));

    status.healthy = Some(false);
    status.message = Some("command exited with 1".into());
    scheduler.on_update(&status);
    scheduler.converge();
    let effects = scheduler.take_effects();
    assert_eq!(healthy(&scheduler, &ids[0]), Some(false));
    assert!(killed(&effects.calls).is_empty(), "the agent kills it");
    assert!(calls::launched(&effects.calls).is_empty());
    let record = &scheduler.health_records(&ids[0]).unwrap()[&0];
    assert_eq!(
        record.last_failure_cause.as_deref(),
        Some("command exited with 1")
    );

    // The agent kills it; the end carries no news about its health.
    scheduler.now += Duration::from_secs(1);
    status.state = TaskState::TaskKilled as i32;
    status.healthy = Some(true);
    scheduler.on_update(&status);
    let events = scheduler.take_effects().events;
    assert_eq!(
        events.iter().map(|e| e.event_type).collect::<Vec<_>>(),
        vec!["status_update_event"]
    );
}

fn check(json: &str) -> HealthCheck {
    serde_json::from_str(json).unwrap()
}

#[test]
fn agent_side_checks_become_the_task_infos_health_check() {
    use mesos::v1::health_check::Type;
    let http = launch::mesos_health_check(
        &check(r#"{"protocol": "MESOS_HTTPS", "path": "/ping", "portIndex": 1}"#),
        &[31000, 31001],
    )
    .unwrap();
    assert_eq!(http.r#type(), Type::Http);
    let info = http.http.unwrap();
    assert_eq!(
        (info.scheme.as_deref(), info.port, info.path.as_deref()),
        (Some("https"), 31001, Some("/ping"))
    );
    assert_eq!(
        (
            http.grace_period_seconds,
            http.interval_seconds,
            http.timeout_seconds,
            http.consecutive_failures,
            http.delay_seconds
        ),
        (Some(300.0), Some(60.0), Some(20.0), Some(3), Some(15.0))
    );

    let tcp = launch::mesos_health_check(&check(r#"{"protocol": "MESOS_TCP", "port": 8080}"#), &[])
        .unwrap();
    assert_eq!((tcp.r#type(), tcp.tcp.unwrap().port), (Type::Tcp, 8080));

    let command = launch::mesos_health_check(
        &check(r#"{"protocol": "COMMAND", "command": {"value": "curl -f localhost:$PORT0"}}"#),
        &[31000],
    )
    .unwrap();
    assert_eq!(command.r#type(), Type::Command);
    let value = command.command.unwrap().value;
    assert_eq!(value.as_deref(), Some("curl -f localhost:$PORT0"));

    assert!(launch::mesos_health_check(&check(r#"{"protocol": "HTTP"}"#), &[31000]).is_none());
    // A port index beyond the task's ports: no check rather than a wrong one.
    assert!(launch::mesos_health_check(&check(r#"{"protocol": "MESOS_TCP"}"#), &[]).is_none());
}

#[test]
fn the_task_info_carries_the_one_agent_side_check() {
    let json = r#"{"cmd": "serve", "healthChecks": [{"protocol": "HTTP"},
        {"protocol": "MESOS_HTTP", "path": "/ready"}]}"#;
    let request: AppRequest = serde_json::from_str(json).unwrap();
    let app = crate::app::App::create(PathId::parse("/web"), request, "2026-12-06T14:35:05.123Z");
    let allocation = mesos::offers::Allocation {
        resources: mesos::resources::Resources::new(),
        ports: vec![31007],
    };
    let agent_id = mesos::v1::AgentId { value: "a".into() };
    let info = launch::task_info(&app, "web.1", &agent_id, "h", allocation);
    let check = info.health_check.unwrap();
    assert_eq!(check.http.unwrap().port, 31007);
}
