//! The client's HTTP: every request bounded in time, every failure an
//! answer rather than a panic.
//!
//! Under chaos, "no answer" is an outcome like any other: the instance was
//! killed, or frozen, or the leader it forwards to was. The kit's client
//! (`mesos::testing::web`) waits for ever and panics when it cannot
//! connect, which is right for a test of one thing and wrong here.

use std::time::Duration;

use axum::{
    body::Body,
    http::{Request, header},
};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde_json::Value;

/// An answer from 5K.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A clear refusal: nothing was changed (Marathon's 4xx).
    pub fn is_refusal(&self) -> bool {
        (400..500).contains(&self.status)
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// Sends `method url` with a JSON `body`; `Err` says why no answer came
/// within `timeout`.
pub async fn send(
    method: &str,
    url: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> Result<Answer, String> {
    let client: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = Request::builder().method(method).uri(url);
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Body::empty, |json| Body::from(json.to_string()));
    let request = request.body(body).map_err(|e| e.to_string())?;
    let exchange = async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(Body::new(response.into_body()), usize::MAX)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("{method} {url}: no answer within {timeout:?}"))?
}
