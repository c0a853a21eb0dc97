//! The agents' executor endpoint: `POST /slave(N)/api/v1/executor`.
//!
//! A custom executor talks to its agent over HTTP: it SUBSCRIBEs (the
//! response is its event stream) and sends UPDATE, MESSAGE and HEARTBEAT
//! calls. Here, outside the actor, the request is checked as
//! `Http::executor` checks it before the agent looks anything up
//! (`src/slave/http.cpp` 1.11.0), in its order and with its messages:
//! method (405), `Content-Type` (400, 415), body (400), the call itself
//! (`validateExecutorCall`, `src/common/validation.cpp`: 400), `Accept`
//! for SUBSCRIBE (406); a HEARTBEAT is answered 202 right away, since
//! Mesos' executor library sends it with placeholder IDs. The rest is the
//! actor's (`executor_calls.rs`).

use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use tokio::sync::oneshot;

use super::{
    custom_executor::ExecutorCallReply,
    http::{Body, MAX_BODY, Shared, ask, call_format, method_not_allowed, negotiate, text},
    master::Command,
    stream::EventBody,
    validation,
};
use crate::{
    codec::ContentType,
    v1::{
        TaskState,
        executor::{Call, call},
        task_status::Source,
    },
};

/// The agent index of `/slave(N)/api/v1/executor` (`slave(1)` is agent 0).
pub(crate) fn agent_of_path(path: &str) -> Option<usize> {
    let number = path
        .strip_prefix("/slave(")?
        .strip_suffix(")/api/v1/executor")?;
    number.parse::<usize>().ok()?.checked_sub(1)
}

/// `POST /slave(N)/api/v1/executor`.
pub(crate) async fn serve(
    shared: &Shared,
    agent: usize,
    request: Request<Incoming>,
) -> Response<Body> {
    if request.method() != Method::POST {
        return method_not_allowed("POST", request.method());
    }
    let headers = request.headers();
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return text(
            StatusCode::BAD_REQUEST,
            "Expecting 'Content-Type' to be present",
        );
    };
    let Some(format) = call_format(content_type.as_bytes()) else {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expecting 'Content-Type' of application/json or application/x-protobuf",
        );
    };
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("Failed to read the request body: {error}"),
            );
        }
    };
    let call: Call = match validation::decode_message(&body, format, "mesos.v1.executor.Call") {
        Ok(call) => call,
        Err(message) => return text(StatusCode::BAD_REQUEST, &message),
    };
    if let Err(message) = validate(&call) {
        return text(
            StatusCode::BAD_REQUEST,
            &format!("Failed to validate Executor::Call: {message}"),
        );
    }
    let mut events = ContentType::Json;
    match call.r#type() {
        call::Type::Subscribe => match negotiate(accept.as_deref()) {
            Some(format) => events = format,
            None => {
                return text(
                    StatusCode::NOT_ACCEPTABLE,
                    "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'",
                );
            }
        },
        // Before any lookup: the executor library's heartbeats may carry
        // dummy framework and executor IDs.
        call::Type::Heartbeat => return text(StatusCode::ACCEPTED, ""),
        _ => {}
    }
    let (reply, answer) = oneshot::channel();
    let command = Command::ExecutorCall {
        agent,
        call: Box::new(call),
        format: events,
        reply,
    };
    match ask(shared, command, answer).await {
        Some(ExecutorCallReply::Accepted) => text(StatusCode::ACCEPTED, ""),
        Some(ExecutorCallReply::Error(status, message)) => text(status, &message),
        Some(ExecutorCallReply::Subscribed { records }) => {
            // No Mesos-Stream-Id: executors do not get one.
            let mut response = Response::new(UnsyncBoxBody::new(EventBody::new(records, None)));
            if let Ok(value) = http::HeaderValue::from_str(events.media_type()) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
        }
        None => text(StatusCode::SERVICE_UNAVAILABLE, "Agent is shutting down"),
    }
}

/// `common::validation::validateExecutorCall`, in its order. (Required
/// fields were checked when decoding, as protobuf's parser does.)
pub(crate) fn validate(call: &Call) -> Result<(), String> {
    if call.r#type.is_none() {
        return Err("Expecting 'type' to be present".into());
    }
    let executor_id = &call.executor_id.value;
    let framework_id = &call.framework_id.value;
    match call.r#type() {
        call::Type::Subscribe if call.subscribe.is_none() => {
            Err("Expecting 'subscribe' to be present".into())
        }
        call::Type::Update => {
            let Some(update) = &call.update else {
                return Err("Expecting 'update' to be present".into());
            };
            let status = &update.status;
            let Some(uuid) = &status.uuid else {
                return Err("Expecting 'uuid' to be present".into());
            };
            valid_uuid(uuid)?;
            if let Some(id) = status
                .executor_id
                .as_ref()
                .filter(|id| id.value != *executor_id)
            {
                return Err(format!(
                    "ExecutorID in Call: {executor_id} does not match ExecutorID in TaskStatus: {}",
                    id.value
                ));
            }
            // An unset source reads as its default, SOURCE_MASTER.
            if status.source() != Source::Executor {
                return Err(format!(
                    "Received Call from executor {executor_id} of framework {framework_id} \
                     with invalid source, expecting 'SOURCE_EXECUTOR'"
                ));
            }
            if status.state() == TaskState::TaskStaging {
                return Err(format!(
                    "Received TASK_STAGING from executor {executor_id} of framework \
                     {framework_id} which is not allowed"
                ));
            }
            Ok(())
        }
        call::Type::Message if call.message.is_none() => {
            Err("Expecting 'message' to be present".into())
        }
        _ => Ok(()),
    }
}

/// stout's `UUID::fromBytes`: 16 bytes, of a known UUID version.
fn valid_uuid(bytes: &[u8]) -> Result<(), String> {
    let version = bytes.get(6).map(|octet| octet >> 4);
    if bytes.len() == 16 && matches!(version, Some(1..=5)) {
        Ok(())
    } else {
        Err("Not a valid UUID".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{ExecutorId, FrameworkId, TaskStatus};

    fn update(status: TaskStatus) -> Call {
        Call {
            executor_id: ExecutorId { value: "e".into() },
            framework_id: FrameworkId { value: "f".into() },
            r#type: Some(call::Type::Update as i32),
            update: Some(call::Update { status }),
            ..Default::default()
        }
    }

    fn status(state: TaskState, source: Source, uuid: &[u8]) -> TaskStatus {
        TaskStatus {
            state: state as i32,
            source: Some(source as i32),
            uuid: Some(bytes::Bytes::copy_from_slice(uuid)),
            ..Default::default()
        }
    }

    #[test]
    fn updates_are_checked_as_mesos_checks_them() {
        let uuid = *uuid::Uuid::new_v4().as_bytes();
        assert_eq!(
            validate(&update(status(
                TaskState::TaskRunning,
                Source::Executor,
                &uuid
            ))),
            Ok(())
        );
        assert_eq!(
            validate(&update(status(
                TaskState::TaskRunning,
                Source::Executor,
                &[1; 16]
            ))),
            Err("Not a valid UUID".into())
        );
        assert_eq!(
            validate(&update(status(
                TaskState::TaskRunning,
                Source::Agent,
                &uuid
            ))),
            Err(
                "Received Call from executor e of framework f with invalid source, \
                 expecting 'SOURCE_EXECUTOR'"
                    .into()
            )
        );
        assert_eq!(
            validate(&update(status(
                TaskState::TaskStaging,
                Source::Executor,
                &uuid
            ))),
            Err("Received TASK_STAGING from executor e of framework f which is not allowed".into())
        );
    }

    #[test]
    fn executor_paths_name_an_agent() {
        assert_eq!(agent_of_path("/slave(1)/api/v1/executor"), Some(0));
        assert_eq!(agent_of_path("/slave(12)/api/v1/executor"), Some(11));
        assert_eq!(agent_of_path("/slave(0)/api/v1/executor"), None);
        assert_eq!(agent_of_path("/api/v1/scheduler"), None);
    }
}
