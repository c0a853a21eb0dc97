//! Where the scheduler's state survives the scheduler: ZooKeeper.
//!
//! A scheduler is a process like any other and can die at any moment. What
//! it knows (its framework ID, how many instances to run, which tasks it
//! launched and where) must outlive it, or its successor starts blind. The
//! library's `StateStore` keeps that in ZooKeeper, one znode per task, with
//! compare-and-set writes (`cargo doc -p mesos`, module `state`). This file
//! maps the scheduler's state onto it, and is the scheduler's write-ahead
//! gate: what the scheduler decided goes to ZooKeeper *before* the calls
//! go to the master.
//!
//! * At start, state we cannot read stops the scheduler: guessing could
//!   launch tasks twice or forget running ones.
//! * A save that fails (ZooKeeper is away) is logged and tried again after
//!   a pause. Until one works, the state is not durable, and launches are
//!   held back: a task launched without its record would be unknown to the
//!   next scheduler. Everything else (acknowledgements, declines, kills)
//!   may go out, as it needs no record.
//! * A save that conflicts means someone else wrote too. We take what is
//!   safe to take (the instance count) and save again; anything else means
//!   another scheduler runs this framework, and we stop (the library's
//!   conflict rule, module `state`).
//! * Every write is fenced with the leader's election node: a leader
//!   deposed without knowing it (paused past its session timeout) can
//!   write nothing, and stops when it tries.
//!
//! Without `--zk` the state lives in memory only, and dies with the process.

use std::time::{Duration, Instant};

use mesos::{
    state::{AfterConflict, CountWatch, FrameworkState, StateError, StateStore, ZkUrl},
    v1::scheduler::Call,
};

use crate::scheduler::Scheduler;

/// How long to wait after a failed save before trying again. An attempt
/// while ZooKeeper is unreachable takes seconds; trying at every event
/// would leave the scheduler ever further behind its events.
const RETRY_PAUSE: Duration = Duration::from_secs(2);

/// The scheduler's state in ZooKeeper, or nowhere.
pub struct Store {
    zookeeper: Option<StateStore>,
    /// After a failed save: no attempt before then.
    retry_at: Option<Instant>,
    /// Hears when someone else changes the instance count...
    count_watch: Option<CountWatch>,
    /// ...which the next save then reads back (after its write) and adopts.
    count_changed: bool,
}

impl Store {
    /// Connects to ZooKeeper and reads what the last scheduler stored.
    /// Fails if ZooKeeper cannot be reached or holds data we cannot read
    /// (the error names the node); nothing is written then.
    pub async fn open(url: Option<&ZkUrl>) -> Result<(Store, FrameworkState), StateError> {
        let Some(url) = url else {
            tracing::info!(
                "no --zk given: the state is kept in memory only and lost when the scheduler \
                 stops (use --zk zk://10.10.4.2:2181/hello-mesos to keep it in ZooKeeper)"
            );
            let store = Store {
                zookeeper: None,
                retry_at: None,
                count_watch: None,
                count_changed: false,
            };
            return Ok((store, FrameworkState::default()));
        };
        let mut zookeeper = StateStore::connect(url).await?;
        let state = zookeeper.load().await?;
        tracing::info!(
            %url,
            framework_id = state.framework_id.as_ref().map(|id| id.value.as_str()).unwrap_or("(none)"),
            tasks = state.tasks.len(),
            "state read from ZooKeeper"
        );
        let store = Store {
            zookeeper: Some(zookeeper),
            retry_at: None,
            count_watch: Some(CountWatch::start(url)),
            count_changed: false,
        };
        Ok((store, state))
    }

    /// Fences every write from now on with our election node (`None`: no
    /// election): if another instance was elected meanwhile, the write
    /// fails instead of overwriting its state.
    pub fn fence_with(&mut self, node: Option<String>) {
        if let Some(zookeeper) = &mut self.zookeeper {
            zookeeper.fence_with(node);
        }
    }

    /// Forgets the framework: its ID and its task records (the instance
    /// count stays). After a TEARDOWN, the next scheduler must register a
    /// new framework.
    pub async fn clear_framework(&mut self, instances: usize) -> Result<(), StateError> {
        match &mut self.zookeeper {
            Some(zookeeper) => {
                let mut no_tasks = Default::default();
                zookeeper.save(None, Some(instances), &mut no_tasks).await
            }
            None => Ok(()),
        }
    }

    /// Completes when the stored instance count changes (an operator's
    /// `zkCli.sh set …/state/instances 3`; our own writes too, harmlessly):
    /// the next save reads the new count, and the scheduler adopts it.
    /// Never without ZooKeeper.
    pub async fn instances_changed(&mut self) {
        match &mut self.count_watch {
            Some(watch) => {
                watch.changed().await;
                self.count_changed = true;
            }
            None => std::future::pending().await,
        }
    }

    /// When to try saving again after a failure, if one is pending.
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Write-ahead: stores whatever changed in the scheduler's state, then
    /// returns the `calls` the scheduler decided, if they may go out now.
    /// If the state could not be stored, the launches among them are held
    /// back (turned into declines); the rest go out.
    ///
    /// Fails, with the reason, only when someone else writes this
    /// framework's state, or our election node is gone: then this
    /// scheduler must stop acting.
    pub async fn save(
        &mut self,
        scheduler: &mut Scheduler,
        mut calls: Vec<Call>,
    ) -> Result<Vec<Call>, String> {
        let Some(zookeeper) = &mut self.zookeeper else {
            return Ok(calls);
        };
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            return Ok(scheduler.withhold_launches(calls));
        }
        // Twice at most: once more after adopting what someone else wrote.
        for _ in 0..2 {
            let error = match write(zookeeper, scheduler).await {
                Ok(()) => {
                    if self.retry_at.take().is_some() {
                        tracing::info!("state saved in ZooKeeper again");
                    }
                    scheduler.set_durable(true);
                    if self.count_changed {
                        self.count_changed =
                            !take_new_count(zookeeper, scheduler, &mut calls).await?;
                    }
                    return Ok(calls);
                }
                Err(error) => error,
            };
            if let StateError::Fenced { .. } = error {
                // Our election node is gone: we were deposed.
                return Err(error.to_string());
            }
            if !matches!(error, StateError::Conflict { .. }) {
                tracing::error!(%error, retry_in = ?RETRY_PAUSE, "cannot save the state in ZooKeeper");
                break;
            }
            tracing::warn!(%error, "someone else changed the state in ZooKeeper");
            match zookeeper
                .reload_after_conflict(scheduler.framework_id())
                .await
            {
                Ok(AfterConflict::Adopt(adopted)) => calls.extend(scheduler.adopt(adopted)?),
                Ok(AfterConflict::Stop { reason }) => return Err(reason),
                Err(error) => {
                    tracing::error!(%error, "cannot read the state back from ZooKeeper");
                    break;
                }
            }
        }
        self.retry_at = Some(Instant::now() + RETRY_PAUSE);
        Ok(scheduler.withhold_launches(calls))
    }
}

/// The stored instance count changed (the watch said so): our own write,
/// or someone else's, which a save with nothing to write never meets as a
/// conflict. Right after our write the stored count is ours unless someone
/// else changed it: read it back and take it, as after a conflict. `false`
/// if it could not be read (the next save tries again).
async fn take_new_count(
    zookeeper: &mut StateStore,
    scheduler: &mut Scheduler,
    calls: &mut Vec<Call>,
) -> Result<bool, String> {
    match zookeeper
        .reload_after_conflict(scheduler.framework_id())
        .await
    {
        Ok(AfterConflict::Adopt(adopted)) => calls.extend(scheduler.adopt(adopted)?),
        Ok(AfterConflict::Stop { reason }) => return Err(reason),
        Err(error) => {
            tracing::warn!(%error, "cannot read the new instance count from ZooKeeper");
            return Ok(false);
        }
    }
    Ok(true)
}

/// The framework ID, the instance count and the tasks, in one multi-op
/// (several past ZooKeeper's request limit, the old tasks deleted first):
/// ZooKeeper never pairs a new framework ID with the old framework's tasks.
async fn write(zookeeper: &mut StateStore, scheduler: &mut Scheduler) -> Result<(), StateError> {
    let (framework_id, instances, tasks) = scheduler.state_to_save();
    zookeeper.save(framework_id, Some(instances), tasks).await
}
