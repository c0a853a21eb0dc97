//! Apps read from clients' JSON: defaults, partial updates, versions.

use super::*;

fn request(json: &str) -> AppRequest {
    serde_json::from_str(json).unwrap()
}

fn app(json: &str) -> App {
    App::create(PathId::parse("/web"), request(json), "v1")
}

#[test]
fn an_app_gets_marathons_defaults() {
    let app = app(r#"{"cmd": "serve"}"#);
    assert_eq!(
        (app.cpus, app.mem, app.disk, app.instances),
        (1.0, 128.0, 0.0, 1)
    );
    assert_eq!(
        (
            app.backoff_seconds,
            app.backoff_factor,
            app.max_launch_delay_seconds
        ),
        (1.0, 1.15, 300.0)
    );
    assert_eq!(app.kill_selection, KillSelection::YoungestFirst);
    assert_eq!(
        app.upgrade_strategy,
        UpgradeStrategy {
            minimum_health_capacity: 1.0,
            maximum_over_capacity: 1.0
        }
    );
    assert_eq!(
        app.port_definitions.len(),
        1,
        "one port unless told otherwise"
    );
}

#[test]
fn a_partial_update_changes_only_what_it_sends() {
    let before = app(r#"{"cmd": "serve", "mem": 64, "env": {"A": "1"}}"#);
    let after = before.updated(request(r#"{"instances": 3}"#), "v2");
    assert_eq!((after.instances, after.mem, after.env.len()), (3, 64.0, 1));
    assert_eq!(after.version, "v2");
    // Only scaled: tasks of v1 still run the current configuration.
    assert_eq!(after.version_info.last_config_change_at, "v1");
    assert_eq!(after.version_info.last_scaling_at, "v2");

    let changed = after.updated(request(r#"{"mem": 32}"#), "v3");
    assert_eq!(changed.config_version(), "v3");
}

#[test]
fn cmd_and_args_replace_each_other_and_uris_become_fetch() {
    let before = app(r#"{"cmd": "serve", "uris": ["http://x/a.tgz"]}"#);
    assert_eq!(before.fetch[0].uri, "http://x/a.tgz");
    assert!(before.fetch[0].extract);
    let after = before.updated(request(r#"{"args": ["serve", "--fast"]}"#), "v2");
    assert_eq!(
        (after.cmd.as_deref(), after.args.as_ref().map(Vec::len)),
        (None, Some(2))
    );
}

#[test]
fn a_restart_is_a_new_configuration() {
    let before = app(r#"{"cmd": "serve"}"#);
    let after = before.restarted("v2");
    assert_eq!(
        (after.cmd.as_deref(), after.config_version()),
        (Some("serve"), "v2")
    );
}

#[test]
fn constraints_may_be_sent_with_numbers() {
    let app = app(r#"{"cmd": "x", "constraints": [["rack", "GROUP_BY", 3]]}"#);
    assert_eq!(app.constraints[0].parts, vec!["rack", "GROUP_BY", "3"]);
}

#[test]
fn a_replacement_resets_what_it_leaves_out_a_partial_update_keeps_it() {
    let old = app(r#"{"cmd": "serve", "cpus": 0.5, "user": "nobody", "labels": {"a": "b"}}"#);
    let mut replacement = request(r#"{"cmd": "serve"}"#);
    replacement.replace = true;
    let new = old.updated(replacement, "v2");
    assert_eq!(
        (new.cpus, new.user.as_deref(), new.labels.len()),
        (1.0, None, 0)
    );
    assert_eq!(new.version_info.last_config_change_at, "v2");
    let kept = old.updated(request(r#"{"instances": 4}"#), "v3");
    assert_eq!(
        (kept.cpus, kept.user.as_deref(), kept.labels.len()),
        (0.5, Some("nobody"), 1)
    );
}
