//! `/v2/queue`: the apps waiting for tasks to be launched, and resetting
//! an app's launch delay (`QueueResource.scala`).
//!
//! The shape is Marathon 1.7's (`QueueInfoConversion.scala`, `queue.raml`)
//! as marathon-python 0.13 parses it: Marathon 1.9's `role` would crash
//! its `list_queue`. 5K does not delay launches yet (backoff comes with a
//! later change), so every delay is 0 and never overdue, and it keeps no
//! statistics of the offers it declined: the summary counts are 0.

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{Api, error::ApiError, query::Query};
use crate::{app::PathId, scheduler::AppEntry};

/// `GET /v2/queue`, `?embed=lastUnusedOffers` adding that (empty) list.
pub async fn list(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let last_unused_offers = query.all("embed").any(|e| e == "lastUnusedOffers");
    let queue = api
        .core
        .run(move |scheduler| {
            scheduler
                .launch_queue()
                .map(|(entry, count, since)| item(entry, count, &since, last_unused_offers))
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(Json(json!({ "queue": queue })))
}

fn item(entry: &AppEntry, count: u32, since: &str, last_unused_offers: bool) -> Value {
    let mut item = json!({
        // The definition alone, without counts or tasks, as Marathon's.
        "app": serde_json::to_value(&entry.app).expect("an app serializes"),
        "count": count,
        "delay": {"timeLeftSeconds": 0, "overdue": false},
        "since": since,
        "processedOffersSummary": {
            "processedOffersCount": 0,
            "unusedOffersCount": 0,
            "rejectSummaryLastOffers": [],
            "rejectSummaryLaunchAttempt": [],
        },
    });
    if last_unused_offers {
        item["lastUnusedOffers"] = json!([]);
    }
    item
}

/// `DELETE /v2/queue/{appId}/delay`: 204 for a waiting app (its delay is
/// already 0), 404 with Marathon's words for any other.
pub async fn reset_delay(State(api): State<Api>, Path(path): Path<String>) -> Response {
    let Some(app) = path.strip_suffix("/delay") else {
        return super::error::uri_not_found().await.into_response();
    };
    let id = PathId::parse(app);
    let queued = api.core.run({
        let id = id.clone();
        move |scheduler| scheduler.is_queued(&id)
    });
    match queued.await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => ApiError::not_found(format!("Application {id} not found in tasks queue."))
            .into_response(),
        Err(stopped) => ApiError::from(stopped).into_response(),
    }
}
