//! The source layout keeps no import circles: within the harness and within
//! the probe, no module (top-level, or one level down) uses a module that
//! uses it back, directly or through others. A newcomer can then change a
//! lower layer without reading the upper ones. Read from the sources as
//! they are; test code is left out (tests may reach across).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "tests") {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") && !p.file_name().unwrap().to_string_lossy().ends_with("tests.rs") {
            out.push(p);
        }
    }
}

/// The module path of a source file (`runner/guest_run.rs` → runner::guest_run).
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// Paths named after `prefix` in `code`: `crate::a::b::C` gives [a, b, C].
fn paths_after<'a>(code: &'a str, prefix: &'a str) -> impl Iterator<Item = Vec<String>> + 'a {
    code.match_indices(prefix).filter_map(move |(i, _)| {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            return None;
        }
        let rest = &code[i + prefix.len()..];
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
        let parts: Vec<String> = rest[..end].split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect();
        (!parts.is_empty()).then_some(parts)
    })
}

/// Module → modules it uses, both cut to `depth` components.
fn graph(root: &Path, depth: usize) -> Graph {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let mut g = Graph::new();
    for file in files {
        let module = module_of(root, &file);
        let text = std::fs::read_to_string(&file).unwrap();
        let code: String = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap()
            .lines()
            .map(|l| l.split("//").next().unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        let me: Vec<String> = module.iter().take(depth).cloned().collect();
        let mut targets: Vec<Vec<String>> = paths_after(&code, "crate::").collect();
        for (i, _) in code.match_indices("super::") {
            if code[..i].ends_with("super::") || code[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let mut ups = 0;
            while code[i + ups * "super::".len()..].starts_with("super::") {
                ups += 1;
            }
            let rest = &code[i + ups * "super::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if name.is_empty() || ups > module.len() {
                continue;
            }
            let mut t: Vec<String> = module[..module.len() - ups].to_vec();
            t.push(name);
            targets.push(t);
        }
        for t in targets {
            let t: Vec<String> = t.into_iter().take(depth).collect();
            let nested = t.len() <= me.len() && me[..t.len()] == t[..] || me.len() <= t.len() && t[..me.len()] == me[..];
            if !nested {
                g.entry(me.clone()).or_default().insert(t);
            }
        }
    }
    g
}

/// A cycle through `start`, if there is one, as the modules on it.
fn cycle_through(g: &Graph, start: &Vec<String>) -> Option<Vec<Vec<String>>> {
    let mut stack = vec![(start.clone(), vec![start.clone()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in g.get(&node).into_iter().flatten() {
            if next == start {
                return Some(path.clone());
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

fn cycles(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for depth in [1, 2] {
        let g = graph(root, depth);
        for module in g.keys() {
            if let Some(path) = cycle_through(&g, module) {
                found.push(path.iter().map(|m| m.join("::")).collect::<Vec<_>>().join(" -> ") + " -> " + &module.join("::"));
            }
        }
    }
    found
}

#[test]
fn the_harness_and_the_probe_have_no_import_circles() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for krate in ["harness/src", "guest-probe/src"] {
        let root = workspace.join(krate);
        // The check finds circles at all: a graph with one is reported.
        assert!(!graph(&root, 1).is_empty(), "{krate}: no modules read");
        assert_eq!(cycles(&root), Vec::<String>::new(), "{krate}: import circles");
    }
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("a")).unwrap();
    std::fs::write(dir.path().join("lib.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(dir.path().join("a/mod.rs"), "use crate::b::thing;\n").unwrap();
    std::fs::write(dir.path().join("b.rs"), "// crate::c in a comment does not count\nuse super::a::other;\n").unwrap();
    assert_eq!(cycles(dir.path()), vec!["a -> b -> a".to_string(), "b -> a -> b".to_string()]);
}
