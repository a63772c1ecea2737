//! One Argo CD for several labs (issue 20): a hub lab whose `argocd.clusters` names a spoke
//! lab, on the stand-in. The hub's cluster Secret must name the spoke by an address a hub node
//! reaches, with the certificate verified against the Secret's CA and the token accepted:
//! checked from inside a hub node with `playground-test-https-get` (test support in the
//! double's binary, since busybox's wget cannot verify TLS against a CA file). Then the life
//! cycle: `drop` of the spoke removes the Secret, `restore` brings it back, `drop` of the hub
//! leaves the spoke running, detached and clean. No token in `-vv` logs, records or labels.

use std::process::Command;

use base64::Engine as _;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::Api;

use crate::double_util::client_from_yaml;
use crate::gitops_up::git_lab_with;
use crate::support::harness::Bounded as _;
use crate::support::harness::{self, TestLab, stderr};

async fn client_of(lab: &TestLab, name: &str) -> kube::Client {
    client_from_yaml(&lab.ok(&["kubeconfig", name])).await
}

async fn cluster_secret(hub: &kube::Client, spoke: &str) -> Option<Secret> {
    Api::<Secret>::namespaced(hub.clone(), "argocd")
        .get_opt(&format!("cluster-playground-{spoke}"))
        .await
        .unwrap()
}

fn text(s: &Secret, key: &str) -> String {
    String::from_utf8(s.data.as_ref().unwrap()[key].0.clone()).unwrap()
}

/// Put `content` at `path` inside `container` (through stdin: never in argv).
fn put_file(container: &str, path: &str, content: &str) {
    let out = Command::new("docker")
        .args([
            "exec",
            "-i",
            container,
            "sh",
            "-c",
            &format!("cat > {path}"),
        ])
        .bounded_with_input(content.as_bytes())
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One HTTPS GET from inside `node`, as the hub's Argo CD makes it: `HTTP <status>` or the error.
fn get_from(node: &str, url: &str, ca: &str, token: &str) -> String {
    put_file(node, "/tmp/hub-test-ca.pem", ca);
    put_file(node, "/tmp/hub-test-token", token);
    let out = Command::new("docker")
        .args([
            "exec",
            node,
            "playground-test-https-get",
            url,
            "/tmp/hub-test-ca.pem",
            "/tmp/hub-test-token",
        ])
        .bounded_output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The registration the hub holds for `spoke`: server, token, CA.
fn registration(s: &Secret) -> (String, String, String) {
    let config: serde_json::Value = serde_json::from_str(&text(s, "config")).unwrap();
    let token = config["bearerToken"].as_str().unwrap().to_string();
    assert_eq!(config["tlsClientConfig"]["insecure"], false);
    let ca = base64::engine::general_purpose::STANDARD
        .decode(config["tlsClientConfig"]["caData"].as_str().unwrap())
        .unwrap();
    (text(s, "server"), token, String::from_utf8(ca).unwrap())
}

/// `status -o json` of the hub.
fn hub_status(hub: &TestLab) -> serde_json::Value {
    harness::document(&hub.ok(&["status", &hub.name, "-o", "json"]), "LabStatus")
}

fn assert_no_token(token: &str, what: &str, haystack: &str) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(token);
    assert!(
        !haystack.contains(token) && !haystack.contains(&b64),
        "the token is in {what}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_registers_its_spoke_reached_from_its_nodes_through_drop_and_restore() {
    harness::require_docker();
    let hub = TestLab::new("hub");
    let (spoke, _) = git_lab_with(hub.sibling("spoke"), "healthy", "");
    let (hub, _) = git_lab_with(
        hub.yaml(&format!("  clusters: [{}]\n", spoke.name)),
        "healthy",
        "",
    );
    let hub_node = format!("playground-{}-server-0", hub.name);
    let spoke_node = format!("playground-{}-server-0", spoke.name);

    spoke.ok(&["up"]);
    let up = hub.run(&["-vv", "up"]);
    let log = stderr(&up);
    assert!(up.status.success(), "{log}");
    assert!(
        log.contains(&format!(
            "register lab {} in {}'s Argo CD",
            spoke.name, hub.name
        )),
        "{log}"
    );

    let hub_client = client_of(&hub, &hub.name).await;
    let secret = cluster_secret(&hub_client, &spoke.name)
        .await
        .expect("the hub's cluster Secret");
    let labels = secret.metadata.labels.clone().unwrap();
    assert_eq!(labels["argocd.argoproj.io/secret-type"], "cluster");
    assert_eq!(text(&secret, "name"), spoke.name);
    let (server, token, ca) = registration(&secret);
    assert_eq!(server, format!("https://{spoke_node}:6443"));

    // From inside a hub node, by the name in the Secret: TLS verifies against the Secret's CA
    // for that name, and the token is accepted; a wrong token is not.
    let url = format!("{server}/api/v1/namespaces");
    assert_eq!(get_from(&hub_node, &url, &ca, &token), "HTTP 200");
    assert_eq!(
        get_from(&hub_node, &url, &ca, &format!("{token}x")),
        "HTTP 401"
    );
    // The hub's own CA does not vouch for the spoke: the check is real.
    let hub_ca = {
        let kc: serde_json::Value =
            serde_saphyr::from_str(&hub.ok(&["kubeconfig", &hub.name])).unwrap();
        let data = kc["clusters"][0]["cluster"]["certificate-authority-data"]
            .as_str()
            .unwrap()
            .to_string();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap(),
        )
        .unwrap()
    };
    let refused = get_from(&hub_node, &url, &hub_ca, &token);
    assert!(refused.starts_with("error:"), "{refused}");

    // No token in the -vv log, the records, or any node's labels.
    assert_no_token(&token, "the -vv log of up", &log);
    for entry in std::fs::read_dir(hub.home().join(".local/share/playground")).unwrap() {
        let rec = entry.unwrap().path().join("state.yaml");
        if rec.exists() {
            assert_no_token(&token, "a record", &std::fs::read_to_string(rec).unwrap());
        }
    }
    for node in [&hub_node, &spoke_node] {
        let labels = harness::docker(&["inspect", "-f", "{{json .Config.Labels}}", node]);
        assert_no_token(&token, "a node's labels", &labels);
    }

    // status of the hub: each app's destination cluster, and the spoke connected.
    let status = hub_status(&hub);
    assert_eq!(
        status["apps"]["root"]["destination"], "in-cluster",
        "{status}"
    );
    let clusters = status["clusters"].as_array().expect("a hub's clusters");
    assert_eq!(clusters.len(), 1, "{status}");
    assert_eq!(clusters[0]["name"], spoke.name.as_str());
    assert_eq!(clusters[0]["kind"], "lab");
    assert_eq!(clusters[0]["registered"], true);
    assert_eq!(clusters[0]["server"], server.as_str());
    assert_eq!(clusters[0]["connection"], "connected", "{status}");
    let text = hub.ok(&["status", &hub.name]);
    assert!(text.contains("CLUSTER"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with(&spoke.name) && l.contains("connected")),
        "{text}"
    );
    assert_no_token(&token, "status -o json", &status.to_string());
    let version = secret.metadata.resource_version.clone().unwrap();

    // list: which lab is a hub of which.
    let items = harness::items(&hub.ok(&["list", "-o", "json"]), "LabList");
    let entry = |n: &str| {
        items
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("{n} in {items}"))
    };
    assert_eq!(entry(&hub.name)["hubOf"], serde_json::json!([spoke.name]));
    assert_eq!(entry(&spoke.name)["spokeOf"], serde_json::json!([hub.name]));
    let table = hub.ok(&["list"]);
    assert!(
        table.contains("HUB OF") && table.contains("SPOKE OF"),
        "{table}"
    );

    // Suspend of the spoke: the hub shows it unreachable, and its registration stays.
    spoke.ok(&["suspend", &spoke.name]);
    let status = hub_status(&hub);
    let cluster = &status["clusters"][0];
    assert_eq!(cluster["connection"], "unreachable", "{status}");
    assert_eq!(cluster["registered"], true, "{status}");
    assert!(
        cluster["message"]
            .as_str()
            .unwrap()
            .contains(&format!("playground resume {}", spoke.name)),
        "{status}"
    );
    // Resume: connected again, with nothing redone.
    spoke.ok(&["resume", &spoke.name]);
    let status = hub_status(&hub);
    assert_eq!(status["clusters"][0]["connection"], "connected", "{status}");
    let same = cluster_secret(&hub_client, &spoke.name).await.unwrap();
    assert_eq!(same.metadata.resource_version.unwrap(), version);
    assert_eq!(get_from(&hub_node, &url, &ca, &token), "HTTP 200");

    // Drop of the spoke: the hub forgets it.
    spoke.ok(&["drop", "--yes"]);
    assert!(cluster_secret(&hub_client, &spoke.name).await.is_none());

    // Restore of the spoke: registered again, reached again.
    spoke.ok(&["restore", &spoke.name]);
    let back = cluster_secret(&hub_client, &spoke.name)
        .await
        .expect("the cluster Secret is back after restore");
    let (server2, token2, ca2) = registration(&back);
    assert_eq!(server2, server);
    assert_eq!(get_from(&hub_node, &url, &ca2, &token2), "HTTP 200");
    // The old lab's token does not open the new one.
    assert_eq!(get_from(&hub_node, &url, &ca2, &token), "HTTP 401");

    // Drop of the hub: the spoke runs on, off the hub's network, without Argo CD's account.
    hub.ok(&["drop", "--yes"]);
    let state = harness::docker(&["inspect", "-f", "{{.State.Status}}", &spoke_node]);
    assert_eq!(state.trim(), "running");
    let networks = harness::docker(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        &spoke_node,
    ]);
    assert_eq!(networks.trim(), format!("playground-{}", spoke.name));
    let spoke_client = client_of(&spoke, &spoke.name).await;
    assert!(
        Api::<ServiceAccount>::namespaced(spoke_client, "kube-system")
            .get_opt("argocd-manager")
            .await
            .unwrap()
            .is_none()
    );
}

/// Two hubs share a spoke: both register it; dropping one leaves it registered with the other,
/// still reached from that hub's node with its token, and the spoke keeps `argocd-manager`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_share_a_spoke_and_dropping_one_keeps_it_with_the_other() {
    harness::require_docker();
    let first = TestLab::new("hub1");
    let (spoke, _) = git_lab_with(first.sibling("shared"), "healthy", "");
    let clusters = format!("  clusters: [{}]\n", spoke.name);
    let (other, _) = git_lab_with(first.sibling("hub2").yaml(&clusters), "healthy", "");
    let (first, _) = git_lab_with(first.yaml(&clusters), "healthy", "");
    let spoke_node = format!("playground-{}-server-0", spoke.name);
    let other_node = format!("playground-{}-server-0", other.name);

    // A spoke needs no Argo CD of its own.
    spoke.ok(&["up", "--cluster-only"]);
    first.ok(&["up"]);
    other.ok(&["up"]);
    let first_client = client_of(&first, &first.name).await;
    let other_client = client_of(&other, &other.name).await;
    let a = cluster_secret(&first_client, &spoke.name)
        .await
        .expect("registered with the first hub");
    let b = cluster_secret(&other_client, &spoke.name)
        .await
        .expect("registered with the second hub");
    let (server, token, ca) = registration(&b);
    assert_eq!(registration(&a).0, server);
    let items = harness::items(&first.ok(&["list", "-o", "json"]), "LabList");
    let spoke_of = items
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == spoke.name.as_str())
        .map(|l| l["spokeOf"].clone())
        .unwrap();
    let mut hubs = vec![first.name.clone(), other.name.clone()];
    hubs.sort();
    assert_eq!(spoke_of, serde_json::json!(hubs));

    // Drop of the first hub: the spoke stays the second's, account and all.
    first.ok(&["drop", "--yes"]);
    let spoke_client = client_of(&spoke, &spoke.name).await;
    assert!(
        Api::<ServiceAccount>::namespaced(spoke_client, "kube-system")
            .get_opt("argocd-manager")
            .await
            .unwrap()
            .is_some(),
        "the second hub still needs the spoke's argocd-manager"
    );
    let still = cluster_secret(&other_client, &spoke.name)
        .await
        .expect("still registered with the second hub");
    assert_eq!(registration(&still).1, token);
    let url = format!("{server}/api/v1/namespaces");
    assert_eq!(get_from(&other_node, &url, &ca, &token), "HTTP 200");
    let networks = harness::docker(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        &spoke_node,
    ]);
    let mut networks: Vec<&str> = networks.split_whitespace().collect();
    networks.sort();
    let mut expected = vec![
        format!("playground-{}", spoke.name),
        format!("playground-{}", other.name),
    ];
    expected.sort();
    assert_eq!(networks, expected);
    let status = hub_status(&other);
    assert_eq!(status["clusters"][0]["connection"], "connected", "{status}");
    // The second hub goes the way a user drops it, which detaches its spoke: its network can
    // then go too (the harness's own cleanup removes a lab's objects, not other labs' links).
    other.ok(&["drop", "--yes"]);
    assert_eq!(harness::count_docker_objects(&other.name), 0);
}

/// Add `name` to the test's kubeconfig: a cluster at `server` with CA `ca_pem` (base64 PEM), and
/// the user of `like` (another context), so `up` can register it when the host reaches it.
fn add_context(lab: &TestLab, name: &str, server: &str, ca_data: &str, like: &str) {
    let path = lab.kubeconfig();
    let mut kc: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let user = kc["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == like)
        .map(|c| c["context"]["user"].clone())
        .unwrap_or_else(|| panic!("context {like} in {kc}"));
    kc["clusters"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "name": name,
            "cluster": {"server": server, "certificate-authority-data": ca_data},
        }));
    kc["contexts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "name": name,
            "context": {"cluster": name, "user": user},
        }));
    // JSON is YAML: kubectl and kube-rs read it as it is.
    std::fs::write(&path, kc.to_string()).unwrap();
}

/// A hub whose `argocd.clusters` names contexts of the user's kubeconfig: `up` checks from
/// inside the hub's node (`kubectl get --raw /version` with the context's CA, as the real
/// image's `kubectl` runs it) that its pods reach each API, and warns, naming the server, what
/// failed and what to do, when they do not; `up` succeeds all the same. `status` shows the
/// same: connected for the API the hub's node reaches, unreachable with why for the others.
///
/// The reachable one is a lab whose API is published on the Docker bridge's gateway address
/// (the host as `host-gateway` names it), which the host and the hub's node both reach and
/// which `up` puts in the lab's certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_checks_from_its_node_that_its_pods_reach_each_context_cluster() {
    harness::require_docker();
    let gateway = harness::docker(&[
        "network",
        "inspect",
        "bridge",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}}",
    ])
    .trim()
    .to_string();
    let hub = TestLab::new("ctxhub");
    let spoke = hub
        .sibling("ctxspoke")
        .cluster_yaml(&format!("  api: {{ host: {gateway} }}\n"))
        .write();
    spoke.ok(&["up", "--cluster-only"]);
    let good = format!("playground-{}", spoke.name);
    let kc: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(hub.kubeconfig()).unwrap()).unwrap();
    let cluster = kc["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == good.as_str())
        .map(|c| c["cluster"].clone())
        .unwrap_or_else(|| panic!("{good} in {kc}"));
    let server = cluster["server"].as_str().unwrap().to_string();
    assert!(
        server.starts_with(&format!("https://{gateway}:")),
        "{server}"
    );
    let ca_data = cluster["certificate-authority-data"]
        .as_str()
        .unwrap()
        .to_string();
    let port = server.rsplit(':').next().unwrap().to_string();
    // The same API by its loopback address (the pod itself), an address where nothing
    // listens, and the right address with a CA that did not sign its certificate.
    let loopback = format!("https://127.0.0.1:{port}");
    add_context(&hub, "loop", &loopback, &ca_data, &good);
    let closed = format!("https://{gateway}:{}", harness::free_port());
    add_context(&hub, "closed", &closed, &ca_data, &good);
    let other_ca = rcgen::generate_simple_self_signed(vec!["elsewhere.test".to_string()])
        .unwrap()
        .cert
        .pem();
    add_context(
        &hub,
        "otherca",
        &server,
        &base64::engine::general_purpose::STANDARD.encode(other_ca),
        &good,
    );
    let (hub, _) = git_lab_with(
        hub.yaml(&format!(
            "  clusters: [{{ context: {good} }}, {{ context: loop }}, {{ context: closed }}, {{ context: otherca }}]\n"
        )),
        "healthy",
        "",
    );

    let started = std::time::Instant::now();
    let up = hub.run(&["up"]);
    let log = stderr(&up);
    assert!(
        up.status.success(),
        "a context out of reach fails no up: {log}"
    );
    let warnings: Vec<&str> = log.lines().filter(|l| l.starts_with("warning:")).collect();
    let about = |context: &str| -> String {
        let needle = format!(
            "{}'s pods cannot reach context {context}'s API at ",
            hub.name
        );
        warnings
            .iter()
            .find(|w| w.contains(&needle))
            .map(|w| w.to_string())
            .unwrap_or_else(|| panic!("no warning about {context}: {log}"))
    };
    // Reached: checked, no warning, registered.
    assert!(
        log.contains(&format!(
            "check that {}'s nodes reach context {good}'s API",
            hub.name
        )),
        "{log}"
    );
    assert!(
        !warnings
            .iter()
            .any(|w| w.contains(&format!("context {good}'s API"))),
        "{log}"
    );
    let hub_client = client_of(&hub, &hub.name).await;
    let secret = Api::<Secret>::namespaced(hub_client, "argocd")
        .get_opt(&format!("cluster-playground-{good}"))
        .await
        .unwrap()
        .expect("the reachable context is registered");
    assert_eq!(text(&secret, "server"), server);
    // Loopback: the address says it (not tried), with what to do.
    let w = about("loop");
    assert!(w.contains(&loopback), "{w}");
    assert!(w.contains("the pod itself"), "{w}");
    assert!(w.contains("`host.playground.internal`"), "{w}");
    // Nothing listens there, as the hub's node sees it.
    let w = about("closed");
    assert!(
        w.contains(&format!("{closed}: the connection is refused")),
        "{w}"
    );
    assert!(
        w.contains(&format!(
            "`docker network connect playground-{} CONTAINER`",
            hub.name
        )),
        "{w}"
    );
    // Reached, but its certificate does not verify against the context's CA.
    let w = about("otherca");
    assert!(
        w.contains("TLS verification failed (tls: failed to verify certificate: x509: certificate signed by unknown authority)"),
        "{w}"
    );
    assert!(w.contains("`--tls-san`"), "{w}");
    // Bounded: the checks took seconds, not a connect timeout each.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(240),
        "{:?}",
        started.elapsed()
    );
    // No kubeconfig of the check is left in the node.
    let node = format!("playground-{}-server-0", hub.name);
    let left = harness::docker(&["exec", &node, "ls", "/tmp"]);
    assert!(!left.contains("playground-reach-"), "{left}");

    // status of the hub: what its pods reach.
    let status = hub_status(&hub);
    let clusters = status["clusters"].as_array().expect("a hub's clusters");
    let entry = |name: &str| {
        clusters
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {status}"))
    };
    let ok = entry(&good);
    assert_eq!(ok["kind"], "context", "{status}");
    assert_eq!(ok["connection"], "connected", "{status}");
    assert_eq!(ok["registered"], true, "{status}");
    for (name, why) in [
        ("loop", "the pod itself"),
        ("closed", "the connection is refused"),
        ("otherca", "certificate signed by unknown authority"),
    ] {
        let c = entry(name);
        assert_eq!(c["connection"], "unreachable", "{name}: {status}");
        let message = c["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{name}: {status}");
    }
}
