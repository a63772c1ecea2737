//! TEST SUPPORT ONLY: `playground-test-https-get`, one HTTPS request from inside a stand-in
//! node, as a hub's Argo CD makes it to a spoke.
//!
//! The stand-in node image is busybox-static, whose `wget` cannot verify a server certificate
//! against a CA file. So the double's binary, started under this name (a link in the image,
//! `scripts/build-test-node-image`), makes one GET with rustls: the server certificate must
//! chain to the CA in `CAFILE` and be valid for the URL's host name (rustls's webpki
//! verification, as Go's crypto/tls does for Argo CD), and the bearer token is read from
//! `TOKENFILE` (never from argv, so it is not in `ps` or `docker inspect`).
//!
//! Usage: `playground-test-https-get URL CAFILE TOKENFILE`. Prints `HTTP <status>` and exits
//! 0 when the server answered; prints the TLS or connection error and exits 1 otherwise.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const NAME: &str = "playground-test-https-get";

pub fn invoked() -> bool {
    std::env::args()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .is_some_and(|n| n == NAME)
}

/// Why a request got no HTTP answer, in terms a client can word as its own.
#[derive(Debug)]
pub enum Failure {
    /// The host name does not resolve.
    Lookup { host: String },
    /// A connection to `addr` (ip:port) was refused.
    Refused { addr: String },
    /// Connecting to `addr` failed otherwise (`err` is the OS's words).
    Connect { addr: String, err: std::io::Error },
    /// The server's certificate did not verify.
    Tls { host: String, err: rustls::Error },
    /// Anything else.
    Other(anyhow::Error),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Lookup { host } => write!(f, "looking up {host}: no such host"),
            Failure::Refused { addr } => write!(f, "connecting to {addr}: connection refused"),
            Failure::Connect { addr, err } => write!(f, "connecting to {addr}: {err}"),
            Failure::Tls { host, err } => write!(f, "TLS with {host}: {err}"),
            Failure::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

/// The parts of an `https://` URL: host (no brackets), port, `host[:port]` as written, path.
pub fn split_url(url: &str) -> Result<(String, u16, String, String)> {
    let rest = url
        .strip_prefix("https://")
        .context("the URL must start with https://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p.parse::<u16>().context("port")?),
        _ => (authority, 443),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((
        host.to_string(),
        port,
        authority.to_string(),
        path.to_string(),
    ))
}

/// Roots from PEM text.
pub fn roots_from_pem(pem: &[u8]) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &pem[..]) {
        roots.add(cert?)?;
    }
    if roots.is_empty() {
        bail!("no certificate");
    }
    Ok(roots)
}

/// One GET of `url`: the certificate must chain to `roots` and name the URL's host (rustls's
/// webpki verification, as Go's crypto/tls does), with `token` as the bearer token if given.
/// The status and body.
pub async fn request(
    url: &str,
    roots: rustls::RootCertStore,
    token: Option<&str>,
) -> std::result::Result<(u16, String), Failure> {
    let (host, port, authority, path) = split_url(url)?;
    let looked_up = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map(|a| a.collect::<Vec<std::net::SocketAddr>>());
    let addrs = match looked_up {
        Ok(a) => a,
        Err(_) => return Err(Failure::Lookup { host }),
    };
    if addrs.is_empty() {
        return Err(Failure::Lookup { host });
    }
    let mut tcp = None;
    let mut last = None;
    for addr in &addrs {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some((addr.to_string(), e)),
        }
    }
    let tcp = match (tcp, last) {
        (Some(s), _) => s,
        (None, Some((addr, err))) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(Failure::Refused { addr });
        }
        (None, Some((addr, err))) => return Err(Failure::Connect { addr, err }),
        (None, None) => return Err(Failure::Lookup { host }),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(anyhow::Error::from)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name =
        rustls::pki_types::ServerName::try_from(host.clone()).map_err(anyhow::Error::from)?;
    let mut tls = match connector.connect(name, tcp).await {
        Ok(t) => t,
        Err(e) => {
            if let Some(err) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return Err(Failure::Tls {
                    host,
                    err: err.clone(),
                });
            }
            return Err(Failure::Other(
                anyhow::Error::from(e).context(format!("TLS with {host}:{port}")),
            ));
        }
    };
    let auth = token
        .map(|t| format!("Authorization: Bearer {}\r\n", t.trim()))
        .unwrap_or_default();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\n{auth}Accept: application/json\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(request.as_bytes())
        .await
        .map_err(anyhow::Error::from)?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response)
        .await
        .or_else(|e| {
            // A server may close without close_notify once the response is complete.
            if response.is_empty() { Err(e) } else { Ok(0) }
        })
        .map_err(anyhow::Error::from)?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status line in the answer")?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

/// The body of a chunked answer.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

async fn get(url: &str, ca_file: &str, token_file: &str) -> Result<(u16, String)> {
    let token = std::fs::read_to_string(token_file).with_context(|| token_file.to_string())?;
    let ca = std::fs::read(ca_file).with_context(|| ca_file.to_string())?;
    let roots = roots_from_pem(&ca).with_context(|| ca_file.to_string())?;
    request(url, roots, Some(&token))
        .await
        .map_err(|f| anyhow::anyhow!("{f}"))
}

pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, ca, token] = args.as_slice() else {
        eprintln!("usage: {NAME} URL CAFILE TOKENFILE (test support)");
        return ExitCode::from(2);
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(get(url, ca, token)) {
        Ok((status, body)) => {
            println!("HTTP {status}");
            eprintln!("{}", body.chars().take(400).collect::<String>());
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
