//! The one-way layer rule of `src/` (see the crate docs in `src/lib.rs`), checked by reading
//! every `crate::…` path in the code, so a later change cannot break it quietly.
//!
//! A module may name only modules of a lower layer: never its own layer (so `cluster` and
//! `argocd` never import each other) and never a higher one. Test code (`#[cfg(test)]`
//! modules and `tests.rs` files, files under a `tests/` folder) is free to reach anywhere.
//!
//! The same reading keeps the external crates where they belong ([`CRATES`]): the Docker
//! client in the engine adapter, the Kubernetes client on the Kubernetes side, clap at the
//! edge, and the planner (`cluster/plan/`) free of I/O.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Top to bottom. Each entry is one layer; a module imports only from the layers below it.
const LAYERS: &[&[&str]] = &[
    // The binary and its top-level parser, which names every subcommand's `Args` and `run`.
    &["main", "cli"],
    &["commands"],
    &["ops"],
    &["doctor"],
    &["cluster", "argocd", "validate", "source"],
    &["gitops"],
    &["kube", "docker", "repo"],
    &["state"],
    &["config"],
    &["lab", "ui", "interrupt", "fsutil", "diag"],
];

/// External crates and where their paths may appear: (crate, the `src/`-relative path
/// prefixes allowed to name it, why).
const CRATES: &[(&str, &[&str], &str)] = &[
    (
        "bollard",
        &["docker/bollard/"],
        "the Docker API client lives in the engine adapter only: a second runtime is one more folder",
    ),
    (
        "kube",
        &["kube/", "argocd/", "cluster/", "gitops/"],
        "the Kubernetes client lives on the Kubernetes side",
    ),
    (
        "k8s_openapi",
        &["kube/", "argocd/", "cluster/", "gitops/"],
        "the Kubernetes types live on the Kubernetes side",
    ),
    (
        "clap",
        &["main.rs", "cli.rs", "commands/"],
        "argument parsing is the edge's",
    ),
];

/// What the planners (the cluster's and the GitOps half's) may not touch: they turn desired and
/// observed state into steps, and the executor does the I/O.
const PLANNERS: &[&str] = &["cluster/plan/", "argocd/plan.rs"];
const NO_IO: &[&str] = &[
    "tokio::",
    "std::fs",
    "std::process",
    "std::net::TcpListener",
    "std::net::TcpStream",
    "reqwest::",
    "async fn",
    ".await",
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

/// The top module a file belongs to: `cluster/up.rs` → `cluster`, `lab.rs` → `lab`.
fn module_of(rel: &Path) -> String {
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

/// Whether a file is test code as a whole.
fn is_test_file(rel: &Path) -> bool {
    let name = rel.file_name().unwrap().to_string_lossy();
    name == "tests.rs"
        || name == "proptests.rs"
        || rel.components().any(|c| c.as_os_str() == "tests")
}

/// The code of `text` as the rules read it: no test items, no comments.
fn code_of(text: &str) -> String {
    without_tests(text)
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `code` names the external crate `name` (`name::…`, `::name::…`, `use name;`), not
/// a module of ours of the same name (`crate::kube::…`, `super::kube`).
fn names_crate(code: &str, name: &str) -> bool {
    let mut from = 0;
    while let Some(i) = code[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let after = &code[at + name.len()..];
        if !(after.starts_with("::") || after.starts_with(';') || after.starts_with(" as ")) {
            continue;
        }
        let before = &code[..at];
        let prev = before.chars().last();
        if prev.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        // `crate::kube`, `super::kube`, `self::kube`, `mod kube;`: ours.
        if ["crate::", "super::", "self::"]
            .iter()
            .any(|p| before.ends_with(p))
            || before.trim_end().ends_with("mod")
        {
            continue;
        }
        return true;
    }
    false
}

/// Every rule broken by one file, `rel` being its path under `src/`.
fn broken_rules(rel: &Path, text: &str, unknown: &mut BTreeSet<String>) -> Vec<String> {
    let mut broken = Vec::new();
    let name = rel.file_name().unwrap().to_string_lossy();
    if is_test_file(rel) || name == "lib.rs" {
        return broken;
    }
    let shown = rel.display();
    let module = module_of(rel);
    match layer_of(&module) {
        None => {
            unknown.insert(module.clone());
        }
        Some(own) => {
            for import in imports(text) {
                if import == module {
                    continue;
                }
                match layer_of(&import) {
                    Some(layer) if layer > own => {}
                    Some(_) => broken.push(format!(
                        "{shown}: {module} imports crate::{import}, which is not below it"
                    )),
                    None => {
                        unknown.insert(import);
                    }
                }
            }
        }
    }
    let code = code_of(text);
    let path = rel.to_string_lossy().replace('\\', "/");
    for (krate, allowed, why) in CRATES {
        if names_crate(&code, krate) && !allowed.iter().any(|a| path.starts_with(a)) {
            broken.push(format!("{shown}: names the crate `{krate}` ({why})"));
        }
    }
    if PLANNERS.iter().any(|p| path.starts_with(p)) {
        for io in NO_IO {
            if code.contains(io) || names_crate(&code, "bollard") || names_crate(&code, "kube") {
                broken.push(format!(
                    "{shown}: the planner does I/O (`{io}`, or an API client): it only plans; the executor acts"
                ));
                break;
            }
        }
    }
    broken
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
        let text = std::fs::read_to_string(file).unwrap();
        broken.extend(broken_rules(
            file.strip_prefix(&src).unwrap(),
            &text,
            &mut unknown,
        ));
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

/// The rules against planted files: each must be caught, and its fix accepted.
#[test]
fn a_planted_client_in_the_wrong_layer_is_caught() {
    let mut unknown = BTreeSet::new();
    let mut check = |rel: &str, text: &str| broken_rules(Path::new(rel), text, &mut unknown);
    // The Docker client outside the engine adapter.
    let bollard = "use bollard::container::Config;\nfn f() {}\n";
    let said = check("cluster/up.rs", bollard);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("names the crate `bollard`"), "{said:?}");
    assert!(check("docker/bollard/container.rs", bollard).is_empty());
    // The Kubernetes client in the file layer.
    let kube = "use kube::api::Api;\npub fn f(c: &::kube::Client) {}\n";
    let said = check("state/kept.rs", kube);
    assert!(
        said.iter().any(|s| s.contains("names the crate `kube`")),
        "{said:?}"
    );
    assert!(check("kube/kept.rs", kube).is_empty());
    // Ours of the same name is not the crate; comments and tests are free.
    assert!(
        check(
            "commands/up.rs",
            "use crate::kube::kubeconfig;\nlet x = super::kube::y;\n"
        )
        .is_empty()
    );
    assert!(
        check(
            "state/kept.rs",
            "// kube::Client in a comment\n#[cfg(test)]\nmod tests { use kube::Api; }\n"
        )
        .is_empty()
    );
    assert!(check("docker/mod.rs", "mod bollard;\nuse self::bollard::X;\n").is_empty());
    // clap at the edge only, and a planner without I/O.
    assert!(!check("config/duration.rs", "use clap::Parser;\n").is_empty());
    assert!(!check("cluster/plan/node.rs", "fn f() { std::fs::read(\"x\"); }\n").is_empty());
    assert!(check("cluster/plan/node.rs", "fn f() -> u8 { 1 }\n").is_empty());
    // The crate-path rule still holds: a lower layer naming a higher one.
    let said = check("state/record.rs", "use crate::cluster::names;\n");
    assert!(said[0].contains("state imports crate::cluster"), "{said:?}");
    assert!(unknown.is_empty(), "{unknown:?}");
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

/// Every file outside the library that names its paths: the binary, the integration tests and
/// their support code, the examples.
fn library_users() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("src/main.rs")];
    for dir in ["tests", "examples"] {
        rust_files(&root.join(dir), &mut files);
    }
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `pub mod`s of `lib` that no text of `users` names as `playground::<module>`.
fn unnamed_public_modules(lib: &str, users: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';'))
        .filter(|m| {
            !users.contains(&format!("playground::{m}::"))
                && !users.contains(&format!("playground::{m};"))
        })
        .map(str::to_string)
        .collect()
}

/// The library's surface is what its users name: a top-level module that neither the binary,
/// `tests/` nor `examples/` names is `pub(crate)`, and inside the crate `unreachable_pub`
/// (warned in `src/lib.rs`, an error under CI's clippy `-D warnings`) narrows the rest.
#[test]
fn the_library_exposes_only_what_its_users_name() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    assert!(
        lib.contains("#![warn(unreachable_pub)]"),
        "src/lib.rs must warn on unreachable_pub"
    );
    let wide = unnamed_public_modules(&lib, &library_users());
    assert!(
        wide.is_empty(),
        "modules no user of the library names, to make `pub(crate) mod`: {wide:?}"
    );
    // The check itself: a module no user names is caught, a named one and a narrow one not.
    let planted = "pub mod cli;\npub mod state;\npub(crate) mod ops;\n";
    assert_eq!(
        unnamed_public_modules(planted, "use playground::cli::Cli;"),
        ["state"]
    );
}
