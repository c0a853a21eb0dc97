//! Reading a JSON body, with Marathon's three kinds of refusal.
//!
//! An empty body, text that is not JSON, and JSON of the wrong shape are
//! different mistakes, and Marathon answers each differently: 400 "Please
//! specify data in JSON format", 400 "Invalid JSON" with the parser's
//! words, and 422 "Invalid JSON" naming each field (`/cpus`,
//! `/portDefinitions(0)/port`) (`MarathonExceptionMapper.scala`).
//!
//! The body's size is limited by the router ([`super::BODY_LIMIT`]); a
//! larger one is refused with 413 before it is read whole, so that a
//! client cannot make 5K hold gigabytes.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::StatusCode,
};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::app::validate::Violation;

/// A request's body, read whole (up to the limit); refusals are JSON, as
/// all of the API's.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Body, ApiError> {
        Bytes::from_request(request, state)
            .await
            .map(Body)
            .map_err(|rejection| match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "Request body too large: the limit is {} bytes",
                        super::BODY_LIMIT
                    ),
                ),
                status => ApiError::new(status, rejection.body_text()),
            })
    }
}

pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        // Jackson's words for an empty body, which Marathon passes on.
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            body: serde_json::json!({
                "message": "Please specify data in JSON format",
                "details": "No content to map due to end-of-input",
            }),
        });
    }
    // Syntax first: a type error in text that is not JSON would be
    // reported at the wrong place.
    if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        return Err(ApiError::invalid_json_text(error.to_string()));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let mut path = marathon_path(error.path());
        let (field, message) = play_error(error.inner());
        if let Some(field) = field {
            path = format!("{}/{field}", path.trim_end_matches('/'));
        }
        ApiError::invalid_json(vec![Violation::new(path, message)])
    })
}

/// serde's complaint in Play JSON's words, which Marathon's clients see
/// (`error.expected.jsnumber`, `error.path.missing`, …), with the missing
/// field when one is. A complaint Play has no word for stays serde's.
fn play_error(error: &serde_json::Error) -> (Option<String>, String) {
    let text = error.to_string();
    // serde_json adds where in the text; the path says it better.
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m);
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        return (Some(field.to_string()), "error.path.missing".into());
    }
    if let Some((_, expected)) = message
        .strip_prefix("invalid type: ")
        .and_then(|rest| rest.split_once(", expected "))
    {
        let json_type = match expected {
            e if ["f64", "f32", "u32", "u64", "i32", "i64", "u16", "u8"]
                .iter()
                .any(|number| e.contains(number)) =>
            {
                "jsnumber"
            }
            e if e.contains("string") => "jsstring",
            e if e.contains("bool") => "jsboolean",
            e if e.contains("sequence") => "jsarray",
            e if e.contains("struct") || e.contains("map") => "jsobject",
            _ => return (None, message.to_string()),
        };
        return (None, format!("error.expected.{json_type}"));
    }
    // serde_json's words for a number, array, boolean or null where an
    // enum's name (`killSelection`) was expected: syntax errors were
    // caught before, so nothing else says this here.
    if message == "expected value" {
        return (None, "error.expected.jsstring".into());
    }
    // A negative count: below the field's minimum of 0.
    if message.starts_with("invalid value: integer `-") {
        return (None, "error.min".into());
    }
    (None, message.to_string())
}

/// `portDefinitions[0].port` as Marathon writes it: `/portDefinitions(0)/port`.
fn marathon_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("({index})")),
            Segment::Map { key } => out.push_str(&format!("/{key}")),
            Segment::Enum { variant } => out.push_str(&format!("/{variant}")),
            Segment::Unknown => {}
        }
    }
    if out.is_empty() { "/".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::AppRequest;
    use serde_json::json;

    fn refusal(body: &str) -> (u16, serde_json::Value) {
        let error = parse::<AppRequest>(body.as_bytes()).unwrap_err();
        (error.status.as_u16(), error.body)
    }

    #[test]
    fn each_kind_of_bad_body_gets_marathons_answer() {
        let (status, body) = refusal("  ");
        assert_eq!(
            (status, body["message"].as_str()),
            (400, Some("Please specify data in JSON format"))
        );
        let (status, body) = refusal("{\"id\": ");
        assert_eq!(
            (status, body["message"].as_str()),
            (400, Some("Invalid JSON"))
        );
        assert!(body["details"].is_string());
        let (status, body) = refusal(r#"{"id": "/x", "portDefinitions": [{"port": "eighty"}]}"#);
        assert_eq!(
            (status, body["message"].as_str()),
            (422, Some("Invalid JSON"))
        );
        assert_eq!(body["details"][0]["path"], "/portDefinitions(0)/port");
        assert_eq!(
            body["details"][0]["errors"],
            json!(["error.expected.jsnumber"])
        );
        let (_, body) = refusal(r#"{"instances": -1}"#);
        assert_eq!(body["details"][0]["path"], "/instances");
        assert_eq!(body["details"][0]["errors"], json!(["error.min"]));
        let (_, body) = refusal(r#"{"killSelection": 1}"#);
        assert_eq!(
            (&body["details"][0]["path"], &body["details"][0]["errors"]),
            (
                &json!("/killSelection"),
                &json!(["error.expected.jsstring"])
            )
        );
        let (_, body) = refusal(r#"{"env": ["A=1"]}"#);
        assert_eq!(
            body["details"][0]["errors"],
            json!(["error.expected.jsobject"])
        );
        let (_, body) = refusal(r#"{"requirePorts": "yes", "cmd": "x"}"#);
        assert_eq!(
            (&body["details"][0]["path"], &body["details"][0]["errors"]),
            (
                &json!("/requirePorts"),
                &json!(["error.expected.jsboolean"])
            )
        );
        let (_, body) = refusal(r#"{"fetch": [{"executable": true}]}"#);
        assert_eq!(
            (&body["details"][0]["path"], &body["details"][0]["errors"]),
            (&json!("/fetch(0)/uri"), &json!(["error.path.missing"]))
        );
    }
}
