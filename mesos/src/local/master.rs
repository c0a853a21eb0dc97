//! The master's state machine: frameworks, agents, offers and tasks.
//!
//! Everything the master knows lives in one [`Master`] value owned by one
//! tokio task, the *actor*. HTTP handlers, timers and task supervisors do
//! not touch it; they send it a [`Command`] and, when they need an answer,
//! wait on a oneshot channel. So the master handles one thing at a time,
//! in the order things happen, as Mesos' libprocess actor does, and none
//! of its code needs a lock.
//!
//! This file holds the state, the actor loop, and the framework side:
//! SUBSCRIBE, the checks every call goes through, disconnection and
//! failover, TEARDOWN and UPDATE_FRAMEWORK. The rest of `impl Master` is
//! spread by concern: `allocator.rs` (offers), `launch.rs` (ACCEPT),
//! `tasks.rs` (kills, status updates), `reconcile.rs`, `agent.rs` (the
//! agent's view of its tasks), `partition.rs` (losing an agent and getting
//! it back), `failover.rs` (a new leading master) and `snapshot.rs`.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    sync::Arc,
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use http::StatusCode;
use tokio::{
    sync::{mpsc, oneshot, watch},
    time::Instant,
};

use super::{
    agent::Agent,
    allocator::OfferFilter,
    call_log::CallLog,
    custom_executor::{ExecutorCallReply, ExecutorTimeout},
    executor::{ExecutorProcessReport, ExecutorReport, ProcessTable, TaskProcess},
    faults::{AgentReregistration, FaultState},
    snapshot::{Publishing, Snapshot},
    stream::{self, EventStream},
    tasks::Footprint,
    validation,
};
use crate::{
    codec::ContentType,
    resources::Resources,
    v1::{
        Address, FrameworkInfo, MasterInfo, TaskInfo, TaskState, TaskStatus, TimeInfo,
        executor::Call as ExecutorCall,
        framework_info,
        scheduler::{Call, Event, call},
        task_status::{Reason, Source},
    },
};

/// The Mesos version we behave like (and report in MasterInfo and /state).
pub const MESOS_VERSION: &str = "1.11.0";

/// What the actor is asked to do.
pub(crate) enum Command {
    /// A SUBSCRIBE call; the reply carries the event stream.
    Subscribe {
        subscribe: Box<call::Subscribe>,
        format: ContentType,
        reply: oneshot::Sender<SubscribeReply>,
    },
    /// Any other call, with the request's `Mesos-Stream-Id`.
    Call {
        call: Box<Call>,
        stream_id: Option<String>,
        /// The authenticated principal, when frameworks authenticate.
        principal: Option<String>,
        reply: oneshot::Sender<CallReply>,
    },
    /// An event stream's HTTP response was dropped.
    StreamClosed {
        framework_id: String,
        stream_id: String,
    },
    /// News from a task's supervisor.
    Executor(ExecutorReport),
    /// News from a custom executor's supervisor (`custom_executor.rs`).
    ExecutorProcess {
        agent: usize,
        framework_id: String,
        executor_id: String,
        container_id: String,
        report: ExecutorProcessReport,
    },
    /// A call to an agent's executor API (`executor_api.rs`).
    ExecutorCall {
        agent: usize,
        call: Box<ExecutorCall>,
        format: ContentType,
        reply: oneshot::Sender<ExecutorCallReply>,
    },
    /// An executor's registration or shutdown grace period is over (if
    /// it is still the same container run).
    ExecutorTimeout {
        agent: usize,
        framework_id: String,
        executor_id: String,
        container_id: String,
        timeout: ExecutorTimeout,
    },
    /// Time for an agent to re-send a status update if still
    /// unacknowledged (and not sent again since `sending`).
    RetryUpdate {
        agent: usize,
        framework_id: String,
        task_id: String,
        uuid: Bytes,
        sending: u32,
    },
    /// A framework's failover timeout expired (if still disconnected
    /// since `epoch`, and `master_id` still leads: a master's timers die
    /// with it).
    FailoverTimeout {
        framework_id: String,
        epoch: u64,
        master_id: String,
    },
    /// Fault: close every event stream.
    DropStreams { reply: oneshot::Sender<()> },
    /// Fault: an agent stops answering health checks.
    RemoveAgent {
        agent_id: String,
        reply: oneshot::Sender<bool>,
    },
    /// An agent (re-)registers: asked by a test (`reply`), or by itself
    /// after it detected the newly elected `master_id` (ignored if that
    /// master no longer leads).
    ReregisterAgent {
        agent_id: String,
        master_id: Option<String>,
        reply: Option<oneshot::Sender<bool>>,
    },
    /// Fault: the master fails over to a new leader; the reply is its ID.
    FailOver {
        reregistration: AgentReregistration,
        reply: oneshot::Sender<String>,
    },
    /// Stop: kill all tasks and end the actor.
    Shutdown { reply: oneshot::Sender<()> },
}

/// The answer to SUBSCRIBE: always a stream (errors travel in it as an
/// ERROR event, as in Mesos).
pub(crate) struct SubscribeReply {
    pub stream_id: String,
    pub records: mpsc::UnboundedReceiver<Bytes>,
    /// The framework, if subscribed (to report the stream closing).
    pub framework_id: Option<String>,
}

/// The answer to any other call.
pub(crate) enum CallReply {
    /// 202 Accepted: done, effects follow as events.
    Accepted,
    /// 200 OK with an empty body (UPDATE_FRAMEWORK).
    Ok,
    /// An error status with Mesos' message.
    Error(StatusCode, String),
}

/// Fixed facts about this master, shared with the HTTP server. They
/// survive a master failover: the new leader runs at the same address,
/// with the same flags.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The ID of the master the cluster started with. Agents registered
    /// with it and keep their IDs, `<first master id>-S<n>`, across
    /// failovers; the leading master's own ID is `Master::id`.
    pub first_master_id: String,
    pub ip: IpAddr,
    pub port: u16,
    pub hostname: String,
    pub heartbeat_interval: Duration,
    pub allocation_interval: Duration,
    pub status_update_retry: Duration,
    pub executor_registration_timeout: Duration,
    pub executor_heartbeat_interval: Duration,
    pub work_dir: PathBuf,
    /// `https` when the master serves TLS.
    pub scheme: crate::master::Scheme,
    /// Set when frameworks must authenticate (`auth.rs`).
    pub authenticator: Option<super::auth::Authenticator>,
    /// Tasks are virtual: no process (`executor::launch_virtual`).
    pub virtual_tasks: bool,
    /// The master's fault domain, if it has one.
    pub domain: Option<crate::v1::DomainInfo>,
}

impl Settings {
    /// `127.0.0.1:5050` (or `[::1]:5050`).
    pub(crate) fn ip_port(&self) -> String {
        SocketAddr::new(self.ip, self.port).to_string()
    }

    /// The master's libprocess PID, `master@127.0.0.1:5050`.
    pub(crate) fn pid(&self) -> String {
        format!("master@{}", self.ip_port())
    }

    /// MasterInfo of the leading master, `master_id`, as sent in SUBSCRIBED.
    pub(crate) fn master_info(&self, master_id: &str) -> MasterInfo {
        // Mesos packs the IPv4 address in network byte order into the
        // uint32 (MESOS-1201), which reads as little-endian on x86:
        // 127.0.0.1 is 16777343.
        let ip = match self.ip {
            IpAddr::V4(v4) => u32::from_le_bytes(v4.octets()),
            IpAddr::V6(_) => 0,
        };
        MasterInfo {
            id: master_id.to_string(),
            ip,
            port: u32::from(self.port),
            pid: Some(self.pid()),
            hostname: Some(self.hostname.clone()),
            version: Some(MESOS_VERSION.to_string()),
            address: Some(Address {
                hostname: Some(self.hostname.clone()),
                ip: Some(self.ip.to_string()),
                port: i32::from(self.port),
            }),
            domain: self.domain.clone(),
            ..Default::default()
        }
    }
}

/// Seconds since the epoch, as Mesos timestamps are.
pub(crate) fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A registered framework.
#[derive(Debug)]
pub(crate) struct Framework {
    pub id: String,
    pub info: FrameworkInfo,
    /// The open subscription; `None` while disconnected.
    pub stream: Option<EventStream>,
    pub suppressed_roles: BTreeSet<String>,
    pub filters: Vec<OfferFilter>,
    /// Live tasks, and terminal ones not yet acknowledged.
    pub tasks: BTreeMap<String, Task>,
    pub completed_tasks: Vec<Task>,
    /// Tasks lost with an unreachable agent.
    pub unreachable_tasks: BTreeMap<String, Task>,
    pub registered_time: f64,
    pub unregistered_time: Option<f64>,
    /// Bumped on every (dis)connection, so a stale failover timer is ignored.
    pub epoch: u64,
    /// Known to a newly elected master only from an agent that runs its
    /// tasks: it has not subscribed to this master yet (`failover.rs`).
    pub recovered: bool,
}

impl Framework {
    /// A framework the master has just heard of, not connected yet.
    pub(crate) fn new(id: &str, info: FrameworkInfo) -> Framework {
        Framework {
            id: id.to_string(),
            info,
            stream: None,
            suppressed_roles: BTreeSet::new(),
            filters: Vec::new(),
            tasks: BTreeMap::new(),
            completed_tasks: Vec::new(),
            unreachable_tasks: BTreeMap::new(),
            registered_time: now_secs(),
            unregistered_time: None,
            epoch: 0,
            recovered: false,
        }
    }

    pub(crate) fn has(&self, capability: framework_info::capability::Type) -> bool {
        self.info
            .capabilities
            .iter()
            .any(|c| c.r#type == Some(capability as i32))
    }

    /// PARTITION_AWARE frameworks are told TASK_UNREACHABLE, TASK_DROPPED,
    /// TASK_GONE…; the others only ever see TASK_LOST.
    pub(crate) fn partition_aware(&self) -> bool {
        self.has(framework_info::capability::Type::PartitionAware)
    }

    /// The roles it subscribed with: `roles` for MULTI_ROLE frameworks,
    /// else its single `role` (default `*`).
    pub(crate) fn roles(&self) -> Vec<String> {
        if self.has(framework_info::capability::Type::MultiRole) {
            if self.info.roles.is_empty() {
                vec!["*".to_string()]
            } else {
                self.info.roles.clone()
            }
        } else {
            vec![self.info.role.clone().unwrap_or_else(|| "*".to_string())]
        }
    }

    /// Sends an event if connected.
    pub(crate) fn send(&self, event: &Event) {
        if let Some(stream) = &self.stream {
            stream.send(event);
        }
    }
}

/// A task, as the master and its agent know it.
#[derive(Debug)]
pub(crate) struct Task {
    pub info: TaskInfo,
    pub framework_id: String,
    pub agent: usize,
    /// The executor sending its updates: the task ID for a command task
    /// (the command executor is named after its task), else the group's.
    pub executor_id: String,
    /// Launched in a task group (so the master tracks its executor).
    pub in_group: bool,
    /// Run by a custom executor (`TaskInfo.executor`), which the agent
    /// keeps in `Agent::custom_executors`: the task has no process of its
    /// own, its executor reports on it.
    pub custom: bool,
    pub resources: Resources,
    pub role: String,
    /// The latest state (the agent's view).
    pub state: TaskState,
    /// State and uuid of the latest update sent to the framework.
    pub status_update: Option<(TaskState, Bytes)>,
    pub statuses: Vec<TaskStatus>,
    pub sandbox: Option<PathBuf>,
    pub pid: Option<u32>,
    pub process: Option<TaskProcess>,
    /// A KILL is in progress.
    pub killing: bool,
}

impl Task {
    /// A copy for the master's books, without the process: the master's
    /// record of a task it lost with its agent, while the agent keeps the
    /// task itself.
    pub(crate) fn record_without_process(&self) -> Task {
        Task {
            info: self.info.clone(),
            framework_id: self.framework_id.clone(),
            agent: self.agent,
            executor_id: self.executor_id.clone(),
            in_group: self.in_group,
            custom: self.custom,
            resources: self.resources.clone(),
            role: self.role.clone(),
            state: self.state,
            status_update: self.status_update.clone(),
            statuses: self.statuses.clone(),
            sandbox: self.sandbox.clone(),
            pid: None,
            process: None,
            killing: self.killing,
        }
    }

    /// The state the master reports in reconciliation: the one the
    /// framework was last sent, falling back to the latest.
    pub(crate) fn reported_state(&self) -> TaskState {
        self.status_update.as_ref().map_or(self.state, |(s, _)| *s)
    }

    /// The executor ID the master shows for this task, if any.
    pub(crate) fn visible_executor_id(&self) -> Option<String> {
        (self.in_group || self.custom).then(|| self.executor_id.clone())
    }

    pub(crate) fn record(&mut self, status: &TaskStatus) {
        let mut status = status.clone();
        // Mesos drops `data` from the statuses it keeps (MESOS-1746).
        status.data = None;
        match self.statuses.last_mut() {
            Some(last) if last.state == status.state => *last = status,
            _ => self.statuses.push(status),
        }
    }
}

/// A status update the master itself generates: no uuid (so it is never
/// acknowledged nor re-sent), source SOURCE_MASTER.
pub(crate) fn master_status(
    task_id: &str,
    state: TaskState,
    reason: Reason,
    message: &str,
    agent_id: Option<&str>,
    executor_id: Option<String>,
) -> TaskStatus {
    TaskStatus {
        task_id: crate::v1::TaskId {
            value: task_id.to_string(),
        },
        state: state as i32,
        message: Some(message.to_string()),
        source: Some(Source::Master as i32),
        reason: Some(reason as i32),
        agent_id: agent_id.map(|value| crate::v1::AgentId {
            value: value.to_string(),
        }),
        executor_id: executor_id.map(|value| crate::v1::ExecutorId { value }),
        timestamp: Some(now_secs()),
        ..Default::default()
    }
}

/// An outstanding offer.
#[derive(Debug)]
pub(crate) struct Offer {
    pub id: String,
    pub framework_id: String,
    pub agent: usize,
    pub resources: Resources,
    pub role: String,
}

/// The master: all cluster state, owned by the actor task.
pub(crate) struct Master {
    pub settings: Arc<Settings>,
    pub faults: Arc<FaultState>,
    /// For timers, supervisors and event bodies to reach the actor.
    pub commands: mpsc::UnboundedSender<Command>,
    pub snapshot: watch::Sender<Snapshot>,
    pub processes: ProcessTable,
    /// Every call handled, for tests (`call_log.rs`).
    pub calls: CallLog,
    /// The leading master's ID: a UUID, new at every failover.
    pub id: String,
    /// When it was elected (seconds since the epoch).
    pub elected_time: f64,
    /// The agents, registered or not: their IDs and tasks outlive any
    /// master (the registry keeps which agents exist).
    pub agents: Vec<Agent>,
    pub frameworks: BTreeMap<String, Framework>,
    /// Removed after TEARDOWN or their failover timeout: Mesos keeps them
    /// in memory only (`isCompletedFramework`), so a new master forgets.
    pub removed_frameworks: BTreeMap<String, Framework>,
    pub offers: BTreeMap<String, Offer>,
    pub next_framework: u64,
    pub next_offer: u64,
    pub allocation_round: usize,
    /// When to publish the next snapshot (`snapshot.rs`).
    pub publishing: Publishing,
}

impl Master {
    /// Runs the actor until [`Command::Shutdown`].
    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut allocation = tokio::time::interval(self.settings.allocation_interval);
        allocation.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.publish();
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => {
                        self.stop();
                        let _ = reply.send(());
                        return;
                    }
                    Some(command) => self.handle(command),
                    None => return,
                },
                _ = allocation.tick() => self.allocate(),
                // A big cluster's snapshot, deferred, is due.
                _ = tokio::time::sleep_until(self.publishing.due().unwrap_or_else(Instant::now)), if self.publishing.due().is_some() => {
                    self.publish_now();
                    continue;
                }
            }
            self.publish();
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Subscribe {
                subscribe,
                format,
                reply,
            } => {
                let subscription = self.subscribe(*subscribe, format);
                self.calls.record(
                    call::Type::Subscribe,
                    subscription.framework_id.clone().unwrap_or_default(),
                    Some(subscription.stream_id.clone()),
                    subscription.framework_id.is_some(),
                );
                self.answer(reply, subscription);
            }
            Command::Call {
                call,
                stream_id,
                principal,
                reply,
            } => {
                let kind = call.r#type();
                let framework_id = call.framework_id.clone().unwrap_or_default().value;
                let answer = self.call(*call, stream_id.clone(), principal);
                let accepted = matches!(answer, CallReply::Accepted | CallReply::Ok);
                self.calls.record(kind, framework_id, stream_id, accepted);
                self.answer(reply, answer);
            }
            Command::StreamClosed {
                framework_id,
                stream_id,
            } => self.stream_closed(&framework_id, &stream_id),
            Command::Executor(report) => self.executor_report(report),
            Command::ExecutorProcess {
                agent,
                framework_id,
                executor_id,
                container_id,
                report,
            } => self.executor_process(agent, &framework_id, &executor_id, &container_id, report),
            Command::ExecutorCall {
                agent,
                call,
                format,
                reply,
            } => {
                let answer = self.executor_call(agent, *call, format);
                self.answer(reply, answer);
            }
            Command::ExecutorTimeout {
                agent,
                framework_id,
                executor_id,
                container_id,
                timeout,
            } => self.executor_timeout(agent, &framework_id, &executor_id, &container_id, timeout),
            Command::RetryUpdate {
                agent,
                framework_id,
                task_id,
                uuid,
                sending,
            } => self.retry_update(agent, &framework_id, &task_id, &uuid, sending),
            Command::FailoverTimeout {
                framework_id,
                epoch,
                master_id,
            } => {
                if master_id == self.id {
                    self.failover_timeout(&framework_id, epoch);
                }
            }
            Command::DropStreams { reply } => {
                let connected: Vec<String> = self
                    .frameworks
                    .values()
                    .filter(|f| f.stream.is_some())
                    .map(|f| f.id.clone())
                    .collect();
                for framework_id in connected {
                    tracing::info!(%framework_id, "fault: closing the framework's event stream");
                    self.disconnect(&framework_id);
                }
                self.answer(reply, ());
            }
            Command::RemoveAgent { agent_id, reply } => {
                let removed = self.remove_agent(&agent_id);
                self.answer(reply, removed);
            }
            Command::ReregisterAgent {
                agent_id,
                master_id,
                reply,
            } => {
                let detected_in_time = master_id.is_none_or(|id| id == self.id);
                let done = detected_in_time && self.reregister_agent(&agent_id);
                if let Some(reply) = reply {
                    self.answer(reply, done);
                }
            }
            Command::FailOver {
                reregistration,
                reply,
            } => {
                let master_id = self.fail_over(reregistration);
                self.answer(reply, master_id);
            }
            Command::Shutdown { .. } => unreachable!("handled by run()"),
        }
    }

    /// Replies to a command once the published state shows what it did, so
    /// that whoever waited for the reply (a test, an HTTP client) and then
    /// looks at `LocalMaster::state` or `/master/state` sees it.
    fn answer<T>(&mut self, reply: oneshot::Sender<T>, answer: T) {
        self.publish();
        let _ = reply.send(answer);
    }

    /// Kills every task's process, for shutdown.
    fn stop(&mut self) {
        for framework in self.frameworks.values_mut() {
            framework.stream = None;
            for task in framework.tasks.values_mut() {
                task.process = None;
            }
        }
        // Agents away from the master die with it too.
        for agent in &mut self.agents {
            for task in agent.unreported_tasks.values_mut() {
                task.process = None;
            }
        }
        self.processes.kill_all();
    }

    /// SUBSCRIBE: register a new framework, or resume one by its ID.
    fn subscribe(&mut self, subscribe: call::Subscribe, format: ContentType) -> SubscribeReply {
        let (stream, records) = EventStream::open(format);
        let stream_id = stream.id.clone();
        let mut info = subscribe.framework_info;
        let requested = info
            .id
            .as_ref()
            .map(|id| id.value.clone())
            .filter(|id| !id.is_empty());

        // `Master::validateFramework`, in Mesos' order. A framework removed
        // after TEARDOWN or its failover timeout can never come back: the
        // scheduler must register anew.
        let removed = requested
            .as_ref()
            .is_some_and(|id| self.removed_frameworks.contains_key(id));
        let invalid = if removed {
            Err("Framework has been removed".to_string())
        } else {
            validation::validate_failover_timeout(&info)
        };
        // A known framework may change its FrameworkInfo by resubscribing,
        // except for what identifies it (`Master::_subscribe`).
        let invalid = invalid.and_then(|()| {
            let known = requested.as_ref().and_then(|id| self.frameworks.get(id));
            match known {
                Some(framework) => {
                    validation::preserve_immutable_fields(&framework.info, &mut info);
                    validation::validate_framework_update(&framework.info, &info)
                }
                None => Ok(()),
            }
        });
        if let Err(message) = invalid {
            tracing::info!(name = %info.name, "refusing subscription of framework: {message}");
            // The framework's current subscription, if any, is untouched.
            stream.send(&stream::error(&message));
            // Dropping `stream` here closes the response after the ERROR.
            return SubscribeReply {
                stream_id,
                records,
                framework_id: None,
            };
        }

        let framework_id = requested.unwrap_or_else(|| {
            let id = format!("{}-{:04}", self.id, self.next_framework);
            self.next_framework += 1;
            id
        });
        info.id = Some(crate::v1::FrameworkId {
            value: framework_id.clone(),
        });

        match self.frameworks.get_mut(&framework_id) {
            Some(framework) if framework.recovered => {
                // Known from its agents since a master failover: it
                // connects for the first time to this master
                // (`connectAndActivateRecoveredFramework`).
                tracing::info!(%framework_id, "recovered framework subscribed");
                framework.info = info;
                framework.recovered = false;
                framework.registered_time = now_secs();
            }
            Some(framework) => {
                // The same framework subscribing again: a restarted or
                // failed-over scheduler. The new connection wins; the old
                // one is told why and closed (Mesos' `failoverFramework`).
                if let Some(old) = framework.stream.take() {
                    tracing::info!(%framework_id, "framework failed over to a new subscription");
                    old.send(&stream::error("Framework failed over"));
                }
                framework.info = info;
                framework.unregistered_time = None;
            }
            None => {
                // Either new, or unknown to this master since it failed
                // over: Mesos then "recovers" the framework from the
                // FrameworkInfo the scheduler presents, ID and all.
                tracing::info!(%framework_id, name = %info.name, "framework registered");
                self.frameworks
                    .insert(framework_id.clone(), Framework::new(&framework_id, info));
            }
        }
        // Offers made to the old connection are void: the scheduler may
        // have answered them on a connection that is gone.
        self.remove_offers_of(&framework_id);

        let framework = self
            .frameworks
            .get_mut(&framework_id)
            .expect("just inserted");
        framework.epoch += 1;
        framework.suppressed_roles = subscribe.suppressed_roles.into_iter().collect();
        stream.send(&stream::subscribed(
            &framework_id,
            self.settings.heartbeat_interval,
            self.settings.master_info(&self.id),
        ));
        stream.start_heartbeats(self.settings.heartbeat_interval, self.faults.clone());
        framework.stream = Some(stream);
        // Status updates the framework missed while away are sent again at
        // once, instead of at the agents' next retry.
        let missed: Vec<(usize, TaskStatus)> = (0..self.agents.len())
            .filter(|a| self.agents[*a].registered())
            .flat_map(|a| {
                let updates = self.agents[a].updates.in_flight_of(&framework_id);
                updates.into_iter().map(move |status| (a, status))
            })
            .collect();
        for (agent, status) in missed {
            self.send_update(agent, &framework_id, status);
        }
        self.allocate();
        SubscribeReply {
            stream_id,
            records,
            framework_id: Some(framework_id),
        }
    }

    /// Any call but SUBSCRIBE: the checks of `Master::Http::scheduler`,
    /// then the call itself.
    fn call(
        &mut self,
        call: Call,
        stream_id: Option<String>,
        principal: Option<String>,
    ) -> CallReply {
        let framework_id = call.framework_id.clone().unwrap_or_default().value;
        let Some(framework) = self.frameworks.get(&framework_id) else {
            return CallReply::Error(StatusCode::BAD_REQUEST, "Framework cannot be found".into());
        };
        // An authenticated caller may only speak for a framework of its own
        // principal (`Master::Http::scheduler`, after the framework lookup).
        if let Some(principal) = principal {
            let framework_principal = framework.info.principal.as_deref().unwrap_or_default();
            if principal != framework_principal {
                return CallReply::Error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "Authenticated principal '{principal}' does not match principal \
                         '{framework_principal}' set in `FrameworkInfo`"
                    ),
                );
            }
        }
        let Some(stream) = &framework.stream else {
            return CallReply::Error(StatusCode::FORBIDDEN, "Framework is not subscribed".into());
        };
        let Some(stream_id) = stream_id else {
            return CallReply::Error(
                StatusCode::BAD_REQUEST,
                "All non-subscribe calls should include the 'Mesos-Stream-Id' header".into(),
            );
        };
        if stream_id != stream.id {
            return CallReply::Error(
                StatusCode::BAD_REQUEST,
                format!(
                    "The stream ID '{stream_id}' included in this request didn't match the \
                     stream ID currently associated with framework ID {framework_id}"
                ),
            );
        }

        let kind = call::Type::try_from(call.r#type.unwrap_or_default()).unwrap_or_default();
        tracing::debug!(%framework_id, call = kind.as_str_name(), "processing call");
        let id = framework_id.as_str();
        match kind {
            call::Type::Teardown => {
                tracing::info!(framework_id = id, "framework asked to be torn down");
                self.remove_framework(id);
            }
            call::Type::Accept => self.accept(id, call.accept.unwrap_or_default()),
            call::Type::Decline => self.decline(id, call.decline.unwrap_or_default()),
            call::Type::AcceptInverseOffers | call::Type::DeclineInverseOffers => {
                // There is no maintenance schedule, so there never are
                // inverse offers; Mesos ignores IDs it does not know.
                tracing::warn!(
                    framework_id = id,
                    "ignoring inverse offer call: no inverse offers exist"
                );
            }
            call::Type::Revive => self.revive(id, call.revive.unwrap_or_default().roles),
            call::Type::Suppress => self.suppress(id, call.suppress.unwrap_or_default().roles),
            call::Type::Kill => self.kill(id, call.kill.unwrap_or_default()),
            call::Type::Shutdown => self.shutdown_executor(id, call.shutdown.unwrap_or_default()),
            call::Type::Acknowledge => self.acknowledge(id, call.acknowledge.unwrap_or_default()),
            call::Type::AcknowledgeOperationStatus => {
                // No operation ever asks for feedback here (only LAUNCH and
                // LAUNCH_GROUP are supported), so every acknowledgement is
                // for an unknown operation, which Mesos logs and drops.
                tracing::warn!(
                    framework_id = id,
                    "ignoring operation status acknowledgement: operation is unknown"
                );
            }
            call::Type::Reconcile => {
                let tasks = call
                    .reconcile
                    .unwrap_or_default()
                    .tasks
                    .into_iter()
                    .map(|t| (t.task_id.value, t.agent_id.map(|a| a.value)))
                    .collect();
                self.reconcile(id, tasks);
            }
            call::Type::ReconcileOperations => {
                self.reconcile_operations(id, call.reconcile_operations.unwrap_or_default())
            }
            call::Type::Message => self.framework_message(id, call.message.unwrap_or_default()),
            call::Type::Request => {
                tracing::info!(
                    framework_id = id,
                    "ignoring REQUEST: the allocator does not take requests (as in Mesos)"
                );
            }
            call::Type::UpdateFramework => {
                return self.update_framework(id, call.update_framework.unwrap_or_default());
            }
            call::Type::Subscribe | call::Type::Unknown => {
                return CallReply::Error(StatusCode::NOT_IMPLEMENTED, String::new());
            }
        }
        CallReply::Accepted
    }

    /// UPDATE_FRAMEWORK: change the FrameworkInfo without resubscribing.
    fn update_framework(&mut self, framework_id: &str, update: call::UpdateFramework) -> CallReply {
        let framework = self
            .frameworks
            .get_mut(framework_id)
            .expect("checked by call()");
        let info = update.framework_info;
        // `Master::updateFramework`: the FrameworkInfo is checked as for
        // SUBSCRIBE, then against the current one, preserving nothing.
        if let Err(message) = validation::validate_failover_timeout(&info) {
            return CallReply::Error(
                StatusCode::BAD_REQUEST,
                format!("Supplied FrameworkInfo is not valid: {message}"),
            );
        }
        if let Err(message) = validation::validate_framework_update(&framework.info, &info) {
            return CallReply::Error(
                StatusCode::BAD_REQUEST,
                format!("FrameworkInfo update is not valid: {message}"),
            );
        }
        framework.info = info;
        framework.suppressed_roles = update.suppressed_roles.into_iter().collect();
        tracing::info!(framework_id, "framework info updated");
        self.allocate();
        CallReply::Ok
    }

    /// The framework's connection went away.
    fn stream_closed(&mut self, framework_id: &str, stream_id: &str) {
        let current = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.stream.as_ref())
            .is_some_and(|s| s.id == stream_id);
        if current {
            tracing::info!(framework_id, "framework disconnected (event stream closed)");
            self.disconnect(framework_id);
        }
    }

    /// Marks a framework disconnected: it gets no offers, its tasks keep
    /// running, and if it does not resubscribe within its failover
    /// timeout it is removed along with them.
    pub(crate) fn disconnect(&mut self, framework_id: &str) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        framework.stream = None;
        // Mesos forgets a framework's offer filters when its connection
        // goes (`HierarchicalAllocatorProcess::deactivateFramework`): the
        // framework that comes back is offered everything again, whatever
        // it declined before.
        framework.filters.clear();
        framework.epoch += 1;
        let epoch = framework.epoch;
        // FrameworkInfo.failover_timeout defaults to 0: without it, a
        // framework is removed as soon as its connection drops, and so it is
        // with a negative one (Mesos accepts those). SUBSCRIBE and
        // UPDATE_FRAMEWORK refused NaN and timeouts beyond a stout Duration;
        // should one slip through, a framework's number must not panic the
        // master: NaN counts as 0, too large as forever.
        let timeout = framework.info.failover_timeout.unwrap_or(0.0).max(0.0);
        let timeout = Duration::try_from_secs_f64(timeout).unwrap_or(Duration::MAX);
        tracing::info!(
            framework_id,
            ?timeout,
            "waiting for the framework to fail over"
        );
        self.remove_offers_of(framework_id);
        let commands = self.commands.clone();
        let framework_id = framework_id.to_string();
        let master_id = self.id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            let _ = commands.send(Command::FailoverTimeout {
                framework_id,
                epoch,
                master_id,
            });
        });
    }

    fn failover_timeout(&mut self, framework_id: &str, epoch: u64) {
        let expired = self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.stream.is_none() && f.epoch == epoch);
        if expired {
            tracing::info!(
                framework_id,
                "framework failover timeout, removing the framework"
            );
            self.remove_framework(framework_id);
        }
    }

    /// Removes a framework for good (TEARDOWN, failover timeout): its
    /// tasks are killed, its offers withdrawn, its ID never valid again.
    pub(crate) fn remove_framework(&mut self, framework_id: &str) {
        self.remove_offers_of(framework_id);
        let Some(mut framework) = self.frameworks.remove(framework_id) else {
            return;
        };
        let now = now_secs();
        let message = format!("Framework {framework_id} removed");
        let tasks = std::mem::take(&mut framework.tasks);
        for (_, mut task) in tasks {
            // Dropping the process handle kills the task's process group.
            task.process = None;
            task.pid = None;
            if !task.state.is_terminal() {
                // Mesos marks them TASK_KILLED without telling anyone: the
                // framework is gone (`Master::removeFramework`).
                let status = master_status(
                    &task.info.task_id.value,
                    TaskState::TaskKilled,
                    Reason::FrameworkRemoved,
                    &message,
                    Some(&self.agents[task.agent].id),
                    task.visible_executor_id(),
                );
                task.state = TaskState::TaskKilled;
                task.record(&status);
                Footprint::of(&task).release(&mut self.agents[task.agent]);
            }
            framework.completed_tasks.push(task);
        }
        // The master's records of tasks lost with unreachable agents. The
        // agents still run them: they learn of the removal, and kill them,
        // when they re-register (`partition.rs`).
        let unreachable = std::mem::take(&mut framework.unreachable_tasks);
        framework.completed_tasks.extend(unreachable.into_values());
        // Only registered agents hear that the framework is shut down.
        for agent in self.agents.iter_mut().filter(|a| a.registered()) {
            agent.updates.remove_framework(framework_id);
            agent.executors.retain(|(f, _), _| f != framework_id);
        }
        // Its custom executors are shut down, on registered agents only;
        // the others' are when they re-register (`partition.rs`).
        let registered: Vec<usize> = (0..self.agents.len())
            .filter(|a| self.agents[*a].registered())
            .collect();
        for agent in registered {
            self.shutdown_framework_executors(agent, framework_id);
        }
        // Closing the stream ends the framework's SUBSCRIBE response.
        framework.stream = None;
        framework.unregistered_time = Some(now);
        tracing::info!(framework_id, "framework removed");
        self.removed_frameworks
            .insert(framework_id.to_string(), framework);
    }

    /// The index of a registered agent.
    pub(crate) fn agent_index(&self, agent_id: &str) -> Option<usize> {
        self.agents
            .iter()
            .position(|a| a.id == agent_id && a.registered())
    }

    /// Publishes the current state for `LocalMaster::state` and `/state`.
    /// The state changed: publish a snapshot, now or (a big cluster, one
    /// published a moment ago) soon (`snapshot.rs`).
    fn publish(&mut self) {
        if self.publishing.changed(Instant::now()) {
            self.publish_now();
        }
    }

    fn publish_now(&mut self) {
        let started = Instant::now();
        let snapshot = self.build_snapshot();
        let tasks = snapshot.tasks.len();
        self.snapshot.send_replace(snapshot);
        self.publishing.published(tasks, started, started.elapsed());
    }
}

/// A timestamp as a TimeInfo.
pub(crate) fn time_info(secs: f64) -> TimeInfo {
    TimeInfo {
        nanoseconds: (secs * 1e9) as i64,
    }
}
