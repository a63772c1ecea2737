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

async fn get(url: &str, ca_file: &str, token_file: &str) -> Result<(u16, String)> {
    let rest = url
        .strip_prefix("https://")
        .context("the URL must start with https://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().context("port")?),
        None => (authority, 443),
    };
    let token = std::fs::read_to_string(token_file).with_context(|| token_file.to_string())?;
    let ca = std::fs::read(ca_file).with_context(|| ca_file.to_string())?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca.as_slice()) {
        roots.add(cert?)?;
    }
    if roots.is_empty() {
        bail!("{ca_file}: no certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .with_context(|| format!("connecting to {host}:{port}"))?;
    let name = rustls::pki_types::ServerName::try_from(host.to_string())?;
    let mut tls = connector
        .connect(name, tcp)
        .await
        .with_context(|| format!("TLS with {host}:{port}"))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        token.trim()
    );
    tls.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await.or_else(|e| {
        // A server may close without close_notify once the response is complete.
        if response.is_empty() { Err(e) } else { Ok(0) }
    })?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status line in the answer")?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
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
