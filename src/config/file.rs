//! The raw schema of `playground.yaml`, and its validation into a [`Lab`].
//!
//! The raw structs mirror the file one to one (`deny_unknown_fields`, camelCase keys) and
//! only check YAML types; serde-saphyr reports type errors, unknown keys and missing keys with
//! their line and column. Every value that needs a semantic check afterwards (names, counts,
//! ports, filters, …) is wrapped in [`Spanned`], which serde-saphyr fills with the location of
//! the YAML node it came from, so a semantic error points at the offending value, not at the
//! document. [`validate`] then turns the raw file into the validated [`Lab`], filling defaults.
//!
//! The same types derive the file's JSON Schema ([`json_schema`], `playground schema`, committed
//! as `schema/playground.schema.json` for editors): `Spanned<T>` shows as `T`, and
//! `deny_unknown_fields` becomes `additionalProperties: false`. The schema checks shapes and
//! types; [`validate`] stays the authority on meaning (filters, ports, exclusive keys).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::error::{ConfigError, Problem, gather};
use super::filter::{check_filter, parse_filter, selected};
use super::model::*;
use super::ports::{DEFAULT_HOST_IP, parse_port};
use crate::diag::Located;
use crate::lab::{LabName, NAME_HINT};

/// The only `apiVersion` this build understands.
pub const API_VERSION: &str = "playground.dev/v1alpha1";
/// The only `kind`.
pub const KIND: &str = "Playground";

/// A playground lab: k3s nodes in Docker, Argo CD, and an app of apps from Git.
///
/// The doc comments of these raw types are the descriptions in the JSON Schema that
/// `playground schema` prints (schemars reads them): they speak to the person editing the file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "playground.yaml")]
pub(crate) struct RawFile {
    /// The file format: `playground.dev/v1alpha1`.
    #[schemars(with = "String", extend("const" = API_VERSION))]
    pub(crate) api_version: Spanned<String>,
    /// Always `Playground`.
    #[schemars(with = "String", extend("const" = KIND))]
    pub(crate) kind: Spanned<String>,
    pub(crate) metadata: RawMetadata,
    // `Option` (rather than `#[serde(default)]` alone) also accepts an empty `cluster:` line.
    #[serde(default)]
    pub(crate) cluster: Option<RawCluster>,
    #[serde(default)]
    pub(crate) argocd: Option<RawArgoCd>,
    #[serde(default)]
    pub(crate) gitops: Option<RawGitOps>,
    #[serde(default)]
    pub(crate) keep: Option<RawKeep>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Metadata")]
pub(crate) struct RawMetadata {
    /// The lab's name: it prefixes every Docker object and the kube context
    /// (`playground-<name>`). Lowercase letters, digits and `-`, starting with a letter, at most 32.
    #[schemars(
        with = "String",
        regex(pattern = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"),
        length(min = 1, max = 32)
    )]
    pub(crate) name: Spanned<String>,
}

/// The k3s cluster: its nodes, image, API address, ports and flags.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Cluster")]
pub(crate) struct RawCluster {
    /// The k3s node image (default: the k3s release this playground was tested with).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) image: Option<Spanned<String>>,
    /// k3s servers, 1 to 7 (default 1); more than one runs embedded etcd (HA).
    #[serde(default)]
    #[schemars(with = "Option<u32>", range(min = 1, max = 7))]
    pub(crate) servers: Option<Spanned<u32>>,
    /// k3s agents, 0 to 32 (default 0).
    #[serde(default)]
    #[schemars(with = "Option<u32>", range(max = 32))]
    pub(crate) agents: Option<Spanned<u32>>,
    /// Run the nodes privileged, as k3d does (default true).
    #[serde(default)]
    pub(crate) privileged: Option<bool>,
    /// Where the Kubernetes API is published on the host.
    #[serde(default)]
    pub(crate) api: Option<RawApi>,
    /// Host ports: `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO][@FILTER]`, e.g.
    /// `8081:80@loadbalancer` (the host IP defaults to 127.0.0.1).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(crate) ports: Vec<Spanned<String>>,
    /// Extra k3s arguments: `ARG[@FILTER]`, e.g. `--disable=traefik@server:*`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(crate) k3s_args: Vec<Spanned<String>>,
    /// The nodes' environment: `KEY=VALUE[@FILTER]`; `KEY=${env:NAME}` takes the value from the
    /// shell's `NAME` (a secret: masked everywhere, never in the lab file or the records).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(crate) env: Vec<Spanned<String>>,
    /// Pull through the shared image cache (default true).
    #[serde(default)]
    pub(crate) image_cache: Option<bool>,
    /// A lab registry on 127.0.0.1:PORT that the host pushes to and pods pull from.
    #[serde(default)]
    #[schemars(with = "Option<RawRegistry>")]
    pub(crate) registry: Option<Spanned<RawRegistry>>,
    /// Host folders or files bound into the nodes: `HOST:NODE[:ro|:rw][@FILTER]`, e.g.
    /// `./data:/data:ro@agent:*`. HOST must exist (relative to this file's folder); NODE is
    /// absolute and none of k3s's own paths; no filter means every server and agent.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(crate) mounts: Vec<Spanned<String>>,
    /// PEM files of certificate authorities the nodes trust for image pulls and k3s's own
    /// HTTPS (a TLS-inspecting proxy's CA, a private registry's), relative to this file's
    /// folder; each must hold at least one `CERTIFICATE` block.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(crate) ca_certs: Vec<Spanned<String>>,
    /// The HTTP proxy of k3s and containerd in the nodes: `fromEnv` (this shell's
    /// `HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`) or `{ httpProxy, httpsProxy, noProxy }`.
    /// `NO_PROXY` always gets the lab network, the pod and service CIDRs, `.svc` and
    /// `.cluster.local`.
    #[serde(default)]
    #[schemars(with = "Option<RawProxy>")]
    pub(crate) proxy: Option<Spanned<RawProxy>>,
    /// Your own k3s `registries.yaml` entries, in k3s's shape and key names (`mirrors`,
    /// `configs` with `auth` and `tls`), merged with the image caches' mirrors: on the same
    /// registry yours win, and `up` says so. Credentials are `${env:NAME}`, never written
    /// here; TLS files are relative to this file's folder.
    #[serde(default)]
    pub(crate) registries: Option<RawRegistries>,
}

/// `cluster.registries`: k3s's `registries.yaml`, key for key.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Registries")]
pub(crate) struct RawRegistries {
    /// Registry host (or `"*"`) → the endpoints to pull from instead, tried in order before
    /// the registry itself.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawMirror>")]
    pub(crate) mirrors: BTreeMap<String, Spanned<RawMirror>>,
    /// Endpoint host (`host[:port]`, no scheme; or `"*"`) → its credentials and TLS.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawRegistryConfig>")]
    pub(crate) configs: BTreeMap<String, Spanned<RawRegistryConfig>>,
}

/// One `registries.mirrors` entry.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RegistryMirror")]
pub(crate) struct RawMirror {
    /// Endpoint URLs, e.g. `https://mirror.corp.example` (no scheme means https).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(crate) endpoint: Vec<Spanned<String>>,
    /// Repository rewrites: a regular expression → its replacement (`$1`, ...).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub(crate) rewrite: BTreeMap<String, Spanned<String>>,
}

/// One `registries.configs` entry.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RegistryConfig")]
pub(crate) struct RawRegistryConfig {
    #[serde(default)]
    pub(crate) auth: Option<RawRegistryAuth>,
    #[serde(default)]
    pub(crate) tls: Option<RawRegistryTls>,
}

/// `configs.HOST.auth`: `username` and `password`, or `auth`, or `identity_token`. Secrets are
/// written `${env:NAME}`: the lab file is in Git, the value is not.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RegistryAuth")]
pub(crate) struct RawRegistryAuth {
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) username: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) password: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) auth: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) identity_token: Option<Spanned<String>>,
}

/// `configs.HOST.tls`: PEM files on this machine (relative to this file's folder).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RegistryTls")]
pub(crate) struct RawRegistryTls {
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) ca_file: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) cert_file: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) key_file: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) insecure_skip_verify: Option<bool>,
}

/// `cluster.proxy`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Proxy")]
pub(crate) enum RawProxy {
    /// `fromEnv`: this shell's proxy variables.
    Mode(String),
    Values(RawProxyValues),
}

/// `cluster.proxy` given explicitly.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ProxyValues")]
pub(crate) struct RawProxyValues {
    #[serde(default)]
    pub(crate) http_proxy: Option<String>,
    #[serde(default)]
    pub(crate) https_proxy: Option<String>,
    /// Comma-separated, as the variable.
    #[serde(default)]
    pub(crate) no_proxy: Option<String>,
}

/// `cluster.registry`. Its only key, `port`, is required: the port is the registry's name
/// (`localhost:PORT`), so there is no sensible default to pick behind the user's back.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(
    rename = "Registry",
    description = "The lab registry; `port` is required."
)]
pub(crate) struct RawRegistry {
    /// The registry's port on 127.0.0.1; images are named `localhost:PORT/NAME`.
    #[schemars(with = "u16", range(min = 1))]
    pub(crate) port: Spanned<u16>,
}

/// Where the Kubernetes API is published on the host.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Api")]
pub(crate) struct RawApi {
    /// The host IP (default 127.0.0.1).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) host: Option<Spanned<String>>,
    /// The host port (default: a free one, picked at `up`).
    #[serde(default)]
    #[schemars(with = "Option<u16>")]
    pub(crate) port: Option<Spanned<u16>>,
}

/// Argo CD, installed into the lab.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ArgoCd")]
pub(crate) struct RawArgoCd {
    /// The Argo CD release (default v3.5.1; pinned: v3.5.1, v3.4.7, v3.3.14, each checked against its known SHA-256). Changed on an existing lab, `up` upgrades Argo CD in place.
    #[serde(default)]
    pub(crate) version: Option<String>,
    /// Install from this manifest (URL or local file) instead of the release's install.yaml.
    #[serde(default)]
    pub(crate) manifest: Option<String>,
    /// The namespace Argo CD runs in (default argocd).
    #[serde(default)]
    pub(crate) namespace: Option<String>,
    #[serde(default)]
    pub(crate) ui: Option<RawUi>,
    /// Optional components to keep: `dex`, `notifications`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(crate) components: Vec<Spanned<String>>,
    /// Files or folders (relative to this file, inside its repository) of objects to apply
    /// before the root Application: AppProjects, ConfigMaps, … Never Secrets: use
    /// `keep.secrets` or `gitops.credentials`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(crate) resources: Vec<Spanned<String>>,
    /// Other clusters this lab's Argo CD deploys into (this lab is then their hub): the name
    /// of another lab, or `{ context: NAME }` for a cluster of your kubeconfig. Each is
    /// registered as `argocd cluster add` does, named after the lab (or the context).
    #[serde(default)]
    #[schemars(with = "Vec<ClusterEntrySchema>")]
    pub(crate) clusters: Vec<Spanned<RawClusterEntry>>,
}

/// One `argocd.clusters` entry, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawClusterEntry {
    Lab(String),
    Context(String),
}

impl<'de> Deserialize<'de> for RawClusterEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RawClusterEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a lab name, or `{ context: NAME }` for a cluster of your kubeconfig")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawClusterEntry::Lab(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut context = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "context" => context = Some(map.next_value::<String>()?),
                        other => {
                            return Err(serde::de::Error::unknown_field(other, &["context"]));
                        }
                    }
                }
                context
                    .map(RawClusterEntry::Context)
                    .ok_or_else(|| serde::de::Error::missing_field("context"))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// One `argocd.clusters` entry: a lab's name, or `{ context: NAME }`.
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "ArgoCdCluster")]
#[allow(dead_code)]
pub(crate) enum ClusterEntrySchema {
    /// Another lab, by its name: its server joins this lab's network so Argo CD's pods reach
    /// it by a name in its certificate.
    Lab(String),
    /// A cluster of your kubeconfig.
    Context(ClusterContextSchema),
}

/// `{ context: NAME }`: a cluster of your kubeconfig, registered with its own server address.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ArgoCdClusterContext")]
#[allow(dead_code)]
pub(crate) struct ClusterContextSchema {
    /// The kubeconfig context.
    pub(crate) context: String,
}

/// The Argo CD UI on the host.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ArgoCdUi")]
pub(crate) struct RawUi {
    /// The UI's port on 127.0.0.1 (default 8080).
    #[serde(default)]
    #[schemars(with = "Option<u16>", range(min = 1))]
    pub(crate) port: Option<Spanned<u16>>,
}

/// The Git repository Argo CD syncs the app of apps from.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "GitOps")]
pub(crate) struct RawGitOps {
    /// A local path (default `.`, the lab file's folder) or an https or ssh URL.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) repo: Option<Spanned<String>>,
    /// The commit, branch or tag (default HEAD).
    #[serde(default)]
    pub(crate) revision: Option<String>,
    /// The folder of Applications in the repository (default apps).
    #[serde(default)]
    pub(crate) path: Option<String>,
    /// How Argo CD and `restore` authenticate to a private repository.
    #[serde(default)]
    #[schemars(with = "Option<RawCredentials>")]
    pub(crate) credentials: Option<Spanned<RawCredentials>>,
    /// The root Application's AppProject (default `default`); define it in `argocd.resources`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) project: Option<Spanned<String>>,
    /// The root folder is a Helm chart: its value files and values. At most one of `helm`,
    /// `kustomize`, `directory`; with none, `up` detects the folder's kind as Argo CD does.
    #[serde(default)]
    #[schemars(with = "Option<RawHelm>")]
    pub(crate) helm: Option<Spanned<RawHelm>>,
    /// The root folder is a kustomization.
    #[serde(default)]
    #[schemars(with = "Option<RawKustomize>")]
    pub(crate) kustomize: Option<Spanned<RawKustomize>>,
    /// The root folder is plain YAML (or JSON) manifests.
    #[serde(default)]
    #[schemars(with = "Option<RawDirectory>")]
    pub(crate) directory: Option<Spanned<RawDirectory>>,
}

/// `gitops.helm`: the root Application's `spec.source.helm`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Helm")]
pub(crate) struct RawHelm {
    /// Value files, relative to the chart's folder, e.g. `[local.yaml]`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(crate) value_files: Vec<Spanned<String>>,
    /// Inline values, above the value files (Argo CD's `valuesObject`).
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub(crate) values: Option<Spanned<serde_json::Value>>,
    /// The Helm release name (default: the Application's name).
    #[serde(default)]
    pub(crate) release_name: Option<String>,
}

/// `gitops.kustomize`: the root Application's `spec.source.kustomize`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Kustomize")]
pub(crate) struct RawKustomize {
    /// A prefix for every resource's name.
    #[serde(default)]
    pub(crate) name_prefix: Option<String>,
    /// A suffix for every resource's name.
    #[serde(default)]
    pub(crate) name_suffix: Option<String>,
    /// The namespace for every namespaced resource.
    #[serde(default)]
    pub(crate) namespace: Option<String>,
    /// Image overrides, e.g. `nginx=nginx:1.27`.
    #[serde(default)]
    pub(crate) images: Vec<String>,
    /// Kustomize components to add, relative to the folder.
    #[serde(default)]
    pub(crate) components: Vec<String>,
}

/// `gitops.directory`: the root Application's `spec.source.directory`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Directory")]
pub(crate) struct RawDirectory {
    /// Read subfolders too (default false, as in Argo CD).
    #[serde(default)]
    pub(crate) recurse: Option<bool>,
    /// A glob of the files to read, e.g. `*.yaml`.
    #[serde(default)]
    pub(crate) include: Option<String>,
    /// A glob of the files to skip.
    #[serde(default)]
    pub(crate) exclude: Option<String>,
}

/// Either `usernameEnv` + `passwordEnv` or `sshKeyFile`; [`validate`] checks which.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(
    rename = "Credentials",
    description = "Either `usernameEnv` and `passwordEnv`, or `sshKeyFile`."
)]
pub(crate) struct RawCredentials {
    /// The environment variable holding the Git user name.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) username_env: Option<Spanned<String>>,
    /// The environment variable holding the password or token (never the secret itself).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) password_env: Option<Spanned<String>>,
    /// A private SSH key file, for an ssh repository.
    #[serde(default)]
    pub(crate) ssh_key_file: Option<String>,
}

/// What outlives `drop`, so that `restore` brings it back.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Keep")]
pub(crate) struct RawKeep {
    /// Secrets exported before `drop` and applied again before Argo CD syncs at `restore`.
    #[serde(default)]
    #[schemars(with = "Vec<RawSecret>")]
    pub(crate) secrets: Vec<Spanned<RawSecret>>,
}

/// `namespace` plus exactly one of `name` / `selector`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(
    rename = "KeptSecret",
    description = "A Secret to keep: `namespace` and exactly one of `name` or `selector`."
)]
pub(crate) struct RawSecret {
    /// The Secret's namespace.
    pub(crate) namespace: String,
    /// The Secret's name (or give `selector`).
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// A label selector, e.g. `app=x` (or give `name`).
    #[serde(default)]
    pub(crate) selector: Option<String>,
}

/// The allowed keys of each mapping, for "unknown key" messages: serde-saphyr reports the
/// allowed list, and its first key tells which section the unknown key was found in.
pub(crate) const SECTIONS: &[(&str, &str)] = &[
    ("apiVersion", "at the top level"),
    ("name", "in `metadata`"),
    ("image", "in `cluster`"),
    ("host", "in `cluster.api`"),
    ("version", "in `argocd`"),
    // `argocd.ui` and `cluster.registry` both hold only `port`.
    ("port", "in `argocd.ui` or `cluster.registry`"),
    ("repo", "in `gitops`"),
    ("usernameEnv", "in `gitops.credentials`"),
    ("valueFiles", "in `gitops.helm`"),
    ("namePrefix", "in `gitops.kustomize`"),
    ("recurse", "in `gitops.directory`"),
    ("secrets", "in `keep`"),
    ("namespace", "in a `keep.secrets` entry"),
];

/// Where editors find the committed schema (`# yaml-language-server: $schema=…`, the first line
/// of the sample lab file). Placeholder: the project's public repository is not settled yet.
pub const SCHEMA_URL: &str = "https://raw.githubusercontent.com/playground-dev/playground/main/schema/playground.schema.json";

/// The JSON Schema of `playground.yaml` (draft 2020-12), pretty-printed with a final newline:
/// byte for byte what `schema/playground.schema.json` holds.
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(RawFile);
    schema.insert("$id".into(), SCHEMA_URL.into());
    // serde_json's map keeps keys sorted (no `preserve_order` in this tree), so the output is
    // stable whatever order schemars builds it in.
    let value = serde_json::to_value(&schema).expect("a schema is plain JSON");
    serde_json::to_string_pretty(&value).expect("a schema is plain JSON") + "\n"
}

/// Attaches a location in `origin` to problems found in a value.
struct Here<'a> {
    origin: &'a Path,
    /// The host environment, for `${env:NAME}` values.
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Here<'_> {
    fn locate(&self, location: Location, problem: Problem) -> Located {
        let (line, column) = line_col(location);
        Located {
            path: self.origin.to_path_buf(),
            line,
            column,
            message: problem.message,
            hint: problem.hint,
        }
    }

    fn at(&self, location: Location, problem: Problem) -> ConfigError {
        ConfigError::Invalid(self.locate(location, problem))
    }

    fn of<T>(&self, spanned: &Spanned<T>, problem: Problem) -> ConfigError {
        self.at(spanned.referenced, problem)
    }
}

/// 1-based line and column. serde-saphyr uses line 0 for "unknown", which only happens for
/// values buffered through `flatten`/`untagged` (not used here); 1:1 is a safe fallback.
pub(crate) fn line_col(location: Location) -> (u32, u32) {
    (
        location.line().max(1) as u32,
        location.column().max(1) as u32,
    )
}

/// Checks the raw file and fills defaults. Every problem found is returned, in file order
/// ([`gather`]): each section is checked whatever the others hold, and each entry of a list
/// whatever the other entries hold.
pub(crate) fn validate(
    raw: RawFile,
    origin: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Lab, ConfigError> {
    let here = Here { origin, env };
    let mut problems = Vec::new();

    if raw.api_version.value != API_VERSION {
        problems.push(
            here.of(
                &raw.api_version,
                Problem::new(format!(
                    "unsupported apiVersion `{}`",
                    raw.api_version.value
                ))
                .hint(format!(
                    "this version of playground reads `apiVersion: {API_VERSION}`"
                )),
            ),
        );
    }
    if raw.kind.value != KIND {
        problems.push(
            here.of(
                &raw.kind,
                Problem::new(format!("unsupported kind `{}`", raw.kind.value))
                    .hint(format!("expected `kind: {KIND}`")),
            ),
        );
    }
    let mut keep_problem = |e: ConfigError| problems.push(e);
    let name = LabName::parse(&raw.metadata.name.value)
        .map_err(|e| {
            here.of(
                &raw.metadata.name,
                Problem::new(format!("invalid lab name `{}`", e.0)).hint(NAME_HINT),
            )
        })
        .map_err(&mut keep_problem)
        .ok();
    let cluster = cluster(raw.cluster.unwrap_or_default(), &here)
        .map_err(&mut keep_problem)
        .ok();
    let argocd = argocd(raw.argocd.unwrap_or_default(), name.as_ref(), &here)
        .map_err(&mut keep_problem)
        .ok();
    let gitops = gitops(raw.gitops.unwrap_or_default(), &here)
        .map_err(&mut keep_problem)
        .ok();
    let keep = keep(raw.keep.unwrap_or_default(), &here)
        .map_err(&mut keep_problem)
        .ok();
    gather(problems)?;
    let (Some(name), Some(cluster), Some(argocd), Some(gitops), Some(keep)) =
        (name, cluster, argocd, gitops, keep)
    else {
        unreachable!("a section that failed left its problem");
    };
    Ok(Lab {
        name,
        cluster,
        argocd,
        gitops,
        keep,
        source: Some(origin.to_path_buf()),
    })
}

/// The `cluster` section, every problem of it gathered: each key, and each entry of `ports`,
/// `k3sArgs` and `env`, is checked whatever the others hold.
fn cluster(raw: RawCluster, here: &Here) -> Result<ClusterSpec, ConfigError> {
    let mut problems = Vec::new();
    let image = image(raw.image, here, &mut problems);
    // A count out of range is reported; the entries are then checked against the largest, so
    // no filter is blamed for what the count got wrong.
    let servers = count(raw.servers, 1, 1, MAX_SERVERS, "servers", here).unwrap_or_else(|e| {
        problems.push(e);
        MAX_SERVERS
    });
    let agents = count(raw.agents, 0, 0, MAX_AGENTS, "agents", here).unwrap_or_else(|e| {
        problems.push(e);
        MAX_AGENTS
    });

    let api = api(raw.api.unwrap_or_default(), here, &mut problems);
    let (ports, bound) = ports(&raw.ports, &api, (servers, agents), here, &mut problems);
    let registry = registry(raw.registry.as_ref(), &bound, here, &mut problems);
    let k3s_args = k3s_args(&raw.k3s_args, (servers, agents), here, &mut problems);
    let env = env(&raw.env, (servers, agents), here, &mut problems);
    // The sections that stand alone: each problem is reported with the others.
    let mounts =
        noted(mounts(&raw.mounts, servers, agents, here), &mut problems).unwrap_or_default();
    let ca_certs = noted(
        raw.ca_certs
            .iter()
            .map(|entry| {
                parse_ca_cert(&entry.value, lab_dir_of(Some(here.origin)))
                    .map_err(|p| here.of(entry, p))
            })
            .collect::<Result<Vec<_>, _>>(),
        &mut problems,
    )
    .unwrap_or_default();
    let proxy = match &raw.proxy {
        Some(p) => noted(proxy(p, here), &mut problems),
        None => None,
    };
    let registries = match raw.registries {
        Some(r) => noted(registries(r, here), &mut problems),
        None => None,
    };
    gather(problems)?;
    Ok(ClusterSpec {
        image,
        servers,
        agents,
        privileged: raw.privileged.unwrap_or(true),
        api,
        ports,
        k3s_args,
        env,
        image_cache: raw.image_cache.unwrap_or(true),
        registry,
        mounts,
        ca_certs,
        proxy,
        registries,
    })
}

/// The value, or `None` with its problems kept with the others.
fn noted<T>(result: Result<T, ConfigError>, problems: &mut Vec<ConfigError>) -> Option<T> {
    result.map_err(|e| problems.push(e)).ok()
}

/// `cluster.image`: any reference without spaces (the engine judges the rest at pull).
fn image(raw: Option<Spanned<String>>, here: &Here, problems: &mut Vec<ConfigError>) -> String {
    match raw {
        Some(image)
            if image.value.trim().is_empty() || image.value.chars().any(char::is_whitespace) =>
        {
            problems.push(here.of(
                &image,
                Problem::new(format!("invalid image `{}`", image.value)).hint(format!(
                    "expected an image reference without spaces, e.g. `{DEFAULT_K3S_IMAGE}`"
                )),
            ));
            String::new()
        }
        Some(image) => image.value,
        None => DEFAULT_K3S_IMAGE.to_string(),
    }
}

/// `cluster.api`: an IP address (host names are not resolved) and a port, or none (picked).
fn api(raw_api: RawApi, here: &Here, problems: &mut Vec<ConfigError>) -> ApiEndpoint {
    let host = match raw_api.host {
        Some(host) => host.value.parse::<IpAddr>().unwrap_or_else(|_| {
            problems.push(here.of(
                &host,
                Problem::new(format!("invalid API host `{}`: expected an IP address", host.value))
                    .hint("e.g. 127.0.0.1 (only this machine) or 0.0.0.0 (every interface); host names are not resolved"),
            ));
            DEFAULT_HOST_IP
        }),
        None => DEFAULT_HOST_IP,
    };
    let port = match raw_api.port {
        Some(port) if port.value == 0 => {
            problems.push(
                here.of(
                    &port,
                    Problem::new("invalid API port 0: expected 1 to 65535")
                        .hint("leave `port` out to pick a free port when the lab starts"),
                ),
            );
            None
        }
        Some(port) => Some(port.value),
        None => None,
    };
    ApiEndpoint { host, port }
}

/// A host address and port already bound, with who binds it (for messages).
type Bound = (IpAddr, u16, Protocol, String);

/// `cluster.ports`: each mapping parsed, its filter checked, one node per host port, and no
/// host address and port bound twice (the API's own port counts). Returns what is bound, for
/// the lab registry's port.
fn ports(
    raw: &[Spanned<String>],
    api: &ApiEndpoint,
    (servers, agents): (u32, u32),
    here: &Here,
    problems: &mut Vec<ConfigError>,
) -> (Vec<PortMapping>, Vec<Bound>) {
    let mut ports = Vec::with_capacity(raw.len());
    // (host IP, host port, protocol) already bound, and by which entry; the API port first.
    let mut bound: Vec<(IpAddr, u16, Protocol, String)> = Vec::new();
    if let Some(port) = api.port {
        bound.push((
            api.host,
            port,
            Protocol::Tcp,
            "the API endpoint (`api.port`)".to_string(),
        ));
    }
    for entry in raw {
        let one = || -> Result<_, ConfigError> {
            let mapping = parse_port(&entry.value).map_err(|p| here.of(entry, p))?;
            check_filter(&mapping.target, servers, agents).map_err(|p| here.of(entry, p))?;
            let nodes = selected(&mapping.target, servers, agents);
            if nodes != 1 {
                return Err(here.of(
                    entry,
                    Problem::new(format!(
                        "port `{}` targets {nodes} nodes, but a host port can be published on only one",
                        entry.value
                    ))
                    .hint("use `@loadbalancer` to reach every server through one port, or name one node, e.g. `@agent:0`"),
                ));
            }
            let clash = bound.iter().find(|(ip, port, proto, _)| {
                *port == mapping.host_port
                    && *proto == mapping.protocol
                    && (*ip == mapping.host_ip
                        || ip.is_unspecified()
                        || mapping.host_ip.is_unspecified())
            });
            if let Some((_, _, _, owner)) = clash {
                return Err(here.of(
                    entry,
                    Problem::new(format!(
                        "host port {}/{} in `{}` is already used by {owner}",
                        mapping.host_port,
                        mapping.protocol.as_str(),
                        entry.value
                    ))
                    .hint("each host address and port can be published only once"),
                ));
            }
            Ok(mapping)
        };
        match one() {
            Ok(mapping) => {
                bound.push((
                    mapping.host_ip,
                    mapping.host_port,
                    mapping.protocol,
                    format!("`{}`", entry.value),
                ));
                ports.push(mapping);
            }
            Err(e) => problems.push(e),
        }
    }
    (ports, bound)
}

/// `cluster.registry`: a port that is not 0 and not bound by anything else.
fn registry(
    raw: Option<&Spanned<RawRegistry>>,
    bound: &[Bound],
    here: &Here,
    problems: &mut Vec<ConfigError>,
) -> Option<RegistrySpec> {
    match raw {
        None => None,
        Some(r) => {
            let port = &r.value.port;
            if port.value == 0 {
                problems.push(here.of(
                    port,
                    Problem::new("invalid registry port 0: expected 1 to 65535")
                        .hint("the registry is pushed to as localhost:PORT, e.g. `registry: { port: 5001 }`"),
                ));
            }
            // The registry is published on 127.0.0.1 (see `cluster::registry`).
            let ip = IpAddr::from([127, 0, 0, 1]);
            let clash = bound.iter().find(|(bip, bport, proto, _)| {
                *bport == port.value
                    && *proto == Protocol::Tcp
                    && (*bip == ip || bip.is_unspecified())
            });
            if let Some((_, _, _, owner)) = clash {
                problems.push(here.of(
                    port,
                    Problem::new(format!(
                        "registry port {} is already used by {owner}",
                        port.value
                    ))
                    .hint("each host address and port can be published only once; pick another port for one of them"),
                ));
            }
            Some(RegistrySpec { port: port.value })
        }
    }
}

/// `cluster.k3sArgs`: `ARG[@FILTER]`, none empty.
fn k3s_args(
    raw: &[Spanned<String>],
    (servers, agents): (u32, u32),
    here: &Here,
    problems: &mut Vec<ConfigError>,
) -> Vec<Filtered<String>> {
    let mut k3s_args = Vec::with_capacity(raw.len());
    for entry in raw {
        let (value, filter) = match split_filter(entry, servers, agents, here) {
            Ok(split) => split,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        if value.is_empty() {
            problems.push(
                here.of(
                    entry,
                    Problem::new(format!("empty k3s argument in `{}`", entry.value))
                        .hint("expected ARG[@FILTER], e.g. \"--disable=traefik@server:*\""),
                ),
            );
            continue;
        }
        k3s_args.push(Filtered {
            value: value.to_string(),
            filter,
        });
    }
    k3s_args
}

/// `cluster.env`: `KEY=VALUE[@FILTER]`, or `KEY=${env:NAME}` read from this shell and masked
/// from then on.
fn env(
    raw: &[Spanned<String>],
    (servers, agents): (u32, u32),
    here: &Here,
    problems: &mut Vec<ConfigError>,
) -> Vec<Filtered<EnvVar>> {
    let mut env = Vec::with_capacity(raw.len());
    for entry in raw {
        let one = || -> Result<_, ConfigError> {
            let (value, filter) = split_filter(entry, servers, agents, here)?;
            let var = match value.split_once('=') {
                Some((key, value)) if is_env_name(key) => match host_reference(value) {
                    None => EnvVar {
                        key: key.to_string(),
                        value: value.to_string(),
                        from_host: None,
                    },
                    Some(var) if !is_env_name(var) => {
                        return Err(here.of(
                            entry,
                            Problem::new(format!(
                                "`${{env:{var}}}`: `{var}` is not a variable name"
                            ))
                            .hint("expected KEY=${env:NAME}, NAME in letters, digits and '_'"),
                        ));
                    }
                    Some(var) => {
                        let found = (here.env)(var);
                        // Masked from the moment it is known: the client logs the create body.
                        if let Some(v) = &found {
                            crate::ui::redact::register(v);
                        }
                        let unset = found.is_none().then(|| {
                        here.locate(
                            entry.referenced,
                            Problem::new(format!(
                                "`{key}` takes its value from the environment variable {var}, which is not set here"
                            ))
                            .hint(format!(
                                "`export {var}=…` in this shell first: the lab file names the secret, it never holds it"
                            )),
                        )
                    });
                        EnvVar {
                            key: key.to_string(),
                            value: found.unwrap_or_default(),
                            from_host: Some(HostValue {
                                var: var.to_string(),
                                unset,
                            }),
                        }
                    }
                },
                Some((key, _)) => {
                    return Err(here.of(
                        entry,
                        Problem::new(format!("invalid environment variable name `{key}`"))
                            .hint("expected letters, digits and '_', not starting with a digit"),
                    ));
                }
                None => {
                    return Err(here.of(
                    entry,
                    Problem::new(format!("invalid env entry `{}`: no `=`", entry.value)).hint(
                        "expected KEY=VALUE[@FILTER], e.g. \"K3S_KUBECONFIG_MODE=644@server:*\"",
                    ),
                ));
                }
            };
            Ok(Filtered { value: var, filter })
        };
        match one() {
            Ok(entry) => env.push(entry),
            Err(e) => problems.push(e),
        }
    }
    env
}

/// `cluster.registries`, checked as k3s would read it, and stricter where k3s is silent:
/// k3s reads the file with yaml.v2 into rancher/wharfie `pkg/registries` types, ignoring
/// unknown keys, and k3s `pkg/agent/containerd/config.go` (`getHostConfigs`) drops an
/// endpoint it cannot parse with a warning in its log and looks `configs` up by each
/// endpoint's host (`configForHost`): a typo there means pulls that quietly go elsewhere, or
/// go without credentials. Every problem is reported, at its line:col.
fn registries(raw: RawRegistries, here: &Here) -> Result<UserRegistries, ConfigError> {
    let lab_dir = lab_dir_of(Some(here.origin));
    let mut problems = Vec::new();
    let mut out = UserRegistries::default();
    // What the digest covers: the entries as written, `${env:…}` references unresolved.
    let mut written: Vec<String> = Vec::new();
    for (host, mirror) in &raw.mirrors {
        if let Err(p) = registry_host(host, "mirrors") {
            problems.push(here.of(mirror, p));
        }
        let mut endpoints = Vec::new();
        for e in &mirror.value.endpoint {
            match registry_endpoint(&e.value) {
                Ok(()) => endpoints.push(e.value.clone()),
                Err(p) => problems.push(here.of(e, p)),
            }
        }
        let rewrite: BTreeMap<String, String> = mirror
            .value
            .rewrite
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect();
        for (pattern, replacement) in &mirror.value.rewrite {
            // RE2 (Go `regexp`), which the `regex` crate's syntax follows.
            if let Err(e) = regex::Regex::new(pattern) {
                problems.push(here.of(
                    replacement,
                    Problem::new(format!("rewrite pattern `{pattern}` of `{host}` does not compile: {e}"))
                        .hint("k3s skips a pattern it cannot compile (\"Failed to compile rewrite\"); write an RE2 expression, e.g. \"^library/(.*)\": \"hub/$1\""),
                ));
            }
        }
        written.push(format!("mirror {host} {endpoints:?} {rewrite:?}"));
        out.mirrors
            .insert(host.clone(), UserMirror { endpoints, rewrite });
    }
    for (host, config) in &raw.configs {
        if let Err(p) = registry_host(host, "configs") {
            problems.push(here.of(config, p));
        }
        let mut entry = UserRegistryConfig::default();
        if let Some(a) = &config.value.auth {
            let mut credential = |field: &Option<Spanned<String>>, name: &str, secret: bool| {
                let f = field.as_ref()?;
                written.push(format!("auth {host} {name} {}", f.value));
                match registry_credential(f, name, host, secret, here) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        problems.push(e);
                        None
                    }
                }
            };
            let auth = RegistryAuth {
                username: credential(&a.username, "username", false),
                password: credential(&a.password, "password", true),
                auth: credential(&a.auth, "auth", true),
                identity_token: credential(&a.identity_token, "identity_token", true),
            };
            if a.username.is_some() != a.password.is_some() {
                problems.push(here.of(
                    config,
                    Problem::new(format!("`configs.{host}.auth` has a username or a password, not both"))
                        .hint("basic auth needs both; or use `auth` (base64 of user:password) or `identity_token` alone"),
                ));
            }
            entry.auth = Some(auth);
        }
        if let Some(t) = &config.value.tls {
            let mut file = |field: &Option<Spanned<String>>, name: &str| {
                let f = field.as_ref()?;
                written.push(format!("tls {host} {name} {}", f.value));
                let checked = if name == "ca_file" {
                    parse_ca_cert(&f.value, lab_dir).map(|c| c.host)
                } else {
                    let path = lab_dir.join(&f.value);
                    std::fs::canonicalize(&path).map_err(|e| {
                        Problem::new(format!("`configs.{host}.tls.{name}` `{}`: {}: {e}", f.value, path.display()))
                            .hint("name a PEM file on this machine, relative to the lab file's folder: playground binds it into the nodes")
                    })
                };
                match checked {
                    Ok(p) => Some(p),
                    Err(p) => {
                        problems.push(here.of(f, p));
                        None
                    }
                }
            };
            let tls = RegistryTls {
                ca_file: file(&t.ca_file, "ca_file"),
                cert_file: file(&t.cert_file, "cert_file"),
                key_file: file(&t.key_file, "key_file"),
                insecure_skip_verify: t.insecure_skip_verify.unwrap_or(false),
            };
            written.push(format!("tls {host} insecure {}", tls.insecure_skip_verify));
            // rancher/wharfie `pkg/registries` `getTLSConfigForHost`: "cert file %q was
            // specified, but no corresponding key file was specified", and the reverse.
            if t.cert_file.is_some() != t.key_file.is_some() {
                problems.push(
                    here.of(
                        config,
                        Problem::new(format!(
                            "`configs.{host}.tls` has a cert_file or a key_file, not both"
                        ))
                        .hint("a client certificate needs its key: give both, or neither"),
                    ),
                );
            }
            entry.tls = Some(tls);
        }
        out.configs.insert(host.clone(), entry);
    }
    gather(problems)?;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(written.join("\n").as_bytes());
    out.digest = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    Ok(out)
}

/// A `mirrors` or `configs` key: a registry host as image names carry it (`host[:port]`), or
/// `*`. A scheme or a path there never matches anything in k3s.
fn registry_host(host: &str, section: &str) -> Result<(), Problem> {
    let bad = host.is_empty()
        || host.contains("://")
        || host.contains('/')
        || host.chars().any(char::is_whitespace);
    if bad {
        let bare = host.split_once("://").map_or(host, |(_, r)| r);
        let bare = bare.split('/').next().unwrap_or_default();
        return Err(Problem::new(format!(
            "`{section}` key `{host}` is not a registry host"
        ))
        .hint(format!(
            "k3s matches `{section}` by host alone: write `{bare}` (host[:port]), or \"*\" for every registry"
        )));
    }
    Ok(())
}

/// A mirror endpoint as k3s reads it (`normalizeEndpointAddress`: no scheme means `//` +
/// endpoint, then Go `url.Parse`; an endpoint that fails is dropped with "Ignoring invalid
/// endpoint URL"). Stricter: only http and https, a host, a numeric port, no spaces.
fn registry_endpoint(endpoint: &str) -> Result<(), Problem> {
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", endpoint));
    let authority = rest.split('/').next().unwrap_or_default();
    let port = match authority.rsplit_once(']') {
        Some((_, tail)) => tail.strip_prefix(':'),
        None => authority.rsplit_once(':').map(|(_, p)| p),
    };
    let problem = if !matches!(scheme, "http" | "https") {
        Some(format!("scheme `{scheme}` is neither http nor https"))
    } else if authority.is_empty() || authority.starts_with(':') {
        Some("no host".to_string())
    } else if port.is_some_and(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
        Some(format!(
            "port `{}` is not a number",
            port.unwrap_or_default()
        ))
    } else if endpoint.chars().any(char::is_whitespace) {
        Some("it holds a space".to_string())
    } else {
        None
    };
    match problem {
        Some(why) => Err(Problem::new(format!("invalid mirror endpoint `{endpoint}`: {why}"))
            .hint("k3s would drop it and pull from the registry itself; write a URL such as https://mirror.corp.example:5000 (http:// for a plain-HTTP registry)")),
        None => Ok(()),
    }
}

/// One `auth` field. A secret must be `${env:NAME}`: the lab file is in Git, and a literal
/// password there is a leaked password. Resolved values are masked from here on.
fn registry_credential(
    field: &Spanned<String>,
    name: &str,
    host: &str,
    secret: bool,
    here: &Here,
) -> Result<Credential, ConfigError> {
    let Some(var) = host_reference(&field.value) else {
        if secret {
            // Never echo the value: it is the secret.
            return Err(here.of(
                field,
                Problem::new(format!("`configs.{host}.auth.{name}` holds its value in the lab file"))
                    .hint(format!("write `{name}: ${{env:REGISTRY_{}}}` and export that variable: the lab file names the secret, it never holds it", name.to_uppercase())),
            ));
        }
        return Ok(Credential {
            value: field.value.clone(),
            from_host: None,
        });
    };
    if !is_env_name(var) {
        return Err(here.of(
            field,
            Problem::new(format!("`${{env:{var}}}`: `{var}` is not a variable name"))
                .hint("expected ${env:NAME}, NAME in letters, digits and '_'"),
        ));
    }
    let found = (here.env)(var);
    if let Some(v) = &found {
        crate::ui::redact::register(v);
    }
    let unset = found.is_none().then(|| {
        here.locate(
            field.referenced,
            Problem::new(format!(
                "`configs.{host}.auth.{name}` takes its value from the environment variable {var}, which is not set here"
            ))
            .hint(format!(
                "`export {var}=…` in this shell first: the lab file names the secret, it never holds it"
            )),
        )
    });
    Ok(Credential {
        value: found.unwrap_or_default(),
        from_host: Some(HostValue {
            var: var.to_string(),
            unset,
        }),
    })
}

/// `cluster.proxy`: `fromEnv` read from this shell, or the values as given. A proxy URL with
/// credentials (`http://user:secret@proxy:3128`) is masked from here on, as `${env:…}` values.
fn proxy(raw: &Spanned<RawProxy>, here: &Here) -> Result<ProxySpec, ConfigError> {
    let split = |v: Option<String>| -> Vec<String> {
        v.unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let var = |name: &str| {
        (here.env)(name)
            .or_else(|| (here.env)(&name.to_lowercase()))
            .filter(|v| !v.is_empty())
    };
    let spec = match &raw.value {
        RawProxy::Mode(mode) if mode == "fromEnv" => ProxySpec {
            from_env: true,
            http: var("HTTP_PROXY"),
            https: var("HTTPS_PROXY"),
            no_proxy: split(var("NO_PROXY")),
        },
        RawProxy::Mode(mode) => {
            return Err(here.of(
                raw,
                Problem::new(format!("unknown proxy mode `{mode}`")).hint(
                    "write `proxy: fromEnv` (this shell's HTTP_PROXY, HTTPS_PROXY, NO_PROXY) or `proxy: { httpProxy: http://proxy:3128, httpsProxy: …, noProxy: \"a,b\" }`",
                ),
            ));
        }
        RawProxy::Values(v) => ProxySpec {
            from_env: false,
            http: v.http_proxy.clone().filter(|s| !s.is_empty()),
            https: v.https_proxy.clone().filter(|s| !s.is_empty()),
            no_proxy: split(v.no_proxy.clone()),
        },
    };
    for url in [&spec.http, &spec.https].into_iter().flatten() {
        let authority = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        if !authority.contains('.') && !authority.contains(':') && !authority.contains("localhost")
            || url.chars().any(char::is_whitespace)
        {
            return Err(here.of(
                raw,
                Problem::new(format!(
                    "invalid proxy URL `{}`",
                    crate::ui::redact::mask(url)
                ))
                .hint("expected a URL such as http://proxy.corp.example:3128"),
            ));
        }
        if authority.split('/').next().is_some_and(|a| a.contains('@')) {
            crate::ui::redact::register(url);
        }
    }
    Ok(spec)
}

/// A `cluster.caCerts` file: read, and every PEM block in it a `CERTIFICATE` whose body is
/// base64 of a DER SEQUENCE, as Go's `AppendCertsFromPEM` needs it (a block it cannot parse is
/// skipped there without a word, and the pull fails later with "certificate signed by unknown
/// authority").
pub(crate) fn parse_ca_cert(text: &str, lab_dir: &Path) -> Result<CaCert, Problem> {
    use base64::Engine as _;
    let path = lab_dir.join(text);
    let hint = "name a PEM file holding `-----BEGIN CERTIFICATE-----` blocks (relative to the lab file's folder), e.g. the CA your proxy or registry uses";
    let host = std::fs::canonicalize(&path).map_err(|e| {
        Problem::new(format!("CA file `{text}`: {}: {e}", path.display())).hint(hint)
    })?;
    let content = std::fs::read_to_string(&host).map_err(|e| {
        Problem::new(format!("CA file `{text}` cannot be read as text: {e}")).hint(hint)
    })?;
    let mut certificates = 0;
    let mut lines = content.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        if label != "CERTIFICATE" {
            return Err(Problem::new(format!(
                "CA file `{text}` holds a `{label}` block, not a certificate"
            ))
            .hint("keep only the CA's certificates in the file, never a key"));
        }
        let end = format!("-----END {label}-----");
        let body: String = lines
            .by_ref()
            .take_while(|l| *l != end)
            .collect::<Vec<_>>()
            .concat();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| {
                Problem::new(format!(
                    "CA file `{text}`: certificate {} is not valid base64: {e}",
                    certificates + 1
                ))
                .hint(hint)
            })?;
        if der.first() != Some(&0x30) || der.len() < 64 {
            return Err(Problem::new(format!(
                "CA file `{text}`: certificate {} is not a DER certificate",
                certificates + 1
            ))
            .hint(hint));
        }
        certificates += 1;
    }
    if certificates == 0 {
        return Err(Problem::new(format!("CA file `{text}` holds no PEM certificate")).hint(hint));
    }
    Ok(CaCert {
        host,
        certificates,
        written: text.to_string(),
    })
}

/// Node paths that are k3s's or playground's own: a mount on one of them, inside one, or over
/// one (a parent, which would hide it) breaks the node. k3s keeps its data in
/// `/var/lib/rancher/k3s` (our data volume) and its config, node password and kubeconfig in
/// `/etc/rancher` (k3s `pkg/cli/cmds`: `DataDir`, `/etc/rancher/k3s/config.yaml`); containerd
/// and the entrypoint use `/run` (a tmpfs here, as in k3d); `/bin` holds k3s and its tools
/// (k3s `package/Dockerfile`); `/proc`, `/sys`, `/dev` are the kernel's.
const RESERVED_NODE_PATHS: &[&str] = &[
    CA_CERTS_DIR,
    "/var/lib/rancher/k3s",
    "/etc/rancher",
    "/run",
    "/var/run",
    "/bin",
    "/proc",
    "/sys",
    "/dev",
    "/lib/modules",
    "/var/lib/playground",
    crate::lab::LOCAL_REPO_MOUNT,
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/hostname",
];

/// Inside `/var/lib/rancher/k3s`, the one folder a lab may mount: local-path-provisioner's
/// storage (k3s `manifests/local-storage.yaml`, `/var/lib/rancher/k3s/storage`), which k3d's
/// docs mount to keep volumes on the host.
const LOCAL_PATH_STORAGE: &str = "/var/lib/rancher/k3s/storage";

/// A node path, normalised: absolute, no `.`/`..`, no trailing `/`.
fn node_path(text: &str) -> Result<String, Problem> {
    if !text.starts_with('/') {
        return Err(Problem::new(format!("node path `{text}` is not absolute"))
            .hint("the part after the first `:` is a path inside the node, e.g. `/data`"));
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(Problem::new(format!("node path `{text}` contains `..`"))
                    .hint("write the path inside the node without `..`"));
            }
            p => parts.push(p),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// `a` is `b` or lies inside it.
fn within(a: &str, b: &str) -> bool {
    a == b
        || (b == "/" && a.starts_with('/'))
        || a.strip_prefix(b).is_some_and(|r| r.starts_with('/'))
}

/// `HOST:NODE[:ro|:rw]`: parsed, the host path resolved against the lab file's folder and
/// checked to exist, the node path checked against [`RESERVED_NODE_PATHS`].
pub(crate) fn parse_mount(text: &str, lab_dir: &Path) -> Result<HostMount, Problem> {
    const SYNTAX: &str = "expected HOST:NODE[:ro|:rw][@FILTER], e.g. \"./data:/data:ro@agent:*\"";
    let parts: Vec<&str> = text.split(':').collect();
    let (host, node, read_only) = match parts.as_slice() {
        [host, node] => (*host, *node, false),
        [host, node, "ro"] => (*host, *node, true),
        [host, node, "rw"] => (*host, *node, false),
        [_, _, mode] => {
            return Err(
                Problem::new(format!("invalid mount mode `{mode}` in `{text}`"))
                    .hint("the mode is `ro` (read-only) or `rw` (read-write, the default)"),
            );
        }
        _ => {
            return Err(Problem::new(format!("invalid mount `{text}`")).hint(SYNTAX));
        }
    };
    if host.is_empty() || node.is_empty() {
        return Err(Problem::new(format!("invalid mount `{text}`: empty path")).hint(SYNTAX));
    }
    let node = node_path(node)?;
    if within(&node, LOCAL_PATH_STORAGE) {
        // local-path-provisioner's folder: the one place inside k3s's data a lab may mount.
    } else if let Some(own) = RESERVED_NODE_PATHS
        .iter()
        .find(|own| within(&node, own) || within(own, &node))
    {
        let what = if within(&node, own) {
            "is"
        } else {
            "would hide"
        };
        return Err(Problem::new(format!(
            "node path `{node}` in `{text}` {what} `{own}`, which k3s or playground needs for itself"
        ))
        .hint(format!(
            "mount somewhere else in the node, e.g. `/data`; to keep local-path volumes on the host, mount `{LOCAL_PATH_STORAGE}`"
        )));
    }
    let host_path = lab_dir.join(host);
    let host_path = std::fs::canonicalize(&host_path).map_err(|e| {
        Problem::new(format!(
            "host path `{host}` in `{text}` cannot be mounted: {}: {e}",
            host_path.display()
        ))
        .hint("a relative host path starts from the lab file's folder; create it first, or fix the path")
    })?;
    Ok(HostMount {
        host: host_path,
        node,
        read_only,
        written: text.to_string(),
    })
}

/// `cluster.mounts`: each entry parsed ([`parse_mount`]) and its filter checked; two mounts on
/// the same node path of one node are refused (Docker would refuse the create: "Duplicate
/// mount point").
fn mounts(
    raw: &[Spanned<String>],
    servers: u32,
    agents: u32,
    here: &Here,
) -> Result<Vec<Filtered<HostMount>>, ConfigError> {
    let lab_dir = lab_dir_of(Some(here.origin));
    let mut out: Vec<Filtered<HostMount>> = Vec::with_capacity(raw.len());
    for entry in raw {
        let (value, filter) = split_filter(entry, servers, agents, here)?;
        let mount = parse_mount(value, lab_dir).map_err(|p| here.of(entry, p))?;
        if filter == NodeFilter::LoadBalancer {
            return Err(here.of(
                entry,
                Problem::new(format!("`{}`: mounts go into k3s nodes, not the load balancer", entry.value))
                    .hint("use `@server:*`, `@agent:*`, `@all` or leave the filter out (every server and agent)"),
            ));
        }
        let nodes = |f: &NodeFilter| -> Vec<(Role, u32)> {
            (0..servers)
                .map(|i| (Role::Server, i))
                .chain((0..agents).map(|i| (Role::Agent, i)))
                .filter(|(role, i)| f.matches(*role, *i, servers))
                .collect()
        };
        let mine = nodes(&filter);
        let clash = out.iter().find(|m| {
            m.value.node == mount.node && nodes(&m.filter).iter().any(|n| mine.contains(n))
        });
        if let Some(other) = clash {
            return Err(here.of(
                entry,
                Problem::new(format!(
                    "node path `{}` is mounted twice on the same node (`{}` and `{}`)",
                    mount.node, other.value.written, mount.written
                ))
                .hint("Docker refuses a duplicate mount point; give each mount its own node path, or filter them apart"),
            ));
        }
        out.push(Filtered {
            value: mount,
            filter,
        });
    }
    Ok(out)
}

/// A node count with its allowed range; `name` is the key, for messages.
fn count(
    raw: Option<Spanned<u32>>,
    default: u32,
    min: u32,
    max: u32,
    name: &str,
    here: &Here,
) -> Result<u32, ConfigError> {
    let Some(n) = raw else { return Ok(default) };
    if n.value < min || n.value > max {
        let hint = if name == "servers" {
            format!(
                "expected {min} to {max}; more than one server runs k3s with embedded etcd (HA)"
            )
        } else {
            format!("expected {min} to {max}")
        };
        return Err(here.of(
            &n,
            Problem::new(format!("`{name}: {}` is out of range", n.value)).hint(hint),
        ));
    }
    Ok(n.value)
}

/// Splits `VALUE@FILTER` at the last `@` (a value may itself contain `@`; give such an entry an
/// explicit filter such as `@all`) and checks the filter against the node counts. No `@`
/// means all servers and agents.
fn split_filter<'a>(
    entry: &'a Spanned<String>,
    servers: u32,
    agents: u32,
    here: &Here,
) -> Result<(&'a str, NodeFilter), ConfigError> {
    let Some((value, filter)) = entry.value.rsplit_once('@') else {
        return Ok((&entry.value, NodeFilter::All));
    };
    let filter = parse_filter(filter).map_err(|p| {
        let hint = format!(
            "{}; if `@` is part of the value, end the entry with an explicit filter such as `@all`",
            p.hint.as_deref().unwrap_or("expected a node filter")
        );
        here.of(
            entry,
            Problem {
                hint: Some(hint),
                ..p
            },
        )
    })?;
    check_filter(&filter, servers, agents).map_err(|p| here.of(entry, p))?;
    Ok((value, filter))
}

/// The `argocd` section, every problem of it gathered (each entry of `components`,
/// `resources` and `clusters` on its own). `me` is the lab's name, when it is a valid one.
fn argocd(raw: RawArgoCd, me: Option<&LabName>, here: &Here) -> Result<ArgoCdSpec, ConfigError> {
    let defaults = ArgoCdSpec::default();
    let mut problems = Vec::new();
    let port = match raw.ui.and_then(|ui| ui.port) {
        Some(port) if port.value == 0 => {
            problems.push(here.of(
                &port,
                Problem::new("invalid UI port 0: expected 1 to 65535"),
            ));
            defaults.ui.port
        }
        Some(port) => port.value,
        None => defaults.ui.port,
    };
    let mut components = Vec::new();
    for c in &raw.components {
        let Some(known) = ArgoCdComponent::ALL
            .into_iter()
            .find(|k| k.as_str() == c.value)
        else {
            let all: Vec<&str> = ArgoCdComponent::ALL.iter().map(|k| k.as_str()).collect();
            problems.push(
                here.of(
                    c,
                    Problem::new(format!("unknown Argo CD component `{}`", c.value))
                        .hint(format!("the optional components are: {}", all.join(", "))),
                ),
            );
            continue;
        };
        if !components.contains(&known) {
            components.push(known);
        }
    }
    components.sort();
    let mut resources: Vec<String> = Vec::with_capacity(raw.resources.len());
    for r in &raw.resources {
        if let Err(e) = relative_inside(r, "argocd.resources", here) {
            problems.push(e);
        } else if !resources.contains(&r.value) {
            resources.push(r.value.clone());
        }
    }
    let mut clusters: Vec<ClusterRef> = Vec::with_capacity(raw.clusters.len());
    for c in &raw.clusters {
        let entry = match &c.value {
            RawClusterEntry::Lab(name) => match LabName::parse(name) {
                Err(e) => {
                    problems.push(
                        here.of(
                            c,
                            Problem::new(format!("invalid lab name `{}` in argocd.clusters", e.0))
                                .hint(NAME_HINT),
                        ),
                    );
                    continue;
                }
                Ok(lab) if Some(&lab) == me => {
                    problems.push(here.of(
                        c,
                        Problem::new(format!("lab {lab} names itself in argocd.clusters"))
                        .hint("a lab's Argo CD deploys into its own cluster as `https://kubernetes.default.svc` already; list other labs here"),
                    ));
                    continue;
                }
                Ok(lab) => ClusterRef::Lab(lab),
            },
            RawClusterEntry::Context(ctx) if ctx.trim().is_empty() => {
                problems.push(
                    here.of(
                        c,
                        Problem::new("empty context in argocd.clusters").hint(
                            "name a context of your kubeconfig: `kubectl config get-contexts`",
                        ),
                    ),
                );
                continue;
            }
            RawClusterEntry::Context(ctx) => ClusterRef::Context(ctx.clone()),
        };
        if clusters.iter().any(|k| k.name() == entry.name()) {
            problems.push(
                here.of(
                    c,
                    Problem::new(format!("argocd.clusters names `{}` twice", entry.name()))
                        .hint("each cluster is registered once, named after its lab or context"),
                ),
            );
            continue;
        }
        clusters.push(entry);
    }
    gather(problems)?;
    Ok(ArgoCdSpec {
        version: raw.version.unwrap_or(defaults.version),
        manifest: raw.manifest,
        namespace: raw.namespace.unwrap_or(defaults.namespace),
        ui: ArgoCdUi { port },
        components,
        resources,
        clusters,
    })
}

fn gitops(raw: RawGitOps, here: &Here) -> Result<GitOpsSpec, ConfigError> {
    let defaults = GitOpsSpec::default();
    let base = super::model::lab_dir_of(Some(here.origin));
    let repo = match &raw.repo {
        Some(repo) => RepoLocation::parse(&repo.value, base)
            .map_err(|e| here.of(repo, Problem::new(e.to_string()).hint(e.hint())))?,
        // `.` is always a local path; the default's own folder is the lab file's.
        None => RepoLocation::parse(DEFAULT_GITOPS_REPO, base).unwrap_or(defaults.repo.clone()),
    };
    let source = root_source(&raw, here)?;
    let credentials = match raw.credentials {
        None => None,
        Some(spanned) => {
            let creds = &spanned.value;
            let env_name = |s: &Spanned<String>| -> Result<String, ConfigError> {
                if is_env_name(&s.value) {
                    Ok(s.value.clone())
                } else {
                    Err(here.of(
                        s,
                        Problem::new(format!("invalid environment variable name `{}`", s.value))
                            .hint("name the variable holding the secret, not the secret itself, e.g. GIT_TOKEN"),
                    ))
                }
            };
            match (
                &creds.username_env,
                &creds.password_env,
                &creds.ssh_key_file,
            ) {
                (Some(user), Some(password), None) => Some(GitCredentials::Env {
                    username_env: env_name(user)?,
                    password_env: env_name(password)?,
                }),
                (None, None, Some(key)) => Some(GitCredentials::SshKeyFile(PathBuf::from(key))),
                _ => {
                    return Err(here.of(
                        &spanned,
                        Problem::new("`credentials` needs either `usernameEnv` and `passwordEnv`, or `sshKeyFile`")
                            .hint("e.g. credentials: { usernameEnv: GIT_USER, passwordEnv: GIT_TOKEN }"),
                    ));
                }
            }
        }
    };
    let project = match &raw.project {
        None => defaults.project,
        Some(p) if is_dns_subdomain(&p.value) => p.value.clone(),
        Some(p) => {
            return Err(here.of(
                p,
                Problem::new(format!("invalid AppProject name `{}`", p.value)).hint(
                    "an AppProject is named like any Kubernetes object: lowercase letters, digits, '-' and '.', e.g. `playground-project`",
                ),
            ));
        }
    };
    Ok(GitOpsSpec {
        repo,
        revision: raw.revision.unwrap_or(defaults.revision),
        path: raw.path.unwrap_or(defaults.path),
        credentials,
        project,
        source,
    })
}

/// `gitops.helm` / `.kustomize` / `.directory`: at most one, as Argo CD refuses an
/// Application whose source names two kinds ("multiple application sources defined",
/// `argoproj/argo-cd` `util/argo/argo.go`, `ValidateRepo` → `ExplicitType`).
fn root_source(raw: &RawGitOps, here: &Here) -> Result<RootSource, ConfigError> {
    let named: Vec<(&str, Location)> = [
        raw.helm.as_ref().map(|h| ("helm", h.referenced)),
        raw.kustomize.as_ref().map(|k| ("kustomize", k.referenced)),
        raw.directory.as_ref().map(|d| ("directory", d.referenced)),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let [(first, _), (second, at), ..] = named.as_slice() {
        return Err(here.at(
            *at,
            Problem::new(format!(
                "`gitops.{second}` and `gitops.{first}` both say how to render the root folder; Argo CD takes one"
            ))
            .hint("keep the one that matches the folder: `helm` for a chart (Chart.yaml), `kustomize` for a kustomization.yaml, `directory` for plain manifests; or none, and `up` detects it as Argo CD does"),
        ));
    }
    if let Some(h) = &raw.helm {
        let h = &h.value;
        let mut value_files = Vec::with_capacity(h.value_files.len());
        for f in &h.value_files {
            if f.value.trim().is_empty() {
                return Err(here.of(
                    f,
                    Problem::new("empty value file name in `gitops.helm.valueFiles`")
                        .hint("name a file relative to the chart's folder, e.g. `local.yaml`"),
                ));
            }
            if Path::new(&f.value).is_absolute() {
                return Err(here.of(
                    f,
                    Problem::new(format!(
                        "value file `{}` is an absolute path; Argo CD reads value files from the repository",
                        f.value
                    ))
                    .hint("name it relative to the chart's folder (gitops.path), e.g. `local.yaml` or `../shared/values.yaml`"),
                ));
            }
            value_files.push(f.value.clone());
        }
        let values = match &h.values {
            None => None,
            Some(v) if v.value.is_object() => Some(v.value.clone()),
            Some(v) if v.value.is_null() => None,
            Some(v) => {
                return Err(here.of(
                    v,
                    Problem::new("`gitops.helm.values` must be a mapping of Helm values")
                        .hint("e.g. values: { replicaCount: 1, image: { tag: dev } }"),
                ));
            }
        };
        return Ok(RootSource::Helm(HelmSource {
            value_files,
            values,
            release_name: h.release_name.clone(),
        }));
    }
    if let Some(k) = &raw.kustomize {
        let k = &k.value;
        return Ok(RootSource::Kustomize(KustomizeSource {
            name_prefix: k.name_prefix.clone(),
            name_suffix: k.name_suffix.clone(),
            namespace: k.namespace.clone(),
            images: k.images.clone(),
            components: k.components.clone(),
        }));
    }
    if let Some(d) = &raw.directory {
        let d = &d.value;
        return Ok(RootSource::Directory(DirectorySource {
            recurse: d.recurse.unwrap_or(false),
            include: d.include.clone(),
            exclude: d.exclude.clone(),
        }));
    }
    Ok(RootSource::Detect)
}

/// A path the lab file names that must stay beside it: relative, and never climbing out
/// through `..` lexically. Symlinks are resolved when the files are read.
fn relative_inside(path: &Spanned<String>, key: &str, here: &Here) -> Result<(), ConfigError> {
    if path.value.trim().is_empty() || crate::fsutil::inside(&path.value).is_none() {
        return Err(here.of(
            path,
            Problem::new(format!(
                "`{key}` entry `{}` is not a path inside the lab's folder",
                path.value
            ))
            .hint("name a file or folder relative to the lab file, inside its Git repository, so Git holds it and `restore --from` finds it"),
        ));
    }
    Ok(())
}

/// A DNS-1123 subdomain, as Kubernetes names most objects (AppProjects included).
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The `keep` section, each entry of `keep.secrets` checked on its own.
fn keep(raw: RawKeep, here: &Here) -> Result<KeepSpec, ConfigError> {
    let mut problems = Vec::new();
    let mut secrets = Vec::with_capacity(raw.secrets.len());
    for entry in &raw.secrets {
        let s = &entry.value;
        let select = match (&s.name, &s.selector) {
            (Some(name), None) => SecretSelect::Name(name.clone()),
            (None, Some(selector)) => SecretSelect::Selector(selector.clone()),
            _ => {
                problems.push(here.of(
                    entry,
                    Problem::new("a kept secret needs exactly one of `name` or `selector`")
                        .hint("e.g. { namespace: default, name: my-api-token } or { namespace: kube-system, selector: app=x }"),
                ));
                continue;
            }
        };
        let kept = KeptSecret {
            namespace: s.namespace.clone(),
            select,
        };
        if secrets.contains(&kept) {
            problems.push(here.of(
                entry,
                Problem::new("this secret is listed twice in `keep.secrets`"),
            ));
            continue;
        }
        secrets.push(kept);
    }
    gather(problems)?;
    Ok(KeepSpec { secrets })
}

/// `NAME` of a value written `${env:NAME}`, whole.
fn host_reference(value: &str) -> Option<&str> {
    value.strip_prefix("${env:")?.strip_suffix('}')
}

/// A POSIX-style environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod schema_tests {
    //! The JSON Schema against the committed copy, the sample lab, and the parser: what the
    //! schema refuses for its shape, the parser refuses too.

    use std::path::Path;

    use super::*;

    fn committed() -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/playground.schema.json");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn validator() -> jsonschema::Validator {
        let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
        jsonschema::validator_for(&schema).expect("the schema itself is valid")
    }

    /// The schema's verdict on a YAML text, with the messages of what it refuses.
    fn check(yaml: &str) -> Result<(), Vec<String>> {
        let value: serde_json::Value = serde_saphyr::from_str(yaml).unwrap();
        let errors: Vec<String> = validator()
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    #[test]
    fn the_committed_schema_is_what_playground_schema_prints() {
        assert!(
            committed() == json_schema(),
            "schema/playground.schema.json is out of date with the lab file's types\n  \
             run: cargo run -q -- schema > schema/playground.schema.json"
        );
    }

    #[test]
    fn the_sample_lab_names_the_schema_on_its_first_line_and_validates() {
        let text = crate::repo::sample::FILES
            .iter()
            .find(|(p, _)| *p == "playground.yaml")
            .unwrap()
            .1;
        assert_eq!(
            text.lines().next(),
            Some(format!("# yaml-language-server: $schema={SCHEMA_URL}").as_str())
        );
        check(text).unwrap();
        // The comment is a comment to the parser too.
        crate::config::parse(text, Path::new("/lab/playground.yaml")).unwrap();
    }

    const HEAD: &str =
        "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata: { name: lab }\n";

    #[test]
    fn unknown_keys_and_wrong_types_fail_the_schema_as_they_fail_the_parser() {
        // Pairs that differ in one key or value: the good one passes, so the bad one fails for
        // that difference alone (an `Option` section's errors are reported at the section).
        let pairs = [
            ("cluster: { agentz: 2 }\n", "cluster: { agents: 2 }\n"),
            ("cluster: { agents: two }\n", "cluster: { agents: 2 }\n"),
            ("cluster: { servers: 9 }\n", "cluster: { servers: 7 }\n"),
            (
                "cluster: { ports: 8081 }\n",
                "cluster: { ports: [\"8081:80\"] }\n",
            ),
            (
                "cluster: { registry: {} }\n",
                "cluster: { registry: { port: 5001 } }\n",
            ),
            (
                "argocd: { ui: { port: 70000 } }\n",
                "argocd: { ui: { port: 7000 } }\n",
            ),
            (
                "keep: { secrets: [ { name: x } ] }\n",
                "keep: { secrets: [ { namespace: d, name: x } ] }\n",
            ),
            ("extra: true\n", "keep: {}\n"),
        ];
        for (bad, good) in pairs {
            let (bad, good) = (format!("{HEAD}{bad}"), format!("{HEAD}{good}"));
            check(&good).unwrap_or_else(|e| panic!("{good}: {e:?}"));
            check(&bad).expect_err(&bad);
            assert!(
                crate::config::parse(&bad, Path::new("/lab/playground.yaml")).is_err(),
                "the parser accepts what the schema refuses: {bad}"
            );
        }
        let errors = check(&format!("{HEAD}extra: true\n")).unwrap_err();
        assert!(errors.iter().any(|e| e.contains("extra")), "{errors:?}");
        for bad_head in [
            "apiVersion: playground.dev/v1\nkind: Playground\nmetadata: { name: lab }\n",
            "apiVersion: playground.dev/v1alpha1\nkind: Lab\nmetadata: { name: lab }\n",
            "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata: { name: Lab_1 }\n",
            "apiVersion: playground.dev/v1alpha1\nkind: Playground\n",
        ] {
            check(bad_head).expect_err(bad_head);
            assert!(crate::config::parse(bad_head, Path::new("/lab/playground.yaml")).is_err());
        }
    }

    #[test]
    fn what_the_parser_accepts_the_schema_accepts() {
        for tail in [
            "",
            "cluster:\n",
            "cluster: { servers: 3, agents: 0, ports: [\"8081:80@loadbalancer\"], registry: { port: 5001 } }\n",
            "cluster: { api: { host: 127.0.0.1, port: 6550 }, k3sArgs: [\"--disable=traefik@server:*\"], env: [\"A=b\"], imageCache: false, privileged: false }\n",
            "argocd: { version: v3.5.1, namespace: argocd, ui: { port: 9090 }, components: [dex] }\n",
            "gitops: { repo: https://example.com/x.git, revision: main, path: apps, credentials: { usernameEnv: U, passwordEnv: P } }\n",
            "keep: { secrets: [ { namespace: default, name: token }, { namespace: kube-system, selector: app=x } ] }\n",
        ] {
            let yaml = format!("{HEAD}{tail}");
            crate::config::parse(&yaml, Path::new("/lab/playground.yaml"))
                .unwrap_or_else(|e| panic!("{yaml}: {e}"));
            check(&yaml).unwrap_or_else(|e| panic!("{yaml}: {e:?}"));
        }
    }
}
