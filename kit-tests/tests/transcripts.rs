//! The README shows what the steps print, working and failing, so that a
//! newcomer knows what to look for. Those transcripts must stay true: every
//! log line in the README's `text` blocks must be one the code can still
//! print. This test finds the fixed start of each line's message (the words
//! before the first value that varies: a number, a path, a quote), part by
//! part, in the Rust sources of the library and the steps.

use std::path::Path;

use kit_tests::repo_root;

/// The log lines of the README's ```text blocks:
/// `[instance] LEVEL target: message fields`, the instance optional.
fn logged_lines(readme: &str) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    let mut in_text = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_text = line == "```text";
            continue;
        }
        if !in_text {
            continue;
        }
        let line = match line.strip_prefix('[') {
            Some(rest) => rest.split_once("] ").map_or(line, |(_, l)| l),
            None => line,
        };
        let Some((level, rest)) = line.split_once(' ') else {
            continue;
        };
        if !["ERROR", "WARN", "INFO", "DEBUG"].contains(&level) {
            continue;
        }
        let (target, message) = rest.split_once(": ").unwrap_or_else(|| {
            panic!("README log line without a target: {line}");
        });
        lines.push((target.to_string(), message.to_string()));
    }
    lines
}

/// The words a message starts with, up to the first that varies.
fn fixed_start(message: &str) -> String {
    message
        .split(' ')
        .take_while(|word| !word.contains(|c: char| c.is_ascii_digit() || "/\"=…".contains(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// All Rust source text of the given folders, concatenated.
fn sources(root: &Path, folders: &[&str]) -> String {
    fn walk(dir: &Path, text: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.ends_with("target") {
                walk(&path, text);
            } else if path.extension().is_some_and(|e| e == "rs") {
                text.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut text = String::new();
    for folder in folders {
        walk(&root.join(folder), &mut text);
    }
    text
}

#[test]
fn every_log_line_in_the_readme_is_one_the_code_prints() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let lines = logged_lines(&readme);
    assert!(lines.len() >= 15, "found only {lines:?}");
    let code = sources(
        &root,
        &[
            "mesos/src",
            "mesos-local/src",
            "steps",
            "template/src",
            "five-k/src",
        ],
    );
    let manifests: Vec<String> = std::fs::read_dir(root.join("steps"))
        .unwrap()
        .map(|step| std::fs::read_to_string(step.unwrap().path().join("Cargo.toml")).unwrap())
        .collect();
    let mut missing = Vec::new();
    for (target, message) in &lines {
        let start = fixed_start(message);
        assert!(
            !start.is_empty(),
            "{target}: {message:?} starts with a varying value"
        );
        // A message may be put together from parts (`"{what}: {error}"`,
        // an error's own text): each part must be in the code.
        for part in start.split(": ") {
            if !code.contains(part) {
                missing.push(format!("{target}: {part:?} (of {start:?})"));
            }
        }
        // A step's log target is its crate's name: it must be a step's.
        if let Some(krate) = target
            .split("::")
            .next()
            .filter(|t| t.starts_with("hello_mesos"))
        {
            let package = format!("name = \"{}\"", krate.replace('_', "-"));
            assert!(
                manifests.iter().any(|m| m.contains(&package)),
                "the README quotes a log of {krate}, which is no step's crate"
            );
        }
    }
    assert!(
        missing.is_empty(),
        "the README quotes log lines the code no longer prints:\n{}",
        missing.join("\n")
    );
}
