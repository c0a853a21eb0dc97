//! Marathon's REST API v2, the part clients use.
//!
//! Handlers are thin: they read the request, run a closure on the
//! scheduler (`core.rs`) and shape its answer as Marathon does. One file
//! per resource: `apps.rs`, `versions.rs`, `tasks.rs`, `deployments.rs`,
//! `queue.rs`, `server.rs` (ping, info, leader) and `events.rs`; the
//! shared parts are `body.rs` (reading JSON), `query.rs` and
//! `label_selector.rs` (reading the query), `views.rs` (the JSON shown)
//! and `error.rs` (Marathon's error answers).

mod apps;
mod body;
mod deployments;
pub(crate) mod error;
mod events;
mod label_selector;
mod query;
mod queue;
mod server;
mod tasks;
mod versions;
mod views;

use std::sync::Arc;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    http::Uri,
    middleware,
    routing::{get, post},
};

pub use error::ApiError;

use crate::{
    core::Core,
    events::EventBus,
    ha::{
        Leadership,
        proxy::{self, Proxy},
    },
};

/// Bodies larger than this are refused (413): an app definition is a few
/// kilobytes, and the limit keeps a bad client from filling memory.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What `/v2/info` reports.
#[derive(Clone, Debug)]
pub struct Settings {
    pub hostname: String,
    pub http_port: u16,
    pub master: String,
    pub zk: Option<String>,
    pub framework_name: String,
    pub user: String,
    pub failover_timeout_seconds: u64,
}

/// What every handler gets.
#[derive(Clone)]
pub struct Api {
    pub core: Core,
    pub bus: EventBus,
    pub settings: Arc<Settings>,
    pub leadership: Leadership,
    /// Gives up leadership (`DELETE /v2/leader`); `None` without an election.
    pub abdicate: Option<Arc<dyn Fn() + Send + Sync>>,
}

/// The API: `/ping` and `GET /v2/leader` answered by any instance, the
/// rest by the leader (a standby forwards them, see `ha::proxy`).
pub fn router(api: Api) -> Router {
    // Jersey, under Marathon, matches a path with or without a trailing
    // `/`; the slash must go before routing, hence the outer router.
    Router::new()
        .fallback_service(routes(api))
        .layer(axum::middleware::map_request(drop_trailing_slash))
}

fn routes(api: Api) -> Router {
    let proxy = Proxy::new(api.leadership.clone());
    let by_the_leader = Router::new()
        .route("/v2/info", get(server::info))
        .route("/v2/leader", axum::routing::delete(server::abdicate))
        .route("/v2/apps", get(apps::list).post(apps::create))
        .route(
            "/v2/apps/{*path}",
            get(apps::get)
                .put(apps::update)
                .patch(apps::patch)
                .delete(apps::delete)
                .post(apps::restart),
        )
        .route("/v2/tasks", get(tasks::list))
        .route("/v2/tasks/delete", post(tasks::delete))
        .route("/v2/deployments", get(deployments::list))
        .route(
            "/v2/deployments/{id}",
            axum::routing::delete(deployments::cancel),
        )
        .route("/v2/events", get(events::stream))
        .route("/v2/queue", get(queue::list))
        .route(
            "/v2/queue/{*path}",
            axum::routing::delete(queue::reset_delay),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(api.clone())
        // The web page is the leader's too: a standby's scheduler is idle.
        .merge(crate::web::router(api.clone()))
        .layer(middleware::from_fn_with_state(proxy, proxy::to_leader));
    Router::new()
        .route("/ping", get(server::ping))
        .route("/v2/leader", get(server::leader))
        .with_state(api)
        .merge(by_the_leader)
        .fallback(error::uri_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
}

/// `/v2/apps/` → `/v2/apps`, the query kept (the API's paths only).
async fn drop_trailing_slash(mut request: Request) -> Request {
    let uri = request.uri();
    let path = uri.path();
    let trimmed = path.trim_end_matches('/');
    // The web page's own paths end in `/` (`/ui/`).
    if trimmed.len() == path.len() || trimmed.is_empty() || !path.starts_with("/v2/") {
        return request;
    }
    let path_and_query = match uri.query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    if let Ok(path_and_query) = path_and_query.parse() {
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}
