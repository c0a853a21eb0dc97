//! What the integration tests share: 5K started as an operator starts it,
//! on a free port, and Debian's marathon-python.

#![allow(dead_code)] // each test binary uses its own part

use std::{path::Path, process::Command};

use mesos::testing::Framework;

/// Debian's Python, which has Debian's python3-marathon (a Python from
/// elsewhere on PATH, pyenv's say, would not).
pub const PYTHON: &str = "/usr/bin/python3";

/// Starts 5K on the simulated master, on a free port, and returns it with
/// its API's URL.
pub async fn start_five_k() -> (Framework, String) {
    start_with(&[]).await
}

/// Like [`start_five_k`], with more flags.
pub async fn start_with(args: &[&str]) -> (Framework, String) {
    let mut all = vec!["--http-address", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let five_k = Framework::start(Path::new(env!("CARGO_BIN_EXE_five-k")), &all);
    let url = api_url(&five_k).await;
    (five_k, url)
}

/// The URL a running 5K serves its API on, from its log.
pub async fn api_url(five_k: &Framework) -> String {
    let line = five_k
        .wait_for_output("Marathon's REST API served on")
        .await;
    line.split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string()
}

/// Fails with what to install when marathon-python is missing.
pub fn require_marathon_python() {
    let found = Command::new(PYTHON)
        .args(["-c", "import marathon"])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found,
        "marathon-python is missing: install Debian's python3-marathon \
         (bin/test --install-only does), for {PYTHON}"
    );
}

/// Runs one of the marathon-python scenarios in this folder (`script`,
/// e.g. `health.py`) with `args`, and fails with its output unless it
/// ends with `OK`: a step it did not finish, or a JSON shape the client
/// could not parse, shows there.
pub async fn run_client_scenario(script: &str, args: &[&str]) {
    require_marathon_python();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let output = tokio::process::Command::new(PYTHON)
        .arg(&path)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {script}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.ends_with("OK\n"),
        "{script} failed:\n{stdout}\n{stderr}"
    );
}
