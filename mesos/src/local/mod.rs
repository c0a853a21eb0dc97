//! A simulated Mesos master, with agents that run tasks as local processes.
//!
//! Developing a framework against a real cluster is slow, and the failures
//! a framework must survive (a dropped event stream, a master failover, a
//! lost agent) are hard to provoke on one. [`LocalMaster`] is a small Mesos
//! master in this process that speaks the real v1 scheduler HTTP API on a
//! loopback port: the same calls, events, status codes and messages as
//! Mesos 1.11, so a framework (this crate's [`Driver`](crate::Driver),
//! `curl`, pymesos, …) cannot tell the difference for everything it needs:
//!
//! * agents (`--agents 2`) with resources, offered as Mesos' allocator
//!   does, with DECLINE filters, SUPPRESS and REVIVE;
//! * command tasks, task groups and custom executors (speaking the v1
//!   executor HTTP API to their agent) that really run, as child processes
//!   with a sandbox holding `stdout` and `stderr` (served, as agents serve
//!   them, by `/files/read` and `/files/browse`), reporting
//!   TASK_STARTING/RUNNING/FINISHED… through reliable, acknowledged
//!   status updates;
//! * a command task's `health_check` run next to it as Mesos' command
//!   executor runs it ([`crate::health`]): `healthy` in TASK_RUNNING
//!   updates, an unhealthy task killed;
//! * framework failover, reconciliation, heartbeats, `/master/state`;
//! * [`Faults`] to inject the failures a framework must survive, among
//!   them a partitioned agent and a master failover.
//!
//! Frameworks in this project run against it with `--master local`, and
//! the `mesos-local` binary serves it on a port for any client.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use mesos::local::{LocalMaster, LocalMasterConfig};
//!
//! let master = LocalMaster::start(LocalMasterConfig::default()).await?;
//! println!("scheduler API at {}", master.addr().scheduler_url());
//! # Ok(()) }
//! ```
//!
//! The pieces, one concern per file:
//!
//! | file | concern |
//! |---|---|
//! | `master.rs` | the actor that owns all state; subscriptions, framework failover, teardown |
//! | `allocator.rs` | offers: allocation cycles, DECLINE filters, SUPPRESS/REVIVE |
//! | `launch.rs` | ACCEPT: checking offers and tasks, launching |
//! | `tasks.rs` | KILL, SHUTDOWN, status updates and acknowledgements |
//! | `status_updates.rs` | the agent's reliable, ordered update delivery |
//! | `reconcile.rs` | RECONCILE and RECONCILE_OPERATIONS answers |
//! | `agent.rs` | agents, sandboxes, the tasks an agent runs unbeknownst to the master |
//! | `partition.rs` | losing an agent (unreachable) and its re-registration |
//! | `failover.rs` | master failover: a new leader, recovered agents and frameworks |
//! | `executor.rs` | tasks and executors as processes: spawn, kill, exit status |
//! | `custom_executor.rs` | the agent's custom executors: launch, SUBSCRIBE, UPDATE, kills, shutdown, exit, timeouts |
//! | `executor_api.rs` | the agent's executor endpoint, `/slave(N)/api/v1/executor`, and its checks |
//! | `executor_calls.rs` | the agent's answers to executor calls; framework messages both ways |
//! | `fetcher.rs` | `CommandInfo.uris` downloaded, copied, unpacked into a sandbox before a task or executor starts |
//! | `files.rs` | the agents' `/files/read` and `/files/browse`: sandboxes over HTTP |
//! | `http.rs`, `stream.rs` | the HTTP endpoint; event streams and heartbeats |
//! | `validation.rs` | calls and tasks checked with Mesos' messages |
//! | `state_json.rs`, `snapshot.rs` | `/master/state`; the state tests look at |
//! | `faults.rs` | fault injection |
//! | `call_log.rs` | the calls received, for tests |
//!
//! Resources are [`crate::resources::Resources`], the type frameworks use:
//! the master keeps them in Mesos' post-refinement format without
//! allocation, converts what frameworks send (`validation.rs`) and what it
//! offers (`allocator.rs`), and prints them as Mesos does in its messages.

mod agent;
mod allocator;
mod auth;
mod call_log;
mod custom_executor;
mod executor;
mod executor_api;
mod executor_calls;
mod failover;
mod faults;
mod fetcher;
mod files;
mod http;
mod launch;
mod master;
mod partition;
mod reconcile;
mod session;
mod snapshot;
mod state_json;
mod status_updates;
mod stream;
mod tasks;
mod validation;

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use tokio::{
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
};

// Mesos' common validation, which health checks share with executors.
pub use agent::AgentState;
pub use call_log::CallRecord;
pub use faults::{AgentReregistration, Faults};
pub use master::MESOS_VERSION;
pub use snapshot::{
    AgentSnapshot, ExecutorSnapshot, FrameworkSnapshot, OfferSnapshot, Snapshot, TaskSnapshot,
};
pub(crate) use validation::validate_environment;

use crate::{
    credentials::Credentials,
    master::{MasterAddr, MasterSpec, Scheme},
    resources::Resources,
};
use call_log::CallLog;
use executor::ProcessTable;
use faults::FaultState;
use files::Files;
use master::{Command, Master, Settings};

/// How many agents `--master local` starts.
pub const DEFAULT_AGENTS: usize = 2;
/// The resources of each agent `--master local` starts.
pub const DEFAULT_AGENT_RESOURCES: &str = "cpus:2;mem:2048;disk:4096;ports:[31000-32000]";
/// Mesos' default `--heartbeat_interval` for scheduler streams (15 s).
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);
/// Mesos' default `--allocation_interval` (1 s).
pub const DEFAULT_ALLOCATION_INTERVAL: Duration = Duration::from_secs(1);
/// The agent's first retry of an unacknowledged status update (10 s).
pub const DEFAULT_STATUS_UPDATE_RETRY: Duration = Duration::from_secs(10);
/// The agent's default `--executor_registration_timeout` (1 min).
pub const DEFAULT_EXECUTOR_REGISTRATION_TIMEOUT: Duration = Duration::from_secs(60);
/// How often an agent sends HEARTBEAT on an executor's stream (Mesos'
/// `DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL`, 30 min).
pub const DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30 * 60);

/// How to set up a [`LocalMaster`].
#[derive(Debug, Clone)]
pub struct LocalMasterConfig {
    /// The address to listen on (loopback by default).
    pub ip: IpAddr,
    /// The port; 0 picks any free one.
    pub port: u16,
    /// The hostname master and agents report; the IP if unset.
    pub hostname: Option<String>,
    /// How many agents.
    pub agents: usize,
    /// Each agent's resources, in Mesos' syntax, e.g.
    /// `cpus:2;mem:2048;disk:4096;ports:[31000-32000]`.
    pub agent_resources: String,
    /// Agents' attributes, in Mesos' `--attributes` syntax
    /// (`rack:r1;zone:b`), by agent: agent `i` gets entry `i`, and an
    /// agent past the end none (as an agent started without the flag).
    /// Offers carry them, for schedulers' placement constraints.
    pub agent_attributes: Vec<String>,
    /// The master's fault domain (`--domain`): its region and zone.
    /// Frameworks without the REGION_AWARE capability are only offered
    /// agents of its region.
    pub domain: Option<(String, String)>,
    /// Agents' fault domains (`--domain`), by agent as
    /// [`LocalMasterConfig::agent_attributes`]: (region, zone). Mesos
    /// ignores an agent with a domain when the master has none; here the
    /// master does not start.
    pub agent_domains: Vec<(String, String)>,
    /// How often HEARTBEAT events are sent on each subscription.
    pub heartbeat_interval: Duration,
    /// How often the allocator makes offers.
    pub allocation_interval: Duration,
    /// How long an agent waits before re-sending an unacknowledged status
    /// update (doubling each time). Short in tests.
    pub status_update_retry: Duration,
    /// How long a custom executor has, from the start of its launch
    /// (fetching included), to SUBSCRIBE before the agent destroys it and
    /// fails its tasks (`--executor_registration_timeout`).
    pub executor_registration_timeout: Duration,
    /// How often HEARTBEAT events are sent on each executor's stream.
    pub executor_heartbeat_interval: Duration,
    /// Where sandboxes go; a new temporary directory (removed when the
    /// master is dropped) if unset.
    pub work_dir: Option<PathBuf>,
    /// Require HTTP basic authentication of frameworks with these
    /// credentials, as a master started with `--authenticate_http_frameworks
    /// --http_framework_authenticators=basic --credentials=<file>` does
    /// (`auth.rs`). `None`: frameworks are not authenticated (Mesos'
    /// default).
    pub framework_credentials: Option<Vec<Credentials>>,
    /// Serve `https` with this certificate and key, as a master built with
    /// SSL and started with `LIBPROCESS_SSL_ENABLED=true` does. (Only with
    /// the crate's `tls` feature.)
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::ServerIdentity>,
    /// Virtual tasks, for benchmarks: a launched task gets no sandbox and
    /// no process; its agent reports TASK_STARTING and TASK_RUNNING at once
    /// (as reliable, acknowledged updates, exactly as for a real task) and
    /// TASK_KILLED when it is killed. Everything the master checks and
    /// sends is the same; only the machine's work is left out.
    pub virtual_tasks: bool,
}

impl Default for LocalMasterConfig {
    fn default() -> Self {
        LocalMasterConfig {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            hostname: None,
            agents: DEFAULT_AGENTS,
            agent_resources: DEFAULT_AGENT_RESOURCES.to_string(),
            agent_attributes: Vec::new(),
            domain: None,
            agent_domains: Vec::new(),
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            allocation_interval: DEFAULT_ALLOCATION_INTERVAL,
            status_update_retry: DEFAULT_STATUS_UPDATE_RETRY,
            executor_registration_timeout: DEFAULT_EXECUTOR_REGISTRATION_TIMEOUT,
            executor_heartbeat_interval: DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL,
            work_dir: None,
            framework_credentials: None,
            #[cfg(feature = "tls")]
            tls: None,
            virtual_tasks: false,
        }
    }
}

/// Why a [`LocalMaster`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// `agent_resources` is not in Mesos' syntax, or empty.
    #[error("invalid resources {input:?}: {reason}")]
    Resources { input: String, reason: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create work directory {path}: {source}")]
    WorkDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// A condition did not come true in time ([`LocalMaster::wait_for`]).
#[derive(Debug, thiserror::Error)]
#[error("condition not met within {timeout:?}")]
pub struct WaitTimeout {
    pub timeout: Duration,
    /// The state when time ran out, to see what was different.
    pub last: Box<Snapshot>,
}

/// A running simulated master. Dropping it stops the server and kills all
/// task processes.
pub struct LocalMaster {
    settings: Arc<Settings>,
    commands: mpsc::UnboundedSender<Command>,
    snapshot: watch::Receiver<Snapshot>,
    faults: Arc<FaultState>,
    processes: ProcessTable,
    calls: CallLog,
    stop_server: watch::Sender<bool>,
    actor: Option<JoinHandle<()>>,
    server: Option<JoinHandle<()>>,
    /// A work directory we created, to remove when done.
    temp_dir: Option<PathBuf>,
}

impl LocalMaster {
    /// Starts a master, its agents and its HTTP server.
    pub async fn start(config: LocalMasterConfig) -> Result<LocalMaster, LocalError> {
        Self::spawn(config)
    }

    /// Like [`LocalMaster::start`], for callers that are not async but run
    /// inside a Tokio runtime (such as [`Driver::start`](crate::Driver::start)).
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn spawn(config: LocalMasterConfig) -> Result<LocalMaster, LocalError> {
        let agent_resources =
            agent_resources(&config.agent_resources).map_err(|reason| LocalError::Resources {
                input: config.agent_resources.clone(),
                reason,
            })?;
        if config.agent_attributes.len() > config.agents {
            return Err(LocalError::Config(format!(
                "attributes for {} agents, but only {} agents",
                config.agent_attributes.len(),
                config.agents
            )));
        }
        if config.agent_domains.len() > config.agents {
            return Err(LocalError::Config(format!(
                "domains for {} agents, but only {} agents",
                config.agent_domains.len(),
                config.agents
            )));
        }
        if !config.agent_domains.is_empty() && config.domain.is_none() {
            // `Master::registerSlave`: "Agent … is configured with domain
            // … but the master has no configured domain".
            return Err(LocalError::Config(
                "agents have a domain but the master has none".into(),
            ));
        }
        let agent_attributes = (config.agent_attributes.iter())
            .map(|text| crate::attributes::parse(text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(LocalError::Config)?;
        for (name, interval) in [
            ("heartbeat_interval", config.heartbeat_interval),
            ("allocation_interval", config.allocation_interval),
            ("status_update_retry", config.status_update_retry),
            (
                "executor_registration_timeout",
                config.executor_registration_timeout,
            ),
            (
                "executor_heartbeat_interval",
                config.executor_heartbeat_interval,
            ),
        ] {
            if interval.is_zero() {
                return Err(LocalError::Config(format!("{name} must be more than zero")));
            }
        }
        if config
            .framework_credentials
            .as_ref()
            .is_some_and(|credentials| credentials.is_empty())
        {
            // Mesos exits with "Credentials file must contain at least one
            // credential" (`Master::initialize`).
            return Err(LocalError::Config(
                "authenticating frameworks needs at least one credential".into(),
            ));
        }
        // The port first: a master that cannot listen leaves nothing behind
        // (no empty work directory).
        let addr = SocketAddr::new(config.ip, config.port);
        let bind = |source| LocalError::Bind { addr, source };
        let std_listener = std::net::TcpListener::bind(addr).map_err(bind)?;
        std_listener.set_nonblocking(true).map_err(bind)?;
        let local_addr = std_listener.local_addr().map_err(bind)?;
        let listener = tokio::net::TcpListener::from_std(std_listener).map_err(bind)?;

        let (work_dir, temp_dir) = match &config.work_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let dir =
                    std::env::temp_dir().join(format!("mesos-local-{}", uuid::Uuid::new_v4()));
                (dir.clone(), Some(dir))
            }
        };
        std::fs::create_dir_all(&work_dir).map_err(|source| LocalError::WorkDir {
            path: work_dir.clone(),
            source,
        })?;

        let master_id = uuid::Uuid::new_v4().to_string();
        let now = master::now_secs();
        let settings = Arc::new(Settings {
            first_master_id: master_id.clone(),
            ip: config.ip,
            port: local_addr.port(),
            hostname: config
                .hostname
                .clone()
                .unwrap_or_else(|| config.ip.to_string()),
            heartbeat_interval: config.heartbeat_interval,
            allocation_interval: config.allocation_interval,
            status_update_retry: config.status_update_retry,
            executor_registration_timeout: config.executor_registration_timeout,
            executor_heartbeat_interval: config.executor_heartbeat_interval,
            work_dir: work_dir.clone(),
            scheme: {
                #[cfg(feature = "tls")]
                let scheme = if config.tls.is_some() {
                    Scheme::Https
                } else {
                    Scheme::Http
                };
                #[cfg(not(feature = "tls"))]
                let scheme = Scheme::Http;
                scheme
            },
            authenticator: config
                .framework_credentials
                .as_deref()
                .map(auth::Authenticator::new),
            virtual_tasks: config.virtual_tasks,
            domain: config.domain.as_ref().map(domain_info),
        });
        // One `files` for all agents, as in Mesos' local mode: they share
        // the master's address, so their `/files` endpoints are one.
        let files = Files::default();
        let agents = (0..config.agents)
            .map(|index| {
                let mut agent = agent::Agent::new(
                    &master_id,
                    index,
                    &settings,
                    agent_resources.clone(),
                    files.clone(),
                    now,
                );
                agent.attributes = agent_attributes.get(index).cloned().unwrap_or_default();
                agent.domain = config.agent_domains.get(index).map(domain_info);
                agent
            })
            .collect();

        let (commands, receiver) = mpsc::unbounded_channel();
        let (snapshot_sender, snapshot) = watch::channel(Snapshot::default());
        let faults = Arc::new(FaultState::default());
        let processes = ProcessTable::default();
        let calls = CallLog::default();
        let actor = Master {
            settings: settings.clone(),
            faults: faults.clone(),
            commands: commands.clone(),
            snapshot: snapshot_sender,
            processes: processes.clone(),
            calls: calls.clone(),
            id: master_id,
            elected_time: now,
            agents,
            frameworks: BTreeMap::new(),
            removed_frameworks: BTreeMap::new(),
            offers: BTreeMap::new(),
            next_framework: 0,
            next_offer: 0,
            allocation_round: 0,
            publishing: Default::default(),
        };
        // The agents are there from the start, not only once the actor has
        // run: `/master/state` may be asked right after `start` returns.
        actor.snapshot.send_replace(actor.build_snapshot());
        let actor = tokio::spawn(actor.run(receiver));

        let (stop_server, stopped) = watch::channel(false);
        let shared = Arc::new(http::Shared {
            settings: settings.clone(),
            commands: commands.clone(),
            snapshot: snapshot.clone(),
            faults: faults.clone(),
            files,
            #[cfg(feature = "tls")]
            tls: config
                .tls
                .as_ref()
                .map(crate::tls::ServerIdentity::acceptor),
        });
        let server = tokio::spawn(http::serve(listener, shared, stopped));

        tracing::info!(
            address = %local_addr,
            agents = config.agents,
            resources = %agent_resources,
            work_dir = %work_dir.display(),
            "simulated Mesos master running"
        );
        Ok(LocalMaster {
            settings,
            commands,
            snapshot,
            faults,
            processes,
            calls,
            stop_server,
            actor: Some(actor),
            server: Some(server),
            temp_dir,
        })
    }

    /// The master's address, for a [`Client`](crate::Client).
    pub fn addr(&self) -> MasterAddr {
        MasterAddr::new(
            self.settings.scheme,
            self.settings.ip.to_string(),
            self.settings.port,
        )
    }

    /// `--master` pointing at this master.
    pub fn spec(&self) -> MasterSpec {
        MasterSpec::Addr(self.addr())
    }

    /// The socket address the master listens on.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.settings.ip, self.settings.port)
    }

    /// The ID (a UUID) of the master as started; agent IDs are `<id>-S0`,
    /// `<id>-S1`, … for good. After a [`Faults::fail_over`] the leading
    /// master has another ID: [`Snapshot::master_id`].
    pub fn id(&self) -> &str {
        &self.settings.first_master_id
    }

    /// This master's `MasterInfo`, as SUBSCRIBED carries it and as a real
    /// master registers it in ZooKeeper (`mesos-local --zk`).
    pub fn master_info(&self) -> crate::v1::MasterInfo {
        self.settings.master_info(&self.state().master_id)
    }

    /// Where agents keep their sandboxes.
    pub fn work_dir(&self) -> &Path {
        &self.settings.work_dir
    }

    /// The cluster as of now.
    pub fn state(&self) -> Snapshot {
        self.snapshot.borrow().clone()
    }

    /// Waits until `predicate` holds for the cluster state, at most
    /// `timeout`. Returns the state that satisfied it.
    pub async fn wait_for(
        &self,
        mut predicate: impl FnMut(&Snapshot) -> bool,
        timeout: Duration,
    ) -> Result<Snapshot, WaitTimeout> {
        let mut snapshot = self.snapshot.clone();
        let waited = tokio::time::timeout(timeout, snapshot.wait_for(|s| predicate(s))).await;
        match waited {
            Ok(Ok(state)) => Ok(state.clone()),
            _ => Err(WaitTimeout {
                timeout,
                last: Box::new(self.state()),
            }),
        }
    }

    /// Every state the master publishes from now on, as it publishes it:
    /// for a watcher that checks an invariant on each change while the
    /// test does other things (a chaos test). A slow reader sees the
    /// latest state, not each one in between.
    pub fn snapshots(&self) -> watch::Receiver<Snapshot> {
        self.snapshot.clone()
    }

    /// The calls the master handled so far, in order (the last 100,000):
    /// who was heard on which subscription, and whether it was taken.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.calls.records()
    }

    /// The handle to inject faults.
    pub fn faults(&self) -> Faults {
        Faults {
            state: self.faults.clone(),
            commands: self.commands.clone(),
        }
    }

    /// Stops the master and its agents: kills every task, closes every
    /// stream and stops serving.
    pub async fn shutdown(mut self) {
        let (reply, done) = oneshot::channel();
        if self.commands.send(Command::Shutdown { reply }).is_ok() {
            let _ = done.await;
        }
        let _ = self.stop_server.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some(actor) = self.actor.take() {
            let _ = actor.await;
        }
        // Drop removes the temporary work directory.
    }
}

/// A `DomainInfo` with this region and zone.
fn domain_info((region, zone): &(String, String)) -> crate::v1::DomainInfo {
    use crate::v1::domain_info::{
        FaultDomain,
        fault_domain::{RegionInfo, ZoneInfo},
    };
    crate::v1::DomainInfo {
        fault_domain: Some(FaultDomain {
            region: RegionInfo {
                name: region.clone(),
            },
            zone: ZoneInfo { name: zone.clone() },
        }),
    }
}

/// Parses an agent's resources (`--resources`), which must not be empty:
/// an agent with nothing to offer is a mistake, not a configuration.
pub fn agent_resources(text: &str) -> Result<Resources, String> {
    let resources = Resources::parse(text).map_err(|e| e.to_string())?;
    if resources.is_empty() {
        return Err("no resources given (expected e.g. cpus:2;mem:2048)".to_string());
    }
    Ok(resources)
}

impl Drop for LocalMaster {
    fn drop(&mut self) {
        let _ = self.stop_server.send(true);
        for task in [self.actor.take(), self.server.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
        // Synchronously, so no task outlives its master even if the runtime
        // is shutting down and the actor will never run again.
        self.processes.kill_all();
        if let Some(dir) = self.temp_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
