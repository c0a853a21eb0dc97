//! Downloading an `http://` or `https://` URI into a file, as Mesos'
//! `net::download` does with curl (`3rdparty/stout/include/stout/net.hpp`,
//! called by `downloadWithNet` in `src/launcher/fetcher.cpp`).
//!
//! What a framework can observe of curl's behaviour is kept: redirects are
//! followed (`CURLOPT_FOLLOWLOCATION`, bounded as curl bounds them), the
//! final response's body is written to the file whatever its status, and
//! only then is a status other than 200 an error. So a 404 leaves the
//! server's error page in the sandbox under the expected name, as on a
//! real agent. Errors of the transfer itself read as curl's.
//!
//! `https://` needs the crate's `tls` feature, which also gives the
//! scheduler client its TLS (`crate::transport`); without it an `https`
//! URI is an error that says so. `ftp://`, which Mesos also hands to curl,
//! is not supported.

use std::{path::Path, time::Duration};

use bytes::Bytes;
use http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use tokio::io::AsyncWriteExt;

use crate::{
    client::ClientOptions,
    master::{MasterAddr, Scheme},
    transport,
};

/// curl's default `CURLOPT_MAXREDIRS` (since curl 8.3; unlimited before).
const MAX_REDIRECTS: usize = 30;

/// The agent's `--fetcher_stall_timeout` default: a download that makes no
/// progress for this long is aborted.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Downloads `uri` to `destination`. The error is the text after
/// `Failed to fetch '<uri>': ` in the fetcher's log.
pub(crate) async fn download(uri: &str, destination: &Path) -> Result<(), String> {
    let mut current: Uri = uri
        .parse()
        .map_err(|e| format!("Error downloading resource: URL using bad/illegal format ({e})"))?;
    let mut redirects = 0;
    let response = loop {
        let response = get(&current)
            .await
            .map_err(|e| format!("Error downloading resource: {e}"))?;
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok());
        match location {
            // curl follows a Location on any 3xx; a 3xx without one is the
            // final answer (and not a 200).
            Some(location) if response.status().is_redirection() => {
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    // curl_easy_strerror(CURLE_TOO_MANY_REDIRECTS)
                    return Err(
                        "Error downloading resource: Number of redirects hit maximum amount".into(),
                    );
                }
                current = resolve_location(&current, location).map_err(|e| {
                    format!("Error downloading resource: URL using bad/illegal format ({e})")
                })?;
            }
            _ => break response,
        }
    };
    let status = response.status();
    save(response.into_body(), destination).await?;
    if status != StatusCode::OK {
        return Err(format!(
            "Error downloading resource, received HTTP return code {}",
            status.as_u16()
        ));
    }
    Ok(())
}

/// One GET, on a connection of its own.
async fn get(uri: &Uri) -> Result<http::Response<hyper::body::Incoming>, String> {
    let scheme = match uri.scheme_str() {
        Some("http") => Scheme::Http,
        Some("https") => Scheme::Https,
        // curl_easy_strerror(CURLE_UNSUPPORTED_PROTOCOL), and why.
        _ => {
            return Err(format!(
                "Unsupported protocol (the simulated agent's fetcher downloads \
                 http:// and https:// only: {uri})"
            ));
        }
    };
    let host = uri.host().unwrap_or_default();
    let addr = MasterAddr {
        scheme,
        // `[::1]` in a URI, `::1` to connect to.
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port: uri
            .port_u16()
            .unwrap_or(if scheme == Scheme::Https { 443 } else { 80 }),
    };
    let stalled = || "Timeout was reached".to_string();
    let mut connection = tokio::time::timeout(
        STALL_TIMEOUT,
        transport::connect(&addr, &ClientOptions::default()),
    )
    .await
    .map_err(|_| stalled())?
    .map_err(|error| match error {
        // curl_easy_strerror(CURLE_COULDNT_CONNECT)
        crate::Error::Connect { .. } => "Couldn't connect to server".to_string(),
        // curl_easy_strerror(CURLE_SSL_CONNECT_ERROR), and why.
        crate::Error::Tls { source, .. } => format!("SSL connect error ({source})"),
        other => other.to_string(),
    })?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let authority = uri.authority().map_or(host, |a| a.as_str());
    // What libcurl sends by default: no User-Agent, any type.
    let request = Request::get(path)
        .header(header::HOST, authority)
        .header(header::ACCEPT, "*/*")
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(STALL_TIMEOUT, connection.send_request(request))
        .await
        .map_err(|_| stalled())?
        .map_err(|e| format!("Failure when receiving data from the peer ({e})"))
}

/// Writes a response body to `destination`, aborting a stalled transfer.
async fn save(mut body: hyper::body::Incoming, destination: &Path) -> Result<(), String> {
    let failed = |e: String| format!("Error downloading resource: {e}");
    let mut file = tokio::fs::File::create(destination)
        .await
        .map_err(|e| failed(format!("Failed to open '{}': {e}", destination.display())))?;
    loop {
        let frame = tokio::time::timeout(STALL_TIMEOUT, body.frame())
            .await
            .map_err(|_| failed("Timeout was reached".into()))?;
        let Some(frame) = frame else { break };
        let frame = frame
            .map_err(|e| failed(format!("Failure when receiving data from the peer ({e})")))?;
        if let Ok(data) = frame.into_data() {
            file.write_all(&data)
                .await
                .map_err(|e| failed(format!("Failed writing received data to disk ({e})")))?;
        }
    }
    file.flush()
        .await
        .map_err(|e| failed(format!("Failed writing received data to disk ({e})")))
}

/// The URI a redirect's `Location` names, relative to the one that
/// answered (RFC 9110: a Location may be relative).
fn resolve_location(base: &Uri, location: &str) -> Result<Uri, String> {
    if location.contains("://") {
        return location.parse().map_err(|e| format!("{e}"));
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map_or("", |a| a.as_str());
    let resolved = if let Some(rest) = location.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{}", remove_dot_segments(location))
    } else {
        // Relative to the directory of the current path.
        let path = base.path();
        let directory = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        let directory = if directory.is_empty() { "/" } else { directory };
        let path = remove_dot_segments(&format!("{directory}{location}"));
        format!("{scheme}://{authority}{path}")
    };
    resolved.parse().map_err(|e| format!("{e}"))
}

/// RFC 3986's `remove_dot_segments`, on an absolute path (its query
/// untouched): "/a/../b/./c" is "/b/c".
fn remove_dot_segments(path_and_query: &str) -> String {
    let (path, query) = match path_and_query.find('?') {
        Some(i) => path_and_query.split_at(i),
        None => (path_and_query, ""),
    };
    let mut output: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    output.pop();
                }
                // "/a/.." is the directory "/", not the file "/a".
                if last {
                    output.push("");
                }
            }
            other => output.push(other),
        }
    }
    format!("/{}{query}", output.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_locations_resolve_against_the_answering_uri() {
        let base: Uri = "http://h:8080/files/a.tgz?x=1".parse().unwrap();
        let resolve = |l: &str| resolve_location(&base, l).unwrap().to_string();
        assert_eq!(resolve("https://o/x"), "https://o/x");
        assert_eq!(resolve("//o:81/x"), "http://o:81/x");
        assert_eq!(resolve("/y/b.tgz"), "http://h:8080/y/b.tgz");
        assert_eq!(resolve("b.tgz"), "http://h:8080/files/b.tgz");
        assert_eq!(resolve("../v2/b.tgz?y"), "http://h:8080/v2/b.tgz?y");
        assert_eq!(resolve("/a/./b/../c"), "http://h:8080/a/c");
        assert_eq!(resolve("/a/b/.."), "http://h:8080/a/");
        assert_eq!(resolve("../../../x"), "http://h:8080/x");
    }
}
