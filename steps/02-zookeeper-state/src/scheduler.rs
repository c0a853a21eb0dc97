//! The scheduler: what to do about each event from Mesos.
//!
//! It keeps a count of tasks in mind ("keep N copies running") and compares
//! it with what Mesos reports. Everything here is a plain function of the
//! scheduler's state and one event, returning the calls to make. No network,
//! no clock: a test can feed it events and look at the calls.
//!
//! The state it decides from (the framework ID and a record of each task)
//! is also what a restarted scheduler needs to carry on, so `main.rs`
//! stores it in ZooKeeper after every decision, before the calls go out
//! (`store.rs`). While that fails, the scheduler launches nothing.

use mesos::{
    DriverEvent, calls,
    offers::{self, OfferPacker, Shortfall, TaskRequirements},
    resources::{self, Resources},
    state::{Adopted, TaskRecord, TaskRecords},
    v1::{
        FrameworkId, Offer, TaskInfo, TaskState, TaskStatus,
        scheduler::{Call, call, event},
    },
};

use crate::task_kind::{self, TaskKind};

// The scheduler's decisions, tested without a master: `cargo test`.
#[cfg(test)]
mod tests;

/// How long the master should hold back resources we declined. Offers keep
/// coming while we need tasks, so a short filter would only make the master
/// re-offer what we just refused; once all tasks run we suppress offers.
const REFUSE_SECONDS: f64 = 30.0;

/// How long the master should hold back what we declined because our state
/// is not stored: short, as we want the offers back once it is.
const SHORT_REFUSE_SECONDS: f64 = 2.0;

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
}

impl Scheduler {
    /// A scheduler that carries on from what the last one stored: the
    /// framework ID and the task records (none on a first start).
    pub fn new(
        instances: usize,
        spec: TaskSpec,
        framework_id: Option<FrameworkId>,
        tasks: TaskRecords,
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
        }
    }

    pub fn framework_id(&self) -> Option<&FrameworkId> {
        self.framework_id.as_ref()
    }

    /// What `store.rs` saves: the framework ID, the instance count and the
    /// task records. The save marks the records as saved, so that the next
    /// one looks only at the tasks changed since, not at all of them.
    pub fn state_to_save(&mut self) -> (Option<&FrameworkId>, usize, &mut TaskRecords) {
        (self.framework_id.as_ref(), self.instances, &mut self.tasks)
    }

    /// How many more tasks to launch.
    fn tasks_to_launch(&self) -> usize {
        self.instances.saturating_sub(self.tasks.len())
    }

    fn on_subscribed(&mut self, subscribed: &event::Subscribed) -> Vec<Call> {
        let framework_id = &subscribed.framework_id;
        if self.framework_id.as_ref() != Some(framework_id) {
            // This scheduler registers as a new framework at every start.
            // The tasks recorded belonged to the previous one, which the
            // master removed, and killed its tasks with it, the moment its
            // scheduler went away (its failover timeout is 0). Forget them.
            if let Some(old) = &self.framework_id {
                tracing::warn!(
                    old = %old.value,
                    new = %framework_id.value,
                    forgotten_tasks = self.tasks.len(),
                    "registered as a new framework: the tasks recorded for the old one are gone"
                );
            }
            self.tasks.clear();
            self.framework_id = Some(framework_id.clone());
        }
        // The master may still hold a SUPPRESS or decline filters from an
        // earlier subscription: say explicitly what we want now.
        self.offers_suppressed = self.tasks_to_launch() == 0;
        vec![if self.offers_suppressed {
            calls::suppress(vec![])
        } else {
            calls::revive(vec![])
        }]
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
        self.tasks.clear();
        vec![]
    }

    fn on_offers(&mut self, offers: &[Offer]) -> Vec<Call> {
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
            let tasks = self.launch_from(offer);
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
    fn launch_from(&mut self, offer: &Offer) -> Vec<TaskInfo> {
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
            self.tasks.insert(task_id, record);
            tasks.push(task);
        }
        tasks
    }

    fn on_update(&mut self, status: &TaskStatus) -> Vec<Call> {
        let task_id = &status.task_id.value;
        let state = status.state();
        if state.is_terminal() {
            tracing::warn!(task = %task_id, state = state.as_str_name(), message = status.message(), "task ended");
            // Forget it: the next offer launches a replacement.
            self.tasks.remove(task_id);
        } else {
            tracing::info!(task = %task_id, state = state.as_str_name(), "task update");
            let agent_id = status.agent_id.as_ref().map(|agent| agent.value.clone());
            self.tasks
                .insert(task_id.clone(), TaskRecord { state, agent_id });
        }
        // Acknowledge, or the agent re-sends the update and holds back the
        // task's next ones.
        let mut calls: Vec<Call> = calls::acknowledge_update(status).into_iter().collect();
        calls.extend(self.spec.kind.ask_executor(status));
        calls.extend(self.suppress_or_revive());
        calls
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
    /// (the library's conflict rule): the instance count. A framework
    /// someone else stored is not ours to take: this step registers its own
    /// at every start. `Err` says why this scheduler must stop.
    pub fn adopt(&mut self, adopted: Adopted) -> Result<Vec<Call>, String> {
        if let Some((framework_id, _)) = adopted.framework {
            return Err(format!(
                "another scheduler stored framework {} in ZooKeeper",
                framework_id.value
            ));
        }
        if let Some(instances) = adopted.instances.filter(|n| *n != self.instances) {
            tracing::info!(
                instances,
                "the instance count changed in ZooKeeper: adopting it"
            );
            self.instances = instances;
        }
        Ok(self.suppress_or_revive())
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
    /// What to do about one event: the calls to send.
    pub fn on_event(&mut self, event: &DriverEvent) -> Vec<Call> {
        let event = match event {
            DriverEvent::Event(event) => event,
            // The driver resubscribes by itself; offers we held are void.
            DriverEvent::Disconnected { .. } => return vec![],
            DriverEvent::FrameworkRemoved { .. } => return self.on_framework_removed(),
            // The driver stopped for good (another scheduler took the
            // framework over, or the master refused it); `main` says why.
            DriverEvent::FailedOver { .. } | DriverEvent::Refused { .. } => return vec![],
        };
        match event.r#type() {
            event::Type::Subscribed => match &event.subscribed {
                Some(subscribed) => self.on_subscribed(subscribed),
                None => vec![],
            },
            event::Type::Offers => match &event.offers {
                Some(offers) => self.on_offers(&offers.offers),
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
}
