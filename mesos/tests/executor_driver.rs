//! The executor driver against a fake agent: a small HTTP server on a
//! loopback port that serves `/slave(1)/api/v1/executor`, records every
//! call, and sends the events each test scripts.

use std::{
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::{body::Frame, service::service_fn};
use hyper_util::rt::TokioIo;
use mesos::{
    codec::{self, ContentType},
    executor::{
        AgentUrl, Error, ExecutorConfig, ExecutorDriver, ExecutorDriverEvent, Recovery, status,
    },
    recordio,
    testing::{eventually, executor as kit},
    v1::{
        ExecutorId, FrameworkId, TaskState,
        executor::{Call, Event, call, event},
        task_status::Source,
    },
};
use tokio::{
    net::TcpListener,
    sync::{Notify, mpsc},
    task::JoinHandle,
    time::Instant,
};

const PATH: &str = "/slave(1)/api/v1/executor";

/// One call the agent received.
#[derive(Debug, Clone)]
struct Recorded {
    path: String,
    headers: HeaderMap,
    call: Call,
}

/// How the agent answers a SUBSCRIBE.
enum Reply {
    /// `200 OK` and these events; the stream stays open.
    Stream(Vec<Event>),
    /// The same, once the test opens the gate: SUBSCRIBE is in flight
    /// until then.
    Held(Vec<Event>, Arc<Notify>),
    Status(StatusCode, &'static str),
}

type Script = dyn Fn(usize) -> Reply + Send + Sync;

struct FakeAgent {
    addr: SocketAddr,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    streams: Arc<Mutex<Vec<mpsc::UnboundedSender<Bytes>>>>,
    /// How the agent answers UPDATE calls (202 unless a test says).
    update_reply: Arc<Mutex<(StatusCode, &'static str)>>,
    accept: JoinHandle<()>,
}

impl FakeAgent {
    /// An agent that answers the n-th SUBSCRIBE (from 0) with `script(n)`.
    async fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> FakeAgent {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let update_reply = Arc::new(Mutex::new((StatusCode::ACCEPTED, "")));
        let script: Arc<Script> = Arc::new(script);
        let (r, s, u) = (recorded.clone(), streams.clone(), update_reply.clone());
        let accept = tokio::spawn(async move {
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                let (recorded, streams, update_reply, script) =
                    (r.clone(), s.clone(), u.clone(), script.clone());
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let (recorded, streams, update_reply, script) = (
                        recorded.clone(),
                        streams.clone(),
                        update_reply.clone(),
                        script.clone(),
                    );
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await?.to_bytes();
                        let Some(format) = parts
                            .headers
                            .get(http::header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .and_then(ContentType::from_media_type)
                        else {
                            return Ok(answer(StatusCode::UNSUPPORTED_MEDIA_TYPE, ""));
                        };
                        if parts.uri.path() != PATH {
                            return Ok(answer(StatusCode::NOT_FOUND, ""));
                        }
                        let Ok(call) = codec::decode::<Call>(&body, format) else {
                            return Ok(answer(StatusCode::BAD_REQUEST, "undecodable call"));
                        };
                        let subscribes = {
                            let mut recorded = recorded.lock().unwrap();
                            recorded.push(Recorded {
                                path: parts.uri.path().to_string(),
                                headers: parts.headers.clone(),
                                call: call.clone(),
                            });
                            let is_subscribe =
                                |r: &Recorded| r.call.r#type() == call::Type::Subscribe;
                            recorded.iter().filter(|r| is_subscribe(r)).count()
                        };
                        Ok::<_, hyper::Error>(match call.r#type() {
                            call::Type::Subscribe => match script(subscribes - 1) {
                                Reply::Stream(events) => stream(events, format, &streams),
                                Reply::Held(events, gate) => {
                                    gate.notified().await;
                                    stream(events, format, &streams)
                                }
                                Reply::Status(code, body) => answer(code, body),
                            },
                            call::Type::Update => {
                                let (code, body) = *update_reply.lock().unwrap();
                                answer(code, body)
                            }
                            _ => answer(StatusCode::ACCEPTED, ""),
                        })
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        FakeAgent {
            addr,
            recorded,
            streams,
            update_reply,
            accept,
        }
    }

    fn pid(&self) -> String {
        format!("slave(1)@{}", self.addr)
    }

    fn recorded(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }

    fn calls(&self, r#type: call::Type) -> Vec<Call> {
        let recorded = self.recorded().into_iter().map(|r| r.call);
        recorded.filter(|c| c.r#type() == r#type).collect()
    }

    async fn wait_for_calls(&self, r#type: call::Type, count: usize) -> Vec<Call> {
        eventually(
            &format!("{count} {type:?} calls", type = r#type),
            async || {
                let calls = self.calls(r#type);
                (calls.len() >= count).then_some(calls)
            },
        )
        .await
    }

    /// Sends an event (protobuf) on every open stream.
    fn push(&self, event: &Event) {
        self.push_raw(&recordio::encode(&codec::encode(
            event,
            ContentType::Protobuf,
        )));
    }

    fn push_raw(&self, bytes: &[u8]) {
        for stream in self.streams.lock().unwrap().iter() {
            let _ = stream.send(Bytes::copy_from_slice(bytes));
        }
    }

    /// Ends every open stream, as an agent that restarts.
    fn drop_streams(&self) {
        self.streams.lock().unwrap().clear();
    }

    /// Stops listening and ends the streams: the agent is gone.
    fn stop(&self) {
        self.accept.abort();
        self.drop_streams();
    }
}

fn answer(code: StatusCode, body: &'static str) -> Response<Body> {
    let body = Body::Once(Some(Bytes::from_static(body.as_bytes())));
    Response::builder().status(code).body(body).unwrap()
}

fn stream(
    events: Vec<Event>,
    format: ContentType,
    streams: &Mutex<Vec<mpsc::UnboundedSender<Bytes>>>,
) -> Response<Body> {
    let (sender, receiver) = mpsc::unbounded_channel();
    for event in &events {
        let _ = sender.send(recordio::encode(&codec::encode(event, format)));
    }
    streams.lock().unwrap().push(sender);
    Response::builder()
        .header(http::header::CONTENT_TYPE, format.media_type())
        .body(Body::Stream(receiver))
        .unwrap()
}

/// A response body: fixed, or fed from a channel until its sender drops.
enum Body {
    Once(Option<Bytes>),
    Stream(mpsc::UnboundedReceiver<Bytes>),
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            Body::Once(body) => Poll::Ready(body.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(receiver) => receiver
                .poll_recv(cx)
                .map(|b| b.map(|b| Ok(Frame::data(b)))),
        }
    }
}

/// The event inside a builder's [`ExecutorDriverEvent::Event`].
fn agent_event(event: ExecutorDriverEvent) -> Event {
    match event {
        ExecutorDriverEvent::Event(event) => event,
        other => panic!("not an agent event: {other:?}"),
    }
}

fn subscribed() -> Event {
    agent_event(kit::subscribed("executor-1"))
}

/// What a 1.11 agent sets, for this agent; checkpointing if `recovery`.
fn config(agent: &FakeAgent, recovery: Option<Recovery>) -> ExecutorConfig {
    let mut vars = vec![
        ("MESOS_FRAMEWORK_ID", "framework-1".to_string()),
        ("MESOS_EXECUTOR_ID", "executor-1".to_string()),
        ("MESOS_SLAVE_PID", agent.pid()),
        ("MESOS_CHECKPOINT", "0".to_string()),
        ("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "300ms".to_string()),
    ];
    if let Some(recovery) = recovery {
        let format = mesos::executor::duration::format;
        vars.push(("MESOS_CHECKPOINT", "1".into()));
        vars.push(("MESOS_RECOVERY_TIMEOUT", format(recovery.timeout)));
        vars.push((
            "MESOS_SUBSCRIPTION_BACKOFF_MAX",
            format(recovery.backoff_max),
        ));
    }
    ExecutorConfig::from_vars(vars).unwrap()
}

fn checkpointing(timeout: Duration) -> Option<Recovery> {
    Some(Recovery {
        timeout,
        backoff_max: Duration::from_millis(50),
    })
}

async fn next(events: &mut mpsc::Receiver<ExecutorDriverEvent>) -> ExecutorDriverEvent {
    tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("an event within 10 s")
        .expect("the driver is running")
}

async fn next_agent_event(events: &mut mpsc::Receiver<ExecutorDriverEvent>) -> Event {
    agent_event(next(events).await)
}

async fn expect_type(
    events: &mut mpsc::Receiver<ExecutorDriverEvent>,
    r#type: event::Type,
) -> Event {
    let event = next_agent_event(events).await;
    assert_eq!(event.r#type(), r#type, "{event:?}");
    event
}

/// The channel closes (the driver ended) within 10 s.
async fn expect_closed(events: &mut mpsc::Receiver<ExecutorDriverEvent>) {
    let last = tokio::time::timeout(Duration::from_secs(10), events.recv()).await;
    assert!(matches!(last, Ok(None)), "expected the end, got {last:?}");
}

#[tokio::test]
async fn subscribes_at_the_agents_url_with_its_ids_and_token() {
    let agent = FakeAgent::start(|_| Reply::Stream(vec![subscribed()])).await;
    let mut config = config(&agent, None);
    config.authentication_token = Some("token-1".into());
    let (driver, mut events) = ExecutorDriver::start(config).unwrap();
    expect_type(&mut events, event::Type::Subscribed).await;

    let recorded = agent.recorded();
    let subscribe = &recorded[0];
    assert_eq!(subscribe.path, PATH);
    assert_eq!(subscribe.call.r#type(), call::Type::Subscribe);
    assert_eq!(subscribe.call.framework_id.value, "framework-1");
    assert_eq!(subscribe.call.executor_id.value, "executor-1");
    let header = |name| subscribe.headers.get(name).unwrap().to_str().unwrap();
    assert_eq!(header("content-type"), "application/x-protobuf");
    assert_eq!(header("accept"), "application/x-protobuf");
    assert_eq!(header("authorization"), "Bearer token-1");
    let sub = subscribe.call.subscribe.as_ref().unwrap();
    assert!(sub.unacknowledged_tasks.is_empty() && sub.unacknowledged_updates.is_empty());

    // Calls carry the token too.
    driver.message(Bytes::from_static(b"hello")).await.unwrap();
    let recorded = agent.recorded();
    let message = recorded.last().unwrap();
    assert_eq!(message.call.r#type(), call::Type::Message);
    assert_eq!(message.call.message.as_ref().unwrap().data, "hello");
    assert_eq!(
        message.headers.get("authorization").unwrap(),
        "Bearer token-1"
    );
    driver.stop().await;
}

#[tokio::test]
async fn json_too() {
    let agent = FakeAgent::start(|_| Reply::Stream(vec![subscribed()])).await;
    let mut config = config(&agent, None);
    config.format = ContentType::Json;
    let (driver, mut events) = ExecutorDriver::start(config).unwrap();
    expect_type(&mut events, event::Type::Subscribed).await;
    let recorded = agent.recorded();
    assert_eq!(
        recorded[0].headers.get("content-type").unwrap(),
        "application/json"
    );
    assert!(recorded[0].headers.get("authorization").is_none());
    driver.stop().await;
}

#[tokio::test]
async fn updates_are_kept_until_acknowledged_and_resent_when_subscribing_again() {
    let agent = FakeAgent::start(|n| match n {
        0 => Reply::Stream(vec![
            subscribed(),
            agent_event(kit::launch(kit::task("t1"))),
            agent_event(kit::launch(kit::task("t2"))),
        ]),
        _ => Reply::Stream(vec![subscribed()]),
    })
    .await;
    let (driver, mut events) =
        ExecutorDriver::start(config(&agent, checkpointing(Duration::from_secs(30)))).unwrap();
    expect_type(&mut events, event::Type::Subscribed).await;
    expect_type(&mut events, event::Type::Launch).await;
    expect_type(&mut events, event::Type::Launch).await;

    // An update, filled in as the command executor does.
    driver
        .update(status("t1", TaskState::TaskRunning))
        .await
        .unwrap();
    let updates = agent.wait_for_calls(call::Type::Update, 1).await;
    let running = updates[0].update.clone().unwrap().status;
    assert_eq!(running.state(), TaskState::TaskRunning);
    assert_eq!(
        running.executor_id,
        Some(ExecutorId {
            value: "executor-1".into()
        })
    );
    assert_eq!(running.source(), Source::Executor);
    let uuid = running.uuid.clone().unwrap();
    assert_eq!(uuid::Uuid::from_slice(&uuid).unwrap().get_version_num(), 4);
    assert!(running.timestamp.unwrap() > 1.5e9);
    assert_eq!(
        updates[0].framework_id,
        FrameworkId {
            value: "framework-1".into()
        }
    );

    agent.push(&agent_event(kit::acknowledge(&running)));
    expect_type(&mut events, event::Type::Acknowledged).await;
    driver
        .update(status("t1", TaskState::TaskFinished))
        .await
        .unwrap();
    agent.wait_for_calls(call::Type::Update, 2).await;

    // The agent restarts: the driver subscribes again with what the agent
    // has not acknowledged: t1's TASK_FINISHED, and t2, which no
    // acknowledged update mentions.
    agent.drop_streams();
    assert!(matches!(
        next(&mut events).await,
        ExecutorDriverEvent::Disconnected { .. }
    ));
    expect_type(&mut events, event::Type::Subscribed).await;
    let subscribes = agent.calls(call::Type::Subscribe);
    assert_eq!(subscribes.len(), 2);
    let again = subscribes[1].subscribe.clone().unwrap();
    let tasks: Vec<_> = again
        .unacknowledged_tasks
        .iter()
        .map(|t| t.task_id.value.as_str())
        .collect();
    assert_eq!(tasks, ["t2"]);
    let updates: Vec<_> = again
        .unacknowledged_updates
        .iter()
        .map(|u| &u.status)
        .collect();
    assert_eq!(
        kit::states(updates.clone()),
        [("t1".to_string(), TaskState::TaskFinished)]
    );
    let finished = updates[0].clone();

    // Finished once both tasks' terminal updates are acknowledged.
    agent.push(&agent_event(kit::acknowledge(&finished)));
    expect_type(&mut events, event::Type::Acknowledged).await;
    driver
        .update(status("t2", TaskState::TaskFailed))
        .await
        .unwrap();
    let updates = agent.wait_for_calls(call::Type::Update, 3).await;
    let failed = updates[2].update.clone().unwrap().status;
    assert_eq!(failed.state(), TaskState::TaskFailed);
    agent.push(&agent_event(kit::acknowledge(&failed)));
    expect_type(&mut events, event::Type::Acknowledged).await;
    assert_eq!(next(&mut events).await, ExecutorDriverEvent::Finished);
    driver.stop().await;
}

#[tokio::test]
async fn updates_made_while_disconnected_go_with_the_next_subscribe() {
    // The agent refuses the second subscription for a while (503: it is
    // recovering), so the update is made while the driver is not
    // subscribed.
    let agent = FakeAgent::start(|n| match n {
        0 => Reply::Stream(vec![
            subscribed(),
            agent_event(kit::launch(kit::task("t1"))),
        ]),
        1 => Reply::Status(
            StatusCode::SERVICE_UNAVAILABLE,
            "Agent has not finished recovery",
        ),
        _ => Reply::Stream(vec![subscribed()]),
    })
    .await;
    let (driver, mut events) =
        ExecutorDriver::start(config(&agent, checkpointing(Duration::from_secs(30)))).unwrap();
    expect_type(&mut events, event::Type::Subscribed).await;
    expect_type(&mut events, event::Type::Launch).await;
    agent.drop_streams();
    assert!(matches!(
        next(&mut events).await,
        ExecutorDriverEvent::Disconnected { .. }
    ));
    agent.wait_for_calls(call::Type::Subscribe, 2).await;
    driver
        .update(status("t1", TaskState::TaskRunning))
        .await
        .unwrap();
    expect_type(&mut events, event::Type::Subscribed).await;

    let subscribes = agent.wait_for_calls(call::Type::Subscribe, 3).await;
    let last = subscribes[2].subscribe.clone().unwrap();
    let carried = last.unacknowledged_updates.iter().map(|u| &u.status);
    assert_eq!(
        kit::states(carried),
        [("t1".to_string(), TaskState::TaskRunning)]
    );
    assert_eq!(
        last.unacknowledged_tasks.len(),
        1,
        "no update of t1 acknowledged yet"
    );
    assert!(
        agent.calls(call::Type::Update).is_empty(),
        "sent once, in SUBSCRIBE"
    );
    driver.stop().await;
}

#[tokio::test]
async fn an_update_made_while_subscribe_is_in_flight_is_sent_once_subscribed() {
    let gate = Arc::new(Notify::new());
    let held = gate.clone();
    let agent = FakeAgent::start(move |_| Reply::Held(vec![subscribed()], held.clone())).await;
    let (driver, mut events) = ExecutorDriver::start(config(&agent, None)).unwrap();
    // SUBSCRIBE has gone out, without the update made now; the agent
    // answers only then.
    agent.wait_for_calls(call::Type::Subscribe, 1).await;
    driver
        .update(status("t1", TaskState::TaskRunning))
        .await
        .unwrap();
    gate.notify_one();
    expect_type(&mut events, event::Type::Subscribed).await;
    let updates = agent.wait_for_calls(call::Type::Update, 1).await;
    let sent = updates.iter().map(|c| &c.update.as_ref().unwrap().status);
    assert_eq!(
        kit::states(sent),
        [("t1".to_string(), TaskState::TaskRunning)]
    );
    let subscribe = &agent.calls(call::Type::Subscribe)[0];
    assert!(
        subscribe
            .subscribe
            .as_ref()
            .unwrap()
            .unacknowledged_updates
            .is_empty()
    );
    driver.stop().await;
}

#[tokio::test]
async fn an_unexpected_answer_to_subscribe_is_reported_and_subscribe_retried() {
    let agent = FakeAgent::start(|n| match n {
        0 => Reply::Status(StatusCode::BAD_REQUEST, "Executor is not known"),
        _ => Reply::Stream(vec![subscribed()]),
    })
    .await;
    let (driver, mut events) = ExecutorDriver::start(config(&agent, None)).unwrap();
    let error = expect_type(&mut events, event::Type::Error).await;
    let message = error.error.unwrap().message;
    assert!(
        message.contains("400 Bad Request") && message.contains("Executor is not known"),
        "{message}"
    );
    expect_type(&mut events, event::Type::Subscribed).await;
    driver.stop().await;
}

#[tokio::test]
async fn update_errors() {
    let agent = FakeAgent::start(|_| Reply::Stream(vec![subscribed()])).await;
    let (driver, mut events) = ExecutorDriver::start(config(&agent, None)).unwrap();
    expect_type(&mut events, event::Type::Subscribed).await;

    let staging = driver.update(status("t1", TaskState::TaskStaging)).await;
    assert!(
        matches!(staging, Err(Error::InvalidUpdate(ref m)) if m.contains("TASK_STAGING")),
        "{staging:?}"
    );
    assert!(agent.calls(call::Type::Update).is_empty(), "not sent");

    *agent.update_reply.lock().unwrap() = (StatusCode::BAD_REQUEST, "Received TASK_STAGING");
    let refused = driver.update(status("t1", TaskState::TaskRunning)).await;
    match refused {
        Err(Error::Status { status, body, .. }) => {
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(body, "Received TASK_STAGING");
        }
        other => panic!("expected the agent's refusal, got {other:?}"),
    }
    driver.stop().await;
}

#[tokio::test]
async fn bad_events_are_errors_not_panics() {
    let agent = FakeAgent::start(|_| Reply::Stream(vec![subscribed()])).await;
    let (driver, mut events) = ExecutorDriver::start(config(&agent, None)).unwrap();
    expect_type(&mut events, event::Type::Subscribed).await;

    // A record that is not an Event: an ERROR event, and the stream goes on.
    agent.push_raw(&recordio::encode(b"\xff\xff\xff"));
    let error = expect_type(&mut events, event::Type::Error).await;
    assert!(error.error.unwrap().message.contains("de-serialize"));

    // An event of a type this crate does not know is skipped; HEARTBEAT
    // is not passed on either.
    let unknown = Event {
        r#type: Some(99),
        ..Default::default()
    };
    agent.push(&unknown);
    agent.push(&Event {
        r#type: Some(event::Type::Heartbeat as i32),
        ..Default::default()
    });
    agent.push(&agent_event(kit::error("the agent's own error")));
    let error = expect_type(&mut events, event::Type::Error).await;
    assert_eq!(error.error.unwrap().message, "the agent's own error");
    agent.push(&agent_event(kit::message(Bytes::from_static(b"hi"))));
    expect_type(&mut events, event::Type::Message).await;

    // A broken stream is a lost agent.
    agent.push_raw(b"not recordio\n");
    match next(&mut events).await {
        ExecutorDriverEvent::Disconnected { reason } => {
            assert!(reason.contains("RecordIO"), "{reason}")
        }
        other => panic!("expected a disconnection, got {other:?}"),
    }
    assert!(matches!(
        next(&mut events).await,
        ExecutorDriverEvent::Shutdown { .. }
    ));
    driver.stop().await;
}

#[tokio::test]
async fn without_checkpointing_a_lost_agent_means_shutdown_then_stop_after_the_grace_period() {
    let agent = FakeAgent::start(|_| Reply::Stream(vec![subscribed()])).await;
    let (driver, mut events) = ExecutorDriver::start(config(&agent, None)).unwrap();
    expect_type(&mut events, event::Type::Subscribed).await;
    agent.drop_streams();
    assert!(matches!(
        next(&mut events).await,
        ExecutorDriverEvent::Disconnected { .. }
    ));
    let shutdown_at = Instant::now();
    match next(&mut events).await {
        ExecutorDriverEvent::Shutdown {
            reason,
            grace_period,
        } => {
            assert!(reason.contains("lost the agent"), "{reason}");
            assert_eq!(grace_period, Duration::from_millis(300));
        }
        other => panic!("expected Shutdown, got {other:?}"),
    }
    match next(&mut events).await {
        ExecutorDriverEvent::Stopped { reason } => assert!(reason.contains("300ms"), "{reason}"),
        other => panic!("expected Stopped, got {other:?}"),
    }
    assert!(
        shutdown_at.elapsed() >= Duration::from_millis(250),
        "{:?}",
        shutdown_at.elapsed()
    );
    expect_closed(&mut events).await;
    assert_eq!(
        agent.calls(call::Type::Subscribe).len(),
        1,
        "no second SUBSCRIBE"
    );
    assert!(matches!(
        driver.update(status("t1", TaskState::TaskRunning)).await,
        Err(Error::Stopped)
    ));
}

#[tokio::test]
async fn with_checkpointing_the_driver_gives_up_after_the_recovery_timeout() {
    let agent = FakeAgent::start(|_| Reply::Stream(vec![subscribed()])).await;
    let timeout = Duration::from_millis(600);
    let (driver, mut events) =
        ExecutorDriver::start(config(&agent, checkpointing(timeout))).unwrap();
    expect_type(&mut events, event::Type::Subscribed).await;
    agent.stop();
    assert!(matches!(
        next(&mut events).await,
        ExecutorDriverEvent::Disconnected { .. }
    ));
    let lost_at = Instant::now();
    match next(&mut events).await {
        ExecutorDriverEvent::Shutdown { reason, .. } => {
            assert!(reason.contains("recovery timeout of 600ms"), "{reason}")
        }
        other => panic!("expected Shutdown, got {other:?}"),
    }
    assert!(
        lost_at.elapsed() >= Duration::from_millis(500),
        "{:?}",
        lost_at.elapsed()
    );
    assert!(matches!(
        next(&mut events).await,
        ExecutorDriverEvent::Stopped { .. }
    ));
    expect_closed(&mut events).await;
    driver.stop().await;
}

#[tokio::test]
async fn the_agents_shutdown_gives_the_grace_period_and_the_stream_stays() {
    let agent = FakeAgent::start(|_| Reply::Stream(vec![subscribed()])).await;
    let (driver, mut events) = ExecutorDriver::start(config(&agent, None)).unwrap();
    expect_type(&mut events, event::Type::Subscribed).await;
    agent.push(&Event {
        r#type: Some(event::Type::Shutdown as i32),
        ..Default::default()
    });
    assert!(matches!(
        next(&mut events).await,
        ExecutorDriverEvent::Shutdown { .. }
    ));
    // Terminal updates still go out during the grace period.
    driver
        .update(status("t1", TaskState::TaskKilled))
        .await
        .unwrap();
    agent.wait_for_calls(call::Type::Update, 1).await;
    assert!(matches!(
        next(&mut events).await,
        ExecutorDriverEvent::Stopped { .. }
    ));
    expect_closed(&mut events).await;
}

#[tokio::test]
async fn heartbeats_go_out_at_the_interval() {
    let agent = FakeAgent::start(|_| Reply::Stream(vec![subscribed()])).await;
    let mut config = config(&agent, None);
    config.heartbeat_interval = Duration::from_millis(100);
    let (driver, mut events) = ExecutorDriver::start(config).unwrap();
    expect_type(&mut events, event::Type::Subscribed).await;
    let heartbeats = agent.wait_for_calls(call::Type::Heartbeat, 2).await;
    assert_eq!(heartbeats[0].executor_id.value, "executor-1");
    driver.stop().await;
}

#[test]
fn the_agent_url_is_built_from_the_pid() {
    let url = AgentUrl::from_pid("slave(1)@127.0.0.1:5051").unwrap();
    assert_eq!(
        url.to_string(),
        "http://127.0.0.1:5051/slave(1)/api/v1/executor"
    );
}
