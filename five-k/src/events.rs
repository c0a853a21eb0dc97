//! Marathon's event bus: what happened, as it happens.
//!
//! Tools around Marathon (load balancers, dashboards, deploy scripts)
//! follow `GET /v2/events` instead of polling: a server-sent event for
//! every status update, deployment and API change. The events here have
//! Marathon 1.7's names and fields, which marathon-python parses (it
//! raises on an `eventType` it does not know, so 5K sends none other).
//!
//! The scheduler makes events; [`EventBus`] hands them to every
//! subscriber. A subscriber that reads too slowly falls behind the bus's
//! buffer and is dropped (its stream ends), so one stuck client can never
//! make 5K's memory grow.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::{
    app::{App, HealthCheck},
    scheduler::{deployment::Deployment, task::Task},
};

/// How many events a subscriber may fall behind before it is dropped.
pub const SUBSCRIBER_BUFFER: usize = 4096;

/// One event, serialized once for every subscriber.
#[derive(Clone, Debug)]
pub struct Event {
    pub event_type: &'static str,
    pub json: Arc<str>,
}

impl Event {
    fn new(event_type: &'static str, timestamp: &str, mut body: Value) -> Event {
        body["eventType"] = json!(event_type);
        body["timestamp"] = json!(timestamp);
        Event {
            event_type,
            json: body.to_string().into(),
        }
    }

    pub fn stream_attached(timestamp: &str, remote_address: &str) -> Event {
        Event::new(
            "event_stream_attached",
            timestamp,
            json!({"remoteAddress": remote_address}),
        )
    }

    pub fn stream_detached(timestamp: &str, remote_address: &str) -> Event {
        Event::new(
            "event_stream_detached",
            timestamp,
            json!({"remoteAddress": remote_address}),
        )
    }

    /// A client changed an app through the API.
    pub fn api_post(timestamp: &str, client_ip: &str, uri: &str, app: &App) -> Event {
        Event::new(
            "api_post_event",
            timestamp,
            json!({"clientIp": client_ip, "uri": uri, "appDefinition": app}),
        )
    }

    pub fn status_update(timestamp: &str, update: StatusUpdate<'_>) -> Event {
        Event::new(
            "status_update_event",
            timestamp,
            json!({
                "slaveId": update.agent_id,
                "taskId": update.task_id,
                "taskStatus": update.state,
                "message": update.message,
                "appId": update.app_id,
                "host": update.host,
                "ipAddresses": [],
                "ports": update.ports,
                "version": update.version,
            }),
        )
    }

    pub fn deployment_info(timestamp: &str, deployment: &Deployment) -> Event {
        Event::new(
            "deployment_info",
            timestamp,
            json!({"plan": deployment.plan_json(), "currentStep": deployment.current_step_json()}),
        )
    }

    pub fn deployment_step_success(timestamp: &str, deployment: &Deployment) -> Event {
        Event::new(
            "deployment_step_success",
            timestamp,
            json!({"plan": deployment.plan_json(), "currentStep": deployment.current_step_json()}),
        )
    }

    pub fn deployment_success(timestamp: &str, deployment: &Deployment) -> Event {
        Event::new(
            "deployment_success",
            timestamp,
            json!({"id": deployment.id, "plan": deployment.plan_json()}),
        )
    }

    pub fn deployment_failed(timestamp: &str, deployment: &Deployment) -> Event {
        Event::new(
            "deployment_failed",
            timestamp,
            json!({"id": deployment.id, "plan": deployment.plan_json()}),
        )
    }

    /// A health check of 5K (or the agent) failed (Marathon's
    /// `FailedHealthCheck`; its `taskId` is the instance's id, here the
    /// task's: 5K's instances are single tasks).
    pub fn failed_health_check(timestamp: &str, task: &Task, check: &HealthCheck) -> Event {
        Event::new(
            "failed_health_check_event",
            timestamp,
            json!({
                "appId": task.app_id.to_string(),
                "taskId": task.id,
                "instanceId": task.id,
                "healthCheck": check,
            }),
        )
    }

    /// A task became healthy, or stopped being (`HealthStatusChanged`).
    pub fn health_status_changed(timestamp: &str, task: &Task, alive: bool) -> Event {
        Event::new(
            "health_status_changed_event",
            timestamp,
            json!({
                "appId": task.app_id.to_string(),
                "taskId": task.id,
                "instanceId": task.id,
                "version": task.version,
                "alive": alive,
            }),
        )
    }

    /// A task that failed its health checks is killed
    /// (`UnhealthyInstanceKillEvent`).
    pub fn unhealthy_instance_kill(timestamp: &str, task: &Task, reason: &str) -> Event {
        Event::new(
            "unhealthy_instance_kill_event",
            timestamp,
            json!({
                "appId": task.app_id.to_string(),
                "taskId": task.id,
                "instanceId": task.id,
                "version": task.version,
                "reason": reason,
                "host": task.host,
                "slaveId": task.agent_id,
            }),
        )
    }

    pub fn app_terminated(timestamp: &str, app_id: &str) -> Event {
        Event::new("app_terminated_event", timestamp, json!({"appId": app_id}))
    }
}

/// The fields of a status update event.
pub struct StatusUpdate<'a> {
    pub agent_id: &'a str,
    pub task_id: &'a str,
    pub state: &'a str,
    pub message: &'a str,
    pub app_id: &'a str,
    pub host: &'a str,
    pub ports: &'a [u64],
    pub version: &'a str,
}

/// Hands every event to every subscriber.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            sender: broadcast::channel(SUBSCRIBER_BUFFER).0,
        }
    }
}

impl EventBus {
    pub fn publish(&self, event: Event) {
        // No subscriber is no error: nobody is listening.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}
