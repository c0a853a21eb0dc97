//! Executors: what a task costs on the kit's own executor (step 01's
//! `hello-mesos executor`) against Mesos' command executor, with real
//! processes (`sleep 3600`) on a simulated agent (`mesos-local`, no
//! virtual tasks).
//!
//! Three ways to launch the same `tasks` tasks, each in one ACCEPT:
//!
//! - `command`: command tasks, run by the agent's command executor (in the
//!   simulation, by `mesos-local` itself: no executor process of its own);
//! - `one`: every task on ONE executor (one `ExecutorInfo` for all), which
//!   runs them all in one process;
//! - `many`: one executor per task, as step 01 does.
//!
//! The scheduler (`mesos-bench executors-scheduler`, a process of its own,
//! raw calls as `floor.rs`) times each task from the ACCEPT sent to its
//! TASK_RUNNING received, and its own CPU over that time. This side reads
//! the CPU of the executor processes and of `mesos-local` from `/proc`,
//! the resident memory of the executors once settled, and the size of the
//! executor's binary.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use mesos::{
    Client, ClientOptions, calls,
    master::{MasterAddr, Scheme},
    offers,
    resources::{self, Resources},
    v1::{FrameworkInfo, TaskInfo, TaskState, scheduler::event},
};
use serde_json::{Value, json};

use crate::{
    offer_cycle::{TASK_CPUS, TASK_MEM},
    procs::{self, Process},
};

/// Each executor's own share, as step 01 asks (`EXECUTOR_RESOURCES`).
const EXECUTOR_CPUS: f64 = 0.05;
const EXECUTOR_MEM: f64 = 32.0;
/// The scheduler's command for every task.
const TASK_COMMAND: &str = "sleep 3600";

/// Who runs the tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Mesos' command executor.
    Command,
    /// Every task on one of our executors.
    One,
    /// One of our executors per task.
    Many,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Command => "command executor",
            Kind::One => "one executor, all tasks",
            Kind::Many => "one executor per task",
        }
    }

    fn arg(self) -> &'static str {
        match self {
            Kind::Command => "command",
            Kind::One => "one",
            Kind::Many => "many",
        }
    }
}

/// One case's figures.
#[derive(Debug, Clone)]
pub struct Run {
    pub kind: Kind,
    pub tasks: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub wall_s: f64,
    pub scheduler_cpu_s: f64,
    /// Our executors' processes (none for the command executor).
    pub executors: usize,
    pub executor_cpu_s: f64,
    /// The simulated master and agent, which is also the command executor.
    pub mesos_local_cpu_s: f64,
    /// The median executor's memory, settled: resident (`VmRSS`), its
    /// private part (`RssAnon`: the rest is the binary's pages, shared by
    /// every executor), and its proportional share (`Pss`).
    pub executor_rss_mb: Option<f64>,
    pub executor_rss_anon_mb: Option<f64>,
    pub executor_pss_mb: Option<f64>,
}

impl Run {
    fn per_task_ms(&self, cpu_s: f64) -> f64 {
        cpu_s * 1000.0 / self.tasks as f64
    }

    pub fn print(&self) {
        let executors = match (self.executors, self.executor_rss_mb) {
            (0, _) | (_, None) => "no executor process".to_string(),
            (n, Some(mb)) => format!(
                "{n} executor processes {:.3} ms (median RSS {mb:.1} MB, of which anonymous {:.1} MB; \
                 PSS {:.1} MB)",
                self.per_task_ms(self.executor_cpu_s),
                self.executor_rss_anon_mb.unwrap_or(0.0),
                self.executor_pss_mb.unwrap_or(0.0),
            ),
        };
        println!(
            "executors    {:<24} {:>5} tasks: ACCEPT → RUNNING p50 {:>7.1} ms, p99 {:>7.1} ms, all in \
             {:>6.2} s; CPU per task: scheduler {:.3} ms, mesos-local {:.3} ms, {executors}",
            self.kind.name(),
            self.tasks,
            self.p50_ms,
            self.p99_ms,
            self.wall_s,
            self.per_task_ms(self.scheduler_cpu_s),
            self.per_task_ms(self.mesos_local_cpu_s),
        );
    }

    pub fn json(&self) -> Value {
        json!({
            "kind": self.kind.arg(),
            "tasks": self.tasks,
            "running_p50_ms": self.p50_ms,
            "running_p99_ms": self.p99_ms,
            "wall_s": self.wall_s,
            "scheduler_cpu_s": self.scheduler_cpu_s,
            "scheduler_cpu_per_task_ms": self.per_task_ms(self.scheduler_cpu_s),
            "executor_processes": self.executors,
            "executor_cpu_s": self.executor_cpu_s,
            "executor_cpu_per_task_ms": self.per_task_ms(self.executor_cpu_s),
            "mesos_local_cpu_s": self.mesos_local_cpu_s,
            "mesos_local_cpu_per_task_ms": self.per_task_ms(self.mesos_local_cpu_s),
            "executor_rss_mb": self.executor_rss_mb,
            "executor_rss_anon_mb": self.executor_rss_anon_mb,
            "executor_pss_mb": self.executor_pss_mb,
        })
    }
}

/// The executor's binary: its size, and stripped if `strip` is at hand.
pub fn binary_size() -> Result<Value> {
    let path = procs::binary("hello-mesos")?;
    let size = std::fs::metadata(&path)?.len();
    let stripped_path =
        std::env::temp_dir().join(format!("mesos-bench-strip-{}", std::process::id()));
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&stripped_path)
        .arg(&path)
        .status()
        .ok()
        .filter(|s| s.success())
        .and_then(|_| std::fs::metadata(&stripped_path).ok())
        .map(|m| m.len());
    let _ = std::fs::remove_file(&stripped_path);
    let mb = |bytes: u64| bytes as f64 / 1_048_576.0;
    println!(
        "executors    binary {}: {:.1} MB{}",
        path.display(),
        mb(size),
        stripped
            .map(|s| format!(", {:.1} MB stripped", mb(s)))
            .unwrap_or_default()
    );
    Ok(json!({"path": path, "bytes": size, "stripped_bytes": stripped}))
}

/// Launches `tasks` tasks as `kind` says on a fresh `mesos-local` with one
/// agent, and kills every process it started before returning.
pub fn run(kind: Kind, tasks: usize) -> Result<Run> {
    adopt_orphans();
    let work_dir =
        std::env::temp_dir().join(format!("mesos-bench-executors-{}", std::process::id()));
    std::fs::create_dir_all(&work_dir)?;
    let result = measure(kind, tasks, &work_dir);
    // Whatever happened: no executor or task outlives the case.
    kill_descendants();
    let _ = std::fs::remove_dir_all(&work_dir);
    result
}

fn measure(kind: Kind, tasks: usize, work_dir: &Path) -> Result<Run> {
    // Room for every task and every executor on the one agent.
    let n = tasks as f64;
    let cpus: f64 = TASK_CPUS.parse::<f64>()? * n + EXECUTOR_CPUS * n + 1.0;
    let mem: f64 = TASK_MEM.parse::<f64>()? * n + EXECUTOR_MEM * n + 256.0;
    let agent = format!("cpus:{cpus};mem:{mem};disk:4096;ports:[31000-32000]");
    let port = procs::free_port()?;
    let mut command = Command::new(procs::binary("mesos-local")?);
    command
        .args(["--port", &port.to_string(), "--agents", "1"])
        .args(["--resources", &agent])
        .arg("--work_dir")
        .arg(work_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    let master = Process::spawn("mesos-local", &mut command)?;
    procs::poll_until(Duration::from_secs(20), Duration::from_millis(50), || {
        Ok(procs::http_get(port, "/health").is_ok())
    })?;
    let master_before = procs::cpu_seconds_precise(master.pid())?;

    let executor = procs::binary("hello-mesos")?;
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args([
            "executors-scheduler",
            "--master",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--tasks", &tasks.to_string(), "--kind", kind.arg()])
        .arg("--executor")
        .arg(&executor)
        .stdout(Stdio::piped());
    let mut scheduler = Process::spawn("executors-scheduler", &mut command)?;
    let stdout = scheduler.stdout().context("the scheduler's stdout")?;
    let timeout = Duration::from_secs(60 + tasks as u64 / 5);
    let report = read_line(stdout, timeout)?;
    let report: Value = serde_json::from_str(&report).context("the scheduler's report")?;

    // Let the last acknowledgements reach the executors, and their memory
    // settle, before reading what they used.
    std::thread::sleep(Duration::from_secs(2));
    let executors: Vec<u32> = descendants(master.pid())
        .into_iter()
        .filter(|&pid| comm(pid).as_deref() == Some("hello-mesos"))
        .collect();
    let executor_cpu_s = executors
        .iter()
        .filter_map(|&pid| procs::cpu_seconds_precise(pid).ok())
        .sum();
    let median = |read: &dyn Fn(u32) -> Result<f64>| {
        let mut values: Vec<f64> = executors.iter().filter_map(|&pid| read(pid).ok()).collect();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied()
    };
    let mut latencies: Vec<f64> = report["latencies_ms"]
        .as_array()
        .context("latencies")?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    latencies.sort_by(f64::total_cmp);
    Ok(Run {
        kind,
        tasks,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        wall_s: report["wall_s"].as_f64().unwrap_or(0.0),
        scheduler_cpu_s: report["cpu_s"].as_f64().unwrap_or(0.0),
        executors: executors.len(),
        executor_cpu_s,
        mesos_local_cpu_s: procs::cpu_seconds_precise(master.pid())? - master_before,
        executor_rss_mb: median(&|pid| procs::memory_mb(pid, "VmRSS")),
        executor_rss_anon_mb: median(&|pid| procs::memory_mb(pid, "RssAnon")),
        executor_pss_mb: median(&procs::pss_mb),
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

/// The first line `reader` gives, within `timeout`.
fn read_line(reader: impl std::io::Read + Send + 'static, timeout: Duration) -> Result<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = BufReader::new(reader).read_line(&mut line);
        let _ = sender.send(read.map(|_| line));
    });
    match receiver.recv_timeout(timeout) {
        Ok(Ok(line)) if !line.trim().is_empty() => Ok(line),
        Ok(Ok(_)) => bail!("the scheduler ended without a report"),
        Ok(Err(error)) => Err(error.into()),
        Err(_) => bail!("no report from the scheduler within {timeout:?}"),
    }
}

// --- The processes: every one this benchmark starts dies with its case.

/// Makes this process the reaper of its descendants' orphans: a process
/// whose parent died (`mesos-local` killed) is still found under us.
fn adopt_orphans() {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes a plain integer.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong);
    }
}

/// SIGKILLs every live descendant of this process until none is left, and
/// reaps them.
fn kill_descendants() {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let live = descendants(std::process::id());
        for &pid in &live {
            // SAFETY: kill has no memory preconditions; the pid is one of
            // our descendants (orphans are reparented to us, so it cannot
            // have been reused by a stranger while not yet reaped).
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        reap();
        if live.is_empty() || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reaps every child that ended.
fn reap() {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes to `status`, which lives for the call.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
    }
}

/// The live (not zombie) descendants of `root`, from `/proc`.
fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the command name in parentheses: state, then ppid.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("Z");
        let Some(ppid) = fields.next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        parents.push((pid, ppid, state != "Z"));
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|&&(_, ppid, _)| ppid == parent)
                .map(|&(pid, _, _)| pid),
        );
        i += 1;
    }
    found
        .into_iter()
        .skip(1)
        .filter(|pid| parents.iter().any(|&(p, _, live)| p == *pid && live))
        .collect()
}

fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim().to_string())
}

// --- The scheduler, a process of its own (`mesos-bench executors-scheduler`).

/// Launches `tasks` tasks as `kind` says in one ACCEPT, acknowledges every
/// update, and once all are RUNNING prints one JSON line: each task's
/// ACCEPT → RUNNING time, the wall time, and its CPU over that time. Then
/// goes on acknowledging until stopped.
pub async fn scheduler(master: &str, tasks: usize, kind: Kind, executor: &Path) -> Result<()> {
    let client = Client::new(ClientOptions::default());
    let addr =
        MasterAddr::parse_with_default_scheme(master, Scheme::Http).map_err(anyhow::Error::msg)?;
    client.set_master(addr);
    let info = FrameworkInfo {
        user: "root".into(),
        name: "executors-bench".into(),
        ..Default::default()
    };
    let mut subscription = client.subscribe(calls::subscribe(info)).await?;
    let mut accepted: Option<(Instant, f64)> = None;
    let mut latencies_ms: Vec<f64> = Vec::with_capacity(tasks);
    let mut reported = false;
    loop {
        let Some(event) = subscription.next_event().await? else {
            bail!("the master closed the stream");
        };
        match event.r#type() {
            event::Type::Subscribed => {
                let id = event.subscribed.context("SUBSCRIBED")?.framework_id;
                client.set_framework_id(Some(id));
            }
            event::Type::Offers => {
                for offer in event.offers.context("OFFERS")?.offers {
                    if accepted.is_some() {
                        client.call(calls::decline(vec![offer.id], 3600.0)).await?;
                        continue;
                    }
                    let infos = (0..tasks)
                        .map(|i| task(kind, i, &offer.agent_id, executor))
                        .collect::<Result<Vec<_>>>()?;
                    let cpu = procs::cpu_seconds_precise(std::process::id())?;
                    accepted = Some((Instant::now(), cpu));
                    let call = calls::accept(vec![offer.id], vec![calls::launch(infos)], None);
                    client.call(call).await?;
                }
            }
            event::Type::Update => {
                let status = event.update.context("UPDATE")?.status;
                match (status.state(), accepted) {
                    (TaskState::TaskRunning, Some((at, _))) => {
                        latencies_ms.push(at.elapsed().as_secs_f64() * 1000.0)
                    }
                    (TaskState::TaskStarting | TaskState::TaskStaging, _) => {}
                    (state, _) => bail!(
                        "task {} is {state:?}: {}",
                        status.task_id.value,
                        status.message.as_deref().unwrap_or("")
                    ),
                }
                if let Some(ack) = calls::acknowledge_update(&status) {
                    client.call(ack).await?;
                }
                if let (false, true, Some((at, cpu))) =
                    (reported, latencies_ms.len() >= tasks, accepted)
                {
                    let report = json!({
                        "latencies_ms": latencies_ms,
                        "wall_s": at.elapsed().as_secs_f64(),
                        "cpu_s": procs::cpu_seconds_precise(std::process::id())? - cpu,
                    });
                    println!("{report}");
                    reported = true;
                }
            }
            _ => {}
        }
    }
}

/// Task `i`, with `sleep 3600`, for `kind`'s executor.
fn task(kind: Kind, i: usize, agent: &mesos::v1::AgentId, executor: &Path) -> Result<TaskInfo> {
    let own = Resources::from([
        resources::cpus(TASK_CPUS.parse()?),
        resources::mem(TASK_MEM.parse()?),
    ]);
    let id = format!("bench-{i}");
    let mut task = offers::task_info(
        "bench",
        id.clone(),
        agent,
        own,
        offers::command_info_shell(TASK_COMMAND),
    );
    let executor_id = match kind {
        Kind::Command => return Ok(task),
        // The same ExecutorInfo in every task: the agent runs them all on
        // one executor.
        Kind::One => "bench-executor".to_string(),
        Kind::Many => id,
    };
    let start = offers::command_info_shell(format!("exec '{}' executor", executor.display()));
    let share = Resources::from([resources::cpus(EXECUTOR_CPUS), resources::mem(EXECUTOR_MEM)]);
    task.executor = Some(Box::new(offers::executor_info(
        executor_id,
        "bench executor",
        share,
        start,
    )));
    // A task on a custom executor has no command: ours reads it from data.
    task.command = None;
    task.data = Some(Bytes::from_static(TASK_COMMAND.as_bytes()));
    Ok(task)
}
