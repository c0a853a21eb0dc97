//! The scheduler: what to do about each event from Mesos.
//!
//! It keeps a count of tasks in mind ("keep N copies running") and compares
//! it with what Mesos reports. Everything here is a plain function of the
//! scheduler's state and one event, returning the calls to make. No network,
//! no clock: a test can feed it events and look at the calls.

use std::collections::BTreeMap;

use mesos::{
    DriverEvent, calls,
    offers::{self, OfferPacker, Shortfall, TaskRequirements},
    resources::{self, Resources},
    v1::{
        Offer, TaskInfo, TaskState, TaskStatus,
        scheduler::{Call, event},
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
    /// Task ID → last known state. A task is in here from the moment we
    /// launch it until Mesos reports it ended.
    tasks: BTreeMap<String, TaskState>,
    /// Whether we asked the master to stop sending offers.
    offers_suppressed: bool,
    /// Why the last offers launched nothing while tasks were missing.
    unfit: Option<Shortfall>,
}

impl Scheduler {
    pub fn new(instances: usize, spec: TaskSpec) -> Self {
        Scheduler {
            instances,
            spec,
            tasks: BTreeMap::new(),
            offers_suppressed: false,
            unfit: None,
        }
    }

    /// How many more tasks to launch.
    fn tasks_to_launch(&self) -> usize {
        self.instances.saturating_sub(self.tasks.len())
    }

    fn on_subscribed(&mut self) -> Vec<Call> {
        // The master may still hold a SUPPRESS or decline filters from an
        // earlier subscription: say explicitly what we want now.
        self.offers_suppressed = self.tasks_to_launch() == 0;
        vec![if self.offers_suppressed {
            calls::suppress(vec![])
        } else {
            calls::revive(vec![])
        }]
    }

    fn on_offers(&mut self, offers: &[Offer]) -> Vec<Call> {
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
            // Until Mesos tells us otherwise, the task is staging.
            self.tasks.insert(task_id, TaskState::TaskStaging);
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
            self.tasks.insert(task_id.clone(), state);
        }
        // Acknowledge, or the agent re-sends the update and holds back the
        // task's next ones.
        let mut calls: Vec<Call> = calls::acknowledge_update(status).into_iter().collect();
        calls.extend(self.spec.kind.ask_executor(status));
        calls.extend(self.suppress_or_revive());
        calls
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

impl mesos::Scheduler for Scheduler {
    fn on_event(&mut self, event: &DriverEvent) -> Vec<Call> {
        let event = match event {
            DriverEvent::Event(event) => event,
            // The driver resubscribes by itself; offers we held are void.
            DriverEvent::Disconnected { .. } => return vec![],
            // The master removed the framework and killed its tasks: with a
            // failover_timeout of 0 (Mesos' default), that happens the moment
            // our connection drops. The driver registers a new framework;
            // forget the old tasks, and offers bring new ones.
            DriverEvent::FrameworkRemoved { .. } => {
                tracing::warn!(
                    forgotten_tasks = self.tasks.len(),
                    "the master removed this framework"
                );
                self.tasks.clear();
                return vec![];
            }
            // The driver stopped for good (another scheduler took the
            // framework over, or the master refused it); `main` says why.
            DriverEvent::FailedOver { .. } | DriverEvent::Refused { .. } => return vec![],
        };
        match event.r#type() {
            event::Type::Subscribed => self.on_subscribed(),
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
