//! Deployments: a change to an app, from the moment it is asked for until
//! the cluster matches it.
//!
//! Changing an app's definition is instant; making the cluster match it is
//! not: tasks must be launched, replaced or killed, and any of that can
//! fail and be retried. Marathon makes each change a *deployment* with an
//! id, listed in `GET /v2/deployments` until the app's tasks match the
//! new definition. While one runs, another change to the same app is
//! refused (409) unless forced, so that two changes never fight over the
//! same tasks; a deployment can be cancelled, which rolls the app back.
//!
//! A deployment is a list of *steps*, each with *actions* on apps, the
//! shape clients read (`DeploymentPlan.scala`, and the `Deployment` type
//! of the REST API).

use serde_json::{Value, json};

use crate::app::{App, PathId};

/// What a step does to an app, in Marathon's words (its names end
/// alike because Marathon has pod actions too).
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Action {
    StartApplication,
    ScaleApplication,
    RestartApplication,
    StopApplication,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::StartApplication => "StartApplication",
            Action::ScaleApplication => "ScaleApplication",
            Action::RestartApplication => "RestartApplication",
            Action::StopApplication => "StopApplication",
        }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    pub version: String,
    pub app_id: PathId,
    /// One action per step, for this one app.
    pub steps: Vec<Action>,
    /// 1-based, as clients see it; steps before it are done.
    pub current_step: usize,
    /// The app before the change (`None`: it did not exist).
    pub original: Option<App>,
    /// The app after it (`None`: it is being deleted).
    pub target: Option<App>,
}

impl Deployment {
    /// The deployment that takes `original` to `target`.
    pub fn new(original: Option<App>, target: Option<App>, version: &str) -> Deployment {
        let app_id = target
            .as_ref()
            .or(original.as_ref())
            .map(|app| app.id.clone())
            .expect("a deployment changes an app");
        let steps = match (&original, &target) {
            // A new app is first stored, then scaled to its instances.
            (None, Some(_)) => vec![Action::StartApplication, Action::ScaleApplication],
            (Some(_), None) => vec![Action::StopApplication],
            (Some(old), Some(new)) if old.config_version() == new.config_version() => {
                vec![Action::ScaleApplication]
            }
            _ => vec![Action::RestartApplication],
        };
        let mut deployment = Deployment {
            id: uuid::Uuid::new_v4().to_string(),
            version: version.to_string(),
            app_id,
            steps,
            current_step: 1,
            original,
            target,
        };
        // Starting an app is storing it, which is done by now.
        if deployment.steps[0] == Action::StartApplication {
            deployment.current_step = 2;
        }
        deployment
    }

    pub fn current_action(&self) -> Action {
        self.steps[self.current_step.min(self.steps.len()) - 1]
    }

    /// `GET /v2/deployments`'s shape, which marathon-python parses.
    pub fn to_json(&self) -> Value {
        let app = self.app_id.to_string();
        json!({
            "id": self.id,
            "version": self.version,
            "affectedApps": [app],
            "affectedPods": [],
            "steps": self.steps.iter().map(|action| json!({
                "actions": [{"action": action.name(), "app": app}]
            })).collect::<Vec<_>>(),
            "currentActions": [{
                "action": self.current_action().name(),
                "app": app,
                "readinessCheckResults": [],
            }],
            "currentStep": self.current_step,
            "totalSteps": self.steps.len(),
        })
    }

    /// The `plan` of deployment events: Marathon 1.7's shape, with the
    /// `original` and `target` groups marathon-python requires.
    pub fn plan_json(&self) -> Value {
        let group = |app: &Option<App>| {
            json!({
                "id": "/",
                "version": self.version,
                "apps": app.iter().collect::<Vec<_>>(),
                "groups": [],
                "pods": [],
                "dependencies": [],
            })
        };
        json!({
            "id": self.id,
            "version": self.version,
            "original": group(&self.original),
            "target": group(&self.target),
            "steps": self.steps.iter().map(|action| json!({
                "actions": [{"action": action.name(), "app": self.app_id.to_string()}]
            })).collect::<Vec<_>>(),
        })
    }

    pub fn current_step_json(&self) -> Value {
        json!({"actions": [{"action": self.current_action().name(), "app": self.app_id.to_string()}]})
    }
}
