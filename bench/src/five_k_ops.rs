//! 5K in operation (issue 21): what happens between a deployment's start
//! and its end, on the simulated master with virtual tasks, driven over
//! the REST API as in `five_k.rs`.
//!
//! * **rolling restart**: an app of 1,000 instances with an HTTP health
//!   check is restarted (`POST /v2/apps/{id}/restart`); from the POST to
//!   the deployment's end, and the fewest healthy tasks (`tasksHealthy`)
//!   and the most tasks seen while it ran, against what its
//!   `upgradeStrategy` allows.
//! * **health-check CPU**: 5K's CPU over a window with N tasks checked,
//!   minus the same window with the same tasks unchecked, per 1,000
//!   checks (counted by the server that answers them).
//! * **HAProxy**: 100 apps with a service port created at once, then all
//!   restarted at once, 5K driving a real HAProxy (Debian's) in
//!   master-worker mode: how many reloads, how long each took (5K's log
//!   line), and when HAProxy's worker serves exactly the tasks wanted.
//!
//! Virtual tasks serve nothing, so every health check names a fixed
//! `port`: one tiny HTTP server of the benchmark's own, on 127.0.0.1,
//! where every virtual task "is". It counts the checks it answers.

use std::{
    collections::HashSet,
    io::{BufRead, BufReader, Read, Write},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::{
    five_k::{FiveK, percentile, request, subscribed},
    offer_cycle::AGENT_RESOURCES,
    procs,
};

/// How big each case is.
pub struct Sizes {
    /// Instances of the app restarted.
    pub restart_instances: usize,
    /// Tasks checked for the CPU figure, and for how long.
    pub checked_tasks: usize,
    pub cpu_window: Duration,
    /// Apps behind HAProxy, of `haproxy_instances` each.
    pub haproxy_apps: usize,
    pub haproxy_instances: usize,
}

impl Sizes {
    pub fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                restart_instances: 200,
                checked_tasks: 200,
                cpu_window: Duration::from_secs(10),
                haproxy_apps: 20,
                haproxy_instances: 2,
            }
        } else {
            Sizes {
                restart_instances: 1_000,
                checked_tasks: 1_000,
                cpu_window: Duration::from_secs(20),
                haproxy_apps: 100,
                haproxy_instances: 2,
            }
        }
    }
}

pub fn run(sizes: &Sizes) -> Result<Value> {
    let server = CheckServer::start()?;
    let mut restarts = Vec::new();
    // The strategy the issue names, then Marathon's default.
    for (min_health, max_over) in [(0.9, 0.1), (1.0, 1.0)] {
        let result = rolling_restart(&server, sizes.restart_instances, min_health, max_over)?;
        println!(
            "five-k ops   rolling restart of {} with health checks, upgradeStrategy {}/{}: done \
             {:.2} s after the POST; fewest healthy {} (at least {} allowed), most tasks {} (at \
             most {} allowed); 5K {:.2} s CPU",
            result["instances"],
            min_health,
            max_over,
            result["done_s"].as_f64().unwrap_or(0.0),
            result["fewest_healthy"],
            result["min_healthy_allowed"],
            result["most_tasks"],
            result["max_tasks_allowed"],
            result["five_k_cpu_s"].as_f64().unwrap_or(0.0),
        );
        restarts.push(result);
    }
    let cpu = check_cpu(&server, sizes.checked_tasks, sizes.cpu_window)?;
    println!(
        "five-k ops   health checks of {} tasks every 2 s over {:.0} s: {} checks answered, 5K \
         {:.2} s CPU against {:.2} s unchecked: {:.1} ms of CPU per 1,000 checks",
        cpu["tasks"],
        cpu["window_s"].as_f64().unwrap_or(0.0),
        cpu["checks"],
        cpu["checked_cpu_s"].as_f64().unwrap_or(0.0),
        cpu["unchecked_cpu_s"].as_f64().unwrap_or(0.0),
        cpu["ms_per_1000_checks"].as_f64().unwrap_or(0.0),
    );
    let haproxy = if Path::new(HAPROXY).exists() {
        let result = haproxy(sizes.haproxy_apps, sizes.haproxy_instances)?;
        for (phase, done) in [("create", "created"), ("restart", "restarted")] {
            let p = &result[phase];
            println!(
                "five-k ops   HAProxy, {} apps × {} {done} at once: HAProxy serves all {} tasks \
                 after {:.2} s (POSTs {:.2} s); {} reloads, each {} ms",
                result["apps"],
                result["instances"],
                result["tasks"],
                p["served_s"].as_f64().unwrap_or(0.0),
                p["posts_s"].as_f64().unwrap_or(0.0),
                p["reloads"].as_array().map_or(0, Vec::len),
                p["reload_ms"],
            );
        }
        result
    } else {
        println!("five-k ops   HAProxy: {HAPROXY} is missing (bin/test installs it), skipped");
        Value::Null
    };
    Ok(json!({"rolling_restart": restarts, "health_check_cpu": cpu, "haproxy": haproxy}))
}

/// An HTTP health check against the benchmark's server.
fn health_check(port: u16) -> Value {
    json!([{
        "protocol": "HTTP",
        "path": "/",
        "port": port,
        // Marathon's shortest interval with a timeout under it.
        "intervalSeconds": 2,
        "timeoutSeconds": 1,
        "delaySeconds": 0,
        "gracePeriodSeconds": 10,
        "maxConsecutiveFailures": 3,
    }])
}

/// POSTs an app; fails unless created.
fn create(port: u16, app: &Value) -> Result<()> {
    let (status, body) = request(port, "POST", "/v2/apps", Some(app))?;
    if status != 201 {
        bail!("POST /v2/apps answered {status}: {body}");
    }
    Ok(())
}

/// The app's counts as `GET /v2/apps?id=` shows them (no tasks, cheap):
/// (staged + running, healthy, deployments open).
fn counts(port: u16, id: &str) -> Result<(u64, u64, usize)> {
    let (status, body) = request(port, "GET", &format!("/v2/apps?id={id}"), None)?;
    if status != 200 {
        bail!("GET /v2/apps answered {status}: {body}");
    }
    let apps: Value = serde_json::from_str(&body)?;
    let app = &apps["apps"][0];
    let n = |key: &str| app[key].as_u64().unwrap_or(0);
    let deployments = app["deployments"].as_array().map_or(0, Vec::len);
    Ok((
        n("tasksStaged") + n("tasksRunning"),
        n("tasksHealthy"),
        deployments,
    ))
}

/// Waits until every instance of the app is healthy and no deployment
/// is open.
fn all_healthy(port: u16, id: &str, instances: usize, timeout: Duration) -> Result<()> {
    procs::poll_until(timeout, Duration::from_millis(100), || {
        let (tasks, healthy, deployments) = counts(port, id)?;
        Ok(deployments == 0 && healthy == instances as u64 && tasks == instances as u64)
    })
    .with_context(|| format!("{id}: {instances} healthy instances not reached"))
}

fn rolling_restart(
    server: &CheckServer,
    instances: usize,
    min_health: f64,
    max_over: f64,
) -> Result<Value> {
    // Room for twice the app (the default strategy's bound).
    let (_master, master_port) = procs::start_master(instances.div_ceil(5), AGENT_RESOURCES, true)?;
    let five_k = FiveK::start_with(master_port, &[], None)?;
    subscribed(master_port)?;
    let id = "/rolling";
    create(
        five_k.port,
        &json!({
            "id": id,
            "cmd": "sleep 3600",
            "cpus": 0.01,
            "mem": 10,
            "instances": instances,
            "healthChecks": health_check(server.port),
            "upgradeStrategy": {
                "minimumHealthCapacity": min_health,
                "maximumOverCapacity": max_over,
            },
        }),
    )?;
    all_healthy(five_k.port, id, instances, Duration::from_secs(120))?;

    let cpu_before = procs::cpu_seconds(five_k.pid())?;
    let started = Instant::now();
    let (status, body) = request(five_k.port, "POST", &format!("/v2/apps{id}/restart"), None)?;
    if status != 200 {
        bail!("POST restart answered {status}: {body}");
    }
    let (mut fewest_healthy, mut most_tasks, mut polls) = (u64::MAX, 0, 0);
    let mut poll_ms = Vec::new();
    // (seconds, tasks, healthy) at each change: the rounds of the restart.
    let mut timeline: Vec<(f64, u64, u64)> = Vec::new();
    // The deployment exists once the POST is answered: it ends when the
    // app has none open.
    let timeout = Duration::from_secs(300);
    loop {
        let asked = Instant::now();
        let (tasks, healthy, deployments) = counts(five_k.port, id)?;
        poll_ms.push(asked.elapsed().as_secs_f64() * 1000.0);
        polls += 1;
        fewest_healthy = fewest_healthy.min(healthy);
        most_tasks = most_tasks.max(tasks);
        if timeline
            .last()
            .is_none_or(|&(_, t, h)| (t, h) != (tasks, healthy))
        {
            timeline.push((started.elapsed().as_secs_f64(), tasks, healthy));
        }
        if deployments == 0 {
            break;
        }
        if started.elapsed() > timeout {
            bail!("the restart of {instances} did not end within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let done_s = started.elapsed().as_secs_f64();
    let five_k_cpu_s = procs::cpu_seconds(five_k.pid())? - cpu_before;
    poll_ms.sort_by(f64::total_cmp);
    // TaskReplaceActor.scala's bounds, as 5K computes them.
    let min_healthy_allowed = (instances as f64 * min_health).ceil() as u64;
    let mut max_tasks_allowed = (instances as f64 * (1.0 + max_over)).floor() as u64;
    if max_tasks_allowed == min_healthy_allowed {
        max_tasks_allowed += 1;
    }
    Ok(json!({
        "instances": instances,
        "minimum_health_capacity": min_health,
        "maximum_over_capacity": max_over,
        "done_s": done_s,
        "fewest_healthy": fewest_healthy,
        "min_healthy_allowed": min_healthy_allowed,
        "most_tasks": most_tasks,
        "max_tasks_allowed": max_tasks_allowed,
        "five_k_cpu_s": five_k_cpu_s,
        "polls": polls,
        "poll_p50_ms": percentile(&poll_ms, 0.5),
        "timeline": timeline
            .iter()
            .map(|&(at, tasks, healthy)| json!([(at * 1000.0).round() / 1000.0, tasks, healthy]))
            .collect::<Vec<_>>(),
    }))
}

/// 5K's CPU over `window` with `tasks` checked, and without checks.
fn check_cpu(server: &CheckServer, tasks: usize, window: Duration) -> Result<Value> {
    let mut cpu = [0.0; 2];
    let mut checks = 0;
    for (i, checked) in [true, false].into_iter().enumerate() {
        let (_master, master_port) =
            procs::start_master(tasks.div_ceil(10), AGENT_RESOURCES, true)?;
        let five_k = FiveK::start_with(master_port, &[], None)?;
        subscribed(master_port)?;
        let id = "/checked";
        let mut app = json!({
            "id": id,
            "cmd": "sleep 3600",
            "cpus": 0.01,
            "mem": 10,
            "instances": tasks,
        });
        if checked {
            app["healthChecks"] = health_check(server.port);
        }
        create(five_k.port, &app)?;
        if checked {
            all_healthy(five_k.port, id, tasks, Duration::from_secs(120))?;
        } else {
            procs::poll_until(Duration::from_secs(120), Duration::from_millis(100), || {
                let (running, _, deployments) = counts(five_k.port, id)?;
                Ok(deployments == 0 && running == tasks as u64)
            })?;
        }
        // The deployment's own work settles first.
        std::thread::sleep(Duration::from_secs(2));
        let served = server.served();
        // To the nanosecond: the unchecked app's window is a few ms.
        let before = procs::cpu_seconds_precise(five_k.pid())?;
        std::thread::sleep(window);
        cpu[i] = procs::cpu_seconds_precise(five_k.pid())? - before;
        if checked {
            checks = server.served() - served;
        }
    }
    let extra_s = cpu[0] - cpu[1];
    Ok(json!({
        "tasks": tasks,
        "window_s": window.as_secs_f64(),
        "checks": checks,
        "checked_cpu_s": cpu[0],
        "unchecked_cpu_s": cpu[1],
        "ms_per_1000_checks": extra_s * 1000.0 / (checks.max(1) as f64 / 1000.0),
    }))
}

/// The tiny HTTP server every health check asks: `200 OK` to anything,
/// counting the answers. Its own thread and runtime; a listen backlog of
/// 4,096, since 5K starts the checkers of tasks launched together
/// together, and their checks come in bursts.
struct CheckServer {
    port: u16,
    served: Arc<AtomicU64>,
}

impl CheckServer {
    fn start() -> Result<CheckServer> {
        let served = Arc::new(AtomicU64::new(0));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = runtime.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(([127, 0, 0, 1], 0).into())?;
            socket.listen(4096)
        })?;
        let port = listener.local_addr()?.port();
        let count = served.clone();
        // Answers for as long as the benchmark runs.
        std::thread::spawn(move || {
            runtime.block_on(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(answer(stream, count.clone()));
                }
            })
        });
        Ok(CheckServer { port, served })
    }

    fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

/// Reads the request's head and answers 200.
async fn answer(mut stream: tokio::net::TcpStream, served: Arc<AtomicU64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = Vec::new();
    let mut buffer = [0u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if stream.write_all(ok).await.is_ok() {
        served.fetch_add(1, Ordering::Relaxed);
    }
}

const HAPROXY: &str = "/usr/sbin/haproxy";

/// HAProxy in master-worker mode on a configuration in a directory of its
/// own, as five-k/tests/haproxy.rs runs it. Stopped when dropped.
struct Haproxy {
    master: Child,
    dir: PathBuf,
}

impl Haproxy {
    fn start() -> Result<Haproxy> {
        let dir = std::env::temp_dir().join(format!("five-k-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        // 5K replaces it at once.
        std::fs::write(dir.join("haproxy.cfg"), "global\n    maxconn 100\n")?;
        let master = Command::new(HAPROXY)
            .arg("-W")
            .arg("-S")
            .arg(dir.join("master.sock"))
            .arg("-f")
            .arg(dir.join("haproxy.cfg"))
            .arg("-p")
            .arg(dir.join("haproxy.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {HAPROXY}"))?;
        let haproxy = Haproxy { master, dir };
        procs::poll_until(Duration::from_secs(10), Duration::from_millis(20), || {
            Ok(haproxy.cli("show proc").is_ok())
        })
        .context("HAProxy's master CLI does not answer")?;
        Ok(haproxy)
    }

    /// One command on the master CLI; the answer.
    fn cli(&self, command: &str) -> Result<String> {
        let mut stream = UnixStream::connect(self.dir.join("master.sock"))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(format!("{command}\n").as_bytes())?;
        stream.shutdown(std::net::Shutdown::Write)?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    }

    /// The servers the current worker has (`show servers state`), by name
    /// (5K names them by task id).
    fn servers(&self) -> Result<HashSet<String>> {
        let state = self.cli("@1 show servers state")?;
        if !state.starts_with('1') {
            bail!("not a servers state: {state:?}");
        }
        Ok(state
            .lines()
            .skip(1)
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_whitespace().nth(3))
            .map(str::to_string)
            .collect())
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers and leaves.
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.master.id() as i32, libc::SIGTERM) };
        let _ = self.master.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// 5K's log lines "HAProxy reloaded with the serving tasks", read as
/// they come: when each was seen (since `since`) and how long it took.
struct ReloadLog {
    reader: BufReader<std::fs::File>,
    partial: String,
    seen: Vec<(f64, u64)>,
    /// The first "HAProxy not reloaded" line: the run is void.
    failed: Option<String>,
}

impl ReloadLog {
    fn open(path: &Path) -> Result<ReloadLog> {
        Ok(ReloadLog {
            reader: BufReader::new(std::fs::File::open(path)?),
            partial: String::new(),
            seen: Vec::new(),
            failed: None,
        })
    }

    /// Reads what 5K logged since the last call.
    fn read(&mut self, since: Instant) -> Result<()> {
        loop {
            let read = self.reader.read_line(&mut self.partial)?;
            if read == 0 || !self.partial.ends_with('\n') {
                return Ok(());
            }
            let line = std::mem::take(&mut self.partial);
            if line.contains("HAProxy reloaded") {
                let elapsed_ms = line
                    .split_whitespace()
                    .find_map(|f| f.strip_prefix("elapsed_ms="))
                    .and_then(|v| v.parse().ok())
                    .context("a reload line with elapsed_ms")?;
                self.seen.push((since.elapsed().as_secs_f64(), elapsed_ms));
            } else if line.contains("HAProxy not reloaded") {
                self.failed.get_or_insert(line.trim().to_string());
            }
        }
    }

    /// Fails if 5K could not reload HAProxy.
    fn check(&self) -> Result<()> {
        match &self.failed {
            Some(line) => bail!("5K: {line}"),
            None => Ok(()),
        }
    }

    /// Skips the reloads of 5K's start (a configuration without apps),
    /// which are no part of what is measured: waits for the first, and
    /// for any other within half a second.
    fn skip_start(&mut self) -> Result<()> {
        let since = Instant::now();
        // No reload at all is possible too (nothing to render yet).
        let _ = procs::poll_until(Duration::from_secs(5), Duration::from_millis(20), || {
            self.read(since)?;
            Ok(!self.seen.is_empty())
        });
        std::thread::sleep(Duration::from_millis(500));
        self.read(since)?;
        self.take();
        self.check()
    }

    /// The reloads seen, as JSON, and forgets them.
    fn take(&mut self) -> Value {
        std::mem::take(&mut self.seen)
            .into_iter()
            .map(|(at, ms)| json!({"seen_at_s": at, "elapsed_ms": ms}))
            .collect()
    }
}

/// Free ports for the services, none twice.
fn service_ports(count: usize) -> Result<Vec<u16>> {
    let mut ports = HashSet::new();
    while ports.len() < count {
        ports.insert(procs::free_port()?);
    }
    Ok(ports.into_iter().collect())
}

fn haproxy(apps: usize, instances: usize) -> Result<Value> {
    let haproxy = Haproxy::start()?;
    let log_path = haproxy.dir.join("five-k.log");
    let flags: Vec<String> = [
        "--haproxy-config",
        &haproxy.dir.join("haproxy.cfg").display().to_string(),
        "--haproxy-socket",
        &haproxy.dir.join("master.sock").display().to_string(),
        "--haproxy-bind-address",
        "127.0.0.1",
        "--haproxy-binary",
        HAPROXY,
    ]
    .map(str::to_string)
    .into();
    let tasks = apps * instances;
    // Room for every app twice over, as the restarts overlap.
    let (_master, master_port) = procs::start_master(tasks.div_ceil(5), AGENT_RESOURCES, true)?;
    let five_k = FiveK::start_with(master_port, &flags, Some(std::fs::File::create(&log_path)?))?;
    subscribed(master_port)?;
    let mut log = ReloadLog::open(&log_path)?;
    log.skip_start()?;

    let ids: Vec<String> = (0..apps).map(|n| format!("/lb/app-{n:03}")).collect();
    let started = Instant::now();
    for (id, port) in ids.iter().zip(service_ports(apps)?) {
        create(
            five_k.port,
            &json!({
                "id": id,
                "cmd": "sleep 3600",
                "cpus": 0.01,
                "mem": 10,
                "instances": instances,
                "portDefinitions": [{"port": port}],
            }),
        )?;
    }
    let posts_s = started.elapsed().as_secs_f64();
    let (served_s, old, servers) =
        served_when(&haproxy, &five_k, &mut log, started, tasks, &HashSet::new())?;
    let mut create = phase(posts_s, served_s, &mut log);
    create["servers"] = json!(servers);

    let started = Instant::now();
    for id in &ids {
        let (status, body) = request(five_k.port, "POST", &format!("/v2/apps{id}/restart"), None)?;
        if status != 200 {
            bail!("POST {id}/restart answered {status}: {body}");
        }
    }
    let posts_s = started.elapsed().as_secs_f64();
    let (served_s, _, servers) = served_when(&haproxy, &five_k, &mut log, started, tasks, &old)?;
    let mut restart = phase(posts_s, served_s, &mut log);
    restart["servers"] = json!(servers);
    Ok(json!({
        "apps": apps,
        "instances": instances,
        "tasks": tasks,
        "create": create,
        "restart": restart,
    }))
}

/// Waits until HAProxy's worker serves `tasks` servers, none of `old`,
/// and 5K has no deployment open: when it first served them (seconds
/// since `started`), and those servers.
fn served_when(
    haproxy: &Haproxy,
    five_k: &FiveK,
    log: &mut ReloadLog,
    started: Instant,
    tasks: usize,
    old: &HashSet<String>,
) -> Result<(f64, HashSet<String>, Vec<Value>)> {
    let mut served = None;
    // (seconds, servers, of them new) at each change of HAProxy's servers.
    let mut timeline: Vec<Value> = Vec::new();
    let mut last = (usize::MAX, usize::MAX);
    let timeout = Duration::from_secs(120);
    let waited = procs::poll_until(timeout, Duration::from_millis(20), || {
        log.read(started)?;
        if served.is_none() {
            let servers = haproxy.servers()?;
            let new = servers.difference(old).count();
            if (servers.len(), new) != last {
                last = (servers.len(), new);
                let at = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
                timeline.push(json!([at, servers.len(), new]));
            }
            if servers.len() == tasks && servers.is_disjoint(old) {
                served = Some((started.elapsed().as_secs_f64(), servers));
            }
        }
        if served.is_none() {
            return Ok(false);
        }
        let (status, body) = request(five_k.port, "GET", "/v2/deployments", None)?;
        Ok(status == 200 && body.trim() == "[]")
    });
    log.check()?;
    waited
        .with_context(|| format!("HAProxy does not serve the {tasks} tasks within {timeout:?}"))?;
    // Reloads 5K may still do once all is served (none expected).
    std::thread::sleep(Duration::from_secs(1));
    log.read(started)?;
    log.check()?;
    let (at, servers) = served.expect("set before the condition holds");
    Ok((at, servers, timeline))
}

/// One phase's figures: its reloads and when HAProxy served all.
fn phase(posts_s: f64, served_s: f64, log: &mut ReloadLog) -> Value {
    let reloads = log.take();
    let reload_ms: Vec<u64> = reloads
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["elapsed_ms"].as_u64())
        .collect();
    json!({
        "posts_s": posts_s,
        "served_s": served_s,
        "reloads": reloads,
        "reload_ms": reload_ms,
    })
}
