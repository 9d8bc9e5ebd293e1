//! Tidy: the house rules of issue 15 on the sources as text (hermetic, no build).
//!
//! Fails on (a) a cycle in the file-level import graph of `src/` and `compat/src/`,
//! (b) a non-test function over [`MAX_FN_LINES`] lines, (c) a file over [`MAX_FILE_LINES`]
//! lines. Test code (`#[cfg(test)]` items, `tests.rs` and files declared under
//! `#[cfg(test)]`) is left out of (a) and (b), not of (c).
//!
//! [`ALLOWED`] lists the violations known when the check was written; it can only shrink:
//! a new violation fails, and so does an allowed one that is gone.

mod graph;
mod lex;
mod parse;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    time::Instant,
};

use graph::Source;

const MAX_FN_LINES: usize = 100;
const MAX_FILE_LINES: usize = 800;

/// Known violations: `cycle FILE` (the file is in an import cycle), `fn FILE NAME`,
/// `file FILE`. Remove lines as they are fixed; never add one.
const ALLOWED: &[&str] = &[];

/// The `.rs` files under `dir`, as (path relative to `root`, text), sorted.
fn read_tree(root: &Path, dir: &str, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(root.join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let relative = path
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .to_string();
        if path.is_dir() {
            read_tree(root, &relative, out);
        } else if relative.ends_with(".rs") {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{relative}: {e}"));
            out.push((relative, text));
        }
    }
}

/// Every violation: its allow-list key and what to tell the reader.
fn violations(files: &[(String, String)]) -> BTreeMap<String, String> {
    let sources: Vec<Source> = files
        .iter()
        .map(|(path, text)| Source {
            path: path.clone(),
            info: parse::parse(text),
        })
        .collect();
    let graph = graph::build(&sources);
    let mut found = BTreeMap::new();
    for cycle in graph::cycles(&graph.edges) {
        let members: BTreeSet<&String> = cycle.iter().collect();
        let mut text = format!("import cycle of {} files:", cycle.len());
        for file in &cycle {
            let uses: Vec<&str> = graph.edges[file]
                .iter()
                .filter(|t| members.contains(t))
                .map(String::as_str)
                .collect();
            text.push_str(&format!("\n      {file} uses {}", uses.join(", ")));
        }
        for file in &cycle {
            found.insert(format!("cycle {file}"), text.clone());
        }
    }
    for source in sources
        .iter()
        .filter(|s| !graph.test_only.contains(&s.path))
    {
        for f in source
            .info
            .functions
            .iter()
            .filter(|f| f.lines > MAX_FN_LINES)
        {
            let detail = format!(
                "function of {} lines (line {}), at most {MAX_FN_LINES}",
                f.lines, f.line
            );
            found.insert(format!("fn {} {}", source.path, f.name), detail);
        }
    }
    for (path, text) in files {
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            found.insert(
                format!("file {path}"),
                format!("{lines} lines, at most {MAX_FILE_LINES}"),
            );
        }
    }
    found
}

/// The failure message, or `None` when `found` is exactly `allowed`.
fn judge(found: &BTreeMap<String, String>, allowed: &[&str]) -> Option<String> {
    let allowed: BTreeSet<&str> = allowed.iter().copied().collect();
    let mut message = String::new();
    for (key, detail) in found.iter().filter(|(k, _)| !allowed.contains(k.as_str())) {
        message.push_str(&format!("new violation: {key}: {detail}\n"));
    }
    for key in allowed.iter().filter(|k| !found.contains_key(**k)) {
        message.push_str(&format!("fixed, remove it from tidy::ALLOWED: {key}\n"));
    }
    (!message.is_empty()).then_some(message)
}

#[test]
fn tidy() {
    let started = Instant::now();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    read_tree(root, "src", &mut files);
    read_tree(root, "compat/src", &mut files);
    let found = violations(&files);
    eprintln!("tidy: {} files in {:?}", files.len(), started.elapsed());
    if let Some(message) = judge(&found, ALLOWED) {
        panic!("{message}");
    }
}

#[test]
fn tidy_finds_cycles_long_functions_and_stale_allowances() {
    let long_body = "    x();\n".repeat(MAX_FN_LINES);
    let files = [
        (
            "src/lib.rs",
            "pub mod a;\npub mod b;\npub mod c;\n".to_string(),
        ),
        (
            "src/a/mod.rs",
            "mod inner;\npub struct X;\nfn f() { inner::g(); }\n".to_string(),
        ),
        (
            "src/a/inner.rs",
            "use super::X;\npub fn g() {}\n".to_string(),
        ),
        (
            "src/b.rs",
            format!(
                "fn long() {{\n{long_body}}}\n#[cfg(test)]\nmod tests {{ use crate::c::Y; }}\n"
            ),
        ),
        (
            "src/c.rs",
            "pub struct Y;\nfn h() { crate::b::long(); }\n".to_string(),
        ),
    ];
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(p, t)| (p.to_string(), t.clone()))
        .collect();
    let found = violations(&files);
    let keys: Vec<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "cycle src/a/inner.rs",
            "cycle src/a/mod.rs",
            "fn src/b.rs long"
        ]
    );
    assert!(found["cycle src/a/mod.rs"].contains("src/a/inner.rs uses src/a/mod.rs"));
    let allowed = [
        "cycle src/a/inner.rs",
        "cycle src/a/mod.rs",
        "fn src/b.rs long",
    ];
    assert_eq!(judge(&found, &allowed), None);
    let stale = judge(&found, &[&allowed[..], &["file src/c.rs"]].concat());
    assert!(stale.is_some_and(|m| m.contains("remove it from tidy::ALLOWED: file src/c.rs")));
    assert!(
        judge(&found, &allowed[1..])
            .is_some_and(|m| m.contains("new violation: cycle src/a/inner.rs"))
    );
}
