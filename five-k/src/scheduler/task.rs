//! Tasks: one running (or starting, or dying) instance of an app.
//!
//! 5K keeps a record of each task it launched until Mesos reports it
//! ended: where it runs, on which ports, since when, and which version of
//! its app it runs. Its id says which app it belongs to, so that an update
//! about a task can be traced to its app even if 5K has forgotten the
//! task (after a failover, say): `<app path with / as _>.<uuid>`, the form
//! Marathon used before instances (`Task.Id` in Marathon 1.3).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mesos::v1::TaskState;

use crate::app::PathId;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    pub app_id: PathId,
    pub agent_id: String,
    pub host: String,
    pub ports: Vec<u64>,
    pub service_ports: Vec<u32>,
    #[serde(with = "task_state")]
    pub state: TaskState,
    pub staged_at: String,
    pub started_at: Option<String>,
    /// The app version it was launched with.
    pub version: String,
    /// The app configuration it runs (see `VersionInfo`): tasks of an
    /// older one are replaced by the current deployment.
    pub config_version: String,
    /// A KILL was sent; it no longer counts toward the app's instances.
    pub killing: bool,
    /// What the last health check said: `None` before the first result,
    /// and for apps without health checks. Set by 5K's own checks (HTTP,
    /// HTTPS, TCP) or by the agent's (`TaskStatus.healthy`).
    #[serde(default)]
    pub healthy: Option<bool>,
    /// The agent's region, zone and attributes, which placement
    /// constraints compare (`placement.rs`).
    #[serde(default)]
    pub agent_info: super::placement::AgentInfo,
}

impl Task {
    /// A new task id for an app.
    pub fn new_id(app_id: &PathId) -> String {
        format!("{}.{}", app_id.safe_path(), uuid::Uuid::new_v4())
    }

    /// Whether it counts toward its app: alive and not being killed.
    pub fn is_active(&self) -> bool {
        !self.killing
    }

    pub fn is_running(&self) -> bool {
        self.state == TaskState::TaskRunning
    }

    /// Whether it serves its app: running, not being killed and, if the
    /// app has health checks, found healthy. Only such a task counts
    /// toward a rolling upgrade's healthy capacity or sits in HAProxy's
    /// backend: running is not the same as ready to answer.
    pub fn is_serving(&self, has_health_checks: bool) -> bool {
        self.is_running() && !self.killing && (!has_health_checks || self.healthy == Some(true))
    }
}

/// The tasks 5K knows, by id and by app: the API lists an app's tasks and
/// the scheduler counts them at every decision, so both must be cheap.
#[derive(Debug, Default)]
pub struct Tasks {
    by_id: HashMap<String, Task>,
    by_app: BTreeMap<PathId, BTreeMap<String, ()>>,
    /// Tasks changed since [`Tasks::take_changed`]: only those are
    /// written to ZooKeeper.
    changed: BTreeSet<String>,
}

impl Tasks {
    pub fn insert(&mut self, task: Task) {
        self.changed.insert(task.id.clone());
        self.by_app
            .entry(task.app_id.clone())
            .or_default()
            .insert(task.id.clone(), ());
        self.by_id.insert(task.id.clone(), task);
    }

    pub fn remove(&mut self, task_id: &str) -> Option<Task> {
        let task = self.by_id.remove(task_id)?;
        self.changed.insert(task_id.to_string());
        if let Some(ids) = self.by_app.get_mut(&task.app_id) {
            ids.remove(task_id);
            if ids.is_empty() {
                self.by_app.remove(&task.app_id);
            }
        }
        Some(task)
    }

    pub fn get(&self, task_id: &str) -> Option<&Task> {
        self.by_id.get(task_id)
    }

    /// A task to change: it counts as changed from now on.
    pub fn get_mut(&mut self, task_id: &str) -> Option<&mut Task> {
        let task = self.by_id.get_mut(task_id)?;
        self.changed.insert(task_id.to_string());
        Some(task)
    }

    /// The ids of the tasks changed (or removed) since the last call.
    pub fn take_changed(&mut self) -> BTreeSet<String> {
        std::mem::take(&mut self.changed)
    }

    /// An app's tasks, in id order.
    pub fn of_app<'a>(&'a self, app_id: &PathId) -> impl Iterator<Item = &'a Task> + 'a {
        self.by_app
            .get(app_id)
            .into_iter()
            .flat_map(|ids| ids.keys())
            .filter_map(|id| self.by_id.get(id))
    }

    /// Every task, grouped by app.
    pub fn all(&self) -> impl Iterator<Item = &Task> {
        self.by_app
            .values()
            .flat_map(|ids| ids.keys())
            .filter_map(|id| self.by_id.get(id))
    }
}

/// Task states stored as Mesos spells them (`TASK_RUNNING`).
mod task_state {
    use mesos::v1::TaskState;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(state: &TaskState, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(state.as_str_name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<TaskState, D::Error> {
        let name = String::deserialize(deserializer)?;
        TaskState::from_str_name(&name)
            .ok_or_else(|| D::Error::custom(format!("unknown task state {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_id_names_its_app() {
        let id = Task::new_id(&PathId::parse("/shop.eu/web"));
        let (app, uuid) = id.rsplit_once('.').unwrap();
        assert_eq!(app, "shop.eu_web");
        assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{id}");
    }
}
