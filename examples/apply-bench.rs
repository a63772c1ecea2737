//! `apply-bench`: apply a manifest file with `playground::kube::apply`, for
//! `scripts/bench/apply` (test support; never installed or shipped).
//!
//! Usage: `apply-bench --kubeconfig FILE [--namespace NS] MANIFEST`
//! Like `kubectl apply --server-side --force-conflicts -n NS -f MANIFEST`: the file is applied
//! as is (no Argo CD preparation), namespaced objects without a namespace go to NS.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use playground::kube::api::KubeApi;
use playground::kube::apply::{self, ApplyOptions, Progress};

#[tokio::main]
async fn main() -> Result<()> {
    let started = Instant::now();
    let mut kubeconfig = None;
    let mut namespace = "default".to_string();
    let mut manifest = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--kubeconfig" => kubeconfig = Some(args.next().context("--kubeconfig FILE")?),
            "--namespace" | "-n" => namespace = args.next().context("--namespace NS")?,
            other if !other.starts_with('-') => manifest = Some(other.to_string()),
            other => bail!("unknown argument {other:?}"),
        }
    }
    let (Some(kubeconfig), Some(manifest)) = (kubeconfig, manifest) else {
        bail!("usage: apply-bench --kubeconfig FILE [--namespace NS] MANIFEST");
    };
    let api = KubeApi::from_kubeconfig_yaml(&std::fs::read_to_string(&kubeconfig)?).await?;
    let text = std::fs::read_to_string(&manifest).with_context(|| manifest.clone())?;
    let parse_started = Instant::now();
    let objects = apply::parse_documents(&text, &manifest)?;
    let parsed = parse_started.elapsed();
    let report = apply::apply(
        api.client(),
        &objects,
        &ApplyOptions::new(namespace),
        &|_: &Progress| {},
    )
    .await?;
    eprintln!(
        "applied {report} (process {:.3}s, of which parsing {:.3}s)",
        started.elapsed().as_secs_f64(),
        parsed.as_secs_f64()
    );
    Ok(())
}
