//! The Argo CD install manifest: which one, where it comes from, and how it is prepared.
//!
//! [`load`] picks the source from the lab's `argocd:` section:
//! - `argocd.manifest` is a local path: the file is read as is. It is the user's file, so
//!   there is no hash to check it against;
//! - `argocd.manifest` is an `https://` URL: it is downloaded on every `up` (not cached, not
//!   hash-checked: the user chose a moving target);
//! - otherwise the release's own `install.yaml` for `argocd.version`, which must be in
//!   [`PINNED`] (URL and SHA-256 kept in the code). The copy cached at
//!   `<cache>/playground/argocd/<version>/install.yaml` is used when its SHA-256 matches;
//!   otherwise it is downloaded, checked against the pinned SHA-256 *before* anything is
//!   written, and written to the cache atomically (temp file + rename), so the cache never
//!   holds a partial or unverified manifest.
//!
//! Downloads go through the [`Fetch`] trait so tests never touch the network.
//!
//! [`Manifest::documents`] then splits the text into objects and [`prepare`]s them for the
//! lab: the ClusterRoleBindings' subjects follow the configured namespace, the UI is served
//! over plain HTTP, Git is polled more often, and, for a local repository, argocd-repo-server
//! mounts it (see [`super::seed`]). All of it is in the objects before the first apply, so
//! every pod starts with it: nothing is patched afterwards, and no Deployment rolls out twice.

use crate::config::ArgoCdComponent;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::api::DynamicObject;
use sha2::{Digest, Sha256};

use super::download::HttpError;
use super::seed::{self, SeedError};
use crate::config::model::ArgoCdSpec;
use crate::kube::apply::{self, ApplyError, parse_documents};

/// The Argo CD release a lab installs by default.
pub const ARGOCD_VERSION: &str = "v3.5.1";

/// A release whose `install.yaml` we know the hash of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pinned {
    pub version: &'static str,
    pub(crate) url: &'static str,
    /// Lower-case hex SHA-256 of the file at `url`.
    pub sha256: &'static str,
}

/// The releases `argocd.version` may name without `argocd.manifest`: the latest patch of
/// each of the three newest minor lines, newest first ([`ARGOCD_VERSION`] is the first). To
/// add one: download
/// `https://raw.githubusercontent.com/argoproj/argo-cd/<version>/manifests/install.yaml`,
/// `sha256sum` it, and add a row. Each hash here was checked against the release tag in the
/// argo-cd repository (`git show <tag>:manifests/install.yaml | sha256sum`):
/// - v3.5.1: commit 109ca7ca71139e514114499d294a492e7910a965, blob e7238840ff8b86f2c2429e66fc053c9190c5659c;
/// - v3.4.7: commit 7b6113c14c8186e126046131dfbe5103a9f680f4, blob 57e5a11f6fdcb1b6c64c2cccd105c27e6cb55467;
/// - v3.3.14: commit a0a99e187cb6126ef0f3be82d90705513d8f6f3e, blob 422a2fd279e9581e88ccf539a738d0a2d48f4205.
pub(crate) const PINNED: &[Pinned] = &[
    Pinned {
        version: "v3.5.1",
        url: "https://raw.githubusercontent.com/argoproj/argo-cd/v3.5.1/manifests/install.yaml",
        sha256: "795a3a972224da6a7f9d32c3e946445f062b60fb46028476715affeb688236e3",
    },
    Pinned {
        version: "v3.4.7",
        url: "https://raw.githubusercontent.com/argoproj/argo-cd/v3.4.7/manifests/install.yaml",
        sha256: "11016889371e4b1e3754b7ba2494b36ab1111338bd2362d499abe3ff2f63c906",
    },
    Pinned {
        version: "v3.3.14",
        url: "https://raw.githubusercontent.com/argoproj/argo-cd/v3.3.14/manifests/install.yaml",
        sha256: "74fe2e5b57b1ca652078c262e057b563efc4dcd317d734479185c2623177aea8",
    },
];

/// The pinned release `version`, if we know it.
pub fn pinned(version: &str) -> Option<&'static Pinned> {
    PINNED.iter().find(|p| p.version == version)
}

/// Where a manifest came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The pinned release manifest; `cached` when it was read from the cache.
    Pinned { url: String, cached: bool },
    /// A URL the lab named (not hash-checked).
    Url(String),
    /// A local file the lab named (not hash-checked).
    File(PathBuf),
}

/// A loaded install manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// `argocd.version` (for a file or URL: what the lab says it is).
    pub version: String,
    pub source: Source,
    /// SHA-256 of `text`, lower-case hex.
    pub sha256: String,
    pub text: String,
}

impl Manifest {
    /// The path or URL, for messages.
    pub(crate) fn origin(&self) -> String {
        match &self.source {
            Source::Pinned { url, .. } | Source::Url(url) => url.clone(),
            Source::File(path) => path.display().to_string(),
        }
    }

    /// The objects, [`prepare`]d with `opts` for an install into `namespace`.
    pub fn documents(
        &self,
        namespace: &str,
        opts: &Prepare,
    ) -> Result<Vec<DynamicObject>, ManifestError> {
        let mut objects = parse_documents(&self.text, &self.origin())?;
        prepare(&mut objects, namespace, opts).map_err(|source| ManifestError::Prepare {
            origin: self.origin(),
            source,
        })?;
        Ok(objects)
    }
}

/// Why no manifest could be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("Argo CD {version} has no pinned install manifest (known: {known})")]
    UnknownVersion { version: String, known: String },
    #[error("argocd.manifest `{0}` is neither a local path nor an https:// URL")]
    UnsupportedUrl(String),
    #[error("cannot read the Argo CD manifest {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("downloading the Argo CD manifest {url} failed: {source}")]
    Download {
        url: String,
        #[source]
        source: HttpError,
    },
    #[error(
        "the Argo CD manifest downloaded from {url} does not have the pinned SHA-256\n  expected: {expected}\n  actual:   {actual}\n  nothing was cached"
    )]
    HashMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    #[error(transparent)]
    Parse(#[from] ApplyError),
    #[error("{origin}: {source}")]
    Prepare {
        origin: String,
        #[source]
        source: SeedError,
    },
    #[error("the Argo CD manifest {origin} is not UTF-8 text")]
    NotText { origin: String },
    #[error("cannot write the manifest cache {path}: {source}")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::diag::Hinted for ManifestError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::UnknownVersion { version, .. } => Some(format!("set `argocd.manifest` to a local file or to https://raw.githubusercontent.com/argoproj/argo-cd/{version}/manifests/install.yaml (neither is hash-checked), or use a known version")),
            Self::UnsupportedUrl(..) => Some("use https://, or download the file and name its path".to_string()),
            Self::Read { .. } => Some("check that `argocd.manifest` names an existing, readable file".to_string()),
            Self::Download { .. } => Some("check the network (and HTTPS_PROXY); once downloaded, the pinned manifest is cached and `up` works offline".to_string()),
            Self::HashMismatch { .. } => Some("the file changed upstream or the download was tampered with; retry, or pin a manifest you trust with `argocd.manifest`".to_string()),
            Self::Parse(e) => e.hint(),
            Self::Prepare { source, .. } => source.hint(),
            Self::Cache { .. } => Some("check the permissions of the cache directory, or set XDG_CACHE_HOME".to_string()),
            _ => None,
        }
    }
}

/// The network, the mirror or the disk failed (a retry may work); anything else is the lab
/// file's `argocd` settings.
impl crate::diag::Classified for ManifestError {
    fn kind(&self) -> crate::diag::Kind {
        match self {
            Self::Download { .. } | Self::HashMismatch { .. } | Self::Cache { .. } => {
                crate::diag::Kind::Failed
            }
            _ => crate::diag::Kind::Usage,
        }
    }
}

/// Downloads a URL's body. [`HttpFetch`] is the real one; tests pass closures.
pub(crate) trait Fetch {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, HttpError>;
}

impl<F: Fn(&str) -> Result<Vec<u8>, HttpError>> Fetch for F {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, HttpError> {
        self(url)
    }
}

/// HTTPS with ureq (blocking; call [`load`] from `spawn_blocking` in async code).
pub(crate) struct HttpFetch;

/// Install manifests are about 2 MB; anything far larger is not one.
const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;

impl Fetch for HttpFetch {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, HttpError> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let mut response = agent.get(url).call()?;
        Ok(response
            .body_mut()
            .with_config()
            .limit(MAX_MANIFEST_BYTES)
            .read_to_vec()?)
    }
}

/// Where the pinned manifest of `version` is cached under the user cache dir `cache_dir`.
pub(crate) fn cache_path(cache_dir: &Path, version: &str) -> PathBuf {
    cache_dir
        .join("playground")
        .join("argocd")
        .join(version)
        .join("install.yaml")
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn text(bytes: Vec<u8>, origin: &str) -> Result<String, ManifestError> {
    String::from_utf8(bytes).map_err(|_| ManifestError::NotText {
        origin: origin.to_string(),
    })
}

/// Load the manifest `spec` names (see the module docs), downloading over HTTPS. Blocking.
pub(crate) fn load(spec: &ArgoCdSpec, cache_dir: &Path) -> Result<Manifest, ManifestError> {
    load_with(spec, cache_dir, &HttpFetch)
}

/// [`load`] with the downloader given.
pub(crate) fn load_with(
    spec: &ArgoCdSpec,
    cache_dir: &Path,
    fetch: &dyn Fetch,
) -> Result<Manifest, ManifestError> {
    let version = spec.version.clone();
    if let Some(named) = &spec.manifest {
        if named.starts_with("https://") {
            let bytes = fetch
                .fetch(named)
                .map_err(|source| ManifestError::Download {
                    url: named.clone(),
                    source,
                })?;
            return Ok(Manifest {
                version,
                source: Source::Url(named.clone()),
                sha256: sha256_hex(&bytes),
                text: text(bytes, named)?,
            });
        }
        if named.contains("://") {
            return Err(ManifestError::UnsupportedUrl(named.clone()));
        }
        // The user's own file: read as is; there is nothing to check its hash against.
        let path = PathBuf::from(named);
        let bytes = std::fs::read(&path).map_err(|source| ManifestError::Read {
            path: path.clone(),
            source,
        })?;
        return Ok(Manifest {
            version,
            sha256: sha256_hex(&bytes),
            text: text(bytes, named)?,
            source: Source::File(path),
        });
    }

    let pin = pinned(&version).ok_or_else(|| ManifestError::UnknownVersion {
        version: version.clone(),
        known: PINNED
            .iter()
            .map(|p| p.version)
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    let path = cache_path(cache_dir, pin.version);
    // A cached copy counts only if it still has the pinned hash: a truncated or edited file
    // is downloaded again.
    if let Ok(bytes) = std::fs::read(&path)
        && sha256_hex(&bytes) == pin.sha256
        && let Ok(text) = String::from_utf8(bytes)
    {
        return Ok(Manifest {
            version,
            source: Source::Pinned {
                url: pin.url.to_string(),
                cached: true,
            },
            sha256: pin.sha256.to_string(),
            text,
        });
    }
    let bytes = fetch
        .fetch(pin.url)
        .map_err(|source| ManifestError::Download {
            url: pin.url.to_string(),
            source,
        })?;
    let actual = sha256_hex(&bytes);
    if actual != pin.sha256 {
        return Err(ManifestError::HashMismatch {
            url: pin.url.to_string(),
            expected: pin.sha256.to_string(),
            actual,
        });
    }
    write_atomically(&path, &bytes)?;
    Ok(Manifest {
        version,
        source: Source::Pinned {
            url: pin.url.to_string(),
            cached: false,
        },
        sha256: actual,
        text: text(bytes, pin.url)?,
    })
}

/// Write via a temp file in the same directory and a rename, so a concurrent `up` or a crash
/// never sees half a manifest.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ManifestError> {
    let err = |source| ManifestError::Cache {
        path: path.to_path_buf(),
        source,
    };
    crate::fsutil::create_dir(
        path.parent().unwrap_or(Path::new(".")),
        crate::fsutil::CACHE_DIR_MODE,
    )
    .map_err(err)?;
    crate::fsutil::write_atomic(path, bytes, 0o644).map_err(err)
}

/// How [`prepare`] adapts the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepare {
    /// `server.insecure: "true"` in `argocd-cmd-params-cm`: the UI on plain HTTP, so the lab
    /// can publish it on a host port without certificates or a port-forward.
    pub(crate) insecure_server: bool,
    /// `timeout.reconciliation` in `argocd-cm`, unless the manifest sets one already.
    pub(crate) reconciliation: Option<String>,
    /// The lab's repository is local: `argocd-repo-server` mounts it from the node and reads
    /// it as a safe directory ([`seed::patch_repo_server_spec`], [`seed::gitconfig_configmap`]).
    pub(crate) local_repo: bool,
    /// The optional components that keep their replicas; every other one in
    /// [`ArgoCdComponent::ALL`] gets 0, in the manifest, before it is applied: no pod, so no
    /// image pulled and no memory requested for something a local lab does not use.
    pub(crate) components: Vec<ArgoCdComponent>,
}

impl Prepare {
    /// What a lab wants. Argo CD polls Git every 120 s plus up to 60 s jitter (about 3 min):
    /// far too slow for a local lab where you commit and want to see it, so poll every 30 s
    /// (`refresh` is still there for "now").
    pub fn lab(local_repo: bool) -> Self {
        Prepare {
            insecure_server: true,
            reconciliation: Some("30s".into()),
            local_repo,
            components: Vec::new(),
        }
    }
}

fn is(obj: &DynamicObject, api_version: &str, kind: &str, name: Option<&str>) -> bool {
    obj.types
        .as_ref()
        .is_some_and(|t| t.api_version == api_version && t.kind == kind)
        && name.is_none_or(|n| obj.metadata.name.as_deref() == Some(n))
}

fn set_data(obj: &mut DynamicObject, key: &str, value: &str) {
    if !obj.data["data"].is_object() {
        obj.data["data"] = serde_json::json!({});
    }
    obj.data["data"][key] = serde_json::Value::String(value.to_string());
}

/// Adapt the install manifest's objects for a lab in `namespace`:
/// - ClusterRoleBinding subjects in namespace `argocd` move to `namespace` (install.yaml
///   hard-codes `argocd` there; elsewhere the namespace comes from `kubectl -n`, so without
///   this the controllers would have no cluster permissions in another namespace);
/// - the ConfigMap settings of `opts`;
/// - with `opts.local_repo`, the repository mount on `argocd-repo-server`, and the ConfigMap
///   with its gitconfig, placed before the Deployments (an error if the manifest has no
///   `argocd-repo-server` Deployment to mount it into).
pub(crate) fn prepare(
    objects: &mut Vec<DynamicObject>,
    namespace: &str,
    opts: &Prepare,
) -> Result<(), SeedError> {
    let mut mounted = false;
    for obj in objects.iter_mut() {
        if let Some(off) = ArgoCdComponent::ALL
            .into_iter()
            .filter(|c| !opts.components.contains(c))
            .find(|c| is(obj, "apps/v1", "Deployment", Some(c.deployment())))
        {
            obj.data["spec"]["replicas"] = serde_json::json!(0);
            tracing::debug!("{} off (argocd.components)", off.deployment());
            continue;
        }
        if opts.local_repo && is(obj, "apps/v1", "Deployment", Some(seed::REPO_SERVER)) {
            seed::patch_repo_server_spec(&mut obj.data, seed::REPO_SERVER)?;
            mounted = true;
            continue;
        }
        if is(
            obj,
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            None,
        ) {
            if namespace == "argocd" {
                continue;
            }
            for subject in obj.data["subjects"].as_array_mut().into_iter().flatten() {
                if subject["namespace"] == "argocd" {
                    subject["namespace"] = serde_json::Value::String(namespace.to_string());
                }
            }
        } else if opts.insecure_server && is(obj, "v1", "ConfigMap", Some("argocd-cmd-params-cm")) {
            set_data(obj, "server.insecure", "true");
        } else if let Some(every) = &opts.reconciliation
            && is(obj, "v1", "ConfigMap", Some("argocd-cm"))
            // A custom manifest that sets its own poll keeps it: it is the user's choice.
            && obj.data["data"]["timeout.reconciliation"].is_null()
        {
            set_data(obj, "timeout.reconciliation", every);
        }
    }
    if opts.local_repo {
        if !mounted {
            return Err(SeedError::NoRepoServerContainer);
        }
        let cm = apply::to_object(seed::gitconfig_configmap())
            .expect("the gitconfig ConfigMap is an object");
        let first_workload = objects
            .iter()
            .position(|o| is(o, "apps/v1", "Deployment", None))
            .unwrap_or(objects.len());
        objects.insert(first_workload, cm);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/argocd-install-v3.5.1.yaml");

    fn spec() -> ArgoCdSpec {
        ArgoCdSpec::default()
    }

    /// A fetcher that counts its calls and answers `body`.
    struct Fake {
        body: Result<Vec<u8>, String>,
        calls: Cell<usize>,
    }

    impl Fake {
        fn new(body: Result<&[u8], &str>) -> Self {
            Fake {
                body: body.map(<[u8]>::to_vec).map_err(str::to_string),
                calls: Cell::new(0),
            }
        }
    }

    impl Fetch for Fake {
        fn fetch(&self, url: &str) -> Result<Vec<u8>, HttpError> {
            assert!(url.starts_with("https://"), "{url}");
            self.calls.set(self.calls.get() + 1);
            self.body.clone().map_err(HttpError::from)
        }
    }

    #[test]
    fn the_fixture_is_the_pinned_release() {
        let pin = pinned(ARGOCD_VERSION).unwrap();
        assert_eq!(sha256_hex(FIXTURE.as_bytes()), pin.sha256);
        assert_eq!(
            pin.url,
            "https://raw.githubusercontent.com/argoproj/argo-cd/v3.5.1/manifests/install.yaml"
        );
        assert_eq!(crate::config::model::DEFAULT_ARGOCD_VERSION, ARGOCD_VERSION);
    }

    const FIXTURE_V3_4_7: &str = include_str!("../../tests/fixtures/argocd-install-v3.4.7.yaml");

    #[test]
    fn the_older_fixture_is_its_pinned_release() {
        let pin = pinned("v3.4.7").unwrap();
        assert_eq!(sha256_hex(FIXTURE_V3_4_7.as_bytes()), pin.sha256);
        let spec = ArgoCdSpec {
            version: "v3.4.7".into(),
            ..spec()
        };
        let cache = tempfile::tempdir().unwrap();
        let fake = Fake::new(Ok(FIXTURE_V3_4_7.as_bytes()));
        let m = load_with(&spec, cache.path(), &fake).unwrap();
        assert_eq!(m.version, "v3.4.7");
        assert_eq!(m.sha256, pin.sha256);
    }

    #[test]
    fn the_pins_are_three_minor_lines_newest_first_the_default_first() {
        assert_eq!(PINNED[0].version, ARGOCD_VERSION);
        let versions: Vec<&str> = PINNED.iter().map(|p| p.version).collect();
        assert_eq!(versions, ["v3.5.1", "v3.4.7", "v3.3.14"]);
        for p in PINNED {
            assert_eq!(
                p.url,
                format!(
                    "https://raw.githubusercontent.com/argoproj/argo-cd/{}/manifests/install.yaml",
                    p.version
                )
            );
            assert_eq!(p.sha256.len(), 64);
            assert!(p.sha256.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
        }
    }

    #[test]
    fn cache_miss_downloads_verifies_and_caches() {
        let cache = tempfile::tempdir().unwrap();
        let fake = Fake::new(Ok(FIXTURE.as_bytes()));
        let m = load_with(&spec(), cache.path(), &fake).unwrap();
        assert_eq!(fake.calls.get(), 1);
        assert!(matches!(m.source, Source::Pinned { cached: false, .. }));
        assert_eq!(m.text, FIXTURE);
        let cached = std::fs::read_to_string(cache_path(cache.path(), "v3.5.1")).unwrap();
        assert_eq!(cached, FIXTURE);
        assert!(
            cache_path(cache.path(), "v3.5.1").ends_with("playground/argocd/v3.5.1/install.yaml")
        );
    }

    #[test]
    fn cache_hit_does_not_download() {
        let cache = tempfile::tempdir().unwrap();
        let path = cache_path(cache.path(), "v3.5.1");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, FIXTURE).unwrap();
        let fake = Fake::new(Err("no network in tests"));
        let m = load_with(&spec(), cache.path(), &fake).unwrap();
        assert_eq!(fake.calls.get(), 0);
        assert!(matches!(m.source, Source::Pinned { cached: true, .. }));
        assert_eq!(m.sha256, pinned("v3.5.1").unwrap().sha256);
    }

    #[test]
    fn corrupted_cache_is_downloaded_again() {
        let cache = tempfile::tempdir().unwrap();
        let path = cache_path(cache.path(), "v3.5.1");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &FIXTURE[..1000]).unwrap();
        let fake = Fake::new(Ok(FIXTURE.as_bytes()));
        let m = load_with(&spec(), cache.path(), &fake).unwrap();
        assert_eq!(fake.calls.get(), 1);
        assert!(matches!(m.source, Source::Pinned { cached: false, .. }));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), FIXTURE);
    }

    #[test]
    fn bad_hash_is_an_error_and_nothing_is_cached() {
        let cache = tempfile::tempdir().unwrap();
        let tampered = FIXTURE.replace("argocd-server", "evil-server");
        let fake = Fake::new(Ok(tampered.as_bytes()));
        let e = load_with(&spec(), cache.path(), &fake).unwrap_err();
        let text = e.to_string();
        let pin = pinned("v3.5.1").unwrap();
        assert!(text.contains(pin.sha256), "{text}");
        assert!(text.contains(&sha256_hex(tampered.as_bytes())), "{text}");
        assert!(text.contains(pin.url), "{text}");
        assert!(!cache_path(cache.path(), "v3.5.1").exists());
        // No stray temp files either.
        assert!(!cache.path().join("playground/argocd/v3.5.1").exists());
    }

    #[test]
    fn download_failure_names_the_url() {
        let cache = tempfile::tempdir().unwrap();
        let fake = Fake::new(Err("connection refused"));
        let text = load_with(&spec(), cache.path(), &fake)
            .unwrap_err()
            .to_string();
        assert!(text.contains("connection refused"), "{text}");
        assert!(text.contains(pinned("v3.5.1").unwrap().url), "{text}");
    }

    #[test]
    fn local_path_is_read_without_a_hash_check() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("my-install.yaml");
        std::fs::write(
            &file,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        )
        .unwrap();
        let spec = ArgoCdSpec {
            version: "v9.9.9".into(),
            manifest: Some(file.display().to_string()),
            ..spec()
        };
        let fake = Fake::new(Err("must not download"));
        let m = load_with(&spec, dir.path(), &fake).unwrap();
        assert_eq!(fake.calls.get(), 0);
        assert_eq!(m.source, Source::File(file.clone()));
        assert_eq!(
            m.documents("argocd", &Prepare::lab(false)).unwrap().len(),
            1
        );

        let missing = ArgoCdSpec {
            manifest: Some(dir.path().join("nope.yaml").display().to_string()),
            ..spec
        };
        let text = load_with(&missing, dir.path(), &fake)
            .unwrap_err()
            .to_string();
        assert!(text.contains("nope.yaml"), "{text}");
    }

    #[test]
    fn https_url_is_downloaded_and_not_cached() {
        let cache = tempfile::tempdir().unwrap();
        let spec = ArgoCdSpec {
            manifest: Some("https://example.com/install.yaml".into()),
            ..spec()
        };
        let fake = Fake::new(Ok(
            b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        ));
        let m = load_with(&spec, cache.path(), &fake).unwrap();
        assert_eq!(fake.calls.get(), 1);
        assert_eq!(m.origin(), "https://example.com/install.yaml");
        assert!(!cache.path().join("playground").exists());

        let plain = ArgoCdSpec {
            manifest: Some("http://example.com/install.yaml".into()),
            ..spec
        };
        assert!(matches!(
            load_with(&plain, cache.path(), &fake),
            Err(ManifestError::UnsupportedUrl(_))
        ));
    }

    #[test]
    fn unknown_version_says_how_to_pin() {
        let cache = tempfile::tempdir().unwrap();
        let spec = ArgoCdSpec {
            version: "v2.0.0".into(),
            ..spec()
        };
        let fake = Fake::new(Err("must not download"));
        let text =
            crate::diag::Report(&load_with(&spec, cache.path(), &fake).unwrap_err()).to_string();
        assert!(text.contains("v2.0.0"), "{text}");
        assert!(text.contains("argocd.manifest"), "{text}");
        assert!(text.contains("v3.5.1"), "{text}");
        assert_eq!(fake.calls.get(), 0);
    }

    fn manifest() -> Manifest {
        Manifest {
            version: ARGOCD_VERSION.into(),
            source: Source::File("install.yaml".into()),
            sha256: sha256_hex(FIXTURE.as_bytes()),
            text: FIXTURE.into(),
        }
    }

    fn crb_subject_namespaces(objects: &[DynamicObject]) -> Vec<String> {
        objects
            .iter()
            .filter(|o| {
                is(
                    o,
                    "rbac.authorization.k8s.io/v1",
                    "ClusterRoleBinding",
                    None,
                )
            })
            .flat_map(|o| o.data["subjects"].as_array().cloned().unwrap_or_default())
            .map(|s| s["namespace"].as_str().unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn cluster_role_bindings_follow_the_namespace() {
        let objects = manifest()
            .documents("lab-argocd", &Prepare::lab(false))
            .unwrap();
        assert_eq!(crb_subject_namespaces(&objects), ["lab-argocd"; 3]);
        let objects = manifest()
            .documents("argocd", &Prepare::lab(false))
            .unwrap();
        assert_eq!(crb_subject_namespaces(&objects), ["argocd"; 3]);
    }

    fn untouched() -> Vec<DynamicObject> {
        parse_documents(FIXTURE, "install.yaml").unwrap()
    }

    #[test]
    fn lab_settings_are_set() {
        let objects = manifest()
            .documents("argocd", &Prepare::lab(false))
            .unwrap();
        let cm = |name: &str| {
            objects
                .iter()
                .find(|o| is(o, "v1", "ConfigMap", Some(name)))
                .unwrap()
                .data["data"]
                .clone()
        };
        assert_eq!(cm("argocd-cmd-params-cm")["server.insecure"], "true");
        assert_eq!(cm("argocd-cm")["timeout.reconciliation"], "30s");

        let mut plain = untouched();
        prepare(
            &mut plain,
            "argocd",
            &Prepare {
                insecure_server: false,
                reconciliation: None,
                local_repo: false,
                components: crate::config::ArgoCdComponent::ALL.to_vec(),
            },
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            serde_json::to_value(untouched()).unwrap()
        );
    }

    fn repo_server(objects: &[DynamicObject]) -> &serde_json::Value {
        &objects
            .iter()
            .find(|o| is(o, "apps/v1", "Deployment", Some("argocd-repo-server")))
            .unwrap()
            .data
    }

    #[test]
    fn a_local_repo_is_mounted_into_the_repo_server_before_the_first_apply() {
        let local = manifest().documents("argocd", &Prepare::lab(true)).unwrap();
        let remote = manifest()
            .documents("argocd", &Prepare::lab(false))
            .unwrap();
        // One object more: the gitconfig, written before any Deployment that reads it.
        assert_eq!(local.len(), remote.len() + 1);
        let cm_at = local
            .iter()
            .position(|o| is(o, "v1", "ConfigMap", Some(seed::GITCONFIG_CONFIGMAP)))
            .unwrap();
        let first_deployment = local
            .iter()
            .position(|o| is(o, "apps/v1", "Deployment", None))
            .unwrap();
        assert!(cm_at < first_deployment, "{cm_at} {first_deployment}");
        assert_eq!(
            local[cm_at].data["data"]["gitconfig"],
            "[safe]\n\tdirectory = /playground\n\tdirectory = /playground/.git\n"
        );
        assert!(
            local[cm_at].metadata.namespace.is_none(),
            "the install's namespace applies"
        );

        // The real repo-server pod spec gains exactly the mount, the gitconfig and its env;
        // everything the release has stays as it was.
        let pod = &repo_server(&local)["spec"]["template"]["spec"];
        let release = &repo_server(&remote)["spec"]["template"]["spec"];
        let names = |v: &serde_json::Value, list: &str| -> Vec<String> {
            v[list]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["name"].as_str().unwrap().to_string())
                .collect()
        };
        let mut want = names(release, "volumes");
        want.extend(["playground-repo".into(), "playground-gitconfig".into()]);
        assert_eq!(names(pod, "volumes"), want);
        let container = |pod: &serde_json::Value| {
            pod["containers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == "argocd-repo-server")
                .unwrap()
                .clone()
        };
        let (ours, theirs) = (container(pod), container(release));
        let mut want = names(&theirs, "volumeMounts");
        want.extend(["playground-repo".into(), "playground-gitconfig".into()]);
        assert_eq!(names(&ours, "volumeMounts"), want);
        let mut want = names(&theirs, "env");
        want.push("GIT_CONFIG_GLOBAL".into());
        assert_eq!(names(&ours, "env"), want);
        assert!(
            !names(&ours, "env")
                .iter()
                .any(|n| n.starts_with("GIT_CONFIG_COUNT")),
            "Argo CD overwrites GIT_CONFIG_COUNT"
        );
        let mut without = ours.clone();
        for list in ["volumeMounts", "env"] {
            let items = without[list].as_array_mut().unwrap();
            items.retain(|i| {
                !i["name"].as_str().unwrap().starts_with("playground-")
                    && i["name"] != "GIT_CONFIG_GLOBAL"
            });
        }
        assert_eq!(without, theirs, "nothing else in the container changes");
        // The other Deployments are as released.
        for (a, b) in local
            .iter()
            .filter(|o| is(o, "apps/v1", "Deployment", None))
            .zip(
                remote
                    .iter()
                    .filter(|o| is(o, "apps/v1", "Deployment", None)),
            )
        {
            if a.metadata.name.as_deref() != Some("argocd-repo-server") {
                assert_eq!(a.data, b.data, "{:?}", a.metadata.name);
            }
        }
    }

    #[test]
    fn a_local_repo_needs_a_repo_server_in_the_manifest() {
        let mut objects = parse_documents(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
            "m.yaml",
        )
        .unwrap();
        let e = prepare(&mut objects, "argocd", &Prepare::lab(true)).unwrap_err();
        assert!(
            crate::diag::Report(&e)
                .to_string()
                .contains("argocd-repo-server"),
            "{e}"
        );
        assert!(crate::diag::Report(&e).to_string().contains("hint:"), "{e}");
    }

    /// What a prepared manifest runs: the pods its workloads ask for (replicas, 1 when unset)
    /// and the distinct images of the workloads that run at least one pod.
    fn footprint(objects: &[DynamicObject]) -> (u64, std::collections::BTreeSet<String>) {
        let mut pods = 0;
        let mut images = std::collections::BTreeSet::new();
        for o in objects {
            let kind = o.types.as_ref().map(|t| t.kind.as_str()).unwrap_or("");
            if !matches!(kind, "Deployment" | "StatefulSet") {
                continue;
            }
            let replicas = o.data["spec"]["replicas"].as_u64().unwrap_or(1);
            pods += replicas;
            if replicas == 0 {
                continue;
            }
            let spec = &o.data["spec"]["template"]["spec"];
            for list in ["initContainers", "containers"] {
                for c in spec[list].as_array().into_iter().flatten() {
                    if let Some(i) = c["image"].as_str() {
                        images.insert(i.to_string());
                    }
                }
            }
        }
        (pods, images)
    }

    #[test]
    fn a_lean_argo_cd_runs_no_dex_and_no_notifications_unless_asked() {
        use crate::config::ArgoCdComponent;
        let lean = manifest()
            .documents("argocd", &Prepare::lab(false))
            .unwrap();
        let full = manifest()
            .documents(
                "argocd",
                &Prepare {
                    components: ArgoCdComponent::ALL.to_vec(),
                    ..Prepare::lab(false)
                },
            )
            .unwrap();
        let replicas = |objs: &[DynamicObject], name: &str| {
            objs.iter()
                .find(|o| {
                    o.metadata.name.as_deref() == Some(name)
                        && o.types.as_ref().is_some_and(|t| t.kind == "Deployment")
                })
                .map(|o| o.data["spec"]["replicas"].clone())
                .unwrap()
        };
        assert_eq!(replicas(&lean, "argocd-dex-server"), serde_json::json!(0));
        assert_eq!(
            replicas(&lean, "argocd-notifications-controller"),
            serde_json::json!(0)
        );
        assert_ne!(replicas(&full, "argocd-dex-server"), serde_json::json!(0));
        // The rest is untouched.
        assert_eq!(
            replicas(&lean, "argocd-repo-server"),
            replicas(&full, "argocd-repo-server")
        );
        let (lean_pods, lean_images) = footprint(&lean);
        let (full_pods, full_images) = footprint(&full);
        eprintln!(
            "Argo CD {ARGOCD_VERSION}: full {full_pods} pods, {} images {full_images:?}; lean {lean_pods} pods, {} images {lean_images:?}",
            full_images.len(),
            lean_images.len()
        );
        assert_eq!(full_pods - lean_pods, 2, "dex and notifications run no pod");
        assert!(
            lean_images.len() < full_images.len(),
            "the lean install pulls at least one image fewer"
        );
        assert!(!lean_images.iter().any(|i| i.contains("dex")));
    }
}
