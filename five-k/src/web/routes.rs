//! The page's handlers: read the scheduler through `Core::run`, render a
//! template; and the scale form, which changes an app as `PUT
//! /v2/apps/{id}` does.

use std::net::SocketAddr;

use askama::Template;
use axum::{
    body::Bytes,
    extract::{ConnectInfo, Path, RawQuery, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;

use super::{
    Web,
    form::{ScaleForm, parse_instances},
    view::{AppDetail, AppPage, AppRow, AppsPage, MessagePage},
};
use crate::{
    api::error::ApiError,
    app::{AppRequest, PathId},
    core::Unavailable,
    events::Event,
    scheduler::{Refusal, unknown_app},
};

/// The stylesheet, compiled in.
const STYLE: &str = include_str!("../../static/style.css");

/// `GET /` and `GET /ui`: Marathon sends both to its UI with a 302.
pub async fn to_ui() -> Response {
    (StatusCode::FOUND, [(header::LOCATION, "/ui/")]).into_response()
}

pub async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

/// `GET /ui/`: the apps.
pub async fn apps(State(web): State<Web>) -> Response {
    let page = web
        .api
        .core
        .run(|scheduler| AppsPage {
            apps: scheduler
                .apps()
                .map(|entry| AppRow::of(scheduler, entry))
                .collect(),
            framework_id: scheduler.framework_id().map(|id| id.value.clone()),
        })
        .await;
    match page {
        Ok(page) => html(StatusCode::OK, &page),
        Err(Unavailable) => unavailable(),
    }
}

/// `GET /ui/apps/{id}`: one app, with the scale form.
pub async fn app(
    State(web): State<Web>,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let id = PathId::parse(&path);
    let notice = notice(query.as_deref());
    web.app_page(StatusCode::OK, id, None, None, false, notice)
        .await
}

/// `POST /ui/apps/{id}`: the scale form.
pub async fn scale(
    State(web): State<Web>,
    Path(path): Path<String>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let id = PathId::parse(&path);
    let form = ScaleForm::read(&body);
    if form.csrf.as_deref() != Some(&*web.csrf) {
        let reason = "This form did not come from this 5K's page (or the page is older than this \
                      5K): reload the page and try again.";
        return web
            .app_page(
                StatusCode::FORBIDDEN,
                id,
                Some(form.instances),
                Some(reason.into()),
                false,
                None,
            )
            .await;
    }
    let instances = match parse_instances(&form.instances) {
        Ok(instances) => instances,
        Err(reason) => {
            return web
                .app_page(
                    StatusCode::BAD_REQUEST,
                    id,
                    Some(form.instances),
                    Some(reason),
                    false,
                    None,
                )
                .await;
        }
    };
    let (app_id, client_ip) = (id.clone(), client.ip().to_string());
    let outcome = web
        .api
        .core
        .run(move |scheduler| {
            // `PUT` creates a missing app; the form only scales one.
            scheduler.app(&app_id).ok_or_else(|| unknown_app(&app_id))?;
            let request = AppRequest {
                instances: Some(instances),
                ..AppRequest::default()
            };
            let (submitted, _) = scheduler.update_app(&app_id, request, form.force)?;
            // The event the API's `PUT` publishes, so that subscribers
            // see the page's changes as they see a client's.
            if let Some(entry) = scheduler.app(&app_id) {
                let uri = format!("/v2/apps{app_id}");
                let now = crate::time::format(scheduler.now);
                let event = Event::api_post(&now, &client_ip, &uri, &entry.app.clone());
                scheduler.publish_event(event);
            }
            Ok::<_, Refusal>(submitted)
        })
        .await;
    match outcome {
        Err(Unavailable) => unavailable(),
        Ok(Ok(_submitted)) => see_other(&format!("/ui/apps{id}?scaled={instances}")),
        Ok(Err(refusal)) => {
            let locked = matches!(refusal, Refusal::Locked { .. });
            let error = ApiError::from(refusal);
            let reason = message(&error.body);
            let value = Some(instances.to_string());
            web.app_page(error.status, id, value, Some(reason), locked, None)
                .await
        }
    }
}

impl Web {
    /// An app's page; `value` is what the form's field shows (the app's
    /// instances if `None`). An unknown app is a 404 page.
    async fn app_page(
        &self,
        status: StatusCode,
        id: PathId,
        value: Option<String>,
        error: Option<String>,
        locked: bool,
        notice: Option<String>,
    ) -> Response {
        let lookup = id.clone();
        let detail = self
            .api
            .core
            .run(move |scheduler| {
                let entry = scheduler.app(&lookup)?;
                Some(AppDetail::of(scheduler, entry))
            })
            .await;
        let app = match detail {
            Ok(Some(app)) => app,
            Ok(None) => {
                let page = MessagePage {
                    title: "No such app".into(),
                    message: format!("App '{id}' does not exist"),
                };
                return html(StatusCode::NOT_FOUND, &page);
            }
            Err(Unavailable) => return unavailable(),
        };
        let page = AppPage {
            value: value.unwrap_or_else(|| app.row.instances.to_string()),
            app,
            csrf: &self.csrf,
            error,
            locked,
            notice,
        };
        html(status, &page)
    }
}

/// An API error's body as a sentence: Marathon's `message`, then the
/// fields in error, or the deployments holding the app.
fn message(body: &Value) -> String {
    let mut text = body["message"].as_str().unwrap_or("Refused.").to_string();
    for detail in body["details"].as_array().into_iter().flatten() {
        let errors: Vec<&str> = detail["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let path = detail["path"].as_str().unwrap_or("/");
        text.push_str(&format!(" {path}: {}.", errors.join("; ")));
    }
    let deployments: Vec<&str> = body["deployments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["id"].as_str())
        .collect();
    if !deployments.is_empty() {
        text.push_str(&format!(" Deployments: {}.", deployments.join(", ")));
    }
    text
}

/// The message after the form's redirect.
fn notice(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(key, _)| key == "scaled")
        .and_then(|(_, value)| value.parse::<u32>().ok())
        .map(|instances| format!("Scaling to {instances} instances: see the deployment below."))
}

/// A rendered page, not to be framed by another site (clickjacking) and
/// allowed nothing but this server's stylesheet.
fn html(status: StatusCode, page: &impl Template) -> Response {
    let body = match page.render() {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "cannot render the page");
            return (StatusCode::INTERNAL_SERVER_ERROR, "cannot render the page").into_response();
        }
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'"),
    );
    response
}

/// `303 See Other`: after a form, the browser GETs the page, so that
/// reloading it does not post the form again.
fn see_other(location: &str) -> Response {
    // App ids are DNS labels and slashes: always a valid header.
    let location = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/ui/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The scheduler could not take the request (see `core::Unavailable`).
fn unavailable() -> Response {
    let message = "5K could not complete the request: it is stopping, or could not store \
                   the change yet (is ZooKeeper reachable?); look before sending it again";
    (StatusCode::SERVICE_UNAVAILABLE, message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refusals_read_as_sentences() {
        let locked = ApiError::from(Refusal::Locked {
            deployments: vec!["d-1".into()],
        });
        let text = message(&locked.body);
        assert!(
            text.starts_with("App is locked by one or more deployments."),
            "{text}"
        );
        assert!(text.ends_with("Deployments: d-1."), "{text}");
        let invalid = json!({"message": "Object is not valid",
            "details": [{"path": "/instances", "errors": ["too many", "really"]}]});
        assert_eq!(
            message(&invalid),
            "Object is not valid /instances: too many; really."
        );
    }

    #[test]
    fn only_a_count_makes_a_notice() {
        assert!(
            notice(Some("scaled=3"))
                .unwrap()
                .contains("Scaling to 3 instances")
        );
        assert_eq!(notice(Some("scaled=<script>")), None);
        assert_eq!(notice(None), None);
    }
}
