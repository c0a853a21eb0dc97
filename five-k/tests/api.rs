//! 5K's REST API over HTTP, answer by answer, against Marathon 1.7's:
//! status codes, error bodies, headers, embeds, filters, the queue, the
//! versions and the event stream. Each test starts 5K as an operator
//! does, on the simulated master, and speaks plain HTTP to it.

mod common;

use common::start_five_k;
use mesos::testing::{
    WAIT, eventually,
    web::{self, WebResponse},
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// A request with a JSON body (`""`: none).
async fn call(method: &str, url: &str, body: &str) -> WebResponse {
    let content_type = (!body.is_empty()).then_some("application/json");
    web::send(url, method, content_type, body.to_string().into()).await
}

/// Asserts the status and Marathon's `message`; returns the body.
fn refused(response: &WebResponse, status: u16, message: &str) -> Value {
    assert_eq!(response.status.as_u16(), status, "{}", response.body);
    let body = response.json();
    assert_eq!(body["message"], message, "{body}");
    body
}

/// An app that runs at once on the simulated master.
fn small_app(id: &str, instances: u32) -> String {
    json!({"id": id, "cmd": "sleep 1000", "cpus": 0.01, "mem": 16, "instances": instances})
        .to_string()
}

/// An app no agent has room for: it stays under deployment and queued.
fn huge_app(id: &str, instances: u32) -> String {
    json!({"id": id, "cmd": "sleep 1000", "cpus": 100, "mem": 16, "instances": instances})
        .to_string()
}

async fn running_tasks(url: &str, app: &str) -> Vec<Value> {
    let tasks = web::get(&format!("{url}/v2/apps{app}/tasks")).await.json();
    tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .cloned()
        .collect()
}

async fn wait_for_no_deployments(url: &str) {
    eventually("the deployments to end", async || {
        let deployments = web::get(&format!("{url}/v2/deployments")).await.json();
        (deployments == json!([])).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_request_gets_marathons_error_and_changes_nothing() {
    let (_five_k, url) = start_five_k().await;
    let apps = format!("{url}/v2/apps");

    refused(
        &call("POST", &apps, "").await,
        400,
        "Please specify data in JSON format",
    );
    let body = refused(
        &call("POST", &apps, r#"{"id": "#).await,
        400,
        "Invalid JSON",
    );
    assert!(body["details"].is_string(), "{body}");

    let body = refused(
        &call("POST", &apps, r#"{"id": "/x", "cmd": "y", "cpus": "one"}"#).await,
        422,
        "Invalid JSON",
    );
    let wrong_type = json!([{"path": "/cpus", "errors": ["error.expected.jsnumber"]}]);
    assert_eq!(body["details"], wrong_type);
    for cpus in ["-1", "0"] {
        let app = format!(r#"{{"id": "/x", "cmd": "y", "cpus": {cpus}}}"#);
        let body = refused(&call("POST", &apps, &app).await, 422, "Invalid JSON");
        let too_few = json!([{"path": "/cpus", "errors": ["error.min"]}]);
        assert_eq!(body["details"], too_few, "{cpus}");
    }
    let body = refused(
        &call("POST", &apps, r#"{"id": "/Bad_Id", "cmd": "y"}"#).await,
        422,
        "Invalid JSON",
    );
    assert_eq!(body["details"][0]["path"], "/id", "{body}");
    let body = refused(
        &call("POST", &apps, r#"{"id": "/x/tasks", "cmd": "y"}"#).await,
        422,
        "Invalid JSON",
    );
    assert_eq!(body["details"][0]["path"], "/id", "{body}");

    let body = refused(
        &call(
            "POST",
            &apps,
            r#"{"id": "/x", "cmd": "y", "constraints": [["hostname", "NEAR"]]}"#,
        )
        .await,
        422,
        "Object is not valid",
    );
    assert_eq!(body["details"][0]["path"], "/constraints(0)", "{body}");

    let too_big = format!(
        r#"{{"id": "/x", "cmd": "{}"}}"#,
        "y".repeat(1024 * 1024 + 1)
    );
    let response = call("POST", &apps, &too_big).await;
    assert_eq!(response.status.as_u16(), 413, "{}", response.body);
    assert!(response.json()["message"].is_string());

    refused(
        &web::get(&format!("{apps}/nothing")).await,
        404,
        "App '/nothing' does not exist",
    );
    refused(
        &call("PUT", &format!("{apps}/x"), r#"{"cmd": "y", "mem": -5}"#).await,
        422,
        "Invalid JSON",
    );
    refused(
        &web::get(&format!("{url}/v2/nothing")).await,
        404,
        "URI not found",
    );
    refused(&call("DELETE", &apps, "").await, 405, "Method Not Allowed");
    refused(
        &call("POST", &format!("{apps}/x"), "").await,
        405,
        "Method Not Allowed",
    );

    // Nothing above was half-applied (and a trailing `/` is no matter).
    assert_eq!(web::get(&apps).await.json(), json!({"apps": []}));
    assert_eq!(
        web::get(&format!("{apps}/?embed=apps.tasks")).await.json(),
        json!({"apps": []})
    );
    assert_eq!(
        web::get(&format!("{url}/v2/deployments")).await.json(),
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_answers_with_the_app_its_location_and_its_deployment() {
    let (_five_k, url) = start_five_k().await;
    let apps = format!("{url}/v2/apps");

    let response = call("POST", &apps, &small_app("shop/web", 1)).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.body);
    assert_eq!(response.header("Location"), "/v2/apps/shop/web");
    let app = response.json();
    assert_eq!(app["id"], "/shop/web");
    assert_eq!(app["tasks"], json!([]), "{app}");
    assert_eq!(app["tasksRunning"], 0);
    assert_eq!(
        app["deployments"],
        json!([{"id": response.header("Marathon-Deployment-Id")}])
    );

    // Every spelling of the id is the same app.
    for spelling in ["//shop/./web", "/shop/web/", "shop//web", "/shop/x/../web"] {
        let again = call("POST", &apps, &small_app(spelling, 1)).await;
        refused(&again, 409, "An app with id [/shop/web] already exists.");
    }
    for path in [
        "/shop/web",
        "//shop/web",
        "/shop/./web",
        "/shop/web/",
        "/shop/web//",
    ] {
        let shown = web::get(&format!("{apps}{path}")).await;
        assert_eq!(shown.status.as_u16(), 200, "{path}: {}", shown.body);
        assert_eq!(shown.json()["app"]["id"], "/shop/web", "{path}");
    }

    // A PUT that creates: 201, the location, and the deployment.
    let response = call("PUT", &format!("{apps}/shop/db"), &small_app("ignored", 1)).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.body);
    assert_eq!(response.header("Location"), "/v2/apps/shop/db");
    let body = response.json();
    assert_eq!(
        body["deploymentId"],
        response.header("Marathon-Deployment-Id"),
        "{body}"
    );
    assert!(body["version"].is_string(), "{body}");
    // The path names the app, not the body.
    assert_eq!(web::get(&format!("{apps}/shop/db")).await.status, 200);
    refused(
        &web::get(&format!("{apps}/ignored")).await,
        404,
        "App '/ignored' does not exist",
    );

    // A PUT that changes: 200 with the deployment.
    wait_for_no_deployments(&url).await;
    let response = call("PUT", &format!("{apps}/shop/web"), r#"{"instances": 2}"#).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.body);
    assert_eq!(
        response.json()["deploymentId"],
        response.header("Marathon-Deployment-Id")
    );
    assert!(response.header("Location").is_empty());

    // PATCH changes, but never creates.
    wait_for_no_deployments(&url).await;
    let patched = call("PATCH", &format!("{apps}/shop/web"), r#"{"instances": 1}"#).await;
    assert_eq!(patched.status.as_u16(), 200, "{}", patched.body);
    refused(
        &call("PATCH", &format!("{apps}/shop/new"), &small_app("x", 1)).await,
        404,
        "App '/shop/new' does not exist",
    );
    // With partialUpdate=false, what the body leaves out takes its default.
    let replace = format!("{apps}/shop/web?partialUpdate=false&force=true");
    let replaced = call("PUT", &replace, r#"{"cmd": "sleep 2000"}"#).await;
    assert_eq!(replaced.status.as_u16(), 200, "{}", replaced.body);
    let app = web::get(&format!("{apps}/shop/web")).await.json()["app"].clone();
    assert_eq!(
        (&app["cmd"], &app["cpus"], &app["mem"], &app["instances"]),
        (&json!("sleep 2000"), &json!(1.0), &json!(128.0), &json!(1)),
        "{app}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_to_an_app_under_deployment_is_refused_unless_forced() {
    let (_five_k, url) = start_five_k().await;
    let apps = format!("{url}/v2/apps");
    let created = call("POST", &apps, &huge_app("big", 2)).await;
    let deployment = created.header("Marathon-Deployment-Id").to_string();

    let body = refused(
        &call("PUT", &format!("{apps}/big"), r#"{"instances": 1}"#).await,
        409,
        "App is locked by one or more deployments. Override with the option '?force=true'. \
         View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
    );
    assert_eq!(body["deployments"], json!([{"id": deployment}]));
    // A restart needs `force` too (false by default, `AppsResource.restart`).
    refused(
        &call("POST", &format!("{apps}/big/restart"), "").await,
        409,
        "App is locked by one or more deployments. Override with the option '?force=true'. \
         View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
    );
    // Booleans in any case; anything else is refused.
    let bad = call(
        "PUT",
        &format!("{apps}/big?force=maybe"),
        r#"{"instances": 1}"#,
    )
    .await;
    assert_eq!(bad.status.as_u16(), 400, "{}", bad.body);
    let forced = call(
        "PUT",
        &format!("{apps}/big?force=True"),
        r#"{"instances": 1}"#,
    )
    .await;
    assert_eq!(forced.status.as_u16(), 200, "{}", forced.body);
    let restarted = call("POST", &format!("{apps}/big/restart?force=TRUE"), "").await;
    assert_eq!(restarted.status.as_u16(), 200, "{}", restarted.body);
    assert!(!restarted.header("Marathon-Deployment-Id").is_empty());
    // Deleting needs no force (true by default since Marathon 1.5).
    let deleted = call("DELETE", &format!("{apps}/big"), "").await;
    assert_eq!(deleted.status.as_u16(), 200, "{}", deleted.body);
    refused(
        &call("DELETE", &format!("{apps}/big"), "").await,
        404,
        "App '/big' does not exist",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn embeds_and_filters_choose_what_get_apps_shows() {
    let (_five_k, url) = start_five_k().await;
    let apps = format!("{url}/v2/apps");
    let web_app = json!({"id": "/shop/web", "cmd": "sleep 1000 # Serve", "cpus": 0.01, "mem": 16,
                         "labels": {"tier": "web", "env": "prod"}});
    let db_app = json!({"id": "/shop/db", "cmd": "sleep 1001", "cpus": 0.01, "mem": 16,
                        "labels": {"tier": "db"}});
    let other = json!({"id": "/other", "cmd": "sleep 1002", "cpus": 0.01, "mem": 16});
    for app in [&web_app, &db_app, &other] {
        assert_eq!(call("POST", &apps, &app.to_string()).await.status, 201);
    }
    eventually("every task running", async || {
        let tasks = web::get(&format!("{url}/v2/tasks?status=running"))
            .await
            .json();
        (tasks["tasks"].as_array().unwrap().len() == 3).then_some(())
    })
    .await;

    let listed = web::get(&apps).await.json();
    for app in listed["apps"].as_array().unwrap() {
        // Counts and deployments always; tasks only on request.
        assert!(
            app["tasksRunning"].is_number() && app["deployments"].is_array(),
            "{app}"
        );
        assert!(app.get("tasks").is_none(), "{app}");
    }
    for embed in ["apps.tasks", "app.tasks", "group.apps.tasks", "tasks"] {
        let listed = web::get(&format!("{apps}?embed={embed}&embed=apps.nonsense"))
            .await
            .json();
        for app in listed["apps"].as_array().unwrap() {
            assert_eq!(app["tasks"].as_array().unwrap().len(), 1, "{embed}: {app}");
        }
    }
    // One app always comes with its tasks, whatever `embed` says.
    let one = web::get(&format!("{apps}/shop/web?embed=app.counts"))
        .await
        .json();
    assert_eq!(one["app"]["tasks"].as_array().unwrap().len(), 1, "{one}");

    let ids = async |query: &str| -> Vec<String> {
        let response = web::get(&format!("{apps}?{query}")).await;
        assert_eq!(response.status.as_u16(), 200, "{query}: {}", response.body);
        let mut ids: Vec<String> = response.json()["apps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|app| app["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids("cmd=SERVE").await, ["/shop/web"]);
    assert_eq!(ids("id=SHOP").await, ["/shop/db", "/shop/web"]);
    assert_eq!(ids("label=tier").await, ["/shop/db", "/shop/web"]);
    assert_eq!(ids("label=tier!%3Dweb").await, ["/shop/db"]);
    assert_eq!(ids("label=tier%3D%3Dweb,env").await, ["/shop/web"]);
    assert_eq!(ids("label=tier%20in%20(db,%20cache)").await, ["/shop/db"]);
    assert_eq!(ids("label=tier%20notin%20(db)").await, ["/shop/web"]);
    assert_eq!(ids("cmd=sleep&id=shop&label=env").await, ["/shop/web"]);
    let bad = web::get(&format!("{apps}?label=tier%3D%3D")).await;
    let body = refused(
        &bad,
        422,
        "Can not parse label selector tier==. Reason: a label expected but 'end of input' found",
    );
    assert!(body.get("details").is_none());

    // Every app under a group.
    let group = web::get(&format!("{apps}/shop/*")).await.json();
    let mut in_group: Vec<&str> = group["*"]
        .as_array()
        .unwrap()
        .iter()
        .map(|app| app["id"].as_str().unwrap())
        .collect();
    in_group.sort();
    assert_eq!(in_group, ["/shop/db", "/shop/web"]);
    refused(
        &web::get(&format!("{apps}/nothing/*")).await,
        404,
        "Group '/nothing' does not exist",
    );
    let tasks = web::get(&format!("{apps}/shop/*/tasks")).await.json();
    let mut of: Vec<&str> = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["appId"].as_str().unwrap())
        .collect();
    of.sort();
    assert_eq!(of, ["/shop/db", "/shop/web"]);
    refused(
        &web::get(&format!("{apps}/nothing/*/tasks")).await,
        404,
        "Group '/nothing' does not exist",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tasks_are_killed_by_id_by_host_with_or_without_scaling() {
    let (_five_k, url) = start_five_k().await;
    let apps = format!("{url}/v2/apps");
    call("POST", &apps, &small_app("/web", 2)).await;
    call("POST", &apps, &small_app("/db", 1)).await;
    wait_for_no_deployments(&url).await;
    let web_tasks = running_tasks(&url, "/web").await;
    let db_task = running_tasks(&url, "/db").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(web_tasks.len(), 2);
    for task in &web_tasks {
        // The keys marathon-python's MarathonTask knows, Marathon 1.7's.
        let keys: Vec<&str> = task
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "appId",
            "healthCheckResults",
            "host",
            "id",
            "ipAddresses",
            "ports",
            "servicePorts",
            "slaveId",
            "stagedAt",
            "startedAt",
            "state",
            "version",
        ] {
            assert!(keys.contains(&key), "{key} missing from {task}");
        }
    }

    // Scale and wipe exclude each other.
    refused(
        &call(
            "DELETE",
            &format!("{apps}/web/tasks?scale=true&wipe=true"),
            "",
        )
        .await,
        400,
        "You cannot use scale and wipe at the same time.",
    );
    // A task of another app is not one of this app's.
    refused(
        &call("DELETE", &format!("{apps}/web/tasks/{db_task}"), "").await,
        404,
        &format!("Task '{db_task}' does not exist"),
    );
    // No task on that host: nothing killed.
    let none = call("DELETE", &format!("{apps}/web/tasks?host=elsewhere"), "").await;
    assert_eq!(none.json(), json!({"tasks": []}));
    // POST /v2/tasks/delete ignores tasks that are gone, refuses non-ids.
    let gone = r#"{"ids": ["web.00000000-0000-0000-0000-000000000000"]}"#;
    let response = call("POST", &format!("{url}/v2/tasks/delete"), gone).await;
    assert_eq!(response.json(), json!({"tasks": []}), "{}", response.body);
    refused(
        &call(
            "POST",
            &format!("{url}/v2/tasks/delete"),
            r#"{"ids": ["nonsense"]}"#,
        )
        .await,
        400,
        "Invalid task id 'nonsense'. [nonsense (of class java.lang.String)]",
    );

    // One task killed with scale: the app drops to 1, with a deployment.
    let victim = web_tasks[0]["id"].as_str().unwrap();
    let response = call(
        "DELETE",
        &format!("{apps}/web/tasks/{victim}?scale=True&wipe=false"),
        "",
    )
    .await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.body);
    assert_eq!(
        response.json()["deploymentId"],
        response.header("Marathon-Deployment-Id")
    );
    assert_eq!(
        web::get(&format!("{apps}/web")).await.json()["app"]["instances"],
        1
    );

    // Every task on the host of the other, without scale: killed and
    // replaced.
    wait_for_no_deployments(&url).await;
    let survivor = running_tasks(&url, "/web").await[0].clone();
    let host = survivor["host"].as_str().unwrap();
    let response = call(
        "DELETE",
        &format!("{apps}/web/tasks?host={host}&wipe=TRUE"),
        "",
    )
    .await;
    let killed = response.json();
    assert_eq!(killed["tasks"][0]["id"], survivor["id"], "{killed}");
    eventually("a replacement", async || {
        let tasks = running_tasks(&url, "/web").await;
        (tasks.len() == 1 && tasks[0]["id"] != survivor["id"]).then_some(())
    })
    .await;
    assert_eq!(
        web::get(&format!("{apps}/web")).await.json()["app"]["instances"],
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_list_newest_first_and_show_each_definition() {
    let (_five_k, url) = start_five_k().await;
    let apps = format!("{url}/v2/apps");
    let first = call("POST", &apps, &huge_app("/v", 1)).await.json();
    let changed = call(
        "PUT",
        &format!("{apps}/v?force=true"),
        r#"{"cmd": "sleep 2"}"#,
    )
    .await;
    let second = changed.json()["version"].as_str().unwrap().to_string();

    let versions = web::get(&format!("{apps}/v/versions")).await.json();
    assert_eq!(versions, json!({"versions": [second, first["version"]]}));
    let old = web::get(&format!(
        "{apps}/v/versions/{}",
        first["version"].as_str().unwrap()
    ))
    .await
    .json();
    assert_eq!(old["cmd"], "sleep 1000", "{old}");
    assert_eq!(old["version"], first["version"]);
    assert!(
        old.get("tasks").is_none(),
        "a version is the bare definition: {old}"
    );
    refused(
        &web::get(&format!("{apps}/v/versions/2000-01-01T00:00:00.000Z")).await,
        404,
        "App '/v' does not exist in version 2000-01-01T00:00:00.000Z",
    );
    refused(
        &web::get(&format!("{apps}/w/versions")).await,
        404,
        "App '/w' does not exist",
    );

    // A rollback to the first version is a new version with its definition.
    let rollback = json!({"version": first["version"]}).to_string();
    let response = call("PUT", &format!("{apps}/v?force=true"), &rollback).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.body);
    let now = web::get(&format!("{apps}/v")).await.json();
    assert_eq!(now["app"]["cmd"], "sleep 1000");
    assert_eq!(now["app"]["version"], response.json()["version"]);
    // The current version is one to roll back to as well.
    let current = json!({"version": now["app"]["version"]}).to_string();
    let response = call("PUT", &format!("{apps}/v?force=true"), &current).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_queue_lists_apps_waiting_for_launches() {
    let (_five_k, url) = start_five_k().await;
    let apps = format!("{url}/v2/apps");
    // /small first: once /big waits, offers it declined stay away for a
    // while, and /small would wait for them too.
    call("POST", &apps, &small_app("/small", 1)).await;
    eventually("/small to run", async || {
        (running_tasks(&url, "/small").await.len() == 1).then_some(())
    })
    .await;
    call("POST", &apps, &huge_app("/big", 3)).await;

    let queue = web::get(&format!("{url}/v2/queue")).await.json();
    let items = queue["queue"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{queue}");
    let item = &items[0];
    let mut keys: Vec<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    // No `role` (Marathon 1.9's, which marathon-python 0.13 cannot read).
    assert_eq!(
        keys,
        ["app", "count", "delay", "processedOffersSummary", "since"]
    );
    assert_eq!(item["app"]["id"], "/big");
    assert_eq!(item["count"], 3);
    assert_eq!(
        item["delay"],
        json!({"timeLeftSeconds": 0, "overdue": false})
    );
    assert!(item["since"].as_str().unwrap().ends_with('Z'), "{item}");
    let embedded = web::get(&format!("{url}/v2/queue?embed=lastUnusedOffers"))
        .await
        .json();
    assert!(
        embedded["queue"][0]["lastUnusedOffers"].is_array(),
        "{embedded}"
    );

    let reset = call("DELETE", &format!("{url}/v2/queue/big/delay"), "").await;
    assert_eq!(reset.status.as_u16(), 204, "{}", reset.body);
    refused(
        &call("DELETE", &format!("{url}/v2/queue/small/delay"), "").await,
        404,
        "Application /small not found in tasks queue.",
    );
    refused(
        &call("DELETE", &format!("{url}/v2/queue/nothing/delay"), "").await,
        404,
        "Application /nothing not found in tasks queue.",
    );

    // Scaled to what it has, it waits no more.
    call(
        "PUT",
        &format!("{apps}/big?force=true"),
        r#"{"instances": 0}"#,
    )
    .await;
    let queue = web::get(&format!("{url}/v2/queue")).await.json();
    assert_eq!(queue, json!({"queue": []}));
}

/// An open `GET /v2/events`, read as raw text (the stream never ends, so
/// the kit's client, which reads answers whole, cannot read it).
struct EventStream {
    stream: TcpStream,
    text: String,
}

impl EventStream {
    async fn open(url: &str, query: &str) -> EventStream {
        let address = url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).await.expect("connecting");
        let request = format!(
            "GET /v2/events{query} HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("sending");
        EventStream {
            stream,
            text: String::new(),
        }
    }

    /// Reads until the text so far contains `wanted`.
    async fn read_until(&mut self, wanted: &str) {
        self.read_until_count(wanted, 1).await;
    }

    /// Reads until the text so far contains `wanted` `count` times.
    async fn read_until_count(&mut self, wanted: &str, count: usize) {
        let read = async {
            let mut buffer = [0; 4096];
            while self.text.matches(wanted).count() < count {
                let n = self.stream.read(&mut buffer).await.expect("reading");
                assert!(n > 0, "the stream ended before {wanted:?}: {}", self.text);
                self.text.push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        };
        if tokio::time::timeout(WAIT, read).await.is_err() {
            panic!("no {wanted:?} within {WAIT:?} in {}", self.text);
        }
    }

    /// The `data:` of the first event of `event_type` read so far.
    fn data(&self, event_type: &str) -> Value {
        let start = self
            .text
            .find(&format!("event: {event_type}\ndata: "))
            .unwrap_or_else(|| panic!("no {event_type} in {}", self.text));
        let line = self.text[start..].lines().nth(1).unwrap();
        serde_json::from_str(line.strip_prefix("data: ").unwrap()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_stream_sends_server_sent_events_of_the_types_asked_for() {
    let (_five_k, url) = start_five_k().await;
    // Without `Accept: text/event-stream`, no stream.
    let response = web::get(&format!("{url}/v2/events")).await;
    assert_eq!(response.status.as_u16(), 405, "{}", response.body);

    let mut everything = EventStream::open(&url, "").await;
    everything
        .read_until("event: event_stream_attached\n")
        .await;
    assert!(
        everything.text.starts_with("HTTP/1.1 200"),
        "{}",
        everything.text
    );
    assert!(
        everything.text.contains("text/event-stream"),
        "{}",
        everything.text
    );
    let attached = everything.data("event_stream_attached");
    assert_eq!(attached["eventType"], "event_stream_attached");
    assert_eq!(attached["remoteAddress"], "127.0.0.1");

    let mut posts = EventStream::open(
        &url,
        "?event_type=api_post_event&event_type=app_terminated_event",
    )
    .await;
    // Its attach, the second, says it is subscribed.
    everything
        .read_until_count("event: event_stream_attached\n", 2)
        .await;
    call("POST", &format!("{url}/v2/apps"), &small_app("/web", 1)).await;
    everything.read_until("event: deployment_success\n").await;
    everything.read_until("event: status_update_event\n").await;
    let post = everything.data("api_post_event");
    assert_eq!(post["appDefinition"]["id"], "/web");
    assert_eq!(post["uri"], "/v2/apps");
    let info = everything.data("deployment_info");
    assert!(info["plan"]["original"].is_object() && info["plan"]["target"].is_object());

    // A client that goes away is announced: once the third attach
    // (this one, `posts`, `leaving`) is seen, `leaving` leaves.
    let leaving = EventStream::open(&url, "?event_type=app_terminated_event").await;
    everything
        .read_until_count("event: event_stream_attached\n", 3)
        .await;
    drop(leaving);
    everything
        .read_until("event: event_stream_detached\n")
        .await;
    assert_eq!(
        everything.data("event_stream_detached")["remoteAddress"],
        "127.0.0.1"
    );

    call("DELETE", &format!("{url}/v2/apps/web"), "").await;
    everything.read_until("event: app_terminated_event\n").await;
    posts.read_until("event: app_terminated_event\n").await;
    assert_eq!(posts.data("api_post_event")["appDefinition"]["id"], "/web");
    for other in [
        "event_stream_attached",
        "deployment_info",
        "status_update_event",
        "deployment_success",
    ] {
        assert!(
            !posts.text.contains(&format!("event: {other}\n")),
            "{other} was not asked for: {}",
            posts.text
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_the_agent_cannot_run_is_reported_as_the_apps_last_task_failure() {
    let (_five_k, url) = start_five_k().await;
    let app = json!({
        "id": "/boxed", "cmd": "sleep 1000", "cpus": 0.01, "mem": 16,
        "container": {"type": "DOCKER", "docker": {"image": "busybox"}},
    });
    let created = call("POST", &format!("{url}/v2/apps"), &app.to_string()).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    assert_eq!(created.json()["container"]["docker"]["image"], "busybox");
    // Accepted here, as on a cluster; the simulated agent has no images
    // and says so, in the agent's own words.
    let failure = eventually("the agent's refusal", async || {
        let shown = web::get(&format!("{url}/v2/apps/boxed")).await.json();
        let failure = shown["app"]["lastTaskFailure"].clone();
        failure.is_object().then_some(failure)
    })
    .await;
    assert_eq!(failure["state"], "TASK_FAILED", "{failure}");
    assert!(
        failure["message"]
            .as_str()
            .unwrap()
            .contains("cannot be provisioned"),
        "{failure}"
    );
}
