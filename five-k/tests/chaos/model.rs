//! What the client knows of each app: what it may be now, and which
//! definitions the scheduler may be running tasks for.
//!
//! A request that got a 2xx was accepted: from then on the app must be
//! exactly that (or gone, for a delete), through any failover. A request
//! that got a 4xx changed nothing. A request that got no answer, or a 5xx,
//! may or may not have been applied: the client cannot know, so either is
//! correct until its next accepted request on the app settles it. A
//! change applied *after* a later accepted one would be a write from a
//! leader that had been replaced, which the election must fence.

use std::{
    collections::{BTreeMap, VecDeque},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

/// The part of an app the client changes and checks.
#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    pub cmd: String,
    pub env: BTreeMap<String, String>,
    pub instances: u32,
    pub minimum_health_capacity: f64,
    pub maximum_over_capacity: f64,
    /// Constrained `["rack", "UNIQUE"]`: never two tasks on one rack.
    pub rack_unique: bool,
    /// Checked by 5K over HTTP: `cmd` serves `/health` on `$PORT0`
    /// (`client::command`).
    pub health: bool,
}

/// 5K's HTTP check of the apps with `health`: quick, so that a task whose
/// check fails is soon replaced (the fault `FailHealthCheck`), and a grace
/// period long enough for Python to start on a loaded machine.
fn health_checks() -> Value {
    json!([{
        "protocol": "HTTP",
        "path": "/health",
        "portIndex": 0,
        "gracePeriodSeconds": 15,
        "intervalSeconds": 1,
        "timeoutSeconds": 1,
        "maxConsecutiveFailures": 2,
    }])
}

impl Definition {
    /// The body of a `POST /v2/apps` (with `id`) or a `PUT` (without).
    /// Small tasks, so that many fit on the simulated agents; a short
    /// backoff, so that a crashed task is soon replaced.
    pub fn to_json(&self, id: Option<&str>) -> Value {
        let mut body = json!({
            "cmd": self.cmd,
            "env": self.env,
            "instances": self.instances,
            "cpus": 0.01,
            "mem": 8,
            "backoffSeconds": 0.1,
            "maxLaunchDelaySeconds": 1,
            "upgradeStrategy": {
                "minimumHealthCapacity": self.minimum_health_capacity,
                "maximumOverCapacity": self.maximum_over_capacity,
            },
        });
        // Always sent: a `PUT` keeps the fields it leaves out (Marathon's
        // `AppUpdate`), so leaving the constraint out would not drop it.
        body["constraints"] = match self.rack_unique {
            true => json!([["rack", "UNIQUE"]]),
            false => json!([]),
        };
        body["healthChecks"] = match self.health {
            true => health_checks(),
            false => json!([]),
        };
        if let Some(id) = id {
            body["id"] = json!(id);
            // A port for the checked server, on creation only: a `PUT` of
            // port 0 again would pick a new service port, a change of
            // configuration that replaces every task (as Marathon's).
            body["portDefinitions"] = json!([{"port": 0}]);
        }
        body
    }

    /// The definition in an app as `GET /v2/apps` shows it.
    pub fn from_app(app: &Value) -> Definition {
        let strategy = &app["upgradeStrategy"];
        Definition {
            cmd: app["cmd"].as_str().unwrap_or_default().to_string(),
            env: serde_json::from_value(app["env"].clone()).unwrap_or_default(),
            instances: app["instances"].as_u64().unwrap_or(u64::MAX) as u32,
            minimum_health_capacity: strategy["minimumHealthCapacity"].as_f64().unwrap_or(-1.0),
            maximum_over_capacity: strategy["maximumOverCapacity"].as_f64().unwrap_or(-1.0),
            rack_unique: app["constraints"] == json!([["rack", "UNIQUE"]]),
            health: app["healthChecks"]
                .as_array()
                .is_some_and(|c| !c.is_empty()),
        }
    }
}

/// A request's target: an app defined so, or no app.
pub type Target = Option<Definition>;

/// A definition the scheduler may launch tasks for, from when it was sent
/// until it was superseded by an accepted one (or refused).
struct Span {
    definition: Definition,
    from: Instant,
    until: Option<Instant>,
}

/// How the scheduler answered a change.
pub enum Outcome {
    Accepted,
    Refused,
    Unknown,
}

/// One app, as its client knows it.
pub struct AppModel {
    /// What the app may be now: the last accepted target (at first, no
    /// app), then every target sent since with an unknown outcome.
    pub possible: Vec<Target>,
    spans: Vec<Span>,
    /// The latest requests and their answers, to tell what happened when
    /// a check fails (with the time of day, as in 5K's logs).
    pub log: VecDeque<String>,
}

impl Default for AppModel {
    fn default() -> Self {
        AppModel {
            possible: vec![None],
            spans: Vec::new(),
            log: VecDeque::new(),
        }
    }
}

impl AppModel {
    /// Whether `state` (what 5K shows) is one the app may be in.
    pub fn allows(&self, state: &Target) -> bool {
        self.possible.contains(state)
    }

    /// Notes a request and its answer in the app's log.
    pub fn note(&mut self, line: String) {
        if self.log.len() == 20 {
            self.log.pop_front();
        }
        self.log.push_back(format!("{} {line}", time_of_day()));
    }

    /// A change is about to be sent.
    pub fn sending(&mut self, target: &Target, now: Instant) {
        if let Some(definition) = target {
            self.spans.push(Span {
                definition: definition.clone(),
                from: now,
                until: None,
            });
        }
    }

    /// Its answer came (or did not).
    pub fn answered(&mut self, target: Target, outcome: Outcome, now: Instant) {
        match outcome {
            Outcome::Accepted => {
                for span in self.spans.iter_mut().filter(|s| s.until.is_none()) {
                    if Some(&span.definition) != target.as_ref() {
                        span.until = Some(now);
                    }
                }
                self.possible = vec![target];
            }
            Outcome::Refused => {
                if let Some(span) = self
                    .spans
                    .iter_mut()
                    .rev()
                    .find(|s| Some(&s.definition) == target.as_ref())
                {
                    span.until = Some(now);
                }
            }
            Outcome::Unknown => {
                if !self.possible.contains(&target) {
                    self.possible.push(target);
                }
            }
        }
        // Spans long closed say nothing any more.
        self.spans.retain(|s| {
            s.until
                .is_none_or(|until| now - until < Duration::from_secs(60))
        });
    }

    /// The definitions the scheduler may have been following at `at`:
    /// those sent before and not superseded more than `grace` earlier (a
    /// launch decided under the old definition is seen a moment later).
    pub fn definitions_at(
        &self,
        at: Instant,
        grace: Duration,
    ) -> impl Iterator<Item = &Definition> {
        self.spans
            .iter()
            .filter(move |s| s.from <= at && s.until.is_none_or(|until| at <= until + grace))
            .map(|s| &s.definition)
    }
}

/// Every app the client works on, by id.
pub type Models = BTreeMap<String, AppModel>;

/// Now as `hh:mm:ss.mmm` UTC, the time 5K's log lines show.
pub fn time_of_day() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let millis = now.as_millis() % 86_400_000;
    let (hours, rest) = (millis / 3_600_000, millis % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    format!(
        "{hours:02}:{minutes:02}:{:02}.{:03}",
        rest / 1000,
        rest % 1000
    )
}
