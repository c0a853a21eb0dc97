//! Decoding the event stream: RecordIO + protobuf against RecordIO + JSON,
//! on the same stream of realistic events, encoded both ways. The stream
//! has the shape of a launch: for every ten tasks one OFFERS event (an
//! offer of 10 resources, allocated to its role, as the simulated master
//! sends them) and each task's TASK_STARTING and TASK_RUNNING updates
//! (with uuid, agent, executor, source and timestamp), and a HEARTBEAT.
//! Decoding is the library's: `recordio::Decoder`, then `codec::decode`.

use std::time::Instant;

use anyhow::Result;
use bytes::Bytes;
use mesos::{
    codec::{self, ContentType},
    recordio,
    resources::{self, Resources},
    v1::{
        AgentId, ExecutorId, FrameworkId, Offer, OfferId, TaskId, TaskState, TaskStatus,
        scheduler::{Event, event},
        task_status::Source,
    },
};
use serde_json::{Value, json};

/// The events of a launch of `tasks` tasks.
pub fn events(tasks: usize) -> Vec<Event> {
    let framework_id = FrameworkId {
        value: "2b3c6a8e-5d1f-4b7a-9c1e-0a2b3c4d5e6f-0000".into(),
    };
    let mut events = Vec::new();
    for i in 0..tasks {
        let agent = format!("2b3c6a8e-5d1f-4b7a-9c1e-0a2b3c4d5e6f-S{}", i / 10);
        if i % 10 == 0 {
            let resources = Resources::from([
                resources::cpus(0.1),
                resources::mem(100.0),
                resources::disk(4096.0),
                resources::ports(&[(31000, 32000)]),
                resources::scalar("gpus", 1.0),
                resources::scalar("network_bandwidth", 1000.0),
                resources::scalar("ephemeral_ports", 100.0),
                resources::scalar("fpgas", 1.0),
                resources::scalar("licenses", 5.0),
                resources::ranges("tcp_ports", &[(40000, 41000), (42000, 43000)]),
            ])
            .allocated_to("*");
            let offer = Offer {
                id: OfferId {
                    value: format!("2b3c6a8e-5d1f-4b7a-9c1e-0a2b3c4d5e6f-O{i}"),
                },
                framework_id: framework_id.clone(),
                agent_id: AgentId {
                    value: agent.clone(),
                },
                hostname: "agent-17.cluster.example.com".into(),
                resources: resources.into_vec(),
                ..Default::default()
            };
            events.push(Event {
                r#type: Some(event::Type::Offers as i32),
                offers: Some(event::Offers {
                    offers: vec![offer],
                }),
                ..Default::default()
            });
        }
        for state in [TaskState::TaskStarting, TaskState::TaskRunning] {
            let task_id = format!("hello-mesos-{:08x}-4b7a-9c1e-0a2b3c4d5e6f", i);
            let status = TaskStatus {
                task_id: TaskId {
                    value: task_id.clone(),
                },
                state: state as i32,
                source: Some(Source::Executor as i32),
                agent_id: Some(AgentId {
                    value: agent.clone(),
                }),
                executor_id: Some(ExecutorId { value: task_id }),
                timestamp: Some(1_764_000_000.123_456 + i as f64),
                uuid: Some(Bytes::from_static(&[0x5a; 16])),
                ..Default::default()
            };
            events.push(Event {
                r#type: Some(event::Type::Update as i32),
                update: Some(event::Update { status }),
                ..Default::default()
            });
        }
    }
    events.push(Event {
        r#type: Some(event::Type::Heartbeat as i32),
        ..Default::default()
    });
    events
}

/// The stream as the master writes it.
fn stream(events: &[Event], format: ContentType) -> Vec<u8> {
    let mut stream = Vec::new();
    for event in events {
        stream.extend_from_slice(&recordio::encode(&codec::encode(event, format)));
    }
    stream
}

/// Decodes the stream (fed in 64 KiB chunks, as a socket delivers it) as
/// many times as fit in about a second; events per second and MB/s.
fn decode(stream: &[u8], format: ContentType, events: usize) -> Result<(f64, f64)> {
    let started = Instant::now();
    let mut rounds = 0;
    while rounds == 0 || started.elapsed().as_secs_f64() < 1.0 {
        let mut decoder = recordio::Decoder::new();
        let mut decoded = 0;
        for chunk in stream.chunks(64 * 1024) {
            decoder.feed(chunk);
            while let Some(record) = decoder.next_record()? {
                let _event: Event = codec::decode(&record, format)?;
                decoded += 1;
            }
        }
        anyhow::ensure!(decoded == events, "decoded {decoded} of {events} events");
        rounds += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let events_per_s = (events * rounds) as f64 / seconds;
    let mb_per_s = (stream.len() * rounds) as f64 / seconds / 1e6;
    Ok((events_per_s, mb_per_s))
}

pub fn run(tasks: usize) -> Result<Value> {
    let events = events(tasks);
    let mut results = serde_json::Map::new();
    for (name, format) in [
        ("protobuf", ContentType::Protobuf),
        ("json", ContentType::Json),
    ] {
        let stream = stream(&events, format);
        let (events_per_s, mb_per_s) = decode(&stream, format, events.len())?;
        results.insert(
            name.into(),
            json!({
                "stream_bytes": stream.len(),
                "events": events.len(),
                "events_per_s": events_per_s,
                "mb_per_s": mb_per_s,
            }),
        );
    }
    Ok(Value::Object(results))
}
