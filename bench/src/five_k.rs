//! 5K (`five-k`, the Marathon clone) deploying apps through its REST API,
//! on the simulated master with virtual tasks (`mesos-local`), as a client
//! drives it: POSTs to `/v2/apps`, then waits until the master has sent
//! every task's TASK_RUNNING. Each case once in memory (no flags) and once
//! with `--zk` (state in a real ZooKeeper, written before every answer and
//! every launch).
//!
//! * **deploy**: from the first POST to all RUNNING, wall time, 5K's CPU
//!   (user + system, `/proc`), the master's CPU (to see that it is not the
//!   bottleneck) and 5K's resident memory after, per 1,000 tasks.
//! * **reads**: `GET /v2/apps` and `GET /v2/tasks`, in turn on one
//!   connection after another, while 1,000 apps deploy: p50 and p99.
//! * **failover**: two 5K with `--zk`; while an app deploys, the leader is
//!   killed with SIGKILL. From the kill to the other instance answering
//!   `/v2/deployments` with the open deployment, and to the master seeing
//!   a new launch.
//!
//! Agents hold ten tasks each (`offer_cycle::AGENT_RESOURCES`); apps ask
//! 0.01 cpus and 10 MB, and one port, Marathon's default.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use mesos::testing::ZooKeeperServer;
use serde_json::{Value, json};

use crate::{
    offer_cycle::AGENT_RESOURCES,
    procs::{self, Process},
};

/// How big each case is.
pub struct Sizes {
    /// Instances of the one big app.
    pub one_app: usize,
    /// How many small apps, of `per_app` instances each.
    pub apps: usize,
    pub per_app: usize,
    /// Instances of the app deploying when the leader is killed.
    pub failover_instances: usize,
    pub kills: usize,
}

impl Sizes {
    pub fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                one_app: 500,
                apps: 50,
                per_app: 10,
                failover_instances: 1_000,
                kills: 1,
            }
        } else {
            Sizes {
                one_app: 10_000,
                apps: 1_000,
                per_app: 10,
                failover_instances: 5_000,
                kills: 3,
            }
        }
    }
}

/// One deployment: `apps` apps of `instances` each.
#[derive(Debug, Clone, Copy)]
struct Case {
    apps: usize,
    instances: usize,
    agents: usize,
    zk: bool,
    /// Whether GETs run while it deploys.
    reads: bool,
}

pub fn run(sizes: &Sizes) -> Result<Value> {
    let mut deploys = Vec::new();
    let cases = |apps: usize, instances: usize| {
        let agents = (apps * instances).div_ceil(10);
        [false, true].map(|zk| Case {
            apps,
            instances,
            agents,
            zk,
            reads: false,
        })
    };
    // Marathon's anchor first: one app of 500 on 189 agents.
    let anchor = [false, true].map(|zk| Case {
        apps: 1,
        instances: 500,
        agents: 189,
        zk,
        reads: false,
    });
    let mut all: Vec<Case> = anchor.to_vec();
    all.extend(cases(1, sizes.one_app));
    all.extend(cases(sizes.apps, sizes.per_app));
    // The reads, with the state in ZooKeeper as in production.
    all.push(Case {
        reads: true,
        ..cases(sizes.apps, sizes.per_app)[1]
    });
    for case in all {
        let result = deploy(case)?;
        print_deploy(&result);
        deploys.push(result);
    }
    let failover = failover(sizes.failover_instances, sizes.kills)?;
    Ok(json!({"deploy": deploys, "failover": failover}))
}

fn print_deploy(d: &Value) {
    let f = |key: &str| d[key].as_f64().unwrap_or(0.0);
    println!(
        "five-k       {:>5} app(s) × {:>5} on {:>5} agents, {:<9}: all RUNNING {:>6.2} s after the \
         first POST (POSTs {:.2} s); 5K {:>6.2} s CPU; master {:>6.2} s CPU; RSS {:.1} MB \
         ({:.1} MB idle, {:.2} MB per 1,000 tasks)",
        d["apps"],
        d["instances"],
        d["agents"],
        if d["zk"] == true {
            "with --zk"
        } else {
            "in memory"
        },
        f("wall_s"),
        f("posts_s"),
        f("five_k_cpu_s"),
        f("master_cpu_s"),
        f("rss_mb"),
        f("idle_rss_mb"),
        f("rss_mb_per_1000_tasks"),
    );
    if let Some(reads) = d.get("reads") {
        for path in ["/v2/apps", "/v2/tasks"] {
            let r = &reads[path];
            println!(
                "five-k       GET {path:<9} while {} apps deploy: p50 {:.1} ms, p99 {:.1} ms, max \
                 {:.1} ms ({} requests, last answer {} bytes)",
                d["apps"],
                r["p50_ms"].as_f64().unwrap_or(0.0),
                r["p99_ms"].as_f64().unwrap_or(0.0),
                r["max_ms"].as_f64().unwrap_or(0.0),
                r["requests"],
                r["last_bytes"],
            );
        }
    }
}

/// A running 5K and the port of its API.
pub(crate) struct FiveK {
    process: Process,
    pub(crate) port: u16,
}

impl FiveK {
    fn start(master_port: u16, zk: Option<&str>) -> Result<FiveK> {
        let zk = zk.map(|zk| vec!["--zk".to_string(), zk.to_string()]);
        FiveK::start_with(master_port, &zk.unwrap_or_default(), None)
    }

    /// 5K with more flags, logging to `log` if given (else nowhere).
    pub(crate) fn start_with(
        master_port: u16,
        flags: &[String],
        log: Option<std::fs::File>,
    ) -> Result<FiveK> {
        let port = procs::free_port()?;
        let mut command = Command::new(procs::binary("five-k")?);
        command
            .args(["--master", &format!("127.0.0.1:{master_port}")])
            .args(["--http-address", &format!("127.0.0.1:{port}")])
            .args(flags)
            // As a user runs it: logging at info.
            .env_remove("RUST_LOG")
            .stdout(log.map_or_else(Stdio::null, Stdio::from))
            .stderr(Stdio::null());
        let process = Process::spawn("five-k", &mut command)?;
        procs::poll_until(Duration::from_secs(20), Duration::from_millis(20), || {
            Ok(request(port, "GET", "/ping", None)?.0 == 200)
        })
        .context("5K did not answer /ping")?;
        Ok(FiveK { process, port })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// Waits until the master has a framework subscribed (5K, leading).
pub(crate) fn subscribed(master_port: u16) -> Result<()> {
    procs::poll_until(Duration::from_secs(30), Duration::from_millis(20), || {
        let state: Value = serde_json::from_str(&procs::http_get(master_port, "/master/state")?)?;
        Ok(state["frameworks"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["active"] == true)))
    })
    .context("5K did not subscribe to the master")
}

/// One request on a connection of its own: the status and the body.
pub(crate) fn request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").context("no HTTP body")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    Ok((status, body.to_string()))
}

/// POSTs an app of `instances` to 5K; the seconds the answer took.
fn create_app(port: u16, id: &str, instances: usize) -> Result<f64> {
    let app = json!({
        "id": id,
        "cmd": "sleep 3600",
        "cpus": 0.01,
        "mem": 10,
        "instances": instances,
    });
    let started = Instant::now();
    let (status, body) = request(port, "POST", "/v2/apps", Some(&app))?;
    if status != 201 {
        bail!("POST /v2/apps answered {status}: {body}");
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The master's tasks of every framework: how many, and how many it has
/// sent TASK_RUNNING for.
fn master_tasks(port: u16) -> Result<(usize, usize)> {
    let state: Value = serde_json::from_str(&procs::http_get(port, "/master/state")?)?;
    let tasks: Vec<&Value> = state["frameworks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["tasks"].as_array().into_iter().flatten())
        .collect();
    let running = tasks
        .iter()
        .filter(|t| {
            t["statuses"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["state"] == "TASK_RUNNING"))
        })
        .count();
    Ok((tasks.len(), running))
}

fn deploy(case: Case) -> Result<Value> {
    let total = case.apps * case.instances;
    let zookeeper = if case.zk {
        Some(ZooKeeperServer::try_start().map_err(anyhow::Error::msg)?)
    } else {
        None
    };
    let zk = zookeeper
        .as_ref()
        .map(|z| format!("zk://{}/five-k", z.connect_string()));
    let (master, master_port) = procs::start_master(case.agents, AGENT_RESOURCES, true)?;
    let five_k = FiveK::start(master_port, zk.as_deref())?;
    subscribed(master_port)?;
    let idle_rss_mb = procs::memory_mb(five_k.pid(), "VmRSS")?;
    let cpu_before = procs::cpu_seconds(five_k.pid())?;
    let master_cpu_before = master.cpu()?;

    let stop = Arc::new(AtomicBool::new(false));
    let readers = case.reads.then(|| {
        let (port, stop) = (five_k.port, stop.clone());
        std::thread::spawn(move || reads(port, &stop))
    });
    let started = Instant::now();
    let mut post_s = Vec::with_capacity(case.apps);
    for n in 0..case.apps {
        let id = if case.apps == 1 {
            "/bench".to_string()
        } else {
            format!("/bench/app-{n:04}")
        };
        post_s.push(create_app(five_k.port, &id, case.instances)?);
    }
    let posts_s = started.elapsed().as_secs_f64();
    let timeout = Duration::from_secs(60 + total as u64 / 50);
    // The master's state of 10,000 tasks is megabytes of JSON: asked for
    // at most four times a second, as the offer cycle does.
    let every = Duration::from_millis((total as u64 / 40).clamp(50, 250));
    procs::poll_until(timeout, every, || Ok(master_tasks(master_port)?.1 >= total))
        .with_context(|| format!("{total} tasks not RUNNING within {timeout:?}"))?;
    let wall_s = started.elapsed().as_secs_f64();
    let five_k_cpu_s = procs::cpu_seconds(five_k.pid())? - cpu_before;
    let master_cpu_s = master.cpu()? - master_cpu_before;
    stop.store(true, Ordering::Relaxed);
    let reads = readers
        .map(|r| r.join().expect("the reading thread does not panic"))
        .transpose()?;
    // 5K's own count must agree (it hears RUNNING just after the master
    // sent it).
    procs::poll_until(Duration::from_secs(30), Duration::from_millis(100), || {
        Ok(tasks_running(five_k.port)? == total)
    })
    .context("5K does not count every task RUNNING")?;
    let rss_mb = procs::memory_mb(five_k.pid(), "VmRSS")?;
    let peak_rss_mb = procs::memory_mb(five_k.pid(), "VmHWM")?;
    post_s.sort_by(f64::total_cmp);
    let mut result = json!({
        "apps": case.apps,
        "instances": case.instances,
        "tasks": total,
        "agents": case.agents,
        "zk": case.zk,
        "wall_s": wall_s,
        "posts_s": posts_s,
        "post_p50_ms": percentile(&post_s, 0.5) * 1000.0,
        "post_p99_ms": percentile(&post_s, 0.99) * 1000.0,
        "five_k_cpu_s": five_k_cpu_s,
        "five_k_cpu_ms_per_task": five_k_cpu_s * 1000.0 / total as f64,
        "master_cpu_s": master_cpu_s,
        "idle_rss_mb": idle_rss_mb,
        "rss_mb": rss_mb,
        "peak_rss_mb": peak_rss_mb,
        "rss_mb_per_1000_tasks": (rss_mb - idle_rss_mb) * 1000.0 / total as f64,
    });
    if let Some(reads) = reads {
        result["reads"] = reads;
    }
    Ok(result)
}

/// The sum of `tasksRunning` over 5K's apps.
fn tasks_running(port: u16) -> Result<usize> {
    let (_, body) = request(port, "GET", "/v2/apps", None)?;
    let apps: Value = serde_json::from_str(&body)?;
    Ok(apps["apps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| a["tasksRunning"].as_u64().unwrap_or(0) as usize)
        .sum())
}

/// `GET /v2/apps` and `GET /v2/tasks` in turn until `stop`: latencies.
fn reads(port: u16, stop: &AtomicBool) -> Result<Value> {
    let paths = ["/v2/apps", "/v2/tasks"];
    let mut times: [Vec<f64>; 2] = Default::default();
    let mut last_bytes = [0; 2];
    while !stop.load(Ordering::Relaxed) {
        for (i, path) in paths.iter().enumerate() {
            let started = Instant::now();
            let (status, body) = request(port, "GET", path, None)?;
            if status != 200 {
                bail!("GET {path} answered {status}: {body}");
            }
            times[i].push(started.elapsed().as_secs_f64() * 1000.0);
            last_bytes[i] = body.len();
        }
    }
    let mut result = json!({});
    for (i, path) in paths.iter().enumerate() {
        let t = &mut times[i];
        t.sort_by(f64::total_cmp);
        result[*path] = json!({
            "requests": t.len(),
            "p50_ms": percentile(t, 0.5),
            "p99_ms": percentile(t, 0.99),
            "max_ms": t.last().copied().unwrap_or(0.0),
            "last_bytes": last_bytes[i],
        });
    }
    Ok(result)
}

/// The value below which `q` of the sorted `values` fall.
pub(crate) fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let at = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len());
    values[at - 1]
}

/// The port of the instance that leads, by its own `/v2/leader`.
fn leader_port(port: u16) -> Result<u16> {
    let (status, body) = request(port, "GET", "/v2/leader", None)?;
    if status != 200 {
        bail!("no leader yet");
    }
    let leader: Value = serde_json::from_str(&body)?;
    leader["leader"]
        .as_str()
        .and_then(|l| l.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .context("a leader as host:port")
}

/// `kills` times, on a cluster of its own each time (so that the master's
/// state is small and the kill comes early in the deployment): two 5K
/// with `--zk`, an app of `instances` deploying, the leader killed with
/// SIGKILL once the master has the first of its tasks.
fn failover(instances: usize, kills: usize) -> Result<Value> {
    let mut runs = Vec::new();
    for _ in 0..kills {
        let run = failover_once(instances)?;
        println!(
            "five-k       failover: kill -9 of the leader with {}/{instances} tasks launched \
             ({} running): the new leader shows the open deployment after {:.2} s, launches \
             again after {:.2} s, all RUNNING after {:.2} s",
            run["launched_at_kill"],
            run["running_at_kill"],
            run["deployments_s"].as_f64().unwrap_or(0.0),
            run["launching_s"].as_f64().unwrap_or(0.0),
            run["finished_s"].as_f64().unwrap_or(0.0),
        );
        runs.push(run);
    }
    Ok(json!({
        "session_timeout_s": mesos::leader::DEFAULT_SESSION_TIMEOUT.as_secs_f64(),
        "tick_time_s": mesos::testing::TICK_TIME.as_secs_f64(),
        "runs": runs,
    }))
}

fn failover_once(instances: usize) -> Result<Value> {
    let zookeeper = ZooKeeperServer::try_start().map_err(anyhow::Error::msg)?;
    let zk = format!("zk://{}/five-k", zookeeper.connect_string());
    let (_master, master_port) =
        procs::start_master(instances.div_ceil(10), AGENT_RESOURCES, true)?;
    let mut running = vec![
        FiveK::start(master_port, Some(&zk))?,
        FiveK::start(master_port, Some(&zk))?,
    ];
    subscribed(master_port)?;
    let mut leader = 0;
    procs::poll_until(Duration::from_secs(30), Duration::from_millis(20), || {
        let port = leader_port(running[0].port)?;
        leader = running
            .iter()
            .position(|f| f.port == port)
            .context("a leader we started")?;
        Ok(true)
    })?;
    let id = "/failover";
    create_app(running[leader].port, id, instances)?;
    procs::poll_until(Duration::from_secs(30), Duration::from_millis(5), || {
        Ok(master_tasks(master_port)?.0 > 0)
    })?;
    let killed = Instant::now();
    drop(running.remove(leader));
    let (launched_at_kill, running_at_kill) = master_tasks(master_port)?;
    // A new standby, as a supervisor would start.
    running.push(FiveK::start(master_port, Some(&zk))?);
    let survivor = running[0].port;
    let timeout = Duration::from_secs(60);
    procs::poll_until(timeout, Duration::from_millis(10), || {
        let (status, body) = request(survivor, "GET", "/v2/deployments", None)?;
        Ok(status == 200 && body.contains(&format!("\"{id}\"")))
    })
    .context("the new leader does not show the open deployment")?;
    let deployments_s = killed.elapsed().as_secs_f64();
    // Every task launched already: nothing to launch again.
    let launching_s = if launched_at_kill < instances {
        procs::poll_until(timeout, Duration::from_millis(10), || {
            Ok(master_tasks(master_port)?.0 > launched_at_kill)
        })
        .context("the new leader does not launch")?;
        Some(killed.elapsed().as_secs_f64())
    } else {
        None
    };
    procs::poll_until(timeout, Duration::from_millis(50), || {
        Ok(master_tasks(master_port)?.1 >= instances)
    })
    .context("the deployment does not finish after failover")?;
    let finished_s = killed.elapsed().as_secs_f64();
    let (tasks, _) = master_tasks(master_port)?;
    // Tasks launched by the dead leader that never reached the master
    // are replaced, not doubled: the master has exactly the app's.
    if tasks != instances {
        bail!("{tasks} tasks at the master after failover, {instances} wanted");
    }
    Ok(json!({
        "instances": instances,
        "launched_at_kill": launched_at_kill,
        "running_at_kill": running_at_kill,
        "deployments_s": deployments_s,
        "launching_s": launching_s,
        "finished_s": finished_s,
    }))
}
