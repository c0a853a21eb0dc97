//! The simulated agent's fetcher: a task's `CommandInfo.uris` downloaded
//! from a test HTTP server (or copied from local paths) into its sandbox,
//! unpacked, made executable; and a failed fetch failing the launch as on
//! a Mesos agent.

mod local_support;

use std::{
    collections::HashMap,
    convert::Infallible,
    net::SocketAddr,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
};

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;
use hyper::{server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use local_support::*;
use mesos::{
    local::{LocalMaster, LocalMasterConfig},
    v1::{
        TaskState, TaskStatus,
        command_info::Uri,
        task_status::{Reason, Source},
    },
};

/// A file server on a loopback port: each path answers with a fixed
/// status, body and (for redirects) Location.
struct FileServer {
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Route {
    status: StatusCode,
    body: Bytes,
    location: Option<String>,
}

impl FileServer {
    async fn start(routes: HashMap<String, Route>) -> FileServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes = Arc::new(routes);
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let routes = routes.clone();
                let service = service_fn(move |request: http::Request<_>| {
                    let route = routes.get(request.uri().path()).cloned();
                    async move { Ok::<_, Infallible>(answer(route)) }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        FileServer { addr, server }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn answer(route: Option<Route>) -> Response<Full<Bytes>> {
    let route = route.unwrap_or(Route {
        status: StatusCode::NOT_FOUND,
        body: Bytes::from_static(b"no such file\n"),
        location: None,
    });
    let mut response = Response::builder().status(route.status);
    if let Some(location) = route.location {
        response = response.header(header::LOCATION, location);
    }
    response.body(Full::new(route.body)).unwrap()
}

fn file(body: impl Into<Bytes>) -> Route {
    Route {
        status: StatusCode::OK,
        body: body.into(),
        location: None,
    }
}

fn redirect(to: &str) -> Route {
    Route {
        status: StatusCode::FOUND,
        body: Bytes::new(),
        location: Some(to.into()),
    }
}

fn uri(value: &str) -> Uri {
    Uri {
        value: value.into(),
        ..Default::default()
    }
}

/// Runs one command task with `uris` until it ends; its last status and
/// its sandbox.
async fn run_task(
    master: &LocalMaster,
    id: &str,
    uris: Vec<Uri>,
    command: &str,
) -> (TaskStatus, PathBuf) {
    let framework = Framework::subscribe(master, framework_info("fetch", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let mut task = command_task(id, &offer.agent_id, command, "cpus:0.1;mem:32");
    task.command.as_mut().unwrap().uris = uris;
    framework.launch(&offer, vec![task]).await;
    let last = loop {
        let status = framework.update(id).await;
        framework.ack(&status).await;
        if matches!(
            status.state(),
            TaskState::TaskFinished | TaskState::TaskFailed
        ) {
            break status;
        }
    };
    let sandbox = master.state().task(id).unwrap().sandbox.clone().unwrap();
    (last, sandbox)
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The task's own output is what follows the fetcher's log in `stderr`.
fn assert_finished(status: &TaskStatus, sandbox: &Path) {
    assert_eq!(
        status.state(),
        TaskState::TaskFinished,
        "{:?}; stderr: {}",
        status.message,
        read(sandbox.join("stderr"))
    );
}

#[tokio::test]
async fn a_file_is_downloaded_into_the_sandbox_before_the_command_reads_it() {
    let server = FileServer::start(HashMap::from([(
        "/files/hello.txt".to_string(),
        file("hello from http\n"),
    )]))
    .await;
    let master = start(config()).await;
    let url = server.url("/files/hello.txt");
    let (status, sandbox) = run_task(&master, "plain", vec![uri(&url)], "cat hello.txt").await;

    assert_finished(&status, &sandbox);
    assert_eq!(read(sandbox.join("stdout")), "hello from http\n");
    // The fetcher's log, as mesos-fetcher writes it to the sandbox.
    let stderr = read(sandbox.join("stderr"));
    assert!(
        stderr.starts_with(&format!("Fetching URI '{url}'\n")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "Fetched '{url}' to '{}'\n",
            sandbox.join("hello.txt").display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(&format!(
            "Successfully fetched all URIs into '{}'\n",
            sandbox.display()
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn executable_sets_mode_0755_and_is_never_extracted() {
    let script = "#!/bin/sh\necho \"greetings from $0\"\n";
    // Named like an archive: extracting it would fail the fetch.
    let server = FileServer::start(HashMap::from([(
        "/bin/greet.tar".to_string(),
        file(script),
    )]))
    .await;
    let master = start(config()).await;
    let greet = Uri {
        executable: Some(true),
        ..uri(&server.url("/bin/greet.tar"))
    };
    let (status, sandbox) = run_task(&master, "exec", vec![greet], "./greet.tar").await;

    assert_finished(&status, &sandbox);
    assert_eq!(read(sandbox.join("stdout")), "greetings from ./greet.tar\n");
    let mode = std::fs::metadata(sandbox.join("greet.tar"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[tokio::test]
async fn output_file_names_the_copy_and_may_be_in_a_subdirectory() {
    let server = FileServer::start(HashMap::from([(
        "/config".to_string(),
        file("port=8080\n"),
    )]))
    .await;
    let master = start(config()).await;
    let config_uri = Uri {
        output_file: Some("conf/app.properties".into()),
        ..uri(&server.url("/config"))
    };
    let (status, sandbox) = run_task(
        &master,
        "named",
        vec![config_uri],
        "cat conf/app.properties",
    )
    .await;

    assert_finished(&status, &sandbox);
    assert_eq!(read(sandbox.join("stdout")), "port=8080\n");
    assert!(!sandbox.join("config").exists());
}

/// Fails the test with a clear message if a tool is missing.
fn require(tool: &str, why: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{tool}` is not installed: {why} (Debian/Ubuntu: apt-get install {tool})"
    );
}

fn sh(directory: &Path, script: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(directory)
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
}

/// Each archive kind Mesos recognises, made here: name → archive bytes.
/// Archive `x.tgz` holds `x_tgz/inside.txt`, saying "x.tgz".
fn archives() -> Vec<(String, Vec<u8>)> {
    require("zip", "the test makes a .zip with it");
    require(
        "unzip",
        "the simulated agent's fetcher extracts .zip archives with it",
    );
    let work = tempfile::tempdir().unwrap();
    let tar_kinds = [
        ("tar", ""),
        ("tgz", "z"),
        ("tar.gz", "z"),
        ("tbz2", "j"),
        ("tar.bz2", "j"),
        ("txz", "J"),
        ("tar.xz", "J"),
    ];
    let mut made = Vec::new();
    for (suffix, compression) in tar_kinds {
        let name = format!("x.{suffix}");
        let dir = name.replace('.', "_");
        sh(
            work.path(),
            &format!(
                "mkdir {dir} && echo {name} > {dir}/inside.txt && tar -c{compression}f {name} {dir}"
            ),
        );
        made.push(name);
    }
    sh(
        work.path(),
        "mkdir x_zip && echo x.zip > x_zip/inside.txt && zip -qr x.zip x_zip",
    );
    made.push("x.zip".into());
    sh(
        work.path(),
        "echo notes.txt.gz > notes.txt && gzip notes.txt",
    );
    made.push("notes.txt.gz".into());
    // Last: one for `extract: false`, whose directory must not appear.
    sh(
        work.path(),
        "mkdir raw_tgz && echo raw > raw_tgz/inside.txt && tar -czf raw.tgz raw_tgz",
    );
    made.push("raw.tgz".into());
    made.into_iter()
        .map(|name| {
            let bytes = std::fs::read(work.path().join(&name)).unwrap();
            (name, bytes)
        })
        .collect()
}

#[tokio::test]
async fn archives_are_extracted_into_the_sandbox_and_kept() {
    let mut archives = archives();
    let raw = archives.pop().unwrap();
    let routes = archives
        .iter()
        .chain([&raw])
        .map(|(name, bytes)| (format!("/a/{name}"), file(bytes.clone())));
    let server = FileServer::start(routes.collect()).await;
    let master = start(config()).await;
    let mut uris: Vec<Uri> = archives
        .iter()
        .map(|(name, _)| uri(&server.url(&format!("/a/{name}"))))
        .collect();
    // extract: false keeps even an archive as it is.
    uris.push(Uri {
        extract: Some(false),
        ..uri(&server.url("/a/raw.tgz"))
    });
    let (status, sandbox) = run_task(&master, "unpack", uris, "true").await;

    assert_finished(&status, &sandbox);
    for (name, bytes) in &archives {
        assert_eq!(
            &std::fs::read(sandbox.join(name)).unwrap(),
            bytes,
            "{name} is kept"
        );
        let unpacked = match name.strip_suffix(".gz").filter(|n| n.ends_with(".txt")) {
            Some(plain) => sandbox.join(plain),
            None => sandbox.join(name.replace('.', "_")).join("inside.txt"),
        };
        assert_eq!(read(&unpacked), format!("{name}\n"), "{name} is extracted");
    }
    assert_eq!(std::fs::read(sandbox.join(&raw.0)).unwrap(), raw.1);
    assert!(!sandbox.join("raw_tgz").exists());
}

#[tokio::test]
async fn a_404_fails_the_launch_as_mesos_does_and_keeps_what_was_fetched() {
    let server =
        FileServer::start(HashMap::from([("/first.txt".to_string(), file("first\n"))])).await;
    let master = start(config()).await;
    let missing = server.url("/missing.txt");
    let uris = vec![
        uri(&server.url("/first.txt")),
        uri(&missing),
        uri(&server.url("/first.txt?never")),
    ];
    let (status, sandbox) = run_task(&master, "broken", uris, "touch ran").await;

    assert_eq!(status.state(), TaskState::TaskFailed);
    assert_eq!(status.source(), Source::Agent);
    assert_eq!(status.reason(), Reason::ContainerLaunchFailed);
    // The agent only knows that mesos-fetcher exited with status 1.
    let container_id = sandbox.file_name().unwrap().to_string_lossy();
    assert_eq!(
        status.message.as_deref(),
        Some(
            format!(
                "Failed to launch container: Failed to fetch all URIs for container \
                 '{container_id}': exited with status 1"
            )
            .as_str()
        )
    );
    // The command never ran.
    assert!(!sandbox.join("ran").exists());
    // Fetched before the failure: still there; curl saved the error page.
    assert_eq!(read(sandbox.join("first.txt")), "first\n");
    assert_eq!(read(sandbox.join("missing.txt")), "no such file\n");
    assert!(!sandbox.join("first.txt?never").exists());
    // Why, in the fetcher's log.
    let stderr = read(sandbox.join("stderr"));
    assert!(
        stderr.ends_with(&format!(
            "EXIT with status 1: Failed to fetch '{missing}': Error downloading resource, \
             received HTTP return code 404\n"
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_first_update_of_a_failed_fetch_is_task_failed() {
    let master = start(config()).await;
    let framework = Framework::subscribe(&master, framework_info("fetch", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let mut task = command_task("nothing", &offer.agent_id, "true", "cpus:0.1;mem:32");
    task.command.as_mut().unwrap().uris = vec![uri("/nonexistent/file")];
    framework.launch(&offer, vec![task]).await;
    // The container never started: no TASK_STARTING from an executor.
    let first = framework.update("nothing").await;
    assert_eq!(first.state(), TaskState::TaskFailed);
}

#[tokio::test]
async fn redirects_are_followed_within_curls_bound() {
    let server = FileServer::start(HashMap::from([
        ("/latest".to_string(), redirect("/v2/tool")),
        ("/v2/tool".to_string(), redirect("../v3/tool")),
        ("/v3/tool".to_string(), file("v3\n")),
        ("/loop".to_string(), redirect("/loop")),
    ]))
    .await;
    let master = start(config()).await;
    let (status, sandbox) = run_task(
        &master,
        "redirected",
        vec![uri(&server.url("/latest"))],
        "cat latest",
    )
    .await;
    assert_finished(&status, &sandbox);
    assert_eq!(read(sandbox.join("stdout")), "v3\n");

    let looping = server.url("/loop");
    let (status, sandbox) = run_task(&master, "looping", vec![uri(&looping)], "true").await;
    assert_eq!(status.state(), TaskState::TaskFailed);
    let stderr = read(sandbox.join("stderr"));
    assert!(
        stderr.ends_with(&format!(
            "EXIT with status 1: Failed to fetch '{looping}': Error downloading resource: \
             Number of redirects hit maximum amount\n"
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn https_speaks_tls_and_a_closed_port_cannot_be_connected_to() {
    let server = FileServer::start(HashMap::new()).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let master = start(config()).await;
    // The tests build the crate with `tls`: the fetcher tries a TLS
    // handshake, which a plain HTTP server cannot answer.
    let https = server.url("/x").replacen("http://", "https://", 1);
    let refused = format!("http://{closed}/x");
    for (id, url, error) in [
        (
            "tls",
            &https,
            "Error downloading resource: SSL connect error (",
        ),
        (
            "refused",
            &refused,
            "Error downloading resource: Couldn't connect to server\n",
        ),
    ] {
        let (status, sandbox) = run_task(&master, id, vec![uri(url)], "true").await;
        assert_eq!(status.state(), TaskState::TaskFailed);
        let stderr = read(sandbox.join("stderr"));
        let expected = format!("EXIT with status 1: Failed to fetch '{url}': {error}");
        assert!(stderr.contains(&expected), "{stderr}");
    }
}

#[tokio::test]
async fn local_paths_and_file_uris_are_copied() {
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("a.txt"), "a\n").unwrap();
    std::fs::write(files.path().join("b.txt"), "b\n").unwrap();
    let master = start(config()).await;
    let uris = vec![
        uri(&files.path().join("a.txt").display().to_string()),
        uri(&format!("file://{}", files.path().join("b.txt").display())),
    ];
    let (status, sandbox) = run_task(&master, "local", uris, "cat a.txt b.txt").await;

    assert_finished(&status, &sandbox);
    assert_eq!(read(sandbox.join("stdout")), "a\nb\n");
}

#[tokio::test]
async fn a_missing_local_file_fails_the_launch_and_cp_says_why() {
    let master = start(config()).await;
    let (status, sandbox) =
        run_task(&master, "nolocal", vec![uri("/nonexistent/tool")], "true").await;

    assert_eq!(status.state(), TaskState::TaskFailed);
    assert_eq!(status.reason(), Reason::ContainerLaunchFailed);
    let message = status.message.unwrap();
    assert!(
        message.starts_with("Failed to launch container: Failed to fetch all URIs"),
        "{message}"
    );
    let stderr = read(sandbox.join("stderr"));
    // cp's own complaint ("cp: cannot stat '/nonexistent/tool': …").
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("cp: ") && l.contains("/nonexistent/tool")),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            "EXIT with status 1: Failed to fetch '/nonexistent/tool': \
             cp failed with status: 256\n"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn uris_mesos_rejects_fail_before_anything_is_fetched() {
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("a.txt"), "a\n").unwrap();
    let master = start(config()).await;
    let outside = Uri {
        output_file: Some("/etc/evil".into()),
        ..uri("/etc/hostname")
    };
    let uris = vec![
        uri(&files.path().join("a.txt").display().to_string()),
        outside,
    ];
    let (status, sandbox) = run_task(&master, "rejected", uris, "true").await;

    assert_eq!(status.state(), TaskState::TaskFailed);
    assert_eq!(
        status.message.as_deref(),
        Some(
            "Failed to launch container: Could not fetch: \
             URI output file must be within the sandbox directory"
        )
    );
    assert!(!sandbox.join("a.txt").exists());
}

#[tokio::test]
async fn virtual_tasks_fetch_nothing() {
    let master = start(LocalMasterConfig {
        virtual_tasks: true,
        ..config()
    })
    .await;
    let framework = Framework::subscribe(&master, framework_info("fetch", &[], 0.0)).await;
    let offer = framework.offer_for("-S0", |_| true).await;
    let mut task = command_task("virtual", &offer.agent_id, "true", "cpus:0.1;mem:32");
    task.command.as_mut().unwrap().uris = vec![uri("/nonexistent/file")];
    framework.launch(&offer, vec![task]).await;
    framework.follow("virtual", TaskState::TaskRunning).await;
}
