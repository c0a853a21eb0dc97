//! # The executor side: `mesos::executor`
//!
//! A scheduler decides *what* runs and *where*; an *executor* runs it. It
//! is a process the agent starts in the task's sandbox, the first time a
//! framework launches a task that names it (`TaskInfo.executor`), and it
//! then gets that framework's tasks for this executor ID on this agent.
//! Mesos' own command executor runs one shell command per task; a custom
//! executor can run tasks its own way (several tasks in one process,
//! health checks of its own, a protocol with the scheduler through
//! MESSAGE calls).
//!
//! An executor speaks the v1 executor HTTP API with its agent, not with
//! the master (`src/slave/http.cpp`, `Http::executor`):
//!
//! 1. It learns from its environment who it is and where the agent is
//!    ([`ExecutorConfig`]), and POSTs SUBSCRIBE. The answer is a stream of
//!    events that starts with SUBSCRIBED (its `ExecutorInfo`, the
//!    framework's `FrameworkInfo`, the `AgentInfo`).
//! 2. The agent sends LAUNCH (one `TaskInfo`) or LAUNCH_GROUP (a task
//!    group, all or nothing), KILL (a task, maybe with a kill policy that
//!    overrides the task's: [`effective_kill_policy`]), MESSAGE (data
//!    from the scheduler) and SHUTDOWN (kill everything and exit).
//! 3. The executor reports each task's life in UPDATE calls: TASK_STARTING,
//!    TASK_RUNNING, then a terminal state ([`status()`]). Each update has a
//!    uuid; the agent stores it, forwards it to the scheduler reliably,
//!    and answers the executor with ACKNOWLEDGED (task ID and uuid).
//! 4. When the connection drops, the executor resubscribes if its
//!    framework checkpoints (the agent may be restarting: it waits for
//!    its executors for `--recovery_timeout`), and re-sends in SUBSCRIBE
//!    what the agent has not acknowledged ([`Tasks`]). Without
//!    checkpointing it shuts down: its agent is gone, and so are its tasks.
//!
//! Mesos' own library for this is `src/executor/executor.cpp`; its
//! command executor, the model of a well-behaved executor, is
//! `src/launcher/executor.cpp`. [`ExecutorDriver`] does what they do (the
//! driver's module doc says how, and where it differs).
//!
//! Mesos' `docs/executor-http-api.md` is wrong in two places:
//! LAUNCH carries only the task, no `framework_info` (that came in
//! SUBSCRIBED; `executor.proto`, `Event.Launch`); and ACKNOWLEDGED is the
//! *agent's* acknowledgement, sent as soon as the agent's task status
//! update manager has the update, not the scheduler's
//! (`Slave::___statusUpdate` in `src/slave/slave.cpp`): the executor
//! never learns whether the scheduler acknowledged.
//!
//! | module | what it is for |
//! |---|---|
//! | [`config`] | the environment the agent gives: IDs, agent URL, timeouts |
//! | [`duration`] | Mesos' durations (`15mins`, `2.5hrs`), read and written |
//! | [`mod@status`] | status updates: what a decision builds, what the driver fills in |
//! | [`tasks`] | the bookkeeping: unacknowledged tasks and updates, when the executor is done |
//! | [`calls`] | one function per call: SUBSCRIBE, UPDATE, MESSAGE, HEARTBEAT |
//! | [`client`] | the HTTP underneath: the SUBSCRIBE stream and calls |
//! | [`driver`] | stays subscribed, resubscribes or shuts down as Mesos' library does |
//! | [`kill`] | which kill policy applies to a KILL |
//! | [`process`] | a task's command as a process group: start, kill with a grace period, exit status |
//!
//! An executor's own logic is best a pure function of its state and an
//! [`ExecutorDriverEvent`], returning what to do (start a process, kill
//! one, send an update): testable without an agent, with the builders of
//! `mesos::testing::executor`. Starting and killing processes
//! ([`process`]), and the driver, are the I/O around it; the template's
//! `src/executor.rs` is a whole executor written so.

pub mod calls;
pub mod client;
pub mod config;
pub mod driver;
pub mod duration;
pub mod error;
pub mod kill;
pub mod process;
pub mod status;
pub mod tasks;

pub use config::{AgentUrl, ExecutorConfig, Recovery};
pub use driver::{ExecutorDriver, ExecutorDriverEvent};
pub use error::{Error, Result};
pub use kill::effective_kill_policy;
pub use status::{TaskStatusExt, status};
pub use tasks::Tasks;
