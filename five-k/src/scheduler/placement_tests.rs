//! Placement and offer statistics, driven through the scheduler with
//! offers as the master sends them, no master.

use mesos::{
    attributes,
    testing::{calls, events::*},
    v1::{Offer, scheduler::Call},
};

use super::{Scheduler, offer_match::Reason};
use crate::app::{AppRequest, PathId};

/// A subscribed scheduler with the app `json`, waiting for offers.
fn with_app(json: &str) -> Scheduler {
    let mut scheduler = Scheduler::new();
    scheduler.on_event(&subscribed("framework-1"));
    let request: AppRequest = serde_json::from_str(json).unwrap();
    scheduler.create_app(request, false).unwrap();
    scheduler.converge();
    scheduler.take_effects();
    scheduler
}

/// An offer of room for many tasks from `agent_id`.
fn roomy(agent_id: &str, offer_id: &str) -> Offer {
    agent(agent_id)
        .resources("cpus:4;mem:4096;ports:[31000-31100]")
        .offer(offer_id)
        .build()
}

fn offer(scheduler: &mut Scheduler, offers_: Vec<Offer>) -> Vec<Call> {
    scheduler.on_event(&offers(offers_));
    scheduler.converge();
    scheduler.take_effects().calls
}

/// The agents the launched tasks went to, one entry per task.
fn launched_on(calls_: &[Call]) -> Vec<String> {
    let mut agents: Vec<String> = calls::launched(calls_)
        .iter()
        .map(|t| t.agent_id.value.clone())
        .collect();
    agents.sort();
    agents
}

fn web() -> PathId {
    PathId::parse("/web")
}

const UNIQUE_3: &str = r#"{"id": "web", "cmd": "x", "cpus": 0.1, "mem": 16, "instances": 3,
    "constraints": [["hostname", "UNIQUE"]]}"#;

#[test]
fn one_offer_with_room_for_three_launches_one_task_of_a_unique_app() {
    // mesosphere/marathon#3867: an offer was checked once for all the
    // tasks taken from it.
    let mut scheduler = with_app(UNIQUE_3);
    let calls_ = offer(&mut scheduler, vec![roomy("agent-1", "o1")]);
    assert_eq!(launched_on(&calls_), ["agent-1"]);
    let calls_ = offer(&mut scheduler, vec![roomy("agent-2", "o2")]);
    assert_eq!(launched_on(&calls_), ["agent-2"]);
    // A second offer of an agent already used gets nothing either.
    let calls_ = offer(&mut scheduler, vec![roomy("agent-1", "o3")]);
    assert!(launched_on(&calls_).is_empty());
    let (_, waiting, _) = scheduler.launch_queue().next().expect("one waits");
    assert_eq!(waiting, 1);
    let stats = scheduler.offer_stats(&web()).unwrap();
    assert_eq!((stats.processed, stats.unused), (3, 1));
    let summary = stats.launch_attempt_summary();
    assert_eq!(summary[1].reason, Reason::UnfulfilledConstraint);
    assert_eq!(summary[1].declined, 1);
}

#[test]
fn several_offers_of_one_agent_in_a_round_still_place_one_task_per_agent() {
    let mut scheduler = with_app(UNIQUE_3);
    let calls_ = offer(
        &mut scheduler,
        vec![
            roomy("agent-1", "o1"),
            roomy("agent-1", "o2"),
            roomy("agent-2", "o3"),
        ],
    );
    assert_eq!(launched_on(&calls_), ["agent-1", "agent-2"]);
    let stats = scheduler.offer_stats(&web()).unwrap();
    let last = stats.last_offers_summary();
    assert_eq!(
        (last[1].reason, last[1].declined),
        (Reason::UnfulfilledConstraint, 1)
    );
    assert_eq!(
        stats.explain(&scheduler.app(&web()).unwrap().app),
        "waiting: no agent offered satisfies hostname:UNIQUE (the last offer)"
    );
}

#[test]
fn a_task_that_may_not_go_on_an_agent_leaves_its_room_to_other_apps() {
    let mut scheduler = with_app(UNIQUE_3);
    let request: AppRequest = serde_json::from_str(
        r#"{"id": "other", "cmd": "x", "cpus": 0.1, "mem": 16, "instances": 3}"#,
    )
    .unwrap();
    scheduler.create_app(request, false).unwrap();
    scheduler.converge();
    scheduler.take_effects();
    // Room for four tasks: one of /web, three of /other.
    let room_for_four = agent("agent-1")
        .resources("cpus:0.4;mem:4096;ports:[31000-31100]")
        .offer("o1")
        .build();
    let calls_ = offer(&mut scheduler, vec![room_for_four]);
    let names: Vec<String> = calls::launched(&calls_)
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let of = |name: &str| names.iter().filter(|n| *n == name).count();
    assert_eq!((of("web"), of("other")), (1, 3), "{names:?}");
}

#[test]
fn tasks_remember_their_agents_attributes_for_later_rounds() {
    let mut scheduler = with_app(
        r#"{"id": "web", "cmd": "x", "cpus": 0.1, "mem": 16, "instances": 4,
        "constraints": [["rack", "GROUP_BY", "2"]]}"#,
    );
    let on_rack = |agent_id: &str, offer_id: &str, rack: &str| {
        let mut offer = roomy(agent_id, offer_id);
        offer.attributes = attributes::parse(&format!("rack:{rack}")).unwrap();
        offer
    };
    // Two racks wanted: rack r1 takes one task and waits for r2.
    let calls_ = offer(&mut scheduler, vec![on_rack("agent-1", "o1", "r1")]);
    assert_eq!(launched_on(&calls_), ["agent-1"]);
    let calls_ = offer(&mut scheduler, vec![on_rack("agent-2", "o2", "r2")]);
    assert_eq!(launched_on(&calls_), ["agent-2"; 2]);
    let calls_ = offer(&mut scheduler, vec![on_rack("agent-1", "o3", "r1")]);
    assert_eq!(launched_on(&calls_), ["agent-1"]);
    let racks: Vec<&str> = (scheduler.tasks().of_app(&web()))
        .map(|task| task.agent_info.attributes["rack"].as_str())
        .collect();
    assert_eq!(racks.iter().filter(|r| **r == "r1").count(), 2);
    // All launched: the statistics of this launch attempt are gone.
    assert!(scheduler.offer_stats(&web()).is_none());
}

#[test]
fn an_app_bigger_than_any_offer_says_what_it_lacks() {
    let mut scheduler = with_app(r#"{"id": "web", "cmd": "x", "cpus": 0.1, "mem": 512}"#);
    let small = |agent_id: &str, offer_id: &str| {
        agent(agent_id)
            .resources("cpus:4;mem:256;ports:[31000-31100]")
            .offer(offer_id)
            .build()
    };
    let calls_ = offer(
        &mut scheduler,
        vec![small("agent-1", "o1"), small("agent-2", "o2")],
    );
    assert!(launched_on(&calls_).is_empty());
    offer(&mut scheduler, vec![small("agent-1", "o3")]);
    let stats = scheduler.offer_stats(&web()).unwrap();
    assert_eq!((stats.processed, stats.unused), (3, 3));
    let attempt = stats.launch_attempt_summary();
    assert_eq!(
        (attempt[5].reason, attempt[5].declined, attempt[5].processed),
        (Reason::InsufficientMemory, 3, 3)
    );
    // The last offers: one per agent.
    assert_eq!(stats.last_offers_summary()[5].declined, 2);
    assert_eq!(stats.last_unused_offers().count(), 2);
    assert_eq!(
        stats.explain(&scheduler.app(&web()).unwrap().app),
        "waiting: the last 2 offers had too little memory (app needs 512 MB, largest offer 256 MB)"
    );
}

mod whatever_the_offers {
    //! The promise of `hostname:UNIQUE`, on random rounds of offers
    //! (several per agent, of any size), failures, scaling and restarts.

    use mesos::v1::TaskState;
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        /// One OFFERS event: (agent number, tenths of a cpu) per offer.
        Offers(Vec<(u8, u32)>),
        /// The `nth` known task fails.
        Fail(usize),
        Scale(u32),
        Restart,
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        let step = prop_oneof![
            4 => prop::collection::vec((0u8..4, 1u32..8), 1..6).prop_map(Step::Offers),
            1 => (0usize..8).prop_map(Step::Fail),
            1 => (0u32..7).prop_map(Step::Scale),
            1 => Just(Step::Restart),
        ];
        prop::collection::vec(step, 1..30)
    }

    proptest! {
        #[test]
        fn no_two_tasks_of_a_unique_app_share_an_agent(steps in steps()) {
            let mut scheduler = with_app(
                r#"{"id": "web", "cmd": "x", "cpus": 0.1, "mem": 16, "instances": 5,
                "constraints": [["hostname", "UNIQUE"]]}"#,
            );
            for (round, step) in steps.iter().enumerate() {
                match step {
                    Step::Offers(offers_) => {
                        let offers_ = offers_
                            .iter()
                            .enumerate()
                            .map(|(n, (agent_number, tenths))| {
                                agent(&format!("agent-{agent_number}"))
                                    .resources(&format!(
                                        "cpus:{};mem:4096;ports:[31000-31100]",
                                        f64::from(*tenths) / 10.0
                                    ))
                                    .offer(&format!("o{round}-{n}"))
                                    .build()
                            })
                            .collect();
                        offer(&mut scheduler, offers_);
                    }
                    Step::Fail(nth) => {
                        let task = scheduler.tasks().of_app(&web()).nth(*nth).cloned();
                        if let Some(task) = task {
                            let event = update(&task.id, TaskState::TaskFailed)
                                .on(&task.agent_id)
                                .event();
                            scheduler.on_event(&event);
                        }
                    }
                    Step::Scale(instances) => {
                        let json = format!(r#"{{"instances": {instances}}}"#);
                        let request: AppRequest = serde_json::from_str(&json).unwrap();
                        let _ = scheduler.update_app(&web(), request, true);
                    }
                    Step::Restart => {
                        let _ = scheduler.restart_app(&web(), true);
                    }
                }
                scheduler.converge();
                scheduler.take_effects();
                // Tasks of an older configuration are on their way out:
                // a new one may share their agent, as in Marathon.
                let config = scheduler.app(&web()).unwrap().app.config_version().to_string();
                let mut hosts: Vec<&str> = (scheduler.tasks().of_app(&web()))
                    .filter(|task| task.config_version == config)
                    .map(|task| task.host.as_str())
                    .collect();
                let all = hosts.len();
                hosts.sort();
                hosts.dedup();
                prop_assert_eq!(all, hosts.len(), "after {:?}", step);
            }
        }
    }
}
