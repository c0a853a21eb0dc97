//! Builders for what a scheduler hears, so that a test of its decisions
//! reads like the scenario it checks.
//!
//! A scheduler written as a pure function of its state and one event (see
//! [`crate::driver::Scheduler`]) is tested without a master: feed it
//! events, look at the calls it returns ([`super::calls`]). These builders
//! make the events, with sensible defaults for everything a test does not
//! care about:
//!
//! ```
//! use mesos::testing::{calls, events::*};
//! use mesos::v1::TaskState;
//!
//! // An agent with room for four tasks of 0.5 cpu, and its offer.
//! let agent = agent("agent-1").resources("cpus:2;mem:1024");
//! let event = offers([agent.offer("offer-1")]);
//!
//! // The agent says task-1 runs; a reliable update, with a uuid to
//! // acknowledge.
//! let running = update("task-1", TaskState::TaskRunning).on("agent-1").reliable();
//! let event = running.event();
//! # let _ = event;
//! ```

use bytes::Bytes;

use crate::{
    driver::DriverEvent,
    resources::{self, Resources},
    v1::{
        AgentId, ExecutorId, FrameworkId, Offer, OfferId, TaskId, TaskState, TaskStatus,
        scheduler::{Event, event},
        task_status::{Reason, Source},
    },
};

/// An agent, to make offers of its resources.
#[derive(Debug, Clone)]
pub struct AgentBuilder {
    id: String,
    hostname: String,
    resources: Resources,
}

/// An agent with this ID, host name `<id>.example`, and 4 cpus and 4096 MB.
pub fn agent(id: &str) -> AgentBuilder {
    AgentBuilder {
        id: id.to_string(),
        hostname: format!("{id}.example"),
        resources: Resources::from([resources::cpus(4.0), resources::mem(4096.0)]),
    }
}

impl AgentBuilder {
    pub fn hostname(mut self, hostname: &str) -> Self {
        self.hostname = hostname.to_string();
        self
    }

    /// Its resources, in Mesos' syntax: `cpus:2;mem:1024;ports:[31000-32000]`.
    pub fn resources(mut self, text: &str) -> Self {
        self.resources =
            Resources::parse(text).unwrap_or_else(|e| panic!("resources {text:?}: {e}"));
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// An offer of all its resources.
    pub fn offer(&self, offer_id: &str) -> OfferBuilder {
        OfferBuilder {
            id: offer_id.to_string(),
            agent: self.clone(),
        }
    }
}

/// An offer, to put in an [`offers`] event.
#[derive(Debug, Clone)]
pub struct OfferBuilder {
    id: String,
    agent: AgentBuilder,
}

/// An offer of 1 cpu and 1024 MB from agent `agent-1`.
pub fn offer(offer_id: &str) -> OfferBuilder {
    agent("agent-1")
        .resources("cpus:1;mem:1024")
        .offer(offer_id)
}

impl OfferBuilder {
    /// From this agent (its ID and host name; the resources stay the
    /// offer's).
    pub fn from(mut self, agent_id: &str) -> Self {
        let resources = self.agent.resources.clone();
        self.agent = agent(agent_id);
        self.agent.resources = resources;
        self
    }

    pub fn cpus(mut self, cpus: f64) -> Self {
        self.set(resources::cpus(cpus));
        self
    }

    pub fn mem(mut self, mem: f64) -> Self {
        self.set(resources::mem(mem));
        self
    }

    /// Its resources, in Mesos' syntax: `cpus:2;mem:1024`.
    pub fn resources(mut self, text: &str) -> Self {
        self.agent = self.agent.resources(text);
        self
    }

    fn set(&mut self, resource: crate::v1::Resource) {
        let mut all: Vec<_> = self
            .agent
            .resources
            .iter()
            .filter(|r| r.name != resource.name)
            .cloned()
            .collect();
        all.push(resource);
        self.agent.resources = all.into_iter().collect();
    }

    pub fn build(&self) -> Offer {
        Offer {
            id: OfferId {
                value: self.id.clone(),
            },
            framework_id: FrameworkId {
                value: "framework-1".into(),
            },
            agent_id: AgentId {
                value: self.agent.id.clone(),
            },
            hostname: self.agent.hostname.clone(),
            resources: self.agent.resources.iter().cloned().collect(),
            ..Default::default()
        }
    }
}

impl From<OfferBuilder> for Offer {
    fn from(builder: OfferBuilder) -> Offer {
        builder.build()
    }
}

/// A status update, to put in an [`UpdateBuilder::event`].
#[derive(Debug, Clone)]
pub struct UpdateBuilder {
    status: TaskStatus,
}

/// An update saying `task_id` is in `state`: from the master, without a
/// uuid (as reconciliation answers), until told otherwise.
pub fn update(task_id: &str, state: TaskState) -> UpdateBuilder {
    UpdateBuilder {
        status: TaskStatus {
            task_id: TaskId {
                value: task_id.to_string(),
            },
            state: state as i32,
            source: Some(Source::Master as i32),
            ..Default::default()
        },
    }
}

impl UpdateBuilder {
    /// On this agent.
    pub fn on(mut self, agent_id: &str) -> Self {
        self.status.agent_id = Some(AgentId {
            value: agent_id.to_string(),
        });
        self
    }

    /// Sent reliably by the agent: with a uuid, to be acknowledged. The
    /// uuid is made from the task ID and state, so that the same update
    /// delivered twice has the same uuid.
    pub fn reliable(mut self) -> Self {
        let key = format!("{}/{}", self.status.task_id.value, self.status.state);
        self.status.uuid = Some(Bytes::copy_from_slice(&uuid_of(&key)));
        self.status.source = Some(Source::Executor as i32);
        self
    }

    /// From this executor (a custom one: the command executor's updates
    /// name it too, after the task).
    pub fn from_executor(mut self, executor_id: &str) -> Self {
        self.status.executor_id = Some(ExecutorId {
            value: executor_id.to_string(),
        });
        self
    }

    /// With this uuid (16 bytes).
    pub fn uuid(mut self, uuid: [u8; 16]) -> Self {
        self.status.uuid = Some(Bytes::copy_from_slice(&uuid));
        self
    }

    pub fn reason(mut self, reason: Reason) -> Self {
        self.status.reason = Some(reason as i32);
        self
    }

    pub fn message(mut self, message: &str) -> Self {
        self.status.message = Some(message.to_string());
        self
    }

    /// When it happened, in seconds since the epoch.
    pub fn at(mut self, timestamp: f64) -> Self {
        self.status.timestamp = Some(timestamp);
        self
    }

    pub fn status(&self) -> TaskStatus {
        self.status.clone()
    }

    /// The UPDATE event.
    pub fn event(&self) -> DriverEvent {
        DriverEvent::Event(Event {
            r#type: Some(event::Type::Update as i32),
            update: Some(event::Update {
                status: self.status.clone(),
            }),
            ..Default::default()
        })
    }
}

impl From<UpdateBuilder> for DriverEvent {
    fn from(builder: UpdateBuilder) -> DriverEvent {
        builder.event()
    }
}

/// OFFERS with these offers.
pub fn offers(offers: impl IntoIterator<Item = impl Into<Offer>>) -> DriverEvent {
    DriverEvent::Event(Event {
        r#type: Some(event::Type::Offers as i32),
        offers: Some(event::Offers {
            offers: offers.into_iter().map(Into::into).collect(),
        }),
        ..Default::default()
    })
}

/// SUBSCRIBED as `framework_id`, heartbeats every 15 s.
pub fn subscribed(framework_id: &str) -> DriverEvent {
    DriverEvent::Event(Event {
        r#type: Some(event::Type::Subscribed as i32),
        subscribed: Some(event::Subscribed {
            framework_id: FrameworkId {
                value: framework_id.to_string(),
            },
            heartbeat_interval_seconds: Some(15.0),
            master_info: None,
        }),
        ..Default::default()
    })
}

/// RESCIND of an offer.
pub fn rescind(offer_id: &str) -> DriverEvent {
    DriverEvent::Event(Event {
        r#type: Some(event::Type::Rescind as i32),
        rescind: Some(event::Rescind {
            offer_id: OfferId {
                value: offer_id.to_string(),
            },
        }),
        ..Default::default()
    })
}

/// HEARTBEAT.
pub fn heartbeat() -> DriverEvent {
    DriverEvent::Event(Event {
        r#type: Some(event::Type::Heartbeat as i32),
        ..Default::default()
    })
}

/// FAILURE: an agent is lost.
pub fn agent_lost(agent_id: &str) -> DriverEvent {
    DriverEvent::Event(Event {
        r#type: Some(event::Type::Failure as i32),
        failure: Some(event::Failure {
            agent_id: Some(AgentId {
                value: agent_id.to_string(),
            }),
            executor_id: None,
            status: None,
        }),
        ..Default::default()
    })
}

/// The driver lost the subscription and is resubscribing.
pub fn disconnected() -> DriverEvent {
    DriverEvent::Disconnected {
        reason: "the master closed the event stream".into(),
    }
}

/// The master removed the framework (ERROR "Framework has been removed").
pub fn framework_removed(framework_id: &str) -> DriverEvent {
    DriverEvent::FrameworkRemoved {
        framework_id: FrameworkId {
            value: framework_id.to_string(),
        },
        message: "Framework has been removed".into(),
    }
}

/// Another scheduler took the framework over (ERROR "Framework failed
/// over"): the driver has stopped.
pub fn failed_over() -> DriverEvent {
    DriverEvent::FailedOver {
        message: "Framework failed over".into(),
    }
}

/// 16 bytes that depend only on `key` (two FNV-1a hashes): the same update
/// gets the same uuid.
fn uuid_of(key: &str) -> [u8; 16] {
    let hash = |seed: u64| {
        key.bytes().fold(seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let mut uuid = [0; 16];
    uuid[..8].copy_from_slice(&hash(0xcbf2_9ce4_8422_2325).to_be_bytes());
    uuid[8..].copy_from_slice(&hash(0x8422_2325_cbf2_9ce4).to_be_bytes());
    uuid
}

/// A framework message from an executor (MESSAGE).
pub fn framework_message(agent_id: &str, executor_id: &str, data: impl Into<Bytes>) -> DriverEvent {
    DriverEvent::Event(Event {
        r#type: Some(event::Type::Message as i32),
        message: Some(event::Message {
            agent_id: AgentId {
                value: agent_id.to_string(),
            },
            executor_id: ExecutorId {
                value: executor_id.to_string(),
            },
            data: data.into(),
        }),
        ..Default::default()
    })
}
