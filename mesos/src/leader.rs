//! Leader election in ZooKeeper: several instances of a scheduler, one
//! leader.
//!
//! A scheduler that must survive its machine runs as several instances.
//! Only one of them may act at a time: two schedulers subscribed with the
//! same framework ID displace each other ("Framework failed over"), and two
//! writers of the same state undo each other's work. So the instances
//! *elect* a leader. The leader subscribes to Mesos and schedules; the
//! others are standbys and wait. When the leader dies, one of them takes
//! over.
//!
//! # The recipe
//!
//! This is ZooKeeper's standard election recipe, as Apache Curator's
//! `LeaderLatch` implements it, with the same node names, so that a JVM
//! framework using `LeaderLatch` on the same path could join the same
//! election:
//!
//! 1. Each instance creates an *ephemeral sequential* node under
//!    `<root>/leader`, named `_c_<uuid>-latch-<sequence>`, holding its
//!    *participant id*: how to reach it (`host:pid`, or its web URL).
//!    ZooKeeper appends the sequence number, one higher for each node
//!    created, and deletes the node when the instance's session ends.
//! 2. The instance whose node has the lowest sequence number leads.
//! 3. Every other instance watches only the node just before its own. When
//!    that node goes, it looks again: it may lead now, or it watches the
//!    new node before it. Watching the leader's node instead would wake
//!    every standby at each change, to race for the same question (the
//!    "herd effect"); this way one change wakes one instance.
//!
//! The `_c_<uuid>-` prefix is Curator's *protected mode*. Creating a node
//! is a request like any other: the connection can break after ZooKeeper
//! created it but before its answer, with its name, reached us. The node
//! exists, is ours, and would hold its place in the queue for as long as
//! our session lives, but we would not know its name. With a UUID of our
//! own in the name, we find it again by listing the children.
//!
//! # Mesos' own masters: the same algorithm, other names
//!
//! Mesos masters elect their leader with the same algorithm
//! (`src/zookeeper/group.cpp`, `src/master/contender/zookeeper.cpp`), but
//! name their nodes differently: `<path>/json.info_<sequence>`, straight
//! under the masters' path, each holding the master's `MasterInfo` as JSON,
//! which is what a framework's `zk://` master detector reads
//! ([`crate::detector`]). [`Recipe::MesosMaster`] follows those names, for
//! the simulated master (`mesos-local --zk`) to register as a real one.
//! With no UUID in the name, a node whose creation answer was lost is found
//! again by its owner: the ephemeral owner of a node is the session that
//! created it.
//!
//! Knowing *who* leads is a different question from deciding who leads:
//! every instance (a standby's web page, for one) wants to say who leads
//! and how to reach it. That is the data of the lowest node. Each instance
//! also watches that one node, to hear of each change of leader; only to
//! read who leads now, never to contend.
//!
//! # Sessions: suspended, expired
//!
//! Leadership is only as good as the session that holds the node:
//!
//! * **Suspended.** The connection to ZooKeeper broke. The session may
//!   still live (the client reconnects within the session timeout and
//!   nothing happened), or the servers may already have expired it,
//!   deleted our node and let another instance lead. We cannot know which
//!   until we reconnect. So a leader must stop acting *at once*, the
//!   moment it is disconnected: waiting for the expiry would leave a
//!   window in which two instances act. [`Role::Suspended`] says so.
//! * **Expired.** The session is over and our node is gone: we lost the
//!   election for sure. The instance joins again, with a new session and a
//!   new node at the back of the queue.
//!
//! Stopping is not enough on its own: a leader can be paused (a long GC,
//! `SIGSTOP`, a VM migration) without noticing anything, wake after a
//! successor was elected, and write before it learns it was deposed. So
//! every write of the state is *fenced*: it also checks, in the same
//! ZooKeeper multi-op, that the writer's election node still exists
//! ([`StateStore::fence_with`](crate::state::StateStore::fence_with)). A
//! deposed leader's node is gone, so its writes fail, whatever it
//! believes. Martin Kleppmann's "How to do distributed locking" explains
//! why a lock without fencing is not enough.

use std::time::Duration;

use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};
use zookeeper_client as zk;

use crate::{
    backoff::Backoff,
    zookeeper::{self, ZkDigest, ZkUrl},
};

/// The name of the election's node under the framework's root.
pub const ELECTION: &str = "leader";

/// Curator's lock name for `LeaderLatch` (`LeaderSelector` uses `lock-`).
pub const LATCH: &str = "latch-";

/// The label of Mesos' master nodes, `json.info_<sequence>`
/// (`MASTER_INFO_JSON_LABEL`, `src/master/constants.cpp`).
pub const MASTER_INFO_JSON_LABEL: &str = "json.info";

/// How an election names its nodes (see the module docs): one algorithm,
/// two conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipe {
    /// Curator's `LeaderLatch`: `<root>/leader/_c_<uuid>-latch-<sequence>`.
    CuratorLatch,
    /// Mesos' masters: `<path>/json.info_<sequence>`, holding `MasterInfo`
    /// as JSON (`GroupProcess::doJoin` in `src/zookeeper/group.cpp`).
    MesosMaster,
}

impl Recipe {
    /// The node the election's nodes are children of.
    fn dir(self, path: &str) -> String {
        let path = path.trim_end_matches('/');
        match self {
            Recipe::CuratorLatch => format!("{path}/{ELECTION}"),
            // Mesos lets the path be `/`: the nodes are then `/json.info_…`.
            Recipe::MesosMaster if path.is_empty() => "/".to_string(),
            Recipe::MesosMaster => path.to_string(),
        }
    }

    /// The sequence number of a child's name, or `None` for a node that
    /// takes no part in this election.
    fn sequence(self, name: &str) -> Option<u64> {
        match self {
            Recipe::CuratorLatch => sequence(name),
            Recipe::MesosMaster => {
                let digits = name
                    .strip_prefix(MASTER_INFO_JSON_LABEL)?
                    .strip_prefix('_')?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                digits.parse().ok()
            }
        }
    }

    /// The path our node is created at; ZooKeeper appends the sequence.
    fn node_prefix(self, dir: &str) -> String {
        let dir = dir.trim_end_matches('/');
        match self {
            Recipe::CuratorLatch => format!("{dir}/_c_{}-{LATCH}", uuid::Uuid::new_v4()),
            Recipe::MesosMaster => format!("{dir}/{MASTER_INFO_JSON_LABEL}_"),
        }
    }

    /// The ACLs of our node. Mesos makes its masters' nodes readable by
    /// anyone when it authenticates (`EVERYONE_READ_CREATOR_ALL`, group.cpp),
    /// since any framework must find the leader; a framework's election is
    /// its own business (`zookeeper::node_acls`).
    fn acls(self, digest: Option<&ZkDigest>) -> zk::Acls<'static> {
        match (self, digest) {
            (Recipe::MesosMaster, Some(_)) => zk::Acls::new(EVERYONE_READ_CREATOR_ALL),
            _ => zookeeper::node_acls(digest),
        }
    }

    /// How a participant's node data reads in a log line.
    fn describe(self, participant: &Participant) -> String {
        match self {
            Recipe::CuratorLatch => participant.id.clone(),
            Recipe::MesosMaster => {
                crate::detector::master_addr_from_json(participant.id.as_bytes())
                    .map_or_else(|_| participant.node.clone(), |addr| addr.to_string())
            }
        }
    }
}

/// ZooKeeper's `ZOO_READ_ACL_UNSAFE` plus `ZOO_CREATOR_ALL_ACL`.
static EVERYONE_READ_CREATOR_ALL: &[zk::Acl] = &[
    zk::Acl::new_const(zk::Permission::READ, "world", "anyone"),
    zk::Acl::new_const(zk::Permission::ALL, "auth", ""),
];

/// The session timeout asked for by default. Short enough for a standby to
/// take over within seconds; long enough that a loaded machine or a short
/// network hiccup does not depose a healthy leader. ZooKeeper grants a
/// timeout between 2 and 20 times its `tickTime` (2 s by default, so 4 s
/// to 40 s), whatever we ask.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(6);

/// One instance taking part in the election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// Its election node, `<root>/leader/_c_<uuid>-latch-<sequence>`.
    pub node: String,
    /// How to reach it: the data of its node.
    pub id: String,
}

/// Where this instance stands in the election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Joining: connecting to ZooKeeper and creating our node (at start,
    /// or again after our session expired).
    Joining,
    /// This instance leads. `node` is its election node: fence every state
    /// write with it.
    Leader { node: String },
    /// Another instance leads (or nobody, for a moment): wait.
    Standby { leader: Option<Participant> },
    /// Disconnected from ZooKeeper: we may have lost the election without
    /// knowing it. Act as a standby until the session is back.
    Suspended,
}

impl Role {
    /// Whether this instance may act as the leader now.
    pub fn is_leader(&self) -> bool {
        matches!(self, Role::Leader { .. })
    }
}

/// Why the election could not be joined.
#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    #[error("ZooKeeper request on {node} failed: {source}")]
    ZooKeeper { node: String, source: zk::Error },
}

/// What the election's task is asked to do.
enum Request {
    /// Give up leadership: a new node, at the back of the queue.
    Resign,
    /// Leave the election: close the session.
    Leave,
}

/// This instance's part in the election, run by a background task.
/// Dropping it leaves the election (the session ends, the node goes).
pub struct Election {
    roles: watch::Receiver<Role>,
    leaders: watch::Receiver<Option<Participant>>,
    requests: mpsc::UnboundedSender<Request>,
    task: Option<JoinHandle<()>>,
}

impl Election {
    /// Joins the election under `<url's path>/leader`, as `participant_id`,
    /// with a ZooKeeper session of `session_timeout`. Returns at once: the
    /// role starts as [`Role::Joining`] and changes as the election goes
    /// (watch it with [`Election::roles`]). While ZooKeeper cannot be
    /// reached, it keeps trying.
    pub fn join(url: &ZkUrl, participant_id: &str, session_timeout: Duration) -> Election {
        Self::join_as(Recipe::CuratorLatch, url, participant_id, session_timeout)
    }

    /// Joins the election of `recipe` under the url's path (see
    /// [`Recipe`]); otherwise as [`Election::join`]. For a Mesos master,
    /// `participant_id` is its `MasterInfo` as JSON.
    pub fn join_as(
        recipe: Recipe,
        url: &ZkUrl,
        participant_id: &str,
        session_timeout: Duration,
    ) -> Election {
        let (roles_sender, roles) = watch::channel(Role::Joining);
        let (leaders_sender, leaders) = watch::channel(None);
        let (requests, requests_receiver) = mpsc::unbounded_channel();
        let participant = Contender {
            servers: url.servers.clone(),
            digest: url.digest.clone(),
            dir: recipe.dir(&url.path),
            recipe,
            id: participant_id.to_string(),
            session_timeout,
            roles: roles_sender,
            leaders: leaders_sender,
            requests: requests_receiver,
        };
        Election {
            roles,
            leaders,
            requests,
            task: Some(tokio::spawn(participant.run())),
        }
    }

    /// This instance's role now.
    pub fn role(&self) -> Role {
        self.roles.borrow().clone()
    }

    /// This instance's role as it changes.
    pub fn roles(&self) -> watch::Receiver<Role> {
        self.roles.clone()
    }

    /// Who leads, as this instance last saw it (any role may ask).
    pub fn leader(&self) -> Option<Participant> {
        self.leaders.borrow().clone()
    }

    /// Who leads, as it changes.
    pub fn leaders(&self) -> watch::Receiver<Option<Participant>> {
        self.leaders.clone()
    }

    /// Gives up leadership and stays in the election as a standby: our
    /// node is replaced by a new one at the back of the queue, and the next
    /// instance leads. (A standby that resigns just goes to the back.)
    pub fn resign(&self) {
        let _ = self.requests.send(Request::Resign);
    }

    /// Leaves the election: the session closes and our node goes at once,
    /// so the next instance need not wait for the session to expire.
    pub async fn leave(mut self) {
        let _ = self.requests.send(Request::Leave);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Election {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Who leads, read from the election's nodes: the data of the node with
/// the lowest sequence number. For anyone with a ZooKeeper client, such as
/// a test or an operator's tool; `root` is the framework's root node.
pub async fn current_leader(
    client: &zk::Client,
    root: &str,
) -> Result<Option<Participant>, zk::Error> {
    let dir = Recipe::CuratorLatch.dir(root);
    for node in queue(client, &dir, Recipe::CuratorLatch).await? {
        match client.get_data(&node).await {
            Ok((data, _)) => {
                let id = String::from_utf8_lossy(&data).into_owned();
                return Ok(Some(Participant { node, id }));
            }
            // It went between the listing and the read: the next one.
            Err(zk::Error::NoNode) => continue,
            Err(error) => return Err(error),
        }
    }
    Ok(None)
}

/// Who leads the election under `url`'s path, read with a short-lived
/// session of its own (for an operator's `--show-leader`, say).
pub async fn who_leads(url: &ZkUrl) -> Result<Option<Participant>, zk::Error> {
    let client = zookeeper::connector(url.digest.as_ref())
        .connect(&url.servers)
        .await?;
    current_leader(&client, &url.path).await
}

/// The election's nodes in the order they lead: by sequence number.
async fn queue(client: &zk::Client, dir: &str, recipe: Recipe) -> Result<Vec<String>, zk::Error> {
    let children = match client.list_children(dir).await {
        Ok(children) => children,
        Err(zk::Error::NoNode) => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut nodes: Vec<(u64, String)> = children
        .into_iter()
        .filter_map(|name| {
            let sequence = recipe.sequence(&name)?;
            Some((sequence, format!("{}/{name}", dir.trim_end_matches('/'))))
        })
        .collect();
    nodes.sort();
    Ok(nodes.into_iter().map(|(_, node)| node).collect())
}

/// The sequence number of an election node's name, as Curator reads it:
/// the digits after the lock name (`…-latch-0000000007` → 7). Other
/// children (another recipe's nodes, an operator's) take no part.
fn sequence(name: &str) -> Option<u64> {
    let (_, digits) = name.rsplit_once(LATCH)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// How our turn in the election ended.
enum Ended {
    /// We were asked to leave.
    Left,
    /// The session is over: join again with a new one.
    SessionLost(String),
}

/// This instance in the election: the state of the background task.
struct Contender {
    servers: String,
    digest: Option<ZkDigest>,
    recipe: Recipe,
    dir: String,
    id: String,
    session_timeout: Duration,
    roles: watch::Sender<Role>,
    leaders: watch::Sender<Option<Participant>>,
    requests: mpsc::UnboundedReceiver<Request>,
}

impl Contender {
    /// One session after the other, until asked to leave.
    async fn run(mut self) {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        loop {
            self.set_role(Role::Joining);
            let connecting = zookeeper::connector(self.digest.as_ref())
                .with_session_timeout(self.session_timeout)
                .connect(&self.servers);
            let client = tokio::select! {
                connected = connecting => match connected {
                    Ok(client) => client,
                    Err(error) => {
                        let delay = backoff.next_delay();
                        let why = zookeeper::unreachable_because(&self.servers).await;
                        let error = why.unwrap_or_else(|| error.to_string());
                        tracing::warn!(%error, servers = %self.servers, retry_in = ?delay, "cannot reach ZooKeeper to join the election: is it running there?");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                },
                request = self.requests.recv() => match request {
                    Some(Request::Resign) => continue,
                    Some(Request::Leave) | None => return,
                },
            };
            tracing::info!(
                session_timeout = ?client.session_timeout(),
                "joined ZooKeeper for the leader election"
            );
            match self.take_part(&client).await {
                Ok(Ended::Left) => {
                    // Gone rather than waiting: set without set_role's
                    // "standby: waiting" line, which would say otherwise.
                    self.roles.send_replace(Role::Standby { leader: None });
                    tracing::info!("left the leader election");
                    return; // dropping the client closes the session
                }
                Ok(Ended::SessionLost(why)) => {
                    tracing::warn!("{why}: joining the election again");
                    backoff.reset();
                }
                Err(error) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(%error, retry_in = ?delay, "leader election failed");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Our part in the election for the life of one session.
    async fn take_part(&mut self, client: &zk::Client) -> Result<Ended, ElectionError> {
        // The path itself is persistent and, for Mesos' masters, readable
        // by all as their nodes are.
        let acls = self.recipe.acls(self.digest.as_ref());
        let options = zk::CreateMode::Persistent.with_acls(acls);
        if self.dir != "/" {
            client
                .mkdir(&self.dir, &options)
                .await
                .map_err(|source| ElectionError::ZooKeeper {
                    node: self.dir.clone(),
                    source,
                })?;
        }
        let mut ours = self.create_node(client).await?;
        let mut states = client.state_watcher();
        loop {
            let queue = match queue(client, &self.dir, self.recipe).await {
                Ok(queue) => queue,
                Err(error) => match self
                    .after_error(&self.dir.clone(), error, &mut states)
                    .await?
                {
                    Some(ended) => return Ok(ended),
                    None => continue,
                },
            };
            let Some(position) = queue.iter().position(|node| *node == ours) else {
                // Our session lives but our node is gone (an operator
                // deleted it): take a new place in the queue.
                tracing::warn!(node = %ours, "our election node was deleted: joining again");
                ours = self.create_node(client).await?;
                continue;
            };
            let leader = self.read_leader(client, &queue).await;
            self.publish_leader(leader.clone());
            // The node we wait for: our predecessor, or (as leader) our own,
            // whose deletion by someone else would depose us.
            let watched = if position == 0 {
                self.set_role(Role::Leader { node: ours.clone() });
                ours.clone()
            } else {
                self.set_role(Role::Standby {
                    leader: leader.clone(),
                });
                queue[position - 1].clone()
            };
            let (exists, watcher) = match client.check_and_watch_stat(&watched).await {
                Ok(watched) => watched,
                Err(error) => match self.after_error(&watched, error, &mut states).await? {
                    Some(ended) => return Ok(ended),
                    None => continue,
                },
            };
            if exists.is_none() {
                continue; // gone already: look again
            }
            // To hear of each change of leader (see the module docs); for
            // the second in line, the leader is the predecessor already.
            let leader_watch = match (&leader, position) {
                (Some(leader), p) if p > 1 => match client.check_and_watch_stat(&leader.node).await
                {
                    Ok((Some(_), watcher)) => Some(watcher),
                    // Gone since we read the queue (a watch on a missing
                    // node would wait for its creation): look again.
                    Ok((None, _)) => continue,
                    Err(error) => match self.after_error(&leader.node, error, &mut states).await? {
                        Some(ended) => return Ok(ended),
                        None => continue,
                    },
                },
                _ => None,
            };
            let leader_changed = async {
                match leader_watch {
                    Some(watcher) => {
                        watcher.changed().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = watcher.changed() => {}
                _ = leader_changed => {}
                state = states.changed() => {
                    if state == zk::SessionState::Disconnected {
                        if let Some(ended) = self.wait_while_suspended(&mut states).await {
                            return Ok(ended);
                        }
                    } else if let Some(ended) = session_over(state) {
                        return Ok(ended);
                    }
                }
                request = self.requests.recv() => match request {
                    Some(Request::Resign) => {
                        tracing::info!(node = %ours, "resigning: taking a new place at the back of the queue");
                        // The new node first, so that we never stand
                        // outside the queue; then the old one goes.
                        let old = std::mem::replace(&mut ours, self.create_node(client).await?);
                        if let Err(error) = client.delete(&old, None).await {
                            if error != zk::Error::NoNode {
                                return Err(ElectionError::ZooKeeper { node: old, source: error });
                            }
                        }
                    }
                    Some(Request::Leave) | None => {
                        let _ = client.delete(&ours, None).await;
                        return Ok(Ended::Left);
                    }
                },
            }
        }
    }

    /// After a request failed: a data error ends this session's part (a
    /// new session starts over); a connection error means we are
    /// suspended until the session is back (`Ok(None)`: look at the
    /// election again) or over.
    async fn after_error(
        &mut self,
        node: &str,
        error: zk::Error,
        states: &mut zk::StateWatcher,
    ) -> Result<Option<Ended>, ElectionError> {
        if error == zk::Error::SessionExpired {
            return Ok(session_over(zk::SessionState::Expired));
        }
        if !connection_trouble(&error) {
            return Err(ElectionError::ZooKeeper {
                node: node.to_string(),
                source: error,
            });
        }
        if states.peek_state() != zk::SessionState::Disconnected {
            // The client may not have noticed yet: give it a moment rather
            // than asking again at once.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(self.wait_while_suspended(states).await)
    }

    /// Disconnected: suspended until the session is back (`None`: look at
    /// the election again; our node is still there) or over.
    async fn wait_while_suspended(&mut self, states: &mut zk::StateWatcher) -> Option<Ended> {
        let mut state = states.peek_state();
        while state == zk::SessionState::Disconnected {
            // Whatever we were, we cannot know it now: stop acting.
            self.set_role(Role::Suspended);
            state = tokio::select! {
                state = states.changed() => state,
                request = self.requests.recv() => match request {
                    // Nothing to give up while we hold nothing for sure.
                    Some(Request::Resign) => continue,
                    Some(Request::Leave) | None => return Some(Ended::Left),
                },
            };
        }
        session_over(state)
    }

    /// Creates our node. If the answer is lost, the node may exist all the
    /// same: it is found again (module docs) rather than created twice, as
    /// a forgotten node of ours ahead in the queue would block us for good.
    async fn create_node(&self, client: &zk::Client) -> Result<String, ElectionError> {
        let prefix = self.recipe.node_prefix(&self.dir);
        let options =
            zk::CreateMode::EphemeralSequential.with_acls(self.recipe.acls(self.digest.as_ref()));
        loop {
            match client.create(&prefix, self.id.as_bytes(), &options).await {
                Ok((_, sequence)) => return Ok(format!("{prefix}{sequence}")),
                Err(error) if connection_trouble(&error) => {
                    match self.find_created(client, &prefix).await {
                        Ok(Some(node)) => return Ok(node),
                        Ok(None) => {} // not created: create it
                        // We cannot tell yet: ask again in a moment.
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
                Err(source) => {
                    return Err(ElectionError::ZooKeeper {
                        node: prefix,
                        source,
                    });
                }
            }
        }
    }

    /// Our node created under `prefix`, if it was: by its UUID (Curator's
    /// protected mode) or by its owner, our session (Mesos' names).
    async fn find_created(
        &self,
        client: &zk::Client,
        prefix: &str,
    ) -> Result<Option<String>, zk::Error> {
        let (_, protected) = prefix.rsplit_once('/').expect("an absolute path");
        let children = client.list_children(&self.dir).await?;
        let dir = self.dir.trim_end_matches('/');
        for name in children.iter().filter(|c| c.starts_with(protected)) {
            let node = format!("{dir}/{name}");
            if self.recipe == Recipe::CuratorLatch {
                return Ok(Some(node));
            }
            match client.check_stat(&node).await? {
                Some(stat) if stat.ephemeral_owner == client.session_id().0 => {
                    return Ok(Some(node));
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// The participant of the first node in `queue` that still exists.
    async fn read_leader(&self, client: &zk::Client, queue: &[String]) -> Option<Participant> {
        for node in queue {
            if let Ok((data, _)) = client.get_data(node).await {
                let id = String::from_utf8_lossy(&data).into_owned();
                return Some(Participant {
                    node: node.clone(),
                    id,
                });
            }
        }
        None
    }

    fn set_role(&self, role: Role) {
        self.roles.send_if_modified(|current| {
            if *current == role {
                return false;
            }
            match &role {
                Role::Leader { node } => tracing::info!(%node, "elected: this instance leads"),
                Role::Standby { leader } => tracing::info!(
                    leader = leader
                        .as_ref()
                        .map_or("none".into(), |l| self.recipe.describe(l)),
                    "standby: waiting while another instance leads"
                ),
                Role::Suspended => {
                    tracing::warn!("disconnected from ZooKeeper: no longer acting as the leader")
                }
                Role::Joining => tracing::info!("joining the leader election"),
            }
            *current = role;
            true
        });
    }

    fn publish_leader(&self, leader: Option<Participant>) {
        self.leaders.send_if_modified(|current| {
            if *current == leader {
                return false;
            }
            let id = leader
                .as_ref()
                .map_or("none".into(), |l| self.recipe.describe(l));
            tracing::info!(leader = id, "the leader changed");
            *current = leader;
            true
        });
    }
}

/// Errors about the connection rather than the data: the session may be
/// fine, or not; its state will tell.
fn connection_trouble(error: &zk::Error) -> bool {
    matches!(
        error,
        zk::Error::ConnectionLoss
            | zk::Error::Timeout
            | zk::Error::SessionMoved
            | zk::Error::Custom(_)
            | zk::Error::UnexpectedError(_)
    )
}

/// The end of our part if `state` ends the session, `None` otherwise.
fn session_over(state: zk::SessionState) -> Option<Ended> {
    match state {
        zk::SessionState::Expired => Some(Ended::SessionLost(
            "the ZooKeeper session expired (our node is gone)".into(),
        )),
        zk::SessionState::Closed | zk::SessionState::AuthFailed => Some(Ended::SessionLost(
            format!("the ZooKeeper session ended ({state:?})"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_are_read_as_curator_reads_them() {
        assert_eq!(
            sequence("_c_0f8c1d5e-9a7b-4c3d-8e2f-1a2b3c4d5e6f-latch-0000000007"),
            Some(7)
        );
        assert_eq!(sequence("latch-0000000012"), Some(12));
        // Not election nodes: they take no part.
        for name in ["_c_x-lock-0000000001", "latch-", "latch-12a", "something"] {
            assert_eq!(sequence(name), None, "{name}");
        }
    }

    #[test]
    fn mesos_masters_are_json_info_nodes_straight_under_the_path() {
        let mesos = Recipe::MesosMaster;
        assert_eq!(mesos.dir("/mesos/"), "/mesos");
        assert_eq!(mesos.dir("/"), "/");
        assert_eq!(mesos.node_prefix("/mesos"), "/mesos/json.info_");
        assert_eq!(mesos.node_prefix("/"), "/json.info_");
        assert_eq!(mesos.sequence("json.info_0000000012"), Some(12));
        // The old protobuf nodes and other children take no part.
        for name in [
            "info_0000000001",
            "log_replicas",
            "json.info_",
            "json.info_x1",
        ] {
            assert_eq!(mesos.sequence(name), None, "{name}");
        }
        assert_eq!(Recipe::CuratorLatch.dir("/fw"), "/fw/leader");
    }
}
