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
//! * Between attempts it waits with jittered exponential backoff
//!   ([`crate::backoff`]), capped at 15 s.
//!
//! The framework sees a channel of [`DriverEvent`]s and sends calls with
//! [`Driver::call`]. Its scheduler stays a plain function from events to
//! calls ([`Scheduler`]), testable without any of this machinery.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::{mpsc, watch};

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

/// A running subscription loop and the handle to make calls with.
pub struct Driver {
    client: Client,
    framework_info: Arc<Mutex<FrameworkInfo>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    /// The simulated master of `--master local`, which lives as long as
    /// the driver.
    _local_master: Option<LocalMaster>,
}

impl Driver {
    /// Starts subscribing. Events arrive on the returned channel; the
    /// driver keeps resubscribing until [`Driver::stop`] or until the
    /// channel's receiver is dropped.
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
        let task = tokio::spawn(
            SubscriptionLoop {
                client: client.clone(),
                framework_info: framework_info.clone(),
                detector,
                events,
                stopped,
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
            task,
            _local_master: None,
        };
        (driver, receiver)
    }

    /// Sends a call to the master.
    pub async fn call(&self, call: Call) -> Result<()> {
        self.client.call(call).await.map(|_| ())
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

    /// Replaces the framework ID used for the next SUBSCRIBE. `None` makes
    /// the next subscription register a new framework: what a scheduler
    /// must do after the master answered ERROR because its failover timeout
    /// passed and the old framework is gone.
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
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Runs `scheduler` until `shutdown` completes or the driver stops:
    /// each event goes to the scheduler and the calls it returns go to the
    /// master. A failed call is logged; the event stream goes on.
    pub async fn run<S: Scheduler>(
        self,
        events: &mut mpsc::Receiver<DriverEvent>,
        scheduler: &mut S,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            let event = tokio::select! {
                event = events.recv() => match event {
                    Some(event) => event,
                    None => break,
                },
                _ = &mut shutdown => break,
            };
            for call in scheduler.on_event(&event) {
                if let Err(error) = self.call(call).await {
                    tracing::warn!(%error, "call to the master failed");
                }
            }
        }
        self.stop().await;
    }
}

/// The background task behind a [`Driver`].
struct SubscriptionLoop {
    client: Client,
    framework_info: Arc<Mutex<FrameworkInfo>>,
    detector: MasterDetector,
    events: mpsc::Sender<DriverEvent>,
    stopped: watch::Receiver<bool>,
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
}

impl SubscriptionLoop {
    async fn run(mut self) {
        loop {
            let master = tokio::select! {
                master = self.detector.leader() => master,
                _ = self.stopped.wait_for(|stop| *stop) => return,
            };
            self.client.set_master(master.clone());
            let reason = match self.subscribe().await {
                Ok(subscription) => match self.read_events(subscription, &master).await {
                    StreamEnd::Stopped => return,
                    StreamEnd::Lost(reason) => reason,
                },
                Err(error) => format!("subscribing at {master} failed: {error}"),
            };
            self.client.clear_subscription();
            let delay = self.backoff.next_delay();
            tracing::warn!(%reason, retry_in = ?delay, "disconnected from the master");
            if self
                .events
                .send(DriverEvent::Disconnected { reason })
                .await
                .is_err()
            {
                return; // nobody listens any more
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.stopped.wait_for(|stop| *stop) => return,
            }
        }
    }

    async fn subscribe(&mut self) -> Result<Subscription> {
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
    /// changes or the framework stops the driver.
    async fn read_events(
        &mut self,
        mut subscription: Subscription,
        master: &MasterAddr,
    ) -> StreamEnd {
        // Until SUBSCRIBED tells us the heartbeat interval, allow the
        // subscribe timeout for the first event.
        let mut silence_limit = self.subscribe_timeout;
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(silence_limit, subscription.next_event()) => next,
                leader = self.detector.changed_from(master) => {
                    let leader = leader.map(|l| l.to_string()).unwrap_or_else(|| "none".into());
                    return StreamEnd::Lost(format!("leading master changed (now {leader})"));
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
                Ok(Err(error)) => return StreamEnd::Lost(format!("event stream failed: {error}")),
            };
            if let Some(subscribed) = subscribed(&event) {
                self.on_subscribed(subscribed);
                if let Some(interval) = subscribed.heartbeat_interval_seconds.filter(|s| *s > 0.0) {
                    silence_limit =
                        Duration::from_secs_f64(interval * f64::from(self.missed_heartbeats));
                }
            }
            if self.events.send(DriverEvent::Event(event)).await.is_err() {
                return StreamEnd::Stopped;
            }
        }
    }

    /// Remembers the framework ID the master gave us, so that every later
    /// (re)subscription resumes this framework.
    fn on_subscribed(&mut self, subscribed: &event::Subscribed) {
        let framework_id = subscribed.framework_id.clone();
        tracing::info!(framework_id = %framework_id.value, "subscribed");
        self.framework_info.lock().expect("framework info lock").id = Some(framework_id.clone());
        self.client.set_framework_id(Some(framework_id));
        self.backoff.reset();
    }
}

/// The SUBSCRIBED payload of an event, if it is one.
fn subscribed(event: &Event) -> Option<&event::Subscribed> {
    if event.r#type() == event::Type::Subscribed {
        event.subscribed.as_ref()
    } else {
        None
    }
}
