//! `rack:UNIQUE` as Marathon keeps it: never two alive tasks of one
//! configuration of an app on one rack.
//!
//! The simulated agents share one hostname, so the test gives each agent
//! a rack of its own (`harness.rs`) and some apps `["rack", "UNIQUE"]`,
//! the same promise as `hostname:UNIQUE`. Marathon places a new task
//! ignoring the tasks of the app's older configurations
//! (`ResourceMatcher.scala`: "we can place a new instance on an agent that
//! already hosts an old instance that will be killed once a new one is
//! running"), and so does 5K: during an upgrade an old and a new task may
//! share a rack. Two of one configuration never may, whatever the faults.
//!
//! A task's configuration is read from its process (its command and its
//! `VERSION` variable, which the client makes unique per change), so it
//! is known once the task runs; a task launched is checked as soon as its
//! process is seen.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use mesos::local::TaskSnapshot;

use super::{invariants::app_of_task, model::Models};

/// What a task runs: its command and its `VERSION` variable.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Config {
    cmd: String,
    version: Option<String>,
}

/// The rack of an agent: agent `i` (its id ends in `-S<i>`) is on rack
/// `r<i>`.
pub fn rack_of_agent(agent_id: &str) -> String {
    let index = agent_id
        .rsplit_once("-S")
        .map_or(agent_id, |(_, index)| index);
    format!("r{index}")
}

/// Reads a task's configuration from `/proc`, once its process runs (and
/// while it does).
fn config_of(task: &TaskSnapshot) -> Option<Config> {
    let pid = task.pid?;
    let read = |what: &str| std::fs::read(format!("/proc/{pid}/{what}")).ok();
    let cmdline = String::from_utf8_lossy(&read("cmdline")?).replace('\0', " ");
    // `/bin/sh -c <cmd>`: the command as the app defines it.
    let cmd = cmdline.split_once(" -c ")?.1.trim().to_string();
    let environ = read("environ")?;
    let version = environ
        .split(|b| *b == 0)
        .find_map(|v| v.strip_prefix(b"VERSION="))
        .map(|v| String::from_utf8_lossy(v).into_owned());
    Some(Config { cmd, version })
}

/// The tasks seen, with their configuration, and the violations found.
#[derive(Default)]
pub struct Racks {
    configs: BTreeMap<String, Config>,
    /// Pairs of tasks already reported.
    reported: BTreeSet<(String, String)>,
    /// The tasks of `rack:UNIQUE` apps checked, for the run's account.
    pub checked: BTreeSet<String>,
}

impl Racks {
    /// Checks one state of the master: `alive` are its tasks not terminal
    /// (a task being killed still runs on its rack) nor unreachable (a
    /// task on an agent that is away is not where the scheduler places).
    pub fn look(
        &mut self,
        alive: &[&TaskSnapshot],
        models: &Models,
        now: Instant,
        grace: Duration,
    ) -> Vec<String> {
        for task in alive {
            if !self.configs.contains_key(&task.id)
                && let Some(config) = config_of(task)
            {
                self.configs.insert(task.id.clone(), config);
            }
        }
        let mut by_place: BTreeMap<(String, &Config, String), Vec<&str>> = BTreeMap::new();
        for task in alive {
            let Some(config) = self.configs.get(&task.id) else {
                continue;
            };
            let app = app_of_task(&task.id);
            let unique = models.get(&app).is_some_and(|model| {
                model.definitions_at(now, grace).any(|d| {
                    d.rack_unique
                        && d.cmd == config.cmd
                        && d.env.get("VERSION") == config.version.as_ref()
                })
            });
            if unique {
                self.checked.insert(task.id.clone());
                let rack = rack_of_agent(&task.agent_id);
                by_place
                    .entry((app, config, rack))
                    .or_default()
                    .push(&task.id);
            }
        }
        let mut violations = Vec::new();
        for ((app, config, rack), tasks) in by_place {
            if let [first, second, ..] = tasks[..]
                && self
                    .reported
                    .insert((first.to_string(), second.to_string()))
            {
                let log = models
                    .get(&app)
                    .map(|m| Vec::from(m.log.clone()).join("\n"));
                violations.push(format!(
                    "{} {app} is rack:UNIQUE, but runs {tasks:?} of one configuration \
                     {config:?} on rack {rack}; its latest requests:\n{}",
                    super::model::time_of_day(),
                    log.unwrap_or_default()
                ));
            }
        }
        violations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agents_rack_is_its_index() {
        assert_eq!(rack_of_agent("a1b2-c3-S7"), "r7");
    }
}
