//! Replacing an app's tasks without taking it down: the rolling rule.
//!
//! A new configuration (or a restart) means every task must be replaced.
//! Killing them all first takes the service down; starting all the new
//! ones first needs twice the cluster. Marathon's `TaskReplaceActor`
//! does neither: it keeps at least `min_serving` tasks serving and never
//! more than `max_running` alive (`deployment::capacity`), kills old
//! tasks down to the minimum at once, starts new ones in the room left,
//! and kills one more old task each time a new one comes to serve.
//!
//! 5K decides afresh from the tasks it knows at each batch instead of
//! keeping a replace actor's counters: the same rule, stated on counts,
//! which a new leader applies as well as the old one did (Marathon's
//! actor recomputes them after a failover too, `instancesAlreadyStarted`).
//! - old tasks kept: `min_serving` minus the new tasks serving (an old
//!   task counts whatever its state, as in Marathon);
//! - new tasks launched: as many as are missing, within `max_running`
//!   counting every task still alive, killed ones too until Mesos says
//!   they ended (a KILL takes a grace period; the agent has them until
//!   then).

use super::{deployment, task::Task};
use crate::app::{App, KillSelection};

/// What an app's tasks need now.
#[derive(Debug, Default, PartialEq)]
pub struct Replacement {
    /// Tasks to kill: extras of the current configuration, and old tasks
    /// no longer needed to keep the minimum serving.
    pub kill: Vec<Task>,
    /// How many tasks of the current configuration to launch.
    pub launch: usize,
}

/// The rolling rule for `app` with `tasks`: every task 5K knows of the
/// app, being killed or not. `failed` says which failed their health
/// checks: those are replaced as if gone but still take room until
/// killed, and `health.rs` decides when they go.
pub fn plan(app: &App, tasks: &[Task], failed: impl Fn(&Task) -> bool + Copy) -> Replacement {
    let has_health_checks = !app.health_checks.is_empty();
    let config = app.config_version();
    let wanted = app.instances as usize;
    let selection = app.kill_selection;
    let alive: Vec<Task> = tasks
        .iter()
        .filter(|t| !t.killing && !failed(t))
        .cloned()
        .collect();
    let (current, old): (Vec<Task>, Vec<Task>) =
        alive.into_iter().partition(|t| t.config_version == config);
    // Extras of the current configuration: the app was scaled down.
    let mut kill = beyond(current.clone(), wanted, selection);
    let serving = current
        .iter()
        .filter(|t| t.is_serving(has_health_checks) && !kill.contains(t))
        .count();
    let capacity = deployment::restart_strategy(app, tasks.len());
    let kept = current.len().min(wanted);
    // Old tasks hold the minimum until new ones serve in their place,
    // and never make the app exceed its maximum (a rollback or scale
    // during a deployment can lower it below what runs).
    let keep_old = capacity
        .min_serving
        .saturating_sub(serving)
        .min(capacity.max_running.saturating_sub(kept));
    kill.extend(beyond(old, keep_old, selection));
    Replacement {
        kill,
        launch: launch_count(app, tasks.iter(), failed),
    }
}

/// How many tasks of the current configuration `app` may launch now: the
/// missing ones, within its maximum. Counts only, as offers ask it of
/// every waiting app each round. A task that `failed` its health checks
/// is missing, though alive.
pub fn launch_count<'a>(
    app: &App,
    tasks: impl Iterator<Item = &'a Task>,
    failed: impl Fn(&Task) -> bool,
) -> usize {
    let config = app.config_version();
    let (mut current, mut alive) = (0, 0);
    for task in tasks {
        alive += 1;
        if !task.killing && task.config_version == config && !failed(task) {
            current += 1;
        }
    }
    let missing = (app.instances as usize).saturating_sub(current);
    let room = deployment::restart_strategy(app, alive)
        .max_running
        .saturating_sub(alive);
    missing.min(room)
}

/// The tasks beyond the first `keep` to spare, in kill order: tasks not
/// yet running first (killing them loses no work), then by `selection`.
pub fn beyond(mut tasks: Vec<Task>, keep: usize, selection: KillSelection) -> Vec<Task> {
    let count = tasks.len().saturating_sub(keep);
    tasks.sort_by(|a, b| {
        let by_age = a.staged_at.cmp(&b.staged_at).then_with(|| a.id.cmp(&b.id));
        a.is_running().cmp(&b.is_running()).then(match selection {
            KillSelection::YoungestFirst => by_age.reverse(),
            KillSelection::OldestFirst => by_age,
        })
    });
    tasks.truncate(count);
    tasks
}

#[cfg(test)]
mod tests {
    //! `TaskReplaceActorTest.scala`'s cases, on a tiny cluster where a
    //! kill is confirmed at once (as its `KillServiceMock` does) unless a
    //! test says otherwise.
    use mesos::v1::TaskState;

    use super::*;
    use crate::app::{AppRequest, PathId};

    struct Cluster {
        app: App,
        tasks: Vec<Task>,
        killed: usize,
        /// The size of each launch, as `launchQueue.add(app, n)`.
        launches: Vec<usize>,
        confirm_kills: bool,
        next_id: usize,
    }

    impl Cluster {
        /// `old` tasks of an older configuration, `new` running ones of
        /// the app's, replaced with `upgradeStrategy(min, over)`.
        fn new(instances: u32, min: f64, over: f64, health: bool, old: usize) -> Cluster {
            let checks = if health {
                r#", "healthChecks": [{"protocol": "HTTP"}]"#
            } else {
                ""
            };
            let json = format!(
                r#"{{"cmd": "x", "instances": {instances}, "upgradeStrategy": {{"minimumHealthCapacity": {min}, "maximumOverCapacity": {over}}}{checks}}}"#
            );
            let request: AppRequest = serde_json::from_str(&json).unwrap();
            let app = App::create(PathId::parse("/app"), request, "2026-12-06T00:00:01.000Z");
            let mut cluster = Cluster {
                app,
                tasks: Vec::new(),
                killed: 0,
                launches: Vec::new(),
                confirm_kills: true,
                next_id: 0,
            };
            for _ in 0..old {
                cluster.add(
                    "2026-12-06T00:00:00.000Z",
                    TaskState::TaskRunning,
                    Some(true),
                );
            }
            cluster
        }

        fn add(&mut self, config: &str, state: TaskState, healthy: Option<bool>) {
            self.next_id += 1;
            self.tasks.push(Task {
                id: format!("app.{:03}", self.next_id),
                app_id: self.app.id.clone(),
                agent_id: "agent-1".into(),
                host: "agent-1".into(),
                ports: vec![],
                service_ports: vec![],
                state,
                staged_at: format!("2026-12-06T00:00:{:02}.000Z", self.next_id),
                started_at: None,
                version: config.into(),
                config_version: config.into(),
                killing: false,
                healthy,
                agent_info: Default::default(),
            });
        }

        /// Applies the rule until it asks for nothing more.
        fn settle(&mut self) {
            loop {
                let replacement = plan(&self.app, &self.tasks, |_| false);
                let bound = deployment::capacity(&self.app).max_running;
                if replacement.kill.is_empty() && replacement.launch == 0 {
                    return;
                }
                for task in replacement.kill {
                    self.killed += 1;
                    let index = self.tasks.iter().position(|t| t.id == task.id).unwrap();
                    if self.confirm_kills {
                        self.tasks.remove(index);
                    } else {
                        self.tasks[index].killing = true;
                    }
                }
                if replacement.launch > 0 {
                    self.launches.push(replacement.launch);
                    let config = self.app.config_version().to_string();
                    for _ in 0..replacement.launch {
                        self.add(&config, TaskState::TaskStaging, None);
                    }
                }
                let alive = self.tasks.iter().filter(|t| !t.killing).count();
                assert!(alive <= bound, "{alive} alive, at most {bound}");
            }
        }

        /// The next new task that does not serve yet runs (and passes its
        /// checks, if any): `f.healthChanged(newApp, healthy = true)`.
        fn serve_next(&mut self) {
            let config = self.app.config_version().to_string();
            let task = self
                .tasks
                .iter_mut()
                .find(|t| t.config_version == config && !t.is_serving(true))
                .expect("a new task that does not serve yet");
            task.state = TaskState::TaskRunning;
            task.healthy = Some(true);
            self.settle();
        }

        fn old_left(&self) -> usize {
            let config = self.app.config_version();
            self.tasks
                .iter()
                .filter(|t| t.config_version != config)
                .count()
        }
    }

    #[test]
    fn replace_without_health_checks_kills_all_at_once_with_no_minimum() {
        let mut cluster = Cluster::new(5, 0.0, 1.0, false, 2);
        cluster.settle();
        assert_eq!((cluster.killed, cluster.launches.clone()), (2, vec![5]));
        for _ in 0..5 {
            cluster.serve_next();
        }
        assert_eq!(
            plan(&cluster.app, &cluster.tasks, |_| false),
            Replacement::default()
        );
    }

    #[test]
    fn new_tasks_already_started_are_not_killed() {
        let mut cluster = Cluster::new(5, 0.0, 1.0, false, 1);
        let config = cluster.app.config_version().to_string();
        cluster.add(&config, TaskState::TaskRunning, None);
        cluster.settle();
        assert_eq!((cluster.killed, cluster.launches.clone()), (1, vec![4]));
        assert_eq!(cluster.old_left(), 0);
        assert_eq!(cluster.tasks.len(), 5);
    }

    #[test]
    fn replace_and_scale_down_from_more_than_the_new_minimum() {
        let mut cluster = Cluster::new(2, 1.0, 1.0, false, 3);
        cluster.settle();
        assert_eq!((cluster.killed, cluster.launches.clone()), (1, vec![1, 1]));
        cluster.serve_next();
        assert_eq!(cluster.killed, 2);
        cluster.serve_next();
        assert_eq!((cluster.killed, cluster.old_left()), (3, 0));
    }

    #[test]
    fn replace_with_minimum_running_tasks() {
        let mut cluster = Cluster::new(3, 0.5, 1.0, true, 3);
        cluster.settle();
        // All new tasks queued at once; ⌈0.5 × 3⌉ = 2 old left running.
        assert_eq!((cluster.killed, cluster.launches.clone()), (1, vec![3]));
        cluster.serve_next();
        assert_eq!(cluster.killed, 2);
        cluster.serve_next();
        assert_eq!(cluster.killed, 3);
        cluster.serve_next();
        assert_eq!((cluster.killed, cluster.launches.len()), (3, 1));
    }

    #[test]
    fn rolling_upgrade_without_over_capacity() {
        let mut cluster = Cluster::new(3, 0.5, 0.0, true, 3);
        cluster.settle();
        // One old killed at once; its room is the only one for a new task.
        assert_eq!((cluster.killed, cluster.launches.clone()), (1, vec![1]));
        cluster.serve_next();
        assert_eq!((cluster.killed, cluster.launches.clone()), (2, vec![1, 1]));
        cluster.serve_next();
        assert_eq!(
            (cluster.killed, cluster.launches.clone()),
            (3, vec![1, 1, 1])
        );
        cluster.serve_next();
        assert_eq!(cluster.killed, 3);
    }

    #[test]
    fn rolling_upgrade_with_minimal_over_capacity() {
        // minimum 3 = maximum 3: one over is allowed, or nothing moves.
        let mut cluster = Cluster::new(3, 1.0, 0.0, true, 3);
        cluster.settle();
        assert_eq!((cluster.killed, cluster.launches.clone()), (0, vec![1]));
        cluster.serve_next();
        assert_eq!((cluster.killed, cluster.launches.clone()), (1, vec![1, 1]));
        cluster.serve_next();
        assert_eq!(
            (cluster.killed, cluster.launches.clone()),
            (2, vec![1, 1, 1])
        );
        cluster.serve_next();
        assert_eq!((cluster.killed, cluster.launches.len()), (3, 3));
    }

    #[test]
    fn rolling_upgrade_with_two_thirds_over_capacity() {
        let mut cluster = Cluster::new(3, 1.0, 0.7, true, 3);
        cluster.settle();
        assert_eq!((cluster.killed, cluster.launches.clone()), (0, vec![2]));
        cluster.serve_next();
        assert_eq!((cluster.killed, cluster.launches.clone()), (1, vec![2, 1]));
        cluster.serve_next();
        assert_eq!((cluster.killed, cluster.launches.len()), (2, 2));
        cluster.serve_next();
        assert_eq!((cluster.killed, cluster.launches.len()), (3, 2));
    }

    #[test]
    fn downscale_with_rolling_upgrade_and_one_over_capacity() {
        let mut cluster = Cluster::new(3, 1.0, 0.3, true, 4);
        cluster.settle();
        // Over the maximum: one killed at once, then a new one queued.
        assert_eq!((cluster.killed, cluster.launches.clone()), (1, vec![1]));
        cluster.serve_next();
        assert_eq!((cluster.killed, cluster.launches.clone()), (2, vec![1, 1]));
        cluster.serve_next();
        assert_eq!(
            (cluster.killed, cluster.launches.clone()),
            (3, vec![1, 1, 1])
        );
        cluster.serve_next();
        assert_eq!((cluster.killed, cluster.launches.len()), (4, 3));
    }

    #[test]
    fn nothing_to_do_when_every_task_is_replaced_already() {
        let mut cluster = Cluster::new(2, 1.0, 1.0, false, 0);
        let config = cluster.app.config_version().to_string();
        cluster.add(&config, TaskState::TaskRunning, None);
        cluster.add(&config, TaskState::TaskRunning, None);
        assert_eq!(
            plan(&cluster.app, &cluster.tasks, |_| false),
            Replacement::default()
        );
    }

    #[test]
    fn a_killed_task_takes_room_until_it_ended() {
        // "Wait until the tasks are killed", with the maximum at 3.
        let mut cluster = Cluster::new(3, 0.5, 0.0, false, 3);
        cluster.confirm_kills = false;
        cluster.settle();
        assert_eq!((cluster.killed, cluster.launches.len()), (1, 0));
        cluster.tasks.retain(|t| !t.killing);
        cluster.settle();
        assert_eq!(cluster.launches, vec![1]);
    }

    #[test]
    fn a_new_task_replaces_an_old_one_only_once_healthy() {
        // "Tasks to replace need to wait for health checks".
        let mut cluster = Cluster::new(1, 1.0, 1.0, true, 1);
        cluster.settle();
        assert_eq!((cluster.killed, cluster.launches.clone()), (0, vec![1]));
        let new = cluster.tasks.last_mut().unwrap();
        new.state = TaskState::TaskRunning;
        new.healthy = Some(false);
        cluster.settle();
        assert_eq!(cluster.killed, 0, "running but unhealthy");
        cluster.tasks.last_mut().unwrap().healthy = Some(true);
        cluster.settle();
        assert_eq!((cluster.killed, cluster.old_left()), (1, 0));
    }
}
