//! Prints a task's `stdout`, wherever the task runs: `tail` for a cluster.
//!
//! ```text
//! cargo run -p mesos --example task-output -- --master 127.0.0.1:5050 <task id>
//! cargo run -p mesos --example task-output -- --master http://10.10.4.2:5050 --follow <task id>
//! cargo run -p mesos --example task-output -- --master zk://10.10.4.2:2181/mesos --file stderr <task id>
//! ```
//!
//! A task's output is a file in its sandbox, a directory on the agent that
//! runs it. No one component knows all the way there, so it takes three
//! questions, each to the component that knows the answer:
//!
//! 1. the leading master's `/master/state`: which agent runs the task, and
//!    that agent's PID, `slave(1)@10.10.4.10:5051`, which is its address;
//! 2. that agent's `/slave(1)/state`: the `directory` of the executor that
//!    runs the task (a command task's executor is named after the task);
//! 3. that agent's `/files/read?path=<directory>/stdout&offset=N`, which
//!    answers `{"data": "...", "offset": N}`, at most 64 KiB at a time.
//!
//! Reading is a loop from the last offset, so a dropped connection loses
//! nothing, and `--follow` keeps polling for more, as the Mesos web UI does.
//! The simulated master (`--master local`, `mesos-local`) answers the same
//! questions at the same paths: its agents' PIDs carry its own address.

use std::{io::Write, time::Duration};

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use mesos::{
    MasterAddr, MasterSpec, client::redirect_target, detector::MasterDetector, master::Scheme,
};
use serde_json::Value;

type Error = Box<dyn std::error::Error>;

/// How often `--follow` asks for more output (the Mesos web UI's pace).
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long to wait for a leading master.
const LEADER_TIMEOUT: Duration = Duration::from_secs(30);

struct Args {
    master: MasterSpec,
    task_id: String,
    file: String,
    follow: bool,
}

const USAGE: &str = "usage: task-output --master <host:port|http://host:port|zk://host:2181/mesos> \
                     [--follow] [--file stdout|stderr] <task id>";

fn parse_args() -> Result<Args, String> {
    let mut master = std::env::var("MESOS_MASTER").ok();
    let mut task_id = None;
    let mut file = "stdout".to_string();
    let mut follow = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--master" => master = args.next(),
            "--file" => file = args.next().ok_or(USAGE)?,
            "--follow" | "-f" => follow = true,
            "--help" | "-h" => return Err(USAGE.to_string()),
            other if other.starts_with('-') => {
                return Err(format!("unknown flag {other}\n{USAGE}"));
            }
            other => task_id = Some(other.to_string()),
        }
    }
    let master: MasterSpec = master
        .ok_or(USAGE)?
        .parse()
        .map_err(|e| format!("--master: {e}"))?;
    if master == MasterSpec::Local {
        return Err(
            "--master local would start a new, empty master: give the address \
                    of the running one (a framework on `local` logs it)"
                .into(),
        );
    }
    Ok(Args {
        master,
        task_id: task_id.ok_or(USAGE)?,
        file,
        follow,
    })
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    if let Err(error) = run(args).await {
        eprintln!("task-output: {error}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), Error> {
    // With `zk://`, ZooKeeper names the leader; it may have none for now.
    let mut detector = MasterDetector::new(&args.master)?;
    let master = tokio::time::timeout(LEADER_TIMEOUT, detector.leader())
        .await
        .map_err(|_| format!("no leading master within {LEADER_TIMEOUT:?}"))?;
    let (agent, framework_id) = find_agent(&master, &args.task_id).await?;
    let directory = find_sandbox(&agent, &framework_id, &args.task_id).await?;
    let path = format!("{directory}/{}", args.file);
    eprintln!("task-output: {path} on agent {agent}");
    print_file(&agent, &path, args.follow).await
}

/// Step 1: the agent running `task_id` (its PID) and the task's framework,
/// from the leading master's state.
async fn find_agent(master: &MasterAddr, task_id: &str) -> Result<(AgentPid, String), Error> {
    let mut state = get(&master.authority(), "/master/state").await?;
    if state.status == StatusCode::TEMPORARY_REDIRECT {
        // Not the leader (any more): it names the one that is.
        let leader = redirect_target(&state.headers, master)?;
        state = get(&leader.authority(), "/master/state").await?;
    }
    let state = state.json()?;
    let frameworks = list(&state, "frameworks").chain(list(&state, "completed_frameworks"));
    let task = frameworks
        .flat_map(|f| {
            let tasks = list(f, "tasks").chain(list(f, "unreachable_tasks"));
            tasks.chain(list(f, "completed_tasks"))
        })
        .find(|t| t["id"] == task_id)
        .ok_or_else(|| format!("the master knows no task {task_id:?}"))?;
    let agent = list(&state, "slaves")
        .find(|s| s["id"] == task["slave_id"])
        .ok_or_else(|| format!("the agent of task {task_id} is not registered"))?;
    let pid = AgentPid::parse(agent["pid"].as_str().unwrap_or_default())?;
    Ok((
        pid,
        task["framework_id"].as_str().unwrap_or_default().into(),
    ))
}

/// Step 2: the sandbox of the executor that ran `task_id`, from the
/// agent's own state: running executors first, then completed ones.
async fn find_sandbox(
    agent: &AgentPid,
    framework_id: &str,
    task_id: &str,
) -> Result<String, Error> {
    let state = get(&agent.address, &format!("/{}/state", agent.process))
        .await?
        .json()?;
    let frameworks = list(&state, "frameworks").chain(list(&state, "completed_frameworks"));
    let executors = frameworks
        .filter(|f| f["id"] == framework_id)
        .flat_map(|f| list(f, "executors").chain(list(f, "completed_executors")));
    for executor in executors {
        let tasks = list(executor, "tasks").chain(list(executor, "completed_tasks"));
        if tasks.into_iter().any(|t| t["id"] == task_id) {
            let directory = executor["directory"].as_str().unwrap_or_default();
            // A task of a group has its sandbox inside its (default)
            // executor's; a command task's executor, or a custom
            // executor, shares its sandbox with its tasks.
            return Ok(if executor["type"] == "DEFAULT" {
                format!("{directory}/tasks/{task_id}")
            } else {
                directory.to_string()
            });
        }
    }
    Err(format!("agent {} does not list task {task_id}", agent.process).into())
}

/// Step 3: the file, read from the start in pieces until its end; with
/// `follow`, again and again for whatever is added.
async fn print_file(agent: &AgentPid, path: &str, follow: bool) -> Result<(), Error> {
    let mut offset = 0;
    loop {
        let query = format!("/files/read?path={}&offset={offset}", encode(path));
        let answer = get(&agent.address, &query).await?.json()?;
        let data = answer["data"].as_str().unwrap_or_default();
        if data.is_empty() {
            if !follow {
                return Ok(());
            }
            tokio::time::sleep(POLL_INTERVAL).await;
            continue;
        }
        print!("{data}");
        std::io::stdout().flush()?;
        offset += data.len();
    }
}

/// An agent's libprocess PID, `slave(1)@10.10.4.10:5051`.
struct AgentPid {
    /// `slave(1)`: its endpoints are under `/slave(1)/`.
    process: String,
    /// `10.10.4.10:5051`, where it (and its `/files`) answers.
    address: String,
}

impl AgentPid {
    fn parse(pid: &str) -> Result<AgentPid, String> {
        let (process, address) = pid
            .split_once('@')
            .ok_or_else(|| format!("not an agent PID: {pid:?}"))?;
        Ok(AgentPid {
            process: process.to_string(),
            address: address.to_string(),
        })
    }
}

impl std::fmt::Display for AgentPid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.process, self.address)
    }
}

/// The elements of the array `value[field]` (none if it is missing).
fn list<'a>(value: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    value[field].as_array().into_iter().flatten()
}

/// A response, whole.
struct Response {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Response {
    fn json(self) -> Result<Value, Error> {
        if self.status != StatusCode::OK {
            let body = String::from_utf8_lossy(&self.body);
            return Err(format!("HTTP {}: {}", self.status, body.trim()).into());
        }
        Ok(serde_json::from_slice(&self.body)?)
    }
}

/// `GET http://<address><path>` on a connection of its own.
async fn get(address: &str, path: &str) -> Result<Response, Error> {
    let url = MasterAddr::parse_with_default_scheme(address, Scheme::Http)?;
    let stream = tokio::net::TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::get(path)
        .header(header::HOST, address)
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    let (parts, body) = response.into_parts();
    Ok(Response {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await?.to_bytes(),
    })
}

/// Percent-encodes a query value, keeping `/` readable.
fn encode(value: &str) -> String {
    let mut encoded = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                encoded.push(byte as char)
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}
