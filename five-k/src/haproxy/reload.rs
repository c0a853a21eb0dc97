//! Putting a configuration into effect: write it, check it, reload.
//!
//! One tokio task does this, one configuration at a time, and always the
//! latest: while a reload runs, the configurations rendered meanwhile
//! wait in a `watch` channel, where each replaces the one before. So 100
//! apps changing at once cost one or two reloads, not 100.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use tokio::sync::watch;

use super::{Rendered, Settings, master_cli};

/// How long a reload may take before 5K gives up on it.
const RELOAD_PATIENCE: Duration = Duration::from_secs(30);

/// How long the workers of the previous configuration may keep serving
/// after a reload. Their connections may go to a task about to be killed,
/// so 5K waits for them to finish; but a long-lived connection (a
/// websocket) would hold them for ever, so not longer than this.
const DRAIN_PATIENCE: Duration = Duration::from_secs(5);

/// How often `show proc` is read while waiting.
const POLL: Duration = Duration::from_millis(10);

/// The reloading task's loop: applies the latest configuration of
/// `wanted` and reports its generation in `applied` once done (or given
/// up: a kill must not wait for ever on a broken HAProxy). Each reload
/// is logged with the count so far and how long it took, which is what
/// the benchmark of many apps changing at once reads.
pub async fn run(
    settings: Settings,
    mut wanted: watch::Receiver<Rendered>,
    applied: watch::Sender<u64>,
) {
    let mut reloads = 0_u64;
    while wanted.changed().await.is_ok() {
        let (generation, text) = wanted.borrow_and_update().clone();
        let started = Instant::now();
        match apply(&settings, &text).await {
            Ok(()) => {
                reloads += 1;
                tracing::info!(
                    reloads,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "HAProxy reloaded with the serving tasks"
                );
            }
            Err(error) => tracing::error!(
                "HAProxy not reloaded: {error}; tasks 5K kills meanwhile may still be in its backends"
            ),
        }
        applied.send_replace(generation);
    }
}

/// Writes `text` to the configuration file (atomically: a reload started
/// by someone else never reads half a file), checks it with `haproxy -c`
/// first so that a bad one never replaces a good one, then reloads.
async fn apply(settings: &Settings, text: &str) -> Result<(), String> {
    let next = with_suffix(&settings.config, ".next");
    let (binary, config) = (settings.binary.clone(), settings.config.clone());
    let text = text.to_string();
    let checked = next.clone();
    tokio::task::spawn_blocking(move || -> Result<(), String> {
        std::fs::write(&checked, text)
            .map_err(|e| format!("cannot write {}: {e}", checked.display()))?;
        check(&binary, &checked)?;
        std::fs::rename(&checked, &config)
            .map_err(|e| format!("cannot replace {}: {e}", config.display()))
    })
    .await
    .map_err(|e| format!("the writing task failed: {e}"))??;
    reload(&settings.master_socket).await
}

/// `haproxy -c`: exit status 0 is a good configuration, 2 a good one that
/// binds nothing (no app has a service port yet), which the master,
/// listening on its CLI, runs all the same.
fn check(binary: &Path, config: &Path) -> Result<(), String> {
    let output = std::process::Command::new(binary)
        .args(["-c", "-q", "-f"])
        .arg(config)
        .output()
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
