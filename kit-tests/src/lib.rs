//! Helpers for the kit's own tests: running `cargo generate` on the
//! template, comparing directory trees, and running a program in the
//! background while reading its output.
//!
//! The tests themselves are in `tests/`. They check what a workshop
//! attendee relies on: that the template generates a crate that builds and
//! runs, and that `steps/01-generate` is exactly what it generates.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// The root of the kit's checkout.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("kit-tests is in the checkout")
        .to_path_buf()
}

/// The `cargo generate` command for the kit's template, without
/// questions, into `destination/<name>`, with `defines` answering the
/// template's questions.
pub fn generate_command(name: &str, destination: &Path, defines: &[(&str, &str)]) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .arg("generate")
        .arg("--path")
        .arg(repo_root().join("template"))
        .args(["--name", name, "--silent", "--vcs", "none", "--destination"])
        .arg(destination);
    for (key, value) in defines {
        command.arg("--define").arg(format!("{key}={value}"));
    }
    command
}

/// Runs `cargo generate` on the kit's template, offline and without
/// questions, into `destination/<name>`, with `defines` answering the
/// template's questions. Panics with a hint if cargo-generate is missing.
pub fn generate(name: &str, destination: &Path, defines: &[(&str, &str)]) -> PathBuf {
    let output = generate_command(name, destination, defines)
        .output()
        .expect("running cargo");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("no such command") || stderr.contains("no such subcommand") {
            panic!(
                "cargo-generate is not installed. Run bin/test (it installs it), or \
                 `cargo install cargo-generate --locked --ignore-rust-version`."
            );
        }
        panic!("cargo generate failed:\n{stderr}");
    }
    destination.join(name)
}

/// Every file below `root` (skipping `target/`), by relative path.
pub fn read_tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| entry.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.file_name().is_some_and(|name| name == "target") {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let relative = path.strip_prefix(root).expect("below root").to_path_buf();
                files.insert(relative, std::fs::read(&path).expect("readable file"));
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(root, root, &mut files);
    files
}

/// The differences between two trees, one line each; empty if equal.
pub fn tree_differences(expected: &Path, actual: &Path) -> Vec<String> {
    let (expected_files, actual_files) = (read_tree(expected), read_tree(actual));
    let mut differences = Vec::new();
    for (path, content) in &expected_files {
        match actual_files.get(path) {
            None => differences.push(format!("missing: {}", path.display())),
            Some(other) if other != content => {
                differences.push(format!("differs: {}", path.display()))
            }
            Some(_) => {}
        }
    }
    for path in actual_files.keys() {
        if !expected_files.contains_key(path) {
            differences.push(format!("unexpected: {}", path.display()));
        }
    }
    differences
}

/// Copies the checkout's tracked files (as they are in the working tree)
/// into `checkout`.
pub fn copy_checkout(checkout: &Path) {
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(repo_root())
        .output()
        .expect("git lists the checkout's files");
    assert!(listed.status.success(), "git ls-files failed");
    for file in listed.stdout.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let relative = Path::new(std::str::from_utf8(file).expect("UTF-8 file names"));
        let source = repo_root().join(relative);
        if !source.is_file() {
            continue; // deleted in the working tree
        }
        let destination = checkout.join(relative);
        std::fs::create_dir_all(destination.parent().expect("a file has a folder")).unwrap();
        std::fs::copy(&source, &destination).unwrap();
    }
}

/// Copies the checkout's tracked files into `checkout` and runs
/// `cargo generate <args> --silent --vcs none` there, as a workshop
/// attendee does at the root of their checkout. Returns the new crate's
/// directory (named by `--name`, in the folder `--destination` names if
/// any).
pub fn generate_in_checkout(checkout: &Path, args: &[&str]) -> PathBuf {
    copy_checkout(checkout);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(args)
        .args(["--silent", "--vcs", "none"])
        .current_dir(checkout)
        .output()
        .expect("running cargo");
    assert!(
        output.status.success(),
        "cargo {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    let value_of = |flag: &str| {
        args.iter()
            .position(|a| *a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let name = value_of("--name").expect("the command names the crate");
    match value_of("--destination") {
        Some(folder) => checkout.join(folder).join(name),
        None => checkout.join(name),
    }
}

/// A program running in the background, its output lines read on threads;
/// SIGINTed (Ctrl-C) when dropped, and SIGKILLed if that does not stop it.
pub struct Background {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Background {
    pub fn start(program: &Path, args: &[&str]) -> Background {
        let mut command = Command::new(program);
        command.args(args);
        Self::spawn(command)
    }

    /// Starts `command`, logging at INFO without colours unless it says
    /// otherwise.
    pub fn spawn(mut command: Command) -> Background {
        let mut child = command
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (sender, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = sender.send(line);
                }
            });
        }
        Background {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Every line read so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// The first output line from now on for which `pick` gives something.
    pub fn wait_for<T>(&mut self, mut pick: impl FnMut(&str) -> Option<T>, within: Duration) -> T {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let picked = pick(&line);
                    self.seen.push(line);
                    if let Some(picked) = picked {
                        return picked;
                    }
                }
                Err(_) => panic!(
                    "nothing expected in the output within {within:?}:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-s", "INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `name=value` in a log line.
pub fn log_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(name)?.strip_prefix('='))
}
