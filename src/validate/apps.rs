//! The fields Argo CD needs in an `Application` and an `AppProject`, with the right types,
//! and the typed accessors the checks read them through (each reports what is missing or of
//! the wrong type at its position).

use std::path::Path;

use super::{AppInfo, AppNeeds, Project, Validator};
use crate::gitops::yaml::{Node, Pos, Value};

impl Validator {
    /// Checks one document under `gitops.path`.
    pub(super) fn check_object(&mut self, file: &Path, doc: &Node) {
        if doc.is_null() {
            return;
        }
        if !matches!(doc.value, Value::Map(_)) {
            self.error(
                file,
                doc.pos,
                format!("expected a Kubernetes object, found {}", doc.describe()),
                Some("each document is a mapping with `apiVersion`, `kind` and `metadata`"),
            );
            return;
        }
        let api = self.string(file, doc, doc.pos, "apiVersion", "", true);
        let kind = self.string(file, doc, doc.pos, "kind", "", true);
        let (Some(api), Some(kind)) = (api, kind) else {
            return;
        };
        let argo = api.starts_with("argoproj.io/");
        match kind.as_str() {
            "Application" if argo => self.check_application(file, doc),
            "AppProject" if argo => self.check_project(file, doc),
            _ => {
                let meta = self.map(file, doc, doc.pos, "metadata", "", true);
                if let Some((meta_pos, meta)) = meta
                    && meta.get("generateName").is_none()
                {
                    self.string(file, meta, meta_pos, "name", "metadata.", true);
                }
            }
        }
    }

    pub(super) fn check_application(&mut self, file: &Path, doc: &Node) {
        let name = self
            .map(file, doc, doc.pos, "metadata", "", true)
            .and_then(|(pos, meta)| self.string(file, meta, pos, "name", "metadata.", true))
            .unwrap_or_default();
        let Some((spec_pos, spec)) = self.map(file, doc, doc.pos, "spec", "", true) else {
            return;
        };
        let project = self.string(file, spec, spec_pos, "project", "spec.", true);
        let project_pos = spec.get("project").map_or(spec_pos, |n| n.pos);

        // Destination: exactly one of server / name; namespace optional.
        let mut destination = None;
        if let Some((dest_pos, dest)) = self.map(file, spec, spec_pos, "destination", "spec.", true)
        {
            let server = self.string(file, dest, dest_pos, "server", "spec.destination.", false);
            let cluster = self.string(file, dest, dest_pos, "name", "spec.destination.", false);
            let namespace = self
                .string(
                    file,
                    dest,
                    dest_pos,
                    "namespace",
                    "spec.destination.",
                    false,
                )
                .unwrap_or_default();
            match (&server, &cluster) {
                (Some(_), Some(_)) => self.error(
                    file,
                    dest.entry("name").map_or(dest_pos, |(k, _)| k.pos),
                    "`spec.destination` has both `server` and `name`",
                    Some(
                        "give one: `server: https://kubernetes.default.svc` or `name: in-cluster`",
                    ),
                ),
                (None, None) if dest.get("server").is_none() && dest.get("name").is_none() => self
                    .error(
                        file,
                        dest_pos,
                        "`spec.destination` has neither `server` nor `name`",
                        Some("the lab's own cluster is `server: https://kubernetes.default.svc`"),
                    ),
                _ => {}
            }
            if let Some(target) = server.or(cluster) {
                // Point at the namespace: it is what a project most often does not allow.
                let pos = dest.get("namespace").map_or(dest_pos, |n| n.pos);
                destination = Some((target, namespace, pos));
            }
        }

        // Exactly one of source / sources.
        let mut sources = Vec::new();
        match (spec.entry("source"), spec.entry("sources")) {
            (Some(_), Some((key, _))) => self.error(
                file,
                key.pos,
                "both `spec.source` and `spec.sources`",
                Some("use `source:` for one source, or `sources:` (a list) for several, not both"),
            ),
            (None, None) => self.error(
                file,
                spec_pos,
                "missing `spec.source`",
                Some(
                    "an Application needs `source:` (repoURL + path or chart) or a `sources:` list",
                ),
            ),
            (Some((_, source)), None) => {
                if let Some(s) = self.check_source(file, source, "spec.source", false) {
                    sources.push(s);
                }
            }
            (None, Some((key, list))) => match &list.value {
                Value::List(items) if !items.is_empty() => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(s) =
                            self.check_source(file, item, &format!("spec.sources[{i}]"), true)
                        {
                            sources.push(s);
                        }
                    }
                }
                Value::List(_) => self.error(
                    file,
                    key.pos,
                    "`spec.sources` is empty",
                    Some("list at least one source"),
                ),
                _ => self.error(
                    file,
                    list.pos,
                    format!("`spec.sources` must be a list, found {}", list.describe()),
                    Some("one `- repoURL: …` entry per source"),
                ),
            },
        }
        self.check_sync_policy(file, spec, spec_pos);

        let needs = AppNeeds {
            file: file.to_path_buf(),
            project_pos,
            repos: sources
                .iter()
                .map(|(s, pos)| (s.repo_url.clone(), *pos))
                .collect(),
            destination,
        };
        self.apps.push((
            AppInfo {
                name,
                project: project.unwrap_or_default(),
                file: file.to_path_buf(),
                line: doc.pos.line,
                sources: sources.into_iter().map(|(s, _)| s).collect(),
            },
            needs,
        ));
    }

    pub(super) fn check_sync_policy(&mut self, file: &Path, spec: &Node, spec_pos: Pos) {
        let Some((pos, policy)) = self.map(file, spec, spec_pos, "syncPolicy", "spec.", false)
        else {
            return;
        };
        if let Some((auto_pos, auto)) =
            self.map(file, policy, pos, "automated", "spec.syncPolicy.", false)
        {
            for key in ["prune", "selfHeal", "allowEmpty"] {
                if let Some(node) = auto.get(key)
                    && !matches!(node.value, Value::Bool(_))
                {
                    self.error(
                        file,
                        node.pos,
                        format!(
                            "`spec.syncPolicy.automated.{key}` must be true or false, found {}",
                            node.describe()
                        ),
                        None,
                    );
                }
            }
            let _ = auto_pos;
        }
        self.list_of_strings(file, policy, pos, "syncOptions", "spec.syncPolicy.");
    }

    pub(super) fn check_project(&mut self, file: &Path, doc: &Node) {
        let name = self
            .map(file, doc, doc.pos, "metadata", "", true)
            .and_then(|(pos, meta)| self.string(file, meta, pos, "name", "metadata.", true));
        let Some((spec_pos, spec)) = self.map(file, doc, doc.pos, "spec", "", true) else {
            return;
        };
        let source_repos = self
            .list_of_strings(file, spec, spec_pos, "sourceRepos", "spec.")
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        let mut destinations = Vec::new();
        if let Some(list) = spec.get("destinations") {
            match &list.value {
                Value::List(items) => {
                    for item in items {
                        if !matches!(item.value, Value::Map(_)) {
                            self.error(
                                file,
                                item.pos,
                                format!(
                                    "a `spec.destinations` entry must be a mapping, found {}",
                                    item.describe()
                                ),
                                Some(
                                    "`{ server: https://kubernetes.default.svc, namespace: <ns> }`",
                                ),
                            );
                            continue;
                        }
                        let p = "spec.destinations[].";
                        let server = self.string(file, item, item.pos, "server", p, false);
                        let cluster = self.string(file, item, item.pos, "name", p, false);
                        let ns = self.string(file, item, item.pos, "namespace", p, false);
                        destinations.push((
                            server.or(cluster).unwrap_or_else(|| "*".into()),
                            ns.unwrap_or_else(|| "*".into()),
                        ));
                    }
                }
                _ => self.error(
                    file,
                    list.pos,
                    format!(
                        "`spec.destinations` must be a list, found {}",
                        list.describe()
                    ),
                    None,
                ),
            }
        }
        if let Some(name) = name {
            self.projects.insert(
                name,
                Project {
                    source_repos,
                    destinations,
                },
            );
        }
    }

    /// A mapping at `key`: `None` (with an error if `required`) when absent or of another type.
    pub(super) fn map<'n>(
        &mut self,
        file: &Path,
        parent: &'n Node,
        parent_pos: Pos,
        key: &str,
        prefix: &str,
        required: bool,
    ) -> Option<(Pos, &'n Node)> {
        match parent.entry(key) {
            None => {
                if required {
                    self.missing(file, parent_pos, prefix, key);
                }
                None
            }
            Some((k, v)) => match v.value {
                Value::Map(_) => Some((k.pos, v)),
                Value::Null if !required => None,
                _ => {
                    self.error(
                        file,
                        v.pos,
                        format!("`{prefix}{key}` must be a mapping, found {}", v.describe()),
                        Some("`key: value` lines indented below it"),
                    );
                    None
                }
            },
        }
    }

    /// A non-empty string at `key` (see [`Validator::map`]).
    pub(super) fn string(
        &mut self,
        file: &Path,
        parent: &Node,
        parent_pos: Pos,
        key: &str,
        prefix: &str,
        required: bool,
    ) -> Option<String> {
        match parent.entry(key) {
            None => {
                if required {
                    self.missing(file, parent_pos, prefix, key);
                }
                None
            }
            Some((_, v)) => match &v.value {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Null | Value::String(_) if !required => None,
                Value::Null | Value::String(_) => {
                    self.error(
                        file,
                        v.pos,
                        format!("`{prefix}{key}` is empty"),
                        Some("give it a value"),
                    );
                    None
                }
                _ => {
                    let quote = matches!(v.value, Value::Number(_) | Value::Bool(_));
                    self.error(
                        file,
                        v.pos,
                        format!("`{prefix}{key}` must be a string, found {}", v.describe()),
                        quote.then_some("quote it: `\"…\"`"),
                    );
                    None
                }
            },
        }
    }

    /// The strings of an optional list at `key`, each with its position.
    pub(super) fn list_of_strings(
        &mut self,
        file: &Path,
        parent: &Node,
        _parent_pos: Pos,
        key: &str,
        prefix: &str,
    ) -> Vec<(String, Pos)> {
        let Some(list) = parent.get(key) else {
            return Vec::new();
        };
        match &list.value {
            Value::Null => Vec::new(),
            Value::List(items) => items
                .iter()
                .filter_map(|item| match &item.value {
                    Value::String(s) => Some((s.clone(), item.pos)),
                    _ => {
                        self.error(
                            file,
                            item.pos,
                            format!(
                                "`{prefix}{key}` entries must be strings, found {}",
                                item.describe()
                            ),
                            None,
                        );
                        None
                    }
                })
                .collect(),
            _ => {
                self.error(
                    file,
                    list.pos,
                    format!("`{prefix}{key}` must be a list, found {}", list.describe()),
                    Some("write `[a, b]`, or one `- item` per line below the key"),
                );
                Vec::new()
            }
        }
    }

    pub(super) fn missing(&mut self, file: &Path, pos: Pos, prefix: &str, key: &str) {
        let hint = match (prefix, key) {
            ("spec.", "project") => Some(
                "every Application names its AppProject: `project: default`, or one defined under gitops.path",
            ),
            ("spec.", "destination") => {
                Some("`destination: { server: https://kubernetes.default.svc, namespace: <ns> }`")
            }
            (_, "repoURL") => Some(
                "the Git or Helm repository URL; this lab's own repository is `file:///playground`",
            ),
            ("", "apiVersion") => {
                Some("e.g. `apiVersion: argoproj.io/v1alpha1` for an Application")
            }
            ("", "kind") => Some("e.g. `kind: Application`"),
            _ => None,
        };
        self.error(file, pos, format!("missing `{prefix}{key}`"), hint);
    }
}
