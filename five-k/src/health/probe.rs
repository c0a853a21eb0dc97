//! One health check of one task: the network part, as Marathon's
//! `core/health/impl/HealthCheckWorker.scala` does it.
//!
//! - HTTP: `GET path`; only the status line matters (200 to 399 healthy).
//! - HTTPS: the same over TLS, *without* verifying the certificate:
//!   Marathon trusts any (its `BlindFaithX509TrustManager`), since tasks
//!   serve self-signed ones and the check asks "does it answer?", not
//!   "is it who it claims?".
//! - TCP: healthy when a connection is accepted.
//!
//! Each runs within the check's `timeoutSeconds`: a task that does not
//! answer in time is as unhealthy as one that answers an error.

use std::{sync::Arc, time::Duration};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpStream,
};

use super::state::{Outcome, http_outcome};

/// What to ask and where.
#[derive(Clone, Debug, PartialEq)]
pub enum Probe {
    Http {
        path: String,
        ignore_http1xx: bool,
    },
    /// No `ignoreHttp1xx`: Marathon's HTTPS check judges a 1xx like any
    /// other status outside 200-399 (`HealthCheckWorker.https`, whatever
    /// its documentation says).
    Https {
        path: String,
    },
    Tcp,
}

/// Runs `probe` against `host:port`, giving up after `timeout`.
pub async fn run(probe: &Probe, host: &str, port: u16, timeout: Duration) -> Outcome {
    let checked = async {
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        match probe {
            Probe::Tcp => Ok(Outcome::Healthy),
            Probe::Http {
                path,
                ignore_http1xx,
            } => http_get(stream, host, port, path, *ignore_http1xx).await,
            Probe::Https { path } => {
                let tls = tls_connect(stream, host).await?;
                http_get(tls, host, port, path, false).await
            }
        }
    };
    match tokio::time::timeout(timeout, checked).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(cause)) => Outcome::Unhealthy(cause),
        Err(_) => Outcome::Unhealthy(format!(
            "no answer from {host}:{port} within {} s",
            timeout.as_secs_f64()
        )),
    }
}

/// Sends one GET and reads the status code of the answer.
async fn http_get<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    host: &str,
    port: u16,
    path: &str,
    ignore_http1xx: bool,
) -> Result<Outcome, String> {
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    // "HTTP/1.1 200 OK": the status is all a health check needs.
    let mut head = Vec::new();
    let mut buffer = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let read = stream
            .read(&mut buffer)
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let line = String::from_utf8_lossy(&head);
    let status = line
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| "no HTTP status in the answer".to_string())?;
    Ok(http_outcome(status, ignore_http1xx))
}

async fn tls_connect(
    stream: TcpStream,
    host: &str,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host} is no TLS server name: {e}"))?;
    tokio_rustls::TlsConnector::from(blind_faith())
        .connect(name, stream)
        .await
        .map_err(|e| format!("TLS handshake failed: {e}"))
}

/// A TLS client that accepts any certificate (see the module doc).
fn blind_faith() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Arc::new(config)
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    // The handshake's signatures are still checked: the session is a
    // real TLS session, only its peer is not authenticated.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A server that answers every connection with `answer`.
    async fn serve(answer: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = [0u8; 1024];
                let _ = stream.read(&mut buffer).await;
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        port
    }

    fn http(path: &str) -> Probe {
        Probe::Http {
            path: path.into(),
            ignore_http1xx: false,
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn http_reads_the_status_of_the_answer() {
        let ok = serve("HTTP/1.1 204 No Content\r\n\r\n").await;
        assert_eq!(
            run(&http("/"), "127.0.0.1", ok, SECOND).await,
            Outcome::Healthy
        );
        let missing = serve("HTTP/1.1 404 Not Found\r\n\r\n").await;
        assert_eq!(
            run(&http("/health"), "127.0.0.1", missing, SECOND).await,
            Outcome::Unhealthy("HTTP status 404".into())
        );
    }

    #[tokio::test]
    async fn nobody_listening_or_a_silent_server_is_unhealthy() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent = listener.local_addr().unwrap().port();
        // Accepted by the kernel, never answered.
        let outcome = run(&http("/"), "127.0.0.1", silent, Duration::from_millis(200)).await;
        assert!(
            matches!(&outcome, Outcome::Unhealthy(cause) if cause.contains("no answer")),
            "{outcome:?}"
        );
        assert_eq!(
            run(&Probe::Tcp, "127.0.0.1", silent, SECOND).await,
            Outcome::Healthy
        );
        drop(listener);
        let outcome = run(&Probe::Tcp, "127.0.0.1", silent, SECOND).await;
        assert!(
            matches!(&outcome, Outcome::Unhealthy(cause) if cause.contains("cannot connect")),
            "{outcome:?}"
        );
    }
}

#[cfg(test)]
mod https_tests {
    use super::*;
    use tokio::net::TcpListener;

    /// An HTTPS server with a self-signed certificate nobody trusts,
    /// giving `answer` to everything.
    async fn serve_https(answer: &'static [u8]) -> u16 {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = certified.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der())
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    continue;
                };
                let mut buffer = [0u8; 1024];
                let _ = tls.read(&mut buffer).await;
                let _ = tls.write_all(answer).await;
                let _ = tls.shutdown().await;
            }
        });
        port
    }

    #[tokio::test]
    async fn https_trusts_any_certificate_as_marathon_does() {
        let port = serve_https(b"HTTP/1.1 200 OK\r\n\r\n").await;
        let https = Probe::Https { path: "/".into() };
        assert_eq!(
            run(&https, "localhost", port, Duration::from_secs(5)).await,
            Outcome::Healthy
        );
        // Plain HTTP to a TLS server gets no HTTP status back.
        let http = Probe::Http {
            path: "/".into(),
            ignore_http1xx: false,
        };
        assert!(matches!(
            run(&http, "localhost", port, Duration::from_secs(5)).await,
            Outcome::Unhealthy(_)
        ));
    }

    #[tokio::test]
    async fn https_judges_a_1xx_as_unhealthy_as_marathon_does() {
        let port = serve_https(b"HTTP/1.1 102 Processing\r\n\r\n").await;
        let https = Probe::Https { path: "/".into() };
        assert_eq!(
            run(&https, "localhost", port, Duration::from_secs(5)).await,
            Outcome::Unhealthy("HTTP status 102".into())
        );
    }
}
