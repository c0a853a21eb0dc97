//! 5K's own health checks end to end: tasks that really serve HTTP on the
//! simulated master, checked by 5K, one made to fail; marathon-python
//! (`health.py`) reads the results and the events.

mod common;

use common::{require_marathon_python, run_client_scenario, start_five_k};
use mesos::testing::{eventually, web};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn a_task_failing_its_http_check_is_replaced_then_killed() {
    require_marathon_python();
    let (_five_k, url) = start_five_k().await;
    // Where each task keeps the file its check asks for.
    let scratch = tempfile::tempdir().unwrap();
    run_client_scenario("health.py", &[&url, scratch.path().to_str().unwrap()]).await;
}

/// `GET /v2/apps/{id}?embed=app.tasks`: the app with its tasks.
async fn app_with_tasks(url: &str, app: &str) -> Value {
    let response = web::get(&format!("{url}/v2/apps{app}?embed=app.tasks")).await;
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()["app"].clone()
}

fn task_ids(app: &Value) -> Vec<String> {
    let tasks = app["tasks"].as_array().cloned().unwrap_or_default();
    let ids = tasks.iter().filter_map(|t| t["id"].as_str());
    ids.map(String::from).collect()
}

/// A COMMAND check goes to the agent in `TaskInfo.health_check`: the
/// simulated agent runs it next to the task, as Mesos' command executor
/// does, and reports `healthy` in its updates; 5K counts them. When the
/// check fails, the agent kills the task on its own and 5K replaces it.
#[tokio::test(flavor = "multi_thread")]
async fn a_command_check_runs_on_the_agent_which_kills_an_unhealthy_task() {
    let (_five_k, url) = start_five_k().await;
    // Each task links its sandbox here, so the test can break one.
    let scratch = tempfile::tempdir().unwrap();
    let cmd = format!(
        "touch ok && ln -s \"$PWD\" {}/$MESOS_TASK_ID && exec sleep 1000",
        scratch.path().display()
    );
    let app = json!({
        "id": "/checked-by-agent", "cmd": cmd, "cpus": 0.1, "mem": 16, "instances": 2,
        "healthChecks": [{"protocol": "COMMAND", "command": {"value": "test -f ok"},
            "delaySeconds": 0, "intervalSeconds": 1, "timeoutSeconds": 0,
            "gracePeriodSeconds": 0, "maxConsecutiveFailures": 1}],
    });
    let created = web::send(
        &format!("{url}/v2/apps"),
        "POST",
        Some("application/json"),
        app.to_string().into(),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let healthy = eventually("both tasks reported healthy by the agent", async || {
        let app = app_with_tasks(&url, "/checked-by-agent").await;
        (app["tasksHealthy"] == 2).then_some(app)
    })
    .await;
    let originals = task_ids(&healthy);
    assert_eq!(originals.len(), 2, "{healthy}");

    let victim = &originals[0];
    std::fs::remove_file(scratch.path().join(victim).join("ok")).unwrap();
    let healed = eventually(
        "the failing task killed by the agent and replaced",
        async || {
            let app = app_with_tasks(&url, "/checked-by-agent").await;
            let ids = task_ids(&app);
            (!ids.contains(victim) && ids.len() == 2 && app["tasksHealthy"] == 2).then_some(app)
        },
    )
    .await;
    assert!(
        task_ids(&healed).contains(&originals[1]),
        "the healthy one stays"
    );
}
