//! TLS settings read from PEM files (the crate's `tls` feature).
//!
//! A master that serves `https` proves who it is with a certificate that
//! some certificate authority (CA) signed. A framework trusts the
//! operating system's CAs by default; a cluster with its own CA gives the
//! framework that CA's certificate (a "CA bundle", one or more PEM
//! certificates in a file) instead: [`client_config_with_ca_bundle`].
//!
//! The simulated master can serve `https` too ([`ServerIdentity`]), so
//! that a framework's TLS set-up can be tested without a cluster.

use std::{path::Path, sync::Arc};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

/// A PEM file or text that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct TlsConfigError {
    pub what: String,
    pub reason: String,
}

fn error(what: impl Into<String>, reason: impl ToString) -> TlsConfigError {
    TlsConfigError {
        what: what.into(),
        reason: reason.to_string(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS for `https` masters that trusts exactly the CAs in `path` (PEM),
/// not the system's: put it in [`crate::ClientOptions::tls`].
pub fn client_config_with_ca_bundle(
    path: &Path,
) -> Result<Arc<rustls::ClientConfig>, TlsConfigError> {
    let what = || format!("CA bundle {}", path.display());
    let pem = std::fs::read(path).map_err(|e| error(what(), e))?;
    client_config_with_ca_pem(&pem).map_err(|e| error(what(), e.reason))
}

/// Like [`client_config_with_ca_bundle`], from PEM text.
pub fn client_config_with_ca_pem(pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, TlsConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(pem) {
        let certificate = certificate.map_err(|e| error("CA bundle", e))?;
        roots
            .add(certificate)
            .map_err(|e| error("CA bundle", format!("unusable certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(error("CA bundle", "no certificate in it (expected PEM)"));
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| error("TLS", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// What a TLS server presents: its certificate chain and private key.
#[derive(Clone)]
pub struct ServerIdentity {
    config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key stays out of logs.
        f.write_str("ServerIdentity { .. }")
    }
}

impl ServerIdentity {
    /// From PEM text: the certificate chain (the server's first), and its
    /// private key.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Self, TlsConfigError> {
        let chain = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| error("certificate", e))?;
        if chain.is_empty() {
            return Err(error("certificate", "no certificate in it (expected PEM)"));
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| error("private key", e))?;
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| error("TLS", e))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| error("certificate and key", e))?;
        Ok(ServerIdentity {
            config: Arc::new(config),
        })
    }

    /// From PEM files, as Mesos' `LIBPROCESS_SSL_CERT_FILE` and
    /// `LIBPROCESS_SSL_KEY_FILE`.
    pub fn from_pem_files(cert_chain: &Path, key: &Path) -> Result<Self, TlsConfigError> {
        let read =
            |path: &Path| std::fs::read(path).map_err(|e| error(path.display().to_string(), e));
        Self::from_pem(&read(cert_chain)?, &read(key)?)
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}
