//! The offer cycle: a scheduler launching `tasks` tasks on `agents` agents
//! of a simulated master with virtual tasks, until the master has sent
//! every task's TASK_RUNNING (which it does only after the scheduler
//! acknowledged TASK_STARTING). The scheduler's and the master's CPU time,
//! the wall time, and the scheduler's peak RSS.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Result;
use serde_json::{Value, json};

use crate::procs::{self, Process};

/// Each agent holds ten of the benchmark's tasks (0.01 cpus, 10 MB).
pub const AGENT_RESOURCES: &str = "cpus:0.1;mem:100;disk:4096;ports:[31000-32000]";
pub const TASK_CPUS: &str = "0.01";
pub const TASK_MEM: &str = "10";

/// Which scheduler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduler {
    /// Step 01, `hello-mesos`, as a user runs it (logging at info).
    Step01,
    /// The protocol floor (`floor.rs`): nothing but the calls.
    Floor,
    /// pymesos (`pymesos.rs`), over JSON.
    Pymesos,
}

impl Scheduler {
    pub fn name(self) -> &'static str {
        match self {
            Scheduler::Step01 => "step 01 (hello-mesos)",
            Scheduler::Floor => "protocol floor",
            Scheduler::Pymesos => "pymesos",
        }
    }

    fn command(self, port: u16, tasks: usize) -> Result<Command> {
        let master = format!("127.0.0.1:{port}");
        Ok(match self {
            Scheduler::Step01 => {
                let mut command = Command::new(procs::binary("hello-mesos")?);
                command
                    .args(["--master", &master, "--instances", &tasks.to_string()])
                    .args(["--cpus", TASK_CPUS, "--mem", TASK_MEM])
                    .args(["--command", "sleep 3600"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                command
            }
            Scheduler::Floor => {
                let mut command = Command::new(std::env::current_exe()?);
                command
                    .args(["floor", "--master", &master, "--tasks", &tasks.to_string()])
                    .stdout(Stdio::null());
                command
            }
            Scheduler::Pymesos => crate::pymesos::command(&master, tasks)?,
        })
    }
}

/// One run's figures.
#[derive(Debug, Clone)]
pub struct Run {
    pub scheduler: Scheduler,
    pub agents: usize,
    pub tasks: usize,
    pub wall_s: f64,
    pub scheduler_cpu_s: f64,
    pub master_cpu_s: f64,
    pub scheduler_peak_rss_mb: f64,
}

impl Run {
    pub fn cpu_per_task_ms(&self) -> f64 {
        self.scheduler_cpu_s * 1000.0 / self.tasks as f64
    }

    /// Tasks launched and running per second of wall time.
    pub fn tasks_per_s(&self) -> f64 {
        self.tasks as f64 / self.wall_s
    }

    pub fn json(&self) -> Value {
        json!({
            "scheduler": self.scheduler.name(),
            "agents": self.agents,
            "tasks": self.tasks,
            "wall_s": self.wall_s,
            "scheduler_cpu_s": self.scheduler_cpu_s,
            "scheduler_cpu_per_task_ms": self.cpu_per_task_ms(),
            "tasks_per_s": self.tasks_per_s(),
            "master_cpu_s": self.master_cpu_s,
            "scheduler_peak_rss_mb": self.scheduler_peak_rss_mb,
        })
    }
}

/// Launches `tasks` tasks with `scheduler` on a fresh master.
pub fn run(scheduler: Scheduler, agents: usize, tasks: usize) -> Result<Run> {
    let (master, port) = procs::start_master(agents, AGENT_RESOURCES, true)?;
    let master_before = master.cpu()?;
    let started = Instant::now();
    let framework = Process::spawn(scheduler.name(), &mut scheduler.command(port, tasks)?)?;
    // /master/state costs the master too: polled four times a second.
    let timeout = Duration::from_secs(60 + tasks as u64 / 20);
    procs::poll_until(timeout, Duration::from_millis(250), || {
        Ok(procs::tasks_running(port)? >= tasks)
    })?;
    let wall_s = started.elapsed().as_secs_f64();
    Ok(Run {
        scheduler,
        agents,
        tasks,
        wall_s,
        scheduler_cpu_s: framework.cpu()?,
        master_cpu_s: master.cpu()? - master_before,
        scheduler_peak_rss_mb: procs::memory_mb(framework.pid(), "VmHWM")?,
    })
}
