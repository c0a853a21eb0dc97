//! A standby hands API requests to the leader.
//!
//! Clients are configured with a list of 5K instances and may reach any
//! of them, so every instance answers every request: the leader itself,
//! a standby by forwarding it to the leader and passing the answer back
//! (Marathon's `LeaderProxyFilter` and `RequestForwarder`). Details kept
//! from Marathon, which clients rely on:
//! - every answer from the leader names it: `X-Marathon-Leader: http://host:port`;
//! - `/v2/events` is not forwarded but redirected (302) to the leader, as
//!   a long-lived stream should not run through a standby that may die;
//! - a forwarded request carries `X-Marathon-Via: 1.1 <standby>`, and an
//!   instance that finds its own name there refuses it ("Detected proxying
//!   loop.", 502): two instances that each think the other leads would
//!   otherwise bounce a request between them for ever;
//! - with no leader known after a short wait, 502 "Could not determine
//!   the current leader".

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, Uri, header::LOCATION},
    middleware::Next,
    response::{IntoResponse, Response},
};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};

use super::{Leadership, Who};
use crate::api::ApiError;

pub const LEADER_HEADER: &str = "X-Marathon-Leader";
pub const VIA_HEADER: &str = "X-Marathon-Via";

/// The forwarding client and what it needs to know.
#[derive(Clone)]
pub struct Proxy {
    leadership: Leadership,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Body>,
}

impl Proxy {
    pub fn new(leadership: Leadership) -> Proxy {
        Proxy {
            leadership,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    fn via(&self) -> String {
        format!("1.1 {}", self.leadership.me)
    }
}

/// The middleware in front of `/v2/…`.
pub async fn to_leader(State(proxy): State<Proxy>, request: Request, next: Next) -> Response {
    let via = proxy.via();
    let looped = request
        .headers()
        .get_all(VIA_HEADER)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.split(',').any(|hop| hop.trim() == via));
    if looped {
        return ApiError::new(StatusCode::BAD_GATEWAY, "Detected proxying loop.").into_response();
    }
    match proxy.leadership.settled().await {
        Who::Me => {
            let mut response = next.run(request).await;
            let leader = format!("http://{}", proxy.leadership.me);
            if let Ok(value) = HeaderValue::from_str(&leader) {
                response.headers_mut().insert(LEADER_HEADER, value);
            }
            response
        }
        Who::Other(leader) => forward(&proxy, &leader, request).await,
        Who::Unknown => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "Could not determine the current leader",
        )
        .into_response(),
    }
}

async fn forward(proxy: &Proxy, leader: &str, mut request: Request) -> Response {
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let url = format!("http://{leader}{path_and_query}");
    if request.uri().path().starts_with("/v2/events") {
        let mut response = StatusCode::FOUND.into_response();
        if let Ok(value) = HeaderValue::from_str(&url) {
            response.headers_mut().insert(LOCATION, value);
        }
        return response;
    }
    let Ok(uri) = url.parse::<Uri>() else {
        return ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("cannot forward to the leader at {leader}"),
        )
        .into_response();
    };
    *request.uri_mut() = uri;
    let via = HeaderValue::from_str(&proxy.via()).expect("a host:port is a header value");
    request.headers_mut().append(VIA_HEADER, via.clone());
    // The Host header is kept: the leader checks a browser's Origin
    // against the host the browser asked (`web/security.rs`).
    match proxy.client.request(request).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            parts.headers.append(VIA_HEADER, via);
            Response::from_parts(parts, Body::new(body))
        }
        Err(error) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("the leader at {leader} did not answer: {error}"),
        )
        .into_response(),
    }
}
