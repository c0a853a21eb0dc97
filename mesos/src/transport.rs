//! Opening HTTP/1.1 connections to a master, in plain TCP or over TLS.
//!
//! We use hyper's connection-level API instead of a pooled HTTP client
//! because the scheduler API cares which connection a request travels on:
//! the SUBSCRIBE response occupies its connection for as long as the
//! framework is subscribed, and all other calls must go on another one.
//! Owning the connections makes that rule visible in the code.

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};

use crate::{
    client::ClientOptions,
    error::{Error, Result},
    master::{MasterAddr, Scheme},
};

/// The sending half of one HTTP/1.1 connection.
pub(crate) type Connection = SendRequest<Full<Bytes>>;

/// Connects to `addr`, doing the TLS handshake for `https` masters.
pub(crate) async fn connect(addr: &MasterAddr, options: &ClientOptions) -> Result<Connection> {
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
        Scheme::Https => handshake(tls::connect(tcp, addr, options).await?).await,
    }
}

/// Starts HTTP/1.1 on a byte stream. The connection's I/O runs in its own
/// task until both the sender and every response body are dropped.
pub(crate) async fn handshake<S>(stream: S) -> Result<Connection>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "connection closed");
        }
    });
    Ok(sender)
}

#[cfg(feature = "tls")]
mod tls {
    use std::sync::{Arc, OnceLock};

    use tokio::net::TcpStream;
    use tokio_rustls::client::TlsStream;

    use crate::{
        client::ClientOptions,
        error::{Error, Result},
        master::MasterAddr,
    };

    /// The TLS handshake on a connected socket.
    pub(super) async fn connect(
        tcp: TcpStream,
        addr: &MasterAddr,
        options: &ClientOptions,
    ) -> Result<TlsStream<TcpStream>> {
        let config = options.tls.clone().unwrap_or_else(default_config);
        let server_name = rustls::pki_types::ServerName::try_from(addr.host.clone())
            .map_err(|e| Error::InvalidRequest(format!("TLS server name {}: {e}", addr.host)))?;
        tokio_rustls::TlsConnector::from(config)
            .connect(server_name, tcp)
            .await
            .map_err(|source| Error::Tls {
                addr: addr.clone(),
                source,
            })
    }

    /// TLS trusting the operating system's certificate authorities.
    fn default_config() -> Arc<rustls::ClientConfig> {
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
}

/// Without the `tls` feature there is no TLS to speak. TLS (rustls and its
/// cryptography) is about a tenth of what a framework compiles, and the
/// workshop's masters speak plain HTTP, so only the frameworks that ask
/// for it build it.
#[cfg(not(feature = "tls"))]
mod tls {
    use tokio::net::TcpStream;

    use crate::{
        client::ClientOptions,
        error::{Error, Result},
        master::MasterAddr,
    };

    pub(super) async fn connect(
        _tcp: TcpStream,
        addr: &MasterAddr,
        _options: &ClientOptions,
    ) -> Result<TcpStream> {
        Err(Error::TlsDisabled { addr: addr.clone() })
    }
}
