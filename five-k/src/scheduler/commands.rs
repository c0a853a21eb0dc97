//! What each API request changes.
//!
//! Every change to an app is checked first and applied whole, or not at
//! all: a refused request leaves no trace. An accepted change becomes a
//! new version of the app and a deployment that makes the cluster match
//! it (see `deployment.rs`); the tasks themselves are launched and killed
//! later, as offers and status updates come (`offers.rs`, `converge.rs`).

use mesos::calls;

use super::{AppEntry, Scheduler, deployment::Deployment, launch, service_ports};
use crate::{
    app::{
        App, AppRequest, PathId,
        validate::{Invalid, Violation, validate},
    },
    events::Event,
};

/// Why a request was refused; the API turns it into Marathon's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// 404, with Marathon's message.
    NotFound(String),
    /// 409: an app with this id exists.
    AlreadyExists(String),
    /// 409: deployments are changing the app; `?force=true` overrides.
    Locked { deployments: Vec<String> },
    /// 422.
    Invalid(Invalid),
}

/// An accepted change: the app's new version and its deployment.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Submitted {
    pub version: String,
    pub deployment_id: String,
}

/// Marathon's 404 for an app.
pub fn unknown_app(id: &PathId) -> Refusal {
    Refusal::NotFound(format!("App '{id}' does not exist"))
}

impl Scheduler {
    /// `POST /v2/apps`: a new app.
    /// An app of this id may still be going away (a deployment deletes
    /// it): creating it anew is then a change under deployment, refused
    /// unless `force`.
    pub fn create_app(
        &mut self,
        request: AppRequest,
        force: bool,
    ) -> Result<(App, Submitted), Refusal> {
        let Some(id) = request.id.as_deref().map(PathId::parse) else {
            return Err(Refusal::Invalid(Invalid::Schema(vec![Violation::new(
                "/id",
                "error.path.missing",
            )])));
        };
        if self.apps.contains_key(&id) {
            return Err(Refusal::AlreadyExists(format!(
                "An app with id [{id}] already exists."
            )));
        }
        let version = self.versions.next(self.now);
        let app = App::create(id.clone(), request, &version);
        validate(&app).map_err(Refusal::Invalid)?;
        self.unlock(&id, force)?;
        let submitted = self.deploy(None, Some(app));
        let stored = self.apps[&id].app.clone();
        Ok((stored, submitted))
    }

    /// `PUT /v2/apps/{id}`: a partial update, or a rollback when the body
    /// names a `version`; creates the app if there is none (`created`).
    pub fn update_app(
        &mut self,
        id: &PathId,
        request: AppRequest,
        force: bool,
    ) -> Result<(Submitted, bool), Refusal> {
        let Some(entry) = self.apps.get(id) else {
            let mut request = request;
            request.id = Some(id.to_string());
            let (_, submitted) = self.create_app(request, force)?;
            return Ok((submitted, true));
        };
        let version = self.versions.next(self.now);
        let target = match &request.version {
            Some(old) => {
                // The current version is one of the app's versions too.
                let mut versions = std::iter::once(&entry.app).chain(&entry.versions);
                let Some(old_app) = versions.find(|app| &app.version == old) else {
                    return Err(unknown_version(id, old));
                };
                // A rollback is a change to an old configuration: a new
                // version with that definition, replacing the tasks.
                let mut target = old_app.clone();
                target.version = version.clone();
                target.version_info.last_scaling_at = version.clone();
                target.version_info.last_config_change_at = version.clone();
                target
            }
            None => entry.app.updated(request, &version),
        };
        validate(&target).map_err(Refusal::Invalid)?;
        self.unlock(id, force)?;
        let original = self.apps.get(id).map(|entry| entry.app.clone());
        Ok((self.deploy(original, Some(target)), false))
    }

    /// `DELETE /v2/apps/{id}`: stops every task and forgets the app.
    pub fn delete_app(&mut self, id: &PathId, force: bool) -> Result<Submitted, Refusal> {
        let original = self
            .apps
            .get(id)
            .map(|e| e.app.clone())
            .ok_or_else(|| unknown_app(id))?;
        self.unlock(id, force)?;
        Ok(self.deploy(Some(original), None))
    }

    /// `POST /v2/apps/{id}/restart`: replaces every task.
    pub fn restart_app(&mut self, id: &PathId, force: bool) -> Result<Submitted, Refusal> {
        let original = self
            .apps
            .get(id)
            .map(|e| e.app.clone())
            .ok_or_else(|| unknown_app(id))?;
        self.unlock(id, force)?;
        let version = self.versions.next(self.now);
        let target = original.restarted(&version);
        Ok(self.deploy(Some(original), Some(target)))
    }

    /// Kills tasks by id. With `scale`, each app's instance count drops by
    /// the number killed, in the same change (so that nothing replaces
    /// them), as a deployment; without it, the app replaces them.
    /// Returns the tasks killed and, with `scale`, the deployments.
    pub fn kill_tasks(
        &mut self,
        task_ids: &[String],
        scale: bool,
        force: bool,
    ) -> Result<(Vec<super::task::Task>, Vec<Submitted>), Refusal> {
        let mut killed = Vec::new();
        for task_id in task_ids {
            match self.tasks.get(task_id) {
                Some(task) => killed.push(task.clone()),
                None => {
                    return Err(Refusal::NotFound(format!(
                        "Task '{task_id}' does not exist"
                    )));
                }
            }
        }
        let mut submitted = Vec::new();
        if scale {
            let mut per_app: std::collections::BTreeMap<PathId, u32> = Default::default();
            // A task already being killed was taken off its app's count
            // already (`TaskKiller.killAndScale`).
            for task in killed.iter().filter(|task| !task.killing) {
                *per_app.entry(task.app_id.clone()).or_default() += 1;
            }
            for app_id in per_app.keys() {
                if self.apps.contains_key(app_id) {
                    self.unlock(app_id, force)?;
                }
            }
            for (app_id, count) in per_app {
                let Some(original) = self.apps.get(&app_id).map(|e| e.app.clone()) else {
                    continue;
                };
                let version = self.versions.next(self.now);
                let target = original.scaled(original.instances.saturating_sub(count), &version);
                submitted.push(self.deploy(Some(original), Some(target)));
            }
        }
        for task in &killed {
            self.kill(&task.id);
        }
        Ok((killed, submitted))
    }

    /// `DELETE /v2/deployments/{id}`: without `force`, a new deployment
    /// that takes the app back to where it was; with `force`, the
    /// deployment just stops, leaving the app as it is now.
    pub fn cancel_deployment(
        &mut self,
        id: &str,
        force: bool,
    ) -> Result<Option<Submitted>, Refusal> {
        let Some(deployment) = self.deployments.remove(id) else {
            return Err(Refusal::NotFound(format!(
                "DeploymentPlan {id} does not exist"
            )));
        };
        self.changes.deployments.insert(id.to_string());
        let timestamp = self.timestamp();
        self.publish(Event::deployment_failed(&timestamp, &deployment));
        if force {
            return Ok(None);
        }
        let current = self.apps.get(&deployment.app_id).map(|e| e.app.clone());
        let rollback = deployment.original.map(|mut app| {
            let version = self.versions.next(self.now);
            app.version = version.clone();
            app.version_info.last_scaling_at = version.clone();
            app.version_info.last_config_change_at = version;
            app
        });
        Ok(Some(self.deploy(current, rollback)))
    }

    /// Stores the change and starts its deployment.
    fn deploy(&mut self, original: Option<App>, target: Option<App>) -> Submitted {
        let version = match &target {
            Some(app) => app.version.clone(),
            None => self.versions.next(self.now),
        };
        let target = target.map(|mut app| {
            let id = app.id.clone();
            let others = self
                .apps
                .values()
                .map(|e| &e.app)
                .filter(|other| other.id != id);
            service_ports::assign(&mut app, original.as_ref(), others);
            app
        });
        let deployment = Deployment::new(original.clone(), target.clone(), &version);
        let app_id = deployment.app_id.clone();
        // A new configuration, a restart or a deletion forgives the app's
        // failures (`TaskReplaceActor.preStart`, `DeploymentActor`'s
        // stop): a scale keeps them.
        let config = |app: &Option<App>| app.as_ref().map(|a| a.config_version().to_string());
        if config(&original) != config(&target) {
            self.backoff.reset(&app_id);
        }
        match target {
            Some(app) => match self.apps.get_mut(&app_id) {
                Some(entry) => {
                    let previous = std::mem::replace(&mut entry.app, app);
                    entry.versions.push(previous);
                    if entry.versions.len() > super::MAX_VERSIONS {
                        entry.versions.remove(0);
                    }
                }
                None => {
                    self.apps.insert(
                        app_id.clone(),
                        AppEntry {
                            app,
                            versions: Vec::new(),
                            last_task_failure: None,
                        },
                    );
                }
            },
            None => {
                self.apps.remove(&app_id);
            }
        }
        self.changes.apps.insert(app_id.clone());
        self.changes.deployments.insert(deployment.id.clone());
        let submitted = Submitted {
            version,
            deployment_id: deployment.id.clone(),
        };
        let timestamp = self.timestamp();
        tracing::info!(
            app = %app_id,
            deployment = %deployment.id,
            "deployment started: {}",
            deployment.current_action().name()
        );
        self.publish(Event::deployment_info(&timestamp, &deployment));
        self.deployments.insert(deployment.id.clone(), deployment);
        self.dirty.insert(app_id);
        submitted
    }

    /// Refuses a change to an app under deployment, unless forced; a
    /// forced change ends those deployments (they failed, for clients).
    fn unlock(&mut self, app_id: &PathId, force: bool) -> Result<(), Refusal> {
        let blocking: Vec<String> = self.deployments_of(app_id).map(|d| d.id.clone()).collect();
        if blocking.is_empty() {
            return Ok(());
        }
        if !force {
            return Err(Refusal::Locked {
                deployments: blocking,
            });
        }
        let timestamp = self.timestamp();
        for id in blocking {
            if let Some(deployment) = self.deployments.remove(&id) {
                self.changes.deployments.insert(id);
                self.publish(Event::deployment_failed(&timestamp, &deployment));
            }
        }
        Ok(())
    }

    /// Kills a task; it stops counting for its app at once. The KILL is
    /// sent again until the task's end is reported (see `retry_kills`).
    pub(super) fn kill(&mut self, task_id: &str) {
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        if task.killing {
            return;
        }
        task.killing = true;
        let task = task.clone();
        self.dirty.insert(task.app_id.clone());
        self.send_kill(&task);
    }

    /// Sends one KILL, with the app's grace period.
    pub(super) fn send_kill(&mut self, task: &super::task::Task) {
        self.kills_sent.insert(task.id.clone(), self.instant);
        let grace = self
            .apps
            .get(&task.app_id)
            .and_then(|entry| entry.app.task_kill_grace_period_seconds)
            .map(launch::kill_policy);
        let agent_id = mesos::v1::AgentId {
            value: task.agent_id.clone(),
        };
        let task_id = mesos::v1::TaskId {
            value: task.id.clone(),
        };
        self.effects
            .calls
            .push(calls::kill(task_id, Some(agent_id), grace));
    }
}

fn unknown_version(id: &PathId, version: &str) -> Refusal {
    Refusal::NotFound(format!("App '{id}' does not exist in version {version}"))
}
