//! Which health checks Mesos accepts, with its messages
//! (`common::validation::validateHealthCheck` in
//! `src/common/validation.cpp`, 1.11).
//!
//! The master refuses a task whose check is invalid (TASK_ERROR, "Task
//! uses invalid health check: " and this message), and the executor's
//! `HealthChecker::create` checks again: a check that got past neither
//! never runs half-understood.

use crate::v1::{HealthCheck, health_check::Type};

/// `validateHealthCheck`: the type is set and has its matching field, an
/// HTTP check's scheme and path are usable, and no duration is negative.
pub fn validate(check: &HealthCheck) -> Result<(), String> {
    // An enum value this build does not know reads as no type at all, as
    // protobuf's C++ parser keeps it among the unknown fields.
    let kind = check
        .r#type
        .and_then(|t| Type::try_from(t).ok())
        .ok_or("HealthCheck must specify 'type'")?;
    match kind {
        Type::Command => {
            let command = check
                .command
                .as_ref()
                .ok_or("Expecting 'command' to be set for COMMAND health check")?;
            if command.value.is_none() {
                let what = if command.shell.unwrap_or(true) {
                    "'shell command'"
                } else {
                    "'executable path'"
                };
                return Err(format!("Command health check must contain {what}"));
            }
            // `validateCommandInfo` checks the environment only (in 1.11).
            crate::local::validate_environment(command.environment.as_ref())
                .map_err(|e| format!("Health check's `CommandInfo` is invalid: {e}"))?;
        }
        Type::Http => {
            let http = check
                .http
                .as_ref()
                .ok_or("Expecting 'http' to be set for HTTP health check")?;
            if let Some(scheme) = http
                .scheme
                .as_deref()
                .filter(|s| !matches!(*s, "http" | "https"))
            {
                return Err(format!("Unsupported HTTP health check scheme: '{scheme}'"));
            }
            if let Some(path) = http.path.as_deref().filter(|p| !p.starts_with('/')) {
                return Err(format!(
                    "The path '{path}' of HTTP health check must start with '/'"
                ));
            }
        }
        Type::Tcp => {
            check
                .tcp
                .as_ref()
                .ok_or("Expecting 'tcp' to be set for TCP health check")?;
        }
        Type::Unknown => return Err("'UNKNOWN' is not a valid health check type".into()),
    }
    // Only a value that is there and below zero: NaN passes, as in Mesos.
    let negative = |value: Option<f64>| value.is_some_and(|v| v < 0.0);
    for (name, value) in [
        ("delay_seconds", check.delay_seconds),
        ("grace_period_seconds", check.grace_period_seconds),
        ("interval_seconds", check.interval_seconds),
        ("timeout_seconds", check.timeout_seconds),
    ] {
        if negative(value) {
            return Err(format!("Expecting '{name}' to be non-negative"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{CommandInfo, Environment, environment::Variable, health_check::HttpCheckInfo};

    fn http(scheme: Option<&str>, path: Option<&str>) -> HealthCheck {
        HealthCheck {
            r#type: Some(Type::Http as i32),
            http: Some(HttpCheckInfo {
                port: 8080,
                scheme: scheme.map(Into::into),
                path: path.map(Into::into),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn each_refusal_has_mesos_message() {
        let error = |check: HealthCheck| validate(&check).unwrap_err();
        assert_eq!(
            error(HealthCheck::default()),
            "HealthCheck must specify 'type'"
        );
        assert_eq!(
            error(HealthCheck {
                r#type: Some(Type::Unknown as i32),
                ..Default::default()
            }),
            "'UNKNOWN' is not a valid health check type"
        );
        for (kind, field) in [
            (Type::Command, "'command' to be set for COMMAND"),
            (Type::Http, "'http' to be set for HTTP"),
            (Type::Tcp, "'tcp' to be set for TCP"),
        ] {
            let check = HealthCheck {
                r#type: Some(kind as i32),
                ..Default::default()
            };
            assert_eq!(error(check), format!("Expecting {field} health check"));
        }
        let command = |shell| HealthCheck {
            r#type: Some(Type::Command as i32),
            command: Some(CommandInfo {
                shell: Some(shell),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            error(command(true)),
            "Command health check must contain 'shell command'"
        );
        assert_eq!(
            error(command(false)),
            "Command health check must contain 'executable path'"
        );
        let mut secretless = command(true);
        let info = secretless.command.as_mut().unwrap();
        info.value = Some("true".into());
        info.environment = Some(Environment {
            variables: vec![Variable {
                name: "V".into(),
                ..Default::default()
            }],
        });
        assert_eq!(
            error(secretless),
            "Health check's `CommandInfo` is invalid: Environment variable 'V' of type \
             'VALUE' must have a value set"
        );
        assert_eq!(
            error(http(Some("ftp"), None)),
            "Unsupported HTTP health check scheme: 'ftp'"
        );
        assert_eq!(
            error(http(None, Some("health"))),
            "The path 'health' of HTTP health check must start with '/'"
        );
        let mut negative = http(None, None);
        negative.timeout_seconds = Some(-1.0);
        assert_eq!(
            error(negative),
            "Expecting 'timeout_seconds' to be non-negative"
        );
    }

    #[test]
    fn valid_checks_pass() {
        assert_eq!(validate(&http(Some("https"), Some("/health"))), Ok(()));
        assert_eq!(validate(&http(None, None)), Ok(()));
    }
}
