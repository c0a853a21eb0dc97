//! Health checks: how 5K (or the agent) tells that a task still works.
//!
//! A task can be running and useless: deadlocked, or serving errors. A
//! health check asks it, every `intervalSeconds`, and after
//! `maxConsecutiveFailures` failed answers the task is killed and
//! replaced. `gracePeriodSeconds` leaves a starting task time to come up.
//! The fields and defaults are Marathon's (`core/health/HealthCheck.scala`);
//! this module reads and checks them. 5K runs HTTP, HTTPS and TCP checks
//! itself (`health/`); the others go to the agent in the task's
//! `TaskInfo.health_check` (`scheduler/launch.rs`).
//!
//! One difference between the two, as in Marathon: `delaySeconds` is
//! Mesos' (`MesosHealthCheck`), the wait before the agent's first check.
//! The checks 5K runs have none: the first comes after min(interval, 5 s)
//! (`scheduler/health.rs`).

use serde::{Deserialize, Serialize};

/// The protocols Marathon accepts. HTTP, HTTPS and TCP are run by the
/// scheduler; COMMAND and the MESOS_ ones are run on the agent, next to
/// the task.
pub const PROTOCOLS: [&str; 7] = [
    "HTTP",
    "HTTPS",
    "TCP",
    "COMMAND",
    "MESOS_HTTP",
    "MESOS_HTTPS",
    "MESOS_TCP",
];

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    #[serde(default = "http")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandCheck>,
    #[serde(default = "grace_period")]
    pub grace_period_seconds: u32,
    #[serde(default = "interval")]
    pub interval_seconds: u32,
    #[serde(default = "timeout")]
    pub timeout_seconds: u32,
    #[serde(default = "max_failures")]
    pub max_consecutive_failures: u32,
    #[serde(default = "delay")]
    pub delay_seconds: u32,
    #[serde(default)]
    pub ignore_http1xx: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CommandCheck {
    pub value: String,
}

fn http() -> String {
    "HTTP".into()
}
fn grace_period() -> u32 {
    300
}
fn interval() -> u32 {
    60
}
fn timeout() -> u32 {
    20
}
fn max_failures() -> u32 {
    3
}
fn delay() -> u32 {
    15
}

impl HealthCheck {
    /// What is wrong with this check, given how many ports the app has.
    pub fn check(&self, port_count: usize) -> Result<(), String> {
        let protocol = self.protocol.as_str();
        if !PROTOCOLS.contains(&protocol) {
            return Err(format!("protocol must be one of {}", PROTOCOLS.join(", ")));
        }
        let is_command = protocol == "COMMAND";
        if is_command != self.command.is_some() {
            return Err("command must be set for COMMAND health checks, and only for them".into());
        }
        if !is_command {
            if self.port.is_some() && self.port_index.is_some() {
                return Err("Health check must have either port or portIndex, not both".into());
            }
            let index = self.port_index.unwrap_or(0) as usize;
            if self.port.is_none() && index >= port_count {
                return Err(format!(
                    "Health check port indices must address an element of the ports array or \
                     container port mappings (portIndex {index}, {port_count} ports)"
                ));
            }
        }
        // No rule ties timeoutSeconds to intervalSeconds: Marathon has
        // one for readiness checks and pods only (`AppValidation.scala`,
        // `PodsValidation.scala`), and its default timeout (20 s) is
        // above a 10 s interval. A check waits for the last to end.
        Ok(())
    }

    /// The field (`/port` or `/portIndex`) beyond 65535, if any: no port
    /// is (`healthCheck.raml`: AnyPort), and such a check would never
    /// run, the task never be healthy, its deployment never end.
    pub fn port_out_of_range(&self) -> Option<&'static str> {
        const ANY_PORT: u32 = 65535;
        if self.port.is_some_and(|port| port > ANY_PORT) {
            Some("/port")
        } else if self.port_index.is_some_and(|index| index > ANY_PORT) {
            Some("/portIndex")
        } else {
            None
        }
    }

    /// Whether it runs on the agent, as a Mesos health check.
    pub fn runs_on_the_agent(&self) -> bool {
        self.protocol == "COMMAND" || self.protocol.starts_with("MESOS_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str, ports: usize) -> Result<(), String> {
        serde_json::from_str::<HealthCheck>(json)
            .unwrap()
            .check(ports)
    }

    #[test]
    fn marathons_defaults_fill_the_gaps() {
        let check: HealthCheck = serde_json::from_str("{}").unwrap();
        assert_eq!(
            (
                check.protocol.as_str(),
                check.grace_period_seconds,
                check.interval_seconds
            ),
            ("HTTP", 300, 60)
        );
        assert_eq!(
            (
                check.timeout_seconds,
                check.max_consecutive_failures,
                check.delay_seconds
            ),
            (20, 3, 15)
        );
    }

    #[test]
    fn a_check_must_be_runnable() {
        assert_eq!(check(r#"{"protocol": "TCP"}"#, 1), Ok(()));
        assert_eq!(
            check(
                r#"{"protocol": "COMMAND", "command": {"value": "true"}}"#,
                0
            ),
            Ok(())
        );
        assert!(
            check(r#"{"protocol": "GOPHER"}"#, 1)
                .unwrap_err()
                .starts_with("protocol must be")
        );
        assert!(
            check(r#"{"protocol": "COMMAND"}"#, 1)
                .unwrap_err()
                .starts_with("command must")
        );
        assert!(
            check(r#"{"portIndex": 1}"#, 1)
                .unwrap_err()
                .contains("portIndex 1, 1 ports")
        );
        assert!(
            check(r#"{"port": 80, "portIndex": 0}"#, 1)
                .unwrap_err()
                .contains("not both")
        );
        // The default timeout (20 s) above the interval: Marathon accepts it.
        assert_eq!(check(r#"{"intervalSeconds": 5}"#, 1), Ok(()));
    }
}
