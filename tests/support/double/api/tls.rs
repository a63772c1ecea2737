//! Certificates, like k3s generates them on first start.
//!
//! A self-signed CA signs a serving certificate (SANs: 127.0.0.1, localhost,
//! kubernetes, kubernetes.default.svc, the hostname and `tls_sans`) and an admin client
//! certificate (CN=system:admin, O=system:masters) that goes into the kubeconfig.
//! With a state dir the CA and admin certificate are kept (k3s keeps them in
//! `server/tls`) so a restarted node is still trusted by existing kubeconfigs; the
//! serving certificate is re-issued each start because the SANs may change.
//!
//! Client certificates are verified with `WebPkiClientVerifier` but optional
//! (`allow_unauthenticated`), as on the apiserver: requests without one are anonymous
//! unless they carry the bearer token.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;

pub struct Pki {
    pub ca_pem: String,
    ca_cn: String,
    ca_key: KeyPair,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    p.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
    p
}

fn leaf_params(cn: &str, org: Option<&str>, eku: ExtendedKeyUsagePurpose) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    if let Some(o) = org {
        dn.push(DnType::OrganizationName, o);
    }
    p.distinguished_name = dn;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![eku];
    p.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    p.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(365);
    p
}

impl Pki {
    fn issuer(&self) -> Issuer<'static, &KeyPair> {
        // Rebuilding the issuer from the same name and key gives the same issuer DN and
        // authority key id, so leaves chain to the stored CA certificate.
        Issuer::new(ca_params(&self.ca_cn), &self.ca_key)
    }

    fn generate() -> Result<Self> {
        let ca_cn = format!(
            "k3s-server-ca@{}",
            time::OffsetDateTime::now_utc().unix_timestamp()
        );
        let ca_key = KeyPair::generate()?;
        let ca_pem = ca_params(&ca_cn).self_signed(&ca_key)?.pem();
        let mut pki = Pki {
            ca_pem,
            ca_cn,
            ca_key,
            client_cert_pem: String::new(),
            client_key_pem: String::new(),
        };
        let client_key = KeyPair::generate()?;
        let client = leaf_params(
            "system:admin",
            Some("system:masters"),
            ExtendedKeyUsagePurpose::ClientAuth,
        )
        .signed_by(&client_key, &pki.issuer())?;
        pki.client_cert_pem = client.pem();
        pki.client_key_pem = client_key.serialize_pem();
        Ok(pki)
    }

    /// Load the CA and admin credentials from `dir/tls`, generating them the first time.
    pub fn load_or_generate(dir: Option<&Path>) -> Result<Self> {
        let Some(dir) = dir else {
            return Self::generate();
        };
        let tls = dir.join("tls");
        let file = |n: &str| tls.join(n);
        if file("server-ca.key").exists() {
            let read =
                |n: &str| std::fs::read_to_string(file(n)).with_context(|| format!("reading {n}"));
            return Ok(Pki {
                ca_pem: read("server-ca.crt")?,
                ca_cn: read("server-ca.cn")?.trim().to_string(),
                ca_key: KeyPair::from_pem(&read("server-ca.key")?)?,
                client_cert_pem: read("client-admin.crt")?,
                client_key_pem: read("client-admin.key")?,
            });
        }
        let pki = Self::generate()?;
        std::fs::create_dir_all(&tls)?;
        for (n, content) in [
            ("client-admin.crt", pki.client_cert_pem.as_str()),
            ("client-admin.key", pki.client_key_pem.as_str()),
            ("server-ca.cn", pki.ca_cn.as_str()),
            ("server-ca.crt", pki.ca_pem.as_str()),
        ] {
            super::persist::write_atomic(&file(n), content.as_bytes())?;
        }
        // The key last: its presence marks a complete set.
        super::persist::write_atomic(
            &file("server-ca.key"),
            pki.ca_key.serialize_pem().as_bytes(),
        )?;
        Ok(pki)
    }

    /// A rustls server config with a fresh serving certificate for `sans`.
    pub fn server_config(&self, sans: &[String]) -> Result<rustls::ServerConfig> {
        let mut p = leaf_params("k3s", Some("k3s"), ExtendedKeyUsagePurpose::ServerAuth);
        let mut names: Vec<String> = [
            "127.0.0.1",
            "::1",
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        names.extend(sans.iter().cloned());
        names.dedup();
        p.subject_alt_names = names
            .iter()
            .filter(|n| !n.is_empty())
            .map(|n| match n.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName(n.as_str().try_into()?)),
            })
            .collect::<Result<Vec<_>>>()?;
        let key = KeyPair::generate()?;
        let cert = p.signed_by(&key, &self.issuer())?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from(pem_der(&self.ca_pem)?))?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()?;
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![
                    cert.der().clone(),
                    CertificateDer::from(pem_der(&self.ca_pem)?),
                ],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(cfg)
    }
}

fn pem_der(pem: &str) -> Result<Vec<u8>> {
    let mut rd = pem.as_bytes();
    let cert = rustls_pemfile::certs(&mut rd)
        .next()
        .context("no certificate in PEM")??;
    Ok(cert.to_vec())
}
