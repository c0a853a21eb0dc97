//! What each changed app still needs, after a batch of decisions.
//!
//! Requests and updates mark the apps they touch; [`Scheduler::converge`]
//! then looks at each once: kills tasks the app no longer wants, asks for
//! offers if it waits for some, and ends deployments whose app now matches
//! its definition. Doing this once per batch, not once per event, keeps
//! a burst of 1,000 status updates from re-examining an app 1,000 times.
//!
//! Replacing tasks (a restart, a new configuration) starts the new ones
//! first: an old task is killed only once a new one runs in its place,
//! so the app never has fewer running tasks than it had (Marathon's
//! default `upgradeStrategy`, minimumHealthCapacity 1).

use super::{Scheduler, task::Task};
use crate::{
    app::{KillSelection, PathId},
    events::Event,
};

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
        let waiting = !self.waiting_since.is_empty();
        if newly_waiting || (waiting && self.suppressed) {
            self.revive();
        }
    }

    /// Kills the tasks `app_id` has beyond what it wants.
    fn kill_unwanted(&mut self, app_id: &PathId) {
        let active: Vec<Task> = self
            .tasks
            .of_app(app_id)
            .filter(|t| t.is_active())
            .cloned()
            .collect();
        let Some(entry) = self.apps.get(app_id) else {
            // A deleted app: all of them.
            for task in active {
                self.kill(&task.id);
            }
            return;
        };
        let app = &entry.app;
        let config = app.config_version().to_string();
        let wanted = app.instances as usize;
        let selection = app.kill_selection;
        // Tasks that failed their health checks go their own way
        // (`health.rs`): killed once replaced.
        let (current, outdated): (Vec<Task>, Vec<Task>) = active
            .into_iter()
            .filter(|t| !self.is_failed_by_checks(t))
            .partition(|t| t.config_version == config);
        let running_current = current.iter().filter(|t| t.is_running()).count();
        // Extras of the current configuration: the app was scaled down.
        let mut to_kill = beyond(current, wanted, selection);
        // Outdated tasks, once new ones run in their place.
        to_kill.extend(beyond(
            outdated,
            wanted.saturating_sub(running_current),
            selection,
        ));
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
    /// instances, all running its current configuration, and nothing else
    /// alive (a deleted app: nothing at all).
    fn app_matches_its_definition(&self, app_id: &PathId) -> bool {
        let mut tasks = self.tasks.of_app(app_id);
        let Some(entry) = self.apps.get(app_id) else {
            return tasks.next().is_none();
        };
        let config = entry.app.config_version();
        let mut running = 0;
        for task in tasks {
            if task.killing || task.config_version != config || !task.is_running() {
                return false;
            }
            running += 1;
        }
        running == entry.app.instances
    }
}

/// The tasks beyond the first `keep` to spare, in kill order: tasks not
/// yet running first (killing them loses no work), then by `selection`.
fn beyond(mut tasks: Vec<Task>, keep: usize, selection: KillSelection) -> Vec<Task> {
    let count = tasks.len().saturating_sub(keep);
    tasks.sort_by(|a, b| {
        let by_age = a.staged_at.cmp(&b.staged_at).then_with(|| a.id.cmp(&b.id));
        a.is_running().cmp(&b.is_running()).then(match selection {
            KillSelection::YoungestFirst => by_age.reverse(),
            KillSelection::OldestFirst => by_age,
        })
    });
    tasks.truncate(count);
    tasks
}
