//! Every flag and environment value is checked before the framework
//! starts: a bad one is a usage error (exit code 2) that names the flag and
//! says what is wrong, never a framework that runs and waits for ever.

use mesos::testing::assert_usage_error;

const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));

fn usage_error(args: &[&str], env: &[(&str, &str)], expected: &[&str]) {
    let stderr = assert_usage_error(BINARY, args, env, expected);
    assert!(
        !stderr.contains("hunter"),
        "the secret is printed: {stderr}"
    );
}

#[test]
fn bad_values_are_usage_errors() {
    usage_error(&["--cpus", "0"], &[], &["--cpus", "must be more than zero"]);
    usage_error(&["--cpus", "NaN"], &[], &["--cpus", "not a finite number"]);
    usage_error(
        &[],
        &[("TASK_MEM", "-128")],
        &["--mem", "must be more than zero"],
    );
    usage_error(&["--instances", "two"], &[], &["--instances"]);
    usage_error(&["--name", " "], &[], &["--name", "cannot be empty"]);
    usage_error(
        &[],
        &[("TASK_COMMAND", "")],
        &["--command", "cannot be empty"],
    );
    usage_error(&["--master", "ftp://10.10.4.2:5050"], &[], &["--master"]);
    usage_error(&["--zk", "zk://127.0.0.1:2181"], &[], &["--zk", "no path"]);
    usage_error(
        &["--failover-timeout=-1"],
        &[],
        &["--failover-timeout", "cannot be negative"],
    );
    usage_error(
        &[],
        &[("RECONCILE_INTERVAL", "0")],
        &["--reconcile-interval", "at least 1 second"],
    );
    usage_error(
        &["--zk-session-timeout", "1.5"],
        &[],
        &["--zk-session-timeout", "whole number"],
    );
    usage_error(&["--show-leader"], &[], &["--show-leader needs --zk"]);
    usage_error(
        &[
            "--web-addr",
            "127.0.0.1:0",
            "--web-url",
            "ftp://example.org",
        ],
        &[],
        &["--web-url", "expected http://host:port"],
    );
    usage_error(
        &["--web-addr", "localhost"],
        &[],
        &["--web-addr", "e.g. 127.0.0.1:8088"],
    );
}

#[test]
fn unusable_credentials_are_usage_errors_that_do_not_print_the_secret() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(concat!(env!("CARGO_PKG_NAME"), "-credentials"));
    std::fs::create_dir_all(&dir).unwrap();
    let colon = dir.join("colon.json");
    std::fs::write(&colon, r#"{"principal": "fw", "secret": "hunter:2"}"#).unwrap();
    let colon = colon.to_str().unwrap();
    let missing = dir.join("missing.json");
    usage_error(
        &["--credential", missing.to_str().unwrap()],
        &[],
        &["--credential", "cannot read the credential file"],
    );
    usage_error(
        &[],
        &[("MESOS_CREDENTIAL", colon)],
        &["--credential", "cannot contain ':'"],
    );
    usage_error(
        &[],
        &[("MESOS_PRINCIPAL", "fw")],
        &["MESOS_PRINCIPAL is set but MESOS_SECRET is not"],
    );
    usage_error(
        &[],
        &[("MESOS_PRINCIPAL", "fw"), ("MESOS_SECRET", "hunter:2")],
        &["cannot contain ':'"],
    );
    usage_error(
        &["--web-credential", missing.to_str().unwrap()],
        &[],
        &["--web-credential", "cannot read the credential file"],
    );
    usage_error(
        &[],
        &[("WEB_CREDENTIAL", colon)],
        &["--web-credential", "cannot contain ':'"],
    );
}
