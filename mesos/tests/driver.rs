//! The driver keeps a framework subscribed: it resubscribes, with the
//! framework ID it was given, when heartbeats stop or the stream drops.

mod common;

use std::time::Duration;

use common::{Recorded, Reply, TestMaster, error, heartbeat, is_subscribe, subscribed};
use http::StatusCode;
use mesos::{
    Driver, DriverConfig, DriverEvent, Error, MasterSpec, Scheduler,
    backoff::Backoff,
    calls,
    detector::MasterDetector,
    v1::{
        FrameworkId, FrameworkInfo,
        scheduler::{Call, event},
    },
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

// The timing tests run on tokio's paused clock: time moves only when every
// task (the driver, the test master, the test) waits, and then jumps to the
// next timer. A delay the driver waits is therefore measured exactly, and a
// loaded machine cannot stretch or shrink it.

#[tokio::test(start_paused = true)]
async fn missed_heartbeats_lead_to_a_resubscribe_with_the_framework_id() {
    let interval = Duration::from_millis(100);
    let master = master(interval.as_secs_f64()).await;
    let (driver, mut events) = Driver::start(config(&master)).unwrap();
    expect_subscribed(&mut events).await;
    assert_eq!(driver.framework_id().unwrap().value, "fw-1");

    // The stream stays open but silent: after 3 intervals (config's
    // missed_heartbeats) the driver must give up on it, say so, and
    // subscribe again; not earlier, and not an interval later.
    let started = tokio::time::Instant::now();
    match next(&mut events).await {
        DriverEvent::Disconnected { reason } => assert!(reason.contains("heartbeat"), "{reason}"),
        other => panic!("expected a disconnection, got {other:?}"),
    }
    let silence = started.elapsed();
    assert!(
        silence >= interval * 3 && silence < interval * 4,
        "gave up after {silence:?} of silence, not 3 × {interval:?}"
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

#[tokio::test(start_paused = true)]
async fn heartbeats_keep_the_subscription_alive() {
    let interval = Duration::from_millis(100);
    let master = std::sync::Arc::new(master(interval.as_secs_f64()).await);
    let (driver, mut events) = Driver::start(config(&master)).unwrap();
    expect_subscribed(&mut events).await;
    // A heartbeat every 250 ms for 5 s: each gap is inside the 300 ms
    // silence limit (3 × 100 ms), the whole far beyond it, so only each
    // heartbeat restarting the silence timer keeps the stream alive.
    let gap = interval * 5 / 2;
    let pushing = master.clone();
    tokio::spawn(async move {
        for _ in 0..20 {
            tokio::time::sleep(gap).await;
            pushing.push_event(&heartbeat());
        }
    });
    let started = tokio::time::Instant::now();
    for _ in 0..20 {
        match next(&mut events).await {
            DriverEvent::Event(e) if e.r#type() == event::Type::Heartbeat => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started.elapsed(), gap * 20, "the heartbeats came on time");
    let subscribes = master
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

#[tokio::test(start_paused = true)]
async fn an_unreachable_master_is_retried_with_backoff() {
    // Nothing listens on this port: every attempt is refused at once, so
    // the time between two attempts is the backoff delay alone.
    let port = mesos::testing::free_port().unwrap();
    let spec: MasterSpec = format!("127.0.0.1:{port}").parse().unwrap();
    let mut config = DriverConfig::new(spec.clone(), FrameworkInfo::default());
    let (initial, max) = (Duration::from_millis(200), Duration::from_millis(1000));
    config.backoff = Backoff::new(initial, max);
    let MasterSpec::Addr(addr) = spec else {
        unreachable!()
    };
    let (driver, mut events) = Driver::start_with_detector(config, MasterDetector::fixed(addr));
    let mut attempts = Vec::new();
    for _ in 0..6 {
        match next(&mut events).await {
            DriverEvent::Disconnected { reason } => {
                assert!(reason.contains("cannot connect"), "{reason}")
            }
            other => panic!("unexpected {other:?}"),
        }
        attempts.push(tokio::time::Instant::now());
    }
    // Before retry n the driver waits between half and all of
    // initial × 2^n, capped at max ("equal jitter", see backoff.rs):
    // 100-200 ms, 200-400, 400-800, 500-1000, 500-1000.
    let waits: Vec<Duration> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    for (n, wait) in waits.iter().enumerate() {
        let ceiling = (initial * 2u32.pow(n as u32)).min(max);
        assert!(
            *wait >= ceiling / 2 && *wait <= ceiling,
            "retry {n} came after {wait:?}, outside {:?}..={ceiling:?}; all waits: {waits:?}",
            ceiling / 2
        );
    }
    driver.stop().await;
}

/// The framework ID a recorded SUBSCRIBE carries, in the call and in its
/// FrameworkInfo (they must agree).
fn subscribed_with(recorded: &Recorded) -> Option<String> {
    let in_call = recorded
        .call
        .framework_id
        .as_ref()
        .map(|id| id.value.clone());
    let in_info = recorded
        .call
        .subscribe
        .as_ref()
        .and_then(|s| s.framework_info.id.as_ref())
        .map(|id| id.value.clone());
    assert_eq!(in_call, in_info, "both places carry the same ID");
    in_call
}

/// Waits until the channel closes: the driver has stopped by itself.
async fn expect_closed(events: &mut mpsc::Receiver<DriverEvent>) {
    let closed = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("the channel closes within 10 s");
    assert_eq!(closed, None, "no event after the driver stopped");
}

#[tokio::test]
async fn a_removed_framework_is_forgotten_and_registered_anew() {
    // This master removed fw-old (its failover timeout passed): a
    // SUBSCRIBE with that ID gets Mesos' ERROR and a closed stream. One
    // without an ID registers fw-new.
    let master = TestMaster::start(|request| {
        if !is_subscribe(&request.call) {
            return Reply::Status(StatusCode::ACCEPTED, String::new());
        }
        match &request.call.framework_id {
            Some(id) if id.value == "fw-old" => Reply::Stream {
                stream_id: "refused".into(),
                events: vec![error("Framework has been removed")],
                keep_open: false,
            },
            _ => Reply::Stream {
                stream_id: format!("stream-{}", request.connection),
                events: vec![subscribed("fw-new", 15.0)],
                keep_open: true,
            },
        }
    })
    .await;
    let mut config = config(&master);
    config.framework_info.id = Some(FrameworkId {
        value: "fw-old".into(),
    });
    let (driver, mut events) = Driver::start(config).unwrap();
    match next(&mut events).await {
        DriverEvent::FrameworkRemoved {
            framework_id,
            message,
        } => {
            assert_eq!(framework_id.value, "fw-old");
            assert_eq!(message, "Framework has been removed");
        }
        other => panic!("expected FrameworkRemoved, got {other:?}"),
    }
    expect_subscribed(&mut events).await;
    assert_eq!(driver.framework_id().unwrap().value, "fw-new");
    let subscribes = master.subscribes();
    assert_eq!(subscribes.len(), 2, "refused once, then registered anew");
    assert_eq!(subscribed_with(&subscribes[0]).as_deref(), Some("fw-old"));
    assert_eq!(subscribed_with(&subscribes[1]), None, "a new framework");
    driver.stop().await;
}

#[tokio::test]
async fn failed_over_stops_the_driver_for_good() {
    let master = master(15.0).await;
    let (driver, mut events) = Driver::start(config(&master)).unwrap();
    expect_subscribed(&mut events).await;

    // Another scheduler subscribed with our ID: the master tells us and
    // closes our stream.
    master.push_event(&error("Framework failed over"));
    master.drop_streams();
    match next(&mut events).await {
        DriverEvent::FailedOver { message } => assert_eq!(message, "Framework failed over"),
        other => panic!("expected FailedOver, got {other:?}"),
    }
    expect_closed(&mut events).await;
    assert_eq!(master.subscribes().len(), 1, "it never resubscribed");
    assert!(matches!(
        driver.call(calls::revive(vec![])).await,
        Err(Error::NotSubscribed)
    ));
    driver.stop().await;
}

/// Counts what a scheduler was told.
#[derive(Default)]
struct Recorder(Vec<DriverEvent>);

impl Scheduler for Recorder {
    fn on_event(&mut self, event: &DriverEvent) -> Vec<Call> {
        self.0.push(event.clone());
        vec![]
    }
}

#[tokio::test]
async fn a_refused_subscription_stops_the_driver_and_run_says_why() {
    let message = "The framework failover_timeout (1e+20) is invalid";
    let master = TestMaster::start(move |request| {
        if is_subscribe(&request.call) {
            Reply::Stream {
                stream_id: "refused".into(),
                events: vec![error(message)],
                keep_open: false,
            }
        } else {
            Reply::Status(StatusCode::ACCEPTED, String::new())
        }
    })
    .await;
    let (driver, mut events) = Driver::start(config(&master)).unwrap();
    let mut scheduler = Recorder::default();
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        driver.run(&mut events, &mut scheduler, std::future::pending()),
    )
    .await
    .expect("run returns once the driver stopped");
    assert!(
        matches!(&outcome, Err(Error::Refused(m)) if m == message),
        "{outcome:?}"
    );
    assert_eq!(
        scheduler.0,
        [DriverEvent::Refused {
            message: message.into()
        }],
        "the scheduler saw why"
    );
    assert_eq!(master.subscribes().len(), 1, "it never subscribed again");
}

#[tokio::test]
async fn a_call_refused_for_an_unknown_subscription_leads_to_a_resubscribe() {
    // What calls get after a master failover (`src/master/http.cpp`).
    let refusals = [
        (StatusCode::BAD_REQUEST, "Framework cannot be found"),
        (StatusCode::FORBIDDEN, "Framework is not subscribed"),
        (
            StatusCode::BAD_REQUEST,
            "The stream ID 'old' included in this request didn't match the stream ID \
             currently associated with framework ID fw-1",
        ),
    ];
    for (status, message) in refusals {
        let master = TestMaster::start(move |request| {
            if is_subscribe(&request.call) {
                Reply::Stream {
                    stream_id: format!("stream-{}", request.connection),
                    events: vec![subscribed("fw-1", 15.0)],
                    keep_open: true,
                }
            } else {
                Reply::Status(status, message.into())
            }
        })
        .await;
        let (driver, mut events) = Driver::start(config(&master)).unwrap();
        expect_subscribed(&mut events).await;

        let refused = driver.call(calls::revive(vec![])).await.unwrap_err();
        assert!(refused.is_subscription_lost(), "{refused}");
        assert!(refused.is_retryable(), "{refused}");
        match next(&mut events).await {
            DriverEvent::Disconnected { reason } => {
                assert!(
                    reason.contains("does not know this subscription"),
                    "{reason}"
                );
                assert!(reason.contains(message), "{reason}");
            }
            other => panic!("expected a disconnection, got {other:?}"),
        }
        expect_subscribed(&mut events).await;
        let subscribes = master.subscribes();
        assert_eq!(subscribes.len(), 2, "{message}");
        assert_eq!(subscribed_with(&subscribes[1]).as_deref(), Some("fw-1"));
        driver.stop().await;
    }
}

#[tokio::test]
async fn a_malformed_call_does_not_end_the_subscription() {
    let master = TestMaster::start(|request| {
        if is_subscribe(&request.call) {
            Reply::Stream {
                stream_id: "stream".into(),
                events: vec![subscribed("fw-1", 15.0)],
                keep_open: true,
            }
        } else {
            Reply::Status(
                StatusCode::BAD_REQUEST,
                "Failed to validate scheduler::Call: Expecting 'revive' to be present".into(),
            )
        }
    })
    .await;
    let (driver, mut events) = Driver::start(config(&master)).unwrap();
    expect_subscribed(&mut events).await;
    let refused = driver.call(calls::revive(vec![])).await.unwrap_err();
    assert!(!refused.is_subscription_lost() && !refused.is_retryable());
    // The subscription goes on: the next thing the driver passes on is
    // the master's heartbeat, not a disconnection.
    master.push_event(&heartbeat());
    match next(&mut events).await {
        DriverEvent::Event(e) => assert_eq!(e.r#type(), event::Type::Heartbeat),
        other => panic!("expected the heartbeat, got {other:?}"),
    }
    assert_eq!(master.subscribes().len(), 1);
    driver.stop().await;
}

#[tokio::test]
async fn an_event_that_does_not_decode_is_skipped() {
    let master = master(15.0).await;
    let (driver, mut events) = Driver::start(config(&master)).unwrap();
    expect_subscribed(&mut events).await;
    // A well-framed record that is no protobuf Event (field 31 with the
    // invalid wire type 7), an empty record, then a good event.
    master.push_raw(b"3\n\xff\xff\xff");
    master.push_raw(b"0\n");
    master.push_event(&heartbeat());
    match next(&mut events).await {
        DriverEvent::Event(e) => assert_eq!(e.r#type(), event::Type::Heartbeat),
        other => panic!("expected the heartbeat, got {other:?}"),
    }
    assert_eq!(master.subscribes().len(), 1, "the subscription was kept");
    driver.stop().await;
}

#[tokio::test]
async fn a_nonsense_heartbeat_interval_does_not_stop_the_driver() {
    for interval in [f64::INFINITY, 1e300] {
        let master = master(interval).await;
        let (driver, mut events) = Driver::start(config(&master)).unwrap();
        expect_subscribed(&mut events).await;
        master.drop_streams();
        match next(&mut events).await {
            DriverEvent::Disconnected { reason } => assert!(reason.contains("closed"), "{reason}"),
            other => panic!("expected a disconnection, got {other:?}"),
        }
        expect_subscribed(&mut events).await;
        driver.stop().await;
    }
}

#[tokio::test]
async fn stop_returns_even_when_nobody_reads_the_events() {
    let master = master(15.0).await;
    let (driver, mut events) = Driver::start(config(&master)).unwrap();
    expect_subscribed(&mut events).await;
    // More events than the channel holds, and nobody reading them: the
    // driver ends up waiting for room in the channel.
    for _ in 0..events.max_capacity() + 10 {
        master.push_event(&heartbeat());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events.len() < events.max_capacity() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the channel never filled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::timeout(Duration::from_secs(10), driver.stop())
        .await
        .expect("stop returns within 10 s");
}

#[test]
fn which_events_end_the_subscription_earlier_calls_were_decided_for() {
    use mesos::testing::events as e;
    use mesos::v1::TaskState;

    for event in [
        e::disconnected(),
        e::framework_removed("fw-1"),
        e::subscribed("fw-1"),
    ] {
        assert!(event.ends_a_subscription(), "{event:?}");
    }
    for event in [
        e::offers([e::offer("o-1")]),
        e::update("t-1", TaskState::TaskRunning).into(),
        e::heartbeat(),
        e::rescind("o-1"),
        e::failed_over(),
    ] {
        assert!(!event.ends_a_subscription(), "{event:?}");
    }
}
