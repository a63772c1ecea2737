//! Argo CD upgrades (and downgrades) in place, when `argocd.version` changes on a lab that has
//! Argo CD already.
//!
//! The flow, as `up` runs it:
//! 1. the running release is observed ([`observe`]): the tag of the `argocd-server`
//!    Deployment's image (`quay.io/argoproj/argocd:v3.4.7`), else the version the lab's record
//!    says playground installed last ([`crate::state::record::ArgoCdRecord`]);
//! 2. [`version_change`] (pure) compares it with the one the lab file asks for; a change is a
//!    line of the reconcile diff `up` prints and asks about (`argocd v3.4.7 → v3.5.1`), a
//!    downgrade with a warning line ([`VersionChange::diff`]);
//! 3. on yes, the new manifest is server-side applied as on every `up`
//!    ([`super::install`]), then [`prune_set`] (pure) says which objects the old install had
//!    and the new one lacks, from the list the record holds of what playground applied, and
//!    [`prune`] deletes them; then `up` waits for the rollout as always
//!    ([`super::workloads`]: generations, updated replicas);
//! 4. the record is updated with the new version and what was applied ([`refs_of`]).
//!
//! What is never deleted, whatever the lists say ([`protected`]): CustomResourceDefinitions
//! (deleting the Application CRD deletes every Application), anything of `argoproj.io`
//! (Applications, AppProjects, ApplicationSets), Namespaces, and Secrets (`argocd-secret`
//! holds the admin password, repository Secrets the credentials, and Argo CD writes into the
//! ones install.yaml ships). [`prune`] also leaves alone anything labelled
//! `argocd.argoproj.io/secret-type` and anything no longer found.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DeleteParams, DynamicObject};
use kube::discovery::{ApiResource, Scope};

use crate::kube::api::KubeApi;
use crate::kube::apply::ObjectRef;
use crate::state::record::AppliedObject;

/// The Deployment whose image tag says which Argo CD release runs.
pub(crate) const SERVER_DEPLOYMENT: &str = "argocd-server";
/// The container in it that runs Argo CD's image.
pub(crate) const SERVER_CONTAINER: &str = "argocd-server";
/// The label that makes a Secret one of Argo CD's repository (or cluster) credentials.
const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";

/// The record's references of what an apply wrote (`apiVersion` → its group), sorted.
pub(crate) fn refs_of(applied: &[ObjectRef]) -> Vec<AppliedObject> {
    let set: BTreeSet<AppliedObject> = applied
        .iter()
        .map(|r| AppliedObject {
            group: group_of(&r.api_version).to_string(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        })
        .collect();
    set.into_iter().collect()
}

/// `apps/v1` → `apps`, `v1` → `` (the core group).
pub(crate) fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// Whether an object is never deleted by an upgrade (see the module docs).
pub(crate) fn protected(r: &AppliedObject) -> bool {
    matches!(
        (r.group.as_str(), r.kind.as_str()),
        ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("argoproj.io", _)
            | ("", "Namespace")
            | ("", "Secret")
    )
}

/// What to delete after the new release is applied: what the old install applied (`old`,
/// from the record) that the new one did not (`new`), less what is [`protected`]. Workloads
/// go first (their pods stop before the RBAC and config they use), then the rest, each group
/// sorted.
pub(crate) fn prune_set(old: &[AppliedObject], new: &[AppliedObject]) -> Vec<AppliedObject> {
    let keep: BTreeSet<&AppliedObject> = new.iter().collect();
    let gone: BTreeSet<&AppliedObject> = old
        .iter()
        .filter(|r| !keep.contains(r) && !protected(r))
        .collect();
    let (mut first, rest): (Vec<AppliedObject>, Vec<AppliedObject>) =
        gone.into_iter().cloned().partition(|r| {
            crate::kube::apply::wave_of(&format!("{}/v1", r.group), &r.kind)
                == crate::kube::apply::Wave::Workloads
        });
    first.extend(rest);
    first
}

/// A release version: `v3.4.7`, `3.5.0-rc1`, `v3.5.1+6c2a6f1` (build metadata ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    pub(crate) major: u64,
    pub(crate) minor: u64,
    pub(crate) patch: u64,
    /// The pre-release identifiers (`rc1`), empty for a release.
    pub(crate) pre: Vec<String>,
}

impl Version {
    pub(crate) fn parse(text: &str) -> Option<Version> {
        let text = text.trim();
        let text = text.strip_prefix('v').unwrap_or(text);
        let text = text.split_once('+').map_or(text, |(v, _)| v);
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) => (core, pre.split('.').map(str::to_string).collect()),
            None => (text, Vec::new()),
        };
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        let (major, minor, patch) = (parts.next()??, parts.next()??, parts.next()??);
        if parts.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
            pre,
        })
    }
}

impl Ord for Version {
    /// Semantic Versioning 2.0 precedence: a pre-release sorts before its release; numeric
    /// identifiers compare as numbers, below alphanumeric ones (and `rc2` < `rc10`).
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&other.pre) {
                        let o = match (a.parse::<u64>(), b.parse::<u64>()) {
                            (Ok(a), Ok(b)) => a.cmp(&b),
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            (Err(_), Err(_)) => natural(a, b),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            })
    }
}

/// `rc2` < `rc10`: Argo CD's pre-releases are `-rc1`, `-rc2`, …, not `-rc.1`, so a common
/// letter prefix is followed by a number compared as one (strict SemVer would put `rc10`
/// first).
fn natural(a: &str, b: &str) -> Ordering {
    let split = |s: &str| {
        let at = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
        let (prefix, digits) = s.split_at(at);
        (prefix.to_string(), digits.parse::<u64>().ok())
    };
    match (split(a), split(b)) {
        ((pa, Some(na)), (pb, Some(nb))) if pa == pb => na.cmp(&nb),
        _ => a.cmp(b),
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Which way a change goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Upgrade,
    Downgrade,
    /// One side is not a version (a custom image tag, a name of the user's own).
    Unknown,
}

/// The running release and the one the lab file asks for, when they differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersionChange {
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) direction: Direction,
}

/// The change from `running` (`None`: no Argo CD yet, a fresh install, no change) to
/// `wanted`. Versions compare by precedence, so `3.5.1` and `v3.5.1+abc` are the same; two
/// strings that are not versions compare as strings.
pub(crate) fn version_change(running: Option<&str>, wanted: &str) -> Option<VersionChange> {
    let running = running?.trim();
    if running.is_empty() {
        return None;
    }
    let direction = match (Version::parse(running), Version::parse(wanted)) {
        (Some(a), Some(b)) => match a.cmp(&b) {
            Ordering::Equal => return None,
            Ordering::Less => Direction::Upgrade,
            Ordering::Greater => Direction::Downgrade,
        },
        _ if running == wanted.trim() => return None,
        _ => Direction::Unknown,
    };
    Some(VersionChange {
        from: running.to_string(),
        to: wanted.trim().to_string(),
        direction,
    })
}

impl VersionChange {
    pub(crate) fn is_downgrade(&self) -> bool {
        self.direction == Direction::Downgrade
    }

    /// The change's lines in `up`'s reconcile diff: the change, and a warning for a downgrade.
    pub(crate) fn diff(&self) -> String {
        let what = match self.direction {
            Direction::Upgrade => "upgrade",
            Direction::Downgrade => "downgrade",
            Direction::Unknown => "change",
        };
        let mut out = format!(
            "changes to Argo CD (old → new):\n  ~ {self}  ({what} in place: apply {}, delete what {} had and {} lacks, wait for the rollout; Applications, AppProjects, repository Secrets and the admin password stay)\n",
            self.to, self.from, self.to
        );
        if let Some(w) = self.warning() {
            out.push_str(&format!("  ! warning: {w}\n"));
        }
        out
    }

    /// For a downgrade: why it may not work.
    pub(crate) fn warning(&self) -> Option<String> {
        self.is_downgrade().then(|| {
            format!(
                "{} → {} is a downgrade: Argo CD supports upgrades only; an older release may not read what the newer one wrote (CRD fields, settings), so check its upgrade notes, or drop and recreate the lab",
                self.from, self.to
            )
        })
    }
}

impl fmt::Display for VersionChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "argocd {} → {}", self.from, self.to)
    }
}

/// The tag of an image reference: `quay.io/argoproj/argocd:v3.4.7` → `v3.4.7`; none for
/// `localhost:5000/argocd` or a digest only.
pub(crate) fn image_tag(image: &str) -> Option<&str> {
    let image = image.split_once('@').map_or(image, |(name, _)| name);
    let last = image.rsplit('/').next().unwrap_or(image);
    last.rsplit_once(':')
        .map(|(_, tag)| tag)
        .filter(|t| !t.is_empty())
}

/// What the cluster says about the Argo CD that runs in a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Observed {
    /// No `argocd-server` Deployment: Argo CD is not installed (or not the usual way).
    NotInstalled,
    /// Its image, and the tag of it when it is a version.
    Image {
        image: String,
        version: Option<String>,
    },
}

impl Observed {
    /// The running version: the image's tag, else `recorded` (what playground installed last).
    pub(crate) fn version(&self, recorded: Option<&str>) -> Option<String> {
        match self {
            Observed::NotInstalled => None,
            Observed::Image {
                version: Some(v), ..
            } => Some(v.clone()),
            Observed::Image { version: None, .. } => recorded.map(str::to_string),
        }
    }
}

/// The `argocd-server` container's image, from a Deployment.
pub(crate) fn server_image(deployment: &Deployment) -> Option<String> {
    let containers = &deployment.spec.as_ref()?.template.spec.as_ref()?.containers;
    containers
        .iter()
        .find(|c| c.name == SERVER_CONTAINER)
        .or_else(|| containers.first())?
        .image
        .clone()
}

/// Look at the `argocd-server` Deployment in `namespace`.
pub(crate) async fn observe(api: &KubeApi, namespace: &str) -> Result<Observed, kube::Error> {
    let deployments: Api<Deployment> = Api::namespaced(api.client().clone(), namespace);
    let Some(d) = deployments.get_opt(SERVER_DEPLOYMENT).await? else {
        return Ok(Observed::NotInstalled);
    };
    let image = server_image(&d).unwrap_or_default();
    let version = image_tag(&image)
        .filter(|t| Version::parse(t).is_some())
        .map(str::to_string);
    Ok(Observed::Image { image, version })
}

/// Why an object could not be deleted.
#[derive(Debug, thiserror::Error)]
#[error("deleting {object} failed: {source}")]
pub struct PruneError {
    pub(crate) object: String,
    #[source]
    pub(crate) source: kube::Error,
}

impl crate::diag::Hinted for PruneError {
    fn hint(&self) -> Option<String> {
        Some("the new release is applied; `playground up` again retries the deletion".to_string())
    }
}

impl fmt::Display for AppliedObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        };
        match &self.namespace {
            Some(ns) => write!(f, "{kind} {ns}/{}", self.name),
            None => write!(f, "{kind} {}", self.name),
        }
    }
}

/// Delete `objects` (a [`prune_set`]), in order, in the background (their dependents go
/// with them, as `kubectl delete` does). Gone already, or of a kind the API server no longer
/// serves: nothing to do. A Secret with Argo CD's secret-type label is never deleted.
/// Returns how many were deleted.
pub(crate) async fn prune(api: &KubeApi, objects: &[AppliedObject]) -> Result<usize, PruneError> {
    let client = api.client();
    let mut deleted = 0;
    for r in objects {
        if protected(r) {
            continue;
        }
        let err = |source| PruneError {
            object: r.to_string(),
            source,
        };
        let Some((ar, scope)) = resolve(client, &r.group, &r.kind).await.map_err(err)? else {
            continue;
        };
        let objects: Api<DynamicObject> = match (&scope, &r.namespace) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
            (Scope::Cluster, _) => Api::all_with(client.clone(), &ar),
            (Scope::Namespaced, None) => continue,
        };
        let Some(live) = objects.get_opt(&r.name).await.map_err(err)? else {
            continue;
        };
        if live
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(SECRET_TYPE_LABEL))
        {
            continue;
        }
        match objects.delete(&r.name, &DeleteParams::background()).await {
            Ok(_) => deleted += 1,
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(err(e)),
        }
        tracing::debug!("deleted {r}: the new Argo CD release does not have it");
    }
    Ok(deleted)
}

/// The API resource of `kind` in `group` at the group's preferred version; `None` when the
/// API server does not serve it (any more).
async fn resolve(
    client: &kube::Client,
    group: &str,
    kind: &str,
) -> Result<Option<(ApiResource, Scope)>, kube::Error> {
    let found = match kube::discovery::group(client, group).await {
        Ok(g) => g,
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(found
        .recommended_kind(kind)
        .map(|(ar, caps)| (ar, caps.scope)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(group: &str, kind: &str, ns: Option<&str>, name: &str) -> AppliedObject {
        AppliedObject {
            group: group.into(),
            kind: kind.into(),
            namespace: ns.map(str::to_string),
            name: name.into(),
        }
    }

    fn ns(group: &str, kind: &str, name: &str) -> AppliedObject {
        obj(group, kind, Some("argocd"), name)
    }

    #[test]
    fn refs_carry_the_group_not_the_version() {
        let refs = refs_of(&[
            ObjectRef {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: Some("argocd".into()),
                name: "argocd-server".into(),
            },
            ObjectRef {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: Some("argocd".into()),
                name: "argocd-cm".into(),
            },
            ObjectRef {
                api_version: "rbac.authorization.k8s.io/v1".into(),
                kind: "ClusterRole".into(),
                namespace: None,
                name: "argocd-server".into(),
            },
            // Twice (a manifest may repeat an object): once in the record.
            ObjectRef {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: Some("argocd".into()),
                name: "argocd-cm".into(),
            },
        ]);
        assert_eq!(
            refs,
            [
                obj("", "ConfigMap", Some("argocd"), "argocd-cm"),
                obj("apps", "Deployment", Some("argocd"), "argocd-server"),
                obj(
                    "rbac.authorization.k8s.io",
                    "ClusterRole",
                    None,
                    "argocd-server"
                ),
            ]
        );
    }

    #[test]
    fn the_prune_set_is_old_minus_new_minus_protected() {
        let old = vec![
            ns("apps", "Deployment", "argocd-server"),
            ns("apps", "Deployment", "argocd-legacy-controller"),
            ns("", "ServiceAccount", "argocd-legacy-controller"),
            obj(
                "rbac.authorization.k8s.io",
                "ClusterRole",
                None,
                "argocd-legacy",
            ),
            ns("", "ConfigMap", "argocd-cm"),
            ns(
                "networking.k8s.io",
                "NetworkPolicy",
                "argocd-legacy-network-policy",
            ),
            // Never, even when the new release lacks them:
            obj(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                None,
                "applicationsets.argoproj.io",
            ),
            ns("argoproj.io", "AppProject", "default"),
            ns("argoproj.io", "Application", "root"),
            ns("", "Secret", "argocd-secret"),
            ns("", "Secret", "argocd-initial-admin-secret"),
            ns("", "Secret", "repo-lab"),
            obj("", "Namespace", None, "argocd"),
        ];
        let new = vec![
            ns("apps", "Deployment", "argocd-server"),
            ns("", "ConfigMap", "argocd-cm"),
        ];
        assert_eq!(
            prune_set(&old, &new),
            [
                // The workload first, then the rest in order.
                ns("apps", "Deployment", "argocd-legacy-controller"),
                ns("", "ServiceAccount", "argocd-legacy-controller"),
                ns(
                    "networking.k8s.io",
                    "NetworkPolicy",
                    "argocd-legacy-network-policy"
                ),
                obj(
                    "rbac.authorization.k8s.io",
                    "ClusterRole",
                    None,
                    "argocd-legacy"
                ),
            ]
        );
    }

    #[test]
    fn the_same_release_prunes_nothing_and_no_record_prunes_nothing() {
        let refs = vec![
            ns("apps", "Deployment", "argocd-server"),
            ns("", "ConfigMap", "argocd-cm"),
        ];
        assert!(prune_set(&refs, &refs).is_empty());
        assert!(prune_set(&[], &refs).is_empty());
    }

    #[test]
    fn an_object_in_another_namespace_is_another_object() {
        let old = vec![obj("", "ConfigMap", Some("a"), "argocd-cm")];
        let new = vec![obj("", "ConfigMap", Some("b"), "argocd-cm")];
        assert_eq!(prune_set(&old, &new), old);
    }

    #[test]
    fn the_pinned_fixtures_prune_nothing_between_them() {
        // v3.4.7 and v3.5.1 ship the same 59 objects (by group, kind, name).
        let refs = |text: &str| {
            let objects = crate::kube::apply::parse_documents(text, "install.yaml").unwrap();
            refs_of(&objects.iter().map(ObjectRef::of).collect::<Vec<_>>())
        };
        let old = refs(include_str!(
            "../../tests/fixtures/argocd-install-v3.4.7.yaml"
        ));
        let new = refs(include_str!(
            "../../tests/fixtures/argocd-install-v3.5.1.yaml"
        ));
        assert_eq!(old.len(), 59);
        assert!(prune_set(&old, &new).is_empty());
        assert!(old.iter().any(protected), "CRDs and Secrets are in it");
    }

    #[test]
    fn versions_compare_by_precedence() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("v3.4.7") < v("v3.5.1"));
        assert!(v("v3.3.14") > v("v3.3.9"), "numbers, not strings");
        assert!(v("v3.5.0-rc1") < v("v3.5.0"));
        assert!(v("v3.5.0-rc2") < v("v3.5.0-rc10"));
        assert!(v("v3.5.0-rc.1") < v("v3.5.0-rc.1.1"));
        assert_eq!(v("3.5.1"), v("v3.5.1"));
        assert_eq!(v("v3.5.1+6c2a6f1").cmp(&v("v3.5.1")), Ordering::Equal);
        for bad in ["latest", "v3.5", "v3.5.1.2", "", "vx.y.z", "stable"] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_change_is_an_upgrade_a_downgrade_or_unknown() {
        assert_eq!(version_change(None, "v3.5.1"), None, "a fresh install");
        assert_eq!(version_change(Some("v3.5.1"), "v3.5.1"), None);
        assert_eq!(version_change(Some("3.5.1"), "v3.5.1"), None);
        let up = version_change(Some("v3.4.7"), "v3.5.1").unwrap();
        assert_eq!(up.direction, Direction::Upgrade);
        assert_eq!(up.to_string(), "argocd v3.4.7 → v3.5.1");
        assert!(
            up.diff().contains("argocd v3.4.7 → v3.5.1"),
            "{}",
            up.diff()
        );
        assert!(!up.diff().contains("warning"), "{}", up.diff());
        assert!(up.warning().is_none());

        let down = version_change(Some("v3.5.1"), "v3.3.14").unwrap();
        assert!(down.is_downgrade());
        let diff = down.diff();
        assert!(diff.contains("argocd v3.5.1 → v3.3.14"), "{diff}");
        assert!(
            diff.contains("warning: v3.5.1 → v3.3.14 is a downgrade"),
            "{diff}"
        );

        let odd = version_change(Some("my-build"), "v3.5.1").unwrap();
        assert_eq!(odd.direction, Direction::Unknown);
        assert!(!odd.is_downgrade());
        assert_eq!(version_change(Some("my-build"), "my-build"), None);
    }

    #[test]
    fn the_image_tag_is_the_running_version() {
        assert_eq!(image_tag("quay.io/argoproj/argocd:v3.4.7"), Some("v3.4.7"));
        assert_eq!(image_tag("localhost:5000/argocd:v3.5.1"), Some("v3.5.1"));
        assert_eq!(image_tag("localhost:5000/argocd"), None);
        assert_eq!(
            image_tag("quay.io/argoproj/argocd:v3.5.1@sha256:0123"),
            Some("v3.5.1")
        );
        assert_eq!(image_tag("quay.io/argoproj/argocd@sha256:0123"), None);
        let image = |tag: Option<&str>| Observed::Image {
            image: "x".into(),
            version: tag.map(str::to_string),
        };
        assert_eq!(
            image(Some("v3.4.7")).version(Some("v3.5.1")).as_deref(),
            Some("v3.4.7")
        );
        assert_eq!(
            image(None).version(Some("v3.5.1")).as_deref(),
            Some("v3.5.1")
        );
        assert_eq!(Observed::NotInstalled.version(Some("v3.5.1")), None);
    }
}
