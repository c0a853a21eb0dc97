//! `/v2/tasks` and `/v2/apps/{id}/tasks`: listing tasks, and killing
//! them with or without scaling their app down
//! (`TasksResource.scala`, `AppTasksResource.scala`).

use axum::{
    Json,
    extract::{RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    Api,
    apps::submitted_response,
    body::{self, Body},
    error::ApiError,
    query::Query,
    views,
};
use crate::{
    app::PathId,
    scheduler::{Submitted, task::Task, unknown_app},
};

/// `GET /v2/tasks`, `?status=running|staging` (repeatable, also as
/// `status[]`) keeping only tasks in those states; other values are
/// ignored, as Marathon does.
pub async fn list(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let mut running = false;
    let mut staging = false;
    for status in query.all("status").chain(query.all("status[]")) {
        match status.to_lowercase().as_str() {
            "running" => running = true,
            "staging" => staging = true,
            _ => {}
        }
    }
    let wanted = move |task: &Task| {
        (!running && !staging) || (running && task.is_running()) || (staging && !task.is_running())
    };
    let tasks = api
        .core
        .run(move |scheduler| {
            let scheduler = &*scheduler;
            scheduler
                .tasks()
                .all()
                .filter(|task| wanted(task))
                .map(|task| views::checked_task(scheduler, task))
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(Json(json!({ "tasks": tasks })))
}

/// `GET /v2/apps/{id}/tasks`.
pub async fn of_app(api: Api, id: PathId) -> Result<Json<Value>, ApiError> {
    api.core
        .run(move |scheduler| {
            scheduler.app(&id).ok_or_else(|| unknown_app(&id))?;
            let scheduler = &*scheduler;
            let tasks: Vec<Value> = scheduler
                .tasks()
                .of_app(&id)
                .map(|task| views::checked_task(scheduler, task))
                .collect();
            Ok(Json(json!({ "tasks": tasks })))
        })
        .await?
}

/// `GET /v2/apps/{group}/*/tasks`: the tasks of every app under a group
/// (`AppTasksResource.indexJson`).
pub async fn of_group(api: Api, group: PathId) -> Result<Json<Value>, ApiError> {
    api.core
        .run(move |scheduler| {
            let scheduler = &*scheduler;
            let apps = super::apps::in_group(scheduler, &group)?;
            let tasks: Vec<Value> = apps
                .into_iter()
                .flat_map(|entry| scheduler.tasks().of_app(&entry.app.id))
                .map(|task| views::checked_task(scheduler, task))
                .collect();
            Ok(Json(json!({ "tasks": tasks })))
        })
        .await?
}

/// What a kill asks for besides the tasks.
struct KillOptions {
    /// Lower the app's instances by the tasks killed.
    scale: bool,
    /// Change an app under deployment all the same.
    force: bool,
}

impl KillOptions {
    /// `scale`, `force` (false by default) and `wipe`. `wipe` forgets a
    /// task's reservation; 5K reserves nothing, so it is an ordinary kill,
    /// but Marathon's refusal of both at once is kept.
    fn parse(query: &Query) -> Result<KillOptions, ApiError> {
        let scale = query.flag("scale", false)?;
        let force = query.flag("force", false)?;
        let wipe = query.flag("wipe", false)?;
        if scale && wipe {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "You cannot use scale and wipe at the same time.",
            ));
        }
        Ok(KillOptions { scale, force })
    }
}

/// `DELETE /v2/apps/{id}/tasks?host=` (every task of the app, or those on
/// one host, `*` for any) and `DELETE /v2/apps/{id}/tasks/{taskId}`.
pub async fn kill_of_app(
    api: Api,
    id: PathId,
    task_id: Option<String>,
    query: &Query,
) -> Result<Response, ApiError> {
    let KillOptions { scale, force } = KillOptions::parse(query)?;
    let host = query.get("host").map(str::to_string);
    api.core
        .run(move |scheduler| {
            scheduler.app(&id).ok_or_else(|| unknown_app(&id))?;
            let ids: Vec<String> = scheduler
                .tasks()
                .of_app(&id)
                .filter(|task| task_id.as_ref().is_none_or(|wanted| &task.id == wanted))
                .filter(|task| matching_host(task, host.as_deref()))
                .map(|task| task.id.clone())
                .collect();
            let Some(task_id) = task_id else {
                let (killed, submitted) = scheduler.kill_tasks(&ids, scale, force)?;
                return Ok(kill_response(&killed, submitted, "tasks"));
            };
            // A task of another app is no task of this one.
            if ids.is_empty() {
                return Err(ApiError::not_found(format!(
                    "Task '{task_id}' does not exist"
                )));
            }
            let (killed, submitted) = scheduler.kill_tasks(&ids, scale, force)?;
            Ok(kill_response(&killed, submitted, "task"))
        })
        .await?
}

#[derive(Deserialize)]
struct TaskIds {
    ids: Vec<String>,
}

/// `POST /v2/tasks/delete?scale=&force=&wipe=` with `{"ids": […]}`. Ids of
/// tasks that ended already are ignored; an id that cannot be a task's
/// is a 400 (`TasksResource.killTasks`).
pub async fn delete(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let KillOptions { scale, force } = KillOptions::parse(&Query::parse(raw.as_deref()))?;
    let TaskIds { ids } = body::parse(&body)?;
    if let Some(bad) = ids.iter().find(|id| !is_task_id(id)) {
        // Marathon's words, the Scala MatchError's included.
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("Invalid task id '{bad}'. [{bad} (of class java.lang.String)]"),
        ));
    }
    api.core
        .run(move |scheduler| {
            let known: Vec<String> = ids
                .into_iter()
                .filter(|id| scheduler.tasks().get(id).is_some())
                .collect();
            let (killed, submitted) = scheduler.kill_tasks(&known, scale, force)?;
            Ok(kill_response(&killed, submitted, "tasks"))
        })
        .await?
}

/// `<app path with / as _>.<uuid>`: something before the last dot and
/// something after it (Marathon's legacy `Task.Id` pattern).
fn is_task_id(id: &str) -> bool {
    id.rsplit_once('.')
        .is_some_and(|(app, uuid)| !app.is_empty() && !uuid.is_empty())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_id_names_an_app_and_a_unique_part() {
        assert!(is_task_id("shop_web.0b7e1d6a-8c1f-4a57-9f0e-3c2a1b0d9e8f"));
        assert!(is_task_id("a.b.c"));
        for bad in ["", "web", ".uuid", "web."] {
            assert!(!is_task_id(bad), "{bad}");
        }
    }

    #[test]
    fn scale_and_wipe_exclude_each_other() {
        let refused = KillOptions::parse(&Query::parse(Some("scale=true&wipe=TRUE")));
        assert_eq!(refused.err().unwrap().status, StatusCode::BAD_REQUEST);
        let options = KillOptions::parse(&Query::parse(Some("wipe=true"))).unwrap();
        assert!(!options.scale && !options.force);
    }
}
