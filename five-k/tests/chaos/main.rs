//! Chaos for 5K: three instances on a real ZooKeeper and the simulated
//! master, random faults one after another (a leader killed or frozen in
//! the middle of deployments, a standby killed, the master failing over,
//! ZooKeeper restarting, tasks crashing, health checks failing) while clients create, scale,
//! upgrade and delete apps through whichever instance answers.
//!
//! Each fault alone is tested elsewhere (`ha.rs`); the bugs live in their
//! sequences: a failover while a change is being stored, a frozen leader
//! waking up with a request half-handled, a scale-down while tasks are
//! being replaced. A random run finds those; its seed, printed first,
//! replays its choices (the timing of a loaded machine varies, so a
//! replay is likely, not certain, to meet the same sequence).
//!
//! Checked all along, after every fault: every app the API accepted
//! exists with its last accepted definition, and deleted ones are gone;
//! in every state the master publishes, no app above its maximum
//! capacity, and no two tasks of one configuration of a `rack:UNIQUE` app
//! on one rack. Checked once the faults stop: every deployment ends, and
//! each app runs exactly its instances, all healthy if it has a health
//! check. (`invariants.rs` lists those to
//! add as 5K gains features.)
//!
//! ```text
//! CHAOS_SEED=42 CHAOS_SECONDS=600 cargo test -p five-k --test chaos -- --nocapture
//! ```

#[path = "../common/mod.rs"]
mod common;

mod client;
mod harness;
mod http;
mod invariants;
mod model;
mod racks;
mod random;

use std::{
    sync::{Arc, Mutex, atomic::Ordering},
    time::{Duration, Instant},
};

use client::Shared;
use harness::{ALL_FAULTS, Chaos};
use invariants::Watcher;
use random::Random;

/// The apps the clients work on, one client each.
const APPS: usize = 4;

/// How long the faults last by default: the whole test then takes under a
/// minute on a 2-core machine; `CHAOS_SECONDS` makes it a soak.
const DEFAULT_SECONDS: u64 = 20;

/// Once the faults stop, how long deployments may take to end and apps
/// to run their instances.
const SETTLE: Duration = Duration::from_secs(30);

/// Prints a line of the run's account past the test harness's capture
/// (which keeps the instances' logs for a failure): the seed must be seen
/// even if the run hangs.
fn say(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "chaos: {line}");
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?}: expected a whole number")),
    )
}

// Two threads: a ZooKeeper restart blocks one while the master, the
// watcher and the clients go on on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_survive_random_faults_as_accepted() {
    let seed = env_number("CHAOS_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as u64
    });
    let seconds = env_number("CHAOS_SECONDS").unwrap_or(DEFAULT_SECONDS);
    say(format_args!("CHAOS_SEED={seed} CHAOS_SECONDS={seconds}"));
    let started = Instant::now();

    let app_ids: Vec<String> = (0..APPS).map(|i| format!("/chaos/app-{i}")).collect();
    let shared = Shared::new(&app_ids);
    let mut chaos = Chaos::start(seed, shared.clone()).await;
    chaos.leader().await;

    // The watcher: every state the master publishes, checked as it comes.
    let watcher = Arc::new(Mutex::new(Watcher::new(shared.models.clone())));
    let mut snapshots = chaos.cluster.master.snapshots();
    let watching = tokio::spawn({
        let watcher = watcher.clone();
        async move {
            while snapshots.changed().await.is_ok() {
                let state = snapshots.borrow_and_update().clone();
                watcher.lock().unwrap().look(&state, Instant::now());
            }
        }
    });
    let workers: Vec<_> = app_ids
        .iter()
        .enumerate()
        .map(|(index, id)| {
            let random = Random::new(seed.wrapping_add(index as u64 + 1));
            tokio::spawn(client::worker(id.clone(), shared.clone(), random))
        })
        .collect();

    // Whole rounds, each fault once in a random order, until the time is
    // up: every kind is injected however short the run.
    let faults_started = Instant::now();
    let mut round = 0;
    while round == 0 || faults_started.elapsed() < Duration::from_secs(seconds) {
        round += 1;
        let mut faults = ALL_FAULTS;
        chaos.random.shuffle(&mut faults);
        for fault in faults {
            say(format_args!(
                "round {round}, {:>5.1} s: {fault:?}",
                faults_started.elapsed().as_secs_f64()
            ));
            chaos.inject(fault).await;
            // Now and then the next fault comes before the apps are
            // checked: the bugs hide in such sequences.
            if !chaos.random.one_in(3) {
                chaos.check_apps().await;
            }
            chaos.pause(0, 1000).await;
        }
    }
    let fault_time = faults_started.elapsed();

    shared.stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("a client worker");
    }
    // What went wrong during the faults, before what did not settle
    // after them (which it may explain).
    let violations = watcher.lock().unwrap().violations.clone();
    assert!(
        violations.is_empty(),
        "CHAOS_SEED={seed} replays this run: {violations:#?}"
    );
    chaos.restore().await;
    chaos.leader().await;
    chaos.check_apps().await;
    deployments_end(&mut chaos).await;
    tasks_converge(&mut chaos).await;
    checked_apps_heal(&mut chaos).await;
    a_failed_check_is_replaced(&mut chaos).await;
    assert!(!watching.is_finished(), "the watcher stopped");

    let watcher = watcher.lock().unwrap();
    say(format_args!(
        "{:.1?} in all, {fault_time:.1?} of faults, seed {seed}",
        started.elapsed()
    ));
    say(format_args!(
        "faults injected: {:?}; {} of the leader's in the middle of a deployment; \
         {} health checks made to fail",
        chaos.injected, chaos.mid_deployment, chaos.failed_checks
    ));
    say(format_args!(
        "requests: {} accepted, {} refused, of unknown outcome {:?}; {} checks of every app; \
         at most {} tasks of one app at once; {} tasks of rack:UNIQUE apps checked",
        shared.accepted.load(Ordering::Relaxed),
        shared.refused.load(Ordering::Relaxed),
        shared.unknown.lock().unwrap(),
        chaos.checks,
        watcher.most_tasks,
        watcher.racks.checked.len(),
    ));
    assert!(
        watcher.violations.is_empty(),
        "CHAOS_SEED={seed} replays this run: {:#?}",
        watcher.violations
    );
    assert!(
        shared.accepted.load(Ordering::Relaxed) > 0,
        "no change was ever accepted: the run tested nothing"
    );
}

/// Every deployment ends once the faults stop.
async fn deployments_end(chaos: &mut Chaos) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let deployments = chaos.get("/v2/deployments").await;
        if deployments.as_array().is_some_and(Vec::is_empty) {
            return;
        }
        if Instant::now() > deadline {
            let diagnosis = chaos.diagnosis().await;
            panic!(
                "deployments still open {SETTLE:?} after the faults stopped \
                 (CHAOS_SEED={} replays this run): {deployments:#}\n{diagnosis}",
                chaos.seed
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// On the quiet cluster, a task whose check starts failing is replaced
/// (the clients' upgrades replace most tasks whose check a fault failed
/// during the run: here nothing else can). An app of the test's own
/// gives it a task to fail if the clients left no checked app running.
async fn a_failed_check_is_replaced(chaos: &mut Chaos) {
    let checked = chaos.fail_a_health_check();
    let sick = match checked {
        Some(task) => task,
        None => {
            let app = model::Definition {
                cmd: client::command(true, 0),
                env: Default::default(),
                instances: 2,
                minimum_health_capacity: 1.0,
                maximum_over_capacity: 1.0,
                rack_unique: false,
                health: true,
            };
            let body = app.to_json(Some("/chaos/checked"));
            // Known to the watcher, whose capacity bound it must meet.
            let (id, target) = ("/chaos/checked".to_string(), Some(app));
            chaos
                .shared
                .models
                .lock()
                .unwrap()
                .entry(id.clone())
                .or_default()
                .sending(&target, Instant::now());
            chaos.send_until_accepted("POST", "/v2/apps", &body).await;
            let accepted = model::Outcome::Accepted;
            if let Some(model) = chaos.shared.models.lock().unwrap().get_mut(&id) {
                model.answered(target, accepted, Instant::now());
            }
            checked_apps_heal(chaos).await;
            chaos
                .fail_a_health_check()
                .expect("a checked task, healthy")
        }
    };
    let deadline = Instant::now() + SETTLE;
    while chaos.is_alive(&sick) {
        if Instant::now() > deadline {
            let diagnosis = chaos.diagnosis().await;
            panic!(
                "task {sick} failing its check still runs {SETTLE:?} later \
                 (CHAOS_SEED={} replays this run)\n{diagnosis}",
                chaos.seed
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    checked_apps_heal(chaos).await;
}

/// Each app with a health check has all its instances healthy, none
/// unhealthy: a task whose check was made to fail has been replaced.
async fn checked_apps_heal(chaos: &mut Chaos) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let listed = chaos.get("/v2/apps?embed=apps.counts").await;
        let apps = listed["apps"].as_array().cloned().unwrap_or_default();
        let sick: Vec<_> = apps
            .iter()
            .filter(|app| {
                app["healthChecks"]
                    .as_array()
                    .is_some_and(|c| !c.is_empty())
            })
            .filter(|app| app["tasksHealthy"] != app["instances"] || app["tasksUnhealthy"] != 0)
            .map(|app| {
                let counts = ["instances", "tasksHealthy", "tasksUnhealthy"].map(|k| &app[k]);
                (app["id"].clone(), counts)
            })
            .collect();
        if sick.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            let diagnosis = chaos.diagnosis().await;
            panic!(
                "apps not all healthy (instances, healthy, unhealthy) {SETTLE:?} after the \
                 faults stopped: {sick:?} (CHAOS_SEED={} replays this run)\n{diagnosis}",
                chaos.seed
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Each app runs exactly its instances on the master, and 5K counts them
/// so; a deleted app runs nothing.
async fn tasks_converge(chaos: &mut Chaos) {
    let listed = chaos.get("/v2/apps?embed=apps.counts").await;
    let apps = listed["apps"].as_array().cloned().unwrap_or_default();
    let wanted: std::collections::BTreeMap<String, usize> = apps
        .iter()
        .filter_map(|app| Some((app["id"].as_str()?.to_string(), app["instances"].as_u64()?)))
        .filter(|(_, instances)| *instances > 0)
        .map(|(id, instances)| (id, instances as usize))
        .collect();
    // The apps as they are now, one of the states the client allows
    // (checked just before): whichever it is, the tasks must match it.
    let deadline = Instant::now() + SETTLE;
    loop {
        let running = chaos.running_by_app();
        if running == wanted {
            break;
        }
        if Instant::now() > deadline {
            let diagnosis = chaos.diagnosis().await;
            panic!(
                "tasks running {running:?}, not the apps' instances {wanted:?}, {SETTLE:?} \
                 after the faults stopped (CHAOS_SEED={} replays this run)\n{diagnosis}",
                chaos.seed
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let listed = chaos.get("/v2/apps?embed=apps.counts").await;
    for app in listed["apps"].as_array().cloned().unwrap_or_default() {
        assert_eq!(
            app["tasksRunning"], app["instances"],
            "5K's count of {} (CHAOS_SEED={})",
            app["id"], chaos.seed
        );
    }
}
