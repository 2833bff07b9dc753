//! The house runs one way: each part of `src/` may use only the parts below it (see
//! ARCHITECTURE.md). Read from the code itself: every `crate::<part>` path outside comments.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each part and the parts it may use. The model (`source`, `policy`) knows no layer, no
/// matcher and no judge; the matcher knows no layer; the layer and the reports know nothing
/// of each other; nothing in the library uses the command line.
const ALLOWED: &[(&str, &[&str])] = &[
    ("source", &[]),
    ("policy", &["source"]),
    ("matcher", &["source", "policy"]),
    ("minimize", &["source", "policy", "matcher"]),
    ("audit", &["source", "policy", "matcher", "minimize"]),
    ("layer", &["source", "policy"]),
    ("report", &["source", "policy", "matcher"]),
];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The part a file belongs to: its first path component under `src/`, without `.rs`.
fn part(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_str()
        .unwrap();
    first.trim_end_matches(".rs").to_owned()
}

/// The parts a file names as `crate::<part>`, comments left out.
fn uses(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let tail = &rest[i + "crate::".len()..];
            let name: String = tail
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
            rest = tail;
        }
    }
    out
}

#[test]
fn imports_run_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut wrong = Vec::new();
    let mut seen_parts = BTreeSet::new();
    for file in &all {
        let from = part(&src, file);
        if from == "lib" || from == "bin" {
            continue; // the root declares every part; the binary may use them all
        }
        let allowed = ALLOWED
            .iter()
            .find(|(p, _)| *p == from)
            .unwrap_or_else(|| panic!("{}: a part ARCHITECTURE.md does not name", file.display()))
            .1;
        seen_parts.insert(from.clone());
        for to in uses(&std::fs::read_to_string(file).unwrap()) {
            if to != from && !allowed.contains(&to.as_str()) {
                wrong.push(format!("{} uses crate::{to}", file.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that run the wrong way:\n{}",
        wrong.join("\n")
    );
    assert_eq!(seen_parts.len(), ALLOWED.len(), "every part was read");
}

#[test]
fn the_library_never_uses_the_command_line() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    for file in all.iter().filter(|f| part(&src, f) != "bin") {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(!text.contains("clap::"), "{}", file.display());
    }
}

#[test]
fn no_thread_local_state() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    for file in &all {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(!text.contains("thread_local"), "{}", file.display());
    }
}
