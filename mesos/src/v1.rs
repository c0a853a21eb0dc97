//! The Mesos v1 protobuf messages, generated from `proto/mesos/v1/*.proto`
//! (our subset of Apache Mesos' definitions, with the same names and
//! numbers, so the bytes on the wire are Mesos' own) ahead of time, into
//! `generated/` (`build.rs` says why and how).
//!
//! The modules mirror the protobuf packages: `mesos.v1` is [`crate::v1`],
//! `mesos.v1.scheduler` is [`scheduler`]. prost renames a little: message
//! `FrameworkID` becomes [`FrameworkId`], nested messages live in a module
//! named after their parent (`Offer.Operation` is `offer::Operation`),
//! and enum fields are stored as `i32` with a getter that returns the enum
//! (`status.state()`), because a newer master may send values we don't know.

#![allow(clippy::all, missing_docs, rustdoc::all)]

include!(concat!(env!("OUT_DIR"), "/mesos.v1.rs"));

/// The scheduler API's `Call` and `Event` messages.
pub mod scheduler {
    #![allow(clippy::all, missing_docs, rustdoc::all)]
    include!(concat!(env!("OUT_DIR"), "/mesos.v1.scheduler.rs"));
}

/// The executor API's `Call` and `Event` messages.
pub mod executor {
    #![allow(clippy::all, missing_docs, rustdoc::all)]
    include!(concat!(env!("OUT_DIR"), "/mesos.v1.executor.rs"));
}
