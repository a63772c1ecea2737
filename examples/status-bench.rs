//! `status-bench`: time `playground status` over many Applications against a served API.
//!
//! Two phases, in separate processes so the measured one's peak RSS is its own:
//! - `status-bench setup --kubeconfig FILE [--apps N]`: installs the Application CRD (from the
//!   pinned Argo CD manifest) and the `argocd` namespace, then creates N Applications (a root,
//!   children of 24 apps each, their own children, and some unrelated apps) with statuses;
//! - `status-bench measure --kubeconfig FILE [--runs R]`: R times list + build the tree +
//!   render text and JSON, the work of `playground status`; prints each run, the median, and
//!   the peak RSS (`VmHWM` from `/proc/self/status`).
//!
//! `scripts/bench/status` runs both against `kube-double serve`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use playground::argocd::apps::application_resource;
use playground::argocd::status::{build_tree, list_apps};
use playground::kube::api::KubeApi;
use playground::repo::CommitInfo;
use serde_json::{Value, json};

const NS: &str = "argocd";
const REPO: &str = "https://git.example/lab.git";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// (name, parent, children) for `n` apps: root → ceil(n/25) teams → 24 services each.
fn layout(n: usize) -> Vec<(String, Option<String>, Vec<String>)> {
    let mut out = vec![("root".to_string(), None, Vec::new())];
    let mut team = 0;
    while out.len() < n {
        let t = format!("team-{team:03}");
        out[0].2.push(t.clone());
        out.push((t.clone(), Some("root".into()), Vec::new()));
        let ti = out.len() - 1;
        for s in 0..24 {
            if out.len() >= n.saturating_sub(10) {
                break;
            }
            let name = format!("{t}-svc-{s:02}");
            out[ti].2.push(name.clone());
            out.push((name, Some(t.clone()), Vec::new()));
        }
        team += 1;
        if out.len() >= n.saturating_sub(10) {
            break;
        }
    }
    // A few apps outside the tree, as `other`.
    let mut i = 0;
    while out.len() < n {
        out.push((format!("zz-other-{i}"), None, Vec::new()));
        i += 1;
    }
    out
}

async fn setup(api: &KubeApi, n: usize) -> Result<()> {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/argocd-install-v3.5.1.yaml"
    );
    let text = std::fs::read_to_string(fixture).with_context(|| format!("reading {fixture}"))?;
    let crd: Value = serde_saphyr::from_str(text.split("\n---\n").next().unwrap_or(""))?;
    let client = api.client().clone();
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::erase::<
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        >(&()),
    );
    let ssa = PatchParams::apply("status-bench").force();
    crds.patch("applications.argoproj.io", &ssa, &Patch::Apply(&crd))
        .await?;
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    nss.patch(
        NS,
        &ssa,
        &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})),
    )
    .await?;
    let apps: Api<DynamicObject> = Api::namespaced_with(client, NS, &application_resource());
    let t0 = Instant::now();
    futures::stream::iter(layout(n))
        .map(|(name, parent, children)| {
            let (apps, ssa) = (apps.clone(), ssa.clone());
            async move {
                let mut meta = json!({"name": name, "namespace": NS});
                if let Some(p) = &parent {
                    meta["annotations"] = json!({"argocd.argoproj.io/tracking-id":
                        format!("{p}:argoproj.io/Application:{NS}/{name}")});
                }
                let app = json!({
                    "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": meta,
                    "spec": {"project": "default",
                             "source": {"repoURL": REPO, "path": format!("apps/{name}"), "targetRevision": "HEAD"},
                             "destination": {"server": "https://kubernetes.default.svc", "namespace": name}},
                });
                apps.patch(&name, &ssa, &Patch::Apply(&app)).await?;
                let resources: Vec<Value> = children
                    .iter()
                    .map(|c| json!({"group": "argoproj.io", "version": "v1alpha1", "kind": "Application", "namespace": NS, "name": c, "status": "Synced"}))
                    .chain(std::iter::once(json!({"group": "apps", "version": "v1", "kind": "Deployment", "namespace": name, "name": "web", "status": "Synced", "health": {"status": "Healthy"}})))
                    .collect();
                let status = json!({"status": {
                    "sync": {"status": "Synced", "revision": SHA},
                    "health": {"status": "Healthy"},
                    "operationState": {"phase": "Succeeded", "message": "successfully synced (all tasks run)"},
                    "reconciledAt": "2026-01-01T00:00:00Z",
                    "resources": resources,
                }});
                apps.patch(&name, &PatchParams::default(), &Patch::Merge(&status))
                    .await?;
                Ok::<_, kube::Error>(())
            }
        })
        .buffer_unordered(16)
        .try_collect::<()>()
        .await?;
    eprintln!("created {n} Applications in {:?}", t0.elapsed());
    Ok(())
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn measure(api: &KubeApi, runs: usize) -> Result<()> {
    let now = 1_800_000_000;
    // A lookup as cheap as a cache hit: the bench measures listing and rendering, not git.
    let commit = CommitInfo {
        hash: SHA.into(),
        short: SHA[..7].into(),
        author: "Ada Lovelace".into(),
        time: now - 3600,
        subject: "Bump the apps".into(),
    };
    let lookup = |_: &str| Some(commit.clone());
    let mut times = Vec::new();
    for run in 1..=runs {
        let t0 = Instant::now();
        let apps = list_apps(api, NS).await?;
        let listed = t0.elapsed();
        let n = apps.len();
        let tree = build_tree(NS, apps, "root", &lookup);
        let text = tree.render_text(now);
        let json = serde_json::to_string(&tree)?;
        let total = t0.elapsed();
        std::hint::black_box((&text, &json));
        println!(
            "run {run}: {n} apps, list {:.1} ms, total {:.1} ms ({} text lines, {} JSON bytes)",
            ms(listed),
            ms(total),
            text.lines().count(),
            json.len()
        );
        times.push(total);
    }
    times.sort();
    println!(
        "median: {:.1} ms over {runs} runs",
        ms(times[times.len() / 2])
    );
    if let Some(kib) = peak_rss_kib() {
        println!("peak RSS (VmHWM): {:.1} MB", kib as f64 / 1024.0);
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// Multi-threaded like the `playground` binary, so the RSS is comparable.
#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kubeconfig = arg(&args, "--kubeconfig").context("--kubeconfig FILE is required")?;
    let api = KubeApi::from_kubeconfig_yaml(&std::fs::read_to_string(&kubeconfig)?).await?;
    match args.first().map(String::as_str) {
        Some("setup") => {
            let n = arg(&args, "--apps").map_or(Ok(1000), |s| s.parse())?;
            setup(&api, n).await
        }
        Some("measure") => {
            let runs = arg(&args, "--runs").map_or(Ok(5), |s| s.parse())?;
            measure(&api, runs).await
        }
        _ => bail!("usage: status-bench setup|measure --kubeconfig FILE [--apps N] [--runs R]"),
    }
}
