//! Bad input, end to end: whatever a client sends as an app, 5K answers
//! with a 4xx that says what is wrong, and stores nothing.
//!
//! A wrong type in each field of an app (one table), ids that climb out
//! of the tree with `..` or are not DNS names, bodies over the limit, JSON
//! nested deeper than any app needs (a parser that recursed on it would
//! overflow its stack and take 5K down), bytes that are not UTF-8 and
//! numbers no type holds. The fuzz target `app_json` tries the same
//! module with any bytes; this test checks the answers over HTTP.

mod common;

use common::start_five_k;
use mesos::testing::{
    eventually,
    web::{self, WebResponse},
};
use serde_json::{Value, json};
use tokio::{io::AsyncWriteExt, net::TcpStream};

async fn call(method: &str, url: &str, body: impl Into<axum::body::Bytes>) -> WebResponse {
    web::send(url, method, Some("application/json"), body.into()).await
}

/// What `GET /v2/apps` shows: after a refusal, exactly what it showed before.
async fn apps(url: &str) -> Value {
    let response = web::get(&format!("{url}/v2/apps")).await;
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()
}

/// A status in 4xx and a message saying why; returns the body.
fn refused(response: &WebResponse, status: u16) -> Value {
    assert_eq!(response.status.as_u16(), status, "{}", response.body);
    let body = response.json();
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no reason given: {body}"
    );
    body
}

/// A valid app, to spoil one field of.
fn valid_app() -> Value {
    json!({"id": "/good", "cmd": "sleep 1000", "cpus": 0.01, "mem": 16, "instances": 1})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_type_in_any_field_is_refused_naming_the_field_and_nothing_is_stored() {
    let (_five_k, url) = start_five_k().await;
    // One app exists, so that a refused PUT has something to spoil.
    let created = call("POST", &format!("{url}/v2/apps"), valid_app().to_string()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    eventually("the app to run", async || {
        let app = apps(&url).await;
        let running =
            app["apps"][0]["tasksRunning"] == 1 && app["apps"][0]["deployments"] == json!([]);
        running.then_some(())
    })
    .await;
    let before = apps(&url).await;

    // (field, a value of the wrong type, Marathon's path, its error).
    let table: &[(&str, Value, &str, &str)] = &[
        ("id", json!(5), "/id", "error.expected.jsstring"),
        ("cmd", json!(["sleep"]), "/cmd", "error.expected.jsstring"),
        ("args", json!("sleep 1"), "/args", "error.expected.jsarray"),
        ("args", json!([1]), "/args(0)", "error.expected.jsstring"),
        ("user", json!({}), "/user", "error.expected.jsstring"),
        ("env", json!(["A=1"]), "/env", "error.expected.jsobject"),
        ("env", json!({"A": 1}), "/env/A", "error.expected.jsstring"),
        (
            "instances",
            json!("2"),
            "/instances",
            "error.expected.jsnumber",
        ),
        (
            "instances",
            json!(1.5),
            "/instances",
            "error.expected.jsnumber",
        ),
        ("instances", json!(-1), "/instances", "error.min"),
        ("cpus", json!("1"), "/cpus", "error.expected.jsnumber"),
        ("mem", json!(true), "/mem", "error.expected.jsnumber"),
        ("disk", json!({}), "/disk", "error.expected.jsnumber"),
        ("gpus", json!(-1), "/gpus", "error.min"),
        ("executor", json!(1), "/executor", "error.expected.jsstring"),
        (
            "constraints",
            json!("hostname:UNIQUE"),
            "/constraints",
            "error.expected.jsarray",
        ),
        (
            "constraints",
            json!(["hostname"]),
            "/constraints(0)",
            "error.expected.jsarray",
        ),
        ("uris", json!("http://x"), "/uris", "error.expected.jsarray"),
        (
            "fetch",
            json!([{"uri": 1}]),
            "/fetch(0)/uri",
            "error.expected.jsstring",
        ),
        (
            "fetch",
            json!([{"uri": "x", "extract": "no"}]),
            "/fetch(0)/extract",
            "error.expected.jsboolean",
        ),
        (
            "ports",
            json!(["80"]),
            "/ports(0)",
            "error.expected.jsnumber",
        ),
        (
            "portDefinitions",
            json!([{"port": "80"}]),
            "/portDefinitions(0)/port",
            "error.expected.jsnumber",
        ),
        (
            "portDefinitions",
            json!([{"port": 80, "labels": []}]),
            "/portDefinitions(0)/labels",
            "error.expected.jsobject",
        ),
        (
            "requirePorts",
            json!("yes"),
            "/requirePorts",
            "error.expected.jsboolean",
        ),
        (
            "backoffSeconds",
            json!("1"),
            "/backoffSeconds",
            "error.expected.jsnumber",
        ),
        (
            "backoffFactor",
            json!([]),
            "/backoffFactor",
            "error.expected.jsnumber",
        ),
        (
            "maxLaunchDelaySeconds",
            json!("5"),
            "/maxLaunchDelaySeconds",
            "error.expected.jsnumber",
        ),
        (
            "container",
            json!("DOCKER"),
            "/container",
            "error.expected.jsobject",
        ),
        (
            "container",
            json!({"docker": {"image": 5}}),
            "/container/docker/image",
            "error.expected.jsstring",
        ),
        (
            "healthChecks",
            json!({}),
            "/healthChecks",
            "error.expected.jsarray",
        ),
        (
            "healthChecks",
            json!([{"intervalSeconds": "5"}]),
            "/healthChecks(0)/intervalSeconds",
            "error.expected.jsnumber",
        ),
        (
            "upgradeStrategy",
            json!(1),
            "/upgradeStrategy",
            "error.expected.jsobject",
        ),
        (
            "upgradeStrategy",
            json!({"minimumHealthCapacity": "1"}),
            "/upgradeStrategy/minimumHealthCapacity",
            "error.expected.jsnumber",
        ),
        (
            "labels",
            json!({"a": 1}),
            "/labels/a",
            "error.expected.jsstring",
        ),
        (
            "taskKillGracePeriodSeconds",
            json!("3"),
            "/taskKillGracePeriodSeconds",
            "error.expected.jsnumber",
        ),
        (
            "killSelection",
            json!(1),
            "/killSelection",
            "error.expected.jsstring",
        ),
        ("version", json!(1), "/version", "error.expected.jsstring"),
    ];
    for (field, value, path, error) in table {
        let mut app = valid_app();
        app["id"] = json!("/spoiled");
        app[*field] = value.clone();
        let posted = call("POST", &format!("{url}/v2/apps"), app.to_string()).await;
        let body = refused(&posted, 422);
        let expected = json!([{"path": path, "errors": [error]}]);
        assert_eq!(body["details"], expected, "POST with {field}: {value}");

        // The same spoiled field in a change of the existing app.
        let change = json!({ *field: value });
        let put = call("PUT", &format!("{url}/v2/apps/good"), change.to_string()).await;
        let body = refused(&put, 422);
        assert_eq!(body["details"], expected, "PUT with {field}: {value}");
    }
    assert_eq!(
        apps(&url).await,
        before,
        "a refused app changed what is stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_that_climb_out_or_are_not_dns_names_are_refused() {
    let (_five_k, url) = start_five_k().await;
    let before = apps(&url).await;
    let empty = "Path must contain at least one path element";
    let not_dns = "must fully match regular expression";
    for (id, reason) in [
        ("/..", empty),
        ("/web/..", empty),
        ("/a/b/../../..", empty),
        ("..", empty),
        ("/a..b", not_dns),
        ("/web/...", not_dns),
        ("/ü", not_dns),
        ("/app-ü", not_dns),
        ("/日本", not_dns),
        // A zero-width space and a right-to-left mark: the id would look
        // like another app's.
        ("/we\u{200b}b", not_dns),
        ("/web\u{200f}", not_dns),
        ("/web\u{0}", not_dns),
    ] {
        let app = json!({"id": id, "cmd": "sleep 1"});
        let posted = call("POST", &format!("{url}/v2/apps"), app.to_string()).await;
        let body = refused(&posted, 422);
        assert_eq!(body["details"][0]["path"], "/id", "{id:?}: {body}");
        let error = body["details"][0]["errors"][0].as_str().unwrap_or_default();
        assert!(error.starts_with(reason), "{id:?}: {body}");
    }
    // In the URL too, percent-encoded.
    for path in ["%2E%2E", "web/%2E%2E", "%C3%BC", "a%2E%2Eb"] {
        let put = call(
            "PUT",
            &format!("{url}/v2/apps/{path}"),
            json!({"cmd": "sleep 1"}).to_string(),
        )
        .await;
        let body = refused(&put, 422);
        assert_eq!(body["details"][0]["path"], "/id", "{path}: {body}");
    }
    assert_eq!(apps(&url).await, before);

    // `..` within the tree is resolved, as Marathon's `canonicalPath`
    // does: the app is `/web`, nothing outside it.
    let app = json!({"id": "/shop/../web", "cmd": "sleep 1", "cpus": 0.01, "mem": 16});
    let posted = call("POST", &format!("{url}/v2/apps"), app.to_string()).await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let ids: Vec<Value> = apps(&url).await["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|app| app["id"].clone())
        .collect();
    assert_eq!(ids, [json!("/web")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn deep_nesting_huge_bodies_and_bytes_that_are_not_json_are_refused() {
    let (_five_k, url) = start_five_k().await;
    let before = apps(&url).await;
    let apps_url = format!("{url}/v2/apps");

    // 10,000 nested arrays in a field, and 100,000 (still under the body
    // limit): refused, not a stack overflow. Where the field's type tells
    // at the first level, that is the reason; where it takes any JSON
    // (a container's volumes), the parser's depth limit is.
    for depth in [10_000, 100_000] {
        let nested = |open: &str, inner: &str, close: &str| {
            format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
        };
        let in_args = format!(
            r#"{{"id": "/deep", "cmd": "x", "args": {}}}"#,
            nested("[", "", "]")
        );
        let body = refused(&call("POST", &apps_url, in_args.clone()).await, 422);
        assert_eq!(body["details"][0]["path"], "/args(0)", "{body}");
        let in_labels = format!(
            r#"{{"id": "/deep", "cmd": "x", "labels": {}}}"#,
            nested(r#"{"a":"#, "1", "}")
        );
        let body = refused(&call("POST", &apps_url, in_labels.clone()).await, 422);
        assert_eq!(body["details"][0]["path"], "/labels/a", "{body}");
        let in_volumes = format!(
            r#"{{"id": "/deep", "cmd": "x", "container": {{"type": "MESOS", "volumes": [{}]}}}}"#,
            nested("[", "", "]")
        );
        let body = refused(&call("POST", &apps_url, in_volumes.clone()).await, 422);
        let errors = body["details"][0]["errors"].to_string();
        assert!(errors.contains("recursion limit exceeded"), "{body}");
        for body in [in_args, in_labels, in_volumes] {
            refused(&call("PUT", &format!("{apps_url}/deep"), body).await, 422);
        }
    }

    // Over the limit (1 MiB), with a length or streamed in chunks (no
    // length to refuse it by: the limit counts what arrives).
    let limit = 1024 * 1024;
    let huge = format!(r#"{{"id": "/huge", "cmd": "{}"}}"#, "y".repeat(limit));
    refused(&call("POST", &apps_url, huge.clone()).await, 413);
    refused(
        &call("PUT", &format!("{apps_url}/huge"), huge.clone()).await,
        413,
    );
    let status = post_chunked(&url, "/v2/apps", huge.as_bytes()).await;
    assert_eq!(status, 413, "a chunked body over the limit");

    // Not UTF-8, and numbers no field holds: the field is named.
    let mut not_utf8 = br#"{"id": "/bytes", "cmd": ""#.to_vec();
    not_utf8.extend_from_slice(&[0xff, 0xfe, b'"', b'}']);
    let body = refused(&call("POST", &apps_url, not_utf8).await, 422);
    assert_eq!(body["details"][0]["path"], "/cmd", "{body}");
    let big_float = r#"{"id": "/num", "cmd": "x", "cpus": 1e400}"#;
    let body = refused(&call("POST", &apps_url, big_float).await, 422);
    assert_eq!(body["details"][0]["path"], "/cpus", "{body}");
    let big_integer = r#"{"id": "/num", "cmd": "x", "instances": 1099511627776}"#;
    let body = refused(&call("POST", &apps_url, big_integer).await, 422);
    assert_eq!(body["details"][0]["path"], "/instances", "{body}");

    // 5K is still there, and stored none of it.
    let ping = web::get(&format!("{url}/ping")).await;
    assert_eq!(ping.status, 200);
    assert_eq!(apps(&url).await, before);
}

/// POSTs `body` with `Transfer-Encoding: chunked` (no Content-Length) and
/// returns the answer's status.
async fn post_chunked(url: &str, path: &str, body: &[u8]) -> u16 {
    let address = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connecting");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("a head");
    for chunk in body.chunks(64 * 1024) {
        let size = format!("{:x}\r\n", chunk.len());
        // The server may answer and close before the whole body is sent.
        if stream.write_all(size.as_bytes()).await.is_err()
            || stream.write_all(chunk).await.is_err()
            || stream.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split_whitespace().nth(1).unwrap_or_default();
    status
        .parse()
        .unwrap_or_else(|_| panic!("no status in {answer:?}"))
}
