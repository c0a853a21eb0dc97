//! `/ping`, `/v2/info` and `/v2/leader`: is 5K there, who leads, how it is
//! configured.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{Api, error::ApiError};
use crate::ha::Who;

pub async fn ping() -> &'static str {
    "pong"
}

/// `GET /v2/info`. marathon-python requires the three `*_config` objects;
/// their keys are a subset of Marathon 1.7's, each one the client knows.
pub async fn info(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    let framework_id = api
        .core
        .run(|scheduler| scheduler.framework_id().map(|id| id.value.clone()))
        .await?;
    let settings = &api.settings;
    // Answered by the leader (standbys forward it), so: elected, and it
    // leads.
    Ok(Json(json!({
        "name": "five-k",
        "version": env!("CARGO_PKG_VERSION"),
        "buildref": concat!("five-k ", env!("CARGO_PKG_VERSION")),
        "elected": true,
        "leader": api.leadership.me,
        "frameworkId": framework_id,
        "marathon_config": {
            "master": settings.master,
            "framework_name": settings.framework_name,
            "hostname": settings.hostname,
            "ha": api.leadership.is_highly_available(),
            "checkpoint": true,
            "failover_timeout": settings.failover_timeout_seconds,
            "mesos_user": settings.user,
            "mesos_role": "*",
            "local_port_min": crate::scheduler::service_ports::FIRST,
            "local_port_max": crate::scheduler::service_ports::LAST,
        },
        "zookeeper_config": {
            "zk": settings.zk,
        },
        "http_config": {
            "http_port": settings.http_port,
        },
    })))
}

/// `GET /v2/leader`, answered by any instance from what it knows of the
/// election (`LeaderResource.scala`).
pub async fn leader(State(api): State<Api>) -> Response {
    match api.leadership.who() {
        Who::Me => Json(json!({ "leader": api.leadership.me })).into_response(),
        Who::Other(leader) => Json(json!({ "leader": leader })).into_response(),
        Who::Unknown => ApiError::not_found("There is no leader").into_response(),
    }
}

/// `DELETE /v2/leader`: the leader gives up leadership; another instance
/// takes over, and this one stands by.
pub async fn abdicate(State(api): State<Api>) -> Response {
    match &api.abdicate {
        Some(abdicate) => {
            abdicate();
            Json(json!({ "message": "Leadership abdicated" })).into_response()
        }
        None => ApiError::new(
            StatusCode::BAD_REQUEST,
            "5K runs without --zk: it is the only instance and cannot abdicate",
        )
        .into_response(),
    }
}
