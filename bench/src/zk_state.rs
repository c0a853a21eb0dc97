//! The framework's state in ZooKeeper (`mesos::state`): task records
//! written one save per task against saves of many tasks in one multi-op,
//! the bytes of one task record, and reading `tasks` records back (the
//! state part of a scheduler's recovery). A real ZooKeeper server, the
//! test kit's, on a free loopback port (`tickTime` 500 ms).

use std::time::Instant;

use anyhow::Result;
use mesos::{
    state::{StateStore, TaskRecord, TaskRecords},
    testing::ZooKeeperServer,
    v1::TaskState,
    zookeeper::ZkUrl,
};
use serde_json::{Value, json};

fn record(i: usize) -> (String, TaskRecord) {
    (
        format!("hello-mesos-{i:08x}-4b7a-9c1e-0a2b3c4d5e6f"),
        TaskRecord {
            state: TaskState::TaskRunning,
            agent_id: Some(format!("2b3c6a8e-5d1f-4b7a-9c1e-0a2b3c4d5e6f-S{}", i / 10)),
        },
    )
}

/// Task records written per second, saving after each `batch` new tasks.
async fn writes_per_s(
    server: &ZooKeeperServer,
    root: &str,
    tasks: usize,
    batch: usize,
) -> Result<f64> {
    let url: ZkUrl = format!("zk://{}{root}", server.connect_string()).parse()?;
    let mut store = StateStore::connect(&url).await?;
    let mut records = TaskRecords::new();
    let started = Instant::now();
    for i in 0..tasks {
        let (id, record) = record(i);
        records.insert(id, record);
        if records.len() % batch == 0 || i + 1 == tasks {
            store.save_tasks(&mut records).await?;
        }
    }
    Ok(tasks as f64 / started.elapsed().as_secs_f64())
}

/// Seconds to connect and read back `tasks` stored records.
async fn load_seconds(server: &ZooKeeperServer, root: &str, tasks: usize) -> Result<f64> {
    let url: ZkUrl = format!("zk://{}{root}", server.connect_string()).parse()?;
    let started = Instant::now();
    let mut store = StateStore::connect(&url).await?;
    let state = store.load().await?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        state.tasks.len() == tasks,
        "read {} of {tasks}",
        state.tasks.len()
    );
    Ok(seconds)
}

pub async fn run(one_by_one: usize, recovery: &[usize]) -> Result<Value> {
    let server = ZooKeeperServer::try_start().map_err(anyhow::Error::msg)?;
    let single = writes_per_s(&server, "/bench-single", one_by_one, 1).await?;
    // Batches of 1,000: a multi-op must fit ZooKeeper's 1 MB request limit.
    let batched =
        writes_per_s(&server, "/bench-batched", one_by_one, 1_000.min(one_by_one)).await?;
    let mut recoveries = Vec::new();
    for &tasks in recovery {
        let root = format!("/bench-recovery-{tasks}");
        writes_per_s(&server, &root, tasks, 1_000).await?;
        recoveries
            .push(json!({"tasks": tasks, "load_s": load_seconds(&server, &root, tasks).await?}));
    }
    let (id, record) = record(0);
    // The node's data, as `mesos::state` documents it, and its name.
    let data = format!(
        r#"{{"state":"{}","agent_id":"{}"}}"#,
        record.state.as_str_name(),
        record.agent_id.unwrap_or_default()
    );
    Ok(json!({
        "tick_time_ms": mesos::testing::TICK_TIME.as_millis(),
        "tasks_written": one_by_one,
        "one_save_per_task_per_s": single,
        "batches_of_1000_per_s": batched,
        "record_data_bytes": data.len(),
        "record_name_bytes": id.len(),
        "recovery": recoveries,
    }))
}
