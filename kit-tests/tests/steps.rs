//! One lesson per step: `diff -r` between neighbouring steps shows only the
//! files the README's section for the step names ("What changed, besides
//! `Cargo.toml` and `README.md`: …"). A file changed in a step without being
//! named there, or named without having changed, fails this test, so the
//! workshop's "diff the steps" rule cannot silently erode.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use kit_tests::{read_tree, repo_root};

/// The steps, in order: the folders under `steps/`.
fn steps() -> Vec<PathBuf> {
    let mut steps: Vec<PathBuf> = std::fs::read_dir(repo_root().join("steps"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    steps.sort();
    steps
}

/// The paths named in backquotes in the README section `### {number}.`,
/// in its paragraph that begins "What changed".
fn named_in_readme(readme: &str, number: usize) -> BTreeSet<String> {
    let heading = format!("### {number}. ");
    let section = readme
        .split("\n### ")
        .map(|s| format!("### {s}"))
        .find(|s| s.starts_with(&heading))
        .unwrap_or_else(|| panic!("README.md has no section {heading:?}"));
    let paragraph = section
        .split("\n\n")
        .find(|p| p.starts_with("What changed, besides `Cargo.toml` and `README.md`:"))
        .unwrap_or_else(|| panic!("README.md's section {number} does not say what changed"));
    let (_, list) = paragraph.split_once(':').unwrap();
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The files that differ between two steps (present in one only, or with
/// other contents), relative to the steps' folders.
fn changed_files(before: &Path, after: &Path) -> BTreeSet<String> {
    let (before, after) = (read_tree(before), read_tree(after));
    let paths: BTreeSet<&PathBuf> = before.keys().chain(after.keys()).collect();
    paths
        .into_iter()
        .filter(|path| before.get(*path) != after.get(*path))
        .map(|path| path.to_string_lossy().into_owned())
        // Every step has its own package name and its own README.
        .filter(|path| path != "Cargo.toml" && path != "README.md")
        .collect()
}

/// `name` covers `file` if it is the file, or a folder (`tests/`) above it.
fn covers(name: &str, file: &str) -> bool {
    name == file || (name.ends_with('/') && file.starts_with(name))
}

#[test]
fn each_step_changes_only_the_files_its_readme_section_names() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let steps = steps();
    assert!(steps.len() >= 6, "found only {steps:?}");
    let mut problems = Vec::new();
    for (index, pair) in steps.windows(2).enumerate() {
        let number = index + 2;
        let named = named_in_readme(&readme, number);
        let changed = changed_files(&pair[0], &pair[1]);
        for file in &changed {
            if !named.iter().any(|name| covers(name, file)) {
                problems.push(format!("step {number}: {file} changed but is not named"));
            }
        }
        for name in &named {
            if !changed.iter().any(|file| covers(name, file)) {
                problems.push(format!("step {number}: {name} is named but did not change"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "README.md's \"What changed\" lists are out of date:\n{}",
        problems.join("\n")
    );
}
