//! The I/O edge around the scheduler: one task owns it, everything else
//! sends it work.
//!
//! The scheduler is a plain value: it must see one thing at a time, and
//! never a half-made change. So a single tokio task owns it and runs, in
//! turn, Mesos events from the driver and *jobs* from the API (a closure
//! run on the scheduler, whose result goes back to the HTTP handler).
//! After each batch it converges the touched apps, then sends the calls
//! and publishes the events the decisions left.

use std::time::{Instant, SystemTime};

use mesos::{Driver, DriverEvent};
use tokio::sync::{mpsc, oneshot};

use crate::{events::EventBus, scheduler::Scheduler};

/// Work for the scheduler, from the API.
type Job = Box<dyn FnOnce(&mut Scheduler) + Send>;

/// How many events or jobs are decided before their calls go out.
const BATCH: usize = 1024;

/// The API's way in: runs closures on the scheduler.
#[derive(Clone)]
pub struct Core {
    jobs: mpsc::Sender<Job>,
}

/// The scheduler has stopped (5K is shutting down).
#[derive(Debug)]
pub struct Stopped;

impl Core {
    /// Runs `job` on the scheduler and returns its result.
    pub async fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Scheduler) -> R + Send + 'static,
    ) -> Result<R, Stopped> {
        let (reply, result) = oneshot::channel();
        let job: Job = Box::new(move |scheduler| {
            let _ = reply.send(job(scheduler));
        });
        self.jobs.send(job).await.map_err(|_| Stopped)?;
        result.await.map_err(|_| Stopped)
    }
}

/// The loop that owns the scheduler. Returns when `shutdown` completes or
/// the driver stops.
pub struct CoreLoop {
    scheduler: Scheduler,
    jobs: mpsc::Receiver<Job>,
    bus: EventBus,
}

impl CoreLoop {
    pub fn new(scheduler: Scheduler, bus: EventBus) -> (CoreLoop, Core) {
        let (sender, jobs) = mpsc::channel(BATCH);
        (
            CoreLoop {
                scheduler,
                jobs,
                bus,
            },
            Core { jobs: sender },
        )
    }

    pub async fn run(
        mut self,
        driver: &Driver,
        events: &mut mpsc::Receiver<DriverEvent>,
        shutdown: impl Future<Output = ()>,
    ) -> Option<mesos::Error> {
        tokio::pin!(shutdown);
        let mut final_error = None;
        let mut received = Vec::new();
        let mut jobs = Vec::new();
        loop {
            let timer = self.scheduler.next_timer();
            tokio::select! {
                count = events.recv_many(&mut received, BATCH) => {
                    if count == 0 {
                        break; // the driver stopped
                    }
                    self.tick();
                    for event in received.drain(..) {
                        if let Some(error) = event.final_error() {
                            tracing::error!("{error}");
                            final_error = Some(error);
                        }
                        self.scheduler.on_event(&event);
                    }
                }
                count = self.jobs.recv_many(&mut jobs, BATCH) => {
                    if count == 0 {
                        break;
                    }
                    self.tick();
                    for job in jobs.drain(..) {
                        job(&mut self.scheduler);
                    }
                }
                () = sleep_until(timer) => {
                    self.tick();
                    self.scheduler.on_timer();
                }
                () = &mut shutdown => break,
            }
            self.scheduler.converge();
            let effects = self.scheduler.take_effects();
            for event in effects.events {
                self.bus.publish(event);
            }
            for call in effects.calls {
                if let Err(error) = driver.call(call).await {
                    tracing::warn!(%error, "call to the master failed");
                }
            }
        }
        final_error
    }

    /// Decisions read the time from the scheduler, set here.
    fn tick(&mut self) {
        self.scheduler.now = SystemTime::now();
        self.scheduler.instant = Instant::now();
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
