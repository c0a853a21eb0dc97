//! What the master checks before it acts, with the messages Mesos uses.
//!
//! Two kinds of checks, in two places, as in Mesos:
//!
//! * **calls** (`src/master/http.cpp` and `validation.cpp`): a body that
//!   does not parse, misses required fields, or lacks the nested message
//!   its type needs is answered `400 Bad Request` at once, and nothing
//!   happens;
//! * **frameworks** (`Master::validateFramework`, `validation::framework`):
//!   a SUBSCRIBE with a bad FrameworkInfo is answered `200` all the same,
//!   with an ERROR event on the stream, which then closes; UPDATE_FRAMEWORK
//!   gets a `400`;
//! * **tasks** (`validation::task`): a LAUNCH that names a bad task is not
//!   an HTTP error (the ACCEPT was fine); the task gets a TASK_ERROR status
//!   update with the reason, and the other tasks launch normally.
//!
//! Keeping the messages identical to Mesos' means what a framework author
//! sees here is what they will see, and search for, on a real cluster.

mod executor;

pub(crate) use executor::validate_environment;

use std::sync::OnceLock;

use prost_reflect::{Cardinality, DescriptorPool, DynamicMessage, Kind, ReflectMessage, Value};

use crate::{
    codec::{self, ContentType},
    resources::{self, Resources},
    v1::{
        self, ExecutorInfo, FrameworkInfo, TaskInfo, container_info, executor_info,
        scheduler::{Call, call},
    },
};

/// The smallest executor Mesos accepts (`MIN_CPUS`, `MIN_MEM`).
const MIN_EXECUTOR_CPUS: f64 = 0.01;
const MIN_EXECUTOR_MEM_MB: f64 = 32.0;

/// Parses a call body, failing with the message of Mesos' 400 answer.
pub(crate) fn decode_call(body: &[u8], format: ContentType) -> Result<Call, String> {
    decode_message(body, format, "mesos.v1.scheduler.Call")
}

/// Decodes a call of either API (`mesos.v1.scheduler.Call`,
/// `mesos.v1.executor.Call`) as `Http::scheduler` and `Http::executor` do,
/// with the same messages: both handlers word their errors alike.
pub(crate) fn decode_message<M: prost::Message + prost::Name + Default>(
    body: &[u8],
    format: ContentType,
    message_name: &str,
) -> Result<M, String> {
    let descriptor = descriptor(message_name);
    match format {
        ContentType::Protobuf => {
            let dynamic = DynamicMessage::decode(descriptor, body)
                .map_err(|_| "Failed to parse body into Call protobuf".to_string())?;
            // protobuf's ParseFromString fails when required fields are
            // missing; so does Mesos.
            if !missing_fields(&dynamic).is_empty() {
                return Err("Failed to parse body into Call protobuf".into());
            }
            codec::decode(body, format)
                .map_err(|_| "Failed to parse body into Call protobuf".into())
        }
        ContentType::Json => {
            serde_json::from_slice::<serde_json::Value>(body)
                .map_err(|e| format!("Failed to parse body into JSON: {e}"))?;
            let options = prost_reflect::DeserializeOptions::new().deny_unknown_fields(false);
            let mut deserializer = serde_json::Deserializer::from_slice(body);
            let dynamic =
                DynamicMessage::deserialize_with_options(descriptor, &mut deserializer, &options)
                    .map_err(|e| format!("Failed to convert JSON into Call protobuf: {e}"))?;
            let missing = missing_fields(&dynamic);
            if !missing.is_empty() {
                return Err(format!(
                    "Failed to convert JSON into Call protobuf: Missing required fields: {}",
                    missing.join(", ")
                ));
            }
            codec::decode(body, format)
                .map_err(|e| format!("Failed to convert JSON into Call protobuf: {e}"))
        }
    }
}

/// The part of `validation::scheduler::call::validate` about who sent the
/// call: a SUBSCRIBE that names a principal must name the one the request
/// authenticated with. (Other calls are checked against the framework's
/// principal once it is found, in the master.) The error is prefixed with
/// "Failed to validate scheduler::Call: ".
pub(crate) fn validate_principal(call: &Call, principal: Option<&str>) -> Result<(), String> {
    let (Some(principal), Some(subscribe)) = (principal, &call.subscribe) else {
        return Ok(());
    };
    if call.r#type() != call::Type::Subscribe {
        return Ok(());
    }
    match subscribe.framework_info.principal.as_deref() {
        Some(named) if named != principal => Err(format!(
            "Authenticated principal '{principal}' does not match principal '{named}' set in \
             `FrameworkInfo`"
        )),
        _ => Ok(()),
    }
}

/// `validation::scheduler::call::validate`: the call has what its type
/// needs. The error is prefixed with "Failed to validate scheduler::Call: ".
pub(crate) fn validate_call(call: &Call) -> Result<(), String> {
    let Some(kind) = call.r#type else {
        return Err("Expecting 'type' to be present".into());
    };
    let kind = call::Type::try_from(kind).unwrap_or(call::Type::Unknown);
    if kind == call::Type::Subscribe {
        let subscribe = call
            .subscribe
            .as_ref()
            .ok_or("Expecting 'subscribe' to be present")?;
        if id_value(&subscribe.framework_info.id) != id_value(&call.framework_id) {
            return Err("'framework_id' differs from 'subscribe.framework_info.id'".into());
        }
        return Ok(());
    }
    if call.framework_id.is_none() {
        return Err("Expecting 'framework_id' to be present".into());
    }
    let present = |name: &str, present: bool| {
        if present {
            Ok(())
        } else {
            Err(format!("Expecting '{name}' to be present"))
        }
    };
    match kind {
        call::Type::Accept => present("accept", call.accept.is_some()),
        call::Type::Decline => present("decline", call.decline.is_some()),
        call::Type::AcceptInverseOffers => present(
            "accept_inverse_offers",
            call.accept_inverse_offers.is_some(),
        ),
        call::Type::DeclineInverseOffers => present(
            "decline_inverse_offers",
            call.decline_inverse_offers.is_some(),
        ),
        call::Type::Kill => present("kill", call.kill.is_some()),
        call::Type::Shutdown => present("shutdown", call.shutdown.is_some()),
        call::Type::Acknowledge => {
            let acknowledge = call
                .acknowledge
                .as_ref()
                .ok_or("Expecting 'acknowledge' to be present")?;
            valid_uuid(&acknowledge.uuid)
        }
        call::Type::AcknowledgeOperationStatus => {
            let acknowledge = call
                .acknowledge_operation_status
                .as_ref()
                .ok_or("Expecting 'acknowledge_operation_status' to be present")?;
            valid_uuid(&acknowledge.uuid)?;
            // Mesos 1.11 supports feedback only for operations on agents.
            present("agent_id", acknowledge.agent_id.is_some())
        }
        call::Type::Reconcile => present("reconcile", call.reconcile.is_some()),
        call::Type::ReconcileOperations => {
            present("reconcile_operations", call.reconcile_operations.is_some())
        }
        call::Type::Message => present("message", call.message.is_some()),
        call::Type::Request => present("request", call.request.is_some()),
        call::Type::UpdateFramework => {
            let update = call
                .update_framework
                .as_ref()
                .ok_or("Expecting 'update_framework' to be present")?;
            if id_value(&update.framework_info.id) != id_value(&call.framework_id) {
                return Err(
                    "'framework_id' differs from 'update_framework.framework_info.id'".into(),
                );
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `isValidFailoverTimeout` (`Master::validateFramework`): the timeout must
/// be a stout `Duration`, whose nanoseconds are an `int64_t`, so at most
/// about 292 years either way. `Duration::create` compares as doubles, where
/// `INT64_MAX` rounds up to 2^63, and so do we.
///
/// Negative timeouts are valid (the framework is removed as soon as it
/// disconnects). NaN passes both of Mesos' comparisons and is then cast to
/// `int64_t`, which is undefined behaviour; we refuse it, stricter than
/// Mesos on purpose: no framework can rely on undefined behaviour.
pub(crate) fn validate_failover_timeout(info: &FrameworkInfo) -> Result<(), String> {
    let seconds = info.failover_timeout.unwrap_or(0.0);
    let nanoseconds = seconds * 1e9;
    if nanoseconds.is_nan() || nanoseconds > i64::MAX as f64 || nanoseconds < i64::MIN as f64 {
        return Err(format!(
            "The framework failover_timeout ({}) is invalid",
            stringify_double(seconds)
        ));
    }
    Ok(())
}

/// `validation::framework::preserveImmutableFields`: a resubscribing
/// framework cannot change its `user` or `checkpoint` (MESOS-703), so Mesos
/// keeps the old values, silently, before it checks the update.
pub(crate) fn preserve_immutable_fields(old: &FrameworkInfo, new: &mut FrameworkInfo) {
    new.user.clone_from(&old.user);
    new.checkpoint = old.checkpoint;
}

/// `validation::framework::validateUpdate`: what neither SUBSCRIBE nor
/// UPDATE_FRAMEWORK may change, in Mesos' order. On SUBSCRIBE only the
/// principal can fail (the rest was preserved); UPDATE_FRAMEWORK preserves
/// nothing.
pub(crate) fn validate_framework_update(
    old: &FrameworkInfo,
    new: &FrameworkInfo,
) -> Result<(), String> {
    // An unset principal and an empty one differ (`has_principal`). Mesos
    // does not tell the scheduler the old principal: it may be someone
    // else's framework.
    if old.principal != new.principal {
        return Err("Changing framework's principal is not allowed.".into());
    }
    if old.user != new.user {
        return Err(format!(
            "Updating 'FrameworkInfo.user' is unsupported; attempted to update from '{}' to '{}'",
            old.user, new.user
        ));
    }
    // proto2: an unset bool reads as false.
    let (old_checkpoint, new_checkpoint) = (
        old.checkpoint.unwrap_or(false),
        new.checkpoint.unwrap_or(false),
    );
    if old_checkpoint != new_checkpoint {
        return Err(format!(
            "Updating 'FrameworkInfo.checkpoint' is unsupported; attempted to update from \
             '{old_checkpoint}' to '{new_checkpoint}'"
        ));
    }
    Ok(())
}

/// stout's `stringify(double)`: C++ `std::ostream << double`, whose default
/// format is printf's `%g` with 6 significant digits: `604800`, `0.5`,
/// `1e+20`, `9.3e+09`, `1.23457e+06`, `nan`. Mesos prints framework numbers
/// this way in its messages.
pub(crate) fn stringify_double(value: f64) -> String {
    /// `std::ostream`'s default precision.
    const PRECISION: i32 = 6;
    if value.is_nan() {
        // glibc prints the sign bit of a NaN too.
        return if value.is_sign_negative() {
            "-nan"
        } else {
            "nan"
        }
        .into();
    }
    if value.is_infinite() {
        return if value < 0.0 { "-inf" } else { "inf" }.into();
    }
    // `%g` chooses between `%e` and `%f` by the decimal exponent the value
    // has once rounded to PRECISION digits (999999.5 becomes 1e+06).
    let scientific = format!("{value:.*e}", (PRECISION - 1) as usize);
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let exponent: i32 = exponent.parse().expect("the exponent is a number");
    // `%e` outside of [1e-4, 1e6), `%f` inside.
    if !(-4..PRECISION).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            without_trailing_zeros(mantissa),
            exponent.unsigned_abs()
        )
    } else {
        let decimals = (PRECISION - 1 - exponent) as usize;
        without_trailing_zeros(&format!("{value:.decimals$}")).to_string()
    }
}

/// `%g` drops trailing zeros, and the point if nothing follows it.
fn without_trailing_zeros(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

/// A proto2 message field reads as its default when unset, so Mesos sees
/// an unset ID and an empty one as equal.
fn id_value(id: &Option<crate::v1::FrameworkId>) -> &str {
    id.as_ref().map_or("", |id| id.value.as_str())
}

fn valid_uuid(uuid: &[u8]) -> Result<(), String> {
    if uuid.len() == 16 {
        Ok(())
    } else {
        Err(format!(
            "Invalid UUID: expected 16 bytes, got {}",
            uuid.len()
        ))
    }
}

/// Mesos' `common::validation::validateID`, for task IDs.
fn validate_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("ID must not be empty".into());
    }
    if id.len() > 255 {
        return Err("ID must not be greater than 255 characters".into());
    }
    if id == "." || id == ".." {
        return Err(format!("'{id}' is disallowed"));
    }
    if id.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
        return Err(format!("'{id}' contains invalid characters"));
    }
    Ok(())
}

/// What task validation needs to know about the framework and agent.
pub(crate) struct TaskContext<'a> {
    /// Is this task ID already used by a live (or unacknowledged) task?
    pub duplicate: &'a dyn Fn(&str) -> bool,
    /// Was this task ID used by a task lost with an unreachable agent?
    pub unreachable: &'a dyn Fn(&str) -> bool,
    /// The agent the offers are for.
    pub agent_id: &'a str,
    /// The framework that launches the tasks.
    pub framework_id: &'a str,
    /// The offers' allocation role, for printing resources.
    pub role: &'a str,
    /// The ExecutorInfo of the running executor with the task's executor
    /// ID on the agent, if there is one.
    pub executor: Option<&'a ExecutorInfo>,
}

/// The checks Mesos' `validation::task::validate` makes for one task of a
/// LAUNCH, in its order. Returns the task's resources if it may launch.
pub(crate) fn validate_task(
    task: &TaskInfo,
    context: &TaskContext<'_>,
    available: &Resources,
) -> Result<Resources, String> {
    let resources = validate_task_fields(task, context)?;
    if task.executor.is_some() == task.command.is_some() {
        return Err(
            "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
                .into(),
        );
    }
    let mut total = resources.clone();
    if let Some(executor) = &task.executor {
        validate_custom_executor(executor, context)?;
        let executor_resources = accounted(&executor.resources)
            .map_err(|e| format!("Executor uses invalid resources: Invalid resources: {e}"))?;
        // A running executor's resources are accounted for already.
        if context.executor.is_none() {
            total += executor_resources;
        }
    }
    if !available.contains(&total) {
        return Err(format!(
            "Total resources {} required by task and its executor is more than available {}",
            total.allocated_to(context.role).mesos_format(),
            available.clone().allocated_to(context.role).mesos_format()
        ));
    }
    Ok(resources)
}

/// The checks of a LAUNCH task's executor (`task::internal::validateExecutor`):
/// those of any executor first, then what a LAUNCH needs, a CUSTOM
/// executor with a command to run (the DEFAULT executor serves
/// LAUNCH_GROUP only).
fn validate_custom_executor(
    executor: &ExecutorInfo,
    context: &TaskContext<'_>,
) -> Result<(), String> {
    executor::validate(executor, context)?;
    if executor
        .r#type
        .is_some_and(|t| t != v1::executor_info::Type::Custom as i32)
    {
        return Err("'ExecutorInfo.type' must be 'CUSTOM'".into());
    }
    if executor.command.is_none() {
        return Err("'ExecutorInfo.command' must be set".into());
    }
    Ok(())
}

/// The checks common to tasks of LAUNCH and LAUNCH_GROUP.
fn validate_task_fields(task: &TaskInfo, context: &TaskContext<'_>) -> Result<Resources, String> {
    let id = &task.task_id.value;
    validate_id(id)?;
    if (context.duplicate)(id) {
        return Err(format!("Task has duplicate ID: {id}"));
    }
    if (context.unreachable)(id) {
        return Err(format!("Task reuses the ID of an unreachable task: {id}"));
    }
    if task.agent_id.value != context.agent_id {
        return Err(format!(
            "Task uses invalid agent {} while agent {} is expected",
            task.agent_id.value, context.agent_id
        ));
    }
    if task
        .kill_policy
        .as_ref()
        .and_then(|k| k.grace_period.as_ref())
        .is_some_and(|g| g.nanoseconds < 0)
    {
        return Err("Task's 'kill_policy.grace_period' must be non-negative".into());
    }
    if let Some(check) = &task.health_check {
        crate::health::validate(check)
            .map_err(|e| format!("Task uses invalid health check: {e}"))?;
    }
    if task.resources.is_empty() {
        return Err("Task uses no resources".into());
    }
    let resources = accounted(&task.resources)
        .map_err(|e| format!("Task uses invalid resources: Invalid resources: {e}"))?;
    if task
        .command
        .as_ref()
        .is_some_and(|c| c.shell == Some(false) && c.value.is_none())
    {
        return Err("Task's `CommandInfo` is invalid: 'CommandInfo.value' must be set".into());
    }
    Ok(resources)
}

/// `validation::task::group::validate`: the tasks of a LAUNCH_GROUP and
/// their executor. `executor_running` says whether the executor already
/// runs on the agent (then its resources are already accounted for).
/// Returns the resources to set aside: all tasks', plus the executor's if
/// it must be started.
pub(crate) fn validate_task_group(
    tasks: &[TaskInfo],
    executor: &ExecutorInfo,
    context: &TaskContext<'_>,
    available: &Resources,
    executor_running: bool,
) -> Result<(Vec<Resources>, Resources), String> {
    let mut task_resources = Vec::new();
    for task in tasks {
        let checked = validate_task_fields(task, context).and_then(|resources| {
            if task
                .container
                .as_ref()
                .is_some_and(|c| c.r#type == container_info::Type::Docker as i32)
            {
                return Err("Docker ContainerInfo is not supported on the task".into());
            }
            Ok(resources)
        });
        match checked {
            Ok(resources) => task_resources.push(resources),
            Err(error) => return Err(format!("Task '{}' is invalid: {error}", task.task_id.value)),
        }
    }
    let executor_id = &executor.executor_id.value;
    validate_id(executor_id)?;
    let kind = executor.r#type.ok_or("'ExecutorInfo.type' must be set")?;
    match executor_info::Type::try_from(kind) {
        Ok(executor_info::Type::Default) => {
            if executor.command.is_some() {
                return Err("'ExecutorInfo.command' must not be set for 'DEFAULT' executor".into());
            }
        }
        Ok(executor_info::Type::Custom) => {
            if executor.command.is_none() {
                return Err("'ExecutorInfo.command' must be set for 'CUSTOM' executor".into());
            }
        }
        _ => return Err("Unknown executor type".into()),
    }
    if executor
        .container
        .as_ref()
        .is_some_and(|c| c.r#type == container_info::Type::Docker as i32)
    {
        return Err("Docker ContainerInfo is not supported on the executor".into());
    }
    let executor_resources = accounted(&executor.resources)
        .map_err(|e| format!("Executor uses invalid resources: Invalid resources: {e}"))?;
    let describe = |value: Option<f64>| value.map_or("None".to_string(), |v| format!("{v}"));
    // Mesos' `Resources::cpus()` and friends: `None` if there are none.
    let amount = |name: &str| {
        executor_resources
            .iter()
            .any(|r| r.name == name)
            .then(|| executor_resources.scalar(name))
    };
    let cpus = amount("cpus");
    if cpus.is_none_or(|c| c < MIN_EXECUTOR_CPUS) {
        return Err(format!(
            "Executor '{executor_id}' uses less CPUs ({}) than the minimum required ({MIN_EXECUTOR_CPUS})",
            describe(cpus)
        ));
    }
    let mem = amount("mem");
    if mem.is_none_or(|m| m < MIN_EXECUTOR_MEM_MB) {
        return Err(format!(
            "Executor '{executor_id}' uses less memory ({}) than the minimum required (32MB)",
            describe(mem)
        ));
    }
    if amount("disk").is_none() {
        return Err(format!("Executor '{executor_id}' uses no disk"));
    }
    let executor_needs = if executor_running {
        Resources::new()
    } else {
        executor_resources
    };
    let total = task_resources.iter().cloned().sum::<Resources>() + &executor_needs;
    if !available.contains(&total) {
        return Err(format!(
            "Total resources {} required by task group and its executor are more than available {}",
            total.allocated_to(context.role).mesos_format(),
            available.clone().allocated_to(context.role).mesos_format()
        ));
    }
    Ok((task_resources, executor_needs))
}

/// Resources a framework sent (in a TaskInfo or ExecutorInfo) as the
/// master accounts for them against its agents, if all are valid (Mesos
/// refuses the task otherwise): in the post-refinement format, so that a
/// reservation reads the same in either format, and without allocation,
/// like the agents' own resources.
pub(crate) fn accounted(list: &[v1::Resource]) -> Result<Resources, resources::InvalidResource> {
    for resource in list {
        resources::validate(resource)?;
    }
    let upgraded: Resources = list
        .iter()
        .cloned()
        .map(resources::upgrade_format)
        .collect();
    Ok(upgraded.unallocated())
}

/// The paths of required fields that are not set, as protobuf's
/// `InitializationErrorString` lists them (`subscribe.framework_info.user`).
fn missing_fields(message: &DynamicMessage) -> Vec<String> {
    let mut missing = Vec::new();
    collect_missing(message, "", &mut missing);
    missing
}

fn collect_missing(message: &DynamicMessage, prefix: &str, missing: &mut Vec<String>) {
    for field in message.descriptor().fields() {
        let path = format!("{prefix}{}", field.name());
        let set = message.has_field(&field);
        if field.cardinality() == Cardinality::Required && !set {
            missing.push(path);
            continue;
        }
        if !set || !matches!(field.kind(), Kind::Message(_)) {
            continue;
        }
        match message.get_field(&field).as_ref() {
            Value::Message(inner) => collect_missing(inner, &format!("{path}."), missing),
            Value::List(items) => {
                for (index, item) in items.iter().enumerate() {
                    if let Value::Message(inner) = item {
                        collect_missing(inner, &format!("{path}[{index}]."), missing);
                    }
                }
            }
            _ => {}
        }
    }
}

fn descriptor(message_name: &str) -> prost_reflect::MessageDescriptor {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(
            include_bytes!(concat!(env!("OUT_DIR"), "/mesos_descriptor_set.bin")).as_slice(),
        )
        .expect("build.rs wrote a valid descriptor set")
    })
    .get_message_by_name(message_name)
    .expect("the Call messages are in the descriptor set")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{calls, v1};

    #[test]
    fn missing_required_fields_are_named_like_protobuf_does() {
        let json = br#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}}"#;
        let error = decode_call(json, ContentType::Json).unwrap_err();
        assert_eq!(
            error,
            "Failed to convert JSON into Call protobuf: Missing required fields: \
             subscribe.framework_info.user"
        );
        assert!(
            decode_call(b"{not json", ContentType::Json)
                .unwrap_err()
                .starts_with("Failed to parse body into JSON: ")
        );
        assert_eq!(
            decode_call(b"\xff\xff\xff", ContentType::Protobuf).unwrap_err(),
            "Failed to parse body into Call protobuf"
        );
        let good = codec::encode(
            &calls::subscribe(v1::FrameworkInfo {
                user: "u".into(),
                name: "n".into(),
                ..Default::default()
            }),
            ContentType::Protobuf,
        );
        assert!(decode_call(&good, ContentType::Protobuf).is_ok());
    }

    #[test]
    fn doubles_are_printed_as_cpp_streams_print_them() {
        for (value, printed) in [
            (604800.0, "604800"),
            (0.5, "0.5"),
            (0.0, "0"),
            (-0.0, "-0"),
            (1e20, "1e+20"),
            (-1e20, "-1e+20"),
            (9.3e9, "9.3e+09"),
            (-1e11, "-1e+11"),
            (1234567.0, "1.23457e+06"),
            (999999.0, "999999"),
            (999999.5, "1e+06"),
            (123456.7, "123457"),
            (1.23456789, "1.23457"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-300, "1.5e-300"),
            (1e100, "1e+100"),
            (9223372036.854776, "9.22337e+09"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(stringify_double(value), printed, "{value:e}");
        }
    }

    #[test]
    fn failover_timeouts_must_fit_a_stout_duration() {
        let info = |seconds: f64| v1::FrameworkInfo {
            failover_timeout: Some(seconds),
            ..Default::default()
        };
        // Up to 2^63 nanoseconds, about 292 years, either way.
        for valid in [0.0, -1.0, 604800.0, 9.2e9, -9.2e9] {
            assert_eq!(validate_failover_timeout(&info(valid)), Ok(()), "{valid}");
        }
        assert_eq!(
            validate_failover_timeout(&v1::FrameworkInfo::default()),
            Ok(())
        );
        for (invalid, printed) in [
            (9.3e9, "9.3e+09"),
            (-9.3e9, "-9.3e+09"),
            (1e20, "1e+20"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(
                validate_failover_timeout(&info(invalid)),
                Err(format!(
                    "The framework failover_timeout ({printed}) is invalid"
                ))
            );
        }
    }

    #[test]
    fn framework_updates_keep_principal_user_and_checkpoint() {
        let old = v1::FrameworkInfo {
            user: "alice".into(),
            principal: Some("ops".into()),
            checkpoint: Some(true),
            ..Default::default()
        };
        let mut new = v1::FrameworkInfo {
            user: "bob".into(),
            principal: Some("ops".into()),
            checkpoint: None,
            name: "renamed".into(),
            ..Default::default()
        };
        assert_eq!(
            validate_framework_update(&old, &new).unwrap_err(),
            "Updating 'FrameworkInfo.user' is unsupported; attempted to update from 'alice' to 'bob'"
        );
        new.user = "alice".into();
        assert_eq!(
            validate_framework_update(&old, &new).unwrap_err(),
            "Updating 'FrameworkInfo.checkpoint' is unsupported; attempted to update from \
             'true' to 'false'"
        );
        new.user = "bob".into();
        preserve_immutable_fields(&old, &mut new);
        assert_eq!((new.user.as_str(), new.checkpoint), ("alice", Some(true)));
        assert_eq!(validate_framework_update(&old, &new), Ok(()));
        for principal in [None, Some("".to_string()), Some("other".to_string())] {
            new.principal = principal;
            assert_eq!(
                validate_framework_update(&old, &new).unwrap_err(),
                "Changing framework's principal is not allowed."
            );
        }
    }

    #[test]
    fn calls_need_their_nested_message() {
        let mut call = calls::decline(vec![], 1.0);
        assert_eq!(
            validate_call(&call).unwrap_err(),
            "Expecting 'framework_id' to be present"
        );
        call.framework_id = Some(v1::FrameworkId { value: "f".into() });
        assert!(validate_call(&call).is_ok());
        call.decline = None;
        assert_eq!(
            validate_call(&call).unwrap_err(),
            "Expecting 'decline' to be present"
        );
    }
}
