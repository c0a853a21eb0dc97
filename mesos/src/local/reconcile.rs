//! Reconciliation: telling a framework what the master knows of its tasks.
//!
//! Messages between master and framework can be lost, so after every
//! (re)subscription a framework must ask the master for the state of the
//! tasks it thinks are alive (`docs/reconciliation.md`). The master answers
//! from memory, with updates that have no `uuid` (they are not delivered
//! reliably and must not be acknowledged), reason REASON_RECONCILIATION:
//!
//! * a task it knows: its latest state, "Reconciliation: Latest task state",
//!   with the `healthy` of its last status;
//! * a task it does not know, on an agent that has not re-registered since
//!   a master failover (or with no agent given, while any agent has not):
//!   *nothing*. The task may well run there; the framework must ask again
//!   later;
//! * another task it does not know: TASK_GONE ("unknown to the agent", when
//!   the given agent is registered), TASK_UNREACHABLE (the agent is
//!   unreachable) or TASK_UNKNOWN (no such agent, or none given).
//!   Frameworks without the PARTITION_AWARE capability get TASK_LOST for
//!   all three.
//!
//! An empty list (*implicit* reconciliation) asks for every task the master
//! knows of, which also reveals tasks the framework has forgotten.

use super::{
    agent::AgentState,
    master::{Master, Task, master_status, time_info},
    stream,
};
use crate::v1::{OperationState, OperationStatus, TaskState, scheduler::call, task_status::Reason};

impl Master {
    /// RECONCILE: the latest state of the given tasks, or of all known
    /// tasks when the list is empty (Mesos' `Master::reconcile`).
    pub(crate) fn reconcile(&mut self, framework_id: &str, tasks: Vec<(String, Option<String>)>) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let latest = |task: &Task| {
            let mut status = master_status(
                &task.info.task_id.value,
                task.reported_state(),
                Reason::Reconciliation,
                "Reconciliation: Latest task state",
                Some(&self.agents[task.agent].id),
                task.visible_executor_id(),
            );
            // The agent says `healthy` only when it changes: a framework
            // that failed over learns it here (master.cpp passes
            // `protobuf::getTaskHealth(*task)`: the last status' own).
            status.healthy = task.statuses.last().and_then(|last| last.healthy);
            status
        };
        if tasks.is_empty() {
            tracing::info!(
                framework_id,
                "performing implicit task state reconciliation"
            );
            for task in framework.tasks.values() {
                framework.send(&stream::update(latest(task)));
            }
            return;
        }
        tracing::info!(
            framework_id,
            tasks = tasks.len(),
            "performing explicit task state reconciliation"
        );
        let partition_aware = framework.partition_aware();
        let or_lost = |state| {
            if partition_aware {
                state
            } else {
                TaskState::TaskLost
            }
        };
        for (task_id, agent_id) in tasks {
            let status = if let Some(task) = framework.tasks.get(&task_id) {
                latest(task)
            } else if self.may_be_on_recovered_agent(agent_id.as_deref()) {
                // Mesos' case (2): no answer until the agent re-registers
                // (or is marked unreachable).
                tracing::info!(
                    framework_id,
                    %task_id,
                    "dropping reconciliation of task: its agent has not re-registered yet"
                );
                continue;
            } else if let Some(agent_id) = agent_id
                .as_deref()
                .filter(|a| self.agent_index(a).is_some())
            {
                master_status(
                    &task_id,
                    or_lost(TaskState::TaskGone),
                    Reason::Reconciliation,
                    "Reconciliation: Task is unknown to the agent",
                    Some(agent_id),
                    None,
                )
            } else if let Some((agent_id, since)) = agent_id
                .as_deref()
                .and_then(|a| self.unreachable_since(a).map(|since| (a, since)))
            {
                let mut status = master_status(
                    &task_id,
                    or_lost(TaskState::TaskUnreachable),
                    Reason::Reconciliation,
                    "Reconciliation: Task is unreachable",
                    Some(agent_id),
                    None,
                );
                status.unreachable_time = Some(time_info(since));
                status
            } else {
                master_status(
                    &task_id,
                    or_lost(TaskState::TaskUnknown),
                    Reason::Reconciliation,
                    "Reconciliation: Task is unknown",
                    agent_id.as_deref(),
                    None,
                )
            };
            framework.send(&stream::update(status));
        }
    }

    /// Whether an unknown task may be on an agent that has not re-registered
    /// with this master: the given agent, or any if none is given.
    fn may_be_on_recovered_agent(&self, agent_id: Option<&str>) -> bool {
        match agent_id {
            Some(agent_id) => self.agent_in(agent_id, AgentState::Recovered),
            None => self.agents.iter().any(|a| a.state == AgentState::Recovered),
        }
    }

    fn agent_in(&self, agent_id: &str, state: AgentState) -> bool {
        self.agents
            .iter()
            .any(|a| a.id == agent_id && a.state == state)
    }

    /// When an unreachable agent was marked so.
    fn unreachable_since(&self, agent_id: &str) -> Option<f64> {
        self.agents
            .iter()
            .find(|a| a.id == agent_id && a.state == AgentState::Unreachable)
            .and_then(|a| a.unreachable_time)
    }

    /// RECONCILE_OPERATIONS: no operation ever asks for feedback here, so
    /// every operation asked about is unknown (Mesos' cases 2, 3, 4, 6, 7).
    pub(crate) fn reconcile_operations(
        &mut self,
        framework_id: &str,
        reconcile: call::ReconcileOperations,
    ) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        for operation in reconcile.operations {
            let agent_id = operation.agent_id.as_ref().map(|a| a.value.clone());
            let (state, message) = match agent_id.as_deref() {
                Some(agent) if self.agent_in(agent, AgentState::Recovered) => (
                    OperationState::OperationRecovering,
                    "Reconciliation: Agent is recovered but has not re-registered",
                ),
                Some(agent) if self.agent_index(agent).is_some() => (
                    OperationState::OperationUnknown,
                    "Reconciliation: Operation is unknown",
                ),
                Some(agent) if self.agent_in(agent, AgentState::Unreachable) => (
                    OperationState::OperationUnreachable,
                    "Reconciliation: Agent is unreachable",
                ),
                Some(_) => (
                    OperationState::OperationUnknown,
                    "Reconciliation: Both operation and agent are unknown",
                ),
                None => (
                    OperationState::OperationUnknown,
                    "Reconciliation: Operation is unknown and no 'agent_id' was provided",
                ),
            };
            framework.send(&stream::operation_update(OperationStatus {
                operation_id: Some(operation.operation_id),
                state: state as i32,
                message: Some(message.to_string()),
                agent_id: operation.agent_id,
                resource_provider_id: operation.resource_provider_id,
                ..Default::default()
            }));
        }
    }
}
