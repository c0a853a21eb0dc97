//! The checkers: one tokio task per task and check, and the loop that
//! starts and stops them and hands their results to the scheduler.
//!
//! The scheduler says what to check ([`Scheduler::health_targets`]); once
//! a second this loop asks again, starts a checker for each new target
//! and stops those whose task ended or stopped running. A checker waits
//! `delaySeconds`, then probes every `intervalSeconds`. Results reach the
//! scheduler in batches, as API jobs do: 1,000 tasks checked at once are
//! one decision, not 1,000 (`core.rs` saves and sends after each).
//!
//! Only the leader checks: on a standby every checker is stopped, and
//! nothing is asked of the scheduler (it does not run there); the next
//! leader's loop starts them again.
//!
//! [`Scheduler::health_targets`]: crate::scheduler::Scheduler::health_targets

use std::{collections::HashMap, time::Duration};

use tokio::{sync::mpsc, task::JoinHandle, time::MissedTickBehavior};

use super::probe;
use crate::{
    core::Core,
    ha::{Leadership, Who},
    scheduler::health::{CheckResult, Target},
};

/// How often the set of checkers follows the tasks: a new task is
/// checked at most this late after `delaySeconds`.
const REFRESH: Duration = Duration::from_secs(1);

/// How many results go to the scheduler in one decision.
const BATCH: usize = 1024;

/// Runs the checkers for as long as 5K runs.
pub async fn run(core: Core, leadership: Leadership) {
    let (sender, mut results) = mpsc::channel::<CheckResult>(BATCH);
    let mut checkers = Checkers::default();
    let mut refresh = tokio::time::interval(REFRESH);
    refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            _ = refresh.tick() => {
                let targets = if matches!(leadership.who(), Who::Me) {
                    core.run(|scheduler| scheduler.health_targets()).await
                } else {
                    Err(crate::core::Unavailable)
                };
                // Not the leader (or not yet): nothing to check.
                checkers.follow(targets.unwrap_or_default(), &sender);
            }
            _ = results.recv_many(&mut batch, BATCH) => {
                let found = std::mem::take(&mut batch);
                // Lost if no leader takes them: the next checks will tell.
                let _ = core.run(move |scheduler| scheduler.on_health_results(found)).await;
            }
        }
    }
}

/// The running checkers, by task and check.
#[derive(Default)]
struct Checkers {
    running: HashMap<(String, usize), (Target, JoinHandle<()>)>,
}

impl Checkers {
    /// Starts a checker for each new target, stops those of targets gone
    /// (or changed: a new app version's check).
    fn follow(&mut self, targets: Vec<Target>, results: &mpsc::Sender<CheckResult>) {
        let mut wanted: HashMap<(String, usize), Target> = targets
            .into_iter()
            .map(|t| ((t.task_id.clone(), t.check_index), t))
            .collect();
        self.running.retain(|key, (target, handle)| {
            let keep = wanted.get(key) == Some(target);
            if keep {
                wanted.remove(key);
            } else {
                handle.abort();
            }
            keep
        });
        for (key, target) in wanted {
            let handle = tokio::spawn(check(target.clone(), results.clone()));
            self.running.insert(key, (target, handle));
        }
    }
}

impl Drop for Checkers {
    fn drop(&mut self) {
        for (_, handle) in self.running.values() {
            handle.abort();
        }
    }
}

/// Checks one target until stopped.
async fn check(target: Target, results: mpsc::Sender<CheckResult>) {
    tokio::time::sleep(target.delay).await;
    // `interval` rejects zero; Marathon's checks are at least a second apart.
    let mut ticks = tokio::time::interval(target.interval.max(Duration::from_millis(100)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let outcome = probe::run(&target.probe, &target.host, target.port, target.timeout).await;
        let result = CheckResult {
            task_id: target.task_id.clone(),
            check_index: target.check_index,
            outcome,
        };
        if results.send(result).await.is_err() {
            return;
        }
    }
}
