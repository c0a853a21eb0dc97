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

/// The bounds a deployment keeps an app within while it replaces tasks:
/// at least `min_serving` tasks serving (`Task::is_serving`), at most
/// `max_running` tasks alive. Health checks killing unhealthy tasks
/// obey the same bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity {
    pub min_serving: usize,
    pub max_running: usize,
}

/// The app's bounds, from its `upgradeStrategy`
/// (`TaskReplaceActor.computeRestartStrategy`): ⌈instances ×
/// minimumHealthCapacity⌉ serving, ⌊instances × (1 +
/// maximumOverCapacity)⌋ alive, plus one when the two are equal, or no
/// task could ever be replaced without going below the minimum.
///
/// Marathon adds that one only if the app already runs that many tasks
/// when the deployment starts (with fewer, a new task fits without it);
/// [`restart_strategy`] does so too. This is the bound whatever the app
/// runs: the one a check of "never above the maximum" must use.
// Read by the property tests, and by whoever kills tasks outside a
// deployment (unhealthy ones) and must keep the app within the bounds.
#[cfg_attr(not(test), allow(dead_code))]
pub fn capacity(app: &App) -> Capacity {
    let (min_serving, max_running) = bounds(app);
    Capacity {
        min_serving,
        max_running: max_running + usize::from(min_serving == max_running),
    }
}

/// The bounds for an app that has `alive` tasks now, exactly as
/// `computeRestartStrategy` computes its `maxCapacity` (the one over
/// only when needed). Its `nrToKillImmediately` is what `replace.rs`
/// derives from the serving count.
pub fn restart_strategy(app: &App, alive: usize) -> Capacity {
    let (min_serving, mut max_running) = bounds(app);
    if min_serving == max_running && max_running <= alive {
        max_running += 1;
    }
    Capacity {
        min_serving,
        max_running,
    }
}

/// ⌈instances × minimumHealthCapacity⌉ and ⌊instances × (1 +
/// maximumOverCapacity)⌋, as Scala's `.ceil.toInt` and `.toInt`.
fn bounds(app: &App) -> (usize, usize) {
    let instances = f64::from(app.instances);
    let strategy = app.upgrade_strategy;
    let min_serving = (instances * strategy.minimum_health_capacity).ceil() as usize;
    let max_running = (instances * (1.0 + strategy.maximum_over_capacity)) as usize;
    (min_serving, max_running)
}

#[cfg(test)]
mod tests {
    //! `RestartStrategyTest.scala`'s cases for apps (5K has no resident
    //! tasks, whose rule differs).
    use super::*;
    use crate::app::AppRequest;

    fn app(instances: u32, min: f64, over: f64) -> App {
        let json = format!(
            r#"{{"cmd": "x", "instances": {instances}, "upgradeStrategy": {{"minimumHealthCapacity": {min}, "maximumOverCapacity": {over}}}}}"#
        );
        let request: AppRequest = serde_json::from_str(&json).unwrap();
        App::create(PathId::parse("/app"), request, "2026-12-06T00:00:00.000Z")
    }

    fn strategy(app: &App, alive: usize) -> (usize, usize) {
        let capacity = restart_strategy(app, alive);
        (capacity.min_serving, capacity.max_running)
    }

    #[test]
    fn one_instance_may_go_one_over_to_be_replaced() {
        // "strategy for normal app with 1 instance": 0 killed at once.
        assert_eq!(strategy(&app(1, 0.5, 0.0), 1), (1, 2));
        // "... and no tasks running": a new task fits as it is.
        assert_eq!(strategy(&app(1, 0.5, 0.0), 0), (1, 1));
    }

    #[test]
    fn no_over_capacity_when_a_task_can_be_killed_first() {
        // "maxCapacity strategy for normal app is not exceeded when a
        // task can be killed immediately": 2 - ⌈1⌉ = 1 killed at once.
        assert_eq!(strategy(&app(2, 0.5, 0.0), 2), (1, 2));
        // "less running tasks than actual instance count and less than
        // min health capacity".
        assert_eq!(strategy(&app(10, 0.1, 0.0), 1), (1, 10));
    }

    #[test]
    fn over_capacity_scales_the_maximum() {
        // "max over capacity 1" and the replace tests' strategies.
        assert_eq!(strategy(&app(10, 0.1, 1.0), 10), (1, 20));
        // "maxOverCapacity 1 and minHealth 1".
        assert_eq!(strategy(&app(10, 1.0, 1.0), 10), (10, 20));
        assert_eq!(strategy(&app(3, 1.0, 0.7), 3), (3, 5));
        assert_eq!(strategy(&app(3, 1.0, 0.3), 4), (3, 4));
        assert_eq!(strategy(&app(3, 0.5, 0.0), 3), (2, 3));
        assert_eq!(strategy(&app(4, 0.5, 1.0), 4), (2, 8));
    }

    #[test]
    fn the_bound_for_checks_adds_the_one_whatever_runs() {
        let bound = capacity(&app(1, 0.5, 0.0));
        assert_eq!((bound.min_serving, bound.max_running), (1, 2));
        let default = capacity(&app(4, 1.0, 1.0));
        assert_eq!((default.min_serving, default.max_running), (4, 8));
    }
}
