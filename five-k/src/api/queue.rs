//! `/v2/queue`: the apps waiting for tasks to be launched, and resetting
//! an app's launch delay (`QueueResource.scala`).
//!
//! The shape is Marathon 1.7's (`QueueInfoConversion.scala`, `queue.raml`)
//! as marathon-python 0.13 parses it: Marathon 1.9's `role` would crash
//! its `list_queue`. `delay` is the app's crash-loop delay
//! (`scheduler/backoff.rs`).
//!
//! `processedOffersSummary` says what became of the offers the app was
//! given since it waits (`scheduler/offer_stats.rs`), as Marathon 1.4+
//! (`QueueInfoConversion.scala`); `?embed=lastUnusedOffers` adds the last
//! unused offer of each agent, with why it was not used.
//! marathon-python keeps both as plain dicts, so their keys are free.

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{Api, error::ApiError, query::Query};
use crate::{
    app::PathId,
    scheduler::{
        AppEntry,
        offer_stats::{NoMatch, OfferStats, Step},
    },
};
use mesos::v1::{
    Attribute, Resource,
    value::{Ranges, Set},
};

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
                    let stats = scheduler.offer_stats(&entry.app.id);
                    item(entry, count, &since, delay, stats, last_unused_offers)
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
    stats: Option<&OfferStats>,
    last_unused_offers: bool,
) -> Value {
    let empty = OfferStats::default();
    let stats = stats.unwrap_or(&empty);
    let mut summary = json!({
        "processedOffersCount": stats.processed,
        "unusedOffersCount": stats.unused,
        "rejectSummaryLastOffers": steps(&stats.last_offers_summary()),
        "rejectSummaryLaunchAttempt": steps(&stats.launch_attempt_summary()),
    });
    // Optional in Marathon's RAML: absent until there is one.
    if let Some(at) = &stats.last_unused_at {
        summary["lastUnusedOfferAt"] = json!(at);
    }
    if let Some(at) = &stats.last_used_at {
        summary["lastUsedOfferAt"] = json!(at);
    }
    let mut item = json!({
        // The definition alone, without counts or tasks, as Marathon's.
        "app": serde_json::to_value(&entry.app).expect("an app serializes"),
        "count": count,
        "delay": {"timeLeftSeconds": time_left_seconds, "overdue": overdue},
        "since": since,
        "processedOffersSummary": summary,
    });
    if last_unused_offers {
        item["lastUnusedOffers"] = stats.last_unused_offers().map(unused_offer).collect();
    }
    item
}

/// Marathon's `DeclinedOfferStep`s.
fn steps(steps: &[Step]) -> Value {
    steps
        .iter()
        .map(|step| {
            json!({
                "reason": step.reason.name(),
                "declined": step.declined,
                "processed": step.processed,
            })
        })
        .collect()
}

/// Marathon's `UnusedOffer`: the offer (`offer.raml`), its reasons, when.
fn unused_offer(no_match: &NoMatch) -> Value {
    json!({
        "offer": {
            "id": no_match.offer_id,
            "hostname": no_match.hostname,
            "agentId": no_match.agent_id,
            "resources": no_match.resources.iter().map(offer_resource).collect::<Vec<_>>(),
            "attributes": no_match.attributes.iter().map(agent_attribute).collect::<Vec<_>>(),
        },
        "reason": no_match.reasons.iter().map(|r| r.name()).collect::<Vec<_>>(),
        "timestamp": no_match.timestamp,
    })
}

/// An `OfferResource`: a name, a role (`*` if unreserved) and a value.
fn offer_resource(resource: &Resource) -> Value {
    let role = resource
        .reservations
        .last()
        .and_then(|r| r.role.clone())
        .or_else(|| resource.role.clone())
        .unwrap_or_else(|| "*".to_string());
    let mut json = json!({"name": resource.name, "role": role});
    add_value(
        &mut json,
        resource.scalar.as_ref().map(|s| s.value),
        resource.ranges.as_ref(),
        resource.set.as_ref(),
    );
    json
}

/// An `AgentAttribute`: a name and a value of its type.
fn agent_attribute(attribute: &Attribute) -> Value {
    let mut json = json!({"name": attribute.name});
    if let Some(text) = &attribute.text {
        json["text"] = json!(text.value);
    }
    add_value(
        &mut json,
        attribute.scalar.as_ref().map(|s| s.value),
        attribute.ranges.as_ref(),
        attribute.set.as_ref(),
    );
    json
}

fn add_value(json: &mut Value, scalar: Option<f64>, ranges: Option<&Ranges>, set: Option<&Set>) {
    if let Some(scalar) = scalar {
        json["scalar"] = json!(scalar);
    }
    if let Some(ranges) = ranges {
        json["ranges"] = (ranges.range.iter())
            .map(|r| json!({"begin": r.begin, "end": r.end}))
            .collect();
    }
    if let Some(set) = set {
        json["set"] = json!(set.item);
    }
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
