//! What must hold all along and at the end, whatever the faults.
//!
//! - [`check_apps`]: every app the API accepted exists with its last
//!   accepted definition, and a deleted one is gone (after any failover);
//! - [`Watcher`]: no app ever has more tasks than its upgrade strategy
//!   allows, checked in every state the master publishes, at the moment a
//!   task appears (a launch is the scheduler's decision; a kill in flight
//!   is not);
//! - [`Watcher`] too: no two alive tasks of one configuration of a
//!   `rack:UNIQUE` app on one rack (`racks.rs`), in every state;
//! - at the end (`main.rs`): every checked app healthy, and a task whose
//!   check is made to fail on the quiet cluster replaced;
//! - at the end (`main.rs`): every deployment ends, and each app runs
//!   exactly its instances.
//!
//! More invariants to add (5K has the features; the test does not check
//! them yet): no checked app below ⌈instances × minimumHealthCapacity⌉
//! serving tasks during a deployment once reached, probed by the test
//! itself on each task's port (5K's own view drops to nothing after a
//! leader failover, until its checks run again: not a fair witness),
//! exempting the app while a fault touches its tasks (a crash, a failed
//! check) and its scale-downs; the HAProxy backends equal the serving
//! tasks within a bound after the faults stop (`@1 show servers state`
//! through the master CLI, as `haproxy.rs`).

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use mesos::local::Snapshot;
use serde_json::Value;

use super::{
    model::{Definition, Models, Target},
    racks::Racks,
};

/// How long after a definition is superseded a task launched for it may
/// still appear in the master's state.
const LAUNCH_GRACE: Duration = Duration::from_secs(2);

/// The most tasks an app may have while a deployment replaces them, as
/// Marathon computes it (`TaskReplaceActor.scala`, `RestartStrategy`):
/// ⌊instances × (1 + maximumOverCapacity)⌋, plus one when that is also
/// the least healthy capacity ⌈instances × minimumHealthCapacity⌉ (or no
/// task could ever be replaced).
///
/// Written here, not taken from the scheduler (`deployment::restart_strategy`,
/// in a binary crate a test cannot link): an independent reading of
/// Marathon's rule, a little more lenient (the extra task whenever the
/// two are equal, where Marathon also asks that many be alive), so that
/// any excess it finds is one Marathon would not allow either.
pub fn maximum_capacity(definition: &Definition) -> u32 {
    let instances = f64::from(definition.instances);
    let minimum_healthy = (instances * definition.minimum_health_capacity).ceil() as u32;
    let maximum = (instances * (1.0 + definition.maximum_over_capacity)).floor() as u32;
    if minimum_healthy == maximum {
        maximum + 1
    } else {
        maximum
    }
}

/// The app a task belongs to: Marathon's task ids are the app's path with
/// `_` for `/`, a dot, and a UUID (`/chaos/app-1` → `chaos_app-1.…`).
pub fn app_of_task(task_id: &str) -> String {
    let safe_path = task_id.split_once('.').map_or(task_id, |(path, _)| path);
    format!("/{}", safe_path.replace('_', "/"))
}

/// Watches every state the master publishes.
pub struct Watcher {
    models: Arc<Mutex<Models>>,
    seen: BTreeSet<String>,
    pub racks: Racks,
    pub violations: Vec<String>,
    /// The most tasks of one app seen at once, for the run's account.
    pub most_tasks: usize,
}

impl Watcher {
    pub fn new(models: Arc<Mutex<Models>>) -> Watcher {
        Watcher {
            models,
            seen: BTreeSet::new(),
            racks: Racks::default(),
            violations: Vec::new(),
            most_tasks: 0,
        }
    }

    pub fn look(&mut self, state: &Snapshot, now: Instant) {
        let alive: Vec<_> = state
            .tasks
            .iter()
            .filter(|t| !t.state.is_terminal() && !t.unreachable && !t.completed)
            .collect();
        let new: Vec<String> = alive
            .iter()
            .filter(|t| !self.seen.contains(&t.id))
            .map(|t| t.id.clone())
            .collect();
        let models = self.models.lock().unwrap();
        let crowded = self.racks.look(&alive, &models, now, LAUNCH_GRACE);
        self.violations.extend(crowded);
        for task_id in new {
            self.seen.insert(task_id.clone());
            let app = app_of_task(&task_id);
            let count = alive.iter().filter(|t| app_of_task(&t.id) == app).count();
            self.most_tasks = self.most_tasks.max(count);
            let bound = models.get(&app).map_or(0, |model| {
                model
                    .definitions_at(now, LAUNCH_GRACE)
                    .map(maximum_capacity)
                    .max()
                    .unwrap_or(0)
            });
            if count as u32 > bound {
                self.violations.push(format!(
                    "{app}: task {task_id} launched with {count} alive, above the maximum capacity {bound}"
                ));
            }
        }
    }
}

/// Checks the apps `GET /v2/apps` listed against what the client knows.
/// Returns what went wrong, in words.
pub fn check_apps(models: &Models, listed: &Value) -> Vec<String> {
    let mut violations = Vec::new();
    let Some(apps) = listed["apps"].as_array() else {
        return vec![format!("GET /v2/apps is not a list of apps: {listed}")];
    };
    let shown: Vec<(String, Definition)> = apps
        .iter()
        .map(|app| {
            let id = app["id"].as_str().unwrap_or_default().to_string();
            (id, Definition::from_app(app))
        })
        .collect();
    for (id, model) in models {
        let state: Target = shown
            .iter()
            .find(|(shown_id, _)| shown_id == id)
            .map(|(_, definition)| definition.clone());
        if !model.allows(&state) {
            violations.push(format!(
                "{id} is {state:?}, but the client knows it as one of {:?}; its latest requests:\n{}",
                model.possible,
                Vec::from(model.log.clone()).join("\n")
            ));
        }
    }
    for (id, _) in &shown {
        if !models.contains_key(id) {
            violations.push(format!("{id} exists, but no client created it"));
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(instances: u32, minimum: f64, over: f64) -> Definition {
        Definition {
            cmd: "x".into(),
            env: Default::default(),
            instances,
            minimum_health_capacity: minimum,
            maximum_over_capacity: over,
            rack_unique: false,
            health: false,
        }
    }

    #[test]
    fn the_maximum_capacity_is_marathons() {
        assert_eq!(maximum_capacity(&definition(3, 1.0, 1.0)), 6);
        assert_eq!(maximum_capacity(&definition(3, 0.5, 0.5)), 4);
        // Neither a task more nor fewer healthy: one more, or no progress.
        assert_eq!(maximum_capacity(&definition(3, 1.0, 0.0)), 4);
        assert_eq!(maximum_capacity(&definition(0, 1.0, 1.0)), 1);
        assert_eq!(app_of_task("chaos_app-1.1234-5678"), "/chaos/app-1");
    }
}
