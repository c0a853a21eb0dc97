//! Step 01, what the template generates, when its connection drops: with
//! Mesos' default `failover_timeout` of 0 the master removes the framework
//! at once, and the framework must register anew instead of knocking on
//! the door of a removed framework for ever.

use std::{process::Command, time::Duration};

use kit_tests::repo_root;
use mesos::{
    local::LocalMaster,
    testing::{Framework, WAIT, config, running_tasks, subscribed_framework},
};

#[tokio::test]
async fn after_a_dropped_connection_step_01_registers_a_new_framework() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--quiet", "--locked", "-p", "hello-mesos"])
        .current_dir(repo_root())
        .status()
        .unwrap();
    assert!(built.success(), "step 01 does not build");

    let master = LocalMaster::start(config()).await.unwrap();
    let address = master.addr().to_string();
    let binary = repo_root().join("target/debug/hello-mesos");
    let framework = Framework::start(&binary, &["--master", &address]);
    let two_running = |state: &mesos::local::Snapshot, not: Option<&str>| {
        subscribed_framework(state)
            .filter(|id| Some(id.as_str()) != not)
            .is_some_and(|id| running_tasks(state, &id).len() == 2)
    };
    let state = master
        .wait_for(|state| two_running(state, None), WAIT)
        .await
        .expect("two tasks running");
    let old = subscribed_framework(&state).unwrap();

    // A laptop that sleeps for a minute: the connection is gone.
    master.faults().drop_streams().await;
    framework
        .wait_for_output("the master removed this framework")
        .await;
    let state = master
        .wait_for(|state| two_running(state, Some(&old)), WAIT)
        .await
        .expect("a new framework with two tasks running");
    let new = subscribed_framework(&state).unwrap();
    assert!(state.framework(&old).unwrap().removed);
    assert_ne!(new, old);
    // Registered once: not a loop of registrations.
    tokio::time::timeout(Duration::from_secs(5), async {
        while framework.count_output("subscribed framework_id") < 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the driver logs each SUBSCRIBED");
    assert_eq!(master.state().frameworks.len(), 2, "one removed, one new");
}
