//! A real Marathon client drives 5K end to end: marathon-python, from
//! Debian's `python3-marathon` (which `bin/test` installs), runs the
//! scenarios of `marathon_client.py` against 5K on a simulated master.
//! Any JSON shape the client cannot parse fails the test.

mod common;

use common::{require_marathon_python, run_client_scenario, start_five_k};

#[tokio::test(flavor = "multi_thread")]
async fn marathon_python_drives_five_k_unchanged() {
    require_marathon_python();
    let (_five_k, url) = start_five_k().await;
    run_client_scenario("marathon_client.py", &[&url]).await;
}
