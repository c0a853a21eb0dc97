//! The executor API on the wire: a SUBSCRIBE stream, and calls beside it.
//!
//! An executor talks to its agent as a scheduler talks to the master
//! ([`crate::client`]): plain HTTP POSTs of `Call` messages, to
//! `http://<agent>/<id>/api/v1/executor` ([`super::config::AgentUrl`]).
//! SUBSCRIBE is answered `200 OK` with a RecordIO stream of `Event`s that
//! lasts as long as the subscription; every other call goes on another
//! connection and is answered `202 Accepted` (`Http::executor` in
//! `src/slave/http.cpp`).
//!
//! Unlike the master, the agent gives no `Mesos-Stream-Id`: an executor is
//! known by its framework and executor IDs, which every call carries, and
//! a new SUBSCRIBE simply replaces the old stream.
//!
//! This type does no retrying. [`super::driver`] decides when to
//! subscribe again.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;

use crate::{
    client::{error_body, response_format},
    codec::{self, ContentType},
    executor::{
        config::{AgentUrl, ExecutorConfig},
        error::{Error, Result},
    },
    recordio::RecordStream,
    transport::{self, Connection},
    v1::executor::{Call, Event, call, event},
};

/// The largest event accepted: 4 MiB. A LAUNCH_GROUP of big tasks is far
/// below it; a smaller limit than the scheduler's keeps the executor's
/// memory small against a broken stream.
pub const MAX_EVENT_LEN: usize = 4 * 1024 * 1024;

/// How long a call (not the stream) may take: an agent that stopped
/// answering must not hold an executor's update for ever.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of one agent's executor API.
pub struct AgentClient {
    url: AgentUrl,
    format: ContentType,
    token: Option<String>,
    /// The connection for calls other than SUBSCRIBE. Behind an async
    /// mutex: HTTP/1.1 carries one request at a time, and the agent must
    /// see a task's updates in the order they were made.
    calls: tokio::sync::Mutex<Option<Connection>>,
}

/// An open SUBSCRIBE stream.
pub struct EventStream {
    format: ContentType,
    records: RecordStream<Incoming>,
}

/// The call connection, held for several calls in a row.
pub struct CallSender<'a> {
    client: &'a AgentClient,
    connection: tokio::sync::MutexGuard<'a, Option<Connection>>,
}

impl AgentClient {
    pub fn new(config: &ExecutorConfig) -> Self {
        AgentClient {
            url: config.agent_url.clone(),
            format: config.format,
            token: config.authentication_token.clone(),
            calls: tokio::sync::Mutex::new(None),
        }
    }

    pub fn url(&self) -> &AgentUrl {
        &self.url
    }

    /// Sends SUBSCRIBE on a new connection and returns the event stream.
    pub async fn subscribe(&self, call: Call) -> Result<EventStream> {
        let mut connection = self.connect().await?;
        let response = connection.send_request(self.request(&call)?).await?;
        if response.status() != StatusCode::OK {
            return Err(status_error(&call, response).await);
        }
        let format = response_format(response.headers(), self.format);
        Ok(EventStream {
            format,
            records: RecordStream::new(response.into_body(), MAX_EVENT_LEN),
        })
    }

    /// Sends any call but SUBSCRIBE; the agent must answer `202 Accepted`.
    pub async fn call(&self, call: Call) -> Result<()> {
        self.calls().await.send(call).await
    }

    /// Holds the call connection, so that the calls sent through it go in
    /// a row, before any other.
    pub async fn calls(&self) -> CallSender<'_> {
        CallSender {
            client: self,
            connection: self.calls.lock().await,
        }
    }

    async fn connect(&self) -> Result<Connection> {
        // A PID's IPv6 address is in brackets; the socket wants it bare.
        let host = self.url.host.trim_start_matches('[').trim_end_matches(']');
        let tcp = tokio::net::TcpStream::connect((host, self.url.port))
            .await
            .map_err(|source| Error::Connect {
                url: self.url.to_string(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        transport::handshake(tcp)
            .await
            .map_err(|error| match error {
                crate::Error::Http(error) => Error::Http(error),
                other => Error::Connect {
                    url: self.url.to_string(),
                    source: std::io::Error::other(other.to_string()),
                },
            })
    }

    fn request(&self, call: &Call) -> Result<Request<Full<Bytes>>> {
        let media_type = self.format.media_type();
        let mut request = Request::post(&self.url.path)
            // hyper's connection API does not add Host; HTTP/1.1 needs it.
            .header(header::HOST, self.url.authority())
            .header(header::CONTENT_TYPE, media_type)
            .header(header::ACCEPT, media_type);
        if let Some(token) = &self.token {
            // As `MesosProcess::send` (src/executor/executor.cpp).
            let mut value =
                HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| Error::Config {
                    variable: super::config::AUTHENTICATION_TOKEN,
                    problem: "is not a valid HTTP header value".into(),
                })?;
            value.set_sensitive(true);
            request = request.header(header::AUTHORIZATION, value);
        }
        let body = codec::encode(call, self.format);
        Ok(request.body(Full::new(body)).expect("a valid request"))
    }
}

impl CallSender<'_> {
    /// Sends one call on the held connection (opening one if needed).
    pub async fn send(&mut self, call: Call) -> Result<()> {
        let sent = tokio::time::timeout(CALL_TIMEOUT, self.try_send(&call)).await;
        let result = sent.unwrap_or_else(|_| {
            Err(Error::Connect {
                url: self.client.url.to_string(),
                source: std::io::ErrorKind::TimedOut.into(),
            })
        });
        if matches!(result, Err(Error::Http(_) | Error::Connect { .. })) {
            // Never reuse a connection that just failed.
            *self.connection = None;
        }
        result
    }

    async fn try_send(&mut self, call: &Call) -> Result<()> {
        if self.connection.as_ref().is_none_or(|c| c.is_closed()) {
            *self.connection = Some(self.client.connect().await?);
        }
        let connection = self.connection.as_mut().expect("connected above");
        connection.ready().await?;
        let response = connection.send_request(self.client.request(call)?).await?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(status_error(call, response).await);
        }
        Ok(())
    }
}

impl EventStream {
    /// The next event, or `None` when the agent closed the stream.
    /// Cancel-safe.
    ///
    /// HEARTBEAT events are returned (the caller decides what to do with
    /// them); events of a type this crate does not know (a newer agent's)
    /// are skipped. A record that does not decode is an
    /// [`Error::Codec`], and the stream can be read on; any other error
    /// means the stream is broken.
    pub async fn next_event(&mut self) -> Result<Option<Event>> {
        loop {
            let Some(record) = self.records.next().await? else {
                return Ok(None);
            };
            if record.is_empty() {
                continue; // an empty record carries no event
            }
            let event: Event = codec::decode(&record, self.format)?;
            if event.r#type() == event::Type::Unknown {
                tracing::debug!(r#type = ?event.r#type, "skipping an event of an unknown type");
                continue;
            }
            return Ok(Some(event));
        }
    }
}

/// The error for a call the agent did not answer as expected.
async fn status_error(call: &Call, response: http::Response<Incoming>) -> Error {
    let status = response.status();
    let body = error_body(response.into_body()).await;
    Error::Status {
        call: call_name(call.r#type()),
        status,
        body: String::from_utf8_lossy(&body).trim().to_string(),
    }
}

fn call_name(r#type: call::Type) -> &'static str {
    match r#type {
        call::Type::Subscribe => "SUBSCRIBE",
        call::Type::Update => "UPDATE",
        call::Type::Message => "MESSAGE",
        call::Type::Heartbeat => "HEARTBEAT",
        call::Type::Unknown => "UNKNOWN",
    }
}
