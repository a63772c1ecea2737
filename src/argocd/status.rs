//! The app tree `playground status` shows: who is synced to what, and who changed it in Git.
//!
//! The flow:
//! 1. [`list_apps`] reads every Application of the namespace with one list request;
//! 2. [`build_tree`] (pure) hangs them under the root using the children and parents of
//!    [`super::apps`] (one pass to index, one walk: O(n)), attaching to every app from the
//!    root's repository the last commit that touched its path, through a caller-supplied
//!    lookup (the git side lives in [`crate::repo::git`]);
//! 3. [`AppTree::render_text`] draws a tree table and `serde` serialises the same
//!    [`AppTree`] as JSON, so both outputs always carry the same facts.
//!
//! ## JSON shape
//! ```json
//! {
//!   "namespace": "argocd",
//!   "root": {                       // null when the root Application does not exist
//!     "name": "root",
//!     "sync": "Synced",             // Synced | OutOfSync | Unknown
//!     "health": "Healthy",          // Healthy | Progressing | Degraded | Suspended | Missing | Unknown
//!     "message": null,              // health/operation message or first condition, when not Synced+Healthy
//!     "revision": "0123…",          // status.sync.revision, null before the first sync
//!     "repoURL": "https://…", "path": "apps", "targetRevision": "HEAD",
//!     "lastCommit": {"hash": "…", "short": "0123456", "author": "…", "time": 1700000000, "subject": "…"},  // or null
//!     "autoSync": true,             // syncPolicy.automated is on
//!     "destination": "in-cluster",  // the cluster it deploys to (a cluster Secret's name, in-cluster, or the server URL)
//!     "destinationServer": "https://kubernetes.default.svc",  // null when given by name
//!     "children": [ /* the same shape, sorted by name */ ]
//!   },
//!   "other": [ /* apps not reachable from the root, the same shape, as trees of their own */ ]
//! }
//! ```
//! Every key is always present (null or `[]` when empty) so scripts need no existence checks.
//! A child listed in a parent's `status.resources` without an Application of its own shows
//! with `sync: "Unknown"`, `health: "Missing"`.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::apps::{AppState, child_index};
use crate::kube::api::KubeApi;
use crate::repo::CommitInfo;

pub use super::apps::{AppsError, list_apps};

/// Which Argo CD release runs (`status`): the `argocd-server` image's tag, else what the
/// lab's record says playground installed last.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArgoCdVersion {
    pub(crate) version: String,
    /// The `argocd-server` image, when the Deployment was read.
    pub(crate) image: Option<String>,
    /// Where `version` comes from: `image` or `record`.
    pub(crate) source: &'static str,
}

impl ArgoCdVersion {
    /// From what the cluster showed (`None`: it could not be asked) and the record's version.
    pub(crate) fn from_observed(
        observed: Option<&super::upgrade::Observed>,
        recorded: Option<&str>,
    ) -> Option<ArgoCdVersion> {
        use super::upgrade::Observed;
        match observed {
            Some(Observed::NotInstalled) => None,
            Some(Observed::Image {
                image,
                version: Some(v),
            }) => Some(ArgoCdVersion {
                version: v.clone(),
                image: Some(image.clone()),
                source: "image",
            }),
            Some(Observed::Image {
                image,
                version: None,
            }) => recorded.map(|v| ArgoCdVersion {
                version: v.to_string(),
                image: Some(image.clone()),
                source: "record",
            }),
            None => recorded.map(|v| ArgoCdVersion {
                version: v.to_string(),
                image: None,
                source: "record",
            }),
        }
    }

    /// `Argo CD v3.5.1 (argocd-server image quay.io/argoproj/argocd:v3.5.1)`.
    pub(crate) fn line(&self) -> String {
        match (&self.image, self.source) {
            (Some(image), "image") => {
                format!("Argo CD {} (argocd-server image {image})", self.version)
            }
            _ => format!(
                "Argo CD {} (as playground recorded installing it)",
                self.version
            ),
        }
    }
}

/// Looks up the last commit that touched a path of the lab's repository.
pub(crate) type CommitLookup<'a> = &'a dyn Fn(&str) -> Option<CommitInfo>;

/// One Application in the tree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppNode {
    pub(crate) name: String,
    pub(crate) sync: String,
    pub(crate) health: String,
    /// Why it is not Synced and Healthy, when Argo CD says.
    pub(crate) message: Option<String>,
    /// The revision it is synced to.
    pub(crate) revision: Option<String>,
    #[serde(rename = "repoURL")]
    pub(crate) repo_url: String,
    pub(crate) path: String,
    pub(crate) target_revision: String,
    /// The last commit that touched `path`, for apps from the root's repository.
    pub(crate) last_commit: Option<CommitInfo>,
    /// Argo CD syncs it on its own (`syncPolicy.automated`); otherwise it is the user's to
    /// sync, shown as `manual` and never awaited by `up`.
    pub(crate) auto_sync: bool,
    /// The cluster it deploys to: the name of the cluster Secret whose `server` is
    /// `spec.destination.server` (see [`AppTree::name_destinations`]), else
    /// `spec.destination.name`, `in-cluster` for [`IN_CLUSTER_SERVER`], else the server URL;
    /// empty when the Application has no destination.
    pub(crate) destination: String,
    /// `spec.destination.server`, when the destination is given by server.
    pub(crate) destination_server: Option<String>,
    pub(crate) children: Vec<AppNode>,
}

/// The address Argo CD's own cluster has (`v1alpha1.KubernetesInternalAPIServerAddr`).
pub(crate) const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";
/// The name Argo CD gives its own cluster when no Secret names it (`in-cluster`).
pub(crate) const IN_CLUSTER_NAME: &str = "in-cluster";

/// The destination as the Application gives it, before cluster Secrets name the servers.
fn destination_of(a: &AppState) -> (String, Option<String>) {
    let server = Some(a.destination_server.clone()).filter(|s| !s.is_empty());
    let shown = if !a.destination_name.is_empty() {
        a.destination_name.clone()
    } else if server.as_deref() == Some(IN_CLUSTER_SERVER) {
        IN_CLUSTER_NAME.to_string()
    } else {
        a.destination_server.clone()
    };
    (shown, server)
}

/// The whole picture: the root's tree and everything else.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppTree {
    pub(crate) namespace: String,
    /// `None` when the root Application does not exist.
    pub(crate) root: Option<AppNode>,
    /// Apps not reachable from the root, as trees of their own, by name.
    pub other: Vec<AppNode>,
}

fn unknown(s: &str) -> String {
    if s.is_empty() { "Unknown" } else { s }.to_string()
}

struct Builder<'a> {
    apps: &'a HashMap<String, AppState>,
    index: HashMap<&'a str, Vec<&'a str>>,
    placed: HashSet<&'a str>,
    repo: Option<&'a str>,
    lookup: CommitLookup<'a>,
    /// One lookup per path: several apps may share one, and git log is the slow part.
    commits: RefCell<HashMap<&'a str, Option<CommitInfo>>>,
}

impl<'a> Builder<'a> {
    fn node(&mut self, name: &'a str) -> AppNode {
        self.placed.insert(name);
        let mut node = match self.apps.get(name) {
            Some(a) => AppNode {
                destination: destination_of(a).0,
                destination_server: destination_of(a).1,
                name: a.name.clone(),
                sync: unknown(&a.sync),
                health: unknown(&a.health),
                message: (a.sync != "Synced" || a.health != "Healthy")
                    .then(|| a.message())
                    .flatten(),
                revision: Some(a.revision.clone()).filter(|r| !r.is_empty()),
                repo_url: a.source.repo_url.clone(),
                path: a.source.path.clone(),
                target_revision: a.source.target_revision.clone(),
                last_commit: self.commit(a),
                auto_sync: a.auto_sync,
                children: Vec::new(),
            },
            None => AppNode {
                name: name.to_string(),
                sync: "Unknown".into(),
                health: "Missing".into(),
                message: Some("listed by its parent, but no such Application exists".into()),
                revision: None,
                repo_url: String::new(),
                path: String::new(),
                target_revision: String::new(),
                last_commit: None,
                auto_sync: true,
                destination: String::new(),
                destination_server: None,
                children: Vec::new(),
            },
        };
        let children: Vec<&'a str> = self
            .index
            .get(name)
            .map(|c| {
                c.iter()
                    .copied()
                    .filter(|c| !self.placed.contains(c))
                    .collect()
            })
            .unwrap_or_default();
        // Claim all children before descending, so a child listed by both its parent and
        // a sibling stays directly under the parent; `placed` also breaks cycles.
        self.placed.extend(children.iter().copied());
        node.children = children.into_iter().map(|c| self.node(c)).collect();
        node
    }

    fn commit(&self, app: &'a AppState) -> Option<CommitInfo> {
        let path = app.source.path.as_str();
        if self.repo != Some(app.source.repo_url.as_str()) || app.source.repo_url.is_empty() {
            return None;
        }
        if let Some(hit) = self.commits.borrow().get(path) {
            return hit.clone();
        }
        let found = (self.lookup)(path);
        self.commits.borrow_mut().insert(path, found.clone());
        found
    }
}

/// Hang `apps` under `root` (O(n)). `last_commit` is asked once per distinct path, for apps
/// whose `repoURL` is the root's (the lab's repository); a remote-only lab passes a lookup
/// returning `None`.
pub fn build_tree(
    namespace: &str,
    apps: Vec<AppState>,
    root: &str,
    last_commit: CommitLookup<'_>,
) -> AppTree {
    let apps: HashMap<String, AppState> = apps.into_iter().map(|a| (a.name.clone(), a)).collect();
    let mut b = Builder {
        apps: &apps,
        index: child_index(&apps),
        placed: HashSet::with_capacity(apps.len()),
        repo: apps.get(root).map(|r| r.source.repo_url.as_str()),
        lookup: last_commit,
        commits: RefCell::new(HashMap::new()),
    };
    let root_node = apps.contains_key(root).then(|| b.node(root));
    let mut rest: Vec<&str> = apps
        .keys()
        .map(String::as_str)
        .filter(|n| !b.placed.contains(n))
        .collect();
    rest.sort_unstable();
    let mut other = Vec::new();
    // Tops first (no parent among the rest), then whatever a cycle left over.
    let rest_set: HashSet<&str> = rest.iter().copied().collect();
    for pass in 0..2 {
        for &name in &rest {
            if b.placed.contains(name) {
                continue;
            }
            let has_parent = apps[name]
                .parent
                .as_deref()
                .is_some_and(|p| rest_set.contains(p));
            if pass == 1 || !has_parent {
                other.push(b.node(name));
            }
        }
    }
    AppTree {
        namespace: namespace.to_string(),
        root: root_node,
        other,
    }
}

/// List the Applications (one request) and build the tree.
///
/// The returned future holds `last_commit` and so is `Send` only if the closure is; call
/// [`list_apps`] and [`build_tree`] separately when that matters.
pub async fn app_tree(
    api: &KubeApi,
    namespace: &str,
    root: &str,
    last_commit: CommitLookup<'_>,
) -> Result<AppTree, AppsError> {
    let apps = list_apps(api, namespace).await?;
    Ok(build_tree(namespace, apps, root, last_commit))
}

/// "just now", "42s ago", "5m ago", "3h ago", "2d ago", "4mo ago", "1y ago".
pub(crate) fn relative_time(secs_ago: i64) -> String {
    const M: i64 = 60;
    const H: i64 = 60 * M;
    const D: i64 = 24 * H;
    match secs_ago {
        i64::MIN..=4 => "just now".into(),
        s if s < M => format!("{s}s ago"),
        s if s < H => format!("{}m ago", s / M),
        s if s < D => format!("{}h ago", s / H),
        s if s < 30 * D => format!("{}d ago", s / D),
        s if s < 365 * D => format!("{}mo ago", s / (30 * D)),
        s => format!("{}y ago", s / (365 * D)),
    }
}

/// At most `max` characters, with `…` when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A full 40-hex SHA as its 7-character abbreviation; anything else (a branch) unchanged.
fn short_rev(rev: &str) -> String {
    if rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
        rev[..7].to_string()
    } else {
        truncate(rev, 12)
    }
}

const SUBJECT_MAX: usize = 50;
const AUTHOR_MAX: usize = 20;

/// One table row: the cells, and the message line's prefix if any.
struct Row {
    cells: [String; 9],
    message: Option<String>,
}

fn rows(node: &AppNode, lead: &str, branch: &str, now: i64, out: &mut Vec<Row>) {
    let commit = node.last_commit.as_ref();
    let dash = || "-".to_string();
    out.push(Row {
        cells: [
            format!("{lead}{branch}{}", node.name),
            if node.auto_sync {
                node.sync.clone()
            } else {
                format!("{} (manual)", node.sync)
            },
            node.health.clone(),
            if node.destination.is_empty() {
                dash()
            } else {
                node.destination.clone()
            },
            node.revision.as_deref().map(short_rev).unwrap_or_else(dash),
            commit.map(|c| c.short.clone()).unwrap_or_else(dash),
            commit
                .map(|c| truncate(&c.author, AUTHOR_MAX))
                .unwrap_or_else(dash),
            commit
                .map(|c| relative_time(now - c.time))
                .unwrap_or_else(dash),
            commit
                .map(|c| truncate(&c.subject, SUBJECT_MAX))
                .unwrap_or_else(dash),
        ],
        message: node.message.as_ref().map(|m| {
            // The message sits under the name, inside the same branch of the tree.
            let cont = match branch {
                "├─ " => "│  ",
                "└─ " => "   ",
                _ => "",
            };
            let below = if node.children.is_empty() {
                "  "
            } else {
                "│ "
            };
            format!("{lead}{cont}{below}! {m}")
        }),
    });
    let child_lead = format!(
        "{lead}{}",
        match branch {
            "├─ " => "│  ",
            "└─ " => "   ",
            _ => "",
        }
    );
    let n = node.children.len();
    for (i, c) in node.children.iter().enumerate() {
        let b = if i + 1 == n { "└─ " } else { "├─ " };
        rows(c, &child_lead, b, now, out);
    }
}

impl AppTree {
    /// The tree table, `now` being the current Unix time (a parameter so output is
    /// reproducible). The root's tree first, then `other`; one `! message` line under each
    /// app that is not Synced and Healthy.
    pub fn render_text(&self, now: i64) -> String {
        let mut all = Vec::new();
        if let Some(r) = &self.root {
            rows(r, "", "", now, &mut all);
        }
        let tree_rows = all.len();
        for o in &self.other {
            rows(o, "  ", "", now, &mut all);
        }
        let header = [
            "APP", "SYNC", "HEALTH", "CLUSTER", "REVISION", "COMMIT", "AUTHOR", "WHEN", "SUBJECT",
        ];
        let mut widths = header.map(|h| h.chars().count());
        for r in &all {
            for (w, c) in widths.iter_mut().zip(&r.cells) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[&str]| {
            let mut l = String::new();
            for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    l.push_str(c);
                } else {
                    let _ = write!(l, "{c}{}  ", " ".repeat(w - c.chars().count()));
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(&mut out, &header);
        if self.root.is_none() {
            out.push_str("(no root Application)\n");
        }
        for (i, r) in all.iter().enumerate() {
            if i == tree_rows {
                out.push_str("other\n");
            }
            let cells: Vec<&str> = r.cells.iter().map(String::as_str).collect();
            line(&mut out, &cells);
            if let Some(m) = &r.message {
                out.push_str(m);
                out.push('\n');
            }
        }
        out
    }

    /// [`AppTree::render_text`] at the current time.
    pub(crate) fn render_text_now(&self) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        self.render_text(now)
    }

    /// Name each destination server by the cluster Secret that registers it (`servers`:
    /// `server` → `name`, from the Secrets labelled `argocd.argoproj.io/secret-type:
    /// cluster`), as Argo CD's UI does. A destination given by name stays as it is.
    pub(crate) fn name_destinations(&mut self, servers: &HashMap<String, String>) {
        fn walk(n: &mut AppNode, servers: &HashMap<String, String>) {
            if let Some(name) = n.destination_server.as_ref().and_then(|s| servers.get(s)) {
                n.destination = name.clone();
            }
            for c in &mut n.children {
                walk(c, servers);
            }
        }
        for n in self.root.iter_mut().chain(self.other.iter_mut()) {
            walk(n, servers);
        }
    }

    /// The JSON document described in the module docs.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Every node, depth first, root's tree then `other`.
    pub fn iter(&self) -> impl Iterator<Item = &AppNode> {
        let mut stack: Vec<&AppNode> = self.other.iter().rev().collect();
        stack.extend(self.root.as_ref());
        std::iter::from_fn(move || {
            let n = stack.pop()?;
            stack.extend(n.children.iter().rev());
            Some(n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argocd_version_is_the_image_tag_else_the_record() {
        use crate::argocd::upgrade::Observed;
        let tagged = Observed::Image {
            image: "quay.io/argoproj/argocd:v3.5.1".into(),
            version: Some("v3.5.1".into()),
        };
        let v = ArgoCdVersion::from_observed(Some(&tagged), Some("v3.4.7")).unwrap();
        assert_eq!(v.version, "v3.5.1");
        assert_eq!(v.source, "image");
        assert_eq!(
            v.line(),
            "Argo CD v3.5.1 (argocd-server image quay.io/argoproj/argocd:v3.5.1)"
        );
        let untagged = Observed::Image {
            image: "localhost:5001/argocd".into(),
            version: None,
        };
        let v = ArgoCdVersion::from_observed(Some(&untagged), Some("v3.4.7")).unwrap();
        assert_eq!((v.version.as_str(), v.source), ("v3.4.7", "record"));
        let v = ArgoCdVersion::from_observed(None, Some("v3.4.7")).unwrap();
        assert!(v.line().contains("v3.4.7"), "{}", v.line());
        assert_eq!(ArgoCdVersion::from_observed(None, None), None);
        assert_eq!(
            ArgoCdVersion::from_observed(Some(&Observed::NotInstalled), Some("v3.4.7")),
            None
        );
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative_time(-3), "just now");
        assert_eq!(relative_time(42), "42s ago");
        assert_eq!(relative_time(300), "5m ago");
        assert_eq!(relative_time(3 * 3600 + 5), "3h ago");
        assert_eq!(relative_time(2 * 86400), "2d ago");
        assert_eq!(relative_time(65 * 86400), "2mo ago");
        assert_eq!(relative_time(800 * 86400), "2y ago");
    }

    #[test]
    fn truncation_and_short_revisions() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(short_rev(&"a".repeat(40)), "aaaaaaa");
        assert_eq!(short_rev("main"), "main");
    }

    #[test]
    fn cycles_and_orphans() {
        let mut a = AppState {
            name: "a".into(),
            children: Some(vec!["b".into()]),
            ..Default::default()
        };
        a.source.repo_url = "r".into();
        let b = AppState {
            name: "b".into(),
            children: Some(vec!["a".into()]),
            ..Default::default()
        };
        let tree = build_tree("ns", vec![a, b], "root", &|_| None);
        assert!(tree.root.is_none());
        let names: Vec<&str> = tree.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, vec!["a", "b"]);
    }

    #[test]
    fn messages_sit_inside_their_branch() {
        let root = AppState {
            name: "root".into(),
            sync: "Synced".into(),
            health: "Progressing".into(),
            health_message: Some("waiting for x".into()),
            children: Some(vec!["x".into()]),
            auto_sync: true,
            ..Default::default()
        };
        let x = AppState {
            name: "x".into(),
            sync: "Synced".into(),
            health: "Healthy".into(),
            auto_sync: true,
            ..Default::default()
        };
        let y = AppState {
            name: "y".into(),
            sync: "OutOfSync".into(),
            health: "Healthy".into(),
            conditions: vec![super::super::apps::AppCondition {
                kind: "ComparisonError".into(),
                message: "repo unreachable".into(),
            }],
            ..Default::default()
        };
        let tree = build_tree("ns", vec![y, x, root], "root", &|_| None);
        let golden = "\
APP   SYNC                HEALTH       CLUSTER  REVISION  COMMIT  AUTHOR  WHEN  SUBJECT
root  Synced              Progressing  -        -         -       -       -     -
│ ! waiting for x
└─ x  Synced              Healthy      -        -         -       -       -     -
other
  y   OutOfSync (manual)  Healthy      -        -         -       -       -     -
    ! ComparisonError: repo unreachable
";
        assert_eq!(tree.render_text(0), golden, "\n{}", tree.render_text(0));
        assert_eq!(
            tree.to_json()["other"][0]["message"],
            "ComparisonError: repo unreachable"
        );
        // An app without automated sync is the user's to sync: `manual` in the table, and
        // `autoSync: false` for scripts.
        assert_eq!(tree.to_json()["other"][0]["autoSync"], false);
    }

    #[test]
    fn each_app_shows_the_cluster_it_deploys_to() {
        let app = |name: &str, server: &str, cluster: &str| AppState {
            name: name.into(),
            sync: "Synced".into(),
            health: "Healthy".into(),
            auto_sync: true,
            destination_server: server.into(),
            destination_name: cluster.into(),
            ..Default::default()
        };
        let root = AppState {
            children: Some(vec!["dev-app".into(), "prod-app".into(), "ext".into()]),
            ..app("root", IN_CLUSTER_SERVER, "")
        };
        let apps = vec![
            root,
            app("dev-app", "https://playground-dev-server-0:6443", ""),
            app("prod-app", "", "prod"),
            app("ext", "https://10.0.0.9:6443", ""),
        ];
        let mut tree = build_tree("argocd", apps, "root", &|_| None);
        // Before the Secrets are read: the server as the app gives it.
        assert_eq!(
            tree.root.as_ref().unwrap().children[0].destination,
            "https://playground-dev-server-0:6443"
        );
        let servers = HashMap::from([(
            "https://playground-dev-server-0:6443".to_string(),
            "dev".to_string(),
        )]);
        tree.name_destinations(&servers);
        let golden = "\
APP          SYNC    HEALTH   CLUSTER                REVISION  COMMIT  AUTHOR  WHEN  SUBJECT
root         Synced  Healthy  in-cluster             -         -       -       -     -
├─ dev-app   Synced  Healthy  dev                    -         -       -       -     -
├─ ext       Synced  Healthy  https://10.0.0.9:6443  -         -       -       -     -
└─ prod-app  Synced  Healthy  prod                   -         -       -       -     -
";
        assert_eq!(tree.render_text(0), golden, "\n{}", tree.render_text(0));
        let json = tree.to_json();
        assert_eq!(json["root"]["destination"], "in-cluster");
        assert_eq!(json["root"]["destinationServer"], IN_CLUSTER_SERVER);
        assert_eq!(json["root"]["children"][0]["destination"], "dev");
        assert_eq!(
            json["root"]["children"][0]["destinationServer"],
            "https://playground-dev-server-0:6443"
        );
        assert_eq!(json["root"]["children"][2]["destination"], "prod");
        assert_eq!(
            json["root"]["children"][2]["destinationServer"],
            serde_json::Value::Null
        );
        // A Secret naming Argo CD's own server renames in-cluster too, as in Argo CD.
        tree.name_destinations(&HashMap::from([(
            IN_CLUSTER_SERVER.to_string(),
            "hub".to_string(),
        )]));
        assert_eq!(tree.root.as_ref().unwrap().destination, "hub");
    }
}
