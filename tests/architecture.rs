//! The workspace's layers, checked from its sources (`docs/architecture.md` draws them):
//!
//! - each crate depends only on the crates below it, and the server on neither the laptop's
//!   store, its sync client nor the reports (no PDF, Excel or HTTP client in its build);
//! - inside each crate the top-level modules form layers too: no module uses one that uses it
//!   back, however many modules lie between (a module's own submodules may use each other);
//! - names are re-exported only at a crate's root, and a crate's own code names an item by the
//!   module that defines it, never by its root re-export, so every dependency is visible.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each crate and the workspace crates it may depend on (its `[dependencies]`).
const ARROWS: &[(&str, &str, &[&str])] = &[
    ("crates/files", "pluto-files", &[]),
    ("crates/domain", "pluto-domain", &[]),
    ("crates/protocol", "pluto-protocol", &["pluto-domain"]),
    ("crates/store", "pluto-store", &["pluto-domain", "pluto-files", "pluto-protocol"]),
    ("crates/sync", "pluto-sync", &["pluto-domain", "pluto-protocol", "pluto-store"]),
    ("crates/reports", "pluto-reports", &["pluto-domain", "pluto-protocol", "pluto-store"]),
    ("crates/server", "pluto-server", &["pluto-domain", "pluto-files", "pluto-protocol"]),
    ("crates/registry-check", "pluto-registry-check", &[]),
    ("crates/minimal-window", "pluto-minimal-window", &[]),
    (
        "crates/cli",
        "pluto-cli",
        &["pluto-domain", "pluto-files", "pluto-protocol", "pluto-reports", "pluto-store", "pluto-sync"],
    ),
    (
        "crates/bench",
        "pluto-bench",
        &["pluto-domain", "pluto-files", "pluto-protocol", "pluto-reports", "pluto-store", "pluto-sync"],
    ),
    (
        ".",
        "pluto-tracker",
        &["pluto-domain", "pluto-files", "pluto-protocol", "pluto-reports", "pluto-store", "pluto-sync"],
    ),
];

/// What the server's build must not contain: documents and the laptop's HTTP client.
const NOT_ON_THE_SERVER: &[&str] = &["pdf-writer", "rust_xlsxwriter", "ureq", "calamine", "tauri"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

/// The names under `[dependencies]` (and target-specific dependencies) of a `Cargo.toml`.
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_deps = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]"
                || (line.starts_with("[target.") && line.ends_with(".dependencies]"));
            continue;
        }
        if in_deps && !line.starts_with('#') {
            if let Some((name, _)) = line.split_once('=') {
                names.insert(name.trim().trim_end_matches(".workspace").to_owned());
            }
        }
    }
    names
}

#[test]
fn each_crate_depends_only_on_the_layers_below_it() {
    let mut manifests = BTreeMap::new();
    for (dir, name, allowed) in ARROWS {
        let manifest = std::fs::read_to_string(root().join(dir).join("Cargo.toml")).unwrap();
        let deps = dependencies(&manifest);
        let ours: BTreeSet<&str> =
            deps.iter().map(String::as_str).filter(|d| d.starts_with("pluto-")).collect();
        let allowed: BTreeSet<&str> = allowed.iter().copied().collect();
        assert!(
            ours.is_subset(&allowed),
            "{name} depends on {:?}, outside its layer",
            ours.difference(&allowed)
        );
        manifests.insert(name.to_string(), deps);
    }
    let mut listed: Vec<&str> = ARROWS.iter().map(|(dir, _, _)| *dir).collect();
    listed.sort_unstable();
    let workspace = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let members = workspace.split("members = [").nth(1).unwrap().split(']').next().unwrap();
    let mut members: Vec<&str> =
        members.split(',').map(|m| m.trim().trim_matches('"')).filter(|m| !m.is_empty()).collect();
    members.sort_unstable();
    assert_eq!(members, listed, "every workspace member has its place in ARROWS");

    // The server's build, through the workspace crates it uses.
    let mut reach = vec!["pluto-server".to_owned()];
    let mut seen = BTreeSet::new();
    while let Some(name) = reach.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        for dep in &manifests[&name] {
            assert!(
                !NOT_ON_THE_SERVER.contains(&dep.as_str()),
                "the server's build holds {dep} (through {name})"
            );
            if dep.starts_with("pluto-") {
                reach.push(dep.clone());
            }
        }
    }
}

/// A crate's sources: each file with the top-level module it belongs to (`None` for the root).
fn sources(src: &Path) -> Vec<(PathBuf, Option<String>, usize)> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).unwrap();
                let parts: Vec<&str> = rel.iter().map(|p| p.to_str().unwrap()).collect();
                let first = parts[0].trim_end_matches(".rs");
                let top = (parts.len() > 1 || !["lib", "main"].contains(&first)).then(|| first.to_owned());
                // How deep the file's module is: `super` in a top-level module's own file is the root.
                let depth = parts.len() - usize::from(parts.last().is_some_and(|p| *p == "mod.rs"));
                out.push((path, top, depth));
            }
        }
    }
    out
}

/// The code of a file without its comments and its test modules.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| l.split(" // ").next().unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules (and root items) a file's code names: `crate::a`, `super::a` from a
/// top-level module's own file, and each branch of `crate::{a, b}`.
fn named_modules(code: &str, depth: usize) -> Vec<String> {
    let mut found = Vec::new();
    let mut prefixes = vec!["crate::"];
    if depth == 1 {
        prefixes.push("super::");
    }
    for prefix in prefixes {
        for (at, _) in code.match_indices(prefix) {
            if at > 0
                && code[..at].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            {
                continue;
            }
            let rest = &code[at + prefix.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = &group[..group.find('}').unwrap_or(group.len())];
                found.extend(inner.split(',').map(|p| p.trim().split("::").next().unwrap_or("").to_owned()));
            } else {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                found.push(name);
            }
        }
    }
    found.retain(|n| !n.is_empty());
    found
}

/// Every crate's `src` folder.
fn crates() -> Vec<(String, PathBuf)> {
    ARROWS
        .iter()
        .map(|(dir, name, _)| {
            let src = if *dir == "." { root().join("src-tauri") } else { root().join(dir).join("src") };
            (name.to_string(), src)
        })
        .collect()
}

#[test]
fn no_module_uses_a_module_that_uses_it_back() {
    let mut failures = Vec::new();
    for (krate, src) in crates() {
        let files = sources(&src);
        let modules: BTreeSet<String> = files.iter().filter_map(|(_, top, _)| top.clone()).collect();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (path, top, depth) in &files {
            let Some(top) = top else { continue };
            if path.file_name().is_some_and(|f| f == "tests.rs") || path.iter().any(|p| p == "tests") {
                continue;
            }
            let text = code(&std::fs::read_to_string(path).unwrap());
            for named in named_modules(&text, *depth) {
                if modules.contains(&named) && &named != top {
                    edges.entry(top.clone()).or_default().insert(named);
                }
            }
        }
        if let Some(cycle) = find_cycle(&modules, &edges) {
            failures.push(format!("{krate}: {}", cycle.join(" → ")));
        }
    }
    assert!(failures.is_empty(), "modules that use each other (a cycle):\n{}", failures.join("\n"));
}

/// A cycle in `edges`, as the modules along it (the first repeated at the end), if any.
fn find_cycle(modules: &BTreeSet<String>, edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        at: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(at.to_owned(), Mark::Open);
        path.push(at.to_owned());
        for next in edges.get(at).into_iter().flatten() {
            match marks[next] {
                Mark::Open => {
                    let from = path.iter().position(|m| m == next).unwrap();
                    let mut cycle = path[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, edges, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(at.to_owned(), Mark::Done);
        None
    }
    let mut marks: BTreeMap<String, Mark> = modules.iter().map(|m| (m.clone(), Mark::New)).collect();
    for module in modules {
        if marks[module] == Mark::New {
            if let Some(cycle) = visit(module, edges, &mut marks, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

#[test]
fn names_are_re_exported_at_crate_roots_only_and_used_by_their_own_modules() {
    let mut failures = Vec::new();
    for (krate, src) in crates() {
        let files = sources(&src);
        let mut re_exported = BTreeSet::new();
        for (path, top, _) in &files {
            let text = code(&std::fs::read_to_string(path).unwrap());
            for line in text.lines().filter(|l| l.trim_start().starts_with("pub use ")) {
                if top.is_some() {
                    failures.push(format!(
                        "{}: a re-export outside the crate root: {}",
                        path.display(),
                        line.trim()
                    ));
                    continue;
                }
                let names = line.rsplit("::").next().unwrap_or("").trim_end_matches(';');
                let names = names.trim_start_matches('{').trim_end_matches('}');
                re_exported.extend(names.split(',').map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()));
            }
        }
        for (path, top, _) in &files {
            if top.is_none() || path.file_name().is_some_and(|f| f == "tests.rs") {
                continue;
            }
            let text = code(&std::fs::read_to_string(path).unwrap());
            for named in named_modules(&text, 0) {
                if re_exported.contains(&named) {
                    failures
                        .push(format!("{krate}: {} names crate::{named}, a root re-export", path.display()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
