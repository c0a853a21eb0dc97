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
