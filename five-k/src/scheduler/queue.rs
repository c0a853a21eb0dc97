//! The launch queue: apps waiting for tasks to be launched.
//!
//! Marathon shows in `GET /v2/queue` every app that still needs tasks
//! (new instances, replacements of failed tasks), with how many and since
//! when it waits: the first place to look when an app does not start
//! (its offers do not fit, the cluster is full). 5K's decisions already
//! know how many each app misses ([`Scheduler::missing_instances`]); this
//! adds since when, how long its crash-loop delay still holds it back
//! (`backoff.rs`), and what became of its offers (`offer_stats.rs`).

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

    /// How long `entry`'s launches still wait for its delay, in whole
    /// seconds, and whether its deadline is a second or more past
    /// (`QueueInfoConversion.scala`: `timeLeft.toSeconds < 0`). An app
    /// with no delay waits for nothing: 0, not overdue.
    pub fn launch_delay(&self, entry: &AppEntry) -> (u64, bool) {
        let Some(deadline) = self.backoff.deadline(&entry.app, self.instant) else {
            return (0, false);
        };
        match deadline.checked_duration_since(self.instant) {
            Some(left) => (left.as_secs(), false),
            None => (0, self.instant.duration_since(deadline).as_secs() >= 1),
        }
    }

    /// `DELETE /v2/queue/{app}/delay`: launches `app_id` without waiting
    /// for its delay. False if it does not wait for launches.
    pub fn reset_delay(&mut self, app_id: &PathId) -> bool {
        if !self.is_queued(app_id) {
            return false;
        }
        self.backoff.reset(app_id);
        self.dirty.insert(app_id.clone());
        true
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
