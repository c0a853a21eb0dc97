//! # mesos: write Apache Mesos frameworks in Rust
//!
//! A Mesos *framework* is a program that runs tasks on a cluster. Mesos
//! splits the work in two: the master knows the cluster's machines
//! (*agents*) and their free resources and *offers* them to frameworks; the
//! framework's *scheduler* decides what to run where, by accepting offers
//! with tasks or declining them. The master then launches the tasks on the
//! agents and reports every change of a task's state as a *status update*.
//!
//! This crate speaks the scheduler side of that conversation through the
//! Mesos v1 scheduler HTTP API, and the executor side (the process on the
//! agent that runs a framework's tasks) through the v1 executor API:
//!
//! | module | what it is for |
//! |---|---|
//! | [`v1`] | the protobuf messages (`Call`, `Event`, `Offer`, `TaskInfo`, …) |
//! | [`calls`] | one function per call: accept, decline, acknowledge, reconcile, … |
//! | [`driver`] | stays subscribed: heartbeats, failover, resubscribing |
//! | [`client`] | the HTTP requests underneath: SUBSCRIBE stream and calls |
//! | [`credentials`] | principal and secret for masters that authenticate frameworks |
//! | [`flags`] | checking flag values: a bad one is a usage error (exit code 2) |
//! | [`recordio`] | how events are framed on the stream |
//! | [`codec`] | protobuf and JSON encodings of the messages |
//! | [`master`], [`detector`] | `--master` values and finding the leading master |
//! | [`zookeeper`] | `zk://` addresses, for master detection and state |
//! | [`resources`], [`offers`] | resource arithmetic and fitting tasks into offers |
//! | [`artifacts`] | serving a file (the framework's own executor) to the agents' fetchers |
//! | [`reconcile`] | explicit-then-implicit task reconciliation |
//! | [`backoff`] | jittered exponential backoff for retries |
//! | [`state`] | the framework's state in ZooKeeper: framework ID, instances, tasks |
//! | [`leader`] | leader election in ZooKeeper: one scheduler acts, the others stand by |
//! | [`teardown`] | ending a framework for good (TEARDOWN) |
//! | [`executor`] | the executor side: the agent's executor API, a driver, status updates |
//! | [`health`] | `TaskInfo.health_check` run next to the task, as Mesos' executors run it |
//! | [`local`] | a simulated master with agents, for `--master local` and tests |
//! | `tls` | a CA bundle for `https` masters; TLS for the simulated master (feature `tls`) |
//! | `testing` | the test kit: real ZooKeeper, simulated master, the framework's binary (feature `testing`) |
//!
//! `https://` masters need the crate's `tls` feature (rustls): the
//! workshop's masters speak plain HTTP, and a framework compiles only what
//! it asks for.
//!
//! A framework's own logic is best written as a pure function from events
//! to calls ([`driver::Scheduler`]): it can then be tested without a master.
//! See `examples/hello.rs` for a whole framework in one file.

pub mod artifacts;
pub mod attributes;
pub mod backoff;
pub mod calls;
pub mod client;
pub mod codec;
pub mod credentials;
pub mod detector;
pub mod driver;
pub mod error;
pub mod executor;
pub mod flags;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod leader;
pub mod local;
pub mod master;
pub mod offers;
pub mod reconcile;
pub mod recordio;
pub mod resources;
pub mod state;
mod task_state;
pub mod teardown;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;
pub mod v1;
pub mod zookeeper;

pub use client::{Client, ClientOptions, Credentials};
pub use driver::{Driver, DriverConfig, DriverEvent, Scheduler};
pub use error::{Error, Result};
pub use master::{MasterAddr, MasterSpec};
