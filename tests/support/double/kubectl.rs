//! `kubectl` as a k3s node has it, for one command: `kubectl [--kubeconfig FILE]
//! [--request-timeout=D] get --raw PATH` (what `up` runs in a hub node to check that it
//! reaches a cluster's API, `src/argocd/reach.rs`).
//!
//! In the real `rancher/k3s` image `/bin/kubectl` is a link to the k3s binary (k3s
//! `scripts/package-cli`: `ln -s k3s bin/$i` for `kubectl` among others; `package/Dockerfile`
//! unpacks that `bin/` at `/`), and `k3s kubectl` is the same command; the stand-in image has
//! the same link (`scripts/build-test-node-image`), so both forms reach this module.
//!
//! Faithful where the check looks:
//! - the kubeconfig is `--kubeconfig`, else `$KUBECONFIG`, else k3s's own
//!   `/etc/rancher/k3s/k3s.yaml` (k3s `pkg/kubectl/main.go`); its current context's cluster
//!   gives the server and CA (`certificate-authority-data` or `certificate-authority`, else
//!   the system roots, as Go's crypto/tls), its user a bearer `token` or none (anonymous);
//!   a client certificate is not modelled and says so;
//! - the TLS check is rustls's webpki verification: chain to the CA, and the URL's host named
//!   in the certificate (Go's `x509.Certificate.Verify`);
//! - its errors are kubectl's, on stderr with exit code 1 (kubernetes
//!   `staging/src/k8s.io/kubectl/pkg/cmd/util/helpers.go`, `checkErr` and
//!   `StandardErrorMessage`): a refused connection is `The connection to the server
//!   HOST:PORT was refused - did you specify the right host or port?`, other transport errors
//!   `Unable to connect to the server: ERR` with Go's error text (`net.DNSError`: `dial tcp:
//!   lookup NAME: no such host`, as the cgo resolver k3s is built with says it, k3s
//!   `scripts/build` tag `netcgo`; `crypto/tls` `CertificateVerificationError`: `tls: failed to
//!   verify certificate: x509: certificate signed by unknown authority` or `x509: certificate
//!   is valid for A, B, not HOST`; `net/http`'s client timeout: `context deadline exceeded
//!   (Client.Timeout exceeded while awaiting headers)`), a 401 `error: You must be logged in to
//!   the server (MESSAGE)`, another `Status` `Error from server (REASON): MESSAGE`;
//! - `--request-timeout` bounds the whole request (client-go sets it as the HTTP client's
//!   timeout); without it, a connection attempt gives up after client-go's 30 s dial timeout
//!   (`dial tcp ADDR: i/o timeout`).
//!
//! On success it writes the body to stdout, as `get --raw` does.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::https_get::{self, Failure};

/// Where k3s's kubectl looks without `--kubeconfig` or `$KUBECONFIG` (root's
/// `server.HomeKubeConfig`).
const K3S_KUBECONFIG: &str = "/etc/rancher/k3s/k3s.yaml";
/// client-go's dial timeout (`k8s.io/client-go/transport/cache.go`, `dialer`: 30 s).
const DIAL_TIMEOUT: Duration = Duration::from_secs(30);
/// Go's roots on Debian-like systems and in the k3s image (`package/Dockerfile` copies it).
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Started as `kubectl` (the image's link).
pub fn invoked() -> bool {
    std::env::args()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .is_some_and(|n| n == "kubectl")
}

struct Args {
    kubeconfig: Option<String>,
    timeout: Option<Duration>,
    raw: String,
}

/// `5s`, `500ms`, `1m`, or a bare number of seconds (kubectl's `--request-timeout`).
fn duration(v: &str) -> Result<Duration> {
    let (num, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&v[..i], &v[i..]),
        None => (v, "s"),
    };
    let n: u64 = num
        .parse()
        .with_context(|| format!("invalid --request-timeout {v:?}"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => bail!("invalid --request-timeout {v:?}"),
    })
}

fn parse(args: &[String]) -> Result<Args> {
    let mut kubeconfig = None;
    let mut timeout = None;
    let mut raw = None;
    let mut words = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if a.starts_with("--") => (n, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = || -> Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it
                    .next()
                    .cloned()
                    .with_context(|| format!("flag needs an argument: {name}")),
            }
        };
        match name {
            "--kubeconfig" => kubeconfig = Some(value()?),
            "--request-timeout" => {
                let d = duration(&value()?)?;
                timeout = (!d.is_zero()).then_some(d);
            }
            "--raw" => raw = Some(value()?),
            other if other.starts_with('-') => {
                bail!("the stand-in kubectl does not model the flag {other}")
            }
            word => words.push(word.to_string()),
        }
    }
    match (words.as_slice(), raw) {
        ([get], Some(raw)) if get == "get" => Ok(Args {
            kubeconfig,
            timeout,
            raw,
        }),
        _ => bail!(
            "the stand-in kubectl runs only `get --raw PATH`, not `{}`",
            args.join(" ")
        ),
    }
}

/// The server, CA (PEM) and token of the kubeconfig's current context.
fn target(path: &str) -> Result<(String, Option<Vec<u8>>, Option<String>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("stat {path}"))?;
    let doc: Value = serde_saphyr::from_str(&text).with_context(|| path.to_string())?;
    let current = doc["current-context"].as_str().unwrap_or_default();
    let named = |list: &str, name: &str| -> Value {
        doc[list]
            .as_array()
            .and_then(|l| l.iter().find(|e| e["name"] == name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let context = &named("contexts", current)["context"];
    let cluster = &named("clusters", context["cluster"].as_str().unwrap_or_default())["cluster"];
    let user = &named("users", context["user"].as_str().unwrap_or_default())["user"];
    let Some(server) = cluster["server"].as_str() else {
        bail!("invalid configuration: no configuration has been provided");
    };
    let ca = if let Some(data) = cluster["certificate-authority-data"].as_str() {
        Some(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data.trim())
                .context("certificate-authority-data")?,
        )
    } else if let Some(file) = cluster["certificate-authority"].as_str() {
        Some(
            std::fs::read(file)
                .with_context(|| format!("unable to read certificate-authority {file}"))?,
        )
    } else {
        None
    };
    if user.get("client-certificate-data").is_some() || user.get("client-certificate").is_some() {
        bail!("the stand-in kubectl does not model client certificates");
    }
    let token = user["token"].as_str().map(String::from);
    Ok((server.to_string(), ca, token))
}

/// Go's `x509.HostnameError` text for a rustls name mismatch.
fn tls_text(host: &str, err: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let x509 = match err {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => {
            "x509: certificate signed by unknown authority".to_string()
        }
        rustls::Error::InvalidCertificate(C::NotValidForNameContext { presented, .. }) => {
            let names: Vec<String> = presented
                .iter()
                .map(|p| {
                    p.trim_start_matches("DnsName(\"")
                        .trim_start_matches("IpAddress(")
                        .trim_end_matches("\")")
                        .trim_end_matches(')')
                        .to_string()
                })
                .collect();
            format!(
                "x509: certificate is valid for {}, not {host}",
                names.join(", ")
            )
        }
        rustls::Error::InvalidCertificate(C::NotValidForName) => {
            format!("x509: certificate is not valid for {host}")
        }
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "x509: certificate has expired or is not yet valid".to_string()
        }
        other => return format!("tls: {other}"),
    };
    format!("tls: failed to verify certificate: {x509}")
}

/// kubectl's words for a request that got no HTTP answer (`StandardErrorMessage`, `*url.Error`).
fn transport_text(f: &Failure, authority: &str) -> String {
    match f {
        Failure::Refused { .. } => format!(
            "The connection to the server {authority} was refused - did you specify the right host or port?"
        ),
        Failure::Lookup { host } => {
            format!("Unable to connect to the server: dial tcp: lookup {host}: no such host")
        }
        Failure::Connect { addr, err } => {
            let os = err.to_string();
            let os = os.split(" (os error").next().unwrap_or(&os).to_lowercase();
            format!("Unable to connect to the server: dial tcp {addr}: connect: {os}")
        }
        Failure::Tls { host, err } => {
            format!("Unable to connect to the server: {}", tls_text(host, err))
        }
        Failure::Other(e) => format!("Unable to connect to the server: {e:#}"),
    }
}

/// kubectl's words for an HTTP error answer (a `Status`, or client-go's generic error).
fn status_text(code: u16, body: &str) -> String {
    let status: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let reason = status["reason"].as_str().unwrap_or_default();
    let message = status["message"].as_str().unwrap_or_default();
    match (code, reason) {
        (_, "Unauthorized") => format!("error: You must be logged in to the server ({message})"),
        (401, "") => "error: You must be logged in to the server (the server has asked for the client to provide credentials)".into(),
        (_, r) if !r.is_empty() => format!("Error from server ({r}): {message}"),
        (403, _) => "Error from server (Forbidden): the server does not allow access to the requested resource".into(),
        _ => format!(
            "Error from server: an error on the server ({:?}) has prevented the request from succeeding",
            body.trim()
        ),
    }
}

async fn run(args: &Args) -> std::result::Result<String, String> {
    let path = args
        .kubeconfig
        .clone()
        .or_else(|| std::env::var("KUBECONFIG").ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| K3S_KUBECONFIG.into());
    let (server, ca, token) = target(&path).map_err(|e| format!("error: {e:#}"))?;
    let roots = match &ca {
        Some(pem) => https_get::roots_from_pem(pem),
        None => std::fs::read(SYSTEM_ROOTS)
            .map_err(anyhow::Error::from)
            .and_then(|pem| https_get::roots_from_pem(&pem)),
    }
    .map_err(|e| format!("error: unable to load root certificates: {e:#}"))?;
    let url = format!("{}{}", server.trim_end_matches('/'), args.raw);
    let authority = https_get::split_url(&url)
        .map(|(_, _, a, _)| a)
        .map_err(|e| format!("error: {e:#}"))?;
    let request = https_get::request(&url, roots, token.as_deref());
    let answer = match args.timeout {
        Some(d) => tokio::time::timeout(d, request).await.map_err(|_| {
            "Unable to connect to the server: context deadline exceeded (Client.Timeout exceeded while awaiting headers)".to_string()
        })?,
        None => tokio::time::timeout(DIAL_TIMEOUT, request).await.map_err(|_| {
            format!("Unable to connect to the server: dial tcp {authority}: i/o timeout")
        })?,
    };
    match answer {
        Ok((code, body)) if (200..300).contains(&code) => Ok(body),
        Ok((code, body)) => Err(status_text(code, &body)),
        Err(f) => Err(transport_text(&f, &authority)),
    }
}

/// `args`: what follows `kubectl` (or `k3s kubectl`).
pub fn main(args: &[String]) -> ExitCode {
    let args = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(1);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(&args)) {
        Ok(body) => {
            print!("{body}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("{msg}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_shape_of_the_check_parses_and_others_are_refused() {
        let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let a = parse(&words(
            "--kubeconfig /tmp/k --request-timeout=5s get --raw /version",
        ))
        .unwrap();
        assert_eq!(a.kubeconfig.as_deref(), Some("/tmp/k"));
        assert_eq!(a.timeout, Some(Duration::from_secs(5)));
        assert_eq!(a.raw, "/version");
        assert!(parse(&words("get pods")).is_err());
        assert!(parse(&words("--insecure-skip-tls-verify get --raw /version")).is_err());
        assert_eq!(
            status_text(
                401,
                r#"{"kind":"Status","reason":"Unauthorized","message":"Unauthorized"}"#
            ),
            "error: You must be logged in to the server (Unauthorized)"
        );
    }
}
