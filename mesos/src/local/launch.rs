//! ACCEPT: launching tasks and task groups on offers.
//!
//! The master checks an ACCEPT in two steps, as Mesos does:
//!
//! 1. The offers: they must exist, belong to the framework and to one
//!    agent. If not, nothing is launched and each task gets TASK_LOST (or
//!    TASK_DROPPED for partition-aware frameworks), reason
//!    REASON_INVALID_OFFERS, "Task launched with invalid offers: …".
//! 2. Each task (or task group) against what is left of the offers: a bad
//!    one gets TASK_ERROR (REASON_TASK_INVALID, or REASON_TASK_GROUP_INVALID)
//!    with Mesos' message, e.g. "Task has duplicate ID: …"; the others are
//!    launched. A launched task is TASK_STAGING at the master and goes to
//!    its agent, which starts it (see `executor.rs`), hands it to its custom
//!    executor (`custom_executor.rs`), or, if it asks for something the
//!    simulated agent cannot do (a Docker image), fails it. Every task
//!    sent to one custom executor on an agent must carry the same
//!    ExecutorInfo, and the executor's resources are set aside once.
//!
//! Whatever the operations leave of the offers is declined, filtered for the
//! ACCEPT's `refuse_seconds` (default 5 s).
//!
//! Updates the master generates itself have no uuid: they are sent once
//! and never acknowledged.

use super::{
    agent::GroupExecutor,
    executor::{self, LaunchSpec},
    master::{Master, Task, master_status},
    stream,
    validation::{self, TaskContext},
};
use crate::{
    resources::Resources,
    v1::{
        ExecutorInfo, OperationState, OperationStatus, TaskInfo, TaskState, container_info,
        offer::{Operation, operation},
        scheduler::call,
        task_status::{Reason, Source},
    },
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
        let mut remaining: Resources = offers.iter().map(|o| o.resources.clone()).sum();
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
                    for mut task in tasks {
                        // The master fills in a missing executor framework
                        // ID before it checks the task (`Master::accept`):
                        // the field came late to the API. A wrong one is
                        // refused.
                        if let Some(executor) = &mut task.executor {
                            executor
                                .framework_id
                                .get_or_insert_with(|| crate::v1::FrameworkId {
                                    value: framework_id.to_string(),
                                });
                        }
                        match self.validate_task(framework_id, agent, &role, &task, &remaining) {
                            Ok((resources, executor_resources)) => {
                                remaining -= &resources;
                                match executor_resources {
                                    Some(executor_resources) => {
                                        remaining -= &executor_resources;
                                        self.launch_custom(
                                            framework_id,
                                            agent,
                                            task,
                                            resources,
                                            &role,
                                            executor_resources,
                                        );
                                    }
                                    None => self.launch(
                                        framework_id,
                                        agent,
                                        task,
                                        resources,
                                        &role,
                                        None,
                                    ),
                                }
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
                        task.executor
                            .get_or_insert_with(|| Box::new(group.executor.clone()));
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

    /// Checks a LAUNCH's task. Returns its resources and, for a task of a
    /// custom executor, the executor's resources to set aside (none if the
    /// executor runs on the agent already).
    fn validate_task(
        &self,
        framework_id: &str,
        agent: usize,
        role: &str,
        task: &TaskInfo,
        available: &Resources,
    ) -> Result<(Resources, Option<Resources>), String> {
        let duplicate = |id: &str| self.task_context_check(framework_id, id).0;
        let unreachable = |id: &str| self.task_context_check(framework_id, id).1;
        let executor = task.executor.as_ref().and_then(|executor| {
            let key = (framework_id.to_string(), executor.executor_id.value.clone());
            self.agents[agent].custom_executors.get(&key)
        });
        let context = TaskContext {
            duplicate: &duplicate,
            unreachable: &unreachable,
            agent_id: &self.agents[agent].id,
            framework_id,
            role,
            executor: executor.map(|e| &e.info),
        };
        let resources = validation::validate_task(task, &context, available)?;
        let executor_resources = match (&task.executor, executor) {
            (None, _) => None,
            (Some(_), Some(_)) => Some(Resources::default()),
            (Some(info), None) => Some(
                validation::accounted(&info.resources)
                    .map_err(|e| format!("Executor uses invalid resources: {e}"))?,
            ),
        };
        Ok((resources, executor_resources))
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
                framework_id,
                role,
                executor: None,
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
        *remaining -= &executor_resources;
        if !running {
            let agent_state = &mut self.agents[agent];
            let container = uuid::Uuid::new_v4().to_string();
            let sandbox = agent_state.sandbox(framework_id, &key.1, &container);
            agent_state.used += &executor_resources;
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
            *remaining -= &resources;
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
        agent_state.used += &resources;
        // A command task runs under a command executor named after it.
        let executor_id = group.unwrap_or(&task_id).to_string();
        // The executor's sandbox, and the task's: the same for a command
        // task, `tasks/<task id>` inside it for a task of a group.
        let (executor_directory, sandbox) = match group {
            Some(executor) => {
                let record = agent_state
                    .executors
                    .get_mut(&(framework_id.to_string(), executor.to_string()))
                    .expect("group executor registered");
                record.live_tasks.insert(task_id.clone());
                let directory = record.sandbox.clone();
                let sandbox = directory.join("tasks").join(&task_id);
                (directory, sandbox)
            }
            None => {
                let container = uuid::Uuid::new_v4().to_string();
                let sandbox = agent_state.sandbox(framework_id, &task_id, &container);
                (sandbox.clone(), sandbox)
            }
        };
        let agent_id = agent_state.id.clone();
        tracing::info!(framework_id, %task_id, %agent_id, %resources, "launching task");
        let problem = unsupported(&info);
        let command = info.command.clone();
        let health_check = info.health_check.as_deref().cloned();
        let task = Task {
            info,
            framework_id: framework_id.to_string(),
            agent,
            executor_id: executor_id.clone(),
            in_group: group.is_some(),
            custom: false,
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
                agent,
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
        if self.settings.virtual_tasks {
            let process = executor::launch_virtual(
                agent,
                framework_id.to_string(),
                task_id.clone(),
                self.commands.clone(),
            );
            let framework = self.frameworks.get_mut(framework_id);
            if let Some(task) = framework.and_then(|f| f.tasks.get_mut(&task_id)) {
                task.process = Some(process);
            }
            return;
        }
        let environment = vec![
            ("MESOS_SANDBOX".to_string(), sandbox.display().to_string()),
            ("MESOS_DIRECTORY".to_string(), sandbox.display().to_string()),
            ("MESOS_TASK_ID".to_string(), task_id.clone()),
            ("MESOS_AGENT_ID".to_string(), agent_id.clone()),
            ("MESOS_SLAVE_ID".to_string(), agent_id),
            ("MESOS_FRAMEWORK_ID".to_string(), framework_id.to_string()),
            ("MESOS_EXECUTOR_ID".to_string(), executor_id.clone()),
            ("MESOS_ALLOCATION_ROLE".to_string(), role.to_string()),
        ];
        let spec = LaunchSpec {
            framework_id: framework_id.to_string(),
            task_id: task_id.clone(),
            executor_id: executor_id.clone(),
            executor_directory,
            command: command.unwrap_or_default(),
            sandbox,
            environment,
            health_check,
        };
        let process = executor::launch(
            agent,
            spec,
            self.commands.clone(),
            self.processes.clone(),
            self.agents[agent].files.clone(),
        );
        if let Some(task) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.tasks.get_mut(&task_id))
        {
            task.process = Some(process);
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
/// the Mesos containerizer, no image provisioner and no Docker daemon.
fn unsupported(task: &TaskInfo) -> Option<String> {
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
        let message = unsupported(&task).unwrap();
        assert!(
            message.contains("'alpine'") && message.contains("no Docker"),
            "{message}"
        );
    }
}
