//! `bin/prepare-offline.sh` vendors every crate the workspace needs: with
//! its configuration, Cargo resolves the whole workspace (library, steps,
//! and so what the template generates) without the network.

use std::process::Command;

use kit_tests::repo_root;

#[test]
fn vendored_crates_cover_the_whole_workspace() {
    let temp = tempfile::tempdir().unwrap();
    let vendor = temp.path().join("vendor");
    let config = temp.path().join("config.toml");
    let prepared = Command::new("bash")
        .arg(repo_root().join("bin/prepare-offline.sh"))
        .args(["--no-box", "--vendor-dir"])
        .arg(&vendor)
        .arg("--config")
        .arg(&config)
        .status()
        .unwrap();
    assert!(prepared.success(), "bin/prepare-offline.sh failed");
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(
        written.contains("replace-with"),
        "no source replacement in:\n{written}"
    );
    assert!(written.contains("offline = true"), "{written}");

    // `cargo metadata` reads the manifest of every package in the
    // dependency graph: it fails if any crate is missing from vendor/.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let metadata = Command::new(cargo)
        .args([
            "metadata",
            "--locked",
            "--offline",
            "--format-version",
            "1",
            "--config",
        ])
        .arg(&config)
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        metadata.status.success(),
        "the workspace does not resolve from the vendored crates:\n{}",
        String::from_utf8_lossy(&metadata.stderr)
    );
    let json = String::from_utf8_lossy(&metadata.stdout);
    assert!(
        json.contains(&vendor.display().to_string()),
        "packages are not taken from vendor/"
    );
}
