//! Ending a framework for good: TEARDOWN.
//!
//! A framework with a long `failover_timeout` outlives its scheduler: stop
//! the scheduler and the master keeps the framework, and its tasks running
//! on the agents, for that long, waiting for a scheduler to come back. That
//! is the point in production. When the framework is really done (a
//! workshop moving on to the next step, a service retired), someone must
//! say so: the TEARDOWN call removes the framework at once and kills its
//! tasks (`docs/scheduler-http-api.md`).
//!
//! TEARDOWN is a call like any other, so it needs a subscription: we
//! subscribe with the framework's ID (taking it over from a scheduler that
//! may still run: it gets "Framework failed over" and stops) and send it.
//! The [`Driver`](crate::Driver) is not used, because it would register a
//! new framework if the master answers that this one is already removed.

use std::time::Duration;

use crate::{
    Client, ClientOptions, Error, MasterSpec, calls,
    detector::MasterDetector,
    driver::FRAMEWORK_REMOVED,
    error::Result,
    v1::{FrameworkInfo, scheduler::event},
};

/// How long to wait for the leading master, and for its answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What became of the framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TornDown {
    /// The master removed it now, and is killing its tasks.
    Now,
    /// The master had removed it already (its failover timeout passed, or
    /// it was torn down before).
    AlreadyRemoved,
}

/// Tears down the framework of `framework_info` (whose `id` must be set)
/// on the master of `spec`.
pub async fn teardown(
    spec: &MasterSpec,
    framework_info: FrameworkInfo,
    options: ClientOptions,
) -> Result<TornDown> {
    if framework_info.id.is_none() {
        return Err(Error::InvalidRequest(
            "no framework ID: there is no framework to tear down".into(),
        ));
    }
    let mut detector = MasterDetector::new(spec).map_err(|e| {
        Error::InvalidRequest(format!(
            "{e} (with --master local the framework lives and dies with the scheduler: \
             there is nothing to tear down)"
        ))
    })?;
    let master = tokio::time::timeout(TIMEOUT, detector.leader())
        .await
        .map_err(|_| Error::NoLeader)?;
    let client = Client::new(options);
    client.set_master(master);
    client.set_framework_id(framework_info.id.clone());
    let mut subscription = client.subscribe(calls::subscribe(framework_info)).await?;
    let first = tokio::time::timeout(TIMEOUT, subscription.next_event())
        .await
        .map_err(|_| Error::Status {
            status: http::StatusCode::GATEWAY_TIMEOUT,
            message: format!("no answer to SUBSCRIBE within {TIMEOUT:?}"),
        })??;
    let Some(first) = first else {
        return Err(Error::Refused("the master closed the stream".into()));
    };
    match first.r#type() {
        event::Type::Subscribed => {
            client.call(calls::teardown()).await?;
            Ok(TornDown::Now)
        }
        event::Type::Error => {
            let message = first.error.map(|e| e.message).unwrap_or_default();
            if message == FRAMEWORK_REMOVED {
                Ok(TornDown::AlreadyRemoved)
            } else {
                Err(Error::Refused(message))
            }
        }
        other => Err(Error::Refused(format!(
            "expected SUBSCRIBED, the master sent {}",
            other.as_str_name()
        ))),
    }
}
