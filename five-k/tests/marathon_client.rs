//! A real Marathon client drives 5K end to end: marathon-python, from
//! Debian's `python3-marathon` (which `bin/test` installs), runs the
//! scenarios of `marathon_client.py` against 5K on a simulated master.
//! Any JSON shape the client cannot parse fails the test.

mod common;

use std::path::Path;

use common::{PYTHON, require_marathon_python, start_five_k};

#[tokio::test(flavor = "multi_thread")]
async fn marathon_python_drives_five_k_unchanged() {
    require_marathon_python();
    let (_five_k, url) = start_five_k().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/marathon_client.py");
    let output = tokio::process::Command::new(PYTHON)
        .arg(&script)
        .arg(&url)
        .output()
        .await
        .expect("running the client's scenarios");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.ends_with("OK\n"),
        "the client's scenarios failed:\n{stdout}\n{stderr}"
    );
}
