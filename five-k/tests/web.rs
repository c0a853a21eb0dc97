//! 5K's web page over HTTP, as a browser (or a forger) sends it: the
//! binary on a simulated master, driven with the kit's test client.

mod common;

use common::{require_marathon_python, run_client_scenario};

use axum::body::Bytes;
use mesos::testing::{
    Framework, eventually,
    web::{self, WebResponse},
};

const JSON: Option<&str> = Some("application/json");
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

/// Starts 5K on a free port, with `args`; returns it and its URL.
async fn start(args: &[&str]) -> (Framework, String) {
    common::start_with(args).await
}

/// `method url` with `headers` (an `Authorization`, an `Origin`).
async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    content_type: Option<&str>,
    body: &str,
) -> WebResponse {
    let body = Bytes::from(body.to_string());
    web::send_with(url, method, headers, content_type, body).await
}

async fn create_app(url: &str, headers: &[(&str, &str)], app: serde_json::Value) -> WebResponse {
    send(
        "POST",
        &format!("{url}/v2/apps"),
        headers,
        JSON,
        &app.to_string(),
    )
    .await
}

/// The app's `instances`, as the API says.
async fn instances(url: &str, app: &str) -> u64 {
    let response = web::get(&format!("{url}/v2/apps{app}")).await;
    response.json()["app"]["instances"]
        .as_u64()
        .unwrap_or_else(|| panic!("no instances in {}", response.body))
}

/// The scale form's token, read from an app's page as a browser would.
fn csrf_of(page: &WebResponse) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page
        .body
        .find(marker)
        .unwrap_or_else(|| panic!("no token in {}", page.body))
        + marker.len();
    let end = start + page.body[start..].find('"').expect("a closing quote");
    page.body[start..end].to_string()
}

/// POSTs the scale form with `fields`, from a page at `origin` (`None`:
/// no Origin, as a program sends).
async fn post_scale(
    url: &str,
    app: &str,
    origin: Option<&str>,
    fields: &[(&str, &str)],
) -> WebResponse {
    let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
    let body = web::form_body(fields);
    send(
        "POST",
        &format!("{url}/ui/apps{app}"),
        &headers,
        FORM,
        &body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_lists_an_app_created_through_the_api() {
    let (_five_k, url) = start(&[]).await;
    let root = web::get(&format!("{url}/")).await;
    assert_eq!(root.status, 302);
    assert_eq!(root.header("location"), "/ui/");

    let app = serde_json::json!({"id": "/shop/web", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 2});
    assert_eq!(create_app(&url, &[], app).await.status, 201);
    let list = web::get(&format!("{url}/ui/")).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.header("content-type"), "text/html; charset=utf-8");
    assert!(
        list.body.contains(r#"<a href="/ui/apps/shop/web">"#),
        "{}",
        list.body
    );

    // The app's page shows its tasks as they start.
    let page = eventually("two running tasks on the app's page", async || {
        let page = web::get(&format!("{url}/ui/apps/shop/web")).await;
        (page.body.matches("<td>TASK_RUNNING</td>").count() == 2).then_some(page)
    })
    .await;
    assert!(page.body.contains("shop_web."), "task ids: {}", page.body);
    assert_eq!(page.header("x-frame-options"), "DENY");
    let missing = web::get(&format!("{url}/ui/apps/nothing/here")).await;
    assert_eq!(missing.status, 404);
    assert!(
        missing
            .body
            .contains("App &#39;/nothing/here&#39; does not exist"),
        "{}",
        missing.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scale_form_needs_the_token_and_this_sites_origin() {
    let (_five_k, url) = start(&[]).await;
    let app = serde_json::json!({"id": "/shop/web", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1});
    assert_eq!(create_app(&url, &[], app).await.status, 201);
    let page = web::get(&format!("{url}/ui/apps/shop/web")).await;
    let token = csrf_of(&page);
    let ours = url.as_str();

    let refused = [
        (Some(ours), vec![("instances", "3")], "no token"),
        (
            Some(ours),
            vec![("instances", "3"), ("csrf", "guessed")],
            "a wrong token",
        ),
        (
            Some("http://evil.example"),
            vec![("instances", "3"), ("csrf", &token)],
            "another site's page",
        ),
        (
            Some("null"),
            vec![("instances", "3"), ("csrf", &token)],
            "a sandboxed page",
        ),
    ];
    for (origin, fields, what) in refused {
        let response = post_scale(&url, "/shop/web", origin, &fields).await;
        assert_eq!(response.status, 403, "{what}: {}", response.body);
        assert_eq!(
            instances(&url, "/shop/web").await,
            1,
            "{what} changed nothing"
        );
    }
    let bad = post_scale(
        &url,
        "/shop/web",
        Some(ours),
        &[("instances", "-2"), ("csrf", &token)],
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("cannot be negative"), "{}", bad.body);

    // Scaling while the app's creation deploys would be a 409 (see the
    // next test): wait for it to end.
    eventually("the creation to end", async || {
        let deployments = web::get(&format!("{url}/v2/deployments")).await;
        (deployments.json() == serde_json::json!([])).then_some(())
    })
    .await;
    let scaled = post_scale(
        &url,
        "/shop/web",
        Some(ours),
        &[("instances", "3"), ("csrf", &token)],
    )
    .await;
    assert_eq!(scaled.status, 303, "{}", scaled.body);
    assert_eq!(scaled.header("location"), "/ui/apps/shop/web?scaled=3");
    assert_eq!(instances(&url, "/shop/web").await, 3);
    eventually("three tasks running", async || {
        let page = web::get(&format!("{url}/ui/apps/shop/web?scaled=3")).await;
        let notice = page.body.contains("Scaling to 3 instances");
        (notice && page.body.matches("<td>TASK_RUNNING</td>").count() == 3).then_some(())
    })
    .await;

    // The form scales apps; it does not create them as `PUT` would.
    let unknown = post_scale(
        &url,
        "/nothing",
        Some(ours),
        &[("instances", "3"), ("csrf", &token)],
    )
    .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(
        web::get(&format!("{url}/v2/apps/nothing")).await.status,
        404
    );

    // The API's changes are guarded by the Origin check too.
    let forged = serde_json::json!({"id": "/forged", "cmd": "sleep 1000"});
    let response = create_app(&url, &[("origin", "http://evil.example")], forged).await;
    assert_eq!(response.status, 403, "{}", response.body);
    assert_eq!(web::get(&format!("{url}/v2/apps/forged")).await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_app_shows_marathons_message_and_can_be_forced() {
    let (_five_k, url) = start(&[]).await;
    // More CPUs than any simulated agent has: its deployment never ends.
    let app = serde_json::json!({"id": "/big", "cmd": "sleep 1000", "cpus": 1000, "instances": 1});
    assert_eq!(create_app(&url, &[], app).await.status, 201);
    let token = csrf_of(&web::get(&format!("{url}/ui/apps/big")).await);

    let locked = post_scale(&url, "/big", None, &[("instances", "2"), ("csrf", &token)]).await;
    assert_eq!(locked.status, 409, "{}", locked.body);
    assert!(
        locked
            .body
            .contains("App is locked by one or more deployments."),
        "{}",
        locked.body
    );
    assert!(
        locked.body.contains(r#"name="force" value="true""#),
        "{}",
        locked.body
    );
    assert_eq!(instances(&url, "/big").await, 1);

    let forced = post_scale(
        &url,
        "/big",
        None,
        &[("instances", "2"), ("csrf", &token), ("force", "true")],
    )
    .await;
    assert_eq!(forced.status, 303, "{}", forced.body);
    assert_eq!(instances(&url, "/big").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn html_in_an_app_is_shown_as_text() {
    let (_five_k, url) = start(&[]).await;
    let hostile = "<script>alert(1)</script>";
    let app = serde_json::json!({
        "id": "/hostile", "cmd": format!("echo '{hostile}'; sleep 1000"), "cpus": 0.1, "mem": 16,
        "labels": {"note": hostile}, "env": {"NOTE": hostile},
    });
    assert_eq!(create_app(&url, &[], app).await.status, 201);
    let page = web::get(&format!("{url}/ui/apps/hostile")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<script"), "{}", page.body);
    assert_eq!(
        page.body
            .matches("&#60;script&#62;alert(1)&#60;/script&#62;")
            .count(),
        3,
        "cmd, label and env, as text: {}",
        page.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_credential_guards_the_page_and_the_api_but_not_ping() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web-credential");
    std::fs::write(&file, r#"{"principal": "ops", "secret": "s3cret"}"#).unwrap();
    let (_five_k, url) = start(&["--web-credential", file.to_str().unwrap()]).await;
    // base64("ops:s3cret") and base64("ops:wrong")
    let right = [("authorization", "Basic b3BzOnMzY3JldA==")];
    let wrong = [("authorization", "Basic b3BzOndyb25n")];

    let ping = web::get(&format!("{url}/ping")).await;
    assert_eq!((ping.status.as_u16(), ping.body.as_str()), (200, "pong"));
    for path in [
        "/",
        "/ui/",
        "/ui/apps/x",
        "/ui/style.css",
        "/v2/apps",
        "/v2/info",
        "/v2/tasks",
    ] {
        for headers in [&[][..], &wrong[..]] {
            let response = send("GET", &format!("{url}{path}"), headers, None, "").await;
            assert_eq!(response.status, 401, "{path} {headers:?}");
            assert_eq!(response.header("www-authenticate"), "Basic realm=\"5K\"");
        }
    }
    let app = serde_json::json!({"id": "/x", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16});
    assert_eq!(create_app(&url, &wrong, app.clone()).await.status, 401);
    let apps = send("GET", &format!("{url}/v2/apps"), &right, None, "").await;
    assert_eq!(
        apps.json()["apps"],
        serde_json::json!([]),
        "the refused POST created nothing"
    );

    assert_eq!(create_app(&url, &right, app).await.status, 201);
    let page = send("GET", &format!("{url}/ui/"), &right, None, "").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/ui/apps/x"), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn marathon_python_sends_the_credential() {
    require_marathon_python();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web-credential");
    std::fs::write(&file, r#"{"principal": "ops", "secret": "s3cret"}"#).unwrap();
    let (_five_k, url) = start(&["--web-credential", file.to_str().unwrap()]).await;
    run_client_scenario("web_credential.py", &[&url, "ops", "s3cret"]).await;
}
