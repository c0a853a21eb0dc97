//! The driver: keeps a framework subscribed, whatever the network does.
//!
//! In a cluster, masters fail over, connections drop and proxies time out
//! idle streams. The scheduler API leaves coping with that to the framework
//! (`docs/scheduler-http-api.md`, "Disconnections"). The driver does it once
//! for every framework built on this crate:
//!
//! * It finds the leading master ([`crate::detector`]) and subscribes.
//! * It keeps the framework ID from SUBSCRIBED and resubscribes *with* it,
//!   so the master hands back the same framework and its running tasks
//!   instead of registering a stranger.
//! * The master sends a HEARTBEAT every `heartbeat_interval_seconds`. A
//!   half-open TCP connection delivers nothing and reports no error, so
//!   silence is the only sign of it: after `missed_heartbeats` intervals
//!   without any event the stream is treated as dead.
//! * A call the master refuses because it does not know our subscription
//!   (after a master failover: [`Error::is_subscription_lost`]) ends the
//!   subscription too, and the driver subscribes again.
//! * Between attempts it waits with jittered exponential backoff
//!   ([`crate::backoff`]), capped at 15 s.
//!
//! # When the master says no: ERROR events
//!
//! The master answers a SUBSCRIBE it will not take, or tells a subscription
//! it replaced, with an ERROR event and closes the stream
//! (`src/master/master.cpp`). Resubscribing is then the right answer once,
//! and the wrong one otherwise:
//!
//! * **"Framework has been removed"**: the framework's failover timeout
//!   passed while it was disconnected (with Mesos' default of 0, that is the
//!   moment its connection closed), or it was torn down. The ID is dead for
//!   good and so are its tasks. The driver forgets the ID, tells the
//!   framework ([`DriverEvent::FrameworkRemoved`]) and registers a new
//!   framework.
//! * **"Framework failed over"**: another scheduler subscribed with our
//!   framework ID, and the master gave it the framework. Resubscribing would
//!   take it back, the other one would do the same, and the two would
//!   displace each other for ever. Mesos' own driver aborts here
//!   (`src/sched/sched.cpp`), and so does this one: it stops, says so
//!   ([`DriverEvent::FailedOver`]) and closes the event channel.
//! * **Anything else** (an invalid FrameworkInfo, a principal that is not
//!   allowed, …) would be refused again: the driver stops
//!   ([`DriverEvent::Refused`], with the master's message). So does a
//!   SUBSCRIBE the master answers with an error no retry can change: `401`
//!   (missing or wrong credentials) or `400` (the call is invalid).
//!
//! The master only remembers removed frameworks in memory (at most
//! `--max_completed_frameworks`, and not across its own failover, after
//! which an old ID may be accepted silently). So "removed" is a hint, not a
//! guarantee: reconciliation after every SUBSCRIBED is what really finds
//! the tasks that are gone.
//!
//! The framework sees a channel of [`DriverEvent`]s and sends calls with
//! [`Driver::call`]. Its scheduler stays a plain function from events to
//! calls ([`Scheduler`]), testable without any of this machinery.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};

use crate::{
    backoff::Backoff,
    calls,
    client::{Client, ClientOptions, Subscription},
    detector::MasterDetector,
    error::{Error, Result},
    local::{LocalMaster, LocalMasterConfig},
    master::{MasterAddr, MasterSpec},
    v1::{
        FrameworkId, FrameworkInfo,
        scheduler::{Call, Event, event},
    },
};

/// The ERROR message of a SUBSCRIBE with the ID of a removed framework
/// (`validateFramework` in `src/master/master.cpp`).
pub const FRAMEWORK_REMOVED: &str = "Framework has been removed";

/// The ERROR message a subscription gets when another scheduler subscribes
/// with the same framework ID (`Master::failoverFramework`).
pub const FRAMEWORK_FAILED_OVER: &str = "Framework failed over";

/// The longest silence the driver waits for, whatever heartbeat interval a
/// master announces: a nonsense interval (infinite, huge) must not leave a
/// dead connection undetected for ever.
const MAX_SILENCE: Duration = Duration::from_secs(3600);

/// What the driver tells the framework.
// Nearly every value is an `Event`; boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum DriverEvent {
    /// An event from the master.
    Event(Event),
    /// The subscription ended (the reason says why). The driver is already
    /// resubscribing; offers received so far are void, and a SUBSCRIBED
    /// event will say when the framework is back.
    Disconnected { reason: String },
    /// The master removed the framework: its failover timeout passed while
    /// no scheduler was subscribed, or it was torn down. Its tasks were
    /// killed with it, and its ID can never be used again. The driver has
    /// forgotten the ID and registers a new framework; forget the old
    /// framework's tasks (and whatever you stored about them).
    FrameworkRemoved {
        framework_id: FrameworkId,
        message: String,
    },
    /// Another scheduler subscribed with this framework's ID, and the master
    /// gave the framework to it. The driver has stopped and the channel
    /// closes after this event: resubscribing would take the framework back,
    /// and two schedulers would displace each other for ever.
    FailedOver { message: String },
    /// The master refused the subscription with an ERROR event, or
    /// answered SUBSCRIBE with an error no retry can change (`401` wrong
    /// or missing credentials, `400` an invalid call); the message says
    /// why. The driver has stopped and the channel closes after this
    /// event: subscribing again would be refused again.
    Refused { message: String },
}

impl DriverEvent {
    /// For the events after which the driver has stopped for good
    /// ([`DriverEvent::FailedOver`], [`DriverEvent::Refused`]): why, as an
    /// error.
    pub fn final_error(&self) -> Option<Error> {
        match self {
            DriverEvent::FailedOver { message } => Some(Error::FailedOver(message.clone())),
            DriverEvent::Refused { message } => Some(Error::Refused(message.clone())),
            _ => None,
        }
    }

    /// Whether the subscription the events before this one came on is
    /// over: the stream broke, the master removed the framework, or a new
    /// SUBSCRIBED begins. Calls decided from those earlier events and not
    /// sent yet belong to it, and must not go out on the next one: their
    /// offers are void (the master rescinds a disconnected framework's
    /// offers), agents send again the updates nobody acknowledged, and a
    /// removed framework's launches have lost their records. A scheduler
    /// that decides several events before it acts (group commit) drops
    /// them; the reconciliation that every SUBSCRIBED starts settles the
    /// rest.
    pub fn ends_a_subscription(&self) -> bool {
        match self {
            DriverEvent::Event(event) => event.r#type() == event::Type::Subscribed,
            DriverEvent::Disconnected { .. } | DriverEvent::FrameworkRemoved { .. } => true,
            DriverEvent::FailedOver { .. } | DriverEvent::Refused { .. } => false,
        }
    }
}

/// Settings of a [`Driver`].
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Where to find the master.
    pub master: MasterSpec,
    /// Who the framework is. Set `id` to resume an earlier registration.
    pub framework_info: FrameworkInfo,
    /// How to talk HTTP to the master.
    pub client: ClientOptions,
    /// How many heartbeat intervals without an event mean the stream is
    /// dead. Mesos' docs suggest 5.
    pub missed_heartbeats: u32,
    /// How long to wait for the first event after SUBSCRIBE is sent.
    pub subscribe_timeout: Duration,
    /// Pause between resubscription attempts.
    pub backoff: Backoff,
}

impl DriverConfig {
    pub fn new(master: MasterSpec, framework_info: FrameworkInfo) -> Self {
        DriverConfig {
            master,
            framework_info,
            client: ClientOptions::default(),
            missed_heartbeats: 5,
            subscribe_timeout: Duration::from_secs(30),
            backoff: Backoff::default(),
        }
    }
}

/// A framework's decisions: events in, calls out.
///
/// Keeping this a plain function of the scheduler's state and the event,
/// with no I/O, is what makes a scheduler testable: a test feeds it events
/// and looks at the calls it returns.
pub trait Scheduler {
    fn on_event(&mut self, event: &DriverEvent) -> Vec<Call>;
}

/// A call refused because the master does not know the subscription it
/// was sent on: the subscription loop ends that subscription.
#[derive(Debug)]
struct LostSubscription {
    stream_id: String,
    reason: String,
}

/// A running subscription loop and the handle to make calls with.
pub struct Driver {
    client: Client,
    framework_info: Arc<Mutex<FrameworkInfo>>,
    stop: watch::Sender<bool>,
    lost: mpsc::UnboundedSender<LostSubscription>,
    task: tokio::task::JoinHandle<()>,
    /// The simulated master of `--master local`, which lives as long as
    /// the driver.
    _local_master: Option<LocalMaster>,
}

impl Driver {
    /// Starts subscribing. Events arrive on the returned channel; the
    /// driver keeps resubscribing until [`Driver::stop`], until the
    /// channel's receiver is dropped, or until the master makes it stop
    /// ([`DriverEvent::FailedOver`], [`DriverEvent::Refused`]).
    pub fn start(config: DriverConfig) -> Result<(Driver, mpsc::Receiver<DriverEvent>)> {
        let detector = match &config.master {
            MasterSpec::Local => {
                // A simulated master in this process, kept alive by the
                // driver (see `crate::local`).
                let master = LocalMaster::spawn(LocalMasterConfig::default()).map_err(|e| {
                    Error::InvalidRequest(format!("cannot start the simulated master: {e}"))
                })?;
                tracing::info!(
                    master = %master.addr(),
                    work_dir = %master.work_dir().display(),
                    "--master local: a simulated Mesos master is running"
                );
                let detector = MasterDetector::fixed(master.addr());
                let (mut driver, events) = Self::start_with_detector(config, detector);
                driver._local_master = Some(master);
                return Ok((driver, events));
            }
            spec => MasterDetector::new(spec).map_err(|e| Error::InvalidRequest(e.to_string()))?,
        };
        Ok(Self::start_with_detector(config, detector))
    }

    /// Starts subscribing to whichever master `detector` names.
    pub fn start_with_detector(
        config: DriverConfig,
        detector: MasterDetector,
    ) -> (Driver, mpsc::Receiver<DriverEvent>) {
        let client = Client::new(config.client.clone());
        client.set_framework_id(config.framework_info.id.clone());
        let framework_info = Arc::new(Mutex::new(config.framework_info.clone()));
        let (events, receiver) = mpsc::channel(1024);
        let (stop, stopped) = watch::channel(false);
        let (lost, lost_subscriptions) = mpsc::unbounded_channel();
        let task = tokio::spawn(
            SubscriptionLoop {
                client: client.clone(),
                framework_info: framework_info.clone(),
                detector,
                events,
                stopped,
                lost: lost_subscriptions,
                backoff: config.backoff.clone(),
                missed_heartbeats: config.missed_heartbeats.max(1),
                subscribe_timeout: config.subscribe_timeout,
            }
            .run(),
        );
        let driver = Driver {
            client,
            framework_info,
            stop,
            lost,
            task,
            _local_master: None,
        };
        (driver, receiver)
    }

    /// Sends a call to the master.
    ///
    /// A call refused because the master does not know our subscription
    /// ([`Error::is_subscription_lost`]) also makes the driver subscribe
    /// again; the call itself is not repeated (after the new SUBSCRIBED,
    /// reconciliation tells what happened to it).
    pub async fn call(&self, call: Call) -> Result<()> {
        let (stream_id, result) = self.client.call_on_stream(call).await;
        if let (Some(stream_id), Err(error)) = (stream_id, &result) {
            if error.is_subscription_lost() {
                let reason = error.to_string();
                let _ = self.lost.send(LostSubscription { stream_id, reason });
            }
        }
        result.map(|_| ())
    }

    /// Sends calls in order, stopping at the first failure.
    pub async fn call_all(&self, calls: impl IntoIterator<Item = Call>) -> Result<()> {
        for call in calls {
            self.call(call).await?;
        }
        Ok(())
    }

    /// The framework ID, once the master has assigned or confirmed one.
    pub fn framework_id(&self) -> Option<FrameworkId> {
        self.client.framework_id()
    }

    /// Replaces the framework ID used for the next SUBSCRIBE; `None` makes
    /// it register a new framework.
    pub fn set_framework_id(&self, framework_id: Option<FrameworkId>) {
        self.framework_info.lock().expect("framework info lock").id = framework_id.clone();
        self.client.set_framework_id(framework_id);
    }

    /// The master the driver is subscribed to, if any.
    pub fn master(&self) -> Option<MasterAddr> {
        self.client.master()
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Closes the subscription and stops resubscribing. This does *not*
    /// tear the framework down: the master keeps its tasks for
    /// `failover_timeout`, so a restarted scheduler can take them back.
    ///
    /// Returns promptly whatever the driver is doing, even if nobody reads
    /// the event channel any more.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Runs `scheduler` until `shutdown` completes or the driver stops:
    /// each event goes to the scheduler and the calls it returns go to the
    /// master. A failed call is logged; the event stream goes on.
    ///
    /// Returns an error if the master made the driver stop
    /// ([`DriverEvent::FailedOver`], [`DriverEvent::Refused`]).
    pub async fn run<S: Scheduler>(
        self,
        events: &mut mpsc::Receiver<DriverEvent>,
        scheduler: &mut S,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<()> {
        tokio::pin!(shutdown);
        let mut outcome = Ok(());
        loop {
            let event = tokio::select! {
                event = events.recv() => match event {
                    Some(event) => event,
                    None => break,
                },
                _ = &mut shutdown => break,
            };
            if let Some(error) = event.final_error() {
                outcome = Err(error);
            }
            for call in scheduler.on_event(&event) {
                if let Err(error) = self.call(call).await {
                    tracing::warn!(%error, "call to the master failed");
                }
            }
        }
        self.stop().await;
        outcome
    }
}

/// The background task behind a [`Driver`].
struct SubscriptionLoop {
    client: Client,
    framework_info: Arc<Mutex<FrameworkInfo>>,
    detector: MasterDetector,
    events: mpsc::Sender<DriverEvent>,
    stopped: watch::Receiver<bool>,
    lost: mpsc::UnboundedReceiver<LostSubscription>,
    backoff: Backoff,
    missed_heartbeats: u32,
    subscribe_timeout: Duration,
}

/// Why reading a subscription stopped.
enum StreamEnd {
    /// The framework asked the driver to stop.
    Stopped,
    /// The subscription is gone; resubscribe.
    Lost(String),
    /// ERROR "Framework has been removed": register anew.
    Removed {
        framework_id: FrameworkId,
        message: String,
    },
    /// ERROR "Framework failed over": stop for good.
    FailedOver(String),
    /// Any other ERROR: the master refused us; stop for good.
    Refused(String),
}

impl SubscriptionLoop {
    async fn run(mut self) {
        loop {
            let mut stopped = self.stopped.clone();
            let master = tokio::select! {
                master = self.detector.leader() => master,
                _ = stopped.wait_for(|stop| *stop) => return,
            };
            self.client.set_master(master.clone());
            let subscribed = tokio::select! {
                subscribed = self.subscribe() => subscribed,
                _ = stopped.wait_for(|stop| *stop) => return,
            };
            let end = match subscribed {
                Ok(subscription) => self.read_events(subscription, &master).await,
                // A SUBSCRIBE the master refuses on its face (401 wrong or
                // missing credentials, 400 an invalid FrameworkInfo or a
                // principal that does not match the authenticated one) is
                // refused the same way every time: retrying for ever would
                // only hide the mistake in a log of retries.
                Err(error) if !error.is_retryable() => {
                    StreamEnd::Refused(format!("SUBSCRIBE at {master}: {error}"))
                }
                Err(error) => StreamEnd::Lost(format!("subscribing at {master} failed: {error}")),
            };
            self.client.clear_subscription();
            let reason = match end {
                StreamEnd::Stopped => return,
                StreamEnd::FailedOver(message) => {
                    tracing::error!(
                        master_said = %message,
                        "another scheduler subscribed with this framework's ID: stopping"
                    );
                    self.emit(DriverEvent::FailedOver { message }).await;
                    return;
                }
                StreamEnd::Refused(message) => {
                    tracing::error!(master_said = %message, "the master refused the subscription: stopping");
                    self.emit(DriverEvent::Refused { message }).await;
                    return;
                }
                StreamEnd::Removed {
                    framework_id,
                    message,
                } => {
                    tracing::warn!(
                        framework_id = %framework_id.value,
                        "the master removed this framework: registering a new one"
                    );
                    self.set_framework_id(None);
                    let removed = DriverEvent::FrameworkRemoved {
                        framework_id,
                        message,
                    };
                    if !self.emit(removed).await {
                        return;
                    }
                    // Nothing to wait for: the master answered, and a
                    // registration without an ID cannot be "removed".
                    continue;
                }
                StreamEnd::Lost(reason) => reason,
            };
            let delay = self.backoff.next_delay();
            tracing::warn!(%reason, retry_in = ?delay, "disconnected from the master");
            if !self.emit(DriverEvent::Disconnected { reason }).await {
                return; // stopped, or nobody listens any more
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stopped.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Passes an event on; false if the driver was stopped or nobody
    /// listens. Never waits on a full channel once the driver is stopped,
    /// so that [`Driver::stop`] cannot hang.
    async fn emit(&mut self, event: DriverEvent) -> bool {
        tokio::select! {
            sent = self.events.send(event) => sent.is_ok(),
            _ = self.stopped.wait_for(|stop| *stop) => false,
        }
    }

    async fn subscribe(&self) -> Result<Subscription> {
        let framework_info = self
            .framework_info
            .lock()
            .expect("framework info lock")
            .clone();
        tracing::info!(
            master = %self.client.master().map(|m| m.to_string()).unwrap_or_default(),
            framework_id = framework_info.id.as_ref().map(|id| id.value.as_str()).unwrap_or("(new)"),
            "subscribing"
        );
        let call = calls::subscribe(framework_info);
        match tokio::time::timeout(self.subscribe_timeout, self.client.subscribe(call)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Status {
                status: http::StatusCode::GATEWAY_TIMEOUT,
                message: format!("no answer to SUBSCRIBE within {:?}", self.subscribe_timeout),
            }),
        }
    }

    /// Passes events on until the stream ends, goes silent, the leader
    /// changes, the master refuses a call for not knowing this
    /// subscription, or the framework stops the driver.
    async fn read_events(
        &mut self,
        mut subscription: Subscription,
        master: &MasterAddr,
    ) -> StreamEnd {
        // Until SUBSCRIBED tells us the heartbeat interval, allow the
        // subscribe timeout for the first event.
        let mut silence_limit = self.subscribe_timeout;
        let mut deadline = Instant::now() + silence_limit;
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout_at(deadline, subscription.next_event()) => next,
                leader = self.detector.changed_from(master) => {
                    let leader = leader.map(|l| l.to_string()).unwrap_or_else(|| "none".into());
                    return StreamEnd::Lost(format!("leading master changed (now {leader})"));
                }
                Some(lost) = self.lost.recv() => {
                    if lost.stream_id == subscription.stream_id() {
                        return StreamEnd::Lost(format!(
                            "the master does not know this subscription any more: {}",
                            lost.reason
                        ));
                    }
                    continue; // about a subscription that is already gone
                }
                _ = self.stopped.wait_for(|stop| *stop) => return StreamEnd::Stopped,
            };
            let event = match next {
                Err(_) => {
                    return StreamEnd::Lost(format!(
                        "no event from the master for {silence_limit:?} (heartbeats missed)"
                    ));
                }
                Ok(Ok(Some(event))) => event,
                Ok(Ok(None)) => {
                    return StreamEnd::Lost("the master closed the event stream".into());
                }
                // One event we cannot decode is no reason to drop the
                // subscription: its record was framed correctly, so the
                // stream is fine, and Mesos' own scheduler library reads
                // on too (`src/scheduler/scheduler.cpp`).
                Ok(Err(Error::Codec(error))) => {
                    tracing::warn!(%error, "skipping an event that cannot be decoded");
                    deadline = Instant::now() + silence_limit;
                    continue;
                }
                Ok(Err(error)) => return StreamEnd::Lost(format!("event stream failed: {error}")),
            };
            deadline = Instant::now() + silence_limit;
            // A type this library does not know (a newer master's event),
            // or none: its contents cannot be read, so the scheduler has
            // nothing to act on. It still proves the stream alive (above).
            if event.r#type() == event::Type::Unknown {
                tracing::warn!(
                    r#type = ?event.r#type,
                    "skipping an event of a type this library does not know"
                );
                continue;
            }
            if event.r#type() == event::Type::Error {
                let message = event.error.map(|e| e.message).unwrap_or_default();
                return self.on_error(message);
            }
            if let Some(subscribed) = subscribed(&event) {
                self.on_subscribed(subscribed);
                if let Some(limit) = silence_limit_for(
                    subscribed.heartbeat_interval_seconds,
                    self.missed_heartbeats,
                ) {
                    silence_limit = limit;
                    deadline = Instant::now() + silence_limit;
                }
            }
            if !self.emit(DriverEvent::Event(event)).await {
                return StreamEnd::Stopped;
            }
        }
    }

    /// What an ERROR event means for the subscription (see the module
    /// docs): the master closes the stream after it in every case.
    fn on_error(&self, message: String) -> StreamEnd {
        let framework_id = self
            .framework_info
            .lock()
            .expect("framework info lock")
            .id
            .clone();
        match framework_id {
            Some(framework_id) if message == FRAMEWORK_REMOVED => StreamEnd::Removed {
                framework_id,
                message,
            },
            _ if message == FRAMEWORK_FAILED_OVER => StreamEnd::FailedOver(message),
            _ => StreamEnd::Refused(message),
        }
    }

    /// Remembers the framework ID the master gave us, so that every later
    /// (re)subscription resumes this framework.
    fn on_subscribed(&mut self, subscribed: &event::Subscribed) {
        let framework_id = subscribed.framework_id.clone();
        tracing::info!(framework_id = %framework_id.value, "subscribed");
        self.set_framework_id(Some(framework_id));
        self.backoff.reset();
    }

    fn set_framework_id(&self, framework_id: Option<FrameworkId>) {
        self.framework_info.lock().expect("framework info lock").id = framework_id.clone();
        self.client.set_framework_id(framework_id);
    }
}

/// How long a stream may stay silent: `missed` heartbeat intervals, at
/// most [`MAX_SILENCE`]. `None` for an interval that means nothing (zero,
/// negative, NaN): then the limit stays as it was.
fn silence_limit_for(interval_seconds: Option<f64>, missed: u32) -> Option<Duration> {
    let interval = interval_seconds.filter(|seconds| *seconds > 0.0)?;
    let limit = Duration::try_from_secs_f64(interval * f64::from(missed)).unwrap_or(MAX_SILENCE);
    Some(limit.min(MAX_SILENCE))
}

/// The SUBSCRIBED payload of an event, if it is one.
fn subscribed(event: &Event) -> Option<&event::Subscribed> {
    if event.r#type() == event::Type::Subscribed {
        event.subscribed.as_ref()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_heartbeat_interval_gives_a_bounded_silence_limit() {
        assert_eq!(
            silence_limit_for(Some(15.0), 5),
            Some(Duration::from_secs(75))
        );
        assert_eq!(silence_limit_for(Some(f64::INFINITY), 5), Some(MAX_SILENCE));
        assert_eq!(silence_limit_for(Some(1e300), 5), Some(MAX_SILENCE));
        assert_eq!(
            silence_limit_for(Some(f64::MAX), u32::MAX),
            Some(MAX_SILENCE)
        );
        for meaningless in [
            None,
            Some(0.0),
            Some(-1.0),
            Some(f64::NAN),
            Some(f64::NEG_INFINITY),
        ] {
            assert_eq!(silence_limit_for(meaningless, 5), None, "{meaningless:?}");
        }
    }
}
