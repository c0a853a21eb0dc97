//! Checking an app before anything is stored or launched.
//!
//! Marathon answers a bad app with 422 and a list of `{path, errors}`,
//! one per field, so that a client (or a person) can fix them all at
//! once. It tells two kinds apart: a value of the wrong type or out of
//! range is "Invalid JSON" (its schema refused it), a definition that is
//! well formed but makes no sense (an unknown constraint operator) is
//! "Object is not valid" (`MarathonExceptionMapper.scala`). An app that
//! fails either is not stored: nothing is half-applied.

use serde::Serialize;

use super::App;

/// One field's errors; `path` is Marathon's (`/constraints(0)`).
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Violation {
    pub path: String,
    pub errors: Vec<String>,
}

impl Violation {
    pub fn new(path: impl Into<String>, error: impl Into<String>) -> Violation {
        Violation {
            path: path.into(),
            errors: vec![error.into()],
        }
    }
}

/// Why an app was refused, as the two kinds of 422 Marathon sends.
#[derive(Clone, Debug, PartialEq)]
pub enum Invalid {
    /// "Invalid JSON": wrong types and ranges.
    Schema(Vec<Violation>),
    /// "Object is not valid": the definition makes no sense.
    Semantics(Vec<Violation>),
}

/// Checks a complete app.
pub fn validate(app: &App) -> Result<(), Invalid> {
    let schema = schema_violations(app);
    if !schema.is_empty() {
        return Err(Invalid::Schema(schema));
    }
    let semantics = semantic_violations(app);
    if !semantics.is_empty() {
        return Err(Invalid::Semantics(semantics));
    }
    Ok(())
}

fn schema_violations(app: &App) -> Vec<Violation> {
    let mut violations = Vec::new();
    if let Err(error) = app.id.validate() {
        violations.push(Violation::new("/id", error.0));
    }
    // The errors are Play JSON's keys, as Marathon's schema reports them
    // (`Reads.min`, `Reads.max`).
    let at_least = |path: &str, value: f64, min: f64, violations: &mut Vec<Violation>| {
        // NaN and infinity come only from a broken client; refuse them too.
        if !(value.is_finite() && value >= min) {
            violations.push(Violation::new(path, "error.min"));
        }
    };
    // `app.raml`'s minimums: an app needs some CPU, the rest may be 0.
    at_least("/cpus", app.cpus, 0.001, &mut violations);
    at_least("/mem", app.mem, 0.0, &mut violations);
    at_least("/disk", app.disk, 0.0, &mut violations);
    at_least("/backoffSeconds", app.backoff_seconds, 0.0, &mut violations);
    at_least("/backoffFactor", app.backoff_factor, 1.0, &mut violations);
    at_least(
        "/maxLaunchDelaySeconds",
        app.max_launch_delay_seconds,
        0.0,
        &mut violations,
    );
    if let Some(grace) = app.task_kill_grace_period_seconds {
        at_least("/taskKillGracePeriodSeconds", grace, 0.0, &mut violations);
    }
    let strategy = app.upgrade_strategy;
    for (path, value) in [
        (
            "/upgradeStrategy/minimumHealthCapacity",
            strategy.minimum_health_capacity,
        ),
        (
            "/upgradeStrategy/maximumOverCapacity",
            strategy.maximum_over_capacity,
        ),
    ] {
        // NaN is below any minimum too.
        if value.is_nan() || value < 0.0 {
            violations.push(Violation::new(path, "error.min"));
        } else if value > 1.0 {
            violations.push(Violation::new(path, "error.max"));
        }
    }
    violations
}

fn semantic_violations(app: &App) -> Vec<Violation> {
    let mut violations = Vec::new();
    let has_cmd = app.cmd.as_deref().is_some_and(|cmd| !cmd.trim().is_empty());
    let has_args = app.args.as_ref().is_some_and(|args| !args.is_empty());
    if !has_cmd && !has_args && app.container.is_none() {
        violations.push(Violation::new(
            "/",
            "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.",
        ));
    }
    for (index, constraint) in app.constraints.iter().enumerate() {
        if let Err(error) = constraint.check() {
            violations.push(Violation::new(format!("/constraints({index})"), error));
        }
    }
    let port_count = app.port_definitions.len();
    for (index, check) in app.health_checks.iter().enumerate() {
        if let Err(error) = check.check(port_count) {
            violations.push(Violation::new(format!("/healthChecks({index})"), error));
        }
        if let Some(field) = check.port_out_of_range() {
            let path = format!("/healthChecks({index}){field}");
            violations.push(Violation::new(path, "error.max"));
        }
    }
    if app
        .health_checks
        .iter()
        .filter(|c| c.runs_on_the_agent())
        .count()
        > 1
    {
        violations.push(Violation::new(
            "/healthChecks",
            "AppDefinition can contain at most one Mesos health check.",
        ));
    }
    let mut service_ports: Vec<u32> = app
        .port_definitions
        .iter()
        .map(|p| p.port)
        .filter(|p| *p != 0)
        .collect();
    service_ports.sort_unstable();
    if service_ports.windows(2).any(|pair| pair[0] == pair[1]) {
        violations.push(Violation::new("/portDefinitions", "Ports must be unique."));
    }
    if app.require_ports && app.port_definitions.iter().any(|p| p.port == 0) {
        violations.push(Violation::new(
            "/portDefinitions",
            "Ports must be specified (not 0) when requirePorts is true.",
        ));
    }
    // 5K launches with Mesos' command executor; a path to another
    // executor would be run on the agents, which 5K cannot check.
    if !matches!(app.executor.as_str(), "" | "//cmd") {
        violations.push(Violation::new(
            "/executor",
            "5K runs tasks with Mesos' command executor: executor must be empty or //cmd",
        ));
    }
    if let Some(container) = &app.container {
        if !matches!(container.kind.as_str(), "DOCKER" | "MESOS") {
            violations.push(Violation::new("/container/type", "must be DOCKER or MESOS"));
        } else if container.docker.is_none() && app.cmd.is_none() && app.args.is_none() {
            violations.push(Violation::new(
                "/container/docker",
                "a container needs an image, or the app a cmd",
            ));
        }
    }
    violations
}
