//! Finding the leading master, and noticing when leadership moves.
//!
//! Mesos masters elect a leader through ZooKeeper. Each master creates an
//! *ephemeral sequential* znode under the masters' path, such as
//! `/mesos/json.info_0000000007`, holding its `MasterInfo` as JSON.
//! Ephemeral means ZooKeeper deletes the node when the master's session
//! ends (it crashed, or lost its network); sequential means ZooKeeper
//! appends an increasing number. The master with the lowest number leads
//! (`src/master/detector/zookeeper.cpp` in Mesos). When it dies its node
//! vanishes and the next lowest takes over: we watch the children of the
//! path so we hear of it at once, instead of polling.
//!
//! A path under which no master has *ever* registered is most often a
//! mistake (a typo in the path, a master started without `--zk`, or the
//! wrong ZooKeeper), and waiting on it is silent: nothing changes, so
//! nothing is said. The detector therefore says so after a few seconds,
//! and again now and then, naming what it found there.
//!
//! A [`MasterDetector`] turns any `--master` value into a stream of "the
//! leader is now X" notices, so the driver treats a fixed address and a
//! ZooKeeper-elected leader the same way.

use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle};
use zookeeper_client as zk;

use crate::{
    backoff::Backoff,
    codec,
    master::{MasterAddr, MasterSpec, Scheme},
    v1::MasterInfo,
    zookeeper::{self, ZkDigest},
};

/// The prefix of the znodes masters register under (older Mesos versions
/// also wrote protobuf `info_` nodes; those we skip, as Mesos does now).
pub const MASTER_INFO_PREFIX: &str = "json.info_";

/// How long a detector waits for a first master before it warns that none
/// has registered; the warning comes again after twice as long each time,
/// up to [`NO_MASTER_WARNING_MAX`].
pub const NO_MASTER_WARNING_AFTER: Duration = Duration::from_secs(5);

/// The longest interval between two "no master" warnings.
pub const NO_MASTER_WARNING_MAX: Duration = Duration::from_secs(300);

/// What the detector last saw under the masters' path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// ZooKeeper has not answered yet.
    NotYet,
    /// The path does not exist.
    NoPath,
    /// The path's children.
    Children(Vec<String>),
}

/// Why a detector could not start.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("cannot detect a master for {spec}: {reason}")]
    Unsupported { spec: String, reason: String },
}

/// Tells who the leading master is, as it changes.
pub struct MasterDetector {
    leader: watch::Receiver<Option<MasterAddr>>,
    _task: Option<AbortOnDrop>,
}

/// Stops the background watch when the detector is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl MasterDetector {
    /// A detector for a master given by address: it never changes (the
    /// master itself redirects us if it is not the leader).
    pub fn fixed(addr: MasterAddr) -> Self {
        let (_, leader) = watch::channel(Some(addr));
        MasterDetector {
            leader,
            _task: None,
        }
    }

    /// A detector that follows the leader elected in ZooKeeper.
    pub fn zookeeper(servers: &str, path: &str) -> Self {
        Self::zookeeper_with(servers, path, None)
    }

    /// Like [`MasterDetector::zookeeper`], the session authenticated with
    /// `digest` (masters whose nodes are readable only with credentials).
    pub fn zookeeper_with(servers: &str, path: &str, digest: Option<ZkDigest>) -> Self {
        let (sender, leader) = watch::channel(None);
        let (listing_sender, listing) = watch::channel(Listing::NotYet);
        let follow = follow_zookeeper(
            servers.to_string(),
            path.to_string(),
            digest,
            sender,
            listing_sender,
        );
        let warn = warn_until_a_master(
            servers.to_string(),
            path.to_string(),
            leader.clone(),
            listing,
        );
        let task = tokio::spawn(async move {
            tokio::join!(follow, warn);
        });
        MasterDetector {
            leader,
            _task: Some(AbortOnDrop(task)),
        }
    }

    /// A detector for an address or a `zk://` URL. `local` is started by
    /// [`crate::driver`], which owns the simulated master.
    pub fn new(spec: &MasterSpec) -> Result<Self, DetectError> {
        match spec {
            MasterSpec::Addr(addr) => Ok(Self::fixed(addr.clone())),
            MasterSpec::ZooKeeper {
                servers,
                path,
                digest,
            } => Ok(Self::zookeeper_with(servers, path, digest.clone())),
            MasterSpec::Local => Err(DetectError::Unsupported {
                spec: spec.to_string(),
                reason: "the simulated master is started by the driver, not detected".into(),
            }),
        }
    }

    /// The leader as last seen, if any.
    pub fn current(&self) -> Option<MasterAddr> {
        self.leader.borrow().clone()
    }

    /// Waits until a leader is known and returns it.
    pub async fn leader(&mut self) -> MasterAddr {
        loop {
            if let Some(leader) = self.leader.borrow_and_update().clone() {
                return leader;
            }
            if self.leader.changed().await.is_err() {
                // The watch ended; nothing will ever change again.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Waits until the leader differs from `current`, and returns the new
    /// one (`None`: no leader at the moment).
    pub async fn changed_from(&mut self, current: &MasterAddr) -> Option<MasterAddr> {
        loop {
            let leader = self.leader.borrow_and_update().clone();
            if leader.as_ref() != Some(current) {
                return leader;
            }
            if self.leader.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Warns while no master has ever been detected: after
/// [`NO_MASTER_WARNING_AFTER`], then twice as long each time. Once a
/// master was seen it returns for good (a master that goes away has a
/// warning of its own, in `publish`).
async fn warn_until_a_master(
    servers: String,
    path: String,
    mut leader: watch::Receiver<Option<MasterAddr>>,
    listing: watch::Receiver<Listing>,
) {
    let mut delay = NO_MASTER_WARNING_AFTER;
    let mut waited = Duration::ZERO;
    loop {
        match tokio::time::timeout(delay, leader.wait_for(Option::is_some)).await {
            // A master, or the detector is gone: nothing more to say.
            Ok(_) => return,
            Err(_) => {
                waited += delay;
                let listing = listing.borrow().clone();
                tracing::warn!("{}", no_master_warning(&servers, &path, &listing, waited));
                delay = (delay * 2).min(NO_MASTER_WARNING_MAX);
            }
        }
    }
}

/// The warning for a path where no master has registered in `waited`,
/// saying what is there instead.
pub fn no_master_warning(servers: &str, path: &str, listing: &Listing, waited: Duration) -> String {
    let found = match listing {
        Listing::NotYet => "ZooKeeper has not answered (is it running there?)".to_string(),
        Listing::NoPath => format!("the node {path} does not exist"),
        Listing::Children(children) if children.is_empty() => format!("{path} has no children"),
        Listing::Children(children) => format!(
            "{path} holds {}, none of them a master's {MASTER_INFO_PREFIX}<sequence> node \
             with a readable MasterInfo",
            children.join(", ")
        ),
    };
    format!(
        "no Mesos master has registered at zk://{servers}{path} in {}s: {found}. A master \
         registers there when started with --zk zk://{servers}{path} (mesos-master, or \
         mesos-local); is the path right?",
        waited.as_secs()
    )
}

/// Reads the leader out of ZooKeeper for as long as the detector lives,
/// reconnecting with backoff when the ZooKeeper session is lost.
async fn follow_zookeeper(
    servers: String,
    path: String,
    digest: Option<ZkDigest>,
    leader: watch::Sender<Option<MasterAddr>>,
    listing: watch::Sender<Listing>,
) {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(15));
    loop {
        match zookeeper::connector(digest.as_ref())
            .connect(&servers)
            .await
        {
            Ok(client) => {
                backoff.reset();
                let error = watch_masters(&client, &path, &leader, &listing).await;
                tracing::warn!(%error, %servers, "lost the ZooKeeper session used to find the master");
            }
            Err(error) => {
                tracing::warn!(%error, %servers, "cannot connect to ZooKeeper to find the master")
            }
        }
        // While we cannot see ZooKeeper we keep the last known leader: the
        // masters may be fine, and the driver will notice if they are not.
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// Watches the masters' znodes within one ZooKeeper session. Returns only
/// when the session is unusable.
async fn watch_masters(
    client: &zk::Client,
    path: &str,
    leader: &watch::Sender<Option<MasterAddr>>,
    listing: &watch::Sender<Listing>,
) -> zk::Error {
    loop {
        let (children, _, watcher) = match client.get_and_watch_children(path).await {
            Ok(listing) => listing,
            Err(zk::Error::NoNode) => {
                // No master has ever registered here yet. Wait for the path.
                listing.send_replace(Listing::NoPath);
                publish(leader, None);
                match client.check_and_watch_stat(path).await {
                    Ok((Some(_), _)) => continue,
                    Ok((None, watcher)) => {
                        if let Some(error) = session_ended(watcher.changed().await) {
                            return error;
                        }
                        continue;
                    }
                    Err(error) => return error,
                }
            }
            Err(error) => return error,
        };
        listing.send_replace(Listing::Children(children.clone()));
        match leading_master(client, path, &children).await {
            Ok(addr) => publish(leader, addr),
            Err(zk::Error::NoNode) => continue, // the leader just went; list again
            Err(error) => return error,
        }
        if let Some(error) = session_ended(watcher.changed().await) {
            return error;
        }
    }
}

/// The address of the master with the lowest sequence number, or `None` if
/// no master is registered (or its data is unreadable, which we log).
async fn leading_master(
    client: &zk::Client,
    path: &str,
    children: &[String],
) -> Result<Option<MasterAddr>, zk::Error> {
    let Some(node) = lowest_sequence(children) else {
        return Ok(None);
    };
    let node_path = format!("{}/{node}", path.trim_end_matches('/'));
    let (data, _) = client.get_data(&node_path).await?;
    match master_addr_from_json(&data) {
        Ok(addr) => {
            tracing::info!(%addr, znode = %node_path, "leading master detected");
            Ok(Some(addr))
        }
        Err(reason) => {
            tracing::error!(znode = %node_path, %reason, "cannot read the leading master's MasterInfo");
            Ok(None)
        }
    }
}

/// Of the `json.info_<sequence>` children, the one with the lowest sequence.
pub fn lowest_sequence(children: &[String]) -> Option<&str> {
    children
        .iter()
        .filter_map(|child| {
            let sequence = child.strip_prefix(MASTER_INFO_PREFIX)?;
            Some((sequence.parse::<u64>().ok()?, child.as_str()))
        })
        .min()
        .map(|(_, child)| child)
}

/// The HTTP address of a master from its `MasterInfo` JSON.
///
/// `address.ip` is preferred: it is the address the master advertises, and
/// it works even where the master's hostname does not resolve (a common
/// trap with VMs). Masters too old to write `address` have only the legacy
/// `ip`, a `uint32` in network byte order, and `port`.
pub fn master_addr_from_json(data: &[u8]) -> Result<MasterAddr, String> {
    let info: MasterInfo = codec::from_json(data).map_err(|e| e.to_string())?;
    if let Some(address) = &info.address {
        let host = address.ip.clone().or_else(|| address.hostname.clone());
        if let Some(host) = host.filter(|h| !h.is_empty()) {
            let port = u16::try_from(address.port)
                .map_err(|_| format!("invalid port {}", address.port))?;
            return Ok(MasterAddr::new(Scheme::Http, host, port));
        }
    }
    if info.ip != 0 {
        // The four bytes of the address lie in memory in network order, so
        // reading the u32 back as little-endian bytes on a little-endian
        // master gives them in order.
        let ip = std::net::Ipv4Addr::from(info.ip.to_le_bytes());
        let port = u16::try_from(info.port).map_err(|_| format!("invalid port {}", info.port))?;
        return Ok(MasterAddr::new(Scheme::Http, ip.to_string(), port));
    }
    Err("MasterInfo has neither address nor ip".into())
}

fn publish(leader: &watch::Sender<Option<MasterAddr>>, addr: Option<MasterAddr>) {
    leader.send_if_modified(|current| {
        if *current == addr {
            return false;
        }
        if addr.is_none() {
            tracing::warn!("no leading master registered in ZooKeeper");
        }
        *current = addr;
        true
    });
}

/// A watch fires with a session event when the session is over for good.
fn session_ended(event: zk::WatchedEvent) -> Option<zk::Error> {
    if event.event_type != zk::EventType::Session {
        return None;
    }
    match event.session_state {
        zk::SessionState::Expired => Some(zk::Error::SessionExpired),
        zk::SessionState::AuthFailed => Some(zk::Error::AuthFailed),
        zk::SessionState::Closed => Some(zk::Error::ClientClosed),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_sequence_ignores_other_children() {
        let children = [
            "log_replicas",
            "json.info_0000000012",
            "info_0000000001",
            "json.info_0000000009",
            "json.info_garbage",
        ]
        .map(String::from);
        assert_eq!(lowest_sequence(&children), Some("json.info_0000000009"));
        assert_eq!(lowest_sequence(&["log_replicas".to_string()]), None);
    }

    #[test]
    fn address_from_master_info_json() {
        let json = br#"{"id":"m1","ip":33819146,"port":5050,"hostname":"master",
            "address":{"hostname":"master","ip":"10.10.4.2","port":5050},"version":"1.11.0"}"#;
        assert_eq!(
            master_addr_from_json(json).unwrap(),
            MasterAddr::new(Scheme::Http, "10.10.4.2", 5050)
        );
        // The legacy fields alone: 33819146 is 10.10.4.2 in network order.
        let legacy = br#"{"id":"m1","ip":33819146,"port":5051}"#;
        assert_eq!(
            master_addr_from_json(legacy).unwrap(),
            MasterAddr::new(Scheme::Http, "10.10.4.2", 5051)
        );
    }

    #[test]
    fn the_no_master_warning_says_what_is_there() {
        let warning =
            |listing| no_master_warning("zk:2181", "/mesos", &listing, Duration::from_secs(5));
        let none = warning(Listing::NoPath);
        assert!(none.contains("zk://zk:2181/mesos in 5s"), "{none}");
        assert!(none.contains("the node /mesos does not exist"), "{none}");
        assert!(warning(Listing::Children(vec![])).contains("/mesos has no children"));
        let other = warning(Listing::Children(vec![
            "log_replicas".into(),
            "leader".into(),
        ]));
        assert!(
            other.contains("/mesos holds log_replicas, leader"),
            "{other}"
        );
        assert!(warning(Listing::NotYet).contains("ZooKeeper has not answered"));
    }

    #[test]
    fn bad_master_info_is_a_clear_error() {
        assert!(
            master_addr_from_json(b"not json")
                .unwrap_err()
                .contains("MasterInfo")
        );
        assert!(master_addr_from_json(br#"{"id":"m1","ip":0,"port":5050}"#).is_err());
    }
}
