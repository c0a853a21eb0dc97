//! Where the scheduler's state survives the scheduler: ZooKeeper.
//!
//! A scheduler is a process like any other and can die at any moment. What
//! it knows (its framework ID, how many instances to run, which tasks it
//! launched and where) must outlive it, or its successor starts blind. The
//! library's `StateStore` keeps that in ZooKeeper, one znode per task, with
//! compare-and-set writes (`cargo doc -p mesos`, module `state`). This file
//! only maps the scheduler's state onto it, and decides what to do when
//! ZooKeeper is in trouble:
//!
//! * at start, state we cannot read stops the scheduler: guessing could
//!   launch tasks twice or forget running ones;
//! * while running, a failed write is logged and the scheduler carries on.
//!   A later save writes what this one missed.
//!
//! Without `--zk` the state lives in memory only, and dies with the process.

use std::time::{Duration, Instant};

use mesos::state::{FrameworkState, StateError, StateStore, ZkUrl};

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
        };
        Ok((store, state))
    }

    /// Writes whatever changed in the scheduler's state since the last
    /// successful save, and nothing if nothing did.
    ///
    /// Errors are logged, not returned. The scheduler must go on
    /// acknowledging updates and replacing tasks while ZooKeeper is away,
    /// and the `StateStore` writes the difference from what it last wrote
    /// *successfully*, so the next save that works catches up on everything
    /// missed. After a failure, saves are skipped for [`RETRY_PAUSE`].
    pub async fn save(&mut self, scheduler: &Scheduler) {
        let Some(zookeeper) = &mut self.zookeeper else {
            return;
        };
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        let Err(error) = write(zookeeper, scheduler).await else {
            if self.retry_at.take().is_some() {
                tracing::info!("state saved in ZooKeeper again");
            }
            return;
        };
        tracing::error!(%error, retry_in = ?RETRY_PAUSE, "cannot save the state in ZooKeeper");
        self.retry_at = Some(Instant::now() + RETRY_PAUSE);
        if let StateError::Conflict { .. } = error {
            // A node is not at the version we last wrote. With one scheduler
            // at a time, that is our own earlier write: it was applied, but
            // the connection broke before ZooKeeper could say so. Read the
            // versions back so that the next save can write again at once.
            match zookeeper.load().await {
                Ok(_) => self.retry_at = None,
                Err(error) => {
                    tracing::error!(%error, "cannot read the state back from ZooKeeper");
                }
            }
        }
    }
}

/// The task records first: should the scheduler die between the writes,
/// ZooKeeper must not pair a new framework ID with the old framework's
/// tasks.
async fn write(zookeeper: &mut StateStore, scheduler: &Scheduler) -> Result<(), StateError> {
    zookeeper.save_tasks(scheduler.tasks()).await?;
    zookeeper
        .save_framework_id(scheduler.framework_id())
        .await?;
    zookeeper.save_instances(scheduler.instances()).await
}
