//! What the integration tests share: 5K started as an operator starts it,
//! on the simulated master, on a free port.

use std::path::Path;

use mesos::testing::Framework;

/// Starts 5K on a free port and returns it with its API's URL.
pub async fn start_five_k() -> (Framework, String) {
    let five_k = Framework::start(
        Path::new(env!("CARGO_BIN_EXE_five-k")),
        &["--http-address", "127.0.0.1:0"],
    );
    let line = five_k
        .wait_for_output("Marathon's REST API served on")
        .await;
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    (five_k, url)
}
