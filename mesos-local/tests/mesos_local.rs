//! The `mesos-local` binary: serves the simulated master on a port,
//! explains what is wrong with a bad `--resources`, and takes its tasks
//! with it when it is killed.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

const BINARY: &str = env!("CARGO_BIN_EXE_mesos-local");

/// How long any single wait in a test may take before it fails.
const WAIT: Duration = Duration::from_secs(10);

/// Kills the child if a test fails half-way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads lines from the child's stdout until the address line; a thread
/// keeps reading the rest, so the child never writes to a closed pipe.
fn address(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next()
            .expect("mesos-local printed its address before exiting")
            .unwrap();
        if let Some(address) = line.strip_prefix("mesos-local: simulated Mesos master at ") {
            std::thread::spawn(move || lines.for_each(drop));
            return address.trim().to_string();
        }
    }
}

/// A blocking GET, on a thread of its own (no HTTP client needed).
fn get(address: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let host = address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn mesos_local_serves_the_master_state() {
    let work_dir = tempfile::tempdir().unwrap();
    let child = Command::new(BINARY)
        .args(["--ip", "127.0.0.1", "--port", "0", "--agents", "3"])
        .args(["--resources", "cpus:1;mem:512;ports:[40000-40010]"])
        .arg("--work_dir")
        .arg(work_dir.path())
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let address = address(&mut child.0);
    assert!(address.starts_with("http://127.0.0.1:"), "{address}");

    let (status, body) = get(&address, "/master/state");
    assert_eq!(status, 200, "{body}");
    let state: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(state["version"], "1.11.0");
    assert_eq!(state["activated_slaves"], 3);
    let port = address.rsplit(':').next().unwrap();
    for (n, slave) in state["slaves"].as_array().unwrap().iter().enumerate() {
        assert_eq!(slave["resources"]["cpus"], 1.0);
        assert_eq!(slave["resources"]["mem"], 512.0);
        assert_eq!(slave["resources"]["ports"], "[40000-40010]");
        assert_eq!(slave["pid"], format!("slave({})@127.0.0.1:{port}", n + 1));
        // Each agent answers at the path its PID names.
        let (status, body) = get(&address, &format!("/slave({})/state", n + 1));
        assert_eq!(status, 200);
        let agent: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(agent["id"], slave["id"]);
    }
    assert_eq!(
        state["flags"]["work_dir"],
        work_dir.path().display().to_string()
    );

    // SIGTERM: a clean shutdown.
    let pid = child.0.id();
    Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn bad_resources_are_explained() {
    for (resources, reason) in [
        ("cpus:two", "resource `cpus:two`: `two` is not a number"),
        ("cpus:1;mem", "resource `mem` has no value"),
        (
            "ports:[32000-31000]",
            "range `32000-31000` ends before it begins",
        ),
        ("", "no resources given"),
    ] {
        let output = Command::new(BINARY)
            .args(["--port", "0", "--resources", resources])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{resources}: a usage error");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--resources"), "{stderr}");
        assert!(
            stderr.contains(&format!("invalid resources {resources:?}")),
            "{stderr}"
        );
        assert!(stderr.contains(reason), "{resources}: {stderr}");
    }
}

/// A process that exists and is not a zombie. (A killed task re-parented
/// to a PID 1 that does not reap stays a zombie: dead all the same.)
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // `pid (comm) S …`: the state follows the last `)`.
        let state = stat.rsplit_once(") ").map(|(_, rest)| rest);
        !state.is_some_and(|rest| rest.starts_with('Z') || rest.starts_with('X'))
    })
}

/// The first file called `name` under `dir`, at any depth.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}

/// SIGKILLs a process group when dropped, so a failing test leaves no
/// task behind.
struct KillGroup(u32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        let _ = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("kill -s KILL -- -{} 2>/dev/null", self.0))
            .status();
    }
}

/// Subscribes to the master at `address` as a bare framework, launches
/// `command` as a task on the first offer, and returns once it runs: the
/// least a scheduler does, with the library's `Client`.
async fn launch_task(address: &str, command: &str) {
    use mesos::{
        Client, ClientOptions, calls,
        master::{MasterAddr, Scheme},
        resources::Resources,
        v1::{CommandInfo, FrameworkInfo, TaskId, TaskInfo, TaskState, scheduler::event},
    };

    let client = Client::new(ClientOptions {
        call_timeout: Duration::from_secs(5),
        ..Default::default()
    });
    client.set_master(MasterAddr::parse_with_default_scheme(address, Scheme::Http).unwrap());
    let info = FrameworkInfo {
        user: "tester".into(),
        name: "orphans".into(),
        // The subscription ends when this returns. With Mesos' default
        // failover timeout of 0 the master would remove the framework and
        // kill its task at once, racing the test's look at the task.
        failover_timeout: Some(3600.0),
        ..Default::default()
    };
    let mut subscription = client
        .subscribe(calls::subscribe(info))
        .await
        .expect("SUBSCRIBE is answered with a stream");
    let mut launched = false;
    loop {
        let event = subscription
            .next_event()
            .await
            .expect("events arrive")
            .expect("the master keeps the stream open");
        match event.r#type() {
            event::Type::Subscribed => {
                client.set_framework_id(Some(event.subscribed.unwrap().framework_id));
            }
            event::Type::Offers if !launched => {
                let offer = &event.offers.unwrap().offers[0];
                let task = TaskInfo {
                    name: "forever".into(),
                    task_id: TaskId {
                        value: "forever".into(),
                    },
                    agent_id: offer.agent_id.clone(),
                    resources: Resources::parse("cpus:0.1;mem:32").unwrap().into_vec(),
                    command: Some(CommandInfo {
                        value: Some(command.into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                let accept = calls::accept(
                    vec![offer.id.clone()],
                    vec![calls::launch(vec![task])],
                    Some(calls::refuse_for(0.0)),
                );
                client.call(accept).await.expect("the launch is accepted");
                launched = true;
            }
            event::Type::Update => {
                let status = event.update.unwrap().status;
                // The agent holds the next update back until this one is
                // acknowledged.
                if let Some(ack) = calls::acknowledge_update(&status) {
                    client
                        .call(ack)
                        .await
                        .expect("the acknowledgement is accepted");
                }
                if status.state() == TaskState::TaskRunning {
                    return;
                }
            }
            _ => {}
        }
    }
}

/// Waits until `condition` holds, polling: for conditions outside any
/// process that could tell us (files, other processes).
async fn wait_until(mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_die_with_a_killed_mesos_local() {
    let work_dir = tempfile::tempdir().unwrap();
    let child = Command::new(BINARY)
        .args([
            "--port",
            "0",
            "--agents",
            "1",
            "--allocation_interval",
            "50ms",
        ])
        .arg("--work_dir")
        .arg(work_dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let address = address(&mut child.0);

    // The shell stays the task's process (no `exec` of a last command):
    // it is the process the kernel must kill.
    let command = "echo $$ > \"$MESOS_SANDBOX/pid\"; while true; do sleep 1; done";
    tokio::time::timeout(WAIT, launch_task(&address, command))
        .await
        .expect("the task runs");
    let mut pid = None;
    wait_until(|| {
        pid = find_file(work_dir.path(), "pid")
            .and_then(|file| std::fs::read_to_string(file).ok())
            .and_then(|text| text.trim().parse::<u32>().ok());
        pid.is_some()
    })
    .await;
    let pid = pid.unwrap();
    let _cleanup = KillGroup(pid);
    assert!(running(pid), "the task runs");

    // SIGKILL: mesos-local cannot kill anything itself.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while running(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "task process {pid} outlived the SIGKILLed mesos-local by 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
