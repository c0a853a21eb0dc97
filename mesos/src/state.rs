//! A framework's state in ZooKeeper: its framework ID, how many instances
//! it should run, and what it knows about each of its tasks.
//!
//! # Why the state lives in ZooKeeper
//!
//! A scheduler is an ordinary process: it can be killed at any moment, and
//! its machine with it. When it is restarted, or when a standby instance
//! takes over, the new scheduler must find
//!
//! * the **framework ID**, to subscribe again as the *same* framework. With
//!   no ID the master registers a new framework, and once the old one's
//!   failover timeout passes it kills all the old tasks;
//! * the **tasks** that were launched, to reconcile them with the master
//!   instead of launching them a second time.
//!
//! Memory dies with the process and a local disk with the machine.
//! ZooKeeper is already part of a Mesos cluster (the masters elect their
//! leader there), keeps its data on several servers, and lets several
//! clients update the same data safely. So we keep the state there, under
//! the path given by the framework's `--zk` URL:
//!
//! ```text
//! <root>                              the path of the --zk URL, e.g. /hello-mesos
//! <root>/state/framework_id           the framework ID, UTF-8 text
//! <root>/state/instances              desired instance count, decimal text
//! <root>/state/tasks/<task id>        one node per task: JSON {"state":"TASK_RUNNING","agent_id":"<id or null>"}
//! ```
//!
//! A framework that keeps more than that (5K keeps its apps and their
//! deployments) names its own *collections*, `<root>/state/<name>/<item>`,
//! one node per item, written with the same guarantees as the tasks
//! ([`StateStore::connect_with_collections`], [`StateStore::save_items`]).
//!
//! Everything is plain text, so `zkCli.sh get /hello-mesos/state/instances`
//! shows what the scheduler sees. Task states are spelled as Mesos spells
//! them (`TASK_RUNNING`).
//!
//! # One node per task
//!
//! We could keep all tasks in one JSON blob. But then every status update
//! would rewrite every task, the blob would grow with the framework
//! (ZooKeeper refuses nodes over 1 MB), and changing one task would mean
//! read-modify-write of the whole blob, where any concurrent change to
//! *another* task is a conflict. With a node per task, a status update
//! rewrites a few bytes, and two changes to different tasks never collide.
//!
//! # Every write is a compare-and-set
//!
//! Each znode carries a version that ZooKeeper increments on every change,
//! and a write may say "only if the version is still N". The store
//! remembers the data and version of every node it last read or wrote, and
//! makes every write conditional on them: a node it thinks is absent is
//! *created* (which fails if it exists), any other node is changed or
//! deleted only at the version it knows.
//!
//! This matters during a leader change. For a moment two scheduler
//! instances can both believe they lead: the old one has not noticed that
//! it lost its ZooKeeper session, the new one has started. Without a
//! condition the old one would silently overwrite what the new one wrote.
//! With it, the second writer gets [`StateError::Conflict`] naming the
//! node, and nothing changes. A failed write never updates what the store
//! remembers.
//!
//! # When someone else writes too: the conflict rule
//!
//! A conflict means someone else wrote since we last looked. (Our own
//! writes never conflict with us: see "When ZooKeeper has trouble".) That
//! someone may be an operator, or another scheduler instance, maybe a
//! newer leader. "Last writer wins", reloading and writing our state over
//! theirs, would delete their task records and undo their changes. So
//! [`StateStore::reload_after_conflict`] reads the state again and applies
//! this rule ([`AfterConflict`]):
//!
//! * **The instance count** is configuration that others may change (an
//!   operator with `zkCli.sh`, a web UI): take the stored one.
//! * **The framework ID**: if ours is unset (we have not registered yet),
//!   take the stored one with its tasks. If ours is set and the stored one
//!   differs, or is gone, someone else runs this framework state:
//!   **stop acting**.
//! * **The task records**: if someone else changed them, someone else is
//!   managing these tasks: **stop acting**.
//!
//! To notice such changes at all, [`StateStore::save`] *checks* the
//! framework ID and instance nodes in every multi-op (a ZooKeeper `check`
//! operation: it writes nothing, and fails the whole multi-op if the node
//! is no longer at the version we know). Leader election (step 04 of the
//! workshop) adds one more check, on the leader's own election node, so
//! that a deposed leader can write nothing at all: fencing. A scheduler
//! with nothing to write meets no conflict: [`CountWatch`] tells it at
//! once when the count changes.
//!
//! # Several nodes change together, in one multi-op
//!
//! Launching a batch of tasks records several task nodes. If the
//! scheduler crashed after writing half of them, its successor would see
//! half a launch. ZooKeeper's *multi-op* applies a list of creates, sets
//! and deletes all or nothing, so [`StateStore::save_tasks`] writes the
//! whole difference between what is stored and what the scheduler wants in
//! one multi-op: it either all happened or none of it did.
//!
//! One multi-op is one request, and ZooKeeper refuses requests over 1 MB.
//! A difference bigger than that (thousands of tasks launched from one
//! round of offers) is written in several multi-ops, in an order that
//! keeps each step safe to crash after (see `in_parts` in the source).
//!
//! # When ZooKeeper has trouble
//!
//! A ZooKeeper *session* outlives a short disconnection: the client
//! reconnects on its own. When the session is over (it expired because
//! ZooKeeper was unreachable for longer than the session timeout, or the
//! client was closed) or the connection broke, the store opens a new
//! session, a few attempts with [`Backoff`], and tries the operation once
//! more.
//!
//! For a read that is simple. A write is harder: if the connection broke
//! after the request left but before the answer came back, the write may
//! or may not have happened, and sending it again could report our own
//! write as a conflict. Since a multi-op happens all or nothing, the store
//! reads the nodes it wrote: if they are as the write leaves them, it
//! happened; if they are as it found them, it did not, and is sent once
//! more; anything else means someone else wrote too, a `Conflict`. If even
//! that read fails, the write stays *in doubt*, and the store settles
//! it (by reading the nodes once more) before its next write.
//!
//! While ZooKeeper is down, calls fail within seconds, with
//! [`StateError::Connect`] or [`StateError::ZooKeeper`], so the scheduler
//! can carry on with what is safe without a record (acknowledging status
//! updates, declining offers) and save again at its next event. What is
//! *not* safe is launching: a task launched while its record could not be
//! stored would be unknown to the next scheduler (write-ahead: store first,
//! then act). Because [`StateStore::save`] writes the difference from what
//! was *successfully* written, a later call also writes whatever an earlier
//! failed one missed.
//!
//! # Only what changed is compared
//!
//! A scheduler saves after every round of events, and a restarted one
//! hears about all its tasks at once while it reconciles. So the scheduler
//! keeps its records in a [`TaskRecords`], a map that notes which task IDs
//! changed since its last save, and a save serializes and compares those
//! alone (its docs say when that is safe).
//!
//! # Data we cannot read
//!
//! A node that is not what this module writes (not UTF-8, not a number,
//! JSON that does not parse, an unknown task state, an unexpected node) was
//! written by someone else: another program, a different version of the
//! scheduler, an operator's typo. Guessing could mean launching tasks twice
//! or forgetting running ones, so [`StateStore::load`] **fails** with
//! [`StateError::BadData`] naming the first such node, and the operator
//! fixes or deletes it (`zkCli.sh delete <node>`).
//!
//! Such a node is never overwritten or deleted: nodes that failed to parse
//! are never remembered, so the store never has a version to write them
//! with. A write that touches one fails with `Conflict` (the node exists,
//! or its version changed), and the next `load` names it.
//!
//! # Example
//!
//! ```no_run
//! use mesos::state::{StateStore, TaskRecord, ZkUrl};
//! use mesos::v1::TaskState;
//!
//! # async fn example() -> Result<(), mesos::state::StateError> {
//! let url: ZkUrl = "zk://10.10.4.2:2181/hello-mesos".parse()?;
//! let mut store = StateStore::connect(&url).await?;
//! // What the previous scheduler left, if there was one.
//! let mut state = store.load().await?;
//! let instances = state.instances.unwrap_or(1);
//!
//! // A task is about to be launched: record it before the ACCEPT goes out.
//! state.tasks.insert(
//!     "hello-1".into(),
//!     TaskRecord { state: TaskState::TaskStaging, agent_id: Some("agent-7".into()) },
//! );
//! store.save(state.framework_id.as_ref(), Some(instances), &mut state.tasks).await?;
//! # let _ = instances;
//! # Ok(())
//! # }
//! ```

mod count_watch;
mod task_records;

use std::{collections::BTreeMap, fmt, future::Future, time::Duration};

use serde::{Deserialize, Serialize};
use zookeeper_client as zk;

pub use crate::zookeeper::{InvalidZkUrl, ZkDigest, ZkUrl};
pub use count_watch::CountWatch;
pub use task_records::TaskRecords;

use task_records::{Stamp, ToCompare};

use crate::{
    backoff::Backoff,
    v1::{FrameworkId, TaskState},
    zookeeper,
};

/// How long a call waits for a disconnected session to reconnect on its
/// own (a ZooKeeper server restarting, the client moving to another
/// server) before it opens a new session instead.
const RECONNECT_GRACE: Duration = Duration::from_secs(1);

/// How many times one call tries to open a new session.
const CONNECT_ATTEMPTS: u32 = 5;

/// The longest one attempt to open a session may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The longest one request (a read, or a whole multi-op) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How many waiting events a scheduler may decide before it saves once for
/// all of them: group commit. A save is a round trip to ZooKeeper, which
/// writes its log to disk before it answers, so one save per event caps a
/// scheduler at a few hundred events a second, and a restarted one hearing
/// from 10,000 tasks at once falls seconds behind. Deciding every waiting
/// event first, then saving once, keeps the write-ahead rule (no call goes
/// out before the save that covers it) at a fraction of the writes. The
/// cap bounds how long the first of them waits for its calls to go out.
pub const EVENTS_PER_SAVE: usize = 1_000;

/// The names of the nodes under `<root>/state`.
const FRAMEWORK_ID: &str = "framework_id";
const INSTANCES: &str = "instances";
const TASKS: &str = "tasks";

/// What the scheduler keeps about one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    /// The last state Mesos reported, or `TASK_STAGING` when just launched.
    pub state: TaskState,
    /// The agent running it, once known: reconciling or killing a task
    /// goes faster when the master is told where it is.
    pub agent_id: Option<String>,
}

/// Everything a scheduler needs to carry on where the last one stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameworkState {
    /// Given by the master at the first subscription; `None` before that.
    pub framework_id: Option<FrameworkId>,
    /// How many instances to run, if anyone has said.
    pub instances: Option<usize>,
    /// The tasks by task ID.
    pub tasks: TaskRecords,
    /// The items of the framework's own collections (see
    /// [`StateStore::connect_with_collections`]): collection, then item
    /// name, then the item's data as stored.
    pub collections: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
}

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    InvalidUrl(#[from] InvalidZkUrl),

    /// No ZooKeeper session could be had: the servers are down or
    /// unreachable. Try again later.
    #[error("cannot reach ZooKeeper at {servers}: {cause}")]
    Connect {
        servers: String,
        source: zk::Error,
        /// What the operating system said when asked (connection refused,
        /// no route to host), or the client's error.
        cause: String,
    },

    /// ZooKeeper could not complete a request about `node`, even after
    /// trying again on a new session where that is safe.
    #[error("ZooKeeper request on {node} failed: {source}")]
    ZooKeeper { node: String, source: zk::Error },

    /// `node` holds something this module does not write. Nothing was
    /// changed; an operator must fix or delete the node.
    #[error("unexpected data in {node}: {reason} (fix or delete the node; it was not changed)")]
    BadData { node: String, reason: String },

    /// `node` is no longer as this store last saw it: someone else, most
    /// likely another scheduler instance, wrote it first. Nothing was
    /// changed; load the state again before deciding what to write.
    #[error(
        "{node} was changed by someone else (another scheduler instance?); nothing was written"
    )]
    Conflict { node: String },

    /// The write was fenced: this instance's election node `node` is gone
    /// (see [`StateStore::fence_with`]), so another instance may lead now.
    /// Nothing was written; stop acting as the leader.
    #[error(
        "not written: this instance no longer holds its election node {node}, so another instance may lead"
    )]
    Fenced { node: String },

    /// The value cannot be stored in `node`, such as a task ID that is not
    /// a valid node name. Nothing was written.
    #[error("cannot store {node}: {reason}")]
    InvalidValue { node: String, reason: String },
}

/// What a scheduler must make of state that someone else wrote, after a
/// [`StateError::Conflict`] (see "When someone else writes too" in the
/// [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterConflict {
    /// Someone else changed only what is safe to take: take it into the
    /// scheduler's state, then save again.
    Adopt(Adopted),
    /// Someone else is writing this framework's state, most likely another
    /// scheduler instance that is newer than us: stop acting on it.
    Stop { reason: String },
}

/// What to take from ZooKeeper after a conflict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adopted {
    /// The stored instance count: an operator (`zkCli.sh set`) or another
    /// instance's web UI may have changed it. `None` if none is stored.
    pub instances: Option<usize>,
    /// The stored framework ID and its tasks, when the scheduler had no
    /// framework ID of its own yet.
    pub framework: Option<(FrameworkId, TaskRecords)>,
}

/// A framework's state in ZooKeeper. See the [module docs](self).
///
/// The store remembers the data and version of every node it last read or
/// wrote; writes change only nodes that differ from that, and only at the
/// remembered version. So call [`load`](Self::load) before the first
/// write (without it, every existing node looks new, and writing it
/// conflicts), and again after a [`StateError::Conflict`].
pub struct StateStore {
    url: ZkUrl,
    nodes: Layout,
    connection: Connection,
    /// What we last read from or successfully wrote to each node, by path.
    /// A node missing here is, as far as we know, absent.
    known: BTreeMap<String, Known>,
    /// Names what `known` holds now: renewed at every read and write, so
    /// that [`TaskRecords`] read or saved here can tell whether they still
    /// equal what is stored.
    stamp: Stamp,
    /// A write whose answer was lost and whose outcome we could not read
    /// back either: settled (by reading the nodes again) before the next
    /// write, so that our own write is never mistaken for someone else's.
    in_doubt: Option<Vec<Change>>,
    /// The election node every write checks, if any ([`Self::fence_with`]).
    fence: Option<String>,
}

/// The data and version of a node, as last read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Known {
    data: Vec<u8>,
    version: i32,
}

impl StateStore {
    /// Connects to ZooKeeper and creates `<root>/state/tasks` (and the
    /// nodes above it) if missing.
    pub async fn connect(url: &ZkUrl) -> Result<StateStore, StateError> {
        StateStore::connect_with_collections(url, &[]).await
    }

    /// Like [`connect`](Self::connect), for a framework that keeps more
    /// than tasks: each name is a *collection*, `<root>/state/<name>`,
    /// one node per item, read by [`load`](Self::load) into
    /// [`FrameworkState::collections`] and written by
    /// [`save_items`](Self::save_items) with the same guarantees as
    /// tasks (compare-and-set, all or nothing, fenced). 5K keeps its apps
    /// and deployments this way. The data is the framework's own: the
    /// store neither reads nor checks it.
    pub async fn connect_with_collections(
        url: &ZkUrl,
        collections: &[&str],
    ) -> Result<StateStore, StateError> {
        let mut nodes = Layout::new(&url.path);
        for name in collections {
            let node = nodes.collection(name);
            if [FRAMEWORK_ID, INSTANCES, TASKS].contains(name) {
                return Err(StateError::InvalidValue {
                    node,
                    reason: "this name is the store's own".into(),
                });
            }
            check_node_name(name).map_err(|reason| StateError::InvalidValue { node, reason })?;
            nodes.collections.push(name.to_string());
        }
        let mut store = StateStore {
            url: url.clone(),
            nodes,
            connection: Connection {
                servers: url.servers.clone(),
                digest: url.digest.clone(),
                client: None,
            },
            known: BTreeMap::new(),
            stamp: Stamp::new(),
            in_doubt: None,
            fence: None,
        };
        let mut directories = vec![store.nodes.tasks.clone()];
        directories.extend(
            store
                .nodes
                .collections
                .iter()
                .map(|name| store.nodes.collection(name)),
        );
        for directory in &directories {
            let acls = zookeeper::node_acls(url.digest.as_ref());
            store
                .connection
                .read(|client| async move {
                    let options = zk::CreateMode::Persistent.with_acls(acls);
                    // `mkdir -p`: each node is created unless it exists, so
                    // repeating it is harmless.
                    bounded(client.mkdir(directory, &options))
                        .await
                        .map_err(|source| zk_error(directory, source))
                })
                .await?;
        }
        Ok(store)
    }

    /// Where this store keeps the state.
    pub fn url(&self) -> &ZkUrl {
        &self.url
    }

    /// Fences every write from now on with `node`, the leader's election
    /// node (see [`crate::leader`]): each multi-op also checks that the node
    /// still exists, and fails with [`StateError::Fenced`] if it does not.
    /// A leader deposed while it was paused can then write nothing, even
    /// before it learns that it was deposed. `None` stops fencing.
    pub fn fence_with(&mut self, node: Option<String>) {
        self.fence = node;
    }

    /// Reads the whole state and remembers each node's version for the
    /// writes that follow.
    ///
    /// Fails with [`StateError::BadData`] naming the node if any node
    /// cannot be read (see the module docs); what the store remembers is
    /// then left as it was.
    pub async fn load(&mut self) -> Result<FrameworkState, StateError> {
        let nodes = &self.nodes;
        let (mut state, known) = self
            .connection
            .read(|client| async move { read_state(&client, nodes).await })
            .await?;
        // What we read now is what is stored, whatever became of a write
        // in doubt.
        self.known = known;
        self.stamp = Stamp::new();
        self.in_doubt = None;
        state.tasks = TaskRecords::stored(state.tasks.into_map(), self.stamp);
        Ok(state)
    }

    /// Makes the stored state equal to the scheduler's, in one multi-op
    /// (several, in a safe order, past ZooKeeper's 1 MB request limit):
    /// the framework ID (`None`: absent), the instance count (`None`:
    /// absent) and one node per task (see [`save_tasks`](Self::save_tasks)).
    /// Only what changed is written. The framework ID and instance nodes,
    /// when unchanged, are *checked* in the same multi-op: if someone else
    /// changed either since we last saw it, nothing is written and the
    /// answer is a [`StateError::Conflict`] (see "When someone else writes
    /// too" in the module docs).
    ///
    /// This is the write-ahead of a scheduler: it stores a new framework
    /// ID together with the tasks that belong to it, so that ZooKeeper
    /// never pairs one framework's ID with another's tasks.
    ///
    /// Once saved, `tasks` note that they equal what is stored, so that the
    /// next save compares only the records changed since.
    pub async fn save(
        &mut self,
        framework_id: Option<&FrameworkId>,
        instances: Option<usize>,
        tasks: &mut TaskRecords,
    ) -> Result<(), StateError> {
        let framework_node = self.nodes.framework_id.clone();
        let instances_node = self.nodes.instances.clone();
        let scope = self.nodes.state.clone();
        // Before planning: settling a write in doubt may change what we
        // know is stored, and the plan must start from that.
        self.settle_doubt(&scope).await?;
        let mut wanted = self.wanted_tasks(tasks)?;
        let framework_data = match framework_id {
            Some(id) => Some(framework_id_data(&framework_node, id)?),
            None => None,
        };
        wanted.insert(framework_node.clone(), framework_data);
        wanted.insert(
            instances_node.clone(),
            instances.map(|n| n.to_string().into_bytes()),
        );
        self.write(&scope, wanted, &[framework_node, instances_node])
            .await?;
        tasks.saved_as(self.stamp);
        Ok(())
    }

    /// After a [`StateError::Conflict`]: reads the state again, and says
    /// what the scheduler whose framework ID is `ours` must make of what
    /// someone else wrote (the rule is in the module docs). What the store
    /// remembers is now what ZooKeeper holds, so a [`save`](Self::save)
    /// after adopting what is safe to adopt writes only the scheduler's own
    /// changes.
    pub async fn reload_after_conflict(
        &mut self,
        ours: Option<&FrameworkId>,
    ) -> Result<AfterConflict, StateError> {
        let before = state_of(&self.nodes, &self.known);
        let now = self.load().await?;
        Ok(judge_conflict(&before, now, ours))
    }
    /// Stores the framework ID; `None` deletes it (when the framework was
    /// torn down and the next scheduler must register anew).
    pub async fn save_framework_id(&mut self, id: Option<&FrameworkId>) -> Result<(), StateError> {
        let node = self.nodes.framework_id.clone();
        let data = match id {
            Some(id) => Some(framework_id_data(&node, id)?),
            None => None,
        };
        self.write(&node, BTreeMap::from([(node.clone(), data)]), &[])
            .await
    }

    /// Stores the desired number of instances.
    pub async fn save_instances(&mut self, instances: usize) -> Result<(), StateError> {
        let node = self.nodes.instances.clone();
        let data = instances.to_string().into_bytes();
        self.write(&node, BTreeMap::from([(node.clone(), Some(data))]), &[])
            .await
    }

    /// Makes the stored tasks equal to `tasks`, in one multi-op (several
    /// past ZooKeeper's 1 MB request limit): creates
    /// the nodes of new tasks, rewrites those that changed and deletes those
    /// no longer in `tasks`. Unchanged tasks are not written at all.
    ///
    /// Only tasks this store knows of (from `load` or an earlier save) are
    /// deleted: a task node someone else created meanwhile is left alone.
    pub async fn save_tasks(&mut self, tasks: &mut TaskRecords) -> Result<(), StateError> {
        let scope = self.nodes.tasks.clone();
        // Before planning, as in `save`.
        self.settle_doubt(&scope).await?;
        let wanted = self.wanted_tasks(tasks)?;
        self.write(&scope, wanted, &[]).await?;
        tasks.saved_as(self.stamp);
        Ok(())
    }

    /// The task nodes that may have to change for the stored tasks to
    /// equal `tasks`: a task's node with its data, or absent for a task no
    /// longer there. [`plan`] then drops those already as wanted.
    fn wanted_tasks(
        &self,
        tasks: &TaskRecords,
    ) -> Result<BTreeMap<String, Option<Vec<u8>>>, StateError> {
        let mut wanted = BTreeMap::new();
        let mut want = |id: &str, record: Option<&TaskRecord>| {
            let node = self.nodes.task(id);
            let data = match record {
                Some(record) => match check_task_id(id) {
                    Ok(()) => Some(record.to_json()),
                    Err(reason) => return Err(StateError::InvalidValue { node, reason }),
                },
                None => None,
            };
            wanted.insert(node, data);
            Ok(())
        };
        match tasks.to_compare(self.stamp) {
            // The usual case, at every save: the records equalled what
            // is stored but for these.
            ToCompare::Only(changed) => {
                for id in changed {
                    want(id, tasks.get(id))?;
                }
            }
            // Records from elsewhere, or the store wrote or read since they
            // were saved: every record, and every known task node.
            ToCompare::All => {
                for (id, record) in tasks {
                    want(id, Some(record))?;
                }
                let known_tasks = self
                    .known
                    .keys()
                    .filter_map(|node| self.nodes.task_id(node));
                for id in known_tasks.filter(|id| !tasks.contains_key(*id)) {
                    want(id, None)?;
                }
            }
        }
        Ok(wanted)
    }

    /// Brings items of the framework's collections to the given data
    /// (`None`: deleted), together with the framework ID (`None`: absent),
    /// all or nothing (in several multi-ops, past ZooKeeper's 1 MB request
    /// limit). Items not named are left as they are; named items already
    /// as wanted are not written. This is the write-ahead of a framework
    /// whose state is its own: what it is about to act on is stored first.
    pub async fn save_items(
        &mut self,
        framework_id: Option<&FrameworkId>,
        items: &BTreeMap<(String, String), Option<Vec<u8>>>,
    ) -> Result<(), StateError> {
        let framework_node = self.nodes.framework_id.clone();
        let scope = self.nodes.state.clone();
        self.settle_doubt(&scope).await?;
        let mut wanted = BTreeMap::new();
        for ((collection, name), data) in items {
            let node = self.nodes.item(collection, name);
            if !self.nodes.collections.contains(collection) {
                let reason = format!("{collection} is not one of this store's collections");
                return Err(StateError::InvalidValue { node, reason });
            }
            check_node_name(name).map_err(|reason| StateError::InvalidValue {
                node: node.clone(),
                reason,
            })?;
            wanted.insert(node, data.clone());
        }
        let framework_data = match framework_id {
            Some(id) => Some(framework_id_data(&framework_node, id)?),
            None => None,
        };
        wanted.insert(framework_node.clone(), framework_data);
        self.write(&scope, wanted, &[framework_node]).await
    }

    /// Deletes every task node this store knows of, in one multi-op (several
    /// past ZooKeeper's 1 MB request limit).
    pub async fn clear_tasks(&mut self) -> Result<(), StateError> {
        self.save_tasks(&mut TaskRecords::new()).await
    }

    /// Brings the nodes in `wanted` to the given data (`None`: absent),
    /// writing only those that differ from what we know, all or nothing.
    /// Known nodes in `checked` that are not written are checked at their
    /// known version in the same multi-op. `scope` names the nodes in errors
    /// that concern them all.
    ///
    /// A change too big for one request is written in several multi-ops
    /// instead, in the order [`in_parts`] explains, each one checking the
    /// `checked` nodes; the first to fail ends the write.
    async fn write(
        &mut self,
        scope: &str,
        wanted: BTreeMap<String, Option<Vec<u8>>>,
        checked: &[String],
    ) -> Result<(), StateError> {
        self.settle_doubt(scope).await?;
        let writes = plan(&self.known, wanted, &[]);
        for mut part in in_parts(&self.nodes, writes) {
            // At the versions known now: an earlier part may have changed
            // a checked node.
            add_checks(&self.known, &mut part, checked);
            self.write_part(scope, part).await?;
        }
        Ok(())
    }

    /// Writes `changes` in one multi-op, all or nothing, and remembers them
    /// once ZooKeeper has confirmed them.
    async fn write_part(&mut self, scope: &str, changes: Vec<Change>) -> Result<(), StateError> {
        let planned = &changes;
        let acls = zookeeper::node_acls(self.url.digest.as_ref());
        let mut tries = 0;
        loop {
            tries += 1;
            let fence = self.fence.as_deref();
            let committed = self
                .connection
                .run(|client| async move { commit(&client, acls, scope, planned, fence).await })
                .await;
            match committed {
                Ok(()) => break,
                // The session or connection broke before ZooKeeper's answer
                // reached us: the write may or may not have happened.
                // Because a multi-op happens all or nothing, reading the
                // nodes tells which.
                Err(StateError::ZooKeeper { source, .. })
                    if tries == 1 && session_in_doubt(&source) =>
                {
                    let outcome = self
                        .connection
                        .read(|client| async move { find_outcome(&client, scope, planned).await });
                    let outcome = match outcome.await {
                        Ok(outcome) => outcome,
                        Err(error) => {
                            // Even reading back failed: the write may
                            // still have happened. Settle it before the
                            // next write.
                            self.in_doubt = Some(changes);
                            return Err(error);
                        }
                    };
                    tracing::info!(node = %scope, error = %source, ?outcome, "lost the answer to a write");
                    match outcome {
                        Outcome::Applied => break,
                        Outcome::NotApplied => continue,
                        Outcome::Changed { node } => return Err(StateError::Conflict { node }),
                    }
                }
                Err(error) => return Err(error),
            }
        }
        // Only now that ZooKeeper has confirmed the write do we remember
        // it: after a failure, the next write is planned from what is
        // really stored, so it also writes what this one missed.
        self.remember(changes);
        Ok(())
    }

    /// Finds out what became of a write whose outcome is in doubt: if it
    /// happened, remember it; if not, forget it; if someone else changed
    /// its nodes since, that is a conflict like any other.
    async fn settle_doubt(&mut self, scope: &str) -> Result<(), StateError> {
        let Some(changes) = self.in_doubt.take() else {
            return Ok(());
        };
        let planned = &changes;
        let outcome = self
            .connection
            .read(|client| async move { find_outcome(&client, scope, planned).await })
            .await;
        match outcome {
            Err(error) => {
                self.in_doubt = Some(changes);
                Err(error)
            }
            Ok(Outcome::Applied) => {
                self.remember(changes);
                Ok(())
            }
            Ok(Outcome::NotApplied) => Ok(()),
            Ok(Outcome::Changed { node }) => Err(StateError::Conflict { node }),
        }
    }

    /// Remembers the nodes as a confirmed write left them.
    fn remember(&mut self, changes: Vec<Change>) {
        self.stamp = Stamp::new();
        for change in changes {
            match change {
                // A new node's data version is 0.
                Change::Create { node, data } => {
                    self.known.insert(node, Known { data, version: 0 });
                }
                // A conditional set at `version` moves it to `version + 1`.
                Change::Set {
                    node,
                    data,
                    version,
                } => {
                    let version = version + 1;
                    self.known.insert(node, Known { data, version });
                }
                Change::Delete { node, .. } => {
                    self.known.remove(&node);
                }
                Change::Check { .. } => {}
            }
        }
    }
}

impl fmt::Debug for StateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateStore")
            .field("url", &self.url.to_string())
            .field("known_nodes", &self.known.len())
            .finish_non_exhaustive()
    }
}

/// The paths of the state's nodes under one framework's root.
#[derive(Debug, Clone)]
struct Layout {
    state: String,
    framework_id: String,
    instances: String,
    tasks: String,
    /// The names of the framework's own collections.
    collections: Vec<String>,
}

impl Layout {
    fn new(root: &str) -> Layout {
        let state = format!("{}/state", root.trim_end_matches('/'));
        Layout {
            framework_id: format!("{state}/{FRAMEWORK_ID}"),
            instances: format!("{state}/{INSTANCES}"),
            tasks: format!("{state}/{TASKS}"),
            collections: Vec::new(),
            state,
        }
    }

    fn collection(&self, name: &str) -> String {
        format!("{}/{name}", self.state)
    }

    fn item(&self, collection: &str, name: &str) -> String {
        format!("{}/{collection}/{name}", self.state)
    }

    fn task(&self, id: &str) -> String {
        format!("{}/{id}", self.tasks)
    }

    /// The task ID of a task node.
    fn task_id<'a>(&self, node: &'a str) -> Option<&'a str> {
        node.strip_prefix(&self.tasks)?.strip_prefix('/')
    }
}

/// One write in a multi-op, conditional on what we know of the node.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    /// The node should not exist yet; fails if it does.
    Create { node: String, data: Vec<u8> },
    /// Fails unless the node is still at `version`.
    Set {
        node: String,
        data: Vec<u8>,
        version: i32,
    },
    /// Fails unless the node is still at `version`.
    Delete { node: String, version: i32 },
    /// Writes nothing; fails the whole multi-op unless the node is still
    /// at `version`.
    Check { node: String, version: i32 },
}

impl Change {
    fn node(&self) -> &str {
        match self {
            Change::Create { node, .. }
            | Change::Set { node, .. }
            | Change::Delete { node, .. }
            | Change::Check { node, .. } => node,
        }
    }

    /// Whether `now` is the node as this change expects to find it.
    fn finds(&self, now: &Option<Known>) -> bool {
        match (self, now) {
            (Change::Create { .. }, None) => true,
            (
                Change::Set { version, .. }
                | Change::Delete { version, .. }
                | Change::Check { version, .. },
                Some(now),
            ) => now.version == *version,
            _ => false,
        }
    }

    /// Whether `now` is the node as this change leaves it.
    fn leaves(&self, now: &Option<Known>) -> bool {
        match (self, now) {
            (Change::Create { data, .. }, Some(now)) => now.version == 0 && now.data == *data,
            (Change::Set { data, version, .. }, Some(now)) => {
                now.version == version + 1 && now.data == *data
            }
            (Change::Delete { .. }, None) => true,
            (Change::Check { version, .. }, Some(now)) => now.version == *version,
            _ => false,
        }
    }
}

/// The writes that turn what we know into what is wanted, and a check of
/// each node of `checked` that we know and do not write.
fn plan(
    known: &BTreeMap<String, Known>,
    wanted: BTreeMap<String, Option<Vec<u8>>>,
    checked: &[String],
) -> Vec<Change> {
    let mut changes: Vec<Change> = wanted
        .into_iter()
        .filter_map(|(node, data)| match (known.get(&node), data) {
            (None, Some(data)) => Some(Change::Create { node, data }),
            (Some(known), Some(data)) if known.data != data => Some(Change::Set {
                node,
                data,
                version: known.version,
            }),
            (Some(known), None) => Some(Change::Delete {
                node,
                version: known.version,
            }),
            // Unchanged, or absent and meant to be.
            _ => None,
        })
        .collect();
    add_checks(known, &mut changes, checked);
    changes
}

/// Adds to `changes` a check of each node of `checked` that we know and
/// that `changes` do not write.
fn add_checks(known: &BTreeMap<String, Known>, changes: &mut Vec<Change>, checked: &[String]) {
    for node in checked {
        if let Some(known) = known.get(node) {
            if !changes.iter().any(|change| change.node() == node) {
                changes.push(Change::Check {
                    node: node.clone(),
                    version: known.version,
                });
            }
        }
    }
}

/// The most one multi-op may carry, by our estimate of its size. ZooKeeper
/// refuses a request over `jute.maxbuffer` (1 MB unless its operator
/// changed it) by closing the connection, so a scheduler launching 10,000
/// tasks from one round of offers could never save them in one multi-op.
/// Half of the limit leaves room for what the estimate leaves out.
const MULTI_OP_BYTES: usize = 512 * 1024;

/// Splits `writes` into multi-ops that ZooKeeper accepts: one, unless they
/// exceed [`MULTI_OP_BYTES`]. Then deleted task nodes go first, the
/// framework ID and instance count next, new and changed task nodes last.
/// A crash between two parts never leaves a new framework ID with the old
/// framework's tasks: those were deleted first. At worst it leaves records
/// of tasks not launched yet (the calls go out after the last part), which
/// the next scheduler's reconciliation finds unknown to the master, and
/// forgets.
fn in_parts(nodes: &Layout, mut writes: Vec<Change>) -> Vec<Vec<Change>> {
    let order = |change: &Change| match (change, nodes.task_id(change.node())) {
        (Change::Delete { .. }, Some(_)) => 0,
        (_, None) => 1,
        (_, Some(_)) => 2,
    };
    // Stable: each group stays in node order.
    writes.sort_by_key(order);
    // Path and data, and a generous allowance for the rest of the
    // operation (its type, version, flags and ACL).
    let size = |change: &Change| {
        let data = match change {
            Change::Create { data, .. } | Change::Set { data, .. } => data.len(),
            Change::Delete { .. } | Change::Check { .. } => 0,
        };
        change.node().len() + data + 128
    };
    let mut parts: Vec<Vec<Change>> = Vec::new();
    let mut bytes = 0;
    for change in writes {
        let change_bytes = size(&change);
        match parts.last_mut() {
            Some(part) if bytes + change_bytes <= MULTI_OP_BYTES => {
                bytes += change_bytes;
                part.push(change);
            }
            _ => {
                bytes = change_bytes;
                parts.push(vec![change]);
            }
        }
    }
    parts
}

/// Applies `changes` in one multi-op: all of them or none, and none unless
/// the `fence` node exists.
async fn commit(
    client: &zk::Client,
    acls: zk::Acls<'static>,
    scope: &str,
    changes: &[Change],
    fence: Option<&str>,
) -> Result<(), StateError> {
    let options = zk::CreateMode::Persistent.with_acls(acls);
    let mut writer = client.new_multi_writer();
    if let Some(fence) = fence {
        // The first operation: it exists, at any version (-1).
        writer
            .add_check_version(fence, -1)
            .map_err(|e| StateError::InvalidValue {
                node: fence.to_string(),
                reason: e.to_string(),
            })?;
    }
    for change in changes {
        let added = match change {
            Change::Create { node, data } => writer.add_create(node, data, &options),
            Change::Set {
                node,
                data,
                version,
            } => writer.add_set_data(node, data, Some(*version)),
            Change::Delete { node, version } => writer.add_delete(node, Some(*version)),
            Change::Check { node, version } => writer.add_check_version(node, *version),
        };
        // The client checks each path before sending anything, so a task ID
        // ZooKeeper cannot take as a node name stops us here.
        added.map_err(|e| StateError::InvalidValue {
            node: change.node().to_string(),
            reason: e.to_string(),
        })?;
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, writer.commit()).await {
        Ok(Ok(_)) => Ok(()),
        Err(_) => Err(zk_error(scope, zk::Error::Timeout)),
        Ok(Err(zk::MultiWriteError::RequestFailed { source })) => Err(zk_error(scope, source)),
        Ok(Err(zk::MultiWriteError::OperationFailed { index, source })) => {
            let index = match fence {
                Some(fence) if index == 0 => {
                    return Err(match source {
                        zk::Error::NoNode | zk::Error::BadVersion => StateError::Fenced {
                            node: fence.to_string(),
                        },
                        source => zk_error(fence, source),
                    });
                }
                Some(_) => index - 1,
                None => index,
            };
            let Some(change) = changes.get(index) else {
                return Err(zk_error(scope, source));
            };
            let node = change.node().to_string();
            Err(match source {
                // The node is not as we last saw it: it exists although we
                // thought it absent, its version moved, it was deleted, or
                // it gained children. Someone else got there first.
                zk::Error::NodeExists | zk::Error::BadVersion | zk::Error::NotEmpty => {
                    StateError::Conflict { node }
                }
                zk::Error::NoNode if !matches!(change, Change::Create { .. }) => {
                    StateError::Conflict { node }
                }
                source => StateError::ZooKeeper { node, source },
            })
        }
    }
}

/// Reads every node under `<root>/state`, with the versions to remember.
async fn read_state(
    client: &zk::Client,
    nodes: &Layout,
) -> Result<(FrameworkState, BTreeMap<String, Known>), StateError> {
    let mut state = FrameworkState::default();
    let mut known = BTreeMap::new();
    for child in read_children(client, &nodes.state).await? {
        let expected = [FRAMEWORK_ID, INSTANCES, TASKS].contains(&child.as_str())
            || nodes.collections.contains(&child);
        if !expected {
            let mut names = vec![FRAMEWORK_ID, INSTANCES, TASKS];
            names.extend(nodes.collections.iter().map(String::as_str));
            return Err(StateError::BadData {
                node: format!("{}/{child}", nodes.state),
                reason: format!("an unexpected node: only {} belong here", names.join(", ")),
            });
        }
    }
    for collection in &nodes.collections {
        let items = read_items(client, &nodes.collection(collection), &mut known).await?;
        state.collections.insert(collection.clone(), items);
    }
    if let Some(data) = read_leaf(client, &nodes.framework_id).await? {
        let id =
            parse_framework_id(&data.data).map_err(|reason| bad(&nodes.framework_id, reason))?;
        state.framework_id = Some(id);
        known.insert(nodes.framework_id.clone(), data);
    }
    if let Some(data) = read_leaf(client, &nodes.instances).await? {
        let instances =
            parse_instances(&data.data).map_err(|reason| bad(&nodes.instances, reason))?;
        state.instances = Some(instances);
        known.insert(nodes.instances.clone(), data);
    }
    let ids = read_children(client, &nodes.tasks).await?;
    let task_nodes: Vec<String> = ids.iter().map(|id| nodes.task(id)).collect();
    // Every read is sent before the first answer is awaited (the client
    // sends a request when it is made, not when it is awaited): ZooKeeper
    // answers a session's requests in order, so 10,000 task records cost
    // one round trip and their bytes, not 10,000 round trips.
    let reads: Vec<_> = task_nodes
        .iter()
        .map(|node| client.get_data(node))
        .collect();
    for ((id, node), read) in ids.into_iter().zip(&task_nodes).zip(reads) {
        let found = known_and_stat(node, bounded(read).await)?;
        // A task deleted between listing and reading is simply gone.
        if let Some(data) = leaf(node, found)? {
            let record = TaskRecord::from_json(&data.data).map_err(|reason| bad(node, reason))?;
            state.tasks.insert(id, record);
            known.insert(node.clone(), data);
        }
    }
    Ok((state, known))
}

/// Every item of a collection, read as task records are (all requests
/// sent before the first answer is awaited), with their versions.
async fn read_items(
    client: &zk::Client,
    directory: &str,
    known: &mut BTreeMap<String, Known>,
) -> Result<BTreeMap<String, Vec<u8>>, StateError> {
    let names = read_children(client, directory).await?;
    let item_nodes: Vec<String> = names
        .iter()
        .map(|name| format!("{directory}/{name}"))
        .collect();
    let reads: Vec<_> = item_nodes
        .iter()
        .map(|node| client.get_data(node))
        .collect();
    let mut items = BTreeMap::new();
    for ((name, node), read) in names.into_iter().zip(&item_nodes).zip(reads) {
        if let Some(data) = leaf(node, known_and_stat(node, bounded(read).await)?)? {
            items.insert(name, data.data.clone());
            known.insert(node.clone(), data);
        }
    }
    Ok(items)
}

/// The names of a node's children; none if the node does not exist.
async fn read_children(client: &zk::Client, node: &str) -> Result<Vec<String>, StateError> {
    match bounded(client.list_children(node)).await {
        Ok(mut children) => {
            children.sort();
            Ok(children)
        }
        Err(zk::Error::NoNode) => Ok(Vec::new()),
        Err(source) => Err(zk_error(node, source)),
    }
}

/// The data and version of a node, or `None` if it does not exist.
async fn read_node(client: &zk::Client, node: &str) -> Result<Option<Known>, StateError> {
    Ok(read_with_stat(client, node).await?.map(|(known, _)| known))
}

/// Like [`read_node`], for a node that should have no children.
async fn read_leaf(client: &zk::Client, node: &str) -> Result<Option<Known>, StateError> {
    leaf(node, read_with_stat(client, node).await?)
}

/// A node read that should have no children.
fn leaf(node: &str, found: Option<(Known, zk::Stat)>) -> Result<Option<Known>, StateError> {
    match found {
        Some((_, stat)) if stat.num_children > 0 => Err(bad(
            node,
            format!(
                "it has {} child nodes, and should have none",
                stat.num_children
            ),
        )),
        found => Ok(found.map(|(known, _)| known)),
    }
}

async fn read_with_stat(
    client: &zk::Client,
    node: &str,
) -> Result<Option<(Known, zk::Stat)>, StateError> {
    known_and_stat(node, bounded(client.get_data(node)).await)
}

/// What a read of `node` found: its data and version, or `None` if it does
/// not exist.
fn known_and_stat(
    node: &str,
    read: Result<(Vec<u8>, zk::Stat), zk::Error>,
) -> Result<Option<(Known, zk::Stat)>, StateError> {
    match read {
        Ok((data, stat)) => {
            let version = stat.version;
            Ok(Some((Known { data, version }, stat)))
        }
        Err(zk::Error::NoNode) => Ok(None),
        Err(source) => Err(zk_error(node, source)),
    }
}

/// The JSON of a task node. Unknown fields are an error rather than
/// ignored: if a newer scheduler added one, rewriting the record would
/// silently drop it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskJson {
    state: String,
    agent_id: Option<String>,
}

impl TaskRecord {
    /// The data of its task node.
    fn to_json(&self) -> Vec<u8> {
        let json = TaskJson {
            state: self.state.as_str_name().to_string(),
            agent_id: self.agent_id.clone(),
        };
        serde_json::to_vec(&json).expect("a struct of strings always serializes")
    }

    pub(crate) fn from_json(data: &[u8]) -> Result<TaskRecord, String> {
        let json: TaskJson = serde_json::from_slice(data)
            .map_err(|e| format!(r#"not a task record {{"state":…,"agent_id":…}}: {e}"#))?;
        let state = TaskState::from_str_name(&json.state)
            .ok_or_else(|| format!("unknown task state {:?}", json.state))?;
        Ok(TaskRecord {
            state,
            agent_id: json.agent_id,
        })
    }
}

pub(crate) fn parse_framework_id(data: &[u8]) -> Result<FrameworkId, String> {
    let value = std::str::from_utf8(data).map_err(|_| "not UTF-8 text".to_string())?;
    check_framework_id(value)?;
    Ok(FrameworkId {
        value: value.to_string(),
    })
}

/// The data of the framework ID node, or why `id` cannot be stored.
fn framework_id_data(node: &str, id: &FrameworkId) -> Result<Vec<u8>, StateError> {
    check_framework_id(&id.value).map_err(|reason| StateError::InvalidValue {
        node: node.to_string(),
        reason,
    })?;
    Ok(id.value.clone().into_bytes())
}

fn check_framework_id(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("an empty framework ID".into());
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{value:?} is not a framework ID: it contains spaces or control characters"
        ));
    }
    Ok(())
}

pub(crate) fn parse_instances(data: &[u8]) -> Result<usize, String> {
    let text = std::str::from_utf8(data).map_err(|_| "not UTF-8 text".to_string())?;
    text.parse()
        .map_err(|_| format!("{text:?} is not an instance count (a decimal number)"))
}

/// Task IDs become node names. ZooKeeper's client checks the rest.
/// A collection's or an item's name must be one node's name.
fn check_node_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(format!("{name:?} is not a valid node name"));
    }
    Ok(())
}

fn check_task_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("an empty task ID".into());
    }
    if id == "." || id == ".." {
        return Err(format!("task ID {id:?} is not a valid node name"));
    }
    if id.contains('/') {
        return Err(format!(
            "task ID {id:?} contains '/', which would make it a path"
        ));
    }
    Ok(())
}

/// The conflict rule (module docs): what changed between the state as we
/// knew it (`before`) and as ZooKeeper holds it (`now`), for a scheduler
/// running framework `ours`.
fn judge_conflict(
    before: &FrameworkState,
    now: FrameworkState,
    ours: Option<&FrameworkId>,
) -> AfterConflict {
    let id = |id: Option<&FrameworkId>| id.map_or("none".to_string(), |id| id.value.clone());
    let mut adopted = Adopted {
        instances: now.instances,
        framework: None,
    };
    if now.framework_id != before.framework_id {
        match (ours, now.framework_id) {
            // We have no framework yet: theirs is as good as a new one,
            // and better, as its tasks already run.
            (None, Some(theirs)) => {
                adopted.framework = Some((theirs, now.tasks));
                return AfterConflict::Adopt(adopted);
            }
            (Some(ours), theirs) if theirs.as_ref() != Some(ours) => {
                return AfterConflict::Stop {
                    reason: format!(
                        "ZooKeeper now holds framework ID {} where this scheduler runs {}",
                        id(theirs.as_ref()),
                        ours.value
                    ),
                };
            }
            // Ours after all, or removed while we have none.
            _ => {}
        }
    }
    if now.tasks != before.tasks {
        return AfterConflict::Stop {
            reason: format!(
                "the task records of framework {} were changed by someone else",
                id(ours)
            ),
        };
    }
    AfterConflict::Adopt(adopted)
}

/// The state that the nodes in `known` hold. They parse: we only remember
/// nodes we read and parsed, or wrote ourselves.
fn state_of(nodes: &Layout, known: &BTreeMap<String, Known>) -> FrameworkState {
    let mut state = FrameworkState::default();
    for (node, known) in known {
        if *node == nodes.framework_id {
            state.framework_id = parse_framework_id(&known.data).ok();
        } else if *node == nodes.instances {
            state.instances = parse_instances(&known.data).ok();
        } else if let Some(id) = node.strip_prefix(&format!("{}/", nodes.tasks)) {
            if let Ok(record) = TaskRecord::from_json(&known.data) {
                state.tasks.insert(id.to_string(), record);
            }
        }
    }
    state
}

fn bad(node: &str, reason: String) -> StateError {
    StateError::BadData {
        node: node.to_string(),
        reason,
    }
}

fn zk_error(node: &str, source: zk::Error) -> StateError {
    StateError::ZooKeeper {
        node: node.to_string(),
        source,
    }
}

/// Gives up on a request after [`REQUEST_TIMEOUT`], so that a hung
/// connection costs a call seconds, not minutes.
async fn bounded<T>(request: impl Future<Output = Result<T, zk::Error>>) -> Result<T, zk::Error> {
    tokio::time::timeout(REQUEST_TIMEOUT, request)
        .await
        .unwrap_or(Err(zk::Error::Timeout))
}

/// A ZooKeeper session, replaced by a new one when it is over.
struct Connection {
    servers: String,
    /// Sent again by every new session: ZooKeeper authentication is per
    /// session.
    digest: Option<ZkDigest>,
    client: Option<zk::Client>,
}

impl Connection {
    /// Runs `operation` once, on a live session. After an error that puts
    /// the session in doubt, the next call starts from a new session
    /// rather than from one that just failed us.
    async fn run<T, F>(&mut self, operation: impl FnOnce(zk::Client) -> F) -> Result<T, StateError>
    where
        F: Future<Output = Result<T, StateError>>,
    {
        let result = operation(self.client().await?).await;
        if let Err(StateError::ZooKeeper { source, .. }) = &result {
            if session_in_doubt(source) {
                self.client = None;
            }
        }
        result
    }

    /// Runs an operation that only reads (or is harmless twice), and runs
    /// it once more on a new session if the first try failed for the
    /// session's sake.
    async fn read<T, F>(&mut self, operation: impl Fn(zk::Client) -> F) -> Result<T, StateError>
    where
        F: Future<Output = Result<T, StateError>>,
    {
        match self.run(&operation).await {
            Err(StateError::ZooKeeper { node, source }) if session_in_doubt(&source) => {
                tracing::info!(%node, error = %source, "ZooKeeper session lost; reading once more");
                self.run(&operation).await
            }
            result => result,
        }
    }

    /// A client on a live session: the current one if it is connected or
    /// reconnects within [`RECONNECT_GRACE`], otherwise a new one. (A
    /// client is a cheap handle on its session; clones share it.)
    async fn client(&mut self) -> Result<zk::Client, StateError> {
        if let Some(client) = &self.client {
            if connected_soon(client).await {
                return Ok(client.clone());
            }
        }
        self.client = None;
        let client = open_session(&self.servers, self.digest.as_ref()).await?;
        self.client = Some(client.clone());
        Ok(client)
    }
}

/// What became of a write whose answer was lost.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Every node is as the write leaves it.
    Applied,
    /// Every node is as the write found it: it can be sent again.
    NotApplied,
    /// Neither: someone else wrote `node` meanwhile.
    Changed { node: String },
}

/// Reads the nodes of `changes` to tell whether they were applied.
async fn find_outcome(
    client: &zk::Client,
    scope: &str,
    changes: &[Change],
) -> Result<Outcome, StateError> {
    // The server we reconnected to may lag behind ZooKeeper's leader;
    // `sync` makes it catch up, so that we read the latest data.
    bounded(client.sync(scope))
        .await
        .map_err(|source| zk_error(scope, source))?;
    let mut found = Vec::with_capacity(changes.len());
    for change in changes {
        found.push(read_node(client, change.node()).await?);
    }
    Ok(judge(changes, &found))
}

/// Tells from the nodes as `found` now whether `changes` were applied.
fn judge(changes: &[Change], found: &[Option<Known>]) -> Outcome {
    let (mut applied, mut not_applied) = (true, true);
    for (change, now) in changes.iter().zip(found) {
        applied &= change.leaves(now);
        not_applied &= change.finds(now);
        if !applied && !not_applied {
            return Outcome::Changed {
                node: change.node().to_string(),
            };
        }
    }
    if applied {
        Outcome::Applied
    } else {
        Outcome::NotApplied
    }
}

/// Errors about the session or the connection rather than the data: after
/// one, the session cannot be trusted, and a write's outcome is unknown.
fn session_in_doubt(error: &zk::Error) -> bool {
    matches!(
        error,
        zk::Error::ConnectionLoss
            | zk::Error::Timeout
            | zk::Error::SessionExpired
            | zk::Error::SessionMoved
            | zk::Error::ClientClosed
            | zk::Error::NoHosts
            | zk::Error::Custom(_)
            | zk::Error::UnexpectedError(_)
    )
}

/// Whether the session is connected, or reconnects within
/// [`RECONNECT_GRACE`]. An expired or closed session is over for good.
async fn connected_soon(client: &zk::Client) -> bool {
    let mut states = client.state_watcher();
    let mut state = states.peek_state();
    let wait = async {
        loop {
            match state {
                zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly => {
                    return true;
                }
                zk::SessionState::Disconnected => state = states.changed().await,
                zk::SessionState::Expired
                | zk::SessionState::Closed
                | zk::SessionState::AuthFailed => {
                    return false;
                }
            }
        }
    };
    tokio::time::timeout(RECONNECT_GRACE, wait)
        .await
        .unwrap_or(false)
}

/// Opens a new session, a few attempts with backoff. Bounded, so that while
/// ZooKeeper is down a call fails within seconds and the scheduler can
/// carry on.
async fn open_session(servers: &str, digest: Option<&ZkDigest>) -> Result<zk::Client, StateError> {
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(2));
    let mut attempt = 1;
    loop {
        // "Fail eagerly": give up once every server refused, instead of
        // cycling through them for the whole session timeout.
        let connecting = zookeeper::connector(digest)
            .with_fail_eagerly()
            .connect(servers);
        let error = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(client)) => return Ok(client),
            Ok(Err(error)) => error,
            Err(_) => zk::Error::Timeout,
        };
        if attempt == CONNECT_ATTEMPTS {
            let cause = zookeeper::unreachable_because(servers).await;
            return Err(StateError::Connect {
                servers: servers.to_string(),
                cause: cause.unwrap_or_else(|| error.to_string()),
                source: error,
            });
        }
        tracing::debug!(%error, %servers, attempt, "cannot connect to ZooKeeper; trying again");
        attempt += 1;
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(data: &str, version: i32) -> Known {
        Known {
            data: data.into(),
            version,
        }
    }

    #[test]
    fn task_records_are_json_with_mesos_state_names() {
        let running = TaskRecord {
            state: TaskState::TaskRunning,
            agent_id: Some("a-1".into()),
        };
        assert_eq!(
            running.to_json(),
            br#"{"state":"TASK_RUNNING","agent_id":"a-1"}"#
        );
        let staging = TaskRecord {
            state: TaskState::TaskStaging,
            agent_id: None,
        };
        assert_eq!(
            staging.to_json(),
            br#"{"state":"TASK_STAGING","agent_id":null}"#
        );
        for state in (0..20).filter_map(|n| TaskState::try_from(n).ok()) {
            let record = TaskRecord {
                state,
                agent_id: None,
            };
            assert_eq!(TaskRecord::from_json(&record.to_json()), Ok(record));
        }
    }

    #[test]
    fn foreign_task_json_is_refused_with_a_reason() {
        for (data, expected) in [
            (&b"{not json"[..], "not a task record"),
            (
                br#"{"state":"TASK_SLEEPING","agent_id":null}"#,
                "TASK_SLEEPING",
            ),
            (
                br#"{"state":"TASK_RUNNING","agent_id":null,"host":"h"}"#,
                "host",
            ),
            (br#"{"agent_id":"a"}"#, "state"),
            (b"\xff\xfe", "not a task record"),
        ] {
            let reason = TaskRecord::from_json(data).unwrap_err();
            assert!(reason.contains(expected), "{reason}");
        }
    }

    #[test]
    fn plan_writes_only_differences_at_known_versions() {
        let known = BTreeMap::from([
            ("/s/same".to_string(), known("1", 4)),
            ("/s/changed".to_string(), known("1", 2)),
            ("/s/removed".to_string(), known("1", 7)),
        ]);
        let wanted = BTreeMap::from([
            ("/s/same".to_string(), Some(b"1".to_vec())),
            ("/s/changed".to_string(), Some(b"2".to_vec())),
            ("/s/removed".to_string(), None),
            ("/s/new".to_string(), Some(b"3".to_vec())),
            ("/s/never".to_string(), None),
        ]);
        assert_eq!(
            plan(&known, wanted, &[]),
            vec![
                Change::Set {
                    node: "/s/changed".into(),
                    data: b"2".to_vec(),
                    version: 2
                },
                Change::Create {
                    node: "/s/new".into(),
                    data: b"3".to_vec()
                },
                Change::Delete {
                    node: "/s/removed".into(),
                    version: 7
                },
            ]
        );
    }

    #[test]
    fn unchanged_nodes_named_for_checking_are_checked_at_their_version() {
        let known = BTreeMap::from([
            ("/s/id".to_string(), known("fw-1", 0)),
            ("/s/instances".to_string(), known("2", 5)),
            ("/s/task".to_string(), known("{}", 1)),
        ]);
        let wanted = BTreeMap::from([
            ("/s/id".to_string(), Some(b"fw-1".to_vec())),
            ("/s/instances".to_string(), Some(b"3".to_vec())),
            ("/s/task".to_string(), None),
        ]);
        let checked = [
            "/s/id".to_string(),
            "/s/instances".to_string(),
            "/s/unknown".to_string(),
        ];
        let changes = plan(&known, wanted, &checked);
        assert_eq!(
            changes,
            vec![
                Change::Set {
                    node: "/s/instances".into(),
                    data: b"3".to_vec(),
                    version: 5
                },
                Change::Delete {
                    node: "/s/task".into(),
                    version: 1
                },
                // Written nodes are checked by their own condition; a
                // node we do not know cannot be checked.
                Change::Check {
                    node: "/s/id".into(),
                    version: 0
                },
            ]
        );
        assert!(
            changes
                .iter()
                .filter(|c| !matches!(c, Change::Check { .. }))
                .count()
                == 2
        );
    }

    fn state(id: Option<&str>, instances: Option<usize>, tasks: &[&str]) -> FrameworkState {
        FrameworkState {
            framework_id: id.map(|value| FrameworkId {
                value: value.into(),
            }),
            instances,
            tasks: tasks
                .iter()
                .map(|task| {
                    let record = TaskRecord {
                        state: TaskState::TaskRunning,
                        agent_id: None,
                    };
                    (task.to_string(), record)
                })
                .collect(),
            collections: BTreeMap::new(),
        }
    }

    #[test]
    fn after_a_conflict_only_the_instance_count_is_taken_from_someone_else() {
        let fw1 = FrameworkId {
            value: "fw-1".into(),
        };
        let before = state(Some("fw-1"), Some(2), &["a", "b"]);
        // An operator changed the count.
        assert_eq!(
            judge_conflict(
                &before,
                state(Some("fw-1"), Some(5), &["a", "b"]),
                Some(&fw1)
            ),
            AfterConflict::Adopt(Adopted {
                instances: Some(5),
                framework: None
            })
        );
        // Another scheduler registered another framework: stop.
        let other = judge_conflict(&before, state(Some("fw-2"), Some(2), &[]), Some(&fw1));
        assert!(
            matches!(&other, AfterConflict::Stop { reason } if reason.contains("fw-2") && reason.contains("fw-1")),
            "{other:?}"
        );
        // Someone deleted our framework ID: stop too.
        let gone = judge_conflict(&before, state(None, Some(2), &["a", "b"]), Some(&fw1));
        assert!(matches!(gone, AfterConflict::Stop { .. }), "{gone:?}");
        // Someone else changed the tasks of our framework: stop.
        let tasks = judge_conflict(
            &before,
            state(Some("fw-1"), Some(2), &["a", "c"]),
            Some(&fw1),
        );
        assert!(
            matches!(&tasks, AfterConflict::Stop { reason } if reason.contains("task records")),
            "{tasks:?}"
        );
        // With no framework of our own, theirs is taken with its tasks.
        let empty = state(None, Some(2), &[]);
        let theirs = state(Some("fw-2"), Some(3), &["x"]);
        assert_eq!(
            judge_conflict(&empty, theirs.clone(), None),
            AfterConflict::Adopt(Adopted {
                instances: Some(3),
                framework: Some((theirs.framework_id.clone().unwrap(), theirs.tasks.clone()))
            })
        );
    }

    #[test]
    fn the_state_we_know_is_read_back_from_the_known_nodes() {
        let nodes = Layout::new("/fw");
        let record = TaskRecord {
            state: TaskState::TaskStaging,
            agent_id: Some("a-1".into()),
        };
        let known = BTreeMap::from([
            (nodes.framework_id.clone(), known("fw-1", 0)),
            (nodes.instances.clone(), known("4", 2)),
            (
                nodes.task("t-1"),
                Known {
                    data: record.to_json(),
                    version: 3,
                },
            ),
        ]);
        let state = state_of(&nodes, &known);
        assert_eq!(state.framework_id.unwrap().value, "fw-1");
        assert_eq!(state.instances, Some(4));
        assert_eq!(state.tasks, BTreeMap::from([("t-1".to_string(), record)]));
    }

    #[test]
    fn a_write_with_a_lost_answer_is_judged_by_what_is_there_now() {
        let changes = [
            Change::Create {
                node: "/s/new".into(),
                data: b"n".to_vec(),
            },
            Change::Set {
                node: "/s/set".into(),
                data: b"2".to_vec(),
                version: 3,
            },
            Change::Delete {
                node: "/s/gone".into(),
                version: 1,
            },
        ];
        let before = [None, Some(known("1", 3)), Some(known("x", 1))];
        let after = [Some(known("n", 0)), Some(known("2", 4)), None];
        assert_eq!(judge(&changes, &before), Outcome::NotApplied);
        assert_eq!(judge(&changes, &after), Outcome::Applied);
        // Someone else changed a node after our write, or instead of it.
        let theirs = [Some(known("n", 0)), Some(known("9", 5)), None];
        assert_eq!(
            judge(&changes, &theirs),
            Outcome::Changed {
                node: "/s/set".into()
            }
        );
        let half = [None, Some(known("1", 3)), None];
        assert_eq!(
            judge(&changes, &half),
            Outcome::Changed {
                node: "/s/gone".into()
            }
        );
    }

    #[test]
    fn a_write_too_big_for_one_request_is_split_in_a_safe_order() {
        let nodes = Layout::new("/fw");
        let create = |id: &str| Change::Create {
            node: nodes.task(id),
            data: vec![b'x'; 1000],
        };
        let delete = |id: &str| Change::Delete {
            node: nodes.task(id),
            version: 0,
        };
        let framework_id = Change::Set {
            node: nodes.framework_id.clone(),
            data: b"fw-2".to_vec(),
            version: 3,
        };
        // Small: one part, whatever the order.
        let small = vec![create("a"), framework_id.clone(), delete("b")];
        assert_eq!(in_parts(&nodes, small).len(), 1);

        // About 2 MB: deletions first, then the framework ID, then the new
        // records, each part within the limit, nothing lost.
        let mut writes: Vec<Change> = (0..2000).map(|i| create(&format!("new-{i}"))).collect();
        writes.push(framework_id.clone());
        writes.extend((0..10).map(|i| delete(&format!("old-{i}"))));
        let parts = in_parts(&nodes, writes);
        assert!(parts.len() > 1, "{} parts", parts.len());
        let all: Vec<&Change> = parts.iter().flatten().collect();
        assert_eq!(all.len(), 2011);
        assert!(all[..10].iter().all(|c| matches!(c, Change::Delete { .. })));
        assert_eq!(all[10], &framework_id);
        assert!(all[11..].iter().all(|c| matches!(c, Change::Create { .. })));
        for part in &parts {
            let bytes: usize = part.iter().map(|c| c.node().len() + 1000).sum();
            assert!(bytes <= MULTI_OP_BYTES, "{bytes} bytes in one part");
        }
    }

    #[test]
    fn layout_and_names() {
        let nodes = Layout::new("/hello-mesos");
        assert_eq!(nodes.framework_id, "/hello-mesos/state/framework_id");
        assert_eq!(nodes.instances, "/hello-mesos/state/instances");
        assert_eq!(nodes.task("t1"), "/hello-mesos/state/tasks/t1");
        assert_eq!(nodes.task_id("/hello-mesos/state/tasks/t1"), Some("t1"));
        assert_eq!(nodes.task_id("/hello-mesos/state/tasks"), None);
        assert_eq!(nodes.task_id("/hello-mesos/state/tasksx/t1"), None);
        assert!(check_task_id("hello.1-2_3").is_ok());
        for id in ["", ".", "..", "a/b"] {
            assert!(check_task_id(id).is_err(), "{id:?}");
        }
        assert_eq!(parse_instances(b"12"), Ok(12));
        assert!(parse_instances(b"-1").is_err());
        assert!(parse_framework_id(b"").is_err());
        assert!(parse_framework_id(b"fw 1").is_err());
    }
}
