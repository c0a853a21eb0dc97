//! What the agent does with its executors' calls, and framework messages.
//!
//! `executor_api.rs` checks an executor API call and hands it to the
//! actor; here the agent answers it, after `Http::executor` and the
//! `Slave` methods it calls (`src/slave/http.cpp`, `src/slave/slave.cpp`,
//! 1.11.0):
//!
//! * SUBSCRIBE opens the executor's event stream (a second one replaces
//!   the first), takes in what the executor says it has not had
//!   acknowledged, and sends SUBSCRIBED and the queued tasks;
//! * UPDATE is acknowledged to the executor at once (ACKNOWLEDGED: the
//!   agent has it and will deliver it), then forwarded to the scheduler
//!   reliably by the agent's status update manager;
//! * MESSAGE goes to the scheduler, best effort.
//!
//! Framework messages from the scheduler (its MESSAGE call) travel the
//! other way, as best effort too: dropped when the executor cannot take
//! them.

use std::collections::BTreeSet;

use bytes::Bytes;
use http::StatusCode;

use super::{
    custom_executor::{
        CustomExecutor, ExecutorCallReply, ExecutorKey, ExecutorState, executor_event, send,
    },
    master::Master,
    stream::EventStream,
};
use crate::{
    codec::ContentType,
    v1::{
        AgentId, AgentInfo, ContainerId, ExecutorId, TaskState, TaskStatus,
        executor::{Call, Event, call, event},
        scheduler,
        task_status::{Reason, Source},
    },
};

impl Master {
    /// An executor API call, checked by `executor_api.rs`: the framework
    /// and executor lookups of `Http::executor`, in its order, then the
    /// call.
    pub(crate) fn executor_call(
        &mut self,
        agent: usize,
        call: Call,
        format: ContentType,
    ) -> ExecutorCallReply {
        if agent >= self.agents.len() {
            return ExecutorCallReply::Error(StatusCode::NOT_FOUND, String::new());
        }
        let framework_id = call.framework_id.value.clone();
        let key = (framework_id.clone(), call.executor_id.value.clone());
        // The agent knows a framework while it has executors or tasks of it.
        let known = self.agents[agent]
            .custom_executors
            .keys()
            .any(|(f, _)| *f == framework_id)
            || !self.agent_tasks_of(agent, &framework_id).is_empty();
        if !known {
            return error(StatusCode::BAD_REQUEST, "Framework cannot be found");
        }
        let Some(executor) = self.agents[agent].custom_executors.get(&key) else {
            return error(StatusCode::BAD_REQUEST, "Executor cannot be found");
        };
        let kind = call.r#type();
        if executor.state == ExecutorState::Registering && kind != call::Type::Subscribe {
            return error(StatusCode::FORBIDDEN, "Executor is not subscribed");
        }
        match kind {
            call::Type::Subscribe => {
                self.executor_subscribe(agent, &key, call.subscribe.unwrap_or_default(), format)
            }
            call::Type::Update => {
                let status = call.update.unwrap_or_default().status;
                let acknowledged = self.executor_update(agent, &key, status);
                self.acknowledge_update(agent, &key, acknowledged);
                ExecutorCallReply::Accepted
            }
            call::Type::Message => {
                let data = call.message.unwrap_or_default().data;
                self.executor_message(agent, &key, data);
                ExecutorCallReply::Accepted
            }
            // Answered 202 by `executor_api.rs` before any lookup.
            call::Type::Heartbeat => ExecutorCallReply::Accepted,
            call::Type::Unknown => error(StatusCode::NOT_IMPLEMENTED, ""),
        }
    }

    /// SUBSCRIBE (`Slave::subscribe`).
    fn executor_subscribe(
        &mut self,
        agent: usize,
        key: &ExecutorKey,
        subscribe: call::Subscribe,
        format: ContentType,
    ) -> ExecutorCallReply {
        let (stream, records) = EventStream::open(format);
        let executor = self.agents[agent]
            .custom_executors
            .get_mut(key)
            .expect("looked up by the caller");
        if executor.framework_removed || executor.state == ExecutorState::Terminating {
            tracing::warn!(executor_id = %key.1, "shutting down executor: it or its framework is terminating");
            stream.send_message(&executor_event(event::Type::Shutdown));
            // Dropping `stream` closes the response after the SHUTDOWN.
            return ExecutorCallReply::Subscribed { records };
        }
        if executor.stream.is_some() {
            tracing::warn!(executor_id = %key.1, "closing the executor's earlier connection");
        }
        stream.start_heartbeats_of(
            &executor_event(event::Type::Heartbeat),
            self.settings.executor_heartbeat_interval,
            self.faults.clone(),
        );
        // Replacing the stream drops the old one, which closes it.
        executor.stream = Some(stream);
        executor.state = ExecutorState::Running;

        // Updates the executor sent and never saw acknowledged: the
        // agent's status update manager takes duplicates in its stride.
        // Their acknowledgements follow SUBSCRIBED: Mesos sends those once
        // the status update manager has the updates, later than the
        // SUBSCRIBED it sends at once.
        let acknowledgements: Vec<_> = subscribe
            .unacknowledged_updates
            .into_iter()
            .map(|update| self.executor_update(agent, key, update.status))
            .collect();
        self.drop_unknown_staging_tasks(agent, key, &subscribe.unacknowledged_tasks);

        let executor = &self.agents[agent].custom_executors[key];
        if !executor.ever_sent_task && executor.queued.is_empty() {
            // MESOS-8411: all its initial tasks were killed before delivery.
            tracing::warn!(executor_id = %key.1, "shutting down executor: it has never been sent a task and all its queued tasks were killed");
            self.shutdown_custom_executor(agent, key);
            return ExecutorCallReply::Subscribed { records };
        }
        let subscribed = self.subscribed_event(agent, key);
        send(&self.agents[agent].custom_executors[key], subscribed);
        for acknowledged in acknowledgements {
            self.acknowledge_update(agent, key, acknowledged);
        }
        self.send_queued_tasks(agent, key);
        ExecutorCallReply::Subscribed { records }
    }

    /// A task the executor was sent, still STAGING, and that it does not
    /// list as unacknowledged, never reached it: the agent must have
    /// restarted in between. TASK_LOST (TASK_DROPPED if partition-aware).
    fn drop_unknown_staging_tasks(
        &mut self,
        agent: usize,
        key: &ExecutorKey,
        unacknowledged: &[crate::v1::TaskInfo],
    ) {
        let known: BTreeSet<&str> = unacknowledged
            .iter()
            .map(|t| t.task_id.value.as_str())
            .collect();
        let (framework_id, _) = key;
        let launched = self.agents[agent].custom_executors[key].launched.clone();
        let partition_aware = self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.partition_aware());
        let state = if partition_aware {
            TaskState::TaskDropped
        } else {
            TaskState::TaskLost
        };
        for task_id in launched {
            let staging = self
                .agent_task(agent, framework_id, &task_id)
                .is_some_and(|t| t.state == TaskState::TaskStaging);
            if staging && !known.contains(task_id.as_str()) {
                let status = self.agent_status(
                    agent,
                    framework_id,
                    &task_id,
                    state,
                    Source::Agent,
                    Some(Reason::AgentRestarted),
                    Some("Task launched during agent restart".into()),
                );
                self.task_changed(agent, framework_id, status);
            }
        }
    }

    /// SUBSCRIBED: the executor, its framework, its agent, its container.
    fn subscribed_event(&self, agent: usize, key: &ExecutorKey) -> Event {
        let executor = &self.agents[agent].custom_executors[key];
        let agent_state = &self.agents[agent];
        let framework_info = self
            .agent_framework_info(agent, &key.0)
            .cloned()
            .unwrap_or_default();
        let agent_info = AgentInfo {
            hostname: agent_state.hostname.clone(),
            port: Some(i32::from(self.settings.port)),
            resources: agent_state.total.clone().into_vec(),
            id: Some(AgentId {
                value: agent_state.id.clone(),
            }),
            ..Default::default()
        };
        Event {
            subscribed: Some(event::Subscribed {
                executor_info: executor.info.clone(),
                framework_info,
                agent_info,
                container_id: Some(ContainerId {
                    value: executor.container_id.clone(),
                    parent: None,
                }),
            }),
            ..executor_event(event::Type::Subscribed)
        }
    }

    /// UPDATE (`Slave::statusUpdate`): taken in, then forwarded to the
    /// scheduler reliably. Returns the acknowledgement the executor is owed
    /// (`___statusUpdate`), sent by the caller.
    ///
    /// An update the agent drops, about an unknown task or one already
    /// terminal (`Executor::updateTaskState` fails), or one it has already
    /// (the status update manager ignores it), is acknowledged all the
    /// same: the executor keeps every update until it is acknowledged,
    /// and re-sends it on each SUBSCRIBE, so without the acknowledgement it
    /// would never finish.
    fn executor_update(
        &mut self,
        agent: usize,
        key: &ExecutorKey,
        mut status: TaskStatus,
    ) -> event::Acknowledged {
        let (framework_id, executor_id) = key;
        let task_id = status.task_id.value.clone();
        let acknowledged = event::Acknowledged {
            task_id: status.task_id.clone(),
            uuid: status.uuid.clone().unwrap_or_default(),
        };
        let Some(task) = self.agent_task(agent, framework_id, &task_id) else {
            tracing::warn!(%framework_id, %task_id, "dropping status update: the task is unknown");
            return acknowledged;
        };
        if task.state.is_terminal() {
            tracing::warn!(%framework_id, %task_id, "dropping status update: the task is already terminated");
            return acknowledged;
        }
        if self.agents[agent]
            .updates
            .received(framework_id, &task_id, &acknowledged.uuid)
        {
            // The executor re-sent it, never having seen our ACKNOWLEDGED.
            tracing::warn!(%framework_id, %task_id, "ignoring a duplicate status update");
            return acknowledged;
        }
        status.agent_id = Some(AgentId {
            value: self.agents[agent].id.clone(),
        });
        status.executor_id.get_or_insert_with(|| ExecutorId {
            value: executor_id.clone(),
        });
        status.timestamp.get_or_insert_with(super::master::now_secs);
        if status.state().is_terminal()
            && let Some(executor) = self.agents[agent].custom_executors.get_mut(key)
        {
            executor.launched.remove(&task_id);
        }
        self.task_changed(agent, framework_id, status);
        acknowledged
    }

    /// ACKNOWLEDGED: the agent has the update and will deliver it.
    fn acknowledge_update(
        &self,
        agent: usize,
        key: &ExecutorKey,
        acknowledged: event::Acknowledged,
    ) {
        if let Some(executor) = self.agents[agent].custom_executors.get(key) {
            send(
                executor,
                Event {
                    acknowledged: Some(acknowledged),
                    ..executor_event(event::Type::Acknowledged)
                },
            );
        }
    }

    /// An executor's MESSAGE, for its scheduler (`Master::executorMessage`):
    /// dropped if the framework is not connected.
    fn executor_message(&mut self, agent: usize, key: &ExecutorKey, data: Bytes) {
        let (framework_id, executor_id) = key;
        let connected = self
            .frameworks
            .get(framework_id)
            .filter(|f| f.stream.is_some() && self.agents[agent].registered());
        let Some(framework) = connected else {
            tracing::warn!(%framework_id, %executor_id, "dropping executor message: the framework is not connected");
            return;
        };
        framework.send(&scheduler::Event {
            r#type: Some(scheduler::event::Type::Message as i32),
            message: Some(scheduler::event::Message {
                agent_id: AgentId {
                    value: self.agents[agent].id.clone(),
                },
                executor_id: ExecutorId {
                    value: executor_id.clone(),
                },
                data,
            }),
            ..Default::default()
        });
    }

    /// A scheduler's MESSAGE call (`Master::message`,
    /// `Slave::schedulerMessage`): to the executor if it is running and
    /// subscribed, else dropped.
    pub(crate) fn framework_message(
        &mut self,
        framework_id: &str,
        message: scheduler::call::Message,
    ) {
        let executor_id = message.executor_id.value;
        let Some(agent) = self.agent_index(&message.agent_id.value) else {
            tracing::warn!(framework_id, agent_id = %message.agent_id.value, "dropping framework message: the agent is not registered");
            return;
        };
        let key = (framework_id.to_string(), executor_id.clone());
        let running = self.agents[agent]
            .custom_executors
            .get(&key)
            .filter(|e| e.state == ExecutorState::Running);
        let Some(executor) = running else {
            tracing::warn!(framework_id, %executor_id, "dropping framework message: the executor is not running");
            return;
        };
        deliver_message(executor, message.data);
    }
}

fn deliver_message(executor: &CustomExecutor, data: Bytes) {
    send(
        executor,
        Event {
            message: Some(event::Message { data }),
            ..executor_event(event::Type::Message)
        },
    );
}

fn error(status: StatusCode, message: &str) -> ExecutorCallReply {
    ExecutorCallReply::Error(status, message.to_string())
}
