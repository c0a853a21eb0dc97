//! `/v2/apps`: create, list, show, change, restart and delete apps, and
//! list or kill an app's tasks.
//!
//! An app id is a path, so one route takes everything after `/v2/apps/`
//! and the last words tell what is meant (`/shop/web/tasks`,
//! `/shop/web/versions/<v>`, `/shop/web/restart`): Marathon forbids those
//! words as an app's last segment, so the reading is unambiguous.

use axum::body::Bytes;
use axum::{
    Json,
    extract::{ConnectInfo, Path, RawQuery, State},
    http::{HeaderValue, StatusCode, header::LOCATION},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use std::net::SocketAddr;

use super::{
    Api, body,
    error::ApiError,
    query::{Embed, Query},
    tasks::{kill_response, matching_host},
    views,
};
use crate::{
    app::{AppRequest, PathId},
    events::Event,
    scheduler::{Submitted, unknown_app},
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
    let cmd = query.get("cmd").map(str::to_string);
    let id = query.get("id").map(str::to_string);
    let label = query.get("label").map(LabelSelector::parse).transpose()?;
    let apps = api
        .core
        .run(move |scheduler| {
            scheduler
                .apps()
                .filter(|entry| {
                    let app = &entry.app;
                    cmd.as_ref().is_none_or(|c| {
                        app.cmd.as_ref().is_some_and(|cmd| cmd.contains(c.as_str()))
                    }) && id
                        .as_ref()
                        .is_none_or(|i| app.id.to_string().contains(i.as_str()))
                        && label.as_ref().is_none_or(|l| l.matches(&app.labels))
                })
                .map(|entry| views::app(scheduler, entry, embed))
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(Json(json!({ "apps": apps })))
}

/// `POST /v2/apps`.
pub async fn create(
    State(api): State<Api>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: AppRequest = body::parse(&body)?;
    let client_ip = client.ip().to_string();
    let (app, submitted) = api
        .core
        .run(move |scheduler| {
            let (app, submitted) = scheduler.create_app(request)?;
            let event = Event::api_post(
                &crate::time::format(scheduler.now),
                &client_ip,
                "/v2/apps",
                &app,
            );
            scheduler.publish_event(event);
            let entry = scheduler.app(&app.id).expect("just created").clone();
            let json = views::app(scheduler, &entry, Embed::default());
            Ok::<_, ApiError>((json, submitted))
        })
        .await??;
    let location = format!("/v2/apps{}", app["id"].as_str().unwrap_or_default());
    let mut response = (StatusCode::CREATED, Json(app)).into_response();
    response.headers_mut().insert(LOCATION, header(&location));
    response
        .headers_mut()
        .insert(DEPLOYMENT_HEADER, header(&submitted.deployment_id));
    Ok(response)
}

/// `GET /v2/apps/{id}`, `…/tasks`, `…/versions`, `…/versions/{version}`.
pub async fn get(
    State(api): State<Api>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [app @ .., "tasks"] => super::tasks::of_app(api, join(app)).await,
        [app @ .., "versions"] => {
            let id = join(app);
            api.core
                .run(move |scheduler| {
                    let entry = scheduler.app(&id).ok_or_else(|| unknown_app(&id))?;
                    let mut versions: Vec<&str> =
                        entry.versions.iter().map(|a| a.version.as_str()).collect();
                    versions.push(&entry.app.version);
                    versions.reverse();
                    Ok(Json(json!({ "versions": versions })))
                })
                .await?
        }
        [app @ .., "versions", version] => {
            let (id, version) = (join(app), version.to_string());
            api.core
                .run(move |scheduler| {
                    let entry = scheduler.app(&id).ok_or_else(|| unknown_app(&id))?;
                    let found = std::iter::once(&entry.app)
                        .chain(entry.versions.iter())
                        .find(|app| app.version == version);
                    match found {
                        Some(app) => Ok(Json(json!(app))),
                        None => Err(ApiError::not_found(format!(
                            "App '{id}' does not exist in version {version}"
                        ))),
                    }
                })
                .await?
        }
        _ => {
            let id = PathId::parse(&path);
            let _ = raw; // every embed is always included for one app
            api.core
                .run(move |scheduler| {
                    let entry = scheduler.app(&id).ok_or_else(|| unknown_app(&id))?.clone();
                    Ok(Json(
                        json!({ "app": views::app(scheduler, &entry, Embed::everything()) }),
                    ))
                })
                .await?
        }
    }
}

/// `PUT /v2/apps/{id}`: a partial update (or a rollback, or a creation).
pub async fn update(
    State(api): State<Api>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw.as_deref());
    let force = query.flag("force", false)?;
    let request: AppRequest = body::parse(&body)?;
    let id = PathId::parse(&path);
    if let Err(error) = id.validate() {
        return Err(ApiError::invalid_json(vec![
            crate::app::validate::Violation::new("/id", error.0),
        ]));
    }
    let client_ip = client.ip().to_string();
    let uri = format!("/v2/apps{id}");
    let (submitted, created) = api
        .core
        .run(move |scheduler| {
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
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(submitted_response(status, submitted))
}

/// `DELETE /v2/apps/{id}`, `…/tasks`, `…/tasks/{taskId}`.
pub async fn delete(
    State(api): State<Api>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw.as_deref());
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let scale = query.flag("scale", false)?;
    // `wipe` forgets a task's reservation; 5K reserves nothing, so it is
    // an ordinary kill.
    let _wipe = query.flag("wipe", false)?;
    let force = query.flag("force", true)?;
    match segments.as_slice() {
        [app @ .., "tasks"] => {
            let (id, host) = (join(app), query.get("host").map(str::to_string));
            let response = api
                .core
                .run(move |scheduler| {
                    scheduler.app(&id).ok_or_else(|| unknown_app(&id))?;
                    let ids: Vec<String> = scheduler
                        .tasks()
                        .of_app(&id)
                        .filter(|task| matching_host(task, host.as_deref()))
                        .map(|task| task.id.clone())
                        .collect();
                    let (killed, submitted) = scheduler.kill_tasks(&ids, scale, force)?;
                    Ok::<_, ApiError>(kill_response(&killed, submitted, "tasks"))
                })
                .await??;
            Ok(response)
        }
        [app @ .., "tasks", task_id] => {
            let (id, task_id) = (join(app), task_id.to_string());
            let response = api
                .core
                .run(move |scheduler| {
                    scheduler.app(&id).ok_or_else(|| unknown_app(&id))?;
                    let (killed, submitted) = scheduler.kill_tasks(&[task_id], scale, force)?;
                    Ok::<_, ApiError>(kill_response(&killed, submitted, "task"))
                })
                .await??;
            Ok(response)
        }
        _ => {
            let id = PathId::parse(&path);
            let submitted = api
                .core
                .run(move |scheduler| scheduler.delete_app(&id, force))
                .await??;
            Ok(submitted_response(StatusCode::OK, submitted))
        }
    }
}

/// `POST /v2/apps/{id}/restart`.
pub async fn restart(
    State(api): State<Api>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw.as_deref());
    let force = query.flag("force", true)?;
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let [app @ .., "restart"] = segments.as_slice() else {
        return Err(ApiError::not_found("URI not found"));
    };
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

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `label=` of `GET /v2/apps`: `key`, `key==value` or `key!=value`,
/// several joined by commas, all of which must hold.
#[derive(Debug)]
struct LabelSelector(Vec<(String, Option<(bool, String)>)>);

impl LabelSelector {
    fn parse(text: &str) -> Result<LabelSelector, ApiError> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let parsed = if let Some((key, value)) = term.split_once("!=") {
                (
                    key.trim().to_string(),
                    Some((false, value.trim().to_string())),
                )
            } else if let Some((key, value)) = term.split_once("==") {
                (
                    key.trim().to_string(),
                    Some((true, value.trim().to_string())),
                )
            } else {
                (term.to_string(), None)
            };
            if parsed.0.is_empty() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("Invalid label selector: {text}"),
                ));
            }
            terms.push(parsed);
        }
        Ok(LabelSelector(terms))
    }

    fn matches(&self, labels: &std::collections::BTreeMap<String, String>) -> bool {
        self.0
            .iter()
            .all(|(key, test)| match (labels.get(key), test) {
                (None, Some((false, _))) => true,
                (None, _) => false,
                (Some(_), None) => true,
                (Some(value), Some((equal, wanted))) => (value == wanted) == *equal,
            })
    }
}
