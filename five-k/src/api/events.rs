//! `GET /v2/events`: the event bus as server-sent events.
//!
//! Each event is one `event: <type>` / `data: <json>` pair. `event_type=`
//! (repeatable) keeps only those types. Marathon answers 405 to a client
//! that does not accept `text/event-stream` (`EventsResource`), so that a
//! browser tab or a plain `curl` does not hang on a stream it cannot read.

use std::{convert::Infallible, net::SocketAddr, time::Duration};

use axum::{
    extract::{ConnectInfo, RawQuery, State},
    http::{HeaderMap, StatusCode, header::ACCEPT},
    response::{
        IntoResponse, Response,
        sse::{Event as SseEvent, KeepAlive, Sse},
    },
};
use futures_util::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use super::{Api, error::ApiError, query::Query};
use crate::events::Event;

pub async fn stream(
    State(api): State<Api>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let accepts_events = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"));
    if !accepts_events {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "HTTP 405 Method Not Allowed",
        )
        .into_response();
    }
    let query = Query::parse(raw.as_deref());
    let wanted: Vec<String> = query.all("event_type").map(str::to_string).collect();
    let remote = client.to_string();
    let now = || crate::time::format(std::time::SystemTime::now());
    // Subscribe before announcing, so this client sees its own attach.
    let receiver = api.bus.subscribe();
    api.bus.publish(Event::stream_attached(&now(), &remote));
    let detached = DetachOnDrop {
        bus: api.bus.clone(),
        remote,
    };
    let events = BroadcastStream::new(receiver)
        // A subscriber that fell behind the buffer is dropped: its stream
        // ends here, and the client reconnects if it still cares.
        .take_while(|item| std::future::ready(item.is_ok()))
        .filter_map(move |item| {
            let _keep = &detached;
            let event = item
                .ok()
                .filter(|event| wanted.is_empty() || wanted.iter().any(|w| w == event.event_type));
            std::future::ready(event.map(|event| {
                Ok::<_, Infallible>(
                    SseEvent::default()
                        .event(event.event_type)
                        .data(&*event.json),
                )
            }))
        });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// Publishes `event_stream_detached` when the client's stream is dropped.
struct DetachOnDrop {
    bus: crate::events::EventBus,
    remote: String,
}

impl Drop for DetachOnDrop {
    fn drop(&mut self) {
        let now = crate::time::format(std::time::SystemTime::now());
        self.bus.publish(Event::stream_detached(&now, &self.remote));
    }
}
