//! Deployments that keep the app serving, end to end on the simulated
//! master: a rolling restart stays within the app's upgrade strategy
//! all along, and a crash-looping app is launched less and less often
//! (its delay seen through marathon-python).

mod common;

use std::{collections::BTreeSet, time::Duration};

use common::{require_marathon_python, run_client_scenario, start_five_k};
use mesos::testing::{WAIT, eventually, web};
use serde_json::{Value, json};

/// The app's tasks: (state, version) of each.
async fn tasks(url: &str, app: &str) -> Vec<(String, String)> {
    let body = web::get(&format!("{url}/v2/apps{app}/tasks")).await.json();
    body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let field = |name: &str| t[name].as_str().unwrap_or_default().to_string();
            (field("state"), field("version"))
        })
        .collect()
}

async fn deployments(url: &str) -> Vec<Value> {
    let body = web::get(&format!("{url}/v2/deployments")).await.json();
    body.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_restart_stays_within_the_upgrade_strategy() {
    let (_five_k, url) = start_five_k().await;
    // At least ⌈4 × 0.5⌉ = 2 running, at most ⌊4 × 1⌋ = 4 alive: two
    // old tasks go at once, and each new one waits for room.
    let (min, max) = (2, 4);
    // Each task serves HTTP and is checked by 5K: a new task counts only
    // once a check passed, which takes long enough to see old and new
    // tasks side by side (a `sleep` would be replaced in a blink).
    let app = json!({
        "id": "/roll", "cpus": 0.01, "mem": 16, "instances": 4,
        "cmd": "exec /usr/bin/python3 -m http.server $PORT0 --bind 127.0.0.1",
        "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0,
            "delaySeconds": 0, "intervalSeconds": 2, "timeoutSeconds": 1, "gracePeriodSeconds": 30}],
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0},
    });
    let created = web::send(
        &format!("{url}/v2/apps"),
        "POST",
        Some("application/json"),
        app.to_string().into(),
    )
    .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    let first: Vec<_> = eventually("4 running tasks", async || {
        let tasks = tasks(&url, "/roll").await;
        let running = tasks.iter().filter(|(s, _)| s == "TASK_RUNNING").count();
        (running == 4 && deployments(&url).await.is_empty()).then_some(tasks)
    })
    .await;
    let old_version = first[0].1.clone();

    let restart = web::send(
        &format!("{url}/v2/apps/roll/restart"),
        "POST",
        None,
        "".into(),
    )
    .await;
    assert_eq!(restart.status.as_u16(), 200, "{}", restart.body);
    let deployment_id = restart.json()["deploymentId"].as_str().unwrap().to_string();

    // Poll until the deployment ends, checking the bounds at each look.
    let deadline = tokio::time::Instant::now() + WAIT;
    let (mut least, mut most, mut mixed, mut seen_action) = (usize::MAX, 0, false, false);
    loop {
        let tasks = tasks(&url, "/roll").await;
        let running = tasks.iter().filter(|(s, _)| s == "TASK_RUNNING").count();
        let versions: BTreeSet<&String> = tasks.iter().map(|(_, v)| v).collect();
        (least, most) = (least.min(running), most.max(tasks.len()));
        mixed |= versions.len() > 1;
        assert!(running >= min, "{running} running: {tasks:?}");
        assert!(tasks.len() <= max, "{} alive: {tasks:?}", tasks.len());
        let deployments = deployments(&url).await;
        let ours = deployments.iter().find(|d| d["id"] == deployment_id);
        match ours {
            Some(deployment) => {
                seen_action |= deployment["currentActions"][0]["action"] == "RestartApplication"
                    && deployment["steps"][0]["actions"][0]["app"] == "/roll";
            }
            None => break,
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the restart did not end"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!("running tasks: least {least}, alive at most {most}; mixed versions seen: {mixed}");
    assert!(
        seen_action,
        "the deployment's step was visible while it ran"
    );
    assert!(mixed, "old and new tasks ran side by side");
    let after = tasks(&url, "/roll").await;
    assert_eq!(after.len(), 4, "{after:?}");
    assert!(
        after
            .iter()
            .all(|(state, version)| state == "TASK_RUNNING" && *version != old_version),
        "{after:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_looping_app_waits_longer_after_each_failure() {
    require_marathon_python();
    let (_five_k, url) = start_five_k().await;
    run_client_scenario("backoff_client.py", &[&url]).await;
}
