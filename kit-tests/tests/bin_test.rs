//! `bin/test`'s installs, as a user who is not root but has sudo: run with
//! `--install-only` and fake `id`, `sudo`, `dpkg-query`, `apt-get`, `cargo`
//! and `rustup` first on the PATH, which record how they were called, on a
//! machine that has none of what the tests need.

use std::{os::unix::fs::PermissionsExt, path::Path, process::Command};

use kit_tests::repo_root;

/// Writes an executable shell script `name` into `dir`.
fn fake(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_sudo_user_gets_everything_installed_noninteractively() {
    let temp = tempfile::tempdir().unwrap();
    let bin = temp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let calls = temp.path().join("calls");
    let log = |name: &str| {
        format!(
            "echo \"{name} DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*\" >>'{}'",
            calls.display()
        )
    };
    fake(&bin, "id", "[ \"$1\" = -u ] && echo 1000 || echo user");
    // sudo resets the environment, as the real one does by default.
    fake(
        &bin,
        "sudo",
        &format!("{}\nexec env -u DEBIAN_FRONTEND \"$@\"", log("sudo")),
    );
    fake(&bin, "dpkg-query", "exit 1"); // nothing is installed
    fake(&bin, "apt-get", &log("apt-get"));
    // No rustfmt, clippy or cargo-generate yet.
    fake(
        &bin,
        "cargo",
        &format!(
            "case \"$1\" in fmt|clippy|generate) exit 1 ;; esac\n{}",
            log("cargo")
        ),
    );
    fake(&bin, "rustup", &log("rustup"));

    let output = Command::new("/bin/bash")
        .arg(repo_root().join("bin/test"))
        .arg("--install-only")
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env_remove("DEBIAN_FRONTEND")
        .output()
        .unwrap();
    let calls = std::fs::read_to_string(&calls).unwrap_or_default();
    assert!(
        output.status.success(),
        "bin/test --install-only failed:\n{}\ncalls:\n{calls}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = calls.lines().collect();
    let install = lines
        .iter()
        .find(|line| line.starts_with("apt-get ") && line.contains(" install "))
        .unwrap_or_else(|| panic!("no apt-get install:\n{calls}"));
    assert!(
        install.starts_with("apt-get DEBIAN_FRONTEND=noninteractive "),
        "DEBIAN_FRONTEND did not get through sudo: {install}"
    );
    for package in [
        "zookeeper",
        "shellcheck",
        "vagrant",
        "chromium",
        "chromium-driver",
        "unzip",
        "zip",
        "bzip2",
        "xz-utils",
        "python3-marathon",
    ] {
        assert!(
            install.split_whitespace().any(|word| word == package),
            "{package} is not installed: {install}"
        );
    }
    let through_sudo: Vec<_> = lines.iter().filter(|l| l.starts_with("sudo ")).collect();
    assert_eq!(
        through_sudo.len(),
        2,
        "update and install, with sudo:\n{calls}"
    );
    assert!(
        lines.contains(&"rustup DEBIAN_FRONTEND= component add rustfmt clippy"),
        "{calls}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("cargo DEBIAN_FRONTEND= install cargo-generate ")),
        "{calls}"
    );
}
