//! `bin/diagnose-vagrant-setup.sh` against real local services: a real
//! ZooKeeper and the simulated master (the same server as `mesos-local`),
//! where every check passes, and a stopped ZooKeeper, where the ZooKeeper
//! check fails with its hint.

use std::process::Command;

use kit_tests::repo_root;
use mesos::{local::LocalMaster, testing::ZooKeeperServer};

/// Runs the diagnose script with the room's settings pointed at loopback.
fn diagnose(master: &LocalMaster, zookeeper_port: u16) -> (bool, String) {
    let output = Command::new("bash")
        .arg(repo_root().join("bin/diagnose-vagrant-setup.sh"))
        .env("MASTER_IP", "127.0.0.1")
        .env("MASTER_PORT", master.addr().port.to_string())
        .env("ZK", format!("127.0.0.1:{zookeeper_port}"))
        .env("AGENT_COUNT", "2")
        .env("SKIP_VAGRANT", "1")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.success(), stdout)
}

#[tokio::test(flavor = "multi_thread")]
async fn passes_against_local_services_and_fails_with_a_hint_without_zookeeper() {
    let mut zookeeper = ZooKeeperServer::start();
    let master = LocalMaster::start(Default::default()).await.unwrap();
    let port = zookeeper.port();

    let (ok, report) = tokio::task::block_in_place(|| diagnose(&master, port));
    assert!(ok, "diagnose failed against working services:\n{report}");
    assert!(!report.contains("Failure:"), "{report}");
    for check in [
        "imok",
        "with 200",
        "2 agent(s) registered",
        "answer GET <agent>/state",
    ] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with("Success:") && l.contains(check)),
            "no successful check mentioning {check:?}:\n{report}"
        );
    }

    zookeeper.stop();
    let (ok, report) = tokio::task::block_in_place(|| diagnose(&master, port));
    assert!(!ok, "diagnose passed with ZooKeeper stopped:\n{report}");
    let lines: Vec<&str> = report.lines().collect();
    let failure = lines
        .iter()
        .position(|l| l.starts_with("Failure:") && l.contains("ZooKeeper"))
        .unwrap_or_else(|| panic!("no ZooKeeper failure line:\n{report}"));
    let hint = lines.get(failure + 1).copied().unwrap_or_default();
    // On loopback the room is bin/room's, and the hint says so.
    assert!(
        hint.starts_with("  Hint:") && hint.contains("bin/room status"),
        "the failure has no hint about the room:\n{report}"
    );
    // The master's checks still pass: only ZooKeeper is down.
    assert_eq!(report.matches("Failure:").count(), 1, "{report}");
}
