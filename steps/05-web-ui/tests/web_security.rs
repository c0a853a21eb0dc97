//! The web page's defences, against the real framework on the simulated
//! master and a real ZooKeeper: a POST from a page of another site is
//! refused and changes nothing, whether it carries the form's token or
//! not; and with `--web-credential` every route but `/health` asks for the
//! password, the right one lets the form work, and a standby hands a form
//! to a guarded leader.

use http::StatusCode;
use mesos::testing::{web::*, *};

/// The framework under test.
const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));

/// The CSRF token in a page's form.
fn token(page: &str) -> String {
    let (_, rest) = page
        .split_once(r#"name="csrf" value=""#)
        .unwrap_or_else(|| panic!("no token in {page}"));
    rest.split('"').next().unwrap().to_string()
}

async fn post_with(
    url: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: String,
) -> WebResponse {
    send_with(url, "POST", headers, Some(content_type), body.into()).await
}

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn posts_from_another_site_are_refused_and_change_nothing() {
    let cluster = Cluster::start(BINARY).await;
    let framework = cluster.framework(&[]);
    cluster.wait_for_running(2).await;
    let url = framework.web_url().await;
    let page = get(&format!("{url}/")).await;
    let csrf = token(&page.body);
    let before = cluster.stored().await.instances;

    for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
        let headers = [("Origin", origin)];
        // Even a form with the right token (a page of another site cannot
        // read it, but if it could): the Origin gives it away.
        for fields in [
            vec![("instances", "7"), ("csrf", csrf.as_str())],
            vec![("instances", "7")],
        ] {
            let refused = post_with(&format!("{url}/"), &headers, FORM, form_body(&fields)).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{origin} {fields:?}");
            assert!(refused.body.contains("another site"), "{}", refused.body);
        }
        let api = post_with(
            &format!("{url}/api/instances"),
            &headers,
            "application/json",
            r#"{"instances": 7}"#.into(),
        )
        .await;
        assert_eq!(api.status, StatusCode::FORBIDDEN, "{origin}");
    }
    // A forged form without the token, from no page at all: refused too.
    let forged = post_form(&format!("{url}/"), &[("instances", "7")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // Nothing changed: not the stored count, not the tasks.
    assert_eq!(cluster.stored().await.instances, before);
    let state = get(&format!("{url}/api/state")).await.json();
    assert_eq!(state["leading"]["instances"], 2);

    // The page's own origin is welcome: the check refuses only strangers.
    let own = post_with(
        &format!("{url}/"),
        &[("Origin", url.as_str())],
        FORM,
        form_body(&[("instances", "3"), ("csrf", &csrf)]),
    )
    .await;
    assert_eq!(own.status, StatusCode::SEE_OTHER, "{}", own.body);
    assert_eq!(cluster.stored().await.instances.as_deref(), Some("3"));
}

#[tokio::test]
async fn the_guard_asks_for_the_password_everywhere_but_health() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(concat!(env!("CARGO_PKG_NAME"), "-web-guard"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("web-credential.json");
    std::fs::write(&file, r#"{"principal": "ops", "secret": "hunter2"}"#).unwrap();
    let file = file.to_str().unwrap();

    let cluster = Cluster::start(BINARY).await;
    let leader = cluster.framework(&["--web-credential", file]);
    cluster.wait_for_running(2).await;
    let url = leader.web_url().await;
    // base64("ops:hunter2") and base64("ops:wrong")
    let right = [("Authorization", "Basic b3BzOmh1bnRlcjI=")];
    let wrong = [("Authorization", "Basic b3BzOndyb25n")];

    for path in ["/", "/style.css", "/api/state"] {
        for headers in [&[][..], &wrong[..]] {
            let refused = send_with(&format!("{url}{path}"), "GET", headers, None, "".into()).await;
            assert_eq!(
                refused.status,
                StatusCode::UNAUTHORIZED,
                "{path} {headers:?}"
            );
            assert!(
                refused
                    .header("www-authenticate")
                    .starts_with("Basic realm="),
                "{path}"
            );
        }
    }
    let refused = post_form(&format!("{url}/"), &[("instances", "3")]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&format!("{url}/health")).await.status, StatusCode::OK);

    let page = send_with(&format!("{url}/"), "GET", &right, None, "".into()).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = token(&page.body);

    // A standby with the same credential hands the form to the leader.
    let standby = cluster.framework(&["--web-credential", file]);
    let standby_url = standby.web_url().await;
    eventually("the second instance standing by", async || {
        let state = send_with(
            &format!("{standby_url}/api/state"),
            "GET",
            &right,
            None,
            "".into(),
        )
        .await
        .json();
        (state["role"] == "standby" && state["leader"] == url.as_str()).then_some(())
    })
    .await;
    let standby_page = send_with(&format!("{standby_url}/"), "GET", &right, None, "".into()).await;
    let handed = post_with(
        &format!("{standby_url}/"),
        &right,
        FORM,
        form_body(&[("instances", "3"), ("csrf", &token(&standby_page.body))]),
    )
    .await;
    assert_eq!(handed.status, StatusCode::SEE_OTHER, "{}", handed.body);
    assert_eq!(cluster.stored().await.instances.as_deref(), Some("3"));

    let saved = post_with(
        &format!("{url}/"),
        &right,
        FORM,
        form_body(&[("instances", "2"), ("csrf", &csrf)]),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(cluster.stored().await.instances.as_deref(), Some("2"));
    assert!(!leader.output().contains("hunter2"), "the secret is logged");
}
