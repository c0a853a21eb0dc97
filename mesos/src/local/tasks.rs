//! Tasks: ACCEPT with LAUNCH/LAUNCH_GROUP, KILL, SHUTDOWN, and the status
//! updates that report what happens to them.
//!
//! A task's life as a framework sees it:
//!
//! 1. ACCEPT with a LAUNCH. The master checks the offers (an unknown or
//!    stale offer: TASK_LOST, or TASK_DROPPED for partition-aware
//!    frameworks, "Task launched with invalid offers: …") and each task
//!    (TASK_ERROR, e.g. "Task has duplicate ID: …"). A valid task is
//!    TASK_STAGING at the master and goes to its agent.
//! 2. The agent's executor reports TASK_STARTING, TASK_RUNNING and a
//!    terminal state. Each report becomes a status update with a fresh
//!    `uuid`, delivered reliably by the agent's status update manager: it
//!    is re-sent until acknowledged, and the task's next update waits.
//! 3. Once the task is terminal its resources go back to the allocator at
//!    once; once the framework acknowledges the terminal update the master
//!    forgets the task (it moves to `completed_tasks`).
//!
//! Updates the master generates itself (invalid launches, reconciliation,
//! a lost agent) have no uuid: they are sent once and never acknowledged.

use std::time::Duration;

use bytes::Bytes;

use super::{
    agent::{Agent, GroupExecutor},
    executor::{self, DEFAULT_KILL_GRACE_PERIOD, ExecutorReport, LaunchSpec, Report},
    master::{Master, Task, is_terminal, master_status, now_secs},
    resources::Resources,
    status_updates::Acknowledged,
    stream,
    validation::{self, TaskContext},
};
use crate::v1::{
    ExecutorInfo, KillPolicy, OperationState, OperationStatus, TaskInfo, TaskState, TaskStatus,
    container_info,
    framework_info::capability::Type as Capability,
    offer::{Operation, operation},
    scheduler::call,
    task_status::{Reason, Source},
};

impl Master {
    /// ACCEPT: use offers for operations (`Master::accept` and `_accept`).
    pub(crate) fn accept(&mut self, framework_id: &str, accept: call::Accept) {
        let offer_ids: Vec<String> = accept.offer_ids.iter().map(|o| o.value.clone()).collect();
        if let Err(error) = self.validate_offers(framework_id, &offer_ids) {
            tracing::warn!(framework_id, ?offer_ids, %error, "ACCEPT call used invalid offers");
            // The offers that were valid go back, without a filter.
            self.offers
                .retain(|id, o| !(offer_ids.contains(id) && o.framework_id == framework_id));
            self.refuse_operations(framework_id, &accept.operations, &error);
            return;
        }
        let offers: Vec<_> = offer_ids
            .iter()
            .map(|id| self.offers.remove(id).expect("validated"))
            .collect();
        let agent = offers[0].agent;
        let role = offers[0].role.clone();
        let mut remaining = Resources::default();
        for offer in &offers {
            remaining.add(&offer.resources);
        }
        tracing::info!(framework_id, ?offer_ids, agent_id = %self.agents[agent].id, "processing ACCEPT");

        for operation in accept.operations {
            match operation::Type::try_from(operation.r#type.unwrap_or_default()) {
                Ok(operation::Type::Launch) => {
                    let tasks = operation.launch.unwrap_or_default().task_infos;
                    if operation.id.is_some() {
                        let message = "The `id` field cannot be set on LAUNCH operations";
                        self.task_errors(framework_id, &tasks, Reason::TaskInvalid, message);
                        continue;
                    }
                    for task in tasks {
                        match self.validate_task(framework_id, agent, &role, &task, &remaining) {
                            Ok(resources) => {
                                remaining.subtract(&resources);
                                self.launch(framework_id, agent, task, resources, &role, None);
                            }
                            Err(error) => {
                                let tasks = std::slice::from_ref(&task);
                                self.task_errors(framework_id, tasks, Reason::TaskInvalid, &error);
                            }
                        }
                    }
                }
                Ok(operation::Type::LaunchGroup) => {
                    let group = operation.launch_group.unwrap_or_default();
                    let mut tasks = group.task_group.tasks;
                    if operation.id.is_some() {
                        let message = "The `id` field cannot be set on LAUNCH_GROUP operations";
                        self.task_errors(framework_id, &tasks, Reason::TaskGroupInvalid, message);
                        continue;
                    }
                    // Mesos puts the group's executor into each TaskInfo.
                    for task in &mut tasks {
                        task.executor.get_or_insert_with(|| group.executor.clone());
                    }
                    self.launch_group(
                        framework_id,
                        agent,
                        &role,
                        group.executor,
                        tasks,
                        &mut remaining,
                    );
                }
                _ => self.drop_operation(
                    framework_id,
                    &operation,
                    "Operation is not supported by the simulated master \
                     (only LAUNCH and LAUNCH_GROUP are)",
                ),
            }
        }
        // Whatever the operations did not use is implicitly declined, with
        // the ACCEPT's filters (refuse_seconds defaults to 5 s).
        let refuse = accept
            .filters
            .and_then(|f| f.refuse_seconds)
            .unwrap_or(super::allocator::DEFAULT_REFUSE_SECONDS);
        self.add_filter(framework_id, agent, remaining, refuse);
    }

    /// `validation::offer::validate`, in Mesos' order.
    fn validate_offers(&self, framework_id: &str, offer_ids: &[String]) -> Result<(), String> {
        if offer_ids.is_empty() {
            return Err("No offers specified".into());
        }
        for (i, id) in offer_ids.iter().enumerate() {
            if offer_ids[..i].contains(id) {
                return Err(format!("Duplicate offer {id} in offer list"));
            }
        }
        let mut agent = None;
        for id in offer_ids {
            let offer = self
                .offers
                .get(id)
                .ok_or_else(|| format!("Offer {id} is no longer valid"))?;
            if offer.framework_id != framework_id {
                return Err(format!(
                    "Offer {id} has invalid framework {} while framework {framework_id} is expected",
                    offer.framework_id
                ));
            }
            match agent {
                None => agent = Some(offer.agent),
                Some(first) if first != offer.agent => {
                    return Err(format!(
                        "Aggregated offers must belong to one single agent. Offer {id} uses agent {} and agent {}",
                        self.agents[offer.agent].id, self.agents[first].id
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Launches on invalid offers: each task gets TASK_DROPPED (partition-
    /// aware frameworks) or TASK_LOST, reason REASON_INVALID_OFFERS.
    fn refuse_operations(&mut self, framework_id: &str, operations: &[Operation], error: &str) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let state = if framework.partition_aware() {
            TaskState::TaskDropped
        } else {
            TaskState::TaskLost
        };
        let message = format!("Task launched with invalid offers: {error}");
        for operation in operations {
            let tasks = launched_tasks(operation);
            if tasks.is_empty() {
                self.drop_operation(
                    framework_id,
                    operation,
                    &format!("Operation attempted with invalid offers: {error}"),
                );
                continue;
            }
            for task in tasks {
                let status = master_status(
                    &task.task_id.value,
                    state,
                    Reason::InvalidOffers,
                    &message,
                    Some(&task.agent_id.value),
                    None,
                );
                self.frameworks[framework_id].send(&stream::update(status));
            }
        }
    }

    /// TASK_ERROR for tasks the master will not launch.
    fn task_errors(
        &mut self,
        framework_id: &str,
        tasks: &[TaskInfo],
        reason: Reason,
        message: &str,
    ) {
        for task in tasks {
            tracing::warn!(framework_id, task_id = %task.task_id.value, "invalid task: {message}");
            let status = master_status(
                &task.task_id.value,
                TaskState::TaskError,
                reason,
                message,
                Some(&task.agent_id.value),
                None,
            );
            self.frameworks[framework_id].send(&stream::update(status));
        }
    }

    /// A non-launch operation the master does not carry out. If the
    /// framework asked for feedback (set `id`), it gets OPERATION_ERROR.
    fn drop_operation(&mut self, framework_id: &str, operation: &Operation, message: &str) {
        tracing::warn!(framework_id, "dropping operation: {message}");
        if let Some(id) = &operation.id {
            self.frameworks[framework_id].send(&stream::operation_update(OperationStatus {
                operation_id: Some(id.clone()),
                state: OperationState::OperationError as i32,
                message: Some(message.to_string()),
                ..Default::default()
            }));
        }
    }

    fn task_context_check(&self, framework_id: &str, task_id: &str) -> (bool, bool) {
        let framework = &self.frameworks[framework_id];
        (
            framework.tasks.contains_key(task_id),
            framework.unreachable_tasks.contains_key(task_id),
        )
    }

    fn validate_task(
        &self,
        framework_id: &str,
        agent: usize,
        role: &str,
        task: &TaskInfo,
        available: &Resources,
    ) -> Result<Resources, String> {
        let duplicate = |id: &str| self.task_context_check(framework_id, id).0;
        let unreachable = |id: &str| self.task_context_check(framework_id, id).1;
        let context = TaskContext {
            duplicate: &duplicate,
            unreachable: &unreachable,
            agent_id: &self.agents[agent].id,
            role,
        };
        validation::validate_task(task, &context, available)
    }

    fn launch_group(
        &mut self,
        framework_id: &str,
        agent: usize,
        role: &str,
        executor: ExecutorInfo,
        tasks: Vec<TaskInfo>,
        remaining: &mut Resources,
    ) {
        let key = (framework_id.to_string(), executor.executor_id.value.clone());
        let running = self.agents[agent].executors.contains_key(&key);
        let checked = {
            let duplicate = |id: &str| self.task_context_check(framework_id, id).0;
            let unreachable = |id: &str| self.task_context_check(framework_id, id).1;
            let context = TaskContext {
                duplicate: &duplicate,
                unreachable: &unreachable,
                agent_id: &self.agents[agent].id,
                role,
            };
            validation::validate_task_group(&tasks, &executor, &context, remaining, running)
        };
        let (task_resources, executor_resources) = match checked {
            Ok(checked) => checked,
            Err(error) => {
                self.task_errors(framework_id, &tasks, Reason::TaskGroupInvalid, &error);
                return;
            }
        };
        remaining.subtract(&executor_resources);
        if !running {
            let agent_state = &mut self.agents[agent];
            let container = uuid::Uuid::new_v4().to_string();
            let sandbox = agent_state.sandbox(framework_id, &key.1, &container);
            agent_state.used.add(&executor_resources);
            agent_state.executors.insert(
                key.clone(),
                GroupExecutor {
                    resources: executor_resources,
                    live_tasks: Default::default(),
                    sandbox,
                },
            );
        }
        for (task, resources) in tasks.into_iter().zip(task_resources) {
            remaining.subtract(&resources);
            self.launch(framework_id, agent, task, resources, role, Some(&key.1));
        }
    }

    /// Adds a validated task (TASK_STAGING) and hands it to its agent.
    fn launch(
        &mut self,
        framework_id: &str,
        agent: usize,
        info: TaskInfo,
        resources: Resources,
        role: &str,
        group: Option<&str>,
    ) {
        let task_id = info.task_id.value.clone();
        let agent_state = &mut self.agents[agent];
        agent_state.used.add(&resources);
        // A command task runs under a command executor named after it.
        let executor_id = group.unwrap_or(&task_id).to_string();
        let sandbox = match group {
            Some(executor) => {
                let record = agent_state
                    .executors
                    .get_mut(&(framework_id.to_string(), executor.to_string()))
                    .expect("group executor registered");
                record.live_tasks.insert(task_id.clone());
                record.sandbox.join("tasks").join(&task_id)
            }
            None => {
                let container = uuid::Uuid::new_v4().to_string();
                agent_state.sandbox(framework_id, &task_id, &container)
            }
        };
        let agent_id = agent_state.id.clone();
        tracing::info!(framework_id, %task_id, %agent_id, %resources, "launching task");
        let problem = unsupported(&info, group.is_some());
        let command = info.command.clone();
        let task = Task {
            info,
            framework_id: framework_id.to_string(),
            agent,
            executor_id: executor_id.clone(),
            in_group: group.is_some(),
            resources,
            role: role.to_string(),
            state: TaskState::TaskStaging,
            status_update: None,
            statuses: Vec::new(),
            sandbox: Some(sandbox.clone()),
            pid: None,
            process: None,
            killing: false,
        };
        let framework = self
            .frameworks
            .get_mut(framework_id)
            .expect("caller checked");
        framework.tasks.insert(task_id.clone(), task);

        if let Some(message) = problem {
            // The agent cannot start a container for it: TASK_FAILED from
            // the agent, before any executor ran.
            let status = self.agent_status(
                framework_id,
                &task_id,
                TaskState::TaskFailed,
                Source::Agent,
                Some(Reason::ContainerLaunchFailed),
                Some(message),
            );
            self.task_changed(agent, framework_id, status);
            return;
        }
        let environment = vec![
            ("MESOS_SANDBOX".to_string(), sandbox.display().to_string()),
            ("MESOS_DIRECTORY".to_string(), sandbox.display().to_string()),
            ("MESOS_TASK_ID".to_string(), task_id.clone()),
            ("MESOS_AGENT_ID".to_string(), agent_id.clone()),
            ("MESOS_SLAVE_ID".to_string(), agent_id),
            ("MESOS_FRAMEWORK_ID".to_string(), framework_id.to_string()),
            ("MESOS_EXECUTOR_ID".to_string(), executor_id),
            ("MESOS_ALLOCATION_ROLE".to_string(), role.to_string()),
        ];
        let spec = LaunchSpec {
            framework_id: framework_id.to_string(),
            task_id: task_id.clone(),
            command: command.unwrap_or_default(),
            sandbox,
            environment,
        };
        let process = executor::launch(agent, spec, self.commands.clone(), self.processes.clone());
        if let Some(task) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.tasks.get_mut(&task_id))
        {
            task.process = Some(process);
        }
    }

    /// KILL: kill a task; an unknown task is reconciled instead (Mesos
    /// answers with TASK_LOST/TASK_UNKNOWN, REASON_RECONCILIATION).
    pub(crate) fn kill(&mut self, framework_id: &str, kill: call::Kill) {
        let task_id = kill.task_id.value.clone();
        let agent_id = kill.agent_id.map(|a| a.value);
        let Some(task) = self.frameworks[framework_id].tasks.get(&task_id) else {
            tracing::warn!(framework_id, %task_id, "cannot kill unknown task; performing reconciliation");
            self.reconcile(framework_id, vec![(task_id, agent_id)]);
            return;
        };
        if agent_id.is_some_and(|a| a != self.agents[task.agent].id) {
            tracing::warn!(framework_id, %task_id, "cannot kill task: it belongs to a different agent");
            return;
        }
        // The default executor kills the whole group when one task is killed.
        let targets: Vec<String> = if task.in_group {
            let executor = task.executor_id.clone();
            self.frameworks[framework_id]
                .tasks
                .values()
                .filter(|t| t.in_group && t.executor_id == executor && t.agent == task.agent)
                .map(|t| t.info.task_id.value.clone())
                .collect()
        } else {
            vec![task_id]
        };
        for target in targets {
            self.kill_task(framework_id, &target, kill.kill_policy.as_ref());
        }
    }

    /// Asks a task's executor to kill it: TASK_KILLING first if the
    /// framework understands it, then SIGTERM, SIGKILL after the grace
    /// period (the KILL's policy, else the task's, else 3 s).
    fn kill_task(&mut self, framework_id: &str, task_id: &str, policy: Option<&KillPolicy>) {
        let Some(task) = self.frameworks[framework_id].tasks.get(task_id) else {
            return;
        };
        if is_terminal(task.state) {
            return;
        }
        let grace = policy
            .or(task.info.kill_policy.as_ref())
            .and_then(|p| p.grace_period.as_ref())
            .map_or(DEFAULT_KILL_GRACE_PERIOD, |g| {
                Duration::from_nanos(u64::try_from(g.nanoseconds).unwrap_or(0))
            });
        let first_kill = !task.killing && task.process.is_some();
        let agent = task.agent;
        let announce = first_kill
            && self.frameworks[framework_id].has(Capability::TaskKillingState)
            && matches!(task.state, TaskState::TaskStarting | TaskState::TaskRunning);
        tracing::info!(framework_id, task_id, ?grace, "killing task");
        if announce {
            let status = self.agent_status(
                framework_id,
                task_id,
                TaskState::TaskKilling,
                Source::Executor,
                None,
                None,
            );
            self.task_changed(agent, framework_id, status);
        }
        if let Some(task) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.tasks.get_mut(task_id))
        {
            task.killing = true;
            if let Some(process) = &task.process {
                process.kill(grace);
            }
        }
    }

    /// SHUTDOWN: stop an executor, which kills its tasks.
    pub(crate) fn shutdown_executor(&mut self, framework_id: &str, shutdown: call::Shutdown) {
        let Some(agent) = self.agent_index(&shutdown.agent_id.value) else {
            tracing::warn!(framework_id, agent_id = %shutdown.agent_id.value, "unable to shut down executor of unknown agent");
            return;
        };
        let executor = shutdown.executor_id.value;
        let targets: Vec<String> = self.frameworks[framework_id]
            .tasks
            .values()
            .filter(|t| t.agent == agent && t.executor_id == executor)
            .map(|t| t.info.task_id.value.clone())
            .collect();
        tracing::info!(framework_id, executor_id = %executor, tasks = targets.len(), "shutting down executor");
        for task_id in targets {
            self.kill_task(framework_id, &task_id, None);
        }
    }

    /// ACKNOWLEDGE: the framework got an update; the agent may send the
    /// next one, and a terminal task is forgotten.
    pub(crate) fn acknowledge(&mut self, framework_id: &str, acknowledge: call::Acknowledge) {
        let task_id = acknowledge.task_id.value;
        let Some(agent) = self.agent_index(&acknowledge.agent_id.value) else {
            tracing::warn!(framework_id, %task_id, "cannot acknowledge: agent is not registered");
            return;
        };
        let outcome =
            self.agents[agent]
                .updates
                .acknowledge(framework_id, &task_id, &acknowledge.uuid);
        let Acknowledged::Done { state, next } = outcome else {
            tracing::warn!(framework_id, %task_id, "ignoring unexpected status update acknowledgement");
            return;
        };
        if is_terminal(state) {
            let framework = self
                .frameworks
                .get_mut(framework_id)
                .expect("caller checked");
            if let Some(mut task) = framework.tasks.remove(&task_id) {
                task.process = None;
                framework.completed_tasks.push(task);
            }
        }
        if let Some(next) = next {
            self.send_update(agent, framework_id, *next);
        }
    }

    /// News from a task's supervisor becomes a status update.
    pub(crate) fn executor_report(&mut self, report: ExecutorReport) {
        let ExecutorReport {
            agent,
            framework_id,
            task_id,
            report,
        } = report;
        let Some(task) = self
            .frameworks
            .get_mut(&framework_id)
            .and_then(|f| f.tasks.get_mut(&task_id))
        else {
            return; // framework removed or agent lost: nobody to tell
        };
        if is_terminal(task.state) || task.agent != agent {
            return;
        }
        let (state, source, reason, message) = match report {
            Report::Starting => (TaskState::TaskStarting, Source::Executor, None, None),
            Report::Running { pid } => {
                task.pid = (pid > 0).then_some(pid);
                (TaskState::TaskRunning, Source::Executor, None, None)
            }
            Report::Exited {
                message,
                success,
                killed,
            } => {
                task.pid = None;
                task.process = None;
                // Killed wins over the exit code, as in the command executor.
                let state = if killed {
                    TaskState::TaskKilled
                } else if success {
                    TaskState::TaskFinished
                } else {
                    TaskState::TaskFailed
                };
                (state, Source::Executor, None, Some(message))
            }
            Report::LaunchFailed { message } => {
                task.process = None;
                (
                    TaskState::TaskFailed,
                    Source::Agent,
                    Some(Reason::ContainerLaunchFailed),
                    Some(message),
                )
            }
        };
        let status = self.agent_status(&framework_id, &task_id, state, source, reason, message);
        self.task_changed(agent, &framework_id, status);
    }

    /// A status update born on the agent (from its executor or itself):
    /// with a uuid, to be delivered reliably.
    fn agent_status(
        &self,
        framework_id: &str,
        task_id: &str,
        state: TaskState,
        source: Source,
        reason: Option<Reason>,
        message: Option<String>,
    ) -> TaskStatus {
        let task = &self.frameworks[framework_id].tasks[task_id];
        TaskStatus {
            task_id: task.info.task_id.clone(),
            state: state as i32,
            message,
            source: Some(source as i32),
            reason: reason.map(|r| r as i32),
            agent_id: Some(crate::v1::AgentId {
                value: self.agents[task.agent].id.clone(),
            }),
            executor_id: Some(crate::v1::ExecutorId {
                value: task.executor_id.clone(),
            }),
            timestamp: Some(now_secs()),
            uuid: Some(Bytes::copy_from_slice(uuid::Uuid::new_v4().as_bytes())),
            ..Default::default()
        }
    }

    /// The agent learned a task's new state: record it, free resources if
    /// it ended, and queue the update for reliable delivery.
    fn task_changed(&mut self, agent: usize, framework_id: &str, status: TaskStatus) {
        let task_id = status.task_id.value.clone();
        let state = status.state();
        let Some(task) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.tasks.get_mut(&task_id))
        else {
            return;
        };
        task.state = state;
        let mut group_failed = None;
        if is_terminal(state) {
            task.process = None;
            task.pid = None;
            if task.in_group && state == TaskState::TaskFailed {
                group_failed = Some(task.executor_id.clone());
            }
            release_resources(
                &mut self.agents,
                &self.frameworks[framework_id].tasks[&task_id],
            );
        }
        let to_send = self.agents[agent]
            .updates
            .update(framework_id, &task_id, status);
        if let Some(status) = to_send {
            self.send_update(agent, framework_id, status);
        }
        // The default executor's policy: when a task of a group fails, the
        // rest of the group is killed.
        if let Some(executor) = group_failed {
            let siblings: Vec<String> = self.frameworks[framework_id]
                .tasks
                .values()
                .filter(|t| t.in_group && t.executor_id == executor && !is_terminal(t.state))
                .map(|t| t.info.task_id.value.clone())
                .collect();
            for sibling in siblings {
                self.kill_task(framework_id, &sibling, None);
            }
        }
    }

    /// The agent sends an update (again); the master records what the
    /// framework was told and forwards it if the framework is connected.
    /// A retry is scheduled either way: only an acknowledgement stops it.
    pub(crate) fn send_update(&mut self, agent: usize, framework_id: &str, status: TaskStatus) {
        let task_id = status.task_id.value.clone();
        let uuid = status.uuid.clone().unwrap_or_default();
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        if let Some(task) = framework.tasks.get_mut(&task_id) {
            task.status_update = Some((status.state(), uuid.clone()));
            task.record(&status);
        }
        if let Some(stream) = &framework.stream {
            let event = stream::update(status);
            let copies = if self.faults.duplicate_updates() {
                2
            } else {
                1
            };
            let delay = self.faults.update_delay();
            for _ in 0..copies {
                if delay.is_zero() {
                    stream.send(&event);
                } else {
                    stream.send_later(&event, delay);
                }
            }
        }
        let (retry, attempt) = self.agents[agent].updates.next_retry(
            framework_id,
            &task_id,
            self.settings.status_update_retry,
        );
        let commands = self.commands.clone();
        let framework_id = framework_id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(retry).await;
            let _ = commands.send(super::master::Command::RetryUpdate {
                agent,
                framework_id,
                task_id,
                uuid,
                attempt,
            });
        });
    }

    /// Re-sends an update that is still unacknowledged.
    pub(crate) fn retry_update(
        &mut self,
        agent: usize,
        framework_id: &str,
        task_id: &str,
        uuid: &Bytes,
        attempt: u32,
    ) {
        if !self.agents[agent].active {
            return;
        }
        let pending = self.agents[agent]
            .updates
            .in_flight(framework_id, task_id, uuid, attempt)
            .cloned();
        if let Some(status) = pending {
            tracing::debug!(framework_id, task_id, state = ?status.state(), "re-sending unacknowledged status update");
            self.send_update(agent, framework_id, status);
        }
    }
}

/// Gives a finished task's resources back to its agent (and its group
/// executor's, once the executor has no task left).
pub(crate) fn release_resources(agents: &mut [Agent], task: &Task) {
    let agent = &mut agents[task.agent];
    agent.used.subtract(&task.resources);
    if task.in_group {
        let key = (task.framework_id.clone(), task.executor_id.clone());
        if let Some(executor) = agent.executors.get_mut(&key) {
            executor.live_tasks.remove(&task.info.task_id.value);
            if executor.live_tasks.is_empty() {
                let executor = agent.executors.remove(&key).expect("just found");
                agent.used.subtract(&executor.resources);
            }
        }
    }
}

/// The tasks a LAUNCH or LAUNCH_GROUP operation would start.
fn launched_tasks(operation: &Operation) -> Vec<TaskInfo> {
    match operation::Type::try_from(operation.r#type.unwrap_or_default()) {
        Ok(operation::Type::Launch) => operation
            .launch
            .as_ref()
            .map(|l| l.task_infos.clone())
            .unwrap_or_default(),
        Ok(operation::Type::LaunchGroup) => operation
            .launch_group
            .as_ref()
            .map(|l| l.task_group.tasks.clone())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Why the simulated agent cannot run a task, if it cannot: it has only
/// the Mesos containerizer, no image provisioner and no Docker daemon,
/// and no executor API for custom executors.
fn unsupported(task: &TaskInfo, in_group: bool) -> Option<String> {
    if let Some(container) = &task.container {
        if container.r#type == container_info::Type::Docker as i32 {
            let image = container
                .docker
                .as_ref()
                .map_or("(none)", |d| d.image.as_str());
            return Some(format!(
                "Failed to launch container: Docker image '{image}' cannot be run: the \
                 simulated agent has no Docker (no Docker daemon is available here; it runs \
                 only the Mesos containerizer, without container images). Use a command \
                 task without a container."
            ));
        }
        if let Some(image) = container.mesos.as_ref().and_then(|m| m.image.as_ref()) {
            let name = image
                .docker
                .as_ref()
                .map(|d| d.name.clone())
                .or_else(|| image.appc.as_ref().map(|a| a.name.clone()))
                .unwrap_or_default();
            return Some(format!(
                "Failed to launch container: container image '{name}' cannot be provisioned: \
                 the simulated agent's Mesos containerizer has no image support (and there \
                 is no Docker here). Use a command task without an image."
            ));
        }
    }
    if let Some(executor) = task.executor.as_ref().filter(|_| !in_group) {
        return Some(format!(
            "Failed to launch container: custom executor '{}' is not supported: the \
             simulated agent runs command tasks (TaskInfo.command) and task groups \
             (LAUNCH_GROUP) only",
            executor.executor_id.value
        ));
    }
    if task
        .command
        .as_ref()
        .and_then(|c| c.value.as_ref())
        .is_none()
    {
        return Some("Failed to launch container: the task has no command to run".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{CommandInfo, ContainerInfo, container_info::DockerInfo};

    #[test]
    fn docker_tasks_are_refused_with_a_clear_reason() {
        let task = TaskInfo {
            command: Some(CommandInfo {
                value: Some("true".into()),
                ..Default::default()
            }),
            container: Some(ContainerInfo {
                r#type: container_info::Type::Docker as i32,
                docker: Some(DockerInfo {
                    image: "alpine".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let message = unsupported(&task, false).unwrap();
        assert!(
            message.contains("'alpine'") && message.contains("no Docker"),
            "{message}"
        );
    }
}
