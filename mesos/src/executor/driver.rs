//! The executor driver: stays subscribed to the agent, keeps the updates
//! until the agent has them, and says when to stop.
//!
//! It is the I/O edge around [`Tasks`] (the bookkeeping) and follows
//! Mesos' executor library (`MesosProcess`, `src/executor/executor.cpp`)
//! and command executor (`src/launcher/executor.cpp`):
//!
//! * It subscribes, carrying every update not acknowledged yet and every
//!   task no acknowledged update mentions. If the agent answers SUBSCRIBE
//!   with an error instead of a stream, it tries again every second, as
//!   the command executor's `doReliableRegistration` does (503 and 404 are
//!   normal while an agent recovers; anything else is also reported as an
//!   ERROR event, as `MesosProcess::_send` does).
//! * [`ExecutorDriver::update`] fills in the update, keeps it until the
//!   agent acknowledges it, and sends it now if subscribed (else the next
//!   SUBSCRIBE carries it).
//! * It sends HEARTBEAT every 30 minutes. The agent's own HEARTBEAT events
//!   are as rare, so silence on the stream is normal and no sign of a dead
//!   connection: only the connection's end or failure is.
//! * When the connection to the agent is lost (`MesosProcess::disconnected`):
//!   - without checkpointing, the executor cannot outlive its agent: the
//!     driver says [`ExecutorDriverEvent::Shutdown`] at once, and
//!     [`ExecutorDriverEvent::Stopped`] after the shutdown grace period,
//!     when Mesos' library kills the executor's process group;
//!   - with checkpointing, the agent may be restarting and will want its
//!     executors back: the driver subscribes again after a random wait of
//!     up to MESOS_SUBSCRIPTION_BACKOFF_MAX (`MesosProcess::backoff`), and
//!     again, until MESOS_RECOVERY_TIMEOUT has passed since the connection
//!     was lost; then it shuts down as above. (Mesos' library tries once
//!     at once, then waits; this driver always waits first, so that an
//!     agent that closes the stream at once is not hammered.) The first
//!     connection failing at start shuts down in both cases: there is no
//!     agent to recover (`connected` is false in `disconnected`).
//! * The agent's SHUTDOWN event starts the same shutdown: Shutdown now,
//!   Stopped after the grace period (`MesosProcess::_shutdown`).
//! * Once every task it was given has had a terminal update acknowledged,
//!   and nothing waits for an acknowledgement, it says
//!   [`ExecutorDriverEvent::Finished`]: the command executor exits there.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use tokio::{
    sync::{mpsc, watch},
    time::{Instant, MissedTickBehavior},
};

use crate::{
    executor::{
        calls::Caller,
        client::{AgentClient, EventStream},
        config::ExecutorConfig,
        duration,
        error::{Error, Result},
        status,
        tasks::{Acknowledgement, Tasks},
    },
    v1::{
        TaskStatus,
        executor::{Event, call, event},
    },
};

/// How long to wait before SUBSCRIBE again after the agent answered it
/// with an error: the command executor's `doReliableRegistration` period.
const SUBSCRIBE_RETRY: Duration = Duration::from_secs(1);

/// Room for events the executor has not read yet. Small: an executor's
/// events are few, and its memory should be too.
const EVENT_BUFFER: usize = 64;

/// What the driver tells the executor.
// Nearly every value is an `Event`; boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ExecutorDriverEvent {
    /// An event from the agent: SUBSCRIBED, LAUNCH, LAUNCH_GROUP, KILL,
    /// ACKNOWLEDGED (already accounted for by the driver), MESSAGE, ERROR.
    /// Not HEARTBEAT, and not SHUTDOWN (see [`Self::Shutdown`]). An event
    /// that could not be decoded comes as an ERROR event saying so, as
    /// Mesos' library does.
    Event(Event),
    /// The connection to the agent is lost. With checkpointing the driver
    /// is subscribing again; without, a Shutdown follows.
    Disconnected { reason: String },
    /// Kill the tasks, send their terminal updates (they are delivered if
    /// the agent is still there), and exit within `grace_period`: the
    /// agent asked (its SHUTDOWN event), or the agent is lost for good.
    Shutdown {
        reason: String,
        grace_period: Duration,
    },
    /// Every task the executor was given has had a terminal update
    /// acknowledged, and no update waits: the executor's work is done, and
    /// it may exit.
    Finished,
    /// The driver has stopped (the shutdown grace period has passed); the
    /// channel closes after this event. The executor must exit now.
    Stopped { reason: String },
}

/// What the driver shares with its handle.
struct Shared {
    caller: Caller,
    client: AgentClient,
    state: Mutex<State>,
    /// A call found the agent gone: the connection is lost.
    lost: mpsc::UnboundedSender<String>,
}

#[derive(Default)]
struct State {
    tasks: Tasks,
    /// A SUBSCRIBE was answered with a stream that is still open: calls
    /// can go now.
    subscribed: bool,
    stopped: bool,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("executor driver state lock poisoned")
    }

    /// Sends a call; a failure of the connection (not a refusal) means the
    /// agent is gone, as in Mesos' library, where a broken call connection
    /// is a disconnection.
    async fn call(&self, call: crate::v1::executor::Call) -> Result<()> {
        let result = self.client.call(call).await;
        if let Err(error @ (Error::Connect { .. } | Error::Http(_))) = &result {
            let _ = self.lost.send(error.to_string());
        }
        result
    }
}

/// A running executor driver, and the handle to send with.
pub struct ExecutorDriver {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl ExecutorDriver {
    /// Starts subscribing to the agent (in a task of the current tokio
    /// runtime). Events arrive on the returned channel until
    /// [`ExecutorDriverEvent::Stopped`], until [`ExecutorDriver::stop`],
    /// or until the receiver (or the driver) is dropped.
    pub fn start(
        config: ExecutorConfig,
    ) -> Result<(ExecutorDriver, mpsc::Receiver<ExecutorDriverEvent>)> {
        let (lost, lost_connections) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            caller: Caller {
                framework_id: config.framework_id.clone(),
                executor_id: config.executor_id.clone(),
            },
            client: AgentClient::new(&config),
            state: Mutex::default(),
            lost,
        });
        let (events, receiver) = mpsc::channel(EVENT_BUFFER);
        let (stop, stopped) = watch::channel(false);
        tracing::info!(agent = %config.agent_url, "executor driver starting");
        let task = tokio::spawn(
            DriverLoop {
                shared: shared.clone(),
                config,
                events,
                stopped,
                lost: lost_connections,
                shutdown: None,
                finished_told: false,
            }
            .run(),
        );
        Ok((ExecutorDriver { shared, stop, task }, receiver))
    }

    /// Sends a status update of a task. The driver fills in the executor
    /// ID, SOURCE_EXECUTOR, a new uuid and the time ([`status::fill_in`]),
    /// and keeps the update until the agent acknowledges it: `Ok` means
    /// the driver has it, sent now or carried by the next SUBSCRIBE.
    ///
    /// An error: an update the agent would refuse (TASK_STAGING), or one
    /// it did not take (an error status; after a `400 Bad Request` the
    /// update is forgotten, since it would be refused again), or the
    /// driver has stopped.
    pub async fn update(&self, status: TaskStatus) -> Result<()> {
        let status = status::fill_in(status, &self.shared.caller.executor_id)?;
        let uuid = status.uuid.clone().unwrap_or_default();
        let subscribed = {
            let mut state = self.shared.state();
            if state.stopped {
                return Err(Error::Stopped);
            }
            state.tasks.sent(call::Update {
                status: status.clone(),
            });
            state.subscribed
        };
        if !subscribed {
            tracing::debug!(task = %status.task_id.value, "not subscribed: the update goes with the next SUBSCRIBE");
            return Ok(());
        }
        match self.shared.call(self.shared.caller.update(status)).await {
            Err(error) if error.is_refusal() => {
                self.shared.state().tasks.refused(&uuid);
                Err(error)
            }
            Err(error) => {
                tracing::warn!(%error, "status update not delivered; it goes with the next SUBSCRIBE");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    /// Sends data to the scheduler (a MESSAGE call): best effort, never
    /// repeated, and only while subscribed (Mesos' library drops it
    /// otherwise; this one says so).
    pub async fn message(&self, data: Bytes) -> Result<()> {
        {
            let state = self.shared.state();
            if state.stopped {
                return Err(Error::Stopped);
            }
            if !state.subscribed {
                return Err(Error::NotSubscribed);
            }
        }
        self.shared.call(self.shared.caller.message(data)).await
    }

    /// Stops the driver: closes the subscription and sends nothing more.
    /// Returns promptly, even if nobody reads the event channel.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Why a connection (or the driver) ended.
enum End {
    /// Stop now: asked to, or nobody listens any more.
    Stop,
    /// The shutdown grace period has passed.
    GraceOver,
    /// The connection to the agent is lost. `connected`: the agent was
    /// reached (a TCP connection and an HTTP answer) since the last loss.
    Lost { reason: String, connected: bool },
}

struct DriverLoop {
    shared: Arc<Shared>,
    config: ExecutorConfig,
    events: mpsc::Sender<ExecutorDriverEvent>,
    stopped: watch::Receiver<bool>,
    lost: mpsc::UnboundedReceiver<String>,
    /// Since when, and why, the executor is shutting down.
    shutdown: Option<(Instant, String)>,
    /// Finished was said (and nothing was launched since).
    finished_told: bool,
}

impl DriverLoop {
    async fn run(mut self) {
        let end = self.lifecycle().await;
        {
            let mut state = self.shared.state();
            state.stopped = true;
            state.subscribed = false;
        }
        if let End::GraceOver = end {
            let why = self.shutdown.as_ref().map(|(_, why)| why.as_str());
            let reason = format!(
                "the shutdown grace period of {} has passed ({})",
                duration::format(self.config.shutdown_grace_period),
                why.unwrap_or("shutting down")
            );
            tracing::info!(%reason, "executor driver stopped");
            let _ = self
                .events
                .send(ExecutorDriverEvent::Stopped { reason })
                .await;
        }
    }

    /// Connections, one after another, until the driver stops.
    async fn lifecycle(&mut self) -> End {
        let mut heartbeat = tokio::time::interval_at(
            Instant::now() + self.config.heartbeat_interval,
            self.config.heartbeat_interval,
        );
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // When the connection was first lost, while trying to get it back.
        let mut lost_at: Option<Instant> = None;
        loop {
            let (reason, connected) = match self.connection(&mut heartbeat, &mut lost_at).await {
                End::Lost { reason, connected } => (reason, connected),
                end => return end,
            };
            self.shared.state().subscribed = false;
            tracing::warn!(%reason, "lost the connection to the agent");
            if connected {
                let event = ExecutorDriverEvent::Disconnected {
                    reason: reason.clone(),
                };
                if let Err(end) = self.emit(event).await {
                    return end;
                }
            }
            let recovery = match self.config.recovery {
                // Mesos recovers only from the loss of an agent it had
                // reached: `checkpoint && connected`, or already recovering.
                Some(recovery) if connected || lost_at.is_some() => recovery,
                _ => {
                    return self
                        .shut_down_and_wait(format!("lost the agent: {reason}"))
                        .await;
                }
            };
            let since = *lost_at.get_or_insert_with(Instant::now);
            let give_up = since + recovery.timeout;
            if Instant::now() >= give_up {
                let reason = format!(
                    "the agent did not come back within the recovery timeout of {} ({reason})",
                    duration::format(recovery.timeout)
                );
                return self.shut_down_and_wait(reason).await;
            }
            // A random point up to the maximum, as `MesosProcess::backoff`,
            // so that the executors of a restarted agent do not all come
            // back at the same instant; never past the recovery timeout.
            let wait = recovery.backoff_max.mul_f64(fastrand::f64());
            let until = (Instant::now() + wait).min(give_up);
            tracing::info!(?wait, "subscribing again after a random wait");
            if let Err(end) = self.interruptible(tokio::time::sleep_until(until)).await {
                return end;
            }
        }
    }

    /// One connection: SUBSCRIBE (again every second while the agent
    /// answers with an error), then the event stream until it ends.
    async fn connection(
        &mut self,
        heartbeat: &mut tokio::time::Interval,
        lost_at: &mut Option<Instant>,
    ) -> End {
        let mut connected = false;
        loop {
            let (mark, call) = {
                let state = self.shared.state();
                let tasks = &state.tasks;
                let call = self
                    .shared
                    .caller
                    .subscribe(tasks.unacknowledged_tasks(), tasks.unacknowledged_updates());
                (tasks.mark(), call)
            };
            let shared = self.shared.clone();
            let answer = match self.interruptible(shared.client.subscribe(call)).await {
                Ok(answer) => answer,
                Err(end) => return end,
            };
            match answer {
                Ok(stream) => {
                    // The agent is back: `MesosProcess::connected` cancels
                    // the recovery timer.
                    *lost_at = None;
                    return self.subscribed(stream, mark, heartbeat).await;
                }
                Err(error @ Error::Status { .. }) => {
                    connected = true;
                    *lost_at = None;
                    if let Err(end) = self.subscribe_refused(error).await {
                        return end;
                    }
                }
                Err(error) => {
                    let connected = connected || !matches!(error, Error::Connect { .. });
                    return End::Lost {
                        reason: error.to_string(),
                        connected,
                    };
                }
            }
            if let Err(end) = self
                .interruptible(tokio::time::sleep(SUBSCRIBE_RETRY))
                .await
            {
                return end;
            }
        }
    }

    /// An agent that answers SUBSCRIBE with an error: 503 (it is still
    /// recovering) and 404 (its routes are not up yet) are normal for a
    /// moment; anything else is reported as an ERROR event
    /// (`MesosProcess::_send`).
    async fn subscribe_refused(&mut self, error: Error) -> Result<(), End> {
        let Error::Status { status, body, .. } = &error else {
            return Ok(());
        };
        tracing::warn!(%error, "SUBSCRIBE refused; trying again");
        if *status == http::StatusCode::SERVICE_UNAVAILABLE
            || *status == http::StatusCode::NOT_FOUND
        {
            return Ok(());
        }
        let message = format!("Received unexpected '{status}' ({body}) for SUBSCRIBE");
        self.emit(ExecutorDriverEvent::Event(error_event(message)))
            .await
    }

    /// Subscribed: sends what SUBSCRIBE did not carry, then reads events.
    async fn subscribed(
        &mut self,
        mut stream: EventStream,
        mark: u64,
        heartbeat: &mut tokio::time::Interval,
    ) -> End {
        tracing::info!("subscribed to the agent");
        // Calls that failed before this subscription reported the loss of
        // a connection that is already replaced.
        while self.lost.try_recv().is_ok() {}
        if let Err(end) = self.send_updates_since(mark).await {
            return end;
        }
        loop {
            let shared = self.shared.clone();
            let (grace_end, mut stopped, lost) =
                (self.grace_end(), self.stopped.clone(), &mut self.lost);
            let next = async {
                tokio::select! {
                    event = stream.next_event() => Step::Event(event),
                    reason = lost.recv() => Step::Lost(reason),
                    _ = heartbeat.tick() => Step::Heartbeat,
                }
            };
            let step = match interruptible(&mut stopped, grace_end, next).await {
                Ok(step) => step,
                Err(end) => return end,
            };
            let result = match step {
                Step::Event(Ok(Some(event))) => self.received(event).await,
                Step::Event(Ok(None)) => Err(End::Lost {
                    reason: "the agent closed the event stream".into(),
                    connected: true,
                }),
                // A record that does not decode: the stream is fine, the
                // event is not. Mesos' library reports it as an ERROR event
                // and reads on (`MesosProcess::_read`).
                Step::Event(Err(Error::Codec(error))) => {
                    let message = format!("Failed to de-serialize event: {error}");
                    self.emit(ExecutorDriverEvent::Event(error_event(message)))
                        .await
                }
                Step::Event(Err(error)) => Err(End::Lost {
                    reason: error.to_string(),
                    connected: true,
                }),
                Step::Lost(reason) => Err(End::Lost {
                    reason: reason.unwrap_or_default(),
                    connected: true,
                }),
                Step::Heartbeat => {
                    // A failure is seen by the call itself (`Shared::call`).
                    let _ = shared.call(shared.caller.heartbeat()).await;
                    Ok(())
                }
            };
            if let Err(end) = result {
                return end;
            }
        }
    }

    /// Sends, on the call connection held for them, the updates recorded
    /// after the SUBSCRIBE was built (it did not carry them), then opens
    /// the way to [`ExecutorDriver::update`]: every update reaches the
    /// agent once, and in order.
    async fn send_updates_since(&mut self, mark: u64) -> Result<(), End> {
        let shared = self.shared.clone();
        let mut calls = shared.client.calls().await;
        let later = {
            let mut state = shared.state();
            state.subscribed = true;
            state.tasks.sent_since(mark)
        };
        for update in later {
            let uuid = update.status.uuid.clone().unwrap_or_default();
            match calls.send(shared.caller.update(update.status)).await {
                Ok(()) => {}
                Err(error) if error.is_refusal() => {
                    tracing::warn!(%error, "the agent refused a status update");
                    shared.state().tasks.refused(&uuid);
                }
                Err(error) => {
                    return Err(End::Lost {
                        reason: error.to_string(),
                        connected: true,
                    });
                }
            }
        }
        Ok(())
    }

    /// One event from the agent: the bookkeeping, then the executor.
    async fn received(&mut self, event: Event) -> Result<(), End> {
        tracing::debug!(r#type = ?event.r#type(), "event from the agent");
        match event.r#type() {
            // (Events of unknown types were skipped by the client.)
            event::Type::Heartbeat => return Ok(()),
            event::Type::Shutdown => {
                return self
                    .start_shutdown("the agent asked the executor to shut down".into())
                    .await;
            }
            event::Type::Launch => {
                if let Some(launch) = &event.launch {
                    self.shared.state().tasks.launched(launch.task.clone());
                    self.finished_told = false;
                }
            }
            event::Type::LaunchGroup => {
                if let Some(group) = &event.launch_group {
                    let mut state = self.shared.state();
                    for task in &group.task_group.tasks {
                        state.tasks.launched(task.clone());
                    }
                    self.finished_told = false;
                }
            }
            _ => {}
        }
        let finished = match &event.acknowledged {
            Some(ack) if event.r#type() == event::Type::Acknowledged => {
                let mut state = self.shared.state();
                let known = state.tasks.acknowledged(&ack.task_id.value, &ack.uuid);
                if known == Acknowledgement::Unknown {
                    tracing::warn!(task = %ack.task_id.value, "acknowledgement of an unknown status update");
                }
                state.tasks.is_finished()
            }
            _ => false,
        };
        self.emit(ExecutorDriverEvent::Event(event)).await?;
        if finished && !self.finished_told {
            self.finished_told = true;
            self.emit(ExecutorDriverEvent::Finished).await?;
        }
        Ok(())
    }

    /// Says Shutdown (once) and starts the grace period.
    async fn start_shutdown(&mut self, reason: String) -> Result<(), End> {
        if self.shutdown.is_some() {
            return Ok(());
        }
        tracing::info!(%reason, grace_period = ?self.config.shutdown_grace_period, "shutting down");
        self.shutdown = Some((Instant::now(), reason.clone()));
        let grace_period = self.config.shutdown_grace_period;
        self.emit(ExecutorDriverEvent::Shutdown {
            reason,
            grace_period,
        })
        .await
    }

    /// Shuts down after the agent is lost for good: the executor gets its
    /// grace period, then the driver stops.
    async fn shut_down_and_wait(&mut self, reason: String) -> End {
        if let Err(end) = self.start_shutdown(reason).await {
            return end;
        }
        match self.interruptible(std::future::pending::<()>()).await {
            Err(end) => end,
            Ok(()) => unreachable!("a pending future never completes"),
        }
    }

    fn grace_end(&self) -> Option<Instant> {
        let grace_period = self.config.shutdown_grace_period;
        self.shutdown
            .as_ref()
            .map(|(since, _)| *since + grace_period)
    }

    /// Passes an event on, unless asked to stop meanwhile.
    async fn emit(&mut self, event: ExecutorDriverEvent) -> Result<(), End> {
        let events = self.events.clone();
        match self.interruptible(events.send(event)).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(End::Stop), // nobody listens any more
        }
    }

    async fn interruptible<F: std::future::Future>(&mut self, work: F) -> Result<F::Output, End> {
        let grace_end = self.grace_end();
        interruptible(&mut self.stopped, grace_end, work).await
    }
}

/// What happened while subscribed.
// Short-lived, one at a time: boxing the event would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Step {
    Event(Result<Option<Event>>),
    Lost(Option<String>),
    Heartbeat,
}

/// Runs `work` unless the driver is asked to stop or the grace period
/// ends first.
async fn interruptible<F: std::future::Future>(
    stopped: &mut watch::Receiver<bool>,
    grace_end: Option<Instant>,
    work: F,
) -> Result<F::Output, End> {
    let grace = async {
        match grace_end {
            Some(end) => tokio::time::sleep_until(end).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        // A dropped handle (`Err`) stops the driver too.
        _ = stopped.wait_for(|stop| *stop) => Err(End::Stop),
        _ = grace => Err(End::GraceOver),
        output = work => Ok(output),
    }
}

/// An ERROR event the driver makes, as Mesos' library does
/// (`MesosProcess::error`).
fn error_event(message: String) -> Event {
    Event {
        r#type: Some(event::Type::Error as i32),
        error: Some(event::Error { message }),
        ..Default::default()
    }
}
