//! `/v2/apps`: create, list, show, change, restart and delete apps, and
//! list or kill an app's tasks.
//!
//! An app id is a path, so one route takes everything after `/v2/apps/`
//! and the last words tell what is meant (`/shop/web/tasks`,
//! `/shop/web/versions/<v>`, `/shop/web/restart`): Marathon forbids those
//! words as an app's last segment, so the reading is unambiguous.

use axum::{
    Json,
    body::Bytes,
    extract::{ConnectInfo, Path, RawQuery, State},
    http::{HeaderValue, StatusCode, header::LOCATION},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use std::net::SocketAddr;

use super::{
    Api,
    body::{self, Body},
    error::ApiError,
    label_selector::LabelSelector,
    query::{Embed, Query},
    views,
};
use crate::{
    app::{AppRequest, PathId},
    events::Event,
    scheduler::{AppEntry, Scheduler, Submitted, unknown_app},
};

/// The header Marathon names a change's deployment in.
const DEPLOYMENT_HEADER: &str = "Marathon-Deployment-Id";

/// `GET /v2/apps`.
pub async fn list(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let embed = Embed::parse(&query);
    // `cmd` and `id` match any part of the text, in any case
    // (`AppsResource.search`).
    let cmd = query.get("cmd").map(str::to_lowercase);
    let id = query.get("id").map(str::to_lowercase);
    let label = query.get("label").map(LabelSelector::parse).transpose()?;
    let apps = api
        .core
        .run(move |scheduler| {
            scheduler
                .apps()
                .filter(|entry| {
                    let app = &entry.app;
                    let contains = |text: &str, part: &str| text.to_lowercase().contains(part);
                    cmd.as_deref()
                        .is_none_or(|c| app.cmd.as_deref().is_some_and(|cmd| contains(cmd, c)))
                        && id
                            .as_deref()
                            .is_none_or(|i| contains(&app.id.to_string(), i))
                        && label.as_ref().is_none_or(|l| l.matches(&app.labels))
                })
                .map(|entry| views::app(scheduler, entry, embed))
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(Json(json!({ "apps": apps })))
}

/// `POST /v2/apps`: 201 with the app as `GET` would show it, its counts
/// zero, no tasks yet and its deployment (`AppsResource.create`).
pub async fn create(
    State(api): State<Api>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    RawQuery(raw): RawQuery,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let force = Query::parse(raw.as_deref()).flag("force", false)?;
    let request: AppRequest = body::parse(&body)?;
    let client_ip = client.ip().to_string();
    let (app, submitted) = api
        .core
        .run(move |scheduler| {
            let (app, submitted) = scheduler.create_app(request, force)?;
            let event = Event::api_post(
                &crate::time::format(scheduler.now),
                &client_ip,
                "/v2/apps",
                &app,
            );
            scheduler.publish_event(event);
            let entry = scheduler.app(&app.id).expect("just created").clone();
            let embed = Embed {
                tasks: true,
                last_task_failure: false,
            };
            let json = views::app(scheduler, &entry, embed);
            Ok::<_, ApiError>((json, submitted))
        })
        .await??;
    let location = location(app["id"].as_str().unwrap_or_default());
    let mut response = (StatusCode::CREATED, Json(app)).into_response();
    response.headers_mut().insert(LOCATION, header(&location));
    response
        .headers_mut()
        .insert(DEPLOYMENT_HEADER, header(&submitted.deployment_id));
    Ok(response)
}

/// `GET /v2/apps/{id}`, `…/tasks`, `…/versions`, `…/versions/{version}`,
/// and `/v2/apps/{group}/*[/tasks]` (every app, or task, under a group).
pub async fn get(
    State(api): State<Api>,
    Path(path): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [group @ .., "*", "tasks"] => super::tasks::of_group(api, join(group)).await,
        [app @ .., "tasks"] => super::tasks::of_app(api, join(app)).await,
        [app @ .., "versions"] => super::versions::list(api, join(app)).await,
        [app @ .., "versions", version] => {
            super::versions::show(api, join(app), version.to_string()).await
        }
        [group @ .., "*"] => of_group(api, join(group)).await,
        _ => show(api, PathId::parse(&path)).await,
    }
}

/// One app, always with its counts, tasks, deployments and last failure:
/// `embed` is ignored (`AppsResource.show`).
async fn show(api: Api, id: PathId) -> Result<Json<Value>, ApiError> {
    api.core
        .run(move |scheduler| {
            let entry = scheduler.app(&id).ok_or_else(|| unknown_app(&id))?;
            let app = views::app(scheduler, entry, Embed::everything());
            Ok(Json(json!({ "app": app })))
        })
        .await?
}

/// `GET /v2/apps/{group}/*`: `{"*": [apps]}`.
async fn of_group(api: Api, group: PathId) -> Result<Json<Value>, ApiError> {
    api.core
        .run(move |scheduler| {
            let apps: Vec<Value> = in_group(scheduler, &group)?
                .into_iter()
                .map(|entry| views::app(scheduler, entry, Embed::everything()))
                .collect();
            Ok(Json(json!({ "*": apps })))
        })
        .await?
}

/// The apps under `group`, at any depth. 5K keeps no groups of their own:
/// a group exists while an app is under it (the root always).
pub fn in_group<'a>(
    scheduler: &'a Scheduler,
    group: &PathId,
) -> Result<Vec<&'a AppEntry>, ApiError> {
    let apps: Vec<&AppEntry> = scheduler
        .apps()
        .filter(|entry| entry.app.id.segments().starts_with(group.segments()))
        .collect();
    if apps.is_empty() && !group.segments().is_empty() {
        return Err(ApiError::not_found(format!(
            "Group '{group}' does not exist"
        )));
    }
    Ok(apps)
}

/// `PUT /v2/apps/{id}`: a partial update (or a rollback, or a creation).
pub async fn update(
    State(api): State<Api>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    change(api, path, raw, client, body, true).await
}

/// `PATCH /v2/apps/{id}`: a partial update of an app that exists.
pub async fn patch(
    State(api): State<Api>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    change(api, path, raw, client, body, false).await
}

/// A `PUT` or `PATCH` (`AppsResource.update`).
async fn change(
    api: Api,
    path: String,
    raw: Option<String>,
    client: SocketAddr,
    body: Bytes,
    allow_creation: bool,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw.as_deref());
    let force = query.flag("force", false)?;
    let partial = query.flag("partialUpdate", true)?;
    let mut request: AppRequest = body::parse(&body)?;
    // `partialUpdate=false` (PUT only): what the body leaves out takes its
    // default instead of keeping its value.
    request.replace = allow_creation && !partial;
    let id = PathId::parse(&path);
    if let Err(error) = id.validate() {
        return Err(ApiError::invalid_json(vec![
            crate::app::validate::Violation::new("/id", error.0),
        ]));
    }
    let client_ip = client.ip().to_string();
    let uri = format!("/v2/apps{id}");
    let id_text = id.to_string();
    let (submitted, created) = api
        .core
        .run(move |scheduler| {
            if !allow_creation && scheduler.app(&id).is_none() {
                return Err(unknown_app(&id).into());
            }
            let (submitted, created) = scheduler.update_app(&id, request, force)?;
            if let Some(entry) = scheduler.app(&id) {
                let event = Event::api_post(
                    &crate::time::format(scheduler.now),
                    &client_ip,
                    &uri,
                    &entry.app.clone(),
                );
                scheduler.publish_event(event);
            }
            Ok::<_, ApiError>((submitted, created))
        })
        .await??;
    if !created {
        return Ok(submitted_response(StatusCode::OK, submitted));
    }
    // A PUT that creates answers as a POST does: 201 and where the app is
    // (`AppsResource.update`), but with the deployment, not the app.
    let mut response = submitted_response(StatusCode::CREATED, submitted);
    response
        .headers_mut()
        .insert(LOCATION, header(&location(&id_text)));
    Ok(response)
}

/// `DELETE /v2/apps/{id}`, `…/tasks`, `…/tasks/{taskId}`.
pub async fn delete(
    State(api): State<Api>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw.as_deref());
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [app @ .., "tasks"] => super::tasks::kill_of_app(api, join(app), None, &query).await,
        [app @ .., "tasks", task_id] => {
            let task_id = Some(task_id.to_string());
            super::tasks::kill_of_app(api, join(app), task_id, &query).await
        }
        _ => {
            // Deleting an app needs no `?force` since Marathon 1.5: the
            // deployments changing it are pointless now (`AppsResource.delete`).
            let force = query.flag("force", true)?;
            let id = PathId::parse(&path);
            let submitted = api
                .core
                .run(move |scheduler| scheduler.delete_app(&id, force))
                .await??;
            Ok(submitted_response(StatusCode::OK, submitted))
        }
    }
}

/// `POST /v2/apps/{id}/restart`. Unlike a delete, a restart of an app
/// under deployment needs `?force=true` (`AppsResource.restart`).
pub async fn restart(
    State(api): State<Api>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let [app @ .., "restart"] = segments.as_slice() else {
        return Err(super::error::method_not_allowed().await);
    };
    let force = Query::parse(raw.as_deref()).flag("force", false)?;
    let id = join(app);
    let submitted = api
        .core
        .run(move |scheduler| scheduler.restart_app(&id, force))
        .await??;
    Ok(submitted_response(StatusCode::OK, submitted))
}

/// `{"version", "deploymentId"}` with the deployment's header.
pub fn submitted_response(status: StatusCode, submitted: Submitted) -> Response {
    let id = submitted.deployment_id.clone();
    let mut response = (status, Json(json!(submitted))).into_response();
    response
        .headers_mut()
        .insert(DEPLOYMENT_HEADER, header(&id));
    response
}

fn join(segments: &[&str]) -> PathId {
    PathId::parse(&segments.join("/"))
}

/// Where a created app is: its own URL.
fn location(app_id: &str) -> String {
    format!("/v2/apps{app_id}")
}

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}
