//! The runtime's layout: its top-level modules follow the path of a request, and every
//! dependency between them points one way, down this list. Read from the `use crate::` and
//! `crate::` paths of `runtime/src`, code and doc links alike, so a new import or link that
//! points up (or makes a cycle) fails here, naming the file and the line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The runtime's top-level modules, in the order a request meets them. A module may use
/// only the modules before it.
const ORDER: &[&str] = &[
    "ids",
    "context",
    "scope",
    "lookup",
    "request",
    "layer",
    "handler",
    "propagate",
    "targeting",
    "diagnostics",
    "logging",
    "otel",
    "testing",
    "fuzzing",
];

/// What a module may use beyond the order above: nothing. Stores see ids only.
const ONLY: &[(&str, &[&str])] = &[("ids", &[]), ("lookup", &["ids"])];

/// Macros exported at the crate root (`#[macro_export]`), with the module that defines them.
const ROOT_MACROS: &[(&str, &str)] = &[("log_once", "diagnostics")];

fn runtime_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime/src")
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: its folder under `src`, or its own name.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under src");
    let first = relative.components().next().expect("a path").as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// The first segment of every `crate::` path on a line of code (`$crate::` included), with
/// `crate::{a, b::c}` groups split.
fn crate_paths(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let head = item.trim().split("::").next().unwrap_or_default();
                if !head.is_empty() {
                    found.push(head.to_owned());
                }
            }
        } else {
            let head: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            found.push(head);
        }
    }
    found
}

/// Which module uses which, with the first place each use was seen, and the paths that name
/// a root re-export instead of a module.
fn module_graph() -> (Graph, Vec<String>) {
    let src = runtime_src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).filter(|m| m != "lib").collect();
    let mut graph = Graph::new();
    let mut through_root = Vec::new();
    for file in &files {
        let from = module_of(&src, file);
        if from == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("readable source");
        for (number, line) in text.lines().enumerate() {
            // Plain comments are prose; doc comments hold links rustdoc resolves.
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") && !trimmed.starts_with("///") && !trimmed.starts_with("//!") {
                continue;
            }
            let place = format!("{}:{}", file.strip_prefix(&src).unwrap().display(), number + 1);
            for to in crate_paths(line) {
                let to = ROOT_MACROS.iter().find(|(name, _)| *name == to).map_or(to, |(_, owner)| (*owner).to_owned());
                if to == from {
                    continue;
                }
                if modules.contains(&to) {
                    graph.entry(from.clone()).or_default().entry(to).or_insert_with(|| place.clone());
                } else {
                    through_root.push(format!("{place}: `crate::{to}` (name the module that owns it)"));
                }
            }
        }
        graph.entry(from).or_default();
    }
    (graph, through_root)
}

type Graph = BTreeMap<String, BTreeMap<String, String>>;

/// Every use that points up the order, or beyond what a module may use.
fn violations(graph: &Graph) -> Vec<String> {
    let rank = |m: &str| ORDER.iter().position(|o| *o == m);
    let mut wrong = Vec::new();
    for (from, uses) in graph {
        let Some(from_rank) = rank(from) else {
            wrong.push(format!("module `{from}` is not in the layout's ORDER: add it where it belongs"));
            continue;
        };
        for (to, place) in uses {
            match rank(to) {
                Some(to_rank) if to_rank < from_rank => {}
                _ => wrong.push(format!("{place}: `{from}` uses `{to}`, which comes after it")),
            }
        }
        if let Some((_, allowed)) = ONLY.iter().find(|(m, _)| m == from) {
            for (to, place) in uses.iter().filter(|(to, _)| !allowed.contains(&to.as_str())) {
                wrong.push(format!("{place}: `{from}` may use only {allowed:?}, not `{to}`"));
            }
        }
    }
    wrong
}

#[test]
fn runtime_modules_depend_one_way_down_the_request_path() {
    let (graph, through_root) = module_graph();
    assert!(through_root.is_empty(), "paths through the crate root hide a dependency:\n{}", through_root.join("\n"));
    let shown: Vec<String> = graph
        .iter()
        .map(|(from, uses)| format!("{from} -> {}", uses.keys().cloned().collect::<Vec<_>>().join(", ")))
        .collect();
    println!("module graph:\n{}", shown.join("\n"));
    let wrong = violations(&graph);
    assert!(wrong.is_empty(), "{}\n\nmodule graph:\n{}", wrong.join("\n"), shown.join("\n"));
}

#[test]
fn the_layout_check_refuses_a_use_up_the_path_a_cycle_and_a_store_reaching_for_context() {
    let graph = |edges: &[(&str, &str)]| {
        let mut graph = Graph::new();
        for (from, to) in edges {
            graph.entry((*from).to_owned()).or_default().insert((*to).to_owned(), format!("{from}.rs:1"));
        }
        graph
    };
    assert!(violations(&graph(&[("layer", "request"), ("request", "lookup"), ("lookup", "ids")])).is_empty());
    let up = violations(&graph(&[("context", "request")]));
    assert_eq!(up, ["context.rs:1: `context` uses `request`, which comes after it"]);
    let cycle = violations(&graph(&[("scope", "context"), ("context", "scope")]));
    assert_eq!(cycle.len(), 1, "one side of a cycle always points up: {cycle:?}");
    // Below it in the order, but a store sees ids only.
    let store = violations(&graph(&[("lookup", "context")]));
    assert_eq!(store, ["lookup.rs:1: `lookup` may use only [\"ids\"], not `context`"]);
    assert_eq!(violations(&graph(&[("newcomer", "ids")])).len(), 1, "an unlisted module is named");
}

#[test]
fn the_layout_check_sees_groups_and_macro_paths() {
    assert_eq!(crate_paths("use crate::{ids::SessionId, context};"), ["ids", "context"]);
    assert_eq!(crate_paths("if $crate::diagnostics::first_in_request(k) {"), ["diagnostics"]);
    assert_eq!(crate_paths("let x = crate::scope::current();"), ["scope"]);
    assert!(crate_paths("no paths here").is_empty());
}
