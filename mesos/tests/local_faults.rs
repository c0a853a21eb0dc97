//! Fault injection, and how the library's Client and Driver cope: dropped
//! streams, silent connections, redirects, 503s, lost agents, slow and
//! duplicated status updates. Also `--master local`.

mod local_support;

use std::time::{Duration, Instant};

use http::StatusCode;
use local_support::*;
use mesos::{
    Client, ClientOptions, Driver, DriverConfig, DriverEvent, Error, MasterSpec,
    backoff::Backoff,
    calls,
    local::LocalMasterConfig,
    v1::{
        TaskState,
        framework_info::capability::Type as Capability,
        scheduler::{Event, event},
        task_status::{Reason, Source},
    },
};
use tokio::sync::mpsc;

fn driver_config(master: MasterSpec, heartbeats: u32) -> DriverConfig {
    let mut config = DriverConfig::new(master, framework_info("driven", &[], 60.0));
    config.missed_heartbeats = heartbeats;
    config.backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(100));
    config.subscribe_timeout = Duration::from_secs(5);
    config
}

/// The next driver event matching `predicate`.
async fn next_event(
    events: &mut mpsc::Receiver<DriverEvent>,
    what: &str,
    predicate: impl Fn(&DriverEvent) -> bool,
) -> DriverEvent {
    tokio::time::timeout(WAIT, async {
        loop {
            let event = events.recv().await.expect("the driver runs");
            if predicate(&event) {
                return event;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {what} from the driver within {WAIT:?}"))
}

fn subscribed_id(event: &DriverEvent) -> Option<String> {
    match event {
        DriverEvent::Event(Event {
            subscribed: Some(subscribed),
            ..
        }) => Some(subscribed.framework_id.value.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn the_driver_resubscribes_with_its_id_when_the_stream_drops() {
    let master = start(config()).await;
    let (driver, mut events) = Driver::start(driver_config(master.spec(), 5)).unwrap();
    let first = next_event(&mut events, "SUBSCRIBED", |e| subscribed_id(e).is_some()).await;
    let framework_id = subscribed_id(&first).unwrap();

    master.faults().drop_streams().await;
    let disconnected = next_event(&mut events, "Disconnected", |e| {
        matches!(e, DriverEvent::Disconnected { .. })
    })
    .await;
    assert!(
        matches!(disconnected, DriverEvent::Disconnected { reason } if reason.contains("closed"))
    );
    let again = next_event(&mut events, "SUBSCRIBED", |e| subscribed_id(e).is_some()).await;
    assert_eq!(subscribed_id(&again).unwrap(), framework_id);
    let state = master.state();
    assert!(state.framework(&framework_id).unwrap().connected);
    assert_eq!(
        state.frameworks.len(),
        1,
        "the same framework, not a new one"
    );
    driver.stop().await;
}

#[tokio::test]
async fn the_driver_notices_missing_heartbeats_and_resubscribes() {
    let master = start(LocalMasterConfig {
        heartbeat_interval: Duration::from_secs(1),
        ..config()
    })
    .await;
    let missed = 3;
    let (driver, mut events) = Driver::start(driver_config(master.spec(), missed)).unwrap();
    let first = next_event(&mut events, "SUBSCRIBED", |e| subscribed_id(e).is_some()).await;
    let framework_id = subscribed_id(&first).unwrap();
    // The window is what the master announced, not what this test hopes.
    let DriverEvent::Event(Event {
        subscribed: Some(subscribed),
        ..
    }) = &first
    else {
        unreachable!()
    };
    let interval = Duration::from_secs_f64(subscribed.heartbeat_interval_seconds.unwrap());
    assert_eq!(interval, Duration::from_secs(1));
    let is_heartbeat = |e: &DriverEvent| matches!(e, DriverEvent::Event(ev) if ev.r#type() == event::Type::Heartbeat);
    next_event(&mut events, "HEARTBEAT", is_heartbeat).await;

    // The connection stays open but goes silent, like a half-open TCP
    // connection: only the missing heartbeats tell.
    let silenced = Instant::now();
    master.faults().stop_heartbeats(true);
    let disconnected = next_event(&mut events, "Disconnected", |e| {
        matches!(e, DriverEvent::Disconnected { .. })
    })
    .await;
    let noticed = silenced.elapsed();
    assert!(
        matches!(&disconnected, DriverEvent::Disconnected { reason } if reason.contains("heartbeats missed")),
        "{disconnected:?}"
    );
    // The driver gives up `missed` intervals after the last event it
    // read. That last heartbeat came at most one interval before the
    // silence began, so: not before `missed - 1` intervals, and not long
    // after `missed` (two intervals of slack for a loaded machine).
    let (earliest, latest) = (interval * (missed - 1), interval * (missed + 2));
    assert!(
        noticed >= earliest,
        "noticed after {noticed:?}, before {missed} missed heartbeats of {interval:?}"
    );
    assert!(
        noticed < latest,
        "noticed after {noticed:?}, long after {missed} missed heartbeats of {interval:?}"
    );
    let again = next_event(&mut events, "SUBSCRIBED", |e| subscribed_id(e).is_some()).await;
    assert_eq!(subscribed_id(&again).unwrap(), framework_id);

    master.faults().stop_heartbeats(false);
    next_event(&mut events, "HEARTBEAT", is_heartbeat).await;
    driver.stop().await;
}

#[tokio::test]
async fn the_client_follows_a_redirect_to_the_leading_master() {
    let follower = start(config()).await;
    let leader = start(config()).await;
    follower.faults().redirect_to(Some(leader.addr()));

    let raw = post(&follower, &[("Content-Type", "application/json")], "{}").await;
    assert_eq!(raw.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        raw.headers["location"],
        format!("//127.0.0.1:{}/api/v1/scheduler", leader.addr().port)
    );

    let client = Client::new(ClientOptions::default());
    client.set_master(follower.addr());
    let framework =
        Framework::subscribe_client(client, framework_info("redirected", &[], 0.0)).await;
    assert_eq!(framework.client.master(), Some(leader.addr()));
    assert!(leader.state().framework(&framework.id).is_some());
    assert!(follower.state().frameworks.is_empty());
    // Calls go to the leader too.
    framework.call(calls::revive(vec![])).await;
}

#[tokio::test]
async fn service_unavailable_is_error_unavailable() {
    let master = start(config()).await;
    master
        .faults()
        .fail_with(Some(StatusCode::SERVICE_UNAVAILABLE));
    let client = Client::new(ClientOptions::default());
    client.set_master(master.addr());
    let error = client
        .subscribe(calls::subscribe(framework_info("patient", &[], 0.0)))
        .await
        .err()
        .expect("503");
    assert!(
        matches!(&error, Error::Unavailable(m) if m == "No leader elected"),
        "{error:?}"
    );
    assert!(error.is_retryable());

    master.faults().fail_with(None);
    Framework::subscribe_client(client, framework_info("patient", &[], 0.0)).await;
}

/// Runs a task on S0 and holds an offer for S1, then loses both agents.
async fn lose_agents(partition_aware: bool) {
    let master = start(config()).await;
    let capabilities: &[Capability] = if partition_aware {
        &[Capability::PartitionAware]
    } else {
        &[]
    };
    let framework =
        Framework::subscribe(&master, framework_info("unlucky", capabilities, 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let task = command_task("stranded", &offer.agent_id, "sleep 60", "cpus:0.1;mem:32");
    framework.launch(&offer, vec![task]).await;
    framework.follow("stranded", TaskState::TaskRunning).await;
    let pid = master.state().task("stranded").unwrap().pid.unwrap();
    let held = master
        .wait_for(
            |s| s.offers.iter().any(|o| o.agent_id.ends_with("-S1")),
            WAIT,
        )
        .await
        .unwrap();
    let held = held
        .offers
        .iter()
        .find(|o| o.agent_id.ends_with("-S1"))
        .unwrap()
        .id
        .clone();

    // Losing S1 rescinds the offer for it.
    let s1 = format!("{}-S1", master.id());
    assert!(master.faults().remove_agent(&s1).await);
    let rescind = framework
        .wait("RESCIND", |e| e.r#type() == event::Type::Rescind)
        .await;
    assert_eq!(rescind.rescind.unwrap().offer_id.value, held);
    let failure = framework
        .wait("FAILURE", |e| e.r#type() == event::Type::Failure)
        .await;
    assert_eq!(failure.failure.unwrap().agent_id.unwrap().value, s1);

    // Losing S0 loses its task.
    assert!(master.faults().remove_agent(&offer.agent_id.value).await);
    let expected = if partition_aware {
        TaskState::TaskUnreachable
    } else {
        TaskState::TaskLost
    };
    let lost = framework.update_in("stranded", expected).await;
    assert_eq!(lost.reason(), Reason::AgentRemoved);
    assert_eq!(lost.source(), Source::Master);
    assert_eq!(lost.message.as_deref(), Some("health check timed out"));
    assert!(lost.unreachable_time.is_some());
    assert_eq!(lost.uuid, None);
    // The agent is only cut off from the master: its task runs on.
    assert!(process_alive(pid), "the partitioned agent's task runs on");
    assert!(
        !master.faults().remove_agent(&offer.agent_id.value).await,
        "already gone"
    );

    // Reconciling it names the agent's fate.
    framework
        .call(calls::reconcile(vec![(
            lost.task_id.clone(),
            Some(offer.agent_id.clone()),
        )]))
        .await;
    let reconciled = framework.update("stranded").await;
    assert_eq!(reconciled.state(), expected);
    assert_eq!(
        reconciled.message.as_deref(),
        Some("Reconciliation: Task is unreachable")
    );

    let json = get_json(&master, "/master/state").await;
    assert_eq!(json["activated_slaves"], 0);
    assert_eq!(json["unreachable_slaves"], 2);

    // Partitioned or not, tasks do not outlive the master.
    master.shutdown().await;
    wait_process_gone(pid).await;
}

#[tokio::test]
async fn a_lost_agent_loses_its_tasks_and_offers() {
    lose_agents(false).await;
}

#[tokio::test]
async fn a_lost_agent_makes_tasks_unreachable_for_partition_aware_frameworks() {
    lose_agents(true).await;
}

#[tokio::test]
async fn status_updates_can_be_duplicated_and_delayed() {
    // The agent's own resends (after `status_update_retry` without an
    // acknowledgement) would also deliver an update twice: turn them off,
    // so that a second copy can only come from the fault.
    let master = start(LocalMasterConfig {
        status_update_retry: Duration::from_secs(3600),
        ..config()
    })
    .await;
    let framework = Framework::subscribe(&master, framework_info("flaky", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;

    master.faults().duplicate_updates(true);
    let task = command_task("twice", &offer.agent_id, "true", "cpus:0.1;mem:32");
    framework.launch(&offer, vec![task]).await;
    let first = framework.update("twice").await;
    let second = framework.update("twice").await;
    assert_eq!(first.state(), TaskState::TaskStarting);
    assert_eq!(first, second, "the same update, twice");
    // Off before the acknowledgement: the agent forwards RUNNING as soon as
    // STARTING is acknowledged, and it must not race the fault's switch.
    master.faults().duplicate_updates(false);
    framework.ack(&first).await;
    framework.follow("twice", TaskState::TaskFinished).await;
    // Once the fault is off, every later update comes once.
    let states: Vec<_> = framework
        .statuses("twice")
        .iter()
        .map(|s| s.state())
        .collect();
    assert_eq!(
        states,
        [
            TaskState::TaskStarting,
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ]
    );

    let delay = Duration::from_secs(1);
    master.faults().delay_updates(delay);
    let offer = framework.offer_for("-S1", |_| true).await;
    let launched = Instant::now();
    let task = command_task("late", &offer.agent_id, "true", "cpus:0.1;mem:32");
    framework.launch(&offer, vec![task]).await;
    framework.update("late").await;
    let arrived = launched.elapsed();
    // Held back by the delay, and by no more than about the delay: the
    // rest of the second is slack for launching on a loaded machine.
    assert!(arrived >= delay, "arrived after {arrived:?}");
    assert!(
        arrived < delay * 2,
        "arrived after {arrived:?}, far more than the {delay:?} delay"
    );
}

#[tokio::test]
async fn master_local_starts_a_simulated_master_for_the_driver() {
    let (driver, mut events) = Driver::start(driver_config(MasterSpec::Local, 5)).unwrap();
    next_event(&mut events, "SUBSCRIBED", |e| subscribed_id(e).is_some()).await;
    let offers = next_event(
        &mut events,
        "OFFERS",
        |e| matches!(e, DriverEvent::Event(ev) if ev.r#type() == event::Type::Offers),
    )
    .await;
    let DriverEvent::Event(offers) = offers else {
        unreachable!()
    };
    let offers = offers.offers.unwrap().offers;
    assert!(!offers.is_empty());
    for offer in &offers {
        assert_eq!(offered(offer), full_agent());
    }
    let master = driver.master().expect("subscribed to the simulated master");
    assert_eq!(master.host, "127.0.0.1");
    driver.stop().await;
    // The simulated master lived as long as the driver, no longer.
    let gone = tokio::net::TcpStream::connect((master.host.as_str(), master.port)).await;
    assert!(
        gone.is_err(),
        "the simulated master stopped with the driver"
    );
}

#[tokio::test]
async fn the_call_log_tells_which_subscription_was_heard() {
    let master = start(config()).await;
    let mut info = framework_info("logged", &[], 60.0);
    let first = Framework::subscribe(&master, info.clone()).await;
    first.call(calls::revive(vec![])).await;

    // A second scheduler takes the framework over; the first one's calls
    // still carry its old stream ID.
    info.id = Some(mesos::v1::FrameworkId {
        value: first.id.clone(),
    });
    let second = Framework::subscribe(&master, info).await;
    second.call(calls::suppress(vec![])).await;
    let refused = first.client.call(calls::revive(vec![])).await;
    assert!(refused.is_err(), "the old subscription is refused");

    let log = master.calls();
    let summary: Vec<_> = log
        .iter()
        .map(|c| (c.kind.as_str_name(), c.stream_id.clone(), c.accepted))
        .collect();
    let (one, two) = (
        Some(first.stream_id.clone()),
        Some(second.stream_id.clone()),
    );
    assert_eq!(
        summary,
        [
            ("SUBSCRIBE", one.clone(), true),
            ("REVIVE", one.clone(), true),
            ("SUBSCRIBE", two.clone(), true),
            ("SUPPRESS", two, true),
            ("REVIVE", one, false),
        ]
    );
    assert!(log.iter().all(|c| c.framework_id == first.id));
    let sequences: Vec<u64> = log.iter().map(|c| c.sequence).collect();
    assert_eq!(sequences, [0, 1, 2, 3, 4]);
}
