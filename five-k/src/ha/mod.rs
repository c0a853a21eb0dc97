//! High availability: several 5K instances, one leader.
//!
//! As in step 04 of the workshop, the instances elect a leader in
//! ZooKeeper (`mesos::leader`). Only the leader subscribes to Mesos, owns
//! the scheduler and writes the state. A standby serves the API all the
//! same, by handing each request to the leader (`proxy.rs`), so that a
//! client may talk to any instance, as Marathon's `LeaderProxyFilter`
//! lets it.
//!
//! [`Leadership`] is what the API needs to know about the election: does
//! this instance lead, and if not, who does. Without `--zk` there is no
//! election and this instance always leads.

pub mod proxy;

use std::time::Duration;

use mesos::leader::{Participant, Role};
use tokio::sync::watch;

/// Who leads, as this instance sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// This instance.
    Me,
    /// Another instance, at `host:port`.
    Other(String),
    /// Nobody, or we cannot tell (an election in progress, ZooKeeper
    /// unreachable).
    Unknown,
}

#[derive(Clone)]
pub struct Leadership {
    /// How this instance is reached: `host:port` of its API.
    pub me: String,
    election: Option<(watch::Receiver<Role>, watch::Receiver<Option<Participant>>)>,
}

impl Leadership {
    /// An instance alone: it always leads.
    pub fn alone(me: String) -> Leadership {
        Leadership { me, election: None }
    }

    /// An instance taking part in an election.
    pub fn elected_by(
        me: String,
        roles: watch::Receiver<Role>,
        leaders: watch::Receiver<Option<Participant>>,
    ) -> Leadership {
        Leadership {
            me,
            election: Some((roles, leaders)),
        }
    }

    pub fn is_highly_available(&self) -> bool {
        self.election.is_some()
    }

    pub fn who(&self) -> Who {
        let Some((roles, leaders)) = &self.election else {
            return Who::Me;
        };
        if roles.borrow().is_leader() {
            return Who::Me;
        }
        match &*leaders.borrow() {
            // Our own node leads, but our role does not say so yet (or no
            // longer): a transition in progress.
            Some(leader) if leader.id == self.me => Who::Unknown,
            Some(leader) => Who::Other(leader.id.clone()),
            None => Who::Unknown,
        }
    }

    /// Who leads, waiting a little while it is unclear: Marathon holds a
    /// request back for up to 10 × 250 ms while leadership changes, rather
    /// than fail it at once (`waitForConsistentLeadership`).
    pub async fn settled(&self) -> Who {
        for _ in 0..10 {
            match self.who() {
                Who::Unknown => tokio::time::sleep(Duration::from_millis(250)).await,
                known => return known,
            }
        }
        self.who()
    }
}
