//! Fault injection: make the simulated master misbehave on purpose.
//!
//! A framework is a distributed system, and the interesting parts of its
//! code are the ones that run when something goes wrong: the event stream
//! drops, heartbeats stop arriving, the master loses leadership, an agent
//! vanishes with tasks on it, a status update arrives late or twice. On a
//! real cluster these are rare and hard to provoke; here a test asks for
//! them through [`Faults`], a cheap-to-clone handle from
//! [`LocalMaster::faults`](super::LocalMaster::faults).
//!
//! Switches that only change how requests are answered (redirects, 5xx,
//! heartbeats, update delivery) are shared flags read by the HTTP handlers
//! and the master. Faults that change cluster state (dropping streams,
//! losing an agent and getting it back, a master failover) are commands to
//! the master's actor, so they happen in order with everything else the
//! master does.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use http::StatusCode;
use tokio::sync::{mpsc, oneshot};

use super::master::Command;
use crate::master::MasterAddr;

/// The switches, shared by the handle, the HTTP server and the master.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    heartbeats_stopped: AtomicBool,
    redirect: Mutex<Option<MasterAddr>>,
    failure: Mutex<Option<StatusCode>>,
    update_delay: Mutex<Duration>,
    duplicate_updates: AtomicBool,
}

impl FaultState {
    pub(crate) fn heartbeats_stopped(&self) -> bool {
        self.heartbeats_stopped.load(Ordering::Relaxed)
    }

    pub(crate) fn redirect(&self) -> Option<MasterAddr> {
        self.redirect.lock().expect("fault lock").clone()
    }

    pub(crate) fn failure(&self) -> Option<StatusCode> {
        *self.failure.lock().expect("fault lock")
    }

    pub(crate) fn update_delay(&self) -> Duration {
        *self.update_delay.lock().expect("fault lock")
    }

    pub(crate) fn duplicate_updates(&self) -> bool {
        self.duplicate_updates.load(Ordering::Relaxed)
    }
}

/// When the agents re-register with a newly elected master
/// ([`Faults::fail_over`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentReregistration {
    /// Each agent re-registers by itself after this long, as real agents
    /// do within seconds of detecting the new leader.
    After(Duration),
    /// Agents wait for [`Faults::reregister_agent`], one by one, so a test
    /// can see the cluster in between.
    WhenAsked,
}

/// A handle to inject faults into a running [`LocalMaster`](super::LocalMaster).
#[derive(Clone)]
pub struct Faults {
    pub(crate) state: Arc<FaultState>,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
}

impl Faults {
    /// Closes every framework's event stream, as a network failure or a
    /// proxy timing out would. The master marks the frameworks
    /// disconnected and starts their failover timeouts; a framework that
    /// resubscribes with its ID in time gets its tasks back.
    pub async fn drop_streams(&self) {
        let (reply, done) = oneshot::channel();
        if self.commands.send(Command::DropStreams { reply }).is_ok() {
            let _ = done.await;
        }
    }

    /// Stops (`true`) or resumes (`false`) the HEARTBEAT events, leaving
    /// the connections open: what a half-open TCP connection looks like to
    /// a framework, which can only notice it by the silence.
    pub fn stop_heartbeats(&self, stopped: bool) {
        self.state
            .heartbeats_stopped
            .store(stopped, Ordering::Relaxed);
    }

    /// Makes the scheduler endpoint answer `307 Temporary Redirect` to
    /// `leader`, as a master that is not (or no longer) the leader does.
    /// `None` makes this master lead again.
    pub fn redirect_to(&self, leader: Option<MasterAddr>) {
        *self.state.redirect.lock().expect("fault lock") = leader;
    }

    /// Makes the scheduler endpoint answer every request with `status`
    /// (e.g. 503 while no leader is elected). `None` stops it.
    pub fn fail_with(&self, status: Option<StatusCode>) {
        *self.state.failure.lock().expect("fault lock") = status;
    }

    /// Partitions an agent away from the master: the master marks it
    /// unreachable, as if it had stopped answering health checks. Its tasks
    /// become TASK_UNREACHABLE (partition-aware frameworks) or TASK_LOST
    /// (the others), its offers are rescinded and frameworks get a FAILURE
    /// event. The agent itself carries on: its task processes keep running
    /// and their status updates wait for [`Faults::reregister_agent`]
    /// (processes die with the `LocalMaster` all the same). An agent not
    /// re-registered since a [`Faults::fail_over`] is only reported lost.
    /// Returns false if there is no such agent, or it is unreachable
    /// already.
    pub async fn remove_agent(&self, agent_id: &str) -> bool {
        let (reply, done) = oneshot::channel();
        let command = Command::RemoveAgent {
            agent_id: agent_id.to_string(),
            reply,
        };
        if self.commands.send(command).is_err() {
            return false;
        }
        done.await.unwrap_or(false)
    }

    /// The agent re-registers with the leading master: after a partition
    /// ([`Faults::remove_agent`]) or a [`Faults::fail_over`]. It reports its
    /// tasks, which the master knows again (frameworks hear of them with
    /// REASON_AGENT_REREGISTERED after a partition), and sends the status
    /// updates it held back. Tasks of frameworks removed meanwhile are
    /// killed. Returns false if there is no such agent, or it is registered.
    pub async fn reregister_agent(&self, agent_id: &str) -> bool {
        let (reply, done) = oneshot::channel();
        let command = Command::ReregisterAgent {
            agent_id: agent_id.to_string(),
            master_id: None,
            reply: Some(reply),
        };
        if self.commands.send(command).is_err() {
            return false;
        }
        done.await.unwrap_or(false)
    }

    /// The master fails over: a newly elected master takes over at the
    /// same address, as when a single mesos-master restarts, and knows only
    /// what Mesos keeps in its registry. Returns the new master's ID.
    ///
    /// * Every event stream closes. The new master has a new ID, no offers,
    ///   and knows no framework, not even removed ones: calls get `400
    ///   Framework cannot be found`, and a SUBSCRIBE with an old framework
    ///   ID is accepted with that ID.
    /// * Agents keep their IDs and their tasks, which run on, but are only
    ///   *recovered* until they re-register, as `agents` says. Meanwhile
    ///   explicit reconciliation of tasks that may be on them is not
    ///   answered.
    /// * A re-registering agent reports its tasks; the master *recovers*
    ///   their frameworks, known but not subscribed (`403 Framework is not
    ///   subscribed`) until they subscribe again. Then the agent re-sends
    ///   the status updates not yet acknowledged.
    pub async fn fail_over(&self, agents: AgentReregistration) -> String {
        let (reply, done) = oneshot::channel();
        let command = Command::FailOver {
            reregistration: agents,
            reply,
        };
        if self.commands.send(command).is_err() {
            return String::new();
        }
        done.await.unwrap_or_default()
    }

    /// Holds every task status update for `delay` before it reaches the
    /// framework, like a slow network between agent and master.
    pub fn delay_updates(&self, delay: Duration) {
        *self.state.update_delay.lock().expect("fault lock") = delay;
    }

    /// Delivers every task status update twice (same uuid), as happens
    /// when an agent retries an update whose acknowledgement was lost.
    pub fn duplicate_updates(&self, duplicate: bool) {
        self.state
            .duplicate_updates
            .store(duplicate, Ordering::Relaxed);
    }
}
