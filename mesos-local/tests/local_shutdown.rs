//! `mesos-local` stopped while it launches tasks leaves no task behind.
//!
//! A master that is told to stop kills the tasks it knows of. Tasks whose
//! launch is still under way when it stops (their sandbox being prepared,
//! their process being forked) are the hard case: these tests SIGTERM
//! `mesos-local` in the middle of launching 200 tasks and then look for
//! any process of those tasks, wherever it was re-parented to. The tasks
//! are `sleep 3600` run by `sh -c`, so each is a shell and its child.

#![cfg(target_os = "linux")]

// The library's own test helpers (a small framework on `mesos::Client`):
// shared by path, since this crate's tests need the `mesos-local` binary
// and only this crate's tests are given it.
#[path = "../../mesos/tests/local_support/mod.rs"]
mod local_support;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use local_support::{Framework, command_task, framework_info};
use mesos::{
    Client, ClientOptions,
    master::{MasterAddr, Scheme},
    v1::{AgentId, Environment, TaskInfo, environment},
};

const BINARY: &str = env!("CARGO_BIN_EXE_mesos-local");

/// How many tasks are launched, half on each of two agents.
const TASKS: usize = 200;

/// How long anything in these tests may take (the machine may be loaded).
const DEADLINE: Duration = Duration::from_secs(60);

/// Kills the child if a test fails half-way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The environment variable that marks this test's task processes.
const MARKER_NAME: &str = "MESOS_LOCAL_TEST_MARKER";

/// The live processes whose environment holds `marker` (`NAME=value`):
/// their PIDs and, for the failure message, a description. A zombie (dead,
/// not reaped yet) has an empty environment, so it is not found.
fn processes_with(marker: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !environ.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        // `pid (comm) state ppid pgrp …`
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(") ")
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |n: usize| fields.get(n).copied().unwrap_or("?");
        found.push((
            pid,
            format!(
                "{pid} (parent {}, process group {}): {}",
                field(1),
                field(2),
                cmdline.trim()
            ),
        ));
    }
    found
}

/// SIGKILLs whatever still carries the marker, so a failing test leaves
/// nothing behind.
struct KillMarked(String);

impl Drop for KillMarked {
    fn drop(&mut self) {
        for (pid, _) in processes_with(&self.0) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

/// `sleep 3600`, its processes marked with `MARKER_NAME=value`.
fn sleep_task(id: &str, agent_id: &AgentId, value: &str) -> TaskInfo {
    let mut task = command_task(id, agent_id, "sleep 3600", "cpus:0.01;mem:1");
    task.command.as_mut().unwrap().environment = Some(Environment {
        variables: vec![environment::Variable {
            name: MARKER_NAME.to_string(),
            value: Some(value.to_string()),
            ..Default::default()
        }],
    });
    task
}

/// Starts `mesos-local` with two agents and returns it and its address.
fn start_mesos_local(work_dir: &std::path::Path) -> (Running, String) {
    let child = Command::new(BINARY)
        .args(["--port", "0", "--agents", "2"])
        .args(["--resources", "cpus:4;mem:4096"])
        .args(["--allocation_interval", "50ms"])
        .arg("--work_dir")
        .arg(work_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines.next().expect("mesos-local announces itself").unwrap();
        if let Some(address) = line.strip_prefix("mesos-local: simulated Mesos master at ") {
            break address.trim().to_string();
        }
    };
    // Keep reading, so that mesos-local never writes to a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, address)
}

/// Launches 200 tasks and SIGTERMs `mesos-local` once `running` of their
/// processes run (0: as soon as it accepted the launches); then no task
/// process may be left.
async fn sigterm_while_launching(running: usize) {
    let work_dir = tempfile::tempdir().unwrap();
    let (mut child, address) = start_mesos_local(work_dir.path());
    let value = uuid::Uuid::new_v4().to_string();
    let marker = format!("{MARKER_NAME}={value}");
    let _cleanup = KillMarked(marker.clone());

    let client = Client::new(ClientOptions {
        call_timeout: Duration::from_secs(10),
        ..Default::default()
    });
    client.set_master(MasterAddr::parse_with_default_scheme(&address, Scheme::Http).unwrap());
    let framework = Framework::subscribe_client(client, framework_info("burst", &[], 0.0)).await;
    for (n, agent) in ["-S0", "-S1"].into_iter().enumerate() {
        let offer = framework.offer_for(agent, |_| true).await;
        let half = TASKS / 2;
        let tasks = (n * half..(n + 1) * half)
            .map(|i| sleep_task(&format!("sleep-{i}"), &offer.agent_id, &value))
            .collect();
        framework.launch(&offer, tasks).await;
    }
    let deadline = Instant::now() + DEADLINE;
    while processes_with(&marker).len() < running {
        assert!(
            Instant::now() < deadline,
            "{running} task processes never ran"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let before = processes_with(&marker).len();
    Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "mesos-local ignores SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "mesos-local exits cleanly: {status:?}");

    // Killed processes go as soon as the kernel has delivered SIGKILL;
    // only a process nobody killed stays.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = processes_with(&marker);
        if left.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            let left: Vec<String> = left.into_iter().map(|(_, text)| text).collect();
            panic!(
                "{} task processes outlived mesos-local by {DEADLINE:?} ({before} task \
                 processes ran when it got SIGTERM, after {running}):\n{}",
                left.len(),
                left.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_right_after_200_launches_leaves_no_task_process() {
    sigterm_while_launching(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_200_tasks_start_leaves_no_task_process() {
    sigterm_while_launching(40).await;
}
