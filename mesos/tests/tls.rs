//! `https` to the master with a CA bundle of the cluster's own CA: the
//! simulated master serves TLS with a certificate a test CA signed (made
//! here with rcgen), a framework given that CA subscribes, and one that
//! trusts only the system's CAs is refused the connection, with a clear,
//! final error.

use std::time::Duration;

use mesos::{
    Client, ClientOptions, Driver, DriverConfig, DriverEvent, Error, MasterSpec, calls,
    local::{LocalMaster, LocalMasterConfig},
    master::Scheme,
    tls::{ServerIdentity, client_config_with_ca_bundle},
    v1::{FrameworkInfo, scheduler::event},
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// A test CA, and a certificate for 127.0.0.1 it signed: (CA PEM, server
/// certificate PEM, server key PEM).
fn test_ca() -> (String, String, String) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "mesos kit test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca.pem(), server.pem(), key.serialize_pem())
}

async fn https_master() -> (LocalMaster, String) {
    let (ca, certificate, key) = test_ca();
    let identity = ServerIdentity::from_pem(certificate.as_bytes(), key.as_bytes()).unwrap();
    let master = LocalMaster::start(LocalMasterConfig {
        tls: Some(identity),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(master.addr().scheme, Scheme::Https);
    (master, ca)
}

fn framework_info() -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: "over-tls".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_framework_given_the_clusters_ca_subscribes_over_https() {
    let (master, ca) = https_master().await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ca.pem");
    std::fs::write(&bundle, ca).unwrap();

    let mut config = DriverConfig::new(MasterSpec::Addr(master.addr()), framework_info());
    config.client.tls = Some(client_config_with_ca_bundle(&bundle).unwrap());
    let (driver, mut events) = Driver::start(config).unwrap();
    match tokio::time::timeout(Duration::from_secs(30), events.recv()).await {
        Ok(Some(DriverEvent::Event(event))) => {
            assert_eq!(event.r#type(), event::Type::Subscribed)
        }
        other => panic!("expected SUBSCRIBED over TLS, got {other:?}"),
    }
    // Calls go over TLS too.
    driver.call(calls::revive(vec![])).await.unwrap();
    let framework_id = driver.framework_id().unwrap().value;
    assert!(master.state().framework(&framework_id).unwrap().connected);
    driver.stop().await;
}

#[tokio::test]
async fn without_the_ca_the_master_is_not_trusted() {
    let (master, _ca) = https_master().await;
    // The system's CAs (or an empty store on a bare machine): the test CA
    // is not among them.
    let client = Client::new(ClientOptions::default());
    client.set_master(master.addr());
    let error = client
        .subscribe(calls::subscribe(framework_info()))
        .await
        .err()
        .expect("an untrusted certificate is refused");
    assert!(matches!(&error, Error::Tls { .. }), "{error}");
    assert!(error.to_string().contains("TLS with master"), "{error}");

    // Another CA's bundle does not help either.
    let (other_ca, _, _) = test_ca();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("other.pem");
    std::fs::write(&bundle, other_ca).unwrap();
    let client = Client::new(ClientOptions {
        tls: Some(client_config_with_ca_bundle(&bundle).unwrap()),
        ..Default::default()
    });
    client.set_master(master.addr());
    let error = client
        .subscribe(calls::subscribe(framework_info()))
        .await
        .err()
        .expect("a certificate of another CA is refused");
    assert!(matches!(&error, Error::Tls { .. }), "{error}");
}

#[test]
fn bad_bundles_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let missing = client_config_with_ca_bundle(&dir.path().join("missing.pem")).unwrap_err();
    assert!(missing.to_string().contains("missing.pem"), "{missing}");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not PEM").unwrap();
    let error = client_config_with_ca_bundle(&empty).unwrap_err();
    assert!(error.to_string().contains("no certificate"), "{error}");
}
