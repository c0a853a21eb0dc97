//! What SUBSCRIBE and UPDATE_FRAMEWORK accept in a FrameworkInfo, with
//! Mesos 1.11's answers: an ERROR event and a closed stream for SUBSCRIBE,
//! `400` for UPDATE_FRAMEWORK.

mod local_support;

use local_support::*;
use mesos::{
    Client, ClientOptions, Error, calls,
    local::LocalMaster,
    v1::{FrameworkId, FrameworkInfo, scheduler::event},
};

/// Subscribes with `info` on a new connection and returns the message of
/// the ERROR event that must come first, having checked that the master
/// then closed the stream.
async fn refused(master: &LocalMaster, info: FrameworkInfo) -> String {
    let client = Client::new(ClientOptions::default());
    client.set_master(master.addr());
    client.set_framework_id(info.id.clone());
    let mut subscription = client
        .subscribe(calls::subscribe(info))
        .await
        .expect("SUBSCRIBE is answered with a stream, even when refused");
    let first = subscription.next_event().await.unwrap().unwrap();
    assert_eq!(first.r#type(), event::Type::Error, "{first:?}");
    assert!(
        subscription.next_event().await.unwrap().is_none(),
        "the stream closes after the ERROR"
    );
    first.error.unwrap().message
}

fn with_id(mut info: FrameworkInfo, framework_id: &str) -> FrameworkInfo {
    info.id = Some(FrameworkId {
        value: framework_id.into(),
    });
    info
}

fn principal_info(principal: Option<&str>) -> FrameworkInfo {
    FrameworkInfo {
        principal: principal.map(str::to_string),
        checkpoint: Some(true),
        ..framework_info("principled", &[], 60.0)
    }
}

#[tokio::test]
async fn resubscribing_with_another_principal_is_an_error_and_keeps_the_old_subscription() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, principal_info(Some("alice"))).await;

    for other in [Some("mallory"), Some(""), None] {
        let message = refused(&master, with_id(principal_info(other), &framework.id)).await;
        assert_eq!(message, "Changing framework's principal is not allowed.");
    }
    // The framework's own subscription carries on, unchanged.
    framework.call(calls::revive(vec![])).await;
    assert!(!framework.ended());
    let state = master.state();
    let known = state.framework(&framework.id).unwrap();
    assert!(known.connected);
    assert_eq!(known.info.principal.as_deref(), Some("alice"));
}

#[tokio::test]
async fn resubscribing_keeps_user_and_checkpoint_silently() {
    let master = start(config()).await;
    let first = Framework::subscribe(&master, principal_info(Some("alice"))).await;
    let mut info = with_id(principal_info(Some("alice")), &first.id);
    info.user = "someone-else".into();
    info.checkpoint = Some(false);
    info.name = "renamed".into();
    let second = Framework::subscribe(&master, info).await;
    assert_eq!(second.id, first.id);
    let state = master.state();
    let known = state.framework(&first.id).unwrap();
    assert_eq!(known.info.name, "renamed", "the rest is updated");
    assert_eq!(known.info.user, "tester");
    assert_eq!(known.info.checkpoint, Some(true));
}

#[tokio::test]
async fn update_framework_cannot_change_principal_user_or_checkpoint() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, principal_info(Some("alice"))).await;
    let update = |change: &dyn Fn(&mut FrameworkInfo)| {
        let mut info = with_id(principal_info(Some("alice")), &framework.id);
        change(&mut info);
        calls::update_framework(info)
    };
    /// A change to the FrameworkInfo, and Mesos' answer to it.
    type Case<'a> = (&'a dyn Fn(&mut FrameworkInfo), &'a str);
    let cases: [Case; 3] = [
        (
            &|info| info.principal = Some("mallory".into()),
            "FrameworkInfo update is not valid: Changing framework's principal is not allowed.",
        ),
        (
            &|info| info.user = "someone-else".into(),
            "FrameworkInfo update is not valid: Updating 'FrameworkInfo.user' is unsupported; \
             attempted to update from 'tester' to 'someone-else'",
        ),
        (
            &|info| info.checkpoint = None,
            "FrameworkInfo update is not valid: Updating 'FrameworkInfo.checkpoint' is \
             unsupported; attempted to update from 'true' to 'false'",
        ),
    ];
    for (change, expected) in cases {
        let error = framework.client.call(update(change)).await.unwrap_err();
        assert!(
            matches!(&error, Error::BadRequest(m) if m == expected),
            "{error:?}"
        );
    }
    let state = master.state();
    let info = &state.framework(&framework.id).unwrap().info;
    assert_eq!(info.principal.as_deref(), Some("alice"));
    assert_eq!(info.user, "tester");
    assert_eq!(info.checkpoint, Some(true));
    // What may change, does.
    framework
        .client
        .call(update(&|info| info.name = "renamed".into()))
        .await
        .unwrap();
    assert_eq!(
        master.state().framework(&framework.id).unwrap().info.name,
        "renamed"
    );
}

#[tokio::test]
async fn failover_timeouts_beyond_a_stout_duration_are_refused() {
    let master = start(config()).await;
    for (timeout, printed) in [
        (1e20, "1e+20"),
        (-1e20, "-1e+20"),
        (9.3e9, "9.3e+09"),
        (f64::NAN, "nan"),
    ] {
        let message = refused(&master, framework_info("timeless", &[], timeout)).await;
        assert_eq!(
            message,
            format!("The framework failover_timeout ({printed}) is invalid")
        );
    }
    assert!(master.state().frameworks.is_empty(), "none registered");

    // The master still serves, and takes what Mesos takes: up to about
    // 292 years, and negative timeouts.
    let patient = Framework::subscribe(&master, framework_info("patient", &[], 9.2e9)).await;
    let hasty = Framework::subscribe(&master, framework_info("hasty", &[], -5.0)).await;
    let (patient_id, hasty_id) = (patient.id.clone(), hasty.id.clone());
    drop(patient);
    drop(hasty);
    // Disconnected, one waits for ages, the other is removed at once.
    let state = master
        .wait_for(
            |s| {
                s.framework(&patient_id).is_some_and(|f| !f.connected)
                    && s.framework(&hasty_id).is_some_and(|f| f.removed)
            },
            WAIT,
        )
        .await
        .unwrap();
    assert!(!state.framework(&patient_id).unwrap().removed);
}

#[tokio::test]
async fn update_framework_refuses_an_invalid_failover_timeout() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("updated", &[], 60.0)).await;
    for (timeout, printed) in [(f64::NAN, "nan"), (1e20, "1e+20")] {
        let info = with_id(framework_info("updated", &[], timeout), &framework.id);
        let error = framework
            .client
            .call(calls::update_framework(info))
            .await
            .unwrap_err();
        let expected = format!(
            "Supplied FrameworkInfo is not valid: The framework failover_timeout ({printed}) \
             is invalid"
        );
        assert!(
            matches!(&error, Error::BadRequest(m) if *m == expected),
            "{error:?}"
        );
    }
    assert_eq!(
        master
            .state()
            .framework(&framework.id)
            .unwrap()
            .info
            .failover_timeout,
        Some(60.0)
    );
    // Losing the connection now is an ordinary disconnection.
    let framework_id = framework.id.clone();
    drop(framework);
    master
        .wait_for(
            |s| {
                s.framework(&framework_id)
                    .is_some_and(|f| !f.connected && !f.removed)
            },
            WAIT,
        )
        .await
        .unwrap();
}
