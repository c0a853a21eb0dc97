//! A framework's state in a real ZooKeeper: what is stored where, writes
//! that touch only what changed, compare-and-set against a concurrent
//! writer, data we cannot read, and ZooKeeper going away and coming back.

use std::time::{Duration, Instant};

use mesos::{
    state::{
        Adopted, AfterConflict, CountWatch, FrameworkState, StateError, StateStore, TaskRecord,
        TaskRecords, ZkUrl,
    },
    testing::{ZooKeeperServer, four_letter_word, free_port},
    v1::{FrameworkId, TaskState},
};
use zookeeper_client as zk;

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("within 20 s")
}

fn url(server: &ZooKeeperServer, root: &str) -> ZkUrl {
    format!("zk://{}{root}", server.connect_string())
        .parse()
        .unwrap()
}

/// A plain client, playing an operator or another scheduler instance.
///
/// The server answers `ruok` a moment before it accepts sessions (longer on
/// a loaded machine); this client keeps trying until it does, so tests
/// connect one before the store's first call after a (re)start.
async fn raw_client(server: &ZooKeeperServer) -> zk::Client {
    within(zk::Client::connect(&server.connect_string()))
        .await
        .unwrap()
}

async fn data(zk: &zk::Client, node: &str) -> Vec<u8> {
    within(zk.get_data(node)).await.unwrap().0
}

async fn stat(zk: &zk::Client, node: &str) -> zk::Stat {
    within(zk.get_data(node)).await.unwrap().1
}

async fn exists(zk: &zk::Client, node: &str) -> bool {
    within(zk.check_stat(node)).await.unwrap().is_some()
}

fn task(state: TaskState, agent: Option<&str>) -> TaskRecord {
    TaskRecord {
        state,
        agent_id: agent.map(String::from),
    }
}

fn tasks<const N: usize>(entries: [(&str, TaskRecord); N]) -> TaskRecords {
    entries
        .into_iter()
        .map(|(id, record)| (id.to_string(), record))
        .collect()
}

fn framework_id(value: &str) -> FrameworkId {
    FrameworkId {
        value: value.into(),
    }
}

fn assert_conflict(result: Result<(), StateError>, expected_node: &str) {
    match result {
        Err(StateError::Conflict { node }) => assert_eq!(node, expected_node),
        other => panic!("expected a conflict on {expected_node}, got {other:?}"),
    }
}

fn assert_bad_data<T: std::fmt::Debug>(result: Result<T, StateError>, expected_node: &str) {
    let error = match result {
        Err(error @ StateError::BadData { .. }) => error,
        other => panic!("expected bad data in {expected_node}, got {other:?}"),
    };
    assert!(
        matches!(&error, StateError::BadData { node, .. } if node == expected_node),
        "{error:?}"
    );
    assert!(error.to_string().contains(expected_node), "{error}");
}

#[tokio::test]
async fn the_state_round_trips_and_a_second_store_sees_it() {
    let server = ZooKeeperServer::start();
    let zk = raw_client(&server).await;
    let url = url(&server, "/hello-mesos");
    let mut store = within(StateStore::connect(&url)).await.unwrap();
    assert_eq!(
        within(store.load()).await.unwrap(),
        FrameworkState::default()
    );
    assert!(exists(&zk, "/hello-mesos/state/tasks").await);

    let id = framework_id("7d3a-0001");
    let mut tasks = tasks([
        ("web-1", task(TaskState::TaskRunning, Some("agent-1"))),
        ("web-2", task(TaskState::TaskStaging, None)),
    ]);
    within(store.save_framework_id(Some(&id))).await.unwrap();
    within(store.save_instances(2)).await.unwrap();
    within(store.save_tasks(&mut tasks)).await.unwrap();
    let expected = FrameworkState {
        framework_id: Some(id),
        instances: Some(2),
        tasks,
        collections: Default::default(),
    };
    assert_eq!(within(store.load()).await.unwrap(), expected);

    // The documented layout, readable with zkCli.sh.
    assert_eq!(
        data(&zk, "/hello-mesos/state/framework_id").await,
        b"7d3a-0001"
    );
    assert_eq!(data(&zk, "/hello-mesos/state/instances").await, b"2");
    assert_eq!(
        data(&zk, "/hello-mesos/state/tasks/web-1").await,
        br#"{"state":"TASK_RUNNING","agent_id":"agent-1"}"#
    );
    assert_eq!(
        data(&zk, "/hello-mesos/state/tasks/web-2").await,
        br#"{"state":"TASK_STAGING","agent_id":null}"#
    );

    // A restarted or standby scheduler finds the same state.
    let mut other = within(StateStore::connect(&url)).await.unwrap();
    assert_eq!(within(other.load()).await.unwrap(), expected);

    // No framework ID: the node goes.
    within(other.save_framework_id(None)).await.unwrap();
    assert!(!exists(&zk, "/hello-mesos/state/framework_id").await);
    let reloaded = within(store.load()).await.unwrap();
    assert_eq!(reloaded.framework_id, None);
    assert_eq!(reloaded.tasks, expected.tasks);
}

#[tokio::test]
async fn save_tasks_writes_only_what_changed_in_one_transaction() {
    let server = ZooKeeperServer::start();
    let zk = raw_client(&server).await;
    let mut store = within(StateStore::connect(&url(&server, "/fw")))
        .await
        .unwrap();
    within(store.load()).await.unwrap();
    let node = |id: &str| format!("/fw/state/tasks/{id}");

    let mut wanted = tasks([
        ("a", task(TaskState::TaskStaging, None)),
        ("b", task(TaskState::TaskStaging, None)),
        ("c", task(TaskState::TaskStaging, None)),
    ]);
    within(store.save_tasks(&mut wanted)).await.unwrap();
    let a_before = stat(&zk, &node("a")).await;
    assert_eq!(a_before.version, 0);

    wanted.insert("b".into(), task(TaskState::TaskRunning, Some("agent-2")));
    wanted.remove("c");
    wanted.insert("d".into(), task(TaskState::TaskStaging, None));
    within(store.save_tasks(&mut wanted)).await.unwrap();

    assert_eq!(stat(&zk, &node("a")).await, a_before, "a was not rewritten");
    let b = stat(&zk, &node("b")).await;
    assert_eq!(b.version, 1);
    assert!(!exists(&zk, &node("c")).await);
    let d = stat(&zk, &node("d")).await;
    assert_eq!(d.version, 0);
    // One multi-op is one ZooKeeper transaction, with one zxid: the set of
    // b, the creation of d and the deletion of c happened together.
    let tasks_dir = stat(&zk, "/fw/state/tasks").await;
    assert_eq!(b.mzxid, d.czxid);
    assert_eq!(tasks_dir.pzxid, d.czxid);

    // Nothing changed, nothing written.
    within(store.save_tasks(&mut wanted)).await.unwrap();
    assert_eq!(stat(&zk, &node("b")).await, b);
    assert_eq!(stat(&zk, "/fw/state/tasks").await, tasks_dir);

    // The same holds for the other nodes.
    within(store.save_instances(3)).await.unwrap();
    within(store.save_instances(3)).await.unwrap();
    assert_eq!(stat(&zk, "/fw/state/instances").await.version, 0);
    within(store.save_instances(4)).await.unwrap();
    assert_eq!(stat(&zk, "/fw/state/instances").await.version, 1);
}

#[tokio::test]
async fn a_restarted_scheduler_writes_only_what_changed_since_it_loaded() {
    let server = ZooKeeperServer::start();
    let zk = raw_client(&server).await;
    let node = |id: &str| format!("/fw/state/tasks/{id}");
    let mut wanted = tasks([
        ("a", task(TaskState::TaskRunning, Some("agent-1"))),
        ("b", task(TaskState::TaskRunning, Some("agent-1"))),
        ("c", task(TaskState::TaskStaging, None)),
        ("d", task(TaskState::TaskRunning, Some("agent-2"))),
        ("e", task(TaskState::TaskRunning, Some("agent-2"))),
    ]);
    let mut first = within(StateStore::connect(&url(&server, "/fw")))
        .await
        .unwrap();
    within(first.load()).await.unwrap();
    within(first.save_tasks(&mut wanted)).await.unwrap();
    drop(first);

    // The next scheduler changes the records it read: tasks that ended in
    // the middle and at the end of the list, one that changed, one new
    // (sorted before the last). Its save looks at those alone, as the
    // records note what changed since they were read.
    let mut next = within(StateStore::connect(&url(&server, "/fw")))
        .await
        .unwrap();
    let mut loaded = within(next.load()).await.unwrap().tasks;
    assert_eq!(loaded, wanted);
    loaded.remove("b");
    loaded.remove("e");
    loaded.insert("c".into(), task(TaskState::TaskRunning, Some("agent-1")));
    loaded.insert("cc".into(), task(TaskState::TaskStaging, None));
    within(next.save_tasks(&mut loaded)).await.unwrap();

    assert!(
        !exists(&zk, &node("b")).await,
        "b ended: its node is deleted"
    );
    assert!(
        !exists(&zk, &node("e")).await,
        "e ended: its node is deleted"
    );
    assert_eq!(
        stat(&zk, &node("a")).await.version,
        0,
        "a was not rewritten"
    );
    assert_eq!(
        stat(&zk, &node("d")).await.version,
        0,
        "d was not rewritten"
    );
    assert_eq!(stat(&zk, &node("c")).await.version, 1);
    assert_eq!(stat(&zk, &node("cc")).await.version, 0);
    let mut again = within(StateStore::connect(&url(&server, "/fw")))
        .await
        .unwrap();
    assert_eq!(within(again.load()).await.unwrap().tasks, loaded);

    // Records that were not read from this store (built by hand, or kept
    // from before) are compared in full: their save makes ZooKeeper equal
    // to them, though they noted none of the changes.
    within(next.save_tasks(&mut wanted)).await.unwrap();
    assert!(exists(&zk, &node("b")).await, "b is back");
    assert!(!exists(&zk, &node("cc")).await, "cc is gone");
    assert_eq!(within(again.load()).await.unwrap().tasks, wanted);
}

#[tokio::test]
async fn a_save_too_big_for_one_request_is_written_in_parts() {
    let server = ZooKeeperServer::start();
    raw_client(&server).await;
    let mut store = within(StateStore::connect(&url(&server, "/fw")))
        .await
        .unwrap();
    within(store.load()).await.unwrap();
    // 10,000 tasks launched from one round of offers, with long task IDs:
    // about 2 MB of nodes, where ZooKeeper takes at most 1 MB a request.
    let mut launched: TaskRecords = (0..10_000)
        .map(|i| {
            let id = format!("hello-mesos-{i:05}-{}", "x".repeat(100));
            (id, task(TaskState::TaskStaging, Some("agent-1")))
        })
        .collect();
    let id = framework_id("fw-1");
    within(store.save(Some(&id), Some(10_000), &mut launched))
        .await
        .unwrap();

    let mut next = within(StateStore::connect(&url(&server, "/fw")))
        .await
        .unwrap();
    let stored = within(next.load()).await.unwrap();
    assert_eq!(stored.framework_id, Some(id));
    assert_eq!(stored.instances, Some(10_000));
    assert_eq!(stored.tasks, launched);
}

#[tokio::test]
async fn a_concurrent_writer_makes_save_tasks_conflict_and_nothing_is_written() {
    let server = ZooKeeperServer::start();
    let zk = raw_client(&server).await;
    let mut store = within(StateStore::connect(&url(&server, "/fw")))
        .await
        .unwrap();
    within(store.load()).await.unwrap();
    let node = |id: &str| format!("/fw/state/tasks/{id}");
    within(store.save_tasks(&mut tasks([
        ("a", task(TaskState::TaskStaging, None)),
        ("b", task(TaskState::TaskStaging, None)),
    ])))
    .await
    .unwrap();

    // Another scheduler instance updates b.
    let theirs = br#"{"state":"TASK_KILLING","agent_id":"agent-9"}"#;
    within(zk.set_data(&node("b"), theirs, None)).await.unwrap();

    let mut wanted = tasks([
        ("a", task(TaskState::TaskRunning, Some("agent-1"))),
        ("b", task(TaskState::TaskRunning, Some("agent-2"))),
        ("c", task(TaskState::TaskStaging, None)),
    ]);
    assert_conflict(within(store.save_tasks(&mut wanted)).await, &node("b"));
    // All or nothing: a and c were not written either.
    assert_eq!(
        data(&zk, &node("a")).await,
        br#"{"state":"TASK_STAGING","agent_id":null}"#
    );
    assert_eq!(stat(&zk, &node("a")).await.version, 0);
    assert_eq!(data(&zk, &node("b")).await, theirs);
    assert!(!exists(&zk, &node("c")).await);
    // The store did not take the failed write for done: trying again
    // without reloading conflicts again.
    assert_conflict(within(store.save_tasks(&mut wanted)).await, &node("b"));

    // After a reload the store sees their write, and can write over it.
    let state = within(store.load()).await.unwrap();
    assert_eq!(
        state.tasks["b"],
        task(TaskState::TaskKilling, Some("agent-9"))
    );
    within(store.save_tasks(&mut wanted)).await.unwrap();
    assert_eq!(stat(&zk, &node("b")).await.version, 2);
    assert!(exists(&zk, &node("c")).await);

    // A task node someone else created is not overwritten...
    within(zk.create(
        &node("d"),
        theirs,
        &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
    ))
    .await
    .unwrap();
    wanted.insert("d".into(), task(TaskState::TaskStaging, None));
    assert_conflict(within(store.save_tasks(&mut wanted)).await, &node("d"));
    assert_eq!(data(&zk, &node("d")).await, theirs);
    wanted.remove("d");

    // ...and one someone else deleted is not recreated.
    within(zk.delete(&node("c"), None)).await.unwrap();
    wanted.insert("c".into(), task(TaskState::TaskRunning, None));
    assert_conflict(within(store.save_tasks(&mut wanted)).await, &node("c"));
    assert!(!exists(&zk, &node("c")).await);
    assert_eq!(
        data(&zk, &node("a")).await,
        br#"{"state":"TASK_RUNNING","agent_id":"agent-1"}"#
    );
}

#[tokio::test]
async fn save_stores_the_framework_id_with_its_tasks_in_one_transaction() {
    let server = ZooKeeperServer::start();
    let zk = raw_client(&server).await;
    let mut store = within(StateStore::connect(&url(&server, "/fw")))
        .await
        .unwrap();
    within(store.load()).await.unwrap();
    let id = framework_id("fw-1");
    let mut tasks = tasks([("a", task(TaskState::TaskStaging, Some("agent-1")))]);
    within(store.save(Some(&id), Some(2), &mut tasks))
        .await
        .unwrap();

    let id_node = stat(&zk, "/fw/state/framework_id").await;
    let instances = stat(&zk, "/fw/state/instances").await;
    let a = stat(&zk, "/fw/state/tasks/a").await;
    // One transaction: the same zxid created all three. ZooKeeper never
    // held the new framework ID without its task, or the other way round.
    assert_eq!(id_node.czxid, a.czxid);
    assert_eq!(instances.czxid, a.czxid);
    assert_eq!(
        within(store.load()).await.unwrap(),
        FrameworkState {
            framework_id: Some(id.clone()),
            instances: Some(2),
            tasks: tasks.clone(),
            collections: Default::default(),
        }
    );

    // Nothing changed: nothing written, not even the checks.
    within(store.save(Some(&id), Some(2), &mut tasks))
        .await
        .unwrap();
    assert_eq!(stat(&zk, "/fw/state/tasks/a").await, a);

    // The framework is gone (removed by the master): its ID and its tasks
    // go together too.
    within(store.save(None, Some(2), &mut TaskRecords::new()))
        .await
        .unwrap();
    assert!(!exists(&zk, "/fw/state/framework_id").await);
    assert!(!exists(&zk, "/fw/state/tasks/a").await);
    assert_eq!(data(&zk, "/fw/state/instances").await, b"2");
}

#[tokio::test]
async fn after_a_conflict_the_instance_count_is_adopted_and_the_rest_is_ours() {
    let server = ZooKeeperServer::start();
    let zk = raw_client(&server).await;
    let mut store = within(StateStore::connect(&url(&server, "/fw")))
        .await
        .unwrap();
    within(store.load()).await.unwrap();
    let id = framework_id("fw-1");
    let mut ours = tasks([("a", task(TaskState::TaskStaging, None))]);
    within(store.save(Some(&id), Some(2), &mut ours))
        .await
        .unwrap();

    // An operator changes the count: `zkCli.sh set .../instances 5`.
    within(zk.set_data("/fw/state/instances", b"5", None))
        .await
        .unwrap();
    // Our next write changes only a task, yet it checks the count, so it
    // fails and writes nothing: the operator's change is not undone.
    ours.insert("a".into(), task(TaskState::TaskRunning, Some("agent-1")));
    assert_conflict(
        within(store.save(Some(&id), Some(2), &mut ours)).await,
        "/fw/state/instances",
    );
    assert_eq!(
        data(&zk, "/fw/state/tasks/a").await,
        br#"{"state":"TASK_STAGING","agent_id":null}"#
    );
    assert_eq!(
        within(store.reload_after_conflict(Some(&id)))
            .await
            .unwrap(),
        AfterConflict::Adopt(Adopted {
            instances: Some(5),
            framework: None
        })
    );
    // Adopted: the count is theirs, the task update is ours.
    within(store.save(Some(&id), Some(5), &mut ours))
        .await
        .unwrap();
    assert_eq!(data(&zk, "/fw/state/instances").await, b"5");
    assert_eq!(
        data(&zk, "/fw/state/tasks/a").await,
        br#"{"state":"TASK_RUNNING","agent_id":"agent-1"}"#
    );
}

#[tokio::test]
async fn after_a_conflict_another_framework_or_other_task_records_mean_stop() {
    let server = ZooKeeperServer::start();
    let zk = raw_client(&server).await;
    let url = url(&server, "/fw");
    let mut store = within(StateStore::connect(&url)).await.unwrap();
    within(store.load()).await.unwrap();
    let id = framework_id("fw-1");
    let mut ours = tasks([("a", task(TaskState::TaskRunning, None))]);
    within(store.save(Some(&id), Some(1), &mut ours))
        .await
        .unwrap();

    // Another scheduler instance registered framework fw-2 here and
    // stored it with its task.
    let mut other = within(StateStore::connect(&url)).await.unwrap();
    within(other.load()).await.unwrap();
    let mut theirs = tasks([("x", task(TaskState::TaskStaging, None))]);
    within(other.save(Some(&framework_id("fw-2")), Some(1), &mut theirs))
        .await
        .unwrap();

    ours.insert("b".into(), task(TaskState::TaskStaging, None));
    assert_conflict(
        within(store.save(Some(&id), Some(1), &mut ours)).await,
        "/fw/state/framework_id",
    );
    match within(store.reload_after_conflict(Some(&id)))
        .await
        .unwrap()
    {
        AfterConflict::Stop { reason } => {
            assert!(
                reason.contains("fw-2") && reason.contains("fw-1"),
                "{reason}"
            )
        }
        other => panic!("expected Stop, got {other:?}"),
    }
    // Nothing of theirs was overwritten.
    assert_eq!(data(&zk, "/fw/state/framework_id").await, b"fw-2");
    assert!(exists(&zk, "/fw/state/tasks/x").await);
    assert!(!exists(&zk, "/fw/state/tasks/b").await);

    // The same framework, but someone else rewrites its task records.
    let mut store = within(StateStore::connect(&url)).await.unwrap();
    let stored = within(store.load()).await.unwrap();
    let fw2 = stored.framework_id.unwrap();
    within(zk.set_data(
        "/fw/state/tasks/x",
        br#"{"state":"TASK_KILLING","agent_id":null}"#,
        None,
    ))
    .await
    .unwrap();
    let mut ours = stored.tasks;
    ours.insert("x".into(), task(TaskState::TaskRunning, None));
    assert_conflict(
        within(store.save(Some(&fw2), Some(1), &mut ours)).await,
        "/fw/state/tasks/x",
    );
    let after = within(store.reload_after_conflict(Some(&fw2)))
        .await
        .unwrap();
    assert!(
        matches!(&after, AfterConflict::Stop { reason } if reason.contains("task records")),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_scheduler_without_a_framework_adopts_the_stored_one() {
    let server = ZooKeeperServer::start();
    let url = url(&server, "/fw");
    let mut late = within(StateStore::connect(&url)).await.unwrap();
    within(late.load()).await.unwrap();
    // Meanwhile, another instance registered and stored its framework.
    let mut first = within(StateStore::connect(&url)).await.unwrap();
    within(first.load()).await.unwrap();
    let mut theirs = tasks([("x", task(TaskState::TaskRunning, Some("agent-1")))]);
    within(first.save(Some(&framework_id("fw-1")), Some(1), &mut theirs))
        .await
        .unwrap();

    // The late one, with no framework yet, writes its count: the node
    // exists already, a conflict, and it adopts what is stored.
    assert_conflict(
        within(late.save(None, Some(3), &mut TaskRecords::new())).await,
        "/fw/state/instances",
    );
    assert_eq!(
        within(late.reload_after_conflict(None)).await.unwrap(),
        AfterConflict::Adopt(Adopted {
            instances: Some(1),
            framework: Some((framework_id("fw-1"), theirs)),
        })
    );
}

/// Which node a corruption case spoils, and how.
struct Corruption {
    node: &'static str,
    data: &'static [u8],
}

#[tokio::test]
async fn unreadable_nodes_are_reported_by_name_and_never_overwritten() {
    let server = ZooKeeperServer::start();
    let zk = raw_client(&server).await;
    let cases = [
        Corruption {
            node: "framework_id",
            data: b"\xff\xfe not UTF-8",
        },
        Corruption {
            node: "framework_id",
            data: b"",
        },
        Corruption {
            node: "instances",
            data: b"three",
        },
        Corruption {
            node: "instances",
            data: b"-1",
        },
        Corruption {
            node: "tasks/web-1",
            data: b"{not json",
        },
        Corruption {
            node: "tasks/web-1",
            data: br#"{"state":"TASK_SLEEPING","agent_id":null}"#,
        },
        Corruption {
            node: "tasks/web-1",
            data: br#"{"state":"TASK_RUNNING","agent_id":null,"host":"h1"}"#,
        },
    ];
    for (n, case) in cases.iter().enumerate() {
        let root = format!("/case-{n}");
        let url = url(&server, &root);
        let node = format!("{root}/state/{}", case.node);
        let mut store = within(StateStore::connect(&url)).await.unwrap();
        within(store.save_framework_id(Some(&framework_id("fw-1"))))
            .await
            .unwrap();
        within(store.save_instances(1)).await.unwrap();
        let mut running = tasks([("web-1", task(TaskState::TaskRunning, None))]);
        within(store.save_tasks(&mut running)).await.unwrap();

        within(zk.set_data(&node, case.data, None)).await.unwrap();
        assert_bad_data(within(store.load()).await, &node);
        // A scheduler starting now cannot load either.
        let mut fresh = within(StateStore::connect(&url)).await.unwrap();
        assert_bad_data(within(fresh.load()).await, &node);

        // Writes that would replace or delete the node are refused, whether
        // the store read the node before it went bad or never read it.
        for store in [&mut store, &mut fresh] {
            let mut killed = tasks([("web-1", task(TaskState::TaskKilled, None))]);
            let replaced = match case.node {
                "framework_id" => {
                    within(store.save_framework_id(Some(&framework_id("fw-2")))).await
                }
                "instances" => within(store.save_instances(5)).await,
                _ => within(store.save_tasks(&mut killed)).await,
            };
            assert!(replaced.is_err(), "{node} replaced: {replaced:?}");
            assert_eq!(data(&zk, &node).await, case.data, "{node} was overwritten");
            // Deleting it fails too, or, for a store that never read it,
            // is not even attempted.
            let _ = match case.node {
                "framework_id" => within(store.save_framework_id(None)).await,
                "instances" => Ok(()),
                _ => within(store.clear_tasks()).await,
            };
            assert_eq!(data(&zk, &node).await, case.data, "{node} was deleted");
        }
    }

    // Nodes that do not belong: an unknown child of state, a task with
    // children.
    let mut store = within(StateStore::connect(&url(&server, "/extra")))
        .await
        .unwrap();
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    within(zk.create("/extra/state/leader", b"me", &options))
        .await
        .unwrap();
    assert_bad_data(within(store.load()).await, "/extra/state/leader");
    within(zk.delete("/extra/state/leader", None))
        .await
        .unwrap();

    within(store.save_tasks(&mut tasks([("t", task(TaskState::TaskRunning, None))])))
        .await
        .unwrap();
    within(zk.create("/extra/state/tasks/t/sub", b"", &options))
        .await
        .unwrap();
    assert_bad_data(within(store.load()).await, "/extra/state/tasks/t");
    assert!(within(store.clear_tasks()).await.is_err());
    assert!(exists(&zk, "/extra/state/tasks/t/sub").await);
}

#[tokio::test]
async fn the_store_carries_on_after_zookeeper_restarts() {
    let mut server = ZooKeeperServer::start();
    raw_client(&server).await;
    let url = url(&server, "/fw");
    let mut store = within(StateStore::connect(&url)).await.unwrap();
    within(store.load()).await.unwrap();
    let mut wanted = tasks([("a", task(TaskState::TaskRunning, Some("agent-1")))]);
    within(store.save_tasks(&mut wanted)).await.unwrap();

    // The store's connection breaks; its next calls must cope, whether its
    // client has noticed yet or not, and whatever became of the session.
    server.restart();
    wanted.insert("b".into(), task(TaskState::TaskStaging, None));
    within(store.save_tasks(&mut wanted)).await.unwrap();
    within(store.save_instances(2)).await.unwrap();

    let zk = raw_client(&server).await;
    assert!(exists(&zk, "/fw/state/tasks/b").await);
    assert_eq!(stat(&zk, "/fw/state/tasks/a").await.version, 0);
    let mut other = within(StateStore::connect(&url)).await.unwrap();
    let state = within(other.load()).await.unwrap();
    assert_eq!(state.tasks, wanted);
    assert_eq!(state.instances, Some(2));
}

#[tokio::test]
async fn while_zookeeper_is_down_calls_fail_fast_and_a_later_save_writes_what_was_missed() {
    let mut server = ZooKeeperServer::start();
    raw_client(&server).await;
    let url = url(&server, "/fw");
    let mut store = within(StateStore::connect(&url)).await.unwrap();
    within(store.load()).await.unwrap();
    let mut wanted = tasks([("a", task(TaskState::TaskRunning, Some("agent-1")))]);
    within(store.save_tasks(&mut wanted)).await.unwrap();

    server.stop();
    wanted.insert("b".into(), task(TaskState::TaskStaging, None));
    for _ in 0..2 {
        let started = Instant::now();
        let error = within(store.save_tasks(&mut wanted)).await.unwrap_err();
        assert!(
            matches!(
                error,
                StateError::Connect { .. } | StateError::ZooKeeper { .. }
            ),
            "{error:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "took {:?} to fail",
            started.elapsed()
        );
    }
    let started = Instant::now();
    assert!(within(store.load()).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(10));

    // Back up: the scheduler saves again at its next event, and what the
    // failed calls missed is written, because the store only remembers
    // writes that succeeded.
    server.restart();
    let zk = raw_client(&server).await;
    within(store.save_tasks(&mut wanted)).await.unwrap();
    assert_eq!(
        data(&zk, "/fw/state/tasks/b").await,
        br#"{"state":"TASK_STAGING","agent_id":null}"#
    );
    assert_eq!(stat(&zk, "/fw/state/tasks/a").await.version, 0);
    assert_eq!(within(store.load()).await.unwrap().tasks, wanted);
}

/// The sessions connected to the server now (ZooKeeper's `cons`).
fn connected_sessions(server: &ZooKeeperServer) -> Vec<String> {
    let connections = four_letter_word(server.port(), "cons").unwrap();
    connections
        .split("sid=")
        .skip(1)
        .filter_map(|rest| rest.split([',', ')']).next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_session_that_expired_during_an_outage_is_replaced() {
    let mut server = ZooKeeperServer::start();
    let witness = raw_client(&server).await;
    let others = connected_sessions(&server);
    let mut store = within(StateStore::connect(&url(&server, "/fw")))
        .await
        .unwrap();
    within(store.load()).await.unwrap();
    within(store.save_instances(1)).await.unwrap();
    let stores: Vec<_> = connected_sessions(&server)
        .into_iter()
        .filter(|s| !others.contains(s))
        .collect();
    let [old_session] = &stores[..] else {
        panic!("the store should have one session: {stores:?}")
    };

    // ZooKeeper goes away for longer than a session lasts. A client gives
    // its session up as expired 1.4 session timeouts after it last heard
    // from the server: wait for the witness's session to expire, and then
    // a ping interval more (a third of the timeout, half to be sure), as
    // the store's session may have heard from the server a little later.
    let timeout = witness.session_timeout();
    let mut states = witness.state_watcher();
    server.stop();
    tokio::time::timeout(timeout * 3, async {
        while states.changed().await != zk::SessionState::Expired {}
    })
    .await
    .expect("a session expires while ZooKeeper is away");
    tokio::time::sleep(timeout / 2).await;
    server.restart();
    let zk = raw_client(&server).await;

    within(store.save_instances(2)).await.unwrap();
    assert_eq!(data(&zk, "/fw/state/instances").await, b"2");
    let sessions = connected_sessions(&server);
    assert!(
        !sessions.contains(old_session),
        "the expired session {old_session} is not the one in use: {sessions:?}"
    );
    assert_eq!(
        sessions.len(),
        2,
        "the store's new session and this test's: {sessions:?}"
    );
}

#[tokio::test]
async fn clear_tasks_deletes_the_known_task_nodes_in_one_transaction() {
    let server = ZooKeeperServer::start();
    let zk = raw_client(&server).await;
    let url = url(&server, "/fw");
    let mut store = within(StateStore::connect(&url)).await.unwrap();
    within(store.load()).await.unwrap();
    within(store.save_framework_id(Some(&framework_id("fw-1"))))
        .await
        .unwrap();
    within(store.save_instances(3)).await.unwrap();
    within(store.save_tasks(&mut tasks([
        ("a", task(TaskState::TaskRunning, None)),
        ("b", task(TaskState::TaskRunning, None)),
        ("c", task(TaskState::TaskFailed, None)),
    ])))
    .await
    .unwrap();
    // A task recorded by someone else since: this store does not know it.
    within(zk.create(
        "/fw/state/tasks/z",
        br#"{"state":"TASK_RUNNING","agent_id":null}"#,
        &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
    ))
    .await
    .unwrap();

    within(store.clear_tasks()).await.unwrap();
    let (children, _) = within(zk.get_children("/fw/state/tasks")).await.unwrap();
    assert_eq!(children, vec!["z".to_string()]);
    let state = within(store.load()).await.unwrap();
    assert_eq!(state.framework_id, Some(framework_id("fw-1")));
    assert_eq!(state.instances, Some(3));
    assert_eq!(
        state.tasks.keys().collect::<Vec<_>>(),
        vec!["z"],
        "only known tasks are deleted"
    );

    // Now that it has been loaded, it is known, and goes too.
    within(store.clear_tasks()).await.unwrap();
    let (children, _) = within(zk.get_children("/fw/state/tasks")).await.unwrap();
    assert!(children.is_empty());
    // Clearing nothing writes nothing.
    within(store.clear_tasks()).await.unwrap();
}

#[tokio::test]
async fn values_that_cannot_be_stored_are_refused_before_writing() {
    let server = ZooKeeperServer::start();
    let zk = raw_client(&server).await;
    let mut store = within(StateStore::connect(&url(&server, "/fw")))
        .await
        .unwrap();
    within(store.load()).await.unwrap();
    for id in ["a/b", "..", "", "bad\u{1}id"] {
        let mut wanted = tasks([
            ("fine", task(TaskState::TaskRunning, None)),
            (id, task(TaskState::TaskRunning, None)),
        ]);
        match within(store.save_tasks(&mut wanted)).await {
            Err(StateError::InvalidValue { node, .. }) => {
                assert_eq!(node, format!("/fw/state/tasks/{id}"))
            }
            other => panic!("task ID {id:?}: expected InvalidValue, got {other:?}"),
        }
    }
    assert!(matches!(
        within(store.save_framework_id(Some(&framework_id("")))).await,
        Err(StateError::InvalidValue { .. })
    ));
    let (children, _) = within(zk.get_children("/fw/state/tasks")).await.unwrap();
    assert!(children.is_empty(), "nothing written: {children:?}");
    assert!(!exists(&zk, "/fw/state/framework_id").await);
}

#[tokio::test]
async fn bad_zk_urls_are_rejected_with_a_reason() {
    let good: ZkUrl = "zk://10.10.4.2:2181,10.10.4.3:2181/hello-mesos"
        .parse()
        .unwrap();
    assert_eq!(good.servers, "10.10.4.2:2181,10.10.4.3:2181");
    assert_eq!(good.path, "/hello-mesos");
    for input in [
        "zk://10.10.4.2:2181/hello-mesos",
        "zk://zk/a/b",
        "zk://[::1]:2181,zk2:2181/fw",
    ] {
        let url: ZkUrl = input.parse().unwrap();
        assert_eq!(url.to_string(), input);
    }
    assert_eq!("zk://zk:2181/a/b/".parse::<ZkUrl>().unwrap().path, "/a/b");

    for input in [
        "",
        "10.10.4.2:2181/fw",
        "http://10.10.4.2:2181/fw",
        "zk://10.10.4.2:2181",
        "zk://10.10.4.2:2181/",
        "zk:///fw",
        "zk://,zk:2181/fw",
        "zk://zk:port/fw",
        "zk://zk:0/fw",
        "zk://zk:70000/fw",
        "zk://[::1/fw",
        "zk://zk:2181/a//b",
        "zk://zk:2181/a/../b",
        "zk://zk:2181/zookeeper/fw",
        // Credentials are understood (zk://user:password@…), but not these:
        "zk://:secret@zk:2181/fw",
    ] {
        let error = input.parse::<ZkUrl>().unwrap_err();
        // The password is hidden in the error.
        assert_eq!(error.input, input.replace(":secret@", ":***@"));
        assert!(!error.reason.is_empty());
        assert!(error.to_string().contains("zk://"), "{error}");
        // Usable with `?` where a StateError is expected.
        let error: StateError = error.into();
        assert!(matches!(error, StateError::InvalidUrl(_)));
    }

    // A URL that parses, where no ZooKeeper listens: a clear error, fast.
    let url: ZkUrl = format!("zk://127.0.0.1:{}/fw", free_port().unwrap())
        .parse()
        .unwrap();
    let started = Instant::now();
    match within(StateStore::connect(&url)).await {
        Err(error @ StateError::Connect { .. }) => {
            // The cause the operating system gives, not the client's
            // "no available hosts".
            let message = error.to_string();
            assert!(message.contains(&url.servers), "{message}");
            assert!(message.contains("Connection refused"), "{message}");
        }
        other => panic!("expected a connection error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn store_futures_can_be_spawned() {
    fn assert_send<T: Send>(_: T) {}
    let _check = |store: &mut StateStore| {
        assert_send(store.load());
        assert_send(store.save_tasks(&mut TaskRecords::new()));
        assert_send(store.save_framework_id(None));
        assert_send(store.save_instances(1));
        assert_send(store.clear_tasks());
    };
    assert_send(StateStore::connect(&"zk://zk:2181/fw".parse().unwrap()));
}

/// One item for `save_items`.
fn item(collection: &str, name: &str, data: Option<&str>) -> ((String, String), Option<Vec<u8>>) {
    (
        (collection.to_string(), name.to_string()),
        data.map(|d| d.as_bytes().to_vec()),
    )
}

#[tokio::test]
async fn a_frameworks_own_collections_are_stored_compared_and_set_and_read_back() {
    let server = ZooKeeperServer::start();
    let zk = raw_client(&server).await;
    let url = url(&server, "/five-k");
    let mut store = within(StateStore::connect_with_collections(
        &url,
        &["apps", "deployments"],
    ))
    .await
    .unwrap();
    assert!(exists(&zk, "/five-k/state/apps").await);
    assert!(exists(&zk, "/five-k/state/deployments").await);
    within(store.load()).await.unwrap();

    let id = framework_id("5k-0001");
    let first = std::collections::BTreeMap::from([
        item("apps", "web", Some(r#"{"id":"/web"}"#)),
        item("deployments", "d-1", Some("{}")),
    ]);
    within(store.save_items(Some(&id), &first)).await.unwrap();
    assert_eq!(
        data(&zk, "/five-k/state/apps/web").await,
        br#"{"id":"/web"}"#
    );
    assert_eq!(data(&zk, "/five-k/state/framework_id").await, b"5k-0001");

    // A second store (a new leader) reads everything back.
    let mut other = within(StateStore::connect_with_collections(
        &url,
        &["apps", "deployments"],
    ))
    .await
    .unwrap();
    let loaded = within(other.load()).await.unwrap();
    assert_eq!(loaded.framework_id, Some(id.clone()));
    assert_eq!(loaded.collections["apps"]["web"], br#"{"id":"/web"}"#);
    assert_eq!(loaded.collections["deployments"].len(), 1);

    // Only named items change; an unchanged one is not rewritten.
    let version = stat(&zk, "/five-k/state/apps/web").await.version;
    let second = std::collections::BTreeMap::from([
        item("apps", "web", Some(r#"{"id":"/web"}"#)),
        item("deployments", "d-1", None),
    ]);
    within(other.save_items(Some(&id), &second)).await.unwrap();
    assert_eq!(stat(&zk, "/five-k/state/apps/web").await.version, version);
    assert!(!exists(&zk, "/five-k/state/deployments/d-1").await);

    // The first store's knowledge is stale now: its write conflicts and
    // writes nothing.
    let stale = std::collections::BTreeMap::from([
        item("apps", "db", Some("{}")),
        item("deployments", "d-1", Some(r#"{"changed":true}"#)),
    ]);
    assert_conflict(
        within(store.save_items(Some(&id), &stale)).await,
        "/five-k/state/deployments/d-1",
    );
    assert!(
        !exists(&zk, "/five-k/state/apps/db").await,
        "all or nothing"
    );

    // Names the store does not keep are refused before writing.
    let unknown = std::collections::BTreeMap::from([item("queue", "x", Some("{}"))]);
    assert!(matches!(
        within(other.save_items(Some(&id), &unknown)).await,
        Err(StateError::InvalidValue { .. })
    ));
    let bad = std::collections::BTreeMap::from([item("apps", "a/b", Some("{}"))]);
    assert!(matches!(
        within(other.save_items(Some(&id), &bad)).await,
        Err(StateError::InvalidValue { .. })
    ));
    assert!(matches!(
        within(StateStore::connect_with_collections(&url, &["tasks"])).await,
        Err(StateError::InvalidValue { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_watch_hears_every_change_of_the_instance_count() {
    let mut server = ZooKeeperServer::start();
    let operator = raw_client(&server).await;
    let url = url(&server, "/watched");
    let mut store = within(StateStore::connect(&url)).await.unwrap();
    within(store.save_instances(2)).await.unwrap();
    let mut watch = CountWatch::start(&url);
    let node = "/watched/state/instances";
    let not_yet = tokio::time::timeout(Duration::from_millis(500), watch.changed()).await;
    assert!(not_yet.is_err(), "nothing changed yet");
    // Until the watch is set, a change would go unseen: wait until the
    // operator's first change is heard (setting it again now and then).
    let mut count = 3;
    within(async {
        loop {
            operator
                .set_data(node, count.to_string().as_bytes(), None)
                .await
                .unwrap();
            let heard = tokio::time::timeout(Duration::from_millis(500), watch.changed());
            if heard.await.is_ok() {
                break;
            }
            count += 1;
        }
    })
    .await;
    // Set again after it fired: the next change is heard too, and one made
    // while nobody waits is not lost.
    operator.set_data(node, b"7", None).await.unwrap();
    within(watch.changed()).await;
    // A restart of ZooKeeper: the watch comes back on a new session, and a
    // change made while it was away is heard.
    tokio::task::block_in_place(|| server.stop());
    tokio::task::block_in_place(|| server.restart());
    let operator = raw_client(&server).await;
    operator.set_data(node, b"1", None).await.unwrap();
    within(watch.changed()).await;
}
