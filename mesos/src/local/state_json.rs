//! `GET /master/state` and `GET /slave(N)/state`: the cluster as JSON.
//!
//! Operators, the web UI and diagnostic scripts read a master's state
//! endpoint; scripts often then visit each agent at the address in its
//! `pid` (`slave(1)@10.10.4.10:5051`). We serve a useful subset of the
//! same JSON with the same field names (Mesos still says `slaves` and
//! `slave_id` here), built from the published [`Snapshot`], so the
//! endpoints never wait for the master's actor.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::{
    agent::AgentState,
    master::{MESOS_VERSION, Settings},
    snapshot::{ExecutorSnapshot, FrameworkSnapshot, Snapshot, TaskSnapshot},
};
use crate::{
    codec,
    resources::Resources,
    v1::{framework_info::capability, value::Type as ValueType},
};

/// Resources as Mesos' state endpoints show them (`json(JSON::ObjectWriter*,
/// const Resources&)`): one field per name, summed over roles and
/// reservations; scalars as numbers, with `cpus`, `gpus`, `mem` and
/// `disk` always present; ranges and sets as their text, e.g.
/// `{"cpus": 2.0, "ports": "[31000-32000]"}`. (Mesos lists revocable
/// resources apart, as `cpus_revocable`; agents here have none.)
fn resources_json(resources: &Resources) -> Value {
    let mut object = serde_json::Map::new();
    for name in ["cpus", "gpus", "mem", "disk"] {
        object.insert(name.to_string(), json!(0.0));
    }
    for resource in resources {
        let name = resource.name.as_str();
        let value = match resource.r#type() {
            ValueType::Ranges => {
                let ranges: Vec<String> = resources
                    .ranges(name)
                    .iter()
                    .map(|(begin, end)| format!("{begin}-{end}"))
                    .collect();
                json!(format!("[{}]", ranges.join(", ")))
            }
            ValueType::Set => json!(format!("{{{}}}", resources.set(name).join(", "))),
            _ => json!(resources.scalar(name)),
        };
        object.insert(name.to_string(), value);
    }
    Value::Object(object)
}

/// The master's `/state`.
pub(crate) fn master(snapshot: &Snapshot, settings: &Settings) -> Value {
    let slaves: Vec<Value> = snapshot
        .agents
        .iter()
        .filter(|a| a.active)
        .map(|agent| {
            let mut slave = json!({
                "id": agent.id,
                "pid": agent.pid,
                "hostname": agent.hostname,
                "port": settings.port,
                "registered_time": agent.registered_time,
                "resources": resources_json(&agent.total),
                "used_resources": resources_json(&agent.used),
                "offered_resources": resources_json(&agent.offered),
                "unreserved_resources": resources_json(&agent.total),
                "reserved_resources": {},
                "attributes": {},
                "active": true,
                "deactivated": false,
                "version": MESOS_VERSION,
            });
            if let Some(time) = agent.reregistered_time {
                slave["reregistered_time"] = json!(time);
            }
            slave
        })
        .collect();
    // Known from the registry, not re-registered: only their SlaveInfo.
    let recovered_slaves: Vec<Value> = snapshot
        .agents
        .iter()
        .filter(|a| a.state == AgentState::Recovered)
        .map(|agent| {
            json!({
                "id": agent.id,
                "hostname": agent.hostname,
                "port": settings.port,
                "resources": resources_json(&agent.total),
                "attributes": {},
            })
        })
        .collect();
    let (removed, registered): (Vec<_>, Vec<_>) =
        snapshot.frameworks.iter().partition(|f| f.removed);
    let frameworks: Vec<Value> = registered.iter().map(|f| framework(snapshot, f)).collect();
    let completed: Vec<Value> = removed.iter().map(|f| framework(snapshot, f)).collect();
    let leader_info: Value =
        serde_json::from_str(&codec::to_json(&settings.master_info(&snapshot.master_id)))
            .unwrap_or(Value::Null);
    let unreachable = snapshot
        .agents
        .iter()
        .filter(|a| a.state == AgentState::Unreachable)
        .count();
    json!({
        "version": MESOS_VERSION,
        "id": snapshot.master_id,
        "pid": settings.pid(),
        "hostname": settings.hostname,
        // The leading master started when it was elected.
        "start_time": snapshot.elected_time,
        "elected_time": snapshot.elected_time,
        "leader": settings.pid(),
        "leader_info": leader_info,
        "activated_slaves": slaves.len(),
        "deactivated_slaves": 0,
        "unreachable_slaves": unreachable,
        "flags": {
            "work_dir": settings.work_dir.display().to_string(),
            "allocation_interval": format!("{}secs", settings.allocation_interval.as_secs_f64()),
            "port": settings.port.to_string(),
            "hostname": settings.hostname,
        },
        "slaves": slaves,
        "recovered_slaves": recovered_slaves,
        "frameworks": frameworks,
        "completed_frameworks": completed,
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    })
}

fn framework(snapshot: &Snapshot, framework: &FrameworkSnapshot) -> Value {
    let info = &framework.info;
    let tasks_of = |pick: &dyn Fn(&TaskSnapshot) -> bool| -> Vec<Value> {
        snapshot
            .tasks
            .iter()
            .filter(|t| t.framework_id == framework.id && pick(t))
            .map(task)
            .collect()
    };
    let used: Resources = snapshot
        .tasks
        .iter()
        .filter(|t| t.framework_id == framework.id && !t.completed && !t.unreachable)
        .filter(|t| !t.state.is_terminal())
        .map(|t| t.resources.clone())
        .sum();
    let mut offered = Resources::new();
    let offers: Vec<Value> = snapshot
        .offers
        .iter()
        .filter(|o| o.framework_id == framework.id)
        .map(|o| {
            offered += &o.resources;
            json!({
                "id": o.id,
                "framework_id": o.framework_id,
                "slave_id": o.agent_id,
                "resources": resources_json(&o.resources),
            })
        })
        .collect();
    let capabilities: Vec<&str> = info
        .capabilities
        .iter()
        .filter_map(|c| c.r#type)
        .filter_map(|t| capability::Type::try_from(t).ok())
        .map(|t| t.as_str_name())
        .collect();
    let mut value = json!({
        "id": framework.id,
        "name": info.name,
        "user": info.user,
        "hostname": info.hostname.clone().unwrap_or_default(),
        "webui_url": info.webui_url.clone().unwrap_or_default(),
        "role": info.role.clone().unwrap_or_else(|| "*".into()),
        "roles": info.roles,
        "capabilities": capabilities,
        "failover_timeout": info.failover_timeout.unwrap_or(0.0),
        "checkpoint": info.checkpoint.unwrap_or(false),
        "active": framework.connected,
        "connected": framework.connected,
        "recovered": framework.recovered,
        "registered_time": framework.registered_time,
        "unregistered_time": framework.unregistered_time.unwrap_or(0.0),
        "resources": resources_json(&used),
        "used_resources": resources_json(&used),
        "offered_resources": resources_json(&offered),
        "tasks": tasks_of(&|t| !t.completed && !t.unreachable),
        "unreachable_tasks": tasks_of(&|t| t.unreachable),
        "completed_tasks": tasks_of(&|t| t.completed),
        "offers": offers,
        "executors": master_executors(snapshot, &framework.id),
    });
    if let Some(principal) = &info.principal {
        value["principal"] = json!(principal);
    }
    value
}

fn task(task: &TaskSnapshot) -> Value {
    let statuses: Vec<Value> = task
        .statuses
        .iter()
        .map(|s| {
            let mut status = json!({
                "state": s.state().as_str_name(),
                "timestamp": s.timestamp.unwrap_or(0.0),
            });
            // What the task's health check last said (`json(TaskStatus)`
            // in `src/common/http.cpp`).
            if let Some(healthy) = s.healthy {
                status["healthy"] = json!(healthy);
            }
            status
        })
        .collect();
    let mut value = json!({
        "id": task.id,
        "name": task.name,
        "framework_id": task.framework_id,
        "executor_id": task.executor_id.clone().unwrap_or_default(),
        "slave_id": task.agent_id,
        "state": task.state.as_str_name(),
        "resources": resources_json(&task.resources),
        "role": task.role,
        "statuses": statuses,
    });
    if let Some(check) = &task.health_check {
        value["health_check"] =
            serde_json::from_str(&codec::to_json(check)).expect("a message's JSON is JSON");
    }
    value
}

/// A framework's custom executors, as the master lists them
/// (`json(JSON::ObjectWriter*, const ExecutorInfo&)` in
/// `src/common/http.cpp`, plus `slave_id`).
fn master_executors(snapshot: &Snapshot, framework_id: &str) -> Vec<Value> {
    snapshot
        .agents
        .iter()
        .filter(|a| a.active)
        .flat_map(|a| a.executors.iter().map(move |e| (a, e)))
        .filter(|(_, e)| e.framework_id == framework_id)
        .map(|(agent, executor)| {
            let info = &executor.info;
            let command = info.command.clone().unwrap_or_default();
            let uris: Vec<Value> = command
                .uris
                .iter()
                .map(|u| json!({"value": u.value, "executable": u.executable.unwrap_or(false)}))
                .collect();
            let mut command_json = json!({
                "value": command.value,
                "argv": command.arguments,
                "uris": uris,
            });
            if let Some(shell) = command.shell {
                command_json["shell"] = json!(shell);
            }
            let mut value = json!({
                "executor_id": executor.id,
                "name": info.name.clone().unwrap_or_default(),
                "framework_id": executor.framework_id,
                "command": command_json,
                "resources": resources_json(&executor.resources),
                "slave_id": agent.id,
            });
            add_executor_type(&mut value, info);
            value
        })
        .collect()
}

/// `type`, when the ExecutorInfo has one.
fn add_executor_type(value: &mut Value, info: &crate::v1::ExecutorInfo) {
    if let Some(kind) = info
        .r#type
        .and_then(|t| crate::v1::executor_info::Type::try_from(t).ok())
    {
        value["type"] = json!(kind.as_str_name());
    }
}

/// The executors of one framework's tasks on an agent, as the agent's
/// `ExecutorWriter` shows them (`src/slave/http.cpp`): running ones and
/// completed ones. Each has its sandbox as `directory`, the path to read
/// its files with `/files/read` (`files.rs`); its running tasks are in
/// `tasks`, its ended ones in `completed_tasks`, and a custom executor's
/// tasks it has not been sent yet in `queued_tasks`.
fn executors(tasks: &[&TaskSnapshot], custom: &[&ExecutorSnapshot]) -> (Vec<Value>, Vec<Value>) {
    // A command task has an executor of its own, named after it; the tasks
    // of a group share theirs, and so do a custom executor's. One run of an
    // executor is one directory.
    let mut runs: Vec<(String, PathBuf, Vec<&TaskSnapshot>)> = custom
        .iter()
        .map(|e| (e.id.clone(), e.directory.clone(), Vec::new()))
        .collect();
    // The runs of default executors (task groups).
    let mut groups = Vec::new();
    for t in tasks {
        let Some(sandbox) = &t.sandbox else { continue };
        let run_directory = sandbox
            .parent()
            .is_some_and(|p| p.file_name().is_some_and(|name| name == "runs"));
        let (id, directory) = match &t.executor_id {
            // A custom executor's task writes into its executor's sandbox.
            Some(id) if run_directory => (id.clone(), sandbox.clone()),
            // A group task's sandbox is `<executor sandbox>/tasks/<id>`.
            Some(id) => match sandbox.parent().and_then(|p| p.parent()) {
                Some(directory) => {
                    groups.push(directory.to_path_buf());
                    (id.clone(), directory.to_path_buf())
                }
                None => continue,
            },
            None => (t.id.clone(), sandbox.clone()),
        };
        match runs
            .iter_mut()
            .find(|(i, d, _)| *i == id && *d == directory)
        {
            Some((_, _, run)) => run.push(t),
            None => runs.push((id, directory, vec![t])),
        }
    }
    let (mut live, mut done) = (Vec::new(), Vec::new());
    for (id, directory, run) in runs {
        let executor = custom
            .iter()
            .find(|e| e.id == id && e.directory == directory);
        let queued = |t: &&TaskSnapshot| executor.is_some_and(|e| e.queued_tasks.contains(&t.id));
        let (waiting, run): (Vec<&TaskSnapshot>, Vec<&TaskSnapshot>) =
            run.into_iter().partition(queued);
        let (running, ended): (Vec<&TaskSnapshot>, Vec<&TaskSnapshot>) =
            run.iter().partition(|t| !t.state.is_terminal());
        let command_task = run.iter().find(|t| t.executor_id.is_none());
        // `Executor::allocatedResources`: queued tasks count too.
        let mut resources: Resources = running
            .iter()
            .chain(&waiting)
            .map(|t| t.resources.clone())
            .sum();
        let (name, source) = match (executor, command_task) {
            (Some(e), _) => {
                resources += &e.resources;
                (
                    e.info.name.clone().unwrap_or_default(),
                    // Mesos' deprecated `ExecutorInfo.source`, not in this proto.
                    String::new(),
                )
            }
            (None, Some(t)) => (format!("Command Executor (Task: {})", t.id), t.id.clone()),
            (None, None) => Default::default(),
        };
        let mut value = json!({
            "id": id,
            "name": name,
            "source": source,
            // The container ID is the name of the run's directory.
            "container": directory
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            "directory": directory.display().to_string(),
            "resources": resources_json(&resources),
            "tasks": running.into_iter().map(task).collect::<Vec<_>>(),
            "queued_tasks": waiting.into_iter().map(task).collect::<Vec<_>>(),
            "completed_tasks": ended.into_iter().map(task).collect::<Vec<_>>(),
        });
        if let Some(executor) = executor {
            add_executor_type(&mut value, &executor.info);
        } else if groups.contains(&directory) {
            // LAUNCH_GROUP requires a DEFAULT executor: its tasks have
            // sandboxes of their own inside the executor's.
            value["type"] = json!("DEFAULT");
        }
        // A custom executor lives until its process ends, tasks or not.
        if executor.is_some() || run.iter().any(|t| !t.state.is_terminal()) {
            live.push(value);
        } else {
            done.push(value);
        }
    }
    (live, done)
}

/// An agent's `/slave(N)/state`, or `None` if no such agent.
pub(crate) fn agent(snapshot: &Snapshot, settings: &Settings, process: &str) -> Option<Value> {
    let agent = snapshot
        .agents
        .iter()
        .find(|a| a.pid.split('@').next() == Some(process) && a.active)?;
    let mut frameworks = Vec::new();
    for framework in &snapshot.frameworks {
        let tasks: Vec<&TaskSnapshot> = snapshot
            .tasks
            .iter()
            .filter(|t| t.framework_id == framework.id && t.agent_id == agent.id && !t.unreachable)
            .collect();
        let custom: Vec<&ExecutorSnapshot> = agent
            .executors
            .iter()
            .filter(|e| e.framework_id == framework.id)
            .collect();
        if tasks.is_empty() && custom.is_empty() {
            continue;
        }
        let (live, done) = executors(&tasks, &custom);
        frameworks.push(json!({
            "id": framework.id,
            "name": framework.info.name,
            "user": framework.info.user,
            "role": framework.info.role.clone().unwrap_or_else(|| "*".into()),
            "checkpoint": framework.info.checkpoint.unwrap_or(false),
            "failover_timeout": framework.info.failover_timeout.unwrap_or(0.0),
            "executors": live,
            "completed_executors": done,
        }));
    }
    Some(json!({
        "version": MESOS_VERSION,
        "id": agent.id,
        "pid": agent.pid,
        "hostname": agent.hostname,
        "resources": resources_json(&agent.total),
        "attributes": {},
        "master_hostname": settings.hostname,
        "start_time": agent.registered_time,
        "flags": {
            "work_dir": settings.work_dir.display().to_string(),
            "resources": agent.total.to_string(),
            "master": settings.pid(),
        },
        "frameworks": frameworks,
        "completed_frameworks": [],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_as_the_state_endpoint_shows_them() {
        let resources = Resources::parse(
            "cpus:1.5;cpus(web):0.5;mem:2048;ports:[31000-31005,32000-32000];s:{a,b}",
        )
        .unwrap();
        assert_eq!(
            resources_json(&resources),
            json!({
                "cpus": 2.0,
                "gpus": 0.0,
                "mem": 2048.0,
                "disk": 0.0,
                "ports": "[31000-31005, 32000-32000]",
                "s": "{a, b}",
            })
        );
        assert_eq!(
            resources_json(&Resources::new()),
            json!({"cpus": 0.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0})
        );
    }
}
