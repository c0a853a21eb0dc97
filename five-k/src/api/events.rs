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
use futures_util::{Stream, StreamExt};
use tokio::sync::broadcast;
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
    // Marathon names the client by its address alone (`getRemoteAddr`).
    let remote = client.ip().to_string();
    let now = || crate::time::format(std::time::SystemTime::now());
    // Subscribe before announcing, so this client sees its own attach.
    let receiver = api.bus.subscribe();
    api.bus.publish(Event::stream_attached(&now(), &remote));
    let detached = DetachOnDrop {
        bus: api.bus.clone(),
        remote,
    };
    let events = subscriber_stream(receiver, wanted).map(move |event| {
        let _keep = &detached;
        Ok::<_, Infallible>(
            SseEvent::default()
                .event(event.event_type)
                .data(&*event.json),
        )
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The events one subscriber gets: those of the types it asked for (all
/// without `event_type=`), until it falls more than the bus's buffer
/// behind. Then its stream ends, the connection closes, and the client
/// reconnects if it still cares: a reader that stopped reading holds at
/// most the buffer, never an ever-growing queue.
fn subscriber_stream(
    receiver: broadcast::Receiver<Event>,
    wanted: Vec<String>,
) -> impl Stream<Item = Event> {
    BroadcastStream::new(receiver)
        .take_while(|item| std::future::ready(item.is_ok()))
        .filter_map(move |item| {
            let event = item
                .ok()
                .filter(|event| wanted.is_empty() || wanted.iter().any(|w| w == event.event_type));
            std::future::ready(event)
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventBus, SUBSCRIBER_BUFFER};

    fn attached(n: usize) -> Event {
        Event::stream_attached("2026-12-06T14:35:05.123Z", &n.to_string())
    }

    #[tokio::test]
    async fn a_reader_within_the_buffer_gets_every_event_it_asked_for() {
        let bus = EventBus::default();
        let events = subscriber_stream(bus.subscribe(), vec!["event_stream_attached".into()]);
        bus.publish(Event::app_terminated("2026-12-06T14:35:05.123Z", "/web"));
        for n in 0..SUBSCRIBER_BUFFER - 1 {
            bus.publish(attached(n));
        }
        drop(bus); // the stream ends once it has read everything
        let received: Vec<Event> = events.collect().await;
        assert_eq!(received.len(), SUBSCRIBER_BUFFER - 1);
        assert!(
            received
                .iter()
                .all(|e| e.event_type == "event_stream_attached")
        );
    }

    #[tokio::test]
    async fn a_reader_that_falls_behind_the_buffer_is_dropped() {
        let bus = EventBus::default();
        let events = subscriber_stream(bus.subscribe(), Vec::new());
        for n in 0..SUBSCRIBER_BUFFER + 1 {
            bus.publish(attached(n));
        }
        // The bus lives on: only the drop can end this stream.
        let received = tokio::time::timeout(Duration::from_secs(10), events.count())
            .await
            .expect("the lagging reader's stream ends");
        assert_eq!(received, 0, "nothing is sent once it is behind");
        // The others are unaffected.
        let mut fresh = Box::pin(subscriber_stream(bus.subscribe(), Vec::new()));
        bus.publish(attached(0));
        assert!(fresh.next().await.is_some());
    }
}
