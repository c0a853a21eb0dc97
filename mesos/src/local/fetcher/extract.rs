//! Unpacking fetched archives into the sandbox.
//!
//! Mesos decides by the file name alone (`extract` in
//! `src/launcher/fetcher.cpp`): a name ending in `.tar`, `.tgz`,
//! `.tar.gz`, `.tbz2`, `.tar.bz2`, `.txz`, `.tar.xz` or `.zip` is an
//! archive, unpacked into the sandbox; a bare `.gz` is one compressed file,
//! gunzipped next to it without the suffix; anything else is left as it
//! is. The archive itself stays in the sandbox.
//!
//! Mesos 1.11 unpacks archives with libarchive; here the system's `tar`
//! (which recognises gzip, bzip2 and xz by itself) and `unzip` do it, and
//! `gunzip -d -c` the bare `.gz` files, as Mesos does. Their error output
//! goes to the sandbox's `stderr`, where the fetcher's log is.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
};

use crate::executor::process::describe_exit;

/// What a fetched file's name says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A tar archive, compressed or not.
    Tar,
    Zip,
    /// One gzip-compressed file.
    Gzip,
}

/// The file-name rules of Mesos' `extract`; `None`: not an archive.
pub(crate) fn kind(path: &Path) -> Option<Kind> {
    let name = path.to_string_lossy();
    const TAR: [&str; 7] = [
        ".tar", ".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz",
    ];
    if TAR.iter().any(|suffix| name.ends_with(suffix)) {
        Some(Kind::Tar)
    } else if name.ends_with(".zip") {
        Some(Kind::Zip)
    } else if name.ends_with(".gz") {
        Some(Kind::Gzip)
    } else {
        None
    }
}

/// Unpacks `archive` into `directory`. `stderr` receives the tools'
/// complaints (the sandbox's `stderr`).
pub(crate) async fn extract(
    kind: Kind,
    archive: &Path,
    directory: &Path,
    stderr: Stdio,
) -> Result<(), String> {
    let (program, args, output) = match kind {
        Kind::Tar => (
            "tar",
            vec!["-C".into(), directory.into(), "-xf".into(), archive.into()],
            None,
        ),
        // -o: overwrite without asking (there is nobody to ask); -q: the
        // list of unpacked files is noise in the task's stdout.
        Kind::Zip => (
            "unzip",
            vec![
                "-q".into(),
                "-o".into(),
                "-d".into(),
                directory.into(),
                archive.into(),
            ],
            None,
        ),
        Kind::Gzip => (
            "gunzip",
            vec!["-d".into(), "-c".into()],
            Some(gunzipped(archive, directory)),
        ),
    };
    let command_line = command_line(program, &args);
    let failed = |why: String| match kind {
        // Mesos' wording for each kind (libarchive's, and gunzip's).
        Kind::Tar | Kind::Zip => format!(
            "Failed to extract archive '{}' to '{}': '{command_line}' failed: {why}",
            archive.display(),
            directory.display()
        ),
        Kind::Gzip => format!(
            "Failed to extract '{}': '{command_line}' failed: {why}",
            archive.display()
        ),
    };

    let mut command = tokio::process::Command::new(program);
    command.args(&args).stderr(stderr).stdout(Stdio::null());
    command.stdin(Stdio::null());
    if let Some(output) = &output {
        let input = std::fs::File::open(archive).map_err(|e| failed(e.to_string()))?;
        let output = std::fs::File::create(output).map_err(|e| failed(e.to_string()))?;
        command.stdin(input).stdout(output);
    }
    let status = command.status().await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            failed(format!("{program} is not installed on this machine"))
        } else {
            failed(e.to_string())
        }
    })?;
    if !status.success() {
        return Err(failed(describe_exit(status)));
    }
    Ok(())
}

/// Where a bare `.gz` file is unpacked: its name without `.gz`, in the
/// sandbox.
fn gunzipped(archive: &Path, directory: &Path) -> PathBuf {
    let name = archive.to_string_lossy();
    let without = &name[..name.len() - ".gz".len()];
    directory.join(super::uri::path_basename(without))
}

fn command_line(program: &str, args: &[std::ffi::OsString]) -> String {
    let mut line = program.to_string();
    for arg in args {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_recognised_by_their_suffix() {
        for name in [
            "a.tar",
            "a.tgz",
            "a.tar.gz",
            "a.tbz2",
            "a.tar.bz2",
            "a.txz",
            "a.tar.xz",
        ] {
            assert_eq!(kind(Path::new(name)), Some(Kind::Tar), "{name}");
        }
        assert_eq!(kind(Path::new("/s/a.zip")), Some(Kind::Zip));
        assert_eq!(kind(Path::new("/s/notes.txt.gz")), Some(Kind::Gzip));
        for name in [
            "a.txt",
            "a.tar.bz",
            "a.xz",
            "a.bz2",
            "a.gzip",
            "zip",
            "a.tar.zst",
        ] {
            assert_eq!(kind(Path::new(name)), None, "{name}");
        }
    }

    #[test]
    fn a_bare_gz_file_loses_its_suffix() {
        assert_eq!(
            gunzipped(Path::new("/s/sub/notes.txt.gz"), Path::new("/s")),
            PathBuf::from("/s/notes.txt")
        );
    }
}
