//! The client against a scripted master: the SUBSCRIBE stream, calls on
//! their own connection with the stream ID, redirects and error mapping.

mod common;

use std::time::Duration;

use common::{Reply, TestMaster, heartbeat, is_subscribe, scripted, subscribed};
use http::StatusCode;
use mesos::{
    Client, ClientOptions, Credentials, Error, calls,
    codec::ContentType,
    v1::{FrameworkInfo, OfferId, scheduler::event},
};

fn framework_info() -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: "client-test".into(),
        ..Default::default()
    }
}

fn stream(events: Vec<mesos::v1::scheduler::Event>) -> Reply {
    Reply::Stream {
        stream_id: "stream-1".into(),
        events,
        keep_open: true,
    }
}

async fn subscribed_client(
    master: &TestMaster,
    options: ClientOptions,
) -> (Client, mesos::client::Subscription) {
    let client = Client::new(options);
    client.set_master(master.master_addr());
    let mut subscription = client
        .subscribe(calls::subscribe(framework_info()))
        .await
        .unwrap();
    let first = subscription.next_event().await.unwrap().unwrap();
    assert_eq!(first.r#type(), event::Type::Subscribed);
    client.set_framework_id(Some(first.subscribed.unwrap().framework_id));
    (client, subscription)
}

#[tokio::test]
async fn subscribe_streams_events_and_calls_use_another_connection() {
    let master = TestMaster::start(|request| {
        if is_subscribe(&request.call) {
            stream(vec![subscribed("fw-1", 15.0), heartbeat()])
        } else {
            Reply::Status(StatusCode::ACCEPTED, String::new())
        }
    })
    .await;
    let (client, mut subscription) = subscribed_client(&master, ClientOptions::default()).await;
    assert_eq!(subscription.stream_id(), "stream-1");
    let second = subscription.next_event().await.unwrap().unwrap();
    assert_eq!(second.r#type(), event::Type::Heartbeat);

    client
        .call(calls::decline(vec![OfferId { value: "o1".into() }], 30.0))
        .await
        .unwrap();
    client.call(calls::revive(vec![])).await.unwrap();

    let recorded = master.recorded();
    assert_eq!(recorded.len(), 3);
    let (subscribe, decline, revive) = (&recorded[0], &recorded[1], &recorded[2]);
    assert_eq!(subscribe.path, "/api/v1/scheduler");
    assert!(
        subscribe.headers.get("Mesos-Stream-Id").is_none(),
        "SUBSCRIBE never carries a stream ID"
    );
    assert_eq!(subscribe.headers["content-type"], "application/x-protobuf");
    assert_eq!(subscribe.headers["accept"], "application/x-protobuf");
    for call in [decline, revive] {
        assert_eq!(call.headers["Mesos-Stream-Id"], "stream-1");
        assert_eq!(call.call.framework_id.as_ref().unwrap().value, "fw-1");
        assert_ne!(
            call.connection, subscribe.connection,
            "calls must not share the stream's connection"
        );
    }
    assert_eq!(
        decline.connection, revive.connection,
        "calls reuse their connection"
    );
    assert_eq!(
        decline
            .call
            .decline
            .as_ref()
            .unwrap()
            .filters
            .unwrap()
            .refuse_seconds,
        Some(30.0)
    );
}

#[tokio::test]
async fn json_format_and_basic_authentication() {
    let master = TestMaster::start(|request| {
        if is_subscribe(&request.call) {
            stream(vec![subscribed("fw-json", 15.0)])
        } else {
            Reply::Status(StatusCode::ACCEPTED, String::new())
        }
    })
    .await;
    let options = ClientOptions {
        format: ContentType::Json,
        credentials: Some(Credentials {
            principal: "principal".into(),
            secret: "secret".into(),
        }),
        ..Default::default()
    };
    let (client, _subscription) = subscribed_client(&master, options).await;
    client.call(calls::suppress(vec![])).await.unwrap();
    for request in master.recorded() {
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(request.headers["accept"], "application/json");
        // base64("principal:secret")
        assert_eq!(
            request.headers["authorization"],
            "Basic cHJpbmNpcGFsOnNlY3JldA=="
        );
    }
}

#[tokio::test]
async fn calls_before_subscribing_fail_without_a_request() {
    let master = TestMaster::start(|_| Reply::Status(StatusCode::ACCEPTED, String::new())).await;
    let client = Client::new(ClientOptions::default());
    client.set_master(master.master_addr());
    assert!(matches!(
        client.call(calls::revive(vec![])).await,
        Err(Error::NotSubscribed)
    ));
    assert!(master.recorded().is_empty());
}

#[tokio::test]
async fn subscribe_follows_redirects_in_every_location_form() {
    let leader = TestMaster::start(|_| stream(vec![subscribed("fw-r", 15.0)])).await;
    // A real master writes a protocol-relative Location; the docs show a
    // bare host:port. One follower answers each way.
    let relative = format!("//{}/api/v1/scheduler", leader.authority());
    let follower_2 = TestMaster::start(move |_| Reply::Redirect(relative.clone())).await;
    let bare = follower_2.authority();
    let follower_1 = TestMaster::start(move |_| Reply::Redirect(bare.clone())).await;

    let client = Client::new(ClientOptions::default());
    client.set_master(follower_1.master_addr());
    let mut subscription = client
        .subscribe(calls::subscribe(framework_info()))
        .await
        .unwrap();
    assert_eq!(
        subscription.next_event().await.unwrap().unwrap().r#type(),
        event::Type::Subscribed
    );
    assert_eq!(
        client.master(),
        Some(leader.master_addr()),
        "the client now talks to the leader"
    );
    assert_eq!(follower_1.recorded().len(), 1);
    assert_eq!(follower_2.recorded().len(), 1);
}

#[tokio::test]
async fn redirect_loops_are_bounded() {
    let looping = TestMaster::start(|request| {
        let own = request.headers["host"].to_str().unwrap().to_string();
        Reply::Redirect(format!("//{own}/api/v1/scheduler"))
    })
    .await;
    let client = Client::new(ClientOptions {
        max_redirects: 3,
        ..Default::default()
    });
    client.set_master(looping.master_addr());
    let error = client
        .subscribe(calls::subscribe(framework_info()))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(error, Error::TooManyRedirects { hops: 3, .. }),
        "{error}"
    );
    assert_eq!(
        looping.recorded().len(),
        4,
        "the first try and three redirects"
    );
}

#[tokio::test]
async fn a_redirect_without_location_is_an_error() {
    let master =
        TestMaster::start(|_| Reply::Status(StatusCode::TEMPORARY_REDIRECT, String::new())).await;
    let client = Client::new(ClientOptions::default());
    client.set_master(master.master_addr());
    let error = client
        .subscribe(calls::subscribe(framework_info()))
        .await
        .err()
        .unwrap();
    assert!(matches!(error, Error::BadRedirect(_)), "{error}");
}

#[tokio::test]
async fn status_codes_become_typed_errors_with_the_masters_message() {
    let cases = [
        (
            StatusCode::BAD_REQUEST,
            "Failed to validate scheduler::Call: Expecting 'framework_id' to be present",
        ),
        (StatusCode::FORBIDDEN, "Framework is not subscribed"),
        (StatusCode::UNAUTHORIZED, "Unauthenticated"),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Not the leading master and no leader elected",
        ),
        (StatusCode::INTERNAL_SERVER_ERROR, "Something broke"),
    ];
    for (status, message) in cases {
        let master = TestMaster::start(scripted(vec![Reply::Status(
            status,
            format!("{message}\n"),
        )]))
        .await;
        let client = Client::new(ClientOptions::default());
        client.set_master(master.master_addr());
        let error = client
            .subscribe(calls::subscribe(framework_info()))
            .await
            .err()
            .unwrap();
        let carried = match &error {
            Error::BadRequest(m)
            | Error::Forbidden(m)
            | Error::Unauthorized(m)
            | Error::Unavailable(m) => m.clone(),
            Error::Status {
                status: got,
                message,
            } => {
                assert_eq!(*got, status);
                message.clone()
            }
            other => panic!("unexpected error for {status}: {other}"),
        };
        assert_eq!(carried, message, "the master's message is kept");
        assert_eq!(
            error.is_retryable(),
            status != 400 && status != 401,
            "{status}"
        );
    }
}

#[tokio::test]
async fn call_errors_are_mapped_too() {
    let master = TestMaster::start(|request| {
        if is_subscribe(&request.call) {
            stream(vec![subscribed("fw-e", 15.0)])
        } else {
            Reply::Status(StatusCode::FORBIDDEN, "Framework is not subscribed".into())
        }
    })
    .await;
    let (client, _subscription) = subscribed_client(&master, ClientOptions::default()).await;
    let error = client.call(calls::revive(vec![])).await.unwrap_err();
    assert!(
        matches!(&error, Error::Forbidden(m) if m == "Framework is not subscribed"),
        "{error}"
    );
}

#[tokio::test]
async fn missing_stream_id_is_an_error() {
    let master = TestMaster::start(|_| Reply::Stream {
        stream_id: String::new(),
        events: vec![],
        keep_open: false,
    })
    .await;
    let client = Client::new(ClientOptions::default());
    client.set_master(master.master_addr());
    let error = client
        .subscribe(calls::subscribe(framework_info()))
        .await
        .err()
        .unwrap();
    assert!(matches!(error, Error::NoStreamId), "{error}");
}

#[tokio::test]
async fn a_closed_stream_ends_cleanly() {
    let master = TestMaster::start(|_| stream(vec![subscribed("fw", 15.0)])).await;
    let (_client, mut subscription) = subscribed_client(&master, ClientOptions::default()).await;
    master.drop_streams();
    // A clean end of the stream is `None`.
    let end = tokio::time::timeout(Duration::from_secs(5), subscription.next_event())
        .await
        .unwrap();
    assert!(matches!(end, Ok(None)), "{end:?}");
}

#[tokio::test]
async fn an_answer_with_a_body_is_read_within_the_limit() {
    // RECONCILE_OPERATIONS is answered 200 with a body. A master (or
    // something in its place) must not make us buffer without bound.
    let master = TestMaster::start(|request| {
        if is_subscribe(&request.call) {
            stream(vec![subscribed("fw-b", 15.0)])
        } else if request.call.r#type() == mesos::v1::scheduler::call::Type::Revive {
            Reply::Status(StatusCode::OK, "x".repeat(100))
        } else {
            Reply::Status(StatusCode::OK, "x".repeat(64 * 1024))
        }
    })
    .await;
    let options = ClientOptions {
        max_record_len: 1024,
        ..ClientOptions::default()
    };
    let (client, _subscription) = subscribed_client(&master, options).await;
    let small = client.call(calls::revive(vec![])).await.unwrap();
    assert_eq!(small.map(|body| body.len()), Some(100));
    let error = client.call(calls::suppress(vec![])).await.unwrap_err();
    assert!(
        matches!(&error, Error::Status { status, message } if *status == StatusCode::OK && message.contains("1024")),
        "{error}"
    );
}
