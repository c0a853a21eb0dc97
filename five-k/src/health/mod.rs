//! Health checks that 5K runs itself: HTTP, HTTPS and TCP.
//!
//! A task can run and yet be useless: deadlocked, or answering errors.
//! Marathon asks each task of an app with health checks, every
//! `intervalSeconds`, and kills and replaces it after
//! `maxConsecutiveFailures` failed answers in a row. This module is the
//! asking; what an answer means (healthy, ignored in the grace period,
//! unhealthy, to be replaced) is decided in the scheduler
//! (`scheduler/health.rs`), which the checkers feed.
//!
//! - `state.rs`: a task's health record and what a result does to it,
//!   with no I/O (Marathon's `Health.scala`);
//! - `probe.rs`: one check against one task (`HealthCheckWorker.scala`);
//! - `checker.rs`: a tokio task per task and check, started and stopped
//!   as tasks come and go, whose results go to the scheduler in batches.
//!
//! COMMAND and MESOS_ checks are not run here: they go to the agent in
//! the task's `TaskInfo.health_check` (`scheduler/launch.rs`), which runs
//! them next to the task and reports `healthy` in status updates.

pub mod checker;
pub mod probe;
pub mod state;
