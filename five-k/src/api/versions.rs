//! `/v2/apps/{id}/versions`: every version an app had, and the definition
//! at each (`AppVersionsResource.scala`). A client looks back with these,
//! and rolls back with `PUT /v2/apps/{id}` and `{"version": …}`.

use axum::Json;
use serde_json::{Value, json};

use super::{Api, error::ApiError};
use crate::{app::PathId, scheduler::unknown_app};

/// `GET /v2/apps/{id}/versions`: newest first.
pub async fn list(api: Api, id: PathId) -> Result<Json<Value>, ApiError> {
    api.core
        .run(move |scheduler| {
            let entry = scheduler.app(&id).ok_or_else(|| unknown_app(&id))?;
            let versions: Vec<&str> = std::iter::once(&entry.app)
                .chain(entry.versions.iter().rev())
                .map(|app| app.version.as_str())
                .collect();
            Ok(Json(json!({ "versions": versions })))
        })
        .await?
}

/// `GET /v2/apps/{id}/versions/{version}`: the bare definition, without
/// counts or tasks.
pub async fn show(api: Api, id: PathId, version: String) -> Result<Json<Value>, ApiError> {
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
