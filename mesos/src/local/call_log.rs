//! A record of the calls the master received: who was heard, on which
//! subscription, and whether the master took the call.
//!
//! A framework running as several instances must never have two of them
//! act at once. From the outside, the master is where that shows: after a
//! new leader subscribes, the master must take no call from any other
//! instance. Tests read this log ([`LocalMaster::calls`](super::LocalMaster::calls))
//! to check it. It lives beside the snapshot rather than in it, so that
//! publishing the cluster's state after every change stays cheap however
//! long the log grows.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use crate::v1::scheduler::call;

/// The most calls kept: the oldest go first.
const MAX_RECORDS: usize = 100_000;

/// One call, as the master handled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// The order in which the master handled the calls, from 0.
    pub sequence: u64,
    pub kind: call::Type,
    /// The framework the call is for (for SUBSCRIBE: the framework it
    /// subscribed as; empty if refused).
    pub framework_id: String,
    /// The subscription: for SUBSCRIBE the new stream's `Mesos-Stream-Id`,
    /// for other calls the one in the request's header.
    pub stream_id: Option<String>,
    /// Whether the master took it (200 or 202, or SUBSCRIBED).
    pub accepted: bool,
}

/// The log, shared by the master's actor (which appends, in the order it
/// handles calls) and the `LocalMaster` handle (which reads).
#[derive(Debug, Clone, Default)]
pub(crate) struct CallLog(Arc<Mutex<Log>>);

#[derive(Debug, Default)]
struct Log {
    records: VecDeque<CallRecord>,
    next: u64,
}

impl CallLog {
    pub(crate) fn record(
        &self,
        kind: call::Type,
        framework_id: String,
        stream_id: Option<String>,
        accepted: bool,
    ) {
        let mut log = self.0.lock().expect("call log lock");
        let sequence = log.next;
        log.next += 1;
        if log.records.len() == MAX_RECORDS {
            log.records.pop_front();
        }
        log.records.push_back(CallRecord {
            sequence,
            kind,
            framework_id,
            stream_id,
            accepted,
        });
    }

    pub(crate) fn records(&self) -> Vec<CallRecord> {
        let log = self.0.lock().expect("call log lock");
        log.records.iter().cloned().collect()
    }
}
