//! Why an offer cannot take a task of an app: the question behind "why is
//! my app not starting?".
//!
//! Marathon answers it with a reason per unused offer
//! (`NoOfferMatchReason.scala`, found by `ResourceMatcher.scala`), counted
//! per app in `GET /v2/queue`. This is the same, as a plain function of
//! the app, what is left of the offer and where the app's tasks run, so
//! that each reason is tested without a cluster.

use mesos::{
    offers::{OfferPacker, TaskRequirements},
    resources::Resources,
};

use super::placement::{self, Placed};
use crate::app::App;

/// Why an offer went unused for an app, in Marathon's words. Declared in
/// the order of Marathon's `reasonFunnel`: when an offer fails for
/// several reasons, the first one (the smallest) is the one counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The offer holds no resources for a role 5K may use. (5K uses
    /// whatever role it is offered, so only an offer that apps served
    /// before this one used up, as Marathon counts it.)
    UnfulfilledRole,
    UnfulfilledConstraint,
    /// For resident tasks; 5K reserves nothing, so never given.
    NoCorrespondingReservationFound,
    /// Marathon's `maintenance_mode` feature, off by default; not given.
    AgentMaintenance,
    InsufficientCpus,
    InsufficientMemory,
    InsufficientDisk,
    InsufficientGpus,
    InsufficientPorts,
    /// Marathon's GPU_SCHEDULING_BEHAVIOR `restricted`; not given.
    DeclinedScarceResources,
}

impl Reason {
    /// Every reason, in funnel order.
    pub const FUNNEL: [Reason; 10] = [
        Reason::UnfulfilledRole,
        Reason::UnfulfilledConstraint,
        Reason::NoCorrespondingReservationFound,
        Reason::AgentMaintenance,
        Reason::InsufficientCpus,
        Reason::InsufficientMemory,
        Reason::InsufficientDisk,
        Reason::InsufficientGpus,
        Reason::InsufficientPorts,
        Reason::DeclinedScarceResources,
    ];

    /// Marathon's name, as `GET /v2/queue` shows it.
    pub fn name(self) -> &'static str {
        match self {
            Reason::UnfulfilledRole => "UnfulfilledRole",
            Reason::UnfulfilledConstraint => "UnfulfilledConstraint",
            Reason::NoCorrespondingReservationFound => "NoCorrespondingReservationFound",
            Reason::AgentMaintenance => "AgentMaintenance",
            Reason::InsufficientCpus => "InsufficientCpus",
            Reason::InsufficientMemory => "InsufficientMemory",
            Reason::InsufficientDisk => "InsufficientDisk",
            Reason::InsufficientGpus => "InsufficientGpus",
            Reason::InsufficientPorts => "InsufficientPorts",
            Reason::DeclinedScarceResources => "DeclinedScarceResources",
        }
    }
}

/// The constraints of `app` that a task placed at `offer` would break,
/// given where its tasks run, as `field:OPERATOR[:value]`.
pub fn unmet_constraints(app: &App, placed: &[Placed], offer: Placed) -> Vec<String> {
    app.constraints
        .iter()
        .filter(|c| !placement::meets(c, placed, offer))
        .map(|c| c.parts.join(":"))
        .collect()
}

/// Every reason why one more task of `app` (needing `needs`) does not fit
/// in `remaining`, what is left of an offer; `unmet` are the constraints
/// it breaks there. Empty if it fits. As Marathon's matcher, the ports
/// are only looked at once all else fits.
pub fn reasons(
    app: &App,
    needs: &TaskRequirements,
    remaining: &Resources,
    unmet: &[String],
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if remaining.is_empty() {
        reasons.push(Reason::UnfulfilledRole);
    }
    if !unmet.is_empty() {
        reasons.push(Reason::UnfulfilledConstraint);
    }
    for (needed, name, reason) in [
        (app.cpus, "cpus", Reason::InsufficientCpus),
        (app.mem, "mem", Reason::InsufficientMemory),
        (app.disk, "disk", Reason::InsufficientDisk),
        (f64::from(app.gpus), "gpus", Reason::InsufficientGpus),
    ] {
        if needed > 0.0 && remaining.scalar(name) < needed {
            reasons.push(reason);
        }
    }
    if reasons.is_empty()
        && OfferPacker::from_resources(remaining.clone())
            .take(needs)
            .is_none()
    {
        // The amounts are there: what is missing are the ports (free
        // ones, or the very ones a `requirePorts` app insists on).
        reasons.push(Reason::InsufficientPorts);
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        app::{AppRequest, PathId},
        scheduler::{launch, placement::AgentInfo},
    };

    fn app(json: &str) -> App {
        let request: AppRequest = serde_json::from_str(json).unwrap();
        App::create(PathId::parse("/web"), request, "2026-12-06T14:35:05.123Z")
    }

    fn reasons_for(app: &App, offer: &str) -> Vec<Reason> {
        let offer = Resources::parse(offer).unwrap();
        reasons(app, &launch::requirements(app), &offer, &[])
    }

    #[test]
    fn each_missing_resource_is_named() {
        let app = app(r#"{"cmd": "x", "cpus": 1, "mem": 512, "disk": 100, "gpus": 1}"#);
        assert_eq!(
            reasons_for(&app, "cpus:0.5;mem:256;disk:50;gpus:0;ports:[1-9]"),
            [
                Reason::InsufficientCpus,
                Reason::InsufficientMemory,
                Reason::InsufficientDisk,
                Reason::InsufficientGpus
            ]
        );
        assert_eq!(
            reasons_for(&app, "cpus:1;mem:512;disk:100;gpus:1;ports:[1-9]"),
            []
        );
    }

    #[test]
    fn ports_count_only_when_everything_else_fits() {
        let fixed = app(r#"{"cmd": "x", "cpus": 1, "mem": 64, "requirePorts": true,
            "portDefinitions": [{"port": 8080}]}"#);
        assert_eq!(
            reasons_for(&fixed, "cpus:1;mem:64;ports:[31000-32000]"),
            [Reason::InsufficientPorts]
        );
        assert_eq!(reasons_for(&fixed, "cpus:1;mem:64;ports:[8080-8080]"), []);
        assert_eq!(
            reasons_for(&fixed, "cpus:0.5;mem:64"),
            [Reason::InsufficientCpus]
        );
        let picked = app(r#"{"cmd": "x", "cpus": 1, "mem": 64}"#);
        assert_eq!(
            reasons_for(&picked, "cpus:1;mem:64"),
            [Reason::InsufficientPorts]
        );
    }

    #[test]
    fn broken_constraints_come_first_in_the_funnel() {
        let app =
            app(r#"{"cmd": "x", "cpus": 1, "mem": 64, "constraints": [["hostname", "UNIQUE"]]}"#);
        let agent = AgentInfo::default();
        let here = Placed {
            hostname: "a1",
            agent: &agent,
        };
        let unmet = unmet_constraints(&app, &[here], here);
        assert_eq!(unmet, ["hostname:UNIQUE"]);
        let offer = Resources::parse("cpus:0.5;mem:64;ports:[1-2]").unwrap();
        let found = reasons(&app, &launch::requirements(&app), &offer, &unmet);
        assert_eq!(
            found,
            [Reason::UnfulfilledConstraint, Reason::InsufficientCpus]
        );
        assert_eq!(found.iter().min(), Some(&Reason::UnfulfilledConstraint));
        let elsewhere = Placed {
            hostname: "a2",
            agent: &agent,
        };
        assert!(unmet_constraints(&app, &[here], elsewhere).is_empty());
    }

    #[test]
    fn the_funnel_is_marathons_order_and_names() {
        let names: Vec<&str> = Reason::FUNNEL.iter().map(|r| r.name()).collect();
        assert_eq!(names[..2], ["UnfulfilledRole", "UnfulfilledConstraint"]);
        let mut sorted = Reason::FUNNEL;
        sorted.sort();
        assert_eq!(sorted, Reason::FUNNEL);
    }
}
