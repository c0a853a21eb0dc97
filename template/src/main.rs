//! {{project-name}}: a Mesos framework that keeps copies of a command running.
//!
//! This file is the I/O edge. It reads the flags, starts the driver (which
//! finds the master, subscribes and stays subscribed), hands every event to
//! the scheduler and sends the calls the scheduler returns. All decisions
//! are in `scheduler.rs`.

mod scheduler;

use clap::Parser;
use mesos::{Credentials, Driver, DriverConfig, MasterSpec, v1::FrameworkInfo};
use tracing_subscriber::EnvFilter;

use crate::scheduler::{Scheduler, TaskSpec};

/// Keeps copies of a command running on a Mesos cluster.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The Mesos master: http://host:5050, host:5050, zk://host:2181/mesos,
    /// or `local` for a simulated master inside this process.
    #[arg(long, env = "MESOS_MASTER", default_value = "{{master}}")]
    master: MasterSpec,

    /// For masters that authenticate frameworks: a JSON file
    /// {"principal": "…", "secret": "…"}, as Mesos' --credential. Without
    /// it, MESOS_PRINCIPAL and MESOS_SECRET are used if set. (The secret is
    /// never a flag: flags show in `ps`.)
    #[arg(long, env = "MESOS_CREDENTIAL", value_parser = mesos::flags::credential_file)]
    credential: Option<Credentials>,

    /// The framework's name, as the Mesos UI shows it.
    #[arg(long, env = "FRAMEWORK_NAME", default_value = "{{project-name}}", value_parser = mesos::flags::text)]
    name: String,

    /// The user the tasks run as on the agents (it must exist there).
    #[arg(long, env = "FRAMEWORK_USER", default_value = "root", value_parser = mesos::flags::text)]
    user: String,

    /// How many copies of the task to keep running.
    #[arg(long, env = "INSTANCES", default_value = "{{instances}}")]
    instances: usize,

    /// CPUs per task.
    #[arg(long, env = "TASK_CPUS", default_value = "{{cpus}}", value_parser = mesos::flags::positive)]
    cpus: f64,

    /// Memory per task, in MB.
    #[arg(long, env = "TASK_MEM", default_value = "{{mem}}", value_parser = mesos::flags::positive)]
    mem: f64,

    /// The shell command each task runs.
    #[arg(long, env = "TASK_COMMAND", default_value = r#"{{command}}"#, value_parser = mesos::flags::text)]
    command: String,

    /// A Docker image to run the command in, or `none` for the agent's shell.
    #[arg(long, env = "DOCKER_IMAGE", default_value = "{{docker_image}}", value_parser = mesos::flags::text)]
    docker_image: String,
}

// One thread: the scheduler handles one event at a time anyway, and
// handing events from thread to thread cost a third of its CPU time at
// 10,000 tasks (BENCHMARKS.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
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
    let (driver, mut events) = Driver::start(config)?;
    let mut scheduler = Scheduler::new(
        args.instances,
        TaskSpec {
            name: args.name,
            cpus: args.cpus,
            mem: args.mem,
            command: args.command,
            docker_image: Some(args.docker_image).filter(|image| image != "none"),
        },
    );

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
