//! hello-mesos: a Mesos framework that keeps copies of a command running.
//!
//! This file is the I/O edge. It reads the flags, starts the driver (which
//! finds the master, subscribes and stays subscribed), hands every event to
//! the scheduler and sends the calls the scheduler returns. All decisions
//! are in `scheduler.rs`.

mod executor;
mod scheduler;
mod task_kind;

use std::{io::IsTerminal, net::SocketAddr};

use clap::{Parser, Subcommand, ValueEnum};
use mesos::{
    Credentials, Driver, DriverConfig, MasterSpec,
    artifacts::ServedFile,
    v1::{CommandInfo, FrameworkInfo, command_info::Uri},
};
use tracing_subscriber::EnvFilter;

use crate::{
    scheduler::{Scheduler, TaskSpec},
    task_kind::TaskKind,
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

    /// The framework's name, as the Mesos UI shows it.
    #[arg(long, env = "FRAMEWORK_NAME", default_value = "hello-mesos", value_parser = mesos::flags::text)]
    name: String,

    /// The user the tasks run as on the agents (it must exist there).
    #[arg(long, env = "FRAMEWORK_USER", default_value = "root", value_parser = mesos::flags::text)]
    user: String,

    /// How many copies of the task to keep running.
    #[arg(long, env = "INSTANCES", default_value = "2")]
    instances: usize,

    /// CPUs per task.
    #[arg(long, env = "TASK_CPUS", default_value = "0.5", value_parser = mesos::flags::positive)]
    cpus: f64,

    /// Memory per task, in MB.
    #[arg(long, env = "TASK_MEM", default_value = "128", value_parser = mesos::flags::positive)]
    mem: f64,

    /// The shell command each task runs.
    #[arg(long, env = "TASK_COMMAND", default_value = r#"while true; do echo "Hey Mesos"; sleep 5; done"#, value_parser = mesos::flags::text)]
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
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        // Colours for a terminal only: in a file or a pipe they are noise.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let args = Args::parse();
    if let Some(Role::Executor) = args.role {
        return executor::run::main().await;
    }
    if args.master == MasterSpec::Local {
        tracing::info!(
            "no cluster given: running on a simulated Mesos master in this process \
             (use --master http://10.10.4.2:5050 for the workshop's cluster)"
        );
    }

    let framework_info = FrameworkInfo {
        user: args.user,
        name: args.name.clone(),
        ..Default::default()
    };
    let mut config = DriverConfig::new(args.master, framework_info);
    config.client.credentials = mesos::flags::credentials(args.credential);
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
    let spec = TaskSpec {
        name: args.name,
        cpus: args.cpus,
        mem: args.mem,
        command: args.command,
        kind,
    };
    let mut scheduler = Scheduler::new(args.instances, spec);

    // Ctrl-C closes the subscription without a TEARDOWN: for Mesos the
    // framework merely disconnected, and could come back.
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: disconnecting from the master");
    };
    if let Err(error) = driver.run(&mut events, &mut scheduler, ctrl_c).await {
        tracing::error!("{error}");
        std::process::exit(1);
    }
    Ok(())
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
