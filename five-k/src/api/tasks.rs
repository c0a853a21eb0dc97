//! `/v2/tasks`: every task, and killing tasks by id.

use axum::{
    Json,
    body::Bytes,
    extract::{RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Api, apps::submitted_response, body, error::ApiError, query::Query, views};
use crate::{
    app::PathId,
    scheduler::{Submitted, task::Task, unknown_app},
};

/// `GET /v2/tasks`.
pub async fn list(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    let tasks = api
        .core
        .run(|scheduler| scheduler.tasks().all().map(views::task).collect::<Vec<_>>())
        .await?;
    Ok(Json(json!({ "tasks": tasks })))
}

/// `GET /v2/apps/{id}/tasks`.
pub async fn of_app(api: Api, id: PathId) -> Result<Json<Value>, ApiError> {
    api.core
        .run(move |scheduler| {
            scheduler.app(&id).ok_or_else(|| unknown_app(&id))?;
            let tasks: Vec<Value> = scheduler.tasks().of_app(&id).map(views::task).collect();
            Ok(Json(json!({ "tasks": tasks })))
        })
        .await?
}

#[derive(Deserialize)]
struct TaskIds {
    ids: Vec<String>,
}

/// `POST /v2/tasks/delete?scale=` with `{"ids": […]}`.
pub async fn delete(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw.as_deref());
    let scale = query.flag("scale", false)?;
    let force = query.flag("force", false)?;
    let _wipe = query.flag("wipe", false)?;
    let TaskIds { ids } = body::parse(&body)?;
    api.core
        .run(move |scheduler| {
            let (killed, submitted) = scheduler.kill_tasks(&ids, scale, force)?;
            Ok(kill_response(&killed, submitted, "tasks"))
        })
        .await?
}

/// What a kill answers: the tasks killed, or with `scale` the deployment
/// that lowered the instance count (`AppTasksResource.scala`).
pub fn kill_response(killed: &[Task], submitted: Vec<Submitted>, key: &str) -> Response {
    if let Some(submitted) = submitted.into_iter().next() {
        return submitted_response(StatusCode::OK, submitted);
    }
    let tasks: Vec<Value> = killed.iter().map(views::task).collect();
    let body = match (key, tasks.as_slice()) {
        ("task", [task]) => json!({ "task": task }),
        _ => json!({ "tasks": tasks }),
    };
    Json(body).into_response()
}

/// The `host=` filter of a kill.
pub fn matching_host(task: &Task, host: Option<&str>) -> bool {
    host.is_none_or(|host| host == "*" || task.host == host)
}
