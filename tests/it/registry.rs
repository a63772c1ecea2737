//! The lab registry (`cluster.registry: { port }`), against the real Docker Engine: the real
//! distribution registry (2.8 from Debian's `docker-registry`, see
//! `scripts/build-test-registry-image`) stands in for `registry:3`, and the host's Docker
//! Engine pushes to it. The nodes are the stand-in node image: their containerd pulls nothing,
//! so what is checked is what k3s would read (`registries.yaml`) and that the endpoint named
//! there serves, from inside a node, what the host pushed.
//!
//! Every test gets its own cache namespace (`PLAYGROUND_CACHE_NAMESPACE`), which names the
//! registry too, and every registry object is removed when the test ends.

use std::process::Command;

use k8s_openapi::api::core::v1::ConfigMap;

use crate::cache::registry_image;
use crate::support::harness::Bounded as _;
use crate::support::harness::{self, TestLab, cache_objects, docker, stderr};

/// A cache namespace of its own; its registry (and anything else in it) is removed on drop.
struct Namespace(String);

impl Namespace {
    fn new(tag: &str) -> Self {
        Namespace(harness::unique_name(tag))
    }

    fn registry(&self) -> String {
        format!("playground-registry-{}", self.0)
    }

    /// A lab with the registry on `port` and the image cache off: the registry must not need
    /// the cache.
    fn lab(&self, tag: &str, port: u16) -> TestLab {
        TestLab::new(tag)
            .env("PLAYGROUND_CACHE_NAMESPACE", &self.0)
            .env("PLAYGROUND_REGISTRY_IMAGE", registry_image())
            .cluster_yaml(&format!(
                "  imageCache: false\n  registry: {{ port: {port} }}\n"
            ))
    }

    /// (containers, volumes) of the namespace, by ID.
    fn objects(&self) -> (usize, usize) {
        let [(containers, _), _, (volumes, _)] = cache_objects(&self.0);
        (containers.len(), volumes.len())
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        harness::remove_cache_objects(&self.0);
    }
}

/// A tiny image made from scratch (one file), tagged `reference`; removed from the host on
/// drop (the registry keeps its copy).
struct TinyImage(String);

impl TinyImage {
    fn new(reference: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hello"), "pushed from the host\n").unwrap();
        let tar = dir.path().join("root.tar");
        let out = Command::new("tar")
            .arg("-C")
            .arg(dir.path())
            .arg("-cf")
            .arg(&tar)
            .arg("hello")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        docker(&["import", tar.to_str().unwrap(), reference]);
        TinyImage(reference.to_string())
    }
}

impl Drop for TinyImage {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rmi", "-f", &self.0])
            .bounded_output();
    }
}

/// `GET http://127.0.0.1:PORT{path}` from the host, the body or the error.
fn get(port: u16, path: &str) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sSf", "--max-time", "10"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(stderr(&out))
    }
}

fn tags(body: &str) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    v["tags"]
        .as_array()
        .unwrap_or_else(|| panic!("no tags: {body}"))
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_pushes_to_localhost_port_and_the_nodes_pull_it_by_that_name() {
    harness::require_docker();
    let ns = Namespace::new("reg");
    let port = harness::free_port();
    let lab = ns.lab("registry", port).agents(1).write();
    let out = lab.run(&["up", "--cluster-only"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let registry = ns.registry();

    // A plain registry, published on 127.0.0.1 only, never a lab object.
    let env = docker(&["inspect", "-f", "{{json .Config.Env}}", &registry]);
    assert!(!env.contains("REGISTRY_PROXY"), "{env}");
    let bindings = docker(&[
        "inspect",
        "-f",
        "{{json .HostConfig.PortBindings}}",
        &registry,
    ]);
    assert_eq!(
        bindings,
        format!(r#"{{"5000/tcp":[{{"HostIp":"127.0.0.1","HostPort":"{port}"}}]}}"#)
    );
    let labels = docker(&["inspect", "-f", "{{json .Config.Labels}}", &registry]);
    assert!(!labels.contains("playground.cluster"), "{labels}");

    // Push from the host with the Docker Engine, under the name pods use.
    let reference = format!("localhost:{port}/app:1");
    let _image = TinyImage::new(&reference);
    docker(&["push", &reference]);
    assert_eq!(tags(&get(port, "/v2/app/tags/list").unwrap()), vec!["1"]);

    // Every node maps localhost:PORT to the registry's address on the lab network.
    let network = format!("playground-{}", lab.name);
    let ip = docker(&[
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
        &registry,
    ]);
    assert!(ip.ends_with(".244"), "registry at {ip:?} on {network}");
    #[derive(serde::Deserialize)]
    struct Mirror {
        endpoint: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    struct Registries {
        mirrors: std::collections::BTreeMap<String, Mirror>,
    }
    for node in ["server-0", "agent-0"] {
        let node = format!("playground-{}-{node}", lab.name);
        let yaml = docker(&["exec", &node, "cat", "/etc/rancher/k3s/registries.yaml"]);
        let parsed: Registries = serde_saphyr::from_str(&yaml)
            .unwrap_or_else(|e| panic!("{node}: registries.yaml does not parse ({e}):\n{yaml}"));
        // The image cache is off: the registry is the only mirror.
        assert_eq!(parsed.mirrors.len(), 1, "{node}:\n{yaml}");
        let endpoint = &parsed.mirrors[&format!("localhost:{port}")].endpoint;
        assert_eq!(endpoint, &vec![format!("http://{ip}:5000")], "{node}");
        // And from inside the node, that endpoint serves what the host pushed.
        let listed = docker(&[
            "exec",
            &node,
            "wget",
            "-qO-",
            &format!("{}/v2/app/tags/list", endpoint[0]),
        ]);
        assert_eq!(tags(&listed), vec!["1"], "{node}");
    }

    // KEP-1755: where Tilt, Skaffold and ctlptl look.
    let cms: kube::Api<ConfigMap> =
        kube::Api::namespaced(harness::kube_client(&lab.kubeconfig()).await, "kube-public");
    let cm = cms.get("local-registry-hosting").await.unwrap();
    let value = cm.data.unwrap_or_default()["localRegistryHosting.v1"].clone();
    #[derive(serde::Deserialize)]
    struct Hosting {
        host: String,
        help: String,
    }
    let hosting: Hosting = serde_saphyr::from_str(&value).unwrap();
    assert_eq!(hosting.host, format!("localhost:{port}"));
    assert!(hosting.help.starts_with("https://"), "{value}");

    // A second `up` changes nothing, finds every node with the mirror, keeps what was pushed.
    let again = lab.run(&["up", "--cluster-only"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(!stderr(&again).contains("predate"), "{}", stderr(&again));
    assert_eq!(tags(&get(port, "/v2/app/tags/list").unwrap()), vec!["1"]);

    // `drop` leaves the registry, its volume and its images; `cache prune` removes them.
    lab.ok(&["drop", "--yes"]);
    assert_eq!(ns.objects(), (1, 1), "the registry and its volume stay");
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &registry]),
        "running"
    );
    assert_eq!(tags(&get(port, "/v2/app/tags/list").unwrap()), vec!["1"]);
    lab.ok(&["cache", "prune", "--yes"]);
    assert_eq!(ns.objects(), (0, 0), "cache prune removes the registry");
    assert!(get(port, "/v2/").is_err(), "the port is free again");
}

#[test]
fn a_lab_that_asks_for_another_port_is_refused_before_anything_is_made() {
    harness::require_docker();
    let ns = Namespace::new("regport");
    let port = harness::free_port();
    let a = ns.lab("rega", port).write();
    a.ok(&["up", "--cluster-only"]);
    let other = harness::free_port();
    let b = ns.lab("regb", other).write();
    let out = b.run(&["up", "--cluster-only"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "runs on 127.0.0.1:{port}; labs share one registry"
        )) && err.contains(&format!("cluster.registry.port: {port}")),
        "{err}"
    );
    assert_eq!(harness::count_docker_objects(&b.name), 0, "nothing made");
}

#[test]
fn a_registry_port_someone_else_holds_is_named_before_anything_is_made() {
    harness::require_docker();
    let ns = Namespace::new("regbusy");
    let port = harness::free_port();
    let _held = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let lab = ns.lab("regbusy", port).write();
    let out = lab.run(&["up", "--cluster-only"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("cluster.registry.port"),
        "{err}"
    );
    assert_eq!(harness::count_docker_objects(&lab.name), 0, "nothing made");
    assert_eq!(ns.objects(), (0, 0), "no registry made");
}

#[test]
fn nodes_made_before_the_registry_was_named_are_pointed_out() {
    harness::require_docker();
    let ns = Namespace::new("reglate");
    let lab = TestLab::new("reglate")
        .env("PLAYGROUND_CACHE_NAMESPACE", &ns.0)
        .env("PLAYGROUND_REGISTRY_IMAGE", registry_image())
        .cluster_yaml("  imageCache: false\n")
        .write();
    lab.ok(&["up", "--cluster-only"]);
    let port = harness::free_port();
    let text = std::fs::read_to_string(lab.file()).unwrap();
    std::fs::write(
        lab.file(),
        text.replace(
            "  imageCache: false\n",
            &format!("  imageCache: false\n  registry: {{ port: {port} }}\n"),
        ),
    )
    .unwrap();
    let out = lab.run(&["up", "--cluster-only"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let server = format!("playground-{}-server-0", lab.name);
    assert!(
        err.contains(&format!("{server} predate `cluster.registry`"))
            && err.contains(&format!("localhost:{port}")),
        "{err}"
    );
    // The registry itself is there for the next nodes, and for the host.
    assert!(get(port, "/v2/").is_ok());
    assert_eq!(ns.objects(), (1, 1));

    // `registry rm` removes it and its volume, and the lab runs on; again is fine.
    lab.ok(&["registry", "rm", "--yes"]);
    assert_eq!(
        ns.objects(),
        (0, 0),
        "registry rm removes container and volume"
    );
    assert!(get(port, "/v2/").is_err(), "the port is free again");
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &server]),
        "running"
    );
    let again = lab.run(&["registry", "rm", "--yes"]);
    assert!(again.status.success(), "{}", stderr(&again));
}
