//! `/files/read` and `/files/browse`: a task's sandbox over HTTP.
//!
//! A task's output is a file in its sandbox, on whichever agent it runs.
//! Nobody logs into the agents to read it: a Mesos agent serves its
//! sandboxes through its `files` process (`src/files/files.cpp`), the one
//! the web UI's *Sandbox* links and `mesos task log` use:
//!
//! | request | answer |
//! |---|---|
//! | `GET /files/read?path=P&offset=N&length=L` | `{"data": "...", "offset": N}`: at most `L` bytes of `P` from `N`; `offset=-1` answers the file's size as `offset` |
//! | `GET /files/browse?path=D` | the entries of directory `D`: `path`, `size`, `mode`, `mtime`, `nlink`, `uid`, `gid` |
//!
//! It serves nothing but what was *attached* to it: when the agent creates
//! an executor's sandbox it attaches the directory under three names
//! (`Framework::addExecutor` in `src/slave/slave.cpp`): its real path (the
//! `directory` of the executor in the agent's `/state`),
//! `<agent's work dir>/frameworks/<F>/executors/<E>/runs/latest`, and
//! `/frameworks/<F>/executors/<E>/runs/latest`. A path is resolved against
//! the longest attached prefix, and must still lie inside it once symlinks
//! and `..` are followed, so a client cannot read other files of the
//! machine (`FilesProcess::resolve`). Like any failure-prone remote read,
//! reading a file that grows is a loop of `read`s from the last offset: a
//! client that lost a connection resumes where it was, and `length` keeps
//! each answer small (Mesos caps it at 16 pages).
//!
//! Mesos' own local mode (`src/local/local.cpp`) runs the master and its
//! agents in one process with one `files` process; so here: one table
//! shared by all agents, served at `/files/…` on the master's address. That
//! is the address in every agent's PID (`slave(1)@127.0.0.1:5050`), so a
//! client finds a task's files the way it does on a cluster, where the
//! PID is `slave(1)@10.10.4.10:5051`: `http://<PID's address>/files/read`.

use std::{
    collections::BTreeMap,
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use http::StatusCode;
use serde_json::{Value, json};

/// The most a read returns: 16 pages, as Mesos caps it.
pub(crate) const MAX_READ_LENGTH: u64 = 16 * 4096;

/// The agents' attached directories, by virtual path.
#[derive(Debug, Clone, Default)]
pub(crate) struct Files(Arc<Mutex<BTreeMap<String, PathBuf>>>);

/// A refused request: the status and Mesos' message (empty for 404).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FilesError {
    pub status: StatusCode,
    pub message: String,
}

impl FilesError {
    fn bad_request(message: impl Into<String>) -> FilesError {
        FilesError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn not_found() -> FilesError {
        FilesError {
            status: StatusCode::NOT_FOUND,
            message: String::new(),
        }
    }

    fn internal(message: String) -> FilesError {
        FilesError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message,
        }
    }
}

impl Files {
    /// Makes the directory (or file) `path` readable as `virtual_path`,
    /// as `Files::attach` does: by its canonical path, which must exist.
    pub(crate) fn attach(&self, path: &Path, virtual_path: &str) -> std::io::Result<()> {
        let real = path.canonicalize()?;
        // The table holds virtual paths without a trailing slash.
        let virtual_path = virtual_path.strip_suffix('/').unwrap_or(virtual_path);
        self.lock().insert(virtual_path.to_string(), real);
        Ok(())
    }

    /// Attaches an executor's sandbox `directory` (`…/executors/<E>/runs/<container>`)
    /// under the three names a Mesos agent gives it.
    pub(crate) fn attach_executor(
        &self,
        directory: &Path,
        framework_id: &str,
        executor_id: &str,
    ) -> std::io::Result<()> {
        self.attach(directory, &directory.display().to_string())?;
        if let Some(runs) = directory.parent() {
            self.attach(directory, &runs.join("latest").display().to_string())?;
        }
        let virtual_latest =
            format!("/frameworks/{framework_id}/executors/{executor_id}/runs/latest");
        self.attach(directory, &virtual_latest)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, PathBuf>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A requested path on this machine, as `FilesProcess::resolve` finds
    /// it: the longest attached prefix, then the rest inside it. `Ok(None)`
    /// is "not found"; an error is a path that leaves its directory.
    fn resolve(&self, path: &str) -> Result<Option<PathBuf>, String> {
        let trimmed = path.strip_suffix('/').unwrap_or(path);
        let tokens: Vec<&str> = trimmed.split('/').collect();
        let table = self.lock();
        for end in (1..=tokens.len()).rev() {
            let Some(attached) = table.get(&tokens[..end].join("/")) else {
                continue;
            };
            let suffix = tokens[end..].join("/");
            if !attached.is_dir() {
                // A file has nothing inside it: not found, not a bad request.
                return Ok((suffix.is_empty()).then(|| attached.clone()));
            }
            let joined = attached.join(&suffix);
            let real = match joined.canonicalize() {
                Ok(real) => real,
                // stout's `os::realpath`: ENOENT and ENOTDIR are "none".
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                    ) =>
                {
                    return Ok(None);
                }
                Err(error) => {
                    return Err(format!(
                        "Failed to determine canonical path of '{}': {}",
                        joined.display(),
                        strerror(&error)
                    ));
                }
            };
            // Mesos compares strings; comparing path components is
            // stricter (`/runs/1` does not contain `/runs/10`).
            if !real.starts_with(attached) {
                return Err(format!("'{}' is inaccessible", joined.display()));
            }
            return Ok(Some(real));
        }
        Ok(None)
    }

    /// `GET /files/read?<query>`: `{"data": …, "offset": …}`.
    pub(crate) fn read(&self, query: Option<&str>) -> Result<Value, FilesError> {
        let query = decode_query(query.unwrap_or(""))?;
        let path = required_path(&query)?;
        // `FilesProcess::__read`: -1 is allowed for both, and means "the
        // size" for the offset, "to the end" for the length.
        let offset = match query.get("offset") {
            Some(text) => {
                let offset = numify(text).map_err(|e| {
                    FilesError::bad_request(format!("Failed to parse offset: {e}.\n"))
                })?;
                if offset < -1 {
                    return Err(FilesError::bad_request(format!(
                        "Negative offset provided: {offset}.\n"
                    )));
                }
                offset
            }
            None => -1,
        };
        let mut length = match query.get("length") {
            Some(text) => {
                let length = numify(text).map_err(|e| {
                    FilesError::bad_request(format!("Failed to parse length: {e}.\n"))
                })?;
                if length < -1 {
                    return Err(FilesError::bad_request(format!(
                        "Negative length provided: {length}.\n"
                    )));
                }
                u64::try_from(length).ok()
            }
            None => None,
        };
        let start = if offset == -1 {
            length = Some(0);
            0
        } else {
            offset as u64
        };

        let resolved = self
            .resolve(path)
            .map_err(|e| FilesError::bad_request(format!("{e}.\n")))?
            .ok_or_else(FilesError::not_found)?;
        if resolved.is_dir() {
            return Err(FilesError::bad_request("Cannot read a directory.\n"));
        }
        let (size, data) = read_at(&resolved, start, length)?;
        // An offset of -1 is answered with the size, any other as given.
        let offset = if offset == -1 { size } else { start };
        Ok(json!({
            "data": String::from_utf8_lossy(&data),
            "offset": offset,
        }))
    }

    /// `GET /files/browse?path=<directory>`: its entries, sorted by path.
    pub(crate) fn browse(&self, query: Option<&str>) -> Result<Value, FilesError> {
        let query = decode_query(query.unwrap_or(""))?;
        let path = required_path(&query)?;
        let resolved = self
            .resolve(path)
            .map_err(|e| FilesError::bad_request(format!("{e}.\n")))?
            .ok_or_else(FilesError::not_found)?;
        let mut entries = BTreeMap::new();
        // Mesos lists whatever `ls` finds; a file lists as nothing.
        if let Ok(read_dir) = std::fs::read_dir(&resolved) {
            for entry in read_dir.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                // `stat`, not `lstat`: a symlink shows as what it points to.
                let Ok(metadata) = std::fs::metadata(entry.path()) else {
                    continue;
                };
                let virtual_path = format!("{}/{name}", path.strip_suffix('/').unwrap_or(path));
                entries.insert(entry.path(), file_info(&virtual_path, &metadata));
            }
        }
        Ok(Value::Array(entries.into_values().collect()))
    }
}

/// `path`, which must be there and not empty.
fn required_path(query: &BTreeMap<String, String>) -> Result<&str, FilesError> {
    match query.get("path") {
        Some(path) if !path.is_empty() => Ok(path),
        _ => Err(FilesError::bad_request(
            "Expecting 'path=value' in query.\n",
        )),
    }
}

/// The file's size and at most `length` bytes (capped at
/// [`MAX_READ_LENGTH`]) from `offset`; nothing past the end.
fn read_at(path: &Path, offset: u64, length: Option<u64>) -> Result<(u64, Vec<u8>), FilesError> {
    let failed = |error: std::io::Error| {
        FilesError::internal(format!(
            "Failed to open file at '{}': {}.\n",
            path.display(),
            strerror(&error)
        ))
    };
    let mut file = std::fs::File::open(path).map_err(failed)?;
    let size = file.seek(SeekFrom::End(0)).map_err(failed)?;
    if offset >= size {
        return Ok((size, Vec::new()));
    }
    let length = length.unwrap_or(size - offset).min(MAX_READ_LENGTH);
    file.seek(SeekFrom::Start(offset)).map_err(failed)?;
    let mut data = Vec::new();
    file.take(length).read_to_end(&mut data).map_err(failed)?;
    whole_characters(&mut data);
    Ok((size, data))
}

/// JSON strings are text, and Mesos' raw bytes are not always: a piece
/// that ends inside a UTF-8 character ends before it instead (unless that
/// leaves nothing), so the next read, from the offset after this piece,
/// gets the whole character. Bytes that are no UTF-8 at all become U+FFFD.
fn whole_characters(data: &mut Vec<u8>) {
    if let Err(error) = std::str::from_utf8(data) {
        // No `error_len`: the bytes end inside a character.
        if error.error_len().is_none() && error.valid_up_to() > 0 {
            data.truncate(error.valid_up_to());
        }
    }
}

/// An error as `strerror` words it, without Rust's ` (os error 2)`.
fn strerror(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error ") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}

/// One entry of a listing, as Mesos' `model(const FileInfo&)` writes it.
fn file_info(path: &str, metadata: &std::fs::Metadata) -> Value {
    use std::os::unix::fs::MetadataExt;
    json!({
        "path": path,
        "nlink": metadata.nlink(),
        "size": metadata.size(),
        // Whole seconds: Mesos keeps `st_mtime` only.
        "mtime": metadata.mtime() as f64,
        "mode": mode_string(metadata.mode()),
        "uid": name_of(metadata.uid(), "/etc/passwd"),
        "gid": name_of(metadata.gid(), "/etc/group"),
    })
}

/// `ls -l`'s `drwxr-xr-x`.
fn mode_string(mode: u32) -> String {
    let kind = match mode & 0o170000 {
        0o040000 => 'd',
        0o020000 => 'c',
        0o060000 => 'b',
        0o010000 => 'p',
        0o120000 => 'l',
        0o140000 => 's',
        _ => '-',
    };
    let mut text = String::from(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 0o7;
        text.push(if bits & 4 != 0 { 'r' } else { '-' });
        text.push(if bits & 2 != 0 { 'w' } else { '-' });
        text.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    text
}

/// The user (or group) name of an ID from `/etc/passwd` (or `/etc/group`),
/// else the number, as Mesos falls back when `getpwuid` finds nothing.
fn name_of(id: u32, database: &str) -> String {
    std::fs::read_to_string(database)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                let number = fields.nth(1)?;
                (number.parse() == Ok(id)).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| id.to_string())
}

/// A query string as libprocess decodes it (`http::query::decode`): pairs
/// separated by `&` or `;`, `+` for a space, `%XX` escapes; the last of a
/// repeated key wins.
fn decode_query(query: &str) -> Result<BTreeMap<String, String>, FilesError> {
    let mut pairs = BTreeMap::new();
    for token in query.split(['&', ';']).filter(|t| !t.is_empty()) {
        let (key, value) = token.split_once('=').unwrap_or((token, ""));
        pairs.insert(percent_decode(key)?, percent_decode(value)?);
    }
    Ok(pairs)
}

fn percent_decode(text: &str) -> Result<String, FilesError> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(byte) = hex else {
                    let escape: String = text[i..].chars().take(3).collect();
                    return Err(FilesError::bad_request(format!(
                        "Malformed % escape in '{text}': '{escape}'"
                    )));
                };
                decoded.push(byte);
                i += 3;
            }
            b'+' => {
                decoded.push(b' ');
                i += 1;
            }
            byte => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&decoded).into_owned())
}

/// A number as stout's `numify` reads it: decimal with an optional sign,
/// or hexadecimal with `0x`.
fn numify(text: &str) -> Result<i64, String> {
    let failed = || format!("Failed to convert '{text}' to number");
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        let value = i64::from_str_radix(hex, 16).map_err(|_| failed())?;
        return Ok(if negative { -value } else { value });
    }
    text.parse::<i64>().map_err(|_| failed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox() -> (tempfile::TempDir, PathBuf, Files) {
        let work_dir = tempfile::tempdir().unwrap();
        let directory = work_dir
            .path()
            .join("slaves/S0/frameworks/F/executors/E/runs/C");
        std::fs::create_dir_all(&directory).unwrap();
        std::fs::write(directory.join("stdout"), "Hey Mesos\n").unwrap();
        let files = Files::default();
        files.attach_executor(&directory, "F", "E").unwrap();
        (work_dir, directory, files)
    }

    #[test]
    fn paths_resolve_inside_attached_directories_only() {
        let (work_dir, directory, files) = sandbox();
        let real = directory.canonicalize().unwrap();
        let stdout = format!("{}/stdout", directory.display());
        assert_eq!(files.resolve(&stdout), Ok(Some(real.join("stdout"))));
        assert_eq!(
            files.resolve("/frameworks/F/executors/E/runs/latest/stdout"),
            Ok(Some(real.join("stdout")))
        );
        let latest = directory.parent().unwrap().join("latest");
        assert_eq!(
            files.resolve(&format!("{}/", latest.display())),
            Ok(Some(real.clone()))
        );
        // Not attached, or not there: not found.
        assert_eq!(files.resolve("/etc/passwd"), Ok(None));
        assert_eq!(files.resolve(&format!("{stdout}/more")), Ok(None));
        assert_eq!(
            files.resolve(&format!("{}", work_dir.path().display())),
            Ok(None)
        );
        assert_eq!(
            files.resolve(&format!("{}/nothing", real.display())),
            Ok(None)
        );
        // Out of the sandbox by `..` or a symlink: refused.
        std::fs::write(work_dir.path().join("secret"), "no").unwrap();
        let escape = format!("{}/../../../../../../../../secret", directory.display());
        assert!(
            files
                .resolve(&escape)
                .unwrap_err()
                .ends_with("is inaccessible"),
            "{escape}"
        );
        std::os::unix::fs::symlink("/etc", directory.join("etc")).unwrap();
        let link = format!("{}/etc/passwd", directory.display());
        assert!(
            files
                .resolve(&link)
                .unwrap_err()
                .ends_with("is inaccessible")
        );
    }

    #[test]
    fn reads_as_mesos_answers_them() {
        let (_work_dir, directory, files) = sandbox();
        let path = format!("{}/stdout", directory.display());
        let read = |query: &str| files.read(Some(&format!("path={path}&{query}")));
        assert_eq!(
            read("offset=0"),
            Ok(json!({"data": "Hey Mesos\n", "offset": 0}))
        );
        assert_eq!(read("offset=-1"), Ok(json!({"data": "", "offset": 10})));
        assert_eq!(read(""), Ok(json!({"data": "", "offset": 10})));
        assert_eq!(
            read("offset=4&length=5"),
            Ok(json!({"data": "Mesos", "offset": 4}))
        );
        assert_eq!(
            read("offset=0x4;length=-1"),
            Ok(json!({"data": "Mesos\n", "offset": 4}))
        );
        assert_eq!(read("offset=99"), Ok(json!({"data": "", "offset": 99})));
        assert_eq!(
            read("offset=-2").unwrap_err(),
            FilesError::bad_request("Negative offset provided: -2.\n")
        );
        assert_eq!(
            read("offset=ten").unwrap_err(),
            FilesError::bad_request("Failed to parse offset: Failed to convert 'ten' to number.\n")
        );
        assert_eq!(
            read("offset=0&length=-5").unwrap_err(),
            FilesError::bad_request("Negative length provided: -5.\n")
        );
        assert_eq!(
            files.read(Some("offset=0")).unwrap_err(),
            FilesError::bad_request("Expecting 'path=value' in query.\n")
        );
        assert_eq!(
            files.read(None).unwrap_err(),
            FilesError::bad_request("Expecting 'path=value' in query.\n")
        );
        assert_eq!(
            files
                .read(Some(&format!("path={}", directory.display())))
                .unwrap_err(),
            FilesError::bad_request("Cannot read a directory.\n")
        );
        assert_eq!(
            files.read(Some("path=/etc/passwd&offset=0")).unwrap_err(),
            FilesError::not_found()
        );
    }

    #[test]
    fn reads_are_capped_at_16_pages() {
        let (_work_dir, directory, files) = sandbox();
        std::fs::write(directory.join("big"), vec![b'x'; 100_000]).unwrap();
        let query = format!("path={}/big&offset=0", directory.display());
        let read = files.read(Some(&query)).unwrap();
        assert_eq!(read["data"].as_str().unwrap().len(), 65536);
    }

    #[test]
    fn pieces_end_between_characters() {
        let (_work_dir, directory, files) = sandbox();
        std::fs::write(directory.join("text"), "hé!").unwrap();
        let path = format!("{}/text", directory.display());
        let read = |query: &str| files.read(Some(&format!("path={path}&{query}"))).unwrap();
        // `é` is bytes 1 and 2: a piece of 2 bytes stops before it.
        assert_eq!(read("offset=0&length=2"), json!({"data": "h", "offset": 0}));
        assert_eq!(read("offset=1&length=2"), json!({"data": "é", "offset": 1}));
        assert_eq!(
            read("offset=1&length=1"),
            json!({"data": "\u{FFFD}", "offset": 1})
        );
    }

    #[test]
    fn browsing_lists_entries_with_mesos_fields() {
        let (_work_dir, directory, files) = sandbox();
        std::fs::create_dir(directory.join("tasks")).unwrap();
        let listing = files
            .browse(Some("path=/frameworks/F/executors/E/runs/latest/"))
            .unwrap();
        let entries = listing.as_array().unwrap();
        let paths: Vec<&str> = entries
            .iter()
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "/frameworks/F/executors/E/runs/latest/stdout",
                "/frameworks/F/executors/E/runs/latest/tasks",
            ]
        );
        let stdout = &entries[0];
        assert_eq!(stdout["size"], 10);
        assert_eq!(stdout["nlink"], 1);
        assert!(stdout["mode"].as_str().unwrap().starts_with("-rw"));
        assert!(entries[1]["mode"].as_str().unwrap().starts_with("drwx"));
        assert!(stdout["mtime"].as_f64().unwrap() > 1.0e9);
        for field in ["uid", "gid"] {
            assert!(!stdout[field].as_str().unwrap().is_empty());
        }
        assert_eq!(
            files.browse(Some("path=/tmp")).unwrap_err(),
            FilesError::not_found()
        );
        assert_eq!(
            files.browse(Some("path=")).unwrap_err(),
            FilesError::bad_request("Expecting 'path=value' in query.\n")
        );
    }

    #[test]
    fn queries_are_decoded_as_libprocess_does() {
        let query = decode_query("path=%2Ftmp%2Fa+b&offset=1;x").unwrap();
        assert_eq!(query["path"], "/tmp/a b");
        assert_eq!(query["offset"], "1");
        assert_eq!(query["x"], "");
        assert_eq!(
            decode_query("path=%zz").unwrap_err(),
            FilesError::bad_request("Malformed % escape in '%zz': '%zz'")
        );
    }

    #[test]
    fn modes_read_like_ls() {
        assert_eq!(mode_string(0o100644), "-rw-r--r--");
        assert_eq!(mode_string(0o040755), "drwxr-xr-x");
        assert_eq!(mode_string(0o010600), "prw-------");
    }
}
