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
    ("learn", &["source", "policy", "matcher", "minimize"]),
    ("layer", &["source", "policy"]),
    ("report", &["source", "policy", "matcher", "learn"]),
    ("csp", &["source", "policy", "layer", "report"]),
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

/// The report wing's rooms and the rooms each may use: the store contract is the floor,
/// intake and the pages stand on it, each database on it and the shared SQL, and the
/// collector (the endpoint and the read side) on all of them. `meter` (metric names) may be
/// used by any room.
const REPORT_ROOMS: &[(&str, &[&str])] = &[
    ("store", &[]),
    ("sql", &["store"]),
    ("intake", &["store"]),
    ("pages", &["store"]),
    ("promote", &["store"]),
    ("sqlite", &["store", "sql"]),
    ("postgres", &["store", "sql"]),
    ("alert", &["store"]),
    (
        "collector",
        &["store", "intake", "pages", "promote", "alert"],
    ),
];

/// The module path of a file under `src/` (`report/intake/parse.rs` → report, intake, parse;
/// a `mod.rs` is its folder).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| {
            c.as_os_str()
                .to_str()
                .unwrap()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Every `crate::a::b` and `super::…::x` path in a file's code (comments left out),
/// resolved to a module path from the crate root.
fn paths_used(text: &str, here: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let bytes = code.as_bytes();
        for (i, _) in code.char_indices() {
            let rest = &code[i..];
            let at_word = i == 0
                || !(bytes[i - 1].is_ascii_alphanumeric()
                    || bytes[i - 1] == b'_'
                    || bytes[i - 1] == b':');
            let start = if at_word && rest.starts_with("crate::") {
                Some((Vec::new(), &rest["crate::".len()..]))
            } else if at_word && rest.starts_with("super::") {
                let mut base = here.to_vec();
                let mut tail = rest;
                while let Some(t) = tail.strip_prefix("super::") {
                    base.pop();
                    tail = t;
                }
                Some((base, tail))
            } else {
                None
            };
            if let Some((mut base, tail)) = start {
                for seg in tail.split("::") {
                    let name: String = seg
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if name.is_empty() {
                        break;
                    }
                    base.push(name.clone());
                    if name.len() != seg.len() {
                        break;
                    }
                }
                out.push(base);
            }
        }
    }
    out
}

#[test]
fn the_report_wing_has_rooms_whose_imports_run_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src.join("report"), &mut all);
    let mut wrong = Vec::new();
    for file in &all {
        let here = module_path(&src, file);
        let Some(room) = here.get(1).cloned() else {
            continue; // report/mod.rs, the front
        };
        if room == "meter" {
            continue;
        }
        let allowed = REPORT_ROOMS
            .iter()
            .find(|(r, _)| *r == room)
            .unwrap_or_else(|| panic!("{}: a room not named here", file.display()))
            .1;
        let text = std::fs::read_to_string(file).unwrap();
        // Unit tests may build their input with a higher room (the parser makes the
        // violations a store test stores): only the code itself is held to the rule.
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or(&text);
        for path in paths_used(code, &here) {
            if path.first().map(String::as_str) != Some("report") {
                continue;
            }
            let Some(to) = path.get(1) else { continue };
            if *to == room || to == "meter" || allowed.contains(&to.as_str()) {
                continue;
            }
            // The room's own front re-exports (`report::Collector` from a room is the
            // collector room).
            wrong.push(format!("{} ({room}) uses report::{to}", file.display()));
        }
    }
    assert!(
        wrong.is_empty(),
        "rooms that import the wrong way:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_folder_holds_more_than_twelve_files() {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, usize)>) {
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                n += 1;
            }
        }
        out.push((dir.to_path_buf(), n));
    }
    let mut counts = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut counts,
    );
    let crowded: Vec<_> = counts.iter().filter(|(_, n)| *n > 12).collect();
    assert!(crowded.is_empty(), "{crowded:?}");
}
