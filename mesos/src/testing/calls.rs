//! Reading the calls a scheduler returned: what it launched, accepted,
//! declined, acknowledged, killed, asked about and told its executors.
//!
//! ```
//! use mesos::testing::{calls, events::*};
//! # fn scheduler_decides(_: &mesos::DriverEvent) -> Vec<mesos::v1::scheduler::Call> {
//! #     vec![mesos::calls::decline(vec![mesos::v1::OfferId { value: "o-1".into() }], 30.0)]
//! # }
//! let returned = scheduler_decides(&offers([offer("o-1").cpus(0.1)]));
//! assert!(calls::launched(&returned).is_empty());
//! assert_eq!(calls::declined(&returned), ["o-1"]);
//! ```

use bytes::Bytes;

use crate::v1::{
    TaskInfo,
    offer::operation,
    scheduler::{Call, call},
};

/// The type of each call, in order.
pub fn kinds(calls: &[Call]) -> Vec<call::Type> {
    calls.iter().map(Call::r#type).collect()
}

/// The tasks launched (by LAUNCH and LAUNCH_GROUP operations of ACCEPTs).
pub fn launched(calls: &[Call]) -> Vec<&TaskInfo> {
    let mut tasks = Vec::new();
    for accept in calls.iter().filter_map(|c| c.accept.as_ref()) {
        for operation in &accept.operations {
            match operation.r#type() {
                operation::Type::Launch => {
                    tasks.extend(operation.launch.iter().flat_map(|l| &l.task_infos));
                }
                operation::Type::LaunchGroup => {
                    let groups = operation.launch_group.iter();
                    tasks.extend(groups.flat_map(|g| &g.task_group.tasks));
                }
                _ => {}
            }
        }
    }
    tasks
}

/// The offers accepted, by ID.
pub fn accepted(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter_map(|c| c.accept.as_ref())
        .flat_map(|a| a.offer_ids.iter().map(|id| id.value.clone()))
        .collect()
}

/// The offers declined, by ID.
pub fn declined(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter_map(|c| c.decline.as_ref())
        .flat_map(|d| d.offer_ids.iter().map(|id| id.value.clone()))
        .collect()
}

/// How long the master is asked to hold back each declined offer
/// (`refuse_seconds`; Mesos' default 5 s when not given).
pub fn refuse_seconds(calls: &[Call]) -> Vec<(String, f64)> {
    calls
        .iter()
        .filter_map(|c| c.decline.as_ref())
        .flat_map(|d| {
            let seconds = d
                .filters
                .as_ref()
                .and_then(|f| f.refuse_seconds)
                .unwrap_or(5.0);
            d.offer_ids
                .iter()
                .map(move |id| (id.value.clone(), seconds))
        })
        .collect()
}

/// The updates acknowledged: (task ID, uuid).
pub fn acknowledged(calls: &[Call]) -> Vec<(String, Bytes)> {
    calls
        .iter()
        .filter_map(|c| c.acknowledge.as_ref())
        .map(|a| (a.task_id.value.clone(), a.uuid.clone()))
        .collect()
}

/// The tasks asked to be killed.
pub fn killed(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter_map(|c| c.kill.as_ref())
        .map(|k| k.task_id.value.clone())
        .collect()
}

/// The tasks asked about by RECONCILE calls: `None` if there is none,
/// an empty list for implicit reconciliation (all tasks).
pub fn reconciled(calls: &[Call]) -> Option<Vec<String>> {
    let reconcile = calls.iter().filter_map(|c| c.reconcile.as_ref()).last()?;
    Some(
        reconcile
            .tasks
            .iter()
            .map(|t| t.task_id.value.clone())
            .collect(),
    )
}

/// The framework messages sent (MESSAGE): executor ID and data.
pub fn messages(calls: &[Call]) -> Vec<(String, Bytes)> {
    calls
        .iter()
        .filter_map(|c| c.message.as_ref())
        .map(|m| (m.executor_id.value.clone(), m.data.clone()))
        .collect()
}
