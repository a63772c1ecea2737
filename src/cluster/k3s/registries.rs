//! The `/etc/rancher/k3s/registries.yaml` of a node: what k3s reads once, at start, to tell
//! its containerd where to pull from. Three sources, merged into one file:
//! - the shared image caches' mirrors (one per upstream, see [`super::super::cache`]), while the
//!   cache is on;
//! - the lab registry's `localhost:PORT` (see [`super::super::registry`]);
//! - the user's own entries (`cluster.registries`), which win where they name the same
//!   registry: [`overridden`] says so, and `up` and `validate` print it.
//!
//! k3s reads the file with yaml.v2 (YAML 1.1) into rancher/wharfie `pkg/registries`
//! `Registry` (`mirrors.HOST.endpoint`/`rewrite`, `configs.HOST.auth`/`tls`, snake_case
//! keys), so every string here is quoted: a password such as `yes` or `0123` must stay a
//! string, and `"` or `\` in it must be escaped (serde-saphyr's `quote_all`).
//!
//! The file holds the user's registry credentials in clear, as k3s needs them: it is
//! written into the node's own layer through the engine's archive upload (never argv), its
//! values are registered as secrets when the lab file is read (masked in every log and in
//! `export logs`), and no record or label holds them (nodes carry a digest of the entries as
//! written, `${env:NAME}` unresolved: see [`LABEL_REGISTRIES`]).

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::cache::{CacheSettings, UPSTREAMS};
use super::super::registry::RegistryMirror;
use crate::config::{Credential, UserRegistries};

/// Where k3s reads its registry configuration, at start.
pub(crate) const REGISTRIES_YAML: &str = "/etc/rancher/k3s/registries.yaml";

/// The digest of a node's `cluster.registries` entries (as written: `${env:NAME}` references,
/// never their values): a changed entry is a node change, which `up` shows and recreates.
pub(crate) const LABEL_REGISTRIES: &str = "playground.registries";

/// What a node's `registries.yaml` is made of.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sources<'a> {
    /// The caches' mirrors, while the cache is on.
    pub(crate) cache: Option<&'a CacheSettings>,
    pub(crate) registry: Option<&'a RegistryMirror>,
    pub(crate) user: Option<&'a UserRegistries>,
}

impl Sources<'_> {
    /// Whether there is anything to write: a file without one mirror is not written (k3s
    /// would read an empty `mirrors`, and nothing would come of it).
    pub(crate) fn any(&self) -> bool {
        self.cache.is_some()
            || self.registry.is_some()
            || self
                .user
                .is_some_and(|u| !u.mirrors.is_empty() || !u.configs.is_empty())
    }
}

#[derive(Serialize)]
struct File<'a> {
    mirrors: BTreeMap<String, Mirror<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    configs: BTreeMap<&'a str, Config<'a>>,
}

#[derive(Serialize)]
struct Mirror<'a> {
    endpoint: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rewrite: Option<&'a BTreeMap<String, String>>,
}

#[derive(Serialize)]
struct Config<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<Auth<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<Tls>,
}

#[derive(Serialize)]
struct Auth<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_token: Option<&'a str>,
}

#[derive(Serialize)]
struct Tls {
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_file: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    insecure_skip_verify: bool,
}

/// The file k3s reads: the caches' mirrors, the lab registry's, then the user's entries over
/// them (one registry, one entry: the user's). containerd tries a mirror's endpoints in order
/// and falls back to the registry itself, so a cache that is down slows a pull but never
/// fails it.
pub(crate) fn registries_yaml(sources: Sources) -> String {
    let mut file = File {
        mirrors: BTreeMap::new(),
        configs: BTreeMap::new(),
    };
    let mut header = String::from("# Written by playground.\n");
    if let Some(cache) = sources.cache {
        header.push_str(
            "# Pulls go through the shared image caches (`playground cache status`);\n\
             # containerd falls back to each upstream when its cache does not answer.\n",
        );
        for upstream in &UPSTREAMS {
            file.mirrors.insert(
                upstream.host.to_string(),
                Mirror {
                    endpoint: vec![cache.endpoint(upstream)],
                    rewrite: None,
                },
            );
        }
    }
    if let Some(r) = sources.registry {
        header.push_str(
            "# localhost:PORT is the lab registry (`cluster.registry`): what the host pushes\n\
             # to localhost:PORT, pods pull from it under the same name.\n",
        );
        file.mirrors.insert(
            r.host(),
            Mirror {
                endpoint: vec![r.endpoint()],
                rewrite: None,
            },
        );
    }
    if let Some(user) = sources.user {
        header.push_str("# Entries of `cluster.registries` are the lab file's, and win.\n");
        for (host, m) in &user.mirrors {
            file.mirrors.insert(
                host.clone(),
                Mirror {
                    endpoint: m.endpoints.clone(),
                    rewrite: (!m.rewrite.is_empty()).then_some(&m.rewrite),
                },
            );
        }
        for (index, (host, c)) in user.configs.iter().enumerate() {
            file.configs.insert(
                host,
                Config {
                    auth: c.auth.as_ref().map(|a| Auth {
                        username: value(&a.username),
                        password: value(&a.password),
                        auth: value(&a.auth),
                        identity_token: value(&a.identity_token),
                    }),
                    tls: c.tls.as_ref().map(|t| {
                        let [ca_file, cert_file, key_file] = t.node_paths(index);
                        Tls {
                            ca_file,
                            cert_file,
                            key_file,
                            insecure_skip_verify: t.insecure_skip_verify,
                        }
                    }),
                },
            );
        }
    }
    let options = serde_saphyr::ser_options! {
        quote_all: true,
        prefer_block_scalars: false,
    };
    // Plain maps of strings: serialization cannot fail.
    let body = serde_saphyr::to_string_with_options(&file, options).unwrap_or_default();
    header + &body
}

/// Whether a `registries.yaml` (as a node holds it, written by any playground) has a mirror
/// for `host`.
pub(crate) fn names_mirror(text: &str, host: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Mirrors {
        #[serde(default)]
        mirrors: BTreeMap<String, serde::de::IgnoredAny>,
    }
    serde_saphyr::from_str::<Mirrors>(text).is_ok_and(|m| m.mirrors.contains_key(host))
}

/// The credentials a node's `registries.yaml` holds (`configs.*.auth`, every field but
/// `username`): `logs` and `export logs` register them with the mask, so a shell without the
/// lab file's variables masks them too.
pub(crate) fn credentials(text: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        configs: BTreeMap<String, Config>,
    }
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(default)]
        auth: BTreeMap<String, String>,
    }
    let Ok(file) = serde_saphyr::from_str::<File>(text) else {
        return Vec::new();
    };
    file.configs
        .into_values()
        .flat_map(|c| c.auth.into_iter())
        .filter(|(k, v)| k != "username" && !v.is_empty())
        .map(|(_, v)| v)
        .collect()
}

fn value(c: &Option<Credential>) -> Option<&str> {
    c.as_ref().map(|c| c.value.as_str())
}

/// The user's `cluster.registries.mirrors` entries that replace one of ours, each as a
/// sentence: the lab file wins, and the user should know what that turns off. Also a `*`
/// mirror, which k3s applies only to registries with no entry of their own (k3s
/// `pkg/agent/containerd/config.go` `getHostConfigs`: `*` becomes `_default`), so not to the
/// registries the caches serve.
pub(crate) fn overridden(
    cache_on: bool,
    registry_port: Option<u16>,
    user: Option<&UserRegistries>,
) -> Vec<String> {
    let Some(user) = user else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if cache_on {
        for upstream in &UPSTREAMS {
            if user.mirrors.contains_key(upstream.host) {
                out.push(format!(
                    "`cluster.registries.mirrors.{0}` replaces the image cache's mirror for {0}: pulls from {0} go to your endpoints, not through the shared cache",
                    upstream.host
                ));
            }
        }
        if user.mirrors.contains_key("*") {
            let hosts: Vec<&str> = UPSTREAMS.iter().map(|u| u.host).collect();
            out.push(format!(
                "`cluster.registries.mirrors.\"*\"` does not apply to {}: k3s uses `*` only for registries without an entry, and the image cache has one for each (name them in `mirrors`, or set `imageCache: false`)",
                hosts.join(", ")
            ));
        }
    }
    if let Some(port) = registry_port
        && user.mirrors.contains_key(&format!("localhost:{port}"))
    {
        out.push(format!(
            "`cluster.registries.mirrors.localhost:{port}` replaces the lab registry's mirror: pods no longer pull localhost:{port}/… from the lab registry"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::config::UserMirror;

    /// `registries.yaml` read back as k3s reads it (wharfie `pkg/registries` types).
    #[derive(serde::Deserialize, Debug)]
    struct Read {
        mirrors: BTreeMap<String, ReadMirror>,
        #[serde(default)]
        configs: BTreeMap<String, ReadConfig>,
    }
    #[derive(serde::Deserialize, Debug)]
    struct ReadMirror {
        endpoint: Vec<String>,
        #[serde(default)]
        rewrite: BTreeMap<String, String>,
    }
    #[derive(serde::Deserialize, Debug)]
    struct ReadConfig {
        auth: Option<BTreeMap<String, String>>,
        tls: Option<BTreeMap<String, serde_json::Value>>,
    }

    fn user(password: &str) -> UserRegistries {
        UserRegistries::sample(password)
    }

    #[test]
    fn the_users_entries_win_over_the_caches_and_the_file_reads_back_as_k3s_reads_it() {
        let cache = CacheSettings::default();
        let registry = RegistryMirror {
            port: 5001,
            ip: IpAddr::from([172, 28, 0, 244]),
        };
        // A password YAML 1.1 would read as a boolean, with quotes and a backslash.
        let tricky = "yes\"\\#: &x";
        let u = user(tricky);
        let sources = Sources {
            cache: Some(&cache),
            registry: Some(&registry),
            user: Some(&u),
        };
        let text = registries_yaml(sources);
        let read: Read = serde_saphyr::from_str(&text).unwrap();
        // Ours where the user said nothing, theirs where they did.
        assert_eq!(
            read.mirrors["docker.io"].endpoint,
            ["https://mirror.corp.example"]
        );
        assert_eq!(read.mirrors["docker.io"].rewrite["^library/(.*)"], "hub/$1");
        assert_eq!(
            read.mirrors["quay.io"].endpoint,
            [cache.endpoint(&UPSTREAMS[2])]
        );
        assert_eq!(
            read.mirrors["localhost:5001"].endpoint,
            ["http://172.28.0.244:5000"]
        );
        let config = &read.configs["corp.example:5000"];
        let auth = config.auth.as_ref().unwrap();
        assert_eq!(auth["username"], "ci");
        assert_eq!(auth["password"], tricky);
        assert_eq!(
            config.tls.as_ref().unwrap()["ca_file"],
            "/etc/rancher/k3s/playground-registries/0/ca.pem"
        );
        // Every value quoted: YAML 1.1 (k3s's yaml.v2) must not read `yes` as a boolean.
        assert!(text.contains("\"yes\\\"\\\\#: &x\""), "{text}");
        // What `logs` registers with the mask, read back from the node's file.
        assert_eq!(credentials(&text), [tricky.to_string()]);
        // And the user is told what their docker.io entry turned off.
        let said = overridden(true, Some(5002), Some(&u));
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("replaces the image cache's mirror for docker.io"));
    }

    #[test]
    fn a_wildcard_mirror_is_said_not_to_reach_the_cached_registries() {
        let mut u = UserRegistries::default();
        u.mirrors.insert(
            "*".into(),
            UserMirror {
                endpoints: vec!["https://all.corp.example".into()],
                rewrite: BTreeMap::new(),
            },
        );
        let with_cache = overridden(true, None, Some(&u));
        assert!(
            with_cache[0].contains("does not apply to docker.io"),
            "{with_cache:?}"
        );
        // Without the cache, `*` reaches them all: nothing to say.
        assert!(overridden(false, None, Some(&u)).is_empty());
        // The lab registry's entry, replaced.
        u.mirrors
            .insert("localhost:5001".into(), UserMirror::default());
        let said = overridden(false, Some(5001), Some(&u));
        assert!(
            said[0].contains("replaces the lab registry's mirror"),
            "{said:?}"
        );
    }

    #[test]
    fn one_cache_mirror_per_upstream_and_the_lab_registry_with_or_without_them() {
        let settings = CacheSettings {
            image: "x".into(),
            namespace: "t1".into(),
        };
        let r = RegistryMirror {
            port: 5001,
            ip: "172.28.3.244".parse().unwrap(),
        };
        let read = |sources| -> Read { serde_saphyr::from_str(&registries_yaml(sources)).unwrap() };
        let caches = read(Sources {
            cache: Some(&settings),
            ..Default::default()
        });
        assert_eq!(caches.mirrors.len(), UPSTREAMS.len());
        assert_eq!(
            caches.mirrors["quay.io"].endpoint,
            ["http://playground-cache-t1-quay-io:5000"]
        );
        assert!(caches.configs.is_empty());
        let alone = read(Sources {
            registry: Some(&r),
            ..Default::default()
        });
        assert_eq!(alone.mirrors.len(), 1);
        assert_eq!(
            alone.mirrors["localhost:5001"].endpoint,
            ["http://172.28.3.244:5000"]
        );
        let both = read(Sources {
            cache: Some(&settings),
            registry: Some(&r),
            user: None,
        });
        assert_eq!(both.mirrors.len(), UPSTREAMS.len() + 1);
    }

    #[test]
    fn nothing_to_write_without_a_source() {
        assert!(!Sources::default().any());
        let empty = UserRegistries::default();
        assert!(
            !Sources {
                user: Some(&empty),
                ..Default::default()
            }
            .any()
        );
        assert!(
            Sources {
                user: Some(&user("p")),
                ..Default::default()
            }
            .any()
        );
    }
}
