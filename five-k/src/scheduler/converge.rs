//! What each changed app still needs, after a batch of decisions.
//!
//! Requests and updates mark the apps they touch; [`Scheduler::converge`]
//! then looks at each once: kills tasks the app no longer wants, asks for
//! offers if it waits for some, and ends deployments whose app now matches
//! its definition. Doing this once per batch, not once per event, keeps
//! a burst of 1,000 status updates from re-examining an app 1,000 times.
//!
//! Replacing tasks (a restart, a new configuration) follows the app's
//! `upgradeStrategy` (`replace.rs`): old tasks go as new ones come to
//! serve, the app never below its minimum serving nor above its maximum.

use super::{Scheduler, replace, task::Task};
use crate::{app::PathId, events::Event};

impl Scheduler {
    /// Acts on every app touched since the last call.
    pub fn converge(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for app_id in &dirty {
            self.kill_unwanted(app_id);
            self.kill_failed(app_id);
        }
        // Kills may have marked apps again; that is done with.
        self.dirty.clear();
        let mut newly_waiting = false;
        for app_id in &dirty {
            self.advance_deployments(app_id);
            newly_waiting |= self.note_waiting(app_id);
        }
        // REVIVE also clears the filters of offers declined for the apps
        // that waited before: the new one may fit where they did not
        // (Marathon revives when an app joins its launch queue).
        // An app whose launches are delayed wants no offers until the
        // delay ends (`on_timer` revives then).
        let waiting = self.waiting_since.keys().any(|id| !self.is_delayed(id));
        if waiting && (newly_waiting || self.suppressed) {
            self.revive();
        }
    }

    /// Kills the tasks `app_id` has beyond what it wants, within its
    /// upgrade strategy.
    fn kill_unwanted(&mut self, app_id: &PathId) {
        let tasks: Vec<Task> = self.tasks.of_app(app_id).cloned().collect();
        let to_kill = match self.apps.get(app_id) {
            // Tasks that failed their health checks go their own way
            // (`health.rs`): killed once replaced.
            Some(entry) => replace::plan(&entry.app, &tasks, |t| self.is_failed_by_checks(t)).kill,
            // A deleted app: all of them.
            None => tasks.into_iter().filter(|t| t.is_active()).collect(),
        };
        for task in to_kill {
            self.kill(&task.id);
        }
    }

    /// Moves the deployments of `app_id` on, and ends those that are done.
    fn advance_deployments(&mut self, app_id: &PathId) {
        let ids: Vec<String> = self.deployments_of(app_id).map(|d| d.id.clone()).collect();
        for id in ids {
            if !self.app_matches_its_definition(app_id) {
                continue;
            }
            let Some(mut deployment) = self.deployments.remove(&id) else {
                continue;
            };
            self.changes.deployments.insert(id);
            let timestamp = self.timestamp();
            deployment.current_step = deployment.steps.len();
            self.publish(Event::deployment_step_success(&timestamp, &deployment));
            tracing::info!(app = %app_id, deployment = %deployment.id, "deployment finished");
            self.publish(Event::deployment_success(&timestamp, &deployment));
            if deployment.target.is_none() {
                self.publish(Event::app_terminated(&timestamp, &app_id.to_string()));
            }
        }
    }

    /// Whether the cluster runs exactly what the app asks for: its
    /// instances, all serving its current configuration (healthy, if it
    /// has health checks), and nothing else alive (a deleted app:
    /// nothing at all).
    fn app_matches_its_definition(&self, app_id: &PathId) -> bool {
        let mut tasks = self.tasks.of_app(app_id);
        let Some(entry) = self.apps.get(app_id) else {
            return tasks.next().is_none();
        };
        let config = entry.app.config_version();
        let has_health_checks = !entry.app.health_checks.is_empty();
        let mut running = 0;
        for task in tasks {
            if task.config_version != config || !task.is_serving(has_health_checks) {
                return false;
            }
            running += 1;
        }
        running == entry.app.instances
    }
}
