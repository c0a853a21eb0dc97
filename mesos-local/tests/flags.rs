//! `mesos-local`'s flags and environment: every bad value is a usage error
//! (exit code 2) that names the flag and says what is wrong; and with
//! `--authenticate_http_frameworks` it refuses frameworks without
//! credentials, as a real master does.

use std::{
    io::{BufRead, BufReader, Read, Write},
    process::{Command, Stdio},
    time::Duration,
};

const BINARY: &str = env!("CARGO_BIN_EXE_mesos-local");

fn usage_error(args: &[&str], env: &[(&str, &str)], expected: &[&str]) {
    // Any free port, should a bad value be taken (then the test fails
    // when the killed server's output shows no error), unless the port
    // itself is under test.
    let port: &[&str] = if env.iter().any(|(name, _)| *name == "MESOS_PORT") {
        &[]
    } else {
        &["--port", "0"]
    };
    let output = Command::new(BINARY)
        .args(port)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
    for expected in expected {
        assert!(stderr.contains(expected), "{args:?} {env:?}: {stderr}");
    }
    assert!(!stderr.contains("hunter2"), "secrets stay secret: {stderr}");
}

#[test]
fn bad_values_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, r#"{"credentials": []}"#).unwrap();
    let malformed = dir.path().join("malformed.json");
    std::fs::write(&malformed, "sherman hunter2").unwrap();
    let good = dir.path().join("credentials.json");
    std::fs::write(
        &good,
        r#"{"credentials": [{"principal": "sherman", "secret": "hunter2"}]}"#,
    )
    .unwrap();
    let good = good.to_str().unwrap();
    let missing = dir.path().join("missing.json");

    usage_error(&["--port", "65536"], &[], &["--port"]);
    usage_error(&["--ip", "localhost"], &[], &["--ip"]);
    usage_error(&["--agents=-1"], &[], &["--agents"]);
    usage_error(&[], &[("MESOS_PORT", "http")], &["--port", "http"]);
    usage_error(
        &["--heartbeat_interval", "0secs"],
        &[],
        &["--heartbeat_interval", "must be more than zero"],
    );
    usage_error(
        &["--allocation_interval", "99999999999999999999999days"],
        &[],
        &["--allocation_interval", "too long"],
    );
    usage_error(
        &[],
        &[("MESOS_HEARTBEAT_INTERVAL", "15")],
        &["--heartbeat_interval", "no unit"],
    );
    usage_error(
        &["--credentials", missing.to_str().unwrap()],
        &[],
        &["--credentials", "cannot read"],
    );
    usage_error(
        &["--credentials", empty.to_str().unwrap()],
        &[],
        &["at least one credential"],
    );
    usage_error(
        &["--credentials", malformed.to_str().unwrap()],
        &[],
        &["--credentials", "expected {\"credentials\""],
    );
    usage_error(
        &["--http_framework_authenticators", "jwt"],
        &[],
        &["--http_framework_authenticators", "basic"],
    );
    usage_error(
        &["--authenticate_http_frameworks", "--credentials", good],
        &[],
        &["Missing `--http_framework_authenticators` flag"],
    );
    usage_error(
        &[
            "--authenticate_http_frameworks",
            "--http_framework_authenticators",
            "basic",
        ],
        &[],
        &["No credentials provided"],
    );
    usage_error(
        &[],
        &[("MESOS_AUTHENTICATE_HTTP_FRAMEWORKS", "maybe")],
        &["--authenticate_http_frameworks", "maybe"],
    );
}

/// Kills the child if a test fails half-way.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn post_subscribe(host: &str, authorization: Option<&str>) -> String {
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}"#;
    let authorization = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "POST /api/v1/scheduler HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         {authorization}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // The status line is enough: a successful SUBSCRIBE never ends.
    let mut head = [0; 12];
    stream.read_exact(&mut head).unwrap();
    String::from_utf8_lossy(&head).into_owned()
}

#[test]
fn authenticating_frameworks_as_a_real_master_does() {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials.json");
    std::fs::write(
        &credentials,
        r#"{"credentials": [{"principal": "sherman", "secret": "kitesurf"}]}"#,
    )
    .unwrap();
    let mut child = Running(
        Command::new(BINARY)
            .args([
                "--port",
                "0",
                "--agents",
                "0",
                "--authenticate_http_frameworks",
            ])
            .args(["--http_framework_authenticators", "basic", "--credentials"])
            .arg(format!("file://{}", credentials.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("mesos-local printed its address")
            .unwrap();
        if let Some(address) = line.strip_prefix("mesos-local: simulated Mesos master at ") {
            break address.trim().trim_start_matches("http://").to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));

    assert_eq!(post_subscribe(&address, None), "HTTP/1.1 401");
    // base64("sherman:wrong") and base64("sherman:kitesurf")
    assert_eq!(
        post_subscribe(&address, Some("Basic c2hlcm1hbjp3cm9uZw==")),
        "HTTP/1.1 401"
    );
    assert_eq!(
        post_subscribe(&address, Some("Basic c2hlcm1hbjpraXRlc3VyZg==")),
        "HTTP/1.1 200"
    );
}

#[test]
fn https_needs_a_usable_certificate_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    usage_error(
        &[],
        &[("LIBPROCESS_SSL_ENABLED", "true")],
        &["LIBPROCESS_SSL_CERT_FILE"],
    );
    usage_error(
        &[
            "--ssl_enabled",
            "--ssl_cert_file",
            missing,
            "--ssl_key_file",
            missing,
        ],
        &[],
        &["missing.pem"],
    );
}

/// With `LIBPROCESS_SSL_*` set as for a Mesos built with SSL, mesos-local
/// serves https with the certificate a test CA signed, and a client given
/// that CA subscribes.
#[tokio::test]
async fn serving_https_as_a_master_built_with_ssl() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let certificate = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (ca_file, cert_file, key_file) = (
        dir.path().join("ca.pem"),
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
    );
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::fs::write(&cert_file, certificate.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();

    let mut child = Running(
        Command::new(BINARY)
            .args(["--port", "0", "--agents", "1"])
            .env("LIBPROCESS_SSL_ENABLED", "true")
            .env("LIBPROCESS_SSL_CERT_FILE", &cert_file)
            .env("LIBPROCESS_SSL_KEY_FILE", &key_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("mesos-local printed its address")
            .unwrap();
        if let Some(address) = line.strip_prefix("mesos-local: simulated Mesos master at ") {
            break address.trim().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    assert!(address.starts_with("https://"), "{address}");

    let client = mesos::Client::new(mesos::ClientOptions {
        tls: Some(mesos::tls::client_config_with_ca_bundle(&ca_file).unwrap()),
        ..Default::default()
    });
    client.set_master(
        mesos::MasterAddr::parse_with_default_scheme(&address, mesos::master::Scheme::Https)
            .unwrap(),
    );
    let mut subscription = client
        .subscribe(mesos::calls::subscribe(mesos::v1::FrameworkInfo {
            user: "root".into(),
            name: "tls".into(),
            ..Default::default()
        }))
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(30), subscription.next_event())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        first.r#type(),
        mesos::v1::scheduler::event::Type::Subscribed
    );
}
