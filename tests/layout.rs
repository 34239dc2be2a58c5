//! The layout holds: the top-level modules of `src/` form a ladder (no module reaches
//! one that reaches it back), so do the files of every folder (siblings: `actors/github.rs`
//! and `actors/registry.rs`, with their own folders folded in), and no source file
//! outgrows what a newcomer reads in one sitting. Run alone with
//! `cargo test --test layout`; on failure it prints the circle or the file.
//!
//! One reading gives both: every path a file names outside comments and its test module
//! (`use super::registry::Shared`, `crate::actors::github::FetchJobs`, written in a
//! `use` or in the code) that lands in a sibling module is an edge to that sibling;
//! `src/`'s siblings are the top-level modules. A child naming its parent's items is
//! no edge: a parent and its children are one module, read top-down.

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

/// A file's module path: `["actors", "run_tracker", "judging"]` for
/// `actors/run_tracker/judging.rs`, `["actors"]` for `actors/mod.rs`.
fn module_path(path: &Path) -> Vec<String> {
    let mut segments: Vec<String> = path
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .map(|c| c.trim_end_matches(".rs").to_owned())
        .collect();
    if segments.last().is_some_and(|last| last == "mod") {
        segments.pop();
    }
    segments
}

/// The code of a file without its comments and its inline test module (a
/// `mod tests;` declaration cuts nothing: the code after it is read).
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    let code = text
        .split("#[cfg(test)]\nmod tests {")
        .next()
        .unwrap_or(text);
    code.lines()
        .map(str::trim_start)
        .filter(|line| !line.starts_with("//"))
}

/// Every path a file's code names: its `use` trees, path by path, and the paths
/// written in its code.
fn named(text: &str) -> Vec<String> {
    let code: String = code_lines(text).collect::<Vec<_>>().join("\n");
    let mut paths = use_paths(&code);
    paths.extend(code.lines().flat_map(inline_paths));
    paths
}

/// Every `use` tree of `code` flattened into paths: `use super::{a, b::{C, D}};` gives
/// `super::a`, `super::b::C`, `super::b::D`.
fn use_paths(code: &str) -> Vec<String> {
    fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
        let tree = tree.trim();
        let Some(open) = tree.find('{') else {
            out.push(format!("{prefix}{tree}"));
            return;
        };
        let head = format!("{prefix}{}", &tree[..open]);
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let (mut depth, mut start) = (0, 0);
        for (at, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&head, &inner[start..at], out);
                    start = at + 1;
                }
                _ => {}
            }
        }
        if !inner[start..].trim().is_empty() {
            expand(&head, &inner[start..], out);
        }
    }
    let mut paths = Vec::new();
    for statement in code.split(';') {
        let statement = statement.trim();
        let starts_an_item = |&(at, _): &(usize, &str)| {
            let before = &statement[..at];
            before.is_empty()
                || before.ends_with('\n')
                || before.ends_with("pub ")
                || before.ends_with(") ")
        };
        let Some((at, _)) = statement.match_indices("use ").find(starts_an_item) else {
            continue;
        };
        let tree: String = statement[at + 4..].split_whitespace().collect();
        expand("", &tree, &mut paths);
    }
    paths
}

/// Paths written in the code itself: `crate::clock::now_ms()`, `super::github::Listed`.
fn inline_paths(line: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        for (at, _) in line.match_indices(start) {
            let preceded = line[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            if preceded {
                continue;
            }
            let path: String = line[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            paths.push(path);
        }
    }
    paths
}

/// `path` as named in the module `within`, from the crate root; `None` for paths into
/// other crates or the module's own children.
fn resolve(within: &[String], path: &str) -> Option<Vec<String>> {
    let mut segments = path.split("::").filter(|s| !s.is_empty());
    let mut absolute: Vec<String> = match segments.next()? {
        "crate" => Vec::new(),
        "self" => within.to_vec(),
        "super" => within[..within.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    for segment in segments {
        if segment == "super" {
            absolute.pop();
        } else if segment != "self" {
            absolute.push(segment.to_owned());
        }
    }
    Some(absolute)
}

/// Edges between sibling modules, keyed by the folder they sit in (`""` for `src/`).
fn sibling_graphs() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let files: Vec<(Vec<String>, String)> = sources()
        .into_iter()
        .filter(|(path, _)| !is_test_code(path))
        .map(|(path, text)| (module_path(&path), text))
        .filter(|(module, _)| !matches!(module.as_slice(), [one] if one == "lib" || one == "main"))
        .collect();
    let modules: BTreeSet<Vec<String>> = files
        .iter()
        .flat_map(|(module, _)| (1..=module.len()).map(|n| module[..n].to_vec()))
        .collect();
    let mut graphs: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (module, text) in &files {
        for target in named(text).iter().filter_map(|path| resolve(module, path)) {
            let shared = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if shared >= module.len() || shared >= target.len() {
                continue;
            }
            let sibling = target[..=shared].to_vec();
            if !modules.contains(&sibling) {
                continue;
            }
            graphs
                .entry(module[..shared].join("/"))
                .or_default()
                .entry(module[shared].clone())
                .or_default()
                .insert(target[shared].clone());
        }
    }
    graphs
}

#[test]
fn the_files_of_every_folder_form_a_ladder_without_circles() {
    let graphs = sibling_graphs();
    assert!(
        graphs.len() > 5 && graphs.contains_key("actors"),
        "the source was read: {graphs:?}"
    );
    let mut circles = Vec::new();
    for (folder, graph) in &graphs {
        for module in graph.keys() {
            if let Some(circle) = circle_through(graph, module) {
                circles.push(format!("src/{folder}: {}", circle.join(" -> ")));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files that reach themselves back:\n{}",
        circles.join("\n")
    );
}

#[test]
fn a_use_tree_is_read_path_by_path() {
    let code = "use super::{registry::Shared, github::{FetchJobs, Listed}};\npub(crate) use crate::clock::now_ms;\nlet x = super::sleep::when(crate::ids::RunKey::new());";
    let mut named = use_paths(code);
    named.extend(code.lines().flat_map(inline_paths));
    assert!(
        named.contains(&"super::registry::Shared".to_owned()),
        "{named:?}"
    );
    assert!(
        named.contains(&"super::github::Listed".to_owned()),
        "{named:?}"
    );
    assert!(
        named.contains(&"crate::clock::now_ms".to_owned()),
        "{named:?}"
    );
    assert!(
        named.contains(&"super::sleep::when".to_owned()),
        "{named:?}"
    );
    let within = ["actors".to_owned(), "run_tracker".to_owned()];
    assert_eq!(
        resolve(&within, "super::registry::Shared"),
        Some(vec!["actors".into(), "registry".into(), "Shared".into()])
    );
    assert_eq!(resolve(&within, "serde::Serialize"), None);
}

#[test]
fn the_top_level_modules_form_a_ladder_without_circles() {
    let graph = sibling_graphs().remove("").unwrap_or_default();
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
    let names: BTreeSet<String> = named(text)
        .iter()
        .filter_map(|path| resolve(&["file".to_owned()], path))
        .filter_map(|target| target.first().cloned())
        .collect();
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["clock", "ids"]);
}
