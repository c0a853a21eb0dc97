//! Hears at once when someone else changes the stored instance count.
//!
//! The instance count is the one part of the state that others may change
//! (the conflict rule in the module docs above): an operator with
//! `zkCli.sh set <root>/state/instances 3`, or a web page. Every save
//! checks it, so a scheduler notices the change at its next write; but a
//! scheduler whose tasks all run may not write for hours. So this watches
//! the node, ZooKeeper's way: a one-time watch set with a read, which the
//! server fires at the node's next change (created, set or deleted), set
//! again each time. The scheduler then saves, the save's check finds the
//! new count, and the scheduler adopts it (`reload_after_conflict`).
//!
//! The watch runs in a task of its own, on a session of its own: waiting
//! for it never holds up the store's reads and writes, and a watch that
//! fires while the scheduler is busy is not lost (the next
//! [`CountWatch::changed`] completes at once).

use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle};
use zookeeper_client as zk;

use super::{INSTANCES, ZkUrl};
use crate::{backoff::Backoff, zookeeper};

/// Watches `<root>/state/instances` until dropped.
pub struct CountWatch {
    changes: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl CountWatch {
    /// Starts watching the instance count under `url`'s path. Never fails:
    /// while ZooKeeper is unreachable it tries again, with backoff.
    pub fn start(url: &ZkUrl) -> CountWatch {
        let (sender, changes) = watch::channel(0);
        let node = format!("{}/state/{INSTANCES}", url.path.trim_end_matches('/'));
        let task = tokio::spawn(watch_node(url.clone(), node, sender));
        CountWatch { changes, task }
    }

    /// Completes at the next change of the count (or at once if one came
    /// since the last call). Safe to cancel, as in a `select!`.
    pub async fn changed(&mut self) {
        if self.changes.changed().await.is_err() {
            // The task ended (it never does by itself): nothing will come.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for CountWatch {
    fn drop(&mut self) {
        // Closes the session, and with it the watch.
        self.task.abort();
    }
}

/// Sets a watch on `node`, and each time it fires, says so and sets it
/// again; on a new session after the old one is lost. A change while no
/// watch was set (between sessions) is reported too: the watch is set with
/// a read, and a count read that differs from the last one is a change.
async fn watch_node(url: ZkUrl, node: String, changes: watch::Sender<u64>) {
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
    let mut last_seen = None;
    loop {
        let connecting = zookeeper::connector(url.digest.as_ref()).connect(&url.servers);
        let client = match connecting.await {
            Ok(client) => client,
            Err(error) => {
                let delay = backoff.next_delay();
                tracing::debug!(%error, retry_in = ?delay, "cannot watch the instance count");
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        backoff.reset();
        loop {
            let (stat, watcher) = match client.check_and_watch_stat(&node).await {
                Ok(watched) => watched,
                Err(error) => {
                    tracing::debug!(%error, "the instance count's watch was lost: setting it again");
                    break; // a new session
                }
            };
            // The node's modification zxid: a change we missed while no
            // watch was set shows as a new one.
            let seen = stat.map(|stat| stat.mzxid);
            if last_seen.is_some_and(|last| last != seen) {
                changes.send_modify(|count| *count += 1);
            }
            last_seen = Some(seen);
            let event = watcher.changed().await;
            if event.event_type == zk::EventType::Session {
                break; // the session is over: its watches with it
            }
        }
    }
}
