//! `up`, `suspend`, `resume` and `drop` end to end over the fake engine and the fake API, in
//! milliseconds and without Docker: converge, rollback, Ctrl-C, stop and start order, and
//! what `drop` leaves. What only Docker can show (real k3s, ports, restarts) stays in
//! `tests/it`.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::{Lab, Role, default_lab};
use crate::docker::fake::{Call, FakeEngine, Script};
use crate::docker::{Engine, RunState};
use crate::ui::Ui;

use crate::cluster::cluster_api::FakeConnect;
use crate::cluster::error::ClusterError;
use crate::cluster::k3s::{self, ready_line};
use crate::cluster::names::{self, LABEL_CLUSTER, LABEL_ROLE};
use crate::cluster::plan::{PullPolicy, lb_image_from_env};
use crate::cluster::up::{UpOptions, UpOutcome, up_with};
use crate::cluster::{cache, lifecycle, readiness};

/// What k3s writes to its kubeconfig output (the server is rewritten by `up`); its
/// credentials are base64 PEM blocks, as k3s's are (stand-in bodies: nothing here parses them).
const K3S_KUBECONFIG: &str = "apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWoKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWoKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=
    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWoKLS0tLS1FTkQgRUMgUFJJVkFURSBLRVktLS0tLQo=
";

/// An engine with the lab's images present, whose nodes behave as k3s's do when they start:
/// each logs the line `up` waits for (k3d `pkg/types/k3slogs.go`, see [`ready_line`]), and a
/// server writes its kubeconfig (k3s `--write-kubeconfig`, [`k3s::KUBECONFIG_OUTPUT`]).
pub(crate) fn k3s_engine(lab: &Lab) -> FakeEngine {
    let engine = FakeEngine::new()
        .with_image(&lab.cluster.image)
        .with_image(&lb_image_from_env());
    engine.on_start(
        LABEL_ROLE,
        "server",
        Script {
            lines: vec![
                ready_line(Role::Server, true).into(),
                ready_line(Role::Server, false).into(),
            ],
            files: vec![(k3s::KUBECONFIG_OUTPUT.into(), K3S_KUBECONFIG.into())],
            ..Script::default()
        },
    );
    for role in [Role::Agent, Role::LoadBalancer] {
        engine.on_start(
            LABEL_ROLE,
            role.as_str(),
            Script {
                lines: vec![ready_line(role, false).into()],
                ..Script::default()
            },
        );
    }
    engine
}

pub(crate) fn lab(name: &str, servers: u32, agents: u32) -> Lab {
    let mut lab = default_lab();
    lab.name = crate::config::LabName::parse(name).unwrap();
    lab.cluster.servers = servers;
    lab.cluster.agents = agents;
    lab.cluster.image_cache = false;
    lab.cluster.registry = None;
    lab.cluster.api.port = None;
    lab.cluster.ports.clear();
    lab
}

fn opts(dir: &tempfile::TempDir) -> UpOptions {
    UpOptions {
        pull: PullPolicy::Missing,
        timeout: Duration::from_secs(20),
        switch_context: false,
        dry_run: false,
        yes: true,
        keep_on_failure: false,
        kubeconfig: dir.path().join("config"),
        repo_mount: None,
        ui_port: None,
        ready_nodes: None,
    }
}

fn never() -> impl Future<Output = ()> {
    std::future::pending()
}

/// The plan `up --dry-run` would print for `lab` now; the dry run changes nothing.
async fn dry_plan(
    engine: &FakeEngine,
    lab: &Lab,
    dir: &tempfile::TempDir,
) -> crate::cluster::plan::Plan {
    let dry = UpOptions {
        dry_run: true,
        ..opts(dir)
    };
    up_with(
        engine,
        &FakeConnect::default(),
        lab,
        &dry,
        &Ui::new(true, false),
        never,
    )
    .await
    .unwrap()
    .dry_run
    .unwrap()
}

pub(crate) async fn up(
    engine: &FakeEngine,
    lab: &Lab,
    dir: &tempfile::TempDir,
) -> Result<UpOutcome, ClusterError> {
    up_with(
        engine,
        &FakeConnect::default(),
        lab,
        &opts(dir),
        &Ui::new(true, false),
        never,
    )
    .await
}

/// The calls that change something, in order, as `kind target`.
pub(crate) fn changes(calls: &[Call]) -> Vec<String> {
    const CHANGING: [&str; 12] = [
        "ensure_network",
        "remove_network",
        "connect_network",
        "ensure_volume",
        "remove_volume",
        "pull_image",
        "create_container",
        "remove_container",
        "start",
        "stop",
        "pause",
        "unpause",
    ];
    calls
        .iter()
        .filter(|c| CHANGING.contains(&c.kind))
        .map(|c| c.to_string())
        .collect()
}

fn node(lab: &Lab, role: Role, i: u32) -> String {
    names::node(&lab.name, role, i)
}

pub(crate) fn position(calls: &[String], call: &str) -> usize {
    calls
        .iter()
        .position(|c| c == call)
        .unwrap_or_else(|| panic!("no `{call}` in {calls:#?}"))
}

#[tokio::test]
async fn a_fresh_up_makes_network_volumes_and_nodes_in_plan_order_and_they_run() {
    let lab = lab("fresh", 1, 2);
    let engine = k3s_engine(&lab);
    let dir = tempfile::tempdir().unwrap();
    let outcome = up(&engine, &lab, &dir).await.unwrap();

    let (s0, a0, a1) = (
        node(&lab, Role::Server, 0),
        node(&lab, Role::Agent, 0),
        node(&lab, Role::Agent, 1),
    );
    let data = |role, i| format!("ensure_volume {}", names::data_volume(&lab.name, role, i));
    assert_eq!(
        changes(&engine.calls()),
        vec![
            format!("ensure_network {}", names::network(&lab.name)),
            data(Role::Server, 0),
            data(Role::Agent, 0),
            data(Role::Agent, 1),
            format!("ensure_volume {}", names::images_volume(&lab.name)),
            format!("create_container {s0}"),
            format!("create_container {a0}"),
            format!("create_container {a1}"),
            // A fresh lab starts the init server and every agent at once.
            format!("start {s0}"),
            format!("start {a0}"),
            format!("start {a1}"),
        ]
    );
    for n in [&s0, &a0, &a1] {
        assert_eq!(engine.container_state(n), Some(RunState::Running), "{n}");
    }
    assert_eq!(outcome.nodes.len(), 3);
    // The kubeconfig read out of server-0 points at the published API, and was merged.
    let text = outcome.kubeconfig.expect("the kubeconfig text");
    assert!(text.contains(&outcome.api), "{text}");
    let merged = std::fs::read_to_string(dir.path().join("config")).unwrap();
    assert!(merged.contains(&outcome.context), "{merged}");
}

/// F17: k3s writes its kubeconfig output non-atomically (client-go `clientcmd.WriteToFile`
/// creates the file, then writes it), so `up` can read it empty, or cut short. Cut inside the
/// client key it is still valid YAML, and a parse alone would take it. Here server-0's file is
/// empty at the first read, cut short at the second, whole from the third: `up` must end with
/// the whole one.
#[tokio::test]
async fn a_kubeconfig_read_while_k3s_writes_it_is_read_again_until_whole() {
    let lab = lab("halfkc", 1, 0);
    let engine = k3s_engine(&lab);
    let key = K3S_KUBECONFIG.rfind("client-key-data: ").unwrap();
    let cut = &K3S_KUBECONFIG[..key + "client-key-data: ".len() + 24];
    // What makes this case: the cut file parses, with a key that is not a key.
    assert!(::kube::config::Kubeconfig::from_yaml(cut).is_ok());
    engine.on_start(
        LABEL_ROLE,
        "server",
        Script {
            staged: vec![(
                k3s::KUBECONFIG_OUTPUT.into(),
                vec![Vec::new(), cut.into(), K3S_KUBECONFIG.into()],
            )],
            ..Script::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let outcome = up(&engine, &lab, &dir).await.unwrap();

    let s0 = node(&lab, Role::Server, 0);
    let reads = engine
        .calls()
        .iter()
        .filter(|c| c.kind == "read_file" && c.target == s0)
        .count();
    assert!(
        reads >= 3,
        "the empty and the cut file were read too: {reads}"
    );
    let whole_key = K3S_KUBECONFIG[key..].lines().next().unwrap();
    let text = outcome.kubeconfig.expect("the kubeconfig text");
    assert!(text.contains(&outcome.api), "{text}");
    let merged = std::fs::read_to_string(dir.path().join("config")).unwrap();
    for kc in [&text, &merged] {
        let got = ::kube::config::Kubeconfig::from_yaml(kc).unwrap();
        let key = got
            .auth_infos
            .iter()
            .find_map(|a| a.auth_info.as_ref()?.client_key_data.clone())
            .expect("a client key");
        assert_eq!(
            format!(
                "client-key-data: {}",
                secrecy::ExposeSecret::expose_secret(&key)
            ),
            whole_key
        );
    }
}

#[tokio::test]
async fn up_on_an_existing_lab_recreates_and_starts_only_what_is_missing_or_stopped() {
    let lab = lab("converge", 1, 2);
    let engine = k3s_engine(&lab);
    let dir = tempfile::tempdir().unwrap();
    up(&engine, &lab, &dir).await.unwrap();
    let (a0, a1) = (node(&lab, Role::Agent, 0), node(&lab, Role::Agent, 1));
    engine.remove_container(&a1).await.unwrap();
    engine.stop(&a0, Duration::ZERO).await.unwrap();
    engine.clear_calls();

    up(&engine, &lab, &dir).await.unwrap();
    assert_eq!(
        changes(&engine.calls()),
        vec![
            // Ensured, not made: the data volume outlived its container (so no forget).
            format!(
                "ensure_volume {}",
                names::data_volume(&lab.name, Role::Agent, 1)
            ),
            format!("ensure_volume {}", names::images_volume(&lab.name)),
            format!("create_container {a1}"),
            format!("start {a0}"),
            format!("start {a1}"),
        ]
    );
    for n in [node(&lab, Role::Server, 0), a0, a1] {
        assert_eq!(engine.container_state(&n), Some(RunState::Running), "{n}");
    }
}

#[tokio::test]
async fn a_fresh_lab_that_fails_is_removed_and_the_error_stays_typed() {
    let lab = lab("rollback", 1, 2);
    let engine = k3s_engine(&lab);
    engine.fail_on("create_container", &node(&lab, Role::Agent, 1));
    let dir = tempfile::tempdir().unwrap();
    let err = up(&engine, &lab, &dir).await.unwrap_err();

    assert!(
        matches!(&err, ClusterError::Engine(e) if e.daemon_answer() == Some((500, "injected failure"))),
        "{err:?}"
    );
    let calls = changes(&engine.calls());
    // It had made things, and removed each of them.
    assert!(calls.contains(&format!("create_container {}", node(&lab, Role::Server, 0))));
    assert!(
        calls.iter().any(|c| c.starts_with("remove_network")),
        "{calls:#?}"
    );
    assert_eq!(engine.objects_labelled(LABEL_CLUSTER), Vec::<String>::new());
}

#[tokio::test]
async fn an_existing_lab_is_not_removed_by_a_failed_up() {
    let lab = lab("keep", 1, 2);
    let engine = k3s_engine(&lab);
    let dir = tempfile::tempdir().unwrap();
    up(&engine, &lab, &dir).await.unwrap();
    let a1 = node(&lab, Role::Agent, 1);
    engine.remove_container(&a1).await.unwrap();
    engine.fail_on("create_container", &a1);
    engine.clear_calls();

    let err = up(&engine, &lab, &dir).await.unwrap_err();
    assert!(matches!(err, ClusterError::Engine(_)), "{err:?}");
    let calls = changes(&engine.calls());
    assert!(
        !calls.iter().any(|c| c.starts_with("remove_")),
        "{calls:#?}"
    );
    for n in [node(&lab, Role::Server, 0), node(&lab, Role::Agent, 0)] {
        assert_eq!(engine.container_state(&n), Some(RunState::Running), "{n}");
    }
}

#[tokio::test]
async fn ctrl_c_during_a_step_returns_interrupted_and_rolls_a_fresh_lab_back() {
    let lab = lab("interrupt", 1, 1);
    // The node image is not local: `up` pulls it, and the pull is held there.
    let engine = FakeEngine::new();
    let held = engine.hold("pull_image", &lab.cluster.image);
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = watch::channel(false);
    let interrupted = || {
        let mut rx = rx.clone();
        async move {
            let _ = rx.wait_for(|fired| *fired).await;
        }
    };
    let (api, opts, ui) = (FakeConnect::default(), opts(&dir), Ui::new(true, false));
    let run = up_with(&engine, &api, &lab, &opts, &ui, interrupted);
    let ctrl_c = async {
        held.arrived().await;
        tx.send(true).unwrap();
    };
    // A Ctrl-C that `up` did not act on would leave it waiting on the held pull forever.
    let (result, ()) =
        tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(run, ctrl_c) })
            .await
            .expect("up did not stop on Ctrl-C");
    held.release();

    assert!(
        matches!(result, Err(ClusterError::Interrupted)),
        "{result:?}"
    );
    let calls = changes(&engine.calls());
    assert!(
        calls.contains(&format!("ensure_network {}", names::network(&lab.name))),
        "the network was made before the pull: {calls:#?}"
    );
    assert!(
        !calls.iter().any(|c| c.starts_with("create_container")),
        "{calls:#?}"
    );
    assert_eq!(engine.objects_labelled(LABEL_CLUSTER), Vec::<String>::new());
}

#[tokio::test]
async fn suspend_stops_agents_before_servers_and_resume_starts_servers_first() {
    let lab = lab("order", 1, 2);
    let engine = k3s_engine(&lab);
    let dir = tempfile::tempdir().unwrap();
    up(&engine, &lab, &dir).await.unwrap();
    let ui = Ui::new(true, false);
    let (s0, a0, a1) = (
        node(&lab, Role::Server, 0),
        node(&lab, Role::Agent, 0),
        node(&lab, Role::Agent, 1),
    );

    engine.clear_calls();
    lifecycle::suspend(&engine, &lab.name, false, &ui)
        .await
        .unwrap();
    let calls = changes(&engine.calls());
    assert_eq!(calls.len(), 3, "{calls:#?}");
    let server = position(&calls, &format!("stop {s0}"));
    for agent in [&a0, &a1] {
        assert!(
            position(&calls, &format!("stop {agent}")) < server,
            "{calls:#?}"
        );
    }
    for n in [&s0, &a0, &a1] {
        assert_eq!(engine.container_state(n), Some(RunState::Exited), "{n}");
    }

    engine.clear_calls();
    let api = FakeConnect::default();
    let ready = lifecycle::resume_with(&engine, &api, &lab.name, Duration::from_secs(20), &ui)
        .await
        .unwrap();
    // The servers' containers first, then the agents' (they retry their join); then the API.
    assert_eq!(
        changes(&engine.calls()),
        vec![
            format!("start {s0}"),
            format!("start {a0}"),
            format!("start {a1}")
        ]
    );
    assert_eq!(ready.len(), 3);
    assert_eq!(api.calls()[1], "wait_ready 3", "{:?}", api.calls());
}

#[tokio::test]
async fn resume_does_not_take_a_ready_line_the_run_before_printed_just_before_the_stop() {
    let lab = lab("stale", 1, 0);
    let engine = k3s_engine(&lab);
    let dir = tempfile::tempdir().unwrap();
    up(&engine, &lab, &dir).await.unwrap();
    let ui = Ui::new(true, false);
    let server = node(&lab, Role::Server, 0);
    // The run before says it is up just before the stop: within the same second as the
    // start that follows, which Docker's whole-second `since` lets through.
    engine.log(&server, ready_line(Role::Server, false));
    lifecycle::suspend(&engine, &lab.name, false, &ui)
        .await
        .unwrap();
    // This run never comes up.
    engine.mute(&server);
    let err = lifecycle::resume_with(
        &engine,
        &FakeConnect::default(),
        &lab.name,
        Duration::from_millis(1500),
        &ui,
    )
    .await
    .unwrap_err();

    assert!(err.is_timeout(), "{err:?}");
    assert!(err.to_string().contains(&server), "{err}");
    assert!(
        err.to_string().contains(ready_line(Role::Server, false)),
        "{err}"
    );
}

#[tokio::test]
async fn what_a_nodes_entrypoint_said_in_this_run_comes_back_with_its_ready_line() {
    // The entrypoint's `say` prints with the prefix the wait looks for.
    assert!(
        k3s::NODE_ENTRYPOINT.contains(&format!("echo \"{}$*\"", k3s::ENTRYPOINT_SAYS)),
        "node-entrypoint.sh's say() and ENTRYPOINT_SAYS disagree"
    );
    let lab = lab("fallback", 1, 0);
    let engine = k3s_engine(&lab);
    let dir = tempfile::tempdir().unwrap();
    up(&engine, &lab, &dir).await.unwrap();
    let server = node(&lab, Role::Server, 0);
    // The run before said something else, and stopped.
    engine.log(
        &server,
        &format!("{}of the run before", k3s::ENTRYPOINT_SAYS),
    );
    engine.stop(&server, Duration::from_secs(1)).await.unwrap();

    // This run: the entrypoint takes a fallback, then k3s comes up.
    engine.mute(&server);
    let run = readiness::start(&engine, &server).await.unwrap();
    let fallback =
        "Docker's DNS rules for 127.0.0.11 were not found; kubelet will use 8.8.8.8 for pods";
    engine.log(&server, &format!("{}{fallback}", k3s::ENTRYPOINT_SAYS));
    engine.log(&server, ready_line(Role::Server, false));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let got = readiness::wait_for_log(
        &engine,
        &server,
        ready_line(Role::Server, false),
        run,
        deadline,
    )
    .await
    .unwrap();
    assert_eq!(got, vec![fallback.to_string()]);
}

#[tokio::test]
async fn drop_leaves_nothing_of_the_lab_and_keeps_the_shared_caches() {
    let mut lab = lab("dropped", 1, 1);
    lab.cluster.image_cache = true;
    let settings = cache::CacheSettings::from_env();
    let engine = k3s_engine(&lab).with_image(&settings.image);
    let dir = tempfile::tempdir().unwrap();
    up(&engine, &lab, &dir).await.unwrap();
    let caches: Vec<String> = cache::UPSTREAMS
        .iter()
        .map(|u| settings.container(u))
        .collect();
    for c in &caches {
        assert_eq!(engine.container_state(c), Some(RunState::Running), "{c}");
    }
    assert!(!engine.objects_labelled(LABEL_CLUSTER).is_empty());

    // The caches are attached to the lab network: it goes only once they are detached.
    let removed = lifecycle::remove_objects(&engine, &lab.name).await.unwrap();
    assert!(removed > 0);
    assert_eq!(engine.objects_labelled(LABEL_CLUSTER), Vec::<String>::new());
    for c in &caches {
        assert_eq!(engine.container_state(c), Some(RunState::Running), "{c}");
    }
}

#[tokio::test]
async fn dropping_a_hub_detaches_its_spokes_and_leaves_them_running() {
    let hub = lab("hub", 1, 0);
    let spoke = lab("spoke", 1, 0);
    let engine = k3s_engine(&hub);
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    up(&engine, &hub, &d1).await.unwrap();
    up(&engine, &spoke, &d2).await.unwrap();
    let spoke_server = names::node(&spoke.name, Role::Server, 0);
    // What `up` of the hub does for `argocd.clusters: [spoke]`.
    engine
        .connect_network(&names::network(&hub.name), &spoke_server, None, &[])
        .await
        .unwrap();

    lifecycle::remove_objects(&engine, &hub.name).await.unwrap();
    let left_over = engine.objects_labelled(LABEL_CLUSTER);
    assert!(
        left_over.iter().all(|o| !o.contains("playground-hub")),
        "{left_over:?}"
    );
    assert_eq!(
        engine.container_state(&spoke_server),
        Some(RunState::Running)
    );
    let left = engine
        .inspect_container(&spoke_server)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        left.ips.keys().cloned().collect::<Vec<_>>(),
        vec![names::network(&spoke.name)]
    );
}

#[tokio::test]
async fn a_host_port_in_use_is_a_conflict_found_before_anything_is_made() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut lab = lab("port", 1, 0);
    lab.cluster.api.port = Some(holder.local_addr().unwrap().port());
    let engine = k3s_engine(&lab);
    let dir = tempfile::tempdir().unwrap();
    let err = up(&engine, &lab, &dir).await.unwrap_err();

    assert!(matches!(err, ClusterError::PortInUse { .. }), "{err:?}");
    assert_eq!(err.kind(), crate::cluster::error::ErrorKind::Conflict);
    assert_eq!(changes(&engine.calls()), Vec::<String>::new());
}

#[tokio::test]
async fn a_node_that_never_logs_its_ready_line_times_out_and_a_fresh_lab_goes() {
    let lab = lab("silent", 1, 1);
    let engine = k3s_engine(&lab);
    // This agent starts, but never registers.
    let agent = node(&lab, Role::Agent, 0);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = opts(&dir);
    opts.timeout = Duration::from_secs(1);
    engine.mute(&agent);
    let (api, ui) = (FakeConnect::default(), Ui::new(true, false));
    let err = up_with(&engine, &api, &lab, &opts, &ui, never)
        .await
        .unwrap_err();

    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.kind(), crate::cluster::error::ErrorKind::Timeout);
    assert!(err.to_string().contains(&agent), "{err}");
    assert_eq!(engine.objects_labelled(LABEL_CLUSTER), Vec::<String>::new());
}

#[tokio::test]
async fn suspending_a_lab_that_does_not_exist_is_not_found() {
    let lab = lab("nowhere", 1, 0);
    let engine = k3s_engine(&lab);
    let err = lifecycle::suspend(&engine, &lab.name, false, &Ui::new(true, false))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClusterError::NotFound(name) if *name == lab.name),
        "{err:?}"
    );
    assert_eq!(err.kind(), crate::cluster::error::ErrorKind::NotFound);
    assert!(
        crate::diag::Report(&err)
            .to_string()
            .contains("hint: `playground list`"),
        "{err}"
    );
}

/// Reconciling an existing lab to a changed file (issue 12): what is recreated, in which
/// order, on which volume; what is removed; what is refused.
mod reconcile {
    use super::*;
    use crate::config::{EnvVar, Filtered, NodeFilter, PortMapping, Protocol, Selection};

    fn agent(i: u32) -> NodeFilter {
        NodeFilter::Agents(Selection::Indices(vec![i]))
    }

    /// A lab that `up` made, its calls forgotten: what a reconcile test starts from.
    async fn existing(lab: &Lab) -> (FakeEngine, tempfile::TempDir) {
        let engine = k3s_engine(lab);
        let dir = tempfile::tempdir().unwrap();
        up(&engine, lab, &dir).await.unwrap();
        engine.clear_calls();
        (engine, dir)
    }

    /// `up` with a FakeConnect the test keeps, to read the API calls back.
    async fn up_api(
        engine: &FakeEngine,
        api: &FakeConnect,
        lab: &Lab,
        dir: &tempfile::TempDir,
        yes: bool,
    ) -> Result<UpOutcome, ClusterError> {
        let opts = UpOptions { yes, ..opts(dir) };
        up_with(engine, api, lab, &opts, &Ui::new(true, false), never).await
    }

    /// The recreate of one node, as the engine sees it: stop, remove, create, start.
    fn recreated(name: &str) -> Vec<String> {
        ["stop", "remove_container", "create_container", "start"]
            .iter()
            .map(|k| format!("{k} {name}"))
            .collect()
    }

    async fn binds_of(engine: &FakeEngine, name: &str) -> Vec<String> {
        engine
            .inspect_container(name)
            .await
            .unwrap()
            .expect(name)
            .binds
    }

    #[tokio::test]
    async fn a_new_image_recreates_every_node_one_at_a_time_agents_first_on_their_volumes() {
        let lab0 = lab("image", 1, 2);
        let engine = k3s_engine(&lab0).with_image("rancher/k3s:v9.9.9-k3s1");
        let dir = tempfile::tempdir().unwrap();
        up(&engine, &lab0, &dir).await.unwrap();
        let (s0, a0, a1) = (
            node(&lab0, Role::Server, 0),
            node(&lab0, Role::Agent, 0),
            node(&lab0, Role::Agent, 1),
        );
        let before = binds_of(&engine, &a0).await;
        engine.clear_calls();

        let mut lab = lab0.clone();
        lab.cluster.image = "rancher/k3s:v9.9.9-k3s1".into();
        let api = FakeConnect::default();
        up_api(&engine, &api, &lab, &dir, true).await.unwrap();

        // Each node in turn, agents before the server; no volume is made or removed.
        let want: Vec<String> = [&a0, &a1, &s0].iter().flat_map(|n| recreated(n)).collect();
        assert_eq!(changes(&engine.calls()), want);
        // One at a time: each is Ready (API) before the next goes down.
        let waits: Vec<String> = api
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("wait_node_ready"))
            .collect();
        assert_eq!(
            waits,
            [&a0, &a1, &s0].map(|n| format!("wait_node_ready {n}"))
        );
        for n in [&s0, &a0, &a1] {
            let c = engine.inspect_container(n).await.unwrap().unwrap();
            assert_eq!(c.image, "rancher/k3s:v9.9.9-k3s1", "{n}");
            assert_eq!(c.state, RunState::Running, "{n}");
        }
        // The same data volume, mounted where k3s keeps its state and the node password.
        assert_eq!(binds_of(&engine, &a0).await, before);
        assert!(before.contains(&format!(
            "{}:/var/lib/rancher/k3s",
            names::data_volume(&lab.name, Role::Agent, 0)
        )));
    }

    #[tokio::test]
    async fn only_the_nodes_whose_args_env_or_ports_changed_are_recreated() {
        let lab0 = lab("targeted", 1, 2);
        let (engine, dir) = existing(&lab0).await;

        let mut lab = lab0.clone();
        lab.cluster.k3s_args.push(Filtered {
            value: "--node-label=tier=edge".into(),
            filter: agent(1),
        });
        lab.cluster.env.push(Filtered {
            value: EnvVar {
                key: "HTTP_PROXY".into(),
                value: "http://proxy:3128".into(),
                from_host: None,
            },
            filter: agent(1),
        });
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        lab.cluster.ports.push(PortMapping {
            host_ip: "127.0.0.1".parse().unwrap(),
            host_port: port,
            container_port: 80,
            protocol: Protocol::Tcp,
            target: NodeFilter::Servers(Selection::Indices(vec![0])),
        });
        let plan = dry_plan(&engine, &lab, &dir).await;
        let (s0, a1) = (node(&lab, Role::Server, 0), node(&lab, Role::Agent, 1));
        let fields: Vec<(&str, &str)> = plan
            .changes
            .iter()
            .map(|c| (c.node.as_str(), c.field.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                (s0.as_str(), "ports"),
                (a1.as_str(), "command"),
                (a1.as_str(), "env HTTP_PROXY"),
            ]
        );
        let diff = plan.diff();
        assert!(
            diff.contains("env HTTP_PROXY: (unset) → http://proxy:3128"),
            "{diff}"
        );
        assert!(
            diff.contains(&format!("127.0.0.1:{port}->80/tcp")),
            "{diff}"
        );
        // The dry run changed nothing.
        assert_eq!(changes(&engine.calls()), Vec::<String>::new());

        up(&engine, &lab, &dir).await.unwrap();
        let want: Vec<String> = [&a1, &s0].iter().flat_map(|n| recreated(n)).collect();
        assert_eq!(changes(&engine.calls()), want);
        let c = engine.inspect_container(&a1).await.unwrap().unwrap();
        assert!(c.cmd.contains(&"--node-label=tier=edge".to_string()));
        assert!(c.env.contains(&"HTTP_PROXY=http://proxy:3128".to_string()));
        // The keys we set are on the container (names only), so dropping one is seen.
        let keys = &c.labels[names::LABEL_ENV_KEYS];
        assert!(keys.split(',').any(|k| k == "HTTP_PROXY"), "{keys}");
        assert!(!keys.contains("proxy:3128"), "{keys}");

        // Back to the first file: the env key and the arg go again, on agent-1 only.
        engine.clear_calls();
        let mut back = lab0.clone();
        back.cluster.ports = lab.cluster.ports.clone();
        let plan = dry_plan(&engine, &back, &dir).await;
        assert!(
            plan.diff()
                .contains("env HTTP_PROXY: http://proxy:3128 → (unset)"),
            "{}",
            plan.diff()
        );
        up(&engine, &back, &dir).await.unwrap();
        assert_eq!(changes(&engine.calls()), recreated(&a1));
    }

    #[tokio::test]
    async fn an_unchanged_lab_recreates_nothing_and_needs_no_yes() {
        let lab = lab("same", 1, 2);
        let engine = k3s_engine(&lab);
        let dir = tempfile::tempdir().unwrap();
        up(&engine, &lab, &dir).await.unwrap();
        engine.clear_calls();
        let api = FakeConnect::default();
        up_api(&engine, &api, &lab, &dir, false).await.unwrap();
        assert_eq!(changes(&engine.calls()), Vec::<String>::new());
        assert!(
            !api.calls()
                .iter()
                .any(|c| c.starts_with("wait_node_ready") || c.starts_with("drain_node")),
            "{:?}",
            api.calls()
        );
    }

    #[tokio::test]
    async fn changes_without_yes_are_refused_with_the_diff_and_nothing_changes() {
        let lab0 = lab("unasked", 1, 1);
        let engine = k3s_engine(&lab0).with_image("rancher/k3s:v9.9.9-k3s1");
        let dir = tempfile::tempdir().unwrap();
        up(&engine, &lab0, &dir).await.unwrap();
        engine.clear_calls();
        let mut lab = lab0.clone();
        lab.cluster.image = "rancher/k3s:v9.9.9-k3s1".into();
        let err = up_api(&engine, &FakeConnect::default(), &lab, &dir, false)
            .await
            .unwrap_err();
        assert!(matches!(err, ClusterError::Unconfirmed { .. }), "{err:?}");
        assert_eq!(err.kind(), crate::cluster::error::ErrorKind::Usage);
        let text = crate::diag::Report(&err).to_string();
        assert!(text.contains("image: rancher/k3s"), "{text}");
        assert!(text.contains("--yes"), "{text}");
        assert_eq!(changes(&engine.calls()), Vec::<String>::new());
    }

    #[tokio::test]
    async fn an_agent_beyond_the_count_is_drained_then_removed_with_its_volume_and_node() {
        let lab0 = lab("shrink", 1, 2);
        let (engine, dir) = existing(&lab0).await;

        let mut lab = lab0.clone();
        lab.cluster.agents = 1;
        let api = FakeConnect::default();
        up_api(&engine, &api, &lab, &dir, true).await.unwrap();
        let a1 = node(&lab, Role::Agent, 1);
        let volume = names::data_volume(&lab.name, Role::Agent, 1);
        assert_eq!(
            changes(&engine.calls()),
            vec![
                format!("stop {a1}"),
                format!("remove_container {a1}"),
                format!("remove_volume {volume}"),
            ]
        );
        assert_eq!(engine.container_state(&a1), None);
        assert!(
            !engine
                .list_volumes(&[(LABEL_CLUSTER, &lab.name)])
                .await
                .unwrap()
                .contains(&volume)
        );
        // Drained before its container went; its Node (and node password) deleted after.
        let calls = api.calls();
        let drained = position(&calls, &format!("drain_node {a1}"));
        let forgot = position(&calls, &format!("forget_node {a1}"));
        assert!(drained < forgot, "{calls:?}");
        // The rest is untouched.
        for n in [node(&lab, Role::Server, 0), node(&lab, Role::Agent, 0)] {
            assert_eq!(engine.container_state(&n), Some(RunState::Running), "{n}");
        }
    }

    #[tokio::test]
    async fn more_servers_on_a_single_server_lab_are_refused_before_any_change() {
        let lab0 = lab("servers", 1, 1);
        let (engine, dir) = existing(&lab0).await;
        let mut lab = lab0.clone();
        lab.cluster.servers = 3;
        let err = up(&engine, &lab, &dir).await.unwrap_err();
        let text = crate::diag::Report(&err).to_string();
        assert!(
            matches!(
                err,
                ClusterError::Plan(crate::cluster::plan::PlanError::ServerCountChanged {
                    had: 1,
                    want: 3,
                    ..
                })
            ),
            "{err:?}"
        );
        assert!(text.contains("playground drop servers"), "{text}");
        assert_eq!(changes(&engine.calls()), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_changed_load_balanced_port_recreates_only_the_load_balancer() {
        let lab0 = lab("balanced", 3, 1);
        let (engine, dir) = existing(&lab0).await;
        let mut lab = lab0.clone();
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        lab.cluster.ports.push(PortMapping {
            host_ip: "127.0.0.1".parse().unwrap(),
            host_port: port,
            container_port: 80,
            protocol: Protocol::Tcp,
            target: NodeFilter::LoadBalancer,
        });
        let api = FakeConnect::default();
        up_api(&engine, &api, &lab, &dir, true).await.unwrap();
        let lb = node(&lab, Role::LoadBalancer, 0);
        assert_eq!(changes(&engine.calls()), recreated(&lb));
        let c = engine.inspect_container(&lb).await.unwrap().unwrap();
        assert!(c.ports.iter().any(|p| p.host_port == port), "{:?}", c.ports);
        // A load balancer has no Node to wait for.
        assert!(
            !api.calls().iter().any(|c| c.starts_with("wait_node_ready")),
            "{:?}",
            api.calls()
        );
    }
}

#[tokio::test]
async fn a_subnet_taken_between_plan_and_create_is_planned_again() {
    // Two labs created at once may choose the same free subnet: the daemon refuses the
    // second with "Pool overlaps" (a 403 from libnetwork's IPAM), which the executor knows by
    // the daemon's answer (`EngineError::is_subnet_overlap`), and `up` plans again with the
    // subnets as they are now.
    let lab = lab("race", 1, 0);
    let engine = k3s_engine(&lab);
    let network = names::network(&lab.name);
    engine.rival_for_subnet(&network);
    let dir = tempfile::tempdir().unwrap();
    up(&engine, &lab, &dir).await.unwrap();

    let attempts = engine
        .calls()
        .iter()
        .filter(|c| c.kind == "ensure_network" && c.target == network)
        .count();
    assert_eq!(attempts, 2, "{:?}", engine.calls());
    let rival = format!("{network}-rival");
    let rival = engine
        .inspect_network(&rival)
        .await
        .unwrap()
        .expect("the rival");
    let ours = engine.inspect_network(&network).await.unwrap().unwrap();
    assert!(ours.subnet.is_some());
    assert_ne!(ours.subnet, rival.subnet);
}

/// `up`'s options when its caller awaits every node itself, as `up` with the GitOps half does.
fn opts_awaiting_nodes(dir: &tempfile::TempDir) -> UpOptions {
    UpOptions {
        ready_nodes: Some(1),
        ..opts(dir)
    }
}

#[tokio::test]
async fn agents_starts_do_not_hold_up_the_api_when_the_caller_awaits_the_nodes() {
    // Docker starts containers one after another: an agent's start held at the engine must
    // not keep `up` from reading the API, and the server's start goes before any agent's.
    let lab = lab("deferred", 1, 2);
    let engine = k3s_engine(&lab);
    let agent = names::node(&lab.name, Role::Agent, 0);
    let held = engine.hold("start", &agent);
    let dir = tempfile::tempdir().unwrap();
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        up_with(
            &engine,
            &FakeConnect::default(),
            &lab,
            &opts_awaiting_nodes(&dir),
            &Ui::new(true, false),
            never,
        ),
    )
    .await
    .expect("up waited for an agent's start")
    .unwrap();
    assert!(outcome.kubeconfig.is_some(), "the API was read");
    let state = |engine: &FakeEngine, name: &str| {
        let engine = engine.clone();
        let name = name.to_string();
        async move {
            engine
                .inspect_container(&name)
                .await
                .unwrap()
                .unwrap()
                .state
        }
    };
    assert_ne!(state(&engine, &agent).await, RunState::Running);
    let starts: Vec<String> = changes(&engine.calls())
        .into_iter()
        .filter(|c| c.starts_with("start "))
        .collect();
    assert_eq!(
        starts.first(),
        Some(&format!(
            "start {}",
            names::node(&lab.name, Role::Server, 0)
        )),
        "{starts:?}"
    );
    held.release();
    outcome.starting.finish().await.unwrap();
    assert_eq!(state(&engine, &agent).await, RunState::Running);
}

#[tokio::test]
async fn an_agent_start_that_fails_in_flight_is_the_nodes_wait_error() {
    let lab = lab("deferredfail", 1, 2);
    let engine = k3s_engine(&lab);
    let agent = names::node(&lab.name, Role::Agent, 1);
    engine.fail_on("start", &agent);
    let dir = tempfile::tempdir().unwrap();
    let outcome = up_with(
        &engine,
        &FakeConnect::default(),
        &lab,
        &opts_awaiting_nodes(&dir),
        &Ui::new(true, false),
        never,
    )
    .await
    .unwrap();
    let err = outcome.starting.finish().await.unwrap_err();
    assert!(
        err.to_string().contains(&format!("start {agent}")),
        "the failed start is named: {err}"
    );
}

#[tokio::test]
async fn a_rollback_waits_for_the_agents_starts_in_flight() {
    // The server never logs its ready line: the wait times out and the new lab is rolled
    // back. An agent's start still in flight must be over before anything is removed, or
    // the rollback would race it.
    let lab = lab("deferredroll", 1, 1);
    let engine = k3s_engine(&lab);
    let server = names::node(&lab.name, Role::Server, 0);
    let agent = names::node(&lab.name, Role::Agent, 0);
    engine.mute(&server);
    let held = engine.hold("start", &agent);
    let dir = tempfile::tempdir().unwrap();
    let opts = UpOptions {
        timeout: Duration::from_millis(300),
        ..opts_awaiting_nodes(&dir)
    };
    let (api, ui) = (FakeConnect::default(), Ui::new(true, false));
    let run = up_with(&engine, &api, &lab, &opts, &ui, never);
    let release_late = async {
        held.arrived().await;
        // Well past the deadline: the rollback is due, and must wait for this start.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let removed_early = changes(&engine.calls())
            .iter()
            .any(|c| c.starts_with("remove_"));
        held.release();
        removed_early
    };
    let (result, removed_early) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(run, release_late)
    })
    .await
    .expect("up never ended");
    assert!(matches!(result, Err(ref e) if e.is_timeout()), "{result:?}");
    assert!(
        !removed_early,
        "the rollback began while a start was in flight"
    );
    assert!(
        engine
            .list_containers(&[(LABEL_CLUSTER, &lab.name)])
            .await
            .unwrap()
            .is_empty(),
        "the rollback removed every node"
    );
}

#[tokio::test]
async fn a_twin_network_finished_beside_ours_is_removed_and_the_lab_comes_up() {
    // kill -9 while `up` created the network, then `up` at once: the daemon finishes the
    // killed create after our look, so two networks of the lab's name exist, and Docker
    // would refuse every node's create as ambiguous.
    let lab = lab("twin", 1, 1);
    let engine = k3s_engine(&lab);
    let network = names::network(&lab.name);
    engine.twin_on_create(&network, "172.31.250.0/24");
    let dir = tempfile::tempdir().unwrap();
    up(&engine, &lab, &dir).await.unwrap();
    let left = engine
        .list_networks(&[(LABEL_CLUSTER, &lab.name)])
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    let server = names::node(&lab.name, Role::Server, 0);
    let ours = engine.inspect_network(&network).await.unwrap().unwrap();
    let node = engine.inspect_container(&server).await.unwrap().unwrap();
    assert_eq!(node.state, RunState::Running);
    assert!(node.ips.contains_key(&ours.name));
}

#[tokio::test]
async fn leftover_networks_of_a_lab_with_no_nodes_are_removed_before_it_is_made() {
    // Two networks of the lab's name and no node: what racing or killed commands left.
    let lab = lab("leftover", 1, 0);
    let engine = k3s_engine(&lab);
    let network = names::network(&lab.name);
    let labels = crate::docker::Labels::from([(LABEL_CLUSTER.to_string(), lab.name.to_string())]);
    engine.twin_on_create(&network, "172.31.251.0/24");
    engine
        .ensure_network(&crate::docker::NetworkSpec {
            name: network.clone(),
            labels,
            subnet: Some("172.31.252.0/24".into()),
            gateway: None,
        })
        .await
        .unwrap();
    assert_eq!(
        engine
            .list_networks(&[(LABEL_CLUSTER, &lab.name)])
            .await
            .unwrap()
            .len(),
        2
    );
    let dir = tempfile::tempdir().unwrap();
    up(&engine, &lab, &dir).await.unwrap();
    let named: Vec<_> = engine
        .list_networks(&[(LABEL_CLUSTER, &lab.name)])
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.name == network)
        .collect();
    assert_eq!(named.len(), 1, "{named:?}");
}

#[tokio::test]
async fn resume_starts_the_agents_once_the_servers_containers_run_and_waits_on_none_first() {
    // Docker starts containers one after another: the servers' go first, all of them (F2: a
    // restarted etcd member needs its peers before it logs its ready line), and the agents'
    // follow while the servers boot.
    let lab = lab("resorder", 3, 1);
    let engine = k3s_engine(&lab);
    let dir = tempfile::tempdir().unwrap();
    up(&engine, &lab, &dir).await.unwrap();
    let ui = Ui::new(true, false);
    lifecycle::suspend(&engine, &lab.name, false, &ui)
        .await
        .unwrap();
    engine.clear_calls();
    let last_server = node(&lab, Role::Server, 2);
    let held = engine.hold("start", &last_server);
    let api = FakeConnect::default();
    let resume = lifecycle::resume_with(&engine, &api, &lab.name, Duration::from_secs(20), &ui);
    let check = async {
        held.arrived().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let calls = changes(&engine.calls());
        held.release();
        calls
    };
    let (ready, while_held) = tokio::join!(resume, check);
    assert_eq!(ready.unwrap().len(), 4);
    let agent = node(&lab, Role::Agent, 0);
    assert!(
        !while_held.contains(&format!("start {agent}")),
        "the agent started before every server's container: {while_held:#?}"
    );
    for i in 0..3 {
        let server = node(&lab, Role::Server, i);
        assert!(
            while_held.contains(&format!("start {server}")),
            "{while_held:#?}"
        );
    }
    assert!(changes(&engine.calls()).contains(&format!("start {agent}")));
}
