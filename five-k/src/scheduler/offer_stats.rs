//! What became of the offers each waiting app was given: the statistics
//! behind `processedOffersSummary` in `GET /v2/queue` and the sentence on
//! the web page saying why an app does not start.
//!
//! As Marathon's `OfferMatchStatisticsActor.scala`: per app, from the
//! moment it waits until it has all its tasks (a "launch attempt"), how
//! many offers it was given, how many it could not use and why (the
//! first reason of the funnel), and the last unused offer of each agent,
//! which tells what the cluster looks like now rather than since when.

use std::collections::BTreeMap;

use mesos::{resources::Resources, v1::Attribute};

use super::{offer_match::Reason, placement::format_scalar};
use crate::app::App;

/// An offer an app could not use, and why.
#[derive(Clone, Debug)]
pub struct NoMatch {
    pub offer_id: String,
    pub agent_id: String,
    pub hostname: String,
    /// What was left of the offer when the app's turn came.
    pub resources: Resources,
    pub attributes: Vec<Attribute>,
    pub reasons: Vec<Reason>,
    /// The constraints it broke, as `hostname:UNIQUE`.
    pub unmet: Vec<String>,
    pub timestamp: String,
}

impl NoMatch {
    /// The reason counted for it: the first in the funnel.
    pub fn reason(&self) -> Option<Reason> {
        self.reasons.iter().min().copied()
    }
}

/// One step of the funnel: of `processed` offers, `declined` were not
/// used for `reason` (Marathon's `DeclinedOfferStep`).
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub reason: Reason,
    pub declined: u32,
    pub processed: u32,
}

/// The offers one app was given in its launch attempt.
#[derive(Clone, Debug, Default)]
pub struct OfferStats {
    pub processed: u32,
    pub unused: u32,
    pub last_used_at: Option<String>,
    pub last_unused_at: Option<String>,
    /// How many unused offers each reason accounts for.
    rejected: BTreeMap<Reason, u32>,
    /// The last unused offer of each agent, by agent ID.
    last_unused: BTreeMap<String, NoMatch>,
}

impl OfferStats {
    pub fn used(&mut self, at: &str) {
        self.processed += 1;
        self.last_used_at = Some(at.to_string());
    }

    pub fn unused(&mut self, no_match: NoMatch) {
        self.processed += 1;
        self.unused += 1;
        self.last_unused_at = Some(no_match.timestamp.clone());
        if let Some(reason) = no_match.reason() {
            *self.rejected.entry(reason).or_default() += 1;
        }
        self.last_unused.insert(no_match.agent_id.clone(), no_match);
    }

    /// The last unused offer of each agent.
    pub fn last_unused_offers(&self) -> impl Iterator<Item = &NoMatch> {
        self.last_unused.values()
    }

    /// `rejectSummaryLaunchAttempt`: every offer since the app waits.
    pub fn launch_attempt_summary(&self) -> Vec<Step> {
        funnel(self.processed, &self.rejected)
    }

    /// `rejectSummaryLastOffers`: the last unused offer of each agent.
    pub fn last_offers_summary(&self) -> Vec<Step> {
        funnel(self.last_unused.len() as u32, &self.last_reasons())
    }

    fn last_reasons(&self) -> BTreeMap<Reason, u32> {
        let mut counts = BTreeMap::new();
        for reason in self.last_unused.values().filter_map(NoMatch::reason) {
            *counts.entry(reason).or_default() += 1;
        }
        counts
    }

    /// Why `app` waits, in a sentence for people: the reason most of the
    /// agents' last offers failed for, with the numbers that show it.
    pub fn explain(&self, app: &App) -> String {
        let counts = self.last_reasons();
        // The most common reason; on a tie, the first in the funnel.
        let Some((&reason, &count)) = counts
            .iter()
            .max_by(|(r1, c1), (r2, c2)| c1.cmp(c2).then(r2.cmp(r1)))
        else {
            return if self.processed == 0 {
                "waiting: no offer received yet".to_string()
            } else {
                "waiting: launching, the last offer was used".to_string()
            };
        };
        let total = self.last_unused.len();
        let offers = match (count as usize == total, count) {
            (true, 1) => "the last offer".to_string(),
            (true, n) => format!("the last {n} offers"),
            (false, n) => format!("{n} of the last {total} offers"),
        };
        let failed = || {
            self.last_unused
                .values()
                .filter(|m| m.reason() == Some(reason))
        };
        let largest = |name: &str| {
            failed()
                .map(|m| m.resources.scalar(name))
                .fold(0.0, f64::max)
        };
        let short = |what: &str, name: &str, needed: f64, unit: &str| {
            format!(
                "waiting: {offers} had too {what} (app needs {}{unit}, largest offer {}{unit})",
                format_scalar(needed),
                format_scalar(largest(name))
            )
        };
        match reason {
            Reason::InsufficientMemory => short("little memory", "mem", app.mem, " MB"),
            Reason::InsufficientCpus => short("few CPUs", "cpus", app.cpus, ""),
            Reason::InsufficientDisk => short("little disk", "disk", app.disk, " MB"),
            Reason::InsufficientGpus => short("few GPUs", "gpus", f64::from(app.gpus), ""),
            Reason::InsufficientPorts => {
                format!(
                    "waiting: {offers} had too few free ports (or not the ports the app requires)"
                )
            }
            Reason::UnfulfilledConstraint => {
                let mut unmet: Vec<&str> = failed()
                    .flat_map(|m| m.unmet.iter().map(String::as_str))
                    .collect();
                unmet.sort();
                unmet.dedup();
                if count as usize == total {
                    format!(
                        "waiting: no agent offered satisfies {} ({offers})",
                        unmet.join(", ")
                    )
                } else {
                    format!("waiting: {offers} did not satisfy {}", unmet.join(", "))
                }
            }
            Reason::UnfulfilledRole => format!(
                "waiting: {offers} had nothing left for it (taken by other apps, \
                 or for another role)"
            ),
            other => format!("waiting: {offers} could not be used ({})", other.name()),
        }
    }
}

/// The funnel of Marathon's `declinedOfferSteps`: each reason in order,
/// with the offers it declined out of those that got that far.
fn funnel(processed: u32, declined: &BTreeMap<Reason, u32>) -> Vec<Step> {
    let mut left = processed;
    Reason::FUNNEL
        .iter()
        .map(|&reason| {
            let declined = declined.get(&reason).copied().unwrap_or(0);
            let step = Step {
                reason,
                declined,
                processed: left,
            };
            left = left.saturating_sub(declined);
            step
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{AppRequest, PathId};

    fn app() -> App {
        let request: AppRequest = serde_json::from_str(r#"{"cmd": "x", "mem": 512}"#).unwrap();
        App::create(PathId::parse("/big"), request, "2026-12-06T14:35:05.123Z")
    }

    fn no_match(agent: &str, mem: f64, reasons: Vec<Reason>) -> NoMatch {
        NoMatch {
            offer_id: format!("{agent}-O"),
            agent_id: agent.into(),
            hostname: "h".into(),
            resources: Resources::parse(&format!("cpus:4;mem:{mem}")).unwrap(),
            attributes: vec![],
            reasons,
            unmet: vec![],
            timestamp: "t".into(),
        }
    }

    #[test]
    fn the_funnel_counts_each_offer_once_by_its_first_reason() {
        let mut stats = OfferStats::default();
        stats.used("t0");
        stats.unused(no_match(
            "a1",
            256.0,
            vec![Reason::InsufficientMemory, Reason::UnfulfilledConstraint],
        ));
        stats.unused(no_match("a2", 128.0, vec![Reason::InsufficientMemory]));
        stats.unused(no_match("a2", 100.0, vec![Reason::InsufficientMemory]));
        assert_eq!((stats.processed, stats.unused), (4, 3));
        let steps = stats.launch_attempt_summary();
        assert_eq!(steps.len(), 10);
        assert_eq!(
            steps[1],
            Step {
                reason: Reason::UnfulfilledConstraint,
                declined: 1,
                processed: 4
            }
        );
        assert_eq!(
            steps[5],
            Step {
                reason: Reason::InsufficientMemory,
                declined: 2,
                processed: 3
            }
        );
        assert_eq!(steps[6].processed, 1);
        // The last offers: one per agent.
        let last = stats.last_offers_summary();
        assert_eq!(
            (last[0].processed, last[1].declined, last[5].declined),
            (2, 1, 1)
        );
    }

    #[test]
    fn the_sentence_names_the_main_reason_with_its_numbers() {
        let mut stats = OfferStats::default();
        assert_eq!(stats.explain(&app()), "waiting: no offer received yet");
        stats.unused(no_match("a1", 256.0, vec![Reason::InsufficientMemory]));
        stats.unused(no_match("a2", 200.0, vec![Reason::InsufficientMemory]));
        assert_eq!(
            stats.explain(&app()),
            "waiting: the last 2 offers had too little memory (app needs 512 MB, largest offer 256 MB)"
        );
        let mut unique = no_match("a3", 1024.0, vec![Reason::UnfulfilledConstraint]);
        unique.unmet = vec!["hostname:UNIQUE".into()];
        stats.unused(unique);
        assert_eq!(
            stats.explain(&app()),
            "waiting: 2 of the last 3 offers had too little memory (app needs 512 MB, largest offer 256 MB)"
        );
    }

    #[test]
    fn an_unmet_constraint_is_named() {
        let mut stats = OfferStats::default();
        let mut unique = no_match("a1", 1024.0, vec![Reason::UnfulfilledConstraint]);
        unique.unmet = vec!["hostname:UNIQUE".into()];
        stats.unused(unique);
        assert_eq!(
            stats.explain(&app()),
            "waiting: no agent offered satisfies hostname:UNIQUE (the last offer)"
        );
    }
}
