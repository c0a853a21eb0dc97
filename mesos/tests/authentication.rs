//! HTTP basic authentication of frameworks against the simulated master
//! started as a real master is with `--authenticate_http_frameworks
//! --http_framework_authenticators=basic --credentials=<file>`: the right
//! credentials subscribe; missing or wrong ones, or a FrameworkInfo naming
//! another principal, end the driver at once with a clear error instead of
//! retrying for ever.

use std::time::Duration;

use mesos::{
    Client, ClientOptions, Credentials, Driver, DriverConfig, DriverEvent, Error, MasterSpec,
    backoff::Backoff,
    calls,
    local::{LocalMaster, LocalMasterConfig},
    v1::{FrameworkInfo, scheduler::event},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::mpsc,
};

const PATIENCE: Duration = Duration::from_secs(30);

fn credentials(principal: &str, secret: &str) -> Credentials {
    Credentials::new(principal.into(), secret.into()).unwrap()
}

async fn authenticating_master() -> LocalMaster {
    LocalMaster::start(LocalMasterConfig {
        framework_credentials: Some(vec![
            credentials("hello-mesos", "s3cret"),
            credentials("other", "other-secret"),
        ]),
        ..Default::default()
    })
    .await
    .unwrap()
}

fn driver(
    master: &LocalMaster,
    principal: Option<&str>,
    credentials: Option<Credentials>,
) -> (Driver, mpsc::Receiver<DriverEvent>) {
    let info = FrameworkInfo {
        user: "root".into(),
        name: "authenticated".into(),
        principal: principal.map(str::to_string),
        ..Default::default()
    };
    let mut config = DriverConfig::new(MasterSpec::Addr(master.addr()), info);
    config.client.credentials = credentials;
    config.backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(50));
    Driver::start(config).unwrap()
}

async fn next(events: &mut mpsc::Receiver<DriverEvent>) -> Option<DriverEvent> {
    tokio::time::timeout(PATIENCE, events.recv())
        .await
        .expect("the driver says something within 30 s")
}

/// The driver's first word must be a refusal, and then it must stop: the
/// channel closes instead of a stream of retries.
async fn refused(mut events: mpsc::Receiver<DriverEvent>) -> String {
    let message = match next(&mut events).await {
        Some(DriverEvent::Refused { message }) => message,
        other => panic!("expected the subscription to be refused, got {other:?}"),
    };
    assert_eq!(
        next(&mut events).await,
        None,
        "the driver stopped after the refusal"
    );
    message
}

#[tokio::test]
async fn the_right_credentials_subscribe_and_set_the_frameworks_principal() {
    let master = authenticating_master().await;
    let (driver, mut events) = driver(&master, None, Some(credentials("hello-mesos", "s3cret")));
    match next(&mut events).await {
        Some(DriverEvent::Event(event)) => assert_eq!(event.r#type(), event::Type::Subscribed),
        other => panic!("expected SUBSCRIBED, got {other:?}"),
    }
    let framework_id = driver.framework_id().unwrap().value;
    // The master fills in the principal the framework authenticated with.
    let state = master.state();
    let framework = state.framework(&framework_id).unwrap();
    assert_eq!(framework.info.principal.as_deref(), Some("hello-mesos"));
    // Calls carry the credentials too.
    driver.call(calls::revive(vec![])).await.unwrap();
    driver.stop().await;
}

#[tokio::test]
async fn missing_or_wrong_credentials_end_the_driver_with_a_clear_error() {
    let master = authenticating_master().await;
    for credentials in [
        None,
        Some(credentials("hello-mesos", "wrong")),
        Some(credentials("stranger", "s3cret")),
    ] {
        let (_driver, events) = driver(&master, None, credentials.clone());
        let message = refused(events).await;
        assert!(
            message.contains("401 Unauthorized"),
            "{credentials:?}: {message}"
        );
        assert!(!message.contains("s3cret"), "{message}");
    }
    assert!(master.state().frameworks.is_empty());
}

#[tokio::test]
async fn a_framework_info_naming_another_principal_is_refused() {
    let master = authenticating_master().await;
    let (_driver, events) = driver(
        &master,
        Some("other"),
        Some(credentials("hello-mesos", "s3cret")),
    );
    let message = refused(events).await;
    assert!(
        message.contains(
            "400 Bad Request): Failed to validate scheduler::Call: Authenticated principal \
             'hello-mesos' does not match principal 'other' set in `FrameworkInfo`"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn a_principal_cannot_make_calls_for_another_principals_framework() {
    let master = authenticating_master().await;
    let (owner, mut events) = driver(&master, None, Some(credentials("hello-mesos", "s3cret")));
    assert!(matches!(
        next(&mut events).await,
        Some(DriverEvent::Event(_))
    ));
    let owned = owner.framework_id().unwrap();

    // `other` subscribes a framework of its own, then speaks for the first.
    let client = Client::new(ClientOptions {
        credentials: Some(credentials("other", "other-secret")),
        ..Default::default()
    });
    client.set_master(master.addr());
    let mut subscription = client
        .subscribe(calls::subscribe(FrameworkInfo {
            user: "root".into(),
            name: "intruder".into(),
            ..Default::default()
        }))
        .await
        .unwrap();
    let subscribed = subscription.next_event().await.unwrap().unwrap();
    assert_eq!(subscribed.r#type(), event::Type::Subscribed);
    client.set_framework_id(Some(owned.clone()));
    let error = client.call(calls::teardown()).await.unwrap_err();
    assert!(
        matches!(&error, Error::BadRequest(message) if message ==
            "Authenticated principal 'other' does not match principal 'hello-mesos' set in \
             `FrameworkInfo`"),
        "{error}"
    );
    assert!(!master.state().framework(&owned.value).unwrap().removed);
    owner.stop().await;
}

/// What a client without credentials sees, byte for byte as libprocess
/// writes it: `401`, the challenge naming the scheduler realm, and the
/// body `401 Unauthorized.`.
#[tokio::test]
async fn the_answer_without_credentials_is_a_basic_challenge() {
    let master = authenticating_master().await;
    let addr = master.addr();
    let mut tcp = tokio::net::TcpStream::connect((addr.host.as_str(), addr.port))
        .await
        .unwrap();
    let body = r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}"#;
    let request = format!(
        "POST /api/v1/scheduler HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        addr.authority(),
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    assert!(
        response.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{response}"
    );
    assert!(
        response
            .to_ascii_lowercase()
            .contains("\r\nwww-authenticate: basic realm=\"mesos-master-scheduler\"\r\n"),
        "{response}"
    );
    assert!(
        response.ends_with("\r\n\r\n401 Unauthorized."),
        "{response}"
    );
}

#[tokio::test]
async fn a_master_needs_at_least_one_credential_to_authenticate() {
    let error = LocalMaster::start(LocalMasterConfig {
        framework_credentials: Some(vec![]),
        ..Default::default()
    })
    .await
    .err()
    .expect("no credentials, no authentication");
    assert!(
        error.to_string().contains("at least one credential"),
        "{error}"
    );
}
