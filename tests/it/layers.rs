//! The one-way layer rule of `src/` (see the crate docs in `src/lib.rs`), checked by reading
//! every `crate::…` path in the code, so a later change cannot break it quietly.
//!
//! A module may name only modules of a lower layer: never its own layer (so `cluster` and
//! `argocd` never import each other) and never a higher one. Test code (`#[cfg(test)]`
//! modules and `tests.rs` files) is free to reach anywhere.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Top to bottom. Each entry is one layer; a module imports only from the layers below it.
const LAYERS: &[&[&str]] = &[
    &["main", "commands"],
    &["cli"],
    &["doctor"],
    &["cluster", "argocd", "validate", "source"],
    &["gitops"],
    &["kube", "docker", "repo"],
    &["state"],
    &["config"],
    &["lab", "ui", "interrupt", "fsutil", "diag"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top module a file belongs to: `src/cluster/up.rs` → `cluster`, `src/lab.rs` → `lab`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The code of `text` without its test items: each `#[cfg(test)]` and the item after it
/// (a `mod tests;` line, or a block to its closing brace) is left out, the rest is kept.
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "#[cfg(test)]" {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut depth = 0i32;
        for item in lines.by_ref() {
            depth += item.matches('{').count() as i32 - item.matches('}').count() as i32;
            let trimmed = item.trim();
            if depth <= 0 && (trimmed.ends_with(';') || trimmed.ends_with('}')) {
                break;
            }
        }
    }
    out
}

/// Every top module named as `crate::x` (or `crate::{x, y}`) in the non-test code of `text`.
fn imports(text: &str) -> BTreeSet<String> {
    let code = without_tests(text);
    let mut found = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or_default();
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                for item in group.split('}').next().unwrap_or_default().split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        found.insert(name);
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.insert(name);
            }
        }
    }
    found
}

#[test]
fn every_module_imports_only_from_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut broken = Vec::new();
    let mut unknown = BTreeSet::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        if name == "tests.rs" || name == "proptests.rs" || name == "lib.rs" {
            continue;
        }
        let module = module_of(&src, file);
        let Some(own) = layer_of(&module) else {
            unknown.insert(module);
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for import in imports(&text) {
            if import == module {
                continue;
            }
            match layer_of(&import) {
                Some(layer) if layer > own => {}
                Some(_) => broken.push(format!(
                    "{}: {module} imports crate::{import}, which is not below it",
                    file.strip_prefix(&src).unwrap().display()
                )),
                None => {
                    unknown.insert(import);
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "modules missing from LAYERS in tests/it/layers.rs (give each new module its layer): {unknown:?}"
    );
    assert!(
        broken.is_empty(),
        "the layer rule is broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_reader_sees_grouped_and_nested_paths_and_skips_tests_and_comments() {
    let text = "use crate::config::Lab;\nuse crate::{docker::Engine, ui};\n\
        // crate::commands in a comment\nlet x = crate::lab::client_host(h);\n\
        #[cfg(test)]\nmod tests { use crate::cluster; }\n";
    let got: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(got, ["config", "docker", "lab", "ui"]);
    // A test module declared at the top does not hide the code below it.
    let text = "#[cfg(test)]\nmod tests;\nuse crate::state::x;\n#[cfg(test)]\nmod more {\n    fn f() {\n        crate::cluster::y();\n    }\n}\nuse crate::ui::z;\n";
    let got: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(got, ["state", "ui"]);
}
