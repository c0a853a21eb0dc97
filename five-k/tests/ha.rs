//! Several 5K instances with a real ZooKeeper and a simulated master: the
//! state survives the leader, a standby takes over where it stopped, and
//! any instance answers the API.

mod common;

use common::api_url;
use mesos::{
    testing::{Cluster, Framework, eventually, subscribed_framework, web},
    v1::TaskState,
};
use serde_json::{Value, json};

/// A 5K instance of the cluster, and its API's URL.
async fn five_k(cluster: &Cluster) -> (Framework, String) {
    let instance = cluster.framework(&["--http-address", "127.0.0.1:0"]);
    let url = api_url(&instance).await;
    (instance, url)
}

async fn cluster() -> Cluster {
    let mut cluster = Cluster::start(env!("CARGO_BIN_EXE_five-k")).await;
    cluster.root = "/five-k".into();
    cluster
}

async fn post_app(url: &str, app: Value) -> web::WebResponse {
    web::post(
        &format!("{url}/v2/apps"),
        Some("application/json"),
        app.to_string(),
    )
    .await
}

async fn put_app(url: &str, id: &str, body: Value) -> web::WebResponse {
    let body = body.to_string().into();
    web::send(
        &format!("{url}/v2/apps{id}"),
        "PUT",
        Some("application/json"),
        body,
    )
    .await
}

async fn deployments(url: &str) -> Vec<Value> {
    let response = web::get(&format!("{url}/v2/deployments")).await;
    assert_eq!(response.status, 200, "{}", response.body);
    response.json().as_array().cloned().unwrap_or_default()
}

/// The tasks the master runs for 5K, by id.
fn running_on_the_master(cluster: &Cluster) -> Vec<String> {
    let state = cluster.master.state();
    let Some(framework) = subscribed_framework(&state) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = state
        .active_tasks(&framework)
        .iter()
        .filter(|task| task.state == TaskState::TaskRunning)
        .map(|task| task.id.clone())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_leader_carries_on_a_deployment_after_the_leader_is_killed() {
    let cluster = cluster().await;
    let (mut first, first_url) = five_k(&cluster).await;
    first.wait_for_output("elected: this instance leads").await;
    let (second, second_url) = five_k(&cluster).await;

    let created = post_app(
        &first_url,
        json!({"id": "web", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 3}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    eventually("3 tasks running", async || {
        (running_on_the_master(&cluster).len() == 3).then_some(())
    })
    .await;
    eventually("the deployment to end", async || {
        deployments(&first_url).await.is_empty().then_some(())
    })
    .await;
    let before = running_on_the_master(&cluster);

    // More than the cluster holds (4 cpus): the deployment stays open.
    let scaled = put_app(&first_url, "/web", json!({"instances": 50})).await;
    assert_eq!(scaled.status, 200, "{}", scaled.body);
    let deployment_id = scaled.json()["deploymentId"].as_str().unwrap().to_string();
    eventually("the cluster to fill", async || {
        (running_on_the_master(&cluster).len() >= 30).then_some(())
    })
    .await;

    first.signal("KILL");
    first.kill();
    second.wait_for_output("elected: this instance leads").await;

    // The new leader knows the app, its deployment and every task: none of
    // the tasks that ran before is replaced, and the app is never over its
    // count.
    let app = eventually("the app from the new leader", async || {
        let response = web::get(&format!("{second_url}/v2/apps/web")).await;
        (response.status == 200).then(|| response.json())
    })
    .await;
    assert_eq!(app["app"]["instances"], 50);
    let open = deployments(&second_url).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["id"], deployment_id.as_str());
    // The master lists the tasks again once the new leader has subscribed
    // (the new leader answers the API a moment before).
    let after = eventually("the new leader subscribed", async || {
        let after = running_on_the_master(&cluster);
        (!after.is_empty()).then_some(after)
    })
    .await;
    assert!(
        before.iter().all(|id| after.contains(id)),
        "tasks were replaced: {before:?} {after:?}"
    );
    assert!(after.len() <= 50);

    // It finishes the deployment once the app fits.
    let scaled = put_app(&second_url, "/web", json!({"instances": 4})).await;
    assert_eq!(
        scaled.status, 409,
        "still locked by the open deployment: {}",
        scaled.body
    );
    let forced = web::send(
        &format!("{second_url}/v2/apps/web?force=true"),
        "PUT",
        Some("application/json"),
        json!({"instances": 4}).to_string().into(),
    )
    .await;
    assert_eq!(forced.status, 200, "{}", forced.body);
    eventually("4 tasks running", async || {
        (running_on_the_master(&cluster).len() == 4).then_some(())
    })
    .await;
    eventually("the deployments to end", async || {
        deployments(&second_url).await.is_empty().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standby_hands_requests_to_the_leader_and_the_leader_can_abdicate() {
    let cluster = cluster().await;
    let (first, first_url) = five_k(&cluster).await;
    first.wait_for_output("elected: this instance leads").await;
    let (second, second_url) = five_k(&cluster).await;
    let first_address = first_url.trim_start_matches("http://").to_string();

    // The standby knows who leads, and forwards the API to it.
    let leader = eventually("the standby to see the leader", async || {
        let response = web::get(&format!("{second_url}/v2/leader")).await;
        (response.status == 200).then(|| response.json()["leader"].clone())
    })
    .await;
    assert_eq!(leader, first_address.as_str());
    let created = post_app(
        &second_url,
        json!({"id": "/via/standby", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("x-marathon-leader"), first_url);
    assert!(
        created
            .header("x-marathon-via")
            .contains(second_url.trim_start_matches("http://"))
    );
    let listed = web::get(&format!("{first_url}/v2/apps")).await.json();
    assert_eq!(listed["apps"][0]["id"], "/via/standby");
    // The web page too: a standby's own scheduler is idle.
    let page = web::get(&format!("{second_url}/ui/")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("/via/standby"), "{}", page.body);

    // The event stream is not proxied: the client is sent to the leader.
    let events = web::send_with(
        &format!("{second_url}/v2/events?event_type=status_update_event"),
        "GET",
        &[("Accept", "text/event-stream")],
        None,
        Default::default(),
    )
    .await;
    assert_eq!(events.status, 302);
    assert_eq!(
        events.header("location"),
        format!("{first_url}/v2/events?event_type=status_update_event")
    );

    // A request that already went through this instance is a loop.
    let looped = web::send_with(
        &format!("{second_url}/v2/apps"),
        "GET",
        &[(
            "X-Marathon-Via",
            &format!("1.1 {}", second_url.trim_start_matches("http://")),
        )],
        None,
        Default::default(),
    )
    .await;
    assert_eq!(
        (looped.status.as_u16(), looped.json()["message"].as_str()),
        (502, Some("Detected proxying loop."))
    );

    // The leader steps down; the standby takes over, and the app is there.
    let abdicated = web::send(
        &format!("{first_url}/v2/leader"),
        "DELETE",
        None,
        Default::default(),
    )
    .await;
    assert_eq!(abdicated.status, 200, "{}", abdicated.body);
    second.wait_for_output("elected: this instance leads").await;
    first.wait_for_output("standing by").await;
    let app = eventually("the app from the new leader", async || {
        let response = web::get(&format!("{first_url}/v2/apps/via/standby")).await;
        (response.status == 200 && response.header("x-marathon-leader") == second_url)
            .then(|| response.json())
    })
    .await;
    assert_eq!(app["app"]["id"], "/via/standby");
}
