//! `playground init --from-k3d FILE`: a k3d `Simple` config (`k3d.io/v1alpha4` or
//! `k3d.io/v1alpha5`) converted into a `playground.yaml`.
//!
//! Pure: [`convert`] takes the k3d file's text, its path (for messages) and the sample lab
//! file (for its schema line and `gitops:` section), and returns the new lab file's text with
//! what could not be converted. The caller reads and writes files.
//!
//! The flow:
//! 1. the text is read into a tree of YAML nodes that keeps every node's line and column
//!    (serde-saphyr's [`Spanned`]); any key is accepted, since we convert rather than check;
//! 2. `apiVersion` and `kind` are checked (refused at their line:col);
//! 3. each key k3d documents with an equivalent is converted (names from k3d's
//!    `pkg/config/v1alpha5/types.go`): `metadata.name` (made a valid [`LabName`]),
//!    `servers`, `agents`, `image`, `kubeAPI.hostIP`/`hostPort`, `ports`, `env`,
//!    `options.k3s.extraArgs` (one entry per node filter), `registries.create.hostPort` and
//!    an embedded `registries.config` (secrets as `${env:NAME}`, TLS files listed).
//!    Every other key, k3d's or unknown, is an [`Unmapped`] entry with its path and place:
//!    nothing is dropped silently;
//! 4. the lab file is written line by line, each line remembering the k3d node it came from,
//!    and parsed with the lab-file parser. Its verdict is the authority: an entry it refuses
//!    (a port without a host port, a filter naming an absent node, …) is reported at the k3d
//!    file's line:col, with the parser's own message and hint.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use super::file::line_col;
use super::filter::parse_filter;
use super::model::{DEFAULT_ARGOCD_UI_PORT, DEFAULT_LAB_NAME, NodeFilter};
use super::ports::parse_port;
use crate::diag::Located;
use crate::lab::{LabName, MAX_NAME_LEN};

/// The k3d config versions this converter reads.
pub(crate) const K3D_API_VERSIONS: [&str; 2] = ["k3d.io/v1alpha4", "k3d.io/v1alpha5"];
/// The only k3d config kind it reads.
pub(crate) const K3D_KIND: &str = "Simple";

/// Why a k3d config could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum K3dError {
    /// The file could not be read (the caller reads it).
    #[error("{}: cannot read the k3d config: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not well-formed YAML.
    #[error(transparent)]
    Syntax(Located),
    /// Not a k3d `Simple` config of a version we read, or a value that has no valid
    /// conversion (reported where it is in the k3d file).
    #[error(transparent)]
    Invalid(Located),
    /// The converted file does not parse at a line with no k3d origin: a bug here.
    #[error("the converted lab file is not valid: {0}")]
    Converted(#[source] super::ConfigError),
}

impl crate::diag::Hinted for K3dError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Syntax(l) | Self::Invalid(l) => l.hint(),
            Self::Converted(e) => e.hint(),
            Self::Io { .. } => None,
        }
    }
}

/// The k3d file is bad input; a conversion the lab file rules refuse is our failure.
impl crate::diag::Classified for K3dError {
    fn kind(&self) -> crate::diag::Kind {
        match self {
            Self::Converted(_) => crate::diag::Kind::Failed,
            _ => crate::diag::Kind::Usage,
        }
    }
}

/// A key of the k3d file that has no equivalent in `playground.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unmapped {
    /// Its path in the k3d file, e.g. `kubeAPI.host` or `ports[1].nodeFilters[0]`.
    pub(crate) path: String,
    /// 1-based.
    pub(crate) line: u32,
    /// 1-based.
    pub(crate) column: u32,
    /// Why it was not converted.
    pub(crate) why: String,
}

/// `path (line N): why`, as in the comment block of the written file.
impl fmt::Display for Unmapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (line {}): {}", self.path, self.line, self.why)
    }
}

/// A converted k3d config.
#[derive(Debug, Clone)]
pub(crate) struct Converted {
    /// The new `playground.yaml`, whole.
    pub(crate) yaml: String,
    /// The lab's name.
    pub(crate) name: LabName,
    /// The k3d `apiVersion` read.
    pub(crate) api_version: String,
    /// What was not converted, in file order.
    pub(crate) unmapped: Vec<Unmapped>,
    /// Changes made on the way that the user should know of (a name made valid, the Argo
    /// CD UI moved off a taken port, …), one sentence each.
    pub(crate) notes: Vec<String>,
}

/// Why keys with no equivalent are left out.
const NO_EQUIVALENT: &str = "no equivalent in playground.yaml";
/// Why unknown keys are left out.
const NOT_K3D: &str = "not a key of k3d's Simple config";
/// k3d's keys (v1alpha4 and v1alpha5), dot-separated without list indices; a key below one of
/// these is k3d's too. The converted ones are handled before this list is consulted.
const K3D_KEYS: &[&str] = &[
    "metadata.name",
    "servers",
    "agents",
    "kubeAPI.host",
    "kubeAPI.hostIP",
    "kubeAPI.hostPort",
    "image",
    "network",
    "subnet",
    "token",
    "volumes",
    "ports",
    "env",
    "options.k3d.wait",
    "options.k3d.timeout",
    "options.k3d.disableLoadbalancer",
    "options.k3d.disableImageVolume",
    "options.k3d.disableRollback",
    "options.k3d.nodeHookActions",
    "options.k3d.loadbalancer.configOverrides",
    "options.k3s.extraArgs",
    "options.k3s.nodeLabels",
    "options.kubeconfig.updateDefaultKubeconfig",
    "options.kubeconfig.switchCurrentContext",
    "options.runtime.gpuRequest",
    "options.runtime.serversMemory",
    "options.runtime.agentsMemory",
    "options.runtime.hostPidMode",
    "options.runtime.labels",
    "registries.create.name",
    "registries.create.host",
    "registries.create.hostPort",
    "registries.create.image",
    "registries.create.proxy",
    "registries.create.volumes",
    "registries.use",
    "registries.config",
    "hostAliases",
];
/// Keys only `k3d.io/v1alpha5` has.
const K3D_V1ALPHA5_KEYS: &[&str] = &["files", "manifests", "options.runtime.ulimits"];

/// Converts the k3d config `text` (read from `origin`, named in messages) into a lab file.
/// `sample` is the sample lab's `playground.yaml`: the result keeps its first line (the
/// schema comment) and its `gitops:` section. See the module docs.
pub(crate) fn convert(text: &str, origin: &Path, sample: &str) -> Result<Converted, K3dError> {
    let root: Spanned<Node> = serde_saphyr::from_str(text).map_err(|e| {
        let located = super::yaml_error(&e, text, origin)
            .located()
            .cloned()
            .unwrap_or_else(|| at(origin, Location::UNKNOWN, e.to_string(), None));
        K3dError::Syntax(located)
    })?;
    let mut c = Conversion {
        origin,
        v1alpha5: false,
        unmapped: Vec::new(),
        notes: Vec::new(),
        out: Emitter::default(),
    };
    let Node::Map(top) = &root.value else {
        return Err(K3dError::Invalid(at(
            origin,
            root.referenced,
            "not a k3d config: expected a mapping of keys".to_string(),
            Some(header_hint()),
        )));
    };
    let api_version = c.header(top, root.referenced)?;
    c.v1alpha5 = api_version == "k3d.io/v1alpha5";

    // The counts and the name are read up front: they come first in the lab file.
    let servers = c.count(top, "servers");
    let agents = c.count(top, "agents");
    let raw_name = get(top, "metadata").and_then(|m| match &m.value {
        Node::Map(m) => get(m, "name"),
        _ => None,
    });
    let name = c.name(raw_name);

    let first_line = sample.lines().next().unwrap_or_default();
    let file_name = origin.file_name().map_or_else(
        || origin.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    c.out.line(first_line, None);
    c.out.line(
        &format!("# Converted by `playground init --from-k3d` from {file_name} ({api_version})."),
        None,
    );
    let comments_at = c.out.lines.len();
    c.out.line("apiVersion: playground.dev/v1alpha1", None);
    c.out.line("kind: Playground", None);
    c.out.line("metadata:", None);
    c.out
        .line(&format!("  name: {name}"), raw_name.map(|n| n.referenced));
    c.out.line("cluster:", None);

    let mut host_ports: Vec<u16> = Vec::new();
    let mut loopback_default = false;
    let mut ports_out = Vec::new();
    let mut args_out = Vec::new();
    let mut env_out = Vec::new();
    let mut api_out = Vec::new();
    let mut image_out = None;
    let mut registry_out = None;
    let mut registries_out = None;

    for (key, node) in top {
        match key.as_str() {
            "apiVersion" | "kind" | "servers" | "agents" => {}
            "metadata" => c.metadata(node),
            "image" => image_out = c.image(node),
            "kubeAPI" => {
                api_out = c.kube_api(node, &mut host_ports);
            }
            "ports" => {
                ports_out.extend(for_entries(&mut c, node, "ports", |c, path, entry| {
                    c.filtered(path, entry, "port", FilterUse::Ports)
                }));
            }
            "env" => {
                env_out.extend(for_entries(&mut c, node, "env", |c, path, entry| {
                    c.filtered(path, entry, "envVar", FilterUse::Env)
                }));
            }
            "options" => c.options(node, &mut args_out),
            "registries" => {
                let r = c.registries(node);
                (registry_out, registries_out) = (r.port, r.config);
            }
            _ => c.unmapped_tree(key, node),
        }
    }

    // k3d publishes the API on 0.0.0.0 unless told otherwise.
    loopback_default |= !api_out.iter().any(|(k, _, _)| *k == "host");
    // Host ports the lab's ports take, for the Argo CD UI's port.
    for (text, _) in &ports_out {
        if let Ok(mapping) = parse_port(text) {
            host_ports.push(mapping.host_port);
            // `HOST_PORT:CONTAINER_PORT`, no address.
            let spec = text.split(['@', '/']).next().unwrap_or_default();
            loopback_default |= !spec.starts_with('[') && spec.matches(':').count() == 1;
        }
    }
    if let Some(p) = registry_out
        .as_ref()
        .and_then(|(port, _)| port.parse::<u16>().ok())
    {
        host_ports.push(p);
    }

    if let Some((image, at)) = image_out {
        c.out.line(&format!("  image: {}", quote(&image)), Some(at));
    }
    c.out.line(
        &format!(
            "  servers: {}",
            servers.as_ref().map_or("1".into(), |s| scalar(&s.0))
        ),
        servers.as_ref().map(|s| s.1),
    );
    c.out.line(
        &format!(
            "  agents: {}",
            agents.as_ref().map_or("0".into(), |s| scalar(&s.0))
        ),
        agents.as_ref().map(|s| s.1),
    );
    if !api_out.is_empty() {
        c.out.line("  api:", None);
        for (key, value, at) in &api_out {
            c.out.line(&format!("    {key}: {value}"), Some(*at));
        }
    }
    for (section, entries) in [
        ("ports", &ports_out),
        ("k3sArgs", &args_out),
        ("env", &env_out),
    ] {
        if entries.is_empty() {
            continue;
        }
        c.out.line(&format!("  {section}:"), None);
        for (text, at) in entries {
            c.out.line(&format!("    - {}", quote(text)), Some(*at));
        }
    }
    if let Some((port, at)) = &registry_out {
        c.out.line("  registry:", None);
        c.out
            .line(&format!("    port: {}", scalar(port)), Some(*at));
    }
    if let Some((lines, at)) = &registries_out {
        c.out.line("  registries:", Some(*at));
        for line in lines {
            c.out.line(&format!("    {line}"), Some(*at));
        }
    }

    // The Argo CD UI is forwarded to 127.0.0.1:8080 by default: a k3d port there would make
    // `up` refuse the lab.
    if host_ports.contains(&DEFAULT_ARGOCD_UI_PORT) {
        let free = (DEFAULT_ARGOCD_UI_PORT + 1..=u16::MAX)
            .find(|p| !host_ports.contains(p))
            .unwrap_or(DEFAULT_ARGOCD_UI_PORT);
        c.out.line("argocd:", None);
        c.out.line(
            &format!(
                "  # {DEFAULT_ARGOCD_UI_PORT}, the Argo CD UI's default port, is taken by a port of the k3d config."
            ),
            None,
        );
        c.out.line("  ui:", None);
        c.out.line(&format!("    port: {free}"), None);
        c.notes.push(format!(
            "host port {DEFAULT_ARGOCD_UI_PORT} is the Argo CD UI's default, and the k3d config publishes it: \
             the UI goes to {free} (argocd.ui.port)"
        ));
    }
    for line in gitops_section(sample) {
        c.out.line(line, None);
    }
    if loopback_default {
        c.notes.push(
            "addresses the k3d config leaves out are 127.0.0.1 here (k3d binds 0.0.0.0); \
             write 0.0.0.0 to reach them from other machines"
                .to_string(),
        );
    }

    // The comment block naming what was not converted, below the schema and origin lines.
    let mut block = Vec::new();
    if !c.unmapped.is_empty() {
        block.push(format!("# Not converted from {file_name}:"));
        for u in &c.unmapped {
            block.push(format!("#   {u}"));
        }
    }
    for note in &c.notes {
        block.push(format!("# Note: {note}."));
    }
    c.out.insert(comments_at, block);

    let yaml = c.out.text();
    c.out.check(&yaml, origin)?;
    Ok(Converted {
        yaml,
        name,
        api_version,
        unmapped: c.unmapped,
        notes: c.notes,
    })
}

/// A YAML node with the place of every node below it.
#[derive(Debug)]
enum Node {
    Null,
    Scalar(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(String, Spanned<Node>)>),
}

impl Node {
    fn is_empty(&self) -> bool {
        match self {
            Node::Null => true,
            Node::Scalar(_) => false,
            Node::Seq(v) => v.is_empty(),
            Node::Map(m) => m.is_empty(),
        }
    }

    /// A scalar's text.
    fn text(&self) -> Option<&str> {
        match self {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de> de::Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Scalar(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Scalar(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Scalar(v.to_string()))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
                Ok(Node::Scalar(v.to_string()))
            }
            fn visit_u128<E>(self, v: u128) -> Result<Node, E> {
                Ok(Node::Scalar(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Scalar(v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Scalar(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Scalar(v))
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                de::Deserialize::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<Node>>()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Node>()? {
                    let key = match key {
                        Node::Scalar(s) => s,
                        Node::Null => "null".to_string(),
                        _ => "?".to_string(),
                    };
                    entries.push((key, map.next_value::<Spanned<Node>>()?));
                }
                Ok(Node::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

type Map = [(String, Spanned<Node>)];

fn get<'a>(map: &'a Map, key: &str) -> Option<&'a Spanned<Node>> {
    map.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// A located problem in `origin`.
fn at(origin: &Path, location: Location, message: String, hint: Option<String>) -> Located {
    let (line, column) = line_col(location);
    Located {
        path: origin.to_path_buf(),
        line,
        column,
        message,
        hint,
    }
}

fn header_hint() -> String {
    format!(
        "a k3d config starts with `apiVersion: {}` (or {}) and `kind: {K3D_KIND}`",
        K3D_API_VERSIONS[1], K3D_API_VERSIONS[0]
    )
}

/// A YAML double-quoted scalar (JSON's string syntax is YAML's).
fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("a string is JSON")
}

/// Digits as they are (a number), anything else quoted, so a value of the wrong type reaches
/// the lab parser as a string and is refused there, at its place.
fn scalar(text: &str) -> String {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.to_string()
    } else {
        quote(text)
    }
}

/// The variable a registry's secret is read from when the k3d config held it in clear:
/// `REGISTRY_<HOST>_<FIELD>`, the host's other characters as `_` (`ghcr.io` → `REGISTRY_GHCR_IO_PASSWORD`).
fn registry_variable(host: &str, field: &str) -> String {
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("REGISTRY_{host}_{}", field.to_ascii_uppercase())
}

/// `name` made a valid [`LabName`]: lowercase, runs of other characters as one `-`, starting
/// with a letter, at most [`MAX_NAME_LEN`] characters; the default name if nothing is left.
pub(crate) fn lab_name(name: &str) -> LabName {
    let mut out = String::new();
    for c in name.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let start = out
        .find(|c: char| c.is_ascii_lowercase())
        .unwrap_or(out.len());
    let mut out: String = out[start..].chars().take(MAX_NAME_LEN).collect();
    while out.ends_with('-') {
        out.pop();
    }
    LabName::parse(&out).unwrap_or_else(|_| LabName::parse(DEFAULT_LAB_NAME).expect("valid"))
}

/// The sample's `gitops:` section: its line and the indented or blank lines below it.
fn gitops_section(sample: &str) -> Vec<&str> {
    let mut lines = sample.lines().skip_while(|l| !l.starts_with("gitops:"));
    let mut out: Vec<&str> = lines.next().into_iter().collect();
    out.extend(lines.take_while(|l| l.starts_with(' ') || l.trim().is_empty()));
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    out
}

/// Which list an entry with node filters is from: ports take `loadbalancer`; k3s args and
/// env are for k3s nodes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FilterUse {
    Ports,
    K3sArg,
    Env,
}

/// Calls `each` for every mapping in the list `node` (at `path`), collecting what it returns;
/// anything else in the list is unmapped.
fn for_entries(
    c: &mut Conversion,
    node: &Spanned<Node>,
    path: &str,
    mut each: impl FnMut(&mut Conversion, &str, &Map) -> Vec<(String, Location)>,
) -> Vec<(String, Location)> {
    let mut out = Vec::new();
    match &node.value {
        Node::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("{path}[{i}]");
                match &item.value {
                    Node::Map(entry) => out.extend(each(c, &path, entry)),
                    _ => c.unmapped(&path, item.referenced, "expected a mapping"),
                }
            }
        }
        Node::Null => {}
        _ => c.unmapped(path, node.referenced, "expected a list"),
    }
    out
}

/// The output lines, each with the k3d node it came from.
#[derive(Default)]
struct Emitter {
    lines: Vec<(String, Option<Location>)>,
}

impl Emitter {
    fn line(&mut self, text: &str, from: Option<Location>) {
        self.lines.push((text.to_string(), from));
    }

    fn insert(&mut self, at: usize, block: Vec<String>) {
        let block = block.into_iter().map(|l| (l, None));
        self.lines.splice(at..at, block);
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for (line, _) in &self.lines {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Parses the result with the lab-file parser; its error is moved to the k3d node the
    /// offending line came from.
    fn check(&self, yaml: &str, origin: &Path) -> Result<(), K3dError> {
        let virtual_origin = Path::new("/playground/playground.yaml");
        let Err(e) = super::parse_with_env(yaml, virtual_origin, &|_| None) else {
            return Ok(());
        };
        let from = e
            .position()
            .and_then(|(line, _)| self.lines.get((line as usize).checked_sub(1)?))
            .and_then(|(text, from)| Some((text.trim(), (*from)?)));
        match (from, e.located()) {
            (Some((text, from)), Some(l)) => Err(K3dError::Invalid(at(
                origin,
                from,
                format!("{} (converted to `{text}`)", l.message),
                l.hint.clone(),
            ))),
            _ => Err(K3dError::Converted(e)),
        }
    }
}

/// What k3d's `registries` converts into, each with its place in the k3d file.
#[derive(Default)]
struct Registries {
    /// `registries.create.hostPort`: the lab registry's port.
    port: Option<(String, Location)>,
    /// An embedded `registries.config`: the lines of `cluster.registries`.
    config: Option<(Vec<String>, Location)>,
}

struct Conversion<'a> {
    origin: &'a Path,
    /// Whether the file is `k3d.io/v1alpha5` (which has a few more keys).
    v1alpha5: bool,
    unmapped: Vec<Unmapped>,
    notes: Vec<String>,
    out: Emitter,
}

impl Conversion<'_> {
    fn unmapped(&mut self, path: &str, location: Location, why: &str) {
        let (line, column) = line_col(location);
        self.unmapped.push(Unmapped {
            path: path.to_string(),
            line,
            column,
            why: why.to_string(),
        });
    }

    /// `apiVersion` and `kind`, checked; the apiVersion read.
    fn header(&self, top: &Map, doc: Location) -> Result<String, K3dError> {
        let refuse = |location: Location, message: String| {
            K3dError::Invalid(at(self.origin, location, message, Some(header_hint())))
        };
        let api = get(top, "apiVersion")
            .ok_or_else(|| refuse(doc, "not a k3d config: no `apiVersion`".to_string()))?;
        let version = api.value.text().unwrap_or_default();
        if !K3D_API_VERSIONS.contains(&version) {
            return Err(refuse(
                api.referenced,
                format!(
                    "unsupported k3d apiVersion `{version}`: this converter reads {} and {}",
                    K3D_API_VERSIONS[0], K3D_API_VERSIONS[1]
                ),
            ));
        }
        let kind = get(top, "kind")
            .ok_or_else(|| refuse(doc, "not a k3d Simple config: no `kind`".to_string()))?;
        let kind_text = kind.value.text().unwrap_or_default();
        if kind_text != K3D_KIND {
            return Err(refuse(
                kind.referenced,
                format!(
                    "unsupported k3d kind `{kind_text}`: only `kind: {K3D_KIND}` (a single cluster) converts"
                ),
            ));
        }
        Ok(version.to_string())
    }

    /// `servers`/`agents`: the text and its place, `None` when absent (k3d's default).
    fn count(&mut self, top: &Map, key: &str) -> Option<(String, Location)> {
        let node = get(top, key)?;
        match &node.value {
            Node::Scalar(s) => Some((s.clone(), node.referenced)),
            Node::Null => None,
            // A list or mapping: quoted, the lab parser refuses it at this place.
            _ => Some((format!("{key}?"), node.referenced)),
        }
    }

    /// The lab name from `metadata.name`.
    fn name(&mut self, raw: Option<&Spanned<Node>>) -> LabName {
        let Some(raw) = raw.and_then(|n| n.value.text()) else {
            self.notes.push(format!(
                "the k3d config names no cluster: the lab is named {DEFAULT_LAB_NAME}"
            ));
            return LabName::parse(DEFAULT_LAB_NAME).expect("valid");
        };
        let name = lab_name(raw);
        if name != raw {
            self.notes.push(format!(
                "the k3d cluster name `{raw}` is not a lab name: the lab is named {name}"
            ));
        }
        name
    }

    fn metadata(&mut self, node: &Spanned<Node>) {
        match &node.value {
            Node::Map(m) => {
                for (k, v) in m {
                    if k != "name" {
                        self.unmapped_tree(&format!("metadata.{k}"), v);
                    }
                }
            }
            _ => self.unmapped_tree("metadata", node),
        }
    }

    fn image(&mut self, node: &Spanned<Node>) -> Option<(String, Location)> {
        let Some(image) = node.value.text() else {
            self.unmapped_tree("image", node);
            return None;
        };
        // k3d resolves these against the k3s release channels when it creates the cluster.
        if image == "latest" || image == "stable" || image.starts_with('+') {
            self.unmapped(
                "image",
                node.referenced,
                "a k3s release channel, resolved by k3d; name an image instead (the default is a tested k3s release)",
            );
            return None;
        }
        Some((image.to_string(), node.referenced))
    }

    /// `kubeAPI`: `(key, YAML value, origin)` lines for `cluster.api`.
    fn kube_api(
        &mut self,
        node: &Spanned<Node>,
        host_ports: &mut Vec<u16>,
    ) -> Vec<(&'static str, String, Location)> {
        let mut out = Vec::new();
        let Node::Map(m) = &node.value else {
            self.unmapped_tree("kubeAPI", node);
            return out;
        };
        for (k, v) in m {
            match (k.as_str(), v.value.text()) {
                ("hostIP", Some(ip)) => out.push(("host", quote(ip), v.referenced)),
                ("hostPort", Some(port)) => {
                    if let Ok(p) = port.parse::<u16>() {
                        host_ports.push(p);
                    }
                    out.push(("port", scalar(port), v.referenced));
                }
                ("host", Some(_)) => self.unmapped(
                    "kubeAPI.host",
                    v.referenced,
                    "the kubeconfig reaches the API at cluster.api.host, an IP address",
                ),
                _ => self.unmapped_tree(&format!("kubeAPI.{k}"), v),
            }
        }
        out
    }

    /// One entry of `ports`, `env` or `options.k3s.extraArgs`: `value` plus `nodeFilters`,
    /// as one `VALUE@FILTER` per filter, each with the place the lab parser's verdict on it
    /// belongs to: the value's when the value alone is wrong, else the filter's.
    fn filtered(
        &mut self,
        path: &str,
        entry: &Map,
        value_key: &str,
        usage: FilterUse,
    ) -> Vec<(String, Location)> {
        let mut value = None;
        let mut filters = Vec::new();
        for (k, v) in entry {
            match (k.as_str(), &v.value) {
                (k, Node::Scalar(s)) if k == value_key => value = Some((s.clone(), v.referenced)),
                ("nodeFilters", Node::Seq(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        match item.value.text() {
                            Some(f) => filters.push((f.to_string(), item.referenced, i)),
                            None => self.unmapped(
                                &format!("{path}.nodeFilters[{i}]"),
                                item.referenced,
                                "expected a node filter",
                            ),
                        }
                    }
                }
                ("nodeFilters", Node::Null) => {}
                ("nodeFilters", _) => self.unmapped_tree(&format!("{path}.{k}"), v),
                // An entry has only its value and `nodeFilters`.
                _ if !v.value.is_empty() => {
                    self.unmapped(&format!("{path}.{k}"), v.referenced, NOT_K3D)
                }
                _ => {}
            }
        }
        let Some((value, value_at)) = value else {
            if let Some((_, first, _)) = filters.first() {
                self.unmapped(
                    path,
                    *first,
                    &format!("node filters without a `{value_key}`"),
                );
            }
            return Vec::new();
        };
        if filters.is_empty() {
            // No filter: k3d sends a port to the load balancer, as the lab file does.
            return vec![(value, value_at)];
        }
        let value_ok = match usage {
            FilterUse::Ports => parse_port(&value).is_ok() && !value.contains('@'),
            FilterUse::K3sArg => !value.is_empty(),
            FilterUse::Env => value
                .split_once('=')
                .is_some_and(|(key, _)| super::file::is_env_name(key)),
        };
        let mut out = Vec::new();
        for (filter, filter_at, i) in filters {
            if usage != FilterUse::Ports && parse_filter(&filter) == Ok(NodeFilter::LoadBalancer) {
                self.unmapped(
                    &format!("{path}.nodeFilters[{i}]"),
                    filter_at,
                    "the load balancer runs no k3s: k3s arguments and environment apply to servers and agents",
                );
                continue;
            }
            let place = if value_ok { filter_at } else { value_at };
            out.push((format!("{value}@{filter}"), place));
        }
        out
    }

    fn options(&mut self, node: &Spanned<Node>, args_out: &mut Vec<(String, Location)>) {
        let Node::Map(m) = &node.value else {
            return self.unmapped_tree("options", node);
        };
        for (k, v) in m {
            match (k.as_str(), &v.value) {
                ("k3s", Node::Map(k3s)) => {
                    for (k, v) in k3s {
                        if k == "extraArgs" {
                            let path = "options.k3s.extraArgs";
                            args_out.extend(for_entries(self, v, path, |c, path, entry| {
                                c.filtered(path, entry, "arg", FilterUse::K3sArg)
                            }));
                        } else {
                            self.unmapped_tree(&format!("options.k3s.{k}"), v);
                        }
                    }
                }
                _ => self.unmapped_tree(&format!("options.{k}"), v),
            }
        }
    }

    /// `registries.create.hostPort` → the lab registry's port, and `registries.config` (an
    /// embedded `registries.yaml`) → `cluster.registries`' lines; each with its place.
    fn registries(&mut self, node: &Spanned<Node>) -> Registries {
        let Node::Map(m) = &node.value else {
            self.unmapped_tree("registries", node);
            return Registries::default();
        };
        let mut out = None;
        let mut config = None;
        for (k, v) in m {
            match (k.as_str(), &v.value) {
                ("create", Node::Map(create)) => {
                    let port = get(create, "hostPort")
                        .and_then(|p| Some((p.value.text()?.to_string(), p.referenced)));
                    if port.is_none() {
                        self.unmapped(
                            "registries.create",
                            v.referenced,
                            "no hostPort: the lab registry needs a fixed port (`cluster.registry: { port: PORT }`)",
                        );
                    }
                    for (k, v) in create {
                        match k.as_str() {
                            "hostPort" if port.is_some() => {}
                            "host" => self.unmapped(
                                "registries.create.host",
                                v.referenced,
                                "the lab registry listens on 127.0.0.1",
                            ),
                            "name" => self.unmapped(
                                "registries.create.name",
                                v.referenced,
                                "the lab registry is named localhost:PORT",
                            ),
                            _ => self.unmapped_tree(&format!("registries.create.{k}"), v),
                        }
                    }
                    out = port;
                }
                ("config", Node::Scalar(text)) => {
                    config = self
                        .registries_config(text, v.referenced)
                        .map(|lines| (lines, v.referenced));
                }
                _ => self.unmapped_tree(&format!("registries.{k}"), v),
            }
        }
        Registries { port: out, config }
    }

    /// k3d's `registries.config`: a `registries.yaml` embedded as a multi-line string, or the
    /// path of one (k3d `pkg/config/transform.go`: a string with a newline is the file's
    /// content, any other a path). The embedded one becomes `cluster.registries`, which has
    /// k3s's shape, with two changes the lab file needs:
    /// - a secret (`auth.password`, `auth.auth`, `auth.identity_token`) becomes
    ///   `${env:NAME}`: a lab file goes into Git and names secrets, never holds them. A value
    ///   that is itself a variable reference (`$NAME`, `${NAME}`) keeps naming that variable;
    ///   a literal one is dropped, never echoed, and a note says which variable to set;
    /// - a TLS file (`ca_file`, `cert_file`, `key_file`) is a path inside k3d's nodes (mounted
    ///   with `volumes`), where playground binds a file of this machine: it is listed, not
    ///   converted.
    ///
    /// A path is listed with the same hint: the converter reads no other file.
    fn registries_config(&mut self, text: &str, at: Location) -> Option<Vec<String>> {
        if !text.contains('\n') {
            self.unmapped(
                "registries.config",
                at,
                "a registries.yaml file k3d reads: copy its entries under cluster.registries (the same shape, k3s's)",
            );
            return None;
        }
        // Parsed without quoting the text back: it may hold a password.
        let Ok(serde_json::Value::Object(mut doc)) = serde_saphyr::from_str(text) else {
            self.unmapped(
                "registries.config",
                at,
                "not a registries.yaml mapping (mirrors, configs): copy the entries under cluster.registries by hand",
            );
            return None;
        };
        for key in doc
            .keys()
            .filter(|k| !matches!(k.as_str(), "mirrors" | "configs"))
        {
            self.unmapped(&format!("registries.config: {key}"), at, NO_EQUIVALENT);
        }
        doc.retain(|k, _| matches!(k.as_str(), "mirrors" | "configs"));
        if let Some(serde_json::Value::Object(configs)) = doc.get_mut("configs") {
            for (host, config) in configs.iter_mut() {
                self.registry_secrets(host, config);
                self.registry_files(host, config, at);
            }
        }
        if doc.is_empty() {
            return None;
        }
        let yaml = serde_saphyr::to_string(&doc).ok()?;
        Some(yaml.lines().map(str::to_string).collect())
    }

    /// The secrets of `configs.<host>.auth`, made `${env:NAME}` (see [`Self::registries_config`]).
    fn registry_secrets(&mut self, host: &str, config: &mut serde_json::Value) {
        let Some(auth) = config.get_mut("auth").and_then(|a| a.as_object_mut()) else {
            return;
        };
        for field in ["password", "auth", "identity_token"] {
            let Some(value) = auth.get(field).and_then(|v| v.as_str()) else {
                continue;
            };
            let named = value
                .strip_prefix("${")
                .and_then(|v| v.strip_suffix('}'))
                .or_else(|| value.strip_prefix('$'))
                .filter(|v| super::file::is_env_name(v));
            let var = match named {
                Some(var) => var.to_string(),
                None => {
                    let var = registry_variable(host, field);
                    self.notes.push(format!(
                        "the k3d config holds the {field} of registry {host} in clear; the lab file names \
                         ${{env:{var}}} instead: export {var} before `playground up`"
                    ));
                    var
                }
            };
            auth.insert(field.to_string(), format!("${{env:{var}}}").into());
        }
    }

    /// The TLS files of `configs.<host>.tls`, listed and left out (see [`Self::registries_config`]).
    fn registry_files(&mut self, host: &str, config: &mut serde_json::Value, at: Location) {
        let Some(tls) = config.get_mut("tls").and_then(|t| t.as_object_mut()) else {
            return;
        };
        for field in ["ca_file", "cert_file", "key_file"] {
            if tls.remove(field).is_some() {
                self.unmapped(
                    &format!("registries.config: configs.{host}.tls.{field}"),
                    at,
                    &format!("a path in k3d's nodes; name the file on this machine at cluster.registries.configs.{host}.tls.{field} (playground binds it into the nodes)"),
                );
            }
        }
        if tls.is_empty()
            && let Some(c) = config.as_object_mut()
        {
            c.remove("tls");
        }
    }

    /// Lists `node` at `path` as unmapped: a mapping key by key, anything else whole. An
    /// empty value carries nothing and is not listed.
    fn unmapped_tree(&mut self, path: &str, node: &Spanned<Node>) {
        let v1alpha5 = self.v1alpha5;
        if node.value.is_empty() {
            return;
        }
        if let Node::Map(m) = &node.value
            && !is_k3d_leaf(path, v1alpha5)
        {
            for (k, v) in m {
                self.unmapped_tree(&format!("{path}.{k}"), v);
            }
            return;
        }
        let why = if is_k3d_key(path, v1alpha5) {
            NO_EQUIVALENT
        } else {
            NOT_K3D
        };
        self.unmapped(path, node.referenced, why);
    }
}

/// The path without list indices: `ports[0].foo` → `ports.foo`.
fn normalized(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            _ if !in_index => out.push(c),
            _ => {}
        }
    }
    out
}

fn k3d_keys(v1alpha5: bool) -> impl Iterator<Item = &'static str> {
    let v5: &[&str] = if v1alpha5 { K3D_V1ALPHA5_KEYS } else { &[] };
    K3D_KEYS.iter().chain(v5).copied()
}

/// Whether `path` is one of k3d's keys or below one.
fn is_k3d_key(path: &str, v1alpha5: bool) -> bool {
    let path = normalized(path);
    k3d_keys(v1alpha5)
        .any(|k| path == k || (path.starts_with(k) && path[k.len()..].starts_with('.')))
}

/// Whether `path` is exactly one of k3d's keys (listed whole, e.g. `registries.create.proxy`).
fn is_k3d_leaf(path: &str, v1alpha5: bool) -> bool {
    let path = normalized(path);
    k3d_keys(v1alpha5).any(|k| path == k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{NodeFilter, Selection};

    /// The seed user's k3d config (tests/fixtures/seed, MIT; see its header).
    const SEED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/seed/k3d-config.yml"
    ));

    fn sample() -> &'static str {
        crate::repo::sample::FILES
            .iter()
            .find(|(p, _)| *p == crate::repo::sample::LAB_FILE)
            .unwrap()
            .1
    }

    fn convert(text: &str) -> Result<Converted, K3dError> {
        super::convert(text, Path::new("k3d.yml"), sample())
    }

    /// The converted file, through the lab-file parser.
    fn lab(converted: &Converted) -> crate::config::Lab {
        crate::config::parse(&converted.yaml, Path::new("/lab/playground.yaml"))
            .unwrap_or_else(|e| panic!("{e}\n{}", converted.yaml))
    }

    fn paths(converted: &Converted) -> Vec<&str> {
        converted.unmapped.iter().map(|u| u.path.as_str()).collect()
    }

    fn refused(text: &str) -> Located {
        match convert(text) {
            Err(K3dError::Invalid(l) | K3dError::Syntax(l)) => l,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn converts_the_seed_config() {
        let converted = convert(SEED).unwrap();
        assert_eq!(converted.api_version, "k3d.io/v1alpha5");
        let lab = lab(&converted);
        assert_eq!(lab.name, "playground");
        assert_eq!(converted.name, lab.name);
        assert_eq!((lab.cluster.servers, lab.cluster.agents), (1, 3));
        assert_eq!(lab.cluster.api.host.to_string(), "127.0.0.1");
        assert_eq!(lab.cluster.api.port, Some(6445));
        assert_eq!(lab.cluster.ports.len(), 1);
        let port = &lab.cluster.ports[0];
        assert_eq!((port.host_port, port.container_port), (8080, 80));
        assert_eq!(port.target, NodeFilter::LoadBalancer);
        assert!(converted.yaml.contains("    - \"8080:80@loadbalancer\"\n"));
        assert_eq!(lab.cluster.k3s_args.len(), 1);
        assert_eq!(lab.cluster.k3s_args[0].value, "--disable=traefik");
        assert_eq!(
            lab.cluster.k3s_args[0].filter,
            NodeFilter::Servers(Selection::Indices(vec![0]))
        );
        assert!(
            converted
                .yaml
                .contains("    - \"--disable=traefik@server:0\"\n")
        );
        // No image in the k3d file: the tested default.
        assert_eq!(lab.cluster.image, crate::config::DEFAULT_K3S_IMAGE);

        // kubeAPI.host is listed, at its place, and in the file's comments.
        assert_eq!(paths(&converted), ["kubeAPI.host"]);
        let host = &converted.unmapped[0];
        assert_eq!((host.line, host.column), (15, 9), "{host:?}");
        assert!(
            converted.yaml.contains("#   kubeAPI.host (line 15): "),
            "{}",
            converted.yaml
        );

        // 8080 on the load balancer: the Argo CD UI moves to 8081, and says so.
        assert_eq!(lab.argocd.ui.port, 8081);
        assert!(
            converted.notes.iter().any(|n| n.contains("8081")),
            "{:?}",
            converted.notes
        );

        // The sample's schema line first, its gitops section kept.
        let first = converted.yaml.lines().next().unwrap();
        assert_eq!(first, sample().lines().next().unwrap());
        assert!(first.starts_with("# yaml-language-server: $schema="));
        assert_eq!(lab.gitops.path, "apps");
        assert_eq!(lab.gitops.revision, "HEAD");
        assert!(converted.yaml.contains("\ngitops:\n"));
    }

    #[test]
    fn converts_a_v1alpha4_config() {
        let text = "\
apiVersion: k3d.io/v1alpha4
kind: Simple
metadata:
  name: My_Cluster.dev
servers: 3
agents: 2
image: rancher/k3s:v1.30.4-k3s1
kubeAPI:
  hostIP: 0.0.0.0
  hostPort: 6550
ports:
  - port: 127.0.0.1:9080:80
    nodeFilters: [loadbalancer]
  - port: 30053:53/udp
    nodeFilters: [agent:1]
env:
  - envVar: FOO=bar
    nodeFilters: [server:*, agent:0, loadbalancer]
options:
  k3s:
    extraArgs:
      - arg: --tls-san=example.test
        nodeFilters: [server:*]
    nodeLabels:
      - label: tier=edge
        nodeFilters: [agent:1]
  k3d:
    wait: true
    timeout: 60s
  kubeconfig:
    updateDefaultKubeconfig: true
registries:
  create:
    name: registry.localhost
    hostPort: \"5005\"
  use: [other:5000]
volumes:
  - volume: /tmp/x:/x
    nodeFilters: [all]
network: shared
token: very-secret
files: []
";
        let converted = convert(text).unwrap();
        let lab = lab(&converted);
        assert_eq!(lab.name, "my-cluster-dev");
        assert!(converted.notes.iter().any(|n| n.contains("My_Cluster.dev")));
        assert_eq!((lab.cluster.servers, lab.cluster.agents), (3, 2));
        assert_eq!(lab.cluster.image, "rancher/k3s:v1.30.4-k3s1");
        assert_eq!(lab.cluster.api.host.to_string(), "0.0.0.0");
        assert_eq!(lab.cluster.api.port, Some(6550));
        let ports: Vec<_> = lab
            .cluster
            .ports
            .iter()
            .map(|p| (p.host_port, p.target.clone()))
            .collect();
        assert_eq!(
            ports,
            [
                (9080, NodeFilter::LoadBalancer),
                (30053, NodeFilter::Agents(Selection::Indices(vec![1])))
            ]
        );
        // One entry per node filter; the load balancer's is listed, not converted.
        let env: Vec<_> = lab
            .cluster
            .env
            .iter()
            .map(|e| e.filter.to_string())
            .collect();
        assert_eq!(env, ["@server:*", "@agent:0"]);
        assert_eq!(lab.cluster.env[0].value.key, "FOO");
        assert_eq!(lab.cluster.k3s_args[0].value, "--tls-san=example.test");
        assert_eq!(lab.cluster.registry.map(|r| r.port), Some(5005));
        assert_eq!(lab.argocd.ui.port, 8080, "nothing takes 8080");
        let listed = paths(&converted);
        for path in [
            "env[0].nodeFilters[2]",
            "options.k3s.nodeLabels",
            "options.k3d.wait",
            "options.k3d.timeout",
            "options.kubeconfig.updateDefaultKubeconfig",
            "registries.create.name",
            "registries.use",
            "volumes",
            "network",
            "token",
        ] {
            assert!(listed.contains(&path), "{path} not in {listed:?}");
        }
        // An empty list carries nothing; `files` is no v1alpha4 key anyway.
        assert!(!listed.contains(&"files"), "{listed:?}");
        // The token's value is not copied anywhere.
        assert!(!converted.yaml.contains("very-secret"));
    }

    #[test]
    fn refuses_another_kind_or_version_at_its_place() {
        let l = refused("apiVersion: k3d.io/v1alpha5\nkind: Cluster\nservers: 1\n");
        assert_eq!((l.line, l.column), (2, 7), "{l:?}");
        assert!(
            l.message.contains("unsupported k3d kind `Cluster`"),
            "{}",
            l.message
        );
        assert!(l.hint.unwrap().contains("kind: Simple"));
        assert_eq!(l.path, Path::new("k3d.yml"));

        let l = refused("kind: Simple\napiVersion: k3d.io/v1alpha3\n");
        assert_eq!((l.line, l.column), (2, 13), "{l:?}");
        assert!(
            l.message
                .contains("unsupported k3d apiVersion `k3d.io/v1alpha3`")
        );

        let l = refused("apiVersion: playground.dev/v1alpha1\nkind: Playground\n");
        assert_eq!((l.line, l.column), (1, 13));
        let l = refused("servers: 1\n");
        assert!(l.message.contains("no `apiVersion`"), "{}", l.message);
        let l = refused("- a\n");
        assert!(l.message.contains("not a k3d config"), "{}", l.message);
        assert!(matches!(convert("a: [\n"), Err(K3dError::Syntax(_))));
    }

    #[test]
    fn lists_unknown_keys_instead_of_failing() {
        let text = "apiVersion: k3d.io/v1alpha5\nkind: Simple\nmetadata: { name: lab }\n\
                    agentz: 2\noptions:\n  k3s:\n    extraArgs:\n      - arg: --x\n        nodeFilter: [all]\n";
        let converted = convert(text).unwrap();
        let unknown: Vec<_> = converted
            .unmapped
            .iter()
            .map(|u| (u.path.as_str(), u.line, u.why.as_str()))
            .collect();
        assert_eq!(
            unknown,
            [
                ("agentz", 4, "not a key of k3d's Simple config"),
                (
                    "options.k3s.extraArgs[0].nodeFilter",
                    9,
                    "not a key of k3d's Simple config"
                ),
            ]
        );
        // The entry itself converts, without a filter.
        assert_eq!(lab(&converted).cluster.k3s_args[0].value, "--x");
    }

    #[test]
    fn reports_what_the_lab_file_refuses_at_the_k3d_place() {
        // A filter naming an absent agent: at the filter.
        let l = refused(
            "apiVersion: k3d.io/v1alpha5\nkind: Simple\nagents: 1\nports:\n  - port: 8081:80\n    nodeFilters:\n      - agent:3\n",
        );
        assert_eq!((l.line, l.column), (7, 9), "{l:?}");
        assert!(l.message.contains("agent 3"), "{}", l.message);
        assert!(l.message.contains("converted to"), "{}", l.message);
        // A port with no host port (k3d picks a random one): at the port.
        let l = refused(
            "apiVersion: k3d.io/v1alpha5\nkind: Simple\nports:\n  - port: \"80\"\n    nodeFilters: [loadbalancer]\n",
        );
        assert_eq!((l.line, l.column), (4, 11), "{l:?}");
        assert!(l.hint.unwrap().contains("80:80"));
        // Out of range: at the count.
        let l = refused("apiVersion: k3d.io/v1alpha5\nkind: Simple\nservers: 9\n");
        assert_eq!((l.line, l.column), (3, 10), "{l:?}");
    }

    #[test]
    fn makes_any_name_a_lab_name() {
        for (raw, want) in [
            ("playground", "playground"),
            ("My_Cluster", "my-cluster"),
            ("k3s-default", "k3s-default"),
            ("2fast--lab-", "fast-lab"),
            ("123", DEFAULT_LAB_NAME),
            ("", DEFAULT_LAB_NAME),
        ] {
            assert_eq!(lab_name(raw), want, "{raw}");
        }
        assert_eq!(lab_name(&"a".repeat(40)).len(), MAX_NAME_LEN);
    }

    #[test]
    fn picks_a_ui_port_no_mapping_takes() {
        let text = "apiVersion: k3d.io/v1alpha5\nkind: Simple\nkubeAPI: { hostPort: \"8081\" }\n\
                    ports:\n  - port: 0.0.0.0:8080:80\n  - port: 8082:443\n";
        let converted = convert(text).unwrap();
        assert_eq!(lab(&converted).argocd.ui.port, 8083);
    }

    #[test]
    fn an_embedded_registries_config_becomes_cluster_registries_without_its_secrets() {
        // A password with every character that an encoding could hide it behind.
        let secret = r#"s3cr3t" \ & < > 'q'"#;
        let embedded = format!(
            "mirrors:\n  docker.io:\n    endpoint:\n      - https://mirror.example.test\n    rewrite:\n      \"^library/(.*)\": \"hub/$1\"\n\
             configs:\n  mirror.example.test:\n    auth:\n      username: ada\n      password: {}\n    tls:\n      ca_file: /etc/ssl/certs/corp.pem\n      insecure_skip_verify: true\n\
             \x20 ghcr.io:\n    auth:\n      auth: ${{GHCR_AUTH}}\n",
            serde_json::to_string(secret).unwrap()
        );
        let text = format!(
            "apiVersion: k3d.io/v1alpha5\nkind: Simple\nmetadata: {{ name: lab }}\nregistries:\n  config: {}\n",
            serde_json::to_string(&embedded).unwrap()
        );
        let converted = convert(&text).unwrap();
        let lab = lab(&converted);
        let regs = lab.cluster.registries.expect("cluster.registries");
        let mirror = &regs.mirrors["docker.io"];
        assert_eq!(mirror.endpoints, ["https://mirror.example.test"]);
        assert_eq!(mirror.rewrite["^library/(.*)"], "hub/$1");
        let corp = &regs.configs["mirror.example.test"];
        let auth = corp.auth.as_ref().unwrap();
        assert_eq!(auth.username.as_ref().unwrap().value, "ada");
        let var = |c: &Option<crate::config::Credential>| {
            c.as_ref()
                .and_then(|c| c.from_host.as_ref())
                .map(|h| h.var.clone())
        };
        assert_eq!(
            var(&auth.password).as_deref(),
            Some("REGISTRY_MIRROR_EXAMPLE_TEST_PASSWORD")
        );
        // A value that already names a variable keeps it.
        let ghcr = regs.configs["ghcr.io"].auth.as_ref().unwrap();
        assert_eq!(var(&ghcr.auth).as_deref(), Some("GHCR_AUTH"));
        // The CA is a path in k3d's nodes: listed, not converted; the rest of `tls` stays.
        let tls = corp.tls.as_ref().unwrap();
        assert!(tls.insecure_skip_verify && tls.ca_file.is_none());
        assert!(
            paths(&converted)
                .contains(&"registries.config: configs.mirror.example.test.tls.ca_file"),
            "{:?}",
            paths(&converted)
        );
        assert!(
            converted
                .notes
                .iter()
                .any(|n| n.contains("export REGISTRY_MIRROR_EXAMPLE_TEST_PASSWORD")),
            "{:?}",
            converted.notes
        );
        // The secret is nowhere in what the conversion says or writes, in any encoding.
        let said = format!(
            "{}\n{}\n{}",
            converted.yaml,
            converted.notes.join("\n"),
            converted
                .unmapped
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        for form in [
            secret.to_string(),
            serde_json::to_string(secret).unwrap(),
            "s3cr3t".to_string(),
        ] {
            assert!(!said.contains(&form), "{form} in:\n{said}");
        }
    }

    #[test]
    fn a_registries_config_file_path_is_listed_with_what_to_do() {
        let converted = convert(
            "apiVersion: k3d.io/v1alpha5\nkind: Simple\nregistries:\n  config: /home/ada/registries.yaml\n",
        )
        .unwrap();
        assert!(lab(&converted).cluster.registries.is_none());
        let u = converted
            .unmapped
            .iter()
            .find(|u| u.path == "registries.config")
            .expect("listed");
        assert_eq!((u.line, u.column), (4, 11));
        assert!(u.why.contains("cluster.registries"), "{}", u.why);
    }
}
