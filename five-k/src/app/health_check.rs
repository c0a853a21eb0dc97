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
        if self.timeout_seconds >= self.interval_seconds {
            return Err("timeoutSeconds must be smaller than intervalSeconds".into());
        }
        Ok(())
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
        assert!(
            check(r#"{"intervalSeconds": 5}"#, 1)
                .unwrap_err()
                .starts_with("timeoutSeconds")
        );
    }
}
