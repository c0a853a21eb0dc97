//! What the fetcher makes of a URI string: where the file goes, whether
//! it is local, whether it is valid at all.
//!
//! These are Mesos' own rules (`Fetcher::basename`, `validateUri`,
//! `validateOutputFile`, `uriToLocalPath` and `isNetUri` in
//! `src/slave/containerizer/fetcher.cpp`), quirks included: a URI is
//! treated as a file path, so the query string of an HTTP URL ends up in
//! the file name. A framework that works here must work on a real agent,
//! so the simulation keeps the quirks rather than fix them.

use std::path::PathBuf;

/// The name a fetched URI gets in the sandbox, unless `output_file` says
/// otherwise (`Fetcher::basename`).
pub(crate) fn basename(uri: &str) -> Result<String, String> {
    if uri.contains(['\\', '\'', '\0']) {
        return Err("Illegal characters in URI".into());
    }
    // "http://", "hdfs://", …, but not a one-letter "c://" (Windows).
    if let Some(index) = uri.find("://").filter(|index| *index > 1) {
        let path = &uri[index + 3..];
        // Something must follow the first slash: "http://host/" has no file.
        match path.find('/') {
            Some(slash) if slash + 1 < path.len() => {}
            _ => return Err(format!("Malformed URI (missing path): {uri}")),
        }
        let last = path.rfind('/').expect("checked above");
        return Ok(path[last + 1..].to_string());
    }
    Ok(path_basename(uri))
}

/// `validateOutputFile`: a name inside the sandbox.
pub(crate) fn validate_output_file(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("URI output file path is empty".into());
    }
    // Mesos does not check for "..": a TODO in its source says so.
    if path.starts_with('/') {
        return Err("URI output file must be within the sandbox directory".into());
    }
    Ok(())
}

/// How a URI is fetched.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A path on the agent's own file system: copied.
    Local(PathBuf),
    /// `http://` or `https://`: downloaded.
    Net,
    /// Anything else with a scheme (`hdfs://`, `s3://`, …): Mesos hands
    /// it to the Hadoop client.
    Other,
}

/// `uriToLocalPath` and `isNetUri`: local are `file://` URIs and strings
/// without a scheme, which must be absolute paths.
pub(crate) fn classify(uri: &str) -> Result<Source, String> {
    let file_uri = uri.starts_with("file://");
    if !file_uri && uri.contains("://") {
        return Ok(if is_net_uri(uri) {
            Source::Net
        } else {
            Source::Other
        });
    }
    let path = uri.strip_prefix("file://").unwrap_or(uri);
    // `file://localhost/tmp/x` is `/tmp/x`.
    let path = path.strip_prefix("localhost").unwrap_or(path);
    if !path.starts_with('/') {
        if file_uri {
            return Err("File URI only supports absolute paths".into());
        }
        // The simulated agent has no `--frameworks_home` to resolve it in.
        return Err("A relative path was passed for the resource but the \
                    Mesos framework home was not specified. \
                    Please either provide this config option \
                    or avoid using a relative path"
            .into());
    }
    Ok(Source::Local(PathBuf::from(path)))
}

/// Mesos also sends `ftp://` and `ftps://` to curl; the simulated agent's
/// HTTP client does not speak FTP (see `download.rs`).
fn is_net_uri(uri: &str) -> bool {
    ["http://", "https://", "ftp://", "ftps://"]
        .iter()
        .any(|scheme| uri.starts_with(scheme))
}

/// stout's `Path::basename`: the last component, trailing slashes ignored.
pub(crate) fn path_basename(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    match trimmed.rfind('/') {
        Some(slash) => trimmed[slash + 1..].to_string(),
        None => trimmed.to_string(),
    }
}

/// stout's `Path::dirname`: everything before the last component, "."
/// when there is no directory.
pub(crate) fn path_dirname(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "." } else { "/" }.into();
    }
    match trimmed.rfind('/') {
        None => ".".into(),
        Some(slash) => {
            let dir = trimmed[..slash].trim_end_matches('/');
            if dir.is_empty() { "/" } else { dir }.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basenames_follow_mesos_quirks_and_all() {
        assert_eq!(basename("http://h:80/a/b.tar.gz").unwrap(), "b.tar.gz");
        // The query string stays in the name, as on a real agent.
        assert_eq!(basename("http://h/get?f=x").unwrap(), "get?f=x");
        assert_eq!(basename("/tmp/dir/file.txt").unwrap(), "file.txt");
        assert_eq!(basename("file:///tmp/x.zip").unwrap(), "x.zip");
        assert_eq!(basename("/tmp/dir/").unwrap(), "dir");
        assert_eq!(
            basename("http://host").unwrap_err(),
            "Malformed URI (missing path): http://host"
        );
        assert_eq!(
            basename("http://host/").unwrap_err(),
            "Malformed URI (missing path): http://host/"
        );
        // "http://host/dir/" passes Mesos' check and names an empty file.
        assert_eq!(basename("http://host/dir/").unwrap(), "");
        assert_eq!(
            basename("/tmp/it's").unwrap_err(),
            "Illegal characters in URI"
        );
    }

    #[test]
    fn output_files_must_be_relative_and_named() {
        assert!(validate_output_file("a/b.txt").is_ok());
        assert_eq!(
            validate_output_file("/etc/passwd").unwrap_err(),
            "URI output file must be within the sandbox directory"
        );
        assert_eq!(
            validate_output_file("").unwrap_err(),
            "URI output file path is empty"
        );
    }

    #[test]
    fn local_paths_are_absolute_or_file_uris() {
        assert_eq!(
            classify("/tmp/x").unwrap(),
            Source::Local(PathBuf::from("/tmp/x"))
        );
        assert_eq!(
            classify("file:///tmp/x").unwrap(),
            Source::Local(PathBuf::from("/tmp/x"))
        );
        assert_eq!(
            classify("file://localhost/tmp/x").unwrap(),
            Source::Local(PathBuf::from("/tmp/x"))
        );
        assert_eq!(
            classify("file://tmp/x").unwrap_err(),
            "File URI only supports absolute paths"
        );
        assert!(classify("tmp/x").unwrap_err().starts_with(
            "A relative path was passed for the resource but the Mesos framework home"
        ));
        assert_eq!(classify("https://h/x").unwrap(), Source::Net);
        assert_eq!(classify("ftp://h/x").unwrap(), Source::Net);
        assert_eq!(classify("hdfs://h/x").unwrap(), Source::Other);
    }

    #[test]
    fn dirnames_as_stout_computes_them() {
        assert_eq!(path_dirname("x.txt"), ".");
        assert_eq!(path_dirname("a/b/x.txt"), "a/b");
        assert_eq!(path_dirname("a//x.txt"), "a");
        assert_eq!(path_dirname("/x"), "/");
        assert_eq!(path_dirname("a/b/"), "a");
    }
}
