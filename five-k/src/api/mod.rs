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
mod error;
mod events;
mod query;
mod server;
mod tasks;
mod views;

use std::sync::Arc;

use axum::{
    Router,
    extract::DefaultBodyLimit,
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
    let proxy = Proxy::new(api.leadership.clone());
    let by_the_leader = Router::new()
        .route("/v2/info", get(server::info))
        .route("/v2/leader", axum::routing::delete(server::abdicate))
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
        .layer(middleware::from_fn_with_state(proxy, proxy::to_leader));
    Router::new()
        .route("/ping", get(server::ping))
        .route("/v2/leader", get(server::leader))
        .merge(by_the_leader)
        .with_state(api)
}
