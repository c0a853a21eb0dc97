//! The processes a benchmark runs and what it reads about them from
//! `/proc`: CPU time (user + system) and resident memory.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

/// The directory of this binary (`target/release` or `target/debug`), where
/// `bin/bench` built the others.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    exe.parent().expect("in a directory").to_path_buf()
}

/// A binary built beside this one.
pub fn binary(name: &str) -> Result<PathBuf> {
    let path = target_dir().join(name);
    if !path.exists() {
        bail!(
            "{} is missing: run bin/bench, which builds it",
            path.display()
        );
    }
    Ok(path)
}

/// CPU seconds (user + system) a process used so far.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')').context("stat format")? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields[11].parse()?;
    let stime: f64 = fields[12].parse()?;
    Ok((utime + stime) / clock_ticks())
}

/// CPU seconds a process's live threads used so far, to the nanosecond
/// (`se.sum_exec_runtime` in `/proc/<pid>/task/*/sched`), where `stat`
/// counts in clock ticks (10 ms): a process that used 5 ms reads 0 there,
/// and a thousand of them read nothing. A thread that ended is not
/// counted; without `/proc/…/sched` (a kernel without
/// CONFIG_SCHED_DEBUG), `stat`'s figure.
pub fn cpu_seconds_precise(pid: u32) -> Result<f64> {
    let mut total_ms = 0.0;
    let mut threads = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))?.flatten() {
        let Ok(sched) = std::fs::read_to_string(entry.path().join("sched")) else {
            continue;
        };
        let runtime = sched
            .lines()
            .find(|l| l.starts_with("se.sum_exec_runtime"))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.trim().parse::<f64>().ok());
        if let Some(ms) = runtime {
            total_ms += ms;
            threads += 1;
        }
    }
    if threads == 0 {
        return cpu_seconds(pid);
    }
    Ok(total_ms / 1000.0)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

/// A `/proc/<pid>/status` field in kB (`VmRSS`, `VmHWM`), as MB.
pub fn memory_mb(pid: u32, field: &str) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("no {field} for {pid}"))?;
    let kb: f64 = line
        .split_whitespace()
        .nth(1)
        .context("status format")?
        .parse()?;
    Ok(kb / 1024.0)
}

/// A process's proportional set size in MB (`Pss` in
/// `/proc/<pid>/smaps_rollup`): its private pages, and its share of each
/// page it shares (the binary's code, mapped by every copy running).
pub fn pss_mb(pid: u32) -> Result<f64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    let kb: f64 = rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .context("no Pss")?
        .split_whitespace()
        .next()
        .context("smaps_rollup format")?
        .parse()?;
    Ok(kb / 1024.0)
}

/// A child that is killed when dropped.
pub struct Process {
    child: Child,
}

impl Process {
    pub fn spawn(name: &str, command: &mut Command) -> Result<Process> {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(Process { child })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn cpu(&self) -> Result<f64> {
        cpu_seconds(self.pid())
    }

    /// Its standard output, if it was piped (once).
    pub fn stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A simulated master (`mesos-local`) with virtual tasks.
pub fn start_master(agents: usize, resources: &str, virtual_tasks: bool) -> Result<(Process, u16)> {
    let port = free_port()?;
    let mut command = Command::new(binary("mesos-local")?);
    command
        .args(["--port", &port.to_string(), "--agents", &agents.to_string()])
        .args(["--resources", resources])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    if virtual_tasks {
        command.arg("--virtual_tasks");
    }
    let master = Process::spawn("mesos-local", &mut command)?;
    poll_until(Duration::from_secs(20), Duration::from_millis(50), || {
        Ok(http_get(port, "/health").is_ok())
    })?;
    Ok((master, port))
}

/// GETs a path from a loopback server; the body.
pub fn http_get(port: u16, path: &str) -> Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .context("no HTTP body")?;
    Ok(body)
}

/// How many of the master's tasks the framework was told are RUNNING:
/// their TASK_RUNNING update was sent, which the agent does only once the
/// framework acknowledged TASK_STARTING (`/master/state`).
pub fn tasks_running(port: u16) -> Result<usize> {
    let body = http_get(port, "/master/state")?;
    let json: serde_json::Value = serde_json::from_str(&body)?;
    let frameworks = json["frameworks"].as_array().cloned().unwrap_or_default();
    Ok(frameworks
        .iter()
        .flat_map(|f| f["tasks"].as_array().cloned().unwrap_or_default())
        .filter(|t| {
            t["statuses"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["state"] == "TASK_RUNNING"))
        })
        .count())
}

/// Polls `condition` every `every` until it holds or `timeout` passes.
pub fn poll_until(
    timeout: Duration,
    every: Duration,
    mut condition: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if condition().unwrap_or(false) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("condition not met within {timeout:?}");
        }
        std::thread::sleep(every);
    }
}
