//! The user's kubeconfig: adding a lab's credentials, taking them away, and
//! printing them on their own.
//!
//! # The promise: nothing lost
//!
//! A lab owns exactly three entries, all named `playground-<lab>`: a cluster, a
//! user and a context joining the two. We add, replace or delete those three and
//! set or clear `current-context`; everything else in the file keeps its
//! content. Its bytes may move (we re-render the whole file, comments are not
//! kept and quoting may change), but every other entry, top-level key and
//! unknown field reads back as the same value.
//!
//! That is why the user's file is never round-tripped through kube's typed
//! [`Kubeconfig`]: the typed model drops or normalizes what it does not know.
//! The file is read as a generic, order-preserving [`value::Yaml`] tree and
//! only the list items whose `name` is ours are touched. kube's typed structs
//! are used where they fit: to validate the kubeconfig k3s wrote and to build
//! our three entries from it.
//!
//! # The flow of [`merge`] and [`remove`]
//!
//! 1. Resolve the target: the first entry of `$KUBECONFIG`, else
//!    `~/.kube/config` ([`target_path`]), then follow symlinks so the link
//!    survives ([`file::resolve_symlinks`]).
//! 2. Lock: our own `flock` against other `playground` processes, then
//!    client-go's `<file>.lock` against kubectl and friends (see
//!    [`file::lock_for_edit`]). Both are held across read-modify-write, so two
//!    parallel `up`s cannot lose each other's entries.
//! 3. Read and parse. A missing or empty file is an empty kubeconfig; a file
//!    that does not parse, or is not shaped like a kubeconfig, is an error that
//!    names it, and nothing is written.
//! 4. Edit the tree, render it, and check the rendering reads back as the tree
//!    (a guard against serializer surprises ever reaching the user's file).
//! 5. Write a 0600 temp file next to the target, fsync, rename over it.
//!
//! Reading ([`has_entries`]) takes no lock: the rename in step 5 means a reader
//! sees either the old file or the new one.

mod file;
pub(crate) mod value;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ::kube::config::{Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext};

use self::value::{Yaml, YamlError};
use crate::config::LabName;

/// How long to wait for kubectl (or another client-go program) to release
/// `<file>.lock`. Its edits take milliseconds; a lock older than this is
/// almost certainly left behind by a crash.
const KUBECTL_LOCK_WAIT: Duration = Duration::from_secs(5);

const CLUSTERS: &str = "clusters";
const USERS: &str = "users";
const CONTEXTS: &str = "contexts";
const CURRENT_CONTEXT: &str = "current-context";

/// Everything that can go wrong here. Each message says what failed, on which
/// file, and what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error(
        "cannot find the kubeconfig: KUBECONFIG is not set and the home directory is unknown; \
         set KUBECONFIG (or HOME) and retry"
    )]
    NoTarget,

    #[error(
        "the kubeconfig from the k3s server is not usable: {reason}; \
         this is a bug in playground or an unexpected k3s version, please report it"
    )]
    InvalidSource { reason: String },

    #[error("cannot read {}: {source}; nothing was changed, check the file's permissions", .path.display())]
    Read { path: PathBuf, source: io::Error },

    #[error(
        "{} is read-only, so playground leaves it alone (kubectl could not write it either); \
         nothing was changed. Make it writable (chmod u+w) or point KUBECONFIG at another file, \
         then retry; `playground kubeconfig NAME` prints the lab's kubeconfig meanwhile",
        .path.display()
    )]
    ReadOnly { path: PathBuf },

    #[error(
        "cannot parse {location}: {source}; nothing was changed, fix the file \
         (or point KUBECONFIG at another one) and retry"
    )]
    Parse {
        path: PathBuf,
        /// `path:line:col` when the parser knows where, else just the path.
        location: String,
        #[source]
        source: YamlError,
    },

    #[error(
        "{} is not a kubeconfig playground can edit: {reason}; nothing was changed, \
         fix the file (or point KUBECONFIG at another one) and retry",
        .path.display()
    )]
    Shape { path: PathBuf, reason: String },

    #[error(
        "cannot lock {}: {source}; nothing was changed, check that its directory is writable",
        .path.display()
    )]
    Lock { path: PathBuf, source: io::Error },

    #[error(
        "{} exists: kubectl or another program is editing the kubeconfig, or one crashed \
         and left it behind; nothing was changed, delete that file if no such program \
         is running and retry",
        .path.display()
    )]
    LockedByOther { path: PathBuf },

    #[error(
        "cannot write {}: {source}; the previous file is unchanged, check the directory's \
         permissions and free space",
        .path.display()
    )]
    Write { path: PathBuf, source: io::Error },

    #[error(
        "cannot render the kubeconfig as YAML: {0}; this is a bug in playground, please report it"
    )]
    Render(#[source] YamlError),

    #[error(
        "{} has no complete entry for lab {lab:?} (looked for cluster, user and context \
         {name:?}); run `playground up` for that lab first",
        .path.display()
    )]
    NotFound {
        path: PathBuf,
        lab: String,
        name: String,
    },
}

impl crate::diag::Classified for KubeconfigError {}

/// What [`merge`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MergeOutcome {
    /// The file written (symlinks resolved).
    pub(crate) path: PathBuf,
    /// Our context's name, `playground-<lab>`.
    pub(crate) context: String,
    /// Whether entries of that name existed and were replaced.
    pub(crate) replaced: bool,
    /// Whether `current-context` now names our context and did not before.
    pub(crate) switched: bool,
}

/// What [`remove`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoveOutcome {
    /// The file looked at (symlinks resolved).
    pub(crate) path: PathBuf,
    /// Whether any of our entries were found (and so the file was rewritten).
    pub(crate) removed: bool,
    /// Whether `current-context` was ours and is now empty.
    pub(crate) cleared_current_context: bool,
}

/// The name of a lab's cluster, user and context: `playground-<lab>`, the lab's kube context
/// ([`crate::lab::kube_context`]). A [`LabName`] is a DNS-1123 label, so it cannot smuggle
/// YAML or path syntax into the entry names.
pub(crate) fn entry_name(lab: &LabName) -> String {
    crate::lab::kube_context(lab)
}

/// The kubeconfig to edit, from the values of `KUBECONFIG` and the home
/// directory (passed in, so tests need not touch the process environment).
///
/// Like kubectl, empty entries of `KUBECONFIG` (`:a:b`, `a::b`) are skipped and
/// the first remaining one wins; an unset or all-empty `KUBECONFIG` means
/// `<home>/.kube/config`.
pub(crate) fn target_path(
    kubeconfig_env: Option<&OsStr>,
    home: Option<&Path>,
) -> Result<PathBuf, KubeconfigError> {
    if let Some(first) = kubeconfig_env
        .into_iter()
        .flat_map(std::env::split_paths)
        .find(|p| !p.as_os_str().is_empty())
    {
        return Ok(first);
    }
    home.map(|h| h.join(".kube").join("config"))
        .ok_or(KubeconfigError::NoTarget)
}

/// [`target_path`] with this process's `KUBECONFIG` and home directory.
pub(crate) fn target_path_from_env() -> Result<PathBuf, KubeconfigError> {
    target_path(
        std::env::var_os("KUBECONFIG").as_deref(),
        dirs::home_dir().as_deref(),
    )
}

/// Parse the kubeconfig the k3s server wrote (`/etc/rancher/k3s/k3s.yaml`).
pub(crate) fn parse_source(yaml: &str) -> Result<Kubeconfig, KubeconfigError> {
    Kubeconfig::from_yaml(yaml).map_err(|e| KubeconfigError::InvalidSource {
        reason: e.to_string(),
    })
}

/// Check, before anything is created, that [`merge`] could write the kubeconfig at `path`.
pub(crate) fn check_writable(path: &Path) -> Result<(), KubeconfigError> {
    file::refuse_read_only(&resolve(path)?)
}

/// Add (or replace) the lab's cluster, user and context in the kubeconfig at
/// `path`, built from `source`'s single cluster and user, whose server URL the
/// caller has already pointed at the published API port.
///
/// `current-context` becomes ours if `switch_context` is set or it was empty or
/// absent; otherwise it is left alone.
pub(crate) fn merge(
    path: &Path,
    lab: &LabName,
    source: &Kubeconfig,
    switch_context: bool,
) -> Result<MergeOutcome, KubeconfigError> {
    merge_with_wait(path, lab, source, switch_context, KUBECTL_LOCK_WAIT)
}

fn merge_with_wait(
    path: &Path,
    lab: &LabName,
    source: &Kubeconfig,
    switch_context: bool,
    kubectl_wait: Duration,
) -> Result<MergeOutcome, KubeconfigError> {
    let ours = OurEntries::from_source(lab, source)?;
    let target = resolve(path)?;
    file::refuse_read_only(&target)?;
    file::ensure_parent_dir(&target)?;
    let _lock = file::lock_for_edit(path, &target, kubectl_wait)?;

    let mut doc = read_doc(&target)?.unwrap_or_else(empty_doc);
    check_shape(&doc).map_err(|reason| KubeconfigError::Shape {
        path: target.clone(),
        reason,
    })?;
    let outcome = merge_into(&mut doc, &ours, switch_context);
    file::write_atomic(&target, render(&doc)?.as_bytes())?;
    Ok(MergeOutcome {
        path: target,
        context: ours.name,
        replaced: outcome.replaced,
        switched: outcome.switched,
    })
}

/// Delete the lab's cluster, user and context from the kubeconfig at `path`.
///
/// If `current-context` named our context it is set to `""`. Unlike k3d we do
/// not pick another context: which one the user wants next is a guess, and a
/// wrong guess points their next `kubectl delete` at a cluster they did not
/// choose. An empty current context makes kubectl say so instead.
///
/// A missing file, or one without our entries, is left untouched.
pub(crate) fn remove(path: &Path, lab: &LabName) -> Result<RemoveOutcome, KubeconfigError> {
    remove_with_wait(path, lab, KUBECTL_LOCK_WAIT)
}

fn remove_with_wait(
    path: &Path,
    lab: &LabName,
    kubectl_wait: Duration,
) -> Result<RemoveOutcome, KubeconfigError> {
    let name = entry_name(lab);
    let target = resolve(path)?;
    let mut outcome = RemoveOutcome {
        path: target.clone(),
        removed: false,
        cleared_current_context: false,
    };
    // Checked before locking so that removing from a missing file creates
    // neither the directory nor lock files.
    if !target.exists() {
        return Ok(outcome);
    }
    file::refuse_read_only(&target)?;
    let _lock = file::lock_for_edit(path, &target, kubectl_wait)?;
    let Some(mut doc) = read_doc(&target)? else {
        return Ok(outcome);
    };
    check_shape(&doc).map_err(|reason| KubeconfigError::Shape {
        path: target.clone(),
        reason,
    })?;
    let edit = remove_from(&mut doc, &name);
    if edit.removed || edit.cleared_current_context {
        file::write_atomic(&target, render(&doc)?.as_bytes())?;
    }
    outcome.removed = edit.removed;
    outcome.cleared_current_context = edit.cleared_current_context;
    Ok(outcome)
}

/// A standalone kubeconfig for one lab, built from the k3s `source` the same
/// way [`merge`] builds its entries. For `playground kubeconfig NAME` when the
/// cluster itself is at hand.
pub(crate) fn render_standalone(
    lab: &LabName,
    source: &Kubeconfig,
) -> Result<String, KubeconfigError> {
    let ours = OurEntries::from_source(lab, source)?;
    render(&standalone_doc(ours))
}

/// Whether the kubeconfig at `path` holds any of a lab's entries (cluster, user or context).
/// A missing file holds none.
pub(crate) fn has_entries(path: &Path, lab: &LabName) -> Result<bool, KubeconfigError> {
    let name = entry_name(lab);
    let Some(doc) = read_doc(&resolve(path)?)? else {
        return Ok(false);
    };
    Ok([CLUSTERS, USERS, CONTEXTS].iter().any(|list| {
        matches!(doc.get(list), Some(Yaml::Seq(items)) if items.iter().any(|i| is_named(i, &name)))
    }))
}

/// A lab's three entries, rendered as generic values ready to insert.
#[derive(Debug, Clone)]
struct OurEntries {
    name: String,
    cluster: Yaml,
    user: Yaml,
    context: Yaml,
}

impl OurEntries {
    fn from_source(lab: &LabName, source: &Kubeconfig) -> Result<Self, KubeconfigError> {
        let name = entry_name(lab);
        let invalid = |reason: String| KubeconfigError::InvalidSource { reason };
        let [src_cluster] = source.clusters.as_slice() else {
            return Err(invalid(format!(
                "expected exactly one cluster, found {}",
                source.clusters.len()
            )));
        };
        let [src_user] = source.auth_infos.as_slice() else {
            return Err(invalid(format!(
                "expected exactly one user, found {}",
                source.auth_infos.len()
            )));
        };
        let cluster = src_cluster
            .cluster
            .clone()
            .ok_or_else(|| invalid(format!("cluster {:?} has no details", src_cluster.name)))?;
        if cluster.server.as_deref().unwrap_or("").is_empty() {
            return Err(invalid(format!(
                "cluster {:?} has no server URL",
                src_cluster.name
            )));
        }
        let user = src_user
            .auth_info
            .clone()
            .ok_or_else(|| invalid(format!("user {:?} has no credentials", src_user.name)))?;

        let cluster = NamedCluster {
            name: name.clone(),
            cluster: Some(cluster),
            ..Default::default()
        };
        let user = NamedAuthInfo {
            name: name.clone(),
            auth_info: Some(user),
            ..Default::default()
        };
        let context = NamedContext {
            name: name.clone(),
            context: Some(Context {
                cluster: name.clone(),
                user: Some(name.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let to_yaml = |v: Result<Yaml, YamlError>| v.map_err(KubeconfigError::Render);
        Ok(OurEntries {
            cluster: to_yaml(Yaml::from_serialize(&cluster))?,
            user: to_yaml(Yaml::from_serialize(&user))?,
            context: to_yaml(Yaml::from_serialize(&context))?,
            name,
        })
    }
}

fn resolve(path: &Path) -> Result<PathBuf, KubeconfigError> {
    file::resolve_symlinks(path).map_err(|source| KubeconfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Options for reading the user's file, chosen so that whatever we accept we
/// can write back with the same meaning, and whatever we cannot, we refuse.
fn parse_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    // kubectl reads YAML 1.1 (go-yaml): `0755` is octal there. The default
    // would read it as the float 755.0 and write that back.
    options.legacy_octal_numbers = true;
    // An application tag would be silently dropped on the way back.
    options.reject_unsupported_tags = true;
    // `.inf`/`.nan` are kept as floats (and written back as such) rather than
    // refused; our value type, unlike serde_json's, can hold them.
    options.non_finite_float_policy = serde_saphyr::options::NonFiniteFloatPolicy::PassThrough;
    options
}

/// Parse kubeconfig text; `None` for a document with no content (empty file,
/// only comments, `null`).
fn parse_doc(path: &Path, text: &str) -> Result<Option<Yaml>, KubeconfigError> {
    match serde_saphyr::from_str_with_options::<Yaml>(text, parse_options()) {
        Ok(Yaml::Null) => Ok(None),
        Ok(doc) => Ok(Some(doc)),
        Err(e) => {
            let location = match e.location() {
                Some(l) => format!("{}:{}:{}", path.display(), l.line(), l.column()),
                None => path.display().to_string(),
            };
            Err(KubeconfigError::Parse {
                path: path.to_path_buf(),
                location,
                source: YamlError::parse(e),
            })
        }
    }
}

/// Read and parse the file; `None` if it is missing or has no content.
fn read_doc(target: &Path) -> Result<Option<Yaml>, KubeconfigError> {
    match file::read_if_exists(target)? {
        Some(text) => parse_doc(target, &text),
        None => Ok(None),
    }
}

fn empty_doc() -> Yaml {
    Yaml::Map(vec![
        ("apiVersion".into(), "v1".into()),
        ("kind".into(), "Config".into()),
    ])
}

/// Refuse documents we could only edit by guessing. Checked before any edit,
/// so a refusal leaves the file as it was.
fn check_shape(doc: &Yaml) -> Result<(), String> {
    if !matches!(doc, Yaml::Map(_)) {
        return Err("the top level is not a mapping".into());
    }
    for list in [CLUSTERS, USERS, CONTEXTS] {
        match doc.get(list) {
            None | Some(Yaml::Null | Yaml::Seq(_)) => {}
            Some(_) => return Err(format!("`{list}` is not a list")),
        }
    }
    match doc.get(CURRENT_CONTEXT) {
        None | Some(Yaml::Null | Yaml::String(_)) => Ok(()),
        Some(_) => Err(format!("`{CURRENT_CONTEXT}` is not a string")),
    }
}

fn is_named(item: &Yaml, name: &str) -> bool {
    item.get("name").and_then(Yaml::as_str) == Some(name)
}

struct MergeEdit {
    replaced: bool,
    switched: bool,
}

/// Put our entries into a shape-checked document.
fn merge_into(doc: &mut Yaml, ours: &OurEntries, switch_context: bool) -> MergeEdit {
    let mut replaced = false;
    for (list, entry) in [
        (CLUSTERS, &ours.cluster),
        (USERS, &ours.user),
        (CONTEXTS, &ours.context),
    ] {
        replaced |= upsert(doc, list, &ours.name, entry.clone());
    }
    let current = doc.get(CURRENT_CONTEXT).and_then(Yaml::as_str);
    let was_ours = current == Some(ours.name.as_str());
    let unset = current.is_none_or(str::is_empty);
    if switch_context || unset {
        doc.set(CURRENT_CONTEXT, ours.name.as_str().into());
    }
    MergeEdit {
        replaced,
        switched: (switch_context || unset) && !was_ours,
    }
}

/// Replace the item named `name` in `doc[list]` where it stands, or append it.
/// Returns whether one was replaced. Duplicates of our name (only a hand edit
/// makes them) collapse into one, since all of them are ours.
fn upsert(doc: &mut Yaml, list: &str, name: &str, entry: Yaml) -> bool {
    if !matches!(doc.get(list), Some(Yaml::Seq(_))) {
        // Absent or null: start the list.
        doc.set(list, Yaml::Seq(Vec::new()));
    }
    let Some(Yaml::Seq(items)) = doc.get_mut(list) else {
        unreachable!("just made it a list");
    };
    match items.iter().position(|i| is_named(i, name)) {
        Some(first) => {
            items[first] = entry;
            let mut index = 0;
            items.retain(|i| {
                let keep = index <= first || !is_named(i, name);
                index += 1;
                keep
            });
            true
        }
        None => {
            items.push(entry);
            false
        }
    }
}

struct RemoveEdit {
    removed: bool,
    cleared_current_context: bool,
}

/// Take our entries out of a shape-checked document. Emptied lists stay (as
/// `[]`): a key the user had is theirs to delete.
fn remove_from(doc: &mut Yaml, name: &str) -> RemoveEdit {
    let mut removed = false;
    for list in [CLUSTERS, USERS, CONTEXTS] {
        if let Some(Yaml::Seq(items)) = doc.get_mut(list) {
            let before = items.len();
            items.retain(|i| !is_named(i, name));
            removed |= items.len() != before;
        }
    }
    let cleared_current_context = doc.get(CURRENT_CONTEXT).and_then(Yaml::as_str) == Some(name);
    if cleared_current_context {
        doc.set(CURRENT_CONTEXT, "".into());
    }
    RemoveEdit {
        removed,
        cleared_current_context,
    }
}

fn standalone_doc(ours: OurEntries) -> Yaml {
    Yaml::Map(vec![
        ("apiVersion".into(), "v1".into()),
        ("kind".into(), "Config".into()),
        (CLUSTERS.into(), Yaml::Seq(vec![ours.cluster])),
        (USERS.into(), Yaml::Seq(vec![ours.user])),
        (CONTEXTS.into(), Yaml::Seq(vec![ours.context])),
        (CURRENT_CONTEXT.into(), Yaml::String(ours.name)),
    ])
}

/// Render a document, and prove it reads back as the same document before
/// anyone writes it.
fn render(doc: &Yaml) -> Result<String, KubeconfigError> {
    let mut options = serde_saphyr::SerializerOptions::default();
    // Otherwise every string longer than 80 characters, such as the base64
    // certificate data, is written as a folded (`>-`) block: valid, but
    // unlike any kubeconfig people have seen. Multi-line strings still use `|`.
    options.folded_wrap_chars = usize::MAX;
    let text = serde_saphyr::to_string_with_options(doc, options)
        .map_err(|e| KubeconfigError::Render(YamlError::Serialize(Box::new(e))))?;
    match serde_saphyr::from_str_with_options::<Yaml>(&text, parse_options()) {
        Ok(back) if back == *doc => Ok(text),
        Ok(_) => Err(KubeconfigError::Render(YamlError::NotSame)),
        Err(e) => Err(KubeconfigError::Render(YamlError::read_back(e))),
    }
}
