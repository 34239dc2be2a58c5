//! The layout holds: the top-level modules of `src/` form a ladder (no module reaches
//! one that reaches it back), and no source file outgrows what a newcomer reads in one
//! sitting. Run alone with `cargo test --test layout`; on failure it prints the circle
//! or the file.
//!
//! The graph is read from the source as a person reads it: every `crate::name` a
//! module's code mentions (outside comments and its test code) is an edge to `name`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest source file, in lines (tests included: they are read too).
const MAX_LINES: usize = 800;

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

fn sources() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let relative = path.strip_prefix(&root).ok()?.to_path_buf();
            Some((relative, text))
        })
        .collect()
}

/// Test code, and the run logic's model checker (compiled for tests and fuzzing only),
/// may reach anywhere.
fn is_test_code(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || name == "properties.rs"
        || name == "invariants.rs"
        || path.components().any(|c| c.as_os_str() == "tests")
}

/// The module a file belongs to: `run` for `src/run/state/apply.rs`.
fn top_module(path: &Path) -> String {
    let first = path
        .components()
        .next()
        .and_then(|c| c.as_os_str().to_str())
        .unwrap_or_default();
    first.trim_end_matches(".rs").to_owned()
}

/// The modules a file's own code names (`crate::name`), its comments and test module
/// left out.
fn mentioned(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut names = BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        for (at, _) in line.match_indices("crate::") {
            let name: String = line[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in sources() {
        let module = top_module(&path);
        if module == "lib" || module == "main" || is_test_code(&path) {
            continue;
        }
        let targets = graph.entry(module.clone()).or_default();
        targets.extend(mentioned(&text).into_iter().filter(|t| *t != module));
    }
    graph
}

/// A path from `from` back to itself, if the graph has one.
fn circle_through(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_owned(), vec![from.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == from {
                let mut circle = path.clone();
                circle.push(from.to_owned());
                return Some(circle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn the_top_level_modules_form_a_ladder_without_circles() {
    let graph = module_graph();
    assert!(graph.len() > 10, "the source was read: {graph:?}");
    let circles: Vec<String> = graph
        .keys()
        .filter_map(|module| circle_through(&graph, module))
        .map(|circle| circle.join(" -> "))
        .collect();
    assert!(
        circles.is_empty(),
        "modules that reach themselves back:\n{}\n\nthe graph:\n{graph:#?}",
        circles.join("\n")
    );
}

#[test]
fn no_source_file_is_longer_than_a_newcomer_reads_in_one_go() {
    let long: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.lines().count() > MAX_LINES)
        .map(|(path, text)| format!("{} ({} lines)", path.display(), text.lines().count()))
        .collect();
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines: {}",
        long.join(", ")
    );
}

#[test]
fn a_mention_in_a_comment_or_a_test_module_is_no_edge() {
    let text = "use crate::ids::RunKey;\n// crate::store is only named\nfn f() { crate::clock::now_ms(); }\n#[cfg(test)]\nmod tests {\n    use crate::http::x;\n}\n";
    let names: Vec<String> = mentioned(text).into_iter().collect();
    assert_eq!(names, ["clock", "ids"]);
}
