//! Offers and reconciliation: DECLINE filters, SUPPRESS/REVIVE, and the
//! answers Mesos gives to RECONCILE for known and unknown tasks.

mod local_support;

use std::time::{Duration, Instant};

use local_support::*;
use mesos::{
    calls,
    local::LocalMasterConfig,
    v1::{
        AgentId, TaskId, TaskState,
        framework_info::capability::Type as Capability,
        scheduler::event,
        task_status::{Reason, Source},
    },
};

#[tokio::test]
async fn declined_resources_come_back_after_refuse_seconds() {
    let master = start(config()).await; // allocation every 50 ms
    let framework = Framework::subscribe(&master, framework_info("decliner", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let declined = Instant::now();
    framework
        .call(calls::decline(vec![offer.id.clone()], 0.5))
        .await;
    let again = framework.offer_for("-S0", |_| true).await;
    let withheld = declined.elapsed();
    assert_ne!(again.id, offer.id, "a new offer");
    assert_eq!(offered(&again), full_agent());
    // Ten allocation cycles passed without re-offering the agent.
    assert!(
        withheld >= Duration::from_millis(450),
        "re-offered after {withheld:?}"
    );
    assert!(
        withheld < Duration::from_secs(5),
        "re-offered after {withheld:?}"
    );
}

#[tokio::test]
async fn suppress_stops_offers_and_revive_brings_them_back_at_once() {
    let master = start(LocalMasterConfig {
        heartbeat_interval: Duration::from_millis(100),
        ..config()
    })
    .await;
    let framework = Framework::subscribe(&master, framework_info("quiet", &[], 0.0)).await;
    let mut offers = framework.offers().await;
    while offers.len() < 2 {
        offers.extend(framework.offers().await);
    }
    framework.call(calls::suppress(vec![])).await;
    let ids = offers.iter().map(|o| o.id.clone()).collect();
    framework.call(calls::decline(ids, 0.0)).await;
    let state = master
        .wait_for(|s| s.offers.is_empty(), WAIT)
        .await
        .unwrap();
    assert_eq!(
        state.framework(&framework.id).unwrap().suppressed_roles,
        ["*"]
    );

    // Heartbeats as a clock: across three of them (six allocation cycles
    // each) no offer comes.
    let heartbeat = |e: &mesos::v1::scheduler::Event| e.r#type() == event::Type::Heartbeat;
    for _ in 0..3 {
        framework.wait("HEARTBEAT", heartbeat).await;
    }
    assert!(
        framework
            .try_wait(|e| e.r#type() == event::Type::Offers, Duration::ZERO)
            .await
            .is_none(),
        "no offers while suppressed"
    );

    // A long DECLINE filter is cleared by REVIVE too.
    framework.call(calls::revive(vec![])).await;
    let offers = framework.offers().await;
    assert!(!offers.is_empty());
    framework
        .call(calls::decline(
            offers.iter().map(|o| o.id.clone()).collect(),
            3600.0,
        ))
        .await;
    framework.call(calls::revive(vec![])).await;
    let revived = Instant::now();
    framework.offers().await;
    assert!(revived.elapsed() < Duration::from_secs(2));
}

/// Mesos forgets a framework's DECLINE filters when its connection goes
/// (`HierarchicalAllocatorProcess::deactivateFramework`): a scheduler that
/// declined for an hour and comes back is offered everything at once.
#[tokio::test]
async fn a_framework_that_reconnects_has_no_filters_left() {
    let master = start(config()).await;
    let mut info = framework_info("returning", &[], 60.0);
    let framework = Framework::subscribe(&master, info.clone()).await;
    let mut offers = framework.offers().await;
    while offers.len() < 2 {
        offers.extend(framework.offers().await);
    }
    let ids = offers.iter().map(|o| o.id.clone()).collect();
    framework.call(calls::decline(ids, 3600.0)).await;
    let framework_id = framework.id.clone();
    let client = framework.disconnect();
    master
        .wait_for(
            |s| s.framework(&framework_id).is_some_and(|f| !f.connected),
            WAIT,
        )
        .await
        .unwrap();
    info.id = Some(mesos::v1::FrameworkId {
        value: framework_id,
    });
    let framework = Framework::subscribe_client(client, info).await;
    let again = framework.offers().await;
    assert!(!again.is_empty(), "offered again without a REVIVE");
}

#[tokio::test]
async fn a_framework_cannot_suppress_a_role_it_does_not_have() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("roles", &[], 0.0)).await;
    framework.call(calls::suppress(vec!["other".into()])).await;
    framework.call(calls::revive(vec![])).await;
    let state = master.state();
    assert!(
        state
            .framework(&framework.id)
            .unwrap()
            .suppressed_roles
            .is_empty()
    );
}

/// Reconciliation for a framework with or without PARTITION_AWARE.
async fn reconcile(partition_aware: bool) {
    let master = start(config()).await;
    let capabilities: &[Capability] = if partition_aware {
        &[Capability::PartitionAware]
    } else {
        &[]
    };
    let framework =
        Framework::subscribe(&master, framework_info("reconciler", capabilities, 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let task = command_task("known", &offer.agent_id, "sleep 30", "cpus:0.1;mem:32");
    framework.launch(&offer, vec![task]).await;
    framework.follow("known", TaskState::TaskRunning).await;

    let agent = Some(offer.agent_id.clone());
    let other = AgentId {
        value: format!("{}-S99", master.id()),
    };
    framework
        .call(calls::reconcile(vec![
            (
                TaskId {
                    value: "known".into(),
                },
                agent.clone(),
            ),
            (
                TaskId {
                    value: "unknown".into(),
                },
                None,
            ),
            (
                TaskId {
                    value: "not-there".into(),
                },
                agent.clone(),
            ),
            (
                TaskId {
                    value: "nowhere".into(),
                },
                Some(other),
            ),
        ]))
        .await;
    let known = framework.update("known").await;
    assert_eq!(known.state(), TaskState::TaskRunning);
    assert_eq!(known.reason(), Reason::Reconciliation);
    assert_eq!(known.source(), Source::Master);
    assert_eq!(
        known.message.as_deref(),
        Some("Reconciliation: Latest task state")
    );
    assert_eq!(
        known.uuid, None,
        "reconciliation answers are not acknowledged"
    );

    let lost_or = |state| {
        if partition_aware {
            state
        } else {
            TaskState::TaskLost
        }
    };
    let unknown = framework.update("unknown").await;
    assert_eq!(unknown.state(), lost_or(TaskState::TaskUnknown));
    assert_eq!(unknown.reason(), Reason::Reconciliation);
    assert_eq!(
        unknown.message.as_deref(),
        Some("Reconciliation: Task is unknown")
    );
    let gone = framework.update("not-there").await;
    assert_eq!(gone.state(), lost_or(TaskState::TaskGone));
    assert_eq!(
        gone.message.as_deref(),
        Some("Reconciliation: Task is unknown to the agent")
    );
    let nowhere = framework.update("nowhere").await;
    assert_eq!(nowhere.state(), lost_or(TaskState::TaskUnknown));

    // Implicit: the latest state of every task the master knows.
    framework.call(calls::reconcile_all()).await;
    let implicit = framework.update("known").await;
    assert_eq!(implicit.state(), TaskState::TaskRunning);
    assert_eq!(implicit.reason(), Reason::Reconciliation);

    // KILL of a task the master does not know is answered by reconciliation.
    framework
        .call(calls::kill(
            TaskId {
                value: "phantom".into(),
            },
            None,
            None,
        ))
        .await;
    let phantom = framework.update("phantom").await;
    assert_eq!(phantom.state(), lost_or(TaskState::TaskUnknown));
}

#[tokio::test]
async fn reconcile_known_and_unknown_tasks() {
    reconcile(false).await;
}

#[tokio::test]
async fn reconcile_known_and_unknown_tasks_partition_aware() {
    reconcile(true).await;
}

#[tokio::test]
async fn offers_carry_their_agents_attributes() {
    let master = start(LocalMasterConfig {
        agent_attributes: vec!["rack:r1;cores:4".into()],
        ..config()
    })
    .await;
    let framework = Framework::subscribe(&master, framework_info("placer", &[], 0.0)).await;
    let first = framework.offer_for("-S0", |_| true).await;
    let names: Vec<&str> = first.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["rack", "cores"]);
    assert_eq!(first.attributes[0].text.as_ref().unwrap().value, "r1");
    // The second agent was given none.
    let second = framework.offer_for("-S1", |_| true).await;
    assert!(second.attributes.is_empty(), "{:?}", second.attributes);
}

#[tokio::test]
async fn attributes_mesos_would_refuse_stop_the_master_from_starting() {
    for (attributes, agents) in [(vec!["gpus:{0,1}".into()], 2), (vec![String::new(); 3], 2)] {
        let started = mesos::local::LocalMaster::start(LocalMasterConfig {
            agent_attributes: attributes,
            agents,
            ..config()
        })
        .await;
        assert!(started.is_err());
    }
}

#[tokio::test]
async fn agents_of_another_region_are_offered_only_to_region_aware_frameworks() {
    let domain = |region: &str, zone: &str| (region.to_string(), zone.to_string());
    let master = start(LocalMasterConfig {
        domain: Some(domain("eu", "a")),
        agent_domains: vec![domain("eu", "b"), domain("us", "c")],
        ..config()
    })
    .await;
    assert_eq!(
        master
            .master_info()
            .domain
            .unwrap()
            .fault_domain
            .unwrap()
            .zone
            .name,
        "a"
    );
    // One OFFERS event per cycle holds every agent it may have: only the
    // local region's.
    let local = Framework::subscribe(&master, framework_info("local", &[], 0.0)).await;
    let offers = local.offers().await;
    let agents: Vec<&str> = offers.iter().map(|o| o.agent_id.value.as_str()).collect();
    assert!(agents.iter().all(|a| a.ends_with("-S0")), "{agents:?}");
    let zone = &offers[0]
        .domain
        .as_ref()
        .unwrap()
        .fault_domain
        .as_ref()
        .unwrap()
        .zone;
    assert_eq!(zone.name, "b");
    let aware = Framework::subscribe(
        &master,
        framework_info("aware", &[Capability::RegionAware], 0.0),
    )
    .await;
    let remote = aware.offer_for("-S1", |_| true).await;
    let region = &remote.domain.unwrap().fault_domain.unwrap().region;
    assert_eq!(region.name, "us");
}

#[tokio::test]
async fn agents_with_a_domain_need_a_master_with_one() {
    let started = mesos::local::LocalMaster::start(LocalMasterConfig {
        agent_domains: vec![("eu".into(), "a".into())],
        ..config()
    })
    .await;
    assert!(started.is_err());
}
