//! What can go wrong when talking to a master, as types a framework can act on.
//!
//! The scheduler API answers with HTTP status codes, and each one asks for a
//! different reaction: a 400 is a bug in the call and retrying it is useless;
//! a 403 means "subscribe first"; a 503 means the masters are electing a
//! leader and the call will work in a moment. Keeping the master's message
//! with the code matters too: it is usually the only explanation there is.

use http::StatusCode;

use crate::{codec::CodecError, master::MasterAddr, recordio::ReadError};

/// Mesos' answers to a call from a subscription it does not know
/// (`src/master/http.cpp`); see [`Error::is_subscription_lost`].
const FRAMEWORK_NOT_FOUND: &str = "Framework cannot be found";
const FRAMEWORK_NOT_SUBSCRIBED: &str = "Framework is not subscribed";
const STALE_STREAM_ID: &str = "The stream ID '";

/// An error from the scheduler API client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the master could not parse or validate the call.
    #[error("master rejected the call as malformed (400 Bad Request): {0}")]
    BadRequest(String),
    /// 401: authentication is required or failed.
    #[error("master requires authentication (401 Unauthorized): {0}")]
    Unauthorized(String),
    /// 403: the framework is not subscribed, or not allowed to do this.
    #[error("master refused the call (403 Forbidden): {0}")]
    Forbidden(String),
    /// 503: no leading master right now (an election is under way).
    #[error("master unavailable (503 Service Unavailable): {0}")]
    Unavailable(String),
    /// Any other unexpected status.
    #[error("master answered {status}: {message}")]
    Status { status: StatusCode, message: String },
    /// More `307 Temporary Redirect`s than we follow: masters pointing at
    /// each other during an election, or a misconfigured proxy.
    #[error("gave up after {hops} redirects (last pointed at {last})")]
    TooManyRedirects { hops: usize, last: String },
    /// A redirect whose `Location` header we could not read.
    #[error("master sent a redirect with an unusable Location {0:?}")]
    BadRedirect(String),
    /// Connecting to the master failed.
    #[error("cannot connect to master at {addr}: {source}")]
    Connect {
        addr: MasterAddr,
        source: std::io::Error,
    },
    /// The TLS handshake with the master failed.
    #[error("TLS with master at {addr} failed: {source}")]
    Tls {
        addr: MasterAddr,
        source: std::io::Error,
    },
    /// An `https` master, but the crate was built without its `tls`
    /// feature.
    #[error("{addr}: {}", crate::master::TLS_DISABLED)]
    TlsDisabled { addr: MasterAddr },
    /// The HTTP exchange failed midway.
    #[error("HTTP error talking to the master: {0}")]
    Http(#[from] hyper::Error),
    /// The master's answer could not be decoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The event stream could not be read.
    #[error(transparent)]
    Stream(#[from] ReadError),
    /// The SUBSCRIBE answer lacked the `Mesos-Stream-Id` header.
    #[error("SUBSCRIBE answer has no valid Mesos-Stream-Id header")]
    NoStreamId,
    /// A call other than SUBSCRIBE made before any subscription exists.
    #[error("not subscribed: calls need a subscription (wait for SUBSCRIBED)")]
    NotSubscribed,
    /// No leading master is known (e.g. none registered in ZooKeeper).
    #[error("no leading master known yet")]
    NoLeader,
    /// The request could not be built.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Another scheduler subscribed with this framework's ID, and the
    /// master closed our subscription (ERROR "Framework failed over"). The
    /// driver stopped: see [`crate::DriverEvent::FailedOver`].
    #[error("another scheduler took over this framework (the master said {0:?}); this one stopped")]
    FailedOver(String),
    /// The master refused the subscription with an ERROR event. The driver
    /// stopped: see [`crate::DriverEvent::Refused`].
    #[error("the master refused the subscription: {0}")]
    Refused(String),
}

impl Error {
    /// Maps an unsuccessful HTTP status and body to an error.
    pub(crate) fn from_status(status: StatusCode, body: &[u8]) -> Error {
        let message = String::from_utf8_lossy(body).trim().to_string();
        match status {
            StatusCode::BAD_REQUEST => Error::BadRequest(message),
            StatusCode::UNAUTHORIZED => Error::Unauthorized(message),
            StatusCode::FORBIDDEN => Error::Forbidden(message),
            StatusCode::SERVICE_UNAVAILABLE => Error::Unavailable(message),
            status => Error::Status { status, message },
        }
    }

    /// Whether trying again later (maybe at another master) can succeed.
    /// A malformed call fails the same way every time; but a call the
    /// master refused because it does not know the subscription will work
    /// once the framework has subscribed again.
    pub fn is_retryable(&self) -> bool {
        if self.is_subscription_lost() {
            return true;
        }
        !matches!(
            self,
            Error::BadRequest(_)
                | Error::Unauthorized(_)
                | Error::InvalidRequest(_)
                | Error::TlsDisabled { .. }
                | Error::FailedOver(_)
                | Error::Refused(_)
        )
    }

    /// Whether the master refused a call because it does not know the
    /// subscription the call came from. Nothing is wrong with the call: the
    /// framework must subscribe again, then the call can succeed. That
    /// happens after a master failover (`src/master/http.cpp`,
    /// `Master::Http::scheduler`):
    ///
    /// * 400 "Framework cannot be found": the new leading master does not
    ///   know the framework until it resubscribes (or an agent running its
    ///   tasks re-registers);
    /// * 403 "Framework is not subscribed": it knows the framework (an agent
    ///   told it) but no scheduler is subscribed;
    /// * 400 "The stream ID '…' … didn't match …": the call carries the
    ///   `Mesos-Stream-Id` of a subscription that was replaced.
    pub fn is_subscription_lost(&self) -> bool {
        match self {
            Error::BadRequest(message) => {
                message == FRAMEWORK_NOT_FOUND || message.starts_with(STALE_STREAM_ID)
            }
            Error::Forbidden(message) => message == FRAMEWORK_NOT_SUBSCRIBED,
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
