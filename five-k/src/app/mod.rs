//! Apps: what a client asks 5K to keep running.
//!
//! An *app* in Marathon's vocabulary is a definition (a command, its
//! resources, how many *instances*) that the scheduler keeps true on the
//! cluster: it launches tasks until the count is reached, replaces those
//! that end, and kills extras. Every change makes a new *version* of the
//! app, kept so that a client can look back or roll back.
//!
//! Clients send apps as JSON in the camelCase of Marathon's REST API. Two
//! types meet here:
//! - [`AppRequest`], what a client sent: every field optional, because the
//!   same body creates an app (defaults fill the gaps) or changes one
//!   (`PUT` is a partial update: only the fields sent change);
//! - [`App`], the complete definition with every default applied, which
//!   is stored, scheduled and shown back to clients.

pub mod constraint;
pub mod health_check;
pub mod path_id;
pub mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use constraint::Constraint;
pub use health_check::HealthCheck;
pub use path_id::PathId;

/// Marathon's defaults (`AppDefinition.scala`, `raml/AppConversion`).
pub const DEFAULT_CPUS: f64 = 1.0;
pub const DEFAULT_MEM: f64 = 128.0;
pub const DEFAULT_BACKOFF_SECONDS: f64 = 1.0;
pub const DEFAULT_BACKOFF_FACTOR: f64 = 1.15;
pub const DEFAULT_MAX_LAUNCH_DELAY_SECONDS: f64 = 300.0;

/// An app as a client sent it. `None` means "not sent".
#[derive(Deserialize, Default, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct AppRequest {
    pub id: Option<String>,
    pub cmd: Option<String>,
    pub args: Option<Vec<String>>,
    pub user: Option<String>,
    pub env: Option<BTreeMap<String, String>>,
    pub instances: Option<u32>,
    pub cpus: Option<f64>,
    pub mem: Option<f64>,
    pub disk: Option<f64>,
    pub gpus: Option<u32>,
    pub executor: Option<String>,
    pub constraints: Option<Vec<Vec<ConstraintPart>>>,
    pub uris: Option<Vec<String>>,
    pub fetch: Option<Vec<FetchUri>>,
    pub ports: Option<Vec<u32>>,
    pub port_definitions: Option<Vec<PortDefinition>>,
    pub require_ports: Option<bool>,
    pub backoff_seconds: Option<f64>,
    pub backoff_factor: Option<f64>,
    pub max_launch_delay_seconds: Option<f64>,
    pub container: Option<Container>,
    pub health_checks: Option<Vec<HealthCheck>>,
    pub upgrade_strategy: Option<UpgradeStrategy>,
    pub labels: Option<BTreeMap<String, String>>,
    pub task_kill_grace_period_seconds: Option<f64>,
    pub kill_selection: Option<KillSelection>,
    /// Only `PUT {"version": …}` reads it: a rollback to that version.
    pub version: Option<String>,
    /// Not from the body: `PUT ?partialUpdate=false`, a whole new
    /// definition where what was not sent takes its default.
    #[serde(skip)]
    pub replace: bool,
}

/// A constraint's parts may be sent as strings or numbers
/// (`["rack", "GROUP_BY", 3]`); Marathon reads both as text.
#[derive(Deserialize, Clone, Debug)]
#[serde(untagged)]
pub enum ConstraintPart {
    Text(String),
    Number(serde_json::Number),
}

impl ConstraintPart {
    fn into_text(self) -> String {
        match self {
            ConstraintPart::Text(text) => text,
            ConstraintPart::Number(number) => number.to_string(),
        }
    }
}

/// A complete app definition, defaults applied: what is stored and shown.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub id: PathId,
    pub cmd: Option<String>,
    pub args: Option<Vec<String>>,
    pub user: Option<String>,
    pub env: BTreeMap<String, String>,
    pub instances: u32,
    pub cpus: f64,
    pub mem: f64,
    pub disk: f64,
    pub gpus: u32,
    pub executor: String,
    pub constraints: Vec<Constraint>,
    pub fetch: Vec<FetchUri>,
    pub store_urls: Vec<String>,
    pub backoff_seconds: f64,
    pub backoff_factor: f64,
    pub max_launch_delay_seconds: f64,
    pub container: Option<Container>,
    pub health_checks: Vec<HealthCheck>,
    pub readiness_checks: Vec<serde_json::Value>,
    pub dependencies: Vec<String>,
    pub upgrade_strategy: UpgradeStrategy,
    pub labels: BTreeMap<String, String>,
    pub require_ports: bool,
    pub port_definitions: Vec<PortDefinition>,
    pub task_kill_grace_period_seconds: Option<f64>,
    pub kill_selection: KillSelection,
    pub version: String,
    pub version_info: VersionInfo,
}

/// A file the agent's fetcher downloads into the sandbox before the task
/// starts (Mesos' `CommandInfo.URI`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FetchUri {
    pub uri: String,
    #[serde(default)]
    pub executable: bool,
    /// Marathon extracts archives unless told not to.
    #[serde(default = "yes")]
    pub extract: bool,
    #[serde(default)]
    pub cache: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_file: Option<String>,
}

fn yes() -> bool {
    true
}

/// A port the app's tasks listen on. `port` is the *service port*, the
/// one clients reach through a load balancer; 0 asks 5K to pick one. The
/// host port each task gets comes from its offer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PortDefinition {
    #[serde(default)]
    pub port: u32,
    #[serde(default = "tcp")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn tcp() -> String {
    "tcp".into()
}

/// Which container runs the task: Docker, or Mesos' own containerizer
/// with a Docker image. Kept as sent; the agent decides whether it can.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(rename = "type", default = "docker_type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerImage>,
    #[serde(default)]
    pub volumes: Vec<serde_json::Value>,
}

fn docker_type() -> String {
    "DOCKER".into()
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DockerImage {
    pub image: String,
    #[serde(default)]
    pub force_pull_image: bool,
    #[serde(default)]
    pub privileged: bool,
}

/// How many instances a deployment keeps and may add while it replaces
/// tasks (fractions of `instances`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStrategy {
    #[serde(default = "one")]
    pub minimum_health_capacity: f64,
    #[serde(default = "one")]
    pub maximum_over_capacity: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for UpgradeStrategy {
    fn default() -> Self {
        UpgradeStrategy {
            minimum_health_capacity: 1.0,
            maximum_over_capacity: 1.0,
        }
    }
}

/// Which tasks go first when an app scales down.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KillSelection {
    #[default]
    YoungestFirst,
    OldestFirst,
}

/// When the app last changed, and when its configuration (anything but
/// the instance count) last changed: tasks launched before
/// `last_config_change_at` run an outdated configuration.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub last_scaling_at: String,
    pub last_config_change_at: String,
}

impl App {
    /// A new app from a request, at `version` (a timestamp). The id must
    /// have been checked by the caller.
    pub fn create(id: PathId, request: AppRequest, version: &str) -> App {
        let mut app = App {
            id,
            cmd: None,
            args: None,
            user: None,
            env: BTreeMap::new(),
            instances: 1,
            cpus: DEFAULT_CPUS,
            mem: DEFAULT_MEM,
            disk: 0.0,
            gpus: 0,
            executor: String::new(),
            constraints: Vec::new(),
            fetch: Vec::new(),
            store_urls: Vec::new(),
            backoff_seconds: DEFAULT_BACKOFF_SECONDS,
            backoff_factor: DEFAULT_BACKOFF_FACTOR,
            max_launch_delay_seconds: DEFAULT_MAX_LAUNCH_DELAY_SECONDS,
            container: None,
            health_checks: Vec::new(),
            readiness_checks: Vec::new(),
            dependencies: Vec::new(),
            upgrade_strategy: UpgradeStrategy::default(),
            labels: BTreeMap::new(),
            require_ports: false,
            // Marathon gives an app one port unless told otherwise.
            port_definitions: vec![PortDefinition {
                port: 0,
                protocol: tcp(),
                name: None,
                labels: BTreeMap::new(),
            }],
            task_kill_grace_period_seconds: None,
            kill_selection: KillSelection::default(),
            version: version.to_string(),
            version_info: VersionInfo {
                last_scaling_at: version.to_string(),
                last_config_change_at: version.to_string(),
            },
        };
        app.apply(request);
        app
    }

    /// This app changed by a partial update (or replaced, see
    /// [`AppRequest::replace`]), as a new version. A change of anything
    /// but `instances` is a change of configuration: tasks of the old
    /// configuration are then replaced.
    pub fn updated(&self, request: AppRequest, version: &str) -> App {
        let mut app = if request.replace {
            App::create(self.id.clone(), request, version)
        } else {
            let mut app = self.clone();
            app.apply(request);
            app
        };
        app.version = version.to_string();
        let mut scaled_only = app.clone();
        scaled_only.instances = self.instances;
        scaled_only.version = self.version.clone();
        app.version_info = if scaled_only == *self {
            VersionInfo {
                last_scaling_at: version.to_string(),
                last_config_change_at: self.version_info.last_config_change_at.clone(),
            }
        } else {
            VersionInfo {
                last_scaling_at: version.to_string(),
                last_config_change_at: version.to_string(),
            }
        };
        app
    }

    /// A restart: the same definition as a new configuration, so that
    /// every task is replaced.
    pub fn restarted(&self, version: &str) -> App {
        let mut app = self.clone();
        app.version = version.to_string();
        app.version_info = VersionInfo {
            last_scaling_at: version.to_string(),
            last_config_change_at: version.to_string(),
        };
        app
    }

    /// The same app scaled to `instances`, as a new version.
    pub fn scaled(&self, instances: u32, version: &str) -> App {
        let mut app = self.clone();
        app.instances = instances;
        app.version = version.to_string();
        app.version_info.last_scaling_at = version.to_string();
        app
    }

    /// The configuration its tasks are launched with: tasks of another one
    /// are replaced by a deployment.
    pub fn config_version(&self) -> &str {
        &self.version_info.last_config_change_at
    }

    fn apply(&mut self, request: AppRequest) {
        let AppRequest {
            id: _,
            cmd,
            args,
            user,
            env,
            instances,
            cpus,
            mem,
            disk,
            gpus,
            executor,
            constraints,
            uris,
            fetch,
            ports,
            port_definitions,
            require_ports,
            backoff_seconds,
            backoff_factor,
            max_launch_delay_seconds,
            container,
            health_checks,
            upgrade_strategy,
            labels,
            task_kill_grace_period_seconds,
            kill_selection,
            version: _,
            replace: _,
        } = request;
        // `cmd` and `args` exclude each other: sending one replaces the other.
        if let Some(cmd) = cmd {
            self.cmd = Some(cmd);
            self.args = None;
        }
        if let Some(args) = args {
            self.args = Some(args);
            self.cmd = None;
        }
        set(&mut self.user, user.map(Some));
        set(&mut self.env, env);
        set(&mut self.instances, instances);
        set(&mut self.cpus, cpus);
        set(&mut self.mem, mem);
        set(&mut self.disk, disk);
        set(&mut self.gpus, gpus);
        set(&mut self.executor, executor);
        if let Some(constraints) = constraints {
            self.constraints = constraints
                .into_iter()
                .map(|parts| {
                    Constraint::from_parts(
                        parts.into_iter().map(ConstraintPart::into_text).collect(),
                    )
                })
                .collect();
        }
        // `uris` is the older spelling of `fetch`.
        if let Some(uris) = uris {
            self.fetch = uris.into_iter().map(FetchUri::from_uri).collect();
        }
        set(&mut self.fetch, fetch);
        if let Some(ports) = ports {
            self.port_definitions = ports.into_iter().map(PortDefinition::from_port).collect();
        }
        set(&mut self.port_definitions, port_definitions);
        set(&mut self.require_ports, require_ports);
        set(&mut self.backoff_seconds, backoff_seconds);
        set(&mut self.backoff_factor, backoff_factor);
        set(&mut self.max_launch_delay_seconds, max_launch_delay_seconds);
        set(&mut self.container, container.map(Some));
        set(&mut self.health_checks, health_checks);
        set(&mut self.upgrade_strategy, upgrade_strategy);
        set(&mut self.labels, labels);
        set(
            &mut self.task_kill_grace_period_seconds,
            task_kill_grace_period_seconds.map(Some),
        );
        set(&mut self.kill_selection, kill_selection);
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

impl FetchUri {
    /// As Marathon turns a `uris` entry into a fetch entry: archives are
    /// extracted, nothing is made executable.
    fn from_uri(uri: String) -> FetchUri {
        FetchUri {
            uri,
            executable: false,
            extract: true,
            cache: false,
            output_file: None,
        }
    }
}

impl PortDefinition {
    fn from_port(port: u32) -> PortDefinition {
        PortDefinition {
            port,
            protocol: tcp(),
            name: None,
            labels: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests;
