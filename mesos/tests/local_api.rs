//! The simulated master's scheduler API: formats, status codes, streams,
//! heartbeats and the state endpoints, as Mesos 1.11 does them.

mod local_support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use local_support::*;
use mesos::{
    Error, calls,
    codec::{self, ContentType},
    local::{LocalMasterConfig, MESOS_VERSION},
    recordio::RecordStream,
    v1::{
        self, FrameworkId,
        scheduler::{Event, event},
    },
};

#[tokio::test]
async fn subscribe_gets_subscribed_then_offers_in_protobuf_and_json() {
    let master = start(config()).await;
    for format in [ContentType::Protobuf, ContentType::Json] {
        let framework =
            Framework::subscribe_with(&master, framework_info("formats", &[], 0.0), format).await;
        let subscribed = framework.events()[0].clone();
        assert_eq!(subscribed.r#type(), event::Type::Subscribed, "{format:?}");
        let subscribed = subscribed.subscribed.unwrap();
        assert!(subscribed.framework_id.value.starts_with(master.id()));
        assert_eq!(subscribed.heartbeat_interval_seconds, Some(15.0));
        let info = subscribed.master_info.unwrap();
        assert_eq!(info.id, master.id());
        assert_eq!(info.version.as_deref(), Some(MESOS_VERSION));
        assert_eq!(info.port, u32::from(master.addr().port));
        assert_eq!(info.ip, u32::from_le_bytes([127, 0, 0, 1]));

        // Each agent's whole resources, one offer per agent.
        let mut offers = framework.offers().await;
        while offers.len() < 2 {
            offers.extend(framework.offers().await);
        }
        let mut agents: Vec<String> = offers.iter().map(|o| o.agent_id.value.clone()).collect();
        agents.sort();
        assert_eq!(
            agents,
            [format!("{}-S0", master.id()), format!("{}-S1", master.id())]
        );
        for offer in &offers {
            assert_eq!(offered(offer), full_agent());
            assert_eq!(offer.framework_id.value, framework.id);
            assert_eq!(offer.hostname, "127.0.0.1");
            assert!(offer.id.value.starts_with(&format!("{}-O", master.id())));
        }
        framework.call(calls::teardown()).await;
    }
}

#[tokio::test]
async fn events_are_json_unless_the_client_asks_for_protobuf() {
    let master = start(config()).await;
    let subscribe = calls::subscribe(framework_info("raw", &[], 0.0));
    for (accept, expected) in [
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (Some("application/x-protobuf"), "application/x-protobuf"),
    ] {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(accept) = accept {
            headers.push(("Accept", accept));
        }
        let raw = post(
            &master,
            &headers,
            codec::encode(&subscribe, ContentType::Json),
        )
        .await;
        assert_eq!(raw.status, StatusCode::OK);
        assert_eq!(raw.headers["content-type"], expected);
        let stream_id = raw.headers["mesos-stream-id"].to_str().unwrap().to_string();
        assert_eq!(stream_id.len(), 36, "a UUID");
        let mut records = RecordStream::new(raw.body, 1 << 20);
        let first = records.next().await.unwrap().unwrap();
        let format = ContentType::from_media_type(expected).unwrap();
        let event: Event = codec::decode(&first, format).unwrap();
        assert_eq!(event.r#type(), event::Type::Subscribed);
    }
}

#[tokio::test]
async fn malformed_requests_get_mesos_errors() {
    let master = start(config()).await;
    let json = [("Content-Type", "application/json")];
    /// Request headers, body, expected status and start of the message.
    type Case<'a> = (Vec<(&'a str, &'a str)>, Bytes, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            json.to_vec(),
            Bytes::from("{not json"),
            StatusCode::BAD_REQUEST,
            "Failed to parse body into JSON",
        ),
        (
            vec![("Content-Type", "application/x-protobuf")],
            Bytes::from_static(b"\xff\xff\xff\xff"),
            StatusCode::BAD_REQUEST,
            "Failed to parse body into Call protobuf",
        ),
        (
            json.to_vec(),
            Bytes::from(r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}}"#),
            StatusCode::BAD_REQUEST,
            "Failed to convert JSON into Call protobuf: Missing required fields: subscribe.framework_info.user",
        ),
        (
            json.to_vec(),
            Bytes::from("{}"),
            StatusCode::BAD_REQUEST,
            "Failed to validate scheduler::Call: Expecting 'type' to be present",
        ),
        (
            json.to_vec(),
            Bytes::from(r#"{"type":"SUBSCRIBE"}"#),
            StatusCode::BAD_REQUEST,
            "Failed to validate scheduler::Call: Expecting 'subscribe' to be present",
        ),
        (
            json.to_vec(),
            Bytes::from(r#"{"type":"DECLINE","decline":{}}"#),
            StatusCode::BAD_REQUEST,
            "Failed to validate scheduler::Call: Expecting 'framework_id' to be present",
        ),
        (
            vec![],
            Bytes::from("{}"),
            StatusCode::BAD_REQUEST,
            "Expecting 'Content-Type' to be present",
        ),
        (
            vec![("Content-Type", "text/plain")],
            Bytes::from("{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expecting 'Content-Type' of application/json or application/x-protobuf",
        ),
    ];
    for (headers, body, status, message) in cases {
        let raw = post(&master, &headers, body.clone()).await;
        assert_eq!(raw.status, status, "{body:?}");
        let text = raw.text().await;
        assert!(text.starts_with(message), "{body:?}: {text}");
    }

    // SUBSCRIBE must not carry a stream ID, and needs an acceptable format.
    let subscribe = codec::encode(
        &calls::subscribe(framework_info("x", &[], 0.0)),
        ContentType::Json,
    );
    let raw = post(
        &master,
        &[json[0], ("Mesos-Stream-Id", "abc")],
        subscribe.clone(),
    )
    .await;
    assert_eq!(raw.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        raw.text().await,
        "Subscribe calls should not include the 'Mesos-Stream-Id' header"
    );
    let raw = post(&master, &[json[0], ("Accept", "text/html")], subscribe).await;
    assert_eq!(raw.status, StatusCode::NOT_ACCEPTABLE);

    let raw = request(&master, "GET", "/api/v1/scheduler", &[], Bytes::new()).await;
    assert_eq!(raw.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(raw.headers["allow"], "POST");
    assert_eq!(master.state().frameworks.len(), 0, "nothing was registered");
}

#[tokio::test]
async fn content_type_must_be_exactly_json_or_protobuf_as_in_mesos() {
    let master = start(config()).await;
    let subscribe = calls::subscribe(framework_info("picky", &[], 0.0));
    let json = codec::encode(&subscribe, ContentType::Json);
    // Valid media types, but Mesos 1.11 compares the header as a string.
    for content_type in [
        "application/json; charset=utf-8",
        "application/json;charset=utf-8",
        "Application/JSON",
        "APPLICATION/X-PROTOBUF",
        "application/x-protobuf; proto=mesos.v1.scheduler.Call",
    ] {
        let raw = post(&master, &[("Content-Type", content_type)], json.clone()).await;
        assert_eq!(
            raw.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
        assert_eq!(
            raw.text().await,
            "Expecting 'Content-Type' of application/json or application/x-protobuf",
            "{content_type}"
        );
    }
    let raw = post(&master, &[], json.clone()).await;
    assert_eq!(raw.status, StatusCode::BAD_REQUEST);
    assert_eq!(raw.text().await, "Expecting 'Content-Type' to be present");
    assert!(
        master.state().frameworks.is_empty(),
        "nothing was registered"
    );

    let raw = post(&master, &[("Content-Type", "application/json")], json).await;
    assert_eq!(raw.status, StatusCode::OK);
    let protobuf = codec::encode(&subscribe, ContentType::Protobuf);
    let raw = post(
        &master,
        &[("Content-Type", "application/x-protobuf")],
        protobuf,
    )
    .await;
    assert_eq!(raw.status, StatusCode::OK);
}

#[tokio::test]
async fn calls_need_a_subscribed_framework_and_its_stream_id() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("calls", &[], 60.0)).await;
    let call_for = |framework_id: &str| {
        let mut call = calls::revive(vec![]);
        call.framework_id = Some(FrameworkId {
            value: framework_id.into(),
        });
        codec::encode(&call, ContentType::Json)
    };
    let json = ("Content-Type", "application/json");

    let raw = post(
        &master,
        &[json, ("Mesos-Stream-Id", &framework.stream_id)],
        call_for("nope"),
    )
    .await;
    assert_eq!(raw.status, StatusCode::BAD_REQUEST);
    assert_eq!(raw.text().await, "Framework cannot be found");

    // Mesos answers 400, not 403, for a missing or wrong stream ID.
    let raw = post(&master, &[json], call_for(&framework.id)).await;
    assert_eq!(raw.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        raw.text().await,
        "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
    );
    let raw = post(
        &master,
        &[json, ("Mesos-Stream-Id", "stale")],
        call_for(&framework.id),
    )
    .await;
    assert_eq!(raw.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        raw.text().await,
        format!(
            "The stream ID 'stale' included in this request didn't match the stream ID \
             currently associated with framework ID {}",
            framework.id
        )
    );
    let raw = post(
        &master,
        &[json, ("Mesos-Stream-Id", &framework.stream_id)],
        call_for(&framework.id),
    )
    .await;
    assert_eq!(raw.status, StatusCode::ACCEPTED);

    // Once its stream is gone the framework is known but not subscribed: 403.
    let framework_id = framework.id.clone();
    let stream_id = framework.stream_id.clone();
    let client = framework.disconnect();
    master
        .wait_for(
            |s| s.framework(&framework_id).is_some_and(|f| !f.connected),
            WAIT,
        )
        .await
        .unwrap();
    let raw = post(
        &master,
        &[json, ("Mesos-Stream-Id", &stream_id)],
        call_for(&framework_id),
    )
    .await;
    assert_eq!(raw.status, StatusCode::FORBIDDEN);
    assert_eq!(raw.text().await, "Framework is not subscribed");
    let error = client.call(calls::revive(vec![])).await.unwrap_err();
    assert!(matches!(error, Error::Forbidden(m) if m == "Framework is not subscribed"));
}

#[tokio::test]
async fn a_second_subscribe_takes_over_from_the_first_stream() {
    let master = start(config()).await;
    let first = Framework::subscribe(&master, framework_info("failover", &[], 60.0)).await;
    let mut info = framework_info("failover", &[], 60.0);
    info.id = Some(FrameworkId {
        value: first.id.clone(),
    });
    let second = Framework::subscribe(&master, info).await;
    assert_eq!(second.id, first.id);
    assert_ne!(second.stream_id, first.stream_id);

    let error = first
        .wait("ERROR", |e| e.r#type() == event::Type::Error)
        .await;
    assert_eq!(error.error.unwrap().message, "Framework failed over");
    first.wait_ended().await;
    // The first client's stream ID is stale now.
    let error = first.client.call(calls::revive(vec![])).await.unwrap_err();
    assert!(matches!(error, Error::BadRequest(m) if m.contains("didn't match the stream ID")));
    second.call(calls::revive(vec![])).await;
    let state = master.state();
    assert!(state.framework(&second.id).unwrap().connected);
}

#[tokio::test]
async fn heartbeats_arrive_at_the_configured_interval() {
    let interval = Duration::from_millis(100);
    let master = start(LocalMasterConfig {
        heartbeat_interval: interval,
        ..config()
    })
    .await;
    let framework = Framework::subscribe(&master, framework_info("heartbeats", &[], 0.0)).await;
    let subscribed = framework.events()[0].subscribed.clone().unwrap();
    assert_eq!(subscribed.heartbeat_interval_seconds, Some(0.1));
    let is_heartbeat = |e: &Event| e.r#type() == event::Type::Heartbeat;
    framework.wait("HEARTBEAT", is_heartbeat).await;
    let started = Instant::now();
    for _ in 0..5 {
        framework.wait("HEARTBEAT", is_heartbeat).await;
    }
    let elapsed = started.elapsed();
    // Five intervals; generous bounds for a busy machine.
    assert!(elapsed >= interval * 4, "5 heartbeats in {elapsed:?}");
    assert!(elapsed <= interval * 20, "5 heartbeats took {elapsed:?}");
}

#[tokio::test]
async fn state_endpoints_describe_the_cluster() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("stateful", &[], 0.0)).await;
    let offer = framework.offer_for("-S1", |_| true).await;
    let task = command_task("sleeper", &offer.agent_id, "sleep 30", "cpus:0.5;mem:64");
    framework.launch(&offer, vec![task]).await;
    framework
        .follow("sleeper", v1::TaskState::TaskRunning)
        .await;

    let state = get_json(&master, "/master/state").await;
    let address = format!("127.0.0.1:{}", master.addr().port);
    assert_eq!(state["version"], "1.11.0");
    assert_eq!(state["id"], master.id());
    assert_eq!(state["leader"], format!("master@{address}"));
    assert_eq!(state["activated_slaves"], 2);
    let slaves = state["slaves"].as_array().unwrap();
    assert_eq!(slaves.len(), 2);
    assert_eq!(slaves[1]["id"], offer.agent_id.value);
    assert_eq!(slaves[1]["pid"], format!("slave(2)@{address}"));
    assert_eq!(slaves[1]["hostname"], "127.0.0.1");
    assert_eq!(slaves[1]["resources"]["cpus"], 2.0);
    assert_eq!(slaves[1]["resources"]["mem"], 2048.0);
    assert_eq!(slaves[1]["resources"]["ports"], "[31000-32000]");
    let frameworks = state["frameworks"].as_array().unwrap();
    assert_eq!(frameworks.len(), 1);
    assert_eq!(frameworks[0]["id"], framework.id);
    assert_eq!(frameworks[0]["name"], "stateful");
    assert_eq!(frameworks[0]["active"], true);
    let task = &frameworks[0]["tasks"][0];
    assert_eq!(task["id"], "sleeper");
    assert_eq!(task["name"], "task sleeper");
    assert_eq!(task["state"], "TASK_RUNNING");
    assert_eq!(task["slave_id"], offer.agent_id.value);
    assert_eq!(task["framework_id"], framework.id);
    assert_eq!(task["resources"]["cpus"], 0.5);
    assert_eq!(task["resources"]["mem"], 64.0);
    assert_eq!(get_json(&master, "/state").await["id"], master.id());

    // The agent's own endpoint, at the path its PID names.
    let agent = get_json(&master, "/slave(2)/state").await;
    assert_eq!(agent["id"], offer.agent_id.value);
    assert_eq!(agent["pid"], format!("slave(2)@{address}"));
    let executor = &agent["frameworks"][0]["executors"][0];
    assert_eq!(executor["id"], "sleeper");
    let sandbox = master
        .state()
        .task("sleeper")
        .unwrap()
        .sandbox
        .clone()
        .unwrap();
    assert_eq!(executor["directory"], sandbox.display().to_string());
    assert!(sandbox.join("stdout").exists());
    let raw = request(&master, "GET", "/slave(9)/state", &[], Bytes::new()).await;
    assert_eq!(raw.status, StatusCode::NOT_FOUND);
    let raw = request(&master, "GET", "/health", &[], Bytes::new()).await;
    assert_eq!(raw.status, StatusCode::OK);
}

#[tokio::test]
async fn the_other_calls_are_answered_as_mesos_does() {
    use mesos::v1::{OperationId, OperationState, scheduler::event::Type};
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("misc", &[], 0.0)).await;
    let agent = master.state().agents[0].id.clone();
    let agent_id = v1::AgentId {
        value: agent.clone(),
    };

    // Accepted, and nothing happens: no inverse offers exist, the
    // allocator ignores requests, the executors ignore messages, and no
    // operation asked for feedback.
    let bogus = vec![v1::OfferId {
        value: "none".into(),
    }];
    framework
        .call(calls::accept_inverse_offers(bogus.clone(), None))
        .await;
    framework
        .call(calls::decline_inverse_offers(bogus, None))
        .await;
    framework.call(calls::request(vec![])).await;
    framework
        .call(calls::message(
            agent_id.clone(),
            v1::ExecutorId { value: "e".into() },
            Bytes::from_static(b"hi"),
        ))
        .await;
    framework
        .call(calls::acknowledge_operation_status(
            Some(agent_id.clone()),
            OperationId { value: "op".into() },
            Bytes::from(vec![7; 16]),
        ))
        .await;

    // Operations nobody knows are reported as such.
    framework
        .call(calls::reconcile_operations(vec![
            (
                OperationId {
                    value: "op1".into(),
                },
                Some(agent_id.clone()),
            ),
            (
                OperationId {
                    value: "op2".into(),
                },
                None,
            ),
        ]))
        .await;
    for (id, message) in [
        ("op1", "Reconciliation: Operation is unknown"),
        (
            "op2",
            "Reconciliation: Operation is unknown and no 'agent_id' was provided",
        ),
    ] {
        let event = framework
            .wait(id, |e| {
                e.r#type() == Type::UpdateOperationStatus
                    && e.update_operation_status
                        .as_ref()
                        .unwrap()
                        .status
                        .operation_id
                        == Some(OperationId { value: id.into() })
            })
            .await;
        let status = event.update_operation_status.unwrap().status;
        assert_eq!(status.state(), OperationState::OperationUnknown);
        assert_eq!(status.message.as_deref(), Some(message));
    }

    // UPDATE_FRAMEWORK answers 200 and changes what the master shows…
    let mut info = framework_info("renamed", &[], 0.0);
    info.id = Some(FrameworkId {
        value: framework.id.clone(),
    });
    let body = framework
        .client
        .call(calls::update_framework(info.clone()))
        .await
        .unwrap();
    assert_eq!(body.as_deref(), Some(&b""[..]), "200 OK, empty");
    assert_eq!(
        master.state().framework(&framework.id).unwrap().info.name,
        "renamed"
    );
    // …but not the user.
    info.user = "someone-else".into();
    let error = framework
        .client
        .call(calls::update_framework(info))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::BadRequest(m) if m.contains("'FrameworkInfo.user'")));
}
