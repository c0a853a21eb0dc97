//! 5K: a scheduler of long-running apps that speaks Marathon's REST API.
//!
//! The workshop's talk ended on "5K, an attempt at a Marathon clone".
//! This is that clone, built from the kit's parts: the library's driver
//! keeps it subscribed to the master, `scheduler/` decides (apps, tasks,
//! deployments, with no I/O), `api/` serves Marathon's REST API v2 so
//! that existing Marathon clients drive it unchanged, and `core.rs` joins
//! them. With no flags it runs on a simulated Mesos master in this
//! process and serves the API on 127.0.0.1:8080.

mod api;
mod app;
mod core;
mod events;
mod scheduler;
mod time;
mod web;

use std::{net::SocketAddr, sync::Arc};

use clap::Parser;
use mesos::{Credentials, Driver, DriverConfig, MasterSpec, v1::FrameworkInfo};
use tracing_subscriber::EnvFilter;

use crate::{
    api::{Api, Settings},
    core::CoreLoop,
    events::EventBus,
    scheduler::Scheduler,
};

/// How long the master keeps 5K's tasks running while 5K is away: a
/// week, Marathon's `--failover_timeout`.
const FAILOVER_TIMEOUT_SECONDS: u64 = 604_800;

/// Runs long-lived apps on Mesos, driven through Marathon's REST API.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The Mesos master: http://host:5050, host:5050, zk://host:2181/mesos,
    /// or `local` for a simulated master inside this process.
    #[arg(long, env = "MESOS_MASTER", default_value = "local")]
    master: MasterSpec,

    /// For masters that authenticate frameworks: a JSON file
    /// {"principal": "…", "secret": "…"}, as Mesos' --credential.
    #[arg(long, env = "MESOS_CREDENTIAL", value_parser = mesos::flags::credential_file)]
    credential: Option<Credentials>,

    /// Where to serve the REST API. Only this machine can reach the
    /// default; give 0.0.0.0:8080 to serve the room (and guard it with
    /// --web-credential).
    #[arg(long, env = "FIVE_K_HTTP_ADDRESS", default_value = "127.0.0.1:8080")]
    http_address: SocketAddr,

    /// The framework's name, as the Mesos UI shows it.
    #[arg(long, env = "FRAMEWORK_NAME", default_value = "five-k", value_parser = mesos::flags::text)]
    name: String,

    /// The user tasks run as when an app names none (it must exist on the
    /// agents).
    #[arg(long, env = "FRAMEWORK_USER", default_value = "root", value_parser = mesos::flags::text)]
    user: String,

    /// Who may use the web page and the REST API (all of it but /ping): a
    /// JSON file {"principal": "…", "secret": "…"} (the form of
    /// --credential), sent by clients as HTTP basic authentication.
    /// Without it, anyone who can reach --http-address can use both.
    #[arg(long, env = "FIVE_K_WEB_CREDENTIAL", value_parser = mesos::flags::credential_file)]
    web_credential: Option<Credentials>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,zookeeper_client=warn".into()),
        )
        .init();
    let args = Args::parse();
    if args.master == MasterSpec::Local {
        tracing::info!(
            "no cluster given: running on a simulated Mesos master in this process \
             (use --master http://10.10.4.2:5050 for the workshop's cluster)"
        );
    }
    // Bind first: a taken port is a mistake to report before anything
    // registers with the master.
    let listener = tokio::net::TcpListener::bind(args.http_address)
        .await
        .map_err(|e| {
            format!(
                "cannot serve the API on {}: {e} (choose another with --http-address)",
                args.http_address
            )
        })?;
    let address = listener.local_addr()?;

    let framework_info = FrameworkInfo {
        user: args.user.clone(),
        name: args.name.clone(),
        failover_timeout: Some(FAILOVER_TIMEOUT_SECONDS as f64),
        checkpoint: Some(true),
        ..Default::default()
    };
    let mut config = DriverConfig::new(args.master.clone(), framework_info);
    config.client.credentials = mesos::flags::credentials(args.credential);
    let (driver, mut mesos_events) = Driver::start(config)?;

    let bus = EventBus::default();
    let (core_loop, core) = CoreLoop::new(Scheduler::new(), bus.clone());
    let settings = Settings {
        advertised: address.to_string(),
        hostname: address.ip().to_string(),
        http_port: address.port(),
        master: args.master.to_string(),
        zk: None,
        framework_name: args.name,
        user: args.user,
        failover_timeout_seconds: FAILOVER_TIMEOUT_SECONDS,
    };
    let app = api::router(Api {
        core,
        bus,
        settings: Arc::new(settings),
    });
    let app = web::protect(app, args.web_credential);
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(error) = axum::serve(listener, service).await {
            tracing::error!(%error, "the API server stopped");
        }
    });
    tracing::info!(
        "5K serves Marathon's REST API on http://{address} (try: curl http://{address}/v2/apps)"
    );

    // Ctrl-C disconnects without a TEARDOWN: the master keeps the tasks
    // for the failover timeout, for 5K to take back.
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: disconnecting from the master");
    };
    let error = core_loop.run(&driver, &mut mesos_events, ctrl_c).await;
    driver.stop().await;
    if error.is_some() {
        std::process::exit(1);
    }
    Ok(())
}
