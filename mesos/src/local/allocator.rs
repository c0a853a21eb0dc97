//! The allocator: who gets offered which agent's free resources.
//!
//! Mesos' hierarchical allocator runs an *allocation cycle* every
//! `--allocation_interval` (1 s by default) and whenever something
//! important changes (a framework subscribes or revives). In each cycle it
//! takes every agent's unallocated resources and offers all of them to one
//! framework at a time, so each framework gets at most one offer per agent
//! per cycle, and an agent's resources are never in two offers at once.
//! Here frameworks take turns round-robin instead of by dominant resource
//! share: with a few frameworks the difference does not show.
//!
//! Frameworks shape what they get:
//!
//! * **DECLINE** (or the unused part of an ACCEPT) installs a *filter*: the
//!   refused resources are not offered to that framework again for
//!   `Filters.refuse_seconds` (default 5 s; 0 for no filter) unless the
//!   agent now has more to offer than was refused;
//! * **SUPPRESS** stops offers for some (or all) of its roles until
//!   **REVIVE**, which also clears its filters.
//!
//! Like Mesos' `--min_allocatable_resources` default, resources are only
//! offered if there is at least 0.01 cpus or 32 MB of memory among them.

use std::time::Duration;

use tokio::time::Instant;

use super::{
    master::{Framework, Master, Offer},
    stream,
};
use crate::{
    resources::{self, Resources},
    v1::{self, framework_info::capability::Type as Capability, scheduler::call},
};

/// Resources refused by a framework on one agent, until a deadline.
#[derive(Debug)]
pub(crate) struct OfferFilter {
    pub agent: usize,
    pub resources: Resources,
    pub until: Instant,
}

/// Mesos' `Filters.refuse_seconds` default.
pub(crate) const DEFAULT_REFUSE_SECONDS: f64 = 5.0;

impl Master {
    /// One allocation cycle.
    pub(crate) fn allocate(&mut self) {
        let now = Instant::now();
        for framework in self.frameworks.values_mut() {
            framework.filters.retain(|f| f.until > now);
        }
        // Who may get offers, rotated so that frameworks take turns.
        let mut candidates: Vec<String> = self
            .frameworks
            .values()
            .filter(|f| f.stream.is_some() && offer_role(f).is_some())
            .map(|f| f.id.clone())
            .collect();
        if candidates.is_empty() {
            return;
        }
        let turn = self.allocation_round % candidates.len();
        candidates.rotate_left(turn);
        self.allocation_round = self.allocation_round.wrapping_add(1);

        let mut offered = vec![Resources::default(); self.agents.len()];
        for offer in self.offers.values() {
            offered[offer.agent] += &offer.resources;
        }
        let mut new_offers: Vec<(String, v1::Offer)> = Vec::new();
        for (agent, offered) in offered.iter().enumerate() {
            if !self.agents[agent].registered() {
                continue;
            }
            let available = self.agents[agent].available(offered);
            if !allocatable(&available) {
                continue;
            }
            let remote = self.is_remote(agent);
            let chosen = candidates.iter().find(|id| {
                let framework = &self.frameworks[*id];
                (!remote || framework.has(Capability::RegionAware))
                    && !framework
                        .filters
                        .iter()
                        .any(|f| f.agent == agent && f.resources.contains(&available))
            });
            let Some(framework_id) = chosen.cloned() else {
                continue;
            };
            let offer = self.make_offer(&framework_id, agent, available);
            new_offers.push((framework_id, offer));
        }
        // One OFFERS event per framework per cycle, with all its offers.
        for framework_id in candidates {
            let offers: Vec<v1::Offer> = new_offers
                .iter()
                .filter(|(f, _)| *f == framework_id)
                .map(|(_, o)| o.clone())
                .collect();
            if !offers.is_empty() {
                let ids: Vec<&str> = offers.iter().map(|o| o.id.value.as_str()).collect();
                tracing::debug!(%framework_id, offers = ?ids, "sending offers");
                self.frameworks[&framework_id].send(&stream::offers(offers));
            }
        }
    }

    /// Whether an agent is in another region than the master: only
    /// frameworks that are REGION_AWARE are offered it (the hierarchical
    /// allocator's `isRemoteSlave`).
    fn is_remote(&self, agent: usize) -> bool {
        let region = |domain: &Option<v1::DomainInfo>| {
            (domain.as_ref())
                .and_then(|d| d.fault_domain.as_ref())
                .map(|f| f.region.name.clone())
        };
        match (
            region(&self.agents[agent].domain),
            region(&self.settings.domain),
        ) {
            (Some(agent), Some(master)) => agent != master,
            _ => false,
        }
    }

    /// Records an offer and builds the message for the framework.
    fn make_offer(&mut self, framework_id: &str, agent: usize, resources: Resources) -> v1::Offer {
        let framework = &self.frameworks[framework_id];
        let role = offer_role(framework).expect("only frameworks with a role are offered");
        let id = format!("{}-O{}", self.id, self.next_offer);
        self.next_offer += 1;
        // Pre-MULTI_ROLE frameworks get no AllocationInfo (MESOS-8237),
        // pre-RESERVATION_REFINEMENT ones the old `role` field.
        let multi_role = framework.has(Capability::MultiRole);
        let refined = framework.has(Capability::ReservationRefinement);
        let allocation = multi_role.then(|| role.clone());
        let agent_info = &self.agents[agent];
        let executor_ids = agent_info
            .executors
            .keys()
            .filter(|(f, _)| f == framework_id)
            .map(|(_, e)| v1::ExecutorId { value: e.clone() })
            .collect();
        let message = v1::Offer {
            id: v1::OfferId { value: id.clone() },
            framework_id: v1::FrameworkId {
                value: framework_id.to_string(),
            },
            agent_id: v1::AgentId {
                value: agent_info.id.clone(),
            },
            hostname: agent_info.hostname.clone(),
            url: Some(v1::Url {
                scheme: "http".into(),
                address: v1::Address {
                    hostname: Some(agent_info.hostname.clone()),
                    ip: Some(self.settings.ip.to_string()),
                    port: i32::from(self.settings.port),
                },
                path: Some(format!("/{}", agent_info.process_id())),
                ..Default::default()
            }),
            resources: offered_resources(&resources, allocation.as_deref(), refined),
            executor_ids,
            attributes: agent_info.attributes.clone(),
            domain: agent_info.domain.clone(),
            allocation_info: allocation
                .map(|role| v1::resource::AllocationInfo { role: Some(role) }),
            ..Default::default()
        };
        self.offers.insert(
            id.clone(),
            Offer {
                id,
                framework_id: framework_id.to_string(),
                agent,
                resources,
                role,
            },
        );
        message
    }

    /// Withdraws a framework's outstanding offers without telling it (it is
    /// disconnected or resubscribing); the resources become available.
    pub(crate) fn remove_offers_of(&mut self, framework_id: &str) {
        self.offers.retain(|_, o| o.framework_id != framework_id);
    }

    /// Adds a filter: don't offer `resources` of `agent` again for
    /// `refuse_seconds` (read as Mesos' allocator does, see
    /// [`refuse_timeout`]), but at least until the next allocation cycle, as
    /// Mesos does so that a short filter is not gone before the resources
    /// could have been offered again (MESOS-4302).
    pub(crate) fn add_filter(
        &mut self,
        framework_id: &str,
        agent: usize,
        resources: Resources,
        refuse_seconds: f64,
    ) {
        let refuse = refuse_timeout(refuse_seconds);
        if resources.is_empty() || refuse.is_zero() {
            return;
        }
        let refuse = refuse.max(self.settings.allocation_interval);
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            framework.filters.push(OfferFilter {
                agent,
                resources,
                until: Instant::now() + refuse,
            });
        }
    }

    /// DECLINE: hand offers back, filtered for `refuse_seconds`.
    pub(crate) fn decline(&mut self, framework_id: &str, decline: call::Decline) {
        let refuse = decline
            .filters
            .and_then(|f| f.refuse_seconds)
            .unwrap_or(DEFAULT_REFUSE_SECONDS);
        for offer_id in decline.offer_ids {
            match self.offers.get(&offer_id.value) {
                Some(offer) if offer.framework_id == framework_id => {
                    let offer = self.offers.remove(&offer_id.value).expect("just found");
                    self.add_filter(framework_id, offer.agent, offer.resources, refuse);
                }
                _ => tracing::warn!(
                    framework_id,
                    offer_id = %offer_id.value,
                    "ignoring decline of offer since it is no longer valid"
                ),
            }
        }
    }

    /// SUPPRESS: no offers for these roles (all if empty) until REVIVE.
    pub(crate) fn suppress(&mut self, framework_id: &str, roles: Vec<String>) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let Some(roles) = checked_roles(framework, roles, "suppress") else {
            return;
        };
        tracing::info!(framework_id, ?roles, "suppressing offers");
        framework.suppressed_roles.extend(roles);
    }

    /// REVIVE: offers again for these roles (all if empty), and forget all
    /// filters, so declined resources come back at once.
    pub(crate) fn revive(&mut self, framework_id: &str, roles: Vec<String>) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let Some(roles) = checked_roles(framework, roles, "revive") else {
            return;
        };
        tracing::info!(framework_id, ?roles, "reviving offers");
        for role in &roles {
            framework.suppressed_roles.remove(role);
        }
        framework.filters.clear();
        self.allocate();
    }
}

/// How long a filter lasts, from a framework's `Filters.refuse_seconds`, as
/// `HierarchicalAllocatorProcess::recoverResources` reads it: more than 365
/// days is 365 days, a negative value is the default (5 s, not "no
/// filter"), and 0 is no filter. A value stout's `Duration` cannot hold
/// falls back to the default too; NaN, which Mesos converts with undefined
/// behaviour, does the same here.
fn refuse_timeout(refuse_seconds: f64) -> Duration {
    const YEAR_SECONDS: f64 = 365.0 * 24.0 * 3600.0;
    let default = Duration::from_secs_f64(DEFAULT_REFUSE_SECONDS);
    if refuse_seconds > YEAR_SECONDS {
        Duration::from_secs_f64(YEAR_SECONDS)
    } else if refuse_seconds < 0.0 {
        default
    } else {
        Duration::try_from_secs_f64(refuse_seconds).unwrap_or(default)
    }
}

/// The roles a SUPPRESS or REVIVE applies to, or `None` if one is not a
/// role of the framework (Mesos then drops the whole call).
fn checked_roles(framework: &Framework, roles: Vec<String>, call: &str) -> Option<Vec<String>> {
    let subscribed = framework.roles();
    if roles.is_empty() {
        return Some(subscribed);
    }
    if let Some(role) = roles.iter().find(|r| !subscribed.contains(r)) {
        tracing::warn!(
            framework_id = %framework.id,
            "dropping {call}: {call} role '{role}' is not one of the frameworks's subscribed roles"
        );
        return None;
    }
    Some(roles)
}

/// The role a framework's next offer is allocated to: its first role that
/// is not suppressed.
fn offer_role(framework: &Framework) -> Option<String> {
    framework
        .roles()
        .into_iter()
        .find(|r| !framework.suppressed_roles.contains(r))
}

/// Mesos' default `--min_allocatable_resources=cpus:0.01|mem:32`.
fn allocatable(resources: &Resources) -> bool {
    resources.cpus() >= 0.01 || resources.mem() >= 32.0
}

/// An agent's resources as an offer carries them: allocated to the
/// offer's role for MULTI_ROLE frameworks (`allocation_role`), and in the
/// pre-refinement format (`role` set, even to `*`) for frameworks without
/// RESERVATION_REFINEMENT, which do not know `reservations`.
fn offered_resources(
    resources: &Resources,
    allocation_role: Option<&str>,
    refined: bool,
) -> Vec<v1::Resource> {
    let allocated = match allocation_role {
        Some(role) => resources.clone().allocated_to(role),
        None => resources.clone(),
    };
    allocated
        .into_iter()
        .map(|resource| {
            if refined {
                resource
            } else {
                // Agents only have static reservations, one level deep.
                resources::downgrade_format(resource)
                    .expect("an agent's reservations are not refined")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuse_seconds_are_read_as_mesos_allocator_reads_them() {
        let seconds = |s: f64| refuse_timeout(s).as_secs_f64();
        assert_eq!(seconds(0.0), 0.0);
        assert_eq!(seconds(2.5), 2.5);
        assert_eq!(seconds(-1.0), DEFAULT_REFUSE_SECONDS);
        assert_eq!(seconds(f64::NEG_INFINITY), DEFAULT_REFUSE_SECONDS);
        assert_eq!(seconds(f64::NAN), DEFAULT_REFUSE_SECONDS);
        assert_eq!(seconds(1e300), 365.0 * 24.0 * 3600.0);
        assert_eq!(seconds(f64::INFINITY), 365.0 * 24.0 * 3600.0);
    }
}
