use super::cross::glob;
use super::*;

const LAB: &str = "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata:\n  name: lab\ngitops:\n  repo: .\n  path: apps\n";

const PROJECT: &str = "apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: lab
  namespace: argocd
spec:
  sourceRepos: [file:///playground, https://charts.example.com]
  destinations:
    - { server: https://kubernetes.default.svc, namespace: web }
";

/// A valid Application (line numbers matter to the tests that edit it).
const APP: &str = "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  namespace: argocd
spec:
  project: lab
  source:
    repoURL: file:///playground
    targetRevision: HEAD
    path: workloads/web
  destination:
    server: https://kubernetes.default.svc
    namespace: web
  syncPolicy:
    automated: { prune: true, selfHeal: true }
    syncOptions: [CreateNamespace=true]
";

/// A lab with the project, the app and its folder, then `files` written over it.
fn lab(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        ("playground.yaml", LAB),
        ("apps/project.yaml", PROJECT),
        ("apps/web.yaml", APP),
        (
            "workloads/web/deploy.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n",
        ),
    ];
    for (rel, text) in base.iter().chain(files) {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn errors_of(dir: &tempfile::TempDir) -> Vec<ValidationError> {
    match validate(&dir.path().join("playground.yaml")) {
        Ok(report) => panic!("expected errors, got {report:#?}"),
        Err(errors) => errors,
    }
}

#[test]
fn the_sample_lab_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("playground");
    // In a linked worktree of this project (how its engineers work) the sample lab cannot be
    // mounted, and `validate` says so, as `up` would; in a clone (CI) it passes cleanly.
    if Path::new(env!("CARGO_MANIFEST_DIR")).join(".git").is_file() {
        let errors = validate(&root.join("playground.yaml")).unwrap_err();
        assert!(
            render(&errors).contains("is a linked Git worktree"),
            "{}",
            render(&errors)
        );
        return;
    }
    let report = validate(&root.join("playground.yaml"))
        .unwrap_or_else(|errors| panic!("{}", render(&errors)));
    assert_eq!(report.projects, ["playground"]);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let apps: Vec<_> = report
        .applications
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                a.sources[0].kind.clone(),
                a.sources[0].local_path.clone(),
            )
        })
        .collect();
    assert_eq!(
        apps,
        [
            (
                "kustomize-hello",
                SourceKind::Kustomize,
                Some("workloads/kustomize-hello".into())
            ),
            (
                "plain-echo",
                SourceKind::Directory,
                Some("workloads/plain-echo".into())
            ),
            (
                "podinfo",
                SourceKind::HelmChart {
                    chart: "podinfo".into(),
                    version: "6.7.1".into()
                },
                None
            ),
        ]
    );
    assert!(
        report
            .applications
            .iter()
            .all(|a| a.project == "playground")
    );
}

fn render(errors: &[ValidationError]) -> String {
    errors.iter().map(|e| format!("{e}\n")).collect()
}

#[test]
fn a_valid_lab_passes() {
    let dir = lab(&[]);
    let report = validate(&dir.path().join("playground.yaml"))
        .unwrap_or_else(|errors| panic!("{}", render(&errors)));
    assert_eq!(report.files.len(), 2);
    assert_eq!(
        report.applications[0].sources[0].local_path.as_deref(),
        Some("workloads/web")
    );
}

/// Each broken lab: the files written over the valid one, then the expected file, line and
/// part of the message of its (only) error.
#[test]
fn reports_each_broken_lab_at_the_right_place() {
    // (case, files written over the valid lab, file, line, message)
    type Case = (
        &'static str,
        Vec<(&'static str, String)>,
        &'static str,
        u32,
        &'static str,
    );
    let cases: Vec<Case> = vec![
            (
                "bad YAML",
                vec![("apps/bad.yaml", "a: 1\nb: [1, 2\n".to_string())],
                "apps/bad.yaml",
                2,
                "invalid YAML",
            ),
            (
                "duplicate key",
                vec![("apps/web.yaml", APP.replace("  project: lab\n", "  project: lab\n  project: lab\n"))],
                "apps/web.yaml",
                8,
                "duplicate key `project`",
            ),
            (
                "Application without project",
                vec![("apps/web.yaml", APP.replace("  project: lab\n", ""))],
                "apps/web.yaml",
                6,
                "missing `spec.project`",
            ),
            (
                "missing path",
                vec![("apps/web.yaml", APP.replace("workloads/web", "workloads/nope"))],
                "apps/web.yaml",
                11,
                "`spec.source.path: workloads/nope` does not exist",
            ),
            (
                "path leaving the repository",
                vec![("apps/web.yaml", APP.replace("workloads/web", "../elsewhere"))],
                "apps/web.yaml",
                11,
                "leaves the repository",
            ),
            (
                "missing valueFile",
                vec![
                    ("apps/web.yaml", APP.replace("    path: workloads/web\n", "    path: workloads/web\n    helm:\n      valueFiles:\n        - values.yaml\n        - values-missing.yaml\n")),
                    ("workloads/web/values.yaml", "a: 1\n".to_string()),
                ],
                "apps/web.yaml",
                15,
                "Helm value file `values-missing.yaml` does not exist",
            ),
            (
                "both source and sources",
                vec![("apps/web.yaml", APP.replace("  destination:\n", "  sources:\n    - repoURL: file:///playground\n      path: workloads/web\n  destination:\n"))],
                "apps/web.yaml",
                12,
                "both `spec.source` and `spec.sources`",
            ),
            (
                "neither source nor sources",
                vec![("apps/web.yaml", APP.replace("  source:\n    repoURL: file:///playground\n    targetRevision: HEAD\n    path: workloads/web\n", ""))],
                "apps/web.yaml",
                6,
                "missing `spec.source`",
            ),
            (
                "wrong type: a number for a string",
                vec![("apps/web.yaml", APP.replace("targetRevision: HEAD", "targetRevision: 1.0"))],
                "apps/web.yaml",
                10,
                "`spec.source.targetRevision` must be a string, found the number `1.0`",
            ),
            (
                "wrong type: a list for a mapping",
                vec![("apps/web.yaml", APP.replace("  destination:\n    server: https://kubernetes.default.svc\n    namespace: web\n", "  destination: [in-cluster]\n"))],
                "apps/web.yaml",
                12,
                "`spec.destination` must be a mapping, found a list",
            ),
            (
                "wrong type: prune",
                vec![("apps/web.yaml", APP.replace("prune: true", "prune: \"yes\""))],
                "apps/web.yaml",
                16,
                "`spec.syncPolicy.automated.prune` must be true or false",
            ),
            (
                "server and name",
                vec![("apps/web.yaml", APP.replace("    namespace: web\n  syncPolicy", "    namespace: web\n    name: in-cluster\n  syncPolicy"))],
                "apps/web.yaml",
                15,
                "both `server` and `name`",
            ),
            (
                "path and chart",
                vec![("apps/web.yaml", APP.replace("    path: workloads/web\n", "    path: workloads/web\n    chart: web\n"))],
                "apps/web.yaml",
                12,
                "both `path` and `chart`",
            ),
            (
                "kustomize without kustomization",
                vec![("apps/web.yaml", APP.replace("    path: workloads/web\n", "    path: workloads/web\n    kustomize: { namePrefix: x- }\n"))],
                "apps/web.yaml",
                12,
                "has no kustomization.yaml",
            ),
            (
                "broken YAML in the app's folder",
                vec![("workloads/web/broken.yml", "kind: [\n".to_string())],
                "workloads/web/broken.yml",
                1,
                "invalid YAML",
            ),
            (
                "repository not allowed by the project",
                vec![("apps/web.yaml", APP.replace("    repoURL: file:///playground\n    targetRevision: HEAD\n    path: workloads/web\n", "    repoURL: https://other.example.com/charts\n    chart: web\n    targetRevision: 1.2.3\n"))],
                "apps/web.yaml",
                9,
                "repository `https://other.example.com/charts` is not allowed by AppProject `lab`",
            ),
            (
                "namespace not allowed by the project",
                vec![("apps/web.yaml", APP.replace("namespace: web", "namespace: db"))],
                "apps/web.yaml",
                14,
                "namespace `db` is not allowed by AppProject `lab`",
            ),
            (
                "two Applications with one name",
                vec![("apps/web2.yaml", APP.to_string())],
                "apps/web2.yaml",
                1,
                "a second Application named `web`",
            ),
            (
                "AppProject without spec",
                vec![("apps/project.yaml", "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata:\n  name: other\n".to_string())],
                "apps/project.yaml",
                1,
                "missing `spec`",
            ),
            (
                "object without kind",
                vec![("apps/cm.yaml", "---\napiVersion: v1\nmetadata: { name: x }\n".to_string())],
                "apps/cm.yaml",
                2,
                "missing `kind`",
            ),
        ];
    for (name, files, file, line, message) in cases {
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        let dir = lab(&files);
        let errors = errors_of(&dir);
        assert_eq!(errors.len(), 1, "{name}: {}", render(&errors));
        let e = &errors[0];
        assert_eq!(e.path, dir.path().join(file), "{name}: {e}");
        assert_eq!(e.line, line, "{name}: {e}");
        assert!(e.column >= 1, "{name}: {e}");
        assert!(e.message.contains(message), "{name}: {e}");
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!(
                "{}:{line}:{}: ",
                dir.path().join(file).display(),
                e.column
            )),
            "{name}: {shown}"
        );
    }
}

#[test]
fn collects_every_error_at_once() {
    let dir = lab(&[
        ("apps/bad.yaml", "a: [\n"),
        (
            "apps/web.yaml",
            &APP.replace("  project: lab\n", "")
                .replace("workloads/web", "workloads/nope"),
        ),
    ]);
    let errors = errors_of(&dir);
    assert_eq!(errors.len(), 3, "{}", render(&errors));
    // Sorted by file, then line.
    assert!(errors[0].path.ends_with("apps/bad.yaml"));
    assert!(
        errors[1].message.contains("spec.project"),
        "{}",
        render(&errors)
    );
    assert!(
        errors[2].message.contains("workloads/nope"),
        "{}",
        render(&errors)
    );
}

#[test]
fn reports_lab_file_problems_in_the_lab_file() {
    let dir = lab(&[(
        "playground.yaml",
        &LAB.replace("path: apps", "path: missing"),
    )]);
    let errors = errors_of(&dir);
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].line, errors[0].column), (7, 9), "{}", errors[0]);
    assert!(
        errors[0].message.contains("does not exist"),
        "{}",
        errors[0]
    );

    let dir = lab(&[(
        "playground.yaml",
        &LAB.replace("kind: Playground", "kind: Cluster"),
    )]);
    let errors = errors_of(&dir);
    assert_eq!((errors[0].line, errors[0].column), (2, 7), "{}", errors[0]);
}

#[test]
fn warns_about_a_project_defined_elsewhere() {
    let dir = lab(&[(
        "apps/web.yaml",
        &APP.replace("project: lab", "project: team"),
    )]);
    let report = validate(&dir.path().join("playground.yaml")).unwrap();
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(report.warnings[0].line, 7);
    assert!(report.warnings[0].message.contains("no AppProject `team`"));
}

#[test]
fn does_not_check_a_remote_repository_offline() {
    let dir = lab(&[(
        "playground.yaml",
        &LAB.replace("repo: .", "repo: https://github.com/example/lab.git"),
    )]);
    let report = validate(&dir.path().join("playground.yaml")).unwrap();
    assert!(report.repo_root.is_none());
    assert!(report.skipped.unwrap().contains("remote repository"));
}

#[test]
fn accepts_a_file_url_of_the_lab_itself_and_globs_in_projects() {
    let dir = lab(&[]);
    let url = format!("file://{}", dir.path().display());
    let app = APP.replace("file:///playground", &url);
    let project = PROJECT.replace("file:///playground", "file://*");
    let dir2 = lab(&[("apps/web.yaml", &app), ("apps/project.yaml", &project)]);
    // `dir`'s URL does not name `dir2`: that source is remote, so its path is not checked.
    let report = validate(&dir2.path().join("playground.yaml")).unwrap();
    assert!(matches!(
        report.applications[0].sources[0].kind,
        SourceKind::Remote { .. }
    ));
    let own = APP.replace(
        "file:///playground",
        &format!("file://{}", dir2.path().display()),
    );
    std::fs::write(dir2.path().join("apps/web.yaml"), own).unwrap();
    let report = validate(&dir2.path().join("playground.yaml")).unwrap();
    assert_eq!(
        report.applications[0].sources[0].kind,
        SourceKind::Directory
    );
    assert!(glob(
        "https://*.example.com/*",
        "https://charts.example.com/a/b"
    ));
    assert!(!glob("https://*.example.com", "https://example.org"));
}

#[test]
fn a_lab_in_a_linked_worktree_is_refused_at_gitops_repo() {
    let dir = lab(&[]);
    let git = |cwd: &Path, args: &[&str]| {
        crate::repo::git::tests::git(cwd, args).expect("git is installed");
    };
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "lab"]);
    // The main checkout passes: the refusal below is about the worktree alone, as `up`'s is.
    let main = validate(&dir.path().join("playground.yaml")).unwrap();
    assert!(main.warnings.is_empty(), "{:?}", main.warnings);

    let wt = tempfile::tempdir().unwrap();
    let wt = wt.path().join("wt");
    git(dir.path(), &["worktree", "add", "-q", wt.to_str().unwrap()]);
    let errors = validate(&wt.join("playground.yaml")).unwrap_err();
    assert_eq!(errors.len(), 1, "{}", render(&errors));
    let w = &errors[0];
    assert_eq!((w.line, w.column), (6, 9), "at `gitops.repo`'s value");
    assert!(
        w.message.contains("is a linked Git worktree") && w.message.contains("/.git/worktrees/wt"),
        "{}",
        w.message
    );
    let hint = w.hint.as_deref().unwrap();
    let main = dir.path().canonicalize().unwrap();
    assert!(
        hint.contains(&format!("the main checkout {}", main.display())),
        "{hint}"
    );
}

/// A clone of the seed's apps repository (its root chart, vendored) with the lab file and
/// project of `examples/seed-lab/`, committed on `local`, origin set to its GitHub URL; then
/// `files` written over it.
fn seed_lab(files: &[(&str, &str)]) -> tempfile::TempDir {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let chart = manifest.join("tests/fixtures/seed/gitops-playground-apps/argocd");
    let mut stack = vec![(chart.clone(), dir.path().join("argocd"))];
    while let Some((from, to)) = stack.pop() {
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(&from).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push((e.path(), to.join(e.file_name())));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }
    for f in ["playground.yaml", "project.yaml"] {
        std::fs::copy(
            manifest.join("examples/seed-lab").join(f),
            dir.path().join(f),
        )
        .unwrap();
    }
    for (rel, text) in files {
        std::fs::write(dir.path().join(rel), text).unwrap();
    }
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@e"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "local"]);
    git(&[
        "remote",
        "add",
        "origin",
        "https://github.com/davidwmcneill/gitops-playground-apps.git",
    ]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "seed"]);
    dir
}

#[test]
fn the_seed_lab_validates_as_helm_and_argo_cd_read_it() {
    let dir = seed_lab(&[]);
    let report = validate(&dir.path().join("playground.yaml")).unwrap_or_else(|e| panic!("{e:#?}"));
    // The chart's templates are never read as manifests; its value files are Helm's.
    assert!(
        report
            .files
            .iter()
            .all(|f| !f.to_string_lossy().contains("templates"))
    );
    let dups: Vec<&ValidationError> = report
        .warnings
        .iter()
        .filter(|w| w.message.contains("Helm keeps the last one"))
        .collect();
    assert_eq!(dups.len(), 3, "{:#?}", report.warnings);
    assert!(dups.iter().all(|w| w.path.ends_with("argocd/values.yaml")));
    // The example's inline values point the children at the mount: nothing reads the remote,
    // and the project (from argocd.resources) permits the root.
    assert!(
        report
            .warnings
            .iter()
            .all(|w| !w.message.contains("remote") && !w.message.contains("AppProject")),
        "{:#?}",
        report.warnings
    );
    assert_eq!(report.projects, ["playground-project"]);
    if crate::gitops::helm::helm_binary().is_none() {
        assert!(
            report.notes[0].contains("`helm` is not on PATH"),
            "{:?}",
            report.notes
        );
    }
}

#[test]
fn the_seed_lab_without_its_override_names_the_value_that_reads_github() {
    let lab = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed-lab/playground.yaml"),
    )
    .unwrap();
    let cut = lab.find("    # The chart points").unwrap();
    let dir = seed_lab(&[("playground.yaml", &lab[..cut])]);
    let report = validate(&dir.path().join("playground.yaml")).unwrap();
    let w = report
        .warnings
        .iter()
        .find(|w| w.message.contains("default.app.source.repoURL"))
        .unwrap_or_else(|| panic!("{:#?}", report.warnings));
    assert!(w.message.contains(
        "gitops.helm.values: { default: { app: { source: { repoURL: file:///playground } } } }"
    ));
}

#[test]
fn a_missing_value_file_or_chart_version_fails_at_its_place() {
    let lab = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed-lab/playground.yaml"),
    )
    .unwrap()
    .replace(
        "valueFiles: [local.yaml]",
        "valueFiles: [local.yaml, staging.yaml]",
    );
    let dir = seed_lab(&[
        ("playground.yaml", &lab),
        ("argocd/Chart.yaml", "name: argocd-infra\napiVersion: v1\n"),
    ]);
    let errors = errors_of(&dir);
    let line = lab
        .lines()
        .position(|l| l.contains("staging.yaml"))
        .unwrap() as u32
        + 1;
    let missing = errors
        .iter()
        .find(|e| e.message.contains("staging.yaml"))
        .unwrap_or_else(|| panic!("{errors:#?}"));
    assert!(missing.path.ends_with("playground.yaml"), "{missing}");
    assert_eq!(
        (missing.line, missing.column),
        (
            line,
            lab.lines()
                .nth(line as usize - 1)
                .unwrap()
                .find("staging")
                .unwrap() as u32
                + 1
        )
    );
    let version = errors
        .iter()
        .find(|e| e.message == "validation: chart.metadata.version is required")
        .unwrap_or_else(|| panic!("{errors:#?}"));
    assert!(version.path.ends_with("argocd/Chart.yaml"));
    assert_eq!((version.line, version.column), (1, 1));
}

#[test]
fn a_directory_root_over_a_chart_and_a_secret_in_resources_are_refused() {
    let lab = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed-lab/playground.yaml"),
    )
    .unwrap();
    let cut = lab.find("  # The root is a Helm chart").unwrap();
    let lab = format!(
        "{}  directory: {{ recurse: true }}\n",
        &lab[..cut].replace(
            "resources: [project.yaml]",
            "resources: [project.yaml, token.yaml]"
        )
    );
    let dir = seed_lab(&[
        ("playground.yaml", &lab),
        (
            "token.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: { name: t }\nstringData: { token: x }\n",
        ),
    ]);
    let errors = errors_of(&dir);
    let dir_err = errors
        .iter()
        .find(|e| e.message.contains("`gitops.directory`"))
        .unwrap_or_else(|| panic!("{errors:#?}"));
    assert!(dir_err.message.contains("Helm chart"));
    assert_eq!(dir_err.line as usize, lab.lines().count());
    let secret = errors
        .iter()
        .find(|e| e.message.contains("Secret"))
        .unwrap_or_else(|| panic!("{errors:#?}"));
    assert!(secret.path.ends_with("token.yaml"));
    assert_eq!((secret.line, secret.column), (2, 7));
}

#[test]
fn a_root_project_nowhere_to_be_found_is_a_warning_with_argo_cds_words() {
    let lab = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed-lab/playground.yaml"),
    )
    .unwrap()
    .replace("  resources: [project.yaml]\n", "");
    let dir = seed_lab(&[("playground.yaml", &lab)]);
    let report = validate(&dir.path().join("playground.yaml")).unwrap();
    assert!(
        report.warnings.iter().any(|w| w
            .message
            .contains("Application referencing project playground-project which does not exist")),
        "{:#?}",
        report.warnings
    );
    // The seed's own project, which lists only GitHub URLs.
    let seed_project = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed/project.yaml"),
    )
    .unwrap();
    let dir = seed_lab(&[("project.yaml", &seed_project)]);
    let report = validate(&dir.path().join("playground.yaml")).unwrap();
    assert!(
        report.warnings.iter().any(|w| w.message.contains(
            "application repo file:///playground is not permitted in project 'playground-project'"
        )),
        "{:#?}",
        report.warnings
    );
}
