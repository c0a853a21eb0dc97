//! 5K's state in ZooKeeper: apps, deployments, tasks.
//!
//! A 5K that dies must leave enough behind for the next one (restarted, or
//! a standby just elected) to carry on: every app and its versions, the
//! deployments in progress, and every task launched, so that nothing is
//! launched twice and nothing is forgotten. The library's
//! [`StateStore`](mesos::state::StateStore) keeps it, as steps 02 to 04
//! teach: one node per item, every write a compare-and-set, several
//! changes all or nothing, and every write *fenced* by the leader's
//! election node, so that a deposed leader can write nothing.
//!
//! ```text
//! <root>/state/framework_id
//! <root>/state/apps/<app id, / as _>      {"app": …, "versions": […], "lastTaskFailure": …}
//! <root>/state/deployments/<uuid>         a deployment in progress
//! <root>/state/app-tasks/<task id>        a task: app, agent, host, ports, state, version…
//! ```
//!
//! Write-ahead: the edge saves what a batch of decisions changed *before*
//! it sends their calls or answers the API. A launch whose record could
//! not be written is never sent; a client is told 201 only once its app
//! is stored.

use std::collections::BTreeMap;

use mesos::state::{StateError, StateStore, ZkUrl};
use serde::{Serialize, de::DeserializeOwned};

use crate::scheduler::{Changes, Scheduler, task::Task};

const APPS: &str = "apps";
const DEPLOYMENTS: &str = "deployments";
const TASKS: &str = "app-tasks";

pub struct Store {
    state: StateStore,
}

impl Store {
    /// Connects, fences every write with the leader's `election_node`, and
    /// reads the state into a scheduler that carries on from it.
    pub async fn open(
        url: &ZkUrl,
        election_node: String,
    ) -> Result<(Store, Scheduler), StateError> {
        let mut state =
            StateStore::connect_with_collections(url, &[APPS, DEPLOYMENTS, TASKS]).await?;
        state.fence_with(Some(election_node));
        let loaded = state.load().await?;
        let apps = decode_all(url, APPS, &loaded.collections)?;
        let deployments = decode_all(url, DEPLOYMENTS, &loaded.collections)?;
        let tasks: Vec<Task> = decode_all(url, TASKS, &loaded.collections)?;
        tracing::info!(
            apps = apps.len(),
            deployments = deployments.len(),
            tasks = tasks.len(),
            "state read from ZooKeeper"
        );
        let scheduler = Scheduler::restore(loaded.framework_id, apps, deployments, tasks);
        Ok((Store { state }, scheduler))
    }

    /// Writes what changed, all or nothing.
    pub async fn save(
        &mut self,
        scheduler: &Scheduler,
        changes: &Changes,
    ) -> Result<(), StateError> {
        let mut items: BTreeMap<(String, String), Option<Vec<u8>>> = BTreeMap::new();
        for app_id in &changes.apps {
            let data = scheduler.app(app_id).map(encode);
            items.insert((APPS.into(), app_id.safe_path()), data);
        }
        for id in &changes.deployments {
            let data = scheduler.deployment(id).map(encode);
            items.insert((DEPLOYMENTS.into(), id.clone()), data);
        }
        for id in &changes.tasks {
            let data = scheduler.tasks().get(id).map(encode);
            items.insert((TASKS.into(), id.clone()), data);
        }
        self.state
            .save_items(scheduler.framework_id(), &items)
            .await
    }
}

fn encode(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("5K's records serialize")
}

/// Every item of a collection, or the first one that does not parse,
/// named: guessing at a record could launch an app twice or forget one.
fn decode_all<T: DeserializeOwned>(
    url: &ZkUrl,
    collection: &str,
    collections: &BTreeMap<String, BTreeMap<String, Vec<u8>>>,
) -> Result<Vec<T>, StateError> {
    let Some(items) = collections.get(collection) else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|(name, data)| {
            serde_json::from_slice(data).map_err(|error| StateError::BadData {
                node: format!(
                    "{}/state/{collection}/{name}",
                    url.path.trim_end_matches('/')
                ),
                reason: error.to_string(),
            })
        })
        .collect()
}
