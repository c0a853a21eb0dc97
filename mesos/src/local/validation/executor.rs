//! The checks of an ExecutorInfo a framework sends in a LAUNCH, as Mesos'
//! master makes them (`validation::executor::internal::validate` in
//! `src/master/validation.cpp`), in its order and with its messages.
//!
//! They matter more than they seem: the executor ID names a directory of
//! the agent's work directory (`.../executors/<executor id>/runs/...`), so
//! an ID such as `..` or `../../x` must be refused before any agent sees
//! it, or the executor's sandbox lands outside the work directory.

use crate::v1::{
    Environment, ExecutorInfo, Secret, container_info, environment::variable, executor_info, secret,
};

use super::{TaskContext, accounted, validate_id};

/// `executor::internal::validate`: the checks every executor gets, before
/// those particular to LAUNCH or LAUNCH_GROUP.
pub(super) fn validate(executor: &ExecutorInfo, context: &TaskContext<'_>) -> Result<(), String> {
    // `executor::validate`: what needs nothing but the ExecutorInfo.
    validate_type(executor)?;
    validate_id(&executor.executor_id.value)?;
    if executor
        .shutdown_grace_period
        .as_ref()
        .is_some_and(|grace| grace.nanoseconds < 0)
    {
        return Err("ExecutorInfo's 'shutdown_grace_period' must be non-negative".into());
    }
    if let Some(command) = &executor.command {
        // `common::validation::validateCommandInfo` checks the environment
        // only (in 1.11).
        validate_environment(command.environment.as_ref())
            .map_err(|e| format!("Executor's `CommandInfo` is invalid: {e}"))?;
    }
    // (`validateContainerInfo` is not simulated: the agent runs no
    // containers.)

    // Then what depends on the framework and the agent.
    validate_framework_id(executor, context.framework_id)?;
    accounted(&executor.resources)
        .map_err(|e| format!("Executor uses invalid resources: Invalid resources: {e}"))?;
    validate_compatible(executor, context.executor)
}

/// `executor::internal::validateType`. An unset type reads as UNKNOWN,
/// which passes: an old master must accept a type a newer scheduler knows.
fn validate_type(executor: &ExecutorInfo) -> Result<(), String> {
    match executor.r#type() {
        executor_info::Type::Default => {
            if executor.command.is_some() {
                return Err("'ExecutorInfo.command' must not be set for 'DEFAULT' executor".into());
            }
            if let Some(container) = &executor.container {
                if container.r#type != container_info::Type::Mesos as i32 {
                    return Err(
                        "'ExecutorInfo.container.type' must be 'MESOS' for 'DEFAULT' executor"
                            .into(),
                    );
                }
                if container.mesos.as_ref().is_some_and(|m| m.image.is_some()) {
                    return Err(
                        "'ExecutorInfo.container.mesos.image' must not be set for 'DEFAULT' \
                         executor"
                            .into(),
                    );
                }
            }
            Ok(())
        }
        executor_info::Type::Custom => match executor.command {
            Some(_) => Ok(()),
            None => Err("'ExecutorInfo.command' must be set for 'CUSTOM' executor".into()),
        },
        executor_info::Type::Unknown => Ok(()),
    }
}

/// `executor::internal::validateFrameworkID`. The master fills in a missing
/// framework ID (`Master::accept`), so only a wrong one fails: a framework
/// must not start an executor in another framework's name.
fn validate_framework_id(executor: &ExecutorInfo, framework_id: &str) -> Result<(), String> {
    let Some(actual) = &executor.framework_id else {
        return Err("'ExecutorInfo.framework_id' must be set".into());
    };
    if actual.value != framework_id {
        return Err(format!(
            "ExecutorInfo has an invalid FrameworkID (Actual: {} vs Expected: {framework_id})",
            actual.value
        ));
    }
    Ok(())
}

/// `executor::internal::validateCompatibleExecutorInfo`: every task sent
/// to one executor must carry the same ExecutorInfo, since the executor
/// already runs as the first one described it.
fn validate_compatible(
    executor: &ExecutorInfo,
    existing: Option<&ExecutorInfo>,
) -> Result<(), String> {
    let Some(existing) = existing.filter(|existing| *existing != executor) else {
        return Ok(());
    };
    // Mesos prints both with protobuf's DebugString; JSON here.
    let rule = "------------------------------------------------------------";
    Err(format!(
        "ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID.\n\
         {rule}\nExisting ExecutorInfo:\n{}\n{rule}\nExecutorInfo:\n{}\n{rule}\n",
        crate::codec::to_json(existing),
        crate::codec::to_json(executor),
    ))
}

/// `common::validation::validateEnvironment`: each variable holds what its
/// type says, a value or a secret, never both.
pub(crate) fn validate_environment(environment: Option<&Environment>) -> Result<(), String> {
    for variable in environment.map_or(&[][..], |e| &e.variables) {
        let name = &variable.name;
        // An unset type reads as VALUE, its declared default.
        match variable.r#type() {
            variable::Type::Secret => {
                let Some(secret) = &variable.secret else {
                    return Err(format!(
                        "Environment variable '{name}' of type 'SECRET' must have a secret set"
                    ));
                };
                if variable.value.is_some() {
                    return Err(format!(
                        "Environment variable '{name}' of type 'SECRET' must not have a value set"
                    ));
                }
                validate_secret(secret).map_err(|e| {
                    format!("Environment variable '{name}' specifies an invalid secret: {e}")
                })?;
                // The environment is a list of C strings.
                if secret.value.as_ref().is_some_and(|v| v.data.contains(&0)) {
                    return Err(format!(
                        "Environment variable '{name}' specifies a secret containing null \
                         bytes, which is not allowed in the environment"
                    ));
                }
            }
            variable::Type::Value => {
                if variable.value.is_none() {
                    return Err(format!(
                        "Environment variable '{name}' of type 'VALUE' must have a value set"
                    ));
                }
                if variable.secret.is_some() {
                    return Err(format!(
                        "Environment variable '{name}' of type 'VALUE' must not have a secret set"
                    ));
                }
            }
            variable::Type::Unknown => {
                return Err("Environment variable of type 'UNKNOWN' is not allowed".into());
            }
        }
    }
    Ok(())
}

/// `common::validation::validateSecret`.
fn validate_secret(secret: &Secret) -> Result<(), String> {
    match secret.r#type() {
        secret::Type::Reference => {
            let Some(reference) = &secret.reference else {
                return Err("Secret of type REFERENCE must have the 'reference' field set".into());
            };
            if secret.value.is_some() {
                return Err(format!(
                    "Secret '{}' of type REFERENCE must not have the 'value' field set",
                    reference.name
                ));
            }
        }
        secret::Type::Value => {
            if secret.value.is_none() {
                return Err("Secret of type VALUE must have the 'value' field set".into());
            }
            if secret.reference.is_some() {
                return Err("Secret of type VALUE must not have the 'reference' field set".into());
            }
        }
        secret::Type::Unknown => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{CommandInfo, DurationInfo, ExecutorId, FrameworkId, environment::Variable};

    fn custom(id: &str) -> ExecutorInfo {
        ExecutorInfo {
            r#type: Some(executor_info::Type::Custom as i32),
            executor_id: ExecutorId { value: id.into() },
            framework_id: Some(FrameworkId { value: "f".into() }),
            command: Some(CommandInfo {
                value: Some("./executor".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn check(executor: &ExecutorInfo, existing: Option<&ExecutorInfo>) -> Result<(), String> {
        let context = TaskContext {
            duplicate: &|_| false,
            unreachable: &|_| false,
            agent_id: "a",
            framework_id: "f",
            role: "*",
            executor: existing,
        };
        validate(executor, &context)
    }

    #[test]
    fn executor_ids_that_are_not_a_directory_name_are_refused() {
        assert_eq!(check(&custom("exec"), None), Ok(()));
        for (id, error) in [
            ("", "ID must not be empty".to_string()),
            (".", "'.' is disallowed".into()),
            ("..", "'..' is disallowed".into()),
            ("../../x", "'../../x' contains invalid characters".into()),
            ("a\\b", "'a\\b' contains invalid characters".into()),
            ("a\nb", "'a\nb' contains invalid characters".into()),
            (
                &"x".repeat(256),
                "ID must not be greater than 255 characters".into(),
            ),
        ] {
            assert_eq!(check(&custom(id), None), Err(error), "{id:?}");
        }
    }

    #[test]
    fn the_type_decides_whether_a_command_is_needed() {
        let mut default = custom("exec");
        default.r#type = Some(executor_info::Type::Default as i32);
        assert_eq!(
            check(&default, None).unwrap_err(),
            "'ExecutorInfo.command' must not be set for 'DEFAULT' executor"
        );
        let mut no_command = custom("exec");
        no_command.command = None;
        assert_eq!(
            check(&no_command, None).unwrap_err(),
            "'ExecutorInfo.command' must be set for 'CUSTOM' executor"
        );
        // An unknown type passes here (the LAUNCH checks refuse it later).
        no_command.r#type = None;
        assert_eq!(check(&no_command, None), Ok(()));
    }

    #[test]
    fn the_checks_come_in_mesos_order() {
        // Type before ID before grace period before command before
        // framework before compatibility.
        let mut executor = custom("..");
        executor.r#type = Some(executor_info::Type::Default as i32);
        executor.shutdown_grace_period = Some(DurationInfo { nanoseconds: -1 });
        executor.framework_id = Some(FrameworkId {
            value: "other".into(),
        });
        executor.command.as_mut().unwrap().environment = Some(Environment {
            variables: vec![Variable {
                name: "V".into(),
                ..Default::default()
            }],
        });
        let existing = custom("..");
        let mut errors = Vec::new();
        errors.push(check(&executor, Some(&existing)).unwrap_err());
        executor.r#type = Some(executor_info::Type::Custom as i32);
        errors.push(check(&executor, Some(&existing)).unwrap_err());
        executor.executor_id.value = "exec".into();
        errors.push(check(&executor, Some(&existing)).unwrap_err());
        executor.shutdown_grace_period = Some(DurationInfo { nanoseconds: 0 });
        errors.push(check(&executor, Some(&existing)).unwrap_err());
        executor.command.as_mut().unwrap().environment = None;
        errors.push(check(&executor, Some(&existing)).unwrap_err());
        executor.framework_id = Some(FrameworkId { value: "f".into() });
        errors.push(check(&executor, Some(&existing)).unwrap_err());
        assert_eq!(
            errors[..5],
            [
                "'ExecutorInfo.command' must not be set for 'DEFAULT' executor",
                "'..' is disallowed",
                "ExecutorInfo's 'shutdown_grace_period' must be non-negative",
                "Executor's `CommandInfo` is invalid: Environment variable 'V' of type 'VALUE' \
                 must have a value set",
                "ExecutorInfo has an invalid FrameworkID (Actual: other vs Expected: f)",
            ]
        );
        assert!(
            errors[5].starts_with("ExecutorInfo is not compatible"),
            "{}",
            errors[5]
        );
    }

    #[test]
    fn environment_variables_hold_what_their_type_says() {
        let secret = |kind: secret::Type, value: Option<&[u8]>| Secret {
            r#type: Some(kind as i32),
            value: value.map(|data| secret::Value {
                data: data.to_vec().into(),
            }),
            ..Default::default()
        };
        let variable =
            |kind: variable::Type, value: Option<&str>, secret: Option<Secret>| Environment {
                variables: vec![Variable {
                    name: "V".into(),
                    r#type: Some(kind as i32),
                    value: value.map(Into::into),
                    secret,
                }],
            };
        for (environment, error) in [
            (variable(variable::Type::Value, Some("x"), None), None),
            (
                variable(
                    variable::Type::Value,
                    Some("x"),
                    Some(secret(secret::Type::Value, Some(b"s"))),
                ),
                Some("Environment variable 'V' of type 'VALUE' must not have a secret set"),
            ),
            (
                variable(variable::Type::Secret, None, None),
                Some("Environment variable 'V' of type 'SECRET' must have a secret set"),
            ),
            (
                variable(
                    variable::Type::Secret,
                    None,
                    Some(secret(secret::Type::Value, None)),
                ),
                Some(
                    "Environment variable 'V' specifies an invalid secret: Secret of type VALUE \
                     must have the 'value' field set",
                ),
            ),
            (
                variable(
                    variable::Type::Secret,
                    None,
                    Some(secret(secret::Type::Value, Some(b"a\0b"))),
                ),
                Some(
                    "Environment variable 'V' specifies a secret containing null bytes, which \
                     is not allowed in the environment",
                ),
            ),
            (
                variable(variable::Type::Unknown, Some("x"), None),
                Some("Environment variable of type 'UNKNOWN' is not allowed"),
            ),
        ] {
            assert_eq!(
                validate_environment(Some(&environment)),
                error.map_or(Ok(()), |e| Err(e.to_string()))
            );
        }
    }
}
