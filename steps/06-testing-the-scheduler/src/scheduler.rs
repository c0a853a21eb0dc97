//! The scheduler: what to do about each event from Mesos.
//!
//! It keeps a count of tasks in mind ("keep N copies running") and compares
//! it with what Mesos reports. Everything here is a plain function of the
//! scheduler's state and one event, returning the calls to make. No network,
//! no clock (the time is passed in): a test can feed it events and look at
//! the calls.
//!
//! The state it decides from (the framework ID and a record of each task)
//! is also what a restarted scheduler needs to carry on, so `main.rs`
//! stores it in ZooKeeper after every decision, before the calls go out
//! (`store.rs`). While that fails, the scheduler launches nothing.
//!
//! What it knows may be out of date: while no scheduler was subscribed,
//! tasks may have ended, agents may have gone with their tasks, a launch
//! may never have reached the master. So after every (re)subscription it
//! *reconciles*: it asks the master about each task it knows until each
//! has been answered, then about all tasks the master has for it
//! (`docs/reconciliation.md` in Mesos). It also reconciles every so often
//! while subscribed, and asks about any task whose launch nobody reported
//! on.

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use mesos::{
    DriverEvent, calls,
    offers::{self, OfferPacker, Shortfall, TaskRequirements},
    reconcile::Reconciler,
    resources::{self, Resources},
    state::{Adopted, TaskRecord, TaskRecords},
    v1::{
        AgentId, FrameworkId, Offer, TaskInfo, TaskState, TaskStatus,
        scheduler::{Call, call, event},
        task_status::Reason,
    },
};

use crate::task_kind::{self, TaskKind};

/// How long the master should hold back resources we declined. Offers keep
/// coming while we need tasks, so a short filter would only make the master
/// re-offer what we just refused; once all tasks run we suppress offers.
const REFUSE_SECONDS: f64 = 30.0;

/// How long the master should hold back what we declined because our state
/// is not stored: short, as we want the offers back once it is.
const SHORT_REFUSE_SECONDS: f64 = 2.0;

/// How long a launched task may go without any status update before we
/// ask the master about it: TASK_STARTING normally comes within seconds.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(60);

/// What each task runs and needs.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub name: String,
    pub cpus: f64,
    pub mem: f64,
    pub command: String,
    /// Who runs the command: Mesos' command executor, or ours.
    pub kind: TaskKind,
}

/// What the web page shows of a task besides its record. Kept in memory
/// only: a new leader learns it again from the updates that reconciliation
/// brings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskDetails {
    /// The agent's host name, as its offers said.
    pub host: Option<String>,
    /// When it started running (the update's timestamp, seconds since the
    /// epoch).
    pub started: Option<f64>,
    /// When its state last changed.
    pub changed: Option<f64>,
    /// The last update's message and reason, if any.
    pub message: Option<String>,
    pub reason: Option<String>,
}

/// The scheduler's state: the tasks it launched and what it last heard of
/// each.
pub struct Scheduler {
    instances: usize,
    spec: TaskSpec,
    /// The framework the tasks belong to, as the master named it.
    framework_id: Option<FrameworkId>,
    /// Task ID → last known state and agent. A task is in here from the
    /// moment we launch it until Mesos reports it ended.
    tasks: TaskRecords,
    /// Whether we asked the master to stop sending offers.
    offers_suppressed: bool,
    /// Why the last offers launched nothing while tasks were missing.
    unfit: Option<Shortfall>,
    /// Whether what the scheduler knows is stored (`store.rs` says). Until
    /// it is, nothing is launched: write-ahead.
    durable: bool,
    /// Asks the master about our tasks: after every (re)subscription, every
    /// so often, and about launches nobody reported on.
    reconciler: Reconciler,
    /// A framework adopted from ZooKeeper, not yet handed to the driver.
    adopted_framework: Option<FrameworkId>,
    /// Tasks we asked the master to kill because there are too many: they
    /// no longer count as instances.
    killing: BTreeSet<String>,
    /// Task ID → what the page shows of it.
    details: BTreeMap<String, TaskDetails>,
    /// Agent ID → host name, from offers.
    hosts: BTreeMap<String, String>,
}

impl Scheduler {
    /// A scheduler that carries on from what the last one stored: the
    /// framework ID and the task records (none on a first start). It
    /// reconciles implicitly every `reconcile_interval` while subscribed.
    pub fn new(
        instances: usize,
        spec: TaskSpec,
        framework_id: Option<FrameworkId>,
        tasks: TaskRecords,
        reconcile_interval: Duration,
    ) -> Self {
        Scheduler {
            instances,
            spec,
            framework_id,
            tasks,
            offers_suppressed: false,
            unfit: None,
            // What we start from was just read from the store.
            durable: true,
            reconciler: Reconciler::default()
                .with_interval(reconcile_interval)
                .with_launch_timeout(LAUNCH_TIMEOUT),
            adopted_framework: None,
            killing: BTreeSet::new(),
            details: BTreeMap::new(),
            hosts: BTreeMap::new(),
        }
    }

    pub fn instances(&self) -> usize {
        self.instances
    }

    pub fn framework_id(&self) -> Option<&FrameworkId> {
        self.framework_id.as_ref()
    }

    pub fn tasks(&self) -> &TaskRecords {
        &self.tasks
    }

    /// What `store.rs` saves: the framework ID, the instance count and the
    /// task records. The save marks the records as saved, so that the next
    /// one looks only at the tasks changed since, not at all of them.
    pub fn state_to_save(&mut self) -> (Option<&FrameworkId>, usize, &mut TaskRecords) {
        (self.framework_id.as_ref(), self.instances, &mut self.tasks)
    }

    /// What the page shows of a task.
    pub fn details(&self, task_id: &str) -> Option<&TaskDetails> {
        self.details.get(task_id)
    }

    /// The tasks that count as instances: all but those being killed.
    fn kept(&self) -> usize {
        self.tasks.len() - self.killing.len()
    }

    /// How many more tasks to launch.
    fn tasks_to_launch(&self) -> usize {
        self.instances.saturating_sub(self.kept())
    }

    /// A new instance count (from the web page): launch more, or kill the
    /// extras. The caller stores it before the calls go out, as always.
    pub fn set_instances(&mut self, instances: usize) -> Vec<Call> {
        tracing::info!(
            from = self.instances,
            to = instances,
            "instance count changed"
        );
        self.instances = instances;
        let mut calls = self.kill_extras();
        calls.extend(self.suppress_or_revive());
        calls
    }

    /// Kills the tasks beyond the instance count. Which ones: those not
    /// yet running first (nothing is lost with them), then the most
    /// recently started (the older ones have proved they run well). Not
    /// while reconciling: until the master has answered, a task we know of
    /// may be gone already, and killing another would leave too few.
    fn kill_extras(&mut self) -> Vec<Call> {
        if self.reconciler.is_reconciling() || self.kept() <= self.instances {
            return vec![];
        }
        let started = |task_id: &str| {
            let details = self.details.get(task_id);
            details.and_then(|d| d.started).unwrap_or(f64::INFINITY)
        };
        let running = |record: &TaskRecord| {
            !matches!(
                record.state,
                TaskState::TaskStaging | TaskState::TaskStarting
            )
        };
        let mut candidates: Vec<(&String, &TaskRecord)> = self
            .tasks
            .iter()
            .filter(|(task_id, _)| !self.killing.contains(*task_id))
            .collect();
        // Not running first, then the latest start first.
        candidates.sort_by(|(a, ra), (b, rb)| {
            running(ra)
                .cmp(&running(rb))
                .then(started(b).total_cmp(&started(a)))
        });
        let extra = self.kept() - self.instances;
        let victims: Vec<(String, Option<AgentId>)> = candidates
            .into_iter()
            .take(extra)
            .map(|(task_id, record)| {
                let agent_id = record.agent_id.clone().map(|value| AgentId { value });
                (task_id.clone(), agent_id)
            })
            .collect();
        victims
            .into_iter()
            .map(|(task_id, agent_id)| {
                tracing::info!(task = %task_id, "killing a task: more run than the instance count");
                self.killing.insert(task_id.clone());
                calls::kill(mesos::v1::TaskId { value: task_id }, agent_id, None)
            })
            .collect()
    }

    fn on_subscribed(&mut self, subscribed: &event::Subscribed, now: Instant) -> Vec<Call> {
        let framework_id = &subscribed.framework_id;
        if self.framework_id.as_ref() != Some(framework_id) {
            // We subscribe with the stored framework ID, so a different one
            // means the master registered a new framework: the old one was
            // removed, and its tasks were killed with it. Forget them.
            if let Some(old) = &self.framework_id {
                tracing::warn!(
                    old = %old.value,
                    new = %framework_id.value,
                    forgotten_tasks = self.tasks.len(),
                    "registered as a new framework: the tasks recorded for the old one are gone"
                );
            }
            self.forget_all_tasks();
            self.framework_id = Some(framework_id.clone());
        }
        // The master may still hold a SUPPRESS or decline filters from an
        // earlier subscription: say explicitly what we want now.
        self.offers_suppressed = self.tasks_to_launch() == 0;
        let mut calls = vec![if self.offers_suppressed {
            calls::suppress(vec![])
        } else {
            calls::revive(vec![])
        }];
        // Every task we know is non-terminal (we forget the others), so we
        // ask about all of them, with their agents to speed up the answer.
        tracing::info!(tasks = self.tasks.len(), "reconciling the tasks we know");
        let tasks = self.tasks.iter().map(|(task_id, record)| {
            let agent_id = record.agent_id.clone().map(|value| AgentId { value });
            (task_id.clone(), agent_id)
        });
        calls.extend(self.reconciler.start(tasks, now));
        calls
    }

    /// The master removed our framework: the driver says so when it
    /// resubscribes with the ID (with a failover timeout of 0, the master
    /// removes the framework the moment its connection drops). Its ID can
    /// never be used again and its tasks were killed: forget both, here and
    /// (at the next save) in ZooKeeper. The driver registers a new framework.
    fn on_framework_removed(&mut self) -> Vec<Call> {
        tracing::warn!(
            forgotten_tasks = self.tasks.len(),
            "the master removed this framework: its tasks are gone"
        );
        self.framework_id = None;
        self.forget_all_tasks();
        self.reconciler.stop();
        vec![]
    }

    fn on_offers(&mut self, offers: &[Offer], now: Instant) -> Vec<Call> {
        if !self.durable {
            // Launching needs a record stored first; what we do not launch
            // we hand back, for a short while only.
            tracing::info!(
                offers = offers.len(),
                "declining offers: the state is not stored in ZooKeeper yet"
            );
            let ids = offers.iter().map(|offer| offer.id.clone()).collect();
            return vec![calls::decline(ids, SHORT_REFUSE_SECONDS)];
        }
        let mut calls = Vec::new();
        let missing = self.tasks_to_launch();
        for offer in offers {
            // For the page: which host each agent is.
            self.hosts
                .insert(offer.agent_id.value.clone(), offer.hostname.clone());
            let tasks = self.launch_from(offer, now);
            if tasks.is_empty() {
                calls.push(calls::decline(vec![offer.id.clone()], REFUSE_SECONDS));
            } else {
                // Accepting an offer also returns what the tasks don't use.
                let operation = calls::launch(tasks);
                calls.push(calls::accept(vec![offer.id.clone()], vec![operation], None));
            }
        }
        // Tasks were missing and none launched: why?
        let none_launched = missing > 0 && self.tasks_to_launch() == missing;
        self.set_unfit(if none_launched {
            offers::shortfall(&self.needs(), offers)
        } else {
            None
        });
        calls.extend(self.suppress_or_revive());
        calls
    }

    /// What a task needs of an offer: its own resources, and our executor's
    /// if it runs on ours (in the same offer).
    fn needs(&self) -> TaskRequirements {
        let task_needs = Resources::from([
            resources::cpus(self.spec.cpus),
            resources::mem(self.spec.mem),
        ]);
        TaskRequirements::new(task_needs + self.spec.kind.executor_resources())
    }

    /// Says why tasks wait, once, when that changes: otherwise an operator
    /// sees only declined offers, and only at debug level.
    fn set_unfit(&mut self, unfit: Option<Shortfall>) {
        if let Some(why) = &unfit
            && self.unfit.as_ref() != Some(why)
        {
            tracing::info!(
                missing = self.tasks_to_launch(),
                "no offer fits a task: {why}"
            );
        }
        self.unfit = unfit;
    }

    /// As many tasks as we need and the offer holds.
    fn launch_from(&mut self, offer: &Offer, now: Instant) -> Vec<TaskInfo> {
        let needs = self.needs();
        let executor_needs = self.spec.kind.executor_resources();
        // The packer hands out the offer's resources one task at a time.
        let mut packer = OfferPacker::new(offer);
        let mut tasks = Vec::new();
        while self.tasks_to_launch() > 0 {
            let Some(mut allocation) = packer.take(&needs) else {
                break; // the offer is used up
            };
            // Task IDs must be unique for the framework's whole life.
            let task_id = format!("{}-{}", self.spec.name, uuid::Uuid::new_v4());
            let executor_resources = allocation
                .split_off(&executor_needs)
                .expect("taken together");
            let command = offers::command_info_shell(&self.spec.command);
            let mut task = offers::task_info(
                &self.spec.name,
                &task_id,
                &offer.agent_id,
                allocation.resources,
                command,
            );
            self.spec
                .kind
                .apply(&mut task, &self.spec.name, executor_resources);
            tracing::info!(task = %task_id, agent = %offer.hostname, "launching");
            // Until Mesos tells us otherwise, the task is staging. `store.rs`
            // stores this record before the ACCEPT goes out, so a scheduler
            // that crashes right after sending it still knows of the task.
            let record = TaskRecord {
                state: TaskState::TaskStaging,
                agent_id: Some(offer.agent_id.value.clone()),
            };
            self.tasks.insert(task_id.clone(), record);
            let details = TaskDetails {
                host: Some(offer.hostname.clone()),
                ..TaskDetails::default()
            };
            self.details.insert(task_id.clone(), details);
            // If nobody reports on it, the reconciler will ask.
            let agent_id = Some(offer.agent_id.clone());
            self.reconciler.launched(&task_id, agent_id, now);
            tasks.push(task);
        }
        tasks
    }

    fn on_update(&mut self, status: &TaskStatus) -> Vec<Call> {
        let task_id = &status.task_id.value;
        let state = status.state();
        let known = self.tasks.contains_key(task_id);
        let mut calls = Vec::new();
        // TASK_UNKNOWN is not terminal for Mesos, but as a reconciliation
        // answer it says the master knows nothing of the task: as far as
        // anyone can tell, it does not run. Treat it as gone.
        if state.is_terminal() || state == TaskState::TaskUnknown {
            tracing::warn!(task = %task_id, state = state.as_str_name(), message = status.message(), "task ended");
            // Forget it: the next offer launches a replacement (unless we
            // killed it for being one too many).
            self.tasks.remove(task_id);
            self.killing.remove(task_id);
            self.details.remove(task_id);
        } else if self.killing.contains(task_id) {
            // Still alive though we asked for its end. Reconciliation brings
            // this when the KILL was lost: ask again.
            if status.reason() == Reason::Reconciliation {
                calls.push(calls::kill(
                    status.task_id.clone(),
                    status.agent_id.clone(),
                    None,
                ));
            }
            self.note(status);
        } else if !known && self.tasks_to_launch() == 0 {
            // A task we have no record of (implicit reconciliation reports
            // every task the master has for us), and all instances run: one
            // too many. Kill it, so that there are never more than N.
            tracing::warn!(task = %task_id, "killing a task we have no record of: all instances run");
            calls.push(calls::kill(
                status.task_id.clone(),
                status.agent_id.clone(),
                None,
            ));
        } else {
            if !known {
                // An instance is missing: this task can be it.
                tracing::info!(task = %task_id, "adopting a task we had no record of");
            }
            tracing::info!(task = %task_id, state = state.as_str_name(), "task update");
            self.note(status);
        }
        // Acknowledge, or the agent re-sends the update and holds back the
        // task's next ones.
        calls.extend(calls::acknowledge_update(status));
        calls.extend(self.spec.kind.ask_executor(status));
        // It may be the answer reconciliation waits for.
        let reconcile = self.reconciler.on_update(task_id);
        if !reconcile.is_empty() {
            tracing::info!(
                "reconciled every task we know; now asking the master for all its tasks"
            );
            // Now we know which tasks run: too many? (A count lowered while
            // no leader ran, or tasks adopted.)
            calls.extend(self.kill_extras());
        }
        calls.extend(reconcile);
        calls.extend(self.suppress_or_revive());
        calls
    }

    /// Forgets every task, with what the page showed of them: they belonged
    /// to a framework that is gone.
    fn forget_all_tasks(&mut self) {
        self.tasks.clear();
        self.killing.clear();
        self.details.clear();
    }

    /// Records what an update says of a task: its state and agent for
    /// ZooKeeper, the rest for the page.
    fn note(&mut self, status: &TaskStatus) {
        let task_id = &status.task_id.value;
        let state = status.state();
        let agent_id = status.agent_id.as_ref().map(|agent| agent.value.clone());
        let host = agent_id.as_ref().and_then(|a| self.hosts.get(a)).cloned();
        let record = TaskRecord { state, agent_id };
        let previous = self.tasks.insert(task_id.clone(), record);
        let details = self.details.entry(task_id.clone()).or_default();
        if details.host.is_none() {
            details.host = host;
        }
        let when = status.timestamp;
        if previous.is_none_or(|p| p.state != state) {
            details.changed = when;
        }
        if state == TaskState::TaskRunning && details.started.is_none() {
            details.started = when;
        }
        details.message = status.message.clone().filter(|m| !m.is_empty());
        details.reason = status
            .reason
            .map(|_| status.reason().as_str_name().to_string());
    }

    /// Whether what the scheduler knows is stored in ZooKeeper.
    pub fn is_durable(&self) -> bool {
        self.durable
    }

    /// Whether the state is stored: `store.rs` says after every save.
    pub fn set_durable(&mut self, durable: bool) {
        if durable && !self.durable {
            tracing::info!("the state is stored again: launching again");
        }
        self.durable = durable;
    }

    /// The state could not be stored: the launches among `calls` must not
    /// go out, as the next scheduler would not know of those tasks. Each
    /// ACCEPT becomes a DECLINE of its offers, its tasks are forgotten, and
    /// nothing is launched until the state is stored again.
    pub fn withhold_launches(&mut self, calls: Vec<Call>) -> Vec<Call> {
        self.durable = false;
        let mut kept = Vec::new();
        let mut declines = Vec::new();
        for call in calls {
            match call.r#type() {
                call::Type::Accept => {
                    let accept = call.accept.unwrap_or_default();
                    for task_id in launched_tasks(&accept) {
                        tracing::info!(task = %task_id, "not launching: the state is not stored");
                        self.tasks.remove(&task_id);
                        self.details.remove(&task_id);
                        self.reconciler.forget_launch(&task_id);
                    }
                    declines.push(calls::decline(accept.offer_ids, SHORT_REFUSE_SECONDS));
                }
                // It assumed the launches happened: decided again below. (A
                // REVIVE stays: without the launches, offers are needed all
                // the more.)
                call::Type::Suppress => self.offers_suppressed = false,
                _ => kept.push(call),
            }
        }
        kept.extend(self.suppress_or_revive());
        // The declines go last: a REVIVE clears the master's decline
        // filters, theirs too (HierarchicalAllocatorProcess::reviveRoles).
        kept.extend(declines);
        kept
    }

    /// Takes what someone else changed in ZooKeeper and is safe to take
    /// (the library's conflict rule): the instance count, and, if we have
    /// no framework yet, the one another instance stored, with its tasks
    /// (`main.rs` then subscribes with its ID, see
    /// [`Scheduler::take_adopted_framework`]). `Err` says why this
    /// scheduler must stop.
    pub fn adopt(&mut self, adopted: Adopted) -> Result<Vec<Call>, String> {
        let mut calls = Vec::new();
        if let Some(instances) = adopted.instances.filter(|n| *n != self.instances) {
            tracing::info!(
                instances,
                "the instance count changed in ZooKeeper: adopting it"
            );
            self.instances = instances;
            calls.extend(self.kill_extras());
        }
        if let Some((framework_id, tasks)) = adopted.framework {
            tracing::warn!(
                framework_id = %framework_id.value,
                tasks = tasks.len(),
                "adopting the framework stored in ZooKeeper"
            );
            self.framework_id = Some(framework_id.clone());
            self.adopted_framework = Some(framework_id);
            self.tasks = tasks;
        }
        calls.extend(self.suppress_or_revive());
        Ok(calls)
    }

    /// The framework ID adopted from ZooKeeper since the last call, if any:
    /// the driver must subscribe with it from now on.
    pub fn take_adopted_framework(&mut self) -> Option<FrameworkId> {
        self.adopted_framework.take()
    }

    /// Offers are only useful while tasks are missing: suppress them when
    /// we have all we need, revive them when we don't.
    fn suppress_or_revive(&mut self) -> Vec<Call> {
        let need_offers = self.tasks_to_launch() > 0;
        if need_offers && self.offers_suppressed {
            self.offers_suppressed = false;
            vec![calls::revive(vec![])]
        } else if !need_offers && !self.offers_suppressed {
            self.offers_suppressed = true;
            vec![calls::suppress(vec![])]
        } else {
            vec![]
        }
    }
}

/// The IDs of the tasks an ACCEPT launches, alone (LAUNCH) or as a group
/// (LAUNCH_GROUP).
fn launched_tasks(accept: &call::Accept) -> Vec<String> {
    let mut tasks = Vec::new();
    for operation in &accept.operations {
        let alone = operation.launch.iter().flat_map(|l| &l.task_infos);
        let grouped = operation
            .launch_group
            .iter()
            .flat_map(|g| &g.task_group.tasks);
        tasks.extend(alone.chain(grouped).map(|task| task.task_id.value.clone()));
    }
    tasks
}

impl Scheduler {
    /// What to do about one event, at `now`: the calls to send.
    pub fn on_event(&mut self, event: &DriverEvent, now: Instant) -> Vec<Call> {
        let event = match event {
            DriverEvent::Event(event) => event,
            // The driver resubscribes by itself; offers we held are void,
            // and answers to reconciliation would come on the subscription
            // that is gone: the next SUBSCRIBED starts it over.
            DriverEvent::Disconnected { .. } => {
                self.reconciler.stop();
                return vec![];
            }
            DriverEvent::FrameworkRemoved { .. } => return self.on_framework_removed(),
            // The driver stopped for good (another scheduler took the
            // framework over, or the master refused it); `main` says why.
            DriverEvent::FailedOver { .. } | DriverEvent::Refused { .. } => return vec![],
        };
        match event.r#type() {
            event::Type::Subscribed => match &event.subscribed {
                Some(subscribed) => self.on_subscribed(subscribed, now),
                None => vec![],
            },
            event::Type::Offers => match &event.offers {
                Some(offers) => self.on_offers(&offers.offers, now),
                None => vec![],
            },
            event::Type::Update => match &event.update {
                Some(update) => self.on_update(&update.status),
                None => vec![],
            },
            event::Type::Message => match &event.message {
                Some(message) => task_kind::on_message(message),
                None => vec![],
            },
            // HEARTBEAT, RESCIND (an offer we still hold is withdrawn),
            // and the rest need nothing from us.
            _ => vec![],
        }
    }

    /// When [`Scheduler::on_reconciliation_timer`] wants to be called.
    pub fn next_reconciliation(&self) -> Option<Instant> {
        self.reconciler.next_attempt()
    }

    /// Asks the master what is due at `now`: again about the tasks it has
    /// not answered for yet (a master that just failed over learns of the
    /// tasks as the agents re-register, or an answer got lost), about
    /// launches nobody reported on, and the periodic implicit
    /// reconciliation.
    pub fn on_reconciliation_timer(&mut self, now: Instant) -> Vec<Call> {
        let calls = self.reconciler.on_timer(now);
        if !calls.is_empty() {
            let pending: Vec<_> = self.reconciler.pending().collect();
            tracing::info!(?pending, "reconciling: asking the master about our tasks");
        }
        calls
    }
}
