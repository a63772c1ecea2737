//! `playground argocd`: the Argo CD CLI of the lab's own server, logged in as admin, running
//! the user's arguments against the lab.
//!
//! The flow (the command itself is `commands::argocd`'s, which owns Docker and the lab's API):
//! 1. [`Target::of`]: the lab, found by its Docker labels, must be running and publish the
//!    Argo CD UI (plain HTTP on `127.0.0.1:<argocd.ui.port>`, as `server.insecure` is set);
//! 2. [`require_installed`]: the Service `argocd-server` exists (a `--cluster-only` lab has
//!    none, and nothing would answer);
//! 3. [`server_version`]: `GET /api/version`, the key of the CLI cache;
//! 4. [`crate::argocd::download::ensure`]: the CLI of that version, cached or downloaded
//!    from the same server (its module docs hold the trust model);
//! 5. [`login`]: the initial admin password ([`crate::argocd::access::admin_password`]) is
//!    exchanged for a session token with `POST /api/v1/session`;
//! 6. [`command`] + [`run`]: the CLI with the user's arguments verbatim, and its exit status.
//!
//! Secrets: the password travels only in the body of one POST to 127.0.0.1, and the token only
//! in the child's environment. Neither is ever put on a command line (`ps` shows argv to every
//! user of the machine; `argocd login --password` would), logged or printed: [`AuthToken`]'s
//! `Debug` is redacted and it has no `Display`.
//!
//! The environment, as the real CLI reads it (argo-cd `pkg/apiclient/apiclient.go` and
//! `util/config/env.go`): `ARGOCD_SERVER` and `ARGOCD_AUTH_TOKEN` override the server and the
//! token of the local config; `ARGOCD_OPTS` holds default flags, split like a shell would:
//! `--plaintext` (the lab serves plain HTTP), and `--config` at a lab-private path, so a
//! context of the user's own `~/.config/argocd/config` (say, an SSO one with a refresh token)
//! never mixes into calls to the lab. Flags in ARGS still win over both.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::api::Api;

use crate::argocd::access::AccessError;
use crate::argocd::download::{DownloadError, FetchStream, Fetched, HttpError};
use crate::config::LabName;

/// The Argo CD server address, `host:port` without a scheme.
pub(crate) const ENV_SERVER: &str = "ARGOCD_SERVER";
/// A session or API token, used instead of the local config's.
pub(crate) const ENV_AUTH_TOKEN: &str = "ARGOCD_AUTH_TOKEN";
/// Default flags for every `argocd` command.
pub(crate) const ENV_OPTS: &str = "ARGOCD_OPTS";
/// The account `argocd-initial-admin-secret` holds the password of.
pub(crate) const ADMIN_USER: &str = "admin";
/// The Service the install manifest names, whose http port the lab publishes.
pub(crate) const SERVER_SERVICE: &str = "argocd-server";

/// Why the CLI could not be run.
#[derive(Debug, thiserror::Error)]
pub enum ArgoCliError {
    #[error("lab {lab} is {state}, so its Argo CD server is not running")]
    NotRunning { lab: String, state: &'static str },
    #[error("lab {lab} does not publish the Argo CD UI port (no playground.argocd.ui-port label)")]
    NoUiPort { lab: String },
    #[error(
        "Argo CD is not installed in lab {lab}: there is no Service {namespace}/{SERVER_SERVICE} (was the lab made with --cluster-only?)"
    )]
    NotInstalled { lab: String, namespace: String },
    #[error("the Argo CD server of lab {lab} at {url} does not answer: {source}")]
    Unreachable {
        lab: String,
        url: String,
        #[source]
        source: HttpError,
    },
    #[error("the Argo CD server at {url} gave an unexpected answer: {source}")]
    BadAnswer {
        url: String,
        #[source]
        source: AnswerError,
    },
    #[error("logging in to {url} as {ADMIN_USER} failed: HTTP {status}: {message}")]
    Login {
        url: String,
        status: u16,
        message: String,
    },
    #[error(transparent)]
    Password(#[from] AccessError),
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error("Kubernetes API ({what}): {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot run the argocd CLI {path}: {source}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::diag::Hinted for ArgoCliError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::NotRunning { lab, .. } => Some(format!("`playground resume {lab}`")),
            Self::NoUiPort { lab } => Some(format!("labs made by `playground up` publish it at argocd.ui.port; recreate this one with `playground drop {lab}` and `playground up`")),
            Self::NotInstalled { .. } => Some("`playground up` in the lab's directory installs it".to_string()),
            Self::Unreachable { lab, .. } => Some(format!("if the lab was suspended, `playground resume {lab}`; if Argo CD is still starting, wait and retry; `playground up` repairs a broken install")),
            Self::Login { .. } => Some("the password comes from argocd-initial-admin-secret; if the admin password was changed since, that secret no longer holds it".to_string()),
            Self::Password(e) => e.hint(),
            Self::Download(e) => e.hint(),
            _ => None,
        }
    }
}

impl crate::diag::Classified for ArgoCliError {}

/// What is wrong with an answer of the Argo CD server that came with the right status.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// `field` is missing or empty; `preview` is the start of the body (never a secret: a
    /// body that holds one has the field).
    #[error("no {field} in {preview}")]
    Missing {
        field: &'static str,
        preview: String,
    },
}

/// An answer whose status says the request failed: the request, the status and the start
/// of the body (what argocd-server or a proxy in front of it said).
#[derive(Debug, thiserror::Error)]
#[error("{request}: HTTP {status}: {preview}")]
pub(crate) struct UnexpectedStatus {
    pub(crate) request: &'static str,
    pub(crate) status: u16,
    pub(crate) preview: String,
}

/// A lab's Argo CD server, as reached from this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub lab: String,
    /// `http://127.0.0.1:<ui port>`.
    pub url: String,
    /// The namespace Argo CD lives in.
    pub namespace: String,
}

impl Target {
    /// The Argo CD server of `lab`, if the lab can have one running: not `stopped` (the word
    /// for how it is stopped: suspended, paused, dropped), and publishing its UI at `ui`. The
    /// caller reads both from the lab's Docker labels. A `partial` lab is tried: its server-0
    /// may well answer, and [`server_version`] says so when it does not.
    pub(crate) fn of(
        lab: &LabName,
        stopped: Option<&'static str>,
        ui: Option<&str>,
        namespace: String,
    ) -> Result<Self, ArgoCliError> {
        if let Some(state) = stopped {
            return Err(ArgoCliError::NotRunning {
                lab: lab.to_string(),
                state,
            });
        }
        let url = ui.ok_or_else(|| ArgoCliError::NoUiPort {
            lab: lab.to_string(),
        })?;
        Ok(Target {
            lab: lab.to_string(),
            url: url.to_string(),
            namespace,
        })
    }

    /// `127.0.0.1:<port>`: what `ARGOCD_SERVER` takes (no scheme; `--plaintext` says HTTP).
    pub fn server_addr(&self) -> &str {
        self.url.strip_prefix("http://").unwrap_or(&self.url)
    }
}

/// Fail with [`ArgoCliError::NotInstalled`] unless the Service `argocd-server` exists.
pub(crate) async fn require_installed(
    client: &kube::Client,
    target: &Target,
) -> Result<(), ArgoCliError> {
    let services: Api<Service> = Api::namespaced(client.clone(), &target.namespace);
    match services.get_opt(SERVER_SERVICE).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(ArgoCliError::NotInstalled {
            lab: target.lab.clone(),
            namespace: target.namespace.clone(),
        }),
        Err(source) => Err(ArgoCliError::Api {
            what: format!("Service {}/{SERVER_SERVICE}", target.namespace),
            source,
        }),
    }
}

/// HTTP to the lab's Argo CD server: GET (in [`FetchStream`]) and a JSON POST. [`UreqHttp`]
/// is the real one; tests use fakes.
pub trait Http: FetchStream {
    fn post_json(&self, url: &str, json: &str) -> Result<Fetched, HttpError>;
}

/// [`Http`] with ureq, blocking (call it from `block_in_place` in async code).
pub struct UreqHttp {
    agent: ureq::Agent,
}

impl UreqHttp {
    pub fn new() -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // The lab is on 127.0.0.1: a proxy from the environment must not see the
            // password, and could not reach the lab anyway.
            .proxy(None)
            // Statuses are answers here (404: no CLI for this platform), not transport errors.
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_recv_response(Some(Duration::from_secs(30)))
            // No overall limit (the CLI is ~200 MB), but a stalled stream ends.
            .timeout_per_read(Some(Duration::from_secs(60)))
            .build()
            .into();
        UreqHttp { agent }
    }

    fn fetched(response: ureq::http::Response<ureq::Body>) -> Fetched {
        Fetched {
            status: response.status().as_u16(),
            body: Box::new(response.into_body().into_reader()),
        }
    }
}

impl Default for UreqHttp {
    fn default() -> Self {
        Self::new()
    }
}

impl FetchStream for UreqHttp {
    fn get(&self, url: &str) -> Result<Fetched, HttpError> {
        Ok(self.agent.get(url).call().map(Self::fetched)?)
    }
}

impl Http for UreqHttp {
    fn post_json(&self, url: &str, json: &str) -> Result<Fetched, HttpError> {
        Ok(self
            .agent
            .post(url)
            // argocd-server refuses other content types on POST (its CSRF protection).
            .content_type("application/json")
            .send(json)
            .map(Self::fetched)?)
    }
}

/// A small JSON answer's body; API answers are far below this.
const MAX_ANSWER_BYTES: u64 = 1 << 20;

fn read_answer(fetched: Fetched) -> Result<(u16, Vec<u8>), HttpError> {
    let mut body = Vec::new();
    fetched.body.take(MAX_ANSWER_BYTES).read_to_end(&mut body)?;
    Ok((fetched.status, body))
}

/// The `Version` of an `/api/version` answer (`{"Version":"v3.5.1+6c2a6f1",...}`).
pub(crate) fn parse_version(body: &[u8]) -> Result<String, AnswerError> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(AnswerError::NotJson)?;
    match v.get("Version").and_then(|v| v.as_str()) {
        Some(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => Err(AnswerError::Missing {
            field: "Version",
            preview: preview(body),
        }),
    }
}

/// The start of a body, for messages.
fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// The server's version, `GET /api/version` (which needs no login).
pub fn server_version(http: &dyn Http, target: &Target) -> Result<String, ArgoCliError> {
    let url = format!("{}/api/version", target.url);
    let unreachable = |source: HttpError| ArgoCliError::Unreachable {
        lab: target.lab.clone(),
        url: target.url.clone(),
        source,
    };
    let (status, body) = http.get(&url).and_then(read_answer).map_err(&unreachable)?;
    if status != 200 {
        return Err(unreachable(Box::new(UnexpectedStatus {
            request: "GET /api/version",
            status,
            preview: preview(&body),
        })));
    }
    parse_version(&body).map_err(|source| ArgoCliError::BadAnswer { url, source })
}

/// An Argo CD session token. Never printed: `Debug` is redacted and there is no `Display`.
pub struct AuthToken(String);

impl AuthToken {
    /// The token itself, for the child's environment only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

/// Log in as [`ADMIN_USER`]: `POST /api/v1/session` with the password in the JSON body; the
/// answer's `token` is a session token the CLI takes in `ARGOCD_AUTH_TOKEN`.
pub fn login(http: &dyn Http, target: &Target, password: &str) -> Result<AuthToken, ArgoCliError> {
    let url = format!("{}/api/v1/session", target.url);
    let request = serde_json::json!({"username": ADMIN_USER, "password": password}).to_string();
    let (status, body) = http
        .post_json(&url, &request)
        .and_then(read_answer)
        .map_err(|source| ArgoCliError::Unreachable {
            lab: target.lab.clone(),
            url: target.url.clone(),
            source,
        })?;
    let answer: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    if status != 200 {
        // gRPC-gateway errors carry `message` (and `error`); never the request's body.
        let message = answer
            .as_ref()
            .and_then(|v| v.get("message").or_else(|| v.get("error")))
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| preview(&body));
        return Err(ArgoCliError::Login {
            url,
            status,
            message,
        });
    }
    match answer
        .as_ref()
        .and_then(|v| v.get("token"))
        .and_then(|t| t.as_str())
    {
        Some(token) if !token.is_empty() => Ok(AuthToken(token.to_string())),
        // The body holds no token here, so it is safe to show.
        _ => Err(ArgoCliError::BadAnswer {
            url,
            source: AnswerError::Missing {
                field: "token",
                preview: preview(&body),
            },
        }),
    }
}

/// The lab-private argocd config file (`--config`): `<config dir>/playground/argocd/<lab>/config`.
/// Nothing writes it unless the user runs a command that does (`argocd login`).
pub(crate) fn config_path(config_dir: &Path, lab: &LabName) -> PathBuf {
    config_dir
        .join("playground")
        .join("argocd")
        .join(lab)
        .join("config")
}

/// Quote a word for `ARGOCD_OPTS`, which the CLI splits like a POSIX shell
/// (kballard/go-shellquote): single quotes, with `'\''` for a quote inside.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The CLI at `cli` with `args` verbatim, pointed at `target` and authenticated by `token`
/// through the environment (never argv).
pub fn command(
    cli: &Path,
    target: &Target,
    token: &AuthToken,
    config: &Path,
    args: &[String],
) -> std::process::Command {
    let mut c = std::process::Command::new(cli);
    c.args(args)
        .env(ENV_SERVER, target.server_addr())
        .env(ENV_AUTH_TOKEN, token.expose())
        .env(
            ENV_OPTS,
            format!(
                "--plaintext --config {}",
                shell_quote(&config.to_string_lossy())
            ),
        );
    c
}

/// Run the CLI with the terminal's stdin, stdout and stderr, and return its exit status
/// (128 + N when a signal N ended it, as shells report it). Ctrl-C reaches the CLI (it is in
/// the terminal's foreground process group); this process only waits for it to end, so the
/// status is always the CLI's.
pub async fn run(cmd: std::process::Command) -> Result<i32, ArgoCliError> {
    let path = PathBuf::from(cmd.get_program());
    let mut child = tokio::process::Command::from(cmd)
        .spawn()
        .map_err(|source| ArgoCliError::Spawn {
            path: path.clone(),
            source,
        })?;
    // While the guard is held a first Ctrl-C is ours to ignore: the CLI got it too.
    let _guard = crate::interrupt::guard();
    let status = child
        .wait()
        .await
        .map_err(|source| ArgoCliError::Spawn { path, source })?;
    Ok(exit_code(status))
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    status.code().unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    fn target() -> Target {
        Target {
            lab: "lab".into(),
            url: "http://127.0.0.1:8080".into(),
            namespace: "argocd".into(),
        }
    }

    /// A canned answer: a status and body, or a transport error.
    type Answer = Result<(u16, &'static str), &'static str>;

    /// A server double: canned answers by path, and every request it saw.
    #[derive(Default)]
    struct Fake {
        answers: Vec<(&'static str, Answer)>,
        seen: RefCell<Vec<(String, Option<String>)>>,
    }

    impl Fake {
        fn answer(&self, url: &str, body: Option<&str>) -> Result<Fetched, HttpError> {
            self.seen
                .borrow_mut()
                .push((url.to_string(), body.map(str::to_string)));
            let (_, answer) = self
                .answers
                .iter()
                .find(|(path, _)| url.ends_with(path))
                .expect("an answer for the path");
            // A transport error as ureq reports a refused connection: an io::Error.
            let (status, body) = answer.map_err(|m| {
                HttpError::from(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    m,
                ))
            })?;
            Ok(Fetched {
                status,
                body: Box::new(std::io::Cursor::new(body.as_bytes().to_vec())),
            })
        }
    }

    impl FetchStream for Fake {
        fn get(&self, url: &str) -> Result<Fetched, HttpError> {
            self.answer(url, None)
        }
    }

    impl Http for Fake {
        fn post_json(&self, url: &str, json: &str) -> Result<Fetched, HttpError> {
            self.answer(url, Some(json))
        }
    }

    #[test]
    fn versions_are_read_from_the_version_answer() {
        assert_eq!(
            parse_version(br#"{"Version":"v3.5.1+6c2a6f1","BuildDate":"2026-01-01"}"#).unwrap(),
            "v3.5.1+6c2a6f1"
        );
        assert!(parse_version(br#"{"version":"v3"}"#).is_err());
        assert!(parse_version(br#"{"Version":""}"#).is_err());
        assert!(matches!(
            parse_version(b"<html>"),
            Err(AnswerError::NotJson(_))
        ));
        assert!(
            parse_version(b"<html>")
                .unwrap_err()
                .to_string()
                .contains("not JSON")
        );

        let fake = Fake {
            answers: vec![("/api/version", Ok((200, r#"{"Version":"v3.5.1+abc"}"#)))],
            ..Default::default()
        };
        assert_eq!(server_version(&fake, &target()).unwrap(), "v3.5.1+abc");
        assert_eq!(fake.seen.borrow()[0].0, "http://127.0.0.1:8080/api/version");
    }

    #[test]
    fn a_server_that_does_not_answer_gets_a_hint() {
        let fake = Fake {
            answers: vec![("/api/version", Err("Connection refused (os error 111)"))],
            ..Default::default()
        };
        let err = server_version(&fake, &target()).unwrap_err();
        // The transport's error is kept as the source, not flattened into text.
        let source = std::error::Error::source(&err).expect("a source");
        assert_eq!(
            source.downcast_ref::<std::io::Error>().map(|e| e.kind()),
            Some(std::io::ErrorKind::ConnectionRefused),
            "{source:?}"
        );
        let text = crate::diag::Report(&err).to_string();
        assert!(
            text.contains("http://127.0.0.1:8080 does not answer"),
            "{text}"
        );
        assert!(text.contains("Connection refused"), "{text}");
        assert!(text.contains("playground resume lab"), "{text}");
        assert!(text.contains("playground up"), "{text}");

        let fake = Fake {
            answers: vec![("/api/version", Ok((503, "no healthy upstream")))],
            ..Default::default()
        };
        let text = crate::diag::Report(&server_version(&fake, &target()).unwrap_err()).to_string();
        assert!(text.contains("HTTP 503: no healthy upstream"), "{text}");
    }

    #[test]
    fn login_posts_the_password_in_the_body_and_keeps_the_token_secret() {
        let fake = Fake {
            answers: vec![("/api/v1/session", Ok((200, r#"{"token":"tok.en.42"}"#)))],
            ..Default::default()
        };
        let token = login(&fake, &target(), "pa\"ss").unwrap();
        assert_eq!(token.expose(), "tok.en.42");
        assert_eq!(format!("{token:?}"), "AuthToken(<redacted>)");
        let seen = fake.seen.borrow();
        let (url, body) = &seen[0];
        assert_eq!(url, "http://127.0.0.1:8080/api/v1/session");
        let body: serde_json::Value = serde_json::from_str(body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"username": "admin", "password": "pa\"ss"})
        );
    }

    #[test]
    fn a_refused_login_says_what_the_server_said() {
        let fake = Fake {
            answers: vec![(
                "/api/v1/session",
                Ok((
                    401,
                    r#"{"error":"Invalid username or password","code":16,"message":"Invalid username or password"}"#,
                )),
            )],
            ..Default::default()
        };
        let text =
            crate::diag::Report(&login(&fake, &target(), "hunter2").unwrap_err()).to_string();
        assert!(
            text.contains("HTTP 401: Invalid username or password"),
            "{text}"
        );
        assert!(text.contains("argocd-initial-admin-secret"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");

        let fake = Fake {
            answers: vec![("/api/v1/session", Ok((200, r#"{"token":""}"#)))],
            ..Default::default()
        };
        assert!(matches!(
            login(&fake, &target(), "x"),
            Err(ArgoCliError::BadAnswer { .. })
        ));
    }

    fn lab(stopped: Option<&'static str>, ui: Option<&str>) -> Result<Target, ArgoCliError> {
        Target::of(
            &LabName::parse("lab").unwrap(),
            stopped,
            ui,
            "gitops".into(),
        )
    }

    #[test]
    fn the_target_comes_from_the_labels_of_a_running_lab() {
        let t = lab(None, Some("http://127.0.0.1:9090")).unwrap();
        assert_eq!(t.url, "http://127.0.0.1:9090");
        assert_eq!(t.server_addr(), "127.0.0.1:9090");
        assert_eq!(t.namespace, "gitops");

        for word in ["suspended", "paused"] {
            let text =
                crate::diag::Report(&lab(Some(word), Some("http://127.0.0.1:1")).unwrap_err())
                    .to_string();
            assert!(text.contains(&format!("lab lab is {word}")), "{text}");
            assert!(text.contains("playground resume lab"), "{text}");
        }
        let text = crate::diag::Report(&lab(None, None).unwrap_err()).to_string();
        assert!(text.contains("ui-port"), "{text}");
    }

    #[test]
    fn the_command_carries_args_verbatim_and_secrets_only_in_the_environment() {
        let token = AuthToken("s3cr3t-token".into());
        let args: Vec<String> = [
            "app",
            "list",
            "-o",
            "json",
            "--selector",
            "a b",
            "--",
            "it's",
        ]
        .map(str::to_string)
        .to_vec();
        let config = Path::new("/home/ada/my config/playground/argocd/lab/config");
        let c = command(Path::new("/cache/argocd"), &target(), &token, config, &args);
        assert_eq!(c.get_program(), "/cache/argocd");
        let argv: Vec<_> = c
            .get_args()
            .map(|a| a.to_string_lossy().to_string())
            .collect();
        assert_eq!(argv, args);
        assert!(argv.iter().all(|a| !a.contains("s3cr3t")));
        let env: std::collections::HashMap<_, _> = c
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().to_string(),
                    v.unwrap().to_string_lossy().to_string(),
                )
            })
            .collect();
        assert_eq!(env[ENV_SERVER], "127.0.0.1:8080");
        assert_eq!(env[ENV_AUTH_TOKEN], "s3cr3t-token");
        assert_eq!(
            env[ENV_OPTS],
            "--plaintext --config '/home/ada/my config/playground/argocd/lab/config'"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(
            config_path(
                Path::new("/home/ada/.config"),
                &LabName::parse("lab").unwrap()
            ),
            Path::new("/home/ada/.config/playground/argocd/lab/config")
        );
    }

    #[tokio::test]
    async fn the_exit_status_is_the_clis() {
        let mut c = std::process::Command::new("sh");
        c.args(["-c", "exit 7"]);
        assert_eq!(run(c).await.unwrap(), 7);
        let mut c = std::process::Command::new("sh");
        c.args(["-c", "kill -TERM $$"]);
        assert_eq!(run(c).await.unwrap(), 128 + 15);
        let missing = std::process::Command::new("/nonexistent/argocd");
        let text = run(missing).await.unwrap_err().to_string();
        assert!(text.contains("/nonexistent/argocd"), "{text}");
    }
}
