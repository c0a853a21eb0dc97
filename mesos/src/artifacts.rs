//! Serving a file to the agents' fetchers: how a framework ships its own
//! executor to a cluster.
//!
//! An agent starts an executor from `ExecutorInfo.command`, on its own
//! machine. The executor's program must be there first, and Mesos' way is
//! the *fetcher*: before the executor starts, the agent downloads every
//! `CommandInfo.uris` entry into the executor's sandbox (with `executable:
//! true`, the file is made executable and not extracted;
//! `src/launcher/fetcher.cpp`). A framework written in Rust can be its own
//! executor: the same binary, started with another subcommand. So the
//! scheduler serves its own executable over HTTP, and every task's
//! `ExecutorInfo` carries its URL.
//!
//! The agents then run the scheduler's binary: they need the same
//! operating system and processor architecture (a Linux x86-64 build runs
//! on Linux x86-64 agents), and must reach the address served on. Real
//! deployments usually publish the binary to an artifact store instead
//! (any HTTP server, or HDFS/S3 with the fetcher's plugins), which keeps
//! working while the scheduler is down: an agent that restarts an executor
//! fetches it again.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! let served = mesos::artifacts::serve_own_executable("10.10.4.2:0".parse().unwrap()).await?;
//! println!("agents fetch the executor from {}", served.url());
//! # Ok(()) }
//! ```

use std::{
    convert::Infallible,
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use hyper::body::{Body, Frame, Incoming};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, ReadBuf},
    net::TcpListener,
    task::JoinHandle,
};

/// How much of the file one chunk of the response holds.
const CHUNK: usize = 64 * 1024;

/// A file served over HTTP until this value is dropped.
#[derive(Debug)]
pub struct ServedFile {
    url: String,
    server: JoinHandle<()>,
}

impl ServedFile {
    /// `http://<addr>/<file name>`: what goes into `CommandInfo.URI.value`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for ServedFile {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Serves this process's own executable at `http://<addr>/<its name>`.
/// Port 0 picks a free one; the URL names the port actually bound.
pub async fn serve_own_executable(addr: SocketAddr) -> io::Result<ServedFile> {
    serve_file(addr, std::env::current_exe()?).await
}

/// Serves `path` at `http://<addr>/<its file name>`. The fetcher names the
/// downloaded file after the URL's last segment, so the executor's command
/// can run `./<file name>`. An address that is unspecified (`0.0.0.0`)
/// cannot be fetched from: give the one the agents reach.
pub async fn serve_file(addr: SocketAddr, path: PathBuf) -> io::Result<ServedFile> {
    if addr.ip().is_unspecified() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{addr}: give an address the agents can reach, not an unspecified one"),
        ));
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the file has no name"))?
        .to_string();
    let listener = TcpListener::bind(addr).await?;
    let url = format!("http://{}/{name}", listener.local_addr()?);
    let route = Arc::new((format!("/{name}"), path));
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let route = route.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let route = route.clone();
                    async move { Ok::<_, Infallible>(answer(&route.0, &route.1, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(ServedFile { url, server })
}

/// GET of the one path: the file, streamed (an executable is tens of
/// megabytes, and a thousand agents may fetch it at once).
async fn answer(route: &str, path: &Path, request: Request<Incoming>) -> Response<FileBody> {
    if request.uri().path() != route {
        return status(StatusCode::NOT_FOUND);
    }
    if request.method() != Method::GET {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    }
    let (file, length) = match tokio::fs::File::open(path).await {
        Ok(file) => match file.metadata().await {
            Ok(metadata) => (file, metadata.len()),
            Err(_) => return status(StatusCode::INTERNAL_SERVER_ERROR),
        },
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot serve the file");
            return status(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    tracing::debug!(path = %path.display(), "serving the file to a fetcher");
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, length)
        .body(FileBody { file: Some(file) })
        .expect("valid response")
}

fn status(code: StatusCode) -> Response<FileBody> {
    let mut response = Response::new(FileBody { file: None });
    *response.status_mut() = code;
    response
}

/// A response body read from a file a chunk at a time.
struct FileBody {
    file: Option<tokio::fs::File>,
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let Some(file) = self.file.as_mut() else {
            return Poll::Ready(None);
        };
        let mut chunk = vec![0; CHUNK];
        let mut buf = ReadBuf::new(&mut chunk);
        match Pin::new(file).poll_read(cx, &mut buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(error)) => Poll::Ready(Some(Err(error))),
            Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                self.file = None;
                Poll::Ready(None)
            }
            Poll::Ready(Ok(())) => {
                let read = buf.filled().len();
                chunk.truncate(read);
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Empty};

    async fn get(url: &str) -> (StatusCode, Bytes) {
        let uri: http::Uri = url.parse().unwrap();
        let stream = tokio::net::TcpStream::connect(uri.authority().unwrap().as_str())
            .await
            .unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let request = Request::get(uri.path())
            .header(header::HOST, uri.authority().unwrap().as_str())
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status();
        (
            status,
            response.into_body().collect().await.unwrap().to_bytes(),
        )
    }

    #[tokio::test]
    async fn the_file_is_served_whole_under_its_name_and_nothing_else_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my-framework");
        // More than one chunk, and not a multiple of it.
        let content: Vec<u8> = (0..CHUNK * 2 + 123).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let served = serve_file("127.0.0.1:0".parse().unwrap(), path)
            .await
            .unwrap();
        assert!(served.url().ends_with("/my-framework"), "{}", served.url());

        let (status, body) = get(served.url()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body.as_ref(), content.as_slice());

        let other = served.url().replace("/my-framework", "/etc/passwd");
        assert_eq!(get(&other).await.0, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn an_unspecified_address_is_refused_with_a_reason() {
        let error = serve_file("0.0.0.0:0".parse().unwrap(), "/bin/sh".into())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("agents can reach"), "{error}");
    }
}
