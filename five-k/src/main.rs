//! 5K: a scheduler of long-running apps that speaks Marathon's REST API.
//!
//! The workshop's talk ended on "5K, an attempt at a Marathon clone".
//! This is that clone, built from the kit's parts: the library's driver
//! keeps it subscribed to the master, `scheduler/` decides (apps, tasks,
//! deployments, with no I/O), `api/` serves Marathon's REST API v2 so
//! that existing Marathon clients drive it unchanged, `store.rs` keeps the
//! state in ZooKeeper, `ha/` elects a leader among several instances, and
//! `core.rs` joins them. With no flags it runs on a simulated Mesos master
//! in this process and serves the API on 127.0.0.1:8080.

mod api;
mod app;
mod core;
mod events;
mod ha;
mod haproxy;
mod health;
mod scheduler;
mod store;
mod time;
mod web;

use std::{
    io::IsTerminal,
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use clap::Parser;
use mesos::{
    Credentials, Driver, DriverConfig, MasterSpec,
    leader::{Election, Role},
    state::ZkUrl,
    v1::FrameworkInfo,
};
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

use crate::{
    api::{Api, Settings},
    core::CoreLoop,
    events::EventBus,
    ha::Leadership,
    scheduler::Scheduler,
    store::Store,
};

/// How long the master keeps 5K's tasks running while 5K is away: a
/// week, Marathon's `--failover_timeout`.
const FAILOVER_TIMEOUT_SECONDS: u64 = 604_800;

/// Runs long-lived apps on Mesos, driven through Marathon's REST API.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The Mesos master: http://host:5050, host:5050, zk://host:2181/mesos,
    /// or `local` for a simulated master inside this process.
    #[arg(long, env = "MESOS_MASTER", default_value = "local")]
    master: MasterSpec,

    /// For masters that authenticate frameworks: a JSON file
    /// {"principal": "…", "secret": "…"}, as Mesos' --credential.
    #[arg(long, env = "MESOS_CREDENTIAL", value_parser = mesos::flags::credential_file)]
    credential: Option<Credentials>,

    /// Where to keep the state and elect a leader among several
    /// instances: zk://host:2181/five-k. Without it, the state is kept in
    /// memory only and this instance runs alone.
    #[arg(long, env = "FIVE_K_ZK")]
    zk: Option<ZkUrl>,

    /// The ZooKeeper session's timeout, in seconds: how long a leader
    /// that stopped answering (crashed, frozen, cut off) keeps its place
    /// before a standby takes over. ZooKeeper grants between 2 and 20
    /// ticks (4 s to 40 s with its default tickTime of 2 s).
    #[arg(long, env = "ZK_SESSION_TIMEOUT", default_value = "6", value_parser = mesos::flags::seconds)]
    zk_session_timeout: u64,

    /// Where to serve the REST API. Only this machine can reach the
    /// default; give 0.0.0.0:8080 to serve the room (and guard it with
    /// --web-credential).
    #[arg(long, env = "FIVE_K_HTTP_ADDRESS", default_value = "127.0.0.1:8080", value_parser = mesos::flags::socket_addr)]
    http_address: SocketAddr,

    /// The host name other instances and clients reach this one by
    /// (Marathon's --hostname). Defaults to the address served on, or the
    /// machine's name when that is 0.0.0.0.
    #[arg(long, env = "FIVE_K_HOSTNAME", value_parser = mesos::flags::text)]
    hostname: Option<String>,

    /// The framework's name, as the Mesos UI shows it.
    #[arg(long, env = "FRAMEWORK_NAME", default_value = "five-k", value_parser = mesos::flags::text)]
    name: String,

    /// The user tasks run as when an app names none (it must exist on the
    /// agents).
    #[arg(long, env = "FRAMEWORK_USER", default_value = "root", value_parser = mesos::flags::text)]
    user: String,

    /// Who may use the web page and the REST API (all of it but /ping): a
    /// JSON file {"principal": "…", "secret": "…"} (the form of
    /// --credential), sent by clients as HTTP basic authentication.
    /// Without it, anyone who can reach --http-address can use both.
    #[arg(long, env = "FIVE_K_WEB_CREDENTIAL", value_parser = mesos::flags::credential_file)]
    web_credential: Option<Credentials>,

    /// Service discovery: the configuration file of an HAProxy that 5K
    /// keeps in step with the tasks serving each app's service ports.
    /// HAProxy runs in master-worker mode on this file with a master CLI
    /// (`haproxy -W -S <socket> -f <file>`), see --haproxy-socket. Off
    /// without it.
    #[arg(long, env = "FIVE_K_HAPROXY_CONFIG", requires = "haproxy_socket")]
    haproxy_config: Option<PathBuf>,

    /// HAProxy's master CLI socket (its -S), through which 5K reloads it.
    #[arg(long, env = "FIVE_K_HAPROXY_SOCKET", requires = "haproxy_config")]
    haproxy_socket: Option<PathBuf>,

    /// The address HAProxy binds the service ports on.
    #[arg(long, env = "FIVE_K_HAPROXY_BIND_ADDRESS", default_value = "0.0.0.0")]
    haproxy_bind_address: IpAddr,

    /// The haproxy program, which checks each configuration (haproxy -c)
    /// before HAProxy reloads it.
    #[arg(long, env = "FIVE_K_HAPROXY_BINARY", default_value = "haproxy")]
    haproxy_binary: PathBuf,
}

impl Args {
    /// HAProxy's settings, if 5K keeps one.
    fn haproxy(&self) -> Option<haproxy::Settings> {
        Some(haproxy::Settings {
            config: self.haproxy_config.clone()?,
            master_socket: self.haproxy_socket.clone()?,
            bind: self.haproxy_bind_address,
            binary: self.haproxy_binary.clone(),
        })
    }
}

/// How a term as the leader ended.
enum Term {
    /// Ctrl-C: stop for good.
    Shutdown,
    /// Leadership was lost or given up: stand by again.
    SteppedDown,
    /// Something that must stop this instance (exit status 1).
    Failed(String),
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let args = Args::parse();
    if args.master == MasterSpec::Local {
        tracing::info!(
            "no cluster given: running on a simulated Mesos master in this process \
             (use --master http://10.10.4.2:5050 for the workshop's cluster)"
        );
    }
    let (listener, hostname, me) = bind_api(&args).await?;
    let election = args
        .zk
        .as_ref()
        .map(|url| Election::join(url, &me, Duration::from_secs(args.zk_session_timeout)));
    let (mut core_loop, mut resignations) = serve_api(&args, listener, hostname, me, &election);
    core_loop.haproxy = args.haproxy().map(haproxy::Backends::start);

    let mut ctrl_c = watch_ctrl_c();
    let outcome = loop {
        let (elected_at, node, scheduler, store) =
            match next_term(&args, &election, &mut ctrl_c).await {
                Ok(start) => start,
                Err(end) => break end,
            };
        let roles = election.as_ref().map(Election::roles);
        let term = lead(
            &args,
            &mut core_loop,
            elected_at,
            scheduler,
            store,
            node,
            roles,
            &mut ctrl_c,
            &mut resignations,
        )
        .await;
        match (term, &election) {
            (Term::SteppedDown, Some(election)) => {
                tracing::info!("standing by: another instance leads now");
                // Give up our place: the next instance leads.
                if election.role().is_leader() {
                    election.resign();
                }
            }
            // Alone, there is nobody to hand over to.
            (Term::SteppedDown, None) => break Term::Shutdown,
            (other, _) => break other,
        }
    };
    if let Some(election) = election {
        election.leave().await;
    }
    if let Term::Failed(reason) = outcome {
        tracing::error!("{reason}");
        std::process::exit(1);
    }
    Ok(())
}

/// Binds the API's address, and says under which name and address this
/// instance is known to the others (`host:port`, what `/v2/leader`
/// answers). Bound first: a taken port is a mistake to report before
/// anything registers with the master or joins an election.
async fn bind_api(
    args: &Args,
) -> Result<(tokio::net::TcpListener, String, String), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(args.http_address)
        .await
        .map_err(|e| {
            format!(
                "cannot serve the API on {}: {e} (choose another with --http-address)",
                args.http_address
            )
        })?;
    let address = listener.local_addr()?;
    let hostname = args
        .hostname
        .clone()
        .unwrap_or_else(|| default_hostname(address));
    let me = format!("{hostname}:{}", address.port());
    Ok((listener, hostname, me))
}

fn init_logging() {
    tracing_subscriber::fmt()
        // The ZooKeeper client's own lines (each session it opens, a
        // server answering a moment before it accepts sessions) would
        // drown ours; 5K reports real failures itself.
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,zookeeper_client=error".into()),
        )
        // Colours only for a person at a terminal, not in a file or a pipe.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
}

/// Serves the API (and the web page) on `listener` for as long as 5K
/// runs, whoever leads. Returns the loop that will own the scheduler in
/// each term, and the requests to abdicate (`DELETE /v2/leader`).
fn serve_api(
    args: &Args,
    listener: tokio::net::TcpListener,
    hostname: String,
    me: String,
    election: &Option<Election>,
) -> (CoreLoop, tokio::sync::mpsc::UnboundedReceiver<()>) {
    let leadership = match election {
        Some(election) => Leadership::elected_by(me, election.roles(), election.leaders()),
        None => Leadership::alone(me),
    };
    let bus = EventBus::default();
    let (core_loop, core) = CoreLoop::new(bus.clone());
    let (resign, resignations) = tokio::sync::mpsc::unbounded_channel::<()>();
    let address = listener.local_addr().ok();
    // 5K's own health checks run whoever leads; they check only while
    // this instance does.
    tokio::spawn(health::checker::run(core.clone(), leadership.clone()));
    let api = Api {
        core,
        bus,
        settings: Arc::new(Settings {
            hostname,
            http_port: address.map_or(0, |a| a.port()),
            master: args.master.to_string(),
            zk: args.zk.as_ref().map(ToString::to_string),
            framework_name: args.name.clone(),
            user: args.user.clone(),
            failover_timeout_seconds: FAILOVER_TIMEOUT_SECONDS,
        }),
        leadership,
        abdicate: election.as_ref().map(|_| {
            Arc::new(move || {
                let _ = resign.send(());
            }) as Arc<dyn Fn() + Send + Sync>
        }),
    };
    let app = web::protect(api::router(api), args.web_credential.clone());
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(error) = axum::serve(listener, service).await {
            tracing::error!(%error, "the API server stopped");
        }
    });
    if let Some(address) = address {
        tracing::info!(
            "Marathon's REST API served on http://{address} (try: curl http://{address}/v2/apps)"
        );
    }
    (core_loop, resignations)
}

/// When this instance was elected (`None` alone), its election node, and
/// the scheduler and store it starts from.
type NextTerm = (
    Option<std::time::Instant>,
    Option<String>,
    Scheduler,
    Option<Store>,
);

/// What the next term starts from: with `--zk`, once elected, when, the
/// state read from ZooKeeper and the election node that fences its
/// writes; alone, an empty scheduler. `Err` when there is no next term.
async fn next_term(
    args: &Args,
    election: &Option<Election>,
    ctrl_c: &mut watch::Receiver<bool>,
) -> Result<NextTerm, Term> {
    let (Some(election), Some(url)) = (election, &args.zk) else {
        return Ok((None, None, Scheduler::new(), None));
    };
    let Some(node) = elected(election, ctrl_c).await else {
        return Err(Term::Shutdown);
    };
    let elected_at = std::time::Instant::now();
    tracing::info!("elected: this instance leads, reading the state");
    match Store::open(url, node.clone()).await {
        Ok((store, scheduler)) => Ok((Some(elected_at), Some(node), scheduler, Some(store))),
        Err(error) => Err(Term::Failed(format!("cannot read 5K's state: {error}"))),
    }
}

/// One term as the leader: subscribes to the master and runs the
/// scheduler until shutdown, loss of leadership or failure.
#[allow(clippy::too_many_arguments)]
async fn lead(
    args: &Args,
    core_loop: &mut CoreLoop,
    elected_at: Option<std::time::Instant>,
    scheduler: Scheduler,
    store: Option<Store>,
    node: Option<String>,
    roles: Option<watch::Receiver<Role>>,
    ctrl_c: &mut watch::Receiver<bool>,
    resignations: &mut tokio::sync::mpsc::UnboundedReceiver<()>,
) -> Term {
    let framework_info = FrameworkInfo {
        id: scheduler.framework_id().cloned(),
        user: args.user.clone(),
        name: args.name.clone(),
        failover_timeout: Some(FAILOVER_TIMEOUT_SECONDS as f64),
        checkpoint: Some(true),
        ..Default::default()
    };
    let mut config = DriverConfig::new(args.master.clone(), framework_info);
    config.client.credentials = mesos::flags::credentials(args.credential.clone());
    let (driver, mut mesos_events) = match Driver::start(config) {
        Ok(started) => started,
        Err(error) => return Term::Failed(format!("cannot start the driver: {error}")),
    };
    // Resignations asked for in an earlier term are void.
    while resignations.try_recv().is_ok() {}
    let ended = async {
        tokio::select! {
            () = wait_true(ctrl_c) => Term::Shutdown,
            () = lost(roles, node) => Term::SteppedDown,
            Some(()) = resignations.recv() => Term::SteppedDown,
        }
    };
    let mut why = None;
    let failure = core_loop
        .run(
            elected_at,
            scheduler,
            store,
            &driver,
            &mut mesos_events,
            async {
                why = Some(ended.await);
                None
            },
        )
        .await;
    driver.stop().await;
    match (failure, why) {
        (Some(reason), _) => Term::Failed(reason),
        (None, Some(term)) => term,
        (None, None) => Term::Failed("the driver stopped".into()),
    }
}

/// Waits until this instance leads, and returns its election node; `None`
/// on Ctrl-C.
async fn elected(election: &Election, ctrl_c: &mut watch::Receiver<bool>) -> Option<String> {
    let mut roles = election.roles();
    loop {
        if let Role::Leader { node } = roles.borrow_and_update().clone() {
            return Some(node);
        }
        tokio::select! {
            changed = roles.changed() => if changed.is_err() { std::future::pending::<()>().await },
            () = wait_true(ctrl_c) => return None,
        }
    }
}

/// Completes when this instance no longer leads with `node`: deposed, or
/// disconnected from ZooKeeper (it may have been deposed without knowing).
async fn lost(roles: Option<watch::Receiver<Role>>, node: Option<String>) {
    let Some(mut roles) = roles else {
        return std::future::pending().await;
    };
    loop {
        match &*roles.borrow_and_update() {
            Role::Leader { node: ours } if Some(ours) == node.as_ref() => {}
            _ => return,
        }
        if roles.changed().await.is_err() {
            return;
        }
    }
}

/// A flag set once Ctrl-C is pressed, for every term to see.
fn watch_ctrl_c() -> watch::Receiver<bool> {
    let (pressed, receiver) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C: disconnecting from the master");
            let _ = pressed.send(true);
        }
    });
    receiver
}

async fn wait_true(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}

/// The address served on, or the machine's name when it serves every
/// address (0.0.0.0 names no one host).
fn default_hostname(address: SocketAddr) -> String {
    if !address.ip().is_unspecified() {
        return address.ip().to_string();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
