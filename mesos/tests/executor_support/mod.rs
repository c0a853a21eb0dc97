//! Playing a custom executor against the simulated agent, over raw HTTP.
//!
//! The executor's process is a shell script that writes its environment
//! into `env.txt` in its sandbox and then waits for a file `exit` there,
//! whose content is its exit code. The test reads the environment and
//! speaks the executor API itself, as the executor would.
#![allow(dead_code)]

use std::{collections::HashMap, path::PathBuf};

use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use mesos::{
    codec::{self, ContentType},
    local::LocalMaster,
    recordio,
    resources::Resources,
    v1::{
        self, CommandInfo, ExecutorId, ExecutorInfo, FrameworkId, TaskId, TaskInfo, TaskState,
        TaskStatus,
        executor::{Call, Event, call, event},
        task_status::Source,
    },
};

use crate::local_support::{Raw, WAIT, request, wait_until};

/// The executor script: its environment to `env.txt`, then it waits for
/// `exit` and exits with the code written there.
pub const SCRIPT: &str = "env > env.txt.tmp && mv env.txt.tmp env.txt; while [ ! -s exit ]; do sleep 0.02; done; exit $(cat exit)";

/// An ExecutorInfo running [`SCRIPT`].
pub fn executor_info(id: &str, resources: &str) -> ExecutorInfo {
    ExecutorInfo {
        executor_id: ExecutorId { value: id.into() },
        command: Some(CommandInfo {
            value: Some(SCRIPT.into()),
            ..Default::default()
        }),
        resources: Resources::parse(resources).unwrap().into_vec(),
        ..Default::default()
    }
}

/// A task for a custom executor.
pub fn task(
    id: &str,
    agent_id: &v1::AgentId,
    executor: &ExecutorInfo,
    resources: &str,
) -> TaskInfo {
    TaskInfo {
        name: format!("task {id}"),
        task_id: TaskId { value: id.into() },
        agent_id: agent_id.clone(),
        resources: Resources::parse(resources).unwrap().into_vec(),
        executor: Some(Box::new(executor.clone())),
        ..Default::default()
    }
}

/// The test's side of one executor: its environment, as the agent set it.
pub struct Executor {
    pub env: HashMap<String, String>,
    pub sandbox: PathBuf,
}

impl Executor {
    /// Waits for the executor process of a task to have written its
    /// environment.
    pub async fn of_task(master: &LocalMaster, task_id: &str) -> Executor {
        let state = master
            .wait_for(
                |s| s.task(task_id).is_some_and(|t| t.sandbox.is_some()),
                WAIT,
            )
            .await
            .expect("the task has a sandbox");
        let sandbox = state.task(task_id).unwrap().sandbox.clone().unwrap();
        let file = sandbox.join("env.txt");
        wait_until(|| file.exists()).await;
        let text = std::fs::read_to_string(&file).unwrap();
        let env = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Executor { env, sandbox }
    }

    /// `/slave(1)/api/v1/executor`, from MESOS_SLAVE_PID as the executor
    /// library builds it.
    pub fn path(&self) -> String {
        let pid = &self.env["MESOS_SLAVE_PID"];
        let process = pid.split('@').next().unwrap();
        format!("/{process}/api/v1/executor")
    }

    /// A call of this executor.
    pub fn call(&self, kind: call::Type) -> Call {
        Call {
            executor_id: ExecutorId {
                value: self.env["MESOS_EXECUTOR_ID"].clone(),
            },
            framework_id: FrameworkId {
                value: self.env["MESOS_FRAMEWORK_ID"].clone(),
            },
            r#type: Some(kind as i32),
            ..Default::default()
        }
    }

    pub fn subscribe_call(&self, unacknowledged_tasks: Vec<TaskInfo>) -> Call {
        Call {
            subscribe: Some(call::Subscribe {
                unacknowledged_tasks,
                unacknowledged_updates: Vec::new(),
            }),
            ..self.call(call::Type::Subscribe)
        }
    }

    /// An UPDATE with a fresh uuid.
    pub fn update_call(&self, task_id: &str, state: TaskState) -> Call {
        Call {
            update: Some(call::Update {
                status: TaskStatus {
                    task_id: TaskId {
                        value: task_id.into(),
                    },
                    state: state as i32,
                    source: Some(Source::Executor as i32),
                    uuid: Some(Bytes::copy_from_slice(uuid::Uuid::new_v4().as_bytes())),
                    ..Default::default()
                },
            }),
            ..self.call(call::Type::Update)
        }
    }

    /// POSTs a call as JSON.
    pub async fn post(&self, master: &LocalMaster, call: &Call) -> Raw {
        let body = codec::encode(call, ContentType::Json);
        let headers = [("Content-Type", "application/json")];
        request(master, "POST", &self.path(), &headers, body).await
    }

    /// POSTs a call that must be accepted (202).
    pub async fn send(&self, master: &LocalMaster, call: &Call) {
        let raw = self.post(master, call).await;
        let status = raw.status;
        assert_eq!(status, StatusCode::ACCEPTED, "{}", raw.text().await);
    }

    /// SUBSCRIBEs (protobuf events) and returns the event stream.
    /// Subscribes with nothing to hand over, as a freshly started executor
    /// does, and takes the SUBSCRIBED and the one LAUNCH that follow.
    pub async fn subscribe_and_take_launch(&self, master: &LocalMaster) -> Events {
        let mut events = self.subscribe(master, &self.subscribe_call(vec![])).await;
        events.expect(event::Type::Subscribed).await;
        events.expect(event::Type::Launch).await;
        events
    }

    pub async fn subscribe(&self, master: &LocalMaster, call: &Call) -> Events {
        let body = codec::encode(call, ContentType::Json);
        let headers = [
            ("Content-Type", "application/json"),
            ("Accept", "application/x-protobuf"),
        ];
        let raw = request(master, "POST", &self.path(), &headers, body).await;
        assert_eq!(raw.status, StatusCode::OK);
        assert_eq!(raw.headers["content-type"], "application/x-protobuf");
        Events {
            body: raw.body,
            decoder: recordio::Decoder::new(),
        }
    }

    /// Makes the executor's process exit with `code`.
    pub fn exit(&self, code: i32) {
        std::fs::write(self.sandbox.join("exit"), code.to_string()).unwrap();
    }
}

/// An executor's event stream.
pub struct Events {
    body: Incoming,
    decoder: recordio::Decoder,
}

impl Events {
    /// The next event; `None` when the agent closed the stream.
    pub async fn next(&mut self) -> Option<Event> {
        tokio::time::timeout(WAIT, self.next_now())
            .await
            .expect("an event or the end of the stream in time")
    }

    async fn next_now(&mut self) -> Option<Event> {
        loop {
            if let Some(record) = self.decoder.next_record().unwrap() {
                return Some(codec::decode(&record, ContentType::Protobuf).unwrap());
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        self.decoder.feed(data);
                    }
                }
                _ => return None,
            }
        }
    }

    /// The next event, which must be of `kind`.
    pub async fn expect(&mut self, kind: event::Type) -> Event {
        let event = self.next().await.expect("the stream is open");
        assert_eq!(event.r#type(), kind, "{event:?}");
        event
    }
}
