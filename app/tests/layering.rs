//! The modules of `app/src` import one another in one direction only: wings (`patient`,
//! `staff`) over the shared features, over the core; and so do the core's (`app/core/src`). A circle
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

/// Which top-level modules of the crate whose sources are at `src` (under `app/`) import which.
fn graph(src: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(src);
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
    let graph = graph("src");
    assert!(graph["patient"].contains("account") && graph["staff"].contains("request"));
    if let Some(found) = circle(&graph) {
        panic!(
            "these modules import one another in a circle: {}",
            found.join(" → ")
        );
    }
}

#[test]
fn the_modules_of_the_core_import_one_another_without_a_circle() {
    let graph = graph("core/src");
    assert!(graph["notify"].contains("audit") && graph["store"].contains("clock"));
    if let Some(found) = circle(&graph) {
        panic!(
            "these modules of the core import one another in a circle: {}",
            found.join(" → ")
        );
    }
}

/// The lines of `source` that reach the store: its module by name, or a portal's `store` field.
fn store_lines(source: &str) -> Vec<String> {
    source
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .filter(|line| {
            let field = line.match_indices(".store").any(|(at, _)| {
                let next = line[at + ".store".len()..].chars().next();
                next.is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            });
            field
                || line.contains("portal_core::store")
                || imports(line).contains("store")
                || line.trim_start().starts_with("store::")
        })
        .map(|line| line.trim().to_string())
        .collect()
}

#[test]
fn app_reaches_the_store_only_through_the_core() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.clone()];
    let mut reaching = Vec::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        // The crate root re-exports the core's modules for the server's wiring; nothing in
        // `app` itself may use the store.
        if path.extension().is_none_or(|e| e != "rs") || path == src.join("lib.rs") {
            continue;
        }
        let source = fs::read_to_string(&path).unwrap();
        for line in store_lines(&source) {
            reaching.push(format!(
                "{}: {line}",
                path.strip_prefix(&src).unwrap().display()
            ));
        }
    }
    assert!(
        reaching.is_empty(),
        "app reaches the store itself; the core's module of the same name should:\n{}",
        reaching.join("\n")
    );
}

#[test]
fn the_store_reader_finds_each_way_in() {
    let source = "let x = portal\n    .store\n    .account(1);\nuse crate::{a, store::Holder};\nportal_core::store::Store::open(u);\nlet y = portal.store.clone();\nlet restored = 1; // portal.store\n";
    assert_eq!(store_lines(source).len(), 4);
    assert!(store_lines("let stored = portal.stored_at; use crate::restore;").is_empty());
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

/// What `cargo tree` answers for `args`, over the packages' own dependencies (not their
/// tests' or benches').
fn cargo_tree(args: &[&str]) -> String {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let tree = std::process::Command::new(env!("CARGO"))
        .current_dir(workspace)
        .args(["tree", "--offline", "--locked", "-e", "normal"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        tree.status.success(),
        "{}",
        String::from_utf8_lossy(&tree.stderr)
    );
    String::from_utf8(tree.stdout).unwrap()
}

/// The features `app` is built with for the release server.
fn release_features_of_app() -> String {
    cargo_tree(&[
        "-p",
        "server",
        "-i",
        "app",
        "--depth",
        "0",
        "-f",
        "{p} features: {f}",
    ])
}

/// The packages of a tree (`{p}` lines, no prefix) named one of `names`, or of its family
/// (`leptos_axum` for `leptos`).
fn packages_named<'a>(tree: &'a str, names: &[&str]) -> Vec<&'a str> {
    tree.lines()
        .filter(|line| {
            let package = line.split(' ').next().unwrap_or_default();
            names
                .iter()
                .any(|name| package == *name || package.starts_with(&format!("{name}_")))
        })
        .collect()
}

#[test]
fn the_core_compiles_neither_leptos_nor_axum() {
    let tree = cargo_tree(&["-p", "portal-core", "--prefix", "none", "-f", "{p}"]);
    assert!(tree.contains("sqlx"), "{tree}");
    let found = packages_named(&tree, &["leptos", "axum"]);
    assert!(found.is_empty(), "the core reaches {found:?}");
}

#[test]
fn nothing_built_for_the_browser_reaches_the_core() {
    let tree = cargo_tree(&[
        "-p",
        "frontend",
        "--target",
        "wasm32-unknown-unknown",
        "--prefix",
        "none",
        "-f",
        "{p}",
    ]);
    assert!(tree.contains("leptos"), "{tree}");
    let found = packages_named(&tree, &["portal-core", "sqlx"]);
    assert!(found.is_empty(), "the wasm reaches {found:?}");
}

#[test]
fn the_tree_reader_names_packages_and_their_family() {
    let tree = "leptos v0.8.23\nleptos_axum v0.8.10 (*)\nportal-core v0.1.0 (/x)\nleptosish v1\n";
    assert_eq!(
        packages_named(tree, &["leptos", "portal-core"]),
        [
            "leptos v0.8.23",
            "leptos_axum v0.8.10 (*)",
            "portal-core v0.1.0 (/x)"
        ]
    );
}

#[test]
fn the_release_server_is_built_without_the_testing_feature() {
    let features = release_features_of_app();
    assert!(features.contains("ssr"), "{features}");
    assert!(
        !features.contains("testing"),
        "the release server would carry throwaway databases and an insider's edits: {features}"
    );
}

/// One entry of `docs/layout.md`'s tree: its path from the top, and what its lines say.
struct Entry {
    path: String,
    says: String,
}

/// The entries of the layout's tree. An entry is a name at an even indent of at most 8 (its
/// parents' names before it); the wider-indented lines after it continue what it says.
fn layout_entries(layout: &str) -> Vec<Entry> {
    let tree = layout.split("```").nth(1).unwrap_or_default();
    let mut entries: Vec<Entry> = Vec::new();
    let mut parents: Vec<(usize, String)> = Vec::new();
    for line in tree.lines().filter(|l| !l.trim().is_empty()) {
        let indent = line.len() - line.trim_start().len();
        let (name, says) = line
            .trim_start()
            .split_once(' ')
            .unwrap_or((line.trim(), ""));
        if indent > 8 || indent % 2 == 1 {
            if let Some(last) = entries.last_mut() {
                last.says.push(' ');
                last.says.push_str(line.trim());
            }
            continue;
        }
        parents.retain(|(at, _)| *at < indent);
        let path = match parents.last() {
            Some((_, parent)) => format!("{parent}{name}"),
            None => name.to_string(),
        };
        if path.ends_with('/') {
            parents.push((indent, path.clone()));
        }
        entries.push(Entry {
            path,
            says: says.trim().to_string(),
        });
    }
    entries
}

/// The source files `docs/layout.md` doesn't name. A file is named by its own entry, by its
/// folder's entry when it is the folder's `mod.rs` or `main.rs`, or in what the entry of a
/// folder holding it says (a `mod.rs` by its folder's name there, `support/`).
fn unnamed_files(layout: &str, files: &[String]) -> Vec<String> {
    let entries = layout_entries(layout);
    files
        .iter()
        .filter(|file| {
            let (folder, name) = file.rsplit_once('/').unwrap_or(("", file));
            let own = entries.iter().any(|e| e.path == **file);
            let folders = matches!(name, "mod.rs" | "main.rs")
                && entries.iter().any(|e| e.path == format!("{folder}/"));
            let said = entries.iter().any(|e| {
                e.path.ends_with('/')
                    && file.starts_with(&e.path)
                    && e.says
                        .split(|c: char| !(c.is_alphanumeric() || "_./".contains(c)))
                        .any(|word| {
                            word == name
                                || file.ends_with(&format!("/{word}"))
                                || (name == "mod.rs"
                                    && format!("{folder}/").ends_with(&format!("/{word}")))
                        })
            });
            !(own || folders || said)
        })
        .cloned()
        .collect()
}

/// Every Rust source file of the workspace, from its top.
fn source_files() -> Vec<String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut found = Vec::new();
    let mut folders = vec![workspace.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !(name.starts_with('.') || ["target", "node_modules", "data"].contains(&&*name))
                {
                    folders.push(path);
                }
            } else if name.ends_with(".rs") {
                let relative = path.strip_prefix(workspace).unwrap();
                found.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn the_layout_names_every_source_file() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let layout = fs::read_to_string(workspace.join("docs/layout.md")).unwrap();
    let files = source_files();
    assert!(files.contains(&"app/src/lib.rs".to_string()), "{files:?}");
    let unnamed = unnamed_files(&layout, &files);
    assert!(
        unnamed.is_empty(),
        "docs/layout.md doesn't name: {}",
        unnamed.join(", ")
    );
}

#[test]
fn the_layout_reader_follows_the_tree() {
    let layout = "```\napp/  the app\n  src/lib.rs  the shell\n  src/sms/  texts; twilio.rs: \
                  Twilio;\n                 outbox.rs: the outbox\n    mod.rs  the trait\n\
                  server/  the binary; benches/ and support/ what they need\n```";
    let files = [
        "app/src/lib.rs",
        "app/src/sms/twilio.rs",
        "app/src/sms/outbox.rs",
        "app/src/sms/mod.rs",
        "app/src/sms/webhook.rs",
        "app/src/store/mod.rs",
        "server/src/main.rs",
        "server/benches/support/mod.rs",
    ]
    .map(String::from);
    assert_eq!(
        unnamed_files(layout, &files),
        [
            "app/src/sms/webhook.rs",
            "app/src/store/mod.rs",
            "server/src/main.rs"
        ]
    );
}
