//! A master that answers badly: the driver keeps going. Events it cannot
//! read or does not know are skipped without losing the subscription; a
//! SUBSCRIBE answered with a 5xx or with garbage, and an event stream that
//! turns to garbage, are retried with backoff until the master answers
//! properly.

mod common;

use std::time::{Duration, Instant};

use common::{Reply, TestMaster, heartbeat, is_subscribe, scripted, subscribed};
use http::StatusCode;
use mesos::{
    Driver, DriverConfig, DriverEvent, MasterSpec,
    backoff::Backoff,
    v1::{
        FrameworkInfo,
        scheduler::{Event, event},
    },
};
use tokio::sync::mpsc;

/// The first retry waits at least half of this, the next at least all of
/// it, and so on, doubling.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);

fn config(master: &TestMaster) -> DriverConfig {
    let framework_info = FrameworkInfo {
        user: "root".into(),
        name: "bad-master-test".into(),
        ..Default::default()
    };
    let mut config = DriverConfig::new(MasterSpec::Addr(master.master_addr()), framework_info);
    config.backoff = Backoff::new(INITIAL_BACKOFF, Duration::from_secs(1));
    config.subscribe_timeout = Duration::from_secs(5);
    config
}

async fn next(events: &mut mpsc::Receiver<DriverEvent>) -> DriverEvent {
    tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("an event within 10 s")
        .expect("the driver is running")
}

fn stream(id: &str) -> Reply {
    Reply::Stream {
        stream_id: id.into(),
        events: vec![subscribed("fw-1", 15.0)],
        keep_open: true,
    }
}

#[tokio::test]
async fn events_of_unknown_types_are_skipped_and_the_subscription_kept() {
    let master = TestMaster::start(|_| stream("stream-1")).await;
    let (driver, mut events) = Driver::start(config(&master)).unwrap();
    match next(&mut events).await {
        DriverEvent::Event(e) => assert_eq!(e.r#type(), event::Type::Subscribed),
        other => panic!("expected SUBSCRIBED, got {other:?}"),
    }
    // A type from a newer master, and none at all; then a heartbeat.
    for r#type in [Some(99), None] {
        master.push_event(&Event {
            r#type,
            ..Default::default()
        });
    }
    master.push_event(&heartbeat());
    match next(&mut events).await {
        DriverEvent::Event(e) => assert_eq!(e.r#type(), event::Type::Heartbeat),
        other => panic!("expected the heartbeat, the others skipped; got {other:?}"),
    }
    assert_eq!(master.subscribes().len(), 1, "the subscription was kept");
    driver.stop().await;
}

#[tokio::test]
async fn a_subscribe_answered_with_5xx_or_garbage_is_retried_with_backoff() {
    let garbage = "<html><body>Bad gateway, or so</body></html>";
    let master = TestMaster::start(scripted(vec![
        Reply::Status(StatusCode::SERVICE_UNAVAILABLE, "no leading master".into()),
        Reply::Status(StatusCode::INTERNAL_SERVER_ERROR, String::new()),
        // 200 but no stream: no Mesos-Stream-Id, a body of HTML.
        Reply::Status(StatusCode::OK, garbage.into()),
        Reply::Status(StatusCode::BAD_GATEWAY, garbage.into()),
        stream("stream-5"),
    ]))
    .await;
    let started = Instant::now();
    let (driver, mut events) = Driver::start(config(&master)).unwrap();
    let mut reasons = Vec::new();
    loop {
        match next(&mut events).await {
            DriverEvent::Disconnected { reason } => reasons.push(reason),
            DriverEvent::Event(e) if e.r#type() == event::Type::Subscribed => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    let took = started.elapsed();
    assert_eq!(reasons.len(), 4, "{reasons:#?}");
    for (reason, expected) in reasons.iter().zip(["503", "500", "Stream-Id", "502"]) {
        assert!(
            reason.contains(expected),
            "{reason:?} should say {expected}"
        );
    }
    // Four waits, each at least half its doubling ceiling: 50 + 100 +
    // 200 + 400 ms. Retrying at once would take a few milliseconds.
    let least = INITIAL_BACKOFF / 2 * (1 + 2 + 4 + 8);
    assert!(took >= least, "subscribed after {took:?}, before {least:?}");
    assert_eq!(master.subscribes().len(), 5);
    driver.stop().await;
}

#[tokio::test]
async fn an_event_stream_turning_to_garbage_is_subscribed_again() {
    let master = TestMaster::start(|request| {
        if is_subscribe(&request.call) {
            stream(&format!("stream-{}", request.connection))
        } else {
            Reply::Status(StatusCode::ACCEPTED, String::new())
        }
    })
    .await;
    let (driver, mut events) = Driver::start(config(&master)).unwrap();
    match next(&mut events).await {
        DriverEvent::Event(e) => assert_eq!(e.r#type(), event::Type::Subscribed),
        other => panic!("expected SUBSCRIBED, got {other:?}"),
    }
    // Not RecordIO: the stream is out of step for good, so the driver
    // drops it and subscribes again.
    master.push_raw(b"<html>502 Bad Gateway</html>\n");
    match next(&mut events).await {
        DriverEvent::Disconnected { reason } => {
            assert!(reason.contains("RecordIO"), "{reason}")
        }
        other => panic!("expected a disconnection, got {other:?}"),
    }
    match next(&mut events).await {
        DriverEvent::Event(e) => assert_eq!(e.r#type(), event::Type::Subscribed),
        other => panic!("expected SUBSCRIBED again, got {other:?}"),
    }
    assert_eq!(master.subscribes().len(), 2);
    driver.stop().await;
}
