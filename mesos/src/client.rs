//! The scheduler API client: one SUBSCRIBE stream, and calls beside it.
//!
//! A v1 framework talks to the master with plain HTTP POSTs of `Call`
//! messages to `/api/v1/scheduler` (`docs/scheduler-http-api.md`):
//!
//! 1. **SUBSCRIBE** opens a long-lived response: a RecordIO stream of
//!    `Event`s that starts with SUBSCRIBED. Its `Mesos-Stream-Id` header
//!    names this subscription.
//! 2. **Every other call** (ACCEPT, DECLINE, ACKNOWLEDGE, …) is a separate
//!    request on a *different* connection, carrying the `Mesos-Stream-Id`
//!    header and the `framework_id`. The master answers `202 Accepted`; the
//!    effects arrive later as events on the stream.
//!
//! The stream ID lets the master tell a framework's current subscription
//! from an older one still in flight after a failover: calls with a stale
//! ID are refused. A master that is not the leader answers `307` with the
//! leader's address in `Location`; we follow it.
//!
//! This type does no retrying on its own. [`crate::driver`] builds the
//! resubscribe-after-failure loop on top of it.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use crate::{
    codec::{self, ContentType},
    error::{Error, Result},
    master::MasterAddr,
    recordio::{DEFAULT_MAX_RECORD_LEN, RecordStream},
    transport::{self, Connection},
    v1::{
        FrameworkId,
        scheduler::{Call, Event},
    },
};

/// The header that names a subscription.
pub const STREAM_ID_HEADER: &str = "Mesos-Stream-Id";

/// Where the scheduler API lives on a master.
pub const SCHEDULER_PATH: &str = "/api/v1/scheduler";

/// The most of an error body we read: enough for any message a master writes.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub use crate::credentials::Credentials;

/// How the client talks to the master.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The wire format of calls and events. Protobuf by default.
    pub format: ContentType,
    /// Basic authentication, if the masters require it.
    pub credentials: Option<Credentials>,
    /// How many `307` redirects to follow before giving up.
    pub max_redirects: usize,
    /// The largest event accepted on the stream.
    pub max_record_len: usize,
    /// How long a call (not the stream) may take before it fails.
    pub call_timeout: Duration,
    /// TLS settings for `https` masters; the system's CAs if `None`.
    /// (Only with the crate's `tls` feature.)
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            format: ContentType::Protobuf,
            credentials: None,
            max_redirects: 5,
            max_record_len: DEFAULT_MAX_RECORD_LEN,
            call_timeout: Duration::from_secs(30),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// A client for one framework's use of the scheduler API. Cheap to clone;
/// clones share the subscription and the call connection.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    options: ClientOptions,
    state: Mutex<State>,
    /// The connection for calls. Behind an async mutex because calls are
    /// sent one at a time: HTTP/1.1 carries one request at a time per
    /// connection, and it keeps the master seeing calls in the order the
    /// scheduler made them.
    calls: tokio::sync::Mutex<Option<(MasterAddr, Connection)>>,
}

#[derive(Default)]
struct State {
    master: Option<MasterAddr>,
    stream_id: Option<String>,
    framework_id: Option<FrameworkId>,
}

/// An open SUBSCRIBE stream.
pub struct Subscription {
    stream_id: String,
    master: MasterAddr,
    format: ContentType,
    records: RecordStream<Incoming>,
}

impl Client {
    pub fn new(options: ClientOptions) -> Self {
        Client {
            inner: Arc::new(Inner {
                options,
                state: Mutex::default(),
                calls: tokio::sync::Mutex::new(None),
            }),
        }
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// The master calls go to (updated when a redirect is followed).
    pub fn master(&self) -> Option<MasterAddr> {
        self.state().master.clone()
    }

    /// Points the client at a (new) leading master.
    pub fn set_master(&self, master: MasterAddr) {
        self.state().master = Some(master);
    }

    /// The framework ID calls are sent with.
    pub fn framework_id(&self) -> Option<FrameworkId> {
        self.state().framework_id.clone()
    }

    /// Sets the framework ID calls are sent with: from SUBSCRIBED, or
    /// `None` to register as a new framework.
    pub fn set_framework_id(&self, framework_id: Option<FrameworkId>) {
        self.state().framework_id = framework_id;
    }

    /// The `Mesos-Stream-Id` of the current subscription.
    pub fn stream_id(&self) -> Option<String> {
        self.state().stream_id.clone()
    }

    /// Forgets the current subscription: calls fail with
    /// [`Error::NotSubscribed`] until the next SUBSCRIBE succeeds.
    pub fn clear_subscription(&self) {
        self.state().stream_id = None;
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().expect("client state lock poisoned")
    }

    /// Sends SUBSCRIBE on a new connection and returns the event stream.
    ///
    /// To resubscribe after a failover, the call must carry the framework
    /// ID both in `subscribe.framework_info.id` and in `framework_id`;
    /// [`crate::calls::subscribe`] builds it that way.
    pub async fn subscribe(&self, call: Call) -> Result<Subscription> {
        let body = codec::encode(&call, self.inner.options.format);
        let mut master = self.master().ok_or(Error::NoLeader)?;
        for _hop in 0..=self.inner.options.max_redirects {
            // A fresh connection for every SUBSCRIBE: its response holds the
            // connection for the lifetime of the subscription.
            let mut connection = transport::connect(&master, &self.inner.options).await?;
            let request = self.request(&master, body.clone(), None)?;
            let response = connection.send_request(request).await?;
            match response.status() {
                StatusCode::OK => {
                    let stream_id = response
                        .headers()
                        .get(STREAM_ID_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .filter(|id| !id.is_empty() && id.len() <= 128)
                        .ok_or(Error::NoStreamId)?
                        .to_string();
                    let format = response_format(response.headers(), self.inner.options.format);
                    {
                        let mut state = self.state();
                        state.stream_id = Some(stream_id.clone());
                        state.master = Some(master.clone());
                    }
                    return Ok(Subscription {
                        stream_id,
                        master,
                        format,
                        records: RecordStream::new(
                            response.into_body(),
                            self.inner.options.max_record_len,
                        ),
                    });
                }
                StatusCode::TEMPORARY_REDIRECT => {
                    master = redirect_target(response.headers(), &master)?;
                    tracing::info!(%master, "not the leading master; following the redirect");
                    self.set_master(master.clone());
                }
                status => return Err(error_from_response(status, response.into_body()).await),
            }
        }
        Err(Error::TooManyRedirects {
            hops: self.inner.options.max_redirects,
            last: master.to_string(),
        })
    }

    /// Sends any call but SUBSCRIBE, filling in `framework_id` when the call
    /// has none. Returns the body of a `200 OK` (RECONCILE_OPERATIONS has
    /// one), `None` for the usual `202 Accepted`.
    pub async fn call(&self, call: Call) -> Result<Option<Bytes>> {
        self.call_on_stream(call).await.1
    }

    /// Like [`Client::call`], also returning the `Mesos-Stream-Id` the call
    /// was sent with, so that the driver can tell whether a refusal is
    /// about the current subscription or an older one.
    pub(crate) async fn call_on_stream(
        &self,
        call: Call,
    ) -> (Option<String>, Result<Option<Bytes>>) {
        let stream_id = self.stream_id();
        let result = match &stream_id {
            Some(stream_id) => self.call_with(call, stream_id).await,
            None => Err(Error::NotSubscribed),
        };
        (stream_id, result)
    }

    async fn call_with(&self, mut call: Call, stream_id: &str) -> Result<Option<Bytes>> {
        let framework_id = self.framework_id();
        if call.framework_id.is_none() {
            call.framework_id = framework_id;
        }
        let body = codec::encode(&call, self.inner.options.format);
        tokio::time::timeout(
            self.inner.options.call_timeout,
            self.send_call(body, stream_id),
        )
        .await
        .map_err(|_| Error::Status {
            status: StatusCode::GATEWAY_TIMEOUT,
            message: format!(
                "no answer to the call within {:?}",
                self.inner.options.call_timeout
            ),
        })?
    }

    async fn send_call(&self, body: Bytes, stream_id: &str) -> Result<Option<Bytes>> {
        let mut connection = self.inner.calls.lock().await;
        let mut master = self.master().ok_or(Error::NoLeader)?;
        for _hop in 0..=self.inner.options.max_redirects {
            let sender = self.call_connection(&mut connection, &master).await?;
            let request = self.request(&master, body.clone(), Some(stream_id))?;
            let response = match sender.send_request(request).await {
                Ok(response) => response,
                Err(error) => {
                    // Don't reuse a connection that just failed.
                    *connection = None;
                    return Err(error.into());
                }
            };
            match response.status() {
                StatusCode::ACCEPTED => return Ok(None),
                StatusCode::OK => {
                    // Bounded like the events: a master (or something
                    // pretending to be one) must not make us buffer
                    // without limit.
                    let limit = self.inner.options.max_record_len;
                    let body = Limited::new(response.into_body(), limit)
                        .collect()
                        .await
                        .map_err(|error| Error::Status {
                            status: StatusCode::OK,
                            message: format!("unreadable answer (at most {limit} bytes): {error}"),
                        })?;
                    return Ok(Some(body.to_bytes()));
                }
                StatusCode::TEMPORARY_REDIRECT => {
                    master = redirect_target(response.headers(), &master)?;
                    tracing::info!(%master, "call redirected to the leading master");
                    self.set_master(master.clone());
                }
                status => return Err(error_from_response(status, response.into_body()).await),
            }
        }
        Err(Error::TooManyRedirects {
            hops: self.inner.options.max_redirects,
            last: master.to_string(),
        })
    }

    /// The open call connection to `master`, dialing a new one if there is
    /// none, it goes elsewhere, or the master closed it.
    async fn call_connection<'c>(
        &self,
        slot: &'c mut Option<(MasterAddr, Connection)>,
        master: &MasterAddr,
    ) -> Result<&'c mut Connection> {
        let reusable =
            matches!(slot, Some((addr, sender)) if addr == master && !sender.is_closed());
        if !reusable {
            let sender = transport::connect(master, &self.inner.options).await?;
            *slot = Some((master.clone(), sender));
        }
        let (_, sender) = slot.as_mut().expect("just filled");
        if sender.ready().await.is_err() {
            // Closed between the check and now: dial once more.
            *sender = transport::connect(master, &self.inner.options).await?;
            sender.ready().await?;
        }
        Ok(sender)
    }

    fn request(
        &self,
        master: &MasterAddr,
        body: Bytes,
        stream_id: Option<&str>,
    ) -> Result<Request<Full<Bytes>>> {
        let format = self.inner.options.format.media_type();
        let mut request = Request::post(SCHEDULER_PATH)
            // hyper's connection API does not add Host; HTTP/1.1 requires it.
            .header(header::HOST, master.authority())
            .header(header::CONTENT_TYPE, format)
            .header(header::ACCEPT, format);
        if let Some(stream_id) = stream_id {
            request = request.header(STREAM_ID_HEADER, stream_id);
        }
        if let Some(credentials) = &self.inner.options.credentials {
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", credentials.principal, credentials.secret));
            let mut value = HeaderValue::from_str(&format!("Basic {token}"))
                .map_err(|e| Error::InvalidRequest(format!("credentials: {e}")))?;
            value.set_sensitive(true);
            request = request.header(header::AUTHORIZATION, value);
        }
        request
            .body(Full::new(body))
            .map_err(|e| Error::InvalidRequest(e.to_string()))
    }
}

impl Subscription {
    /// The `Mesos-Stream-Id` the master gave this subscription.
    pub fn stream_id(&self) -> &str {
        &self.stream_id
    }

    /// The master this stream comes from.
    pub fn master(&self) -> &MasterAddr {
        &self.master
    }

    /// The next event, or `None` when the master closed the stream.
    /// Cancel-safe.
    ///
    /// An event that does not decode is an [`Error::Codec`], and the
    /// stream can still be read on: its record was framed correctly, only
    /// its content is not what we understand. Any other error means the
    /// stream itself is broken.
    pub async fn next_event(&mut self) -> Result<Option<Event>> {
        loop {
            match self.records.next().await? {
                // An empty record (length 0) carries no event.
                Some(record) if record.is_empty() => continue,
                Some(record) => return Ok(Some(codec::decode(&record, self.format)?)),
                None => return Ok(None),
            }
        }
    }
}

/// The format of a response body: what its `Content-Type` says, else what
/// we asked for.
pub(crate) fn response_format(headers: &http::HeaderMap, requested: ContentType) -> ContentType {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(ContentType::from_media_type)
        .unwrap_or(requested)
}

/// Where a `307 Temporary Redirect` points. A real master writes a
/// protocol-relative `//host:port/path`; the docs show a bare `host:port`;
/// proxies may add a scheme. All three keep our scheme unless they name one.
pub fn redirect_target(headers: &http::HeaderMap, current: &MasterAddr) -> Result<MasterAddr> {
    let location = headers
        .get(header::LOCATION)
        .ok_or_else(|| Error::BadRedirect(String::new()))?
        .to_str()
        .map_err(|_| Error::BadRedirect("<not ASCII>".into()))?;
    let target = location.strip_prefix("//").unwrap_or(location);
    MasterAddr::parse_with_default_scheme(target, current.scheme)
        .map_err(|_| Error::BadRedirect(location.to_string()))
}

async fn error_from_response(status: StatusCode, body: Incoming) -> Error {
    Error::from_status(status, &error_body(body).await)
}

/// The body of an error answer: its explanation, bounded.
pub(crate) async fn error_body(body: Incoming) -> Bytes {
    match Limited::new(body, MAX_ERROR_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::from_static(b"<unreadable body>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master::Scheme;

    fn location(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(header::LOCATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn redirect_forms() {
        let current = MasterAddr::new(Scheme::Https, "m1", 5050);
        let cases = [
            (
                "//m2:5051/api/v1/scheduler",
                MasterAddr::new(Scheme::Https, "m2", 5051),
            ),
            ("m2:5051", MasterAddr::new(Scheme::Https, "m2", 5051)),
            (
                "http://m3:5050/master/api/v1/scheduler",
                MasterAddr::new(Scheme::Http, "m3", 5050),
            ),
            (
                "//m4/api/v1/scheduler",
                MasterAddr::new(Scheme::Https, "m4", 5050),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(
                redirect_target(&location(value), &current).unwrap(),
                expected,
                "{value}"
            );
        }
        assert!(matches!(
            redirect_target(&http::HeaderMap::new(), &current),
            Err(Error::BadRedirect(_))
        ));
        assert!(matches!(
            redirect_target(&location("//"), &current),
            Err(Error::BadRedirect(_))
        ));
    }

    #[test]
    fn status_codes_map_to_errors_with_the_masters_message() {
        let message = b"Framework is not subscribed\n";
        assert!(matches!(
            Error::from_status(StatusCode::FORBIDDEN, message),
            Error::Forbidden(m) if m == "Framework is not subscribed"
        ));
        assert!(matches!(
            Error::from_status(StatusCode::BAD_REQUEST, b"x"),
            Error::BadRequest(_)
        ));
        assert!(matches!(
            Error::from_status(StatusCode::SERVICE_UNAVAILABLE, b"no leader"),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            Error::from_status(StatusCode::INTERNAL_SERVER_ERROR, b"boom"),
            Error::Status { status, .. } if status == 500
        ));
    }
}
