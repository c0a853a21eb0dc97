//! 5K's service discovery with Debian's real HAProxy: an app of two
//! `python3 -m http.server` tasks behind it, requests sent through its
//! service port while 5K scales the app down, kills a task and restarts
//! the app.
//!
//! Two things are checked. Each task, when its KILL arrives (the SIGTERM
//! of its process group), asks HAProxy's current worker for its servers
//! and leaves the answer in a file: it must no longer be one of them
//! (5K holds a KILL until the reload that drops the task is done). And a
//! client sending requests all along counts the failed ones per phase.

mod common;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use mesos::testing::{Framework, eventually, free_port, web};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const HAPROXY: &str = "/usr/sbin/haproxy";

/// HAProxy in master-worker mode, as an operator runs it for 5K, on a
/// configuration in a temporary directory. Stopped when dropped.
struct Haproxy {
    master: Child,
    dir: tempfile::TempDir,
}

impl Haproxy {
    fn start() -> Haproxy {
        assert!(
            Path::new(HAPROXY).exists(),
            "{HAPROXY} is missing: install Debian's haproxy (bin/test --install-only does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let haproxy = |name: &str| dir.path().join(name);
        // 5K replaces this with its own at once.
        std::fs::write(haproxy("haproxy.cfg"), "global\n    maxconn 100\n").unwrap();
        let master = Command::new(HAPROXY)
            .arg("-W")
            .arg("-S")
            .arg(haproxy("master.sock"))
            .arg("-f")
            .arg(haproxy("haproxy.cfg"))
            .arg("-p")
            .arg(haproxy("haproxy.pid"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {HAPROXY}: {e}"));
        Haproxy { master, dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn socket(&self) -> String {
        self.path("master.sock").display().to_string()
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers and leaves.
        let _ = Command::new("kill")
            .arg(self.master.id().to_string())
            .status();
        let _ = self.master.wait();
    }
}

/// The app's command: `python3 -m http.server $PORT0 --bind 127.0.0.1`
/// serving a file with its task id, which on SIGTERM (the KILL) first
/// asks HAProxy's current worker (`@1` on the master CLI) for its
/// servers, into `<reports>/<task id>`. Python is the task's own process
/// (`exec`): the simulated agent makes sure that one dies with 5K.
fn command(haproxy: &Haproxy, reports: &Path) -> String {
    let script = reports.join("task.py");
    std::fs::write(
        &script,
        format!(
            "import os, runpy, signal, socket, sys\n\
             task_id = os.environ['MESOS_TASK_ID']\n\
             def report(signum, frame):\n\
             \x20   s = socket.socket(socket.AF_UNIX)\n\
             \x20   s.connect({socket:?})\n\
             \x20   s.sendall(b'@1 show servers state\\n')\n\
             \x20   s.shutdown(socket.SHUT_WR)\n\
             \x20   open({reports:?} + '/' + task_id, 'w').write(s.makefile().read())\n\
             \x20   os._exit(0)\n\
             signal.signal(signal.SIGTERM, report)\n\
             open('id', 'w').write(task_id)\n\
             sys.argv = ['http.server', os.environ['PORT0'], '--bind', '127.0.0.1']\n\
             runpy.run_module('http.server', run_name='__main__', alter_sys=True)\n",
            socket = haproxy.socket(),
            reports = reports.display().to_string(),
        ),
    )
    .unwrap();
    format!("exec /usr/bin/python3 {}", script.display())
}

/// One request through HAProxy, on a new connection: the id of the task
/// that answered, or why it failed.
async fn request(port: u16) -> Result<String, String> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(b"GET /id HTTP/1.0\r\nHost: web\r\n\r\n")
            .await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    match (
        answer.starts_with("HTTP/1.0 200"),
        answer.split_once("\r\n\r\n"),
    ) {
        (true, Some((_, body))) => Ok(body.to_string()),
        _ => Err(format!("answer {:?}", answer.lines().next().unwrap_or(""))),
    }
}

/// What the client saw in one phase.
#[derive(Default, Debug)]
struct Phase {
    answered: usize,
    failures: Vec<String>,
    tasks_seen: std::collections::BTreeSet<String>,
}

/// Clients sending requests all along, each one after another, into the
/// current phase's tally.
struct Client {
    phase: Arc<Mutex<Phase>>,
    stop: Arc<AtomicBool>,
    loops: Vec<tokio::task::JoinHandle<()>>,
}

/// How many requests are on their way at any time.
const CONCURRENCY: usize = 4;

impl Client {
    fn start(port: u16) -> Client {
        let phase = Arc::new(Mutex::new(Phase::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let loops = (0..CONCURRENCY)
            .map(|_| {
                let (tally, stopped) = (phase.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stopped.load(Ordering::Relaxed) {
                        let result = request(port).await;
                        let mut phase = tally.lock().unwrap();
                        match result {
                            Ok(task) => {
                                phase.answered += 1;
                                phase.tasks_seen.insert(task);
                            }
                            Err(error) => phase.failures.push(error),
                        }
                    }
                })
            })
            .collect();
        Client { phase, stop, loops }
    }

    /// Ends the current phase: its tally, and a new one begins.
    fn next_phase(&self) -> Phase {
        std::mem::take(&mut *self.phase.lock().unwrap())
    }

    fn seen(&self, task: &str) -> bool {
        self.phase.lock().unwrap().tasks_seen.contains(task)
    }

    async fn stop(self) -> Phase {
        self.stop.store(true, Ordering::Relaxed);
        for client in self.loops {
            client.await.unwrap();
        }
        std::mem::take(&mut *self.phase.lock().unwrap())
    }
}

async fn running_tasks(url: &str) -> Vec<String> {
    let tasks = web::get(&format!("{url}/v2/apps/web/tasks")).await.json();
    let mut ids: Vec<String> = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn send(method: &str, url: &str, body: Value) -> web::WebResponse {
    let response = web::send(
        url,
        method,
        Some("application/json"),
        body.to_string().into(),
    )
    .await;
    assert!(
        response.status.is_success(),
        "{method} {url}: {}",
        response.body
    );
    response
}

/// Waits until no deployment runs, `count` tasks run, and each of them
/// has answered through HAProxy; returns their ids.
async fn settled(url: &str, client: &Client, count: usize) -> Vec<String> {
    eventually("the app to settle behind HAProxy", async || {
        let deployments = web::get(&format!("{url}/v2/deployments")).await.json();
        let tasks = running_tasks(url).await;
        let ready = deployments == json!([])
            && tasks.len() == count
            && tasks.iter().all(|task| client.seen(task));
        ready.then_some(tasks)
    })
    .await
}

/// Checks the report a killed task left: HAProxy's current worker had
/// it no longer as a server when its KILL arrived.
async fn left_the_backend_before_its_kill(reports: &Path, task: &str) {
    let report = eventually(&format!("{task} to report its KILL"), async || {
        std::fs::read_to_string(reports.join(task)).ok()
    })
    .await;
    assert!(
        report.contains("# be_id"),
        "not an answer to show servers state: {report:?}"
    );
    assert!(
        !report.contains(task),
        "{task} was still in HAProxy's backend when its KILL arrived:\n{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_are_reached_through_haproxy_and_leave_it_before_they_are_killed() {
    let haproxy = Haproxy::start();
    let reports = haproxy.path("reports");
    std::fs::create_dir(&reports).unwrap();
    let config = haproxy.path("haproxy.cfg").display().to_string();
    let socket = haproxy.socket();
    eventually("HAProxy's master CLI", async || {
        Path::new(&socket).exists().then_some(())
    })
    .await;
    let (five_k, url): (Framework, String) = common::start_with(&[
        "--haproxy-config",
        &config,
        "--haproxy-socket",
        &socket,
        "--haproxy-bind-address",
        "127.0.0.1",
        "--haproxy-binary",
        HAPROXY,
    ])
    .await;
    let service_port = free_port().unwrap();
    let app = json!({
        "id": "/web", "cmd": command(&haproxy, &reports), "instances": 2,
        "cpus": 0.01, "mem": 32, "portDefinitions": [{"port": service_port}],
        // Short: the restart's old tasks get SIGKILL soon if they linger.
        "taskKillGracePeriodSeconds": 2,
    });
    send("POST", &format!("{url}/v2/apps"), app).await;
    let client = Client::start(service_port);

    // Both tasks answer through the service port.
    let two = settled(&url, &client, 2).await;
    let warm_up = client.next_phase();

    // A scale down: the task killed leaves the backend first.
    send(
        "PUT",
        &format!("{url}/v2/apps/web"),
        json!({"instances": 1}),
    )
    .await;
    let one = settled(&url, &client, 1).await;
    let scaled_away = two.iter().find(|t| !one.contains(t)).unwrap();
    left_the_backend_before_its_kill(&reports, scaled_away).await;
    let scale_down = client.next_phase();

    // A kill through the API: the task is replaced.
    send(
        "PUT",
        &format!("{url}/v2/apps/web"),
        json!({"instances": 2}),
    )
    .await;
    let two = settled(&url, &client, 2).await;
    client.next_phase();
    let victim = &two[0];
    send(
        "DELETE",
        &format!("{url}/v2/apps/web/tasks/{victim}"),
        json!({}),
    )
    .await;
    let replaced = eventually("a replacement", async || {
        let tasks = settled(&url, &client, 2).await;
        (!tasks.contains(victim)).then_some(tasks)
    })
    .await;
    left_the_backend_before_its_kill(&reports, victim).await;
    let kill = client.next_phase();

    // A restart: every task replaced, new ones first.
    send("POST", &format!("{url}/v2/apps/web/restart"), json!({})).await;
    eventually("the restart", async || {
        let tasks = settled(&url, &client, 2).await;
        tasks.iter().all(|t| !replaced.contains(t)).then_some(())
    })
    .await;
    for old in &replaced {
        left_the_backend_before_its_kill(&reports, old).await;
    }
    let restart = client.stop().await;

    let reloads = five_k.count_output("HAProxy reloaded");
    for (name, phase) in [
        ("warm-up", &warm_up),
        ("scale down", &scale_down),
        ("kill", &kill),
        ("restart", &restart),
    ] {
        println!(
            "{name}: {} answered, {} failed {:?}",
            phase.answered,
            phase.failures.len(),
            phase.failures.iter().take(3).collect::<Vec<_>>()
        );
    }
    println!("{reloads} reloads");
    for (name, phase) in [
        ("scale down", scale_down),
        ("kill", kill),
        ("restart", restart),
    ] {
        assert!(phase.answered > 0, "{name}: no request answered");
        assert!(
            phase.failures.is_empty(),
            "{name}: {} requests failed through HAProxy: {:?}",
            phase.failures.len(),
            phase.failures
        );
    }
}
