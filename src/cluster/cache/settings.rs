//! Which cache image and which set of caches (the namespace), and the names they give.

use super::super::names;
use super::proxy::{CACHE_IMAGE, Upstream};

/// Replaces [`CACHE_IMAGE`] (tests use a local stand-in).
pub(crate) const ENV_IMAGE: &str = "PLAYGROUND_CACHE_IMAGE";
/// Test-only: a namespace for the cache objects, so parallel tests each get their own caches.
pub(crate) const ENV_NAMESPACE: &str = "PLAYGROUND_CACHE_NAMESPACE";
/// The namespace of the real, user-facing caches.
pub(crate) const DEFAULT_NAMESPACE: &str = "default";

/// Which cache image and which set of caches; read from the environment by [`Self::from_env`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CacheSettings {
    pub(crate) image: String,
    /// [`DEFAULT_NAMESPACE`] unless a test names another.
    pub(crate) namespace: String,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            image: CACHE_IMAGE.to_string(),
            namespace: DEFAULT_NAMESPACE.to_string(),
        }
    }
}

impl CacheSettings {
    /// [`ENV_IMAGE`] and [`ENV_NAMESPACE`], or the defaults. The namespace is reduced to what a
    /// Docker name may hold (lowercase letters, digits, `-`; 24 characters).
    pub(crate) fn from_env() -> Self {
        let image = std::env::var(ENV_IMAGE)
            .ok()
            .map(|i| i.trim().to_string())
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| CACHE_IMAGE.to_string());
        let namespace: String = std::env::var(ENV_NAMESPACE)
            .unwrap_or_default()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(24)
            .collect();
        let namespace = namespace.trim_matches('-').to_string();
        CacheSettings {
            image,
            namespace: if namespace.is_empty() {
                DEFAULT_NAMESPACE.to_string()
            } else {
                namespace
            },
        }
    }

    /// The cache container's name, also its alias on lab networks: `playground-cache-docker-io`
    /// (`playground-cache-<namespace>-docker-io` in a test namespace).
    pub(crate) fn container(&self, upstream: &Upstream) -> String {
        let host = upstream.host.replace('.', "-");
        if self.namespace == DEFAULT_NAMESPACE {
            format!("{}-cache-{host}", names::PREFIX)
        } else {
            format!("{}-cache-{}-{host}", names::PREFIX, self.namespace)
        }
    }

    /// The cache's named volume.
    pub(crate) fn volume(&self, upstream: &Upstream) -> String {
        format!("{}-data", self.container(upstream))
    }
}
