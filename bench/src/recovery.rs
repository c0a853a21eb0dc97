//! Recovery: how long a restarted scheduler takes to know its tasks again.
//!
//! Step 03 (`hello-mesos-03`, the step whose lesson is recovery) launches
//! `tasks` tasks on a simulated master with virtual tasks, storing a record
//! of each in a real ZooKeeper, and is killed with SIGKILL (no last word to
//! anyone). A second one starts; from its start we time, by its own log
//! lines: reading the records back, SUBSCRIBED with the stored framework ID
//! (the master still has the framework: step 03's failover timeout is a
//! week), and the end of explicit reconciliation, when the master has
//! answered for every task it asked about. Its CPU time and peak RSS at
//! that moment too.
//!
//! Then it checks what recovery is for: the master still runs exactly
//! `tasks` tasks, so none was launched twice and none lost.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use mesos::testing::ZooKeeperServer;
use serde_json::{Value, json};

use crate::{
    offer_cycle::{AGENT_RESOURCES, TASK_CPUS, TASK_MEM},
    procs::{self, Process},
};

/// Step 03, as a user runs it, with its state under `zk`.
fn step_03(port: u16, zk: &str, tasks: usize) -> Result<Command> {
    let mut command = Command::new(procs::binary("hello-mesos-03")?);
    command
        .args(["--master", &format!("127.0.0.1:{port}"), "--zk", zk])
        .args(["--instances", &tasks.to_string()])
        .args(["--cpus", TASK_CPUS, "--mem", TASK_MEM])
        .args(["--command", "sleep 3600"])
        // Plain text: the lines are matched below.
        .env("NO_COLOR", "1")
        .stderr(Stdio::null());
    Ok(command)
}

/// The seconds from `started` to each milestone of the second scheduler.
#[derive(Debug, Default)]
struct Milestones {
    /// "state read from ZooKeeper", with how many task records.
    loaded: Option<(f64, usize)>,
    /// The driver's "subscribed".
    subscribed: Option<f64>,
    /// The step's "reconciled every task we know".
    reconciled: Option<f64>,
}

/// The number after `tasks=` in a log line.
fn tasks_field(line: &str) -> Option<usize> {
    let rest = &line[line.find("tasks=")? + "tasks=".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

pub fn run(tasks: usize) -> Result<Value> {
    let zookeeper = ZooKeeperServer::try_start().map_err(anyhow::Error::msg)?;
    let zk = format!("zk://{}/bench-recovery", zookeeper.connect_string());
    let (master, port) = procs::start_master(tasks / 10, AGENT_RESOURCES, true)?;

    let setup = Instant::now();
    let first = Process::spawn("step 03", step_03(port, &zk, tasks)?.stdout(Stdio::null()))?;
    let timeout = Duration::from_secs(60 + tasks as u64 / 20);
    procs::poll_until(timeout, Duration::from_millis(250), || {
        Ok(procs::tasks_running(port)? >= tasks)
    })
    .context("the first scheduler did not get every task running")?;
    let setup_s = setup.elapsed().as_secs_f64();
    // SIGKILL, as a crash or a kill -9 would.
    drop(first);

    let started = Instant::now();
    let mut command = step_03(port, &zk, tasks)?;
    let mut child = command
        .stdin(Stdio::null())
        // Its log (tracing writes to stdout).
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start step 03 again")?;
    let log = child.stdout.take().context("stdout piped")?;
    let pid = child.id();
    // Lines are read on a thread of their own, so that a scheduler that
    // never gets there makes the benchmark fail after a timeout, not hang.
    let (lines, arrived) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(log).lines().map_while(Result::ok) {
            if lines.send((started.elapsed().as_secs_f64(), line)).is_err() {
                break;
            }
        }
    });
    let mut milestones = Milestones::default();
    let deadline = started + timeout;
    let (cpu_s, peak_rss_mb) = loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        let Ok((at, line)) = arrived.recv_timeout(wait) else {
            let _ = child.kill();
            bail!("the restarted scheduler did not reconcile within {timeout:?}: {milestones:?}");
        };
        if line.contains("state read from ZooKeeper") && milestones.loaded.is_none() {
            milestones.loaded = Some((at, tasks_field(&line).unwrap_or(0)));
        } else if line.contains("mesos::driver: subscribed") && milestones.subscribed.is_none() {
            milestones.subscribed = Some(at);
        } else if line.contains("reconciled every task we know") {
            milestones.reconciled = Some(at);
            break (procs::cpu_seconds(pid)?, procs::memory_mb(pid, "VmHWM")?);
        }
    };
    let running = procs::tasks_running(port)?;
    let _ = child.kill();
    let _ = child.wait();
    drop(master);

    let (loaded_s, records) = milestones.loaded.context("no \"state read\" line")?;
    if records != tasks || running != tasks {
        bail!(
            "recovery went wrong: {records} records read back, {running} tasks running, {tasks} launched"
        );
    }
    Ok(json!({
        "tasks": tasks,
        "agents": tasks / 10,
        "setup_s": setup_s,
        "records_read_s": loaded_s,
        "subscribed_s": milestones.subscribed,
        "reconciled_s": milestones.reconciled,
        "scheduler_cpu_s": cpu_s,
        "scheduler_peak_rss_mb": peak_rss_mb,
        "tick_time_ms": mesos::testing::TICK_TIME.as_millis(),
    }))
}
