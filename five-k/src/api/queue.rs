//! `/v2/queue`: the apps waiting for tasks to be launched, and resetting
//! an app's launch delay (`QueueResource.scala`).
//!
//! The shape is Marathon 1.7's (`QueueInfoConversion.scala`, `queue.raml`)
//! as marathon-python 0.13 parses it: Marathon 1.9's `role` would crash
//! its `list_queue`. `delay` is the app's crash-loop delay
//! (`scheduler/backoff.rs`); 5K keeps no statistics of the offers it
//! declined yet: the summary counts are 0.

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
                .map(|(entry, count, since)| {
                    let delay = scheduler.launch_delay(entry);
                    item(entry, count, &since, delay, last_unused_offers)
                })
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(Json(json!({ "queue": queue })))
}

fn item(
    entry: &AppEntry,
    count: u32,
    since: &str,
    (time_left_seconds, overdue): (u64, bool),
    last_unused_offers: bool,
) -> Value {
    let mut item = json!({
        // The definition alone, without counts or tasks, as Marathon's.
        "app": serde_json::to_value(&entry.app).expect("an app serializes"),
        "count": count,
        "delay": {"timeLeftSeconds": time_left_seconds, "overdue": overdue},
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

/// `DELETE /v2/queue/{appId}/delay`: 204 for a waiting app, whose
/// launches then wait no more; 404 with Marathon's words for any other.
pub async fn reset_delay(State(api): State<Api>, Path(path): Path<String>) -> Response {
    let Some(app) = path.strip_suffix("/delay") else {
        return super::error::uri_not_found().await.into_response();
    };
    let id = PathId::parse(app);
    let reset = api.core.run({
        let id = id.clone();
        move |scheduler| scheduler.reset_delay(&id)
    });
    match reset.await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => ApiError::not_found(format!("Application {id} not found in tasks queue."))
            .into_response(),
        Err(stopped) => ApiError::from(stopped).into_response(),
    }
}
