//! The web page, route by route, against the real framework on the
//! simulated master and a real ZooKeeper: what each route answers, a good
//! count stored (fenced) and acted on, every kind of bad input refused
//! with the reason and nothing changed, forged forms refused, a standby
//! handing the form to the leader, and no leader at all.

use std::collections::BTreeSet;

use http::StatusCode;
use mesos::{
    leader::current_leader,
    testing::{web::*, *},
};

/// The framework under test: this step's binary (Cargo names it after
/// the package, so the line is the same in every step).
const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));

/// The CSRF token in a page's form.
fn token(page: &str) -> String {
    let (_, rest) = page
        .split_once(r#"name="csrf" value=""#)
        .unwrap_or_else(|| panic!("no token in {page}"));
    rest.split('"').next().unwrap().to_string()
}

/// The stored instance count.
async fn stored_count(cluster: &Cluster) -> Option<String> {
    cluster.stored().await.instances
}

#[tokio::test]
async fn every_route_answers() {
    let cluster = Cluster::start(BINARY).await;
    let framework = cluster.framework(&[]);
    let (framework_id, running) = cluster.wait_for_running(2).await;
    let url = framework.web_url().await;

    let page = eventually("the page listing both tasks as running", async || {
        let page = get(&format!("{url}/")).await;
        let (_, table) = page.body.split_once(r#"<table id="running">"#)?;
        let table = table.split("</table>").next()?;
        running
            .keys()
            .all(|task| table.contains(task))
            .then_some(page)
    })
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header("content-type").starts_with("text/html"));
    assert_eq!(page.header("x-frame-options"), "DENY");
    for expected in [
        "the <strong>leader</strong>",
        framework_id.as_str(),
        r#"<dd id="instances">2</dd>"#,
        r#"<table id="running">"#,
        "Staging tasks",
        &cluster.master.addr().to_string(),
        r#"name="instances""#,
    ] {
        assert!(
            page.body.contains(expected),
            "{expected:?} missing:\n{}",
            page.body
        );
    }

    let css = get(&format!("{url}/style.css")).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.header("content-type").starts_with("text/css"));

    let state = get(&format!("{url}/api/state")).await;
    assert_eq!(state.status, StatusCode::OK);
    let state = state.json();
    assert_eq!(state["role"], "leader");
    assert_eq!(state["leader"], url.as_str());
    assert_eq!(state["leading"]["framework_id"], framework_id.as_str());
    assert_eq!(state["leading"]["instances"], 2);
    let ids: BTreeSet<&str> = state["leading"]["running"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, running.keys().map(String::as_str).collect());
    let task = &state["leading"]["running"][0];
    assert_eq!(task["state"], "TASK_RUNNING");
    assert!(task["started"].as_str().unwrap().ends_with("UTC"));

    let health = get(&format!("{url}/health")).await;
    assert_eq!(
        (health.status, health.body.as_str()),
        (StatusCode::OK, "leader")
    );
    assert_eq!(
        get(&format!("{url}/nope")).await.status,
        StatusCode::NOT_FOUND
    );
    let put = send(&format!("{url}/"), "PUT", None, Default::default()).await;
    assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED);
    let get_api = get(&format!("{url}/api/instances")).await;
    assert_eq!(get_api.status, StatusCode::METHOD_NOT_ALLOWED);

    // The Mesos UI links the framework to the leader's page.
    let state = cluster.master.state();
    let info = &state.framework(&framework_id).unwrap().info;
    assert_eq!(info.webui_url.as_deref(), Some(url.as_str()));
}

#[tokio::test]
async fn a_new_count_is_stored_then_acted_on() {
    let cluster = Cluster::start(BINARY).await;
    let framework = cluster.framework(&[]);
    let (framework_id, first) = cluster.wait_for_running(2).await;
    let url = framework.web_url().await;
    let csrf = token(&get(&format!("{url}/")).await.body);

    let saved = post_form(&format!("{url}/"), &[("instances", "3"), ("csrf", &csrf)]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.header("location"), "/?saved=3");
    // Stored before the answer: ZooKeeper holds it already.
    assert_eq!(stored_count(&cluster).await.as_deref(), Some("3"));
    let (_, three) = cluster.wait_for_running(3).await;
    // The master knows a task runs a moment before the framework hears of
    // it: wait until the framework has seen all three start, or it cannot
    // know which ran longest.
    eventually("the framework seeing the three tasks run", async || {
        let state = get(&format!("{url}/api/state")).await.json();
        let seen: BTreeSet<&str> = state["leading"]["running"]
            .as_array()?
            .iter()
            .filter_map(|task| task["id"].as_str())
            .collect();
        three
            .keys()
            .all(|task| seen.contains(task.as_str()))
            .then_some(())
    })
    .await;
    assert!(
        first.keys().all(|task| three.contains_key(task)),
        "none killed"
    );
    let after = get(&format!("{url}/?saved=3")).await;
    assert!(
        after.body.contains("Saved: 3 tasks to run."),
        "{}",
        after.body
    );
    assert!(after.body.contains(r#"<dd id="instances">3</dd>"#));

    // Fewer: the most recently started go (the one added above).
    let down = post_form(&format!("{url}/"), &[("instances", "2"), ("csrf", &csrf)]).await;
    assert_eq!(down.status, StatusCode::SEE_OTHER, "{}", down.body);
    let (running_id, two) = cluster.wait_for_running(2).await;
    assert_eq!(running_id, framework_id);
    assert_eq!(two, first, "the two that ran longest are kept");
    assert_eq!(stored_count(&cluster).await.as_deref(), Some("2"));

    // The JSON endpoint does the same, for scripts.
    let api = post(
        &format!("{url}/api/instances"),
        Some("application/json"),
        r#"{"instances": 1}"#,
    )
    .await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    assert_eq!(api.json()["instances"], 1);
    cluster.wait_for_running(1).await;
}

#[tokio::test]
async fn bad_input_is_refused_with_the_reason_and_changes_nothing() {
    let cluster = Cluster::start(BINARY).await;
    let framework = cluster.framework(&["--max-instances", "10"]);
    let (_, running) = cluster.wait_for_running(2).await;
    let url = framework.web_url().await;
    let csrf = token(&get(&format!("{url}/")).await.body);

    for (typed, reason) in [
        ("", "Enter how many tasks to run."),
        ("abc", "is not a whole number."),
        ("2.5", "is not a whole number."),
        ("-1", "The number of tasks cannot be negative."),
        ("11", "At most 10 tasks can run (--max-instances)."),
    ] {
        let page = post_form(&format!("{url}/"), &[("instances", typed), ("csrf", &csrf)]).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{typed:?}");
        // The page comes back with the reason next to the field, and what
        // was typed still in it.
        let error = r#"<p class="error" id="instances-error" role="alert">"#;
        let (_, after) = page
            .body
            .split_once(error)
            .unwrap_or_else(|| panic!("{}", page.body));
        let shown = after.split("</p>").next().unwrap();
        assert!(
            shown
                .replace("&quot;", "\"")
                .replace("&#34;", "\"")
                .contains(reason),
            "{typed:?}: {shown}"
        );
        assert!(
            page.body.contains(&format!(r#"value="{typed}""#)),
            "{typed:?}"
        );
    }
    // Forged forms: no token, or another one.
    for fields in [
        vec![("instances", "3")],
        vec![("instances", "3"), ("csrf", "forged")],
    ] {
        let page = post_form(&format!("{url}/"), &fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{fields:?}");
    }
    // The JSON endpoint: only JSON (a browser cannot send it cross-site
    // without asking), and the same checks.
    let api = |body: &'static str, content_type: Option<&'static str>| {
        let url = format!("{url}/api/instances");
        async move { post(&url, content_type, body).await }
    };
    let form_encoded = api("instances=3", Some("application/x-www-form-urlencoded")).await;
    assert_eq!(form_encoded.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        api(r#"{"instances":3}"#, None).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    for body in [
        r#"{"instances": -3}"#,
        r#"{"instances": 11}"#,
        r#"{"count": 3}"#,
        "[3",
    ] {
        let refused = api(body, Some("application/json")).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(refused.json()["error"].is_string(), "{body}");
    }

    // Nothing changed: the count, the tasks.
    assert_eq!(stored_count(&cluster).await.as_deref(), Some("2"));
    let state = cluster.master.state();
    let (_, still) = cluster.wait_for_running(2).await;
    assert_eq!(still, running);
    assert_eq!(state.tasks.len(), 2, "nothing launched or killed");
}

#[tokio::test]
async fn a_standby_hands_the_form_to_the_leader() {
    let cluster = Cluster::start(BINARY).await;
    let first = cluster.framework(&[]);
    let second = cluster.framework(&[]);
    cluster.wait_for_running(2).await;
    let urls = [first.web_url().await, second.web_url().await];
    let client = cluster.zookeeper_client().await;
    let leader = eventually("a leader", async || {
        current_leader(&client, &cluster.root).await.ok()?
    })
    .await
    .id;
    let standby = urls.iter().find(|url| **url != leader).unwrap();

    let page = get(&format!("{standby}/")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("a <strong>standby</strong>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!(r#"<a href="{leader}">"#)),
        "{}",
        page.body
    );
    assert_eq!(get(&format!("{standby}/health")).await.body, "standby");

    // Checked against the standby's own token, then handed to the leader.
    let csrf = token(&page.body);
    let sent = post_form(
        &format!("{standby}/"),
        &[("instances", "3"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    assert_eq!(sent.header("location"), format!("{leader}/?forwarded=3"));
    assert_eq!(stored_count(&cluster).await.as_deref(), Some("3"));
    cluster.wait_for_running(3).await;
    let landed = get(&format!("{leader}/?forwarded=3")).await;
    assert!(
        landed.body.contains("which took it: 3 tasks"),
        "{}",
        landed.body
    );

    // The leader's token is not the standby's.
    let leaders_token = token(&get(&format!("{leader}/")).await.body);
    let forged = post_form(
        &format!("{standby}/"),
        &[("instances", "1"), ("csrf", &leaders_token)],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // And a standby's JSON endpoint says who leads instead.
    let api = post(
        &format!("{standby}/api/instances"),
        Some("application/json"),
        r#"{"instances": 1}"#,
    )
    .await;
    assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(api.json()["error"].as_str().unwrap().contains(&leader));
    assert_eq!(stored_count(&cluster).await.as_deref(), Some("3"));
}

// Several threads: stopping and starting ZooKeeper blocks one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_zookeeper_nobody_leads_and_the_form_is_refused() {
    let mut cluster = Cluster::start(BINARY).await;
    let framework = cluster.framework(&[]);
    cluster.wait_for_running(2).await;
    let url = framework.web_url().await;
    assert_eq!(get(&format!("{url}/health")).await.status, StatusCode::OK);

    // The session is disconnected: the leader cannot know whether it still
    // leads, and says so.
    tokio::task::block_in_place(|| cluster.zookeeper.stop());
    let health = eventually("/health answering 503", async || {
        let health = get(&format!("{url}/health")).await;
        (health.status == StatusCode::SERVICE_UNAVAILABLE).then_some(health)
    })
    .await;
    assert_eq!(health.body, "suspended");
    let page = get(&format!("{url}/")).await;
    let csrf = token(&page.body);
    let refused = post_form(&format!("{url}/"), &[("instances", "3"), ("csrf", &csrf)]).await;
    assert!(
        refused.status == StatusCode::SERVICE_UNAVAILABLE
            || refused.status == StatusCode::BAD_GATEWAY,
        "{}: {}",
        refused.status,
        refused.body
    );

    // A new instance started while ZooKeeper is away knows no leader.
    let lonely = cluster.framework(&[]);
    let lonely_url = lonely.web_url().await;
    let page = get(&format!("{lonely_url}/")).await;
    assert!(
        page.body.contains("No instance leads right now."),
        "{}",
        page.body
    );
    let csrf = token(&page.body);
    let refused = post_form(
        &format!("{lonely_url}/"),
        &[("instances", "3"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("No instance leads right now"),
        "{}",
        refused.body
    );

    // ZooKeeper back: the first instance leads again.
    tokio::task::block_in_place(|| cluster.zookeeper.restart());
    eventually("/health answering 200 again", async || {
        let health = get(&format!("{url}/health")).await;
        (health.status == StatusCode::OK).then_some(())
    })
    .await;
    assert_eq!(
        stored_count(&cluster).await.as_deref(),
        Some("2"),
        "nothing changed"
    );
}
