//! What the command executor does while its task's process runs: the
//! task's state, and one method per event that changes it.
//!
//! Four things can happen to a running task: its process exits, the master
//! asks for a kill, the grace period of a kill runs out, or the health
//! check reports. Mesos' command executor (`src/launcher/executor.cpp` of
//! Mesos 1.11) handles each in a method of its own (`reaped`, `kill`,
//! `escalated`, `taskHealthUpdated`) on one actor's state; [`Supervision`]
//! is that state and those methods, and [`Supervision::run`] the loop that
//! waits for the next event.

use std::{io, process::ExitStatus, time::Duration};

use tokio::{process::Child, sync::mpsc, time::Instant};

use super::{ProcessTable, Report, exited_unhealthy, signal_group};
use crate::health::{HealthChecker, TaskHealth};

/// One running task, as its command executor sees it.
pub(super) struct Supervision<R> {
    /// The task's process, which leads its process group: signals go to
    /// the group, so that what `sh -c` started goes too.
    pid: u32,
    /// Tells the master (`Command::Executor`).
    report: R,
    /// `None` for a task without a health check, and once checking stopped.
    checker: Option<HealthChecker>,
    /// A kill request came and SIGTERM was sent: the task ends TASK_KILLED,
    /// whatever its exit status.
    killed: bool,
    /// The health check failed too often and asked for the kill.
    killed_by_health_check: bool,
    /// When the first SIGTERM went out: a later kill's shorter grace
    /// period counts from there.
    kill_started: Option<Instant>,
    /// When the kill under way escalates to SIGKILL.
    escalate_at: Option<Instant>,
}

impl<R: Fn(Report)> Supervision<R> {
    /// A task whose process `pid` was just forked and reported
    /// TASK_RUNNING, checked by `checker` if it has a health check.
    pub(super) fn new(pid: u32, report: R, checker: Option<HealthChecker>) -> Self {
        Supervision {
            pid,
            report,
            checker,
            killed: false,
            killed_by_health_check: false,
            kill_started: None,
            escalate_at: None,
        }
    }

    /// Handles the task's events until its process ends (then the terminal
    /// report) or the master is gone (`kills` closed: no report at all).
    /// `healths` brings the checker's results.
    pub(super) async fn run(
        mut self,
        mut child: Child,
        mut kills: mpsc::UnboundedReceiver<Duration>,
        mut healths: mpsc::UnboundedReceiver<TaskHealth>,
        processes: &ProcessTable,
    ) {
        let status = loop {
            tokio::select! {
                status = child.wait() => break status,
                // None once the checker is stopped: the branch is disabled.
                Some(health) = healths.recv() => self.health_updated(health),
                grace = kills.recv() => match grace {
                    Some(grace) => self.kill(grace).await,
                    None => return self.abandon(&mut child, processes).await,
                },
                _ = sleep_until(self.escalate_at), if self.escalate_at.is_some() => {
                    self.escalated().await
                }
            }
        };
        self.reaped(status, processes).await;
    }

    /// The health check has news: TASK_RUNNING with `healthy`, as
    /// `taskHealthUpdated` forwards it (executor.cpp lines 348-384).
    ///
    /// A check that failed too often (`kill_task`) kills the task. Mesos'
    /// executor calls `kill` itself; here the master turns the report into
    /// TASK_KILLING and a kill request, which comes back to [`Self::kill`].
    /// No health news once a kill began (line 358): a check scheduled
    /// before the kill must not follow TASK_KILLING, nor the terminal
    /// update. Results still queued while the master's kill is on its way
    /// are dropped too, hence `killed_by_health_check`.
    fn health_updated(&mut self, health: TaskHealth) {
        if self.killed || self.killed_by_health_check {
            return;
        }
        (self.report)(Report::Health(health));
        if health.kill_task {
            self.killed_by_health_check = true;
            self.checker = None;
        }
    }

    /// The master asks for a kill, with the grace period of the KILL
    /// call's KillPolicy, else the task's, else 3 s: `kill` (executor.cpp
    /// lines 869-982).
    ///
    /// The first request stops the health checks (lines 948-951) and sends
    /// SIGTERM to the process group, giving the task a chance to clean up;
    /// SIGKILL follows when the grace period is over. A scheduler retries
    /// kills, so a later request is harmless: it may bring the SIGKILL
    /// forward, never push it back (lines 881-905: a task must not get
    /// *more* time to clean up than it was first told). The shorter grace
    /// period counts from the first SIGTERM, as Mesos counts it
    /// (`killGracePeriodStart + gracePeriod`): 20 s then 5 s after 10 s
    /// means SIGKILL now, not in 5 s.
    async fn kill(&mut self, grace: Duration) {
        self.checker = None;
        if !self.killed {
            self.killed = true;
            self.kill_started = Some(Instant::now());
            signal_group(self.pid, "TERM").await;
        }
        let started = self.kill_started.unwrap_or_else(Instant::now);
        let deadline = started + grace;
        self.escalate_at = Some(self.escalate_at.map_or(deadline, |at| at.min(deadline)));
    }

    /// The grace period is over and the process still runs: SIGKILL to
    /// the whole group, as `escalated` does (executor.cpp lines
    /// 1074-1106). The process ends now, and [`Self::reaped`] reports it.
    async fn escalated(&mut self) {
        signal_group(self.pid, "KILL").await;
        self.escalate_at = None;
    }

    /// The process ended: the terminal update, as `reaped` sends it
    /// (executor.cpp lines 984-1072). Checking stops first (lines 989-996),
    /// so that no health news follows. A killed task is TASK_KILLED
    /// whatever its exit status (lines 1027-1030), and `healthy: false` if its
    /// health check asked for the kill (lines 1051-1056).
    async fn reaped(mut self, status: io::Result<ExitStatus>, processes: &ProcessTable) {
        self.checker = None;
        // Like Mesos destroying the container: whatever the command left
        // running in its process group goes with it.
        signal_group(self.pid, "KILL").await;
        processes.remove(self.pid);
        let (killed, unhealthy) = (self.killed, self.killed && self.killed_by_health_check);
        (self.report)(match status {
            Ok(status) => exited_unhealthy(status, killed, unhealthy),
            Err(error) => Report::Exited {
                message: format!("Failed to get exit status for Command: {error}"),
                success: false,
                killed,
                unhealthy,
            },
        });
    }

    /// The master is gone (stopped, or dropped): nobody will hear of this
    /// task again, so it goes at once, unreported. Mesos' command executor
    /// has no such event: there an agent outlives its master. Here master
    /// and agents are one actor, and its tasks go with it (all at once
    /// by `ProcessTable::kill_all`, and each here).
    async fn abandon(&self, child: &mut Child, processes: &ProcessTable) {
        signal_group(self.pid, "KILL").await;
        let _ = child.wait().await;
        processes.remove(self.pid);
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
