//! The Mesos fetcher: `CommandInfo.uris` downloaded into a sandbox before
//! the executor starts (`src/launcher/fetcher.cpp`).
//!
//! A placeholder: the real one is written on another branch. It accepts an
//! executor with nothing to fetch and refuses one with URIs, as a fetcher
//! that failed does, so a launch never proceeds without its files.

use std::path::Path;

use crate::v1::command_info::Uri;

/// Fetches `uris` into `sandbox` for container `container_id`.
pub(crate) async fn fetch(uris: &[Uri], sandbox: &Path, container_id: &str) -> Result<(), String> {
    let _ = sandbox;
    if uris.is_empty() {
        return Ok(());
    }
    Err(format!(
        "Failed to fetch all URIs for container '{container_id}': fetching is not implemented here yet"
    ))
}
