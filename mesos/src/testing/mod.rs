//! The test kit: what a framework's tests need to run it for real.
//!
//! A framework is tested best as its operators run it: the real binary, a
//! real ZooKeeper, and a Mesos master (the simulated one, whose faults can
//! be injected). This module has the pieces, so that every framework built
//! with the kit (and every step of the workshop) tests the same way:
//!
//! | item | what it is for |
//! |---|---|
//! | [`events`], [`calls`] | events built as a scenario reads; the calls returned, read back |
//! | [`executor`] | the same for executors: agent events built, status updates read back |
//! | [`ZooKeeperServer`] | a real ZooKeeper on a free loopback port |
//! | [`Cluster`] | a ZooKeeper and a simulated master, for one test |
//! | [`Framework`] | the framework's binary, run as a child process, its log kept |
//! | [`Stored`], [`read_stored`] | the framework's state as it is in ZooKeeper |
//! | [`eventually`] | waiting for a condition, with a deadline |
//! | [`web`] | GET and POST, for tests of a framework's web page |
//! | [`assert_usage_error`] | a bad flag or environment value: exit code 2 and a clear message |
//!
//! Every wait has a deadline ([`WAIT`]); a test that waits longer fails
//! with what it waited for (and the framework's log is in the output).
//!
//! ```no_run
//! use mesos::testing::Cluster;
//!
//! # async fn example() {
//! const BINARY: &str = "target/debug/hello-mesos"; // env!("CARGO_BIN_EXE_<name>") in a test
//! let cluster = Cluster::start(BINARY).await;
//! let mut framework = cluster.framework(&["--instances", "2"]);
//! let (framework_id, tasks) = cluster.wait_for_running(2).await;
//! framework.kill(); // kill -9: no clean-up, no last word
//! # let _ = (framework_id, tasks);
//! # }
//! ```
//!
//! Enabled by the crate's `testing` feature (for dev-dependencies):
//! `mesos = { path = "…", features = ["testing"] }`.

pub mod calls;
mod cluster;
pub mod events;
pub mod executor;
mod framework;
mod stored;
mod usage;
pub mod web;
mod zookeeper;

use std::time::{Duration, Instant};

pub use cluster::{Cluster, config, running_tasks, subscribed_framework};
pub use framework::Framework;
pub use stored::{Stored, create_node, read_node, read_stored};
pub use usage::assert_usage_error;
pub use zookeeper::{
    PortClaim, TICK_TIME, ZooKeeperServer, claim_port, four_letter_word, free_port,
};

/// The longest any one wait may take. Generous: a loaded 2-core machine
/// running many tests at once is slow, and a deadline is a liveness check,
/// not a benchmark.
pub const WAIT: Duration = Duration::from_secs(30);

/// Polls `check` until it returns something, at most [`WAIT`].
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
