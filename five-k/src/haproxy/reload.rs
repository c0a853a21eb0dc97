//! Putting a configuration into effect: write it, check it, reload.
//!
//! One tokio task does this, one configuration at a time, and always the
//! latest: while a reload runs, the configurations rendered meanwhile
//! wait in a `watch` channel, where each replaces the one before. So 100
//! apps changing at once cost one or two reloads, not 100.

use std::{
    collections::BTreeSet,
    net::{IpAddr, TcpListener},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use tokio::sync::watch;

use super::{Service, Settings, Wanted, master_cli, render};

/// How long a reload may take before 5K gives up on it.
const RELOAD_PATIENCE: Duration = Duration::from_secs(30);

/// How long the workers of the previous configuration may keep serving
/// after a reload. Their connections may go to a task about to be killed,
/// so 5K waits for them to finish; but a long-lived connection (a
/// websocket) would hold them for ever, so not longer than this.
const DRAIN_PATIENCE: Duration = Duration::from_secs(5);

/// How often `show proc` is read while waiting.
const POLL: Duration = Duration::from_millis(10);

/// How soon service ports that could not be bound are tried again, when
/// no new configuration comes first.
const BIND_RETRY: Duration = Duration::from_secs(10);

/// The reloading task's loop: applies the latest services of `wanted` and
/// reports their generation in `applied` once done (or given up: a kill
/// must not wait for ever on a broken HAProxy). Each reload is logged
/// with the count so far and how long it took, which is what the
/// benchmark of many apps changing at once reads.
pub async fn run(
    settings: Settings,
    mut wanted: watch::Receiver<Wanted>,
    applied: watch::Sender<u64>,
) {
    let mut reloads = 0_u64;
    // The ports HAProxy binds now: at first those of the file it runs,
    // written by this or an earlier leader.
    let mut bound = bound_ports(&settings.config);
    let mut in_effect: Option<String> = None;
    let mut left_out = false;
    loop {
        let next = wanted.changed();
        let changed = if left_out {
            // Ports that could not be bound may be free a moment later
            // (a process that held one stopped): try them again.
            tokio::time::timeout(BIND_RETRY, next)
                .await
                .unwrap_or(Ok(()))
        } else {
            next.await
        };
        if changed.is_err() {
            return; // 5K stops
        }
        let (generation, services) = wanted.borrow_and_update().clone();
        let (usable, refused) = bindable(settings.bind, &services, &bound);
        left_out = !refused.is_empty();
        let text = render(settings.bind, &usable);
        if in_effect.as_ref() != Some(&text) {
            let started = Instant::now();
            let outcome = tokio::time::timeout(RELOAD_PATIENCE, apply(&settings, &text))
                .await
                .unwrap_or_else(|_| Err(format!("no reload after {RELOAD_PATIENCE:?}")));
            match outcome {
                Ok(()) => {
                    reloads += 1;
                    tracing::info!(
                        reloads,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "HAProxy reloaded with the serving tasks"
                    );
                    bound = usable.iter().map(|service| service.port).collect();
                    in_effect = Some(text);
                }
                Err(error) => tracing::error!(
                    "HAProxy not reloaded: {error}; tasks 5K kills meanwhile may still be in its backends"
                ),
            }
        }
        applied.send_replace(generation);
    }
}

/// Splits `services` into those HAProxy can bind and those it cannot.
///
/// `haproxy -c` does not bind, and a reload whose new worker cannot bind
/// one port fails as a whole: the old worker keeps the old configuration,
/// and every later one, with the same port, fails too. So one app whose
/// service port another process holds (5K's own API port, say) would
/// freeze HAProxy for every app. Each port HAProxy does not hold yet
/// (`bound`) is bound here for a moment first; a service whose port
/// cannot be is left out, and logged.
fn bindable(
    bind: IpAddr,
    services: &[Service],
    bound: &BTreeSet<u32>,
) -> (Vec<Service>, Vec<Service>) {
    services.iter().cloned().partition(|service| {
        if bound.contains(&service.port) {
            return true;
        }
        let Ok(port) = u16::try_from(service.port) else {
            return false;
        };
        match TcpListener::bind((bind, port)) {
            Ok(_) => true,
            Err(error) => {
                tracing::error!(
                    "service port {port} of {} cannot be bound on {bind}: {error}; left out of HAProxy",
                    service.name
                );
                false
            }
        }
    })
}

/// The service ports of a configuration file 5K wrote (its `bind`
/// lines); none if there is no such file.
fn bound_ports(config: &Path) -> BTreeSet<u32> {
    let text = std::fs::read_to_string(config).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("bind "))
        .filter_map(|address| address.rsplit(':').next()?.trim().parse().ok())
        .collect()
}

/// Writes `text` to the configuration file (atomically: a reload started
/// by someone else never reads half a file), checks it with `haproxy -c`
/// first so that a bad one never replaces a good one, then reloads.
async fn apply(settings: &Settings, text: &str) -> Result<(), String> {
    let next = with_suffix(&settings.config, ".next");
    tokio::fs::write(&next, text)
        .await
        .map_err(|e| format!("cannot write {}: {e}", next.display()))?;
    check(&settings.binary, &next).await?;
    tokio::fs::rename(&next, &settings.config)
        .await
        .map_err(|e| format!("cannot replace {}: {e}", settings.config.display()))?;
    reload(&settings.master_socket).await
}

/// `haproxy -c`: exit status 0 is a good configuration, 2 a good one that
/// binds nothing (no app has a service port yet), which the master,
/// listening on its CLI, runs all the same.
/// A check that hangs is killed (`kill_on_drop`) when [`run`] gives up.
async fn check(binary: &Path, config: &Path) -> Result<(), String> {
    let output = tokio::process::Command::new(binary)
        .args(["-c", "-q", "-f"])
        .arg(config)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    match output.status.code() {
        Some(0 | 2) => Ok(()),
        _ => Err(format!(
            "{} -c rejects {}: {}",
            binary.display(),
            config.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    }
}

/// Reloads through the master CLI and waits until the new worker serves
/// and the previous ones have finished their connections (or
/// [`DRAIN_PATIENCE`] passed).
async fn reload(socket: &Path) -> Result<(), String> {
    let cli = |e: std::io::Error| format!("HAProxy's master CLI {}: {e}", socket.display());
    let before = master_cli::show_proc(socket).await.map_err(cli)?;
    master_cli::command(socket, "reload").await.map_err(cli)?;
    let deadline = Instant::now() + RELOAD_PATIENCE;
    let mut processes = loop {
        tokio::time::sleep(POLL).await;
        // The master CLI closes and resets connections while the master
        // re-executes itself: an error here means "not yet".
        if let Ok(now) = master_cli::show_proc(socket).await {
            if now.failed > before.failed {
                return Err("the master could not load the new configuration".into());
            }
            if now.reloads > before.reloads && !now.workers.is_empty() {
                break now;
            }
        }
        if Instant::now() >= deadline {
            return Err(format!("no new worker after {RELOAD_PATIENCE:?}"));
        }
    };
    let drained = Instant::now() + DRAIN_PATIENCE;
    while before
        .workers
        .iter()
        .any(|pid| processes.old_workers.contains(pid))
    {
        if Instant::now() >= drained {
            tracing::warn!(
                "HAProxy's previous worker still has connections after {DRAIN_PATIENCE:?}"
            );
            break;
        }
        tokio::time::sleep(POLL).await;
        if let Ok(now) = master_cli::show_proc(socket).await {
            processes = now;
        }
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::haproxy::config::Mode;

    fn service(name: &str, port: u16) -> Service {
        Service {
            name: name.into(),
            port: port.into(),
            mode: Mode::Tcp,
            servers: vec![],
        }
    }

    fn localhost() -> IpAddr {
        IpAddr::from([127, 0, 0, 1])
    }

    /// A port nothing listens on (the system's pick, released).
    fn free_port() -> u16 {
        TcpListener::bind((localhost(), 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn a_service_port_another_process_holds_is_left_out() {
        // As 5K's own API port would be.
        let held = TcpListener::bind((localhost(), 0)).unwrap();
        let held_port = held.local_addr().unwrap().port();
        let free = free_port();
        let services = [service("held_0", held_port), service("free_0", free)];
        let (usable, refused) = bindable(localhost(), &services, &BTreeSet::new());
        assert_eq!(usable, vec![service("free_0", free)]);
        assert_eq!(refused, vec![service("held_0", held_port)]);
    }

    #[test]
    fn a_port_haproxy_holds_already_is_kept() {
        // HAProxy's own listener, from the configuration in effect.
        let held = TcpListener::bind((localhost(), 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        let bound = BTreeSet::from([u32::from(port)]);
        let (usable, refused) = bindable(localhost(), &[service("web_0", port)], &bound);
        assert_eq!((usable.len(), refused.len()), (1, 0));
    }

    #[test]
    fn the_ports_haproxy_holds_at_first_are_those_of_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("haproxy.cfg");
        assert_eq!(bound_ports(&config), BTreeSet::new());
        let text = render(localhost(), &[service("a_0", 10000), service("b_0", 10001)]);
        std::fs::write(&config, text).unwrap();
        assert_eq!(bound_ports(&config), BTreeSet::from([10000, 10001]));
    }

    #[tokio::test]
    async fn a_master_that_never_answers_still_ends_the_reload() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("master.sock");
        // Listening, never accepting: a SIGSTOPped master.
        let _master = tokio::net::UnixListener::bind(&socket).unwrap();
        let settings = Settings {
            config: dir.path().join("haproxy.cfg"),
            master_socket: socket,
            bind: localhost(),
            binary: "true".into(),
        };
        let (wanted, wanted_receiver) = watch::channel((0, Arc::new(Vec::new())));
        let (applied_sender, mut applied) = watch::channel(0);
        tokio::spawn(run(settings, wanted_receiver, applied_sender));
        wanted.send_replace((1, Arc::new(vec![])));
        let done = applied.wait_for(|generation| *generation == 1);
        let done = tokio::time::timeout(Duration::from_secs(15), done).await;
        assert!(done.is_ok(), "the KILLs of generation 1 are still held");
    }
}
