//! Finding the leading master in a real ZooKeeper, as Mesos masters
//! register there: `json.info_<sequence>` znodes holding MasterInfo JSON.

mod common;

use std::time::Duration;

use common::{Reply, TestMaster, is_subscribe, subscribed};
use http::StatusCode;
use mesos::{
    Driver, DriverConfig, DriverEvent, MasterAddr, MasterSpec,
    backoff::Backoff,
    detector::MasterDetector,
    master::Scheme,
    testing::{ZooKeeperServer, eventually, four_letter_word},
    v1::{FrameworkInfo, scheduler::event},
};
use zookeeper_client as zk;

/// Registers a "master" the way Mesos does: an ephemeral sequential
/// `json.info_` znode with its MasterInfo as JSON. Returns the znode path.
async fn register_master(client: &zk::Client, path: &str, ip: &str, port: u16) -> String {
    let json = format!(
        r#"{{"id":"master-{port}","ip":16777343,"port":{port},"pid":"master@{ip}:{port}",
            "hostname":"localhost","version":"1.11.0",
            "address":{{"hostname":"localhost","ip":"{ip}","port":{port}}}}}"#
    );
    let prefix = format!("{path}/json.info_");
    let (_, sequence) = client
        .create(
            &prefix,
            json.as_bytes(),
            &zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all()),
        )
        .await
        .unwrap();
    format!("{prefix}{sequence}")
}

async fn create_path(client: &zk::Client, path: &str) {
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    client.mkdir(path, &options).await.unwrap();
}

fn addr(port: u16) -> MasterAddr {
    MasterAddr::new(Scheme::Http, "127.0.0.1", port)
}

/// Asks the server a four-letter word, off the runtime's thread.
async fn ask(server: &ZooKeeperServer, word: &'static str) -> String {
    let port = server.port();
    tokio::task::spawn_blocking(move || four_letter_word(port, word))
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Waits until some session watches `path` for its creation or its data
/// (ZooKeeper's `wchp`, which lists those watches, not children watches):
/// the proof that the detector has looked at it, which it does in the same
/// request that sets the watch.
async fn wait_for_watch(server: &ZooKeeperServer, path: &str) {
    eventually(&format!("a watch on {path}"), async || {
        let watches = ask(server, "wchp").await;
        watches.lines().any(|line| line == path).then_some(())
    })
    .await
}

/// Waits until some session's last request read a znode's data (`cons`
/// shows each connection's last operation): the detector has read the
/// leading master's MasterInfo.
async fn wait_for_a_read(server: &ZooKeeperServer) {
    eventually("a session that read a znode", async || {
        let connections = ask(server, "cons").await;
        connections.contains("lop=GETD").then_some(())
    })
    .await
}

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("within 20 s")
}

#[tokio::test]
async fn the_lowest_sequence_leads_and_leadership_moves_when_it_goes() {
    let server = ZooKeeperServer::start();
    let zk = zk::Client::connect(&server.connect_string()).await.unwrap();
    create_path(&zk, "/mesos").await;
    // Other children live there too in a real cluster.
    create_path(&zk, "/mesos/log_replicas").await;
    let first = register_master(&zk, "/mesos", "127.0.0.1", 5051).await;
    let _second = register_master(&zk, "/mesos", "127.0.0.1", 5052).await;

    let spec: MasterSpec = format!("zk://{}/mesos", server.connect_string())
        .parse()
        .unwrap();
    let mut detector = MasterDetector::new(&spec).unwrap();
    assert_eq!(within(detector.leader()).await, addr(5051));

    // The leader dies: its ephemeral node goes, the next one leads.
    zk.delete(&first, None).await.unwrap();
    assert_eq!(
        within(detector.changed_from(&addr(5051))).await,
        Some(addr(5052))
    );
}

#[tokio::test]
async fn waits_for_the_first_master_to_register() {
    let server = ZooKeeperServer::start();
    let mut detector = MasterDetector::zookeeper(&server.connect_string(), "/not-yet/mesos");
    // It has looked, found no such path, said so, and watches for it.
    wait_for_watch(&server, "/not-yet/mesos").await;
    assert_eq!(detector.current(), None);

    let zk = zk::Client::connect(&server.connect_string()).await.unwrap();
    create_path(&zk, "/not-yet/mesos").await;
    register_master(&zk, "/not-yet/mesos", "127.0.0.1", 6000).await;
    assert_eq!(within(detector.leader()).await, addr(6000));
}

#[tokio::test]
async fn unreadable_master_info_is_skipped_until_a_valid_leader_appears() {
    let server = ZooKeeperServer::start();
    let zk = zk::Client::connect(&server.connect_string()).await.unwrap();
    create_path(&zk, "/mesos").await;
    let (_, sequence) = zk
        .create(
            "/mesos/json.info_",
            b"this is not MasterInfo JSON",
            &zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all()),
        )
        .await
        .unwrap();
    let mut detector = MasterDetector::zookeeper(&server.connect_string(), "/mesos");
    // It has listed the masters and read the garbage one's data.
    wait_for_a_read(&server).await;
    assert_eq!(detector.current(), None, "garbage must not become a leader");

    // Every leader the detector names is seen (`leader` is polled at each
    // change): the first must be the valid master, never the garbage.
    let replace_the_garbage = async {
        register_master(&zk, "/mesos", "127.0.0.1", 7000).await;
        zk.delete(&format!("/mesos/json.info_{sequence}"), None)
            .await
            .unwrap();
    };
    let (first_leader, ()) =
        within(async { tokio::join!(detector.leader(), replace_the_garbage) }).await;
    assert_eq!(first_leader, addr(7000), "garbage must not become a leader");
}

#[tokio::test]
async fn the_driver_follows_the_leader_to_a_new_master() {
    let server = ZooKeeperServer::start();
    let zk = zk::Client::connect(&server.connect_string()).await.unwrap();
    create_path(&zk, "/mesos").await;
    let masters = [
        TestMaster::start(stream_or_accept).await,
        TestMaster::start(stream_or_accept).await,
    ];
    let first = register_master(&zk, "/mesos", "127.0.0.1", masters[0].addr.port()).await;
    register_master(&zk, "/mesos", "127.0.0.1", masters[1].addr.port()).await;

    let spec = format!("zk://{}/mesos", server.connect_string())
        .parse()
        .unwrap();
    let mut config = DriverConfig::new(
        spec,
        FrameworkInfo {
            user: "root".into(),
            name: "zk-driver".into(),
            ..Default::default()
        },
    );
    config.backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(100));
    let (driver, mut events) = Driver::start(config).unwrap();
    expect_subscribed(&mut events).await;
    assert_eq!(driver.master(), Some(masters[0].master_addr()));

    zk.delete(&first, None).await.unwrap();
    match within(events.recv()).await.unwrap() {
        DriverEvent::Disconnected { reason } => {
            assert!(reason.contains("leading master changed"), "{reason}")
        }
        other => panic!("expected a disconnection, got {other:?}"),
    }
    expect_subscribed(&mut events).await;
    assert_eq!(driver.master(), Some(masters[1].master_addr()));
    let resubscribe = &masters[1].recorded()[0].call;
    assert_eq!(
        resubscribe.framework_id.as_ref().unwrap().value,
        "fw-zk",
        "the new leader is asked for the same framework"
    );
    driver.stop().await;
}

fn stream_or_accept(request: &common::Recorded) -> Reply {
    if is_subscribe(&request.call) {
        Reply::Stream {
            stream_id: "s".into(),
            events: vec![subscribed("fw-zk", 15.0)],
            keep_open: true,
        }
    } else {
        Reply::Status(StatusCode::ACCEPTED, String::new())
    }
}

async fn expect_subscribed(events: &mut tokio::sync::mpsc::Receiver<DriverEvent>) {
    match within(events.recv()).await.unwrap() {
        DriverEvent::Event(e) => assert_eq!(e.r#type(), event::Type::Subscribed),
        other => panic!("expected SUBSCRIBED, got {other:?}"),
    }
}

/// The log lines of this thread, for a test on a current-thread runtime
/// (where the detector's task runs on the test's thread).
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_path_where_no_master_ever_registered_is_named_in_a_warning() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = ZooKeeperServer::start();
    let zk = zk::Client::connect(&server.connect_string()).await.unwrap();
    // A path with something in it, but no master: a framework's own root
    // given as `--master` by mistake, say.
    create_path(&zk, "/hello-mesos/state").await;

    let url = format!("zk://{}/hello-mesos", server.connect_string());
    let detector = MasterDetector::new(&url.parse().unwrap()).unwrap();
    let warning = eventually("the no-master warning", async || {
        let text = logs.text();
        text.lines()
            .find(|line| line.contains("no Mesos master has registered"))
            .map(str::to_string)
    })
    .await;
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains(&url), "names the path: {warning}");
    assert!(
        warning.contains("holds state"),
        "names what is there: {warning}"
    );
    assert_eq!(detector.current(), None);
}
