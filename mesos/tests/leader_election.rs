//! Leader election against a real ZooKeeper: one leader among several
//! participants, Curator's node names, taking over when the leader goes,
//! resigning, suspension while ZooKeeper is away, and fenced writes.

use std::time::Duration;

use mesos::{
    leader::{Election, LATCH, Role, current_leader},
    state::{StateError, StateStore, TaskRecord, TaskRecords, ZkUrl},
    testing::{WAIT, ZooKeeperServer},
    v1::TaskState,
};
use tokio::sync::watch;
use zookeeper_client as zk;

const SESSION: Duration = Duration::from_secs(2);

fn url(server: &ZooKeeperServer) -> ZkUrl {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    format!("zk://{}/fw", server.connect_string())
        .parse()
        .unwrap()
}

/// Waits until `roles` satisfies `predicate`, and returns that role.
async fn role_where(roles: &mut watch::Receiver<Role>, predicate: impl Fn(&Role) -> bool) -> Role {
    let waited = tokio::time::timeout(WAIT, async {
        roles
            .wait_for(|role| predicate(role))
            .await
            .map(|role| role.clone())
    })
    .await;
    match waited {
        Ok(role) => role.expect("the election runs"),
        Err(_) => panic!("no such role within {WAIT:?}; last {:?}", roles.borrow()),
    }
}

async fn elected(election: &Election) -> String {
    match role_where(&mut election.roles(), Role::is_leader).await {
        Role::Leader { node } => node,
        _ => unreachable!(),
    }
}

async fn standby_under(election: &Election, leader: &str) {
    role_where(
        &mut election.roles(),
        |role| matches!(role, Role::Standby { leader: Some(l) } if l.id == leader),
    )
    .await;
}

async fn raw_client(server: &ZooKeeperServer) -> zk::Client {
    zk::Client::connect(&server.connect_string()).await.unwrap()
}

#[tokio::test]
async fn one_leads_the_others_stand_by_and_know_who_leads() {
    let server = ZooKeeperServer::start();
    let url = url(&server);
    let first = Election::join(&url, "host-a:1", SESSION);
    let node = elected(&first).await;
    let second = Election::join(&url, "host-b:2", SESSION);
    let third = Election::join(&url, "host-c:3", SESSION);
    standby_under(&second, "host-a:1").await;
    standby_under(&third, "host-a:1").await;
    assert!(first.role().is_leader());
    assert_eq!(third.leader().unwrap().id, "host-a:1");

    // Curator's LeaderLatch names, in protected mode, holding the id.
    let (_, name) = node.rsplit_once('/').unwrap();
    assert!(node.starts_with("/fw/leader/_c_"), "{node}");
    let (protected, digits) = name.rsplit_once(LATCH).unwrap();
    assert_eq!(protected.len(), "_c_".len() + 36 + 1, "{name}");
    assert_eq!(digits.len(), 10, "{name}");
    let client = raw_client(&server).await;
    let (data, stat) = client.get_data(&node).await.unwrap();
    assert_eq!(data, b"host-a:1");
    assert_ne!(stat.ephemeral_owner, 0, "ephemeral");
    let leader = current_leader(&client, "/fw").await.unwrap().unwrap();
    assert_eq!((leader.node, leader.id), (node, "host-a:1".to_string()));
    assert_eq!(client.list_children("/fw/leader").await.unwrap().len(), 3);
}

#[tokio::test]
async fn when_the_leader_leaves_the_next_in_line_leads() {
    let server = ZooKeeperServer::start();
    let url = url(&server);
    let first = Election::join(&url, "a", SESSION);
    elected(&first).await;
    let second = Election::join(&url, "b", SESSION);
    standby_under(&second, "a").await;
    let third = Election::join(&url, "c", SESSION);
    standby_under(&third, "a").await;

    first.leave().await;
    elected(&second).await;
    // The third hears of the new leader too, though it watches only its
    // predecessor for the election itself.
    standby_under(&third, "b").await;

    second.leave().await;
    elected(&third).await;
}

#[tokio::test]
async fn a_leader_that_resigns_goes_to_the_back_as_a_standby() {
    let server = ZooKeeperServer::start();
    let url = url(&server);
    let first = Election::join(&url, "a", SESSION);
    let old_node = elected(&first).await;
    let second = Election::join(&url, "b", SESSION);
    standby_under(&second, "a").await;

    first.resign();
    elected(&second).await;
    standby_under(&first, "b").await;
    let client = raw_client(&server).await;
    assert_eq!(
        client.check_stat(&old_node).await.unwrap(),
        None,
        "its old node is gone"
    );
    assert_eq!(client.list_children("/fw/leader").await.unwrap().len(), 2);
}

// Several threads: stopping and starting ZooKeeper blocks one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_disconnected_from_zookeeper_is_suspended_at_once() {
    let mut server = ZooKeeperServer::start();
    let url = url(&server);
    let election = Election::join(&url, "a", Duration::from_secs(10));
    let node = elected(&election).await;
    let mut roles = election.roles();

    tokio::task::block_in_place(|| server.stop());
    // No waiting for the session to expire: disconnected is enough.
    role_where(&mut roles, |role| *role == Role::Suspended).await;

    // Back within the session timeout: the session and its node lived, so
    // this instance still leads, with the same node.
    tokio::task::block_in_place(|| server.restart());
    let back = role_where(&mut roles, Role::is_leader).await;
    assert_eq!(back, Role::Leader { node });
}

#[tokio::test]
async fn writes_are_fenced_by_the_writers_election_node() {
    let server = ZooKeeperServer::start();
    let url = url(&server);
    let first = Election::join(&url, "a", SESSION);
    let node = elected(&first).await;
    let mut store = StateStore::connect(&url).await.unwrap();
    store.load().await.unwrap();
    store.fence_with(Some(node.clone()));
    let task = |state| {
        let record = TaskRecord {
            state,
            agent_id: None,
        };
        TaskRecords::from_iter([("t".to_string(), record)])
    };
    store
        .save(None, Some(1), &mut task(TaskState::TaskStaging))
        .await
        .unwrap();

    // Deposed (here: it resigned; a paused leader's session expires): its
    // node is gone, and so is its right to write.
    let second = Election::join(&url, "b", SESSION);
    standby_under(&second, "a").await;
    first.resign();
    elected(&second).await;
    match store
        .save(None, Some(1), &mut task(TaskState::TaskRunning))
        .await
    {
        Err(StateError::Fenced { node: fenced }) => assert_eq!(fenced, node),
        other => panic!("expected a fenced write, got {other:?}"),
    }
    let client = raw_client(&server).await;
    let (data, _) = client.get_data("/fw/state/tasks/t").await.unwrap();
    assert_eq!(
        data, br#"{"state":"TASK_STAGING","agent_id":null}"#,
        "not written"
    );
}
