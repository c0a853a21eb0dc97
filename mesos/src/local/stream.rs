//! Subscription streams: how events travel from the master to a framework.
//!
//! The answer to SUBSCRIBE is an HTTP response that never ends while the
//! framework is subscribed. The master writes each event into it as a
//! RecordIO record (`<length>\n<event>`), encoded as the framework asked
//! in its `Accept` header. Here the master holds the sending half of a
//! channel ([`EventStream`]) and the HTTP response body ([`EventBody`])
//! drains the receiving half, so the master never waits on a slow socket.
//!
//! Either side may end a subscription, and the other must notice:
//!
//! * the master drops its [`EventStream`] (framework failed over, torn
//!   down, or a fault closes it): the body ends and hyper finishes the
//!   chunked response, which the framework sees as the stream closing;
//! * the framework goes away: hyper drops the body, whose `Drop` tells
//!   the master, which then marks the framework disconnected and starts
//!   its failover timeout, as Mesos does when the connection closes.
//!
//! Every stream also gets a heartbeater that sends HEARTBEAT events at the
//! interval announced in SUBSCRIBED, so frameworks can tell a quiet master
//! from a dead connection.

use std::{
    convert::Infallible,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use hyper::body::{Body, Frame};
use prost::{Message, Name};
use tokio::sync::mpsc;

use super::{faults::FaultState, master::Command};
use crate::{
    codec::{self, ContentType},
    recordio,
    v1::{
        AgentId, MasterInfo, Offer, OfferId, OperationStatus, TaskStatus,
        scheduler::{Event, event},
    },
};

/// The master's end of one subscription.
#[derive(Debug)]
pub(crate) struct EventStream {
    /// The `Mesos-Stream-Id` of this subscription.
    pub id: String,
    format: ContentType,
    sender: mpsc::UnboundedSender<Bytes>,
}

impl EventStream {
    /// A new stream; the receiver becomes the HTTP response body.
    pub(crate) fn open(format: ContentType) -> (EventStream, mpsc::UnboundedReceiver<Bytes>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let stream = EventStream {
            id: uuid::Uuid::new_v4().to_string(),
            format,
            sender,
        };
        (stream, receiver)
    }

    /// Queues an event. False if the framework's connection is gone.
    pub(crate) fn send(&self, event: &Event) -> bool {
        self.send_message(event)
    }

    /// Queues any message as a record: executor streams carry
    /// `mesos.v1.executor.Event`s. False if the connection is gone.
    pub(crate) fn send_message<M: Message + Name>(&self, message: &M) -> bool {
        self.sender.send(frame(message, self.format)).is_ok()
    }

    /// Queues an event after `delay` (fault injection: a slow network).
    pub(crate) fn send_later(&self, event: &Event, delay: Duration) {
        let record = frame(event, self.format);
        let sender = self.sender.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = sender.send(record);
        });
    }

    /// Starts sending HEARTBEAT events every `interval` (unless the
    /// `stop_heartbeats` fault is on). The heartbeater holds only a weak
    /// reference, so it ends when the master closes the stream.
    pub(crate) fn start_heartbeats(&self, interval: Duration, faults: Arc<FaultState>) {
        self.start_heartbeats_of(&heartbeat(), interval, faults);
    }

    /// Sends `heartbeat` every `interval`, as [`Self::start_heartbeats`]
    /// does with the scheduler API's HEARTBEAT.
    pub(crate) fn start_heartbeats_of<M: Message + Name>(
        &self,
        heartbeat: &M,
        interval: Duration,
        faults: Arc<FaultState>,
    ) {
        let weak = self.sender.downgrade();
        let record = frame(heartbeat, self.format);
        tokio::spawn(async move {
            let start = tokio::time::Instant::now() + interval;
            let mut ticks = tokio::time::interval_at(start, interval);
            // A late tick is not made up for with a burst of heartbeats.
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(sender) = weak.upgrade() else { return };
                if faults.heartbeats_stopped() {
                    continue;
                }
                if sender.send(record.clone()).is_err() {
                    return;
                }
            }
        });
    }
}

/// An event as it goes on the wire: encoded, then framed as a record.
pub(crate) fn frame<M: Message + Name>(event: &M, format: ContentType) -> Bytes {
    recordio::encode(&codec::encode(event, format))
}

/// The body of a SUBSCRIBE response: the records the master queues.
pub(crate) struct EventBody {
    records: mpsc::UnboundedReceiver<Bytes>,
    /// Who to tell when the body is dropped: (master, framework ID, stream ID).
    on_close: Option<(mpsc::UnboundedSender<Command>, String, String)>,
}

impl EventBody {
    pub(crate) fn new(
        records: mpsc::UnboundedReceiver<Bytes>,
        on_close: Option<(mpsc::UnboundedSender<Command>, String, String)>,
    ) -> Self {
        EventBody { records, on_close }
    }
}

impl Body for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.records
            .poll_recv(cx)
            .map(|record| record.map(|bytes| Ok(Frame::data(bytes))))
    }
}

impl Drop for EventBody {
    fn drop(&mut self) {
        if let Some((master, framework_id, stream_id)) = self.on_close.take() {
            let _ = master.send(Command::StreamClosed {
                framework_id,
                stream_id,
            });
        }
    }
}

fn event(kind: event::Type) -> Event {
    Event {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

pub(crate) fn subscribed(framework_id: &str, heartbeat: Duration, master: MasterInfo) -> Event {
    Event {
        subscribed: Some(event::Subscribed {
            framework_id: crate::v1::FrameworkId {
                value: framework_id.to_string(),
            },
            heartbeat_interval_seconds: Some(heartbeat.as_secs_f64()),
            master_info: Some(master),
        }),
        ..event(event::Type::Subscribed)
    }
}

pub(crate) fn heartbeat() -> Event {
    event(event::Type::Heartbeat)
}

pub(crate) fn error(message: &str) -> Event {
    Event {
        error: Some(event::Error {
            message: message.to_string(),
        }),
        ..event(event::Type::Error)
    }
}

pub(crate) fn offers(offers: Vec<Offer>) -> Event {
    Event {
        offers: Some(event::Offers { offers }),
        ..event(event::Type::Offers)
    }
}

pub(crate) fn rescind(offer_id: &str) -> Event {
    Event {
        rescind: Some(event::Rescind {
            offer_id: OfferId {
                value: offer_id.to_string(),
            },
        }),
        ..event(event::Type::Rescind)
    }
}

pub(crate) fn update(status: TaskStatus) -> Event {
    Event {
        update: Some(event::Update { status }),
        ..event(event::Type::Update)
    }
}

pub(crate) fn operation_update(status: OperationStatus) -> Event {
    Event {
        update_operation_status: Some(event::UpdateOperationStatus { status }),
        ..event(event::Type::UpdateOperationStatus)
    }
}

/// FAILURE for a lost agent (Mesos' `sendSlaveLost`).
pub(crate) fn agent_lost(agent_id: &str) -> Event {
    Event {
        failure: Some(event::Failure {
            agent_id: Some(AgentId {
                value: agent_id.to_string(),
            }),
            executor_id: None,
            status: None,
        }),
        ..event(event::Type::Failure)
    }
}
