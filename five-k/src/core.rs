//! The I/O edge around the scheduler: one task owns it, everything else
//! sends it work.
//!
//! The scheduler is a plain value: it must see one thing at a time, and
//! never a half-made change. So a single tokio task owns it and runs, in
//! turn, Mesos events from the driver and *jobs* from the API (a closure
//! run on the scheduler, whose result goes back to the HTTP handler).
//!
//! After each batch it converges the touched apps, then, in this order:
//! 1. saves what changed to ZooKeeper (write-ahead; with `--zk`);
//! 2. answers the API requests of the batch, sends the calls to the
//!    master and publishes the events.
//!
//! If the save fails, nothing of step 2 happens: no launch goes out whose
//! task is not on record, and no client hears "created" for an app that
//! is not stored (it gets 503 and may try again). The changes stay pending
//! and are saved with the next batch, or on a retry a moment later.
//!
//! With HAProxy (`haproxy/`), the KILL calls of a batch wait, off the
//! scheduler's path, until HAProxy no longer sends their tasks traffic.

use std::time::{Duration, Instant, SystemTime};

use mesos::{
    Driver, DriverEvent,
    state::StateError,
    v1::scheduler::{Call, call},
};
use tokio::sync::{mpsc, oneshot};

use crate::{
    events::EventBus,
    haproxy::Backends,
    scheduler::{Changes, Effects, Scheduler},
    store::Store,
};

/// Answers an API request, once its change is saved.
type Reply = Box<dyn FnOnce() + Send>;

/// Work for the scheduler, from the API, and when it was queued.
type Job = (Instant, Box<dyn FnOnce(&mut Scheduler) -> Reply + Send>);

/// How many events or jobs are decided before their calls go out.
const BATCH: usize = 1024;

/// How soon a failed save is tried again when nothing else happens.
const SAVE_RETRY: Duration = Duration::from_secs(1);

/// How long a request waits for the scheduler: a new leader reading its
/// state, or a save that ZooKeeper does not answer, must not hold a
/// client for ever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The API's way in: runs closures on the scheduler.
#[derive(Clone)]
pub struct Core {
    jobs: mpsc::Sender<Job>,
}

/// The scheduler could not take the request: 5K is stopping, or what the
/// request changed could not be stored.
#[derive(Debug)]
pub struct Unavailable;

impl Core {
    /// Runs `job` on the scheduler and returns its result, once what it
    /// changed is stored.
    pub async fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Scheduler) -> R + Send + 'static,
    ) -> Result<R, Unavailable> {
        let (reply, result) = oneshot::channel();
        let job: Job = (
            Instant::now(),
            Box::new(move |scheduler| {
                let answer = job(scheduler);
                Box::new(move || {
                    let _ = reply.send(answer);
                })
            }),
        );
        let answer = async {
            self.jobs.send(job).await.map_err(|_| Unavailable)?;
            result.await.map_err(|_| Unavailable)
        };
        tokio::time::timeout(REQUEST_TIMEOUT, answer)
            .await
            .unwrap_or(Err(Unavailable))
    }
}

/// The loop that owns the scheduler.
pub struct CoreLoop {
    jobs: mpsc::Receiver<Job>,
    bus: EventBus,
    /// HAProxy's backends, with `--haproxy-config`.
    pub haproxy: Option<Backends>,
}

impl CoreLoop {
    /// The loop and the API's handle on it. Requests wait in the queue
    /// until [`CoreLoop::run`] starts (a new leader reading its state).
    pub fn new(bus: EventBus) -> (CoreLoop, Core) {
        let (sender, jobs) = mpsc::channel(BATCH);
        (
            CoreLoop {
                jobs,
                bus,
                haproxy: None,
            },
            Core { jobs: sender },
        )
    }

    /// Runs until `shutdown` completes (`Some(reason)` for a failure) or
    /// the driver stops. Returns why it failed, if it did.
    ///
    /// Requests queued before `elected_at` are refused (503, "look before
    /// sending it again"): they were taken while this instance wrongly
    /// believed it led (frozen, or just deposed, or between terms), and
    /// their clients may have given up and sent other changes since,
    /// through the real leader. Run now, they would undo those changes
    /// (found by `tests/chaos`: an app deleted by a request from an
    /// earlier term, long after the client's later update was accepted).
    pub async fn run(
        &mut self,
        elected_at: Option<Instant>,
        scheduler: Scheduler,
        store: Option<Store>,
        driver: &Driver,
        events: &mut mpsc::Receiver<DriverEvent>,
        shutdown: impl Future<Output = Option<String>>,
    ) -> Option<String> {
        tokio::pin!(shutdown);
        let mut term = Term {
            scheduler,
            store,
            replies: Vec::new(),
            unsaved: Changes::default(),
            retry_save: None,
        };
        let mut received = Vec::new();
        let mut jobs = Vec::new();
        if let Some(backends) = self.haproxy.as_mut() {
            backends.new_term();
        }
        loop {
            let scheduler = &mut term.scheduler;
            let timer = scheduler.next_timer();
            tokio::select! {
                count = events.recv_many(&mut received, BATCH) => {
                    if count == 0 {
                        return None; // the driver stopped
                    }
                    tick(scheduler);
                    for event in received.drain(..) {
                        if let Some(error) = event.final_error() {
                            return Some(error.to_string());
                        }
                        scheduler.on_event(&event);
                    }
                }
                count = self.jobs.recv_many(&mut jobs, BATCH) => {
                    if count == 0 {
                        return None;
                    }
                    tick(scheduler);
                    let current = jobs
                        .drain(..)
                        .filter(|(queued_at, _)| elected_at.is_none_or(|at| *queued_at >= at));
                    // A stale job is dropped with its reply: its request
                    // gets `Unavailable`.
                    term.replies
                        .extend(current.map(|(_, job)| job(scheduler)).collect::<Vec<_>>());
                }
                () = sleep_until(timer) => {
                    tick(scheduler);
                    scheduler.on_timer();
                }
                () = sleep_until(term.retry_save) => {}
                kills = released(self.haproxy.as_mut()) => send(driver, kills).await,
                reason = &mut shutdown => return reason,
            }
            if let Err(reason) = term.act(driver, &self.bus, self.haproxy.as_mut()).await {
                return Some(reason);
            }
        }
    }
}

/// The scheduler of one term as the leader, and what its decisions left
/// to store and to send.
struct Term {
    scheduler: Scheduler,
    store: Option<Store>,
    /// Answers to the API requests decided since the last save.
    replies: Vec<Reply>,
    /// Changes not saved yet, and when to try again.
    unsaved: Changes,
    retry_save: Option<Instant>,
}

impl Term {
    /// After a batch of decisions: converge, save, then answer, publish
    /// and call. `Err` when this instance must stop leading.
    async fn act(
        &mut self,
        driver: &Driver,
        bus: &EventBus,
        haproxy: Option<&mut Backends>,
    ) -> Result<(), String> {
        let (effects, touched) = self.settle();
        if let (Some(store), false) = (self.store.as_mut(), self.unsaved.is_empty()) {
            match store.save(&self.scheduler, &self.unsaved).await {
                Ok(()) => {
                    self.unsaved = Changes::default();
                    self.retry_save = None;
                }
                Err(error @ (StateError::Conflict { .. } | StateError::Fenced { .. })) => {
                    return Err(format!(
                        "{error}: stopping, as two leaders must not write one state"
                    ));
                }
                Err(error) => {
                    // Answers and unsafe calls of this batch are dropped:
                    // clients try again, the master resends its updates,
                    // kills are sent again, and the launches never sent
                    // are found out by reconciliation.
                    tracing::error!(
                        "cannot save 5K's state: {error}; nothing is launched until it is saved"
                    );
                    self.replies.clear();
                    self.retry_save = Some(Instant::now() + SAVE_RETRY);
                    send(driver, safe_without_a_record(effects.calls)).await;
                    return Ok(());
                }
            }
        }
        for reply in self.replies.drain(..) {
            reply();
        }
        for event in effects.events {
            bus.publish(event);
        }
        let calls = match haproxy {
            // A task killed must first leave HAProxy's backends.
            Some(backends) => {
                backends.refresh(&self.scheduler, touched);
                backends.hold_kills(effects.calls)
            }
            None => effects.calls,
        };
        send(driver, calls).await;
        Ok(())
    }

    /// Converges, and takes the batch's effects and changes. Also says
    /// whether HAProxy's backends may differ from their last rendering.
    fn settle(&mut self) -> (Effects, bool) {
        self.scheduler.converge();
        let effects = self.scheduler.take_effects();
        self.unsaved.merge(self.scheduler.take_changes());
        // Not only this batch's changes: a batch whose save failed
        // returned before rendering, and its KILLs are sent again.
        let touched = !self.unsaved.is_empty();
        if self.store.is_none() {
            // Nothing to save them to.
            self.unsaved = Changes::default();
        }
        (effects, touched)
    }
}

/// The KILLs held back until HAProxy's reload dropped their tasks.
async fn released(haproxy: Option<&mut Backends>) -> Vec<Call> {
    match haproxy {
        Some(backends) => backends.released().await,
        None => std::future::pending().await,
    }
}

async fn send(driver: &Driver, calls: Vec<Call>) {
    for call in calls {
        if let Err(error) = driver.call(call).await {
            tracing::warn!(%error, "call to the master failed");
        }
    }
}

/// The calls that may go out although their batch could not be saved:
/// those that change nothing we keep a record of. An offer we meant to
/// accept is declined instead, so that its resources are not held.
fn safe_without_a_record(calls: Vec<Call>) -> Vec<Call> {
    calls
        .into_iter()
        .filter_map(|call| match call.r#type() {
            call::Type::Accept => {
                let offer_ids = call
                    .accept
                    .map(|accept| accept.offer_ids)
                    .unwrap_or_default();
                Some(mesos::calls::decline(offer_ids, 5.0))
            }
            call::Type::Decline
            | call::Type::Suppress
            | call::Type::Revive
            | call::Type::Reconcile => Some(call),
            _ => None,
        })
        .collect()
}

/// Decisions read the time from the scheduler, set here.
fn tick(scheduler: &mut Scheduler) {
    scheduler.now = SystemTime::now();
    scheduler.instant = Instant::now();
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term() -> Term {
        Term {
            scheduler: Scheduler::new(),
            store: None,
            replies: Vec::new(),
            unsaved: Changes::default(),
            retry_save: None,
        }
    }

    #[test]
    fn a_batch_after_a_failed_save_renders_haproxy_again() {
        let mut term = term();
        // A batch whose save failed: its changes wait, and it returned
        // before HAProxy was rendered.
        term.unsaved.tasks.insert("web.1".into());
        let (_, touched) = term.settle();
        assert!(touched, "the retry that saves must render the backends");
    }

    #[test]
    fn without_a_store_only_a_batch_with_changes_renders() {
        let mut term = term();
        term.scheduler
            .on_event(&mesos::testing::events::subscribed("framework-1"));
        assert!(term.settle().1);
        assert!(!term.settle().1, "nothing changed since");
    }
}
