//! A task's command as a process: what an executor starts, signals and
//! waits for.
//!
//! Mesos' command executor runs a task's command with `sh -c` and kills it
//! with SIGTERM, then SIGKILL once the kill policy's grace period is over
//! (`src/launcher/executor.cpp`). Two things make that harder than one
//! `kill(pid)`:
//!
//! * `sh -c 'while true; do …; sleep 5; done'` forks children: `sleep`
//!   would outlive a killed shell. So the command gets a process group of
//!   its own, and signals go to the whole group.
//! * The executor itself may die without a last word (kill -9, an OOM
//!   kill). On a real agent the containerizer then destroys the container
//!   with everything in it; a process group survives its parent. So on
//!   Linux the command is told to die with the executor (`PR_SET_PDEATHSIG`),
//!   and an executor killed with -9 leaves no task behind.
//!
//! How a process ended reads as Mesos says it, "exited with status 1" or
//! "terminated with signal Killed" ([`describe_exit`]), which is what the
//! scheduler sees in the task's last status update.

use std::{
    io,
    process::{ExitStatus, Stdio},
    time::Duration,
};

/// Mesos' command executor waits this long between SIGTERM and SIGKILL
/// when neither the task's kill policy nor the KILL event says otherwise.
pub const DEFAULT_KILL_GRACE_PERIOD: Duration = Duration::from_secs(3);

/// A task's command, started with `sh -c` in a process group of its own.
#[derive(Debug)]
pub struct TaskProcess {
    child: tokio::process::Child,
    /// Its process ID, which is also its group's ID.
    pid: u32,
}

impl TaskProcess {
    /// Starts `sh -c <command>` in the current directory (an executor runs
    /// in its sandbox) with the executor's environment; its output goes
    /// where the executor's goes (the sandbox's `stdout` and `stderr`).
    pub fn spawn_shell(command: &str) -> io::Result<TaskProcess> {
        let mut shell = tokio::process::Command::new("/bin/sh");
        shell
            .arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            // The agent's token authenticates the executor, not its tasks
            // (Mesos' library erases it from the executor's environment).
            .env_remove(crate::executor::config::AUTHENTICATION_TOKEN)
            .process_group(0);
        die_with_parent(&mut shell);
        let child = shell.spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| io::Error::other("the process is gone"))?;
        Ok(TaskProcess { child, pid })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the shell to end.
    pub async fn wait(mut self) -> io::Result<ExitStatus> {
        self.child.wait().await
    }
}

/// Kills a task's process group as Mesos' command executor does: SIGTERM,
/// then SIGKILL after `grace_period` unless the group is gone by then.
/// Returns once SIGKILL is sent or found unnecessary.
pub async fn kill_group(pid: u32, grace_period: Duration) {
    signal_group(pid, "TERM").await;
    let deadline = tokio::time::Instant::now() + grace_period;
    // Poll for the group's end: a group has no handle to wait on.
    while tokio::time::Instant::now() < deadline {
        if !group_exists(pid).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50).min(grace_period)).await;
    }
    signal_group(pid, "KILL").await;
}

/// Whether any process of the group is still there (signal 0 checks
/// without sending anything).
async fn group_exists(pgid: u32) -> bool {
    shell_kill(pgid, "0").await
}

/// Sends a signal to a process group with the shell's `kill` (no libc
/// needed): `kill -s TERM -- -<pgid>`.
pub async fn signal_group(pgid: u32, signal: &str) {
    shell_kill(pgid, signal).await;
}

async fn shell_kill(pgid: u32, signal: &str) -> bool {
    if pgid == 0 {
        return false;
    }
    tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -s {signal} -- -{pgid} 2>/dev/null"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success())
}

/// On Linux: the command is SIGKILLed when the thread that started it
/// ends (the executor's, which runs on one thread).
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut tokio::process::Command) {
    let parent = std::process::id();
    // SAFETY: runs in the child between fork and exec, where only
    // async-signal-safe functions may be called: prctl and getppid are
    // plain system calls, and nothing here allocates or takes a lock.
    unsafe {
        command.pre_exec(move || {
            let signal = libc::SIGKILL as libc::c_ulong;
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal, 0 as libc::c_ulong) == -1 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl: no signal would come.
            if u32::try_from(libc::getppid()) != Ok(parent) {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut tokio::process::Command) {}

/// Mesos' `WSTRINGIFY`: "exited with status 1", "terminated with signal
/// Terminated" (the signal's `strsignal` name). The command executor's
/// last update says "Command " and this.
pub fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("terminated with signal {}", signal_name(signal)),
        (None, None) => "terminated with unknown status".to_string(),
    }
}

/// glibc's `strsignal` text for the common signals.
fn signal_name(signal: i32) -> String {
    match signal {
        1 => "Hangup".into(),
        2 => "Interrupt".into(),
        3 => "Quit".into(),
        4 => "Illegal instruction".into(),
        6 => "Aborted".into(),
        8 => "Floating point exception".into(),
        9 => "Killed".into(),
        10 => "User defined signal 1".into(),
        11 => "Segmentation fault".into(),
        12 => "User defined signal 2".into(),
        13 => "Broken pipe".into(),
        14 => "Alarm clock".into(),
        15 => "Terminated".into(),
        other => format!("Unknown signal {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn exit_statuses_read_like_mesos() {
        let read = |raw| describe_exit(ExitStatus::from_raw(raw));
        assert_eq!(read(0), "exited with status 0");
        assert_eq!(read(1 << 8), "exited with status 1");
        assert_eq!(read(15), "terminated with signal Terminated");
        assert_eq!(read(9), "terminated with signal Killed");
    }

    #[tokio::test]
    async fn a_kill_ends_the_shell_and_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("child");
        // The shell starts a child that ignores nothing and would outlive
        // a shell killed alone.
        let command = format!("sleep 600 & echo $! > {}; wait", pidfile.display());
        let process = TaskProcess::spawn_shell(&command).unwrap();
        let pid = process.pid();
        let child_pid = crate::testing::eventually("the child's pid is written", async || {
            std::fs::read_to_string(&pidfile)
                .ok()
                .filter(|s| s.ends_with('\n'))
        })
        .await;
        let child_pid: u32 = child_pid.trim().parse().unwrap();
        // As an executor does: one task waits for the end, another kills.
        let waiting = tokio::spawn(process.wait());
        kill_group(pid, Duration::from_secs(5)).await;
        let status = waiting.await.unwrap().unwrap();
        assert_eq!(describe_exit(status), "terminated with signal Terminated");
        crate::testing::eventually("the shell's child is gone too", async || {
            (!std::path::Path::new(&format!("/proc/{child_pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{child_pid}/stat"))
                    .is_ok_and(|stat| stat.contains(") Z ")))
            .then_some(())
        })
        .await;
    }

    #[tokio::test]
    async fn a_command_that_ignores_sigterm_is_killed_after_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready");
        let command = format!(
            "trap '' TERM; touch {}; while true; do sleep 0.1; done",
            ready.display()
        );
        let process = TaskProcess::spawn_shell(&command).unwrap();
        let pid = process.pid();
        // A TERM before the trap is set would end the shell.
        crate::testing::eventually("the trap is set", async || ready.exists().then_some(())).await;
        let waiting = tokio::spawn(process.wait());
        kill_group(pid, Duration::from_millis(500)).await;
        let status = tokio::time::timeout(crate::testing::WAIT, waiting).await;
        let status = status
            .expect("killed after the grace period")
            .unwrap()
            .unwrap();
        assert_eq!(describe_exit(status), "terminated with signal Killed");
    }
}
