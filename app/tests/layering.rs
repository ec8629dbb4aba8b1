//! The modules of `app/src` import one another in one direction only: wings (`patient`,
//! `staff`) over the shared features, over the kernel (`store`, `clock`, `error`…). A circle
//! means two modules that can't be understood, tested or moved apart, so this test names any.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

/// The top-level module a source file belongs to: `patient/profile/mod.rs` → `patient`.
fn module_of(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules a file names through `crate::`, in paths and in `use crate::{…}`.
fn imports(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let code: String = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The names at the group's first level: `a::…`, `b`, `c::{…}`.
            let (mut depth, mut name, mut first) = (0, String::new(), true);
            for c in group.chars() {
                if depth == 0 && !(c.is_alphanumeric() || c == '_') && !name.is_empty() {
                    found.insert(std::mem::take(&mut name));
                }
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => first = true,
                    ':' if depth == 0 => first = false,
                    c if depth == 0 && first && (c.is_alphanumeric() || c == '_') => name.push(c),
                    _ => {}
                }
            }
            if !name.is_empty() {
                found.insert(name);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.clone()];
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let module = module_of(path.strip_prefix(&src).unwrap());
        let source = fs::read_to_string(&path).unwrap();
        let names = imports(&source);
        graph
            .entry(module.clone())
            .or_default()
            .extend(names.into_iter().filter(|n| *n != module));
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for imported in graph.values_mut() {
        imported.retain(|m| modules.contains(m));
    }
    graph
}

/// A circle through `from`, if there is one: depth-first along the imports.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        at: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|m| m == at) {
            let mut found = path[start..].to_vec();
            found.push(at.to_string());
            return Some(found);
        }
        if done.contains(at) {
            return None;
        }
        path.push(at.to_string());
        for next in graph.get(at).into_iter().flatten() {
            if let Some(found) = walk(graph, next, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(at.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|m| walk(graph, m, &mut Vec::new(), &mut done))
}

#[test]
fn the_modules_of_app_import_one_another_without_a_circle() {
    let graph = graph();
    assert!(graph["patient"].contains("account") && graph["staff"].contains("request"));
    if let Some(found) = circle(&graph) {
        panic!(
            "these modules import one another in a circle: {}",
            found.join(" → ")
        );
    }
}

#[test]
fn the_reader_sees_every_import_of_a_group() {
    let names = imports("use crate::{\n    a::{b, c::D},\n    e,\n    f::g,\n};\nx(crate::h::i);");
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["a", "e", "f", "h"]);
    let mut looped = BTreeMap::new();
    looped.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    looped.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        circle(&looped),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
}
