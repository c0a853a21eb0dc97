//! The executor's decisions, checked without an agent: events built with
//! the library's test kit, the actions read back.

use mesos::testing::executor as agent;

use super::*;

/// The states the executor reports, in order.
fn states(actions: &[Action]) -> Vec<TaskState> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Update(status) => Some(status.state()),
            _ => None,
        })
        .collect()
}

/// Task `t-1`, whose command is `sleep 600`.
fn sleeper() -> mesos::v1::TaskInfo {
    let mut task = agent::task("t-1");
    task.command = None;
    task.data = Some("sleep 600".into());
    task
}

/// An executor that was given task `t-1` running `sleep 600`, started at 100 s.
fn running() -> Executor {
    let mut executor = Executor::default();
    executor.on_input(Input::Driver(agent::launch(sleeper())), 99.0);
    executor.on_input(
        Input::Started {
            task_id: "t-1".into(),
        },
        100.0,
    );
    executor
}

#[test]
fn a_launched_task_is_starting_then_its_command_starts_then_it_is_running() {
    let mut executor = Executor::default();
    let actions = executor.on_input(Input::Driver(agent::launch(sleeper())), 1.0);
    assert_eq!(states(&actions), [TaskState::TaskStarting]);
    assert!(actions.contains(&Action::Start {
        task_id: "t-1".into(),
        command: "sleep 600".into()
    }));

    let actions = executor.on_input(
        Input::Started {
            task_id: "t-1".into(),
        },
        2.0,
    );
    assert_eq!(states(&actions), [TaskState::TaskRunning]);
}

#[test]
fn a_task_without_a_command_fails_at_once() {
    let mut task = sleeper();
    task.data = None;
    let actions = Executor::default().on_input(Input::Driver(agent::launch(task)), 1.0);
    assert_eq!(states(&actions), [TaskState::TaskFailed]);
    assert!(!actions.iter().any(|a| matches!(a, Action::Start { .. })));
}

#[test]
fn the_exit_status_decides_finished_or_failed() {
    let ended = |success| Input::Ended {
        task_id: "t-1".into(),
        success,
        message: "Command exited".into(),
    };
    assert_eq!(
        states(&running().on_input(ended(true), 200.0)),
        [TaskState::TaskFinished]
    );
    assert_eq!(
        states(&running().on_input(ended(false), 200.0)),
        [TaskState::TaskFailed]
    );
}

#[test]
fn a_killed_task_ends_killed_and_the_kills_own_grace_period_wins() {
    let mut executor = running();
    let actions = executor.on_input(
        Input::Driver(agent::kill_with_grace_period("t-1", Duration::from_secs(7))),
        150.0,
    );
    assert_eq!(
        actions,
        [Action::Kill {
            task_id: "t-1".into(),
            grace_period: Duration::from_secs(7)
        }]
    );
    // Killed by SIGTERM is a failure to the shell, but we asked for it.
    let ended = Input::Ended {
        task_id: "t-1".into(),
        success: false,
        message: "Command terminated with signal Terminated".into(),
    };
    assert_eq!(
        states(&executor.on_input(ended, 151.0)),
        [TaskState::TaskKilled]
    );
}

#[test]
fn without_a_kill_policy_the_grace_period_is_mesos_default() {
    let actions = running().on_input(Input::Driver(agent::kill("t-1")), 150.0);
    assert_eq!(
        actions,
        [Action::Kill {
            task_id: "t-1".into(),
            grace_period: DEFAULT_KILL_GRACE_PERIOD
        }]
    );
}

#[test]
fn shutdown_kills_every_task_in_time_to_say_so() {
    // The agent's 5 s, less a second to report the kill.
    let actions = running().on_input(Input::Driver(agent::shutdown()), 150.0);
    assert_eq!(
        actions,
        [Action::Kill {
            task_id: "t-1".into(),
            grace_period: Duration::from_secs(4)
        }]
    );
}

#[test]
fn the_scheduler_asking_for_uptime_gets_each_tasks_uptime() {
    let actions = running().on_input(Input::Driver(agent::message(UPTIME_QUESTION)), 142.0);
    assert_eq!(
        actions,
        [Action::Message("t-1 has been running for 42 s".into())]
    );
}

/// Task `t-1` running `sleep 600`, whose health check is `test -f ready`.
fn checked() -> Executor {
    let mut task = sleeper();
    task.health_check = Some(Box::new(mesos::v1::HealthCheck {
        r#type: Some(mesos::v1::health_check::Type::Command as i32),
        command: Some(mesos::v1::CommandInfo {
            value: Some("test -f ready".into()),
            ..Default::default()
        }),
        ..Default::default()
    }));
    let mut executor = Executor::default();
    executor.on_input(Input::Driver(agent::launch(task)), 99.0);
    executor
}

fn health(healthy: bool, kill_task: bool) -> Input {
    let health = TaskHealth {
        healthy,
        consecutive_failures: u32::from(!healthy),
        kill_task,
    };
    Input::Health {
        task_id: "t-1".into(),
        health,
    }
}

#[test]
fn a_checked_task_is_checked_once_running_and_its_health_reported_as_mesos_does() {
    let mut executor = checked();
    let actions = executor.on_input(
        Input::Started {
            task_id: "t-1".into(),
        },
        100.0,
    );
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::CheckHealth { task_id, .. } if task_id == "t-1"))
    );

    let actions = executor.on_input(health(true, false), 101.0);
    let [Action::Update(status)] = &actions[..] else {
        panic!("{actions:?}")
    };
    assert_eq!(status.state(), TaskState::TaskRunning);
    assert_eq!(
        status.reason(),
        mesos::v1::task_status::Reason::TaskHealthCheckStatusUpdated
    );
    assert_eq!(status.healthy, Some(true));
}

#[test]
fn a_task_failing_its_check_too_often_is_killed_and_ends_unhealthy() {
    let mut executor = checked();
    executor.on_input(
        Input::Started {
            task_id: "t-1".into(),
        },
        100.0,
    );
    let actions = executor.on_input(health(false, true), 130.0);
    assert_eq!(states(&actions), [TaskState::TaskRunning]);
    assert!(actions.contains(&Action::Kill {
        task_id: "t-1".into(),
        grace_period: DEFAULT_KILL_GRACE_PERIOD
    }));
    // Once the kill began, the check has nothing more to say.
    assert_eq!(executor.on_input(health(false, true), 131.0), []);

    let ended = Input::Ended {
        task_id: "t-1".into(),
        success: false,
        message: "Command terminated with signal Terminated".into(),
    };
    let actions = executor.on_input(ended, 132.0);
    let [Action::Update(status)] = &actions[..] else {
        panic!("{actions:?}")
    };
    assert_eq!(
        (status.state(), status.healthy),
        (TaskState::TaskKilled, Some(false))
    );
}
