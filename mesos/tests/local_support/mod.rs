//! Helpers for the `local_*` tests: a scripted framework on the library's
//! own `Client`, raw HTTP for status codes, and task builders.
#![allow(dead_code)]

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use mesos::{
    Client, ClientOptions, calls,
    client::Subscription,
    codec::ContentType,
    local::{LocalMaster, LocalMasterConfig},
    resources::{self, Resources},
    v1::{
        self, AgentId, CommandInfo, FrameworkInfo, Offer, TaskId, TaskInfo, TaskState, TaskStatus,
        framework_info::{Capability, capability::Type as CapabilityType},
        scheduler::{Event, event},
    },
};
use tokio::sync::Notify;

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// A config with short intervals, so tests run fast.
pub fn config() -> LocalMasterConfig {
    LocalMasterConfig {
        allocation_interval: Duration::from_millis(50),
        status_update_retry: Duration::from_millis(200),
        ..LocalMasterConfig::default()
    }
}

pub async fn start(config: LocalMasterConfig) -> LocalMaster {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    LocalMaster::start(config)
        .await
        .expect("the simulated master starts")
}

/// A FrameworkInfo with the given capabilities and failover timeout.
pub fn framework_info(
    name: &str,
    capabilities: &[CapabilityType],
    failover_timeout: f64,
) -> FrameworkInfo {
    FrameworkInfo {
        user: "tester".into(),
        name: name.into(),
        failover_timeout: Some(failover_timeout),
        capabilities: capabilities
            .iter()
            .map(|c| Capability {
                r#type: Some(*c as i32),
            })
            .collect(),
        ..Default::default()
    }
}

/// A command task using `resources` (Mesos syntax) on `agent_id`.
pub fn command_task(id: &str, agent_id: &AgentId, command: &str, resources: &str) -> TaskInfo {
    TaskInfo {
        name: format!("task {id}"),
        task_id: TaskId { value: id.into() },
        agent_id: agent_id.clone(),
        resources: Resources::parse(resources).unwrap().into_vec(),
        command: Some(CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The default agent's resources, parsed.
pub fn full_agent() -> Resources {
    Resources::parse(mesos::local::DEFAULT_AGENT_RESOURCES).unwrap()
}

/// An offer's resources as the master accounts for them: without
/// allocation, reservations in the post-refinement format.
pub fn offered(offer: &Offer) -> Resources {
    let upgraded: Resources = offer
        .resources
        .iter()
        .cloned()
        .map(resources::upgrade_format)
        .collect();
    upgraded.unallocated()
}

/// A framework for tests: subscribed through the library's `Client`, with
/// every event it receives recorded for `wait` to look through.
pub struct Framework {
    pub client: Client,
    pub id: String,
    pub stream_id: String,
    log: Arc<EventLog>,
    /// Offers seen by `offer_for` for other agents, not used yet.
    spare: Mutex<Vec<Offer>>,
    reader: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct EventLog {
    events: Mutex<Vec<Event>>,
    /// Indices handed out by `wait` already.
    taken: Mutex<Vec<usize>>,
    ended: Mutex<bool>,
    changed: Notify,
}

impl Framework {
    /// Subscribes with protobuf and waits for SUBSCRIBED.
    pub async fn subscribe(master: &LocalMaster, info: FrameworkInfo) -> Framework {
        Self::subscribe_with(master, info, ContentType::Protobuf).await
    }

    pub async fn subscribe_with(
        master: &LocalMaster,
        info: FrameworkInfo,
        format: ContentType,
    ) -> Framework {
        let client = Client::new(ClientOptions {
            format,
            call_timeout: Duration::from_secs(5),
            ..Default::default()
        });
        client.set_master(master.addr());
        Self::subscribe_client(client, info).await
    }

    /// Subscribes with an existing client (pointed at some master).
    pub async fn subscribe_client(client: Client, info: FrameworkInfo) -> Framework {
        client.set_framework_id(info.id.clone());
        let subscription = client
            .subscribe(calls::subscribe(info))
            .await
            .expect("SUBSCRIBE is answered with a stream");
        let stream_id = subscription.stream_id().to_string();
        let log = Arc::new(EventLog::default());
        let reader = tokio::spawn(read_events(subscription, log.clone()));
        let mut framework = Framework {
            client,
            id: String::new(),
            stream_id,
            log,
            spare: Mutex::default(),
            reader,
        };
        let subscribed = framework
            .wait("SUBSCRIBED", |e| e.r#type() == event::Type::Subscribed)
            .await;
        framework.id = subscribed.subscribed.unwrap().framework_id.value;
        framework.client.set_framework_id(Some(v1::FrameworkId {
            value: framework.id.clone(),
        }));
        framework
    }

    /// Waits for the next not yet taken event matching `predicate`.
    pub async fn wait(&self, what: &str, predicate: impl Fn(&Event) -> bool) -> Event {
        self.try_wait(predicate, WAIT)
            .await
            .unwrap_or_else(|| panic!("no {what} event within {WAIT:?}; got {:#?}", self.events()))
    }

    pub async fn try_wait(
        &self,
        predicate: impl Fn(&Event) -> bool,
        timeout: Duration,
    ) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.log.changed.notified();
            {
                let events = self.log.events.lock().unwrap();
                let mut taken = self.log.taken.lock().unwrap();
                if let Some(index) =
                    (0..events.len()).find(|i| !taken.contains(i) && predicate(&events[*i]))
                {
                    taken.push(index);
                    return Some(events[index].clone());
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Waits for the next UPDATE of a task and returns its status.
    pub async fn update(&self, task_id: &str) -> TaskStatus {
        let event = self
            .wait(&format!("UPDATE for {task_id}"), |e| {
                e.update
                    .as_ref()
                    .is_some_and(|u| u.status.task_id.value == task_id)
            })
            .await;
        event.update.unwrap().status
    }

    /// Waits for an UPDATE of a task in `state`.
    pub async fn update_in(&self, task_id: &str, state: TaskState) -> TaskStatus {
        let event = self
            .wait(&format!("{state:?} for {task_id}"), |e| {
                e.update
                    .as_ref()
                    .is_some_and(|u| u.status.task_id.value == task_id && u.status.state() == state)
            })
            .await;
        event.update.unwrap().status
    }

    /// Follows a task's updates, acknowledging each (as the agent holds
    /// the next update back until then), until one in `state` arrives.
    pub async fn follow(&self, task_id: &str, state: TaskState) -> TaskStatus {
        loop {
            let status = self.update(task_id).await;
            self.ack(&status).await;
            if status.state() == state {
                return status;
            }
        }
    }

    /// Waits for offers and returns them.
    pub async fn offers(&self) -> Vec<Offer> {
        let event = self
            .wait("OFFERS", |e| e.r#type() == event::Type::Offers)
            .await;
        event.offers.unwrap().offers
    }

    /// Waits until it holds an offer for the agent whose ID ends with
    /// `agent_suffix` (e.g. "-S0") that `accept_offer` likes, declining
    /// (with no filter) the ones for that agent it does not. Offers for
    /// other agents are kept for later calls.
    pub async fn offer_for(
        &self,
        agent_suffix: &str,
        accept_offer: impl Fn(&Offer) -> bool,
    ) -> Offer {
        loop {
            let spare = std::mem::take(&mut *self.spare.lock().unwrap());
            let mut fresh = Vec::new();
            let mut found = None;
            for offer in spare {
                if found.is_none()
                    && offer.agent_id.value.ends_with(agent_suffix)
                    && accept_offer(&offer)
                {
                    found = Some(offer);
                } else {
                    fresh.push(offer);
                }
            }
            *self.spare.lock().unwrap() = fresh;
            if let Some(offer) = found {
                return offer;
            }
            for offer in self.offers().await {
                if !offer.agent_id.value.ends_with(agent_suffix) {
                    self.spare.lock().unwrap().push(offer);
                } else if found.is_none() && accept_offer(&offer) {
                    found = Some(offer);
                } else {
                    self.call(calls::decline(vec![offer.id.clone()], 0.0)).await;
                }
            }
            if let Some(offer) = found {
                return offer;
            }
        }
    }

    /// All events so far.
    pub fn events(&self) -> Vec<Event> {
        self.log.events.lock().unwrap().clone()
    }

    /// Statuses received for a task so far, in order.
    pub fn statuses(&self, task_id: &str) -> Vec<TaskStatus> {
        self.events()
            .into_iter()
            .filter_map(|e| e.update.map(|u| u.status))
            .filter(|s| s.task_id.value == task_id)
            .collect()
    }

    /// Whether the master closed the stream.
    pub fn ended(&self) -> bool {
        *self.log.ended.lock().unwrap()
    }

    /// Waits until the master closes the stream.
    pub async fn wait_ended(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.log.changed.notified();
            if self.ended() {
                return;
            }
            tokio::time::timeout_at(deadline, notified)
                .await
                .expect("the master closes the stream");
        }
    }

    /// Sends a call, which must be accepted.
    pub async fn call(&self, call: v1::scheduler::Call) {
        self.client.call(call).await.expect("the call is accepted");
    }

    /// Acknowledges an update that needs it.
    pub async fn ack(&self, status: &TaskStatus) {
        if let Some(call) = calls::acknowledge_update(status) {
            self.call(call).await;
        }
    }

    /// Launches tasks on an offer (unused resources come back at once).
    pub async fn launch(&self, offer: &Offer, tasks: Vec<TaskInfo>) {
        self.call(calls::accept(
            vec![offer.id.clone()],
            vec![calls::launch(tasks)],
            Some(calls::refuse_for(0.0)),
        ))
        .await;
    }

    /// Drops the subscription, as a crashed scheduler would, and returns
    /// the client (still pointed at the master).
    pub fn disconnect(self) -> Client {
        self.client.clone()
        // Dropping `self` aborts the reader, which drops the stream and
        // so closes its connection.
    }
}

impl Drop for Framework {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read_events(mut subscription: Subscription, log: Arc<EventLog>) {
    loop {
        match subscription.next_event().await {
            Ok(Some(event)) => {
                log.events.lock().unwrap().push(event);
                log.changed.notify_waiters();
            }
            _ => {
                *log.ended.lock().unwrap() = true;
                log.changed.notify_waiters();
                return;
            }
        }
    }
}

/// Whether a process exists (signal 0).
pub fn process_alive(pid: u32) -> bool {
    std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -0 {pid} 2>/dev/null"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Waits until `condition` holds (polling; for conditions outside the
/// master, such as files and processes).
pub async fn wait_until(mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until a process is gone.
pub async fn wait_process_gone(pid: u32) {
    wait_until(|| !process_alive(pid)).await;
}

/// Whether a process runs: it exists and is not a zombie, which is dead
/// and only waits for its parent (or init) to reap it.
pub fn process_running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return process_alive(pid);
    };
    // The state follows the command name, which may contain ") ".
    let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
    !state.is_some_and(|rest| rest.starts_with('Z') || rest.starts_with('X'))
}

/// Waits until a process is dead (gone, or a zombie).
pub async fn wait_process_dead(pid: u32) {
    wait_until(|| !process_running(pid)).await;
}

/// One raw HTTP exchange, for status codes and headers.
pub struct Raw {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Incoming,
}

impl Raw {
    pub async fn text(self) -> String {
        let bytes = self.body.collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Sends a request with the given headers on a fresh connection.
pub async fn request(
    master: &LocalMaster,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Raw {
    let stream = tokio::net::TcpStream::connect(master.socket_addr())
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, master.addr().authority());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = sender
        .send_request(builder.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    Raw {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// POSTs to the scheduler endpoint.
pub async fn post(master: &LocalMaster, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Raw {
    request(master, "POST", "/api/v1/scheduler", headers, body).await
}

/// GETs a JSON endpoint.
pub async fn get_json(master: &LocalMaster, path: &str) -> serde_json::Value {
    let raw = request(master, "GET", path, &[], Bytes::new()).await;
    assert_eq!(raw.status, StatusCode::OK, "GET {path}");
    serde_json::from_str(&raw.text().await).unwrap()
}
