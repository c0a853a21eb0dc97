//! 5K's web page: what runs, and a form to scale an app.
//!
//! Marathon serves its UI beside its API, under `/ui/`, and sends `/`
//! there (`WebJarServlet.scala`); 5K does the same, on the API's router:
//!
//! | route | what |
//! |---|---|
//! | `GET /`, `GET /ui` | a redirect to `/ui/` |
//! | `GET /ui/` | the apps: instances, running and staged tasks, health, deployments |
//! | `GET /ui/apps/{id}` | one app: its definition, tasks and deployments, the scale form |
//! | `POST /ui/apps/{id}` | the scale form: a new instance count |
//! | `GET /ui/style.css` | the stylesheet, compiled in (nothing comes from the internet) |
//!
//! The form changes the app through the scheduler command `PUT
//! /v2/apps/{id}` runs (`Scheduler::update_app` with only `instances`),
//! so the page and the API cannot disagree on what scaling means; a 409
//! (the app is locked by a deployment) shows Marathon's message and a
//! button to force.
//!
//! The files: `routes.rs` (the handlers), `view.rs` (what the page shows,
//! read from the scheduler), `form.rs` (the form's fields, checked) and
//! `security.rs` (who may use the page and the API, and against forged
//! forms: see there). The templates are in `five-k/templates/`; askama
//! escapes every value they insert.

mod form;
mod routes;
mod security;
mod view;

use std::sync::Arc;

use axum::{Router, extract::DefaultBodyLimit, routing::get};

pub use security::protect;

use crate::api::Api;

/// A form holds three short fields; anything bigger is not our form.
const FORM_LIMIT: usize = 16 * 1024;

/// What the page's handlers get.
#[derive(Clone)]
struct Web {
    api: Api,
    /// The token that proves a form came from a page this process served.
    csrf: Arc<str>,
}

/// The page's routes, to merge into the API's router.
pub fn router(api: Api) -> Router {
    let web = Web {
        api,
        // Random for each process: a page from another site cannot know
        // it, so its forged forms lack it.
        csrf: uuid::Uuid::new_v4().simple().to_string().into(),
    };
    Router::new()
        .route("/", get(routes::to_ui))
        .route("/ui", get(routes::to_ui))
        .route("/ui/", get(routes::apps))
        .route("/ui/style.css", get(routes::style))
        .route("/ui/apps/{*id}", get(routes::app).post(routes::scale))
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        .with_state(web)
}
