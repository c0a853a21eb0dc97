//! The launch queue: apps waiting for tasks to be launched.
//!
//! Marathon shows in `GET /v2/queue` every app that still needs tasks
//! (new instances, replacements of failed tasks), with how many and since
//! when it waits: the first place to look when an app does not start
//! (its offers do not fit, the cluster is full). 5K's decisions already
//! know how many each app misses ([`Scheduler::missing_instances`]); this
//! adds since when, and what became of its offers (`offer_stats.rs`).

use super::{AppEntry, Scheduler, offer_stats::OfferStats};
use crate::app::PathId;

impl Scheduler {
    /// Every app missing tasks, with how many and since when it waits.
    pub fn launch_queue(&self) -> impl Iterator<Item = (&AppEntry, u32, String)> {
        self.apps.values().filter_map(|entry| {
            let count = self.missing_instances(&entry.app.id);
            // An app changed in this very batch is noted when it ends.
            let since = self
                .waiting_since
                .get(&entry.app.id)
                .cloned()
                .unwrap_or_else(|| self.timestamp());
            (count > 0).then_some((entry, count, since))
        })
    }

    /// What became of the offers `app_id` was given since it waits.
    pub fn offer_stats(&self, app_id: &PathId) -> Option<&OfferStats> {
        self.offer_stats.get(app_id)
    }

    /// Whether `app_id` waits for launches.
    pub fn is_queued(&self, app_id: &PathId) -> bool {
        self.missing_instances(app_id) > 0
    }

    /// Notes when `app_id` starts or stops waiting, and says whether it
    /// just started. Called for each app touched: its count of tasks
    /// changes only through a request or a status update, and both touch
    /// it.
    pub(super) fn note_waiting(&mut self, app_id: &PathId) -> bool {
        if self.missing_instances(app_id) == 0 {
            self.waiting_since.remove(app_id);
            // Its launch attempt is over: the next starts afresh, as
            // Marathon's `LaunchFinished`.
            self.offer_stats.remove(app_id);
            false
        } else if !self.waiting_since.contains_key(app_id) {
            let now = self.timestamp();
            self.waiting_since.insert(app_id.clone(), now);
            true
        } else {
            false
        }
    }
}
