//! The `mesos-local` binary: serves the simulated master on a port, and
//! explains what is wrong with a bad `--resources`.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
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

/// Reads lines from the child's stdout until the address line; a thread
/// keeps reading the rest, so the child never writes to a closed pipe.
fn address(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next()
            .expect("mesos-local printed its address before exiting")
            .unwrap();
        if let Some(address) = line.strip_prefix("mesos-local: simulated Mesos master at ") {
            std::thread::spawn(move || lines.for_each(drop));
            return address.trim().to_string();
        }
    }
}

/// A blocking GET, on a thread of its own (no HTTP client needed).
fn get(address: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let host = address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn mesos_local_serves_the_master_state() {
    let work_dir = tempfile::tempdir().unwrap();
    let child = Command::new(BINARY)
        .args(["--ip", "127.0.0.1", "--port", "0", "--agents", "3"])
        .args(["--resources", "cpus:1;mem:512;ports:[40000-40010]"])
        .arg("--work_dir")
        .arg(work_dir.path())
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create("/tmp/mltest.err").unwrap())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let address = address(&mut child.0);
    assert!(address.starts_with("http://127.0.0.1:"), "{address}");

    let (status, body) = get(&address, "/master/state");
    assert_eq!(status, 200, "{body}");
    let state: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(state["version"], "1.11.0");
    assert_eq!(state["activated_slaves"], 3);
    let port = address.rsplit(':').next().unwrap();
    for (n, slave) in state["slaves"].as_array().unwrap().iter().enumerate() {
        assert_eq!(slave["resources"]["cpus"], 1.0);
        assert_eq!(slave["resources"]["mem"], 512.0);
        assert_eq!(slave["resources"]["ports"], "[40000-40010]");
        assert_eq!(slave["pid"], format!("slave({})@127.0.0.1:{port}", n + 1));
        // Each agent answers at the path its PID names.
        let (status, body) = get(&address, &format!("/slave({})/state", n + 1));
        assert_eq!(status, 200);
        let agent: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(agent["id"], slave["id"]);
    }
    assert_eq!(
        state["flags"]["work_dir"],
        work_dir.path().display().to_string()
    );

    // SIGTERM: a clean shutdown.
    let pid = child.0.id();
    Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn bad_resources_are_explained() {
    for (resources, reason) in [
        (
            "cpus:two",
            "the value of \"cpus\" is \"two\", which is neither a number",
        ),
        (
            "cpus:1;mem",
            "expected `name:value` (e.g. cpus:2) but found \"mem\"",
        ),
        (
            "ports:[32000-31000]",
            "range 32000-31000 of \"ports\" ends before it begins",
        ),
    ] {
        let output = Command::new(BINARY)
            .args(["--port", "0", "--resources", resources])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{resources}: a usage error");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--resources"), "{stderr}");
        assert!(
            stderr.contains(&format!("invalid resources {resources:?}")),
            "{stderr}"
        );
        assert!(stderr.contains(reason), "{resources}: {stderr}");
    }
}
