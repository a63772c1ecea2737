//! Which Docker Engine to talk to, chosen as the docker CLI chooses it, and why.
//!
//! The client's `connect_with_defaults` reads `DOCKER_HOST` only, so Colima, rootless Docker and
//! Docker Desktop without its default socket (reachable only through their Docker context)
//! looked unreachable while `docker ps` worked (F5). The order here is the CLI's
//! (`docker/cli` `cli/command/cli.go`, `resolveContextName`):
//!
//! 1. `DOCKER_HOST`, when set and not empty;
//! 2. the context named by `DOCKER_CONTEXT`, when set and not empty;
//! 3. `currentContext` in `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`);
//! 4. the default socket.
//!
//! The context named `default` is the CLI's built-in one: `DOCKER_HOST` (unset by then) or the
//! default socket. Any other context lives in the context store (`docker/cli`
//! `cli/context/store`): `$DOCKER_CONFIG/contexts/meta/<sha256 hex of the name>/meta.json`
//! holds `{"Name": …, "Endpoints": {"docker": {"Host": …, "SkipTLSVerify": …}}}`
//! (`metadatastore.go`, `contextdirOf` in `store.go`, `EndpointMetaBase` in
//! `cli/context/endpoint.go`), and its TLS files are `contexts/tls/<sha>/docker/{ca,cert,key}.pem`
//! (`tlsstore.go`). Go's JSON decoding ignores key case; so does ours.
//!
//! Resolution is pure: the environment comes in as a closure, so tests need no process-wide
//! `set_var` (which races with every other test thread).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The socket the CLI uses when nothing else is configured.
#[cfg(unix)]
pub(crate) const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
#[cfg(windows)]
pub(crate) const DEFAULT_HOST: &str = "npipe:////./pipe/docker_engine";

/// Where the endpoint came from: said in `doctor` and in every "cannot reach" error.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum EndpointSource {
    /// The `DOCKER_HOST` environment variable.
    DockerHost,
    /// The context named by `DOCKER_CONTEXT`.
    DockerContext { context: String, meta: PathBuf },
    /// `currentContext` in the docker CLI's config file.
    CurrentContext {
        context: String,
        config: PathBuf,
        meta: PathBuf,
    },
    /// Nothing configured (or the context named `default`): the default socket.
    Default {
        /// Set when a context named `default` was asked for (by which variable or file).
        via: Option<String>,
    },
}

impl fmt::Display for EndpointSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointSource::DockerHost => write!(f, "from DOCKER_HOST"),
            EndpointSource::DockerContext { context, meta } => write!(
                f,
                "from DOCKER_CONTEXT={context}, context store {}",
                meta.display()
            ),
            EndpointSource::CurrentContext {
                context,
                config,
                meta,
            } => write!(
                f,
                "from the current Docker context {context} (currentContext in {}; context store {})",
                config.display(),
                meta.display()
            ),
            EndpointSource::Default { via: None } => write!(f, "the default socket"),
            EndpointSource::Default { via: Some(via) } => {
                write!(f, "the default socket, as context default ({via}) says")
            }
        }
    }
}

/// The engine to connect to, and why this one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Endpoint {
    /// `unix:///path`, `tcp://host:port`, `http://…` or (Windows) `npipe://…`.
    pub(crate) host: String,
    pub(crate) source: EndpointSource,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.host, self.source)
    }
}

impl Endpoint {
    /// What to do when this endpoint does not answer, in the words of where it came from.
    pub(crate) fn hint(&self) -> String {
        let start = "start Docker (e.g. `sudo systemctl start docker`, or `sudo dockerd &`)";
        match &self.source {
            EndpointSource::DockerHost => format!(
                "{start}, or point DOCKER_HOST at a running engine (unset it to use your Docker context)"
            ),
            EndpointSource::DockerContext { context, .. } => format!(
                "start the engine of Docker context {context}, or choose another: unset DOCKER_CONTEXT, or set it to a context `docker context ls` shows working"
            ),
            EndpointSource::CurrentContext { context, .. } => format!(
                "start the engine of Docker context {context} (Colima: `colima start`; Docker Desktop: open it), or switch context with `docker context use NAME` (`docker context ls` lists them)"
            ),
            EndpointSource::Default { .. } => format!(
                "{start}, or point DOCKER_HOST or a Docker context (`docker context use NAME`) at a running engine"
            ),
        }
    }

    /// The local socket path, for a `unix://` endpoint.
    pub(crate) fn unix_socket(&self) -> Option<&Path> {
        self.host.strip_prefix("unix://").map(Path::new)
    }
}

/// Why no endpoint could be chosen. Each names the file or variable to look at.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("Docker context {context} ({origin}) does not exist: no {}", meta.display())]
    NoSuchContext {
        context: String,
        origin: String,
        meta: PathBuf,
        fix: String,
    },
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: Unreadable,
    },
    #[error("Docker context {context} has no docker endpoint in {}", meta.display())]
    NoDockerEndpoint { context: String, meta: PathBuf },
    #[error("Docker endpoint {host} ({from}) is not supported: {why}")]
    Unsupported {
        host: String,
        /// Where the endpoint came from, said as [`EndpointSource`] says it.
        from: String,
        why: String,
        fix: String,
    },
}

impl crate::diag::Hinted for EndpointError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::NoSuchContext { fix, .. } => {
                Some(format!("`docker context ls` lists the contexts; {fix}"))
            }
            Self::Unreadable { .. } => {
                Some("fix or remove the file; `docker context ls` reads it too".to_string())
            }
            Self::NoDockerEndpoint { context, .. } => Some(format!(
                "`docker context inspect {context}`; recreate it with `docker context create {context} --docker host=…`"
            )),
            Self::Unsupported { fix, .. } => Some(fix.to_string()),
        }
    }
}

/// Why a Docker CLI file could not be read: the file itself, or its JSON.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Resolve from this process's environment.
pub(crate) fn resolve_from_env() -> Result<Endpoint, EndpointError> {
    let home = dirs::home_dir();
    resolve(&|key| match std::env::var(key) {
        Ok(v) => Some(v),
        Err(_) if key == "HOME" => home.as_ref().map(|h| h.display().to_string()),
        Err(_) => None,
    })
}

/// What to do about an engine that speaks only TLS: the same words for a TLS context and for
/// `DOCKER_TLS_VERIFY`.
const TLS_FIX: &str = "reach that engine through an SSH-forwarded socket (`ssh -NL /tmp/docker.sock:/var/run/docker.sock HOST`, then DOCKER_HOST=unix:///tmp/docker.sock)";

/// Resolve with `env` as the environment (`DOCKER_HOST`, `DOCKER_CONTEXT`, `DOCKER_CONFIG`,
/// `HOME`); files are read from the config directory it names.
pub(crate) fn resolve(env: &dyn Fn(&str) -> Option<String>) -> Result<Endpoint, EndpointError> {
    let set = |key: &str| env(key).filter(|v| !v.is_empty());
    let endpoint = if let Some(host) = set("DOCKER_HOST") {
        let endpoint = Endpoint {
            host,
            source: EndpointSource::DockerHost,
        };
        let is_socket =
            endpoint.host.starts_with("unix://") || endpoint.host.starts_with("npipe://");
        // docker-machine's style: the CLI turns TLS on for DOCKER_HOST when DOCKER_TLS_VERIFY
        // is set to anything non-empty (docker/cli `cli/flags/options.go`: `tlsVerify :=
        // os.Getenv(client.EnvTLSVerify) != ""`), with the certificates in DOCKER_CERT_PATH.
        // Refused in the words a TLS context gets.
        if let Some(verify) = set("DOCKER_TLS_VERIFY").filter(|_| !is_socket) {
            return Err(EndpointError::Unsupported {
                host: endpoint.host.clone(),
                from: endpoint.source.to_string(),
                why: format!(
                    "DOCKER_TLS_VERIFY={verify} makes it a TLS endpoint (certificates in {}), which playground does not speak",
                    set("DOCKER_CERT_PATH").unwrap_or_else(|| "~/.docker".into())
                ),
                fix: TLS_FIX.into(),
            });
        }
        endpoint
    } else {
        let config_dir = match set("DOCKER_CONFIG") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(set("HOME").unwrap_or_default()).join(".docker"),
        };
        let config_file = config_dir.join("config.json");
        let (context, from_env) = match set("DOCKER_CONTEXT") {
            Some(name) => (Some(name), true),
            None => (current_context(&config_file)?, false),
        };
        match context {
            None => Endpoint {
                host: DEFAULT_HOST.to_string(),
                source: EndpointSource::Default { via: None },
            },
            Some(name) if name == "default" => Endpoint {
                host: DEFAULT_HOST.to_string(),
                source: EndpointSource::Default {
                    via: Some(if from_env {
                        "DOCKER_CONTEXT".to_string()
                    } else {
                        format!("currentContext in {}", config_file.display())
                    }),
                },
            },
            Some(name) => {
                let sha = hex(&Sha256::digest(name.as_bytes()));
                let meta = config_dir
                    .join("contexts/meta")
                    .join(&sha)
                    .join("meta.json");
                let source = if from_env {
                    EndpointSource::DockerContext {
                        context: name.clone(),
                        meta: meta.clone(),
                    }
                } else {
                    EndpointSource::CurrentContext {
                        context: name.clone(),
                        config: config_file.clone(),
                        meta: meta.clone(),
                    }
                };
                let (origin, fix) = if from_env {
                    (
                        "from DOCKER_CONTEXT".to_string(),
                        "unset DOCKER_CONTEXT or name an existing context".to_string(),
                    )
                } else {
                    (
                        format!("currentContext in {}", config_file.display()),
                        "`docker context use default` (or another listed context)".to_string(),
                    )
                };
                let text = match std::fs::read_to_string(&meta) {
                    Ok(t) => t,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(EndpointError::NoSuchContext {
                            context: name,
                            origin,
                            meta,
                            fix,
                        });
                    }
                    Err(e) => {
                        return Err(EndpointError::Unreadable {
                            path: meta,
                            source: e.into(),
                        });
                    }
                };
                let docker = docker_endpoint(&text).map_err(|e| EndpointError::Unreadable {
                    path: meta.clone(),
                    source: e.into(),
                })?;
                let Some((host, skip_tls_verify)) = docker else {
                    return Err(EndpointError::NoDockerEndpoint {
                        context: name,
                        meta,
                    });
                };
                let tls_dir = config_dir.join("contexts/tls").join(&sha).join("docker");
                let endpoint = Endpoint { host, source };
                let is_socket =
                    endpoint.host.starts_with("unix://") || endpoint.host.starts_with("npipe://");
                // The CLI configures TLS only for non-socket hosts (`load.go`, `ClientOpts`).
                if !is_socket && (skip_tls_verify || tls_dir.is_dir()) {
                    return Err(EndpointError::Unsupported {
                        host: endpoint.host.clone(),
                        from: endpoint.source.to_string(),
                        why: format!(
                            "the context uses TLS ({}), which playground does not speak",
                            if skip_tls_verify {
                                "SkipTLSVerify".to_string()
                            } else {
                                format!("certificates in {}", tls_dir.display())
                            }
                        ),
                        fix: TLS_FIX.into(),
                    });
                }
                endpoint
            }
        }
    };
    check_scheme(endpoint)
}

/// The CLI reads `currentContext` and nothing else from its config file here.
fn current_context(config_file: &Path) -> Result<Option<String>, EndpointError> {
    let text = match std::fs::read_to_string(config_file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(EndpointError::Unreadable {
                path: config_file.to_path_buf(),
                source: e.into(),
            });
        }
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| EndpointError::Unreadable {
            path: config_file.to_path_buf(),
            source: e.into(),
        })?;
    Ok(field(&value, "currentContext")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string))
}

/// `Endpoints.docker.{Host, SkipTLSVerify}` of a context's meta.json, or `None` when it has no
/// docker endpoint.
fn docker_endpoint(text: &str) -> Result<Option<(String, bool)>, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    let Some(docker) = field(&value, "Endpoints").and_then(|e| field(e, "docker")) else {
        return Ok(None);
    };
    let host = field(docker, "Host")
        .and_then(|h| h.as_str())
        .filter(|h| !h.is_empty());
    let skip = field(docker, "SkipTLSVerify")
        .and_then(|s| s.as_bool())
        .unwrap_or(false);
    Ok(host.map(|h| (h.to_string(), skip)))
}

/// A JSON object's field, matched without regard to case, as Go's `encoding/json` does.
fn field<'a>(value: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    let map: &serde_json::Map<String, serde_json::Value> = value.as_object()?;
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn check_scheme(endpoint: Endpoint) -> Result<Endpoint, EndpointError> {
    let scheme = endpoint.host.split("://").next().unwrap_or_default();
    let supported: HashMap<&str, bool> = HashMap::from([
        ("unix", cfg!(unix)),
        ("tcp", true),
        ("http", true),
        ("npipe", cfg!(windows)),
    ]);
    if endpoint.host.contains("://") && supported.get(scheme).copied().unwrap_or(false) {
        return Ok(endpoint);
    }
    let (why, fix) = match scheme {
        "ssh" => (
            "ssh:// endpoints are not supported".to_string(),
            "forward the remote socket: `ssh -NL /tmp/docker.sock:/var/run/docker.sock HOST`, then DOCKER_HOST=unix:///tmp/docker.sock".to_string(),
        ),
        "npipe" | "unix" => (
            format!("{scheme}:// does not exist on this platform"),
            "use the engine's socket for this platform".to_string(),
        ),
        _ => (
            "expected unix://, tcp:// or http://".to_string(),
            "fix DOCKER_HOST or the context's host (`docker context inspect`)".to_string(),
        ),
    };
    Err(EndpointError::Unsupported {
        host: endpoint.host,
        from: endpoint.source.to_string(),
        why,
        fix,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Docker config dir, and an environment that names it.
    struct Fixture {
        dir: tempfile::TempDir,
        vars: Vec<(&'static str, String)>,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let vars = vec![("DOCKER_CONFIG", dir.path().display().to_string())];
            Fixture { dir, vars }
        }
        fn var(mut self, k: &'static str, v: &str) -> Self {
            self.vars.push((k, v.to_string()));
            self
        }
        fn config(self, json: &str) -> Self {
            std::fs::write(self.dir.path().join("config.json"), json).unwrap();
            self
        }
        /// A context as `docker context create NAME --docker host=HOST` writes it.
        fn context(self, name: &str, host: &str) -> Self {
            self.context_json(
                name,
                &format!(
                    r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
                ),
            )
        }
        fn context_json(self, name: &str, json: &str) -> Self {
            let dir = self.meta_dir(name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("meta.json"), json).unwrap();
            self
        }
        fn meta_dir(&self, name: &str) -> PathBuf {
            self.dir
                .path()
                .join("contexts/meta")
                .join(hex(&Sha256::digest(name.as_bytes())))
        }
        fn resolve(&self) -> Result<Endpoint, EndpointError> {
            resolve(&|k| {
                self.vars
                    .iter()
                    .rev()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.clone())
            })
        }
    }

    #[test]
    fn the_context_directory_is_the_sha256_of_its_name() {
        // docker/cli `contextdirOf`: the hex SHA-256 of the name, as `printf default | sha256sum`.
        assert_eq!(
            hex(&Sha256::digest(b"default")),
            "37a8eec1ce19687d132fe29051dca629d164e2c4958ba141d5f4133a33f0688f"
        );
    }

    #[test]
    fn docker_host_wins_over_every_context() {
        let f = Fixture::new()
            .config(r#"{"currentContext":"colima"}"#)
            .context("colima", "unix:///colima.sock")
            .context("rootless", "unix:///rootless.sock")
            .var("DOCKER_CONTEXT", "rootless")
            .var("DOCKER_HOST", "tcp://127.0.0.1:2375");
        let e = f.resolve().unwrap();
        assert_eq!(e.host, "tcp://127.0.0.1:2375");
        assert_eq!(e.source, EndpointSource::DockerHost);
    }

    #[test]
    fn docker_context_wins_over_the_current_context() {
        let f = Fixture::new()
            .config(r#"{"currentContext":"colima"}"#)
            .context("colima", "unix:///colima.sock")
            .context("rootless", "unix:///run/user/1000/docker.sock")
            .var("DOCKER_HOST", "")
            .var("DOCKER_CONTEXT", "rootless");
        let e = f.resolve().unwrap();
        assert_eq!(e.host, "unix:///run/user/1000/docker.sock");
        assert!(
            matches!(&e.source, EndpointSource::DockerContext { context, meta }
                if context == "rootless" && meta.starts_with(f.meta_dir("rootless"))),
            "{:?}",
            e.source
        );
        assert!(e.to_string().contains("DOCKER_CONTEXT=rootless"), "{e}");
    }

    #[test]
    fn the_current_context_is_read_from_config_json() {
        let f = Fixture::new()
            .config(r#"{"auths":{},"currentContext":"colima"}"#)
            .context("colima", "unix:///Users/me/.colima/default/docker.sock");
        let e = f.resolve().unwrap();
        assert_eq!(e.host, "unix:///Users/me/.colima/default/docker.sock");
        assert!(
            matches!(&e.source, EndpointSource::CurrentContext { context, .. } if context == "colima")
        );
        assert_eq!(
            e.unix_socket(),
            Some(Path::new("/Users/me/.colima/default/docker.sock"))
        );
    }

    #[test]
    fn nothing_configured_is_the_default_socket() {
        let e = Fixture::new().resolve().unwrap();
        assert_eq!(e.host, DEFAULT_HOST);
        assert_eq!(e.source, EndpointSource::Default { via: None });
        // No config dir at all: HOME/.docker, which does not exist.
        let e = resolve(&|k| (k == "HOME").then(|| "/nonexistent-home".to_string())).unwrap();
        assert_eq!(e.host, DEFAULT_HOST);
    }

    #[test]
    fn the_context_named_default_is_the_default_socket_without_a_store_entry() {
        let e = Fixture::new()
            .config(r#"{"currentContext":"default"}"#)
            .resolve()
            .unwrap();
        assert_eq!(e.host, DEFAULT_HOST);
        assert!(
            matches!(e.source, EndpointSource::Default { via: Some(ref v) } if v.contains("config.json"))
        );
    }

    #[test]
    fn a_missing_context_names_the_file_it_looked_for_and_the_fix() {
        let f = Fixture::new().var("DOCKER_CONTEXT", "gone");
        let err = crate::diag::Report(&f.resolve().unwrap_err()).to_string();
        assert!(
            err.contains("Docker context gone (from DOCKER_CONTEXT)"),
            "{err}"
        );
        assert!(
            err.contains(&f.meta_dir("gone").display().to_string()),
            "{err}"
        );
        assert!(err.contains("unset DOCKER_CONTEXT"), "{err}");
        let f = Fixture::new().config(r#"{"currentContext":"gone"}"#);
        let err = crate::diag::Report(&f.resolve().unwrap_err()).to_string();
        assert!(err.contains("currentContext in"), "{err}");
        assert!(err.contains("docker context use default"), "{err}");
    }

    #[test]
    fn keys_match_without_case_as_in_go() {
        let f = Fixture::new().var("DOCKER_CONTEXT", "lower").context_json(
            "lower",
            r#"{"name":"lower","endpoints":{"docker":{"host":"unix:///l.sock"}}}"#,
        );
        assert_eq!(f.resolve().unwrap().host, "unix:///l.sock");
    }

    #[test]
    fn broken_or_incomplete_files_are_named() {
        let f = Fixture::new().config("{not json");
        let e = f.resolve().unwrap_err();
        // The JSON parser's error travels as the source; its words are in the message.
        assert!(
            matches!(
                &e,
                EndpointError::Unreadable {
                    source: Unreadable::Json(_),
                    ..
                }
            ),
            "{e:?}"
        );
        let err = e.to_string();
        assert!(err.contains("config.json"), "{err}");
        assert!(err.contains("key must be a string"), "{err}");
        let f = Fixture::new()
            .var("DOCKER_CONTEXT", "k8s-only")
            .context_json("k8s-only", r#"{"Name":"k8s-only","Endpoints":{}}"#);
        let err = f.resolve().unwrap_err().to_string();
        assert!(err.contains("has no docker endpoint"), "{err}");
    }

    #[test]
    fn tls_and_ssh_contexts_are_refused_with_a_way_around() {
        let f = Fixture::new()
            .var("DOCKER_CONTEXT", "remote")
            .context("remote", "tcp://10.0.0.5:2376");
        std::fs::create_dir_all(
            f.dir
                .path()
                .join("contexts/tls")
                .join(hex(&Sha256::digest(b"remote")))
                .join("docker"),
        )
        .unwrap();
        let err = crate::diag::Report(&f.resolve().unwrap_err()).to_string();
        assert!(err.contains("TLS"), "{err}");
        assert!(err.contains("ssh -NL"), "{err}");

        // Plain tcp:// without TLS material is what the CLI does over plain HTTP too.
        let f = Fixture::new()
            .var("DOCKER_CONTEXT", "plain")
            .context("plain", "tcp://10.0.0.5:2375");
        assert_eq!(f.resolve().unwrap().host, "tcp://10.0.0.5:2375");

        let f = Fixture::new().var("DOCKER_HOST", "ssh://me@box");
        let err = crate::diag::Report(&f.resolve().unwrap_err()).to_string();
        assert!(err.contains("ssh:// endpoints are not supported"), "{err}");
        assert!(err.contains("from DOCKER_HOST"), "{err}");
    }

    #[test]
    fn docker_tls_verify_is_refused_in_the_words_of_a_tls_context() {
        let context = {
            let f = Fixture::new()
                .var("DOCKER_CONTEXT", "remote")
                .context("remote", "tcp://10.0.0.5:2376");
            std::fs::create_dir_all(
                f.dir
                    .path()
                    .join("contexts/tls")
                    .join(hex(&Sha256::digest(b"remote")))
                    .join("docker"),
            )
            .unwrap();
            crate::diag::Report(&f.resolve().unwrap_err()).to_string()
        };
        let f = Fixture::new()
            .var("DOCKER_HOST", "tcp://10.0.0.5:2376")
            .var("DOCKER_TLS_VERIFY", "1")
            .var("DOCKER_CERT_PATH", "/home/me/.docker/machine/certs");
        let err = crate::diag::Report(&f.resolve().unwrap_err()).to_string();
        assert!(err.contains("DOCKER_TLS_VERIFY=1"), "{err}");
        assert!(err.contains("/home/me/.docker/machine/certs"), "{err}");
        assert!(err.contains("which playground does not speak"), "{err}");
        assert!(
            context.contains("which playground does not speak"),
            "{context}"
        );
        // The same way around, word for word.
        let fix = |e: &str| e.split_once("ssh -NL").map(|(_, f)| f.to_string());
        assert_eq!(fix(&err), fix(&context));
        assert!(fix(&err).is_some());
        // A socket speaks no TLS: the variable is ignored there.
        let f = Fixture::new()
            .var("DOCKER_HOST", "unix:///run/docker.sock")
            .var("DOCKER_TLS_VERIFY", "1");
        assert_eq!(f.resolve().unwrap().host, "unix:///run/docker.sock");
        // Unset or empty: plain HTTP, as the CLI.
        let f = Fixture::new()
            .var("DOCKER_HOST", "tcp://10.0.0.5:2375")
            .var("DOCKER_TLS_VERIFY", "");
        assert_eq!(f.resolve().unwrap().host, "tcp://10.0.0.5:2375");
    }
}
