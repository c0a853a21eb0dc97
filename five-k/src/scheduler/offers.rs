//! Which app gets which offer.
//!
//! Many apps wait for room at once, and one offer may have room for tasks
//! of several. Serving apps in a fixed order would let one app of 10,000
//! instances take every offer while an app of one instance starves, so
//! each offer is dealt out one task at a time, app after app, starting
//! each round where the last one stopped. An app whose task does not fit
//! this offer is skipped, not waited for, and so is an app whose
//! placement constraints the offer's agent breaks (`placement.rs`); each
//! such unused offer is counted for the app with why (`offer_stats.rs`).
//!
//! Offers nobody can use are declined with a filter, so the master offers
//! them to other frameworks for a while; when no app waits at all, 5K
//! asks the master to stop sending offers (SUPPRESS) and to start again
//! (REVIVE) when one does, as a well-behaved framework must on a shared
//! cluster (`docs/app-framework-development-guide.md`).

use mesos::{
    calls,
    offers::{OfferPacker, TaskRequirements},
    resources::Resources,
    v1::{Offer, TaskInfo, TaskState},
};

use super::{
    REFUSE_WHEN_IDLE, REFUSE_WHILE_WAITING, Scheduler, launch, offer_match,
    offer_stats::NoMatch,
    placement::{AgentInfo, Placed},
    replace,
    task::Task,
};
use crate::app::PathId;

/// An app waiting for room, in one round of offers.
struct Waiting {
    app_id: PathId,
    needs: TaskRequirements,
    count: u32,
}

impl Scheduler {
    pub(super) fn on_offers(&mut self, offers: &[Offer]) {
        let mut waiting = self.waiting_apps();
        // One DECLINE for all the offers of the event declined alike, not
        // one call each: the calls go out one after another, and a master
        // of 1,000 agents offers them all at once.
        let mut unused_while_waiting = Vec::new();
        let mut unused_when_idle = Vec::new();
        for offer in offers {
            let launches = self.fill(offer, &mut waiting);
            if launches.is_empty() {
                if waiting.is_empty() {
                    unused_when_idle.push(offer.id.clone());
                } else {
                    unused_while_waiting.push(offer.id.clone());
                }
            } else {
                tracing::info!(agent = %offer.hostname, tasks = launches.len(), "launching tasks");
                self.effects.calls.push(calls::accept(
                    vec![offer.id.clone()],
                    vec![calls::launch(launches)],
                    Some(calls::refuse_for(REFUSE_WHILE_WAITING)),
                ));
            }
        }
        for (offer_ids, refuse) in [
            (unused_while_waiting, REFUSE_WHILE_WAITING),
            (unused_when_idle, REFUSE_WHEN_IDLE),
        ] {
            if !offer_ids.is_empty() {
                self.effects.calls.push(calls::decline(offer_ids, refuse));
            }
        }
        if waiting.is_empty() && !self.suppressed {
            self.suppressed = true;
            self.effects.calls.push(calls::suppress(vec![]));
        }
    }

    /// How many tasks each app still needs launched, in this round's order.
    fn waiting_apps(&mut self) -> Vec<Waiting> {
        let mut waiting: Vec<Waiting> = self
            .apps
            .values()
            // A delayed app declines its offers (`TaskLauncherActor`'s
            // backOffUntil): its tasks keep failing.
            .filter(|entry| !self.backoff.is_delayed(&entry.app, self.instant))
            .filter_map(|entry| {
                let count = self.missing_instances(&entry.app.id);
                (count > 0).then(|| Waiting {
                    app_id: entry.app.id.clone(),
                    needs: launch::requirements(&entry.app),
                    count,
                })
            })
            .collect();
        if !waiting.is_empty() {
            let start = self.next_app % waiting.len();
            waiting.rotate_left(start);
            self.next_app = self.next_app.wrapping_add(1);
        }
        waiting
    }

    /// Deals one offer out to the waiting apps, one task per app per turn.
    ///
    /// Constraints are checked before every task, against the app's tasks
    /// including those launched a moment ago from this very offer or an
    /// earlier one of the round: Marathon once put two `hostname:UNIQUE`
    /// tasks on one agent because it checked an offer once for all the
    /// tasks it took from it (mesosphere/marathon#3867).
    fn fill(&mut self, offer: &Offer, waiting: &mut Vec<Waiting>) -> Vec<TaskInfo> {
        let agent = AgentInfo::of_offer(offer);
        let now = self.timestamp();
        let mut packer = OfferPacker::new(offer);
        let mut launches = Vec::new();
        // Whether the app may still take from this offer, and whether it did.
        let mut fits: Vec<bool> = vec![true; waiting.len()];
        let mut used: Vec<bool> = vec![false; waiting.len()];
        while fits.iter().any(|f| *f) {
            for (index, app) in waiting.iter_mut().enumerate() {
                if !fits[index] || app.count == 0 {
                    fits[index] = false;
                    continue;
                }
                let unmet = self.unmet_constraints(&app.app_id, offer, &agent);
                // Constraints first: a task that may not go here must not
                // take resources that other apps could use.
                let allocation = if unmet.is_empty() {
                    packer.take(&app.needs)
                } else {
                    None
                };
                match allocation {
                    Some(allocation) => {
                        launches.push(self.launch(&app.app_id, offer, &agent, allocation));
                        app.count -= 1;
                        used[index] = true;
                    }
                    None => {
                        fits[index] = false;
                        if !used[index] {
                            self.note_unused(app, offer, packer.remaining(), unmet, &now);
                        }
                    }
                }
            }
        }
        for (app, _) in waiting.iter().zip(&used).filter(|(_, used)| **used) {
            let stats = self.offer_stats.entry(app.app_id.clone()).or_default();
            stats.used(&now);
        }
        waiting.retain(|app| app.count > 0);
        launches
    }

    /// The constraints of `app_id` that one more task on the offer's agent
    /// would break, given the tasks of its current configuration (older
    /// ones are on their way out, as Marathon ignores them).
    fn unmet_constraints(&self, app_id: &PathId, offer: &Offer, agent: &AgentInfo) -> Vec<String> {
        let app = &self.apps[app_id].app;
        if app.constraints.is_empty() {
            return Vec::new();
        }
        let config = app.config_version();
        let placed: Vec<Placed> = (self.tasks.of_app(app_id))
            .filter(|task| task.config_version == config)
            .map(|task| Placed {
                hostname: &task.host,
                agent: &task.agent_info,
            })
            .collect();
        let here = Placed {
            hostname: &offer.hostname,
            agent,
        };
        offer_match::unmet_constraints(app, &placed, here)
    }

    /// Counts an offer `app` could not use, with why (`offer_stats.rs`).
    fn note_unused(
        &mut self,
        app: &Waiting,
        offer: &Offer,
        remaining: &Resources,
        unmet: Vec<String>,
        now: &str,
    ) {
        let reasons =
            offer_match::reasons(&self.apps[&app.app_id].app, &app.needs, remaining, &unmet);
        let no_match = NoMatch {
            offer_id: offer.id.value.clone(),
            agent_id: offer.agent_id.value.clone(),
            hostname: offer.hostname.clone(),
            resources: remaining.clone(),
            attributes: offer.attributes.clone(),
            reasons,
            unmet,
            timestamp: now.to_string(),
        };
        let stats = self.offer_stats.entry(app.app_id.clone()).or_default();
        stats.unused(no_match);
    }

    /// Records a new task of `app_id` and returns its TaskInfo.
    fn launch(
        &mut self,
        app_id: &PathId,
        offer: &Offer,
        agent: &AgentInfo,
        allocation: mesos::offers::Allocation,
    ) -> TaskInfo {
        let app = &self.apps[app_id].app;
        let task_id = Task::new_id(app_id);
        let host = offer.hostname.clone();
        let ports = launch::host_ports(app, &allocation);
        let info = launch::task_info(app, &task_id, &offer.agent_id, &host, allocation);
        let task = Task {
            id: task_id.clone(),
            app_id: app_id.clone(),
            agent_id: offer.agent_id.value.clone(),
            host,
            ports,
            service_ports: app.port_definitions.iter().map(|p| p.port).collect(),
            state: TaskState::TaskStaging,
            staged_at: self.timestamp(),
            started_at: None,
            version: app.version.clone(),
            config_version: app.config_version().to_string(),
            killing: false,
            healthy: None,
            agent_info: agent.clone(),
        };
        self.tasks.insert(task);
        // Its count of tasks changed: look at it again (`converge.rs`).
        self.dirty.insert(app_id.clone());
        self.reconciler
            .launched(&task_id, Some(offer.agent_id.clone()), self.instant);
        info
    }

    /// How many tasks of the app's current configuration it may launch
    /// now: those missing, within its upgrade strategy's maximum
    /// (`replace.rs`).
    pub(super) fn missing_instances(&self, app_id: &PathId) -> u32 {
        let Some(entry) = self.apps.get(app_id) else {
            return 0;
        };
        // A task that failed its health checks is to be replaced.
        let failed = |task: &Task| self.is_failed_by_checks(task);
        replace::launch_count(&entry.app, self.tasks.of_app(app_id), failed) as u32
    }

    /// Whether `app_id`'s launches wait for its crash-loop delay.
    pub(super) fn is_delayed(&self, app_id: &PathId) -> bool {
        self.apps
            .get(app_id)
            .is_some_and(|entry| self.backoff.is_delayed(&entry.app, self.instant))
    }
}
