//! Step 01, what the template generates, when its connection drops: with
//! Mesos' default `failover_timeout` of 0 the master removes the framework
//! at once, and the framework must register anew instead of knocking on
//! the door of a removed framework for ever. And built as a new user
//! builds it, without the library's `tls` feature.

use std::{path::PathBuf, process::Command, time::Duration};

use kit_tests::repo_root;
use mesos::{
    local::LocalMaster,
    testing::{Framework, WAIT, assert_usage_error, config, running_tasks, subscribed_framework},
};

/// Builds step 01 alone, as `cargo run -p hello-mesos` does (so with the
/// library's features step 01 asks for, and no others), and returns the
/// binary.
fn build_step_01() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--quiet", "--locked", "-p", "hello-mesos"])
        .current_dir(repo_root())
        .status()
        .unwrap();
    assert!(built.success(), "step 01 does not build");
    repo_root().join("target/debug/hello-mesos")
}

#[tokio::test]
async fn after_a_dropped_connection_step_01_registers_a_new_framework() {
    let binary = build_step_01();
    let master = LocalMaster::start(config()).await.unwrap();
    let address = master.addr().to_string();
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

/// TLS is the library's `tls` feature, which step 01 does not ask for: an
/// `https` master is refused as a bad flag that says what to enable, not
/// retried for ever.
#[test]
fn without_the_tls_feature_an_https_master_is_a_bad_flag() {
    // Refused at once (exit 2); a framework that took the flag would keep
    // retrying, and the helper would kill it and fail.
    let binary = build_step_01();
    assert_usage_error(
        binary.to_str().unwrap(),
        &["--master", "https://127.0.0.1:5050"],
        &[],
        &["enable the `tls` feature of the `mesos` crate"],
    );
}
