//! 5K's decisions: apps, tasks and deployments, with no I/O.
//!
//! [`Scheduler`] holds everything 5K knows and decides what to do about
//! each thing that happens: a client's request (create, scale, restart,
//! delete an app; kill tasks; cancel a deployment) or a Mesos event
//! (offers, status updates, a new subscription). Each decision leaves
//! *effects*: calls for the master and events for the event bus, which
//! the edge (`core.rs`) sends. Tests drive it the same way, with no
//! master and no network.
//!
//! The file layout follows the questions a reader asks:
//! - `commands.rs`: what each API request changes;
//! - `offers.rs`: which app gets which offer; `placement.rs`: the
//!   constraints it must meet there; `offer_match.rs`, `offer_stats.rs`:
//!   why an offer went unused, counted per waiting app;
//! - `updates.rs`: what a status update means;
//! - `converge.rs`: what each app still needs (kills, finished deployments);
//! - `health.rs`: what health check results mean (and which tasks to replace);
//! - `replace.rs`: the rolling rule, replacing tasks within the app's
//!   upgrade strategy; `backoff.rs`: delaying the launches of an app
//!   whose tasks keep failing;
//! - `task.rs`, `deployment.rs`, `launch.rs`: the records and the TaskInfo.

mod backoff;
mod commands;
mod converge;
pub mod deployment;
pub mod health;
pub mod launch;
pub mod offer_match;
pub mod offer_stats;
mod offers;
pub mod placement;
mod queue;
pub mod replace;
pub mod service_ports;
pub mod task;
mod updates;

#[cfg(test)]
mod health_tests;
#[cfg(test)]
mod placement_tests;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant, SystemTime},
};

use mesos::{
    DriverEvent,
    reconcile::Reconciler,
    v1::{FrameworkId, scheduler::Call, scheduler::event},
};

pub use commands::{Refusal, Submitted, unknown_app};
use deployment::Deployment;
use task::Tasks;

use crate::{app::App, app::PathId, events::Event, time::VersionClock};

/// How long an offer we cannot use stays away: short while some app
/// waits (a task may end and free room), long when nothing does.
const REFUSE_WHILE_WAITING: f64 = 5.0;
const REFUSE_WHEN_IDLE: f64 = 120.0;

/// An app and what 5K remembers about it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppEntry {
    pub app: App,
    /// Earlier versions, oldest first, for `GET /v2/apps/{id}/versions`
    /// and rollbacks.
    pub versions: Vec<App>,
    pub last_task_failure: Option<TaskFailure>,
}

/// The last task of an app that failed, and why (`lastTaskFailure`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskFailure {
    pub app_id: String,
    pub host: String,
    pub message: String,
    pub state: String,
    pub task_id: String,
    pub slave_id: String,
    pub timestamp: String,
    pub version: String,
}

/// What a decision left to do.
#[derive(Default, Debug)]
pub struct Effects {
    pub calls: Vec<Call>,
    pub events: Vec<Event>,
}

/// What changed since the last save, to be written to ZooKeeper before
/// any call goes out (write-ahead). Each names what to read back from the
/// scheduler: an app, deployment or task that is gone is deleted.
#[derive(Default, Debug, PartialEq)]
pub struct Changes {
    pub framework_id: bool,
    pub apps: BTreeSet<PathId>,
    pub deployments: BTreeSet<String>,
    pub tasks: BTreeSet<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        !self.framework_id
            && self.apps.is_empty()
            && self.deployments.is_empty()
            && self.tasks.is_empty()
    }

    /// Adds changes that could not be saved, to be saved with the next.
    pub fn merge(&mut self, other: Changes) {
        self.framework_id |= other.framework_id;
        self.apps.extend(other.apps);
        self.deployments.extend(other.deployments);
        self.tasks.extend(other.tasks);
    }
}

/// How long a KILL may go unanswered before it is sent again: a kill can
/// be lost like any message (a master failover, a call that failed).
const KILL_RETRY: Duration = Duration::from_secs(15);

/// The shortest time between two REVIVE calls (Marathon's
/// `--min_revive_offers_interval`): each makes the master offer every
/// agent again, and 1,000 apps posted in a row must not make it do that
/// 1,000 times. Revives wanted meanwhile become one, at the end of the
/// interval. Marathon waits 5 s; 1 s bounds the master's work as well
/// (BENCHMARKS.md) and a replacement task waits less for its offer.
const MIN_REVIVE_INTERVAL: Duration = Duration::from_secs(1);

/// How many earlier versions of an app are kept (Marathon's
/// `--zk_max_versions`).
const MAX_VERSIONS: usize = 50;

pub struct Scheduler {
    apps: BTreeMap<PathId, AppEntry>,
    tasks: Tasks,
    deployments: BTreeMap<String, Deployment>,
    framework_id: Option<FrameworkId>,
    versions: VersionClock,
    reconciler: Reconciler,
    /// Whether we told the master to stop sending offers.
    suppressed: bool,
    /// Apps touched since the last [`Scheduler::converge`].
    dirty: BTreeSet<PathId>,
    /// Where the next round of offers starts, so that no app is always
    /// served first.
    next_app: usize,
    /// Since when each app waits for launches (`queue.rs`).
    waiting_since: BTreeMap<PathId, String>,
    /// What became of the offers each waiting app was given
    /// (`offer_stats.rs`).
    offer_stats: BTreeMap<PathId, offer_stats::OfferStats>,
    effects: Effects,
    /// Apps, deployments and the framework ID changed since the last save
    /// (tasks note their own changes).
    changes: Changes,
    /// When the last REVIVE went out, and when the next one is due if one
    /// was wanted too soon after it.
    last_revive: Option<Instant>,
    revive_due: Option<Instant>,
    /// When each task being killed was last sent a KILL.
    kills_sent: std::collections::HashMap<String, Instant>,
    /// What the health checks found, per task (`health.rs`).
    health: health::HealthRecords,
    /// Launch delays of apps whose tasks keep failing (memory only).
    backoff: backoff::Backoff,
    /// The wall clock for versions and timestamps, set by the edge (or a
    /// test) before each decision.
    pub now: SystemTime,
    /// The monotonic clock for timers.
    pub instant: Instant,
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler::new()
    }
}

impl Scheduler {
    pub fn new() -> Scheduler {
        Scheduler {
            apps: BTreeMap::new(),
            tasks: Tasks::default(),
            deployments: BTreeMap::new(),
            framework_id: None,
            versions: VersionClock::default(),
            reconciler: Reconciler::new(Duration::from_secs(1), Duration::from_secs(60))
                .with_interval(Duration::from_secs(600))
                .with_launch_timeout(Duration::from_secs(60)),
            suppressed: false,
            dirty: BTreeSet::new(),
            next_app: 0,
            waiting_since: BTreeMap::new(),
            offer_stats: BTreeMap::new(),
            effects: Effects::default(),
            changes: Changes::default(),
            kills_sent: Default::default(),
            health: Default::default(),
            backoff: backoff::Backoff::default(),
            last_revive: None,
            revive_due: None,
            now: SystemTime::now(),
            instant: Instant::now(),
        }
    }

    /// Takes what the last decisions left to do.
    pub fn take_effects(&mut self) -> Effects {
        std::mem::take(&mut self.effects)
    }

    /// Takes what changed since the last call, for the store.
    pub fn take_changes(&mut self) -> Changes {
        let mut changes = std::mem::take(&mut self.changes);
        changes.tasks = self.tasks.take_changed();
        changes
    }

    /// A scheduler that carries on from a stored state: a restarted or
    /// newly elected 5K. Tasks being killed are killed again once
    /// subscribed; reconciliation then tells what became of the others.
    /// Launch delays are not stored: every app starts with none
    /// (`backoff.rs`).
    pub fn restore(
        framework_id: Option<FrameworkId>,
        apps: Vec<AppEntry>,
        deployments: Vec<Deployment>,
        tasks: Vec<task::Task>,
    ) -> Scheduler {
        let mut scheduler = Scheduler::new();
        scheduler.framework_id = framework_id;
        for entry in apps {
            scheduler.apps.insert(entry.app.id.clone(), entry);
        }
        for deployment in deployments {
            scheduler
                .deployments
                .insert(deployment.id.clone(), deployment);
        }
        for task in tasks {
            scheduler.tasks.insert(task);
        }
        // Restored as stored: nothing to write back.
        scheduler.tasks.take_changed();
        scheduler
    }

    /// A Mesos event.
    pub fn on_event(&mut self, event: &DriverEvent) {
        let event = match event {
            DriverEvent::Event(event) => event,
            // Answers to reconciliation would come on the subscription
            // that is gone; the next SUBSCRIBED starts over.
            DriverEvent::Disconnected { .. } => {
                self.reconciler.stop();
                return;
            }
            DriverEvent::FrameworkRemoved { .. } => {
                // The master forgot us and killed our tasks: they are gone.
                self.framework_id = None;
                self.changes.framework_id = true;
                self.forget_all_tasks("the master removed the framework");
                return;
            }
            DriverEvent::FailedOver { .. } | DriverEvent::Refused { .. } => return,
        };
        match event.r#type() {
            event::Type::Subscribed => {
                if let Some(subscribed) = &event.subscribed {
                    self.on_subscribed(subscribed);
                }
            }
            event::Type::Offers => {
                if let Some(offers) = &event.offers {
                    self.on_offers(&offers.offers);
                }
            }
            event::Type::Update => {
                if let Some(update) = &event.update {
                    self.on_update(&update.status);
                }
            }
            _ => {}
        }
    }

    fn on_subscribed(&mut self, subscribed: &event::Subscribed) {
        if self.framework_id.as_ref() != Some(&subscribed.framework_id) {
            self.framework_id = Some(subscribed.framework_id.clone());
            self.changes.framework_id = true;
        }
        // A new subscription starts with offers flowing again.
        self.suppressed = false;
        let known = self
            .tasks
            .all()
            .map(|task| {
                (
                    task.id.clone(),
                    Some(mesos::v1::AgentId {
                        value: task.agent_id.clone(),
                    }),
                )
            })
            .collect::<Vec<_>>();
        let calls = self.reconciler.start(known, self.instant);
        self.effects.calls.extend(calls);
        // Kills sent on an earlier subscription may be lost: send them
        // again now.
        self.kills_sent.clear();
        self.retry_kills();
        // Every app may need something now: check them all.
        self.dirty.extend(self.apps.keys().cloned());
    }

    /// What is due at [`Scheduler::instant`]: reconciliation, kills
    /// that went unanswered, and apps whose launch delay ended.
    pub fn on_timer(&mut self) {
        let calls = self.reconciler.on_timer(self.instant);
        self.effects.calls.extend(calls);
        self.retry_kills();
        let ended = self.backoff.wake(self.instant);
        if ended.iter().any(|id| self.waiting_since.contains_key(id)) {
            // Its offers were declined while it waited, and offers may be
            // suppressed: ask for them again.
            self.revive();
        }
        self.dirty.extend(ended);
        if self.revive_due.is_some_and(|due| self.instant >= due) {
            self.revive_due = None;
            // Only if an app still waits, and may launch: it may have got
            // its tasks since, or be held back by its launch delay.
            if self.waiting_since.keys().any(|id| !self.is_delayed(id)) {
                self.revive();
            }
        }
    }

    /// Asks the master for offers again, clearing our filters: at once,
    /// or at the end of [`MIN_REVIVE_INTERVAL`] after the last REVIVE.
    fn revive(&mut self) {
        match self.last_revive {
            Some(last) if self.instant < last + MIN_REVIVE_INTERVAL => {
                self.revive_due.get_or_insert(last + MIN_REVIVE_INTERVAL);
            }
            _ => {
                self.suppressed = false;
                self.last_revive = Some(self.instant);
                self.revive_due = None;
                self.effects.calls.push(mesos::calls::revive(vec![]));
            }
        }
    }

    /// When [`Scheduler::on_timer`] wants to be called.
    pub fn next_timer(&self) -> Option<Instant> {
        let kill = self
            .kills_sent
            .values()
            .map(|sent| *sent + KILL_RETRY)
            .min();
        [
            self.reconciler.next_attempt(),
            kill,
            self.revive_due,
            self.backoff.next_wakeup(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Sends a KILL again to each task being killed whose last KILL (if
    /// any) is older than [`KILL_RETRY`].
    fn retry_kills(&mut self) {
        let due: Vec<task::Task> = self
            .tasks
            .all()
            .filter(|task| task.killing)
            .filter(|task| {
                self.kills_sent
                    .get(&task.id)
                    .is_none_or(|sent| self.instant >= *sent + KILL_RETRY)
            })
            .cloned()
            .collect();
        for task in due {
            self.send_kill(&task);
        }
    }

    pub fn framework_id(&self) -> Option<&FrameworkId> {
        self.framework_id.as_ref()
    }

    pub fn apps(&self) -> impl Iterator<Item = &AppEntry> {
        self.apps.values()
    }

    pub fn app(&self, id: &PathId) -> Option<&AppEntry> {
        self.apps.get(id)
    }

    pub fn tasks(&self) -> &Tasks {
        &self.tasks
    }

    pub fn deployment(&self, id: &str) -> Option<&Deployment> {
        self.deployments.get(id)
    }

    pub fn deployments(&self) -> impl Iterator<Item = &Deployment> {
        self.deployments.values()
    }

    /// The deployments changing `app_id`.
    pub fn deployments_of<'a>(
        &'a self,
        app_id: &'a PathId,
    ) -> impl Iterator<Item = &'a Deployment> {
        self.deployments
            .values()
            .filter(move |d| &d.app_id == app_id)
    }

    fn timestamp(&self) -> String {
        crate::time::format(self.now)
    }

    fn publish(&mut self, event: Event) {
        self.effects.events.push(event);
    }

    /// Publishes an event the API made (`api_post_event`), in order with
    /// the scheduler's own.
    pub fn publish_event(&mut self, event: Event) {
        self.publish(event);
    }
}
