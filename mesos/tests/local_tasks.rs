//! Tasks on the simulated agents: real processes, their status updates,
//! reliable delivery, kills, invalid launches and unsupported containers.

mod local_support;

use std::time::Duration;

use local_support::*;
use mesos::{
    calls,
    resources::Resources,
    v1::{
        CommandInfo, ContainerInfo, DurationInfo, Environment, ExecutorId, ExecutorInfo,
        KillPolicy, OfferId, TaskGroupInfo, TaskState, container_info, environment, executor_info,
        framework_info::capability::Type as Capability,
        task_status::{Reason, Source},
    },
};

#[tokio::test]
async fn echo_hello_runs_to_finished_and_frees_its_resources() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("echo", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let task = command_task("hello", &offer.agent_id, "echo hello", "cpus:0.5;mem:64");
    framework.launch(&offer, vec![task]).await;

    let starting = framework.update("hello").await;
    assert_eq!(starting.state(), TaskState::TaskStarting);
    framework.ack(&starting).await;
    let running = framework.update("hello").await;
    assert_eq!(running.state(), TaskState::TaskRunning);
    framework.ack(&running).await;
    let finished = framework.update("hello").await;
    assert_eq!(finished.state(), TaskState::TaskFinished);
    assert_eq!(
        finished.message.as_deref(),
        Some("Command exited with status 0")
    );
    assert_eq!(finished.source(), Source::Executor);
    assert_eq!(finished.uuid.as_ref().map(|u| u.len()), Some(16));
    assert_eq!(finished.agent_id.as_ref(), Some(&offer.agent_id));
    // The command executor is named after its task.
    assert_eq!(finished.executor_id.as_ref().unwrap().value, "hello");
    assert!(finished.timestamp.unwrap() > 1.0e9);
    for status in [&starting, &running] {
        assert_eq!(status.source(), Source::Executor);
        assert_ne!(status.uuid, finished.uuid);
    }

    let sandbox = master
        .state()
        .task("hello")
        .unwrap()
        .sandbox
        .clone()
        .unwrap();
    let stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap();
    assert_eq!(stdout, "hello\n");
    assert!(sandbox.starts_with(master.work_dir()));
    assert!(sandbox.to_string_lossy().contains("/executors/hello/runs/"));

    // Acknowledged: the master forgets the task, and the agent offers all
    // its resources again.
    framework.ack(&finished).await;
    let state = master
        .wait_for(|s| s.task("hello").is_some_and(|t| t.completed), WAIT)
        .await
        .unwrap();
    assert!(state.agent(&offer.agent_id.value).unwrap().used.is_empty());
    let full = framework
        .offer_for("-S0", |o| offered(o) == full_agent())
        .await;
    assert_eq!(full.agent_id, offer.agent_id);
}

#[tokio::test]
async fn a_failing_command_is_task_failed() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("fail", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let task = command_task(
        "oops",
        &offer.agent_id,
        "echo bad >&2; exit 3",
        "cpus:0.1;mem:32",
    );
    framework.launch(&offer, vec![task]).await;
    let failed = framework.follow("oops", TaskState::TaskFailed).await;
    assert_eq!(
        failed.message.as_deref(),
        Some("Command exited with status 3")
    );
    assert_eq!(failed.source(), Source::Executor);
    let sandbox = master
        .state()
        .task("oops")
        .unwrap()
        .sandbox
        .clone()
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(sandbox.join("stderr")).unwrap(),
        "bad\n"
    );
}

#[tokio::test]
async fn updates_are_resent_until_acknowledged_and_held_in_order() {
    let master = start(config()).await; // retries after 200 ms, 400 ms, …
    let framework = Framework::subscribe(&master, framework_info("acks", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let task = command_task("slow", &offer.agent_id, "sleep 30", "cpus:0.1;mem:32");
    framework.launch(&offer, vec![task]).await;

    // Without an acknowledgement, TASK_STARTING comes again (same uuid)…
    let first = framework.update("slow").await;
    let again = framework.update("slow").await;
    let third = framework.update("slow").await;
    assert_eq!(first.state(), TaskState::TaskStarting);
    assert_eq!(again, first, "a retry is the same update");
    assert_eq!(third, first);
    // …while TASK_RUNNING, which the agent knows of, waits its turn.
    let state = master.state();
    let task = state.task("slow").unwrap();
    assert_eq!(task.state, TaskState::TaskRunning);
    assert_eq!(task.status_update_state, Some(TaskState::TaskStarting));
    assert!(
        framework
            .statuses("slow")
            .iter()
            .all(|s| s.state() == TaskState::TaskStarting)
    );

    framework.ack(&first).await;
    let running = framework.update_in("slow", TaskState::TaskRunning).await;
    framework.ack(&running).await;
    master
        .wait_for(
            |s| s.task("slow").unwrap().status_update_state == Some(TaskState::TaskRunning),
            WAIT,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn kill_sends_killing_then_killed_and_stops_the_process() {
    let master = start(config()).await;
    let info = framework_info("killer", &[Capability::TaskKillingState], 0.0);
    let framework = Framework::subscribe(&master, info).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    // A child of `sh -c` must die too: the kill goes to the process group.
    let task = command_task(
        "victim",
        &offer.agent_id,
        "sleep 60 & sleep 60; wait",
        "cpus:0.1;mem:32",
    );
    framework.launch(&offer, vec![task]).await;
    framework.follow("victim", TaskState::TaskRunning).await;
    let pid = master.state().task("victim").unwrap().pid.unwrap();
    assert!(process_alive(pid));

    framework
        .call(calls::kill(
            offer_task_id("victim"),
            Some(offer.agent_id.clone()),
            None,
        ))
        .await;
    let killing = framework.follow("victim", TaskState::TaskKilling).await;
    assert_eq!(killing.source(), Source::Executor);
    let killed = framework.follow("victim", TaskState::TaskKilled).await;
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
    wait_process_gone(pid).await;
    let group_alive = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -0 -- -{pid} 2>/dev/null"))
        .status()
        .unwrap()
        .success();
    assert!(!group_alive, "no process of the task's group survives");
}

#[tokio::test]
async fn kill_escalates_to_sigkill_after_the_grace_period() {
    let master = start(config()).await;
    // No TASK_KILLING_STATE capability: no TASK_KILLING update.
    let framework = Framework::subscribe(&master, framework_info("stubborn", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let mut task = command_task(
        "stubborn",
        &offer.agent_id,
        "trap '' TERM; echo ready; sleep 60",
        "cpus:0.1;mem:32",
    );
    task.kill_policy = Some(KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: 200_000_000,
        }),
    });
    framework.launch(&offer, vec![task]).await;
    framework.follow("stubborn", TaskState::TaskRunning).await;
    // Kill only once the shell ignores SIGTERM.
    let sandbox = master
        .state()
        .task("stubborn")
        .unwrap()
        .sandbox
        .clone()
        .unwrap();
    wait_until(|| {
        std::fs::read_to_string(sandbox.join("stdout")).is_ok_and(|out| out.contains("ready"))
    })
    .await;
    framework
        .call(calls::kill(offer_task_id("stubborn"), None, None))
        .await;
    let killed = framework.follow("stubborn", TaskState::TaskKilled).await;
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Killed")
    );
    assert!(
        framework
            .statuses("stubborn")
            .iter()
            .all(|s| s.state() != TaskState::TaskKilling),
        "TASK_KILLING only for frameworks that asked for it"
    );
}

/// A retried kill may shorten the grace period, counted from the first
/// SIGTERM as Mesos counts it (`killGracePeriodStart + gracePeriod`,
/// src/launcher/executor.cpp): 600 s, then 4 s once 5 s have passed, is
/// SIGKILL at once, not 4 s later.
#[tokio::test]
async fn a_shorter_grace_period_counts_from_the_first_sigterm() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("retried", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let task = command_task(
        "retried",
        &offer.agent_id,
        "trap '' TERM; echo ready; sleep 600",
        "cpus:0.1;mem:32",
    );
    framework.launch(&offer, vec![task]).await;
    framework.follow("retried", TaskState::TaskRunning).await;
    let sandbox = master
        .state()
        .task("retried")
        .unwrap()
        .sandbox
        .clone()
        .unwrap();
    wait_until(|| {
        std::fs::read_to_string(sandbox.join("stdout")).is_ok_and(|out| out.contains("ready"))
    })
    .await;
    let grace = |seconds: i64| KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: seconds * 1_000_000_000,
        }),
    };
    let kill = |seconds| calls::kill(offer_task_id("retried"), None, Some(grace(seconds)));
    framework.call(kill(600)).await;
    // What is measured is time passing since the first SIGTERM: no
    // condition to wait on instead.
    tokio::time::sleep(Duration::from_secs(5)).await;
    framework.call(kill(4)).await;
    let killed = tokio::time::timeout(
        Duration::from_secs(3),
        framework.follow("retried", TaskState::TaskKilled),
    )
    .await
    .expect("SIGKILL at once: 4 s from the first SIGTERM are over");
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Killed")
    );
}

#[tokio::test]
async fn invalid_launches_get_the_updates_mesos_sends() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("invalid", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;

    // An offer that does not exist: TASK_LOST (not partition-aware).
    let task = command_task("ghost", &offer.agent_id, "true", "cpus:0.1;mem:32");
    framework
        .call(calls::accept(
            vec![OfferId {
                value: "no-such-offer".into(),
            }],
            vec![calls::launch(vec![task])],
            None,
        ))
        .await;
    let lost = framework.update("ghost").await;
    assert_eq!(lost.state(), TaskState::TaskLost);
    assert_eq!(lost.reason(), Reason::InvalidOffers);
    assert_eq!(lost.source(), Source::Master);
    assert_eq!(
        lost.message.as_deref(),
        Some("Task launched with invalid offers: Offer no-such-offer is no longer valid")
    );
    assert_eq!(
        lost.uuid, None,
        "master-generated updates are not acknowledged"
    );

    // In one ACCEPT: too many resources, a duplicate ID, no resources, and
    // a good task; only the good one runs.
    let too_big = command_task("greedy", &offer.agent_id, "true", "cpus:100;mem:32");
    let first = command_task("twin", &offer.agent_id, "sleep 30", "cpus:0.1;mem:32");
    let duplicate = command_task("twin", &offer.agent_id, "sleep 30", "cpus:0.1;mem:32");
    let mut empty = command_task("empty", &offer.agent_id, "true", "cpus:1");
    empty.resources.clear();
    framework
        .call(calls::accept(
            vec![offer.id.clone()],
            vec![calls::launch(vec![too_big, first, duplicate, empty])],
            Some(calls::refuse_for(0.0)),
        ))
        .await;
    let error = framework.update("greedy").await;
    assert_eq!(error.state(), TaskState::TaskError);
    assert_eq!(error.reason(), Reason::TaskInvalid);
    assert_eq!(error.source(), Source::Master);
    assert_eq!(
        error.message.as_deref(),
        Some(
            "Total resources cpus(allocated: *):100; mem(allocated: *):32 required by task \
             and its executor is more than available cpus(allocated: *):2; \
             mem(allocated: *):2048; disk(allocated: *):4096; ports(allocated: *):[31000-32000]"
        )
    );
    let duplicate = framework.update_in("twin", TaskState::TaskError).await;
    assert_eq!(
        duplicate.message.as_deref(),
        Some("Task has duplicate ID: twin")
    );
    let empty = framework.update("empty").await;
    assert_eq!(empty.message.as_deref(), Some("Task uses no resources"));
    framework.follow("twin", TaskState::TaskRunning).await;

    // The same invalid offer, for a partition-aware framework: TASK_DROPPED.
    let aware = Framework::subscribe(
        &master,
        framework_info("aware", &[Capability::PartitionAware], 0.0),
    )
    .await;
    let task = command_task("ghost", &offer.agent_id, "true", "cpus:0.1;mem:32");
    aware
        .call(calls::accept(
            vec![OfferId {
                value: "no-such-offer".into(),
            }],
            vec![calls::launch(vec![task])],
            None,
        ))
        .await;
    let dropped = aware.update("ghost").await;
    assert_eq!(dropped.state(), TaskState::TaskDropped);
    assert_eq!(dropped.reason(), Reason::InvalidOffers);
}

#[tokio::test]
async fn docker_image_tasks_fail_with_a_clear_message() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("docker", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let mut task = command_task("nginx", &offer.agent_id, "nginx", "cpus:0.5;mem:128");
    task.container = Some(ContainerInfo {
        r#type: container_info::Type::Docker as i32,
        docker: Some(container_info::DockerInfo {
            image: "nginx:latest".into(),
            ..Default::default()
        }),
        ..Default::default()
    });
    framework.launch(&offer, vec![task]).await;
    let failed = framework.update("nginx").await;
    assert_eq!(failed.state(), TaskState::TaskFailed);
    assert_eq!(failed.source(), Source::Agent);
    assert_eq!(failed.reason(), Reason::ContainerLaunchFailed);
    let message = failed.message.unwrap();
    assert!(
        message.contains("nginx:latest") && message.contains("no Docker"),
        "{message}"
    );
    let state = master.state();
    assert!(state.agent(&offer.agent_id.value).unwrap().used.is_empty());
}

#[tokio::test]
async fn tasks_get_their_environment_and_exec_without_a_shell() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("env", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let mut task = command_task(
        "printenv",
        &offer.agent_id,
        "/usr/bin/env",
        "cpus:0.1;mem:32",
    );
    task.command = Some(CommandInfo {
        shell: Some(false),
        value: Some("/usr/bin/env".into()),
        arguments: vec!["env".into()],
        environment: Some(Environment {
            variables: vec![environment::Variable {
                name: "GREETING".into(),
                value: Some("hello world".into()),
                ..Default::default()
            }],
        }),
        ..Default::default()
    });
    framework.launch(&offer, vec![task]).await;
    framework.follow("printenv", TaskState::TaskFinished).await;
    let state = master.state();
    let sandbox = state.task("printenv").unwrap().sandbox.clone().unwrap();
    let stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap();
    for line in [
        "GREETING=hello world".to_string(),
        format!("MESOS_SANDBOX={}", sandbox.display()),
        "MESOS_TASK_ID=printenv".to_string(),
        format!("MESOS_AGENT_ID={}", offer.agent_id.value),
        format!("MESOS_FRAMEWORK_ID={}", framework.id),
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "{line} missing in:\n{stdout}"
        );
    }
}

#[tokio::test]
async fn a_task_group_runs_under_one_executor_and_fails_together() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("pods", &[], 0.0)).await;
    let offer = framework.offer_for("-S1", |_| true).await;
    let executor = ExecutorInfo {
        r#type: Some(executor_info::Type::Default as i32),
        executor_id: ExecutorId {
            value: "pod".into(),
        },
        resources: Resources::parse("cpus:0.1;mem:32;disk:10")
            .unwrap()
            .into_vec(),
        ..Default::default()
    };
    let tasks = vec![
        command_task("web", &offer.agent_id, "sleep 60", "cpus:0.2;mem:64"),
        command_task("sidecar", &offer.agent_id, "exit 1", "cpus:0.1;mem:32"),
    ];
    framework
        .call(calls::accept(
            vec![offer.id.clone()],
            vec![calls::launch_group(executor, TaskGroupInfo { tasks })],
            Some(calls::refuse_for(0.0)),
        ))
        .await;
    let failed = framework.follow("sidecar", TaskState::TaskFailed).await;
    assert_eq!(failed.executor_id.unwrap().value, "pod");
    // The default executor kills the rest of a group when one task fails.
    let killed = framework.follow("web", TaskState::TaskKilled).await;
    assert_eq!(killed.executor_id.unwrap().value, "pod");
    let state = master
        .wait_for(
            |s| s.agent(&offer.agent_id.value).unwrap().used.is_empty(),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(
        state.task("web").unwrap().executor_id.as_deref(),
        Some("pod")
    );
}

#[tokio::test]
async fn invalid_task_groups_get_task_error() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("bad pods", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    // An executor without resources cannot run.
    let executor = ExecutorInfo {
        r#type: Some(executor_info::Type::Default as i32),
        executor_id: ExecutorId {
            value: "pod".into(),
        },
        ..Default::default()
    };
    let tasks = vec![command_task(
        "a",
        &offer.agent_id,
        "true",
        "cpus:0.1;mem:32",
    )];
    framework
        .call(calls::accept(
            vec![offer.id.clone()],
            vec![calls::launch_group(executor, TaskGroupInfo { tasks })],
            None,
        ))
        .await;
    let error = framework.update("a").await;
    assert_eq!(error.state(), TaskState::TaskError);
    assert_eq!(error.reason(), Reason::TaskGroupInvalid);
    assert_eq!(
        error.message.as_deref(),
        Some("Executor 'pod' uses less CPUs (None) than the minimum required (0.01)")
    );
}

fn offer_task_id(id: &str) -> mesos::v1::TaskId {
    mesos::v1::TaskId { value: id.into() }
}

#[tokio::test]
async fn shutdown_stops_a_command_tasks_executor() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("shutdown", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let task = command_task("served", &offer.agent_id, "sleep 60", "cpus:0.1;mem:32");
    framework.launch(&offer, vec![task]).await;
    let running = framework.follow("served", TaskState::TaskRunning).await;
    // The command executor of a task is named after the task.
    let executor_id = running.executor_id.clone().unwrap();
    assert_eq!(
        executor_id,
        ExecutorId {
            value: "served".into()
        }
    );
    framework
        .call(calls::shutdown(executor_id, offer.agent_id.clone()))
        .await;
    let killed = framework.follow("served", TaskState::TaskKilled).await;
    assert_eq!(killed.source(), Source::Executor);
}

/// One agent with a static reservation for `web`.
fn reserved_config() -> mesos::local::LocalMasterConfig {
    mesos::local::LocalMasterConfig {
        agents: 1,
        agent_resources: "cpus(web):1;cpus:1;mem:256;disk:100".into(),
        ..config()
    }
}

#[tokio::test]
async fn reserved_resources_in_the_pre_refinement_format() {
    let master = start(reserved_config()).await;
    let mut info = framework_info("legacy", &[], 0.0);
    info.role = Some("web".into());
    let framework = Framework::subscribe(&master, info).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    // No RESERVATION_REFINEMENT: reservations in `role`, `*` when none; no
    // MULTI_ROLE: no allocation_info.
    let roles: Vec<(&str, &str)> = offer
        .resources
        .iter()
        .map(|r| (r.name.as_str(), r.role.as_deref().unwrap_or("unset")))
        .collect();
    assert_eq!(
        roles,
        [("cpus", "web"), ("cpus", "*"), ("mem", "*"), ("disk", "*")]
    );
    assert!(offer.resources.iter().all(|r| r.reservations.is_empty()));
    assert!(offer.resources.iter().all(|r| r.allocation_info.is_none()));
    assert_eq!(
        offered(&offer),
        Resources::parse("cpus(web):1;cpus:1;mem:256;disk:100").unwrap()
    );

    // A task names the reserved cpus the way they were offered.
    let mut task = command_task("reserved", &offer.agent_id, "sleep 30", "mem:32");
    task.resources.push(mesos::v1::Resource {
        role: Some("web".into()),
        ..mesos::resources::cpus(0.5)
    });
    framework.launch(&offer, vec![task]).await;
    framework.follow("reserved", TaskState::TaskRunning).await;
    let state = master.state();
    let expected = Resources::parse("cpus(web):0.5;mem:32").unwrap();
    assert_eq!(state.task("reserved").unwrap().resources, expected);
    assert_eq!(state.agents[0].used, expected);
}

#[tokio::test]
async fn reserved_resources_in_the_refined_format_and_mesos_messages() {
    let master = start(reserved_config()).await;
    let mut info = framework_info(
        "refined",
        &[Capability::MultiRole, Capability::ReservationRefinement],
        0.0,
    );
    info.roles = vec!["web".into()];
    let framework = Framework::subscribe(&master, info).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    assert!(offer.resources.iter().all(|r| r.role.is_none()));
    assert!(
        offer
            .resources
            .iter()
            .all(|r| r.allocation_info.as_ref().unwrap().role() == "web")
    );
    assert_eq!(offer.resources[0].reservations[0].role(), "web");

    // Too much of the reservation: TASK_ERROR, resources printed as Mesos
    // prints them.
    let mut greedy = command_task("greedy", &offer.agent_id, "true", "");
    greedy.resources = Resources::parse("cpus(web):5;mem:32")
        .unwrap()
        .allocated_to("web")
        .into_vec();
    // The reserved cpus the offer has, as offered, for a good task.
    let mut good = command_task("good", &offer.agent_id, "sleep 30", "");
    good.resources = Resources::from(offer.resources.clone())
        .find(&Resources::parse("cpus:1;mem:32").unwrap())
        .unwrap()
        .into_vec();
    framework.launch(&offer, vec![greedy, good]).await;
    let error = framework.update("greedy").await;
    assert_eq!(error.state(), TaskState::TaskError);
    assert_eq!(
        error.message.as_deref(),
        Some(
            "Total resources cpus(allocated: web)(reservations: [(STATIC,web)]):5; \
             mem(allocated: web):32 required by task and its executor is more than available \
             cpus(allocated: web)(reservations: [(STATIC,web)]):1; cpus(allocated: web):1; \
             mem(allocated: web):256; disk(allocated: web):100"
        )
    );
    framework.follow("good", TaskState::TaskRunning).await;
    assert_eq!(
        master.state().task("good").unwrap().resources,
        Resources::parse("cpus(web):1;mem:32").unwrap()
    );
}
