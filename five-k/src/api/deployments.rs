//! `/v2/deployments`: what is changing, and cancelling a change.

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::Value;

use super::{Api, apps::submitted_response, error::ApiError, query::Query};

/// `GET /v2/deployments`: a bare array, as marathon-python expects.
pub async fn list(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    let deployments = api
        .core
        .run(|scheduler| {
            scheduler
                .deployments()
                .map(|d| d.to_json())
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(Json(Value::Array(deployments)))
}

/// `DELETE /v2/deployments/{id}`: rolls back (a new deployment), or with
/// `force=true` only stops it (202, no body).
pub async fn cancel(
    State(api): State<Api>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let force = Query::parse(raw.as_deref()).flag("force", false)?;
    let rollback = api
        .core
        .run(move |scheduler| scheduler.cancel_deployment(&id, force))
        .await??;
    Ok(match rollback {
        Some(submitted) => submitted_response(StatusCode::OK, submitted),
        None => StatusCode::ACCEPTED.into_response(),
    })
}
