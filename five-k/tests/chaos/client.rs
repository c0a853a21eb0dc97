//! The client under chaos: one worker per app, each sending one change
//! after another (create, scale, upgrade, delete) to whichever instance it
//! picks, and keeping what it learns in the app's [`AppModel`].
//!
//! One worker per app, so that a request stuck on a frozen leader holds
//! up only its own app, and the changes to one app are sent one at a time
//! (as a person or a deploy script does): the model then knows their
//! order. Checks take the gate for writing, so that none runs while a
//! change is in flight.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::RwLock;

use super::{
    http::{self, Answer},
    model::{AppModel, Definition, Models, Outcome, Target},
    random::Random,
};

/// How long a client waits for an answer: longer than a takeover (two
/// session timeouts) on a loaded machine.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(12);

/// Which instances a client may send to: those running and not frozen
/// (as a load balancer's health check would tell it).
pub type Reachable = Arc<Mutex<Vec<String>>>;

/// What the workers share with the test.
#[derive(Clone)]
pub struct Shared {
    pub models: Arc<Mutex<Models>>,
    pub reachable: Reachable,
    /// Held for reading by a change in flight, for writing by a check.
    pub gate: Arc<RwLock<()>>,
    pub stop: Arc<AtomicBool>,
    /// Requests by outcome, for the run's account.
    pub accepted: Arc<AtomicUsize>,
    pub refused: Arc<AtomicUsize>,
    /// Requests of unknown outcome, by why (a status, or no answer).
    pub unknown: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl Shared {
    pub fn new(app_ids: &[String]) -> Shared {
        let models = app_ids
            .iter()
            .map(|id| (id.clone(), AppModel::default()))
            .collect();
        Shared {
            models: Arc::new(Mutex::new(models)),
            reachable: Arc::default(),
            gate: Arc::default(),
            stop: Arc::default(),
            accepted: Arc::default(),
            refused: Arc::default(),
            unknown: Arc::default(),
        }
    }

    /// An instance to send to, if any is reachable.
    pub fn pick_instance(&self, random: &mut Random) -> Option<String> {
        let reachable = self.reachable.lock().unwrap();
        (!reachable.is_empty()).then(|| random.pick(&reachable).clone())
    }
}

/// A change to send.
#[derive(Debug)]
enum Change {
    Create(Definition),
    Put(Definition, bool),
    Delete(bool),
}

/// Changes app `id` until told to stop.
pub async fn worker(id: String, shared: Shared, mut random: Random) {
    let mut version = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        let current = shared.models.lock().unwrap()[&id].possible.clone();
        version += 1;
        let change = next_change(&current, version, &mut random);
        let gate = shared.gate.read().await;
        let Some(url) = shared.pick_instance(&mut random) else {
            drop(gate);
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let target = match &change {
            Change::Create(definition) | Change::Put(definition, _) => Some(definition.clone()),
            Change::Delete(_) => None,
        };
        shared
            .models
            .lock()
            .unwrap()
            .get_mut(&id)
            .expect("a model")
            .sending(&target, Instant::now());
        let answer = send(&url, &id, &change).await;
        let outcome = match &answer {
            Ok(answer) if answer.is_success() => Outcome::Accepted,
            // 409 (locked by a deployment, or exists already), 404 (a
            // delete of an app that is not there), 422: nothing changed.
            Ok(answer) if answer.is_refusal() => Outcome::Refused,
            // 5xx (no leader known, ZooKeeper unreachable) or no answer.
            _ => Outcome::Unknown,
        };
        match (&outcome, &answer) {
            (Outcome::Accepted, _) => shared.accepted.fetch_add(1, Ordering::Relaxed),
            (Outcome::Refused, _) => shared.refused.fetch_add(1, Ordering::Relaxed),
            (Outcome::Unknown, answer) => {
                let why = match answer {
                    Ok(answer) => format!("{} {}", answer.status, without_ports(&answer.body)),
                    Err(_) => "no answer".into(),
                };
                *shared.unknown.lock().unwrap().entry(why).or_default() += 1;
                0
            }
        };
        let said = match &answer {
            Ok(answer) => format!(
                "{} {}",
                answer.status,
                answer.body.chars().take(120).collect::<String>()
            ),
            Err(why) => why.clone(),
        };
        {
            let mut models = shared.models.lock().unwrap();
            let model = models.get_mut(&id).expect("a model");
            model.note(format!("{change:?} via {url}: {said}"));
            model.answered(target, outcome, Instant::now());
        }
        drop(gate);
        // Deployments take a moment: some changes come before the last
        // one ended, some after.
        let pause = random.between(0, 600);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// A random change from what the app may be now.
fn next_change(current: &[Target], version: u32, random: &mut Random) -> Change {
    let force = random.one_in(2);
    let surely_absent = current.iter().all(Option::is_none);
    let base = current.iter().flatten().last().cloned();
    let Some(base) = base.filter(|_| !surely_absent) else {
        return Change::Create(new_definition(version, random));
    };
    match random.between(0, 9) {
        // Scale.
        0..=3 => {
            let mut scaled = base;
            scaled.instances = random.between(0, 4) as u32;
            Change::Put(scaled, force)
        }
        // Upgrade: a new command or environment is a new configuration,
        // every task replaced.
        4..=6 => {
            let mut upgraded = base;
            if random.one_in(2) {
                upgraded.cmd = command(upgraded.health, version);
            } else {
                upgraded.env = BTreeMap::from([("VERSION".into(), version.to_string())]);
            }
            upgraded.minimum_health_capacity = *random.pick(&MINIMUM_HEALTH_CAPACITIES);
            upgraded.maximum_over_capacity = *random.pick(&MAXIMUM_OVER_CAPACITIES);
            Change::Put(upgraded, force)
        }
        7 => Change::Create(new_definition(version, random)),
        _ => Change::Delete(force),
    }
}

/// The upgrade strategies tried: none over capacity (old tasks killed
/// first), some, and Marathon's default (all new tasks started first).
const MINIMUM_HEALTH_CAPACITIES: [f64; 3] = [0.0, 0.5, 1.0];
const MAXIMUM_OVER_CAPACITIES: [f64; 3] = [0.0, 0.5, 1.0];

/// A task's command: it sleeps, or (for an app with a health check)
/// serves its sandbox, where `/health` answers until the fault
/// `FailHealthCheck` removes the file. The server runs in the background
/// of the shell so that the task's process is still the shell, whose
/// command line tells its version (`racks.rs`); the task's session is
/// killed with it.
pub fn command(health: bool, version: u32) -> String {
    match health {
        true => format!(
            "touch health; /usr/bin/python3 -m http.server $PORT0 --bind 127.0.0.1 & wait \
             # version {version}"
        ),
        false => format!("sleep 1000 # version {version}"),
    }
}

fn new_definition(version: u32, random: &mut Random) -> Definition {
    let health = random.one_in(2);
    Definition {
        cmd: command(health, version),
        health,
        env: BTreeMap::new(),
        instances: random.between(1, 3) as u32,
        minimum_health_capacity: *random.pick(&MINIMUM_HEALTH_CAPACITIES),
        maximum_over_capacity: *random.pick(&MAXIMUM_OVER_CAPACITIES),
        rack_unique: random.one_in(2),
    }
}

async fn send(url: &str, id: &str, change: &Change) -> Result<Answer, String> {
    let query = |force: bool| if force { "?force=true" } else { "" };
    match change {
        Change::Create(definition) => {
            let body = definition.to_json(Some(id));
            http::send(
                "POST",
                &format!("{url}/v2/apps"),
                Some(&body),
                REQUEST_TIMEOUT,
            )
            .await
        }
        Change::Put(definition, force) => {
            let body = definition.to_json(None);
            let url = format!("{url}/v2/apps{id}{}", query(*force));
            http::send("PUT", &url, Some(&body), REQUEST_TIMEOUT).await
        }
        Change::Delete(force) => {
            let url = format!("{url}/v2/apps{id}{}", query(*force));
            http::send("DELETE", &url, None, REQUEST_TIMEOUT).await
        }
    }
}

/// `the leader at 127.0.0.1:41069 did not answer` without the port, so
/// that the account counts such answers together.
fn without_ports(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        let (before, after) = rest.split_at(at + "127.0.0.1:".len());
        out.push_str(before);
        out.push('…');
        rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}
