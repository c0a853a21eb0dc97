//! What the agent tells an executor when it starts it: the environment.
//!
//! An executor gets no flags from the agent, only environment variables
//! (`executorEnvironment` in `src/slave/slave.cpp` writes them). Mesos'
//! executor library reads them in the `MesosProcess` constructor
//! (`src/executor/executor.cpp`), the command executor its IDs in `main`
//! (`src/launcher/executor.cpp`), and both exit when one they need is
//! missing or does not parse. [`ExecutorConfig::from_vars`] demands the
//! same ones, no more:
//!
//! | variable | required | what it is |
//! |---|---|---|
//! | MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID | yes | who this executor is; every call names them |
//! | MESOS_SLAVE_PID | yes | the agent's libprocess PID, `slave(1)@10.0.0.5:5051`: where the executor API is |
//! | MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD | yes | how long the executor has to shut down |
//! | MESOS_CHECKPOINT | no | `1`: the framework checkpoints, and the executor survives an agent restart |
//! | MESOS_RECOVERY_TIMEOUT, MESOS_SUBSCRIPTION_BACKOFF_MAX | when checkpointing | how long, and how often, to try to get the agent back |
//! | MESOS_EXECUTOR_AUTHENTICATION_TOKEN | no | a token for `Authorization: Bearer` (agents that authenticate executors) |
//! | MESOS_AGENT_ENDPOINT, MESOS_SLAVE_ID, MESOS_DIRECTORY, MESOS_SANDBOX, MESOS_HTTP_COMMAND_EXECUTOR | no | informative |
//!
//! The URL of the executor API comes from MESOS_SLAVE_PID, not from
//! MESOS_AGENT_ENDPOINT: it is `http://<ip:port>/<id>/api/v1/executor`,
//! e.g. `http://10.0.0.5:5051/slave(1)/api/v1/executor`. On an agent
//! alone the bare `/api/v1/executor` works too, but where a master and
//! agents share one process (Mesos' local mode) the bare path reaches the
//! master, which has no executor API.

use std::{fmt, path::PathBuf, time::Duration};

use crate::{
    codec::ContentType,
    executor::{
        duration,
        error::{Error, Result},
    },
    v1::{AgentId, ExecutorId, FrameworkId},
};

pub const FRAMEWORK_ID: &str = "MESOS_FRAMEWORK_ID";
pub const EXECUTOR_ID: &str = "MESOS_EXECUTOR_ID";
pub const SLAVE_PID: &str = "MESOS_SLAVE_PID";
pub const AGENT_ENDPOINT: &str = "MESOS_AGENT_ENDPOINT";
pub const SLAVE_ID: &str = "MESOS_SLAVE_ID";
pub const AGENT_ID: &str = "MESOS_AGENT_ID";
pub const DIRECTORY: &str = "MESOS_DIRECTORY";
pub const SANDBOX: &str = "MESOS_SANDBOX";
pub const CHECKPOINT: &str = "MESOS_CHECKPOINT";
pub const RECOVERY_TIMEOUT: &str = "MESOS_RECOVERY_TIMEOUT";
pub const SUBSCRIPTION_BACKOFF_MAX: &str = "MESOS_SUBSCRIPTION_BACKOFF_MAX";
pub const SHUTDOWN_GRACE_PERIOD: &str = "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD";
pub const HTTP_COMMAND_EXECUTOR: &str = "MESOS_HTTP_COMMAND_EXECUTOR";
/// The executor's token. Mesos' library erases it from its environment
/// so that other processes cannot read it there: an executor that starts
/// task processes should not pass it on (`Command::env_remove`).
pub const AUTHENTICATION_TOKEN: &str = "MESOS_EXECUTOR_AUTHENTICATION_TOKEN";

/// How often an executor sends HEARTBEAT: every 30 minutes, Mesos'
/// `DEFAULT_HEARTBEAT_CALL_INTERVAL` (`src/executor/executor.cpp`).
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30 * 60);

/// Where the agent's executor API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentUrl {
    /// The host: an IP address as the agent's PID has it (IPv6 in
    /// brackets).
    pub host: String,
    pub port: u16,
    /// `/<id>/api/v1/executor`.
    pub path: String,
}

impl AgentUrl {
    /// The URL of the executor API of the agent whose libprocess PID is
    /// `pid` (`id@ip:port`), as `src/executor/executor.cpp` builds it.
    pub fn from_pid(pid: &str) -> Result<AgentUrl, String> {
        let (id, address) = pid
            .split_once('@')
            .ok_or_else(|| format!("{pid:?} is not a libprocess PID (id@ip:port)"))?;
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| format!("{pid:?} has no port (id@ip:port)"))?;
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| format!("{pid:?} has no valid port"))?;
        if id.is_empty() || host.is_empty() || id.contains(['/', ' ', '?', '#']) {
            return Err(format!("{pid:?} is not a libprocess PID (id@ip:port)"));
        }
        Ok(AgentUrl {
            host: host.to_string(),
            port,
            path: format!("/{id}/api/v1/executor"),
        })
    }

    /// `host:port`, for the `Host` header.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl fmt::Display for AgentUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}:{}{}", self.host, self.port, self.path)
    }
}

/// How the executor gets its agent back after losing it. Only for
/// frameworks that checkpoint: their executors outlive an agent restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// MESOS_RECOVERY_TIMEOUT: how long after losing the agent to keep
    /// trying before shutting down (the agent's `--recovery_timeout`).
    pub timeout: Duration,
    /// MESOS_SUBSCRIPTION_BACKOFF_MAX: the longest wait between two tries
    /// (the agent's `--executor_reregistration_timeout`).
    pub backoff_max: Duration,
}

/// Everything an executor needs to talk to its agent.
#[derive(Clone, PartialEq)]
pub struct ExecutorConfig {
    pub framework_id: FrameworkId,
    pub executor_id: ExecutorId,
    /// The executor API (from MESOS_SLAVE_PID).
    pub agent_url: AgentUrl,
    /// MESOS_AGENT_ENDPOINT, `ip:port` (informative).
    pub agent_endpoint: Option<String>,
    /// MESOS_AGENT_ID, or MESOS_SLAVE_ID as 1.11 agents name it.
    pub agent_id: Option<AgentId>,
    /// MESOS_DIRECTORY: the sandbox as the agent sees it.
    pub directory: Option<PathBuf>,
    /// MESOS_SANDBOX: the sandbox as the executor sees it (differs from
    /// `directory` in a container with its own file system).
    pub sandbox: Option<PathBuf>,
    /// `Some` when MESOS_CHECKPOINT is `1`: resubscribe after losing the
    /// agent. `None`: shut down after losing it.
    pub recovery: Option<Recovery>,
    /// MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: how long the executor has
    /// between a shutdown and being killed.
    pub shutdown_grace_period: Duration,
    /// MESOS_HTTP_COMMAND_EXECUTOR is `1` (informative).
    pub http_command_executor: bool,
    /// MESOS_EXECUTOR_AUTHENTICATION_TOKEN: sent as `Authorization: Bearer`.
    pub authentication_token: Option<String>,
    /// The wire format of calls and events. Protobuf by default.
    pub format: ContentType,
    /// How often to send HEARTBEAT ([`DEFAULT_HEARTBEAT_INTERVAL`]).
    pub heartbeat_interval: Duration,
}

impl fmt::Debug for ExecutorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutorConfig")
            .field("framework_id", &self.framework_id.value)
            .field("executor_id", &self.executor_id.value)
            .field("agent_url", &self.agent_url.to_string())
            .field("agent_id", &self.agent_id.as_ref().map(|id| &id.value))
            .field("recovery", &self.recovery)
            .field("shutdown_grace_period", &self.shutdown_grace_period)
            // A secret: never in a log.
            .field(
                "authentication_token",
                &self.authentication_token.as_ref().map(|_| "<redacted>"),
            )
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl ExecutorConfig {
    /// Reads the process's environment. A `MESOS_` variable that is not
    /// UTF-8 is an error naming it.
    pub fn from_env() -> Result<ExecutorConfig> {
        let mut vars = Vec::new();
        for (key, value) in std::env::vars_os() {
            let Some(key) = key.to_str().filter(|key| key.starts_with("MESOS_")) else {
                continue;
            };
            let value = value.into_string().map_err(|_| Error::Config {
                variable: leak_name(key),
                problem: "is not valid UTF-8".into(),
            })?;
            vars.push((key.to_string(), value));
        }
        ExecutorConfig::from_vars(vars)
    }

    /// Reads the given variables (a test's, or the environment's).
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<ExecutorConfig>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let vars: std::collections::HashMap<String, String> = vars
            .into_iter()
            .map(|(key, value)| (key.into(), value.into()))
            .collect();
        let get = |name: &'static str| vars.get(name).map(String::as_str);
        let required = |name: &'static str| {
            get(name).ok_or(Error::Config {
                variable: name,
                problem: "is not set; the agent sets it for every executor it starts".into(),
            })
        };
        let id = |name: &'static str| -> Result<String> {
            let value = required(name)?;
            if value.is_empty() {
                return Err(Error::Config {
                    variable: name,
                    problem: "is empty".into(),
                });
            }
            Ok(value.to_string())
        };
        let duration = |name: &'static str| -> Result<Duration> {
            duration::parse(required(name)?).map_err(|error| Error::Config {
                variable: name,
                problem: error.to_string(),
            })
        };

        let agent_url =
            AgentUrl::from_pid(required(SLAVE_PID)?).map_err(|problem| Error::Config {
                variable: SLAVE_PID,
                problem,
            })?;
        // Mesos' rule (`checkpoint = value == "1"`): "0", "true" or
        // anything else is no checkpointing.
        let recovery = if get(CHECKPOINT) == Some("1") {
            Some(Recovery {
                timeout: duration(RECOVERY_TIMEOUT)?,
                backoff_max: duration(SUBSCRIPTION_BACKOFF_MAX)?,
            })
        } else {
            None
        };
        Ok(ExecutorConfig {
            framework_id: FrameworkId {
                value: id(FRAMEWORK_ID)?,
            },
            executor_id: ExecutorId {
                value: id(EXECUTOR_ID)?,
            },
            agent_url,
            agent_endpoint: get(AGENT_ENDPOINT).map(str::to_string),
            agent_id: get(AGENT_ID).or(get(SLAVE_ID)).map(|value| AgentId {
                value: value.to_string(),
            }),
            directory: get(DIRECTORY).map(PathBuf::from),
            sandbox: get(SANDBOX).map(PathBuf::from),
            recovery,
            shutdown_grace_period: duration(SHUTDOWN_GRACE_PERIOD)?,
            http_command_executor: get(HTTP_COMMAND_EXECUTOR) == Some("1"),
            authentication_token: get(AUTHENTICATION_TOKEN).map(str::to_string),
            format: ContentType::Protobuf,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
        })
    }

    /// Whether the framework checkpoints (MESOS_CHECKPOINT=1).
    pub fn checkpoint(&self) -> bool {
        self.recovery.is_some()
    }
}

/// The `&'static str` name of a variable we read, for [`Error::Config`].
fn leak_name(key: &str) -> &'static str {
    [
        FRAMEWORK_ID,
        EXECUTOR_ID,
        SLAVE_PID,
        AGENT_ENDPOINT,
        SLAVE_ID,
        AGENT_ID,
        DIRECTORY,
        SANDBOX,
        CHECKPOINT,
        RECOVERY_TIMEOUT,
        SUBSCRIPTION_BACKOFF_MAX,
        SHUTDOWN_GRACE_PERIOD,
        HTTP_COMMAND_EXECUTOR,
        AUTHENTICATION_TOKEN,
    ]
    .into_iter()
    .find(|name| *name == key)
    .unwrap_or("a MESOS_ variable")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a 1.11 agent sets for a framework without checkpointing.
    fn agent_environment() -> Vec<(&'static str, &'static str)> {
        vec![
            (FRAMEWORK_ID, "framework-1"),
            (EXECUTOR_ID, "executor-1"),
            (SLAVE_PID, "slave(1)@127.0.0.1:5051"),
            (AGENT_ENDPOINT, "127.0.0.1:5051"),
            (SLAVE_ID, "agent-1"),
            (DIRECTORY, "/var/lib/mesos/slaves/agent-1/run"),
            (SANDBOX, "/mnt/mesos/sandbox"),
            (CHECKPOINT, "0"),
            (HTTP_COMMAND_EXECUTOR, "0"),
            (SHUTDOWN_GRACE_PERIOD, "5secs"),
        ]
    }

    fn with(changes: &[(&'static str, Option<&'static str>)]) -> Vec<(&'static str, &'static str)> {
        let mut vars = agent_environment();
        for (name, value) in changes {
            vars.retain(|(key, _)| key != name);
            if let Some(value) = value {
                vars.push((name, value));
            }
        }
        vars
    }

    fn config_error(vars: Vec<(&'static str, &'static str)>) -> (String, String) {
        match ExecutorConfig::from_vars(vars) {
            Err(Error::Config { variable, problem }) => (variable.to_string(), problem),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn reads_what_an_agent_sets() {
        let config = ExecutorConfig::from_vars(agent_environment()).unwrap();
        assert_eq!(config.framework_id.value, "framework-1");
        assert_eq!(config.executor_id.value, "executor-1");
        assert_eq!(
            config.agent_url.to_string(),
            "http://127.0.0.1:5051/slave(1)/api/v1/executor"
        );
        assert_eq!(config.agent_url.authority(), "127.0.0.1:5051");
        assert_eq!(config.agent_id.unwrap().value, "agent-1");
        assert_eq!(config.agent_endpoint.as_deref(), Some("127.0.0.1:5051"));
        assert_eq!(config.sandbox, Some(PathBuf::from("/mnt/mesos/sandbox")));
        assert_eq!(config.recovery, None);
        assert_eq!(config.shutdown_grace_period, Duration::from_secs(5));
        assert!(!config.http_command_executor);
        assert_eq!(config.authentication_token, None);
        assert_eq!(config.format, ContentType::Protobuf);
        assert_eq!(config.heartbeat_interval, Duration::from_secs(1800));
    }

    #[test]
    fn checkpointing_needs_the_recovery_variables() {
        let vars = with(&[
            (CHECKPOINT, Some("1")),
            (RECOVERY_TIMEOUT, Some("15mins")),
            (SUBSCRIPTION_BACKOFF_MAX, Some("2secs")),
        ]);
        let config = ExecutorConfig::from_vars(vars).unwrap();
        assert_eq!(
            config.recovery,
            Some(Recovery {
                timeout: Duration::from_secs(900),
                backoff_max: Duration::from_secs(2),
            })
        );
        assert!(config.checkpoint());

        let (variable, problem) = config_error(with(&[
            (CHECKPOINT, Some("1")),
            (SUBSCRIPTION_BACKOFF_MAX, Some("2secs")),
        ]));
        assert_eq!(variable, RECOVERY_TIMEOUT);
        assert!(problem.contains("not set"), "{problem}");

        let (variable, problem) = config_error(with(&[
            (CHECKPOINT, Some("1")),
            (RECOVERY_TIMEOUT, Some("15mins")),
            (SUBSCRIPTION_BACKOFF_MAX, Some("2 secs")),
        ]));
        assert_eq!(variable, SUBSCRIPTION_BACKOFF_MAX);
        assert!(problem.contains("\"2 secs\""), "{problem}");
    }

    #[test]
    fn only_1_means_checkpointing() {
        for value in ["0", "true", "", "yes"] {
            // Without checkpointing, the recovery variables are not needed.
            let config = ExecutorConfig::from_vars(with(&[(CHECKPOINT, Some(value))])).unwrap();
            assert_eq!(config.recovery, None, "{value:?}");
        }
    }

    #[test]
    fn a_missing_or_bad_required_variable_is_named() {
        for name in [FRAMEWORK_ID, EXECUTOR_ID, SLAVE_PID, SHUTDOWN_GRACE_PERIOD] {
            let (variable, problem) = config_error(with(&[(name, None)]));
            assert_eq!(variable, name);
            assert!(problem.contains("not set"), "{problem}");
        }
        let (variable, problem) = config_error(with(&[(SHUTDOWN_GRACE_PERIOD, Some("5"))]));
        assert_eq!(variable, SHUTDOWN_GRACE_PERIOD);
        assert!(problem.contains("\"5\""), "{problem}");
        let (variable, _) = config_error(with(&[(EXECUTOR_ID, Some(""))]));
        assert_eq!(variable, EXECUTOR_ID);
        for pid in [
            "127.0.0.1:5051",
            "slave(1)@127.0.0.1",
            "slave(1)@:5051",
            "@h:1",
            "s@h:x",
        ] {
            let (variable, problem) = config_error(with(&[(SLAVE_PID, Some(pid))]));
            assert_eq!(variable, SLAVE_PID);
            assert!(problem.contains(pid), "{problem}");
        }
    }

    #[test]
    fn optional_variables() {
        let config = ExecutorConfig::from_vars(with(&[
            (AUTHENTICATION_TOKEN, Some("secret-token")),
            (AGENT_ID, Some("agent-2")),
            (HTTP_COMMAND_EXECUTOR, Some("1")),
            (SLAVE_PID, Some("slave(1)@[::1]:5051")),
        ]))
        .unwrap();
        assert_eq!(config.authentication_token.as_deref(), Some("secret-token"));
        assert!(!format!("{config:?}").contains("secret-token"));
        assert_eq!(config.agent_id.unwrap().value, "agent-2");
        assert!(config.http_command_executor);
        assert_eq!(
            config.agent_url.to_string(),
            "http://[::1]:5051/slave(1)/api/v1/executor"
        );
    }
}
