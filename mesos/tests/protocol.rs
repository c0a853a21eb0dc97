//! Every Call and Event type survives both wire formats, and the JSON is
//! Mesos' JSON: proto field names, enum names, base64 bytes, plain numbers.

use bytes::Bytes;
use mesos::{
    calls,
    codec::{self, ContentType},
    v1::{
        AgentId, ExecutorId, ExecutorInfo, FrameworkId, FrameworkInfo, InverseOffer, MasterInfo,
        Offer, OfferId, OperationId, OperationState, OperationStatus, Request, Resource,
        TaskGroupInfo, TaskId, TaskInfo, TaskState, TaskStatus, Uuid,
        scheduler::{Call, Event, call, event},
        task_status, value,
    },
};
use serde_json::{Value, json};

fn agent() -> AgentId {
    AgentId {
        value: "agent-1".into(),
    }
}
fn task() -> TaskId {
    TaskId {
        value: "task-1".into(),
    }
}
fn offer_id() -> OfferId {
    OfferId {
        value: "offer-1".into(),
    }
}
fn executor() -> ExecutorId {
    ExecutorId {
        value: "executor-1".into(),
    }
}

fn cpus(amount: f64) -> Resource {
    Resource {
        name: "cpus".into(),
        r#type: mesos::v1::value::Type::Scalar as i32,
        scalar: Some(value::Scalar { value: amount }),
        ..Default::default()
    }
}

fn framework_info() -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: "roundtrip".into(),
        id: Some(FrameworkId {
            value: "fw-1".into(),
        }),
        failover_timeout: Some(604800.0),
        checkpoint: Some(true),
        roles: vec!["*".into()],
        webui_url: Some("http://localhost:8088".into()),
        ..Default::default()
    }
}

fn task_info() -> TaskInfo {
    TaskInfo {
        name: "hello".into(),
        task_id: task(),
        agent_id: agent(),
        resources: vec![cpus(0.5)],
        command: Some(mesos::v1::CommandInfo {
            shell: Some(true),
            value: Some("echo hello".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// One call of every type, built with the typed helpers.
fn every_call() -> Vec<Call> {
    let mut calls = vec![
        calls::subscribe(framework_info()),
        calls::teardown(),
        calls::accept(
            vec![offer_id()],
            vec![
                calls::launch(vec![task_info()]),
                calls::launch_group(
                    ExecutorInfo {
                        executor_id: executor(),
                        ..Default::default()
                    },
                    TaskGroupInfo {
                        tasks: vec![task_info()],
                    },
                ),
            ],
            Some(calls::refuse_for(10.0)),
        ),
        calls::decline(vec![offer_id()], 60.0),
        calls::accept_inverse_offers(vec![offer_id()], None),
        calls::decline_inverse_offers(vec![offer_id()], Some(calls::refuse_for(1.0))),
        calls::revive(vec!["*".into()]),
        calls::kill(task(), Some(agent()), None),
        calls::shutdown(executor(), agent()),
        calls::acknowledge(agent(), task(), Bytes::from_static(&[0, 1, 2, 250, 255])),
        calls::acknowledge_operation_status(
            Some(agent()),
            OperationId { value: "op".into() },
            Bytes::from_static(b"u"),
        ),
        calls::reconcile(vec![(task(), Some(agent()))]),
        calls::reconcile_operations(vec![(OperationId { value: "op".into() }, None)]),
        calls::message(agent(), executor(), Bytes::from_static(b"hi")),
        calls::request(vec![Request {
            agent_id: Some(agent()),
            resources: vec![cpus(1.0)],
        }]),
        calls::suppress(vec![]),
        calls::update_framework(framework_info()),
    ];
    for call in &mut calls {
        call.framework_id = Some(FrameworkId {
            value: "fw-1".into(),
        });
    }
    calls
}

fn status(state: TaskState) -> TaskStatus {
    TaskStatus {
        task_id: task(),
        state: state as i32,
        message: Some("Command exited with status 1".into()),
        source: Some(task_status::Source::Executor as i32),
        reason: Some(task_status::Reason::CommandExecutorFailed as i32),
        agent_id: Some(agent()),
        timestamp: Some(1_700_000_000.25),
        uuid: Some(Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef])),
        healthy: Some(false),
        ..Default::default()
    }
}

fn event(event_type: event::Type) -> Event {
    Event {
        r#type: Some(event_type as i32),
        ..Default::default()
    }
}

/// One event of every type, with its payload.
fn every_event() -> Vec<Event> {
    let offer = Offer {
        id: offer_id(),
        framework_id: FrameworkId {
            value: "fw-1".into(),
        },
        agent_id: agent(),
        hostname: "agent1.example".into(),
        resources: vec![cpus(2.0)],
        ..Default::default()
    };
    vec![
        Event {
            subscribed: Some(event::Subscribed {
                framework_id: FrameworkId {
                    value: "fw-1".into(),
                },
                heartbeat_interval_seconds: Some(15.0),
                master_info: Some(MasterInfo {
                    id: "master-1".into(),
                    ip: 33819146,
                    port: 5050,
                    hostname: Some("master".into()),
                    ..Default::default()
                }),
            }),
            ..event(event::Type::Subscribed)
        },
        Event {
            offers: Some(event::Offers {
                offers: vec![offer],
            }),
            ..event(event::Type::Offers)
        },
        Event {
            inverse_offers: Some(event::InverseOffers {
                inverse_offers: vec![InverseOffer {
                    id: offer_id(),
                    framework_id: FrameworkId {
                        value: "fw-1".into(),
                    },
                    agent_id: Some(agent()),
                    ..Default::default()
                }],
            }),
            ..event(event::Type::InverseOffers)
        },
        Event {
            rescind: Some(event::Rescind {
                offer_id: offer_id(),
            }),
            ..event(event::Type::Rescind)
        },
        Event {
            rescind_inverse_offer: Some(event::RescindInverseOffer {
                inverse_offer_id: offer_id(),
            }),
            ..event(event::Type::RescindInverseOffer)
        },
        Event {
            update: Some(event::Update {
                status: status(TaskState::TaskFailed),
            }),
            ..event(event::Type::Update)
        },
        Event {
            update_operation_status: Some(event::UpdateOperationStatus {
                status: OperationStatus {
                    operation_id: Some(OperationId { value: "op".into() }),
                    state: OperationState::OperationFinished as i32,
                    uuid: Some(Uuid {
                        value: Bytes::from_static(b"0123456789abcdef"),
                    }),
                    ..Default::default()
                },
            }),
            ..event(event::Type::UpdateOperationStatus)
        },
        Event {
            message: Some(event::Message {
                agent_id: agent(),
                executor_id: executor(),
                data: Bytes::from_static(b"\x00binary\xff"),
            }),
            ..event(event::Type::Message)
        },
        Event {
            failure: Some(event::Failure {
                agent_id: Some(agent()),
                executor_id: Some(executor()),
                status: Some(1),
            }),
            ..event(event::Type::Failure)
        },
        Event {
            error: Some(event::Error {
                message: "Framework has been removed".into(),
            }),
            ..event(event::Type::Error)
        },
        event(event::Type::Heartbeat),
    ]
}

/// Every value of an enum, found by probing `TryFrom<i32>` (so a value
/// added to the .proto without a sample here makes the test fail).
fn enum_values<E: TryFrom<i32>>() -> Vec<E> {
    (0..64).filter_map(|n| E::try_from(n).ok()).collect()
}

#[test]
fn there_is_a_sample_of_every_call_type() {
    let covered: Vec<call::Type> = every_call().iter().map(Call::r#type).collect();
    for call_type in enum_values::<call::Type>() {
        if call_type != call::Type::Unknown {
            assert!(
                covered.contains(&call_type),
                "no sample call of type {call_type:?}"
            );
        }
    }
    assert_eq!(
        enum_values::<call::Type>().len(),
        18,
        "Mesos 1.11 has 17 call types and UNKNOWN"
    );
}

#[test]
fn there_is_a_sample_of_every_event_type() {
    let covered: Vec<event::Type> = every_event().iter().map(Event::r#type).collect();
    for event_type in enum_values::<event::Type>() {
        if event_type != event::Type::Unknown {
            assert!(
                covered.contains(&event_type),
                "no sample event of type {event_type:?}"
            );
        }
    }
    assert_eq!(
        enum_values::<event::Type>().len(),
        12,
        "Mesos 1.11 has 11 event types and UNKNOWN"
    );
}

#[test]
fn calls_round_trip_in_both_formats() {
    for call in every_call() {
        for format in [ContentType::Protobuf, ContentType::Json] {
            let bytes = codec::encode(&call, format);
            let back: Call = codec::decode(&bytes, format).unwrap();
            assert_eq!(back, call, "{:?} in {format:?}", call.r#type());
        }
    }
}

#[test]
fn events_round_trip_in_both_formats() {
    for event in every_event() {
        for format in [ContentType::Protobuf, ContentType::Json] {
            let bytes = codec::encode(&event, format);
            let back: Event = codec::decode(&bytes, format).unwrap();
            assert_eq!(back, event, "{:?} in {format:?}", event.r#type());
        }
    }
}

#[test]
fn json_uses_mesos_field_names_enum_names_and_base64() {
    let ack = calls::acknowledge(agent(), task(), Bytes::from_static(&[0, 1, 2, 250, 255]));
    let json: Value = serde_json::from_str(&codec::to_json(&ack)).unwrap();
    assert_eq!(
        json,
        json!({
            "type": "ACKNOWLEDGE",
            "acknowledge": {
                "agent_id": {"value": "agent-1"},
                "task_id": {"value": "task-1"},
                "uuid": "AAEC+v8="
            }
        })
    );
    let subscribe = calls::subscribe(framework_info());
    let json: Value = serde_json::from_str(&codec::to_json(&subscribe)).unwrap();
    assert_eq!(json["framework_id"]["value"], "fw-1");
    assert_eq!(
        json["subscribe"]["framework_info"]["failover_timeout"],
        604800.0
    );
    assert_eq!(
        json["subscribe"]["framework_info"]["webui_url"],
        "http://localhost:8088"
    );
}

#[test]
fn json_64_bit_integers_are_numbers() {
    // Mesos writes uint64 range bounds as JSON numbers, not strings.
    let ports = Resource {
        name: "ports".into(),
        r#type: mesos::v1::value::Type::Ranges as i32,
        ranges: Some(value::Ranges {
            range: vec![value::Range {
                begin: 31000,
                end: 32000,
            }],
        }),
        ..Default::default()
    };
    let json: Value = serde_json::from_str(&codec::to_json(&ports)).unwrap();
    assert_eq!(
        json["ranges"]["range"][0],
        json!({"begin": 31000, "end": 32000})
    );
    assert_eq!(json["type"], "RANGES");
}

#[test]
fn decodes_json_as_a_real_master_writes_it() {
    // Trimmed from a Mesos 1.11 master's event stream, with a field this
    // crate does not know ("future_field"), which must be skipped.
    let json = br#"{
        "type": "UPDATE",
        "update": {"status": {
            "task_id": {"value": "hello-1"},
            "state": "TASK_RUNNING",
            "source": "SOURCE_EXECUTOR",
            "agent_id": {"value": "a5f3-S0"},
            "executor_id": {"value": "hello-1"},
            "timestamp": 1700000000.123,
            "uuid": "3q2+7w==",
            "container_status": {"container_id": {"value": "c1"}},
            "future_field": {"anything": [1, 2, 3]}
        }}
    }"#;
    let event: Event = codec::decode(json, ContentType::Json).unwrap();
    let status = event.update.unwrap().status;
    assert_eq!(status.state(), TaskState::TaskRunning);
    assert_eq!(status.uuid.unwrap().as_ref(), &[0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(status.agent_id.unwrap().value, "a5f3-S0");
}

#[test]
fn malformed_events_are_clear_errors() {
    let cases: [(&[u8], &str); 4] = [
        (
            br#"{"type": "UPDATE", "update": {"status": {"task_id": {"value": "t"}, "state": "TASK_BOGUS"}}}"#,
            "unknown value \"TASK_BOGUS\" for required field mesos.v1.TaskStatus.state",
        ),
        (br#"{"type": "UPDATE", "update": {"status": {"state": 5.5}}}"#, "mesos.v1.scheduler.Event"),
        (b"{\"type\": 42", "mesos.v1.scheduler.Event"),
        (b"[]", "mesos.v1.scheduler.Event"),
    ];
    for (json, expected) in cases {
        let error = codec::decode::<Event>(json, ContentType::Json).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }
    let error = codec::decode::<Event>(&[0xff, 0xff, 0xff], ContentType::Protobuf).unwrap_err();
    assert!(error.to_string().contains("Event"), "{error}");
}

#[test]
fn unknown_values_of_optional_enums_are_skipped() {
    let json = br#"{"type": "UPDATE", "update": {"status": {
        "task_id": {"value": "t"}, "state": "TASK_LOST", "reason": "REASON_FROM_THE_FUTURE"}}}"#;
    let event: Event = codec::decode(json, ContentType::Json).unwrap();
    let status = event.update.unwrap().status;
    assert_eq!(status.state(), TaskState::TaskLost);
    assert_eq!(status.reason, None);
    // An unknown event type is optional too: it decodes as UNKNOWN, which a
    // scheduler can ignore, instead of failing the whole stream.
    let event: Event = codec::decode(br#"{"type": "NEW_EVENT_TYPE"}"#, ContentType::Json).unwrap();
    assert_eq!(event.r#type(), event::Type::Unknown);
}

#[test]
fn acknowledge_update_only_for_reliable_updates() {
    let reliable = status(TaskState::TaskRunning);
    let ack = calls::acknowledge_update(&reliable).unwrap();
    let acknowledge = ack.acknowledge.unwrap();
    assert_eq!(acknowledge.uuid, reliable.uuid.unwrap());
    assert_eq!(acknowledge.task_id, task());
    let reconciliation = TaskStatus {
        uuid: None,
        ..status(TaskState::TaskLost)
    };
    assert!(calls::acknowledge_update(&reconciliation).is_none());
}
