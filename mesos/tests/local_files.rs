//! A task's output, found as a client finds it on a cluster: the task's
//! agent in `/master/state`, the executor's sandbox `directory` in the
//! agent's `/state` (at the path its PID names), then the agent's
//! `/files/read` and `/files/browse`.

mod local_support;

use bytes::Bytes;
use http::StatusCode;
use local_support::*;
use mesos::{local::LocalMaster, v1::TaskState};

/// The sandbox `directory` of the executor that runs (or ran) `task_id`,
/// looked up as a client on a cluster would, and the agent's address.
async fn sandbox_of(master: &LocalMaster, task_id: &str) -> (String, String) {
    let state = get_json(master, "/master/state").await;
    let task = state["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| {
            let tasks = f["tasks"].as_array().unwrap().iter();
            tasks.chain(f["completed_tasks"].as_array().unwrap())
        })
        .find(|t| t["id"] == task_id)
        .expect("the master knows the task");
    let agent = state["slaves"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == task["slave_id"])
        .expect("the task's agent is registered");
    // `slave(1)@127.0.0.1:5050`: the process, and its address.
    let (process, address) = agent["pid"].as_str().unwrap().split_once('@').unwrap();
    assert_eq!(address, master.addr().authority());
    let agent_state = get_json(master, &format!("/{process}/state")).await;
    let executors = agent_state["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| {
            let running = f["executors"].as_array().unwrap().iter();
            running.chain(f["completed_executors"].as_array().unwrap())
        });
    let directory = executors
        .filter(|e| {
            let tasks = e["tasks"].as_array().unwrap().iter();
            let mut all = tasks.chain(e["completed_tasks"].as_array().unwrap());
            all.any(|t| t["id"] == task_id)
        })
        .map(|e| e["directory"].as_str().unwrap().to_string())
        .next()
        .expect("the agent lists the task's executor");
    (directory, address.to_string())
}

async fn get(master: &LocalMaster, path: &str) -> (StatusCode, String) {
    let raw = request(master, "GET", path, &[], Bytes::new()).await;
    let status = raw.status;
    (status, raw.text().await)
}

#[tokio::test]
async fn a_tasks_stdout_is_read_through_its_agents_files_endpoint() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("files", &[], 0.0)).await;
    let offer = framework.offer_for("-S1", |_| true).await;
    let task = command_task(
        "talker",
        &offer.agent_id,
        "echo Hey Mesos; echo oops >&2; exec sleep 60",
        "cpus:0.1;mem:32",
    );
    framework.launch(&offer, vec![task]).await;
    framework.follow("talker", TaskState::TaskRunning).await;

    let (directory, _) = sandbox_of(&master, "talker").await;
    assert_eq!(
        directory,
        master
            .state()
            .task("talker")
            .unwrap()
            .sandbox
            .as_ref()
            .unwrap()
            .display()
            .to_string()
    );
    let stdout = format!("{directory}/stdout");
    let read = format!("/files/read?path={stdout}&offset=0");
    // The process writes when it gets to it, after TASK_RUNNING.
    let deadline = tokio::time::Instant::now() + WAIT;
    let answer = loop {
        let answer = get_json(&master, &read).await;
        if answer["data"] != "" || tokio::time::Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(
        answer,
        serde_json::json!({"data": "Hey Mesos\n", "offset": 0})
    );

    // The size (offset -1), and a part of the file.
    let size = get_json(&master, &format!("/files/read?path={stdout}&offset=-1")).await;
    assert_eq!(size, serde_json::json!({"data": "", "offset": 10}));
    let part = get_json(
        &master,
        &format!("/files/read?path={stdout}&offset=4&length=5"),
    )
    .await;
    assert_eq!(part, serde_json::json!({"data": "Mesos", "offset": 4}));
    // The same file by Mesos' virtual path of the executor's latest run.
    let latest = format!(
        "/files/read?path=/frameworks/{}/executors/talker/runs/latest/stderr&offset=0",
        framework.id
    );
    assert_eq!(get_json(&master, &latest).await["data"], "oops\n");

    let listing = get_json(&master, &format!("/files/browse?path={directory}")).await;
    let names: Vec<&str> = listing
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(names, [format!("{directory}/stderr"), stdout.clone()]);
    let entry = &listing[1];
    assert_eq!(entry["size"], 10);
    assert!(entry["mode"].as_str().unwrap().starts_with("-rw"));
    for field in ["nlink", "mtime", "uid", "gid"] {
        assert!(!entry[field].is_null(), "{field} in {entry}");
    }
}

#[tokio::test]
async fn only_sandboxes_are_served_with_mesos_errors_for_the_rest() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("files", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let task = command_task("done", &offer.agent_id, "echo bye", "cpus:0.1;mem:32");
    framework.launch(&offer, vec![task]).await;
    framework.follow("done", TaskState::TaskFinished).await;

    // A finished task's executor is completed, the task among its
    // completed tasks, as a Mesos agent shows them; its sandbox is still
    // served.
    let (directory, _) = sandbox_of(&master, "done").await;
    let agent = get_json(&master, "/slave(1)/state").await;
    let framework = &agent["frameworks"][0];
    assert_eq!(framework["executors"], serde_json::json!([]));
    let executor = &framework["completed_executors"][0];
    assert_eq!(executor["id"], "done");
    assert_eq!(executor["directory"], directory);
    assert_eq!(executor["tasks"], serde_json::json!([]));
    assert_eq!(executor["completed_tasks"][0]["id"], "done");
    assert_eq!(executor["completed_tasks"][0]["state"], "TASK_FINISHED");
    // The container ID names the run's directory.
    let container = executor["container"].as_str().unwrap();
    assert!(
        directory.ends_with(&format!("/runs/{container}")),
        "{directory}"
    );
    let read = get_json(
        &master,
        &format!("/files/read?path={directory}/stdout&offset=0"),
    )
    .await;
    assert_eq!(read["data"], "bye\n");

    let work_dir = master.work_dir().display().to_string();
    // Up to the root, whatever the depth of the sandbox.
    let up = "../".repeat(directory.matches('/').count());
    for (path, status, message) in [
        // Anything not inside a sandbox is unknown.
        ("/files/read?path=/etc/passwd&offset=0", 404, String::new()),
        (
            &format!("/files/read?path={work_dir}&offset=0"),
            404,
            String::new(),
        ),
        (
            &format!("/files/read?path={directory}/nothing&offset=0"),
            404,
            String::new(),
        ),
        ("/files/browse?path=/etc", 404, String::new()),
        // Leaving a sandbox by `..` is refused.
        (
            &format!("/files/read?path={directory}/{up}etc/passwd"),
            400,
            format!("'{directory}/{up}etc/passwd' is inaccessible.\n"),
        ),
        (
            "/files/read?offset=0",
            400,
            "Expecting 'path=value' in query.\n".into(),
        ),
        (
            &format!("/files/read?path={directory}"),
            400,
            "Cannot read a directory.\n".into(),
        ),
        (
            &format!("/files/read?path={directory}/stdout&offset=-5"),
            400,
            "Negative offset provided: -5.\n".into(),
        ),
        (
            &format!("/files/read?path={directory}/stdout&length=x"),
            400,
            "Failed to parse length: Failed to convert 'x' to number.\n".into(),
        ),
    ] {
        let (got_status, body) = get(&master, path).await;
        assert_eq!(got_status.as_u16(), status, "{path}: {body}");
        assert_eq!(body, message, "{path}");
    }
    let raw = request(
        &master,
        "POST",
        &format!("/files/read?path={directory}/stdout"),
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(raw.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// Log lines, kept for the test to read.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// On one thread, so that the master's tasks log to this test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn the_start_of_each_task_is_logged_with_its_stdout() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("mesos=info")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("logged", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let tasks = ["first", "second"]
        .map(|id| command_task(id, &offer.agent_id, "sleep 60", "cpus:0.1;mem:32"))
        .to_vec();
    framework.launch(&offer, tasks).await;
    for id in ["first", "second"] {
        framework.follow(id, TaskState::TaskRunning).await;
    }

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for id in ["first", "second"] {
        let sandbox = master.state().task(id).unwrap().sandbox.clone().unwrap();
        let stdout = sandbox.join("stdout").display().to_string();
        let lines: Vec<&str> = log
            .lines()
            .filter(|line| line.contains(&format!("task_id={id} ")))
            .filter(|line| line.contains(" INFO ") && line.contains(&format!("stdout={stdout}")))
            .collect();
        assert_eq!(lines.len(), 1, "one line for {id} with {stdout} in:\n{log}");
    }
}
