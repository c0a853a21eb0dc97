//! Performing one check, as Mesos' `CheckerProcess` does for a task that
//! shares the executor's host and network (`src/checks/checker_process.cpp`,
//! the "plain" runtime, 1.11):
//!
//! * COMMAND: the command, in the executor's directory and environment
//!   plus the check's own variables; healthy if it exits with 0;
//! * HTTP: `curl` on `<scheme>://127.0.0.1:<port><path>` (`[::1]` for
//!   IPv6), following redirects and trusting any certificate, as Mesos
//!   runs it; healthy if the final status is 200 to 399;
//! * TCP: a connection to `127.0.0.1:<port>` (Mesos' `mesos-tcp-connect`
//!   helper does only that; it ignores IPv6 for TCP, and so do we).
//!
//! A check that does not finish within its timeout fails, and its process
//! group is killed. The `Err` text is what Mesos logs for the failure.

use std::{
    path::PathBuf,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use crate::{
    executor::process::{describe_exit, signal_group},
    v1::{CommandInfo, HealthCheck, health_check::Type, network_info::Protocol},
};

/// Where a COMMAND check runs: the executor's view of its task.
#[derive(Debug, Clone, Default)]
pub struct CommandContext {
    /// The working directory (the sandbox); None: this process's.
    pub directory: Option<PathBuf>,
    /// Variables on top of this process's environment: what the agent
    /// gives the executor (`MESOS_*`, the task command's own variables).
    pub environment: Vec<(String, String)>,
    /// Where the check's output goes (the executor's `stderr`, so the
    /// sandbox's); None: this process's stderr.
    pub output: Option<PathBuf>,
}

/// One kind of check, ready to perform.
#[derive(Debug, Clone)]
pub(crate) enum Probe {
    Command {
        info: CommandInfo,
        context: CommandContext,
    },
    Http {
        url: String,
    },
    Tcp {
        port: u16,
    },
}

impl Probe {
    /// The probe of a check that passed validation.
    pub(crate) fn new(check: &HealthCheck, context: CommandContext) -> Probe {
        match check.r#type() {
            Type::Http => {
                let http = check.http.clone().unwrap_or_default();
                let domain = if http.protocol() == Protocol::IPv6 {
                    "[::1]"
                } else {
                    "127.0.0.1"
                };
                let scheme = http.scheme.as_deref().unwrap_or("http");
                let path = http.path.as_deref().unwrap_or("");
                Probe::Http {
                    url: format!("{scheme}://{domain}:{}{path}", http.port),
                }
            }
            // Truncated, as Mesos does: its validation lets any uint32
            // through, and the checker casts it (`static_cast<uint16_t>`
            // in checker_process.cpp's tcpCheck), so 70000 probes 4464.
            // 5K refuses such a port before it gets here.
            Type::Tcp => Probe::Tcp {
                port: check.tcp.map_or(0, |t| t.port as u16),
            },
            _ => Probe::Command {
                info: check.command.clone().unwrap_or_default(),
                context,
            },
        }
    }

    /// Mesos' name for the check in its messages ("COMMAND health check").
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Probe::Command { .. } => "COMMAND health check",
            Probe::Http { .. } => "HTTP health check",
            Probe::Tcp { .. } => "TCP health check",
        }
    }

    /// Performs the check once: Ok if the task passed it.
    pub(crate) async fn perform(&self, timeout: Duration) -> Result<(), String> {
        match self {
            Probe::Command { info, context } => command(info, context, timeout).await,
            Probe::Http { url } => http(url, timeout).await,
            Probe::Tcp { port } => tcp(*port, timeout).await,
        }
    }
}

/// The process a `CommandInfo` describes, as Mesos starts it (a task's
/// command and a COMMAND check alike): `/bin/sh -c <value>` when `shell`
/// (the default), else `value` run directly with `arguments`, whose first
/// is argv[0] as for execvp(3).
pub(crate) fn command_of(info: &CommandInfo) -> tokio::process::Command {
    let value = info.value.clone().unwrap_or_default();
    if info.shell.unwrap_or(true) {
        let mut command = tokio::process::Command::new("/bin/sh");
        command.arg("-c").arg(value);
        command
    } else {
        let mut command = tokio::process::Command::new(&value);
        if let Some((argv0, rest)) = info.arguments.split_first() {
            command.arg0(argv0).args(rest);
        }
        command
    }
}

async fn command(
    info: &CommandInfo,
    context: &CommandContext,
    timeout: Duration,
) -> Result<(), String> {
    let mut command = command_of(info);
    if let Some(directory) = &context.directory {
        command.current_dir(directory);
    }
    command.envs(context.environment.iter().map(|(k, v)| (k, v)));
    if let Some(environment) = &info.environment {
        for variable in &environment.variables {
            if let Some(value) = &variable.value {
                command.env(&variable.name, value);
            }
        }
    }
    let (stdout, stderr) = match &context.output {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .map_err(|e| format!("Failed to create subprocess: {e}"))?;
            let copy = file
                .try_clone()
                .map_err(|e| format!("Failed to create subprocess: {e}"))?;
            (Stdio::from(file), Stdio::from(copy))
        }
        None => (Stdio::from(std::io::stderr()), Stdio::inherit()),
    };
    command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    let status = run(command, timeout).await.map_err(|e| {
        e.unwrap_or_else(|| format!("Command timed out after {}", seconds(timeout)))
    })?;
    match status.code() {
        Some(0) => Ok(()),
        // `interpretCheckStatusInfo`: "Command " + WSTRINGIFY(exitCode).
        _ => Err(format!("Command {}", describe_exit(status))),
    }
}

/// Mesos' `curl` command line: silent but for errors, following
/// redirects, any certificate, only the status code on stdout.
async fn http(url: &str, timeout: Duration) -> Result<(), String> {
    let mut curl = tokio::process::Command::new("curl");
    curl.args([
        "-s",
        "-S",
        "-L",
        "-k",
        "-w",
        "%{http_code}",
        "-o",
        "/dev/null",
        "-g",
        url,
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    curl.process_group(0).kill_on_drop(true);
    let child = curl
        .spawn()
        .map_err(|e| format!("Failed to create the curl subprocess: {e}"))?;
    let pid = child.id().unwrap_or(0);
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(output) => output.map_err(|e| format!("Failed to reap the curl process: {e}"))?,
        Err(_) => {
            signal_group(pid, "KILL").await;
            return Err(format!("curl timed out after {}", seconds(timeout)));
        }
    };
    if !output.status.success() {
        return Err(format!(
            "curl {}: {}",
            describe_exit(output.status),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let code: u16 = stdout
        .trim()
        .parse()
        .map_err(|_| format!("Unexpected output from curl: {stdout}"))?;
    if (200..400).contains(&code) {
        Ok(())
    } else {
        let reason = http::StatusCode::from_u16(code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        Err(format!("Unexpected HTTP response code: {code} {reason}"))
    }
}

async fn tcp(port: u16, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(("127.0.0.1", port))).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(_)) => Err("TCP connection failed".into()),
        Err(_) => Err(format!(
            "mesos-tcp-connect timed out after {}",
            seconds(timeout)
        )),
    }
}

/// Runs a check's process in a group of its own, so that a check that
/// times out is killed with whatever it started (Mesos' `os::killtree`).
/// Err(None) is a timeout.
async fn run(
    mut command: tokio::process::Command,
    timeout: Duration,
) -> Result<ExitStatus, Option<String>> {
    command.process_group(0).kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| Some(format!("Failed to create subprocess: {e}")))?;
    let pid = child.id().unwrap_or(0);
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => status.map_err(|e| Some(format!("Failed to reap the command process: {e}"))),
        Err(_) => {
            signal_group(pid, "KILL").await;
            let _ = child.wait().await;
            Err(None)
        }
    }
}

/// A duration as stout prints one ("20secs", "500ms").
fn seconds(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}secs", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}
