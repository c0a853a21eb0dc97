//! Opening HTTP/1.1 connections to a master, in plain TCP or over TLS.
//!
//! We use hyper's connection-level API instead of a pooled HTTP client
//! because the scheduler API cares which connection a request travels on:
//! the SUBSCRIBE response occupies its connection for as long as the
//! framework is subscribed, and all other calls must go on another one.
//! Owning the connections makes that rule visible in the code.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};

use crate::{
    error::{Error, Result},
    master::{MasterAddr, Scheme},
};

/// The sending half of one HTTP/1.1 connection.
pub(crate) type Connection = SendRequest<Full<Bytes>>;

/// Connects to `addr`, doing the TLS handshake for `https` masters.
pub(crate) async fn connect(
    addr: &MasterAddr,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Connection> {
    let tcp = TcpStream::connect((addr.host.as_str(), addr.port))
        .await
        .map_err(|source| Error::Connect {
            addr: addr.clone(),
            source,
        })?;
    // Events must not wait for Nagle's algorithm to fill a packet.
    let _ = tcp.set_nodelay(true);
    match addr.scheme {
        Scheme::Http => handshake(tcp).await,
        Scheme::Https => {
            let config = tls.cloned().unwrap_or_else(default_tls_config);
            let server_name =
                rustls::pki_types::ServerName::try_from(addr.host.clone()).map_err(|e| {
                    Error::InvalidRequest(format!("TLS server name {}: {e}", addr.host))
                })?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(server_name, tcp)
                .await
                .map_err(|source| Error::Tls {
                    addr: addr.clone(),
                    source,
                })?;
            handshake(stream).await
        }
    }
}

/// Starts HTTP/1.1 on a byte stream. The connection's I/O runs in its own
/// task until both the sender and every response body are dropped.
async fn handshake<S>(stream: S) -> Result<Connection>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "connection to master closed");
        }
    });
    Ok(sender)
}

/// TLS trusting the operating system's certificate authorities.
fn default_tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let native = rustls_native_certs::load_native_certs();
            for error in &native.errors {
                tracing::warn!(%error, "could not load a system CA certificate");
            }
            let (added, ignored) = roots.add_parsable_certificates(native.certs);
            tracing::debug!(added, ignored, "loaded system CA certificates");
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}
