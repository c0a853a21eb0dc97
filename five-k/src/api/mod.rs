//! Marathon's REST API v2, the part clients use.
//!
//! Handlers are thin: they read the request, run a closure on the
//! scheduler (`core.rs`) and shape its answer as Marathon does. One file
//! per resource: `apps.rs`, `tasks.rs`, `deployments.rs`, `server.rs`
//! (ping, info, leader) and `events.rs`; the shared parts are `body.rs`
//! (reading JSON), `query.rs`, `views.rs` (the JSON shown) and
//! `error.rs` (Marathon's error answers).

mod apps;
mod body;
mod deployments;
pub(crate) mod error;
mod events;
mod query;
mod server;
mod tasks;
mod views;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};

use crate::{core::Core, events::EventBus};

/// Bodies larger than this are refused (413): an app definition is a few
/// kilobytes, and the limit keeps a bad client from filling memory.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What `/v2/info` reports.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `host:port` where this instance serves the API.
    pub advertised: String,
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
    pub settings: std::sync::Arc<Settings>,
}

pub fn router(api: Api) -> Router {
    Router::new()
        .route("/ping", get(server::ping))
        .route("/v2/info", get(server::info))
        .route("/v2/leader", get(server::leader).delete(server::abdicate))
        .route("/v2/apps", get(apps::list).post(apps::create))
        .route(
            "/v2/apps/{*path}",
            get(apps::get)
                .put(apps::update)
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
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(api.clone())
        .merge(crate::web::router(api))
}
