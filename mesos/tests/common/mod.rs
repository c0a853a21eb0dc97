//! A scriptable HTTP server that plays a Mesos master in client tests.
//!
//! Each test decides how the "master" answers each call (a stream, a 307,
//! an error), and afterwards inspects what the client sent: headers, the
//! decoded call, and which TCP connection carried it.

#![allow(dead_code)]

use std::{
    collections::VecDeque,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::{body::Frame, service::service_fn};
use hyper_util::rt::TokioIo;
use mesos::{
    codec::{self, ContentType},
    recordio,
    v1::{
        FrameworkId,
        scheduler::{Call, Event, event},
    },
};
use tokio::{net::TcpListener, sync::mpsc};

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Which TCP connection (numbered from 0 in accept order) carried it.
    pub connection: usize,
    pub path: String,
    pub headers: HeaderMap,
    pub call: Call,
}

/// How the server answers a request.
pub enum Reply {
    /// `200 OK` with `Mesos-Stream-Id`, these events, then the stream
    /// stays open while `keep_open` (a silent master), or ends.
    Stream {
        stream_id: String,
        events: Vec<Event>,
        keep_open: bool,
    },
    /// A status with a text body (202 for an accepted call).
    Status(StatusCode, String),
    /// `307 Temporary Redirect` to this `Location`.
    Redirect(String),
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

pub struct TestMaster {
    pub addr: SocketAddr,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    /// Senders of streams kept open, so tests can push more events.
    open_streams: Arc<Mutex<Vec<mpsc::UnboundedSender<Bytes>>>>,
}

impl TestMaster {
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> TestMaster {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let open_streams = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let connections = Arc::new(AtomicUsize::new(0));
        {
            let recorded = recorded.clone();
            let open_streams = open_streams.clone();
            tokio::spawn(async move {
                loop {
                    let (socket, _) = listener.accept().await.unwrap();
                    let connection = connections.fetch_add(1, Ordering::SeqCst);
                    let handler = handler.clone();
                    let recorded = recorded.clone();
                    let open_streams = open_streams.clone();
                    tokio::spawn(async move {
                        let service =
                            service_fn(move |request: http::Request<hyper::body::Incoming>| {
                                let handler = handler.clone();
                                let recorded = recorded.clone();
                                let open_streams = open_streams.clone();
                                async move {
                                    let (parts, body) = request.into_parts();
                                    let body = body.collect().await?.to_bytes();
                                    let format = parts
                                        .headers
                                        .get(http::header::CONTENT_TYPE)
                                        .and_then(|v| v.to_str().ok())
                                        .and_then(ContentType::from_media_type)
                                        .unwrap_or(ContentType::Json);
                                    let call: Call = codec::decode(&body, format)
                                        .expect("client sent a valid call");
                                    let request = Recorded {
                                        connection,
                                        path: parts.uri.path().to_string(),
                                        headers: parts.headers.clone(),
                                        call,
                                    };
                                    recorded.lock().unwrap().push(request.clone());
                                    let reply = handler(&request);
                                    Ok::<_, hyper::Error>(respond(reply, format, &open_streams))
                                }
                            });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(socket), service)
                            .await;
                    });
                }
            });
        }
        TestMaster {
            addr,
            recorded,
            open_streams,
        }
    }

    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    pub fn master_addr(&self) -> mesos::MasterAddr {
        mesos::MasterAddr::new(mesos::master::Scheme::Http, "127.0.0.1", self.addr.port())
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }

    /// Sends an event on every open stream.
    pub fn push_event(&self, event: &Event) {
        let record = recordio::encode(&codec::encode(event, ContentType::Protobuf));
        for stream in self.open_streams.lock().unwrap().iter() {
            let _ = stream.send(record.clone());
        }
    }

    /// Sends raw bytes on every open stream: a record of our own making.
    pub fn push_raw(&self, bytes: &[u8]) {
        for stream in self.open_streams.lock().unwrap().iter() {
            let _ = stream.send(Bytes::copy_from_slice(bytes));
        }
    }

    /// How many SUBSCRIBE calls arrived so far.
    pub fn subscribes(&self) -> Vec<Recorded> {
        self.recorded()
            .into_iter()
            .filter(|r| is_subscribe(&r.call))
            .collect()
    }

    /// Closes every stream still open, as a master that crashed would.
    pub fn drop_streams(&self) {
        self.open_streams.lock().unwrap().clear();
    }

    /// Waits until `count` requests have arrived.
    pub async fn wait_for_requests(&self, count: usize, within: Duration) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let recorded = self.recorded();
            if recorded.len() >= count {
                return recorded;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {count} requests within {within:?}, got {}: {recorded:#?}",
                recorded.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn respond(
    reply: Reply,
    format: ContentType,
    open_streams: &Mutex<Vec<mpsc::UnboundedSender<Bytes>>>,
) -> Response<ChannelBody> {
    match reply {
        Reply::Stream {
            stream_id,
            events,
            keep_open,
        } => {
            let (sender, receiver) = mpsc::unbounded_channel();
            for event in &events {
                sender
                    .send(recordio::encode(&codec::encode(event, format)))
                    .unwrap();
            }
            if keep_open {
                open_streams.lock().unwrap().push(sender);
            }
            Response::builder()
                .header("Mesos-Stream-Id", stream_id)
                .header(http::header::CONTENT_TYPE, format.media_type())
                .body(ChannelBody::Stream(receiver))
                .unwrap()
        }
        Reply::Status(status, message) => Response::builder()
            .status(status)
            .body(ChannelBody::Once(Some(Bytes::from(message))))
            .unwrap(),
        Reply::Redirect(location) => Response::builder()
            .status(StatusCode::TEMPORARY_REDIRECT)
            .header(http::header::LOCATION, location)
            .body(ChannelBody::Once(None))
            .unwrap(),
    }
}

/// A response body: fixed, or fed from a channel until its sender drops.
pub enum ChannelBody {
    Once(Option<Bytes>),
    Stream(mpsc::UnboundedReceiver<Bytes>),
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ChannelBody::Once(body) => Poll::Ready(body.take().map(|b| Ok(Frame::data(b)))),
            ChannelBody::Stream(receiver) => receiver
                .poll_recv(cx)
                .map(|b| b.map(|b| Ok(Frame::data(b)))),
        }
    }
}

/// A SUBSCRIBED event assigning `framework_id`.
pub fn subscribed(framework_id: &str, heartbeat_interval_seconds: f64) -> Event {
    Event {
        r#type: Some(event::Type::Subscribed as i32),
        subscribed: Some(event::Subscribed {
            framework_id: FrameworkId {
                value: framework_id.into(),
            },
            heartbeat_interval_seconds: Some(heartbeat_interval_seconds),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An ERROR event, as the master sends before closing a stream.
pub fn error(message: &str) -> Event {
    Event {
        r#type: Some(event::Type::Error as i32),
        error: Some(event::Error {
            message: message.into(),
        }),
        ..Default::default()
    }
}

pub fn heartbeat() -> Event {
    Event {
        r#type: Some(event::Type::Heartbeat as i32),
        ..Default::default()
    }
}

pub fn is_subscribe(call: &Call) -> bool {
    call.r#type() == mesos::v1::scheduler::call::Type::Subscribe
}

/// Drains a queue, for tests that script a sequence of replies.
pub fn scripted(replies: Vec<Reply>) -> impl Fn(&Recorded) -> Reply + Send + Sync {
    let replies = Mutex::new(VecDeque::from(replies));
    move |_| {
        replies.lock().unwrap().pop_front().unwrap_or(Reply::Status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "script ran out".into(),
        ))
    }
}
