//! The fetcher: a container's `CommandInfo.uris`, put into its sandbox
//! before its command starts.
//!
//! A task (or executor) rarely carries everything it needs in its command
//! line: its binaries, configuration and data are somewhere on the
//! network, and each agent that runs it must get them first. Mesos' agent
//! does that with the *fetcher*: before it starts a container it runs
//! `mesos-fetcher` (`src/launcher/fetcher.cpp`) in the new sandbox, which
//! for each URI
//!
//! 1. downloads it (`http://`, `https://`, see `download.rs`) or copies it
//!    (an absolute path or a `file://` URI, with `cp`) into the sandbox,
//!    named after the URI's last path component or `output_file`;
//! 2. makes it executable (mode 0755) if `executable` is set, or else, if
//!    `extract` is set (the default), unpacks it if its name says it is an
//!    archive (see `extract.rs`), keeping the archive.
//!
//! The first URI that fails stops the fetcher; what it fetched before
//! stays in the sandbox, and the container is not launched: the agent
//! reports TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED. The reason the
//! scheduler sees is only "Failed to fetch all URIs for container '…':
//! exited with status 1" (`FetcherProcess::run` in
//! `src/slave/containerizer/fetcher.cpp`): the fetcher is a separate
//! program, and the agent knows only its exit status. Why it failed is in
//! the fetcher's log, which it writes to the sandbox's `stderr` (the task's
//! own output follows it there), readable through `/files/read`. This
//! module writes the same lines there, without glog's prefixes.
//!
//! Left out, as the simulated agent has no use for them: the fetcher cache
//! (`cache: true` fetches directly, as Mesos does when the cache is
//! disabled), fetching as the task's `user` (files belong to whoever runs
//! the agent), `--frameworks_home` for relative paths (they are an error,
//! as on an agent without it), and Hadoop (`hdfs://`, `s3://`, … fail as on
//! an agent without a Hadoop client).

mod download;
mod extract;
mod uri;

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Stdio,
};

use crate::v1::command_info::Uri;
use uri::Source;

/// Fetches `uris` into `sandbox`, for the container `container_id`, as
/// Mesos' `Fetcher::fetch` does. The error is the whole reason of the
/// failed launch: `Failed to fetch all URIs for container '<id>': exited
/// with status 1`, or `Could not fetch: <why>` for URIs that Mesos rejects
/// before it starts the fetcher.
pub(crate) async fn fetch(uris: &[Uri], sandbox: &Path, container_id: &str) -> Result<(), String> {
    // FetcherProcess::fetch: all URIs are checked before any is fetched.
    validate(uris).map_err(|error| format!("Could not fetch: {error}"))?;
    if uris.is_empty() {
        return Ok(());
    }
    let log = Log::new(sandbox);
    for uri in uris {
        if let Err(error) = fetch_uri(uri, sandbox, &log).await {
            // `EXIT(EXIT_FAILURE)` in mesos-fetcher's main.
            log.line(&format!(
                "EXIT with status 1: Failed to fetch '{}': {error}",
                uri.value
            ));
            return Err(format!(
                "Failed to fetch all URIs for container '{container_id}': exited with status 1"
            ));
        }
    }
    log.line(&format!(
        "Successfully fetched all URIs into '{}'",
        sandbox.display()
    ));
    Ok(())
}

/// `validateUris`: every URI has a name, every `output_file` is inside
/// the sandbox.
fn validate(uris: &[Uri]) -> Result<(), String> {
    for uri in uris {
        uri::basename(&uri.value)?;
        if let Some(output_file) = &uri.output_file {
            uri::validate_output_file(output_file)?;
        }
    }
    Ok(())
}

/// One URI into the sandbox (`fetchBypassingCache`).
async fn fetch_uri(uri: &Uri, sandbox: &Path, log: &Log) -> Result<(), String> {
    log.line(&format!("Fetching URI '{}'", uri.value));
    let destination = destination(uri, sandbox)?;
    // Mesos trims leading whitespace from the URI, not from its name.
    let value = uri.value.trim_start();
    match uri::classify(value)? {
        Source::Local(path) => copy(&path, &destination, log).await?,
        Source::Net => download::download(value, &destination).await?,
        Source::Other => {
            // What an agent without a Hadoop client says: `hadoop version`
            // exits with 127, "command not found".
            return Err(
                "Failed to create HDFS client: Hadoop client is not available, exit status: 32512"
                    .into(),
            );
        }
    }

    if uri.executable == Some(true) {
        // S_IRWXU | S_IRGRP | S_IXGRP | S_IROTH | S_IXOTH; no extraction.
        use std::os::unix::fs::PermissionsExt;
        tokio::fs::set_permissions(&destination, std::fs::Permissions::from_mode(0o755))
            .await
            .map_err(|e| {
                format!(
                    "Failed to chmod executable '{}': {e}",
                    destination.display()
                )
            })?;
    } else if uri.extract.unwrap_or(true) {
        // `extract` defaults to true in mesos.proto.
        match extract::kind(&destination) {
            Some(kind) => {
                extract::extract(kind, &destination, sandbox, log.file()).await?;
                log.line(&format!(
                    "Extracted '{}' into '{}'",
                    destination.display(),
                    sandbox.display()
                ));
            }
            None => log.line(&format!(
                "Copying instead of extracting resource from URI with 'extract' flag, \
                 because it does not seem to be an archive: {}",
                uri.value
            )),
        }
    }
    log.line(&format!(
        "Fetched '{}' to '{}'",
        uri.value,
        destination.display()
    ));
    Ok(())
}

/// The file a URI is fetched to; `output_file`'s directories are created.
fn destination(uri: &Uri, sandbox: &Path) -> Result<PathBuf, String> {
    let name = match &uri.output_file {
        Some(output_file) => {
            let directory = uri::path_dirname(output_file);
            if directory != "." {
                std::fs::create_dir_all(sandbox.join(&directory)).map_err(|e| {
                    format!("Unable to create subdirectory {directory} in sandbox: {e}")
                })?;
            }
            output_file.clone()
        }
        None => uri::basename(&uri.value)?,
    };
    Ok(sandbox.join(name))
}

/// stout's `os::copyfile`: `cp` of one file to one file.
async fn copy(source: &Path, destination: &Path, log: &Log) -> Result<(), String> {
    let ends_with_slash = |p: &Path| p.as_os_str().to_string_lossy().ends_with('/');
    if source.is_dir() || ends_with_slash(source) {
        return Err("`source` was a directory".into());
    }
    if destination.is_dir() || ends_with_slash(destination) {
        return Err("`destination` was a directory".into());
    }
    let status = tokio::process::Command::new("cp")
        .arg(source)
        .arg(destination)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // cp says why (e.g. "cannot stat …") in the fetcher's log.
        .stderr(log.file())
        .status()
        .await
        .map_err(|e| format!("os::spawn failed: {e}"))?;
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        // The raw wait status, as Mesos prints it: 256 for exit code 1.
        return Err(format!("cp failed with status: {}", status.into_raw()));
    }
    Ok(())
}

/// The fetcher's log: the sandbox's `stderr`, appended to.
struct Log {
    path: PathBuf,
}

impl Log {
    fn new(sandbox: &Path) -> Log {
        Log {
            path: sandbox.join("stderr"),
        }
    }

    /// The log file, for a tool's standard error. If it cannot be opened
    /// the tool's complaints are lost, as are the log's lines: the fetch
    /// itself goes on.
    fn file(&self) -> Stdio {
        self.open().map_or_else(|_| Stdio::null(), Stdio::from)
    }

    fn open(&self) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.path)
    }

    fn line(&self, text: &str) {
        tracing::debug!(target: "mesos::local::fetcher", "{text}");
        if let Ok(mut file) = self.open() {
            let _ = writeln!(file, "{text}");
        }
    }
}
