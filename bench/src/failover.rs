//! Failover: step 04 (`hello-mesos-04`) runs as two instances; the leader
//! is killed with SIGKILL (no last word to ZooKeeper or the master) and a
//! fresh standby started, `kills` times. Each time: from the kill to the
//! master taking the new leader's SUBSCRIBE. The standby learns of the
//! death only when ZooKeeper expires the dead leader's session: at most
//! one `tickTime` after the session timeout. The test kit's ZooKeeper
//! (tickTime 500 ms) and simulated master, in this process; the master's
//! call log is polled every 5 ms.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use mesos::{
    leader::current_leader,
    local::{CallRecord, LocalMasterConfig},
    testing::{Cluster, Framework, TICK_TIME},
    v1::scheduler::call::Type as CallType,
};
use serde_json::{Value, json};

fn subscriptions(calls: &[CallRecord]) -> BTreeSet<String> {
    calls
        .iter()
        .filter(|c| c.kind == CallType::Subscribe && c.accepted)
        .filter_map(|c| c.stream_id.clone())
        .collect()
}

pub async fn run(kills: usize, session_seconds: u64) -> Result<Value> {
    let binary = crate::procs::binary("hello-mesos-04")?;
    let config = LocalMasterConfig {
        virtual_tasks: true,
        ..mesos::testing::config()
    };
    let cluster = Cluster::start_with(binary, config).await;
    let session = session_seconds.to_string();
    let args = [
        "--zk-session-timeout",
        session.as_str(),
        "--instances",
        "2",
        "--cpus",
        "0.1",
        "--mem",
        "32",
    ];
    let mut running: Vec<Framework> = (0..2).map(|_| cluster.framework(&args)).collect();
    let zk = cluster.zookeeper_client().await;
    let mut times = Vec::new();
    for _ in 0..kills {
        // The leader, by the election's nodes (participant id `host:pid`),
        // once it subscribed.
        let deadline = Instant::now() + Duration::from_secs(60);
        let leader = loop {
            let subscribed = !subscriptions(&cluster.master.calls()).is_empty();
            let found = current_leader(&zk, &cluster.root)
                .await
                .ok()
                .flatten()
                .and_then(|l| {
                    l.id.rsplit_once(':')
                        .and_then(|(_, p)| p.parse::<u32>().ok())
                })
                .and_then(|pid| running.iter().position(|f| f.pid() == pid));
            if let (true, Some(position)) = (subscribed, found) {
                break position;
            }
            anyhow::ensure!(Instant::now() < deadline, "no leader within a minute");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let before = subscriptions(&cluster.master.calls());
        let mut dead = running.remove(leader);
        let killed = Instant::now();
        dead.kill();
        running.push(cluster.framework(&args));
        let deadline = killed + Duration::from_secs(60);
        loop {
            let now = subscriptions(&cluster.master.calls());
            if now.difference(&before).next().is_some() {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "no new leader within a minute");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        times.push(killed.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    Ok(json!({
        "kills": kills,
        "session_timeout_s": session_seconds,
        "tick_time_s": TICK_TIME.as_secs_f64(),
        "bound_s": session_seconds as f64 + TICK_TIME.as_secs_f64() + 1.0,
        "min_s": times.first().context("no kill")?,
        "median_s": median,
        "max_s": times.last().context("no kill")?,
        "all_s": times,
    }))
}
