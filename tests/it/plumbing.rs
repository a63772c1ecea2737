//! The plumbing commands: `version`, `completions` (and the dynamic completion it registers),
//! `man`, `schema`, and the schema line `init` writes.

use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::harness::{self, TestLab};

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A Docker endpoint that accepts connections and never answers: the worst case for a Tab
/// or for `version` (a refused socket fails fast; this one would hang without a timeout).
/// The listener must stay alive for the test's length.
fn silent_docker(dir: &Path) -> (UnixListener, String) {
    let sock = dir.join("silent-docker.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    (listener, format!("unix://{}", sock.display()))
}

/// What the binary offers when bash asks to complete the last of `words`, as the script
/// `playground completions bash` registers asks it (clap_complete's env protocol).
fn complete_bash(lab: &TestLab, words: &[&str]) -> (Vec<String>, Duration) {
    let started = Instant::now();
    let out = lab
        .cmd(&[])
        .arg("--")
        .args(words)
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .env("_CLAP_COMPLETE_COMP_TYPE", "9")
        .env("_CLAP_COMPLETE_SPACE", "true")
        .env("_CLAP_IFS", "\n")
        .output()
        .unwrap();
    let took = started.elapsed();
    (stdout(&out).lines().map(str::to_string).collect(), took)
}

/// A dropped lab's record, as `drop` leaves it, in the lab's isolated data dir.
fn write_dropped_record(lab: &TestLab, name: &str) {
    let dir = lab.home().join(".local/share/playground").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("state.yaml"),
        format!(
            "version: 1\nname: {name}\nconfig:\n  path: /lab/playground.yaml\n  content: \"apiVersion: playground.dev/v1alpha1\\nkind: Playground\\nmetadata:\\n  name: {name}\\n\"\ngit:\n  repo: /lab\n  path: apps\n  revision: HEAD\ntimes:\n  created: 2026-01-01T00:00:00Z\n  lastUp: 2026-01-01T00:00:00Z\n  dropped: 2026-01-02T00:00:00Z\n"
        ),
    )
    .unwrap();
}

#[test]
fn completions_print_a_script_each_shell_accepts() {
    let lab = TestLab::new("compl");
    std::fs::create_dir_all(lab.home()).unwrap();
    let script = stdout(&lab.cmd(&["completions", "bash"]).output().unwrap());
    assert!(script.contains("COMPLETE=\"bash\""), "{script}");
    assert!(
        script.contains("-F _clap_complete_playground playground"),
        "{script}"
    );
    let check = Command::new("bash")
        .args(["-n", "-c", &script])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    // The script actually registers the function (syntax alone would pass an empty script).
    let registered = Command::new("bash")
        .args(["-c", &format!("{script}\ncomplete -p playground")])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&registered.stdout).contains("_clap_complete_playground"),
        "{}",
        String::from_utf8_lossy(&registered.stderr)
    );
    for shell in ["zsh", "fish", "powershell"] {
        let s = stdout(&lab.cmd(&["completions", shell]).output().unwrap());
        assert!(s.contains("COMPLETE"), "{shell}: {s}");
    }
    let bad = lab.cmd(&["completions", "tcsh"]).output().unwrap();
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn restore_completes_dropped_labs_and_a_silent_docker_never_hangs_a_tab() {
    let lab = TestLab::new("compld");
    std::fs::create_dir_all(lab.home()).unwrap();
    write_dropped_record(&lab, "gone-lab");
    let (_listener, host) = silent_docker(lab.dir.path());
    let lab = lab.env("DOCKER_HOST", &host);

    // Docker's budget in completion is 1.5 s; the bound leaves room for a loaded runner and
    // still fails a Tab that waits out a client's default timeout.
    let (offered, took) = complete_bash(&lab, &["playground", "restore", ""]);
    assert!(offered.contains(&"gone-lab".to_string()), "{offered:?}");
    assert!(took < Duration::from_secs(10), "a Tab took {took:?}");

    // `status` names live labs only: Docker did not answer, so no name (flags only), quickly.
    let (offered, took) = complete_bash(&lab, &["playground", "status", ""]);
    assert!(offered.iter().all(|o| o.starts_with('-')), "{offered:?}");
    assert!(offered.contains(&"--output".to_string()), "{offered:?}");
    assert!(took < Duration::from_secs(10), "a Tab took {took:?}");

    // End to end: bash runs the registered function, which calls the binary back.
    let script = stdout(&lab.cmd(&["completions", "bash"]).output().unwrap());
    let probe = lab.cmd(&[]);
    let mut bash = Command::new("bash");
    for (k, v) in probe.get_envs() {
        match v {
            Some(v) => bash.env(k, v),
            None => bash.env_remove(k),
        };
    }
    let out = bash
        .arg("-c")
        .arg(format!(
            "{script}\nCOMP_WORDS=(playground restore go); COMP_CWORD=2; COMP_TYPE=9\n\
             _clap_complete_playground playground go restore\nprintf '%s\\n' \"${{COMPREPLY[@]}}\""
        ))
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "gone-lab");

    // Subcommands complete with no Docker at all.
    let (offered, _) = complete_bash(&lab, &["playground", "vers"]);
    assert_eq!(offered, ["version"]);
}

#[test]
fn lab_names_complete_from_docker_labels() {
    harness::require_docker();
    let lab = TestLab::new("complete");
    std::fs::create_dir_all(lab.home()).unwrap();
    // A created (never started) node with the lab's labels is all `list` reads; the guard
    // removes it by the same label.
    harness::docker(&[
        "create",
        "--name",
        &format!("{}-server-0", lab.name),
        "--label",
        &format!("playground.cluster={}", lab.name),
        "--label",
        "playground.servers=1",
        "--label",
        "playground.agents=0",
        harness::node_image(),
    ]);
    let (offered, _) = complete_bash(&lab, &["playground", "status", ""]);
    assert!(offered.contains(&lab.name), "{offered:?}");
    let (offered, _) = complete_bash(&lab, &["playground", "logs", &lab.name[..4]]);
    assert!(
        offered.contains(&lab.name),
        "a prefix completes: {offered:?}"
    );
    let (offered, _) = complete_bash(&lab, &["playground", "image", "import", "x", "--name", ""]);
    assert!(offered.contains(&lab.name), "--name completes: {offered:?}");
    // A lab Docker has is no dropped lab for `restore`.
    write_dropped_record(&lab, &lab.name);
    let (offered, _) = complete_bash(&lab, &["playground", "restore", ""]);
    assert!(!offered.contains(&lab.name), "{offered:?}");
}

#[test]
fn version_reports_a_silent_docker_without_failing() {
    let lab = TestLab::new("version");
    std::fs::create_dir_all(lab.home()).unwrap();
    let (_listener, host) = silent_docker(lab.dir.path());
    let lab = lab.env("DOCKER_HOST", &host);
    let started = Instant::now();
    let json = stdout(&lab.cmd(&["version", "-o", "json"]).output().unwrap());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["k3sImage"], playground::config::DEFAULT_K3S_IMAGE);
    let pin =
        playground::argocd::manifest::pinned(playground::argocd::manifest::ARGOCD_VERSION).unwrap();
    assert_eq!(v["argocd"]["version"], pin.version);
    assert_eq!(v["argocd"]["manifestSha256"], pin.sha256);
    assert_eq!(v["docker"]["host"], host.as_str());
    assert_eq!(v["docker"]["source"], "from DOCKER_HOST");
    assert_eq!(v["docker"]["reachable"], false);
    assert!(
        v["docker"]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{v}"
    );

    let table = stdout(&lab.cmd(&["version"]).output().unwrap());
    assert!(table.contains("not reachable"), "{table}");
    let flag = stdout(&lab.cmd(&["--version"]).output().unwrap());
    assert_eq!(
        flag.trim(),
        format!("playground {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn version_says_a_running_docker_answers() {
    harness::require_docker();
    let lab = TestLab::new("versionok");
    std::fs::create_dir_all(lab.home()).unwrap();
    let yaml = stdout(&lab.cmd(&["version", "-o", "yaml"]).output().unwrap());
    let v: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(v["docker"]["reachable"], true, "{yaml}");
}

#[test]
fn man_writes_a_page_per_command_and_hides_itself() {
    let lab = TestLab::new("man");
    std::fs::create_dir_all(lab.home()).unwrap();
    let dir = lab.dir.path().join("man1");
    stdout(&lab.cmd(&["man", dir.to_str().unwrap()]).output().unwrap());
    let top = std::fs::read_to_string(dir.join("playground.1")).unwrap();
    assert!(
        top.starts_with(".ie") || top.contains(".TH playground 1"),
        "{top}"
    );
    assert!(
        top.contains("completions"),
        "the page lists the subcommands"
    );
    for page in [
        "playground-up.1",
        "playground-cache-prune.1",
        "playground-version.1",
    ] {
        assert!(dir.join(page).is_file(), "{page}");
    }
    assert!(!dir.join("playground-man.1").exists(), "`man` is hidden");
    let help = stdout(&lab.cmd(&["--help"]).output().unwrap());
    assert!(!help.contains("\n  man "), "{help}");
    // The release archives ship the committed `man/` (dist-workspace.toml `include`): it must
    // be what this build writes, page for page.
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let names = |d: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(&committed),
        names(&dir),
        "man/ is stale: run `cargo run -q -- man man` and commit it"
    );
    for page in names(&dir) {
        assert_eq!(
            std::fs::read_to_string(committed.join(&page)).unwrap(),
            std::fs::read_to_string(dir.join(&page)).unwrap(),
            "man/{page} is stale: run `cargo run -q -- man man` and commit it"
        );
    }
}

#[test]
fn init_writes_a_lab_file_that_names_and_passes_the_schema() {
    let lab = TestLab::new("schema");
    std::fs::create_dir_all(lab.home()).unwrap();
    let printed = stdout(&lab.cmd(&["schema"]).output().unwrap());
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/playground.schema.json"),
    )
    .unwrap();
    assert!(
        printed == committed,
        "schema/playground.schema.json differs from `playground schema`; run: \
         cargo run -q -- schema > schema/playground.schema.json"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();

    let dir = lab.dir.path().join("New_Lab");
    let out = lab.cmd(&["init", dir.to_str().unwrap()]).output().unwrap();
    stdout(&out);
    let said = String::from_utf8_lossy(&out.stderr);
    let text = std::fs::read_to_string(dir.join("playground.yaml")).unwrap();
    // Named after its folder, made a valid lab name, so two `init`ed labs never collide.
    assert!(text.contains("\n  name: new-lab\n"), "{text}");
    assert!(said.contains("wrote lab new-lab in"), "{said}");
    assert!(
        said.contains(&format!("next: `cd {} && playground up`", dir.display())),
        "{said}"
    );
    // From inside the folder, the next step is `up` alone (no `cd .`).
    let here = lab.dir.path().join("here");
    std::fs::create_dir(&here).unwrap();
    let out = lab.cmd(&["init"]).current_dir(&here).output().unwrap();
    let said_here = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said_here}");
    assert!(said_here.contains("next: `playground up`"), "{said_here}");
    let url = schema["$id"].as_str().unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        format!("# yaml-language-server: $schema={url}")
    );
    let value: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // The same file with an unknown key is refused, so the check above can fail.
    let broken: serde_json::Value =
        serde_saphyr::from_str(&text.replace("  servers: 1\n", "  servers: 1\n  nodes: 3\n"))
            .unwrap();
    assert!(!validator.is_valid(&broken));
    // And `validate` accepts what `init` wrote, schema line included.
    let out = lab
        .cmd(&[
            "validate",
            "-f",
            dir.join("playground.yaml").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    stdout(&out);
}

/// The project's future GitHub home is a placeholder (CONTRIBUTING.md): every place that names
/// it follows Cargo.toml's `repository`, as `scripts/set-home` rewrites them together, and no
/// other owner hides anywhere.
#[test]
fn every_place_naming_the_projects_home_agrees_with_cargo_toml() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let home = env!("CARGO_PKG_REPOSITORY")
        .strip_prefix("https://github.com/")
        .expect("repository is a GitHub URL")
        .to_string();
    let owner = home.split('/').next().unwrap().to_string();
    let schema_url =
        format!("https://raw.githubusercontent.com/{home}/main/schema/playground.schema.json");
    assert_eq!(playground::config::SCHEMA_URL, schema_url);
    let tap = read("dist-workspace.toml")
        .lines()
        .find_map(|l| {
            l.strip_prefix("tap = \"")?
                .strip_suffix('"')
                .map(str::to_string)
        })
        .unwrap();
    assert_eq!(tap, format!("{owner}/homebrew-tap"));
    for f in [
        "playground/playground.yaml",
        "examples/seed-lab/playground.yaml",
    ] {
        assert!(
            read(f).starts_with(&format!("# yaml-language-server: $schema={schema_url}")),
            "{f}"
        );
    }
    let readme = read("README.md");
    assert!(readme.contains(&format!(
        "https://github.com/{home}/releases/latest/download/"
    )));
    assert!(readme.contains(&format!("brew install {owner}/tap/playground-lab")));
    assert!(read(".github/workflows/release.yml").contains(&format!("\"{tap}\"")));
    // The list scripts/set-home rewrites names each of these files.
    let script = read("scripts/set-home");
    for f in [
        "Cargo.toml",
        "dist-workspace.toml",
        "src/config/file.rs",
        "schema/playground.schema.json",
        "playground/playground.yaml",
        "examples/seed-lab/playground.yaml",
        "README.md",
        ".github/workflows/release.yml",
    ] {
        assert!(script.contains(f), "scripts/set-home does not rewrite {f}");
    }
}
