//! hello-mesos: a Mesos framework that keeps copies of a command running,
//! keeps its state in ZooKeeper, and recovers from failures.
//!
//! This file is the I/O edge. It reads the flags and the stored state,
//! starts the driver (which finds the master, subscribes and stays
//! subscribed), then loops: receive an event (or wake up to reconcile),
//! let the scheduler decide, store the scheduler's state, send the calls.
//! All decisions are in `scheduler.rs`; `store.rs` maps the scheduler's
//! state onto ZooKeeper.

mod executor;
mod scheduler;
mod store;
mod task_kind;

use std::{
    io::IsTerminal,
    net::SocketAddr,
    time::{Duration, Instant},
};

use clap::{Parser, Subcommand, ValueEnum};
use mesos::{
    ClientOptions, Credentials, Driver, DriverConfig, MasterSpec,
    artifacts::ServedFile,
    state::{EVENTS_PER_SAVE, ZkUrl},
    teardown::{TornDown, teardown},
    v1::{CommandInfo, FrameworkInfo, command_info::Uri},
};
use tracing_subscriber::EnvFilter;

use crate::{
    scheduler::{Scheduler, TaskSpec},
    store::Store,
    task_kind::TaskKind,
};

/// How many copies to run when neither ZooKeeper nor `--instances` says.
const DEFAULT_INSTANCES: usize = 2;

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

    /// Where to keep the framework's state: zk://host:2181/hello-mesos.
    /// Without it, the state is kept in memory only.
    #[arg(long, env = "ZK_URL")]
    zk: Option<ZkUrl>,

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
    let args = Args::parse();
    if let Some(Role::Executor) = args.role {
        return executor::run::main().await;
    }
    let client = client_options(args.credential.clone());
    if args.master == MasterSpec::Local {
        tracing::info!(
            "no cluster given: running on a simulated Mesos master in this process \
             (use --master http://10.10.4.2:5050 for the workshop's cluster)"
        );
    }

    // Read what the last scheduler left before doing anything else.
    let (mut store, stored) = match Store::open(args.zk.as_ref()).await {
        Ok(opened) => opened,
        Err(error) => {
            tracing::error!("cannot read the framework's state: {error}");
            std::process::exit(1);
        }
    };
    let instances = instance_count(stored.instances, args.instances);

    let framework_info = FrameworkInfo {
        // Subscribing with the stored ID resumes the framework the last
        // scheduler registered, running tasks and all. With none, the
        // master registers a new framework.
        id: stored.framework_id.clone(),
        user: args.user,
        name: args.name.clone(),
        // Mesos' default is 0: the framework's tasks would be killed the
        // moment its scheduler disconnects, crash or restart alike.
        failover_timeout: Some(args.failover_timeout),
        // Agents write the tasks' state to disk, so that the tasks survive
        // an agent restart too.
        checkpoint: Some(true),
        ..Default::default()
    };
    if args.teardown {
        return end_for_good(&args.master, client, framework_info, &mut store, instances).await;
    }
    let mut config = DriverConfig::new(args.master, framework_info);
    config.client = client;
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
    let (driver, mut events) = Driver::start(config)?;
    let mut scheduler = Scheduler::new(
        instances,
        TaskSpec {
            name: args.name,
            cpus: args.cpus,
            mem: args.mem,
            command: args.command,
            kind,
        },
        stored.framework_id,
        stored.tasks,
        Duration::from_secs(args.reconcile_interval),
    );

    // Ctrl-C closes the subscription without a TEARDOWN: for Mesos the
    // framework merely disconnected, and could come back.
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: disconnecting from the master");
    };
    tokio::pin!(ctrl_c);
    let mut failed = false;
    let mut waiting = Vec::new();
    loop {
        let calls = tokio::select! {
            // Every event waiting, up to a limit: all are decided, then one
            // save covers them (group commit, `mesos::state::EVENTS_PER_SAVE`).
            received = events.recv_many(&mut waiting, EVENTS_PER_SAVE) => {
                if received == 0 {
                    break; // the driver stopped
                }
                let mut calls = Vec::new();
                for event in waiting.drain(..) {
                    if event.ends_a_subscription() {
                        // What was decided for the subscription that is
                        // over must not go out on the next one.
                        calls.clear();
                    }
                    if let Some(error) = event.final_error() {
                        tracing::error!("{error}");
                        failed = true;
                    }
                    calls.extend(scheduler.on_event(&event, Instant::now()));
                }
                calls
            }
            // Time to ask the master about our tasks again.
            () = sleep_until(scheduler.next_reconciliation()) => {
                scheduler.on_reconciliation_timer(Instant::now())
            }
            // A save failed a moment ago: try again, events or not.
            () = sleep_until(store.retry_at()) => vec![],
            // Someone changed the instance count in ZooKeeper: the save
            // below finds it, and the scheduler adopts it.
            () = store.instances_changed() => vec![],
            () = &mut ctrl_c => break,
        };
        // Write-ahead: store what the scheduler now knows *before* acting
        // on it. If we crash right after an ACCEPT, the next scheduler
        // finds the launched tasks in ZooKeeper instead of never hearing
        // of them. While ZooKeeper cannot be written, nothing is launched.
        let calls = match store.save(&mut scheduler, calls).await {
            Ok(calls) => calls,
            Err(reason) => {
                tracing::error!(
                    "{reason}: stopping, as two schedulers must not write one framework's state"
                );
                failed = true;
                break;
            }
        };
        if let Some(adopted) = scheduler.take_adopted_framework() {
            // We had no framework yet, and another instance stored one
            // (`store.rs`): subscribe with its ID and carry on its tasks.
            driver.set_framework_id(Some(adopted));
        }
        for call in calls {
            if let Err(error) = driver.call(call).await {
                tracing::warn!(%error, "call to the master failed");
            }
        }
    }
    driver.stop().await;
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

/// `--teardown`: ends the stored framework for good, then forgets it.
async fn end_for_good(
    master: &MasterSpec,
    client: ClientOptions,
    framework_info: FrameworkInfo,
    store: &mut Store,
    instances: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let Some(framework_id) = framework_info.id.clone() else {
        tracing::info!("no framework ID stored: nothing to tear down");
        return Ok(());
    };
    match teardown(master, framework_info, client).await? {
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

/// Completes at `at`, or never if there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The stored count wins over `--instances`: once the framework runs, its
/// instance count lives in ZooKeeper (a later step changes it from a web
/// UI), and a flag left in a start script must not undo that at every
/// restart. The flag only sets the first count.
fn instance_count(stored: Option<usize>, flag: Option<usize>) -> usize {
    let (instances, source) = match (stored, flag) {
        (Some(stored), Some(flag)) if flag != stored => {
            tracing::warn!("--instances {flag} ignored: ZooKeeper holds a count already");
            (stored, "stored in ZooKeeper")
        }
        (Some(stored), _) => (stored, "stored in ZooKeeper"),
        (None, Some(flag)) => (flag, "from --instances"),
        (None, None) => (DEFAULT_INSTANCES, "the default"),
    };
    tracing::info!(instances, "instance count: {source}");
    instances
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
