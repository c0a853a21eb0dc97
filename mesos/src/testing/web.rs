//! A small HTTP client for tests of a framework's web page: GET and POST,
//! one request per connection, the whole answer as text.

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// An answer, whole.
#[derive(Debug, Clone)]
pub struct WebResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl WebResponse {
    /// A header's value as text, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// `GET url`.
pub async fn get(url: &str) -> WebResponse {
    send(url, "GET", None, Bytes::new()).await
}

/// `POST url` with a body of `content_type` (`None`: no Content-Type).
pub async fn post(url: &str, content_type: Option<&str>, body: impl Into<Bytes>) -> WebResponse {
    send(url, "POST", content_type, body.into()).await
}

/// `POST url` with an HTML form's fields, as a browser sends them.
pub async fn post_form(url: &str, fields: &[(&str, &str)]) -> WebResponse {
    let body = fields
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    post(url, Some("application/x-www-form-urlencoded"), body).await
}

/// Any method, e.g. `PUT`.
pub async fn send(url: &str, method: &str, content_type: Option<&str>, body: Bytes) -> WebResponse {
    send_with(url, method, &[], content_type, body).await
}

/// Any method, with extra headers (`Origin`, `Authorization`, …).
pub async fn send_with(
    url: &str,
    method: &str,
    headers: &[(&str, &str)],
    content_type: Option<&str>,
    body: Bytes,
) -> WebResponse {
    let uri: http::Uri = url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
    let host = uri.host().expect("a host").to_string();
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP handshake");
    tokio::spawn(connection);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, format!("{host}:{port}"));
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(body)).expect("a request");
    let response = sender
        .send_request(request)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    WebResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// An HTML form's fields as a browser encodes them.
pub fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `application/x-www-form-urlencoded` encoding of one key or value.
fn encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                encoded.push(byte as char)
            }
            b' ' => encoded.push('+'),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}
