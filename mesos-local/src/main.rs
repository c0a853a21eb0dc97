//! `mesos-local`: a simulated Mesos master with agents, on a port.
//!
//! The same simulated master frameworks get in-process with `--master
//! local`, served for any client: curl, pymesos, a framework in another
//! language, or one of this project's frameworks with `--master
//! 127.0.0.1:5050`. Tasks run as processes on this machine, in sandboxes
//! under `--work_dir`.
//!
//! ```text
//! mesos-local --ip 127.0.0.1 --port 5050 --agents 2 \
//!     --resources 'cpus:2;mem:2048;disk:4096;ports:[31000-32000]'
//! curl -s http://127.0.0.1:5050/master/state | jq .slaves
//! ```
//!
//! With `--zk zk://127.0.0.1:2181/mesos` it registers in ZooKeeper as a
//! real master does, so frameworks find it with `--master
//! zk://127.0.0.1:2181/mesos`; a second one started with the same `--zk`
//! (on another port) is a standby that takes over when the first dies
//! (`contender.rs`).
//!
//! Flags are named as Mesos names them (`--work_dir`), and like Mesos'
//! they can also come from `MESOS_*` environment variables.

use std::{
    io::Write,
    net::IpAddr,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use clap::{CommandFactory, Parser};
use mesos::{
    local::{DEFAULT_AGENT_RESOURCES, LocalError, LocalMaster, LocalMasterConfig},
    zookeeper::ZkUrl,
};

mod contender;

/// A simulated Apache Mesos master (v1 scheduler HTTP API) whose agents run
/// tasks as local processes.
#[derive(Debug, Parser)]
#[command(name = "mesos-local", version)]
struct Args {
    /// The IP address to listen on.
    #[arg(long, env = "MESOS_IP", default_value = "127.0.0.1")]
    ip: IpAddr,

    /// The port to listen on (0: any free port).
    #[arg(long, env = "MESOS_PORT", default_value_t = 5050)]
    port: u16,

    /// Register in ZooKeeper as a Mesos master does, e.g.
    /// `zk://127.0.0.1:2181/mesos`: frameworks then find the leading master
    /// with `--master zk://127.0.0.1:2181/mesos`. Until elected, this
    /// master is a standby.
    #[arg(long, env = "MESOS_ZK")]
    zk: Option<ZkUrl>,

    /// The ZooKeeper session timeout with `--zk`, e.g. `10secs`: how long
    /// a dead master holds on to leadership before a standby takes over.
    #[arg(
        long = "zk_session_timeout",
        alias = "zk-session-timeout",
        env = "MESOS_ZK_SESSION_TIMEOUT",
        default_value = "10secs",
        value_parser = parse_duration
    )]
    zk_session_timeout: Duration,

    /// The hostname the master and agents report (default: the IP).
    #[arg(long, env = "MESOS_HOSTNAME")]
    hostname: Option<String>,

    /// How many agents to simulate.
    #[arg(long, env = "MESOS_AGENTS", default_value_t = 2)]
    agents: usize,

    /// Each agent's resources, in Mesos' syntax.
    #[arg(
        long,
        env = "MESOS_RESOURCES",
        default_value = DEFAULT_AGENT_RESOURCES,
        value_parser = parse_resources
    )]
    resources: String,

    /// An agent's attributes, in Mesos' syntax (`rack:r1;zone:b`): the
    /// first given goes to the first agent, the second to the second….
    #[arg(long = "attributes", value_parser = parse_attributes)]
    attributes: Vec<String>,

    /// Where task sandboxes go (default: a new temporary directory).
    #[arg(long = "work_dir", alias = "work-dir", env = "MESOS_WORK_DIR")]
    work_dir: Option<PathBuf>,

    /// How often to send HEARTBEAT events, e.g. `15secs`, `500ms`.
    #[arg(
        long = "heartbeat_interval",
        alias = "heartbeat-interval",
        env = "MESOS_HEARTBEAT_INTERVAL",
        default_value = "15secs",
        value_parser = parse_duration
    )]
    heartbeat_interval: Duration,

    /// How often to make offers, e.g. `1secs`.
    #[arg(
        long = "allocation_interval",
        alias = "allocation-interval",
        env = "MESOS_ALLOCATION_INTERVAL",
        default_value = "1secs",
        value_parser = parse_duration
    )]
    allocation_interval: Duration,

    /// The first retry interval for unacknowledged status updates.
    #[arg(
        long = "status_update_retry_interval",
        alias = "status-update-retry-interval",
        default_value = "10secs",
        value_parser = parse_duration
    )]
    status_update_retry_interval: Duration,

    /// How long a custom executor has to subscribe, from the start of its
    /// launch, before the agent destroys it and fails its tasks, e.g.
    /// `1mins` (the agent's `--executor_registration_timeout`).
    #[arg(
        long = "executor_registration_timeout",
        alias = "executor-registration-timeout",
        env = "MESOS_EXECUTOR_REGISTRATION_TIMEOUT",
        default_value = "1mins",
        value_parser = parse_duration
    )]
    executor_registration_timeout: Duration,

    /// Virtual tasks, for benchmarks: no sandbox and no process. The agent
    /// reports TASK_STARTING and TASK_RUNNING itself at once (reliable,
    /// acknowledged updates, as for a real task), and TASK_KILLED on a
    /// kill. The master checks and sends exactly what it would otherwise.
    #[arg(
        long = "virtual_tasks",
        alias = "virtual-tasks",
        env = "MESOS_VIRTUAL_TASKS"
    )]
    virtual_tasks: bool,
    /// Only let frameworks that authenticate subscribe (HTTP basic
    /// authentication with --credentials), as a real master with
    /// `--authenticate_http_frameworks`.
    #[arg(
        long = "authenticate_http_frameworks",
        alias = "authenticate-http-frameworks",
        env = "MESOS_AUTHENTICATE_HTTP_FRAMEWORKS",
        // `--authenticate_http_frameworks` alone, or `=true`/`=false`
        // as Mesos writes it (and MESOS_…=true in the environment).
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        default_value = "false",
        action = clap::ArgAction::Set,
    )]
    authenticate_http_frameworks: bool,

    /// How frameworks authenticate: `basic` (the only one simulated).
    /// Needed with --authenticate_http_frameworks, as in Mesos.
    #[arg(
        long = "http_framework_authenticators",
        alias = "http-framework-authenticators",
        env = "MESOS_HTTP_FRAMEWORK_AUTHENTICATORS",
        value_parser = ["basic"],
    )]
    http_framework_authenticators: Option<String>,

    /// The principals and secrets frameworks may authenticate with, a JSON
    /// file as Mesos' --credentials: `{"credentials": [{"principal": "…",
    /// "secret": "…"}]}` (a path or a file:// URL).
    #[arg(
        long = "credentials",
        env = "MESOS_CREDENTIALS",
        value_parser = parse_credentials
    )]
    credentials: Option<Credentials>,

    /// Serve https, as a Mesos built with SSL does when
    /// `LIBPROCESS_SSL_ENABLED=true`; needs the certificate and key below.
    #[arg(
        long = "ssl_enabled",
        env = "LIBPROCESS_SSL_ENABLED",
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        default_value = "false",
        action = clap::ArgAction::Set,
    )]
    ssl_enabled: bool,

    /// The master's certificate chain, PEM (`LIBPROCESS_SSL_CERT_FILE`).
    #[arg(long = "ssl_cert_file", env = "LIBPROCESS_SSL_CERT_FILE")]
    ssl_cert_file: Option<PathBuf>,

    /// The certificate's private key, PEM (`LIBPROCESS_SSL_KEY_FILE`).
    #[arg(long = "ssl_key_file", env = "LIBPROCESS_SSL_KEY_FILE")]
    ssl_key_file: Option<PathBuf>,
}

/// The `--credentials` file, read while parsing the flags so that a bad
/// one is a usage error. Its secrets are never printed.
#[derive(Clone)]
struct Credentials(Vec<mesos::Credentials>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // mesos::Credentials' Debug shows principals only.
        self.0.fmt(f)
    }
}

fn parse_credentials(value: &str) -> Result<Credentials, String> {
    mesos::credentials::read_credentials_file(Path::new(value))
        .map(Credentials)
        .map_err(|e| e.to_string())
}

impl Args {
    /// The TLS identity, when https is asked for.
    fn tls(&self) -> Result<Option<mesos::tls::ServerIdentity>, String> {
        if !self.ssl_enabled {
            return Ok(None);
        }
        let (Some(cert), Some(key)) = (&self.ssl_cert_file, &self.ssl_key_file) else {
            return Err("LIBPROCESS_SSL_ENABLED needs LIBPROCESS_SSL_CERT_FILE and \
                        LIBPROCESS_SSL_KEY_FILE (--ssl_cert_file, --ssl_key_file)"
                .into());
        };
        mesos::tls::ServerIdentity::from_pem_files(cert, key)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// The checks between flags, with Mesos' words where Mesos has them
    /// (`Master::initialize`, `createBasicAuthenticator`).
    fn framework_credentials(&mut self) -> Result<Option<Vec<mesos::Credentials>>, String> {
        if !self.authenticate_http_frameworks {
            return Ok(None);
        }
        if self.http_framework_authenticators.is_none() {
            return Err(
                "Missing `--http_framework_authenticators` flag. This must be used \
                        in conjunction with `--authenticate_http_frameworks`"
                    .into(),
            );
        }
        match self.credentials.take() {
            Some(Credentials(credentials)) => Ok(Some(credentials)),
            None => Err(
                "No credentials provided for the default 'basic' HTTP authenticator \
                         for realm 'mesos-master-scheduler' (see --credentials)"
                    .into(),
            ),
        }
    }
}

/// Checks `--attributes` up front, as `--resources`.
fn parse_attributes(value: &str) -> Result<String, String> {
    mesos::attributes::parse(value)
        .map(|_| value.to_string())
        .map_err(|reason| format!("invalid attributes {value:?}: {reason}"))
}

/// Checks `--resources` up front, so a typo is reported as a usage error.
fn parse_resources(value: &str) -> Result<String, String> {
    mesos::local::agent_resources(value)
        .map(|_| value.to_string())
        .map_err(|reason| format!("invalid resources {value:?}: {reason}"))
}

/// Mesos' duration syntax: a number and a unit (`ns`, `us`, `ms`, `secs`,
/// `mins`, `hrs`, `days`), e.g. `15secs` or `0.5secs`. Zero is refused:
/// every interval here paces a loop.
fn parse_duration(value: &str) -> Result<Duration, String> {
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{value:?} has no unit (e.g. 15secs, 500ms)"))?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{value:?} does not start with a number"))?;
    let seconds = match unit {
        "ns" => 1e-9,
        "us" => 1e-6,
        "ms" => 1e-3,
        "secs" => 1.0,
        "mins" => 60.0,
        "hrs" => 3600.0,
        "days" => 86400.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {value:?} (use ns, us, ms, secs, mins, hrs or days)"
            ));
        }
    };
    match Duration::try_from_secs_f64(number * seconds) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        Ok(_) => Err(format!("{value:?} must be more than zero")),
        Err(_) => Err(format!("{value:?} is too long")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = Args::parse();
    // Checks between flags are usage errors too: exit code 2, as clap's.
    let usage_error = |message: String| -> ! {
        Args::command()
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit()
    };
    let framework_credentials = args
        .framework_credentials()
        .unwrap_or_else(|message| usage_error(message));
    let tls = args.tls().unwrap_or_else(|message| usage_error(message));
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not in a log file or
        // through `bin/go-ha`'s pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let config = LocalMasterConfig {
        ip: args.ip,
        port: args.port,
        hostname: args.hostname,
        agents: args.agents,
        agent_resources: args.resources,
        agent_attributes: args.attributes,
        domain: None,
        agent_domains: Vec::new(),
        heartbeat_interval: args.heartbeat_interval,
        allocation_interval: args.allocation_interval,
        status_update_retry: args.status_update_retry_interval,
        executor_registration_timeout: args.executor_registration_timeout,
        executor_heartbeat_interval: mesos::local::DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL,
        work_dir: args.work_dir,
        virtual_tasks: args.virtual_tasks,
        framework_credentials,
        tls,
    };
    let master = match LocalMaster::start(config).await {
        Ok(master) => master,
        Err(error) => {
            eprintln!("mesos-local: {error}{}", hint(&error));
            return ExitCode::FAILURE;
        }
    };
    let election = args
        .zk
        .as_ref()
        .map(|url| contender::join(url, &master, args.zk_session_timeout));
    // Listen for signals before announcing ourselves, so that whoever
    // reads the announcement can stop us cleanly right away.
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                eprintln!("mesos-local: cannot handle SIGTERM: {error}");
                return ExitCode::FAILURE;
            }
        };
    // On stdout, for scripts (and tests) that start us with --port 0. A
    // reader that went away is no reason to stop serving.
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "mesos-local: simulated Mesos master at {}\nmesos-local: sandboxes in {}",
        master.addr(),
        master.work_dir().display()
    );
    let _ = stdout.flush();

    let lost_leadership = async {
        match &election {
            Some(election) => contender::follow(election, &master).await,
            None => std::future::pending().await,
        }
    };
    let status = tokio::select! {
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
        _ = terminate.recv() => ExitCode::SUCCESS,
        why = lost_leadership => {
            eprintln!("mesos-local: {why}");
            ExitCode::FAILURE
        }
    };
    // Leave first: our node goes now, and a standby takes over without
    // waiting for our session to expire.
    if let Some(election) = election {
        election.leave().await;
    }
    tracing::info!("shutting down: killing tasks");
    master.shutdown().await;
    status
}

/// What to do about an error, where there is something to say.
fn hint(error: &LocalError) -> &'static str {
    match error {
        LocalError::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse => {
            " (is another master running there, e.g. a mesos-local or `bin/room` from an \
             earlier step? Stop it, or choose another port with --port)"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_mesos_syntax() {
        assert_eq!(parse_duration("15secs"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0.5secs"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("15parsecs").is_err());
        assert!(parse_duration("0secs").is_err());
        assert!(parse_duration("1e400secs").is_err());
        assert!(parse_duration("99999999999999999999999days").is_err());
    }
}
