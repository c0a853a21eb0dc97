//! The master's HTTP endpoint: the scheduler API and the state endpoints.
//!
//! One TCP listener on the master's address serves, like a real master:
//!
//! | path | what |
//! |---|---|
//! | `POST /api/v1/scheduler`, `/master/api/v1/scheduler` | the v1 scheduler API |
//! | `GET /master/state`, `/state` (also `.json`) | the cluster as JSON |
//! | `GET /slave(N)/state` | one agent's view (agent PIDs point here) |
//! | `POST /slave(N)/api/v1/executor` | the agent's v1 executor API (`executor_api.rs`) |
//! | `GET /files/read`, `/files/browse` | the agents' sandboxes (`files.rs`) |
//! | `GET /health`, `/master/health` | `200 OK` while running |
//!
//! The handler for the scheduler API does what `Master::Http::scheduler`
//! does before the master sees a call: redirect if not the leader, pick
//! the call's format from `Content-Type` (compared exactly, as Mesos does)
//! and the events' from `Accept` (JSON when the client does not say),
//! parse and validate the call, answering `400`/`405`/`406`/`415` with
//! Mesos' messages. Then it hands the call to the master's actor and turns
//! the answer into `200` (a SUBSCRIBE stream, or UPDATE_FRAMEWORK), `202`
//! or an error.

use std::{convert::Infallible, sync::Arc};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited, combinators::UnsyncBoxBody};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{
    net::TcpListener,
    sync::{mpsc, oneshot, watch},
};

use super::{
    auth, executor_api,
    faults::FaultState,
    files::{Files, FilesError},
    master::{CallReply, Command, Settings},
    snapshot::Snapshot,
    state_json,
    stream::EventBody,
    validation,
};
use crate::{client::STREAM_ID_HEADER, codec::ContentType, v1::scheduler::call};

/// The largest call body accepted.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;

pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// What every connection's handler needs.
pub(crate) struct Shared {
    pub settings: Arc<Settings>,
    pub commands: mpsc::UnboundedSender<Command>,
    pub snapshot: watch::Receiver<Snapshot>,
    pub faults: Arc<FaultState>,
    pub files: Files,
    /// The TLS handshake of an `https` master.
    #[cfg(feature = "tls")]
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Accepts connections until `shutdown` turns true; one task per
/// connection, as each SUBSCRIBE holds its connection for a long time.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed");
                continue;
            }
        };
        // Events must not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            #[cfg(feature = "tls")]
            if let Some(acceptor) = shared.tls.clone() {
                match acceptor.accept(stream).await {
                    Ok(stream) => serve_connection(stream, peer, shared, shutdown).await,
                    Err(error) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                }
                return;
            }
            serve_connection(stream, peer, shared, shutdown).await;
        });
    }
}

/// HTTP/1.1 on one connection, plain or TLS, until it ends or the master
/// stops.
async fn serve_connection<S>(
    stream: S,
    peer: std::net::SocketAddr,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(&shared, request).await) }
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        }
        _ = shutdown.wait_for(|stop| *stop) => {}
    }
}

async fn handle(shared: &Shared, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().to_string();
    match path.as_str() {
        "/api/v1/scheduler" | "/master/api/v1/scheduler" => scheduler(shared, request).await,
        "/master/state" | "/master/state.json" | "/state" | "/state.json" => {
            // A master that does not lead redirects (`Master::Http::state`).
            if let Some(response) = not_leading(shared, &request) {
                return response;
            }
            get_json(&request, || {
                state_json::master(&shared.snapshot.borrow(), &shared.settings)
            })
        }
        "/health" | "/master/health" => text(StatusCode::OK, ""),
        "/files/read" => files(shared, request, Files::read).await,
        "/files/browse" => files(shared, request, Files::browse).await,
        _ => {
            if let Some(agent) = executor_api::agent_of_path(&path) {
                return executor_api::serve(shared, agent, request).await;
            }
            match agent_state_path(&path) {
                Some(process) => get_json(&request, || {
                    state_json::agent(&shared.snapshot.borrow(), &shared.settings, process)
                        .unwrap_or(serde_json::Value::Null)
                }),
                None => text(StatusCode::NOT_FOUND, ""),
            }
        }
    }
}

/// `slave(2)` from `/slave(2)/state` or `/slave(2)/state.json`.
fn agent_state_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('/')?;
    let process = rest
        .strip_suffix("/state")
        .or_else(|| rest.strip_suffix("/state.json"))?;
    (process.starts_with("slave(") && process.ends_with(')')).then_some(process)
}

fn get_json(
    request: &Request<Incoming>,
    body: impl FnOnce() -> serde_json::Value,
) -> Response<Body> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return method_not_allowed("GET", request.method());
    }
    let value = body();
    if value.is_null() {
        return text(StatusCode::NOT_FOUND, "");
    }
    json_response(&value)
}

fn json_response(value: &serde_json::Value) -> Response<Body> {
    let mut response = full(StatusCode::OK, value.to_string());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `GET /files/read` or `/files/browse`. Files are read on a blocking
/// thread: a slow disk must not hold up the event streams.
async fn files(
    shared: &Shared,
    request: Request<Incoming>,
    endpoint: fn(&Files, Option<&str>) -> Result<serde_json::Value, FilesError>,
) -> Response<Body> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return method_not_allowed("GET", request.method());
    }
    let files = shared.files.clone();
    let query = request.uri().query().map(str::to_string);
    let answer = tokio::task::spawn_blocking(move || endpoint(&files, query.as_deref())).await;
    match answer {
        Ok(Ok(value)) => json_response(&value),
        Ok(Err(FilesError { status, message })) => text(status, &message),
        Err(error) => text(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string()),
    }
}

/// What a master that does not lead answers, Mesos'
/// `Master::Http::redirect`: a protocol-relative redirect to the leader,
/// same path. `None` while this master leads.
fn not_leading<B>(shared: &Shared, request: &Request<B>) -> Option<Response<Body>> {
    let leader = shared.faults.redirect()?;
    let location = format!("//{}{}", leader.authority(), request.uri().path());
    let mut response = text(StatusCode::TEMPORARY_REDIRECT, "");
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Some(response)
}

/// `POST /api/v1/scheduler`.
async fn scheduler(shared: &Shared, request: Request<Incoming>) -> Response<Body> {
    // libprocess authenticates before the master's handler runs, so a
    // `401` comes before any redirect or validation (`auth.rs`).
    let principal = match &shared.settings.authenticator {
        None => None,
        Some(authenticator) => match authenticator.authenticate(request.headers()) {
            Some(principal) => Some(principal),
            None => {
                let mut response = text(StatusCode::UNAUTHORIZED, auth::UNAUTHORIZED_BODY);
                if let Ok(value) = HeaderValue::from_str(&auth::challenge()) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, value);
                }
                return response;
            }
        },
    };
    if let Some(response) = not_leading(shared, &request) {
        return response;
    }
    if let Some(status) = shared.faults.failure() {
        let message = if status == StatusCode::SERVICE_UNAVAILABLE {
            "No leader elected"
        } else {
            "Simulated failure (fault injection)"
        };
        return text(status, message);
    }
    if request.method() != Method::POST {
        return method_not_allowed("POST", request.method());
    }
    let headers = request.headers();
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return text(
            StatusCode::BAD_REQUEST,
            "Expecting 'Content-Type' to be present",
        );
    };
    let Some(format) = call_format(content_type.as_bytes()) else {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expecting 'Content-Type' of application/json or application/x-protobuf",
        );
    };
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let stream_id = headers
        .get(STREAM_ID_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());

    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("Failed to read the request body: {error}"),
            );
        }
    };
    let call = match validation::decode_call(&body, format) {
        Ok(call) => call,
        Err(message) => return text(StatusCode::BAD_REQUEST, &message),
    };
    if let Err(message) = validation::validate_call(&call)
        .and_then(|()| validation::validate_principal(&call, principal.as_deref()))
    {
        return text(
            StatusCode::BAD_REQUEST,
            &format!("Failed to validate scheduler::Call: {message}"),
        );
    }
    let kind = call::Type::try_from(call.r#type.unwrap_or_default()).unwrap_or_default();

    // Only calls whose answer has a body care about `Accept`.
    let mut response_format = ContentType::Json;
    if matches!(
        kind,
        call::Type::Subscribe | call::Type::ReconcileOperations
    ) {
        match negotiate(accept.as_deref()) {
            Some(format) => response_format = format,
            None => {
                return text(
                    StatusCode::NOT_ACCEPTABLE,
                    "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'",
                );
            }
        }
    }

    if kind == call::Type::Subscribe {
        if stream_id.is_some() {
            return text(
                StatusCode::BAD_REQUEST,
                "Subscribe calls should not include the 'Mesos-Stream-Id' header",
            );
        }
        let mut subscribe = call.subscribe.unwrap_or_default();
        // An authenticated framework that names no principal gets the one
        // it authenticated with (`Master::Http::scheduler`).
        if let Some(principal) = &principal {
            let info = &mut subscribe.framework_info;
            if info.principal.is_none() {
                tracing::warn!(
                    %principal,
                    "setting 'principal' in FrameworkInfo because the framework \
                     authenticated with it but did not set it"
                );
                info.principal = Some(principal.clone());
            }
        }
        let (reply, answer) = oneshot::channel();
        let command = Command::Subscribe {
            subscribe: Box::new(subscribe),
            format: response_format,
            reply,
        };
        let Some(subscription) = ask(shared, command, answer).await else {
            return text(StatusCode::SERVICE_UNAVAILABLE, "Master is shutting down");
        };
        let on_close = subscription.framework_id.map(|framework_id| {
            (
                shared.commands.clone(),
                framework_id,
                subscription.stream_id.clone(),
            )
        });
        let body = EventBody::new(subscription.records, on_close);
        let mut response = Response::new(UnsyncBoxBody::new(body));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(response_format.media_type()),
        );
        if let Ok(value) = HeaderValue::from_str(&subscription.stream_id) {
            headers.insert(STREAM_ID_HEADER, value);
        }
        return response;
    }

    let (reply, answer) = oneshot::channel();
    let command = Command::Call {
        call: Box::new(call),
        stream_id,
        principal,
        reply,
    };
    match ask(shared, command, answer).await {
        Some(CallReply::Accepted) => text(StatusCode::ACCEPTED, ""),
        Some(CallReply::Ok) => text(StatusCode::OK, ""),
        Some(CallReply::Error(status, message)) => text(status, &message),
        None => text(StatusCode::SERVICE_UNAVAILABLE, "Master is shutting down"),
    }
}

/// The call's format from its `Content-Type`, compared byte for byte as
/// `Master::Http::scheduler` does (`contentType.get() == APPLICATION_JSON`):
/// `application/json; charset=utf-8` or `Application/JSON` are valid media
/// types, yet Mesos 1.11 answers them `415`, so a framework that sends them
/// must learn it here, not on the cluster. (Responses are read leniently,
/// with [`ContentType::from_media_type`]: that is the client's side.)
pub(crate) fn call_format(content_type: &[u8]) -> Option<ContentType> {
    [ContentType::Protobuf, ContentType::Json]
        .into_iter()
        .find(|format| format.media_type().as_bytes() == content_type)
}

/// Sends a command to the actor and waits for its reply.
pub(crate) async fn ask<T>(
    shared: &Shared,
    command: Command,
    answer: oneshot::Receiver<T>,
) -> Option<T> {
    shared.commands.send(command).ok()?;
    answer.await.ok()
}

/// The events' format from an `Accept` header: JSON if acceptable (and
/// when there is no header, which accepts anything), else protobuf, else
/// `None` (406), as `request.acceptsMediaType` does in Mesos.
pub(crate) fn negotiate(accept: Option<&str>) -> Option<ContentType> {
    let Some(accept) = accept else {
        return Some(ContentType::Json);
    };
    // The most specific range that matches decides (RFC 7231 5.3.2):
    // `application/json;q=0, */*` accepts anything but JSON.
    let accepts = |wanted: &str| {
        let (kind, _) = wanted.split_once('/').expect("media types have a slash");
        accept
            .split(',')
            .filter_map(|range| {
                let mut parts = range.split(';');
                let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
                let specificity = if media == wanted {
                    2
                } else if media == format!("{kind}/*") {
                    1
                } else if media == "*/*" {
                    0
                } else {
                    return None;
                };
                let quality = parts
                    .filter_map(|p| p.trim().strip_prefix("q=").map(str::to_string))
                    .filter_map(|q| q.trim().parse::<f32>().ok())
                    .next()
                    .unwrap_or(1.0);
                Some((specificity, quality))
            })
            .max_by_key(|(specificity, _)| *specificity)
            .is_some_and(|(_, quality)| quality > 0.0)
    };
    if accepts("application/json") {
        Some(ContentType::Json)
    } else if accepts("application/x-protobuf") {
        Some(ContentType::Protobuf)
    } else {
        None
    }
}

pub(crate) fn method_not_allowed(allowed: &'static str, method: &Method) -> Response<Body> {
    let mut response = text(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("Expecting one of {{ '{allowed}' }}, but received '{method}'"),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    response
}

pub(crate) fn text(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = full(status, message.to_string());
    if !message.is_empty() {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    response
}

fn full(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(UnsyncBoxBody::new(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation_prefers_json() {
        assert_eq!(negotiate(None), Some(ContentType::Json));
        assert_eq!(negotiate(Some("*/*")), Some(ContentType::Json));
        assert_eq!(
            negotiate(Some("application/x-protobuf")),
            Some(ContentType::Protobuf)
        );
        assert_eq!(
            negotiate(Some("application/json;q=0, application/*")),
            Some(ContentType::Protobuf)
        );
        assert_eq!(negotiate(Some("text/html")), None);
        assert_eq!(
            negotiate(Some("application/json;q=0, */*")),
            Some(ContentType::Protobuf)
        );
    }

    #[test]
    fn call_formats_are_matched_exactly() {
        assert_eq!(call_format(b"application/json"), Some(ContentType::Json));
        assert_eq!(
            call_format(b"application/x-protobuf"),
            Some(ContentType::Protobuf)
        );
        for lenient in [
            &b"application/json; charset=utf-8"[..],
            b"Application/JSON",
            b"application/x-protobuf;proto=mesos.v1.scheduler.Call",
        ] {
            assert_eq!(call_format(lenient), None, "{lenient:?}");
        }
    }

    #[test]
    fn agent_state_paths() {
        assert_eq!(agent_state_path("/slave(1)/state"), Some("slave(1)"));
        assert_eq!(agent_state_path("/slave(12)/state.json"), Some("slave(12)"));
        assert_eq!(agent_state_path("/master/state"), None);
    }
}
