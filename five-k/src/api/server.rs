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
    Ok(Json(json!({
        "name": "five-k",
        "version": env!("CARGO_PKG_VERSION"),
        "buildref": concat!("five-k ", env!("CARGO_PKG_VERSION")),
        "elected": true,
        "leader": settings.advertised,
        "frameworkId": framework_id,
        "marathon_config": {
            "master": settings.master,
            "framework_name": settings.framework_name,
            "hostname": settings.hostname,
            "ha": settings.zk.is_some(),
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

/// `GET /v2/leader`: this instance, the only one without `--zk`.
pub async fn leader(State(api): State<Api>) -> Json<Value> {
    Json(json!({ "leader": api.settings.advertised }))
}

/// `DELETE /v2/leader`: without ZooKeeper there is no election to leave.
pub async fn abdicate(State(api): State<Api>) -> Response {
    if api.settings.zk.is_none() {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "5K runs without --zk: it is the only instance and cannot abdicate",
        )
        .into_response();
    }
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "leader election is not implemented yet",
    )
    .into_response()
}
