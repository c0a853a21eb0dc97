//! An app definition as `POST /v2/apps` and `PUT /v2/apps/{id}` read it,
//! from any bytes: 5K's app module (included as it is) never panics, and
//! what it accepts is an app that survives what happens to it next.
//!
//! The body is read as the API does (`five-k/src/api/body.rs`: a syntax
//! pass, then the request's shape), then made a complete app (the
//! defaults filled in for a POST, `Scheduler::create_app`; applied to an
//! existing app for a PUT, a partial update) and validated. Either step
//! may refuse; neither may panic. An app that passes must then:
//! - come back equal from its stored JSON: a new leader reads it from
//!   ZooKeeper after a failover, and an app it cannot read is lost;
//! - be unchanged by a `PUT` of its own JSON, as marathon-python's
//!   `update_app` sends the whole app it read: were that a change of
//!   configuration, every task of the app would be replaced for nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../five-k/src/app/mod.rs"]
#[allow(dead_code)]
mod app;

use app::{App, AppRequest, PathId, validate::validate};

/// Any versions: the app's timestamps are not what is fuzzed.
const VERSION: &str = "2026-01-01T00:00:00.000Z";
const LATER: &str = "2026-01-01T00:00:01.000Z";
const LATEST: &str = "2026-01-01T00:00:02.000Z";

fuzz_target!(|data: &[u8]| {
    // Syntax first, as the API reads a body.
    if serde_json::from_slice::<serde::de::IgnoredAny>(data).is_err() {
        return;
    }
    let Ok(request) = serde_json::from_slice::<AppRequest>(data) else {
        return;
    };

    // As a PUT: a change to an app that exists.
    let existing = App::create(
        PathId::parse("/existing"),
        serde_json::from_str(r#"{"cmd": "sleep 1000", "instances": 2}"#).expect("an app"),
        VERSION,
    );
    let changed = existing.updated(request.clone(), LATER);
    if validate(&changed).is_ok() {
        survives_a_failover_and_a_resend(&changed);
    }

    // As a POST: a new app, which needs an id.
    let Some(id) = request.id.as_deref().map(PathId::parse) else {
        return;
    };
    let created = App::create(id, request, VERSION);
    if validate(&created).is_ok() {
        survives_a_failover_and_a_resend(&created);
    }
});

fn survives_a_failover_and_a_resend(app: &App) {
    let stored = serde_json::to_vec(app).expect("an app serializes");
    let read: App = serde_json::from_slice(&stored)
        .unwrap_or_else(|e| panic!("a valid app's stored JSON does not read back: {e}"));
    assert_eq!(&read, app, "the stored app reads back different");

    let resent: AppRequest = serde_json::from_slice(&stored)
        .unwrap_or_else(|e| panic!("an app's own JSON is refused as a request: {e}"));
    let updated = app.updated(resent, LATEST);
    assert_eq!(
        updated.config_version(),
        app.config_version(),
        "a PUT of the app's own JSON is a new configuration"
    );
    let mut same = updated;
    same.version = app.version.clone();
    same.version_info.last_scaling_at = app.version_info.last_scaling_at.clone();
    assert_eq!(&same, app, "a PUT of the app's own JSON changed it");
}
