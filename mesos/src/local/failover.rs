//! Master failover: a newly elected master, and how the cluster finds its
//! way back to it.
//!
//! A Mesos master keeps almost everything in memory. What outlives it is
//! the *registry* (in ZooKeeper or the replicated log): which agents
//! exist, and which are unreachable. A newly elected master, because the
//! old one crashed or lost its leadership, starts from that alone
//! (`Master::_recover`):
//!
//! * it has a new ID (in SUBSCRIBED's `master_info`, and `/master/state`),
//!   at the same address here, as a single master that restarted;
//! * it knows no framework, connected, disconnected or removed: every
//!   event stream ended with the old master, calls are answered `400
//!   Framework cannot be found`, and there are no offers;
//! * the agents that were registered are *recovered*: known from the
//!   registry, not yet re-registered, so the master cannot tell what runs
//!   on them; unreachable agents stay unreachable. Their tasks run on.
//!
//! Then the cluster rebuilds the rest:
//!
//! * each agent notices the new leader and re-registers (`partition.rs`),
//!   reporting its tasks and the FrameworkInfo of their frameworks. The
//!   master *recovers* each framework it does not know from that
//!   (`Master::recoverFramework`): known, tasks and resources and all,
//!   but not subscribed, so its calls get `403 Framework is not
//!   subscribed`. Then the agent re-sends its unacknowledged updates;
//! * each scheduler subscribes again with its framework ID, which the
//!   master accepts as is, known or not (`Master::_subscribe`). A
//!   framework removed before the failover can so come back: Mesos keeps
//!   removed frameworks in memory only;
//! * while an agent is recovered, the master cannot know whether a task it
//!   has not heard of runs there: explicit reconciliation of such a task
//!   gets no answer at all, and implicit reconciliation answers only for
//!   the tasks it knows (`reconcile.rs`). A framework must retry.
//!
//! The old master's timers (failover timeouts) die with it; the agents'
//! (status update retries) do not.

use std::time::Duration;

use super::{
    agent::AgentState,
    faults::AgentReregistration,
    master::{Command, Framework, Master, now_secs},
};
use crate::v1::{FrameworkId, FrameworkInfo};

impl Master {
    /// The master fails over to a newly elected one; returns its ID.
    pub(crate) fn fail_over(&mut self, reregistration: AgentReregistration) -> String {
        let old = std::mem::replace(&mut self.id, uuid::Uuid::new_v4().to_string());
        tracing::warn!(old_master = %old, new_master = %self.id, "fault: master failover");
        self.elected_time = now_secs();
        self.next_framework = 0;
        self.next_offer = 0;
        self.offers.clear();
        self.removed_frameworks.clear();

        // Frameworks go with the old master; dropping them closes their
        // streams. Their tasks stay with the agents that run them, which
        // know the frameworks as the old master last told them.
        for (framework_id, mut framework) in std::mem::take(&mut self.frameworks) {
            for (task_id, task) in std::mem::take(&mut framework.tasks) {
                let agent = &mut self.agents[task.agent];
                agent
                    .frameworks
                    .insert(framework_id.clone(), framework.info.clone());
                agent
                    .unreported_tasks
                    .insert((framework_id.clone(), task_id), task);
            }
        }

        // Agents still recovered from a failover a moment ago count too:
        // they re-register with whichever master leads when they detect
        // it, so a second failover before they came back must not strand
        // them (the first master's re-registrations are now stale).
        let mut recovered = Vec::new();
        for agent in &mut self.agents {
            if matches!(agent.state, AgentState::Registered | AgentState::Recovered) {
                agent.state = AgentState::Recovered;
                recovered.push(agent.id.clone());
            }
        }
        if let AgentReregistration::After(delay) = reregistration {
            for agent_id in recovered {
                self.reregister_later(agent_id, delay);
            }
        }
        self.id.clone()
    }

    /// A recovered agent re-registers by itself once it has detected the
    /// new leader (real agents take a few seconds at most).
    fn reregister_later(&self, agent_id: String, delay: Duration) {
        let commands = self.commands.clone();
        let master_id = self.id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = commands.send(Command::ReregisterAgent {
                agent_id,
                master_id: Some(master_id),
                reply: None,
            });
        });
    }

    /// `Master::recoverFramework`: a framework this master has not seen,
    /// known from an agent that runs its tasks. It is not connected, and
    /// no failover timeout runs for it: it stays until it subscribes.
    pub(crate) fn recover_framework(&mut self, framework_id: &str, mut info: FrameworkInfo) {
        tracing::info!(framework_id, name = %info.name, "recovering framework from a re-registering agent");
        info.id = Some(FrameworkId {
            value: framework_id.to_string(),
        });
        let mut framework = Framework::new(framework_id, info);
        framework.recovered = true;
        self.frameworks.insert(framework_id.to_string(), framework);
    }
}
