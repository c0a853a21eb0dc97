//! One function per scheduler call, returning the `Call` to send.
//!
//! Every call is the same message, `mesos.v1.scheduler.Call`: a `type`
//! and, for most types, a nested message of the same name (`accept` for
//! ACCEPT, `decline` for DECLINE, …). These helpers fill in both, so a
//! scheduler says `calls::decline(ids, 60.0)` instead of assembling the
//! message. They leave `framework_id` empty: the client fills it in, since
//! it knows the ID the master assigned.
//!
//! Because they are plain values, a scheduler can return them from a pure
//! decision function and a test can compare them with `assert_eq!`.

use bytes::Bytes;

use crate::v1::{
    AgentId, ExecutorId, ExecutorInfo, Filters, FrameworkInfo, KillPolicy, OfferId, OperationId,
    Request, TaskGroupInfo, TaskId, TaskInfo, TaskStatus,
    offer::{self, Operation},
    scheduler::{
        Call,
        call::{self, Type},
    },
};

/// A call of the given type, the rest to be filled in.
fn call(call_type: Type) -> Call {
    Call {
        r#type: Some(call_type as i32),
        ..Default::default()
    }
}

/// SUBSCRIBE: start (or resume) receiving events.
///
/// To *resume* a framework after a failover, Mesos wants its ID twice: in
/// `framework_info.id` and in the call's `framework_id`. With no ID, the
/// master registers a new framework and assigns one.
pub fn subscribe(framework_info: FrameworkInfo) -> Call {
    Call {
        framework_id: framework_info.id.clone(),
        subscribe: Some(call::Subscribe {
            framework_info,
            ..Default::default()
        }),
        ..call(Type::Subscribe)
    }
}

/// TEARDOWN: end the framework for good. The master kills all its tasks and
/// forgets it; the framework ID can never be used again. Not what a
/// scheduler should do when it merely shuts down or restarts.
pub fn teardown() -> Call {
    call(Type::Teardown)
}

/// ACCEPT: use (part of) one or more offers for the given operations, and
/// give back whatever the operations do not use.
pub fn accept(
    offer_ids: Vec<OfferId>,
    operations: Vec<Operation>,
    filters: Option<Filters>,
) -> Call {
    Call {
        accept: Some(call::Accept {
            offer_ids,
            operations,
            filters,
        }),
        ..call(Type::Accept)
    }
}

/// The LAUNCH operation: start tasks with their own command (or executor).
pub fn launch(task_infos: Vec<TaskInfo>) -> Operation {
    Operation {
        r#type: Some(offer::operation::Type::Launch as i32),
        launch: Some(offer::operation::Launch { task_infos }),
        ..Default::default()
    }
}

/// The LAUNCH_GROUP operation: start tasks together in one executor, as a
/// pod that is placed, started and killed as a unit.
pub fn launch_group(executor: ExecutorInfo, task_group: TaskGroupInfo) -> Operation {
    Operation {
        r#type: Some(offer::operation::Type::LaunchGroup as i32),
        launch_group: Some(offer::operation::LaunchGroup {
            executor,
            task_group,
        }),
        ..Default::default()
    }
}

/// A `Filters` asking the master not to offer the same resources again for
/// `refuse_seconds`.
pub fn refuse_for(refuse_seconds: f64) -> Filters {
    Filters {
        refuse_seconds: Some(refuse_seconds),
    }
}

/// DECLINE: hand offers back, and don't offer those resources to this
/// framework again for `refuse_seconds`. Mesos' default is 5 s; a
/// framework that needs nothing should ask for much longer, so that the
/// allocator offers the resources to someone else instead.
pub fn decline(offer_ids: Vec<OfferId>, refuse_seconds: f64) -> Call {
    Call {
        decline: Some(call::Decline {
            offer_ids,
            filters: Some(refuse_for(refuse_seconds)),
        }),
        ..call(Type::Decline)
    }
}

/// REVIVE: clear all refuse filters and resume offers (after SUPPRESS), for
/// the given roles or, if empty, all of the framework's roles.
pub fn revive(roles: Vec<String>) -> Call {
    Call {
        revive: Some(call::Revive { roles }),
        ..call(Type::Revive)
    }
}

/// SUPPRESS: stop sending offers (for the given roles, or all if empty)
/// until REVIVE. A framework with nothing to launch suppresses, so the
/// master does not keep offering it resources that it would only decline.
pub fn suppress(roles: Vec<String>) -> Call {
    Call {
        suppress: Some(call::Suppress { roles }),
        ..call(Type::Suppress)
    }
}

/// KILL: kill a task. The answer is an UPDATE with TASK_KILLED (or, for a
/// task the master does not know, TASK_LOST/TASK_UNKNOWN).
pub fn kill(task_id: TaskId, agent_id: Option<AgentId>, kill_policy: Option<KillPolicy>) -> Call {
    Call {
        kill: Some(call::Kill {
            task_id,
            agent_id,
            kill_policy,
        }),
        ..call(Type::Kill)
    }
}

/// SHUTDOWN: stop a custom executor and all of its tasks.
pub fn shutdown(executor_id: ExecutorId, agent_id: AgentId) -> Call {
    Call {
        shutdown: Some(call::Shutdown {
            executor_id,
            agent_id,
        }),
        ..call(Type::Shutdown)
    }
}

/// ACKNOWLEDGE: confirm a status update.
pub fn acknowledge(agent_id: AgentId, task_id: TaskId, uuid: Bytes) -> Call {
    Call {
        acknowledge: Some(call::Acknowledge {
            agent_id,
            task_id,
            uuid,
        }),
        ..call(Type::Acknowledge)
    }
}

/// The ACKNOWLEDGE for a status update, if it needs one.
///
/// The agent re-sends an update until it is acknowledged, and holds back
/// the task's later updates until then: a scheduler that forgets to
/// acknowledge stops hearing about that task. Only updates with a `uuid`
/// are acknowledged; those without (answers to reconciliation, for one)
/// are not reliable deliveries and must not be.
pub fn acknowledge_update(status: &TaskStatus) -> Option<Call> {
    let uuid = status.uuid.clone()?;
    let agent_id = status.agent_id.clone()?;
    Some(acknowledge(agent_id, status.task_id.clone(), uuid))
}

/// ACKNOWLEDGE_OPERATION_STATUS: confirm an operation status update.
pub fn acknowledge_operation_status(
    agent_id: Option<AgentId>,
    operation_id: OperationId,
    uuid: Bytes,
) -> Call {
    Call {
        acknowledge_operation_status: Some(call::AcknowledgeOperationStatus {
            agent_id,
            resource_provider_id: None,
            uuid,
            operation_id,
        }),
        ..call(Type::AcknowledgeOperationStatus)
    }
}

/// RECONCILE, explicit: "what is the state of these tasks?" The master
/// answers with an UPDATE per task. Use after every (re)subscription for
/// the non-terminal tasks you know of (`docs/reconciliation.md`).
pub fn reconcile(tasks: Vec<(TaskId, Option<AgentId>)>) -> Call {
    let tasks = tasks
        .into_iter()
        .map(|(task_id, agent_id)| call::reconcile::Task { task_id, agent_id })
        .collect();
    Call {
        reconcile: Some(call::Reconcile { tasks }),
        ..call(Type::Reconcile)
    }
}

/// RECONCILE, implicit: an empty task list asks for the latest state of
/// *every* task the master knows of for this framework, including ones the
/// scheduler has forgotten.
pub fn reconcile_all() -> Call {
    reconcile(Vec::new())
}

/// RECONCILE_OPERATIONS: ask for the state of offer operations (those
/// launched with an `id`, i.e. with operation feedback). Mesos 1.11
/// answers `202 Accepted` with an empty body; the states come on the event
/// stream, one UPDATE_OPERATION_STATUS event per operation asked about.
pub fn reconcile_operations(operations: Vec<(OperationId, Option<AgentId>)>) -> Call {
    let operations = operations
        .into_iter()
        .map(
            |(operation_id, agent_id)| call::reconcile_operations::Operation {
                operation_id,
                agent_id,
                resource_provider_id: None,
            },
        )
        .collect();
    Call {
        reconcile_operations: Some(call::ReconcileOperations { operations }),
        ..call(Type::ReconcileOperations)
    }
}

/// MESSAGE: send opaque bytes to one of the framework's executors.
pub fn message(agent_id: AgentId, executor_id: ExecutorId, data: Bytes) -> Call {
    Call {
        message: Some(call::Message {
            agent_id,
            executor_id,
            data,
        }),
        ..call(Type::Message)
    }
}

/// REQUEST: ask the allocator for resources (most allocators ignore it).
pub fn request(requests: Vec<Request>) -> Call {
    Call {
        request: Some(call::Request { requests }),
        ..call(Type::Request)
    }
}

/// ACCEPT_INVERSE_OFFERS: agree to give resources back for maintenance.
pub fn accept_inverse_offers(inverse_offer_ids: Vec<OfferId>, filters: Option<Filters>) -> Call {
    Call {
        accept_inverse_offers: Some(call::AcceptInverseOffers {
            inverse_offer_ids,
            filters,
        }),
        ..call(Type::AcceptInverseOffers)
    }
}

/// DECLINE_INVERSE_OFFERS: say the resources cannot be given back yet.
pub fn decline_inverse_offers(inverse_offer_ids: Vec<OfferId>, filters: Option<Filters>) -> Call {
    Call {
        decline_inverse_offers: Some(call::DeclineInverseOffers {
            inverse_offer_ids,
            filters,
        }),
        ..call(Type::DeclineInverseOffers)
    }
}

/// UPDATE_FRAMEWORK: change the framework's info (name, roles, …) without
/// resubscribing. The ID in `framework_info` must be the framework's own.
pub fn update_framework(framework_info: FrameworkInfo) -> Call {
    Call {
        framework_id: framework_info.id.clone(),
        update_framework: Some(call::UpdateFramework {
            framework_info,
            ..Default::default()
        }),
        ..call(Type::UpdateFramework)
    }
}
