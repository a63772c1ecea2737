//! Validated core types. Everything here has passed validation: later stages never re-check.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub(crate) use super::repo::RepoLocation;
pub(crate) use crate::lab::LabName;

/// The k3s image `up` uses when the file names none.
pub const DEFAULT_K3S_IMAGE: &str = "rancher/k3s:v1.35.5-k3s1";
pub use crate::lab::DEFAULT_LAB_NAME;

/// A whole lab, as read from `playground.yaml` (or the built-in default).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lab {
    /// Names every Docker object, the kube context and the lab's data folder.
    pub(crate) name: LabName,
    pub(crate) cluster: ClusterSpec,
    /// The `argocd:` section (defaults when absent).
    pub(crate) argocd: ArgoCdSpec,
    /// The `gitops:` section (defaults when absent).
    pub(crate) gitops: GitOpsSpec,
    /// The `keep:` section: what survives a `down`/`up` cycle (nothing when absent).
    pub(crate) keep: KeepSpec,
    /// Where the lab was read from; `None` for the built-in default.
    pub(crate) source: Option<PathBuf>,
}

impl Lab {
    /// The folder the lab file's relative paths start from: its own folder, or the current
    /// one for the built-in default.
    pub(crate) fn dir(&self) -> &Path {
        lab_dir_of(self.source.as_deref())
    }
}

/// The folder of a lab file at `source` (`.` for a bare file name or no file).
pub(crate) fn lab_dir_of(source: Option<&Path>) -> &Path {
    match source.and_then(Path::parent) {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The `cluster:` section.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClusterSpec {
    pub(crate) image: String,
    /// 1..=MAX_SERVERS. More than one means embedded etcd (HA).
    pub(crate) servers: u32,
    /// 0..=MAX_AGENTS.
    pub(crate) agents: u32,
    pub(crate) privileged: bool,
    pub(crate) api: ApiEndpoint,
    pub(crate) ports: Vec<PortMapping>,
    pub(crate) k3s_args: Vec<Filtered<String>>,
    pub(crate) env: Vec<Filtered<EnvVar>>,
    /// `imageCache`: pull through the shared image caches (one `registry:3` per upstream,
    /// kept across `drop`), so a recreated lab downloads nothing it pulled before. Default on.
    pub(crate) image_cache: bool,
    /// `registry`: a plain registry on 127.0.0.1:PORT that the lab's nodes pull from as
    /// `localhost:PORT`, shared by labs and kept across `drop` (see `cluster::registry`).
    pub(crate) registry: Option<RegistrySpec>,
    /// `mounts`: host folders or files bound into the chosen nodes (k3d's `--volume`).
    pub(crate) mounts: Vec<Filtered<HostMount>>,
    /// `caCerts`: PEM files of extra certificate authorities every node trusts.
    pub(crate) ca_certs: Vec<CaCert>,
    /// `proxy`: the HTTP proxy the nodes' k3s and containerd use (none when absent).
    pub(crate) proxy: Option<ProxySpec>,
    /// `registries`: the user's own k3s `registries.yaml` entries, merged with the image
    /// caches' mirrors (theirs win).
    pub(crate) registries: Option<UserRegistries>,
}

impl ClusterSpec {
    /// Every value the lab file takes from this shell (`${env:NAME}`): the nodes' env, then
    /// the registry credentials. `up` refuses while one is unset; `validate` warns.
    pub(crate) fn host_values(&self) -> impl Iterator<Item = &HostValue> {
        let env = self.env.iter().filter_map(|e| e.value.from_host.as_ref());
        let registries = self
            .registries
            .iter()
            .flat_map(|r| r.configs.values())
            .filter_map(|c| c.auth.as_ref())
            .flat_map(|a| [&a.username, &a.password, &a.auth, &a.identity_token])
            .filter_map(|c| c.as_ref()?.from_host.as_ref());
        env.chain(registries)
    }
}

/// `cluster.registries`: entries of k3s's `registries.yaml`, in its own shape and key names
/// (rancher/wharfie `pkg/registries` `Registry`, which k3s reads at start), so a file that
/// works with k3s or k3d pastes in as it is. Checked when read: endpoints parse as k3s parses
/// them, rewrite patterns compile, a `configs` key is a host (k3s matches it against an
/// endpoint's host, so `https://host` would never match), credentials come from `${env:…}`,
/// TLS files exist.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct UserRegistries {
    /// Registry host (or `*`) → where to pull from instead.
    pub(crate) mirrors: BTreeMap<String, UserMirror>,
    /// Endpoint host (or `*`) → its credentials and TLS.
    pub(crate) configs: BTreeMap<String, UserRegistryConfig>,
    /// A digest of the entries as written (`${env:NAME}` references, never their values):
    /// carried by each node, so a changed entry is a node change.
    pub(crate) digest: String,
}

#[cfg(test)]
impl UserRegistries {
    /// A test lab's entries: a docker.io mirror with a rewrite, a private registry with its
    /// own mirror, a username, a password from `CORP_PASSWORD`, and a CA file.
    pub(crate) fn sample(password: &str) -> Self {
        let mut u = UserRegistries {
            digest: "d1".into(),
            ..Default::default()
        };
        u.mirrors.insert(
            "docker.io".into(),
            UserMirror {
                endpoints: vec!["https://mirror.corp.example".into()],
                rewrite: [("^library/(.*)".to_string(), "hub/$1".to_string())].into(),
            },
        );
        u.mirrors.insert(
            "corp.example:5000".into(),
            UserMirror {
                endpoints: vec!["https://corp.example:5000".into()],
                rewrite: BTreeMap::new(),
            },
        );
        let credential = |value: &str, var: Option<&str>| Credential {
            value: value.into(),
            from_host: var.map(|v| HostValue {
                var: v.into(),
                unset: None,
            }),
        };
        u.configs.insert(
            "corp.example:5000".into(),
            UserRegistryConfig {
                auth: Some(RegistryAuth {
                    username: Some(credential("ci", None)),
                    password: Some(credential(password, Some("CORP_PASSWORD"))),
                    ..Default::default()
                }),
                tls: Some(RegistryTls {
                    ca_file: Some("/home/me/corp-ca.pem".into()),
                    ..Default::default()
                }),
            },
        );
        u
    }
}

/// One `registries.mirrors` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct UserMirror {
    pub(crate) endpoints: Vec<String>,
    /// Repository pattern (RE2) → replacement.
    pub(crate) rewrite: BTreeMap<String, String>,
}

/// One `registries.configs` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct UserRegistryConfig {
    pub(crate) auth: Option<RegistryAuth>,
    pub(crate) tls: Option<RegistryTls>,
}

/// `configs.HOST.auth`. Every field but `username` is a secret and must come from `${env:…}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RegistryAuth {
    pub(crate) username: Option<Credential>,
    pub(crate) password: Option<Credential>,
    pub(crate) auth: Option<Credential>,
    pub(crate) identity_token: Option<Credential>,
}

/// A credential: its value, and the variable it came from when it was `${env:NAME}`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credential {
    pub(crate) value: String,
    pub(crate) from_host: Option<HostValue>,
}

impl std::fmt::Debug for Credential {
    // A `{:?}` of the lab (a test failure, a `-vv` dump) never shows a credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.from_host {
            Some(h) => write!(f, "${{env:{}}}", h.var),
            None => f.write_str("Credential(..)"),
        }
    }
}

/// `configs.HOST.tls`: host files, bound read-only into every server and agent at
/// [`RegistryTls::node_path`], which the merged `registries.yaml` names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RegistryTls {
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) cert_file: Option<PathBuf>,
    pub(crate) key_file: Option<PathBuf>,
    pub(crate) insecure_skip_verify: bool,
}

/// Where a node finds the TLS files of `cluster.registries`: beside `registries.yaml`, one
/// folder per `configs` entry (by its index in host order).
pub(crate) const REGISTRY_TLS_DIR: &str = "/etc/rancher/k3s/playground-registries";

impl RegistryTls {
    /// The node path of one file (`ca.pem`, `cert.pem`, `key.pem`) of the `index`th config.
    pub(crate) fn node_path(index: usize, file: &str) -> String {
        format!("{REGISTRY_TLS_DIR}/{index}/{file}")
    }

    /// The node paths of the CA, the client certificate and its key of the `index`th config,
    /// each when the lab names it: what the merged `registries.yaml` names.
    pub(crate) fn node_paths(&self, index: usize) -> [Option<String>; 3] {
        [
            (&self.ca_file, "ca.pem"),
            (&self.cert_file, "cert.pem"),
            (&self.key_file, "key.pem"),
        ]
        .map(|(f, name)| f.as_ref().map(|_| Self::node_path(index, name)))
    }

    /// The host files with their node paths, for the `index`th config: what is bound.
    pub(crate) fn files(&self, index: usize) -> Vec<(&Path, String)> {
        [&self.ca_file, &self.cert_file, &self.key_file]
            .into_iter()
            .zip(self.node_paths(index))
            .filter_map(|(f, node)| Some((f.as_deref()?, node?)))
            .collect()
    }
}

/// `cluster.proxy`: `fromEnv` (this shell's `HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`, or their
/// lowercase forms) or explicit values. Given to every k3s node as `HTTP_PROXY`, `HTTPS_PROXY`
/// and `NO_PROXY`: k3s passes its environment on to the containerd it runs (k3s
/// `pkg/agent/containerd`, `CONTAINERD_`-prefixed variables overriding), and Go's
/// `httpproxy.FromEnvironment` reads them in both.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ProxySpec {
    pub(crate) from_env: bool,
    pub(crate) http: Option<String>,
    pub(crate) https: Option<String>,
    /// The user's own entries; the lab's own networks are added when a node is planned.
    pub(crate) no_proxy: Vec<String>,
}

impl ProxySpec {
    /// `NO_PROXY` for a node on the lab network `subnet`: the user's entries, then what must
    /// never go through a proxy, as k3d documents it: loopback, the lab network (nodes, the
    /// load balancer, the image caches), the pod and service CIDRs (k3s's defaults, or the
    /// lab's `--cluster-cidr` / `--service-cidr`), and the cluster's DNS suffixes.
    pub(crate) fn no_proxy_for(&self, subnet: &str, pod_cidr: &str, service_cidr: &str) -> String {
        let mut all: Vec<String> = self.no_proxy.clone();
        for own in [
            "localhost",
            "127.0.0.1",
            subnet,
            pod_cidr,
            service_cidr,
            ".svc",
            ".cluster.local",
        ] {
            if !all.iter().any(|e| e == own) {
                all.push(own.to_string());
            }
        }
        all.join(",")
    }
}

/// One `cluster.caCerts` file, checked at parse time to hold PEM certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CaCert {
    /// The host file, absolute (a relative one is resolved against the lab file's folder).
    pub(crate) host: PathBuf,
    /// How many certificates it holds.
    pub(crate) certificates: usize,
    /// The entry as written.
    pub(crate) written: String,
}

/// Where the nodes find the certificates of `cluster.caCerts`: k3s, its kubelet and the
/// containerd it embeds are Go programs, and Go's `crypto/x509` reads the system roots from
/// the first bundle of its list (`/etc/ssl/certs/ca-certificates.crt`, which the k3s image
/// carries, k3s `package/Dockerfile`) and then *every* file in `/etc/ssl/certs` (Go
/// `src/crypto/x509/root_unix.go` `loadSystemRoots`, `root_linux.go` `certDirectories`). So one
/// read-only file there per certificate file, beside the image's bundle, is trusted for image
/// pulls and for k3s's own HTTPS, without touching the bundle.
pub(crate) const CA_CERTS_DIR: &str = "/etc/ssl/certs";

impl CaCert {
    /// The node path of the `index`th file of `cluster.caCerts`.
    pub(crate) fn node_path(index: usize) -> String {
        format!("{CA_CERTS_DIR}/playground-ca-{index}.pem")
    }
}

/// One `cluster.mounts` entry, `HOST:NODE[:ro|:rw][@FILTER]`, checked at parse time: the host
/// path exists, the node path is absolute and none of k3s's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostMount {
    /// The host path, absolute (a relative one is resolved against the lab file's folder).
    pub(crate) host: PathBuf,
    /// The absolute path inside the node.
    pub(crate) node: String,
    pub(crate) read_only: bool,
    /// The entry as written (without the filter), for messages.
    pub(crate) written: String,
}

impl HostMount {
    /// The Docker bind (`HostConfig.Binds`) for this mount: `HOST:NODE` or `HOST:NODE:ro`.
    pub(crate) fn bind(&self) -> String {
        let mut bind = format!("{}:{}", self.host.display(), self.node);
        if self.read_only {
            bind.push_str(":ro");
        }
        bind
    }
}

/// `cluster.registry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RegistrySpec {
    /// The host port on 127.0.0.1, and the registry's name for both host and nodes:
    /// `localhost:PORT`. 1..=65535.
    pub(crate) port: u16,
}

/// The Argo CD version installed when the file names none.
pub(crate) const DEFAULT_ARGOCD_VERSION: &str = "v3.5.1";
/// The namespace Argo CD is installed into when the file names none.
pub(crate) const DEFAULT_ARGOCD_NAMESPACE: &str = "argocd";
/// The host port the Argo CD UI is forwarded to when the file names none.
pub(crate) const DEFAULT_ARGOCD_UI_PORT: u16 = 8080;
/// The Git repository of the app of apps when the file names none: the lab's own directory.
pub(crate) const DEFAULT_GITOPS_REPO: &str = ".";
/// The Git revision Argo CD tracks when the file names none.
pub(crate) const DEFAULT_GITOPS_REVISION: &str = "HEAD";
/// The directory inside the repository holding the app of apps when the file names none.
pub(crate) const DEFAULT_GITOPS_PATH: &str = "apps";

/// The `argocd:` section. Only its shape is checked here; what the values mean (does the
/// version exist, is the manifest reachable) is checked when Argo CD is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArgoCdSpec {
    /// Release tag, e.g. `v3.5.1`.
    pub(crate) version: String,
    /// An install manifest (local path or `https://` URL) used instead of the release's own.
    pub(crate) manifest: Option<String>,
    pub(crate) namespace: String,
    pub(crate) ui: ArgoCdUi,
    /// The optional Argo CD components this lab runs. The others are installed with 0
    /// replicas, so none of their images is pulled and none of their memory requested.
    pub(crate) components: Vec<ArgoCdComponent>,
    /// `argocd.resources`: files or folders of objects (AppProjects, ConfigMaps, …) applied
    /// once Argo CD's CRDs are Established and before the root Application, on every `up`
    /// and `restore`. Checked at parse time to lie inside the lab file's folder; relative to
    /// it, as written.
    pub(crate) resources: Vec<String>,
    /// `argocd.clusters`: the clusters this lab's Argo CD deploys into besides its own (this
    /// lab is their hub). Never the lab itself, each name once (checked at parse time).
    pub(crate) clusters: Vec<ClusterRef>,
}

/// One `argocd.clusters` entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ClusterRef {
    /// Another lab: its server is attached to this lab's network.
    Lab(LabName),
    /// A cluster of the user's kubeconfig, by context.
    Context(String),
}

impl ClusterRef {
    /// The name it is registered under in Argo CD (the lab's, or the context's).
    pub(crate) fn name(&self) -> &str {
        match self {
            ClusterRef::Lab(l) => l.as_str(),
            ClusterRef::Context(c) => c,
        }
    }

    /// The lab it names, if it names one.
    pub(crate) fn lab(&self) -> Option<&LabName> {
        match self {
            ClusterRef::Lab(l) => Some(l),
            ClusterRef::Context(_) => None,
        }
    }
}

/// An Argo CD component a local lab does without unless it asks for it (`argocd.components`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ArgoCdComponent {
    /// `argocd-dex-server`: single sign-on. A local lab logs in as admin.
    Dex,
    /// `argocd-notifications-controller`: only when the lab configures notifications.
    Notifications,
}

impl ArgoCdComponent {
    pub(crate) const ALL: [ArgoCdComponent; 2] =
        [ArgoCdComponent::Dex, ArgoCdComponent::Notifications];

    /// The name in the lab file.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ArgoCdComponent::Dex => "dex",
            ArgoCdComponent::Notifications => "notifications",
        }
    }

    /// The Deployment that is this component in Argo CD's install manifest.
    pub(crate) fn deployment(self) -> &'static str {
        match self {
            ArgoCdComponent::Dex => "argocd-dex-server",
            ArgoCdComponent::Notifications => "argocd-notifications-controller",
        }
    }
}

/// `argocd.ui`: where the Argo CD UI is published on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArgoCdUi {
    pub(crate) port: u16,
}

impl Default for ArgoCdSpec {
    fn default() -> Self {
        ArgoCdSpec {
            version: DEFAULT_ARGOCD_VERSION.to_string(),
            manifest: None,
            namespace: DEFAULT_ARGOCD_NAMESPACE.to_string(),
            ui: ArgoCdUi {
                port: DEFAULT_ARGOCD_UI_PORT,
            },
            components: Vec::new(),
            resources: Vec::new(),
            clusters: Vec::new(),
        }
    }
}

/// The `gitops:` section: the repository Argo CD's app of apps is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GitOpsSpec {
    /// A local repository or a remote URL, classified once (see [`RepoLocation`]).
    pub(crate) repo: RepoLocation,
    pub(crate) revision: String,
    /// Directory inside the repository.
    pub(crate) path: String,
    pub(crate) credentials: Option<GitCredentials>,
    /// `gitops.project`: the root Application's AppProject (default `default`).
    pub(crate) project: String,
    /// How Argo CD renders the root's folder (`gitops.helm`, `.kustomize`, `.directory`).
    pub(crate) source: RootSource,
}

/// The AppProject of the root Application when the file names none.
pub(crate) const DEFAULT_GITOPS_PROJECT: &str = "default";

/// How Argo CD renders the root Application's folder: its `spec.source.helm`, `.kustomize` or
/// `.directory`. At most one is named in the lab file (two are refused at their line:col).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum RootSource {
    /// None named: `up` picks what Argo CD's repo-server would detect for the folder at the
    /// lab's revision (see `argocd::source`).
    #[default]
    Detect,
    Helm(HelmSource),
    Kustomize(KustomizeSource),
    Directory(DirectorySource),
}

impl RootSource {}

/// `gitops.helm`: Argo CD's `ApplicationSourceHelm`, the fields a lab uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct HelmSource {
    /// Value files, relative to the chart's folder (as Argo CD reads them).
    pub(crate) value_files: Vec<String>,
    /// Inline values (Argo CD's `valuesObject`), which Argo CD ranks above the value files.
    pub(crate) values: Option<serde_json::Value>,
    pub(crate) release_name: Option<String>,
}

/// `gitops.kustomize`: Argo CD's `ApplicationSourceKustomize`, the fields a lab uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct KustomizeSource {
    pub(crate) name_prefix: Option<String>,
    pub(crate) name_suffix: Option<String>,
    pub(crate) namespace: Option<String>,
    /// `images` overrides, as kustomize writes them (`name=newName:tag`).
    pub(crate) images: Vec<String>,
    pub(crate) components: Vec<String>,
}

/// `gitops.directory`: Argo CD's `ApplicationSourceDirectory`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct DirectorySource {
    pub(crate) recurse: bool,
    /// Glob of the files to read, e.g. `{*.yaml,*.yml}`.
    pub(crate) include: Option<String>,
    pub(crate) exclude: Option<String>,
}

impl Default for GitOpsSpec {
    fn default() -> Self {
        GitOpsSpec {
            repo: RepoLocation::Local {
                written: DEFAULT_GITOPS_REPO.to_string(),
                dir: PathBuf::from("."),
            },
            revision: DEFAULT_GITOPS_REVISION.to_string(),
            path: DEFAULT_GITOPS_PATH.to_string(),
            credentials: None,
            project: DEFAULT_GITOPS_PROJECT.to_string(),
            source: RootSource::Detect,
        }
    }
}

/// `gitops.credentials`: where the secrets for a private repository come from. The file only
/// ever names environment variables or a key file, never the secret itself, so it can be
/// committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GitCredentials {
    /// `{ usernameEnv, passwordEnv }`: the names of environment variables holding them.
    Env {
        username_env: String,
        password_env: String,
    },
    /// `{ sshKeyFile }`: a private key file, kept as written.
    SshKeyFile(PathBuf),
}

/// The `keep:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeepSpec {
    pub(crate) secrets: Vec<KeptSecret>,
}

/// One `keep.secrets` entry: secrets saved before `down` and restored after `up`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeptSecret {
    pub(crate) namespace: String,
    pub(crate) select: SecretSelect,
}

/// How a kept secret is picked within its namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretSelect {
    /// `name: my-api-token`
    Name(String),
    /// `selector: key=value` — a label selector, kept as written.
    Selector(String),
}

pub(crate) const MAX_SERVERS: u32 = 7;
pub(crate) const MAX_AGENTS: u32 = 32;

/// Where the Kubernetes API is published on the host.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiEndpoint {
    /// The host address to bind (127.0.0.1 unless the file says otherwise).
    pub(crate) host: IpAddr,
    /// `None`: pick a free port at `up` time.
    pub(crate) port: Option<u16>,
}

/// `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO]@FILTER`, k3d's syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortMapping {
    pub(crate) host_ip: IpAddr,
    pub(crate) host_port: u16,
    pub(crate) container_port: u16,
    pub(crate) protocol: Protocol,
    pub(crate) target: NodeFilter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A value that applies to the nodes its filter selects (k3d's `@server:0`, `@agent:*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filtered<T> {
    pub(crate) value: T,
    pub(crate) filter: NodeFilter,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvVar {
    pub(crate) key: String,
    pub(crate) value: String,
    /// `KEY=${env:NAME}`: the value is this shell's `NAME`, read with the lab file.
    pub(crate) from_host: Option<HostValue>,
}

/// An env value the lab file names instead of holding (`${env:NAME}`): the file is in Git, the
/// value is not. It is a secret wherever it goes: masked in every log (registered when the lab
/// file is read), in diffs and in `export logs` (the nodes carry its key in a label), and never
/// written to our records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostValue {
    /// The host environment variable.
    pub(crate) var: String,
    /// Where the lab file names it, when it is not set in this shell: `up` and `restore`
    /// refuse (they would make nodes without it), `validate` warns.
    pub(crate) unset: Option<crate::diag::Located>,
}

impl EnvVar {
    /// Whether the value is a secret: taken from the host, or named like one.
    pub(crate) fn is_secret(&self) -> bool {
        self.from_host.is_some() || crate::ui::redact::is_secret_name(&self.key)
    }
}

/// Which nodes a setting applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NodeFilter {
    /// `@loadbalancer`: the load balancer, or server-0 when there is only one server.
    LoadBalancer,
    /// `@all`
    All,
    /// `@server:…` / `@servers:…`
    Servers(Selection),
    /// `@agent:…` / `@agents:…`
    Agents(Selection),
}

/// The index part of a node filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    /// `*` or nothing.
    All,
    /// `0,2,3`
    Indices(Vec<u32>),
    /// `1-3` (inclusive); open ends allowed as in k3d (`-2`, `1-`).
    Range(Option<u32>, Option<u32>),
}

/// A node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Server,
    Agent,
    LoadBalancer,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Agent => "agent",
            Role::LoadBalancer => "loadbalancer",
        }
    }
}

impl Selection {
    /// Whether node `index` is selected.
    pub(crate) fn contains(&self, index: u32) -> bool {
        match self {
            Selection::All => true,
            Selection::Indices(v) => v.contains(&index),
            Selection::Range(lo, hi) => {
                lo.is_none_or(|lo| index >= lo) && hi.is_none_or(|hi| index <= hi)
            }
        }
    }
}

impl NodeFilter {
    /// Whether the node with this role and index is selected. `servers` is the server count:
    /// with one server there is no load balancer, and `@loadbalancer` means server-0.
    pub(crate) fn matches(&self, role: Role, index: u32, servers: u32) -> bool {
        match self {
            NodeFilter::All => matches!(role, Role::Server | Role::Agent),
            NodeFilter::Servers(s) => role == Role::Server && s.contains(index),
            NodeFilter::Agents(s) => role == Role::Agent && s.contains(index),
            NodeFilter::LoadBalancer => {
                if servers > 1 {
                    role == Role::LoadBalancer
                } else {
                    role == Role::Server && index == 0
                }
            }
        }
    }
}
