//! `mesos-local --zk`: registered in ZooKeeper as a Mesos master registers,
//! found there by the detector frameworks use, a second one a standby that
//! takes over when the first dies; and a taken port explained.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use mesos::{
    MasterAddr,
    detector::MasterDetector,
    master::Scheme,
    testing::{WAIT, ZooKeeperServer, eventually},
};

const BINARY: &str = env!("CARGO_BIN_EXE_mesos-local");

/// Kills the child if a test fails half-way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mesos-local --zk <zk>` on a free port; returns it and its port.
fn start(zk: &str) -> (Running, u16) {
    let mut child = Command::new(BINARY)
        .args(["--port", "0", "--agents", "1", "--zk", zk])
        // The ZooKeeper test server grants sessions of 1 s to 10 s.
        .args(["--zk_session_timeout", "2secs"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("mesos-local printed its address")
            .unwrap();
        if let Some(address) = line.strip_prefix("mesos-local: simulated Mesos master at ") {
            break address.rsplit_once(':').unwrap().1.trim().parse().unwrap();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (Running(child), port)
}

fn addr(port: u16) -> MasterAddr {
    MasterAddr::new(Scheme::Http, "127.0.0.1", port)
}

/// The status and `Location` of a GET of `/master/state`.
async fn state(port: u16) -> (u16, Option<String>) {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET /master/state HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let location = response
            .lines()
            .find_map(|line| line.strip_prefix("location: "))
            .map(str::to_string);
        let status = response.get(9..12).and_then(|s| s.parse().ok());
        (status.unwrap_or(0), location)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_standby_mesos_local_takes_over_when_the_leader_dies() {
    let server = ZooKeeperServer::start();
    let zk = format!("zk://{}/mesos", server.connect_string());
    let (mut first, first_port) = start(&zk);

    // A framework's `--master zk://…/mesos` finds it.
    let mut detector = MasterDetector::new(&zk.parse().unwrap()).unwrap();
    let leader = tokio::time::timeout(WAIT, detector.leader()).await.unwrap();
    assert_eq!(leader, addr(first_port));

    // A second one is a standby: it redirects to the leader.
    let (_second, second_port) = start(&zk);
    let redirect = Some(format!("//127.0.0.1:{first_port}/master/state"));
    eventually("the standby's redirect", async || {
        (state(second_port).await == (307, redirect.clone())).then_some(())
    })
    .await;
    assert_eq!(state(first_port).await.0, 200);
    assert_eq!(detector.current(), Some(addr(first_port)));

    // The leader dies without a word: its session expires, its node goes,
    // and the standby leads.
    first.0.kill().unwrap();
    let next = tokio::time::timeout(WAIT, detector.changed_from(&addr(first_port)))
        .await
        .unwrap();
    assert_eq!(next, Some(addr(second_port)));
    eventually("the new leader serving", async || {
        (state(second_port).await.0 == 200).then_some(())
    })
    .await;
}

#[test]
fn a_taken_port_is_explained_and_leaves_nothing_behind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let output = Command::new(BINARY)
        .args(["--port", &port])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Address already in use"), "{stderr}");
    assert!(stderr.contains("--port"), "hints at --port: {stderr}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
