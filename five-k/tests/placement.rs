//! "Why is my app not starting?" end to end: 5K on a simulated master
//! whose agents carry attributes, apps that cannot all be placed, and
//! what `GET /v2/queue`, marathon-python and the web page say about them.

mod common;

use common::{PYTHON, api_url, require_marathon_python};
use mesos::{
    local::{LocalMaster, LocalMasterConfig},
    testing::{self, Framework, eventually, web},
};
use serde_json::{Value, json};

/// Two agents of 2048 MB (the kit's default), on racks r1 and r2 and in
/// zones a and b of the master's region, and 5K on them with its state in
/// memory.
async fn start() -> (LocalMaster, Framework, String) {
    let master = LocalMaster::start(LocalMasterConfig {
        agent_attributes: vec!["rack:r1".into(), "rack:r2".into()],
        domain: Some(("eu".into(), "a".into())),
        agent_domains: vec![("eu".into(), "a".into()), ("eu".into(), "b".into())],
        ..testing::config()
    })
    .await
    .expect("the master starts");
    let address = master.addr().to_string();
    let five_k = Framework::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_five-k")),
        &["--master", &address, "--http-address", "127.0.0.1:0"],
    );
    let url = api_url(&five_k).await;
    (master, five_k, url)
}

async fn post_app(url: &str, app: Value) {
    let response = web::post(
        &format!("{url}/v2/apps"),
        Some("application/json"),
        app.to_string(),
    )
    .await;
    assert_eq!(response.status, 201, "{}", response.body);
}

/// The queue's item for `app`, once `ready` holds for it.
async fn queued(url: &str, app: &str, ready: impl Fn(&Value) -> bool) -> Value {
    eventually(&format!("{app} in the queue as expected"), async || {
        let queue = web::get(&format!("{url}/v2/queue?embed=lastUnusedOffers"))
            .await
            .json();
        let item = queue["queue"]
            .as_array()?
            .iter()
            .find(|item| item["app"]["id"] == app)?
            .clone();
        ready(&item).then_some(item)
    })
    .await
}

/// The step of a funnel for `reason`.
fn step<'a>(steps: &'a Value, reason: &str) -> &'a Value {
    steps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["reason"] == reason)
        .unwrap_or_else(|| panic!("no {reason} in {steps}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_bigger_than_any_agent_says_so_in_the_queue_and_on_the_page() {
    let (_master, _five_k, url) = start().await;
    post_app(
        &url,
        json!({"id": "/big", "cmd": "sleep 1000", "cpus": 0.1, "mem": 4096}),
    )
    .await;
    // Both agents' offers seen and found too small.
    let item = queued(&url, "/big", |item| {
        item["lastUnusedOffers"]
            .as_array()
            .is_some_and(|o| o.len() == 2)
    })
    .await;
    let summary = &item["processedOffersSummary"];
    let processed = summary["processedOffersCount"].as_u64().unwrap();
    assert!(processed >= 2, "{summary}");
    assert_eq!(summary["unusedOffersCount"], processed, "{summary}");
    assert!(
        summary["lastUnusedOfferAt"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert!(summary.get("lastUsedOfferAt").is_none(), "{summary}");
    let names: Vec<&str> = (summary["rejectSummaryLastOffers"].as_array().unwrap())
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(names[..2], ["UnfulfilledRole", "UnfulfilledConstraint"]);
    assert_eq!(names.len(), 10);
    let memory = step(&summary["rejectSummaryLastOffers"], "InsufficientMemory");
    assert_eq!(
        memory,
        &json!({"reason": "InsufficientMemory", "declined": 2, "processed": 2})
    );
    let attempt = step(&summary["rejectSummaryLaunchAttempt"], "InsufficientMemory");
    assert_eq!(attempt["declined"], processed);
    let unused = &item["lastUnusedOffers"][0];
    assert_eq!(unused["reason"], json!(["InsufficientMemory"]));
    assert!(unused["offer"]["agentId"].as_str().unwrap().contains("-S"));
    assert_eq!(unused["offer"]["attributes"][0]["name"], "rack");
    let mem = (unused["offer"]["resources"].as_array().unwrap())
        .iter()
        .find(|r| r["name"] == "mem")
        .unwrap();
    assert_eq!(
        (mem["scalar"].as_f64(), mem["role"].as_str()),
        (Some(2048.0), Some("*"))
    );

    let sentence = "waiting: the last 2 offers had too little memory \
                    (app needs 4096 MB, largest offer 2048 MB)";
    let list = web::get(&format!("{url}/ui/")).await;
    assert!(list.body.contains(sentence), "{}", list.body);
    let page = web::get(&format!("{url}/ui/apps/big")).await;
    assert!(page.body.contains(sentence), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rack_unique_app_runs_once_per_rack_and_says_why_the_rest_waits() {
    require_marathon_python();
    let (master, _five_k, url) = start().await;
    let spread = |instances: u32| {
        json!({"id": "/spread", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16,
               "instances": instances, "constraints": [["rack", "UNIQUE"]]})
    };
    // One per rack first, then a third: the new deployment revives the
    // offers at once, rather than after the 5 s they were declined for.
    post_app(&url, spread(2)).await;
    eventually("/spread's two tasks running", async || {
        let app = web::get(&format!("{url}/v2/apps/spread")).await.json();
        let deployed = app["app"]["deployments"].as_array()?.is_empty();
        (deployed && app["app"]["tasksRunning"] == 2).then_some(())
    })
    .await;
    let scaled = web::send(
        &format!("{url}/v2/apps/spread"),
        "PUT",
        Some("application/json"),
        spread(3).to_string().into(),
    )
    .await;
    assert_eq!(scaled.status, 200, "{}", scaled.body);
    let item = queued(&url, "/spread", |item| {
        item["processedOffersSummary"]["unusedOffersCount"].as_u64() >= Some(2)
    })
    .await;
    assert_eq!(item["count"], 1, "{item}");
    let last = &item["processedOffersSummary"]["rejectSummaryLastOffers"];
    assert_eq!(step(last, "UnfulfilledConstraint")["declined"], 2, "{item}");
    // One task on each agent, never two on one rack.
    let state = master.state();
    let mut agents: Vec<String> = (state.tasks.iter())
        .filter(|t| !t.completed)
        .map(|t| t.agent_id.clone())
        .collect();
    agents.sort();
    let launched = agents.len();
    agents.dedup();
    assert_eq!((launched, agents.len()), (2, 2), "{:?}", state.tasks);

    // marathon-python builds its queue items with `cls(**json)`: it
    // must read all of this, and keeps the summary as a dict.
    let script = r#"
import json, sys
from marathon import MarathonClient
queue = MarathonClient(sys.argv[1]).list_queue(embed_last_unused_offers=True)
print(json.dumps([[i.app.id, i.count, i.processed_offers_summary, i.last_unused_offers] for i in queue]))
"#;
    let output = tokio::process::Command::new(PYTHON)
        .args(["-c", script, &url])
        .output()
        .await
        .expect("running marathon-python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(read[0][0], "/spread");
    assert_eq!(read[0][1], 1);
    let summary = &read[0][2];
    assert_eq!(
        step(&summary["rejectSummaryLastOffers"], "UnfulfilledConstraint")["declined"],
        2
    );
    assert_eq!(read[0][3][0]["reason"], json!(["UnfulfilledConstraint"]));

    let page = web::get(&format!("{url}/ui/apps/spread")).await;
    assert!(
        page.body
            .contains("waiting: no agent offered satisfies rack:UNIQUE (the last 2 offers)"),
        "{}",
        page.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zone_constraint_reads_the_agents_fault_domain() {
    let (master, _five_k, url) = start().await;
    post_app(
        &url,
        json!({"id": "/zoned", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 3,
               "constraints": [["@zone", "IS", "b"], ["@region", "LIKE", "e."]]}),
    )
    .await;
    let agents = eventually("/zoned's three tasks", async || {
        let state = master.state();
        let agents: Vec<String> = (state.tasks.iter())
            .filter(|t| !t.completed)
            .map(|t| t.agent_id.clone())
            .collect();
        (agents.len() == 3).then_some(agents)
    })
    .await;
    assert!(agents.iter().all(|a| a.ends_with("-S1")), "{agents:?}");
}
