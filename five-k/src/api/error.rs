//! Errors as Marathon answers them (`MarathonExceptionMapper.scala`).
//!
//! Clients branch on the status code (marathon-python raises
//! `NotFoundError` on 404 and `ConflictError` on 409) and show the
//! `message`, so both follow Marathon's.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::{
    app::validate::{Invalid, Violation},
    core::Unavailable,
    scheduler::Refusal,
};

/// An error answer: a status and a JSON body.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({"message": message.into()}),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// A body that is not JSON at all.
    pub fn invalid_json_text(details: String) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({"message": "Invalid JSON", "details": details}),
        }
    }

    /// JSON of the wrong shape: wrong types, values out of range.
    pub fn invalid_json(violations: Vec<Violation>) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({"message": "Invalid JSON", "details": violations}),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        match refusal {
            Refusal::NotFound(message) => ApiError::not_found(message),
            Refusal::AlreadyExists(message) => ApiError::new(StatusCode::CONFLICT, message),
            Refusal::Locked { deployments } => ApiError {
                status: StatusCode::CONFLICT,
                body: json!({
                    "message": "App is locked by one or more deployments. \
                                Override with the option '?force=true'. \
                                View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
                    "deployments": deployments.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
                }),
            },
            Refusal::Invalid(Invalid::Schema(violations)) => ApiError::invalid_json(violations),
            Refusal::Invalid(Invalid::Semantics(violations)) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                body: json!({"message": "Object is not valid", "details": violations}),
            },
        }
    }
}

/// A path no route serves. Marathon 1.7 says "URI not found" (with a
/// 500, a slip its later versions fixed: 404 is what a client expects).
pub async fn uri_not_found() -> ApiError {
    ApiError::not_found("URI not found")
}

/// A known path with a method it does not take: Jersey's 405, whose
/// message Marathon makes the status' reason phrase.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

impl From<Unavailable> for ApiError {
    fn from(_: Unavailable) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "5K could not complete the request: it is stopping, or could not store the change yet \
             (is ZooKeeper reachable?); look before sending it again",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}
