//! The JSON clients read: apps with their counts, tasks, deployments.
//!
//! marathon-python builds its objects with `cls(**json)`: a key it does
//! not know is a crash, so only the keys of Marathon 1.7's `App` and
//! `Task` appear here, each one checked by the client test.

use mesos::v1::TaskState;
use serde_json::{Value, json};

use super::query::Embed;
use crate::scheduler::{AppEntry, Scheduler, task::Task};

/// An app as `GET /v2/apps` shows it.
pub fn app(scheduler: &Scheduler, entry: &AppEntry, embed: Embed) -> Value {
    let app_id = &entry.app.id;
    let mut json = serde_json::to_value(&entry.app).expect("an app serializes");
    let (mut staged, mut running, mut healthy, mut unhealthy) = (0, 0, 0, 0);
    for task in scheduler.tasks().of_app(app_id) {
        match task.state {
            TaskState::TaskRunning => running += 1,
            _ => staged += 1,
        }
        match task.healthy {
            Some(true) => healthy += 1,
            Some(false) => unhealthy += 1,
            None => {}
        }
    }
    json["tasksStaged"] = json!(staged);
    json["tasksRunning"] = json!(running);
    json["tasksHealthy"] = json!(healthy);
    json["tasksUnhealthy"] = json!(unhealthy);
    json["deployments"] = scheduler
        .deployments_of(app_id)
        .map(|d| json!({"id": d.id}))
        .collect();
    if embed.tasks {
        json["tasks"] = scheduler
            .tasks()
            .of_app(app_id)
            .map(|t| checked_task(scheduler, t))
            .collect();
    }
    if embed.last_task_failure {
        if let Some(failure) = &entry.last_task_failure {
            json["lastTaskFailure"] = json!(failure);
        }
    }
    json
}

/// A task as `GET /v2/tasks` shows it.
pub fn task(task: &Task) -> Value {
    let mut json = json!({
        "id": task.id,
        "appId": task.app_id.to_string(),
        "host": task.host,
        "ports": task.ports,
        "servicePorts": task.service_ports,
        "slaveId": task.agent_id,
        "stagedAt": task.staged_at,
        "state": task.state.as_str_name(),
        "version": task.version,
        "ipAddresses": [],
        // No task reserves volumes.
        "healthCheckResults": [],
        "localVolumes": [],
    });
    if let Some(started_at) = &task.started_at {
        json["startedAt"] = json!(started_at);
    }
    json
}

/// A task with what its health checks found, one result per check that
/// has one (Marathon's `HealthWrites`; marathon-python reads `taskId` and
/// `instanceId` alike: here both are the task's id).
pub fn checked_task(scheduler: &Scheduler, t: &Task) -> Value {
    let mut json = task(t);
    if let Some(records) = scheduler.health_records(&t.id) {
        json["healthCheckResults"] = records
            .values()
            .map(|health| {
                let mut result = json!(health);
                result["alive"] = json!(health.alive());
                result["taskId"] = json!(t.id);
                result["instanceId"] = json!(t.id);
                result
            })
            .collect();
    }
    json
}
