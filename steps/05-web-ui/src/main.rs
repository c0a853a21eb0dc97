//! hello-mesos: a Mesos framework that keeps copies of a command running,
//! keeps its state in ZooKeeper, recovers from failures, runs as several
//! instances of which one leads, and shows itself on a web page.
//!
//! This file is the I/O edge. It reads the flags, starts the web page
//! (`web.rs`, on every instance), joins the leader election (the library's
//! `leader` module) and goes round: as a standby it waits; elected, it
//! serves one term as the leader (`leadership.rs`: read the state,
//! subscribe, schedule) until it loses or gives up leadership, then waits
//! again. All decisions are in `scheduler.rs`; `store.rs` maps the
//! scheduler's state onto ZooKeeper; `view.rs` is what the page shows.

mod executor;
mod form;
mod leadership;
mod scheduler;
mod store;
mod task_kind;
mod view;
mod web;

use std::{io::IsTerminal, net::SocketAddr, time::Duration};

use clap::{Parser, Subcommand, ValueEnum};
use mesos::{
    ClientOptions, Credentials, MasterSpec,
    artifacts::ServedFile,
    leader::{self, Election},
    state::ZkUrl,
    teardown::{TornDown, teardown},
    v1::{CommandInfo, FrameworkInfo, command_info::Uri},
};
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::{mpsc, watch},
};
use tracing_subscriber::EnvFilter;

use crate::{
    leadership::{Settings, Signals, Term, WebLink},
    scheduler::TaskSpec,
    store::Store,
    task_kind::TaskKind,
    web::{Web, WebConfig},
};

/// Keeps copies of a command running on a Mesos cluster.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    role: Option<Role>,

    /// The Mesos master: http://host:5050, host:5050, zk://host:2181/mesos,
    /// or `local` for a simulated master inside this process.
    #[arg(long, env = "MESOS_MASTER", default_value = "local")]
    master: MasterSpec,

    /// For masters that authenticate frameworks: a JSON file
    /// {"principal": "…", "secret": "…"}, as Mesos' --credential. Without
    /// it, MESOS_PRINCIPAL and MESOS_SECRET are used if set. (The secret is
    /// never a flag: flags show in `ps`.)
    #[arg(long, env = "MESOS_CREDENTIAL", value_parser = mesos::flags::credential_file)]
    credential: Option<Credentials>,

    /// Where to keep the framework's state and hold the leader election:
    /// zk://host:2181/hello-mesos. Without it, the state is kept in memory
    /// only and there is no election: this instance leads alone.
    #[arg(long, env = "ZK_URL")]
    zk: Option<ZkUrl>,

    /// The ZooKeeper session timeout of the election, in seconds: how long
    /// after a leader dies (or is cut off) a standby takes over. Shorter
    /// means a faster takeover, and a leader deposed by any pause longer
    /// than that. ZooKeeper grants between 2 and 20 ticks (4 s to 40 s with
    /// its default tickTime of 2 s).
    #[arg(long, env = "ZK_SESSION_TIMEOUT", default_value = "6", value_parser = mesos::flags::seconds)]
    zk_session_timeout: u64,

    /// The framework's name, as the Mesos UI shows it.
    #[arg(long, env = "FRAMEWORK_NAME", default_value = "hello-mesos", value_parser = mesos::flags::text)]
    name: String,

    /// The user the tasks run as on the agents (it must exist there).
    #[arg(long, env = "FRAMEWORK_USER", default_value = "root", value_parser = mesos::flags::text)]
    user: String,

    /// How long, in seconds, the master keeps the framework and its tasks
    /// while no scheduler is subscribed: the time a restarted scheduler has
    /// to come back. One week by default.
    #[arg(long, env = "FAILOVER_TIMEOUT", default_value = "604800", value_parser = mesos::flags::non_negative)]
    failover_timeout: f64,

    /// How many copies of the task to keep running [default: 2]. Once a
    /// count is stored in ZooKeeper, the stored one is used.
    #[arg(long, env = "INSTANCES")]
    instances: Option<usize>,

    /// CPUs per task.
    #[arg(long, env = "TASK_CPUS", default_value = "0.5", value_parser = mesos::flags::positive)]
    cpus: f64,

    /// Memory per task, in MB.
    #[arg(long, env = "TASK_MEM", default_value = "128", value_parser = mesos::flags::positive)]
    mem: f64,

    /// The shell command each task runs.
    #[arg(
        long,
        env = "TASK_COMMAND",
        value_parser = mesos::flags::text,
        default_value = r#"while true; do echo "Hey Mesos"; sleep 5; done"#
    )]
    command: String,

    /// Who runs the command on the agent: `shell` (Mesos' command
    /// executor), `docker` (the same, in --docker-image) or `executor`
    /// (this program's own executor, `src/executor.rs`).
    #[arg(long, env = "TASK_KIND", default_value = "shell")]
    task_kind: Kind,

    /// The Docker image the command runs in, with `--task-kind docker`.
    #[arg(long, env = "DOCKER_IMAGE", default_value = "busybox", value_parser = mesos::flags::text)]
    docker_image: String,

    /// With `--task-kind executor` on a cluster: serve this program to the
    /// agents at this address, one they reach (e.g. 10.10.4.2:8089), for
    /// them to fetch and run. Without it, the agents run it from its path
    /// here: right with `--master local`, or agents on this machine.
    #[arg(long, env = "EXECUTOR_ADDR", value_parser = mesos::flags::socket_addr)]
    executor_addr: Option<SocketAddr>,

    /// How often, in seconds, to ask the master about all our tasks
    /// (implicit reconciliation), besides after every subscription.
    #[arg(long, env = "RECONCILE_INTERVAL", default_value = "900", value_parser = mesos::flags::seconds)]
    reconcile_interval: u64,

    /// Instead of running: end the stored framework for good. The master
    /// kills its tasks and forgets it; the stored framework ID and task
    /// records are cleared, so the next start registers a new framework.
    #[arg(long)]
    teardown: bool,

    /// Instead of running: print who leads (its web URL) as the election's
    /// nodes in ZooKeeper say, and exit.
    #[arg(long)]
    show_leader: bool,

    /// Where the web page listens. 127.0.0.1 by default: only this machine
    /// can reach it; 0.0.0.0:8088 to let others (the page can change how
    /// many tasks run: guard it with --web-credential).
    #[arg(long, env = "WEB_ADDR", default_value = "127.0.0.1:8088", value_parser = mesos::flags::socket_addr)]
    web_addr: SocketAddr,

    /// How others reach this instance's web page: the other instances link
    /// to the leader's, and the Mesos UI to the framework's. Derived from
    /// --web-addr if not given.
    #[arg(long, env = "WEB_URL")]
    web_url: Option<String>,

    /// Who may use the web page: a JSON file {"principal": "…", "secret":
    /// "…"} (the form of --credential). Without it, anyone who can reach
    /// the page can use it: with --web-addr 0.0.0.0, give one.
    #[arg(long, env = "WEB_CREDENTIAL", value_parser = mesos::flags::credential_file)]
    web_credential: Option<Credentials>,

    /// The most tasks the web page's form accepts.
    #[arg(long, env = "MAX_INSTANCES", default_value = "100")]
    max_instances: usize,
}

#[derive(Subcommand, Debug)]
enum Role {
    /// Run as a task's executor. The agent starts this, with the
    /// environment it sets for executors; it is not for running by hand.
    Executor,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Kind {
    Shell,
    Docker,
    Executor,
}

// One thread: the scheduler handles one event at a time anyway, and
// handing events from thread to thread cost a third of its CPU time at
// 10,000 tasks (BENCHMARKS.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let client = client_options(args.credential.clone());
    if args.show_leader {
        // Only the answer on stdout, for scripts (`bin/go-ha`).
        return show_leader(args.zk.as_ref()).await;
    }
    tracing_subscriber::fmt()
        // The ZooKeeper client's own lines would drown ours: INFO for each
        // session it opens, WARN for each attempt that fails (one at every
        // start on a ZooKeeper just started, which answers `ruok` a moment
        // before it takes sessions). What comes of them, our lines say.
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,zookeeper_client=error".into()),
        )
        // Colours for a terminal only: in a file or a pipe they are noise.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    if let Some(Role::Executor) = args.role {
        return executor::run::main().await;
    }
    if args.master == MasterSpec::Local {
        tracing::info!(
            "no cluster given: running on a simulated Mesos master in this process \
             (use --master http://10.10.4.2:5050 for the workshop's cluster)"
        );
    }
    if args.teardown {
        return end_for_good(&args).await;
    }
    let mut signals = Signals {
        interrupt: signal(SignalKind::interrupt())?,
        resign: signal(SignalKind::user_defined1())?,
    };
    let listener = match web::bind(args.web_addr) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(
                "cannot serve the web page on {}: {error} (each instance needs a \
                 --web-addr of its own)",
                args.web_addr
            );
            std::process::exit(1);
        }
    };
    // The port really bound: `--web-addr 127.0.0.1:0` picks a free one.
    let web_addr = listener.local_addr()?;
    let web_url =
        web_url(args.web_url.as_deref(), web_addr).unwrap_or_else(|e| mesos::flags::usage_error(e));

    // The participant id says how to reach this instance: its web page.
    let election = match &args.zk {
        Some(url) => {
            let id = web_url.clone();
            tracing::info!(participant = %id, "joining the leader election");
            let timeout = Duration::from_secs(args.zk_session_timeout);
            Some(Election::join(url, &id, timeout))
        }
        None => {
            tracing::info!("no --zk: no election, this instance leads alone");
            None
        }
    };
    // Kept for as long as the agents may fetch the executor.
    let mut _served = None;
    let kind = match args.task_kind {
        Kind::Shell => TaskKind::Shell,
        Kind::Docker => TaskKind::Docker {
            image: args.docker_image,
        },
        Kind::Executor => {
            let (start, served) = executor_start(args.executor_addr).await?;
            _served = served;
            TaskKind::Executor { start }
        }
    };
    let settings = Settings {
        master: args.master,
        client,
        zk: args.zk,
        user: args.user,
        name: args.name.clone(),
        failover_timeout: args.failover_timeout,
        instances: args.instances,
        spec: TaskSpec {
            name: args.name,
            cpus: args.cpus,
            mem: args.mem,
            command: args.command,
            kind,
        },
        reconcile_interval: Duration::from_secs(args.reconcile_interval),
        web_url: web_url.clone(),
    };

    // The web page, on every instance, from now until the process ends.
    let (leading, view) = watch::channel(None);
    let (commands, received) = mpsc::channel(16);
    let web = Web::new(
        WebConfig {
            name: settings.name.clone(),
            url: web_url.clone(),
            max_instances: args.max_instances,
            master: settings.master.to_string(),
            guard: args.web_credential.clone(),
        },
        view,
        election.as_ref().map(|e| (e.roles(), e.leaders())),
        commands,
    );
    tokio::spawn(web.serve(listener));
    tracing::info!(url = %web_url, listening = %web_addr, "web page served");
    let mut link = WebLink {
        leading,
        commands: received,
    };

    let mut failed = false;
    // The node of a term we resigned: the election may still show it for
    // a moment, but it is no longer ours to lead with.
    let mut resigned = None;
    loop {
        // As a standby: wait until elected.
        let node = match &election {
            None => None,
            Some(election) => tokio::select! {
                node = elected(election, resigned.take()) => Some(node),
                _ = signals.interrupt.recv() => break,
                // A standby that resigns goes to the back of the queue.
                _ = signals.resign.recv() => {
                    election.resign();
                    continue;
                }
            },
        };
        let term = leadership::serve(
            &settings,
            election.as_ref(),
            node.clone(),
            &mut signals,
            &mut link,
        );
        match term.await {
            Term::Shutdown => break,
            Term::Resigned => resigned = node,
            // Alone there is nobody to hand over to: stopping ends it all.
            Term::SteppedDown if election.is_some() => {}
            Term::SteppedDown | Term::Failed => {
                failed = true;
                break;
            }
        }
    }
    if let Some(election) = election {
        // Our node goes at once: the next instance need not wait for our
        // session to expire.
        election.leave().await;
    }
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

/// Waits until this instance leads with a node other than `resigned`, and
/// returns that election node.
async fn elected(election: &Election, resigned: Option<String>) -> String {
    let mut roles = election.roles();
    loop {
        if let leader::Role::Leader { node } = roles.borrow_and_update().clone()
            && Some(&node) != resigned.as_ref()
        {
            return node;
        }
        if roles.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// This instance's web URL: `--web-url`, or `http://<--web-addr>` (with the
/// machine's host name for 0.0.0.0, which nobody can connect to).
fn web_url(given: Option<&str>, addr: SocketAddr) -> Result<String, String> {
    let url = match given {
        Some(url) => url.trim_end_matches('/').to_string(),
        None if addr.ip().is_unspecified() => format!("http://{}:{}", hostname(), addr.port()),
        None => format!("http://{addr}"),
    };
    let valid = url
        .strip_prefix("http://")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
    if !valid {
        return Err(format!(
            "--web-url {url:?}: expected http://host:port, how others reach this page"
        ));
    }
    Ok(url)
}

/// The machine's host name.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|file| std::fs::read_to_string(file).ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `--show-leader`: who leads, from the election's nodes.
async fn show_leader(url: Option<&ZkUrl>) -> Result<(), Box<dyn std::error::Error>> {
    let url = url.unwrap_or_else(|| {
        mesos::flags::usage_error("--show-leader needs --zk: the election is in ZooKeeper")
    });
    match leader::who_leads(url).await? {
        Some(leader) => println!("{}", leader.id),
        None => return Err("no instance leads (none runs?)".into()),
    }
    Ok(())
}

/// `--teardown`: ends the stored framework for good, then forgets it. Stop
/// every instance first: a standby elected afterwards would register a new
/// framework.
async fn end_for_good(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let (mut store, stored) = Store::open(args.zk.as_ref()).await?;
    let instances = leadership::instance_count(stored.instances, args.instances);
    let framework_info = FrameworkInfo {
        id: stored.framework_id,
        user: args.user.clone(),
        name: args.name.clone(),
        failover_timeout: Some(args.failover_timeout),
        checkpoint: Some(true),
        ..Default::default()
    };
    let master = &args.master;
    let Some(framework_id) = framework_info.id.clone() else {
        tracing::info!("no framework ID stored: nothing to tear down");
        return Ok(());
    };
    match teardown(
        master,
        framework_info,
        client_options(args.credential.clone()),
    )
    .await?
    {
        TornDown::Now => {
            tracing::info!(framework_id = %framework_id.value, "framework torn down: its tasks are being killed")
        }
        TornDown::AlreadyRemoved => {
            tracing::info!(framework_id = %framework_id.value, "the master had removed the framework already")
        }
    }
    store.clear_framework(instances).await?;
    tracing::info!("stored framework ID and task records cleared");
    Ok(())
}

/// How to talk to the master: with credentials if it authenticates
/// frameworks (a usage error if those given cannot be used).
fn client_options(credential: Option<Credentials>) -> ClientOptions {
    ClientOptions {
        credentials: mesos::flags::credentials(credential),
        ..Default::default()
    }
}

/// How the agent starts our executor: this very program, with the
/// `executor` subcommand. Served at `addr`, the agent fetches it into the
/// executor's sandbox first (so the agents need this machine's OS and
/// architecture); else it runs from its path here.
async fn executor_start(
    addr: Option<SocketAddr>,
) -> Result<(CommandInfo, Option<ServedFile>), Box<dyn std::error::Error>> {
    let Some(addr) = addr else {
        let path = std::env::current_exe()?;
        let command = format!("exec '{}' executor", path.display());
        return Ok((mesos::offers::command_info_shell(command), None));
    };
    let served = mesos::artifacts::serve_own_executable(addr).await?;
    tracing::info!(url = served.url(), "serving the executor to the agents");
    let name = served
        .url()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut command = mesos::offers::command_info_shell(format!("exec ./{name} executor"));
    command.uris.push(Uri {
        value: served.url().to_string(),
        executable: Some(true),
        ..Default::default()
    });
    Ok((command, Some(served)))
}
