//! Turning an app and a piece of an offer into a Mesos `TaskInfo`.
//!
//! The app says what to run; the offer says where and with which host
//! ports. The task learns its ports and host from its environment, as
//! Marathon sets it (`EnvironmentHelper.scala`: `PORT0…`, `PORT`,
//! `PORTS`, `HOST`, `MARATHON_APP_ID`, …), because a long-running
//! service must listen on the port the offer gave it, not on one it
//! chose: two tasks on one agent would collide.

use mesos::{
    offers::{Allocation, TaskRequirements},
    resources::{self, Resources},
    v1::{
        AgentId, CommandInfo, DurationInfo, Environment, HealthCheck as MesosHealthCheck,
        KillPolicy, TaskInfo, command_info::Uri, environment::Variable, health_check,
    },
};

use crate::app::{App, HealthCheck};

/// What one instance of `app` takes from an offer.
pub fn requirements(app: &App) -> TaskRequirements {
    let mut needs = Resources::from([resources::cpus(app.cpus), resources::mem(app.mem)]);
    if app.disk > 0.0 {
        needs.add_resource(resources::disk(app.disk));
    }
    if app.gpus > 0 {
        needs.add_resource(resources::gpus(app.gpus));
    }
    if app.require_ports {
        // The app insists on its service ports as host ports.
        let ports: Vec<u64> = app
            .port_definitions
            .iter()
            .map(|p| u64::from(p.port))
            .collect();
        needs.add_resource(resources::ports_list(&ports));
        return TaskRequirements::new(needs);
    }
    // Ports at random, as Marathon's `PortsMatcher` picks them.
    TaskRequirements::new(needs).with_random_ports(app.port_definitions.len())
}

/// The host ports a task got, in the order of the app's port definitions.
pub fn host_ports(app: &App, allocation: &Allocation) -> Vec<u64> {
    if app.require_ports {
        app.port_definitions
            .iter()
            .map(|p| u64::from(p.port))
            .collect()
    } else {
        allocation.ports.clone()
    }
}

/// The `TaskInfo` for one instance of `app`.
pub fn task_info(
    app: &App,
    task_id: &str,
    agent_id: &AgentId,
    host: &str,
    allocation: Allocation,
) -> TaskInfo {
    let ports = host_ports(app, &allocation);
    let mut info = mesos::offers::task_info(
        // Marathon names tasks after the app, reversed into a host name
        // (`PathId.toHostname`): `/shop/web` runs as `web.shop`.
        task_name(app),
        task_id,
        agent_id,
        allocation.resources,
        command(app, task_id, host, &ports),
    );
    if let Some(container) = &app.container {
        if let Some(docker) = &container.docker {
            info.container = Some(if container.kind == "MESOS" {
                mesos::offers::docker_containerizer(docker.image.clone())
            } else {
                mesos::offers::docker_container(docker.image.clone())
            });
        }
    }
    if let Some(grace) = app.task_kill_grace_period_seconds {
        info.kill_policy = Some(kill_policy(grace));
    }
    // At most one check runs on the agent (validation makes sure).
    info.health_check = app
        .health_checks
        .iter()
        .find_map(|check| mesos_health_check(check, &ports))
        .map(Box::new);
    info
}

/// Mesos kills once `consecutiveFailures >= consecutive_failures`
/// (`health_checker.cpp`), so 0 would kill at the first failure; Marathon
/// passes 0 through unchanged, yet documents it as "never kill", which is
/// what 5K's own checks do (`health/state.rs`). The largest count is never
/// reached.
fn consecutive_failures(max_consecutive_failures: u32) -> u32 {
    if max_consecutive_failures == 0 {
        u32::MAX
    } else {
        max_consecutive_failures
    }
}

/// A COMMAND or MESOS_ check as Mesos runs it next to the task
/// (Marathon's `MesosCommandHealthCheck`, `MesosHttpHealthCheck` and
/// `MesosTcpHealthCheck.toMesos`); `None` for the checks 5K runs itself,
/// and for a port the task does not have. Mesos' checker then reports
/// `healthy` in the task's status updates and kills the task after
/// `consecutive_failures`.
pub fn mesos_health_check(check: &HealthCheck, ports: &[u64]) -> Option<MesosHealthCheck> {
    let mut mesos = MesosHealthCheck {
        delay_seconds: Some(check.delay_seconds.into()),
        interval_seconds: Some(check.interval_seconds.into()),
        timeout_seconds: Some(check.timeout_seconds.into()),
        consecutive_failures: Some(consecutive_failures(check.max_consecutive_failures)),
        grace_period_seconds: Some(check.grace_period_seconds.into()),
        ..Default::default()
    };
    // Marathon gives the host port: `port`, or the one at `portIndex`.
    let port = || -> Option<u32> {
        match check.port {
            Some(port) => Some(port),
            None => ports
                .get(check.port_index.unwrap_or(0) as usize)
                .and_then(|p| u32::try_from(*p).ok()),
        }
    };
    match check.protocol.as_str() {
        "COMMAND" => {
            mesos.set_type(health_check::Type::Command);
            let value = check.command.as_ref()?.value.clone();
            mesos.command = Some(mesos::offers::command_info_shell(value));
        }
        "MESOS_HTTP" | "MESOS_HTTPS" => {
            mesos.set_type(health_check::Type::Http);
            mesos.http = Some(health_check::HttpCheckInfo {
                scheme: Some(
                    if check.protocol == "MESOS_HTTP" {
                        "http"
                    } else {
                        "https"
                    }
                    .into(),
                ),
                port: port()?,
                path: check.path.clone(),
                ..Default::default()
            });
        }
        "MESOS_TCP" => {
            mesos.set_type(health_check::Type::Tcp);
            mesos.tcp = Some(health_check::TcpCheckInfo {
                port: port()?,
                ..Default::default()
            });
        }
        _ => return None,
    }
    Some(mesos)
}

/// How long a KILL lets the task shut down cleanly (SIGTERM, then SIGKILL).
pub fn kill_policy(grace_seconds: f64) -> KillPolicy {
    KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: (grace_seconds * 1e9) as i64,
        }),
    }
}

fn task_name(app: &App) -> String {
    let mut segments: Vec<&str> = app.id.segments().iter().map(String::as_str).collect();
    segments.reverse();
    segments.join(".")
}

fn command(app: &App, task_id: &str, host: &str, ports: &[u64]) -> CommandInfo {
    let mut command = match (&app.cmd, &app.args) {
        (Some(cmd), _) => mesos::offers::command_info_shell(cmd.clone()),
        // `args` run without a shell; the first is the program.
        (None, Some(args)) => CommandInfo {
            shell: Some(false),
            value: args.first().cloned(),
            arguments: args.clone(),
            ..Default::default()
        },
        // A container's own entry point.
        (None, None) => CommandInfo {
            shell: Some(false),
            ..Default::default()
        },
    };
    command.uris = app
        .fetch
        .iter()
        .map(|fetch| Uri {
            value: fetch.uri.clone(),
            executable: Some(fetch.executable),
            extract: Some(fetch.extract),
            cache: Some(fetch.cache),
            output_file: fetch.output_file.clone(),
        })
        .collect();
    command.user = app.user.clone();
    command.environment = Some(Environment {
        variables: environment(app, task_id, host, ports)
            .into_iter()
            .map(|(name, value)| Variable {
                name,
                value: Some(value),
                ..Default::default()
            })
            .collect(),
    });
    command
}

/// The task's environment: the app's `env`, then what Marathon adds.
pub fn environment(app: &App, task_id: &str, host: &str, ports: &[u64]) -> Vec<(String, String)> {
    let mut variables: Vec<(String, String)> = app
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut add = |name: String, value: String| variables.push((name, value));
    for (index, port) in ports.iter().enumerate() {
        add(format!("PORT{index}"), port.to_string());
        if let Some(name) = app
            .port_definitions
            .get(index)
            .and_then(|d| d.name.as_ref())
        {
            add(
                format!("PORT_{}", name.to_uppercase().replace('-', "_")),
                port.to_string(),
            );
        }
    }
    if let Some(first) = ports.first() {
        add("PORT".into(), first.to_string());
    }
    add(
        "PORTS".into(),
        ports
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(","),
    );
    add("HOST".into(), host.to_string());
    add("MESOS_TASK_ID".into(), task_id.to_string());
    add("MARATHON_APP_ID".into(), app.id.to_string());
    add("MARATHON_APP_VERSION".into(), app.version.clone());
    add("MARATHON_APP_RESOURCE_CPUS".into(), app.cpus.to_string());
    add("MARATHON_APP_RESOURCE_MEM".into(), app.mem.to_string());
    add("MARATHON_APP_RESOURCE_DISK".into(), app.disk.to_string());
    variables
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{AppRequest, PathId};

    fn app(json: &str) -> App {
        let request: AppRequest = serde_json::from_str(json).unwrap();
        App::create(
            PathId::parse("/shop/web"),
            request,
            "2026-12-06T14:35:05.123Z",
        )
    }

    #[test]
    fn the_task_is_told_its_host_ports_and_host() {
        let app = app(
            r#"{"cmd": "serve", "env": {"MODE": "x"}, "portDefinitions": [{"port": 0, "name": "http-api"}, {"port": 0}]}"#,
        );
        let env = environment(&app, "shop_web.1", "agent-1", &[31000, 31005]);
        let get = |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("PORT0"), Some("31000"));
        assert_eq!(get("PORT1"), Some("31005"));
        assert_eq!(get("PORT"), Some("31000"));
        assert_eq!(get("PORT_HTTP_API"), Some("31000"));
        assert_eq!(get("PORTS"), Some("31000,31005"));
        assert_eq!(get("HOST"), Some("agent-1"));
        assert_eq!(get("MARATHON_APP_ID"), Some("/shop/web"));
        assert_eq!(get("MODE"), Some("x"));
    }

    #[test]
    fn an_app_asks_for_one_port_per_definition_or_insists_on_its_own() {
        let picked = requirements(&app(r#"{"cmd": "x", "cpus": 0.5, "mem": 64}"#));
        assert_eq!(
            (
                picked.ports,
                picked.resources.cpus(),
                picked.resources.mem()
            ),
            (1, 0.5, 64.0)
        );
        let fixed = requirements(&app(
            r#"{"cmd": "x", "requirePorts": true, "portDefinitions": [{"port": 8080}]}"#,
        ));
        assert_eq!(
            (fixed.ports, fixed.resources.ports()),
            (0, vec![(8080, 8080)])
        );
    }

    #[test]
    fn args_run_without_a_shell_and_the_name_is_the_reversed_path() {
        let app = app(r#"{"args": ["/bin/serve", "--fast"]}"#);
        let allocation = Allocation {
            resources: Resources::new(),
            ports: vec![31000],
        };
        let info = task_info(
            &app,
            "shop_web.1",
            &AgentId { value: "a".into() },
            "h",
            allocation,
        );
        let command = info.command.unwrap();
        assert_eq!((command.shell, command.arguments.len()), (Some(false), 2));
        assert_eq!(info.name, "web.shop");
    }
}
