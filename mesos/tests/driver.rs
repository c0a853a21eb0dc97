//! The driver keeps a framework subscribed: it resubscribes, with the
//! framework ID it was given, when heartbeats stop or the stream drops.

mod common;

use std::time::Duration;

use common::{Reply, TestMaster, heartbeat, is_subscribe, subscribed};
use http::StatusCode;
use mesos::{
    Driver, DriverConfig, DriverEvent, MasterSpec,
    backoff::Backoff,
    detector::MasterDetector,
    v1::{FrameworkInfo, scheduler::event},
};
use tokio::sync::mpsc;

fn config(master: &TestMaster) -> DriverConfig {
    let framework_info = FrameworkInfo {
        user: "root".into(),
        name: "driver-test".into(),
        ..Default::default()
    };
    let mut config = DriverConfig::new(MasterSpec::Addr(master.master_addr()), framework_info);
    config.missed_heartbeats = 3;
    config.backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(100));
    config.subscribe_timeout = Duration::from_secs(5);
    config
}

async fn next(events: &mut mpsc::Receiver<DriverEvent>) -> DriverEvent {
    tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("an event within 10 s")
        .expect("the driver is running")
}

async fn expect_subscribed(events: &mut mpsc::Receiver<DriverEvent>) {
    match next(events).await {
        DriverEvent::Event(event) => assert_eq!(event.r#type(), event::Type::Subscribed),
        other => panic!("expected SUBSCRIBED, got {other:?}"),
    }
}

/// A master that assigns `fw-1`, sends heartbeats every `interval` only if
/// `heartbeats` is set (otherwise it stays silent with the stream open).
async fn master(interval: f64) -> TestMaster {
    TestMaster::start(move |request| {
        if is_subscribe(&request.call) {
            Reply::Stream {
                stream_id: format!("stream-{}", request.connection),
                events: vec![subscribed("fw-1", interval)],
                keep_open: true,
            }
        } else {
            Reply::Status(StatusCode::ACCEPTED, String::new())
        }
    })
    .await
}

#[tokio::test]
async fn missed_heartbeats_lead_to_a_resubscribe_with_the_framework_id() {
    let master = master(0.1).await;
    let (driver, mut events) = Driver::start(config(&master)).unwrap();
    expect_subscribed(&mut events).await;
    assert_eq!(driver.framework_id().unwrap().value, "fw-1");

    // The stream stays open but silent: after 3 × 100 ms the driver must
    // give up on it, say so, and subscribe again.
    let started = tokio::time::Instant::now();
    match next(&mut events).await {
        DriverEvent::Disconnected { reason } => assert!(reason.contains("heartbeat"), "{reason}"),
        other => panic!("expected a disconnection, got {other:?}"),
    }
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "gave up too early"
    );
    expect_subscribed(&mut events).await;

    let subscribes: Vec<_> = master
        .recorded()
        .into_iter()
        .filter(|r| is_subscribe(&r.call))
        .collect();
    assert_eq!(subscribes.len(), 2);
    assert!(
        subscribes[0].call.framework_id.is_none(),
        "first registration has no ID"
    );
    let again = &subscribes[1].call;
    assert_eq!(again.framework_id.as_ref().unwrap().value, "fw-1");
    let info = &again.subscribe.as_ref().unwrap().framework_info;
    assert_eq!(
        info.id.as_ref().unwrap().value,
        "fw-1",
        "both places carry the ID"
    );
    driver.stop().await;
}

#[tokio::test]
async fn heartbeats_keep_the_subscription_alive() {
    let master = master(0.1).await;
    let (driver, mut events) = Driver::start(config(&master)).unwrap();
    expect_subscribed(&mut events).await;
    // Send a heartbeat every 50 ms for a second: far longer than the
    // 300 ms silence limit, so only the heartbeats keep the stream alive.
    let pusher = {
        let master = std::sync::Arc::new(master);
        let pushing = master.clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                pushing.push_event(&heartbeat());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        master
    };
    let mut heartbeats = 0;
    while heartbeats < 15 {
        match next(&mut events).await {
            DriverEvent::Event(e) if e.r#type() == event::Type::Heartbeat => heartbeats += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    let subscribes = pusher
        .recorded()
        .into_iter()
        .filter(|r| is_subscribe(&r.call))
        .count();
    assert_eq!(subscribes, 1, "no resubscription while heartbeats arrive");
    driver.stop().await;
}

#[tokio::test]
async fn a_dropped_stream_leads_to_a_resubscribe() {
    let master = master(15.0).await;
    let (driver, mut events) = Driver::start(config(&master)).unwrap();
    expect_subscribed(&mut events).await;
    master.drop_streams();
    match next(&mut events).await {
        DriverEvent::Disconnected { reason } => assert!(reason.contains("closed"), "{reason}"),
        other => panic!("expected a disconnection, got {other:?}"),
    }
    expect_subscribed(&mut events).await;
    driver.call(mesos::calls::revive(vec![])).await.unwrap();
    let recorded = master.recorded();
    let resubscribe = recorded
        .iter()
        .filter(|r| is_subscribe(&r.call))
        .nth(1)
        .unwrap();
    let revive = recorded.last().unwrap();
    let new_stream_id = format!("stream-{}", resubscribe.connection);
    assert_eq!(
        revive.headers["Mesos-Stream-Id"],
        new_stream_id.as_str(),
        "calls use the new stream's ID"
    );
    driver.stop().await;
}

#[tokio::test]
async fn an_unreachable_master_is_retried_with_backoff() {
    // Nothing listens on this port until the master starts.
    let port = mesos::testing::free_port().unwrap();
    let spec: MasterSpec = format!("127.0.0.1:{port}").parse().unwrap();
    let mut config = DriverConfig::new(spec.clone(), FrameworkInfo::default());
    config.backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(50));
    let MasterSpec::Addr(addr) = spec else {
        unreachable!()
    };
    let (driver, mut events) = Driver::start_with_detector(config, MasterDetector::fixed(addr));
    for _ in 0..2 {
        match next(&mut events).await {
            DriverEvent::Disconnected { reason } => {
                assert!(reason.contains("cannot connect"), "{reason}")
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    driver.stop().await;
}
