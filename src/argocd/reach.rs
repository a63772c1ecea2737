//! Whether a hub's pods reach a `{ context: NAME }` cluster's API: one request made from inside
//! the hub's first server node, with the tool the node image has, TLS verified against the
//! context's CA.
//!
//! The real `rancher/k3s` image is k3s's `bin/` folder on `scratch` (k3s `package/Dockerfile`
//! unpacks `data.tar.zst` at `/`), and that folder holds `kubectl` as a link to the k3s binary
//! (k3s `scripts/package-cli`: `for i in containerd crictl kubectl …; do ln -s k3s bin/$i`),
//! which runs kubectl by its name (k3s `pkg/kubectl/main.go`). So the check is
//!
//! ```text
//! kubectl --kubeconfig FILE --request-timeout=5s get --raw /version
//! ```
//!
//! where FILE is a kubeconfig of the server and its CA alone, written into the node through the
//! engine's archive API (`Engine::write_file`) and removed afterwards. It names no user: k3s's
//! kubectl falls back to the node's admin kubeconfig only when no `--kubeconfig` is given
//! (`pkg/kubectl/main.go`), so no credential of the hub or of the cluster is sent, written or
//! put on a command line. `GET /version` is public on a default API server
//! (`system:public-info-viewer`); a k3s server, which runs with `--anonymous-auth=false`,
//! answers 401 instead, and a 401 or 403 proves as much: the address is reached and the
//! certificate verified against the CA, which is all that is asked here (Argo CD brings the
//! token).
//!
//! The node's network is the pods' way out (their traffic leaves through the node, and CoreDNS
//! asks the node's resolver), so what the node reaches the pods reach.
//!
//! kubectl says what failed in its own words (kubernetes `staging/src/k8s.io/kubectl/pkg/cmd/
//! util/helpers.go`, `StandardErrorMessage`): `The connection to the server HOST:PORT was
//! refused - did you specify the right host or port?`, `Unable to connect to the server: ERR`
//! with Go's error (`dial tcp: lookup NAME…: no such host`, `tls: failed to verify
//! certificate: x509: certificate signed by unknown authority`, `… (Client.Timeout exceeded
//! while awaiting headers)`), `error: You must be logged in to the server (Unauthorized)`,
//! `Error from server (Forbidden): …`. [`classify`] reads those.

use std::time::Duration;

use base64::Engine as _;

use crate::docker::Engine;

/// How long kubectl may take (`--request-timeout`, which bounds the whole request: lookup,
/// connect, TLS and answer).
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);
/// The exec around it may take this much longer before `up` stops waiting (the engine's own
/// round trips).
const EXEC_SLACK: Duration = Duration::from_secs(5);

/// What one request from a hub node to a cluster's API came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reach {
    /// The API answered (2xx), over TLS verified against the CA: its version when it said.
    Answered { version: Option<String> },
    /// It answered 401 or 403 to a request without credentials: reached, TLS verified.
    Denied(u16),
    /// The address alone says the pods cannot reach it (not tried): why.
    Unroutable(String),
    /// The host name does not resolve from the node: kubectl's error.
    NoSuchHost(String),
    /// Nothing listens there, as the node sees it.
    Refused,
    /// No answer within [`TIMEOUT`].
    Timeout,
    /// The certificate does not verify against the CA, or does not name the address.
    Tls(String),
    /// Another failure, in kubectl's words.
    Failed(String),
    /// The check could not be made (no running node, the engine refused the exec): why.
    Unchecked(String),
}

impl Reach {
    /// The pods reach the API and its certificate verifies.
    pub(crate) fn reached(&self) -> bool {
        matches!(self, Reach::Answered { .. } | Reach::Denied(_))
    }

    /// One line for `status` or a step's note: what was found.
    pub(crate) fn summary(&self) -> String {
        match self {
            Reach::Answered { version: Some(v) } => format!("answered ({v}), TLS verified"),
            Reach::Answered { version: None } => "answered, TLS verified".into(),
            Reach::Denied(code) => {
                format!("answered HTTP {code} without credentials, TLS verified")
            }
            Reach::Unroutable(why) => why.clone(),
            Reach::NoSuchHost(e) => format!("the name does not resolve there ({e})"),
            Reach::Refused => "the connection is refused (nothing listens at that address and port as the lab's network sees it)".into(),
            Reach::Timeout => format!(
                "no answer within {}s (an address the lab's network does not route, or a firewall)",
                TIMEOUT.as_secs()
            ),
            Reach::Tls(e) => format!("TLS verification failed ({e})"),
            Reach::Failed(e) => e.clone(),
            Reach::Unchecked(why) => format!("not checked: {why}"),
        }
    }
}

/// What the warning names besides the outcome.
pub(crate) struct Target<'a> {
    /// The context's name (the cluster's name in Argo CD).
    pub(crate) context: &'a str,
    /// Its API's address, from the kubeconfig.
    pub(crate) server: &'a str,
    /// The hub lab.
    pub(crate) hub: &'a str,
    /// The hub's Docker network.
    pub(crate) network: &'a str,
    /// The name the hub's nodes and pods have for the Docker host.
    pub(crate) host_alias: &'a str,
}

/// The warning `up` prints for an outcome, with what to do; `None` when the pods reach it.
pub(crate) fn warning(t: &Target<'_>, reach: &Reach) -> Option<String> {
    let Target {
        context,
        server,
        hub,
        network,
        host_alias,
    } = t;
    let address = format!(
        "give the context an address {hub}'s nodes reach: the host as `{host_alias}` (Docker's host-gateway), with the API listening on the Docker bridge and that name in its certificate; or attach the cluster's container to the lab's network (`docker network connect {network} CONTAINER`) and use its container name; for a playground lab, name the lab in argocd.clusters instead of its context"
    );
    let hint = match reach {
        Reach::Answered { .. } | Reach::Denied(_) => return None,
        Reach::Unchecked(why) => {
            return Some(format!(
                "could not check from {hub}'s nodes that they reach context {context}'s API at {server}: {why}"
            ));
        }
        Reach::Tls(_) => format!(
            "the server's certificate must chain to the context's CA and name the host of {server} (for k3s, `--tls-san`)"
        ),
        Reach::Unroutable(_)
        | Reach::NoSuchHost(_)
        | Reach::Refused
        | Reach::Timeout
        | Reach::Failed(_) => address,
    };
    Some(format!(
        "{hub}'s pods cannot reach context {context}'s API at {server}: {}; {hint}",
        reach.summary()
    ))
}

/// The kubeconfig the check runs with: the server and its CA, no user.
pub(crate) fn kubeconfig(server: &str, ca_pem: Option<&str>) -> String {
    let mut cluster = serde_json::json!({"server": server});
    if let Some(ca) = ca_pem {
        cluster["certificate-authority-data"] = base64::engine::general_purpose::STANDARD
            .encode(ca.as_bytes())
            .into();
    }
    // JSON is YAML: kubectl reads it as it is.
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "target", "cluster": cluster}],
        "contexts": [{"name": "target", "context": {"cluster": "target"}}],
        "current-context": "target",
        "users": [],
    })
    .to_string()
}

/// The command, with the kubeconfig at `path`.
pub fn command(path: &str) -> Vec<String> {
    vec![
        "kubectl".into(),
        "--kubeconfig".into(),
        path.into(),
        format!("--request-timeout={}s", TIMEOUT.as_secs()),
        "get".into(),
        "--raw".into(),
        "/version".into(),
    ]
}

/// Read kubectl's exit code and output (see the module docs for its words).
pub(crate) fn classify(code: i64, output: &str) -> Reach {
    let text = output.trim();
    if code == 0 {
        let version = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v["gitVersion"].as_str().map(String::from));
        return Reach::Answered { version };
    }
    // The error line (k3s's kubectl may print a logrus warning first).
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim();
    let err = line
        .strip_prefix("Unable to connect to the server: ")
        .unwrap_or(line);
    if line.contains("You must be logged in to the server") {
        return Reach::Denied(401);
    }
    if line.starts_with("Error from server (Forbidden)") {
        return Reach::Denied(403);
    }
    if err.contains("Client.Timeout")
        || err.contains("i/o timeout")
        || err.contains("deadline exceeded")
        || err.contains("handshake timeout")
    {
        return Reach::Timeout;
    }
    if line.contains("was refused") || err.contains("connection refused") {
        return Reach::Refused;
    }
    if err.contains("no such host") || (err.contains("lookup ") && err.contains("dial tcp")) {
        return Reach::NoSuchHost(err.to_string());
    }
    if err.contains("x509:") || err.contains("tls:") {
        return Reach::Tls(err.to_string());
    }
    if code == 126 || code == 127 || err.contains("executable file not found") {
        return Reach::Unchecked(format!("the node has no kubectl ({err})"));
    }
    Reach::Failed(err.to_string())
}

/// A file name for `context`'s kubeconfig in the node.
fn file_for(context: &str) -> String {
    let safe: String = context
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("/tmp/playground-reach-{safe}.kubeconfig")
}

/// Make the request from inside `node` (a running container of the hub) and read the outcome.
/// Bounded by [`TIMEOUT`] and a little more for the engine; never fails: a check that cannot
/// be made is [`Reach::Unchecked`].
pub(crate) async fn from_node<E: Engine>(
    engine: &E,
    node: &str,
    context: &str,
    server: &str,
    ca_pem: Option<&str>,
) -> Reach {
    let path = file_for(context);
    let config = kubeconfig(server, ca_pem);
    if let Err(e) = engine
        .write_file(node, &path, config.as_bytes(), 0o644)
        .await
    {
        return Reach::Unchecked(format!("could not write a kubeconfig into {node}: {e}"));
    }
    let cmd = command(&path);
    let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let outcome = match tokio::time::timeout(TIMEOUT + EXEC_SLACK, engine.exec(node, &argv)).await {
        Ok(Ok((code, output))) => classify(code, &output),
        Ok(Err(e)) => Reach::Unchecked(format!("could not run kubectl in {node}: {e}")),
        Err(_) => Reach::Timeout,
    };
    let _ = tokio::time::timeout(EXEC_SLACK, engine.exec(node, &["rm", "-f", &path])).await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target<'static> {
        Target {
            context: "staging",
            server: "https://10.0.0.9:6443",
            hub: "hub",
            network: "playground-hub",
            host_alias: "host.playground.internal",
        }
    }

    /// kubectl's own words (kubernetes `staging/src/k8s.io/kubectl/pkg/cmd/util/helpers.go`,
    /// with Go's net, crypto/tls and net/http errors) and what each comes to.
    #[test]
    fn kubectl_says_what_failed_and_each_failure_is_named() {
        let cases: &[(i64, &str, Reach)] = &[
            (
                0,
                "{\n  \"major\": \"1\",\n  \"gitVersion\": \"v1.33.4+k3s1\"\n}",
                Reach::Answered {
                    version: Some("v1.33.4+k3s1".into()),
                },
            ),
            (
                1,
                "error: You must be logged in to the server (Unauthorized)",
                Reach::Denied(401),
            ),
            (
                1,
                "Error from server (Forbidden): forbidden: User \"system:anonymous\" cannot get path \"/version\"",
                Reach::Denied(403),
            ),
            (
                1,
                "The connection to the server 10.0.0.9:6443 was refused - did you specify the right host or port?",
                Reach::Refused,
            ),
            (
                1,
                "Unable to connect to the server: dial tcp: lookup api.example.test: no such host",
                Reach::NoSuchHost("dial tcp: lookup api.example.test: no such host".into()),
            ),
            (
                1,
                "Unable to connect to the server: tls: failed to verify certificate: x509: certificate signed by unknown authority",
                Reach::Tls(
                    "tls: failed to verify certificate: x509: certificate signed by unknown authority"
                        .into(),
                ),
            ),
            (
                1,
                "Unable to connect to the server: x509: certificate is valid for 127.0.0.1, localhost, not 10.0.0.9",
                Reach::Tls(
                    "x509: certificate is valid for 127.0.0.1, localhost, not 10.0.0.9".into(),
                ),
            ),
            (
                1,
                "Unable to connect to the server: context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                Reach::Timeout,
            ),
            (
                1,
                "Unable to connect to the server: dial tcp 10.0.0.9:6443: i/o timeout",
                Reach::Timeout,
            ),
            (
                1,
                "Unable to connect to the server: net/http: TLS handshake timeout",
                Reach::Timeout,
            ),
            (
                1,
                "Unable to connect to the server: dial tcp 10.0.0.9:6443: connect: no route to host",
                Reach::Failed("dial tcp 10.0.0.9:6443: connect: no route to host".into()),
            ),
            (
                127,
                "OCI runtime exec failed: exec: \"kubectl\": executable file not found in $PATH",
                Reach::Unchecked(
                    "the node has no kubectl (OCI runtime exec failed: exec: \"kubectl\": executable file not found in $PATH)"
                        .into(),
                ),
            ),
        ];
        for (code, said, want) in cases {
            assert_eq!(&classify(*code, said), want, "{said}");
        }
        // A logrus warning of k3s's kubectl before the error does not hide it.
        let warned = "time=\"2025-01-01T00:00:00Z\" level=warning msg=\"Unable to read /etc/rancher/k3s/k3s.yaml\"\nThe connection to the server 10.0.0.9:6443 was refused - did you specify the right host or port?\n";
        assert_eq!(classify(1, warned), Reach::Refused);
        assert!(classify(0, "{}").reached());
        assert!(
            classify(
                1,
                "error: You must be logged in to the server (Unauthorized)"
            )
            .reached()
        );
    }

    #[test]
    fn the_warning_names_the_server_what_failed_and_what_to_do() {
        let t = target();
        assert_eq!(warning(&t, &Reach::Answered { version: None }), None);
        assert_eq!(warning(&t, &Reach::Denied(401)), None);

        let refused = warning(&t, &Reach::Refused).unwrap();
        assert!(
            refused.starts_with(
                "hub's pods cannot reach context staging's API at https://10.0.0.9:6443: the connection is refused"
            ),
            "{refused}"
        );
        for hint in [
            "`host.playground.internal`",
            "`docker network connect playground-hub CONTAINER`",
            "name the lab in argocd.clusters",
        ] {
            assert!(refused.contains(hint), "{hint}: {refused}");
        }

        let tls = warning(
            &t,
            &Reach::Tls("x509: certificate signed by unknown authority".into()),
        )
        .unwrap();
        assert!(
            tls.contains("TLS verification failed (x509: certificate signed by unknown authority)"),
            "{tls}"
        );
        assert!(tls.contains("`--tls-san`"), "{tls}");

        let dns = warning(
            &t,
            &Reach::NoSuchHost("dial tcp: lookup x: no such host".into()),
        )
        .unwrap();
        assert!(
            dns.contains("the name does not resolve there (dial tcp: lookup x: no such host)"),
            "{dns}"
        );
        let slow = warning(&t, &Reach::Timeout).unwrap();
        assert!(slow.contains("no answer within 5s"), "{slow}");
        let loopback = warning(
            &t,
            &Reach::Unroutable(
                "127.0.0.1 is a loopback address: in the hub's pods it is the pod itself".into(),
            ),
        )
        .unwrap();
        assert!(
            loopback.contains("the pod itself; give the context an address"),
            "{loopback}"
        );
        let unchecked = warning(&t, &Reach::Unchecked("no running node".into())).unwrap();
        assert_eq!(
            unchecked,
            "could not check from hub's nodes that they reach context staging's API at https://10.0.0.9:6443: no running node"
        );
    }

    #[test]
    fn the_check_sends_no_credentials_and_is_bounded() {
        let config: serde_json::Value = serde_json::from_str(&kubeconfig(
            "https://10.0.0.9:6443",
            Some("-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n"),
        ))
        .unwrap();
        assert_eq!(config["users"], serde_json::json!([]));
        assert_eq!(config["contexts"][0]["context"].get("user"), None);
        assert_eq!(
            config["clusters"][0]["cluster"]["server"],
            "https://10.0.0.9:6443"
        );
        assert!(config["clusters"][0]["cluster"]["certificate-authority-data"].is_string());
        assert_eq!(
            command("/tmp/k"),
            [
                "kubectl",
                "--kubeconfig",
                "/tmp/k",
                "--request-timeout=5s",
                "get",
                "--raw",
                "/version"
            ]
        );
        assert_eq!(file_for("a b/c"), "/tmp/playground-reach-a_b_c.kubeconfig");
    }

    #[tokio::test]
    async fn a_check_that_cannot_be_made_says_so_and_fails_nothing() {
        use crate::docker::fake::FakeEngine;
        let engine = FakeEngine::new();
        // No such container: the check is not made, and says so.
        let r = from_node(&engine, "nowhere", "c", "https://10.0.0.9:6443", None).await;
        assert!(matches!(r, Reach::Unchecked(_)), "{r:?}");
    }
}
