//! Step 01's flags (and so the template's: `template.rs` checks that the
//! template generates step 01): a bad value is a usage error, exit code 2,
//! with a message naming the flag; a credential's secret is never printed.

use std::{path::PathBuf, process::Command};

use kit_tests::repo_root;
use mesos::testing::assert_usage_error;

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

#[test]
fn step_01_refuses_bad_values_as_usage_errors() {
    let binary = build_step_01();
    let binary = binary.to_str().unwrap();
    let usage_error = |args: &[&str], env: &[(&str, &str)], expected: &[&str]| {
        let stderr = assert_usage_error(binary, args, env, expected);
        assert!(
            !stderr.contains("hunter"),
            "the secret is printed: {stderr}"
        );
    };
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("step-01-credentials");
    std::fs::create_dir_all(&dir).unwrap();
    let colon = dir.join("colon.json");
    std::fs::write(&colon, r#"{"principal": "fw", "secret": "hunter:2"}"#).unwrap();

    usage_error(&["--cpus", "0"], &[], &["--cpus", "must be more than zero"]);
    usage_error(&["--cpus=-0.5"], &[], &["--cpus", "must be more than zero"]);
    usage_error(
        &[],
        &[("TASK_MEM", "inf")],
        &["--mem", "not a finite number"],
    );
    usage_error(&["--instances", "-1"], &[], &["-1"]);
    usage_error(
        &[],
        &[("FRAMEWORK_USER", "")],
        &["--user", "cannot be empty"],
    );
    usage_error(&["--master", "zk://10.10.4.2:2181"], &[], &["--master"]);
    usage_error(
        &["--credential", colon.to_str().unwrap()],
        &[],
        &["--credential", "cannot contain ':'"],
    );
    usage_error(
        &[],
        &[("MESOS_SECRET", "hunter2")],
        &["MESOS_SECRET is set but MESOS_PRINCIPAL is not"],
    );
}
