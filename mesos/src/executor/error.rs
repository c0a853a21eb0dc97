//! What can go wrong for an executor, as types it can act on.
//!
//! An executor has fewer choices than a scheduler: it cannot look for
//! another agent. A bad environment means the agent (or whoever started
//! the executor) made a mistake, and the executor stops with the message;
//! a refused call is a bug in the call; a lost connection is the driver's
//! business (it resubscribes or shuts down, as Mesos' library does).

use http::StatusCode;

use crate::{codec::CodecError, recordio::ReadError};

/// An error of the executor API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An environment variable the executor needs is missing or malformed.
    #[error("environment variable {variable}: {problem}")]
    Config {
        variable: &'static str,
        problem: String,
    },
    /// The agent could not be reached.
    #[error("cannot connect to the agent at {url}: {source}")]
    Connect { url: String, source: std::io::Error },
    /// The HTTP exchange with the agent failed midway.
    #[error("HTTP error talking to the agent: {0}")]
    Http(#[from] hyper::Error),
    /// The agent answered a call with an unexpected status; the body is
    /// usually the only explanation there is.
    #[error("the agent answered {call} with {status}: {body}")]
    Status {
        call: &'static str,
        status: StatusCode,
        body: String,
    },
    /// A record of the event stream did not decode as an `Event`.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The event stream itself is broken (not RecordIO, cut mid-record).
    #[error(transparent)]
    Stream(#[from] ReadError),
    /// A status update the agent would refuse, caught before sending it.
    #[error("invalid status update: {0}")]
    InvalidUpdate(String),
    /// A call other than SUBSCRIBE while not subscribed.
    #[error("not subscribed to the agent: the call was not sent")]
    NotSubscribed,
    /// The driver has stopped: nothing more can be sent.
    #[error("the executor driver has stopped")]
    Stopped,
}

impl Error {
    /// Whether the agent found the call invalid (`400 Bad Request`, from
    /// `validateExecutorCall`): sending it again would be refused again.
    /// (A `403` only says the agent does not know the subscription yet.)
    pub fn is_refusal(&self) -> bool {
        matches!(self, Error::Status { status, .. } if *status == StatusCode::BAD_REQUEST)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
