//! Helpers for the API double tests: starting it, kubeconfigs, clients, kubectl.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::support::double::{self, DoubleOptions, RunningDouble};

/// A started double with a temp dir holding its kubeconfig.
pub struct Lab {
    pub double: RunningDouble,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

pub async fn start(opts: DoubleOptions) -> Lab {
    let double = double::start(opts).await.expect("double starts");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, double.kubeconfig_yaml(&double.url())).unwrap();
    Lab {
        double,
        dir,
        kubeconfig,
    }
}

pub async fn client_from_yaml(yaml: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::from_yaml(yaml).expect("kubeconfig parses");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("kubeconfig loads");
    kube::Client::try_from(cfg).expect("client builds")
}

impl Lab {
    pub async fn client(&self) -> kube::Client {
        client_from_yaml(&self.double.kubeconfig_yaml(&self.double.url())).await
    }

    pub fn kubectl(&self) -> Option<Kubectl> {
        let bin = find_kubectl()?;
        Some(Kubectl {
            bin,
            kubeconfig: self.kubeconfig.clone(),
            cache: self.dir.path().join("cache"),
            home: self.dir.path().to_path_buf(),
        })
    }
}

/// `kubectl` on PATH. Missing: skip (printing why), or fail when `PLAYGROUND_REQUIRE_ALL=1`.
pub fn find_kubectl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var("PLAYGROUND_REQUIRE_ALL").as_deref() == Ok("1") {
            panic!("kubectl not found on PATH and PLAYGROUND_REQUIRE_ALL=1");
        }
        eprintln!(
            "skipping: kubectl not found on PATH (set PLAYGROUND_REQUIRE_ALL=1 to make this a failure)"
        );
    }
    found
}

pub struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    cache: PathBuf,
    home: PathBuf,
}

pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            ok: o.status.success(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Kubectl {
    pub async fn run(&self, args: &[&str]) -> Run {
        let out = tokio::process::Command::new(&self.bin)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .env_remove("KUBECONFIG")
            .env("HOME", &self.home)
            .output()
            .await
            .expect("kubectl runs");
        out.into()
    }

    /// Run and require success, returning stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args).await;
        assert!(
            r.ok,
            "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
            r.stdout, r.stderr
        );
        r.stdout
    }
}

/// Poll `f` every 50 ms until it returns Some, or panic after `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Applies the CustomResourceDefinition `crd` and the namespace `ns` to a running double, as
/// the tests that play Argo CD's objects need them first.
pub async fn crd_and_namespace(client: &kube::Client, crd: serde_json::Value, ns: &str) {
    use kube::api::{Api, DynamicObject, Patch, PatchParams};
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &kube::discovery::ApiResource::erase::<
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        >(&()),
    );
    let name = crd["metadata"]["name"].as_str().unwrap().to_string();
    crds.patch(
        &name,
        &PatchParams::apply("test").force(),
        &Patch::Apply(crd),
    )
    .await
    .unwrap();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .patch(
            ns,
            &PatchParams::apply("test"),
            &Patch::Apply(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})),
        )
        .await
        .unwrap();
}
