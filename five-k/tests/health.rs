//! 5K's own health checks end to end: tasks that really serve HTTP on the
//! simulated master, checked by 5K, one made to fail; marathon-python
//! (`health.py`) reads the results and the events.

mod common;

use std::path::Path;

use common::{PYTHON, require_marathon_python, start_five_k};

#[tokio::test(flavor = "multi_thread")]
async fn a_task_failing_its_http_check_is_replaced_then_killed() {
    require_marathon_python();
    let (_five_k, url) = start_five_k().await;
    // Where each task keeps the file its check asks for.
    let scratch = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/health.py");
    let output = tokio::process::Command::new(PYTHON)
        .arg(&script)
        .arg(&url)
        .arg(scratch.path())
        .output()
        .await
        .expect("running the client's scenario");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.ends_with("OK\n"),
        "the health scenario failed:\n{stdout}\n{stderr}"
    );
}
