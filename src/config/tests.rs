//! Tests of the lab file: parsing, defaults, and every error with its place and hint.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::*;

const FULL: &str = r#"apiVersion: playground.dev/v1alpha1
kind: Playground
metadata:
  name: lab                       # DNS-1123 label
cluster:
  image: rancher/k3s:v1.35.5-k3s1
  servers: 1
  agents: 2
  privileged: true
  api: { host: 127.0.0.1, port: 6550 }
  ports: ["8080:80@loadbalancer", "8443:443@loadbalancer"]
  k3sArgs: ["--disable=traefik@server:*"]
  env: ["KEY=VALUE@server:*"]
  imageCache: false
  registry: { port: 5001 }
argocd:
  version: v3.5.1
  manifest: https://example.com/install.yaml
  namespace: argocd
  ui: { port: 8080 }
  resources: [project.yaml, argocd/]
gitops:
  repo: .
  revision: HEAD
  path: apps
  credentials: { usernameEnv: GIT_USER, passwordEnv: GIT_TOKEN }
  project: playground-project
  helm:
    valueFiles: [local.yaml]
    values: { envName: local, default: { app: { source: { repoURL: "file:///playground" } } } }
    releaseName: root
keep:
  secrets:
    - { namespace: kube-system, selector: "sealedsecrets.bitnami.com/sealed-secrets-key" }
    - { namespace: default, name: my-api-token }
"#;

/// The three required sections; tests append to it, so `cluster:` content starts on line 6.
const HEAD: &str =
    "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata:\n  name: lab\n";

fn origin() -> PathBuf {
    PathBuf::from("labs/playground.yaml")
}

fn lab(text: &str) -> Lab {
    parse(text, &origin()).unwrap_or_else(|e| panic!("{e}"))
}

/// Parses `text`, expecting an error at `line:col` whose message contains `message`.
fn fails(text: &str, line: u32, column: u32, message: &str) -> ConfigError {
    let err = parse(text, &origin()).expect_err("should not parse");
    assert_eq!(
        err.position(),
        Some((line, column)),
        "wrong position for: {err}"
    );
    assert!(
        err.message().contains(message),
        "message lacks `{message}`: {err}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("labs/playground.yaml:{line}:{column}: ")),
        "{err}"
    );
    err
}

fn hint(err: &ConfigError) -> String {
    crate::diag::Hinted::hint(err).unwrap_or_else(|| panic!("no hint: {err}"))
}

fn localhost() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

#[test]
fn parses_the_full_example() {
    let all_servers = NodeFilter::Servers(Selection::All);
    let want = Lab {
        name: LabName::parse("lab").unwrap(),
        cluster: ClusterSpec {
            image: "rancher/k3s:v1.35.5-k3s1".into(),
            servers: 1,
            agents: 2,
            privileged: true,
            api: ApiEndpoint {
                host: localhost(),
                port: Some(6550),
            },
            ports: vec![
                PortMapping {
                    host_ip: localhost(),
                    host_port: 8080,
                    container_port: 80,
                    protocol: Protocol::Tcp,
                    target: NodeFilter::LoadBalancer,
                },
                PortMapping {
                    host_ip: localhost(),
                    host_port: 8443,
                    container_port: 443,
                    protocol: Protocol::Tcp,
                    target: NodeFilter::LoadBalancer,
                },
            ],
            k3s_args: vec![Filtered {
                value: "--disable=traefik".into(),
                filter: all_servers.clone(),
            }],
            env: vec![Filtered {
                value: EnvVar {
                    key: "KEY".into(),
                    value: "VALUE".into(),
                    from_host: None,
                },
                filter: all_servers,
            }],
            image_cache: false,
            registry: Some(RegistrySpec { port: 5001 }),
            mounts: Vec::new(),
            ca_certs: Vec::new(),
            proxy: None,
            registries: None,
        },
        argocd: ArgoCdSpec {
            version: "v3.5.1".into(),
            manifest: Some("https://example.com/install.yaml".into()),
            namespace: "argocd".into(),
            ui: ArgoCdUi { port: 8080 },
            components: Vec::new(),
            resources: vec!["project.yaml".into(), "argocd/".into()],
            clusters: Vec::new(),
        },
        gitops: GitOpsSpec {
            repo: RepoLocation::parse(".", Path::new("labs")).unwrap(),
            revision: "HEAD".into(),
            path: "apps".into(),
            credentials: Some(GitCredentials::Env {
                username_env: "GIT_USER".into(),
                password_env: "GIT_TOKEN".into(),
            }),
            project: "playground-project".into(),
            source: RootSource::Helm(HelmSource {
                value_files: vec!["local.yaml".into()],
                values: Some(
                    serde_json::json!({"envName": "local", "default": {"app": {"source": {"repoURL": "file:///playground"}}}}),
                ),
                release_name: Some("root".into()),
            }),
        },
        keep: KeepSpec {
            secrets: vec![
                KeptSecret {
                    namespace: "kube-system".into(),
                    select: SecretSelect::Selector(
                        "sealedsecrets.bitnami.com/sealed-secrets-key".into(),
                    ),
                },
                KeptSecret {
                    namespace: "default".into(),
                    select: SecretSelect::Name("my-api-token".into()),
                },
            ],
        },
        source: Some(origin()),
    };
    assert_eq!(lab(FULL), want);
}

#[test]
fn fills_defaults_for_everything_optional() {
    let parsed = lab(HEAD);
    let mut want = default_lab();
    want.name = LabName::parse("lab").unwrap();
    want.source = Some(origin());
    // The default repository is the lab file's own folder.
    want.gitops.repo = RepoLocation::parse(".", Path::new("labs")).unwrap();
    assert_eq!(parsed.gitops.repo.local_dir(), Some(Path::new("labs")));
    assert_eq!(parsed, want);
    assert_eq!(parsed.argocd.version, "v3.5.1");
    assert_eq!(parsed.argocd.namespace, "argocd");
    assert_eq!(parsed.argocd.ui.port, 8080);
    assert_eq!(
        (
            parsed.gitops.repo.as_written(),
            parsed.gitops.revision.as_str()
        ),
        (".", "HEAD")
    );
    assert_eq!(parsed.gitops.path, "apps");

    // Empty sections and an empty `api` mapping are the same as absent ones.
    let empty = lab(&format!(
        "{HEAD}cluster:\n  api: {{}}\nargocd:\ngitops:\nkeep:\n"
    ));
    assert_eq!(empty, parsed);
}

#[test]
fn default_lab_is_the_documented_one() {
    let d = default_lab();
    assert_eq!(d.name, "playground");
    assert_eq!((d.cluster.servers, d.cluster.agents), (1, 0));
    assert_eq!(d.cluster.image, DEFAULT_K3S_IMAGE);
    assert!(d.cluster.privileged);
    assert!(
        d.cluster.image_cache,
        "the image cache is on unless the file turns it off"
    );
    assert_eq!(
        d.cluster.api,
        ApiEndpoint {
            host: localhost(),
            port: None
        }
    );
    assert!(
        d.cluster.ports.is_empty() && d.cluster.k3s_args.is_empty() && d.cluster.env.is_empty()
    );
    assert_eq!(d.source, None);
}

#[test]
fn the_sample_lab_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("playground/playground.yaml");
    let sample = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sample.name, "playground");
    assert_eq!((sample.cluster.servers, sample.cluster.agents), (1, 2));
    assert!(sample.cluster.privileged);
    assert_eq!(sample.cluster.ports.len(), 1);
    let port = &sample.cluster.ports[0];
    assert_eq!(
        (port.host_ip, port.host_port, port.container_port),
        (localhost(), 8081, 80)
    );
    assert_eq!(port.target, NodeFilter::LoadBalancer);
    assert_eq!(sample.argocd, ArgoCdSpec::default());
    assert_eq!(
        (sample.gitops.repo.as_written(), sample.gitops.path.as_str()),
        (".", "apps")
    );
    assert_eq!(sample.source.as_deref(), Some(path.as_path()));
}

#[test]
fn filters_and_env_apply_where_they_say() {
    let parsed = lab(&format!(
        "{HEAD}cluster:\n  servers: 3\n  agents: 2\n  k3sArgs:\n    - --disable=traefik\n    - --node-label=a=b@agent:0,1\n  env:\n    - EMAIL=me@example.com@all\n    - EMPTY=@server:1-\n"
    ));
    let c = parsed.cluster;
    assert_eq!(
        c.k3s_args[0],
        Filtered {
            value: "--disable=traefik".into(),
            filter: NodeFilter::All
        }
    );
    assert_eq!(
        c.k3s_args[1].filter,
        NodeFilter::Agents(Selection::Indices(vec![0, 1]))
    );
    assert_eq!(
        c.env[0].value,
        EnvVar {
            key: "EMAIL".into(),
            value: "me@example.com".into(),
            from_host: None,
        }
    );
    assert_eq!(c.env[0].filter, NodeFilter::All);
    assert_eq!(
        c.env[1].value,
        EnvVar {
            key: "EMPTY".into(),
            value: String::new(),
            from_host: None,
        }
    );
    assert_eq!(
        c.env[1].filter,
        NodeFilter::Servers(Selection::Range(Some(1), None))
    );
}

#[test]
fn reports_yaml_syntax_errors_where_they_are() {
    let err = fails(
        "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata:\n  name: \"lab\n",
        4,
        9,
        "unclosed quote",
    );
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    let err = fails(&format!("{HEAD}cluster:\n\timage: x\n"), 6, 2, "tabs");
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    fails(
        &format!("{HEAD}  name: other\n"),
        5,
        3,
        "duplicate mapping key `name`",
    );
}

#[test]
fn reports_unknown_keys_with_the_allowed_ones() {
    let err = fails(
        &format!("{HEAD}cluster:\n  sever: 2\n"),
        6,
        3,
        "unknown key `sever` in `cluster`",
    );
    assert!(matches!(err, ConfigError::Schema { .. }), "{err:?}");
    assert_eq!(
        hint(&err),
        "did you mean `servers`? allowed keys: image, servers, agents, privileged, api, ports, k3sArgs, env, imageCache, registry, mounts, caCerts, proxy, registries"
    );
    let err = fails(
        &format!("{HEAD}clusters:\n  servers: 2\n"),
        5,
        1,
        "unknown key `clusters` at the top level",
    );
    assert!(hint(&err).starts_with("did you mean `cluster`?"), "{err}");
    let err = fails(
        &format!("{HEAD}cluster:\n  api: {{ hots: 0.0.0.0 }}\n"),
        6,
        10,
        "unknown key `hots` in `cluster.api`",
    );
    assert!(hint(&err).starts_with("did you mean `host`?"), "{err}");
    let err = fails(
        &format!("{HEAD}cluster:\n  volumes: []\n"),
        6,
        3,
        "unknown key `volumes`",
    );
    assert!(hint(&err).starts_with("allowed keys: "), "{err}");
    let err = fails(
        &format!("{HEAD}gitops:\n  credentials:\n    token: abc\n"),
        7,
        5,
        "in `gitops.credentials`",
    );
    assert!(
        hint(&err).contains("usernameEnv, passwordEnv, sshKeyFile"),
        "{err}"
    );
}

#[test]
fn argo_cd_components_are_named_from_a_known_list() {
    let l = lab(&format!(
        "{HEAD}argocd:\n  components: [notifications, dex, dex]\n"
    ));
    assert_eq!(
        l.argocd.components,
        [ArgoCdComponent::Dex, ArgoCdComponent::Notifications]
    );
    assert!(lab(HEAD).argocd.components.is_empty(), "lean by default");
    let err = fails(
        &format!("{HEAD}argocd:\n  components: [dex, sso]\n"),
        6,
        21,
        "unknown Argo CD component `sso`",
    );
    assert!(hint(&err).contains("dex, notifications"), "{err}");
}

#[test]
fn a_password_in_the_repo_url_is_refused_where_it_is() {
    let err = fails(
        &format!("{HEAD}gitops:\n  repo: https://ada:s3cret@git.example.com/lab.git\n"),
        6,
        9,
        "carries a password",
    );
    assert!(hint(&err).contains("passwordEnv"), "{err}");
    // The message never repeats the secret.
    assert!(!err.to_string().contains("s3cret"), "{err}");
    // A user name alone, or an scp-like address, is fine.
    for repo in [
        "ssh://git@github.com/ada/lab.git",
        "git@github.com:ada/lab.git",
        "https://github.com/ada/lab.git",
    ] {
        let lab = parse(
            &format!("{HEAD}gitops:\n  repo: {repo}\n"),
            Path::new("p.yaml"),
        )
        .unwrap_or_else(|e| panic!("{repo}: {e}"));
        assert_eq!(lab.gitops.repo.remote_url(), Some(repo));
    }
}

#[test]
fn names_the_section_of_an_unknown_key() {
    let head = "apiVersion: playground.dev/v1alpha1\nkind: Playground\n";
    let cases = [
        (
            format!("{head}metadata:\n  name: lab\n  labels: {{}}\n"),
            "in `metadata`",
        ),
        (format!("{HEAD}argocd:\n  verison: v3\n"), "in `argocd`"),
        (
            format!("{HEAD}argocd:\n  ui: {{ host: x }}\n"),
            "in `argocd.ui` or `cluster.registry`",
        ),
        (
            format!("{HEAD}cluster:\n  registry: {{ port: 5001, host: x }}\n"),
            "in `argocd.ui` or `cluster.registry`",
        ),
        (format!("{HEAD}gitops:\n  branch: main\n"), "in `gitops`"),
        (format!("{HEAD}keep:\n  configmaps: []\n"), "in `keep`"),
        (
            format!("{HEAD}keep:\n  secrets:\n    - {{ namespace: a, label: b }}\n"),
            "in a `keep.secrets` entry",
        ),
    ];
    for (text, section) in cases {
        let err = parse(&text, &origin()).unwrap_err();
        assert!(err.message().ends_with(section), "{err}");
    }
}

#[test]
fn reports_wrong_types() {
    let err = fails(
        &format!("{HEAD}cluster:\n  servers: two\n"),
        6,
        12,
        "expected a whole number, found `two`",
    );
    assert!(matches!(err, ConfigError::Schema { .. }), "{err:?}");
    fails(
        &format!("{HEAD}cluster:\n  agents: -1\n"),
        6,
        11,
        "expected a whole number, found `-1`",
    );
    fails(
        &format!("{HEAD}cluster:\n  privileged: yes\n"),
        6,
        15,
        "true or false",
    );
    let err = fails(
        &format!("{HEAD}cluster:\n  ports: \"8080:80\"\n"),
        6,
        10,
        "expected a list, found `\"8080:80\"`",
    );
    assert!(hint(&err).contains("- item"));
    fails(
        &format!("{HEAD}cluster:\n  image: [a, b]\n"),
        6,
        10,
        "expected a single value, found a list",
    );
    fails(
        &format!("{HEAD}cluster:\n  api: {{ port: 70000 }}\n"),
        6,
        16,
        "expected a number from 0 to 65535, found `70000`",
    );
    fails(&format!("{HEAD}cluster: 3\n"), 5, 10, "expected a mapping");
    fails(
        "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata:\n  name:\n",
        4,
        7,
        "missing value",
    );
}

#[test]
fn image_cache_is_a_boolean_on_by_default() {
    assert!(lab(HEAD).cluster.image_cache);
    assert!(
        lab(&format!("{HEAD}cluster:\n  imageCache: true\n"))
            .cluster
            .image_cache
    );
    assert!(
        !lab(&format!("{HEAD}cluster:\n  imageCache: false\n"))
            .cluster
            .image_cache
    );
    fails(
        &format!("{HEAD}cluster:\n  imageCache: maybe\n"),
        6,
        15,
        "true or false",
    );
    fails(
        &format!("{HEAD}cluster:\n  imageCache: [docker.io]\n"),
        6,
        15,
        "expected a single value, found a list",
    );
    let err = fails(
        &format!("{HEAD}cluster:\n  imagecache: false\n"),
        6,
        3,
        "unknown key `imagecache` in `cluster`",
    );
    assert!(
        hint(&err).starts_with("did you mean `imageCache`?"),
        "{err}"
    );
}

#[test]
fn reports_missing_and_wrong_header() {
    let err = fails(
        "apiVersion: v1\nkind: Playground\nmetadata:\n  name: lab\n",
        1,
        13,
        "unsupported apiVersion `v1`",
    );
    assert!(matches!(err, ConfigError::Invalid { .. }), "{err:?}");
    assert_eq!(
        hint(&err),
        "this version of playground reads `apiVersion: playground.dev/v1alpha1`"
    );
    let err = fails(
        "apiVersion: playground.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\n",
        2,
        7,
        "unsupported kind `Cluster`",
    );
    assert_eq!(hint(&err), "expected `kind: Playground`");
    let err = fails(
        "apiVersion: playground.dev/v1alpha1\nkind: Playground\n",
        2,
        1,
        "missing required key `metadata`",
    );
    assert!(hint(&err).contains("metadata:"));
    let err = fails("# nothing yet\n\n", 1, 1, "the lab file is empty");
    assert!(hint(&err).contains("apiVersion"));
}

#[test]
fn reports_bad_names_at_the_name() {
    let head = "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata:\n";
    for name in [
        "My_Lab",
        "1lab",
        "lab-",
        "-lab",
        "a.b",
        "\"\"",
        &"a".repeat(33),
    ] {
        let err = fails(&format!("{head}  name: {name}\n"), 4, 9, "invalid lab name");
        assert_eq!(
            hint(&err),
            "expected a DNS-1123 label: lowercase letters, digits and '-', starting with a letter, \
                 not ending with '-', at most 32 characters (not 63: the name goes into every \
                 node's host name, such as `playground-<name>-server-0`, which must fit in 63)"
        );
    }
    assert_eq!(
        lab(&format!("{head}  name: {}\n", "a".repeat(32)))
            .name
            .len(),
        32
    );
    assert_eq!(lab(&format!("{head}  name: lab-2\n")).name, "lab-2");
}

#[test]
fn reports_node_counts_out_of_range() {
    let err = fails(
        &format!("{HEAD}cluster:\n  servers: 0\n"),
        6,
        12,
        "`servers: 0` is out of range",
    );
    assert!(matches!(err, ConfigError::Invalid { .. }), "{err:?}");
    assert!(hint(&err).starts_with("expected 1 to 7"), "{err}");
    fails(
        &format!("{HEAD}cluster:\n  servers: 8\n"),
        6,
        12,
        "`servers: 8` is out of range",
    );
    let err = fails(
        &format!("{HEAD}cluster:\n  image: x\n  agents: 33\n"),
        7,
        11,
        "`agents: 33` is out of range",
    );
    assert_eq!(hint(&err), "expected 0 to 32");
    assert_eq!(
        lab(&format!("{HEAD}cluster:\n  servers: 7\n  agents: 32\n"))
            .cluster
            .agents,
        32
    );
}

#[test]
fn reports_bad_ports_at_the_entry() {
    // Flow list: the second entry starts at column 22.
    let err = fails(
        &format!("{HEAD}cluster:\n  ports: [\"8080:80\", \"80\"]\n"),
        6,
        22,
        "port `80` has no host port",
    );
    assert!(hint(&err).contains("random port"), "{err}");
    // Block list.
    let text =
        format!("{HEAD}cluster:\n  ports:\n    - 8080:80@loadbalancer\n    - 8443:443/sctp\n");
    let err = fails(&text, 8, 7, "unknown protocol `sctp`");
    assert!(
        hint(&err).starts_with("expected [HOST_IP:]HOST_PORT:CONTAINER_PORT"),
        "{err}"
    );
    fails(
        &format!("{HEAD}cluster:\n  ports: [\"8080:80@agent:3\"]\n  agents: 2\n"),
        6,
        11,
        "`@agent:3` refers to agent 3, but the cluster has 2 agents",
    );
    fails(
        &format!("{HEAD}cluster:\n  ports: [\"8080:80@lb\"]\n"),
        6,
        11,
        "unknown node group `lb`",
    );
    fails(
        &format!("{HEAD}cluster:\n  agents: 2\n  ports: [\"8080:80@agent:*\"]\n"),
        7,
        11,
        "targets 2 nodes",
    );
    fails(
        &format!("{HEAD}cluster:\n  ports: [\"8080:80\", \"0.0.0.0:8080:81\"]\n"),
        6,
        22,
        "host port 8080/tcp in `0.0.0.0:8080:81` is already used by `8080:80`",
    );
    fails(
        &format!("{HEAD}cluster:\n  api: {{ port: 6550 }}\n  ports: [\"6550:80\"]\n"),
        7,
        11,
        "already used by the API endpoint",
    );
    // Same port number on another protocol or another address is fine.
    let ok = lab(&format!(
        "{HEAD}cluster:\n  ports: [\"53:53\", \"53:53/udp\", \"127.0.0.2:53:53\"]\n"
    ));
    assert_eq!(ok.cluster.ports.len(), 3);
}

#[test]
fn reports_bad_api_endpoints() {
    let err = fails(
        &format!("{HEAD}cluster:\n  api:\n    host: localhost\n"),
        7,
        11,
        "invalid API host `localhost`",
    );
    assert!(hint(&err).contains("127.0.0.1"));
    let err = fails(
        &format!("{HEAD}cluster:\n  api: {{ port: 0 }}\n"),
        6,
        16,
        "invalid API port 0",
    );
    assert!(hint(&err).contains("leave `port` out"));
    let api = lab(&format!(
        "{HEAD}cluster:\n  api: {{ host: \"::1\", port: 6443 }}\n"
    ))
    .cluster
    .api;
    assert_eq!(
        api,
        ApiEndpoint {
            host: "::1".parse().unwrap(),
            port: Some(6443)
        }
    );
}

#[test]
fn reports_bad_filters_and_env_at_the_entry() {
    let text = format!(
        "{HEAD}cluster:\n  agents: 2\n  k3sArgs:\n    - --disable=traefik@server:*\n    - --foo@agent:3\n"
    );
    let err = fails(&text, 9, 7, "`@agent:3` refers to agent 3");
    assert_eq!(
        hint(&err),
        "agent indices start at 0: valid ones here are 0 to 1"
    );
    let err = fails(
        &format!("{HEAD}cluster:\n  k3sArgs: [\"--foo@servr:0\"]\n"),
        6,
        13,
        "unknown node group `servr`",
    );
    assert!(
        hint(&err).contains("explicit filter such as `@all`"),
        "{err}"
    );
    fails(
        &format!("{HEAD}cluster:\n  k3sArgs: [\"--foo@loadbalancer:proxy\"]\n"),
        6,
        13,
        "`:proxy` suffix",
    );
    fails(
        &format!("{HEAD}cluster:\n  k3sArgs: [\"@server:0\"]\n"),
        6,
        13,
        "empty k3s argument",
    );
    fails(
        &format!("{HEAD}cluster:\n  env: [\"A=1\", \"1BAD=x\"]\n"),
        6,
        16,
        "invalid environment variable name `1BAD`",
    );
    let err = fails(
        &format!("{HEAD}cluster:\n  env: [\"NOVALUE\"]\n"),
        6,
        9,
        "no `=`",
    );
    assert!(hint(&err).contains("KEY=VALUE"));
}

#[test]
fn reports_bad_gitops_and_keep_entries() {
    let err = fails(
        &format!("{HEAD}gitops:\n  credentials: {{ usernameEnv: GIT_USER }}\n"),
        6,
        16,
        "either `usernameEnv` and `passwordEnv`, or `sshKeyFile`",
    );
    assert!(matches!(err, ConfigError::Invalid { .. }), "{err:?}");
    fails(
        &format!(
            "{HEAD}gitops:\n  credentials: {{ usernameEnv: GIT_USER, passwordEnv: ghp_123-456 }}\n"
        ),
        6,
        54,
        "invalid environment variable name `ghp_123-456`",
    );
    let key = lab(&format!(
        "{HEAD}gitops:\n  credentials: {{ sshKeyFile: ~/.ssh/id_ed25519 }}\n"
    ));
    assert_eq!(
        key.gitops.credentials,
        Some(GitCredentials::SshKeyFile("~/.ssh/id_ed25519".into()))
    );
    let text = format!(
        "{HEAD}keep:\n  secrets:\n    - {{ namespace: a, name: x }}\n    - {{ namespace: a, name: x, selector: y }}\n"
    );
    fails(&text, 8, 7, "exactly one of `name` or `selector`");
    fails(
        &format!(
            "{HEAD}keep:\n  secrets:\n    - {{ namespace: a, name: x }}\n    - {{ namespace: a, name: x }}\n"
        ),
        8,
        7,
        "listed twice",
    );
    fails(
        &format!("{HEAD}argocd:\n  ui: {{ port: 0 }}\n"),
        6,
        15,
        "invalid UI port 0",
    );
}

#[test]
fn the_registry_is_a_port_checked_like_the_others() {
    assert_eq!(lab(HEAD).cluster.registry, None);
    assert_eq!(
        lab(&format!("{HEAD}cluster:\n  registry: {{ port: 5001 }}\n"))
            .cluster
            .registry,
        Some(RegistrySpec { port: 5001 })
    );
    fails(
        &format!("{HEAD}cluster:\n  registry: {{ port: 0 }}\n"),
        6,
        21,
        "invalid registry port 0",
    );
    fails(
        &format!("{HEAD}cluster:\n  registry: {{ port: 70000 }}\n"),
        6,
        21,
        "70000",
    );
    fails(
        &format!("{HEAD}cluster:\n  registry: {{}}\n"),
        6,
        13,
        "port",
    );
    let err = fails(
        &format!("{HEAD}cluster:\n  api: {{ port: 5001 }}\n  registry: {{ port: 5001 }}\n"),
        7,
        21,
        "registry port 5001 is already used by the API endpoint",
    );
    assert!(hint(&err).contains("pick another port"), "{err}");
    fails(
        &format!(
            "{HEAD}cluster:\n  ports: [\"0.0.0.0:5001:80@server:0\"]\n  registry: {{ port: 5001 }}\n"
        ),
        7,
        21,
        "already used by `0.0.0.0:5001:80@server:0`",
    );
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("playground.yaml");
    let err = load(&path).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("{}: cannot read the lab file", path.display())),
        "{err}"
    );

    std::fs::write(&path, format!("{HEAD}cluster:\n  servers: 9\n")).unwrap();
    let err = load(&path).unwrap_err();
    assert_eq!(
        crate::diag::Report(&err).to_string(),
        format!(
            "{}:6:12: `servers: 9` is out of range\n  hint: expected 1 to 7; more than one server runs k3s with embedded etcd (HA)",
            path.display()
        )
    );
}

#[test]
fn an_env_value_from_the_host_is_read_masked_and_its_absence_located() {
    let host = |name: &str| {
        (name == "PLAYGROUND_TEST_HOST_VALUE_1").then(|| "s3cr3t-from-the-host".to_string())
    };
    let parsed = super::parse_with_env(
        &format!(
            "{HEAD}cluster:\n  env:\n    - GREETING=${{env:PLAYGROUND_TEST_HOST_VALUE_1}}@server:0\n    - OTHER=${{env:PLAYGROUND_TEST_SURELY_UNSET_7f3a}}\n"
        ),
        &origin(),
        &host,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (set, unset) = (&parsed.cluster.env[0].value, &parsed.cluster.env[1].value);
    assert_eq!(set.value, "s3cr3t-from-the-host");
    assert!(
        set.is_secret(),
        "a value from the host is a secret, whatever its name"
    );
    let host = set.from_host.as_ref().unwrap();
    assert_eq!(host.var, "PLAYGROUND_TEST_HOST_VALUE_1");
    assert!(host.unset.is_none());
    // Masked in every log line from the moment the file is read.
    assert_eq!(
        crate::ui::redact::mask("body: GREETING=s3cr3t-from-the-host"),
        "body: GREETING=***"
    );
    // Not set here: the file parses, and the place that names it is kept for `up`.
    assert_eq!(unset.value, "");
    let at = unset.from_host.as_ref().unwrap().unset.as_ref().unwrap();
    assert_eq!((at.line, at.column), (8, 7), "{at}");
    assert!(
        at.message
            .contains("environment variable PLAYGROUND_TEST_SURELY_UNSET_7f3a, which is not set"),
        "{at}"
    );
    assert!(
        at.hint
            .as_deref()
            .unwrap()
            .contains("export PLAYGROUND_TEST_SURELY_UNSET_7f3a=")
    );
    // A reference must name a variable.
    fails(
        &format!("{HEAD}cluster:\n  env:\n    - A=${{env:not a name}}\n"),
        7,
        7,
        "is not a variable name",
    );
}

#[test]
fn the_root_source_names_one_kind_and_paths_stay_beside_the_lab() {
    let g = |tail: &str| format!("{HEAD}gitops:\n{tail}");
    // Two kinds: refused at the second one's line.
    fails(
        &g("  helm: { valueFiles: [a.yaml] }\n  directory: { recurse: true }\n"),
        7,
        14,
        "`gitops.directory` and `gitops.helm` both",
    );
    let l = lab(&g("  kustomize: { namePrefix: dev- }\n"));
    assert_eq!(
        l.gitops.source,
        RootSource::Kustomize(KustomizeSource {
            name_prefix: Some("dev-".into()),
            ..Default::default()
        })
    );
    let l = lab(&g("  directory: { include: '*.yaml' }\n"));
    assert_eq!(
        l.gitops.source,
        RootSource::Directory(DirectorySource {
            recurse: false,
            include: Some("*.yaml".into()),
            exclude: None
        })
    );
    assert_eq!(lab(HEAD).gitops.source, RootSource::Detect);
    assert_eq!(lab(HEAD).gitops.project, "default");
    fails(
        &g("  project: Bad_Name\n"),
        6,
        12,
        "invalid AppProject name",
    );
    fails(
        &g("  helm: { values: [1, 2] }\n"),
        6,
        19,
        "must be a mapping",
    );
    fails(
        &g("  helm: { valueFiles: [/etc/x.yaml] }\n"),
        6,
        24,
        "absolute path",
    );
    let a = |tail: &str| format!("{HEAD}argocd:\n{tail}");
    for bad in [
        "/etc/project.yaml",
        "../other/project.yaml",
        "a/../../b.yaml",
    ] {
        fails(
            &a(&format!("  resources: [\"{bad}\"]\n")),
            6,
            15,
            "not a path inside the lab's folder",
        );
    }
    assert_eq!(
        lab(&a("  resources: [a/../p.yaml, p.yaml, p.yaml]\n"))
            .argocd
            .resources,
        ["a/../p.yaml", "p.yaml"]
    );
}

#[test]
fn argocd_clusters_name_labs_and_contexts() {
    let l = lab(&format!(
        "{HEAD}argocd:\n  clusters:\n    - dev\n    - {{ context: prod-eu }}\n    - staging\n"
    ));
    assert_eq!(
        l.argocd.clusters,
        vec![
            ClusterRef::Lab(LabName::parse("dev").unwrap()),
            ClusterRef::Context("prod-eu".into()),
            ClusterRef::Lab(LabName::parse("staging").unwrap()),
        ]
    );
    assert_eq!(l.argocd.clusters[1].name(), "prod-eu");
    assert!(lab(HEAD).argocd.clusters.is_empty());
}

#[test]
fn argocd_clusters_refuse_bad_names_itself_twice_and_unknown_keys() {
    let e = fails(
        &format!("{HEAD}argocd:\n  clusters: [dev, Bad_Name]\n"),
        6,
        19,
        "invalid lab name `Bad_Name` in argocd.clusters",
    );
    assert!(hint(&e).contains("DNS-1123"), "{e}");
    let e = fails(
        &format!("{HEAD}argocd:\n  clusters:\n    - lab\n"),
        7,
        7,
        "lab lab names itself in argocd.clusters",
    );
    assert!(hint(&e).contains("kubernetes.default.svc"), "{e}");
    fails(
        &format!("{HEAD}argocd:\n  clusters: [dev, dev]\n"),
        6,
        19,
        "argocd.clusters names `dev` twice",
    );
    let err = parse(
        &format!("{HEAD}argocd:\n  clusters: [{{ kontext: dev }}]\n"),
        &origin(),
    )
    .expect_err("an unknown key");
    assert!(err.to_string().contains("kontext"), "{err}");
    fails(
        &format!("{HEAD}argocd:\n  clusters: [{{ context: \"\" }}]\n"),
        6,
        14,
        "empty context",
    );
}

#[test]
fn mounts_resolve_the_host_path_from_the_lab_file_and_keep_k3s_paths_free() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let file = dir.path().join("playground.yaml");
    let parse_in = |mounts: &str| {
        parse(
            &format!("{HEAD}cluster:\n  agents: 2\n  mounts: [{mounts}]\n"),
            &file,
        )
    };
    let lab = parse_in(
        r#""./data:/data:ro@agent:1", "data:/srv/x:rw", "data:/var/lib/rancher/k3s/storage""#,
    )
    .unwrap();
    let host = std::fs::canonicalize(dir.path().join("data")).unwrap();
    let m = &lab.cluster.mounts;
    assert_eq!(m.len(), 3);
    assert_eq!(m[0].value.bind(), format!("{}:/data:ro", host.display()));
    assert_eq!(m[0].filter, NodeFilter::Agents(Selection::Indices(vec![1])));
    assert_eq!(m[1].value.bind(), format!("{}:/srv/x", host.display()));
    assert_eq!(m[1].filter, NodeFilter::All);
    assert_eq!(m[2].value.node, "/var/lib/rancher/k3s/storage");

    let message = |mounts: &str| parse_in(mounts).unwrap_err().to_string();
    let e = message(r#""./missing:/data""#);
    assert!(
        e.contains("host path `./missing`") && e.contains(":7:12:"),
        "{e}"
    );
    let e = message(r#""data:data""#);
    assert!(e.contains("node path `data` is not absolute"), "{e}");
    let e = message(r#""data:/data:rx""#);
    assert!(e.contains("invalid mount mode `rx`"), "{e}");
    for own in [
        "/var/lib/rancher/k3s",
        "/etc/rancher/k3s",
        "/run/x",
        "/var",
        "/",
    ] {
        let e = message(&format!(r#""data:{own}""#));
        assert!(
            e.contains("which k3s or playground needs for itself"),
            "{own}: {e}"
        );
    }
    let e = message(r#""data:/a/../b""#);
    assert!(e.contains("contains `..`"), "{e}");
    let e = message(r#""data:/data@agent:0", "data:/data/@all""#);
    assert!(e.contains("mounted twice on the same node"), "{e}");
    // Apart by filter: fine.
    assert!(parse_in(r#""data:/data@agent:0", "data:/data@server:*""#).is_ok());
    let e = message(r#""data:/data@agent:5""#);
    assert!(e.contains("agent"), "{e}");
    let e = message(r#""data:/data@loadbalancer""#);
    assert!(e.contains("not the load balancer"), "{e}");
    let e = message(r#""data""#);
    assert!(e.contains("invalid mount `data`"), "{e}");
}

#[test]
fn registries_are_read_in_k3s_shape_with_credentials_from_the_host_and_files_from_the_lab() {
    let dir = tempfile::tempdir().unwrap();
    let ca = rcgen::generate_simple_self_signed(vec!["corp.example".to_string()]).unwrap();
    std::fs::write(dir.path().join("corp-ca.pem"), ca.cert.pem()).unwrap();
    let file = dir.path().join("playground.yaml");
    let password = r#"pa"ss\w&<rd>"#;
    let host = |name: &str| (name == "CORP_PW").then(|| password.to_string());
    let text = format!(
        "{HEAD}cluster:\n  registries:\n    mirrors:\n      docker.io:\n        endpoint: [\"https://mirror.corp.example\"]\n        rewrite: {{ \"^library/(.*)\": \"hub/$1\" }}\n    configs:\n      corp.example:5000:\n        auth: {{ username: ci, password: \"${{env:CORP_PW}}\" }}\n        tls: {{ ca_file: corp-ca.pem, insecure_skip_verify: false }}\n"
    );
    let lab = super::parse_with_env(&text, &file, &host).unwrap_or_else(|e| panic!("{e}"));
    let r = lab.cluster.registries.as_ref().unwrap();
    assert_eq!(
        r.mirrors["docker.io"].endpoints,
        ["https://mirror.corp.example"]
    );
    assert_eq!(r.mirrors["docker.io"].rewrite["^library/(.*)"], "hub/$1");
    let config = &r.configs["corp.example:5000"];
    let auth = config.auth.as_ref().unwrap();
    assert_eq!(auth.username.as_ref().unwrap().value, "ci");
    assert_eq!(auth.password.as_ref().unwrap().value, password);
    assert_eq!(
        config.tls.as_ref().unwrap().ca_file.as_deref(),
        Some(
            std::fs::canonicalize(dir.path().join("corp-ca.pem"))
                .unwrap()
                .as_path()
        )
    );
    // Masked from the moment it is read; `{:?}` of the lab names the variable, not the value.
    assert_eq!(
        crate::ui::redact::mask(&format!("x {password} y")),
        "x *** y"
    );
    assert!(!format!("{lab:?}").contains("ss\\w&<rd"), "{lab:?}");
    // The digest covers the entries as written: another value of the variable is no change,
    // another entry is.
    let other = |name: &str| (name == "CORP_PW").then(|| "another".to_string());
    let again = super::parse_with_env(&text, &file, &other).unwrap();
    assert_eq!(again.cluster.registries.unwrap().digest, r.digest);
    let changed =
        super::parse_with_env(&text.replace("username: ci", "username: cd"), &file, &host).unwrap();
    assert_ne!(changed.cluster.registries.unwrap().digest, r.digest);
    // Unset here: parsed, located for `up` to refuse.
    let unset = super::parse_with_env(&text, &file, &|_| None).unwrap();
    let at = unset
        .cluster
        .host_values()
        .find_map(|h| h.unset.clone())
        .unwrap();
    assert_eq!((at.line, at.column), (13, 41), "{at}");
    assert!(
        at.message
            .contains("`configs.corp.example:5000.auth.password`"),
        "{at}"
    );
}

#[test]
fn every_registries_mistake_is_reported_at_its_place_and_no_secret_is_echoed() {
    let text = format!(
        "{HEAD}cluster:\n  registries:\n    mirrors:\n      https://docker.io:\n        endpoint: [\"ftp://mirror\", \"https://m:50x0\"]\n        rewrite: {{ \"^(unclosed\": \"x\" }}\n    configs:\n      corp.example:\n        auth: {{ username: ci, password: literal-pa55word }}\n        tls: {{ cert_file: missing.pem }}\n"
    );
    let err = parse(&text, &origin()).unwrap_err();
    let all = err.to_string();
    for want in [
        "`mirrors` key `https://docker.io` is not a registry host",
        "write `docker.io`",
        "invalid mirror endpoint `ftp://mirror`: scheme `ftp`",
        "invalid mirror endpoint `https://m:50x0`: port `50x0` is not a number",
        "rewrite pattern `^(unclosed`",
        "`configs.corp.example.auth.password` holds its value in the lab file",
        "${env:REGISTRY_PASSWORD}",
        "`configs.corp.example.tls.cert_file` `missing.pem`",
        "has a cert_file or a key_file, not both",
    ] {
        assert!(all.contains(want), "`{want}` missing from:\n{all}");
    }
    assert!(!all.contains("literal-pa55word"), "{all}");
    let ConfigError::Several(problems) = err else {
        panic!("{all}")
    };
    assert_eq!(problems.len(), 7, "{all}");
    // Each at its own line.
    let lines: Vec<u32> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [9, 9, 9, 10, 13, 13, 14]);
    // Unknown keys too, as k3s would silently ignore them.
    fails(
        &format!(
            "{HEAD}cluster:\n  registries:\n    mirrors:\n      docker.io:\n        endpoints: [\"https://m\"]\n"
        ),
        9,
        9,
        "endpoints",
    );
}
