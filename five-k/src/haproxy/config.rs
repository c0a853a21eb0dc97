//! The HAProxy configuration, as a plain function of the apps and their
//! serving tasks.
//!
//! Each service port of an app becomes one `listen` section: HAProxy
//! binds the service port and spreads connections over the tasks that
//! serve the app, on the host port of the same index. This is what
//! marathon-lb does from Marathon's state (`marathon_lb.py`,
//! `config.py`), with its labels: `HAPROXY_{n}_PORT` gives port index
//! `n` a service port (or another one), `HAPROXY_{n}_MODE` says `http`
//! or `tcp` (the default).
//!
//! The output is deterministic: apps in id order, servers in task id
//! order, nothing that changes by itself (no time, no counter). So an
//! unchanged set of backends renders the same text, and the edge reloads
//! HAProxy only when the text differs: a status update that changes
//! nothing HAProxy sees costs no reload.

use std::{
    collections::{BTreeMap, btree_map::Entry},
    fmt::Write,
    net::IpAddr,
};

use crate::{
    app::App,
    scheduler::{Scheduler, task::Task},
};

/// One load-balanced port of an app: what a `listen` section needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// The section's name: the app id and the port index, unique.
    pub name: String,
    /// The port HAProxy binds (the service port).
    pub port: u32,
    /// `tcp` or `http`.
    pub mode: Mode,
    /// The tasks serving it: (task id, host, host port), in task id order.
    pub servers: Vec<Server>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    Tcp,
    Http,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Server {
    pub task_id: String,
    pub host: String,
    pub port: u64,
}

/// The services of every app that has a service port, from the tasks that
/// serve it (`Scheduler::serves`: running, not being killed, healthy if
/// its version has health checks, not failed by them). A task 5K decided to kill is out of this
/// list from that decision on, which is what lets the edge drop it from
/// HAProxy before the KILL goes out.
///
/// One service port is one address: two `listen` sections on it would
/// make HAProxy split the clients of both between two apps. The first app
/// in id order keeps the port; a later one is left out, with a warning.
pub fn services(scheduler: &Scheduler) -> Vec<Service> {
    let mut services = Vec::new();
    let mut taken: BTreeMap<u32, String> = BTreeMap::new();
    for entry in scheduler.apps() {
        // The one notion of serving that rolling upgrades use too: during
        // an upgrade that adds checks, the old tasks were never checked
        // and keep serving until they are replaced.
        let serving: Vec<&Task> = scheduler
            .tasks()
            .of_app(&entry.app.id)
            .filter(|task| scheduler.serves(task))
            .collect();
        for service in services_of(&entry.app, &serving) {
            match taken.entry(service.port) {
                Entry::Vacant(free) => {
                    free.insert(service.name.clone());
                    services.push(service);
                }
                Entry::Occupied(owner) => tracing::warn!(
                    "service port {} of {} is already {}'s: left out of HAProxy",
                    service.port,
                    service.name,
                    owner.get()
                ),
            }
        }
    }
    services
}

/// The services of one app, given the tasks that serve it (in id order).
pub fn services_of(app: &App, serving: &[&Task]) -> Vec<Service> {
    let mut services = Vec::new();
    for (index, definition) in app.port_definitions.iter().enumerate() {
        // HAProxy balances TCP only (a UDP port has no load balancer).
        if definition.protocol != "tcp" {
            continue;
        }
        let label = |name: &str| app.labels.get(&format!("HAPROXY_{index}_{name}"));
        let port = match label("PORT").map(|port| port.trim().parse::<u32>()) {
            Some(Ok(port)) => port,
            // A label that is not a port: marathon-lb ignores it too.
            Some(Err(_)) | None => definition.port,
        };
        if port == 0 || port > u32::from(u16::MAX) {
            continue;
        }
        let mode = match label("MODE").map(String::as_str) {
            Some("http") => Mode::Http,
            _ => Mode::Tcp,
        };
        let servers = serving
            .iter()
            .filter_map(|task| {
                // A task of an older configuration may have fewer ports.
                let host_port = *task.ports.get(index)?;
                Some(Server {
                    task_id: task.id.clone(),
                    host: task.host.clone(),
                    port: host_port,
                })
            })
            .collect();
        services.push(Service {
            name: format!("{}_{index}", app.id.safe_path()),
            port,
            mode,
            servers,
        });
    }
    services
}

/// The whole configuration: global settings, then one `listen` section
/// per service, HAProxy binding each service port on `bind`.
pub fn render(bind: IpAddr, services: &[Service]) -> String {
    let mut text = String::from(HEADER);
    for service in services {
        render_service(&mut text, bind, service);
    }
    text
}

/// What every configuration starts with.
const HEADER: &str = "\
# Written by 5K from its apps' serving tasks: edits are overwritten.
global
    # maxconn: HAProxy derives it from the file descriptor limit.

defaults
    timeout connect 5s
    timeout client 1m
    timeout server 1m
    # A connection refused by a task (one that just started and does not
    # listen yet, or one that died by itself) is tried again on another.
    retries 3
    option redispatch 1
";

fn render_service(text: &mut String, bind: IpAddr, service: &Service) {
    let address = match bind {
        IpAddr::V4(ip) => format!("{ip}:{}", service.port),
        IpAddr::V6(ip) => format!("[{ip}]:{}", service.port),
    };
    let mode = match service.mode {
        Mode::Tcp => "tcp",
        Mode::Http => "http",
    };
    // `write!` to a String cannot fail.
    let _ = write!(
        text,
        "\nlisten {name}\n    bind {address}\n    mode {mode}\n    balance roundrobin\n",
        name = service.name,
    );
    for server in &service.servers {
        let _ = writeln!(
            text,
            "    server {} {}:{}",
            server.task_id, server.host, server.port
        );
    }
}

#[cfg(test)]
mod tests {
    use mesos::v1::TaskState;

    use super::*;
    use crate::app::{AppRequest, PathId};

    fn app(json: &str) -> App {
        let request: AppRequest = serde_json::from_str(json).unwrap();
        App::create(PathId::parse("/shop/web"), request, "v1")
    }

    fn task(id: &str, ports: &[u64]) -> Task {
        Task {
            id: id.into(),
            app_id: PathId::parse("/shop/web"),
            agent_id: "agent".into(),
            host: "10.0.0.1".into(),
            ports: ports.to_vec(),
            service_ports: vec![],
            state: TaskState::TaskRunning,
            staged_at: String::new(),
            started_at: None,
            version: "v1".into(),
            config_version: "v1".into(),
            killing: false,
            healthy: None,
            failed_by_checks: false,
            agent_info: Default::default(),
        }
    }

    fn localhost() -> IpAddr {
        IpAddr::from([127, 0, 0, 1])
    }

    #[test]
    fn each_service_port_is_a_listen_section_of_the_serving_tasks() {
        let web = app(r#"{"cmd": "x", "portDefinitions": [{"port": 10000}, {"port": 10001}]}"#);
        let (a, b) = (task("t-a", &[31000, 31001]), task("t-b", &[31002, 31003]));
        let text = render(localhost(), &services_of(&web, &[&a, &b]));
        let expected = "
listen shop_web_0
    bind 127.0.0.1:10000
    mode tcp
    balance roundrobin
    server t-a 10.0.0.1:31000
    server t-b 10.0.0.1:31002

listen shop_web_1
    bind 127.0.0.1:10001
    mode tcp
    balance roundrobin
    server t-a 10.0.0.1:31001
    server t-b 10.0.0.1:31003
";
        assert_eq!(text.strip_prefix(HEADER), Some(expected), "{text}");
    }

    #[test]
    fn labels_give_a_port_and_a_mode_as_marathon_lb_reads_them() {
        let web = app(r#"{"cmd": "x", "portDefinitions": [{"port": 0}],
                "labels": {"HAPROXY_0_PORT": "8080", "HAPROXY_0_MODE": "http"}}"#);
        let services = services_of(&web, &[&task("t", &[31000])]);
        assert_eq!(services[0].port, 8080);
        assert_eq!(services[0].mode, Mode::Http);
    }

    #[test]
    fn no_service_port_and_udp_are_left_out() {
        let web = app(
            r#"{"cmd": "x", "portDefinitions": [{"port": 0}, {"port": 10001, "protocol": "udp"},
                {"port": 10002}], "labels": {"HAPROXY_2_PORT": "not a port"}}"#,
        );
        let services = services_of(&web, &[&task("t", &[31000, 31001, 31002])]);
        assert_eq!(services.len(), 1, "{services:?}");
        assert_eq!(services[0].name, "shop_web_2");
        assert_eq!(services[0].port, 10002);
        assert_eq!(services[0].servers[0].port, 31002);
    }

    #[test]
    fn only_serving_tasks_are_servers() {
        let web = app(r#"{"cmd": "x", "portDefinitions": [{"port": 10000}],
                "healthChecks": [{"protocol": "TCP"}]}"#);
        let healthy = Task {
            healthy: Some(true),
            ..task("healthy", &[31000])
        };
        let unhealthy = Task {
            healthy: Some(false),
            ..task("unhealthy", &[31001])
        };
        let unchecked = task("not-checked-yet", &[31002]);
        let being_killed = Task {
            id: "being-killed".into(),
            killing: true,
            ..healthy.clone()
        };
        let staging = Task {
            id: "staging".into(),
            state: TaskState::TaskStaging,
            ..healthy.clone()
        };
        let entry = crate::scheduler::AppEntry {
            app: web,
            versions: vec![],
            last_task_failure: None,
        };
        let scheduler = Scheduler::restore(
            None,
            vec![entry],
            vec![],
            vec![healthy, unhealthy, unchecked, being_killed, staging],
        );
        let servers: Vec<String> = services(&scheduler)
            .into_iter()
            .flat_map(|service| service.servers)
            .map(|server| server.task_id)
            .collect();
        assert_eq!(servers, vec!["healthy"]);
    }

    fn restore(entries: Vec<crate::scheduler::AppEntry>, tasks: Vec<Task>) -> Scheduler {
        Scheduler::restore(None, entries, vec![], tasks)
    }

    fn entry(app: App, versions: Vec<App>) -> crate::scheduler::AppEntry {
        crate::scheduler::AppEntry {
            app,
            versions,
            last_task_failure: None,
        }
    }

    #[test]
    fn a_service_port_taken_by_an_app_is_left_out_of_the_next() {
        let first = App::create(
            PathId::parse("/a"),
            serde_json::from_str(r#"{"cmd": "x", "portDefinitions": [{"port": 10000}]}"#).unwrap(),
            "v1",
        );
        let second = App::create(
            PathId::parse("/b"),
            serde_json::from_str(
                r#"{"cmd": "x", "portDefinitions": [{"port": 0}, {"port": 10001}],
                    "labels": {"HAPROXY_0_PORT": "10000"}}"#,
            )
            .unwrap(),
            "v1",
        );
        let scheduler = restore(vec![entry(second, vec![]), entry(first, vec![])], vec![]);
        let services: Vec<(String, u32)> = services(&scheduler)
            .into_iter()
            .map(|service| (service.name, service.port))
            .collect();
        assert_eq!(services, vec![("a_0".into(), 10000), ("b_1".into(), 10001)]);
    }

    #[test]
    fn removing_the_checks_keeps_the_old_unhealthy_tasks_out() {
        let checked = app(r#"{"cmd": "x", "portDefinitions": [{"port": 10000}],
                "healthChecks": [{"protocol": "TCP"}]}"#);
        let unchecked = App::create(
            checked.id.clone(),
            serde_json::from_str(r#"{"cmd": "y", "portDefinitions": [{"port": 10000}]}"#).unwrap(),
            "v2",
        );
        assert_ne!(checked.config_version(), unchecked.config_version());
        let sick = Task {
            healthy: Some(false),
            config_version: checked.config_version().to_string(),
            ..task("sick", &[31000])
        };
        let scheduler = restore(vec![entry(unchecked, vec![checked])], vec![sick]);
        assert_eq!(services(&scheduler)[0].servers, vec![]);
    }

    #[test]
    fn the_same_backends_render_the_same_text() {
        let web = app(r#"{"cmd": "x", "portDefinitions": [{"port": 10000}]}"#);
        let (a, b) = (task("t-a", &[31000]), task("t-b", &[31001]));
        let once = render(localhost(), &services_of(&web, &[&a, &b]));
        let again = render(localhost(), &services_of(&web, &[&a, &b]));
        assert_eq!(once, again);
        let fewer = render(localhost(), &services_of(&web, &[&a]));
        assert_ne!(once, fewer);
    }
}
