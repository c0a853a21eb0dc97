//! Testing that a binary refuses bad flags and environment values as usage
//! errors: exit code 2 and a message that says what is wrong.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use super::WAIT;

/// Runs `binary` with `args` and `env` (nothing else inherited from this
/// test's `MESOS_*`-style environment matters: the variables a framework
/// reads are cleared first) and asserts that it exits at once with code 2
/// and every text of `expected` on stderr, which it returns. A binary that
/// accepts the value and starts running is killed after [`WAIT`], and the
/// test fails.
pub fn assert_usage_error(
    binary: &str,
    args: &[&str],
    env: &[(&str, &str)],
    expected: &[&str],
) -> String {
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars() {
        if FRAMEWORK_ENV.iter().any(|prefix| name.starts_with(prefix)) {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"));
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} {env:?}: still running after {WAIT:?}: the value was accepted");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{args:?} {env:?}: {stderr}");
    for expected in expected {
        assert!(
            stderr.contains(expected),
            "{args:?} {env:?}: expected {expected:?} in: {stderr}"
        );
    }
    stderr
}

/// The environment variables the kit's frameworks read, by prefix.
const FRAMEWORK_ENV: &[&str] = &[
    "MESOS_",
    "ZK_",
    "FRAMEWORK_",
    "TASK_",
    "INSTANCES",
    "DOCKER_",
    "FAILOVER_",
    "RECONCILE_",
    "WEB_",
    "MAX_INSTANCES",
];
