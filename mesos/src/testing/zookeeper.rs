//! A real ZooKeeper server on a free loopback port.
//!
//! Frameworks lean on ZooKeeper for the things that must survive a crash:
//! the framework ID, task records, leader election. Testing that against a
//! mock would test the mock, so tests start the real server (Debian's
//! `zookeeper` package) in a temporary directory and stop it when done.
//! If it is not installed, starting fails with a message saying how to
//! install it: a test that needs ZooKeeper must never pass without one.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Where Debian's `zookeeper` package puts the server; its manifest lists
/// the other jars it needs. `ZOOKEEPER_CLASSPATH` overrides it.
const DEBIAN_ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";

const INSTALL_HINT: &str = "ZooKeeper is needed by this test. Install it with \
`sudo apt-get install -y zookeeper default-jre-headless` (Debian/Ubuntu), or run \
`bin/test`, which installs what the tests need. Elsewhere, set ZOOKEEPER_CLASSPATH \
to the ZooKeeper server's jars.";

/// The test server's `tickTime`, ZooKeeper's unit of time. It bounds the
/// sessions the server grants (from 2 to 20 ticks: 1 s to 10 s here) and
/// how late an expiry can come (the server checks sessions once a tick).
/// Shorter than the default 2 s (3 s for `ZooKeeperServerMain`), so that a
/// test can ask for a session of a few seconds and get it.
pub const TICK_TIME: Duration = Duration::from_millis(500);

/// A ZooKeeper server for one test, killed when dropped.
pub struct ZooKeeperServer {
    child: Option<Child>,
    port: u16,
    /// Held for the server's whole life, stopped or not: see
    /// [`reserve_port`].
    _port_claim: PortClaim,
    data_dir: tempfile::TempDir,
    classpath: String,
}

impl ZooKeeperServer {
    /// Starts a standalone server on a free loopback port and waits until
    /// it answers. Panics with installation instructions if ZooKeeper is
    /// not installed: tests that need it must fail, not skip.
    pub fn start() -> ZooKeeperServer {
        match Self::try_start() {
            Ok(server) => server,
            Err(error) => panic!("{error}"),
        }
    }

    /// Like [`ZooKeeperServer::start`], returning the error instead.
    pub fn try_start() -> Result<ZooKeeperServer, String> {
        let classpath = std::env::var("ZOOKEEPER_CLASSPATH")
            .unwrap_or_else(|_| DEBIAN_ZOOKEEPER_JAR.to_string());
        let first_jar = classpath.split(':').next().unwrap_or_default();
        if !PathBuf::from(first_jar).exists() {
            return Err(format!("{first_jar} not found. {INSTALL_HINT}"));
        }
        let data_dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let (port, port_claim) = reserve_port()?;
        let mut server = ZooKeeperServer {
            child: None,
            port,
            _port_claim: port_claim,
            data_dir,
            classpath,
        };
        // Something outside the kit may still take the port between our
        // check and the server's bind; try a few ports before giving up.
        let mut last_error = String::new();
        for _ in 0..3 {
            match server.launch() {
                Ok(()) => return Ok(server),
                Err(error) => last_error = error,
            }
            (server.port, server._port_claim) = reserve_port()?;
        }
        Err(last_error)
    }

    /// `127.0.0.1:<port>`, as ZooKeeper clients take it.
    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (as a crash would: SIGKILL). Its data is kept.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same data, as
    /// after a ZooKeeper restart in production.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(error) = self.launch() {
            panic!("restarting ZooKeeper: {error}");
        }
    }

    fn launch(&mut self) -> Result<(), String> {
        let log_path = self.data_dir.path().join("zookeeper.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let child = Command::new("java")
            .args([
                // The admin HTTP server would take port 8080 in every test.
                "-Dzookeeper.admin.enableServer=false",
                // Allow `ruok`, which we use to see that it is up (and which
                // the workshop's diagnose script uses too).
                "-Dzookeeper.4lw.commands.whitelist=*",
                "-Xmx256m",
                "-cp",
                &self.classpath,
                "org.apache.zookeeper.server.ZooKeeperServerMain",
                &self.port.to_string(),
                &self.data_dir.path().join("data").to_string_lossy(),
                &TICK_TIME.as_millis().to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run java: {e}. {INSTALL_HINT}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            // `ruok` says the process is up; `srvr` says it serves clients
            // (before that it answers "not currently serving requests").
            let up = matches!(four_letter_word(self.port, "ruok").as_deref(), Ok("imok"));
            if up
                && four_letter_word(self.port, "srvr")
                    .is_ok_and(|s| s.starts_with("Zookeeper version"))
            {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                self.child = None;
                return Err(format!("ZooKeeper exited with {status}:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.stop();
        Err(format!(
            "ZooKeeper did not answer on port {} within 30 s",
            self.port
        ))
    }
}

impl Drop for ZooKeeperServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends one of ZooKeeper's four-letter commands and returns the answer.
pub fn four_letter_word(port: u16, word: &str) -> std::io::Result<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(word.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// Picks a port for a test ZooKeeper that nobody else will be given while
/// the server lives, even while it is stopped for a restart (whose clients
/// keep connecting to the same port).
///
/// Two things could take a stopped server's port. Any `bind` to port 0 (a
/// test master, [`free_port`]) gets a port from the kernel's ephemeral
/// range: so test ZooKeepers take theirs from the ports just below it.
/// Another test's ZooKeeper, in this process or another: so each port is
/// claimed ([`claim_port`]) for as long as the server lives.
fn reserve_port() -> Result<(u16, PortClaim), String> {
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let ports = ephemeral_start.saturating_sub(10_000).max(1024)..ephemeral_start;
    for _ in 0..1000 {
        let port = fastrand::u16(ports.clone());
        let Some(claim) = claim_port(port) else {
            continue; // another test's ZooKeeper has it
        };
        // Nothing outside the kit listens there either.
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok((port, claim));
        }
    }
    Err(format!("no free port for ZooKeeper in {ports:?}"))
}

/// A claim on a port among the test ZooKeepers of every process.
#[cfg(target_os = "linux")]
pub type PortClaim = std::os::unix::net::UnixListener;

/// Claims `port`, or `None` if another test's ZooKeeper has it.
///
/// The claim is a Unix socket bound to a name in Linux's abstract
/// namespace: only one socket can hold a name, and the kernel frees it
/// when the socket closes, also when its process dies, however it dies.
#[cfg(target_os = "linux")]
pub fn claim_port(port: u16) -> Option<PortClaim> {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("mesos-testing-zookeeper-port-{port}");
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).ok()?;
    std::os::unix::net::UnixListener::bind_addr(&addr).ok()
}

/// Elsewhere, ports are not claimed across processes.
#[cfg(not(target_os = "linux"))]
pub type PortClaim = ();

/// Elsewhere, every port can be claimed.
#[cfg(not(target_os = "linux"))]
pub fn claim_port(_port: u16) -> Option<PortClaim> {
    Some(())
}

/// A loopback port nobody listens on right now, from the kernel's
/// ephemeral range.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}
