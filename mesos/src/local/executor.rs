//! Running tasks as real processes, as Mesos' command executor does, and
//! custom executors' processes (`launch_executor`).
//!
//! For a command task a Mesos agent starts the *command executor*, which
//! runs the task's `CommandInfo` in the task's sandbox and reports what
//! happens: TASK_STARTING when it got the task, TASK_RUNNING once the
//! process is forked, and when the process ends TASK_FINISHED (exit status
//! 0), TASK_FAILED ("Command exited with status 1") or TASK_KILLED if it
//! was asked to kill it (`src/launcher/executor.cpp`).
//!
//! Each task here gets a supervisor task that does the same: it prepares
//! the sandbox (with `stdout` and `stderr` files, and the command's URIs,
//! see `fetcher.rs`), spawns `sh -c <value>` (or the executable with its
//! arguments when `shell` is false) in its own process group, and reports
//! to the master's actor. A kill is SIGTERM to the whole group, then
//! SIGKILL after the grace period (the task's KillPolicy, else 3 s as in
//! Mesos): the group matters because `sh -c` starts children that must
//! not outlive the task. What the supervisor does while the task runs (its
//! exit, kills, health checks) is `supervision.rs`.
//!
//! Task processes must not outlive the master either. A `LocalMaster` that
//! is dropped or shut down kills them all ([`ProcessTable::kill_all`]),
//! including the tasks whose launch is still under way: their process is
//! forked after the master stopped, so the table refuses to start it (see
//! [`ProcessTable`]). A process that is SIGKILLed (or SIGTERMed without a
//! handler) runs no code at all; on Linux the kernel then kills the tasks,
//! see [`spawn_task_process`].

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::mpsc;

use super::{fetcher, files::Files, master::Command, session};
use crate::executor::process::describe_exit;
use crate::health::{CommandContext, HealthChecker, TaskHealth};
use crate::v1::{CommandInfo, HealthCheck};
use supervision::Supervision;

mod supervision;

/// The command executor's default grace period between SIGTERM and SIGKILL.
pub(crate) const DEFAULT_KILL_GRACE_PERIOD: Duration = Duration::from_secs(3);

/// Everything needed to start one task's process.
#[derive(Debug)]
pub(crate) struct LaunchSpec {
    pub framework_id: String,
    pub task_id: String,
    /// The command executor's (named after the task), or the group's.
    pub executor_id: String,
    /// The executor's sandbox: `sandbox` itself for a command task, the
    /// directory holding `tasks/<task id>` for a task of a group.
    pub executor_directory: PathBuf,
    pub command: CommandInfo,
    /// The task's sandbox, where its `stdout` and `stderr` go.
    pub sandbox: PathBuf,
    /// `MESOS_*` variables; the command's own environment overrides them.
    pub environment: Vec<(String, String)>,
    /// The task's health check, run by its command executor (`health.rs`).
    pub health_check: Option<HealthCheck>,
}

/// What the supervisor tells the master about a task.
#[derive(Debug)]
pub(crate) enum Report {
    /// The sandbox is ready and the executor has the task: TASK_STARTING.
    Starting,
    /// The process runs: TASK_RUNNING.
    Running { pid: u32 },
    /// The task's health check says something new: TASK_RUNNING with
    /// `healthy`, and a kill if the check failed too often.
    Health(TaskHealth),
    /// The process ended.
    Exited {
        /// "Command exited with status 1", as the command executor says.
        message: String,
        success: bool,
        /// It ended because it was killed (a KILL or SHUTDOWN).
        killed: bool,
        /// It was killed because its health check failed too often: the
        /// terminal update says `healthy: false`.
        unhealthy: bool,
    },
    /// The task never ran: the container could not be launched.
    LaunchFailed { message: String },
}

/// A report about one task, addressed to the master.
#[derive(Debug)]
pub(crate) struct ExecutorReport {
    pub agent: usize,
    pub framework_id: String,
    pub task_id: String,
    pub report: Report,
}

/// The process groups of a master's running tasks, so that a master that
/// stops, or a `LocalMaster` that is dropped, kills them at once, even if
/// its runtime is already gone.
///
/// Launching a task takes a while after the master decided it: the
/// supervisor prepares the sandbox, then a thread forks the process. A
/// master stopped in a burst of launches has tasks in every stage of that,
/// and killing "all tasks" kills only those already in the table. A task
/// process forked a moment later was only ever killed alone: by the
/// supervisor, by `kill_on_drop` when the runtime dropped the supervisor,
/// or by the kernel when `mesos-local` exited. Alone is not enough: `sh -c
/// 'sleep 3600'` forks `sleep`, which then outlived everything, re-parented
/// to PID 1. So a process starts only through [`ProcessTable::spawn`],
/// which records its group under the same lock as the fork, and once
/// [`ProcessTable::kill_all`] has run the table is closed: no task process
/// starts any more. Each task process is thus either in the table when it
/// is emptied, and its whole group is killed, or never forked at all.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProcessTable(Arc<Mutex<ProcessGroups>>);

#[derive(Debug, Default)]
struct ProcessGroups {
    running: HashSet<u32>,
    /// The master stopped and killed its tasks: no task starts any more.
    closed: bool,
}

impl ProcessTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, ProcessGroups> {
        // A panic elsewhere must not let tasks outlive the master.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a task's process (in the process group or session of its
    /// own that the caller asked for) and records the group, unless the
    /// master has stopped.
    fn spawn(
        &self,
        command: &mut tokio::process::Command,
    ) -> std::io::Result<tokio::process::Child> {
        let mut groups = self.lock();
        if groups.closed {
            return Err(std::io::Error::other("the agent is shutting down"));
        }
        let child = command.spawn()?;
        if let Some(pid) = child.id() {
            groups.running.insert(pid);
        }
        Ok(child)
    }

    fn remove(&self, pid: u32) {
        self.lock().running.remove(&pid);
    }

    fn closed(&self) -> bool {
        self.lock().closed
    }

    /// SIGKILLs every process group still running, and every session a
    /// custom executor leads (see `session.rs`), and closes the table:
    /// from now on no task process starts.
    pub(crate) fn kill_all(&self) {
        let pids: Vec<u32> = {
            let mut groups = self.lock();
            groups.closed = true;
            groups.running.drain().collect()
        };
        for pid in &pids {
            signal_group_now(*pid, "KILL");
        }
        // A task's pid leads no session (unless the task made one, which
        // is then as much the task's as its group): nothing more to kill.
        session::kill_sessions(&pids);
    }
}

/// The master's handle on a task's supervisor.
#[derive(Debug)]
pub(crate) struct TaskProcess {
    kill: mpsc::UnboundedSender<Duration>,
}

impl TaskProcess {
    /// Asks for the task to be killed: SIGTERM now, SIGKILL after `grace`.
    /// Asking again is harmless.
    pub(crate) fn kill(&self, grace: Duration) {
        let _ = self.kill.send(grace);
    }
}

/// Starts a supervisor for one task. Reports go to `master` as
/// `Command::Executor`.
pub(crate) fn launch(
    agent: usize,
    spec: LaunchSpec,
    master: mpsc::UnboundedSender<Command>,
    processes: ProcessTable,
    files: Files,
) -> TaskProcess {
    let (kill, kills) = mpsc::unbounded_channel();
    tokio::spawn(supervise(agent, spec, kills, master, processes, files));
    TaskProcess { kill }
}

/// Starts a *virtual* task (`LocalMasterConfig::virtual_tasks`): no
/// sandbox, no process. Its executor reports TASK_STARTING and
/// TASK_RUNNING at once, through the same reliable status updates as a
/// real task's, and a kill ends it as SIGTERM would end a process
/// (TASK_KILLED). It lets a benchmark launch 10,000 tasks and measure the
/// master and the framework rather than the machine's `fork`.
pub(crate) fn launch_virtual(
    agent: usize,
    framework_id: String,
    task_id: String,
    master: mpsc::UnboundedSender<Command>,
) -> TaskProcess {
    let (kill, mut kills) = mpsc::unbounded_channel::<Duration>();
    let report = move |report: Report| {
        let _ = master.send(Command::Executor(ExecutorReport {
            agent,
            framework_id: framework_id.clone(),
            task_id: task_id.clone(),
            report,
        }));
    };
    report(Report::Starting);
    report(Report::Running { pid: 0 });
    tokio::spawn(async move {
        // None: the task ended otherwise, or the master stopped.
        if kills.recv().await.is_some() {
            use std::os::unix::process::ExitStatusExt;
            // The wait status of a process ended by SIGTERM (15).
            report(exited(ExitStatus::from_raw(15), true));
        }
    });
    TaskProcess { kill }
}

/// What a custom executor's supervisor tells the master: unlike a task's,
/// it reports on the process only; the executor itself reports on its
/// tasks, over the executor API.
#[derive(Debug)]
pub(crate) enum ExecutorProcessReport {
    /// The executor's process runs.
    Started { pid: u32 },
    /// The process ended: its raw wait status (`768` for exit code 3), as
    /// the agent reports it in ExitedExecutorMessage; `None` if no
    /// process ever ran (destroyed while being launched).
    Exited { status: Option<i32> },
    /// The container could not be launched (sandbox, fetcher).
    LaunchFailed { message: String },
}

/// Starts a supervisor for a custom executor's process: the sandbox, the
/// fetcher, then `ExecutorInfo.command`, as for a command task, but as
/// the leader of a session of its own (`session.rs`). A kill request
/// destroys the container at once (SIGKILL to everything in it), as
/// `containerizer->destroy` does: the grace period, if any, was the
/// executor's to use after its SHUTDOWN event. So does the end of the
/// executor's process: what it started goes with it.
pub(crate) fn launch_executor(
    spec: LaunchSpec,
    container_id: String,
    report: impl Fn(ExecutorProcessReport) + Send + 'static,
    processes: ProcessTable,
    files: Files,
) -> TaskProcess {
    let (kill, kills) = mpsc::unbounded_channel();
    tokio::spawn(supervise_executor(
        spec,
        container_id,
        report,
        kills,
        processes,
        files,
    ));
    TaskProcess { kill }
}

async fn supervise_executor(
    spec: LaunchSpec,
    container_id: String,
    report: impl Fn(ExecutorProcessReport),
    mut kills: mpsc::UnboundedReceiver<Duration>,
    processes: ProcessTable,
    files: Files,
) {
    use ExecutorProcessReport::{Exited, LaunchFailed, Started};
    use std::os::unix::process::ExitStatusExt;

    let prepared = match create_sandbox(&spec.sandbox).await {
        Ok(()) => super::fetcher::fetch(&spec.command.uris, &spec.sandbox, &container_id).await,
        Err(error) => Err(error),
    };
    if let Err(error) = prepared {
        report(LaunchFailed {
            message: format!("Failed to launch container: {error}"),
        });
        return;
    }
    if let Err(error) = files.attach_executor(&spec.sandbox, &spec.framework_id, &spec.executor_id)
    {
        tracing::warn!(executor_id = %spec.executor_id, %error, "cannot serve the sandbox on /files");
    }
    // Destroyed while it was being fetched (the registration timeout
    // counts fetching): no process is started.
    if !matches!(kills.try_recv(), Err(mpsc::error::TryRecvError::Empty)) {
        report(Exited { status: None });
        return;
    }
    let spawned = match build_command(&spec) {
        Ok(mut command) => {
            session::new_session(&mut command);
            spawn_task_process(command, &processes).await
        }
        Err(error) => Err(error),
    };
    let mut child = match spawned {
        Ok(child) => child,
        Err(_) if processes.closed() => return,
        Err(error) => {
            // As for a command task: the launcher forked, could not exec,
            // and exited with status 1.
            append_stderr(
                &spec.sandbox,
                &format!("Failed to execute command: {error}\n"),
            )
            .await;
            report(Exited {
                status: Some(failed_exec_status().into_raw()),
            });
            return;
        }
    };
    let pid = child.id().unwrap_or(0);
    tracing::info!(
        executor_id = %spec.executor_id,
        sandbox = %spec.sandbox.display(),
        "executor started"
    );
    report(Started { pid });
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            kill = kills.recv() => {
                destroy_container(pid).await;
                if kill.is_none() {
                    // The master is gone: nobody will hear of it again.
                    let _ = child.wait().await;
                    processes.remove(pid);
                    return;
                }
            }
        }
    };
    destroy_container(pid).await;
    processes.remove(pid);
    report(Exited {
        status: status.ok().map(|s| s.into_raw()),
    });
}

async fn create_sandbox(sandbox: &Path) -> Result<(), String> {
    tokio::fs::create_dir_all(sandbox)
        .await
        .map_err(|e| format!("cannot create sandbox {}: {e}", sandbox.display()))?;
    for name in ["stdout", "stderr"] {
        tokio::fs::File::create(sandbox.join(name))
            .await
            .map_err(|e| format!("cannot create {name} in {}: {e}", sandbox.display()))?;
    }
    Ok(())
}

/// A command task's supervisor: starts the task, as the command
/// executor's `launch` does, then watches it ([`Supervision`]).
async fn supervise(
    agent: usize,
    spec: LaunchSpec,
    kills: mpsc::UnboundedReceiver<Duration>,
    master: mpsc::UnboundedSender<Command>,
    processes: ProcessTable,
    files: Files,
) {
    let report = |report: Report| {
        let _ = master.send(Command::Executor(ExecutorReport {
            agent,
            framework_id: spec.framework_id.clone(),
            task_id: spec.task_id.clone(),
            report,
        }));
    };
    let Some(child) = start_task(&spec, &report, &processes, &files).await else {
        return;
    };
    let pid = child.id().unwrap_or(0);
    // Where its output is: a sandbox under a temporary directory is
    // otherwise hard to find (`/files/read` serves it too).
    tracing::info!(
        task_id = %spec.task_id,
        stdout = %spec.sandbox.join("stdout").display(),
        "task started"
    );
    report(Report::Running { pid });

    // Checks start once the task runs, as the command executor starts its
    // `HealthChecker` right after forking the task.
    let (health_reports, healths) = mpsc::unbounded_channel();
    let checker = spec
        .health_check
        .as_ref()
        .and_then(|check| start_health_checker(check, &spec, health_reports));
    Supervision::new(pid, &report, checker)
        .run(child, kills, healths, &processes)
        .await;
}

/// Prepares the task's sandbox (TASK_STARTING) and forks its process, or
/// reports why it could not: `None` then.
async fn start_task(
    spec: &LaunchSpec,
    report: &impl Fn(Report),
    processes: &ProcessTable,
    files: &Files,
) -> Option<tokio::process::Child> {
    if let Err(error) = prepare_sandbox(spec).await {
        report(Report::LaunchFailed {
            message: format!("Failed to launch container: {error}"),
        });
        return None;
    }
    // Readable through `/files` from now on, as a Mesos agent attaches a
    // sandbox once it created it. Mesos only logs a failure, and so do we:
    // the task runs all the same.
    if let Err(error) = files.attach_executor(
        &spec.executor_directory,
        &spec.framework_id,
        &spec.executor_id,
    ) {
        tracing::warn!(task_id = %spec.task_id, %error, "cannot serve the sandbox on /files");
    }
    report(Report::Starting);

    let mut command = match build_command(spec) {
        Ok(command) => command,
        Err(error) => {
            failed_to_exec(spec, report, error).await;
            return None;
        }
    };
    // A process group of its own, so a kill reaches everything the
    // command started.
    command.process_group(0);
    match spawn_task_process(command, processes).await {
        Ok(child) => Some(child),
        // The master stopped while this task was being launched: nobody
        // will hear of it again, and it never ran.
        Err(_) if processes.closed() => None,
        Err(error) => {
            failed_to_exec(spec, report, error).await;
            None
        }
    }
}

/// Mesos' launcher forks first and then fails to exec: the task was
/// RUNNING, and exits with status 1 having said why on stderr.
async fn failed_to_exec(spec: &LaunchSpec, report: &impl Fn(Report), error: std::io::Error) {
    append_stderr(
        &spec.sandbox,
        &format!("Failed to execute command: {error}\n"),
    )
    .await;
    report(Report::Running { pid: 0 });
    report(exited(failed_exec_status(), false));
}

/// Starts the task's health checker, reporting to `reports`. The check
/// runs as the command executor runs it: in the task's sandbox, with the
/// environment the executor got (the `MESOS_*` variables and the task
/// command's own), its output in the sandbox's `stderr`.
fn start_health_checker(
    check: &HealthCheck,
    spec: &LaunchSpec,
    reports: mpsc::UnboundedSender<TaskHealth>,
) -> Option<HealthChecker> {
    let task_variables = spec
        .command
        .environment
        .iter()
        .flat_map(|e| &e.variables)
        .filter_map(|v| Some((v.name.clone(), v.value.clone()?)));
    let context = CommandContext {
        directory: Some(spec.sandbox.clone()),
        environment: spec
            .environment
            .iter()
            .cloned()
            .chain(task_variables)
            .collect(),
        output: Some(spec.sandbox.join("stderr")),
    };
    HealthChecker::start(check, context, move |health| {
        let _ = reports.send(health);
    })
    // The master refused invalid checks already; Mesos' executor logs a
    // checker it cannot create and runs the task unchecked.
    .inspect_err(
        |error| tracing::error!(task_id = %spec.task_id, %error, "Failed to create health checker"),
    )
    .ok()
}

fn exited(status: ExitStatus, killed: bool) -> Report {
    exited_unhealthy(status, killed, false)
}

fn exited_unhealthy(status: ExitStatus, killed: bool, unhealthy: bool) -> Report {
    Report::Exited {
        message: format!("Command {}", describe_exit(status)),
        success: status.success(),
        killed,
        unhealthy,
    }
}

/// The wait status of a process that could not exec: exit code 1.
fn failed_exec_status() -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    ExitStatus::from_raw(1 << 8)
}

async fn prepare_sandbox(spec: &LaunchSpec) -> Result<(), String> {
    create_sandbox(&spec.sandbox).await?;
    // The run directory is named after the container (`Agent::sandbox`).
    let container_id = spec
        .executor_directory
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    fetcher::fetch(&spec.command.uris, &spec.sandbox, &container_id).await
}

fn build_command(spec: &LaunchSpec) -> std::io::Result<tokio::process::Command> {
    let info = &spec.command;
    let mut command = crate::health::command_of(info);
    let stdout = std::fs::OpenOptions::new()
        .append(true)
        .open(spec.sandbox.join("stdout"))?;
    let stderr = std::fs::OpenOptions::new()
        .append(true)
        .open(spec.sandbox.join("stderr"))?;
    command
        .current_dir(&spec.sandbox)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true);
    for (name, value) in &spec.environment {
        command.env(name, value);
    }
    if let Some(environment) = &info.environment {
        for variable in &environment.variables {
            // Secrets need a secret resolver; only plain values are passed.
            if let Some(value) = &variable.value {
                command.env(&variable.name, value);
            } else if let Some(data) = variable
                .secret
                .as_ref()
                .and_then(|s| s.value.as_ref())
                .map(|v| String::from_utf8_lossy(&v.data).into_owned())
            {
                command.env(&variable.name, data);
            }
        }
    }
    Ok(command)
}

/// Starts a task's process, on Linux so that it dies with this process.
///
/// The child asks the kernel for a SIGKILL when its parent dies
/// (`PR_SET_PDEATHSIG`). Without that, a framework running `--master
/// local`, or `mesos-local`, that is SIGKILLed, or SIGTERMed without a
/// handler, never gets to kill its tasks: they live on, re-parented to
/// PID 1. Only the task's own process gets the signal (the shell of `sh
/// -c`, or the command it execs); what that process started is only
/// killed with its process group by a master that stops normally.
///
/// The caveat: to the kernel the parent is the *thread* that forked, and
/// the signal comes as soon as that thread exits, while the process lives
/// on. So the fork must happen on a thread that lives as long as the
/// process. Not in `spawn_blocking`: idle blocking threads exit after 10 s.
/// Not reliably on a runtime worker either: a worker that calls
/// `block_in_place` (as some tests and frameworks do) hands its place to a
/// new thread and itself ends up in the blocking pool, to exit when idle.
/// Hence one thread that only forks tasks and never exits.
///
/// The supervisor that asked may be gone by the time the thread forks:
/// its runtime shut down (`mesos-local` returning from `main`). The
/// process then has nobody to watch it, so the thread kills its group
/// right away.
#[cfg(target_os = "linux")]
async fn spawn_task_process(
    mut command: tokio::process::Command,
    processes: &ProcessTable,
) -> std::io::Result<tokio::process::Child> {
    use std::{io, sync::OnceLock};

    type Request = (
        tokio::runtime::Handle,
        tokio::process::Command,
        ProcessTable,
        tokio::sync::oneshot::Sender<io::Result<tokio::process::Child>>,
    );
    static FORKER: OnceLock<Option<std::sync::mpsc::Sender<Request>>> = OnceLock::new();

    let parent = std::process::id();
    // SAFETY: the closure runs in the child between fork and exec, where
    // only async-signal-safe functions may be called: prctl and getppid are
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
    let forker = FORKER.get_or_init(|| {
        let (sender, requests) = std::sync::mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("mesos-local-tasks".into())
            .spawn(move || {
                for (runtime, mut command, processes, reply) in requests {
                    // Tokio's child processes belong to a runtime.
                    let _runtime = runtime.enter();
                    if let Err(Ok(child)) = reply.send(processes.spawn(&mut command)) {
                        if let Some(pid) = child.id() {
                            signal_group_now(pid, "KILL");
                            session::kill_sessions(&[pid]);
                            processes.remove(pid);
                        }
                    }
                }
            })
            .inspect_err(|error| {
                tracing::warn!(%error, "no thread to start tasks on; tasks may outlive this process");
            })
            .ok()
            .map(|_| sender)
    });
    let Some(forker) = forker else {
        return processes.spawn(&mut command);
    };
    let (reply, child) = tokio::sync::oneshot::channel();
    let gone = || io::Error::other("the thread that starts tasks is gone");
    forker
        .send((
            tokio::runtime::Handle::current(),
            command,
            processes.clone(),
            reply,
        ))
        .map_err(|_| gone())?;
    child.await.map_err(|_| gone())?
}

#[cfg(not(target_os = "linux"))]
async fn spawn_task_process(
    mut command: tokio::process::Command,
    processes: &ProcessTable,
) -> std::io::Result<tokio::process::Child> {
    processes.spawn(&mut command)
}

async fn append_stderr(sandbox: &Path, text: &str) {
    use tokio::io::AsyncWriteExt;
    if let Ok(mut file) = tokio::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(sandbox.join("stderr"))
        .await
    {
        let _ = file.write_all(text.as_bytes()).await;
    }
}

/// Destroys a custom executor's container: its process group, and the
/// rest of its session.
async fn destroy_container(leader: u32) {
    signal_group(leader, "KILL").await;
    session::kill_sessions(&[leader]);
}

/// Sends a signal to a process group, with the shell's `kill` (no libc
/// needed): `kill -s TERM -- -<pgid>`.
async fn signal_group(pgid: u32, signal: &str) {
    if pgid == 0 {
        return;
    }
    let _ = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -s {signal} -- -{pgid} 2>/dev/null"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

/// The blocking variant, for `Drop`.
fn signal_group_now(pgid: u32, signal: &str) {
    if pgid == 0 {
        return;
    }
    let _ = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -s {signal} -- -{pgid} 2>/dev/null"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
