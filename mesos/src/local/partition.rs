//! Losing an agent, and getting it back.
//!
//! The master pings its agents; one that stops answering is marked
//! *unreachable* ([`Faults::remove_agent`](super::Faults::remove_agent)).
//! The master cannot tell a dead machine from a network partition, and
//! says so: the agent's tasks become TASK_UNREACHABLE for PARTITION_AWARE
//! frameworks and TASK_LOST for the others, reason REASON_AGENT_REMOVED,
//! its offers are rescinded and every framework gets a FAILURE event
//! (`Master::markUnreachable`, `__removeSlave`).
//!
//! Yet here the agent is alive, on the other side of a partition: its
//! tasks run on, their executors report to it, and it queues their status
//! updates, which cannot reach a master. When the partition heals
//! ([`Faults::reregister_agent`](super::Faults::reregister_agent)), the
//! agent re-registers and reports every task it has, and the master takes
//! them back (`Master::__reregisterSlave`):
//!
//! * the tasks of frameworks it removed meanwhile stay out: it tells the
//!   agent to shut those frameworks down, which kills the tasks and shuts
//!   down their custom executors (SHUTDOWN, then destroyed after the grace
//!   period), found among the agent's executors as much as its tasks;
//! * the others are known again, and each framework hears of each of its
//!   tasks in a status update with the state *the agent* reports, source
//!   SOURCE_MASTER, reason REASON_AGENT_REREGISTERED (the v1 name of
//!   REASON_SLAVE_REREGISTERED), message "Unreachable agent re-reregistered"
//!   (sic), and no uuid: a task a framework was told is lost can come back
//!   TASK_RUNNING, partition-aware framework or not. A framework that is
//!   not connected misses that update for good;
//! * then the agent sends the updates it queued, reliably as always. A
//!   task that finished while the agent was away is thus reported
//!   TASK_FINISHED twice: by the master, to say the task is known again,
//!   then by the agent, with the uuid to acknowledge.
//!
//! An agent re-registering with a newly elected master (`failover.rs`)
//! goes the same way, except that this master had not lost the agent: it
//! sends no REASON_AGENT_REREGISTERED updates, and it recovers from the
//! agent's report the frameworks it does not know.

use super::{
    agent::AgentState,
    master::{Master, master_status, now_secs, time_info},
    stream,
    tasks::Footprint,
};
use crate::v1::{TaskState, task_status::Reason};

impl Master {
    /// Marks an agent unreachable, as when it stops answering health
    /// checks. False if there is no such agent or it is unreachable already.
    pub(crate) fn remove_agent(&mut self, agent_id: &str) -> bool {
        let Some(index) = self.agents.iter().position(|a| a.id == agent_id) else {
            return false;
        };
        match self.agents[index].state {
            AgentState::Unreachable => return false,
            AgentState::Registered => self.lose_registered_agent(index),
            AgentState::Recovered => {
                // A recovered agent that does not come back in time
                // (`--agent_reregister_timeout`): the master knows none of
                // its tasks, so it can only report the agent lost
                // (`Master::recoveredSlavesTimeout`).
                tracing::warn!(agent_id, "fault: recovered agent marked unreachable");
            }
        }
        let agent = &mut self.agents[index];
        agent.state = AgentState::Unreachable;
        agent.unreachable_time = Some(now_secs());
        for framework in self.frameworks.values() {
            framework.send(&stream::agent_lost(agent_id));
        }
        true
    }

    /// The master's side of losing a registered agent: its tasks are
    /// unreachable (or lost) to the master and its offers rescinded. The
    /// agent keeps the tasks, which run on.
    fn lose_registered_agent(&mut self, index: usize) {
        let message = "health check timed out";
        let agent_id = self.agents[index].id.clone();
        let now = now_secs();
        tracing::warn!(%agent_id, "fault: agent removed ({message})");

        for (framework_id, framework) in &mut self.frameworks {
            let on_agent: Vec<String> = framework
                .tasks
                .values()
                .filter(|t| t.agent == index)
                .map(|t| t.info.task_id.value.clone())
                .collect();
            if on_agent.is_empty() {
                continue;
            }
            let agent = &mut self.agents[index];
            agent
                .frameworks
                .insert(framework_id.clone(), framework.info.clone());
            let state = if framework.partition_aware() {
                TaskState::TaskUnreachable
            } else {
                TaskState::TaskLost
            };
            for task_id in on_agent {
                let task = framework.tasks.remove(&task_id).expect("listed above");
                let mut record = task.record_without_process();
                agent
                    .unreported_tasks
                    .insert((framework_id.clone(), task_id.clone()), task);
                if record.state.is_terminal() {
                    // Terminal but not acknowledged: done, for the master.
                    framework.completed_tasks.push(record);
                    continue;
                }
                let mut status = master_status(
                    &task_id,
                    state,
                    Reason::AgentRemoved,
                    message,
                    Some(&agent_id),
                    record.visible_executor_id(),
                );
                status.unreachable_time = Some(time_info(now));
                record.state = state;
                record.record(&status);
                framework.send(&stream::update(status));
                framework.unreachable_tasks.insert(task_id, record);
            }
        }

        let rescinded: Vec<String> = self
            .offers
            .values()
            .filter(|o| o.agent == index)
            .map(|o| o.id.clone())
            .collect();
        for offer_id in rescinded {
            let offer = self.offers.remove(&offer_id).expect("listed above");
            if let Some(framework) = self.frameworks.get(&offer.framework_id) {
                framework.send(&stream::rescind(&offer_id));
            }
        }
    }

    /// An unreachable or recovered agent re-registers with the leading
    /// master, reporting its tasks. False if there is no such agent or it
    /// is registered already.
    pub(crate) fn reregister_agent(&mut self, agent_id: &str) -> bool {
        let Some(index) = self.agents.iter().position(|a| a.id == agent_id) else {
            return false;
        };
        let was = self.agents[index].state;
        if was == AgentState::Registered {
            return false;
        }
        let agent = &mut self.agents[index];
        agent.state = AgentState::Registered;
        agent.unreachable_time = None;
        agent.reregistered_time = Some(now_secs());
        let reported = std::mem::take(&mut agent.unreported_tasks);
        let mut infos = std::mem::take(&mut agent.frameworks);
        tracing::info!(agent_id, tasks = reported.len(), "agent re-registered");

        let mut shut_down = Vec::new();
        for ((framework_id, task_id), mut task) in reported {
            if self.removed_frameworks.contains_key(&framework_id) {
                // Removed while the agent was away: the master shuts the
                // framework down on the agent, which kills its tasks.
                tracing::info!(agent_id, %framework_id, %task_id, "killing task of a removed framework");
                task.process = None;
                if !task.state.is_terminal() {
                    Footprint::of(&task).release(&mut self.agents[index]);
                }
                shut_down.push(framework_id);
                continue;
            }
            if was == AgentState::Unreachable {
                let status = master_status(
                    &task_id,
                    task.state,
                    Reason::AgentReregistered,
                    "Unreachable agent re-reregistered",
                    Some(agent_id),
                    task.visible_executor_id(),
                );
                match self.frameworks.get_mut(&framework_id) {
                    Some(framework) => {
                        framework.unreachable_tasks.remove(&task_id);
                        // It may have been terminal, unacknowledged and so
                        // completed at the master: not both (MESOS-9940).
                        framework
                            .completed_tasks
                            .retain(|t| t.info.task_id.value != task_id);
                        if framework.stream.is_some() {
                            framework.send(&stream::update(status));
                        } else {
                            tracing::warn!(%framework_id, %task_id, "dropping update for disconnected framework");
                        }
                    }
                    None => {
                        tracing::warn!(%framework_id, %task_id, "dropping update for unknown framework")
                    }
                }
            }
            if !self.frameworks.contains_key(&framework_id) {
                let info = infos.remove(&framework_id).unwrap_or_default();
                self.recover_framework(&framework_id, info);
            }
            let framework = self
                .frameworks
                .get_mut(&framework_id)
                .expect("known or just recovered");
            if framework.tasks.contains_key(&task_id) {
                // A task with this ID was launched elsewhere meanwhile
                // (after a master failover, or reusing the ID of a task
                // completed at the master). Mesos 1.11 aborts on this (a
                // CHECK in `Framework::addTask`); we keep the task the
                // master knows and kill the agent's.
                tracing::error!(%framework_id, %task_id, agent_id, "duplicate task reported by re-registering agent; killing it");
                task.process = None;
                if !task.state.is_terminal() {
                    Footprint::of(&task).release(&mut self.agents[index]);
                }
                continue;
            }
            framework.tasks.insert(task_id, task);
        }
        // The agent reports the frameworks of its executors too, and the
        // master shuts down each that it removed meanwhile
        // (`Master::__reregisterSlave`, then `Slave::shutdownFramework`).
        shut_down.extend(
            self.agents[index]
                .custom_executors
                .keys()
                .map(|(framework_id, _)| framework_id.clone())
                .filter(|framework_id| self.removed_frameworks.contains_key(framework_id)),
        );
        shut_down.sort();
        shut_down.dedup();
        for framework_id in shut_down {
            let agent = &mut self.agents[index];
            agent.updates.remove_framework(&framework_id);
            agent.executors.retain(|(f, _), _| *f != framework_id);
            self.shutdown_framework_executors(index, &framework_id);
        }
        // Back with a master: the updates that queued up go out now.
        for (framework_id, status) in self.agents[index].updates.resume() {
            self.send_update(index, &framework_id, status);
        }
        true
    }
}
