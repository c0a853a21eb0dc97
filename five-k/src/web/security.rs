//! Who may use 5K over HTTP, and what a page of another site may not do.
//!
//! # Who may look
//!
//! 5K listens on 127.0.0.1 unless told otherwise. Served to the room, it
//! can be guarded with HTTP basic authentication (`--web-credential`, a
//! file as Mesos' `--credential`, so that the secret never shows in `ps`).
//! The guard covers the page **and the whole REST API**, as Marathon's
//! `--http_credentials` does (`HttpModule.scala` guards `/*`): a page
//! that only hides what the API hands to anyone would guard nothing.
//! marathon-python sends the credential when given `username` and
//! `password`. One route is left open: `/ping`, which load balancers poll
//! and which tells nothing (Marathon guards it too; its users then point
//! their balancers at an authenticated URL, which most cannot do).
//!
//! # Forged forms
//!
//! Any web page the browser visits could hold a form that posts here: a
//! *cross-site request forgery*, which the browser would send with the
//! credential it remembers. Two defences, as step 05's:
//!
//! - the scale form carries a token, random for each process and written
//!   into the page it serves (`routes.rs` checks it); a page from
//!   elsewhere cannot read it, so its forms lack it;
//! - a browser names the page a request comes from in its `Origin`
//!   header. Any request that changes something (not GET or HEAD) whose
//!   `Origin` is another site is refused here, before a handler reads it.
//!   This covers the API too: it reads JSON whatever the `Content-Type`,
//!   so a forged form of type `text/plain` could otherwise post an app.
//!   Programs (Marathon's clients, `curl`) send no `Origin`, and pass.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use mesos::Credentials;
use serde_json::json;

/// The route left open to anyone.
const OPEN: &str = "/ping";

/// What a browser shows in its password prompt.
const REALM: &str = "Basic realm=\"5K\"";

/// Guards every route of `router`: the credential if there is one, and
/// the `Origin` of requests that change something.
pub fn protect(router: Router, credential: Option<Credentials>) -> Router {
    if let Some(credential) = &credential {
        tracing::info!(
            "the web page and the API ask for the principal {:?} and its secret (all but {OPEN})",
            credential.principal
        );
    }
    let guard = Arc::new(credential);
    router.layer(middleware::from_fn_with_state(guard, check))
}

async fn check(
    State(credential): State<Arc<Option<Credentials>>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(credential) = credential.as_ref() {
        let authorized = credential.authorizes(request.headers().get(header::AUTHORIZATION));
        if !authorized && request.uri().path() != OPEN {
            return unauthorized();
        }
    }
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    if !safe && from_another_site(request.headers()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "Refused: this request comes from a page of another site.",
        );
    }
    next.run(request).await
}

/// Whether a browser sent this request from a page of another site: its
/// `Origin` is not the address the request was sent to (`Host`), over
/// http or https (a proxy may add TLS in front). `Origin: null`, from a
/// sandboxed or local page, is another site too.
fn from_another_site(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false; // not from a page: a program
    };
    let origin = origin.to_str().unwrap_or("null");
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return true;
    };
    let ours = ["http://", "https://"].iter().any(|scheme| {
        origin
            .strip_prefix(scheme)
            .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
    });
    !ours
}

/// 401 with the challenge that makes a browser ask for the credential.
fn unauthorized() -> Response {
    let mut response = refuse(
        StatusCode::UNAUTHORIZED,
        "This 5K needs a principal and secret (HTTP basic authentication).",
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
    response
}

/// A refusal in the shape of the API's errors: clients show `message`.
fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn only_pages_of_this_host_may_send_changes() {
        let host = ("host", "127.0.0.1:8080");
        assert!(!from_another_site(&headers(&[host])), "a program");
        for ours in ["http://127.0.0.1:8080", "https://127.0.0.1:8080"] {
            assert!(
                !from_another_site(&headers(&[host, ("origin", ours)])),
                "{ours}"
            );
        }
        for foreign in [
            "http://evil.example",
            "http://127.0.0.1:8081",
            "http://127.0.0.1:8080.evil.example",
            "ftp://127.0.0.1:8080",
            "null",
            "127.0.0.1:8080",
        ] {
            assert!(
                from_another_site(&headers(&[host, ("origin", foreign)])),
                "{foreign}"
            );
        }
        assert!(
            from_another_site(&headers(&[("origin", "http://127.0.0.1:8080")])),
            "no Host to compare with"
        );
    }
}
