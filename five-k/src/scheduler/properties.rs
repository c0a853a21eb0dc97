//! Promises the scheduler keeps whatever happens, checked on random
//! sequences of requests and Mesos events (proptest).
//!
//! The scenario tests (`tests.rs`) check what one situation should lead
//! to; these check what must hold after *any* sequence: apps created,
//! scaled, restarted and deleted, with or without force, tasks killed with
//! and without scale, deployments cancelled, offers of any size, status
//! updates of any state, in any order, for known and unknown tasks. A
//! failure shrinks to a short sequence that reads as a story.
//!
//! The promises, after every step:
//! 1. no app runs more tasks of its current configuration than its
//!    instances, nor more tasks in all than its upgrade strategy's
//!    maximum (`deployment::capacity`), whatever its strategy;
//! 2. every offer is answered once, accepted or declined;
//! 3. every status update with a uuid is acknowledged once;
//! 4. no task id is launched twice;
//! 5. every task of a deleted app is being killed;
//! 6. every deployment is about an app that exists or is being deleted,
//!    and at most one runs per app;
//! 7. no task is launched for an app whose launch delay holds
//!    (`backoff.rs`);
//! 8. an app waiting for tasks gets offers: if it may launch, offers are
//!    not suppressed or a REVIVE is due; if its delay holds, the
//!    scheduler wakes by the delay's end (an app left waiting with offers
//!    suppressed would wait for ever on a quiet cluster).

use std::collections::{BTreeMap, BTreeSet};

use mesos::{
    testing::{calls, events},
    v1::TaskState,
};
use proptest::prelude::*;

use super::Scheduler;
use crate::app::{AppRequest, PathId};

const APPS: [&str; 3] = ["/a", "/b", "/shop/c"];

#[derive(Debug, Clone)]
enum Step {
    Create {
        app: usize,
        instances: u32,
        cpus_tenths: u32,
        /// Indexes into [`STRATEGIES`].
        strategy: usize,
    },
    Scale {
        app: usize,
        instances: u32,
        force: bool,
    },
    Restart {
        app: usize,
        force: bool,
    },
    Delete {
        app: usize,
        force: bool,
    },
    /// Kills the `nth` known task, with or without scale.
    Kill {
        nth: usize,
        scale: bool,
    },
    /// Cancels the `nth` deployment, rolling back or not.
    Cancel {
        nth: usize,
        force: bool,
    },
    /// An offer of `cpus_tenths` tenths of a cpu.
    Offer {
        cpus_tenths: u32,
    },
    /// An update for the `nth` known task (or an unknown one, past the end).
    Update {
        nth: usize,
        state: TaskState,
    },
    Resubscribe,
    /// Time passes: launch delays end, timers fire.
    Wait {
        seconds: u64,
    },
}

/// `upgradeStrategy`s (minimumHealthCapacity, maximumOverCapacity): the
/// default, none over, the minimum equal to the maximum, and fractions.
const STRATEGIES: [(f64, f64); 5] = [(1.0, 1.0), (0.5, 0.0), (1.0, 0.0), (0.0, 0.3), (0.7, 0.5)];

fn states() -> impl Strategy<Value = TaskState> {
    prop_oneof![
        Just(TaskState::TaskStarting),
        Just(TaskState::TaskRunning),
        Just(TaskState::TaskRunning),
        Just(TaskState::TaskFinished),
        Just(TaskState::TaskFailed),
        Just(TaskState::TaskKilled),
        Just(TaskState::TaskLost),
        Just(TaskState::TaskUnreachable),
    ]
}

fn steps() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize, 0..6u32, 1..10u32, 0..STRATEGIES.len()).prop_map(
            |(app, instances, cpus_tenths, strategy)| Step::Create {
                app,
                instances,
                cpus_tenths,
                strategy,
            }
        ),
        (0..3usize, 0..6u32, any::<bool>()).prop_map(|(app, instances, force)| Step::Scale {
            app,
            instances,
            force
        }),
        (0..3usize, any::<bool>()).prop_map(|(app, force)| Step::Restart { app, force }),
        (0..3usize, any::<bool>()).prop_map(|(app, force)| Step::Delete { app, force }),
        (0..8usize, any::<bool>()).prop_map(|(nth, scale)| Step::Kill { nth, scale }),
        (0..3usize, any::<bool>()).prop_map(|(nth, force)| Step::Cancel { nth, force }),
        (0..30u32).prop_map(|cpus_tenths| Step::Offer { cpus_tenths }),
        (0..10usize, states()).prop_map(|(nth, state)| Step::Update { nth, state }),
        (0..10usize, states()).prop_map(|(nth, state)| Step::Update { nth, state }),
        Just(Step::Resubscribe),
        (0..5u64).prop_map(|seconds| Step::Wait { seconds }),
    ]
}

/// What the checks remember across steps.
#[derive(Default)]
struct Seen {
    launched: BTreeSet<String>,
    offers: usize,
}

fn apply(
    scheduler: &mut Scheduler,
    step: &Step,
    seen: &mut Seen,
) -> Vec<mesos::v1::scheduler::Call> {
    let id = |app: usize| PathId::parse(APPS[app]);
    let known: Vec<String> = scheduler
        .tasks()
        .all()
        .map(|task| task.id.clone())
        .collect();
    let delayed: BTreeSet<PathId> = APPS
        .map(PathId::parse)
        .into_iter()
        .filter(|app| scheduler.is_delayed(app))
        .collect();
    let mut expected_acks = 0;
    let mut offer_id = None;
    match step {
        Step::Create {
            app,
            instances,
            cpus_tenths,
            strategy,
        } => {
            let (min, over) = STRATEGIES[*strategy];
            let json = format!(
                r#"{{"id": "{}", "cmd": "x", "cpus": {}, "mem": 16, "instances": {instances},
                    "upgradeStrategy": {{"minimumHealthCapacity": {min}, "maximumOverCapacity": {over}}}}}"#,
                APPS[*app],
                f64::from(*cpus_tenths) / 10.0
            );
            let request: AppRequest = serde_json::from_str(&json).unwrap();
            let _ = scheduler.create_app(request, false);
        }
        Step::Scale {
            app,
            instances,
            force,
        } => {
            let request: AppRequest =
                serde_json::from_str(&format!(r#"{{"instances": {instances}}}"#)).unwrap();
            let _ = scheduler.update_app(&id(*app), request, *force);
        }
        Step::Restart { app, force } => {
            let _ = scheduler.restart_app(&id(*app), *force);
        }
        Step::Delete { app, force } => {
            let _ = scheduler.delete_app(&id(*app), *force);
        }
        Step::Kill { nth, scale } => {
            if let Some(task_id) = known.get(*nth) {
                let _ = scheduler.kill_tasks(std::slice::from_ref(task_id), *scale, true);
            }
        }
        Step::Cancel { nth, force } => {
            let ids: Vec<String> = scheduler.deployments().map(|d| d.id.clone()).collect();
            if let Some(deployment_id) = ids.get(*nth) {
                let _ = scheduler.cancel_deployment(deployment_id, *force);
            }
        }
        Step::Offer { cpus_tenths } => {
            seen.offers += 1;
            let name = format!("offer-{}", seen.offers);
            let resources = format!(
                "cpus:{};mem:4096;ports:[31000-31100]",
                f64::from(*cpus_tenths) / 10.0
            );
            let agent = events::agent("agent-1").resources(&resources);
            scheduler.on_event(&events::offers([agent.offer(&name)]));
            offer_id = Some(name);
        }
        Step::Update { nth, state } => {
            let task_id = known
                .get(*nth)
                .cloned()
                .unwrap_or_else(|| "stranger.1".into());
            scheduler.on_event(
                &events::update(&task_id, *state)
                    .on("agent-1")
                    .reliable()
                    .event(),
            );
            expected_acks = 1;
        }
        Step::Resubscribe => {
            scheduler.on_event(&events::disconnected());
            scheduler.on_event(&events::subscribed("framework-1"));
        }
        Step::Wait { seconds } => {
            scheduler.instant += std::time::Duration::from_secs(*seconds);
            scheduler.on_timer();
        }
    }
    scheduler.converge();
    let effects = scheduler.take_effects();
    let answered = calls::accepted(&effects.calls).len() + calls::declined(&effects.calls).len();
    assert_eq!(
        answered,
        usize::from(offer_id.is_some()),
        "promise 2: {:?}",
        calls::kinds(&effects.calls)
    );
    assert_eq!(
        calls::acknowledged(&effects.calls).len(),
        expected_acks,
        "promise 3"
    );
    for task in calls::launched(&effects.calls) {
        assert!(
            seen.launched.insert(task.task_id.value.clone()),
            "promise 4: {} twice",
            task.task_id.value
        );
        let app = &scheduler.tasks().get(&task.task_id.value).unwrap().app_id;
        assert!(
            !delayed.contains(app),
            "promise 7: {app} launched while delayed"
        );
    }
    effects.calls
}

fn check_offers_come(scheduler: &Scheduler) {
    for app in APPS.map(PathId::parse) {
        if !scheduler.is_queued(&app) {
            continue;
        }
        let entry = scheduler.app(&app).expect("a queued app exists");
        match scheduler.backoff.deadline(&entry.app, scheduler.instant) {
            Some(deadline) if deadline > scheduler.instant => assert!(
                scheduler.next_timer().is_some_and(|wake| wake <= deadline),
                "promise 8: {app} is delayed and nothing wakes the scheduler when it ends"
            ),
            _ => assert!(
                !scheduler.suppressed || scheduler.revive_due.is_some(),
                "promise 8: {app} waits with offers suppressed and no REVIVE due"
            ),
        }
    }
}

fn check_counts(scheduler: &Scheduler) {
    let mut deployments_per_app: BTreeMap<PathId, usize> = BTreeMap::new();
    for deployment in scheduler.deployments() {
        *deployments_per_app
            .entry(deployment.app_id.clone())
            .or_default() += 1;
        let exists = scheduler.app(&deployment.app_id).is_some();
        assert!(
            exists || deployment.target.is_none(),
            "promise 6: {deployment:?}"
        );
    }
    assert!(
        deployments_per_app.values().all(|n| *n == 1),
        "promise 6: {deployments_per_app:?}"
    );
    for app in APPS.map(PathId::parse) {
        let active: Vec<_> = scheduler
            .tasks()
            .of_app(&app)
            .filter(|t| !t.killing)
            .collect();
        match scheduler.app(&app) {
            Some(entry) => {
                let config = entry.app.config_version();
                let current = active.iter().filter(|t| t.config_version == config).count();
                let instances = entry.app.instances as usize;
                assert!(
                    current <= instances,
                    "promise 1: {current} current tasks of {app} for {instances}"
                );
                let max = super::deployment::capacity(&entry.app).max_running;
                assert!(
                    active.len() <= max,
                    "promise 1: {} tasks of {app}, at most {max}",
                    active.len()
                );
            }
            None => assert!(
                active.is_empty(),
                "promise 5: {app} is deleted, {} tasks live on",
                active.len()
            ),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_scheduler_keeps_its_promises_whatever_happens(steps in prop::collection::vec(steps(), 1..60)) {
        let mut scheduler = Scheduler::new();
        scheduler.on_event(&events::subscribed("framework-1"));
        scheduler.converge();
        scheduler.take_effects();
        let mut seen = Seen::default();
        for step in &steps {
            apply(&mut scheduler, step, &mut seen);
            check_counts(&scheduler);
            check_offers_come(&scheduler);
        }
    }
}
