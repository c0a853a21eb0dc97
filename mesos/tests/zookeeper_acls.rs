//! ZooKeeper digest authentication and ACLs, against a real ZooKeeper:
//! with `zk://user:password@…` the framework's nodes (state and election)
//! are created creator-all, so a client without the credentials, or with
//! others, can neither read nor change them; and the master detector
//! authenticates to find masters whose nodes need credentials.

use std::time::Duration;

use mesos::{
    MasterSpec,
    detector::MasterDetector,
    leader::{ELECTION, Election, Role},
    state::{StateStore, ZkUrl},
    testing::ZooKeeperServer,
    v1::FrameworkId,
};
use zookeeper_client as zk;

const CREDENTIALS: &str = "hello:s3cret";

async fn client(server: &ZooKeeperServer, credentials: Option<&str>) -> zk::Client {
    let mut connector = zk::Client::connector();
    if let Some(credentials) = credentials {
        connector = connector.with_auth("digest", credentials.as_bytes());
    }
    connector.connect(&server.connect_string()).await.unwrap()
}

/// Every way to read or change `node` fails with NoAuth for `client`.
async fn locked_out(client: &zk::Client, node: &str) {
    let no_auth = |what: &str, result: Result<(), zk::Error>| {
        assert_eq!(result, Err(zk::Error::NoAuth), "{what} {node}");
    };
    no_auth("read", client.get_data(node).await.map(drop));
    no_auth("list", client.list_children(node).await.map(drop));
    no_auth(
        "write",
        client.set_data(node, b"mallory", None).await.map(drop),
    );
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    no_auth(
        "create under",
        client
            .create(&format!("{node}/intruder"), b"", &options)
            .await
            .map(drop),
    );
    no_auth(
        "change the ACLs of",
        client
            .set_acl(node, &zk::Acls::anyone_all(), None)
            .await
            .map(drop),
    );
}

#[tokio::test]
async fn with_credentials_the_frameworks_nodes_are_closed_to_others() {
    let server = ZooKeeperServer::start();
    let url: ZkUrl = format!("zk://{CREDENTIALS}@{}/hello-mesos", server.connect_string())
        .parse()
        .unwrap();
    assert!(!url.to_string().contains("s3cret"), "{url}");

    let mut store = StateStore::connect(&url).await.unwrap();
    let framework_id = FrameworkId {
        value: "fw-secret".into(),
    };
    store.save_framework_id(Some(&framework_id)).await.unwrap();
    let election = Election::join(&url, "http://127.0.0.1:1", Duration::from_secs(6));
    let mut roles = election.roles();
    let leader_node = tokio::time::timeout(
        Duration::from_secs(30),
        roles.wait_for(|role| matches!(role, Role::Leader { .. })),
    )
    .await
    .expect("elected within 30 s")
    .unwrap()
    .clone();
    let Role::Leader { node: leader_node } = leader_node else {
        unreachable!()
    };

    let nodes = [
        "/hello-mesos".to_string(),
        "/hello-mesos/state".to_string(),
        "/hello-mesos/state/framework_id".to_string(),
        "/hello-mesos/state/tasks".to_string(),
        format!("/hello-mesos/{ELECTION}"),
        leader_node.clone(),
    ];
    for credentials in [None, Some("hello:wrong"), Some("mallory:s3cret")] {
        let other = client(&server, credentials).await;
        for node in &nodes {
            locked_out(&other, node).await;
        }
        assert_eq!(
            other.delete(&leader_node, None).await,
            Err(zk::Error::NoAuth),
            "{credentials:?} deposes the leader"
        );
    }

    // The ACL is ZooKeeper's digest of our credentials, all permissions,
    // and nothing else: not even Mesos' world-readable entry.
    let ours = client(&server, Some(CREDENTIALS)).await;
    for node in &nodes {
        let (acls, _) = ours.get_acl(node).await.unwrap();
        assert_eq!(acls.len(), 1, "{node}: {acls:?}");
        assert_eq!(acls[0].scheme(), "digest", "{node}");
        assert!(acls[0].id().starts_with("hello:"), "{node}: {acls:?}");
        assert_eq!(acls[0].permission(), zk::Permission::ALL, "{node}");
    }
    // And the framework itself reads its state back.
    let state = store.load().await.unwrap();
    assert_eq!(state.framework_id, Some(framework_id));
    election.leave().await;
}

#[tokio::test]
async fn without_credentials_the_nodes_stay_open_as_before() {
    let server = ZooKeeperServer::start();
    let url: ZkUrl = format!("zk://{}/open", server.connect_string())
        .parse()
        .unwrap();
    let mut store = StateStore::connect(&url).await.unwrap();
    store.save_instances(3).await.unwrap();
    let anyone = client(&server, None).await;
    let (acls, _) = anyone.get_acl("/open/state/instances").await.unwrap();
    assert_eq!(&acls[..], &zk::Acls::anyone_all()[..]);
}

#[tokio::test]
async fn the_detector_authenticates_to_find_masters_behind_credentials() {
    let server = ZooKeeperServer::start();
    // A master registered by a session with credentials, its node readable
    // by its creator only.
    let master = client(&server, Some(CREDENTIALS)).await;
    let closed = zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all());
    master.mkdir("/mesos", &closed).await.unwrap();
    let json = r#"{"id":"m","ip":16777343,"port":5050,"pid":"master@127.0.0.1:5050",
        "hostname":"localhost","address":{"hostname":"localhost","ip":"127.0.0.1","port":5050}}"#;
    master
        .create(
            "/mesos/json.info_",
            json.as_bytes(),
            &zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::creator_all()),
        )
        .await
        .unwrap();

    let spec: MasterSpec = format!("zk://{CREDENTIALS}@{}/mesos", server.connect_string())
        .parse()
        .unwrap();
    assert!(!spec.to_string().contains("s3cret"), "{spec}");
    let mut detector = MasterDetector::new(&spec).unwrap();
    let leader = tokio::time::timeout(Duration::from_secs(30), detector.leader())
        .await
        .expect("the master found within 30 s");
    assert_eq!(leader.port, 5050);

    // Without the credentials, the same nodes cannot be read.
    let anonymous = client(&server, None).await;
    assert_eq!(
        anonymous.list_children("/mesos").await,
        Err(zk::Error::NoAuth)
    );
}
