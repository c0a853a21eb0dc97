//! `--zk`: the simulated master registers in ZooKeeper as a real Mesos
//! master does, so that frameworks find it with `--master zk://…/mesos`.
//!
//! A Mesos master started with `--zk zk://host:2181/mesos` *contends* for
//! leadership (`src/master/contender/zookeeper.cpp`): it creates an
//! ephemeral sequential node `/mesos/json.info_<sequence>` holding its
//! `MasterInfo` as JSON (`GroupProcess::doJoin`, `src/zookeeper/group.cpp`).
//! The lowest sequence leads; the others are standbys, which answer the
//! scheduler API and `/master/state` with a redirect to the leader, or
//! `503 No leader elected` while they know of none
//! (`Master::Http::redirect`). When the leader dies its session ends, its
//! node goes, and the next standby leads.
//!
//! A master that led and lost its place does not step down gracefully: it
//! exits ("Lost leadership... committing suicide!", `Master::detected` and
//! `Master::lostCandidacy` in `src/master/master.cpp`), since what it holds
//! in memory may now be stale. While merely disconnected from ZooKeeper it
//! keeps leading: Mesos' group waits out the session timeout before it
//! gives the membership up (`GroupProcess::reconnecting`).
//!
//! The election itself is the library's ([`mesos::leader`]), with Mesos'
//! node names ([`Recipe::MesosMaster`]); this module only turns its roles
//! into how the simulated master answers.

use std::time::Duration;

use http::StatusCode;
use mesos::{
    MasterAddr,
    detector::master_addr_from_json,
    leader::{Election, Recipe, Role},
    local::{Faults, LocalMaster},
    zookeeper::ZkUrl,
};

/// What the master does on a change of its role in the election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Serve frameworks.
    Lead,
    /// Redirect to the leader, or answer 503 while none is known.
    Standby { leader: Option<MasterAddr> },
    /// Carry on as before: the role says nothing new.
    Unchanged,
    /// Exit, as a Mesos master that lost leadership does.
    Abdicate,
}

/// The master's standing for its new `role`, given whether it has led.
pub fn standing(has_led: bool, role: &Role) -> Standing {
    match role {
        Role::Leader { .. } => Standing::Lead,
        // The session may live on: Mesos keeps leading until it expires.
        Role::Suspended => Standing::Unchanged,
        // Our node is gone (session expired, or deleted): another master
        // may lead already.
        Role::Joining | Role::Standby { .. } if has_led => Standing::Abdicate,
        Role::Joining => Standing::Standby { leader: None },
        Role::Standby { leader } => Standing::Standby {
            // The leader's node holds its MasterInfo; one we cannot read is
            // as good as none (the detector logs why).
            leader: leader
                .as_ref()
                .and_then(|leader| master_addr_from_json(leader.id.as_bytes()).ok()),
        },
    }
}

/// Joins the election of masters under `url`'s path with `master`'s
/// `MasterInfo`. Until elected the master is a standby.
pub fn join(url: &ZkUrl, master: &LocalMaster, session_timeout: Duration) -> Election {
    // Not leading yet: no framework may be served before the election says
    // so (a real master is not `elected()` until its detector says it is).
    stand_by(&master.faults(), None);
    let info = mesos::codec::to_json(&master.master_info());
    Election::join_as(Recipe::MesosMaster, url, &info, session_timeout)
}

/// Follows the election, setting how the master answers. Returns only
/// when this master, having led, lost leadership: the caller exits.
pub async fn follow(election: &Election, master: &LocalMaster) -> &'static str {
    let faults = master.faults();
    let mut roles = election.roles();
    let mut has_led = false;
    loop {
        let role = roles.borrow_and_update().clone();
        match standing(has_led, &role) {
            Standing::Lead => {
                if !has_led {
                    tracing::info!(master = %master.addr(), "elected as the leading master");
                }
                has_led = true;
                faults.fail_with(None);
                faults.redirect_to(None);
            }
            Standing::Standby { leader } => stand_by(&faults, leader),
            Standing::Unchanged => {}
            Standing::Abdicate => return "Lost leadership... committing suicide!",
        }
        if roles.changed().await.is_err() {
            // The election is over (we left it): nothing more will change.
            std::future::pending::<()>().await;
        }
    }
}

/// A standby answers as `Master::Http::redirect` does.
fn stand_by(faults: &Faults, leader: Option<MasterAddr>) {
    match leader {
        Some(leader) => {
            tracing::info!(%leader, "standby master: redirecting frameworks to the leader");
            faults.fail_with(None);
            faults.redirect_to(Some(leader));
        }
        None => {
            faults.redirect_to(None);
            faults.fail_with(Some(StatusCode::SERVICE_UNAVAILABLE));
        }
    }
}

#[cfg(test)]
mod tests {
    use mesos::{leader::Participant, master::Scheme};

    use super::*;

    fn standby_of(data: &str) -> Role {
        Role::Standby {
            leader: Some(Participant {
                node: "/mesos/json.info_0000000003".into(),
                id: data.into(),
            }),
        }
    }

    #[test]
    fn a_master_leads_only_when_elected() {
        let leader = Role::Leader {
            node: "/mesos/json.info_0000000004".into(),
        };
        assert_eq!(standing(false, &leader), Standing::Lead);
        assert_eq!(
            standing(false, &Role::Joining),
            Standing::Standby { leader: None }
        );
        let info = r#"{"id":"m","ip":16777343,"port":5050,
            "address":{"ip":"127.0.0.1","port":5050}}"#;
        assert_eq!(
            standing(false, &standby_of(info)),
            Standing::Standby {
                leader: Some(MasterAddr::new(Scheme::Http, "127.0.0.1", 5050))
            }
        );
        assert_eq!(
            standing(false, &standby_of("garbage")),
            Standing::Standby { leader: None }
        );
    }

    #[test]
    fn a_leader_that_loses_its_node_exits_but_rides_out_a_disconnection() {
        assert_eq!(standing(true, &Role::Suspended), Standing::Unchanged);
        assert_eq!(standing(false, &Role::Suspended), Standing::Unchanged);
        assert_eq!(standing(true, &Role::Joining), Standing::Abdicate);
        assert_eq!(standing(true, &standby_of("{}")), Standing::Abdicate);
    }
}
